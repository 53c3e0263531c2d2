"""Starts that never hurt: adding starts never lowers the final log-likelihood (start ``i`` is
the same whatever ``n_init`` is, and the best converged fit is kept), scikit-learn's
``test_multiple_init``, a start from a given partition (``labels_init``) against
scikit-learn from the same partition's statistics, nested starts for ``k + 1`` components,
and sweeps whose log-likelihood never decreases with ``k`` and that make mclust's choice."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import GaussianMixture, select_model
from gaussmix import init as gaussmix_init
from gaussmix.covariance import MCLUST_MODELS, get_family
from gaussmix.datasets import load_faithful
from gaussmix.engine import Frame, threads
from gaussmix.init import AUTO_TREE_ROWS
from gaussmix.multistart import (
    REFINE_GAP,
    REFINE_REACH,
    FitEvent,
    falls_short,
    fit_multistart,
    race_sample_rows,
)
from gaussmix.nested import duplicate, split, split_order
from gaussmix.params import Params
from gaussmix.regularisation import internal_reg
from gaussmix.sources import ArraySource
from gaussmix.strategy import MaximumLikelihood

from ._data import make_blobs


@pytest.mark.filterwarnings("ignore::gaussmix.SingularCovarianceWarning")
def test_sklearns_multiple_init() -> None:
    """scikit-learn's ``test_multiple_init`` (sklearn/mixture/tests/test_gaussian_mixture.py),
    with scikit-learn's default ``n_init=1`` spelled out, and further starts on top (which
    find a spherical component on two of the 50 noise rows: warned about, not an error)."""
    rng = np.random.RandomState(0)
    X = rng.randn(50, 5)
    for cv_type in ("full", "tied", "diag", "spherical"):
        scores = [
            GaussianMixture(2, covariance_type=cv_type, random_state=0, n_init=n).fit(X).score(X)
            for n in (1, 5, 16)
        ]
        assert scores[1] >= scores[0]
        assert scores[2] >= scores[1]


@pytest.mark.filterwarnings("ignore::gaussmix.SingularCovarianceWarning")
@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.sampled_from([30, 120]),
    cov=st.sampled_from(["spherical", "diag", "full", "tied", "VEV", "EVI"]),
)
def test_adding_starts_never_lowers_the_log_likelihood(seed: int, n: int, cov: str) -> None:
    X = np.random.default_rng(seed).normal(size=(n, 3))
    runs = [
        GaussianMixture(3, covariance_type=cov, n_init=m, random_state=seed).fit(X)
        for m in (1, 2, 4, 7)
    ]
    lls = [gm.score(X) for gm in runs]
    assert all(b >= a for a, b in itertools.pairwise(lls)), lls
    # start i is the same whatever n_init is
    firsts = [gm.start_lower_bounds_[0] for gm in runs]
    assert firsts == [firsts[0]] * len(firsts)


def test_a_refined_history_never_decreases(rng: np.random.Generator) -> None:
    """EM's log-likelihood never decreases, through the refinement of ``tol=None`` too, and
    ``n_iter_`` counts the iterations of ``history_``."""
    X, _, _ = make_blobs(rng, 300, 3, 4)
    gm = GaussianMixture(4, covariance_type="VVV", n_init=1, random_state=0).fit(X)
    history = np.asarray(gm.history_)
    assert np.all(np.diff(history) >= -1e-12 * np.abs(history[1:]))
    assert gm.n_iter_ == len(gm.history_)


# --------------------------------------------------------------------------- labels_init


def test_labels_init_starts_from_the_partitions_statistics(rng: np.random.Generator) -> None:
    """EM from a partition is EM from its clusters' weights, means and covariances:
    scikit-learn given those reaches the same fit."""
    X, truth, _ = make_blobs(rng, 240, 2, 3)
    labels = np.asarray(truth).copy()
    labels[::7] = (labels[::7] + 1) % 3  # a start that is not already the answer
    params = {"tol": 1e-10, "max_iter": 500, "reg_covar": 1e-6}
    ours = GaussianMixture(3, labels_init=labels, **params).fit(X)
    weights = np.bincount(labels) / labels.size
    means = np.stack([X[labels == j].mean(axis=0) for j in range(3)])
    covs = np.stack([np.cov(X[labels == j].T, bias=True) + 1e-6 * np.eye(2) for j in range(3)])
    ref = SkGaussianMixture(
        3, weights_init=weights, means_init=means, precisions_init=np.linalg.inv(covs), **params
    ).fit(X)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=1e-6, atol=1e-8)
    assert ours.score(X) == pytest.approx(ref.score(X), rel=1e-9)
    # rows labelled -1 take no part in the start
    partial = labels.copy()
    partial[:40] = -1
    assert GaussianMixture(3, labels_init=partial, **params).fit(X).score(X) == pytest.approx(
        ref.score(X), rel=1e-6
    )


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.zeros(9, int), r"shape \(10,\)"),
        (np.full(10, 3), r"-1 \.\. 2"),
        (np.full(10, -1), "labels no row"),
        (np.linspace(0, 1, 10), "must hold integers"),
    ],
)
def test_labels_init_errors_name_the_fix(labels: np.ndarray, match: str) -> None:
    X = np.random.default_rng(0).normal(size=(10, 2))
    given_labels = labels.copy()
    with pytest.raises(ValueError, match=match):
        GaussianMixture(3, labels_init=labels).fit(X)
    np.testing.assert_array_equal(labels, given_labels)  # nothing the user gave is mutated


# --------------------------------------------------------------------------- nested starts


@pytest.fixture(scope="module")
def faithful() -> np.ndarray:
    X, _ = load_faithful()
    return np.asarray(X, dtype=np.float64)


@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_a_duplicated_component_keeps_the_density_and_the_constraints(
    faithful: np.ndarray, model: str
) -> None:
    """A ``k`` fit with a component in two halves is a ``k + 1`` mixture with the same
    density; a split moves the halves apart and keeps the weights; both are valid
    parameters of the model (the family's own Cholesky accepts them)."""
    gm = GaussianMixture(2, covariance_type=model, n_init=1, random_state=0).fit(faithful)
    frame = Frame.from_data(faithful, None, None)
    family = get_family(model)
    fitted = gm._internal_params(frame)
    j = int(split_order(fitted, family)[0])
    for params in (duplicate(fitted, family, j), split(fitted, family, j)):
        assert params.n_components == 3
        assert params.weights.sum() == pytest.approx(1.0)
        _, bad = family.precisions_cholesky(params.covariances)
        assert not bad.any()
        # the halves have component j's covariance, the others keep theirs: a copy keeps
        # every constraint that equates parts across components
        dense = family.dense(params.covariances, 3, 2)
        before = family.dense(fitted.covariances, 2, 2)
        np.testing.assert_array_equal(dense, before[[0, 1, j]])
    grown = GaussianMixture(3, covariance_type=model, max_iter=0)
    grown._adopt_validation(gm)
    grown._set_fit(
        duplicate(fitted, family, j), frame, faithful.dtype, converged=True, n_iter=0,
        lower_bound=0.0, history=[], start_lower_bounds=[], reseeds=[],
    )  # fmt: skip
    np.testing.assert_allclose(grown.score_samples(faithful), gm.score_samples(faithful))


@pytest.fixture(scope="module")
def faithful_sweep(faithful: np.ndarray):
    return select_model(faithful, range(1, 10), "all", random_state=0)


def test_a_sweeps_log_likelihood_never_decreases_with_k(faithful_sweep) -> None:
    for model in MCLUST_MODELS:
        lls = [
            r["log_likelihood"]
            for r in faithful_sweep.rows
            if r["covariance_type"] == model and r["error"] is None
        ]
        assert len(lls) >= 5
        assert all(b >= a - 1e-9 * abs(a) for a, b in itertools.pairwise(lls)), (model, lls)


def test_the_sweep_makes_mclusts_choice(faithful_sweep) -> None:
    """R mclust 6.0.0, ``Mclust(faithful)``: EEE with 3 components, log-likelihood
    -1126.326236 (a total) and BIC -2314.316296 (mclust's sign: minus gaussmix's)."""
    best = faithful_sweep.best_model
    assert (best.covariance_type, best.n_components) == ("EEE", 3)
    row = faithful_sweep.best
    assert row["log_likelihood"] >= -1126.326236 - 1e-6 * 1126.33
    assert row["bic"] <= 2314.316296 + 1e-6 * 2314.32


def test_a_races_start_i_does_not_depend_on_n_init(rng: np.random.Generator) -> None:
    """On data large enough that the starts race on a subsample, start ``i`` (its parameters
    at its first short-run iteration) is the same with 4 starts and with 8: the subsample
    depends on the data's size and ``n_components`` only."""
    X, _, _ = make_blobs(rng, n=12_000, d=3, k=4)
    firsts = []
    for n_init in (4, 8):
        events: list[FitEvent] = []
        GaussianMixture(4, n_init=n_init, random_state=3).fit(X, callback=events.append)
        first = {e.start: e for e in events if e.phase == "short" and e.iteration == 1}
        assert {e.n_rows for e in first.values()} == {race_sample_rows(12_000, 4)}
        firsts.append(first)
    assert race_sample_rows(12_000, 4) < 12_000
    for i in range(4):
        np.testing.assert_array_equal(firsts[0][i].means, firsts[1][i].means)
        np.testing.assert_array_equal(firsts[0][i].covariances, firsts[1][i].covariances)
        assert firsts[0][i].log_likelihood == firsts[1][i].log_likelihood


def test_a_race_on_several_threads_reports_as_one_after_another(
    rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The starts of a race round run side by side where there are cores, and their events and
    lines follow in start order: the same as when they run one after another (one thread)."""
    X, _, _ = make_blobs(rng, n=12_000, d=3, k=4)
    runs = []
    for workers in (2, 1):
        events: list[FitEvent] = []
        with threads.limited(workers):
            GaussianMixture(4, n_init=6, random_state=1, verbose=1).fit(X, callback=events.append)
        runs.append((events, capsys.readouterr().out))
    (parallel, said), (serial, said_serial) = runs
    assert said == said_serial and "Start 5" in said
    assert [(e.start, e.phase, e.iteration) for e in parallel] == [
        (e.start, e.phase, e.iteration) for e in serial
    ]
    # the same runs, up to the rounding of the frame (its sums are chunked by thread count)
    np.testing.assert_allclose(
        [e.log_likelihood for e in parallel], [e.log_likelihood for e in serial], rtol=1e-12
    )
    for a, b in zip(parallel, serial, strict=True):
        np.testing.assert_allclose(a.means, b.means, rtol=1e-12, atol=1e-12)
    assert len({e.start for e in parallel if e.phase == "short"}) == 6


def test_auto_grows_a_tree_on_small_data_not_on_a_races_subsample(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``init_params='auto'`` decides on the rows of the data: a race's subsample of no more
    than AUTO_TREE_ROWS rows, drawn from more, gets k-means++ starts only."""
    grown = []
    real = gaussmix_init.agglomerate

    def counting(*args: Any, **kwargs: Any) -> Any:
        grown.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(gaussmix_init, "agglomerate", counting)
    n = AUTO_TREE_ROWS + 1_000
    assert race_sample_rows(n, 3) <= AUTO_TREE_ROWS < n  # the race's sample is small
    X, _, _ = make_blobs(rng, n=n, d=2, k=3)
    GaussianMixture(3, random_state=0).fit(X)
    assert grown == []
    GaussianMixture(3, random_state=0).fit(X[:AUTO_TREE_ROWS])
    assert grown == [1]


# --------------------------------------------------------------------------- refinements


def test_falls_short_extrapolates_a_geometric_sequence() -> None:
    """A linearly converging sequence ``L - c r^t`` has Aitken's extrapolation ``L`` exactly:
    the run falls short of ``best`` only where ``best`` is beyond both margins above it."""
    limit, c, r = -2.0, 0.5, 0.9
    history = [limit - c * r**t for t in range(40, 43)]
    last = history[-1] - history[-2]
    left = limit - history[-1]
    reach = max(REFINE_GAP, REFINE_REACH * (last + left))
    assert left == pytest.approx(last * r / (1 - r))
    assert falls_short(history, history[-1] + reach * 1.01)
    assert not falls_short(history, history[-1] + reach * 0.99)
    assert not falls_short(history, -np.inf)
    # changes that do not shrink, or too few values, give no rate: never short
    assert not falls_short([-5.0, -4.9, -4.7], 10.0)
    assert not falls_short([-5.0, -4.9], 10.0)
    # no gain left: short of anything more than REFINE_GAP above it
    assert falls_short([-5.0, -4.0, -4.0], -4.0 + 1.01 * REFINE_GAP)
    assert not falls_short([-5.0, -4.0, -4.0], -4.0 + 0.99 * REFINE_GAP)


def _three_clusters(separation: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.875]]) * separation
    truth = rng.integers(0, 3, 900)
    return centres[truth] + rng.normal(size=(900, 2)), truth


def _refined_runs(X: np.ndarray, partitions: list[np.ndarray]) -> tuple[float, list[int]]:
    """The refined default-style run over starts from ``partitions`` (small data: each to
    convergence, refined): the retained log-likelihood and each start's iterations."""
    frame = Frame.from_data(X)
    Z = frame.to_internal(X)
    family = get_family("full")

    def start(labels: np.ndarray) -> Params:
        w = np.bincount(labels, minlength=3) / labels.size
        m = np.stack([Z[labels == j].mean(0) for j in range(3)])
        c = np.stack([np.cov(Z[labels == j].T, bias=True) for j in range(3)])
        return Params(w, m, c, family.precisions_cholesky(c)[0])

    events: list[FitEvent] = []
    best, _ = fit_multistart(
        ArraySource(X), MaximumLikelihood(family, internal_reg(1e-8, frame, frame)), frame,
        lambda rows, rngs: [start(p) for p in partitions], n_components=3,
        n_init=len(partitions), init_iter=None, max_iter=100, tol=1e-3,
        rng=np.random.default_rng(0), refine=1e-8, refine_iter=1000, callback=events.append,
    )  # fmt: skip
    return best.lower_bound, np.bincount([e.start for e in events]).tolist()


def test_a_start_far_below_the_best_is_not_refined() -> None:
    """Two components on one of three separated clusters is a poor optimum whose refinement
    crawls (over a thousand iterations alone); after a refined start at the true partition
    it stops within a few, and the retained fit is the true partition's."""
    X, truth = _three_clusters(8.0)
    poor = np.where(truth == 0, (X[:, 1] > np.median(X[truth == 0, 1])).astype(int), 2)
    alone, (n_alone,) = _refined_runs(X, [poor])
    good, (n_good,) = _refined_runs(X, [truth])
    both, (n_first, n_second) = _refined_runs(X, [truth, poor])
    assert alone < good - REFINE_GAP
    assert n_alone > 100
    assert n_second < 20
    assert both == good and n_first == n_good


def test_a_start_within_reach_of_the_best_is_refined() -> None:
    """With overlapping clusters the same poor partition ends, after a long crawl, at the
    best optimum: less than REFINE_GAP below it, it is refined until it reaches it."""
    X, truth = _three_clusters(3.0)
    poor = np.where(truth == 0, (X[:, 1] > np.median(X[truth == 0, 1])).astype(int), 2)
    good, _ = _refined_runs(X, [truth])
    alone, (n_alone,) = _refined_runs(X, [poor])
    _, (_, n_second) = _refined_runs(X, [truth, poor])
    assert alone == pytest.approx(good, abs=1e-8)
    assert n_alone > 50 and n_second > n_alone / 2  # refined most of the way, not abandoned
