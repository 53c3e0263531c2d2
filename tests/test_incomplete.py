"""Missing values handled exactly: marginal densities, conditional expectations, EM.

References: scipy's Gaussian densities of each row's observed sub-vector, and a plain numpy
EM step for incomplete data written from the formulas (Ghahramani & Jordan 1994) below, row
by row: the E-step from marginal densities, the M-step from the conditional expectations of
the missing coordinates plus their conditional covariance.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from gaussmix import COVARIANCE_TYPES, GaussianMixture
from gaussmix.covariance import get_family
from gaussmix.engine import Frame, gaussian_terms, numpy_kernels
from gaussmix.incomplete.source import IncompleteSource
from gaussmix.params import Params
from gaussmix.strategy import params_from_stats

from ._data import make_blobs
from .test_fast_paths import family_covariances


def with_holes(rng, X, rate, *, empty_rows=0):
    """``X`` with values missing completely at random (and some rows missing entirely)."""
    Xm = X.copy()
    Xm[rng.random(X.shape) < rate] = np.nan
    if empty_rows:
        Xm[rng.choice(len(X), empty_rows, replace=False)] = np.nan
    return Xm


def dense_model(rng, d, k):
    weights = rng.dirichlet(np.ones(k) * 3)
    means = rng.normal(scale=3.0, size=(k, d))
    a = rng.normal(size=(k, d, d)) * 0.6
    cov = np.einsum("kab,kcb->kac", a, a) + 0.4 * np.eye(d)
    return weights, means, cov


def model_of(cov_type, weights, means, cov):
    family = get_family(cov_type)
    chol, bad = family.precisions_cholesky(cov)
    assert not bad.any()
    gm = GaussianMixture(len(weights), covariance_type=cov_type)
    from gaussmix.model_state import ModelState

    ModelState(family.name, weights, means, cov, chol).apply(gm)
    return gm


def marginal_log_density(x, weights, means, dense):
    """log sum_j w_j N(x_o; mu_jo, S_j,oo) by scipy (0 for a row with nothing observed)."""
    o = ~np.isnan(x)
    if not o.any():
        return 0.0
    parts = [
        np.log(w) + sps.multivariate_normal(m[o], S[np.ix_(o, o)]).logpdf(x[o])
        for w, m, S in zip(weights, means, dense, strict=True)
    ]
    return float(logsumexp(parts))


@pytest.mark.parametrize("kernels", ["fused", "numpy"])
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_scores_are_the_marginal_densities_of_the_observed_values(cov_type, kernels, rng):
    d, k = 5, 3
    weights, means, dense = dense_model(rng, d, k)
    cov = family_covariances(cov_type, dense)
    dense = get_family(cov_type).dense(cov, k, d)
    gm = model_of(cov_type, weights, means, cov)
    X = with_holes(rng, rng.normal(scale=3.0, size=(400, d)), 0.35, empty_rows=3)
    context = numpy_kernels() if kernels == "numpy" else nullcontext()
    with context:
        logd = gm.score_samples(X)
        proba = gm.predict_proba(X)
        labels = gm.predict(X)
    want = np.array([marginal_log_density(x, weights, means, dense) for x in X])
    np.testing.assert_allclose(logd, want, rtol=1e-10, atol=1e-10)
    empty = np.isnan(X).all(axis=1)
    np.testing.assert_allclose(proba[empty], np.broadcast_to(weights, (empty.sum(), k)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    assert gm.score(X) == pytest.approx(want.mean(), rel=1e-10)


def reference_em_step(X, weights, means, dense):
    """One EM step for incomplete rows, row by row: returns the observed-data mean
    log-likelihood and the new weights, means and dense covariances (full model)."""
    n, d = X.shape
    k = len(weights)
    rows = [~np.isnan(x) for x in X]
    keep = [o.any() for o in rows]
    logp = np.full((n, k), -np.inf)
    for i, (x, o) in enumerate(zip(X, rows, strict=True)):
        if keep[i]:
            for j in range(k):
                logp[i, j] = np.log(weights[j]) + sps.multivariate_normal(
                    means[j][o], dense[j][np.ix_(o, o)]
                ).logpdf(x[o])
    used = np.array(keep)
    lse = logsumexp(logp[used], axis=1)
    r = np.exp(logp[used] - lse[:, None])
    Xu = X[used]
    nk = r.sum(axis=0)
    expect = np.zeros((k, len(Xu), d))  # E[x | x_o, j]
    corr = np.zeros((k, len(Xu), d, d))  # conditional covariance of the missing block
    for i, x in enumerate(Xu):
        o = ~np.isnan(x)
        m = ~o
        for j in range(k):
            S = dense[j]
            B = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
            xh = x.copy()
            xh[m] = means[j][m] + B @ (x[o] - means[j][o])
            expect[j, i] = xh
            corr[j, i][np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
    new_means = np.einsum("nk,knd->kd", r, expect) / nk[:, None]
    new_cov = np.empty((k, d, d))
    for j in range(k):
        diff = expect[j] - new_means[j]
        new_cov[j] = (np.einsum("n,na,nb->ab", r[:, j], diff, diff)
                      + np.einsum("n,nab->ab", r[:, j], corr[j])) / nk[j]  # fmt: skip
    return lse.sum() / used.sum(), nk / nk.sum(), new_means, new_cov


@pytest.mark.parametrize("kernels", ["fused", "numpy"])
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_statistics_are_the_expected_complete_data_statistics(cov_type, kernels, rng):
    """One pass of the incomplete-rows source followed by the M-step equals one EM step for
    incomplete data written out row by row (then constrained to the family)."""
    d, k, n = 4, 3, 300
    weights, means, dense = dense_model(rng, d, k)
    cov = family_covariances(cov_type, dense)
    family = get_family(cov_type)
    dense = family.dense(cov, k, d)
    X = with_holes(rng, means[rng.integers(k, size=n)] + rng.normal(size=(n, d)), 0.3,
                   empty_rows=2)  # fmt: skip
    frame = Frame.from_data(X, missing="observed")
    s = frame.scale[0]
    chol, _ = family.precisions_cholesky(cov / s**2)
    params = Params(weights, (means - frame.centre) / s, cov / s**2, chol)
    context = numpy_kernels() if kernels == "numpy" else nullcontext()
    with context:
        result = IncompleteSource(X).mixture_pass(gaussian_terms(params, family), frame)
    assert result.stats is not None
    new, _ = params_from_stats(result.stats, family, 0.0)
    ll, w_ref, m_ref, c_ref = reference_em_step(X, weights, means, dense)
    used = int((~np.isnan(X)).any(axis=1).sum())
    assert result.stats.log_likelihood / used == pytest.approx(ll, rel=1e-10)
    np.testing.assert_allclose(new.weights, w_ref, rtol=1e-10)
    np.testing.assert_allclose(frame.centre + s * new.means, m_ref, rtol=1e-9, atol=1e-9)
    nk = w_ref * used
    want = {
        "full": c_ref,
        "tied": np.tensordot(nk / nk.sum(), c_ref, axes=1),
        "diag": np.diagonal(c_ref, axis1=1, axis2=2),
        "spherical": np.diagonal(c_ref, axis1=1, axis2=2).mean(axis=1),
    }[cov_type]
    np.testing.assert_allclose(new.covariances * s**2, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_em_with_missing_values_never_decreases_and_recovers_the_model(cov_type, rng):
    X, _, _ = make_blobs(rng, n=6000, d=4, k=3, spread=6.0)
    Xm = with_holes(rng, X, 0.3, empty_rows=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, covariance_type=cov_type, tol=1e-8, max_iter=200,
                             random_state=0).fit(Xm)  # fmt: skip
        complete = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X)
    h = np.asarray(gm.history_)
    assert np.all(np.diff(h) >= -1e-12 * np.abs(h[1:]))
    assert gm.n_empty_rows_ == int(np.isnan(Xm).all(axis=1).sum()) >= 10
    order = [int(np.argmin(((complete.means_ - m) ** 2).sum(axis=1))) for m in gm.means_]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(gm.means_, complete.means_[order], atol=0.15)
    np.testing.assert_allclose(gm.weights_, complete.weights_[order], atol=0.02)


@pytest.mark.parametrize("init_params", ["k-means++", "kmeans", "random", "random_from_data"])
def test_every_start_works_with_incomplete_rows(init_params, rng):
    X, _, _ = make_blobs(rng, n=900, d=3, k=3)
    Xm = with_holes(rng, X, 0.25, empty_rows=5)
    gm = GaussianMixture(3, init_params=init_params, n_init=2, random_state=0).fit(Xm)
    assert np.isfinite(gm.means_).all() and np.isfinite(gm.covariances_).all()
    assert np.isfinite(gm.score(Xm))


def test_results_do_not_depend_on_chunks_threads_or_kernels(rng):
    X, _, _ = make_blobs(rng, n=2000, d=5, k=3)
    Xm = with_holes(rng, X, 0.3, empty_rows=4)
    start = {"means_init": X[[0, 700, 1400]], "max_iter": 8, "tol": 0.0}
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits.append(GaussianMixture(3, **start).fit(Xm))
        fits.append(GaussianMixture(3, chunk_size=97, **start).fit(Xm))
        with numpy_kernels():
            fits.append(GaussianMixture(3, **start).fit(Xm))
    for other in fits[1:]:
        np.testing.assert_allclose(other.history_, fits[0].history_, rtol=1e-12)
        np.testing.assert_allclose(other.covariances_, fits[0].covariances_, rtol=1e-9)


def test_complete_data_takes_the_complete_data_path_bit_for_bit(rng):
    X, _, _ = make_blobs(rng, n=1000, d=3, k=3)
    a = GaussianMixture(3, random_state=0).fit(X)
    b = GaussianMixture(3, random_state=0, missing="error").fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.covariances_, b.covariances_)
    assert a.n_empty_rows_ == 0


def test_weights_equal_repeated_incomplete_rows(rng):
    X, _, _ = make_blobs(rng, n=300, d=3, k=2)
    Xm = with_holes(rng, X, 0.3)
    w = rng.integers(1, 4, size=300)
    start = {"means_init": X[[0, 150]], "max_iter": 6, "tol": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = GaussianMixture(2, **start).fit(Xm, sample_weight=w.astype(float))
        repeated = GaussianMixture(2, **start).fit(np.repeat(Xm, w, axis=0))
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-9)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-8)


def test_float32_rows_with_missing_values(rng):
    X, _, _ = make_blobs(rng, n=1500, d=4, k=3)
    Xm = with_holes(rng, X, 0.2)
    start = {"means_init": X[[0, 500, 1000]], "max_iter": 10, "tol": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f64 = GaussianMixture(3, **start).fit(Xm)
        f32 = GaussianMixture(3, **start).fit(Xm.astype(np.float32))
    assert f32.means_.dtype == np.float32
    np.testing.assert_allclose(f32.history_, f64.history_, rtol=1e-5)
    assert f32.predict_proba(Xm.astype(np.float32)).dtype == np.float32


def test_missing_error_and_infinity_are_refused(rng):
    X = rng.normal(size=(50, 3))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(2, missing="error").fit(X)
    X[4, 2] = np.inf
    with pytest.raises(ValueError, match=r"inf.*not a missing value"):
        GaussianMixture(2).fit(X)
    model = GaussianMixture(1, random_state=0).fit(np.nan_to_num(X, posinf=0.0))
    with pytest.raises(ValueError, match="inf"):
        model.predict(X)
    with pytest.raises(ValueError, match="one of 'marginalize', 'error'"):
        GaussianMixture(1, missing="drop").fit(np.nan_to_num(X, posinf=0.0))


def test_rows_with_nothing_observed_alone(rng):
    # a batch of only empty rows (every column unobserved): the mixing weights as
    # probabilities, a log-density of 0 (the integral over every coordinate), no warning
    X = rng.normal(size=(200, 3))
    gm = GaussianMixture(2, random_state=0).fit(X)
    empty = np.full((2, 3), np.nan)
    np.testing.assert_allclose(gm.predict_proba(empty), np.vstack([gm.weights_] * 2))
    np.testing.assert_array_equal(gm.score_samples(empty), [0.0, 0.0])
    assert (gm.predict(empty) == np.argmax(gm.weights_)).all()


# ------------------------------------------------------------------ the pass over patterns


def pattern_problem(rng, d, k, n, rate, *, diagonal=False, dtype=np.float64):
    """Grouped rows with values missing at random, a model and its pass's operands."""
    from gaussmix.incomplete.patterns import GroupedRows, Patterns

    weights, means, dense = dense_model(rng, d, k)
    X = with_holes(rng, means[rng.integers(k, size=n)] + rng.normal(size=(n, d)), rate)
    X = X[~np.isnan(X).all(axis=1)].astype(dtype)
    patterns = Patterns.of(X)
    frame = Frame.from_data(X.astype(np.float64), missing="observed")
    cov = dense / frame.scale**2
    if diagonal:
        cov = np.ascontiguousarray(np.diagonal(cov, axis1=1, axis2=2))
    return {
        "rows": GroupedRows.of(X, patterns),
        "means": (means - frame.centre) / frame.scale,
        "covariances": cov,
        "log_weights": np.log(weights),
        "frame": frame,
    }


def run_pattern_pass(problem, n_threads=None, **options):
    from gaussmix.incomplete.passes import pattern_pass

    n, k = problem["rows"].n_rows, problem["means"].shape[0]
    width = k + (options.get("background") is not None)  # a background's column last
    out = {"lse": np.empty(n), "resp": np.empty((n, width)), "labels": np.empty(n, dtype=np.intp)}
    sums = pattern_pass(
        problem["rows"], problem["means"], problem["covariances"], problem["log_weights"],
        problem["frame"], n_threads=n_threads, **out, **options,
    )  # fmt: skip
    return sums, out


def assert_same_pass(got, want, rtol=1e-10):
    (s, o), (t, p) = got, want
    for name in ("nk", "s1", "s2"):
        scale = np.abs(getattr(t, name)).max()
        np.testing.assert_allclose(getattr(s, name), getattr(t, name), rtol=rtol, atol=rtol * scale)
    assert s.log_likelihood == pytest.approx(t.log_likelihood, rel=rtol)
    assert s.weight == t.weight
    np.testing.assert_allclose(o["lse"], p["lse"], rtol=rtol)
    np.testing.assert_allclose(o["resp"], p["resp"], rtol=rtol, atol=1e-12)
    np.testing.assert_array_equal(o["labels"], p["labels"])


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize(("d", "k", "rate"), [(5, 3, 0.3), (15, 2, 0.1)])
def test_the_kernel_and_its_numpy_twin_agree_over_patterns(rng, d, k, rate, diagonal):
    """The compiled marginal_chunk (operators, kernel and lift in C; d_o above 12 takes the
    kernel's super-block) against the numpy twin, with weights, hard and given
    responsibilities, and float32 rows."""
    pytest.importorskip("gaussmix._kernels")
    problem = pattern_problem(rng, d, k, 3000, rate, diagonal=diagonal)
    n = problem["rows"].n_rows
    w = rng.uniform(0.0, 2.0, size=n)
    given = rng.dirichlet(np.ones(k), size=n)
    for options in ({}, {"sample_weight": w}, {"hard": True}, {"given": given}):
        got = run_pattern_pass(problem, **options)
        with numpy_kernels():
            want = run_pattern_pass(problem, **options)
        assert_same_pass(got, want)
    f32 = pattern_problem(np.random.default_rng(1), d, k, 2000, rate, dtype=np.float32)
    got = run_pattern_pass(f32)
    with numpy_kernels():
        want = run_pattern_pass(f32)
    assert_same_pass(got, want)


def test_rows_the_kernel_hands_back_are_redone_by_numpy(rng):
    """A row whose squared distances overflow (log-densities below float64's range) makes
    the kernel hand its pattern's rows of the task back: the pass still equals the numpy
    twin's, and that row takes the complete-data convention (tests/test_engine.py): a
    log-density of -inf, one-hot at its nearest component, no statistics."""
    pytest.importorskip("gaussmix._kernels")
    problem = pattern_problem(rng, 4, 3, 2000, 0.3)
    rows = problem["rows"]
    far = int(rows.bounds[2])  # pattern 2's first row
    rows.values[rows.offsets[2]] = 1e200
    got = run_pattern_pass(problem)
    with numpy_kernels():
        want = run_pattern_pass(problem)
    assert_same_pass(got, want)
    lse, resp = got[1]["lse"], got[1]["resp"]
    assert lse[far] == -np.inf and got[0].log_likelihood == -np.inf
    np.testing.assert_allclose(np.sort(resp[far]), [0.0, 0.0, 1.0], atol=1e-300)  # the floor
    assert np.isfinite(np.delete(lse, far)).all()
    assert np.isfinite(got[0].s2).all()
    assert got[0].nk.sum() == pytest.approx(rows.n_rows - 1, rel=1e-12)  # all but that row


@pytest.mark.parametrize("diagonal", [False, True])
def test_a_background_column_over_patterns_in_the_kernel_and_its_twin(rng, diagonal):
    """A background column (a noise component's log-density over each row's observed
    coordinates, here per pattern, -inf for one) in marginal_chunk and the numpy twin: both
    agree, and against the pass without it it is one more term of each row's log-sum-exp,
    normalised with the components, label -1 where largest, and no statistics of its own
    (each component's share scaled by what the background leaves)."""
    pytest.importorskip("gaussmix._kernels")
    problem = pattern_problem(rng, 5, 3, 3000, 0.3, diagonal=diagonal)
    rows = problem["rows"]
    n, k = rows.n_rows, 3
    per_pattern = rng.uniform(-9.0, -3.0, size=rows.observed.shape[0])
    per_pattern[1] = -np.inf  # a pattern the background cannot take
    background = np.repeat(per_pattern, np.diff(rows.bounds))
    w = rng.uniform(0.0, 2.0, size=n)
    for options in ({}, {"sample_weight": w}):
        got = run_pattern_pass(problem, background=background, **options)
        with numpy_kernels():
            want = run_pattern_pass(problem, background=background, **options)
        assert_same_pass(got, want)
        (s, o), (t, p) = got, run_pattern_pass(problem, **options)
        np.testing.assert_allclose(o["lse"], np.logaddexp(p["lse"], background), rtol=1e-12)
        share = np.exp(background - o["lse"])
        np.testing.assert_allclose(o["resp"][:, k], share, rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(o["resp"][:, :k], p["resp"] * (1 - share)[:, None],
                                   rtol=1e-10, atol=1e-12)  # fmt: skip
        best = np.argmax(o["resp"], axis=1)
        np.testing.assert_array_equal(o["labels"], np.where(best == k, -1, best))
        assert (o["labels"] == -1).any() and (
            o["labels"][rows.bounds[1] : rows.bounds[2]] >= 0
        ).all()
        weights = np.ones(n) if "sample_weight" not in options else w
        np.testing.assert_allclose(s.nk, weights @ o["resp"][:, :k], rtol=1e-10)
        assert s.weight == t.weight
        assert s.log_likelihood == pytest.approx(float(weights @ o["lse"]), rel=1e-12)
    with pytest.raises(ValueError, match="no background column"):
        run_pattern_pass(problem, background=background, hard=True)


def test_a_background_takes_rows_the_kernel_hands_back(rng):
    """A row whose components' log-densities all underflow goes to a finite background
    (responsibility 1, its log-density the background's, no statistics), in the kernel's
    pass as in the numpy twin's."""
    pytest.importorskip("gaussmix._kernels")
    problem = pattern_problem(rng, 4, 3, 2000, 0.3)
    rows = problem["rows"]
    far = int(rows.bounds[2])
    rows.values[rows.offsets[2]] = 1e200
    background = np.full(rows.n_rows, -6.0)
    got = run_pattern_pass(problem, background=background)
    with numpy_kernels():
        want = run_pattern_pass(problem, background=background)
    assert_same_pass(got, want)
    (s, o) = got
    assert o["lse"][far] == -6.0 and o["labels"][far] == -1
    np.testing.assert_allclose(o["resp"][far], [0.0, 0.0, 0.0, 1.0], atol=1e-300)  # the floor
    assert np.isfinite(s.s2).all() and np.isfinite(s.log_likelihood)
    np.testing.assert_allclose(s.nk.sum(), o["resp"][:, :3].sum(), rtol=1e-12)


def test_passes_over_patterns_repeat_to_the_bit_whatever_the_threads(rng):
    problem = pattern_problem(rng, 6, 4, 40_000, 0.3)  # several tasks
    one, _ = run_pattern_pass(problem, n_threads=1)
    for n_threads in (2, 5):
        other, _ = run_pattern_pass(problem, n_threads=n_threads)
        for name in ("nk", "s1", "s2", "log_likelihood"):
            np.testing.assert_array_equal(getattr(other, name), getattr(one, name))


@pytest.mark.parametrize("d", [3, 20, 70])
def test_patterns_group_every_row_with_its_mask(rng, d):
    """Integer keys (radix-sorted up to 16 features, 64-bit up to 64) and byte keys above:
    each pattern's rows share its mask, each mask is one pattern, rows keep their order
    within it, and the grouped values are the observed values of those rows."""
    from gaussmix.incomplete.patterns import GroupedRows, Patterns

    X = rng.normal(size=(500, d))
    X[rng.random(X.shape) < (0.3 if d == 3 else 0.02)] = np.nan
    X[[7, 99]] = np.nan
    X[300:320] = np.where(np.arange(d) % 2, np.nan, 1.0)  # one pattern shared by 20 rows
    pat = Patterns.of(X)
    seen = ~np.isnan(X)
    assert {7, 99} <= set(pat.empty.tolist())
    np.testing.assert_array_equal(np.sort(pat.empty), np.flatnonzero(~seen.any(axis=1)))
    assert sorted(np.concatenate([pat.order, pat.empty]).tolist()) == list(range(500))
    masks = set()
    for p in range(pat.n_patterns):
        members = pat.order[pat.bounds[p] : pat.bounds[p + 1]]
        assert (np.diff(members) > 0).all()
        assert (seen[members] == pat.observed[p]).all()
        masks.add(pat.observed[p].tobytes())
    assert len(masks) == pat.n_patterns == len({r.tobytes() for r in seen[pat.order]})
    rows = GroupedRows.of(X, pat)
    for p in range(pat.n_patterns):
        a, b = int(pat.bounds[p]), int(pat.bounds[p + 1])
        want = X[pat.order[a:b]][:, pat.observed[p]]
        np.testing.assert_array_equal(rows.rows(p, a, b), want)


# ------------------------------------------------------------------ missing at random


def test_values_missing_at_random_bias_complete_cases_and_not_the_fit(rng):
    """MAR, not MCAR: the second feature is missing where the first is high within its
    cluster (a rule on observed values only).  Dropping incomplete rows shifts both means
    down; marginalising recovers the generating means (Little & Rubin: the likelihood of
    the observed values ignores a MAR mechanism)."""
    n = 8000
    means = np.array([[-4.0, 0.0], [4.0, 3.0]])
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    labels = rng.integers(2, size=n)
    X = means[labels] + rng.multivariate_normal(np.zeros(2), cov, size=n)
    hide = ((X[:, 0] > -3.5) & (X[:, 0] < 0.0)) | (X[:, 0] > 4.5)
    Xm = X.copy()
    Xm[hide, 1] = np.nan
    start = {"means_init": means + 0.5, "tol": 1e-8, "max_iter": 500}
    fit = GaussianMixture(2, **start).fit(Xm)
    complete_cases = GaussianMixture(2, **start).fit(Xm[~hide])
    error = np.abs(fit.means_ - means).max()
    bias = np.abs(complete_cases.means_ - means).max()
    assert error < 0.08  # a few standard errors (about 0.02 per mean)
    assert bias > 0.3 and bias > 5 * error
    np.testing.assert_allclose(fit.covariances_, np.stack([cov, cov]), atol=0.1)
