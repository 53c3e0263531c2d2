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
from gaussmix.engine import Frame
from gaussmix.init import AUTO_TREE_ROWS
from gaussmix.multistart import FitEvent, race_sample_rows
from gaussmix.nested import duplicate, split, split_order

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
