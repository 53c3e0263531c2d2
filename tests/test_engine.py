"""The chunked pass: log-densities, the two kernels, statistics and their merging."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import pytest
from scipy import stats as sps

from gaussmix import COVARIANCE_TYPES, SuffStats
from gaussmix.covariance import get_family
from gaussmix.engine import (
    Frame,
    gaussian_terms,
    mixture_pass,
    numpy_kernels,
    run_parallel,
)
from gaussmix.params import Params
from gaussmix.strategy import params_from_stats


def random_params(rng, cov, k, d, spread=2.0, far=0.0, var_scale=1.0):
    """Random valid parameters in the caller's units, plus dense covariances for scipy."""
    family = get_family(cov)
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(scale=spread, size=(k, d)) + far
    a = rng.normal(size=(k, d, d)) * 0.5
    # well-conditioned (cond < ~50): the tests are about formulas, not ill-conditioning
    dense_full = (np.einsum("kab,kcb->kac", a, a) + 0.5 * np.eye(d)) * var_scale
    by_type = {
        "full": dense_full,
        "tied": dense_full[0],
        "diag": np.diagonal(dense_full, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(dense_full, axis1=1, axis2=2).mean(axis=1),
    }
    covariances = by_type[cov]
    chol, bad = family.precisions_cholesky(covariances)
    assert not bad.any()
    return family, weights, means, covariances, chol


def to_internal(frame, weights, means, covariances, chol):
    """Parameters in a common frame's units (one scale, whatever the layout)."""
    assert not frame.per_feature
    s = frame.scale[0]
    return Params(weights, (means - frame.centre) / s, covariances / s**2, chol * s)


def scipy_logpdf(X, family, weights, means, covariances):
    k, d = means.shape
    dense = family.dense(covariances, k, d)
    comp = np.stack(
        [sps.multivariate_normal(means[j], dense[j]).logpdf(X).reshape(-1) for j in range(k)],
        axis=1,
    )
    return np.logaddexp.reduce(comp + np.log(weights), axis=1), comp


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
@pytest.mark.parametrize("kernel", ["expanded", "direct", "auto"])
@pytest.mark.parametrize(("k", "d"), [(3, 4), (1, 1), (2, 1), (1, 3)])
def test_log_density_matches_scipy(rng, cov, kernel, k, d):
    family, w, mu, c, chol = random_params(rng, cov, k, d)
    X = rng.normal(scale=3.0, size=(257, d)) + 1.0
    frame = Frame.from_data(X)
    res = mixture_pass(
        X, gaussian_terms(to_internal(frame, w, mu, c, chol), family), frame,
        log_density=True, resp=True, labels=True, kernel=kernel, chunk_size=50,
    )  # fmt: skip
    expected, comp = scipy_logpdf(X, family, w, mu, c)
    np.testing.assert_allclose(res.log_density, expected, rtol=1e-10, atol=1e-10)
    post = np.exp(comp + np.log(w) - expected[:, None])
    np.testing.assert_allclose(res.resp, post, atol=1e-10)
    np.testing.assert_array_equal(res.labels, (comp + np.log(w)).argmax(axis=1))
    np.testing.assert_allclose(res.log_likelihood, expected.sum(), rtol=1e-10)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_auto_kernel_exact_far_from_origin_tiny_variance(rng, cov):
    """Components 1e6 apart with variances 1e-6: the expansion would cancel catastrophically."""
    family, w, mu, c, chol = random_params(rng, cov, 2, 3, spread=1.0, var_scale=1e-6)
    mu = mu + np.array([[0.0], [1e6]])
    X = np.vstack(
        [mu[0] + 1e-3 * rng.normal(size=(50, 3)), mu[1] + 1e-3 * rng.normal(size=(50, 3))]
    )
    frame = Frame.from_data(X)
    p = to_internal(frame, w, mu, c, chol)
    with numpy_kernels():  # the numpy path's choice (the fused kernel is always direct)
        res = mixture_pass(X, gaussian_terms(p, family), frame, log_density=True)
    assert res.kernel == "direct"
    expected, _ = scipy_logpdf(X, family, w, mu, c)
    # The rows hold ~7 significant digits of their deviation from the mean (1e-3 at 1e6);
    # mapping the means into the frame and back costs one rounding of 1e6, i.e. ~1e-7 of
    # the deviation, so agreement to 1e-5 is what float64 allows.
    np.testing.assert_allclose(res.log_density, expected, rtol=1e-5)
    fast = mixture_pass(X, gaussian_terms(p, family), frame, log_density=True, kernel="expanded")
    assert np.abs(fast.log_density - expected).max() > 1.0  # why "auto" avoids the expansion


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_kernels_give_the_same_statistics(rng, cov):
    family, w, mu, c, chol = random_params(rng, cov, 4, 5, far=30.0)
    X = rng.normal(scale=2.0, size=(1000, 5)) + 30.0
    frame = Frame.from_data(X)
    p = to_internal(frame, w, mu, c, chol)
    reg = 1e-6 / frame.scale[0] ** 2
    results = {}
    for kernel in ("expanded", "direct"):
        res = mixture_pass(X, gaussian_terms(p, family), frame, kernel=kernel, chunk_size=333)
        results[kernel] = params_from_stats(res.stats, family, reg)[0], res.log_likelihood
    (pe, lle), (pd_, lld) = results["expanded"], results["direct"]
    np.testing.assert_allclose(lle, lld, rtol=1e-12)
    np.testing.assert_allclose(pe.weights, pd_.weights, rtol=1e-10)
    np.testing.assert_allclose(pe.means, pd_.means, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(pe.covariances, pd_.covariances, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_mixed_kernels_give_the_same_statistics(rng, cov):
    """Expanded components beside a direct one (2000 units out) sum into the same moments.

    This exercises every layout's assembly of expanded and direct parts, the pooled (tied)
    one included, where both kinds of component add into one matrix.
    """
    family, _, mu, c, chol = random_params(rng, cov, 3, 3, spread=1.0)
    w = np.array([0.45, 0.45, 0.1])
    mu[2] += 2000.0
    X = np.vstack([mu[j] + rng.normal(size=(n, 3)) for j, n in enumerate([450, 450, 100])])
    frame = Frame.from_data(X)
    p = to_internal(frame, w, mu, c, chol)
    reg = 1e-6 / frame.scale[0] ** 2
    with numpy_kernels():  # the numpy path's assembly of expanded and direct parts
        mixed = mixture_pass(X, gaussian_terms(p, family), frame, chunk_size=256)
    direct = mixture_pass(X, gaussian_terms(p, family), frame, chunk_size=256, kernel="direct")
    assert mixed.kernel == "mixed"
    pm, pd_ = (params_from_stats(r.stats, family, reg)[0] for r in (mixed, direct))
    # the expansion's error bound is eps * EXPANDED_RISK_LIMIT ~ 2e-10
    np.testing.assert_allclose(mixed.log_likelihood, direct.log_likelihood, rtol=2e-10)
    np.testing.assert_allclose(pm.weights, pd_.weights, rtol=1e-10)
    np.testing.assert_allclose(pm.means, pd_.means, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(pm.covariances, pd_.covariances, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_statistics_match_closed_form(rng, cov):
    """N, means and scatter against the weighted formulas written out with numpy."""
    family, w, mu, c, chol = random_params(rng, cov, 3, 3)
    X = rng.normal(scale=2.0, size=(300, 3))
    sw = rng.uniform(0.0, 3.0, size=300)
    frame = Frame(np.zeros(3), 1.0)
    res = mixture_pass(
        X,
        gaussian_terms(to_internal(frame, w, mu, c, chol), family),
        frame,
        sample_weight=sw,
        resp=True,
    )
    r = res.resp * sw[:, None]
    nk = r.sum(axis=0)
    means = (r.T @ X) / nk[:, None]
    np.testing.assert_allclose(res.stats.N, nk, rtol=1e-12)
    np.testing.assert_allclose(res.stats.means(), means, rtol=1e-10)
    per_component = np.stack(
        [((X - means[j]) * r[:, j : j + 1]).T @ (X - means[j]) / nk[j] for j in range(3)]
    )
    want = {
        "full": per_component,
        "tied": np.tensordot(nk / nk.sum(), per_component, axes=1),  # pooled
        "diag": np.diagonal(per_component, axis1=1, axis2=2),
        "spherical": np.trace(per_component, axis1=1, axis2=2) / 3,  # mean variance
    }[cov]
    np.testing.assert_allclose(res.stats.scatter(), want, rtol=1e-9, atol=1e-12)
    assert res.stats.weight == pytest.approx(sw.sum())


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
@pytest.mark.parametrize("kernel", ["expanded", "direct"])
def test_statistics_do_not_depend_on_chunk_size(rng, cov, kernel):
    family, w, mu, c, chol = random_params(rng, cov, 3, 4)
    X = rng.normal(scale=2.0, size=(1001, 4))
    frame = Frame.from_data(X)
    p = to_internal(frame, w, mu, c, chol)
    ref = mixture_pass(X, gaussian_terms(p, family), frame, kernel=kernel, chunk_size=1001)
    for size in (1, 64, 1000):
        other = mixture_pass(X, gaussian_terms(p, family), frame, kernel=kernel, chunk_size=size)
        np.testing.assert_allclose(other.stats.N, ref.stats.N, rtol=1e-12)
        np.testing.assert_allclose(other.stats.S1, ref.stats.S1, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(other.stats.S2, ref.stats.S2, rtol=1e-10, atol=1e-10)
        assert other.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-12)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_merged_statistics_equal_whole(rng, cov):
    """Statistics of two halves about different references add up to those of the whole."""
    family, w, mu, c, chol = random_params(rng, cov, 3, 3)
    X = rng.normal(scale=2.0, size=(600, 3)) + 5.0
    frame = Frame.from_data(X)
    p = to_internal(frame, w, mu, c, chol)
    whole = mixture_pass(X, gaussian_terms(p, family), frame, kernel="direct").stats
    a = mixture_pass(X[:250], gaussian_terms(p, family), frame, kernel="expanded").stats
    b = mixture_pass(X[250:], gaussian_terms(p, family), frame, kernel="direct").stats
    assert not np.array_equal(a.ref, b.ref)
    merged = a + b
    np.testing.assert_allclose(merged.means(), whole.means(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(merged.scatter(), whole.scatter(), rtol=1e-9, atol=1e-12)
    assert merged.n_rows == 600
    assert merged.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-12)
    zero = SuffStats.zeros(family.moments, whole.ref)
    np.testing.assert_allclose((zero + whole).S2, whole.S2)


def test_frame_survives_extreme_scales(rng):
    base = rng.normal(size=(100, 3))
    for factor in (1e-150, 1e150):
        frame = Frame.from_data(base * factor)
        z = frame.to_internal(base * factor)
        assert np.isfinite(z).all()
        rms = np.sqrt(np.mean(z**2))
        assert 0.7 < rms < 1.5  # scale is the power of two nearest the RMS deviation
        assert (np.log2(frame.scale) == np.round(np.log2(frame.scale))).all()
    frame = Frame.from_data(np.ones((5, 2)) * 7.0)
    assert (frame.scale == 1.0).all() and np.allclose(frame.centre, 7.0)


def test_responsibilities_only_when_asked(rng):
    family, w, mu, c, chol = random_params(rng, "full", 3, 2)
    X = rng.normal(size=(100, 2))
    frame = Frame.from_data(X)
    res = mixture_pass(X, gaussian_terms(to_internal(frame, w, mu, c, chol), family), frame)
    assert res.resp is None and res.log_density is None and res.labels is None
    assert res.stats is not None


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
@pytest.mark.parametrize("kernel", ["expanded", "direct", "auto"])
@pytest.mark.parametrize("weighted", [False, True])
def test_threads_do_not_change_results(rng, cov, kernel, weighted):
    """Chunk sums are folded in chunk order whichever worker computed them: the result is
    the same to the last bit for any number of threads, and from one run to the next
    (chunks are handed out as workers ask, so their sharing differs between runs)."""
    family, w, mu, c, chol = random_params(rng, cov, 3, 4)
    X = rng.normal(scale=2.0, size=(5000, 4))
    sw = rng.uniform(0.0, 2.0, size=5000) if weighted else None
    frame = Frame.from_data(X)
    p = to_internal(frame, w, mu, c, chol)

    def run(n_threads):
        return mixture_pass(
            X,
            gaussian_terms(p, family),
            frame,
            sample_weight=sw,
            chunk_size=300,
            n_threads=n_threads,
            kernel=kernel,
            resp=True,
            n_worst=7,
        )

    one = run(1)
    for n_threads in (2, 3, 2, 3, 8):
        other = run(n_threads)
        np.testing.assert_array_equal(other.resp, one.resp)
        for field in ("N", "S1", "S2", "ref"):
            np.testing.assert_array_equal(getattr(other.stats, field), getattr(one.stats, field))
        assert other.log_likelihood == one.log_likelihood
        assert other.weight == one.weight
        np.testing.assert_array_equal(other.worst_rows, one.worst_rows)


def test_parallel_tasks_run_once_each_even_when_a_worker_is_late():
    """The caller works from the start; a helper that is slow (as a woken thread can be)
    only takes what is left, and every task runs exactly once."""
    done = []
    lock = threading.Lock()

    def task(t, i):
        if t == 1 and not done:
            time.sleep(0.05)
        with lock:
            done.append((t, i))

    run_parallel(40, 2, task)
    assert sorted(i for _, i in done) == list(range(40))
    assert sum(t == 0 for t, _ in done) >= 20  # the caller did most while the helper slept


def test_parallel_error_stops_new_tasks_and_is_raised():
    started = []

    def task(t, i):
        started.append(i)
        if i == 3:
            raise RuntimeError("task 3 failed")
        time.sleep(0.002)

    with pytest.raises(RuntimeError, match="task 3 failed"):
        run_parallel(200, 2, task)
    assert len(started) < 200


def test_parallel_runs_nested_inside_a_pool_thread():
    """A pass started from inside another pass's helper thread finds the pool busy: its
    caller does all the work and the queued helper is cancelled (no deadlock)."""
    inner = []

    def outer(t, i):
        run_parallel(5, 2, lambda t2, j: inner.append((i, j)))

    with ThreadPoolExecutor(1) as guard:  # a deadlock fails the test instead of hanging it
        guard.submit(run_parallel, 4, 2, outer).result(timeout=30)
    assert sorted(inner) == [(i, j) for i in range(4) for j in range(5)]


def test_concurrent_passes_from_several_threads_do_not_share_buffers(rng):
    """Chunk buffers are kept between passes; passes of different shapes, run at once from
    several caller threads, must each get the result of running alone."""
    jobs = []
    for cov, k, d in [("full", 5, 6), ("diag", 2, 3), ("tied", 7, 2), ("spherical", 3, 9)]:
        family, w, mu, c, chol = random_params(rng, cov, k, d)
        X = rng.normal(scale=2.0, size=(4000, d))
        frame = Frame.from_data(X)
        jobs.append((X, gaussian_terms(to_internal(frame, w, mu, c, chol), family), frame))

    def run(job):
        X, terms, frame = job
        return mixture_pass(X, terms, frame, chunk_size=250, resp=True)

    alone = [run(job) for job in jobs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(run, jobs * 3))
    for i, res in enumerate(together):
        want = alone[i % len(jobs)]
        np.testing.assert_array_equal(res.resp, want.resp)
        np.testing.assert_array_equal(res.stats.S2, want.stats.S2)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
@pytest.mark.parametrize("kernel", ["expanded", "direct"])
def test_rows_beyond_float64_squares(rng, cov, kernel):
    """Rows ~1e160 away overflow squared distances: -inf log-density, one-hot posterior."""
    family, w, mu, c, chol = random_params(rng, cov, 2, 2)
    X = np.array([[0.0, 0.0], [1e10, -1e10], [1e160, 0.0], [1e200, -1e200], [1.7e308, 0.0]])
    frame = Frame(np.zeros(2), 1.0)
    res = mixture_pass(
        X, gaussian_terms(to_internal(frame, w, mu, c, chol), family), frame,
        kernel=kernel, resp=True, log_density=True, labels=True,
    )  # fmt: skip
    expected, _ = scipy_logpdf(X[:2], family, w, mu, c)
    np.testing.assert_allclose(res.log_density[:2], expected, rtol=1e-9)
    assert np.all(res.log_density[2:] == -np.inf)
    assert np.isfinite(res.resp).all()
    np.testing.assert_allclose(res.resp.sum(axis=1), 1.0)
    np.testing.assert_array_equal(res.labels, res.resp.argmax(axis=1))


def assigned_moments(X, R, sw):
    """Weights, means and covariances (about the means) of ``X`` under responsibilities
    ``R`` (n, k) and sample weights ``sw``: two-pass numpy, the reference."""
    w = R if sw is None else R * sw[:, None]
    nk = w.sum(axis=0)
    means = (w.T @ X) / np.maximum(nk, 1e-300)[:, None]
    cov = np.stack([((X - m) * wj[:, None]).T @ (X - m) for m, wj in zip(means, w.T, strict=True)])
    return nk, means, cov / np.maximum(nk, 1e-300)[:, None, None]


@pytest.mark.parametrize("kernels", ["fused", "numpy"])
@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
@pytest.mark.parametrize("weighted", [True, False])
def test_given_labels_and_responsibilities_give_their_statistics(rng, cov, weighted, kernels):
    """A pass with given hard labels, their one-hot rows or soft responsibilities sums the
    statistics of those, in the family's layout, whatever the chunks and threads."""
    from gaussmix.engine import unit_terms

    family = get_family(cov)
    X = rng.normal(size=(700, 3)) * [1.0, 5.0, 0.2] + 40.0
    sw = rng.uniform(0.0, 2.0, size=700) if weighted else None
    if sw is not None:
        sw[::7] = 0.0  # zero-weight rows are left out
    labels = rng.integers(0, 5, size=700)
    labels[labels == 4] = 2  # empty components: the last one and one between used ones
    labels[labels == 1] = 0
    soft = rng.dirichlet(np.ones(5), size=700)
    frame = Frame.from_data(X)
    terms = unit_terms(family.moments, rng.normal(size=(5, 3)))
    context = numpy_kernels() if kernels == "numpy" else nullcontext()
    with context:
        got = {
            name: [
                mixture_pass(
                    X, terms, frame, sample_weight=sw, chunk_size=chunk, n_threads=t, given=given
                ).stats
                for chunk, t in ((128, 1), (700, 1), (61, 3))
            ]
            for name, given in (
                ("labels", lambda rows: labels[rows]),
                ("one-hot", lambda rows: np.eye(5)[labels[rows]]),
                ("soft", lambda rows: soft[rows]),
            )
        }
    for name, R in (("labels", np.eye(5)[labels]), ("one-hot", np.eye(5)[labels]), ("soft", soft)):
        nk, means, dense = assigned_moments(X, R, sw)
        for stats in got[name]:
            np.testing.assert_allclose(stats.N, nk, rtol=1e-12, atol=1e-12)
            used = nk > 0
            user_means = frame.centre + frame.scale * stats.means()
            np.testing.assert_allclose(user_means[used], means[used], rtol=1e-12)
            scatter = stats.scatter() * frame.scale[0] ** 2
            want = {
                "full": dense,
                "tied": np.tensordot(nk / nk.sum(), dense, axes=1),
                "diag": np.diagonal(dense, axis1=1, axis2=2),
                "spherical": np.diagonal(dense, axis1=1, axis2=2).mean(axis=1),
            }[cov]
            if cov != "tied":
                scatter, want = scatter[used], want[used]
            np.testing.assert_allclose(scatter, want, rtol=1e-9, atol=1e-9)
    assert got["labels"][0].N[1] == got["labels"][0].N[4] == 0.0


@pytest.mark.parametrize("kernels", ["fused", "numpy"])
@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_hard_pass_assigns_each_row_to_its_nearest_centre(rng, cov, kernels):
    from gaussmix.engine import unit_terms

    family = get_family(cov)
    X = rng.normal(size=(3000, 4)) * [1.0, 3.0, 0.5, 2.0] - 7.0
    sw = rng.uniform(0.5, 2.0, size=3000)
    frame = Frame.from_data(X, sw)
    centres = X[rng.choice(3000, 6, replace=False)]
    nearest = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
    context = numpy_kernels() if kernels == "numpy" else nullcontext()
    with context:
        res = mixture_pass(
            X, unit_terms(family.moments, frame.to_internal(centres)), frame, sample_weight=sw,
            hard=True, resp=True, labels=True, chunk_size=500, n_threads=2,
        )  # fmt: skip
    np.testing.assert_array_equal(res.labels, nearest)
    np.testing.assert_array_equal(res.resp, np.eye(6)[nearest])
    nk, means, _ = assigned_moments(X, np.eye(6)[nearest], sw)
    np.testing.assert_allclose(res.stats.N, nk, rtol=1e-12)
    np.testing.assert_allclose(frame.centre + frame.scale * res.stats.means(), means, rtol=1e-10)


def test_frame_centre_of_values_whose_sum_overflows(rng):
    """Rows near the float64 limit: the centre is still their mean, not a fallback."""
    big = np.finfo(np.float64).max / 4
    X = big * (1.0 + 0.1 * rng.uniform(size=(50, 2)))
    frame = Frame.from_data(X, chunk_size=16)
    np.testing.assert_allclose(frame.centre, big * (X / big).mean(axis=0), rtol=1e-14)
    assert np.isfinite(frame.scale).all() and (frame.scale > 0).all()


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_labels_only_pass_skips_the_likelihood_but_not_the_labels(rng, cov):
    family, w, mu, c, chol = random_params(rng, cov, 4, 3)
    X = rng.normal(scale=2.0, size=(900, 3))
    frame = Frame.from_data(X)
    p = to_internal(frame, w, mu, c, chol)
    full = mixture_pass(X, gaussian_terms(p, family), frame, chunk_size=200, resp=True, labels=True)
    only = mixture_pass(
        X,
        gaussian_terms(p, family),
        frame,
        chunk_size=200,
        stats=False,
        labels=True,
        log_likelihood=False,
    )
    np.testing.assert_array_equal(only.labels, full.labels)
    np.testing.assert_array_equal(only.labels, full.resp.argmax(axis=1))
    assert np.isnan(only.log_likelihood) and only.weight == 900
    _, comp = scipy_logpdf(X, family, w, mu, c)
    np.testing.assert_array_equal(only.labels, (comp + np.log(w)).argmax(axis=1))


def test_frame_of_many_rows_from_a_strided_sample(rng):
    from gaussmix.engine import FRAME_SAMPLE

    n = 2 * FRAME_SAMPLE + 1001
    X = rng.normal(loc=1e6, scale=3.0, size=(n, 2))
    frame = Frame.from_data(X)
    # a centre within a few standard errors of the mean, a power of two near the spread
    np.testing.assert_allclose(frame.centre, X.mean(axis=0), atol=0.2)
    assert frame.scale[0] in (2.0, 4.0)
    # weight only where the sample does not look: the frame falls back to all rows
    w = np.zeros(n)
    w[1::2] = 1.0
    X[1::2] += 1e3
    step = n // FRAME_SAMPLE
    assert step == 2 and not w[::step].any()
    weighted = Frame.from_data(X, sample_weight=w)
    np.testing.assert_allclose(weighted.centre, np.average(X, axis=0, weights=w), rtol=1e-12)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_chunks_come_in_equal_rounds_over_the_workers(monkeypatch, workers):
    from gaussmix import engine
    from gaussmix.engine import threads

    monkeypatch.setattr(threads, "default_threads", lambda: workers)
    for d, k, cols, n in [(32, 16, 34, 100_000), (10, 10, 21, 200_000), (16, 8, 153, 10**6)]:
        rows = engine.auto_chunk_size(d, k, cols, n)
        bound = engine.auto_chunk_size(d, k, cols)  # the buffer-size bound alone
        chunks = -(-n // rows)
        rounds = -(-n // (workers * bound))  # the fewest rounds the bound allows
        assert rows <= bound and chunks <= workers * rounds
        # worker t takes chunks t, t + workers, ...: every worker gets an equal share, to a
        # row per round (before: 5 chunks of the bound on 2 workers, loads 62 913 and 37 087)
        sizes = np.minimum(rows, n - rows * np.arange(chunks))
        loads = [sizes[t::workers].sum() for t in range(workers)]
        assert max(loads) <= n / workers + rounds


def test_a_small_pass_is_not_split_over_threads(monkeypatch):
    """A chunk is handed to another worker only where it carries SPLIT_WORK: Old Faithful's
    272 rows, or 5,000 rows of 8 features and 4 components, are one chunk on 2 workers; the
    buffers' bound still holds where the work is small but the rows many."""
    from gaussmix import engine
    from gaussmix.engine import threads
    from gaussmix.engine.chunks import SPLIT_WORK

    monkeypatch.setattr(threads, "default_threads", lambda: 2)
    for d, k, n in [(2, 3, 272), (8, 4, 5000)]:
        assert k * (d**2 + 32) * n < 2 * SPLIT_WORK
        assert engine.auto_chunk_size(d, k, d + d * (d + 1) // 2 + 1, n) == n
    # enough work for two: split as before
    assert engine.auto_chunk_size(32, 16, 561, 4000, least=8192) == 2000
    bound = engine.auto_chunk_size(1, 1, 3)
    rows = engine.auto_chunk_size(1, 1, 3, 5 * bound)
    assert rows <= bound and 5 * bound / rows <= 6


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n", [50, 3 * 8192])  # all rows, and the strided sample
def test_frame_refuses_rows_that_are_not_finite(bad, n, rng):
    from gaussmix.engine import NonFiniteInput

    X = rng.normal(size=(n, 3))
    row = min(300, n - 1)  # read by the strided sample too (every n // 8192-th row)
    X[row, 1] = bad
    with pytest.raises(NonFiniteInput, match=r"(NaN|infinite).* row") as info:
        Frame.from_data(X)
    assert isinstance(info.value, ValueError)
    if np.isinf(bad):  # missing values are NaN only: an infinity stays an error
        with pytest.raises(NonFiniteInput, match="infinite"):
            Frame.from_data(X, missing="observed")


def test_frame_of_observed_entries_takes_nan_as_missing(rng):
    X = rng.normal(loc=[3.0, -1.0, 100.0], scale=[1.0, 4.0, 0.01], size=(400, 3))
    w = rng.uniform(0.5, 2.0, size=400)
    holes = X.copy()
    holes[rng.random(X.shape) < 0.2] = np.nan
    holes[:, 2][:] = np.nan  # a column with nothing observed gets centre 0
    frame = Frame.from_data(holes, w, missing="observed")
    seen = ~np.isnan(holes)
    wm = np.where(seen, w[:, None], 0.0)
    centre = np.nansum(holes * wm, axis=0)[:2] / wm.sum(axis=0)[:2]
    np.testing.assert_allclose(frame.centre, [*centre, 0.0], rtol=1e-12)
    spread = np.nansum(wm * (holes - frame.centre) ** 2) / wm.sum()
    assert (frame.scale == 2.0 ** np.round(np.log2(np.sqrt(spread)))).all()
    # without any NaN both modes agree
    full = Frame.from_data(X, w)
    observed = Frame.from_data(X, w, missing="observed")
    np.testing.assert_allclose(observed.centre, full.centre, rtol=1e-12)
    np.testing.assert_array_equal(observed.scale, full.scale)
    with pytest.raises(ValueError, match="missing"):
        Frame.from_data(X, missing="drop")  # type: ignore[arg-type]
