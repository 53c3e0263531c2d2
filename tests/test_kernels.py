"""The fused prediction kernel (``gaussmix._kernels``) agrees with independent references.

Passes without statistics (prediction, scoring) run in the C extension when it is built.
Its log-densities are checked against scipy's ``multivariate_normal`` and a log-sum-exp, and
its outputs against the numpy engine's ``direct`` kernel (the plain reference path), on the
hard cases of test_fast_paths, for every covariance type, in float64 and float32, for block,
component and column tails, strided input and several threads, on each variant of the kernel
(AVX-512, AVX2, baseline) that the CPU can run.  A direct call is checked against its
formula written in numpy.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import logsumexp

from gaussmix import COVARIANCE_TYPES, GaussianMixture
from gaussmix._moments import DIAG, FULL, MEAN_SQUARE, POOLED
from gaussmix.covariance import get_family
from gaussmix.engine import (
    Frame,
    compiled_kernels,
    gaussian_terms,
    mixture_pass,
    numpy_kernels,
)
from gaussmix.engine.planning import Prepared
from gaussmix.regularisation import internal_reg
from gaussmix.strategy import params_from_stats

from .test_fast_paths import CASES, family_covariances, hard_case

# make test sets this where a C compiler exists: there the extension must have been built
REQUIRED = os.environ.get("GAUSSMIX_REQUIRE_KERNELS") == "1"
needs_kernels = pytest.mark.skipif(
    compiled_kernels() is None, reason="gaussmix._kernels was not built (no C compiler)"
)


@pytest.fixture(params=["avx512f", "avx2", "baseline"], autouse=True)
def variant(request):
    """Each test runs on every variant of the kernel that this CPU can run."""
    if compiled_kernels() is None:
        yield None
        return
    from gaussmix import _kernels

    chosen = _kernels.target()
    if not _kernels.use_target(request.param):
        pytest.skip(f"this CPU cannot run the {request.param} variant")
    yield request.param
    _kernels.use_target(chosen)


def test_extension_built_where_required():
    if not REQUIRED and compiled_kernels() is None:
        pytest.skip("no C compiler here: the numpy path runs instead")
    assert compiled_kernels() in ("avx512f", "avx2", "baseline")


def model(cov_type, weights, means, dense):
    """(family, frame, internal Params) of a model of this type with these dense covariances."""
    family = get_family(cov_type)
    cov = family_covariances(cov_type, dense)
    d = means.shape[1]
    frame = Frame.from_means(
        weights, means, family.feature_variances(cov, d), family.per_feature_equivariant
    )
    chol, bad = family.precisions_cholesky(cov)
    assert not bad.any()
    return family, frame, frame.from_user(weights, means, cov, chol, family.storage)


def reference_log_densities(X, weights, means, dense):
    """Per-component log(w_j p_j(x)) (n, k) by scipy, in float64."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack(
        [
            sps.multivariate_normal(means[j], dense[j]).logpdf(X).reshape(len(X))
            + np.log(weights[j])
            for j in range(len(weights))
        ]
    )


def run(X, family, frame, p, **kw):
    return mixture_pass(
        X,
        gaussian_terms(p, family),
        frame,
        stats=False,
        resp=True,
        log_density=True,
        labels=True,
        **kw,
    )


@needs_kernels
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pass_kw", [{}, {"chunk_size": 37, "n_threads": 3}], ids=["auto", "37"])
def test_fused_matches_scipy_and_direct(case, cov_type, dtype, pass_kw, rng):
    X, weights, means, dense = hard_case(case, rng)
    X = X.astype(dtype)
    # the model's own covariances in this family's form (tied: the first one for all)
    dense = get_family(cov_type).dense(
        family_covariances(cov_type, dense), len(weights), X.shape[1]
    )
    family, frame, p = model(cov_type, weights, means, dense)
    fused = run(X, family, frame, p, **pass_kw)
    direct = run(X, family, frame, p, kernel="direct", **pass_kw)
    assert fused.kernel == "fused" and direct.kernel == "direct"

    logp = reference_log_densities(X, weights, means, dense)
    lse = logsumexp(logp, axis=1)
    size = max(1.0, float(np.abs(lse).max()))
    # float32 input is rounded before any arithmetic, so only its agreement with the float64
    # reference is loose; the two gaussmix paths see the same rounded rows
    tol_ref, tol_resp = (1e-9, 1e-9) if dtype == np.float64 else (1e-4, 1e-6)
    if case == "near-singular" and cov_type in ("full", "tied"):
        # condition ~1e9: eps * cond ~ 2e-7 for scipy's eigendecomposition and our Cholesky
        # alike (test_fast_paths); the two gaussmix paths still agree to rounding
        tol_ref = max(tol_ref, 1e-6)
        assert not fused.float32_products  # refused: the factors are ill-conditioned
    # float32 products (float32 input, triangular factors, enough rows): float32 rounding
    # of the products (~1e-7 relative here, test_float32_products_follow_float64)
    tol_paths = 1e-6 if fused.float32_products else 1e-10
    np.testing.assert_allclose(fused.log_density, lse, rtol=0, atol=tol_ref * size)
    np.testing.assert_allclose(fused.log_density, direct.log_density, rtol=0, atol=tol_paths * size)
    np.testing.assert_allclose(fused.resp, direct.resp, rtol=0, atol=tol_resp)
    np.testing.assert_allclose(fused.resp.sum(axis=1), 1.0, rtol=0, atol=tol_resp)
    # labels: the reference argmax wherever the best two components are not tied
    ordered = np.sort(np.column_stack([logp, np.full(len(X), -np.inf)]), axis=1)
    clear = ordered[:, -1] - ordered[:, -2] > 1e-6 * size
    np.testing.assert_array_equal(fused.labels[clear], logp.argmax(axis=1)[clear])
    np.testing.assert_allclose(
        fused.log_likelihood, direct.log_likelihood, rtol=1e-6 if fused.float32_products else 1e-12
    )


def random_full_model(rng, k, d, cond):
    """(weights, means, covariances) of k components whose covariances have condition
    numbers near ``cond``, with rows drawn from them (n, d) in float32."""
    weights = rng.dirichlet(np.full(k, 5.0))
    means = rng.normal(scale=3.0, size=(k, d)) + 10.0
    cov = []
    for _ in range(k):
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        cov.append((q * np.geomspace(1.0, cond, d)) @ q.T)
    return weights, means, np.array(cov)


@needs_kernels
@pytest.mark.parametrize("d", [1, 3, 4, 5, 8, 9, 13, 17, 32])
def test_float32_products_follow_float64(d, rng):
    """float32 input with well-conditioned factors: the fused kernel forms the products in
    float32 lanes; log-densities, responsibilities and EM statistics follow the float64
    products to float32 rounding, and the log-likelihood within 1e-6 relative (the issue's
    bound for float32 input is 1e-5)."""
    k, n = 3, max(6000, 256 * d)  # engine.FLOAT32_PRODUCTS_MIN_ROWS rows per feature
    weights, means, cov = random_full_model(rng, k, d, cond=50.0)  # cond(U) ~ 7
    labels = rng.choice(k, size=n, p=weights)
    X = np.stack([rng.multivariate_normal(means[j], cov[j]) for j in labels]).astype(np.float32)
    family, frame, p = model("full", weights, means, cov)
    kw = {"stats": True, "log_density": True, "resp": True, "chunk_size": 1000}
    fast = mixture_pass(X, gaussian_terms(p, family), frame, **kw)
    assert fast.kernel == "fused" and fast.float32_products
    with_f64 = mixture_pass(X.astype(np.float64), gaussian_terms(p, family), frame, **kw)
    assert not with_f64.float32_products
    size = float(np.abs(with_f64.log_density).max())
    np.testing.assert_allclose(fast.log_density, with_f64.log_density, rtol=0, atol=2e-6 * size)
    np.testing.assert_allclose(fast.resp, with_f64.resp, rtol=0, atol=1e-5)
    np.testing.assert_allclose(fast.log_likelihood, with_f64.log_likelihood, rtol=1e-6)
    new32, bad32 = params_from_stats(fast.stats, family, internal_reg(1e-6, frame, frame))
    new64, bad64 = params_from_stats(with_f64.stats, family, internal_reg(1e-6, frame, frame))
    assert not bad32.any() and not bad64.any()
    np.testing.assert_allclose(new32.covariances, new64.covariances, rtol=1e-4, atol=1e-6)


@needs_kernels
def test_float32_products_refused_where_inaccurate(rng):
    """Ill-conditioned factors (cond(U) above engine.FLOAT32_PRODUCTS_COND), float64 input,
    diagonal factors or too few rows per feature: the products stay float64."""
    from gaussmix.engine import FLOAT32_PRODUCTS_COND, FLOAT32_PRODUCTS_MIN_ROWS

    d, k = 4, 2
    n = FLOAT32_PRODUCTS_MIN_ROWS * d
    for cond, rows, cov_type, dtype, expected in [
        (50.0, n, "full", np.float32, True),
        (4 * FLOAT32_PRODUCTS_COND**2, n, "full", np.float32, False),  # cond(U) = 200
        (50.0, n, "full", np.float64, False),
        (50.0, n, "diag", np.float32, False),
        (50.0, n - 1, "full", np.float32, False),
    ]:
        weights, means, cov = random_full_model(rng, k, d, cond)
        X = rng.normal(size=(rows, d)).astype(dtype) + 10.0
        family, frame, p = model(cov_type, weights, means, cov)
        res = mixture_pass(X, gaussian_terms(p, family), frame, stats=False)
        assert res.float32_products is expected, (cond, rows, cov_type, dtype)


def whitened_case(rng, k, d, cond, n):
    """float32 rows of a random full model whose covariances have condition ``cond``."""
    weights, means, cov = random_full_model(rng, k, d, cond)
    labels = rng.choice(k, size=n, p=weights)
    X = np.empty((n, d))
    for j in range(k):
        rows = labels == j
        X[rows] = rng.multivariate_normal(means[j], cov[j], size=int(rows.sum()))
    return X.astype(np.float32), model("full", weights, means, cov)


def scatter_error(new, ref):
    """Largest 2-norm of ref_j^(-1/2) (new_j - ref_j) ref_j^(-1/2): the error of covariances
    in their own metric (what a log-density sees)."""
    worst = 0.0
    for a, b in zip(new, ref, strict=True):
        li = np.linalg.inv(np.linalg.cholesky(b))
        worst = max(worst, float(np.linalg.norm(li @ (a - b) @ li.T, 2)))
    return worst


@needs_kernels
@pytest.mark.parametrize("d", [5, 16, 32])
def test_float32_statistics_of_components_far_apart(d, rng, monkeypatch):
    """Whitened statistics gather, per component, only the rows with a responsibility for it
    (moved up within each block): with components far apart (each row's other
    responsibilities underflow) and the first rows all from one component, the M-step
    follows the float64 statistics' as in test_float32_statistics_follow_float64."""
    monkeypatch.setattr("gaussmix.engine.passes.FLOAT32_STATISTICS_MIN_FEATURES", 1)
    k, n, cond = 4, 256 * d + 77, 30.0
    weights, means, cov = random_full_model(rng, k, d, cond)
    means = means + 100.0 * np.arange(k)[:, None]
    labels = np.concatenate([np.zeros(300, int), rng.choice(k, size=n - 300, p=weights)])
    X = np.empty((n, d))
    for j in range(k):
        rows = labels == j
        X[rows] = rng.multivariate_normal(means[j], cov[j], size=int(rows.sum()))
    family, frame, p = model("full", weights, means, cov)
    X = X.astype(np.float32)
    w = rng.uniform(0.0, 2.0, size=n) * (rng.random(n) > 0.1)
    kw = {"stats": True, "sample_weight": w, "chunk_size": 1001, "n_threads": 2}
    fast = mixture_pass(X, gaussian_terms(p, family), frame, resp=True, **kw)
    ref = mixture_pass(X, gaussian_terms(p, family), frame, float32_statistics=False, **kw)
    assert fast.float32_statistics and not ref.float32_statistics
    assert ((fast.resp >= 2.0**-80).sum(axis=1) == 1).all()  # one component per row
    np.testing.assert_allclose(fast.stats.N, ref.stats.N, rtol=1e-13)
    reg = internal_reg(1e-6, frame, frame)
    new32, bad32 = params_from_stats(fast.stats, family, reg)
    new64, bad64 = params_from_stats(ref.stats, family, reg)
    assert not bad32.any() and not bad64.any()
    tol = 2.0**-24 * np.sqrt(cond)
    for j in range(k):
        li = np.linalg.inv(np.linalg.cholesky(new64.covariances[j]))
        assert np.linalg.norm(li @ (new32.means[j] - new64.means[j])) < tol
    assert scatter_error(new32.covariances, new64.covariances) < tol


@needs_kernels
@pytest.mark.parametrize("d", [1, 2, 5, 8, 13, 16, 17, 31, 32, 33, 40])
@pytest.mark.parametrize("cond", [30.0, 1e6])
def test_float32_statistics_follow_float64(d, cond, rng, monkeypatch):
    """float32 input with float32 products: the statistics are summed in float32 lanes in
    each component's whitened coordinates and mapped back in float64.  The M-step's means
    and covariances follow the float64 statistics' in their own metric within
    ``u32 cond(U)``, the float32 rounding of the products ``y = (z - m) U`` they are formed
    from (measured: 0.2-0.5 u32 cond(U) at d = 13 to 40 and cond(U) from 5 to 1000), also
    for covariances of condition 1e6 (correlations near 1, which sums in the data's own
    coordinates would lose), with sample weights, a chunk size that leaves block tails and
    several threads; the E-step is the same, so the log-likelihood is too.  Below
    ``FLOAT32_STATISTICS_MIN_FEATURES`` passes do not use them; the kernel is checked there
    too."""
    monkeypatch.setattr("gaussmix.engine.passes.FLOAT32_STATISTICS_MIN_FEATURES", 1)
    k, n = 3, 256 * d + 77
    X, (family, frame, p) = whitened_case(rng, k, d, cond, n)
    w = rng.uniform(0.0, 2.0, size=n)
    kw = {"stats": True, "sample_weight": w, "chunk_size": 1001, "n_threads": 2}
    fast = mixture_pass(X, gaussian_terms(p, family), frame, **kw)
    ref = mixture_pass(X, gaussian_terms(p, family), frame, float32_statistics=False, **kw)
    assert fast.float32_products and ref.float32_products
    assert fast.float32_statistics and not ref.float32_statistics
    assert fast.log_likelihood == ref.log_likelihood
    np.testing.assert_allclose(fast.stats.N, ref.stats.N, rtol=1e-13)
    reg = internal_reg(1e-6, frame, frame)
    new32, bad32 = params_from_stats(fast.stats, family, reg)
    new64, bad64 = params_from_stats(ref.stats, family, reg)
    assert not bad32.any() and not bad64.any()
    tol = 2.0**-24 * np.sqrt(cond)  # u32 cond(U)
    for j in range(k):  # means, in units of the component's spread
        li = np.linalg.inv(np.linalg.cholesky(new64.covariances[j]))
        assert np.linalg.norm(li @ (new32.means[j] - new64.means[j])) < tol
    assert scatter_error(new32.covariances, new64.covariances) < tol


@needs_kernels
def test_float32_statistics_only_where_asked(rng):
    """Whitened float32 statistics need float32 products (float32 input) and statistics;
    the kernel refuses the flag without them."""
    from gaussmix import _kernels

    d = 5
    for dtype, stats, expected in [
        (np.float32, True, True),
        (np.float64, True, False),
        (np.float32, False, False),
    ]:
        X, (family, frame, p) = whitened_case(rng, 2, d, 10.0, 256 * d)
        res = mixture_pass(X.astype(dtype), gaussian_terms(p, family), frame, stats=stats)
        assert res.float32_statistics is expected, (dtype, stats)
    m, d, k = 16, 3, 2
    x = rng.normal(size=(m, d)).astype(np.float32)
    args = (x, np.ones(d), np.zeros((k, d)), np.stack([np.eye(d)] * k), np.zeros(k), np.empty(m))
    stats = {"nk": np.zeros(k), "s1": np.zeros((k, d)), "s2": np.zeros((k, d, d))}
    with pytest.raises(ValueError, match="float32_statistics needs float32_products"):
        _kernels.mixture_chunk(*args, float32_statistics=True, **stats)
    with pytest.raises(ValueError, match="float32_statistics needs float32_products"):
        _kernels.mixture_chunk(*args, float32_products=True, float32_statistics=True)


@needs_kernels
@pytest.mark.parametrize("d", [3, 12, 13, 32])
def test_float64_components_beside_whitened(d, rng, monkeypatch):
    """Statistics of some components whitened in float32, of the others in float64, in one
    pass: each component's are those of a pass that summed all of them its way, to the
    last bit (up to d = 12 the float64 ones are lane-wise partial sums, above that a
    super-block of rows), with sample weights, block tails and two threads; the kernel
    refuses the flags without float32 statistics or with one per component missing."""
    from gaussmix import _kernels

    monkeypatch.setattr("gaussmix.engine.passes.FLOAT32_STATISTICS_MIN_FEATURES", 1)

    k, n = 4, 256 * d + 77
    X, (family, frame, p) = whitened_case(rng, k, d, 100.0, n)
    kw = {"stats": True, "sample_weight": rng.uniform(0.0, 2.0, size=n), "chunk_size": 999}
    mask = np.array([True, False, False, True])
    mixed = mixture_pass(
        X, gaussian_terms(p, family), frame, float32_statistics=mask, n_threads=2, **kw
    )
    whitened = mixture_pass(X, gaussian_terms(p, family), frame, float32_statistics=True, **kw)
    plain = mixture_pass(X, gaussian_terms(p, family), frame, float32_statistics=False, **kw)
    np.testing.assert_array_equal(mixed.whitened_components, mask)
    np.testing.assert_array_equal(whitened.whitened_components, np.ones(k, dtype=bool))
    assert plain.whitened_components is None
    for stat in ("N", "S1", "S2"):
        got = getattr(mixed.stats, stat)
        np.testing.assert_array_equal(got[mask], getattr(whitened.stats, stat)[mask])
        np.testing.assert_array_equal(got[~mask], getattr(plain.stats, stat)[~mask])
    assert not np.array_equal(whitened.stats.S2[~mask], plain.stats.S2[~mask])
    m = 16
    x = rng.normal(size=(m, d)).astype(np.float32)
    args = (x, np.ones(d), np.zeros((k, d)), np.stack([np.eye(d)] * k), np.zeros(k), np.empty(m))
    stats = {"nk": np.zeros(k), "s1": np.zeros((k, d)), "s2": np.zeros((k, d, d))}
    for flags in (
        dict(float32_products=True),
        dict(float32_products=True, float32_statistics=True),
    ):
        f64 = mask if "float32_statistics" not in flags else mask[:-1]
        with pytest.raises(ValueError, match="float64_components needs float32_statistics"):
            _kernels.mixture_chunk(*args, **flags, float64_components=f64, **stats)


@needs_kernels
@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
def test_float32_statistics_only_from_enough_features(d, rng):
    """With fewer than ``FLOAT32_STATISTICS_MIN_FEATURES`` features float32 input keeps its
    float32 products but sums its statistics in float64, exactly those of a pass told not to
    whiten; from that many on, a pass whitens them."""
    from gaussmix.engine import FLOAT32_STATISTICS_MIN_FEATURES

    k, n = 3, 256 * d + 77
    X, (family, frame, p) = whitened_case(rng, k, d, 30.0, n)
    res = mixture_pass(X, gaussian_terms(p, family), frame, chunk_size=1001)
    ref = mixture_pass(
        X, gaussian_terms(p, family), frame, float32_statistics=False, chunk_size=1001
    )
    assert res.float32_products and ref.float32_products
    assert res.float32_statistics is (d >= FLOAT32_STATISTICS_MIN_FEATURES)
    if d < FLOAT32_STATISTICS_MIN_FEATURES:
        for stat in ("N", "S1", "S2"):
            np.testing.assert_array_equal(getattr(res.stats, stat), getattr(ref.stats, stat))


@needs_kernels
@pytest.mark.parametrize("how", ["collinear", "far mean", "collinear after the probe"])
def test_float32_statistics_redone_in_float64_where_unsafe(how, rng):
    """Where a component's whitened sums are nearly singular (its rows nearly on a line
    across two features, or far from its mean in units of their spread), the bound of
    engine._whitened_safe cannot vouch for them: that component's statistics are summed in
    float64, exactly those of a pass that never tried, on any number of threads, while the
    other component's stay whitened (within float32 rounding of them).  The first chunk
    decides for the pass; where it holds none of a component's rows (sorted rows), it
    cannot check that component, which is then summed in float64 too."""
    d, k = 16, 2
    n = 256 * d
    weights, means = np.array([0.5, 0.5]), np.zeros((k, d))
    means[1] += 50.0
    cov = np.stack([np.eye(d)] * k)
    X = rng.normal(size=(n, d)) + means[rng.integers(0, k, size=n)]
    first = X[:, 0] < 25.0  # rows of component 0
    if how.startswith("collinear"):
        t = rng.normal(size=int(first.sum()))
        X[first] = 0.0
        X[first, 0], X[first, 1] = t, t + 1e-5 * rng.normal(size=t.size)
        expected = np.array([False, True])  # component 0 in float64
    else:  # these rows, 5e3 from both means, go to component 1, which then fails
        X[first] = 5e3 + 1e-3 * rng.normal(size=(int(first.sum()), d))
        X[first, 0] = 0.0
        # and component 0 is weightless (1e-301 in all): too light in the probe to be
        # checked, it is summed in float64 too (nothing is left whitened)
        expected = None
    kw: dict = {"stats": True, "chunk_size": 500}
    if how == "collinear after the probe":  # component 1's rows first, then component 0's
        X = np.concatenate([X[~first], X[first]])
        kw["chunk_size"] = int((~first).sum())
    X = X.astype(np.float32)
    family, frame, p = model("full", weights, means, cov)
    ref = mixture_pass(X, gaussian_terms(p, family), frame, float32_statistics=False, **kw)
    reg = internal_reg(1e-6, frame, frame)
    new64, _ = params_from_stats(ref.stats, family, reg)
    for threads in (1, 2, 3):
        res = mixture_pass(X, gaussian_terms(p, family), frame, n_threads=threads, **kw)
        assert res.float32_products and res.float32_statistics is (expected is not None)
        if expected is None:
            assert res.whitened_components is None
            float64 = np.ones(k, dtype=bool)
        else:
            np.testing.assert_array_equal(res.whitened_components, expected)
            float64 = ~expected
        for stat in ("N", "S1", "S2"):
            np.testing.assert_array_equal(
                getattr(res.stats, stat)[float64], getattr(ref.stats, stat)[float64]
            )
        assert res.log_likelihood == ref.log_likelihood
        if expected is not None:  # the whitened component: within float32 rounding
            new32, bad = params_from_stats(res.stats, family, reg)
            assert not bad.any()
            assert 0 < scatter_error(new32.covariances[1:], new64.covariances[1:]) < 2.0**-22


@needs_kernels
def test_float32_statistics_probe_failure_does_not_hang(rng, monkeypatch):
    """If the probe's chunk raises, the workers that summed later chunks whitened (and wait
    for its verdict) are released: the pass raises that error instead of hanging."""
    import threading

    from gaussmix.engine import passes

    d, k, n = 16, 3, 6000
    X, (family, frame, p) = whitened_case(rng, k, d, 100.0, n)
    process = passes._Accumulator.process
    started = threading.Event()

    def failing(self, X, sl, sample_weight, out):
        if sl.start == 0:  # the probe: let another worker sum a chunk first
            started.wait(10.0)
            raise RuntimeError("probe chunk failed")
        process(self, X, sl, sample_weight, out)
        started.set()

    monkeypatch.setattr(passes._Accumulator, "process", failing)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            mixture_pass(
                X, gaussian_terms(p, family), frame, stats=True, chunk_size=700, n_threads=2
            )
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30.0)
    assert not worker.is_alive(), "the pass hung"
    assert started.is_set()
    assert len(errors) == 1 and "probe chunk failed" in str(errors[0])


@needs_kernels
def test_float32_statistics_do_not_depend_on_threads(rng):
    """Whitened statistics are folded in chunk order like every other sum: the same to the
    last bit on 1, 2 or 3 threads."""
    d, k, n = 16, 3, 6000
    X, (family, frame, p) = whitened_case(rng, k, d, 100.0, n)
    kw = {"stats": True, "chunk_size": 700}
    results = [
        mixture_pass(X, gaussian_terms(p, family), frame, n_threads=t, **kw) for t in (1, 2, 3)
    ]
    assert all(r.float32_statistics for r in results)
    for r in results[1:]:
        np.testing.assert_array_equal(r.stats.S2, results[0].stats.S2)
        np.testing.assert_array_equal(r.stats.S1, results[0].stats.S1)
        np.testing.assert_array_equal(r.stats.N, results[0].stats.N)


@needs_kernels
@pytest.mark.parametrize("n", [1, 5, 16, 17, 33, 250])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7, 9])
@pytest.mark.parametrize("d", [1, 3, 6, 20])
@pytest.mark.parametrize("cov_type", ["diag", "full", "tied"])
def test_block_and_component_tails(n, k, d, cov_type, rng):
    """Row counts around the block of 8 or 16 rows, components (diag) and columns of the
    triangular product (full, tied) around the block of 4."""
    means = rng.normal(scale=3.0, size=(k, d))
    weights = rng.dirichlet(np.ones(k))
    X = means[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    if cov_type == "diag":
        dense = np.stack([np.diag(v) for v in rng.uniform(0.3, 2.0, size=(k, d))])
    else:
        a = rng.normal(size=(k, d, d)) * 0.3
        dense = np.einsum("kab,kcb->kac", a, a) + np.eye(d)
        if cov_type == "tied":
            dense[:] = dense[0]
    family, frame, p = model(cov_type, weights, means, dense)
    res = run(X, family, frame, p, chunk_size=7 if n > 7 else None)
    assert res.kernel == "fused"
    logp = reference_log_densities(X, weights, means, dense)
    lse = logsumexp(logp, axis=1)
    np.testing.assert_allclose(res.log_density, lse, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.resp, np.exp(logp - lse[:, None]), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.labels, logp.argmax(axis=1))


@needs_kernels
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_strided_input_and_float32_output(cov_type, rng):
    """A Fortran-ordered slice, and float32 outputs, give the contiguous float64 result."""
    means = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    dense = np.stack([np.diag([1.0, 0.5, 2.0]), np.diag([0.3, 1.0, 1.0])]) + 0.2
    family, frame, p = model(cov_type, np.array([0.3, 0.7]), means, dense)
    X = rng.normal(size=(301, 5)) * 2.0
    base = run(np.ascontiguousarray(X[:, 1:4]), family, frame, p)
    strided = run(np.asfortranarray(X)[::1, 1:4], family, frame, p)
    np.testing.assert_array_equal(strided.log_density, base.log_density)
    np.testing.assert_array_equal(strided.resp, base.resp)
    half = run(X[:, 1:4].astype(np.float32), family, frame, p, out_dtype=np.float32)
    assert half.resp.dtype == np.float32 and half.log_density.dtype == np.float32
    np.testing.assert_allclose(half.resp, base.resp, atol=1e-6)


@needs_kernels
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_rows_beyond_float64_fall_back_to_numpy(cov_type, rng):
    """Rows whose squared distance overflows are redone by the numpy path, which scales them."""
    means = np.array([[0.0, 0.0], [5.0, 5.0]])
    dense = np.stack([np.eye(2), np.eye(2) * 2.0]) + 0.3
    family, frame, p = model(cov_type, np.array([0.5, 0.5]), means, dense)
    X = rng.normal(size=(100, 2))
    X[[3, 60]] = [[1e200, 0.0], [-3e180, 1e170]]
    fused = run(X, family, frame, p, chunk_size=50)
    with numpy_kernels():
        plain = run(X, family, frame, p, chunk_size=50)
    assert plain.kernel != "fused"
    np.testing.assert_array_equal(fused.log_density, plain.log_density)
    np.testing.assert_array_equal(fused.resp, plain.resp)
    np.testing.assert_array_equal(fused.labels, plain.labels)


@pytest.mark.parametrize("kind", [FULL, POOLED, DIAG, MEAN_SQUARE], ids=lambda m: m.name)
def test_second_moments_from_components(kind, rng):
    """Each layout's moments from per-component ones (as the kernel gathers them) equal the
    layout's own weighted_second summed as the direct path does."""
    k, d, n = 3, 4, 50
    diff, r = rng.normal(size=(k, n, d)), rng.uniform(size=(k, n))
    diagonal = kind in (DIAG, MEAN_SQUARE)
    per = np.stack(
        [(r[j] * (diff[j] ** 2).T).sum(axis=1) if diagonal else (diff[j].T * r[j]) @ diff[j]
         for j in range(k)]
    )  # fmt: skip
    second = np.zeros(kind.second_shape(len(per), d))
    for j in range(k):
        kind.add_component(second, j, kind.weighted_second(diff[j], r[j]))
    np.testing.assert_allclose(kind.from_components(per), second, rtol=1e-12)


def em_params(X, family, frame, p, sample_weight=None, **kw):
    """One EM step's pass (statistics, log-likelihood) and the M-step's parameters."""
    res = mixture_pass(X, gaussian_terms(p, family), frame, sample_weight=sample_weight, **kw)
    new, bad = params_from_stats(res.stats, family, internal_reg(1e-6, frame, frame))
    assert not bad.any()
    return res, new


@needs_kernels
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("case", ["offset-1e4", "mixed", "far-tiny"])
def test_em_statistics_match_numpy_path(cov_type, case, rng):
    """An EM pass through the kernel, which gathers the statistics about each component's
    mean, gives the numpy path's M-step, with weights and threads.  tied: EM stays in numpy
    (its pooled statistics are cheaper there)."""
    X, weights, means, dense = hard_case(case, rng)
    dense = get_family(cov_type).dense(family_covariances(cov_type, dense), *means.shape)
    family, frame, p = model(cov_type, weights, means, dense)
    sw = rng.uniform(0.0, 3.0, size=len(X))
    kw = {"sample_weight": sw, "chunk_size": 61, "n_threads": 3}
    fused, pf = em_params(X, family, frame, p, **kw)
    with numpy_kernels():
        plain, pn = em_params(X, family, frame, p, **kw)
    assert (fused.kernel == "fused") == (cov_type != "tied") and plain.kernel != "fused"
    # far-tiny: the numpy path evaluates the components it may by the expansion, whose error
    # is bounded near 2e-10 (engine.EXPANDED_RISK_LIMIT; measured 1.8e-12 with OpenBLAS's
    # Zen kernels, below 1e-12 with its SkylakeX ones); the kernel's own accuracy is checked
    # against extended precision in test_far_tiny_log_likelihood_in_extended_precision
    np.testing.assert_allclose(
        fused.log_likelihood, plain.log_likelihood, rtol=2e-10 if case == "far-tiny" else 1e-12
    )
    # far-tiny: rows 1e6 out with deviations of 1e-3 (test_fast_paths' tolerance)
    tol = 1e-6 if case == "far-tiny" else 1e-10
    np.testing.assert_allclose(pf.weights, pn.weights, rtol=tol)
    np.testing.assert_allclose(pf.means, pn.means, rtol=0, atol=tol * np.abs(pn.means).max())
    np.testing.assert_allclose(pf.covariances, pn.covariances, rtol=tol)


@needs_kernels
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_far_tiny_log_likelihood_in_extended_precision(cov_type, rng):
    """Clusters 1e6 from the origin with variances 1e-6: the kernel's weighted log-likelihood
    equals one computed in x87 extended precision (64-bit mantissa) to near float64 rounding,
    with weights, chunks and threads."""
    if np.finfo(np.longdouble).nmant < 60:
        pytest.skip("np.longdouble is no wider than float64 on this platform")
    X, weights, means, dense = hard_case("far-tiny", rng)
    dense = get_family(cov_type).dense(family_covariances(cov_type, dense), *means.shape)
    family, frame, p = model(cov_type, weights, means, dense)
    sw = rng.uniform(0.0, 3.0, size=len(X))
    res = mixture_pass(
        X, gaussian_terms(p, family), frame, sample_weight=sw, chunk_size=61, n_threads=3
    )
    assert res.kernel.startswith("fused") or cov_type == "tied"
    L = np.longdouble
    logp = []
    for j in range(len(weights)):
        diff = X.astype(L) - means[j].astype(L)
        prec = np.linalg.inv(dense[j]).astype(L)  # 2 x 2: its rounding is far below the tol
        quad = np.einsum("ni,ij,nj->n", diff, prec, diff)
        log_det = np.log(L(np.linalg.det(dense[j])))
        logp.append(np.log(L(weights[j])) - (quad + log_det + 2 * np.log(2 * L(np.pi))) / 2)
    logp = np.stack(logp, axis=1)
    top = logp.max(axis=1)
    ll = (L(sw) * (top + np.log(np.exp(logp - top[:, None]).sum(axis=1)))).sum()
    # tied: the numpy path, part of it by the expansion (bounded near 2e-10)
    np.testing.assert_allclose(
        res.log_likelihood, float(ll), rtol=2e-10 if cov_type == "tied" else 1e-14
    )


@needs_kernels
@pytest.mark.parametrize("cov_type", ["full", "diag", "spherical"])
def test_em_chunks_redone_by_numpy_merge_with_the_kernels(cov_type, rng):
    """A chunk with a row beyond float64 is redone by numpy (moments about other reference
    points); its statistics merge with the kernel's into the numpy path's M-step."""
    means = np.array([[0.0, 0.0], [5.0, 5.0]])
    dense = np.stack([np.eye(2), np.eye(2) * 2.0]) + 0.3
    family, frame, p = model(cov_type, np.array([0.5, 0.5]), means, dense)
    X = means[rng.integers(2, size=400)] + rng.normal(size=(400, 2))
    X[7] = [1e200, 0.0]
    fused, pf = em_params(X, family, frame, p, chunk_size=50)
    with numpy_kernels():
        plain, pn = em_params(X, family, frame, p, chunk_size=50)
    assert fused.kernel == "fused"
    np.testing.assert_allclose(fused.log_likelihood, plain.log_likelihood, rtol=1e-12)
    np.testing.assert_allclose(pf.weights, pn.weights, rtol=1e-12)
    np.testing.assert_allclose(pf.means, pn.means, rtol=1e-10)
    np.testing.assert_allclose(pf.covariances, pn.covariances, rtol=1e-10)


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_chunks_redone_by_numpy_in_pieces(dtype, rng, monkeypatch):
    """With the default chunk size the kernel's chunks (engine.FUSED_CHUNK_ROWS) are larger
    than numpy's, whose buffers bound memory: a chunk the kernel hands back (a row beyond
    float64) is redone by numpy in pieces of numpy's size, and the pass agrees with a numpy
    pass.  With float32 input (no row is beyond float64 there) and whitened statistics the
    first chunk, the probe, is of numpy's size, the others larger."""
    from gaussmix.engine import passes

    d, k, n = 32, 3, 12_000  # float32 products from 256 rows per feature
    X, (family, frame, p) = whitened_case(rng, k, d, 50.0, n)
    if dtype == np.float64:
        X = X.astype(np.float64)
        X[4500, 0] = 1e200
    pieces: list[int] = []
    chunks: list[int] = []
    numpy_body, process = passes._Accumulator._numpy, passes._Accumulator.process

    def numpy_piece(self, X, sl, sample_weight, out, *background):
        pieces.append(sl.stop - sl.start)
        numpy_body(self, X, sl, sample_weight, out, *background)

    def chunk(self, X, sl, sample_weight, out):
        chunks.append(sl.stop - sl.start)
        process(self, X, sl, sample_weight, out)

    monkeypatch.setattr(passes._Accumulator, "_numpy", numpy_piece)
    monkeypatch.setattr(passes._Accumulator, "process", chunk)
    kw = {"stats": True, "resp": True, "log_density": True}
    fused = mixture_pass(X, gaussian_terms(p, family), frame, **kw)
    assert fused.kernel == "fused"
    fused_pieces, fused_chunks = list(pieces), list(chunks)
    pieces.clear()
    with numpy_kernels():
        plain = mixture_pass(X, gaussian_terms(p, family), frame, **kw)
    numpy_step = max(pieces)
    assert max(fused_chunks) > numpy_step  # the kernel's chunks are larger
    finite = np.isfinite(plain.log_density)
    if dtype == np.float64:  # one chunk redone in pieces
        assert len(fused_pieces) >= 2 and max(fused_pieces) <= numpy_step
        assert not finite.all()
    else:
        assert not fused_pieces and fused.float32_statistics
        assert fused_chunks[0] == numpy_step < min(fused_chunks[1:])  # the probe
    np.testing.assert_array_equal(np.isfinite(fused.log_density), finite)
    np.testing.assert_allclose(fused.log_density[finite], plain.log_density[finite], rtol=1e-5)
    np.testing.assert_allclose(fused.resp, plain.resp, atol=1e-5)
    new_f, _ = params_from_stats(fused.stats, family, internal_reg(1e-6, frame, frame))
    new_p, _ = params_from_stats(plain.stats, family, internal_reg(1e-6, frame, frame))
    np.testing.assert_allclose(new_f.weights, new_p.weights, rtol=1e-6)
    np.testing.assert_allclose(new_f.covariances, new_p.covariances, rtol=1e-4, atol=1e-7)


@needs_kernels
def test_zero_weight_component(rng):
    """A component of weight 0 gets responsibility 0 (below exp(-700)) and never a label."""
    means = np.array([[0.0], [2.0], [1.0]])
    dense = np.ones((3, 1, 1))
    family, frame, p = model("diag", np.array([0.5, 0.5, 0.0]), means, dense)
    X = rng.normal(size=(40, 1)) + 1.0
    res = run(X, family, frame, p)
    assert res.kernel == "fused"
    assert np.all(res.resp[:, 2] < 1e-300) and not np.any(res.labels == 2)
    logp = reference_log_densities(X, np.array([0.5, 0.5]), means[:2], dense[:2])
    np.testing.assert_allclose(res.log_density, logsumexp(logp, axis=1), rtol=1e-13)


@needs_kernels
@pytest.mark.parametrize("cov_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("chunk_size", [None, 29])
def test_log_sum_exp_leaves_out_only_negligible_terms(cov_type, chunk_size, rng):
    """Without responsibilities the kernel leaves out vectors of rows whose components are all
    below e^-50 of their rows' best (_kernels.c, SKIP_LSE): on components spaced so that each
    row has some within that range and some far beyond it, in shuffled order (so that a
    vector of rows mixes both), the log-densities equal a log-sum-exp of scipy's terms and
    those of a pass that forms every exponential (with responsibilities) to rounding."""
    d, k = 3, 7
    # centres along the first axis: a row near one centre sees the next ones at Δlog p of
    # about 4.5, 18, 40, 72 (under SKIP_LSE's 50 or not) and the far ones below -400
    offsets = np.array([0.0, 3.0, 6.0, 9.0, 12.0, 40.0, 90.0])
    means = np.zeros((k, d))
    means[:, 0] = offsets
    means += 100.0
    weights = rng.dirichlet(np.full(k, 3.0))
    dense = np.stack([np.diag(rng.uniform(0.8, 1.25, size=d)) for _ in range(k)])
    labels = rng.integers(k, size=2000)
    X = means[labels] + rng.normal(size=(2000, d)) * rng.uniform(0.5, 3.0, size=(2000, 1))
    dense = get_family(cov_type).dense(family_covariances(cov_type, dense), k, d)
    family, frame, p = model(cov_type, weights, means, dense)
    kw = {"chunk_size": chunk_size, "n_threads": 2}
    lse_only = mixture_pass(
        X, gaussian_terms(p, family), frame, stats=False, log_density=True, **kw
    )
    every = mixture_pass(
        X, gaussian_terms(p, family), frame, stats=False, resp=True, log_density=True, **kw
    )
    assert lse_only.kernel == "fused"
    logp = reference_log_densities(X, weights, means, dense)
    rel = logp - logp.max(axis=1, keepdims=True)
    # the case is what it says: terms left out and terms kept, in the same vectors of rows
    assert ((rel < -50) & (rel > -700)).any(axis=1).mean() > 0.5
    assert ((rel > -50) & (rel < -10)).any(axis=1).mean() > 0.2
    size = max(1.0, float(np.abs(logp).max()))
    np.testing.assert_allclose(
        lse_only.log_density, logsumexp(logp, axis=1), rtol=0, atol=1e-12 * size
    )
    np.testing.assert_allclose(lse_only.log_density, every.log_density, rtol=4e-16, atol=0)
    assert lse_only.log_likelihood == pytest.approx(every.log_likelihood, rel=1e-15)


@needs_kernels
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_estimator_outputs_match_numpy_path(cov_type, rng):
    """Every prediction method of a fitted model agrees with the same model on numpy."""
    X = np.vstack([rng.normal(size=(500, 4)), rng.normal(size=(300, 4)) * 0.5 + 3.0])
    gm = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X)
    with numpy_kernels():
        ref = [gm.predict_proba(X), gm.score_samples(X), gm.predict(X), gm.score(X)]
    got = [gm.predict_proba(X), gm.score_samples(X), gm.predict(X), gm.score(X)]
    np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-12)
    np.testing.assert_array_equal(got[2], ref[2])
    assert got[3] == pytest.approx(ref[3], rel=1e-13)


@needs_kernels
@pytest.mark.parametrize(
    "form",
    ["diagonal", "spherical", "triangular", "transform", "statistics", "spherical-statistics"],
)
def test_direct_call_follows_its_formula(form, rng):
    """mixture_chunk against its docstring's formula, written in numpy on random arguments."""
    from gaussmix import _kernels

    m, d, k = 45, 5, 6
    x, mu = rng.normal(size=(m, d)) * 3.0, rng.normal(size=(k, d))
    # one power of two per feature
    base, inv_scale = rng.normal(size=k), 2.0 ** rng.integers(-3, 0, size=d).astype(float)
    y, extra = x * inv_scale, {}
    if form in ("diagonal", "spherical", "statistics", "spherical-statistics"):
        factors = rng.uniform(0.5, 2.0, size=(k, d))
        if form.startswith("spherical"):  # one factor per component: applied after the sum
            factors[:] = factors[:, :1]
        quad = (((y[:, None, :] - mu) * factors) ** 2).sum(axis=2)
    else:
        # below the diagonal: ignored (the factors are upper-triangular)
        upper = np.triu(rng.normal(size=(d, d))) + 2.0 * np.eye(d)
        if form == "triangular":
            factors = np.triu(rng.normal(size=(k, d, d))) + 2.0 * np.eye(d)
            diff = y[:, None, :] - mu
            quad = (np.einsum("ika,kab->ikb", diff, factors) ** 2).sum(axis=2)
            factors = factors + np.tril(rng.normal(size=(k, d, d)), -1)
        else:
            shift, factors = rng.normal(size=d), rng.uniform(0.5, 2.0, size=(k, d))
            y = (y - shift) @ upper
            quad = (((y[:, None, :] - mu) * factors) ** 2).sum(axis=2)
            extra = {"shift": shift, "transform": upper + np.tril(rng.normal(size=(d, d)), -1)}
    if form.endswith("statistics"):  # added to what the arrays hold
        sw = rng.uniform(0.0, 2.0, size=m)
        # spherical: s2 of shape (k,), the mean over features
        s2_shape = (k,) if form == "spherical-statistics" else (k, d)
        start = [rng.normal(size=k), rng.normal(size=(k, d)), rng.normal(size=s2_shape)]
        stats = [a.copy() for a in start]
        extra = dict(zip(["nk", "s1", "s2"], stats, strict=True), sample_weight=sw)
    logp = base - 0.5 * quad
    lse, resp, labels = np.empty(m), np.empty((m, k)), np.empty(m, dtype=np.int64)
    assert _kernels.mixture_chunk(x, inv_scale, mu, factors, base, lse, resp, labels, **extra)
    np.testing.assert_allclose(lse, logsumexp(logp, axis=1), rtol=1e-13)
    expected = np.exp(logp - lse[:, None])
    np.testing.assert_allclose(resp, expected, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(labels, logp.argmax(axis=1))
    if form.endswith("statistics"):
        rw = expected * sw[:, None]
        diff = y[:, None, :] - mu  # (m, k, d)
        np.testing.assert_allclose(stats[0], start[0] + rw.sum(axis=0), rtol=1e-13)
        s1 = start[1] + np.einsum("ik,ika->ka", rw, diff)
        if form == "spherical-statistics":
            s2 = start[2] + np.einsum("ik,ika->k", rw, diff**2) / d
        else:
            s2 = start[2] + np.einsum("ik,ika->ka", rw, diff**2)
        np.testing.assert_allclose(stats[1], s1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(stats[2], s2, rtol=1e-12, atol=1e-12)


@needs_kernels
def test_exp_and_log_within_a_few_ulp():
    """The kernel's own exp and log (vectorised, in _kernel_body.h) against x87 extended
    precision, over the whole range they serve: exponents from 0 down to the floor of -700
    (and below it, floored), sums of exponentials from 1 to k.  The log-densities are exact
    in float64 (rows on a 1/64 grid, integer means, unit factors), so the errors are the
    kernel's exp, log, sum and reciprocal alone."""
    from gaussmix import _kernels

    if np.finfo(np.longdouble).nmant < 60:
        pytest.skip("np.longdouble is no wider than float64 on this platform")
    k = 8
    x = (np.arange(-48 * 64, 72 * 64) / 64.0)[:, None]  # 7,680 rows
    mu = np.arange(k, dtype=np.float64)[:, None] * 3.0
    factors = np.ones((k, 1))
    factors[0] = 0.0  # component 0: log-density 0 everywhere, so every row's maximum is 0
    base = np.zeros(k)
    lse, resp = np.empty(len(x)), np.empty((len(x), k))
    assert _kernels.mixture_chunk(x, np.ones(1), mu, factors, base, lse, resp)
    L = np.longdouble
    logp = -0.5 * ((x.astype(L) - mu[:, 0].astype(L)) * factors[:, 0].astype(L)) ** 2
    rel = np.exp(np.maximum(logp, L(-700.0)))  # the floor of engine._FLOOR
    total = rel.sum(axis=1)
    lse_ref, resp_ref = np.log(total), rel / total[:, None]
    assert (logp < -700).any() and total.min() == 1 and total.max() > 2  # the range is covered
    eps = np.finfo(np.float64).eps
    # lse in [0, log 8]: a few ulp of the log, plus the float64 rounding of the sum it is
    # taken of (k terms: k eps / 2 relative at most); measured 1.3 eps
    assert np.all(np.abs(lse - lse_ref) <= 4 * eps * lse_ref + k * eps / 2)
    # responsibilities: relative error of exp, a sum of k terms, a reciprocal and a product
    # (measured 1.9 eps)
    err = np.abs(resp - resp_ref) / resp_ref
    assert err.max() <= 8 * eps, err.max() / eps


@needs_kernels
@pytest.mark.parametrize("m", [1, 17, 300])
@pytest.mark.parametrize("d", [1, 5, 12, 13, 16, 32, 41])
def test_triangular_statistics_follow_their_formula(m, d, rng):
    """Full statistics from the kernel against numpy's sums: lane-wise partial sums up to
    d = 12, a super-block of rows above (tiles of 4 rows by up to 4 vectors, zero-padded
    columns); rows around the block and super-block sizes; the factors' lower part ignored."""
    from gaussmix import _kernels

    k, inv_scale = 3, 2.0 ** rng.integers(-3, 1, size=d).astype(float)
    x, mu = rng.normal(size=(m, d)) * 4.0, rng.normal(size=(k, d))
    upper = np.triu(rng.normal(size=(k, d, d)) * 0.2) + np.eye(d)
    factors = upper + np.tril(rng.normal(size=(k, d, d)), -1)
    base, sw = rng.normal(size=k), rng.uniform(0.0, 2.0, size=m)
    diff = x[:, None, :] * inv_scale - mu  # (m, k, d)
    logp = base - 0.5 * (np.einsum("ika,kab->ikb", diff, upper) ** 2).sum(axis=2)
    start = [rng.normal(size=k), rng.normal(size=(k, d)), rng.normal(size=(k, d, d))]
    stats = [a.copy() for a in start]
    lse = np.empty(m)
    sums = dict(zip(["nk", "s1", "s2"], stats, strict=True), sample_weight=sw)
    assert _kernels.mixture_chunk(x, inv_scale, mu, factors, base, lse, **sums)
    rw = np.exp(logp - logsumexp(logp, axis=1, keepdims=True)) * sw[:, None]
    np.testing.assert_allclose(lse, logsumexp(logp, axis=1), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(stats[0], start[0] + rw.sum(axis=0), rtol=1e-12)
    s1 = start[1] + np.einsum("ik,ika->ka", rw, diff)
    s2 = start[2] + np.einsum("ik,ika,ikb->kab", rw, diff, diff)
    np.testing.assert_allclose(stats[1], s1, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(stats[2], s2, rtol=1e-12, atol=1e-11)


@needs_kernels
@pytest.mark.parametrize("d", [13, 16, 32, 41])
def test_triangular_statistics_of_components_far_apart(d, rng):
    """Above d = 12 a component with responsibilities in few rows of a super-block sums
    those rows alone (its pairs, flushed when full and at the chunk's end), one with many
    sums them all: the sums follow numpy's either way.  Components 0 and 1 lie far from
    everything (their rows' other responsibilities underflow), 2 and 3 overlap; the first
    rows all come from component 0, so that it takes both ways; zero weights as well."""
    from gaussmix import _kernels

    k, m = 4, 1500
    inv_scale = 2.0 ** rng.integers(-2, 1, size=d).astype(float)
    mu = rng.normal(size=(k, d))
    mu[0] += 40.0
    mu[1] -= 40.0
    labels = np.concatenate([np.zeros(200, int), rng.integers(0, k, size=m - 200)])
    x = (mu[labels] + rng.normal(size=(m, d))) / inv_scale
    upper = np.triu(rng.normal(size=(k, d, d)) * 0.1) + np.eye(d)
    base = rng.normal(size=k)
    sw = rng.uniform(0.0, 2.0, size=m) * (rng.random(m) > 0.1)
    diff = x[:, None, :] * inv_scale - mu
    logp = base - 0.5 * (np.einsum("ika,kab->ikb", diff, upper) ** 2).sum(axis=2)
    resp = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
    assert (resp[labels < 2] > 2.0**-80).sum(axis=1).max() == 1  # the far rows are hard
    stats = [np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))]
    sums = dict(zip(["nk", "s1", "s2"], stats, strict=True), sample_weight=sw)
    assert _kernels.mixture_chunk(x, inv_scale, mu, upper, base, np.empty(m), **sums)
    rw = resp * sw[:, None]
    np.testing.assert_allclose(stats[0], rw.sum(axis=0), rtol=1e-12)
    s1 = np.einsum("ik,ika->ka", rw, diff)
    s2 = np.einsum("ik,ika,ikb->kab", rw, diff, diff)
    np.testing.assert_allclose(stats[1], s1, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(stats[2], s2, rtol=1e-12, atol=1e-10)


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [3, 4, 7, 8, 9, 16, 21])
def test_rows_transposed_by_tiles(d, dtype, rng):
    """Full blocks of rows with unit column stride are transposed 4 x 4 or 8 x 8 in
    registers (the last d % 4 or d % 8 columns one by one), float64 or float32, with a row
    stride longer than the row (a column slice), and each column scaled by its own power of
    two; every row's log-density by the formula."""
    from gaussmix import _kernels

    m, k = 53, 3
    wide = (rng.normal(size=(m, d + 3)) * 3.0).astype(dtype)
    x = wide[:, 1 : d + 1]  # rows d + 3 items apart, columns adjacent
    mu, factors, base = (
        rng.normal(size=(k, d)),
        rng.uniform(0.5, 2.0, size=(k, d)),
        rng.normal(size=k),
    )
    inv_scale = 2.0 ** rng.integers(-4, 5, size=d).astype(float)
    y = x.astype(np.float64) * inv_scale
    logp = base - 0.5 * (((y[:, None, :] - mu) * factors) ** 2).sum(axis=2)
    lse = np.empty(m)
    assert _kernels.mixture_chunk(x, inv_scale, mu, factors, base, lse)
    np.testing.assert_allclose(lse, logsumexp(logp, axis=1), rtol=1e-13, atol=1e-13)


@needs_kernels
@pytest.mark.parametrize("spread", [1.0, 1e5])
def test_tied_rows_are_transformed_once_where_accurate(spread, rng):
    """tied: one product per row where the means' Mahalanobis norms are moderate (as for the
    expansion), per-component differences otherwise; both match scipy."""
    means = np.array([[0.0, 0.0, 0.0], [3.0, -1.0, 2.0], [-2.0, 2.0, 1.0]]) * spread
    cov = np.array([[1.0, 0.3, 0.0], [0.3, 0.8, 0.2], [0.0, 0.2, 0.5]]) * 1e-2
    X = np.vstack([rng.multivariate_normal(mu, cov, size=60) for mu in means])
    dense = np.stack([cov] * 3)
    weights = np.array([0.2, 0.5, 0.3])
    family, frame, p = model("tied", weights, means, dense)
    prep = Prepared(gaussian_terms(p, family), frame, "auto", fused=True)
    assert (prep.fused_transform is not None) == (spread == 1.0)
    res = run(X, family, frame, p)
    logp = reference_log_densities(X, weights, means, dense)
    lse = logsumexp(logp, axis=1)
    np.testing.assert_allclose(res.log_density, lse, rtol=0, atol=1e-9 * np.abs(lse).max())
    np.testing.assert_array_equal(res.labels, logp.argmax(axis=1))


@needs_kernels
def test_kernel_rejects_mismatched_arguments():
    from gaussmix import _kernels

    x, mu, u, base, lse = (
        np.zeros((4, 2)),
        np.zeros((3, 2)),
        np.ones((3, 2)),
        np.zeros(3),
        np.empty(4),
    )
    tri, shift, transform, one = np.ones((3, 2, 2)), np.zeros(2), np.eye(2), np.ones(2)
    moved = {"shift": shift, "transform": transform}
    stats = {"nk": np.zeros(3), "s1": np.zeros((3, 2)), "s2": np.zeros((3, 2))}
    assert _kernels.mixture_chunk(x, one, mu, u, base, lse)
    assert _kernels.mixture_chunk(x, one, mu, tri, base, lse)
    assert _kernels.mixture_chunk(x, one, mu, u, base, lse, **moved)
    assert _kernels.mixture_chunk(x, one, mu, u, base, lse, **stats, sample_weight=np.ones(4))
    bad = [
        ((mu, u[:2], base, lse), {}),
        ((mu, np.ones((3, 2, 1)), base, lse), {}),
        ((mu, tri[None], base, lse), {}),  # 4-D factors
        ((mu, u, base, None, np.empty((4, 3))), {}),  # responsibilities need lse
        ((mu, u, base, lse), {"shift": shift}),  # shift without transform
        ((mu, tri, base, lse), moved),  # a transform with diagonal factors only
        ((mu, u, base, lse), {"shift": shift[:1], "transform": transform}),
        ((mu, u, base, lse), {"nk": stats["nk"], "s1": stats["s1"]}),  # s2 missing
        ((mu, u, base, None), stats),  # statistics need lse
        ((mu, tri, base, lse), stats),  # and diagonal factors
        ((mu, u, base, lse), {**stats, **moved}),  # and no transform
        ((mu, u, base, lse), {**stats, "s2": np.zeros((2, 2))}),
        ((mu, u, base, lse), {"sample_weight": np.ones(4)}),  # weights: for statistics
        ((mu, u, base, lse), {**stats, "sample_weight": np.ones(3)}),
        ((mu, tri, base, lse), {**stats, "s2": np.zeros(3)}),  # s2 (k,): diagonal factors
        ((mu, u, base, lse), {**stats, "s2": np.zeros(2)}),
    ]
    for args, kwargs in bad:
        with pytest.raises(ValueError, match="shapes do not match"):
            _kernels.mixture_chunk(x, one, *args, **kwargs)
    with pytest.raises(ValueError, match="shapes do not match"):  # a scale per feature
        _kernels.mixture_chunk(x, np.ones(3), mu, u, base, lse)
    with pytest.raises(ValueError, match="inv_scale: expected a 1-D array"):
        _kernels.mixture_chunk(x, np.ones((1, 2)), mu, u, base, lse)
    mean_square = {**stats, "s2": np.zeros(3)}  # the mean over features: spherical factors
    assert _kernels.mixture_chunk(x, one, mu, u, base, lse, **mean_square)
    with pytest.raises(ValueError, match="needs spherical factors"):
        _kernels.mixture_chunk(x, one, mu, np.array([[1.0, 2.0]] * 3), base, lse, **mean_square)
    with pytest.raises(ValueError, match="format"):
        _kernels.mixture_chunk(x.astype(np.int64), one, mu, u, base, lse)


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 7, 16, 33])
def test_centred_columns_are_numpys_to_the_bit(dtype, d, rng):
    """The extension's first feature rows of the numpy path, ``(x - centre) * inv_scale``
    transposed, equal numpy's bit for bit: float32 and float64 rows, rows taken with a
    stride, and an output that is the first rows of a larger buffer (as the features are);
    the buffer's other rows are left alone."""
    from gaussmix import _kernels

    m = 1_000 + d
    x = (rng.normal(size=(2 * m, d)) * 10.0 ** rng.uniform(-3, 3, size=d)).astype(dtype)
    centre = rng.normal(size=d)
    inv_scale = 2.0 ** rng.integers(-4, 5, size=d).astype(np.float64)
    for rows in (x[:m], x[::2]):  # contiguous, strided
        buf = np.full((d + 3, m), 7.0)
        _kernels.centred_columns(rows, centre, inv_scale, buf[:d])
        ref = np.empty((d, m))
        np.subtract(rows.T, centre[:, None], out=ref, casting="unsafe")
        ref *= inv_scale[:, None]
        np.testing.assert_array_equal(buf[:d], ref)
        assert (buf[d:] == 7.0).all()
    with pytest.raises(ValueError, match="centred_columns"):
        _kernels.centred_columns(x[:m], centre[:-1], inv_scale, np.empty((d, m)))
