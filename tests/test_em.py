"""EM as a whole: monotonicity, recovery, weighting, restarts, sampling, selection, demo."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import ConvergenceWarning

from gaussmix import COVARIANCE_TYPES, GaussianMixture, select_model
from gaussmix.covariance import get_family
from gaussmix.multistart import FULL_RUN_ROWS, race_sample_rows
from tests._data import make_blobs
from tests.test_mclust_models import OTHER_MODELS


def assert_monotone(history, rtol=1e-12):
    h = np.asarray(history)
    drops = h[:-1] - h[1:]
    assert np.all(drops <= rtol * np.abs(h[:-1]) + 1e-12), f"log-likelihood decreased: {h}"


@pytest.mark.parametrize("cov", [*COVARIANCE_TYPES, *OTHER_MODELS])
@pytest.mark.parametrize("init", ["k-means++", "kmeans", "random", "random_from_data"])
def test_log_likelihood_never_decreases(rng, cov, init):
    X, _, _ = make_blobs(rng, n=600, d=3, k=4, spread=2.0)
    # reg_covar=0: adding a ridge to the M-step's covariance is not an EM step, and only
    # exact EM guarantees a monotone log-likelihood
    gm = GaussianMixture(
        4, covariance_type=cov, init_params=init, tol=1e-10, max_iter=60, n_init=1,
        random_state=0, reg_covar=0.0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    assert not gm.reseeds_
    assert len(gm.history_) == gm.n_iter_ >= 2
    assert_monotone(gm.history_)
    assert gm.lower_bound_ == gm.history_[-1]


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_recovers_known_parameters(rng, cov):
    k, d, n = 3, 2, 6000
    means = np.array([[0.0, 0.0], [8.0, 1.0], [2.0, 9.0]])
    weights = np.array([0.5, 0.3, 0.2])
    family = get_family(cov)
    base = {
        "full": np.array(
            [[[2.0, 0.6], [0.6, 1.0]], [[1.0, -0.3], [-0.3, 0.5]], [[0.6, 0.0], [0.0, 1.5]]]
        ),
        "tied": np.array([[1.2, 0.4], [0.4, 0.8]]),
        "diag": np.array([[1.5, 0.5], [0.4, 1.0], [1.0, 2.0]]),
        "spherical": np.array([1.0, 0.5, 2.0]),
    }[cov]
    truth = GaussianMixture(k, covariance_type=cov)
    truth.weights_, truth.means_, truth.covariances_ = weights, means, base
    truth.precisions_cholesky_ = family.precisions_cholesky(base)[0]
    X, labels = truth.sample(n, random_state=7)
    assert X.shape == (n, d) and labels.shape == (n,)
    gm = GaussianMixture(k, covariance_type=cov, random_state=0).fit(X)
    # match fitted components to the true ones by mean distance
    cost = ((gm.means_[:, None, :] - means[None]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    order = rows[np.argsort(cols)]
    np.testing.assert_allclose(gm.weights_[order], weights, atol=0.03)
    np.testing.assert_allclose(gm.means_[order], means, atol=0.12)
    fitted = gm.covariances_ if cov == "tied" else gm.covariances_[order]
    np.testing.assert_allclose(fitted, base, atol=0.15, rtol=0.1)
    assert gm.converged_


@pytest.mark.parametrize("cov", [*COVARIANCE_TYPES, *OTHER_MODELS])
def test_integer_sample_weight_equals_repeated_rows(rng, cov):
    X, _, _ = make_blobs(rng, n=200, d=3, k=3, spread=3.0)
    counts = rng.integers(0, 4, size=X.shape[0])
    means0 = X[rng.choice(X.shape[0], 3, replace=False)]
    params = dict(covariance_type=cov, means_init=means0, tol=1e-12, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = GaussianMixture(3, **params).fit(X, sample_weight=counts)
        b = GaussianMixture(3, **params).fit(np.repeat(X, counts, axis=0))
    # reg_covar="auto" reads the weighted and the repeated variances, equal to rounding; an
    # iterative M-step stops its inner iteration at a tolerance (INNER_TOL = 1e-10, which
    # fixes its parameters to about 1e-5), which can turn that rounding into differences of
    # a few 1e-8 (measured up to 2.7e-8, VEV)
    rtol = 1e-6 if get_family(cov).iterative else 1e-9
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=rtol)
    np.testing.assert_allclose(a.means_, b.means_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.history_, b.history_, rtol=1e-10)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_fit_predict_equals_fit_then_predict(rng, cov):
    X, _, _ = make_blobs(rng, n=300, d=2, k=3)
    a = GaussianMixture(3, covariance_type=cov, random_state=3).fit_predict(X)
    b = GaussianMixture(3, covariance_type=cov, random_state=3).fit(X).predict(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cov", [*COVARIANCE_TYPES, *OTHER_MODELS])
def test_result_does_not_depend_on_chunk_size(rng, cov):
    X, _, _ = make_blobs(rng, n=700, d=3, k=3, spread=3.0)
    # a plain tolerance and 4 starts: the refinement of tol=None takes tied 766 iterations
    # here, 30 s at 13 rows a chunk, and tests nothing more about the chunks
    fits = [
        GaussianMixture(
            3, covariance_type=cov, random_state=5, chunk_size=c, init_params="random",
            n_init=4, tol=1e-4,
        ).fit(X)
        for c in (None, 13, 256)
    ]  # fmt: skip
    for other in fits[1:]:
        np.testing.assert_allclose(other.means_, fits[0].means_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(other.covariances_, fits[0].covariances_, rtol=1e-8)
        np.testing.assert_allclose(
            other.score_samples(X), fits[0].score_samples(X), rtol=1e-8, atol=1e-9
        )


def test_short_run_restarts_keep_best(rng):
    X, _, _ = make_blobs(rng, n=800, d=2, k=6, spread=4.0)
    gm = GaussianMixture(6, n_init=6, init_iter=3, random_state=0).fit(X)
    assert len(gm.start_lower_bounds_) == 6
    best_start = max(gm.start_lower_bounds_)
    # the retained start's history passes through the best short-run value
    assert best_start in gm.history_
    assert gm.lower_bound_ >= best_start - 1e-12
    single = GaussianMixture(6, n_init=1, random_state=0).fit(X)
    assert len(single.start_lower_bounds_) == 1


def test_full_restarts_when_init_iter_is_none(rng):
    X, _, _ = make_blobs(rng, n=300, d=2, k=3)
    gm = GaussianMixture(3, n_init=3, init_iter=None, random_state=0).fit(X)
    assert gm.lower_bound_ == pytest.approx(max(gm.start_lower_bounds_))


def test_warm_start_continues(rng):
    X, _, _ = make_blobs(rng, n=500, d=2, k=3, spread=1.5)
    gm = GaussianMixture(3, warm_start=True, max_iter=2, tol=0, n_init=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
        first = list(gm.history_)
        gm.fit(X)
    assert gm.history_[0] >= first[-1] - 1e-12
    assert_monotone(first + gm.history_)


def test_convergence_warning_when_best_start_did_not_converge(rng):
    X, _, _ = make_blobs(rng, n=300, d=2, k=3, spread=1.0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gm = GaussianMixture(3, max_iter=2, tol=0, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2


def test_max_iter_zero_returns_initial_parameters(rng):
    X, _, _ = make_blobs(rng, n=200, d=2, k=2)
    means0 = X[:2]
    gm = GaussianMixture(2, max_iter=0, means_init=means0).fit(X)
    np.testing.assert_allclose(gm.means_, means0)
    assert gm.n_iter_ == 0 and gm.history_ == []


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_sample_is_shuffled_reproducible_and_matches_the_model(rng, cov):
    X, _, _ = make_blobs(rng, n=400, d=2, k=2)
    gm = GaussianMixture(2, covariance_type=cov, random_state=0).fit(X)
    a, la = gm.sample(20000, random_state=1)
    b, lb = gm.sample(20000, random_state=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.all(np.diff(la) >= 0), "labels should be shuffled, not grouped"
    c, _ = gm.sample(20000, random_state=2)
    assert not np.array_equal(a, c)
    mixture_mean = gm.weights_ @ gm.means_
    np.testing.assert_allclose(a.mean(axis=0), mixture_mean, atol=0.1)
    for j in range(2):
        np.testing.assert_allclose(a[la == j].mean(axis=0), gm.means_[j], atol=0.1)
    np.testing.assert_allclose(np.bincount(la) / la.size, gm.weights_, atol=0.02)


def test_bic_aic_definitions(rng):
    X, _, _ = make_blobs(rng, n=300, d=2, k=2)
    gm = GaussianMixture(2, random_state=0).fit(X)
    ll = gm.score_samples(X).sum()
    p = 2 * 3 + 2 * 2 + 1  # two full 2x2 covariances, two means, one free weight
    assert gm.n_parameters() == p
    assert gm.bic(X) == pytest.approx(-2 * ll + p * np.log(300), rel=1e-12)
    assert gm.aic(X) == pytest.approx(-2 * ll + 2 * p, rel=1e-12)


def test_select_model_table_and_choice(rng):
    X, _, _ = make_blobs(rng, n=600, d=2, k=3, spread=6.0)
    result = select_model(X, range(1, 5), ["full", "spherical"], random_state=0)
    assert len(result.rows) == 8
    bics = [r["bic"] for r in result.rows]
    assert result.best["bic"] == min(bics)
    assert result.best["n_components"] == 3
    assert result.best_model.n_components == 3
    for r in result.rows:
        assert set(r) >= {"log_likelihood", "n_parameters", "bic", "aic", "converged", "seconds"}
        model = GaussianMixture(r["n_components"], covariance_type=r["covariance_type"])
        assert (
            r["n_parameters"]
            == get_family(r["covariance_type"]).n_parameters(r["n_components"], 2)
            + 3 * r["n_components"]
            - 1
        )
        del model
    text = result.to_string()
    assert "*" in text and "spherical" in text


def test_select_model_records_unfittable_candidates(rng):
    X = rng.normal(size=(4, 2))
    result = select_model(X, [1, 2, 6], "diag", random_state=0)
    assert result.rows[2]["error"] is not None
    assert result.best["n_components"] in (1, 2)


def test_demo_prints_a_summary():
    from gaussmix.demo import run_demo

    text = run_demo(seed=0, max_components=3)
    for expected in ("Chosen model", "BIC", "weight", "covariance", "anomalous", "P(c0)"):
        assert expected in text


def test_zero_weight_rows_may_lie_anywhere(rng):
    X, _, _ = make_blobs(rng, n=300, d=2, k=2)
    far = np.vstack([X, [[1e200, 1e200], [-1e250, 0.0]]])
    sw = np.r_[np.ones(300), 0.0, 0.0]
    for cov in COVARIANCE_TYPES:
        a = GaussianMixture(2, covariance_type=cov, random_state=0).fit(far, sample_weight=sw)
        b = GaussianMixture(2, covariance_type=cov, random_state=0).fit(X)
        np.testing.assert_allclose(a.score(X), b.score(X), rtol=1e-6)
        assert np.isfinite(a.means_).all()


def test_short_runs_on_a_subsample_for_large_data(rng):
    X, _, means = make_blobs(rng, n=30_000, d=2, k=3, spread=8.0, anisotropic=False)
    gm = GaussianMixture(3, n_init=3, init_iter=4, random_state=0).fit(X)
    assert len(gm.start_lower_bounds_) == 3
    # the continuation runs on all rows with a fresh history
    assert gm.history_[0] not in gm.start_lower_bounds_
    assert_monotone(gm.history_)
    cost = ((gm.means_[:, None, :] - means[None]) ** 2).sum(-1)
    assert cost.min(axis=0).max() < 0.1


def test_callback_reports_every_iteration_in_user_units(rng):
    # overlapping clusters and a tight tol: EM needs more than the 2 short-run iterations;
    # more rows than FULL_RUN_ROWS, so that the starts race
    X, _, _ = make_blobs(rng, n=FULL_RUN_ROWS + 500, d=2, k=3, spread=1.5)
    X = X * 1e3 + 5e4  # user units far from the internal frame's
    events = []
    gm = GaussianMixture(3, n_init=3, init_iter=2, random_state=0, tol=1e-12, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=1e-12 may need > 50
        gm.fit(X, callback=events.append)
    short = [e for e in events if e.phase == "short"]
    full = [e for e in events if e.phase == "full"]
    # successive halving over 3 starts and 2 iterations: all run 1, the better 2 run a 2nd
    assert [e.start for e in short[:3]] == [0, 1, 2]
    assert all(e.iteration == 1 for e in short[:3])
    assert [e.iteration for e in short[3:]] == [2, 2]
    survivors = [e.start for e in short[3:]]
    dropped = ({0, 1, 2} - set(survivors)).pop()
    first = {e.start: e.log_likelihood for e in short[:3]}
    assert first[dropped] <= min(first[s] for s in survivors)
    # the continuation of the winner on all rows (the race ran on a subsample of them,
    # race_sample_rows), which alone the history counts
    assert {e.n_rows for e in short} == {race_sample_rows(X.shape[0], 3)}
    assert race_sample_rows(X.shape[0], 3) < X.shape[0]
    assert {e.n_rows for e in full} == {X.shape[0]}
    assert len(set(e.start for e in full)) == 1
    assert full[0].start in survivors
    assert [e.log_likelihood for e in full] == gm.history_
    last = full[-1]
    assert last.means.shape == (3, 2) and last.covariances.shape == (3, 2, 2)
    # the event's parameters are those whose log-likelihood it reports, in user units
    probe = GaussianMixture(3, covariance_type="full")
    probe.weights_, probe.means_, probe.covariances_ = last.weights, last.means, last.covariances
    probe.precisions_cholesky_ = get_family("full").precisions_cholesky(last.covariances)[0]
    assert probe.score(X) == pytest.approx(last.log_likelihood, rel=1e-10)


def test_a_failing_start_does_not_end_the_fit(rng):
    from gaussmix.engine import Frame
    from gaussmix.init import initialize
    from gaussmix.multistart import fit_multistart
    from gaussmix.sources import ArraySource
    from gaussmix.strategy import DegenerateMixtureError, MaximumLikelihood

    X, _, _ = make_blobs(rng, n=400, d=2, k=3)
    family = get_family("full")
    frame = Frame.from_data(X)
    calls = []

    def start(Xs, rngs):
        calls.append(len(rngs))
        return [
            DegenerateMixtureError("this start is degenerate")
            if s % 2 == 0
            else initialize(Xs, family, frame, 3, method="k-means++", rngs=[r], reg_covar=1e-6)[0]
            for s, r in enumerate(rngs)
        ]

    best, scores = fit_multistart(
        ArraySource(X), MaximumLikelihood(family, 1e-6), frame, start, n_components=3,
        n_init=4, init_iter=4, max_iter=50, tol=1e-6, rng=np.random.default_rng(0),
    )  # fmt: skip
    assert calls == [4]  # the starts are made together
    assert scores[0] == scores[2] == -np.inf
    assert np.isfinite(best.lower_bound)

    def always_bad(Xs, rngs):
        return [DegenerateMixtureError("every start is degenerate") for _ in rngs]

    with pytest.raises(DegenerateMixtureError, match="every start"):
        fit_multistart(
            ArraySource(X), MaximumLikelihood(family, 1e-6), frame, always_bad,
            n_components=3, n_init=3, init_iter=4, max_iter=50, tol=1e-6,
            rng=np.random.default_rng(0),
        )  # fmt: skip


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_starts_made_together_equal_starts_made_alone(rng, covariance_type, weighted):
    """The batched k-means++ starts of a fit are each the start its generator makes alone."""
    from gaussmix.engine import Frame
    from gaussmix.init import SEED_SAMPLE, initialize
    from gaussmix.sources import ArraySource

    X, _, _ = make_blobs(rng, n=SEED_SAMPLE + 700, d=3, k=4)
    sw = None
    if weighted:
        sw = rng.uniform(0.5, 2.0, size=X.shape[0])
        sw[::3] = 0.0  # zero-weight rows are left out of every sample
    family = get_family(covariance_type)
    frame = Frame.from_data(X, sw)
    opts = {"method": "k-means++", "reg_covar": 1e-6}
    rows = ArraySource(X, sw)
    together = initialize(
        rows, family, frame, 4, rngs=[np.random.default_rng(s) for s in range(5)], **opts
    )
    for s, made in enumerate(together):
        (alone,) = initialize(rows, family, frame, 4, rngs=[np.random.default_rng(s)], **opts)
        for name in ("weights", "means", "covariances", "precisions_cholesky"):
            np.testing.assert_allclose(
                getattr(made, name), getattr(alone, name), rtol=1e-12, atol=1e-14
            )
    # different generators give different starts
    assert not np.allclose(together[0].means, together[1].means)


def test_max_iter_zero_with_several_starts_runs_no_iteration(rng):
    X, _, _ = make_blobs(rng, n=300, d=2, k=2)
    gm = GaussianMixture(2, max_iter=0, n_init=4, random_state=0).fit(X)
    assert gm.n_iter_ == 0 and gm.history_ == []


def test_kmeans_plusplus_seeds_one_per_separated_cluster(rng):
    from gaussmix.init import kmeans_plusplus_seeds

    k = 6
    centres = rng.normal(scale=1e4, size=(k, 3))
    labels = np.repeat(np.arange(k), 300)
    Z = centres[labels] + rng.normal(size=(labels.size, 3))
    Z -= Z.mean(axis=0)
    for seed in range(10):
        seeds = kmeans_plusplus_seeds(Z, k, np.random.default_rng(seed))
        # D² sampling: a second seed inside a covered cluster has probability ~1e-8
        assert sorted(labels[seeds]) == list(range(k))
    again = kmeans_plusplus_seeds(Z, k, np.random.default_rng(3))
    np.testing.assert_array_equal(again, kmeans_plusplus_seeds(Z, k, np.random.default_rng(3)))


def test_kmeans_plusplus_batch_labels_rows_by_their_nearest_seed(rng):
    from gaussmix.init import kmeans_plusplus_batch, kmeans_plusplus_seeds

    Z = rng.normal(size=(3, 400, 4))
    Z[1] *= 1e-3  # the samples differ in scale: nothing is shared between them
    seeds, labels = kmeans_plusplus_batch(Z, 7, [np.random.default_rng(s) for s in range(3)])
    for s in range(3):
        centres = Z[s][seeds[s]]
        dist = ((Z[s][:, None, :] - centres[None]) ** 2).sum(axis=2)
        np.testing.assert_array_equal(labels[s], dist.argmin(axis=1))
        # the same seeds as the sample alone with the same generator
        alone = kmeans_plusplus_seeds(Z[s], 7, np.random.default_rng(s))
        np.testing.assert_array_equal(seeds[s], alone)


def test_kmeans_plusplus_batch_in_groups_seeds_as_all_at_once(rng, monkeypatch):
    """Samples seeded a few at a time (their working arrays within KMEANS_GROUP_BYTES) get
    the seeds and labels they get all at once, weighted or not."""
    from gaussmix import init

    Z = rng.normal(size=(5, 300, 3)) + rng.integers(0, 6, size=(5, 300, 1))
    w = rng.uniform(0.0, 1.0, size=(5, 300))
    for weights in (None, w):
        together = init.kmeans_plusplus_batch(
            Z, 6, [np.random.default_rng(s) for s in range(5)], weights
        )
        # groups of two: 2 + 2 + 1
        monkeypatch.setattr(init, "KMEANS_GROUP_BYTES", 2 * 8 * 300 * (3 + 2 + 1 + 5))
        grouped = init.kmeans_plusplus_batch(
            Z, 6, [np.random.default_rng(s) for s in range(5)], weights
        )
        monkeypatch.undo()
        np.testing.assert_array_equal(grouped[0], together[0])
        np.testing.assert_array_equal(grouped[1], together[1])


def test_kmeans_plusplus_seeds_respect_weights_and_duplicates(rng):
    from gaussmix.init import kmeans_plusplus_seeds

    Z = rng.normal(size=(500, 2))
    w = np.ones(500)
    w[:250] = 0.0  # these rows must never be drawn
    for seed in range(10):
        seeds = kmeans_plusplus_seeds(Z, 8, np.random.default_rng(seed), w)
        assert (seeds >= 250).all() and len(set(seeds.tolist())) == 8
    # all rows equal: every potential is zero, the draw falls back to the weights
    same = kmeans_plusplus_seeds(np.zeros((50, 2)), 4, np.random.default_rng(0), w[:50] + 1)
    assert same.shape == (4,) and ((0 <= same) & (same < 50)).all()
