"""Data that do not flatter the engine: float32 fits agree with float64 ones, and what a
pass learns about float32 statistics carries to the next pass of the same run.

The data are those of ``benchmarks/bench_paths.py``, smaller: heavily overlapping components
(most rows have responsibilities under several components between e^-87 and e^-700, where
float32 products would be subnormal) and components of very different sizes and scales,
fitted from starts at random rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gaussmix import GaussianMixture, SingularCovarianceWarning
from gaussmix.covariance import get_family
from gaussmix.em import ConvergenceMonitor, EMState, run_em
from gaussmix.engine import Frame, compiled_kernels, gaussian_terms, mixture_pass
from gaussmix.params import Params
from gaussmix.sources import ArraySource
from gaussmix.strategy import MaximumLikelihood

needs_kernels = pytest.mark.skipif(compiled_kernels() is None, reason="no compiled kernel")


def overlapping(rng, n, d, k):
    """Component c is N(0.7 c, I) in every feature (bench_paths.py's 'overlap')."""
    labels = rng.integers(k, size=n)
    return rng.standard_normal((n, d)) + 0.7 * labels[:, None]


def unequal(rng, n, d, k):
    """Sizes 2^-c, axis scales log-uniform in [0.01, 100] (bench_paths.py's 'unequal')."""
    w = 0.5 ** np.arange(k)
    labels = rng.choice(k, size=n, p=w / w.sum())
    X = np.empty((n, d))
    for j in range(k):
        rows = labels == j
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        scales = np.exp(rng.uniform(np.log(0.01), np.log(100.0), size=d))
        X[rows] = rng.normal(0, 10, size=d) + rng.standard_normal((rows.sum(), d)) * scales @ q
    return X


def random_start(X, k, rng):
    means = X[np.sort(rng.choice(len(X), k, replace=False))]
    cov = np.cov(X, rowvar=False)
    return {"weights_init": np.full(k, 1.0 / k), "means_init": means,
            "precisions_init": np.stack([np.linalg.inv(cov)] * k)}  # fmt: skip


@needs_kernels
@pytest.mark.parametrize("data", [overlapping, unequal])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_float32_fits_agree_with_float64_on_unflattering_data(data, covariance_type, rng):
    n, d, k = 30_000, 16, 6
    X = data(rng, n, d, k)
    start = random_start(X, k, rng)
    dense = np.linalg.inv(start["precisions_init"][0])
    start["precisions_init"] = {
        "full": start["precisions_init"],
        "tied": np.linalg.inv(dense),
        "diag": np.stack([1.0 / np.diag(dense)] * k),
        "spherical": np.full(k, 1.0 / np.diag(dense).mean()),
    }[covariance_type]
    fits = {}
    for dtype in (np.float64, np.float32):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # starts at random rows can leave a component with few rows: not what is tested
            warnings.simplefilter("ignore", SingularCovarianceWarning)
            fits[dtype] = GaussianMixture(
                k, covariance_type=covariance_type, max_iter=15, tol=0, **start
            ).fit(X.astype(dtype))
    h64, h32 = (np.asarray(fits[t].history_) for t in (np.float64, np.float32))
    # float32 input: the log-likelihood within 1e-5 relative of float64's at every iteration
    np.testing.assert_allclose(h32, h64, rtol=1e-5)
    np.testing.assert_allclose(fits[np.float32].weights_, fits[np.float64].weights_, atol=1e-4)


@needs_kernels
def test_tiny_responsibilities_left_out_of_float32_sums_change_nothing_measurable(rng):
    """Overlapping components spaced so that most responsibilities lie between e^-87 and
    e^-700: the whitened float32 statistics (which leave out those below 2^-80) match the
    float64 ones within float32 rounding."""
    n, d, k = 40_000, 8, 4
    labels = rng.integers(k, size=n)
    X = (rng.standard_normal((n, d)) + 3.0 * labels[:, None]).astype(np.float32)
    family = get_family("full")
    means = 3.0 * np.arange(k)[:, None] * np.ones(d)
    cov = np.stack([np.eye(d)] * k)
    frame = Frame.from_means(np.full(k, 1 / k), means, 1.0)
    s = frame.scale[0]
    chol, _ = family.precisions_cholesky(cov / s**2)
    params = Params(np.full(k, 1 / k), (means - frame.centre) / s, cov / s**2, chol)
    terms = gaussian_terms(params, family)
    resp = mixture_pass(X, terms, frame, stats=False, resp=True).resp
    assert resp is not None
    log_r = np.log(np.maximum(resp.astype(np.float64), 1e-320))
    between = ((log_r < -87) & (log_r > -700)).mean()
    assert between > 0.3  # a third of all responsibilities in float32's subnormal range
    fast = mixture_pass(X, terms, frame)
    plain = mixture_pass(X, terms, frame, float32_statistics=False)
    assert fast.float32_statistics and not plain.float32_statistics
    assert fast.stats is not None and plain.stats is not None
    np.testing.assert_allclose(fast.stats.N, plain.stats.N, rtol=1e-12)
    np.testing.assert_allclose(fast.stats.means(), plain.stats.means(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fast.stats.scatter(), plain.stats.scatter(), rtol=0, atol=1e-5)


def collinear_case(rng):
    """float32 rows of two components 50 apart in 16 features, component 0's rows (``first``)
    nearly collinear, with the model that has both at unit covariance: component 0's
    whitened float32 sums cannot be vouched for."""
    n, d, k = 8_000, 16, 2
    weights, means = np.array([0.5, 0.5]), np.zeros((k, d))
    means[1] += 50.0
    X = rng.normal(size=(n, d)) + means[rng.integers(0, k, size=n)]
    first = X[:, 0] < 25.0
    t = rng.normal(size=int(first.sum()))
    X[first] = 0.0
    X[first, 0], X[first, 1] = t, t + 1e-5 * rng.normal(size=t.size)  # nearly collinear
    family = get_family("full")
    frame = Frame.from_means(weights, means, 1.0)
    s = frame.scale[0]
    cov = np.stack([np.eye(d)] * k) / s**2
    chol, _ = family.precisions_cholesky(cov)
    params = Params(weights, (means - frame.centre) / s, cov, chol)
    return X.astype(np.float32), first, family, frame, params


def counted_passes(monkeypatch):
    """Count the engine's passes, redone ones included: (the float32_statistics each was
    given, the real pass, the counting one)."""
    from gaussmix.engine import passes

    calls: list[object] = []
    inner = passes.mixture_pass

    def counting(*args, **kw):
        calls.append(kw.get("float32_statistics", True))
        return inner(*args, **kw)

    monkeypatch.setattr(passes, "mixture_pass", counting)
    return calls, inner, counting


@needs_kernels
def test_a_redone_pass_advises_the_run_and_is_not_redone_again(rng, monkeypatch):
    """A pass whose float32 sums fail the total's check is redone with the failing
    components in float64 and says so in ``next_options``; the EM driver hands that to the
    next pass, which then needs no redo.  The probe is made to vouch for every component
    (as a chunk whose rows happen to be well spread would), so that only the total can
    refuse component 0."""
    from gaussmix.engine import passes

    X, _, family, frame, params = collinear_case(rng)
    calls, _, counting = counted_passes(monkeypatch)
    monkeypatch.setattr("gaussmix.sources.mixture_pass", counting)
    monkeypatch.setattr(passes, "probe_verdict", lambda sums, sl, d: np.ones(2, dtype=bool))
    state = EMState(params, ConvergenceMonitor(tol=0.0, max_iter=1))
    strategy = MaximumLikelihood(family, 1e-6 / frame.scale**2)
    run_em(ArraySource(X), state, strategy, frame, chunk_size=2_000)
    assert calls[0] is True and isinstance(calls[1], np.ndarray)  # probed, then redone
    # component 0's rows are nearly collinear: its sums stay in float64 for the run
    assert state.pass_options["float32_statistics"].tolist() == [False, True]
    calls.clear()
    state.monitor.max_iter = 3
    run_em(ArraySource(X), state, strategy, frame, chunk_size=2_000)
    assert len(calls) == 2 and all(isinstance(c, np.ndarray) for c in calls)  # no redo


@needs_kernels
def test_a_component_the_probe_barely_sees_is_summed_in_float64(rng, monkeypatch):
    """A component with too few rows in the probe's chunk to be checked is not whitened,
    whatever its mixing weight promises (rows sorted so that component 0's come after the
    probe): the pass is not redone, and its statistics equal float64's."""
    X, first, family, frame, params = collinear_case(rng)
    X = np.concatenate([X[~first], X[first]])
    terms = gaussian_terms(params, family)
    calls, inner, counting = counted_passes(monkeypatch)
    chunk = int((~first).sum())
    result = counting(X, terms, frame, chunk_size=chunk)
    assert len(calls) == 1  # not redone
    np.testing.assert_array_equal(result.whitened_components, [False, True])
    plain = inner(X, terms, frame, float32_statistics=False, chunk_size=chunk)
    assert result.stats is not None and plain.stats is not None
    np.testing.assert_array_equal(result.stats.S2[0], plain.stats.S2[0])


@needs_kernels
def test_a_learnt_mask_still_probes_and_learns_only_total_failures(rng, monkeypatch):
    """A mask handed on by the run limits the components whitened, and the pass's first
    chunk still probes among them: a component whose rows there are nearly collinear is
    summed in float64 without redoing the pass, and the run is not told to keep it so (the
    probe is cheap; the component may pass once EM has moved it)."""
    X, _, family, frame, params = collinear_case(rng)  # both components in the probe
    terms = gaussian_terms(params, family)
    calls, inner, counting = counted_passes(monkeypatch)
    mask = np.array([True, True])
    result = counting(X, terms, frame, float32_statistics=mask, chunk_size=2_000)
    assert len(calls) == 1  # not redone
    np.testing.assert_array_equal(result.whitened_components, [False, True])
    np.testing.assert_array_equal(result.next_options["float32_statistics"], mask)
    plain = inner(X, terms, frame, float32_statistics=False, chunk_size=2_000)
    assert result.stats is not None and plain.stats is not None
    np.testing.assert_array_equal(result.stats.S2[0], plain.stats.S2[0])
