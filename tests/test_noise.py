"""The noise component (mclust's Poisson noise): the pass's background column, the region,
the start rule, EM with noise, and the estimator around it.

References are independent: scipy's Gaussian densities and a uniform density written out
here for the pass, numpy's SVD for mclust's ``hypvol`` rule, scipy's KD-tree for the
nearest-neighbour distances, the plain fit for the invariants (noise fixed at 0, clean
data), and the known truth of synthetic contamination for recovery.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial import cKDTree
from scipy.special import logsumexp

from gaussmix import BayesianGaussianMixture, GaussianMixture, load, select_model
from gaussmix.covariance import get_family
from gaussmix.em import ConvergenceMonitor, EMState, run_em
from gaussmix.engine import Background, Frame, gaussian_terms, mixture_pass, numpy_kernels
from gaussmix.incomplete.source import IncompleteSource
from gaussmix.init import initialize
from gaussmix.io import ModelFileError
from gaussmix.noise.background import UniformBackground
from gaussmix.noise.region import NoiseRegion, bounding_box, fit_region
from gaussmix.noise.start import clutter, kth_neighbour_distance
from gaussmix.noise.strategy import NoiseMaximumLikelihood
from gaussmix.ondisk import NpySource
from gaussmix.params import Params
from gaussmix.sources import ArraySource
from gaussmix.strategy import MaximumLikelihood

from ._data import make_blobs

FULL = get_family("full").moments
SHARE = 0.05  # the contamination's share of the rows


def contaminated(
    rng: np.random.Generator, n: int = 1500, d: int = 2, share: float = SHARE
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Three compact clusters in a wide box, with ``share`` of the rows uniform over it:
    the rows, which of them are outliers, the clean rows and the true means."""
    means = np.array([[0.0, 0.0, 0.0], [8.0, 2.0, -3.0], [2.0, 9.0, 4.0]])[:, :d]
    labels = rng.integers(3, size=n)
    clean = means[labels] + rng.normal(size=(n, d)) @ np.diag([1.0, 0.6, 0.8][:d])
    m = round(share * n / (1 - share))
    low, high = clean.min(0) - 8.0, clean.max(0) + 8.0
    outliers = rng.uniform(low, high, size=(m, d))
    X = np.vstack([clean, outliers])
    return X, np.r_[np.zeros(n, bool), np.ones(m, bool)], clean, means


@pytest.fixture(scope="module")
def problem() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return contaminated(np.random.default_rng(7))


@pytest.fixture(scope="module")
def fitted(problem: Any) -> dict[str, GaussianMixture]:
    X, _, clean, _ = problem
    return {
        "noise": GaussianMixture(3, noise=True, random_state=0).fit(X),
        "plain": GaussianMixture(3, random_state=0).fit(X),
        "clean": GaussianMixture(3, random_state=0).fit(clean),
    }


def matched(means: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``means`` reordered to the nearest of ``truth`` (each used once)."""
    order = [int(np.argmin(((means - t) ** 2).sum(1))) for t in truth]
    assert sorted(order) == list(range(len(truth)))
    return means[order]


def reference_density(
    X: np.ndarray, model: GaussianMixture, volume: float, inside: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log-densities (n, k + 1) of components and background, and the log mixture density,
    from scipy's Gaussians and the uniform density written out."""
    dense = get_family(model.covariance_type).dense(
        np.asarray(model.covariances_, np.float64), model.n_components, X.shape[1]
    )
    columns = [
        np.log(w) + sps.multivariate_normal(m, c).logpdf(X)
        for w, m, c in zip(model.weights_, model.means_, dense, strict=True)
    ]
    background = np.where(inside, np.log(model.noise_weight_ / volume), -np.inf)
    logp = np.column_stack([*columns, background])
    return logp, logsumexp(logp, axis=1)


# ------------------------------------------------------------------ the pass's background


class Constant:
    """A background of one constant log-density (the simplest Background)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def log_density(self, x: np.ndarray, observed: np.ndarray | None = None) -> np.ndarray:
        return np.full(x.shape[0], self.value)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_background_column_in_both_kernels(covariance_type, dtype, rng):
    X, _, _ = make_blobs(rng, n=900, d=3, k=3, spread=3.0)
    X = X.astype(dtype)
    weights = rng.uniform(0.5, 2.0, size=X.shape[0])
    frame = Frame.from_data(X)
    family = get_family(covariance_type)
    (start,) = initialize(
        ArraySource(X), family, frame, 3, method="k-means++",
        rngs=[np.random.default_rng(1)], reg_covar=1e-6 / frame.scale**2,
    )  # fmt: skip
    assert isinstance(start, Params)
    start.weights = start.weights * 0.9
    log_bg = np.log(0.1 / 500.0)
    terms = gaussian_terms(start, family, Constant(log_bg))
    assert isinstance(terms.background, Background) and terms.n_columns == 4
    plain = gaussian_terms(start, family)
    options = {"resp": True, "log_density": True, "labels": True, "sample_weight": weights}
    got = mixture_pass(X, terms, frame, **options)
    with numpy_kernels():
        ref = mixture_pass(X, terms, frame, **options)
    bare = mixture_pass(X, plain, frame, **options)
    assert got.resp is not None and ref.resp is not None and bare.resp is not None
    assert got.log_density is not None and bare.log_density is not None
    # the background is one more column of the log-sum-exp: log(p + e^b), after the others
    expected = np.logaddexp(bare.log_density.astype(np.float64), log_bg)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.log_density, expected, rtol=tol)
    np.testing.assert_allclose(ref.log_density, expected, rtol=tol)
    resp_bg = np.exp(log_bg - expected)
    np.testing.assert_allclose(got.resp[:, 3], resp_bg, rtol=10 * tol, atol=1e-300)
    np.testing.assert_allclose(
        got.resp[:, :3], bare.resp * (1 - resp_bg)[:, None], rtol=10 * tol, atol=1e-7
    )
    np.testing.assert_allclose(got.resp, ref.resp, rtol=10 * tol, atol=1e-7)
    best = np.column_stack([got.resp[:, :3], got.resp[:, 3]]).argmax(axis=1)
    np.testing.assert_array_equal(got.labels, np.where(best == 3, -1, best))
    np.testing.assert_array_equal(got.labels, ref.labels)
    assert (got.labels == -1).any() and (got.labels >= 0).any()
    # statistics: the components' take their responsibilities, the background the rest
    assert got.stats is not None and ref.stats is not None
    r64 = got.resp.astype(np.float64)
    np.testing.assert_allclose(got.stats.N, weights @ r64[:, :3], rtol=1e-5)
    assert got.stats.background == pytest.approx(float(weights @ r64[:, 3]), rel=1e-5)
    np.testing.assert_allclose(got.stats.means(), ref.stats.means(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got.stats.scatter(), ref.stats.scatter(), rtol=1e-5, atol=1e-8)


def test_a_background_of_minus_infinity_changes_nothing(rng):
    X, _, _ = make_blobs(rng, n=600, d=3, k=3)
    frame = Frame.from_data(X)
    family = get_family("full")
    (start,) = initialize(
        ArraySource(X), family, frame, 3, method="k-means++",
        rngs=[np.random.default_rng(2)], reg_covar=1e-6,
    )  # fmt: skip
    assert isinstance(start, Params)
    options = {"resp": True, "log_density": True, "labels": True}
    for path in (False, True):
        with numpy_kernels() if path else _nothing():
            got = mixture_pass(
                X, gaussian_terms(start, family, Constant(-np.inf)), frame, **options
            )
            bare = mixture_pass(X, gaussian_terms(start, family), frame, **options)
        assert got.resp is not None and got.stats is not None and bare.stats is not None
        np.testing.assert_array_equal(got.log_density, bare.log_density)
        np.testing.assert_array_equal(got.resp[:, :3], bare.resp)
        np.testing.assert_array_equal(got.labels, bare.labels)
        np.testing.assert_array_equal(got.stats.N, bare.stats.N)
        assert abs(got.stats.background) < 1e-9 * X.shape[0]


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def test_uniform_background_contract():
    region = bounding_box(np.array([0.0, -1.0, 2.0]), np.array([2.0, 3.0, 7.0]))
    bg = UniformBackground(region, np.log(0.2))
    assert isinstance(bg, Background)
    x = np.array([[1.0, 0.0, 3.0], [3.0, 0.0, 3.0], [1.0, 0.0, np.nan]])
    out = bg.log_density(x[:2])
    assert out[0] == pytest.approx(np.log(0.2 / (2 * 4 * 5))) and out[1] == -np.inf
    # a marginal over the observed coordinates: the product of their sides
    observed = np.array([True, False, True])
    got = bg.log_density(np.array([[1.0, 99.0, 3.0], [1.0, 0.0, 8.0]]), observed)
    np.testing.assert_allclose(got, [np.log(0.2 / (2 * 5)), -np.inf])
    assert bg.log_density(x[:1], np.zeros(3, bool))[0] == pytest.approx(np.log(0.2))
    assert pickle.loads(pickle.dumps(bg)) == bg
    rotated = NoiseRegion(np.zeros(3), np.linalg.qr(np.ones((3, 3)) + np.eye(3))[0],
                          -np.ones(3), np.ones(3))  # fmt: skip
    with pytest.raises(ValueError, match="noise_region='box'"):
        UniformBackground(rotated, 0.0).log_density(x[:1], observed)


# ------------------------------------------------------------------ the region


def test_the_region_is_mclusts_hypvol(rng):
    # correlated rows: the box along the principal axes is the smaller
    X = rng.normal(size=(800, 3)) @ np.array([[2.0, 1.8, 0.0], [0.0, 0.5, 0.3], [0.0, 0.0, 1.0]])
    frame = Frame.from_data(X)
    region = fit_region(ArraySource(X), frame, FULL)
    box = np.log(X.max(0) - X.min(0)).sum()
    scores = (X - X.mean(0)) @ np.linalg.svd(X - X.mean(0), full_matrices=False)[2].T
    pca = np.log(scores.max(0) - scores.min(0)).sum()
    assert pca < box
    assert region.log_volume == pytest.approx(min(box, pca), rel=1e-10)
    assert not region.aligned and region.contains(X).all()
    assert np.isfinite(region.volume)
    only_box = fit_region(ArraySource(X), frame, FULL, "box")
    assert only_box.aligned and only_box.log_volume == pytest.approx(box, rel=1e-12)
    np.testing.assert_array_equal(only_box.lower, X.min(0))
    # rows of zero weight are not part of the region
    w = np.ones(len(X))
    far = int(np.argmax(X[:, 0]))
    w[far] = 0.0
    _, upper = ArraySource(X, w).extent()
    assert upper[0] == np.delete(X[:, 0], far).max()
    # uncorrelated rows in a box: the coordinate box is the smaller
    U = rng.uniform(size=(400, 2)) * [3.0, 1.0]
    assert fit_region(ArraySource(U), Frame.from_data(U), FULL).aligned
    # draws from the region lie in it
    assert region.contains(region.sample(rng, 200)).all()


def test_a_region_without_volume_is_refused(rng):
    X = rng.normal(size=(100, 3))
    X[:, 1] = 2.5
    with pytest.raises(ValueError, match="feature 1 takes a single value"):
        GaussianMixture(2, noise=True).fit(X)


# ------------------------------------------------------------------ the start rule


def test_kth_neighbour_distances_match_a_kd_tree(rng):
    Z = rng.normal(size=(700, 4))
    Z[5] = Z[6]  # a repeated row: its nearest neighbour is at 0
    got = kth_neighbour_distance(Z, 5)
    want = cKDTree(Z).query(Z, k=6)[0][:, 5]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_clutter_finds_uniform_rows_among_clusters(problem):
    X, outliers, _, _ = problem
    flagged = clutter(X)
    recall = flagged[outliers].mean()
    precision = outliers[flagged].mean()
    assert recall > 0.8 and precision > 0.5, (recall, precision)
    # dense rows only: no sparse process to find, or very few rows
    blob = np.random.default_rng(3).uniform(size=(600, 2))
    assert clutter(blob).mean() < 0.05


# ------------------------------------------------------------------ EM with noise


def test_noise_fixed_at_zero_is_the_plain_fit(problem):
    X = problem[0]
    frame = Frame.from_data(X)
    family = get_family("full")
    reg = 1e-6 / frame.scale**2
    (start,) = initialize(
        ArraySource(X), family, frame, 3, method="k-means++",
        rngs=[np.random.default_rng(4)], reg_covar=reg,
    )  # fmt: skip
    assert isinstance(start, Params)
    region = fit_region(ArraySource(X), frame, FULL)
    runs = []
    for strategy in (
        MaximumLikelihood(family, reg),
        NoiseMaximumLikelihood(family, reg, region, fixed_noise=0.0),
    ):
        state = EMState(strategy.start(start.copy()), ConvergenceMonitor(tol=0.0, max_iter=25))
        run_em(ArraySource(X), state, strategy, frame)
        runs.append((state.monitor.history, strategy.point_estimate(state.params)))
    (h0, p0), (h1, p1) = runs
    np.testing.assert_array_equal(h0, h1)
    for a, b in ((p0.weights, p1.weights), (p0.means, p1.means), (p0.covariances, p1.covariances)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied", "VEV", "EVE"])
def test_the_log_likelihood_never_decreases_with_noise(covariance_type, problem):
    X = problem[0]
    model = GaussianMixture(
        3, covariance_type=covariance_type, noise=True, n_init=1, tol=0.0, max_iter=30,
        random_state=1,
    )  # fmt: skip
    with pytest.warns(Warning):  # ConvergenceWarning: tol=0 never converges
        model.fit(X)
    history = np.asarray(model.history_)
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[1:]))
    assert model.score(X) >= history[-1] - 1e-10  # the last M-step raised it further
    assert model.weights_.sum() + model.noise_weight_ == pytest.approx(1.0, abs=1e-12)


def test_clean_data_keeps_noise_near_zero_and_the_plain_fit(problem, fitted):
    _, _, clean, means = problem
    noisy = GaussianMixture(3, noise=True, random_state=0).fit(clean)
    plain = fitted["clean"]
    assert noisy.noise_weight_ < 0.01
    np.testing.assert_allclose(
        matched(noisy.means_, means), matched(plain.means_, means), atol=0.05
    )
    order = [int(np.argmin(((plain.means_ - m) ** 2).sum(1))) for m in noisy.means_]
    np.testing.assert_allclose(noisy.covariances_, plain.covariances_[order], rtol=0.1, atol=0.02)


def test_contamination_is_taken_by_the_noise_component(problem, fitted):
    X, outliers, _, means = problem
    noisy, plain, clean = fitted["noise"], fitted["plain"], fitted["clean"]
    # the outlier share is recovered
    assert noisy.noise_weight_ == pytest.approx(SHARE, abs=0.015)
    # the components stay near the clean fit, where plain EM is pulled away
    reference = matched(clean.means_, means)

    def nearest(model: GaussianMixture) -> np.ndarray:
        """Each clean component's nearest component of ``model``."""
        return np.array([int(np.argmin(((model.means_ - r) ** 2).sum(1))) for r in reference])

    def mean_error(model: GaussianMixture) -> float:
        return float(np.abs(model.means_[nearest(model)] - reference).max())

    def spread_error(model: GaussianMixture) -> float:
        ref = np.linalg.slogdet(clean.covariances_[nearest(clean)])[1]
        return float(np.abs(np.linalg.slogdet(model.covariances_[nearest(model)])[1] - ref).max())

    assert mean_error(noisy) < 0.1 < mean_error(plain)
    assert spread_error(noisy) < 0.15 < spread_error(plain)
    # outliers labelled -1: most of them (those in the clusters cannot be), few others
    labels = noisy.predict(X)
    recall = (labels[outliers] == -1).mean()
    precision = outliers[labels == -1].mean()
    assert recall > 0.8 and precision > 0.9, (recall, precision)


def test_predictions_are_the_mixture_with_its_background(problem, fitted):
    X = problem[0]
    model = fitted["noise"]
    region = model.noise_region_
    probe = np.vstack([X[:300], region.centre + 1e3, X.min(0) - 1.0])
    inside = region.contains(probe)
    assert inside[:300].all() and not inside[300:].any()
    logp, lse = reference_density(probe, model, region.volume, inside)
    np.testing.assert_allclose(model.score_samples(probe), lse, rtol=1e-10)
    proba = model.predict_proba(probe)
    assert proba.shape == (len(probe), 4)
    np.testing.assert_allclose(proba, np.exp(logp - lse[:, None]), atol=1e-12)
    best = logp.argmax(axis=1)
    np.testing.assert_array_equal(model.predict(probe), np.where(best == 3, -1, best))
    # outside the region the background is zero: the components' density alone
    assert proba[300:, 3].max() < 1e-300 and (model.predict(probe[300:]) >= 0).all()
    assert model.score(X) == pytest.approx(model.score_samples(X).mean(), rel=1e-12)
    assert model.n_parameters() == fitted["plain"].n_parameters() + 2
    n = len(X)
    bic = -2 * model.score(X) * n + model.n_parameters() * np.log(n)
    assert model.bic(X) == pytest.approx(bic, rel=1e-12)


def test_sampling_draws_noise_from_the_region(fitted):
    model = fitted["noise"]
    rows, labels = model.sample(4000, random_state=3)
    share = (labels == -1).mean()
    assert share == pytest.approx(model.noise_weight_, abs=0.015)
    assert model.noise_region_.contains(rows[labels == -1]).all()
    assert set(np.unique(labels)) == {-1, 0, 1, 2}


def test_float32_input_keeps_float32_and_the_same_fit(problem, fitted):
    X = problem[0]
    model = GaussianMixture(3, noise=True, random_state=0).fit(X.astype(np.float32))
    assert model.means_.dtype == np.float32
    assert model.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert model.noise_weight_ == pytest.approx(fitted["noise"].noise_weight_, rel=1e-3)


def test_chunk_size_and_threads_do_not_change_the_fit(problem):
    X = problem[0][:900]
    kw = {"noise": True, "random_state": 2, "init_params": "random", "n_init": 2}
    base = GaussianMixture(3, **kw).fit(X)
    for other in (GaussianMixture(3, chunk_size=61, **kw).fit(X),):
        np.testing.assert_allclose(other.means_, base.means_, rtol=1e-8, atol=1e-10)
        assert other.noise_weight_ == pytest.approx(base.noise_weight_, rel=1e-8)
    frame = Frame.from_data(X)
    terms = base._pass_terms(frame)
    one, many = (mixture_pass(X, terms, frame, resp=True, n_threads=t) for t in (1, 4))
    assert one.stats is not None and many.stats is not None
    np.testing.assert_array_equal(one.resp, many.resp)
    assert one.stats.background == many.stats.background


def test_missing_values_use_the_box_marginal(rng, problem):
    X = problem[0].copy()
    X[rng.random(X.shape) < 0.1] = np.nan
    X[3] = np.nan  # nothing observed
    model = GaussianMixture(3, noise=True, random_state=0).fit(X)
    region = model.noise_region_
    assert region.aligned and model.n_empty_rows_ == np.isnan(X).all(axis=1).sum()
    history = np.asarray(model.history_)
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[1:]))
    assert model.noise_weight_ == pytest.approx(SHARE, abs=0.02)
    # a row with its second value missing: the components' marginals and the box's
    rows = np.array([[1.0, np.nan], [np.nan, np.nan], [np.nan, 2.0]])
    proba = model.predict_proba(rows)
    logp = [
        np.log(w) + sps.norm(m[0], np.sqrt(c[0, 0])).logpdf(1.0)
        for w, m, c in zip(model.weights_, model.means_, model.covariances_, strict=True)
    ]
    logp.append(np.log(model.noise_weight_ / region.sides[0]))
    np.testing.assert_allclose(proba[0], np.exp(np.array(logp) - logsumexp(logp)), rtol=1e-9)
    np.testing.assert_allclose(proba[1], [*model.weights_, model.noise_weight_], rtol=1e-12)
    assert model.score_samples(rows)[0] == pytest.approx(logsumexp(logp), rel=1e-10)
    # the incomplete source's statistics leave the background its share
    source = IncompleteSource(X)
    result = source.mixture_pass(model._pass_terms(Frame.from_data(X, missing="observed")),
                                 Frame.from_data(X, missing="observed"), resp=True)  # fmt: skip
    assert result.stats is not None and result.resp is not None
    used = ~np.isnan(X).all(axis=1)
    assert result.stats.background == pytest.approx(result.resp[used, 3].sum(), rel=1e-9)


def test_a_rotated_region_refuses_missing_values_with_the_fix(rng):
    X = rng.normal(size=(500, 2)) @ np.array([[2.0, 1.9], [0.0, 0.3]])
    model = GaussianMixture(1, noise=True, random_state=0).fit(X)
    assert not model.noise_region_.aligned
    rows = np.array([[0.0, np.nan], [np.nan, 1.0]])
    with pytest.raises(ValueError, match="noise_region='box'"):
        model.predict(rows)
    boxed = GaussianMixture(1, noise=True, noise_region="box", random_state=0).fit(X)
    assert boxed.predict(rows).shape == (2,)


def test_warm_start_continues_with_noise(problem, fitted):
    X = problem[0]
    model = GaussianMixture(3, random_state=0, warm_start=True).fit(X)
    plain = model.score(X)
    model.set_params(noise=True, tol=1e-7, max_iter=500)
    model.fit(X)
    # from the plain fit (pulled by the outliers) EM finds the noise, if not all of it
    assert model.noise_weight_ > 0.6 * SHARE and model.score(X) > plain
    before = model.noise_weight_
    model.fit(X)  # a warm start with noise goes on from its noise weight
    assert model.noise_weight_ == pytest.approx(before, abs=1e-3)


# ------------------------------------------------------------------ selection and files


def test_selection_counts_the_noise_components_parameters(problem):
    X = problem[0][:600]
    result = select_model(X, [1, 2, 3], ["VVV", "EII"], noise=True, random_state=0, n_init=4)
    plain = select_model(X, [1, 2, 3], ["VVV", "EII"], random_state=0, n_init=4)
    n = len(X)
    for row, other, model in zip(result.rows, plain.rows, result.models, strict=True):
        assert row["n_parameters"] == other["n_parameters"] + 2
        assert model is not None and model.noise_region_ is not None
        assert row["bic"] == pytest.approx(
            -2 * row["log_likelihood"] + row["n_parameters"] * np.log(n), rel=1e-12
        )
        assert row["bic"] == pytest.approx(model.bic(X), rel=1e-9)
    assert result.best["n_components"] == 3


def test_save_load_round_trip_is_exact(tmp_path: Path, problem, fitted):
    X = problem[0]
    model = fitted["noise"]
    path = model.save(tmp_path / "noise.gmm")
    loaded = load(path)
    assert loaded.noise_weight_ == model.noise_weight_
    for name in ("centre", "axes", "lower", "upper"):
        np.testing.assert_array_equal(
            getattr(loaded.noise_region_, name), getattr(model.noise_region_, name)
        )
    np.testing.assert_array_equal(loaded.weights_, model.weights_)
    assert loaded.get_params()["noise"] is True
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.bic(X) == pytest.approx(model.bic(X), rel=1e-12)
    header = json.loads(zipfile.ZipFile(path).read("gaussmix.json"))
    assert header["noise"]["log_volume"] == model.noise_region_.log_volume
    # a plain model's file has no noise key nor noise parameters (readable as before)
    plain = json.loads(zipfile.ZipFile(fitted["plain"].save(tmp_path / "p.gmm")).read(
        "gaussmix.json"))  # fmt: skip
    assert "noise" not in plain and "noise" not in plain["params"]
    assert load(tmp_path / "p.gmm").noise_region_ is None


def _edited(path: Path, out: Path, edit: Any) -> Path:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    header = json.loads(members["gaussmix.json"])
    edit(header)
    members["gaussmix.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: h["noise"].update(weight=0.5), "sum to 1 less the noise weight"),
        (lambda h: h["noise"].update(weight=1.5), r"must lie in \[0, 1\]"),
        (lambda h: h["noise"].update(log_volume=1.0), "is not that of its region"),
        (lambda h: h["noise"]["region"].update(lower=[0.0]), "region.lower must be"),
        (lambda h: h["noise"].pop("region"), "must be"),
        (lambda h: h["noise"]["region"]["axes"][0].__setitem__(0, 2.0), "orthonormal"),
    ],
)
def test_edited_noise_fields_are_refused(tmp_path: Path, fitted, edit, message):
    path = fitted["noise"].save(tmp_path / "noise.gmm")
    with pytest.raises(ModelFileError, match=message):
        load(_edited(path, tmp_path / "edited.gmm", edit))


# ------------------------------------------------------------------ with the other features


def test_imputation_completes_rows_as_cluster_members(problem, fitted):
    """A noise model fills a missing value with the components' conditional means weighted
    by their posteriors on the observed value, renormalised without the noise column
    (scipy's densities as the reference); draws come from the same components."""
    model = fitted["noise"]
    rows = np.array([[1.0, np.nan], [np.nan, 7.5], [30.0, np.nan]])
    filled = model.impute(rows)
    for i, (o, m) in enumerate([(0, 1), (1, 0), (0, 1)]):
        x = rows[i, o]
        logr = [
            np.log(w) + sps.norm(mu[o], np.sqrt(c[o, o])).logpdf(x)
            for w, mu, c in zip(model.weights_, model.means_, model.covariances_, strict=True)
        ]
        r = np.exp(np.array(logr) - logsumexp(logr))
        cond = [mu[m] + c[m, o] / c[o, o] * (x - mu[o])
                for mu, c in zip(model.means_, model.covariances_, strict=True)]  # fmt: skip
        assert filled[i, m] == pytest.approx(float(r @ np.array(cond)), rel=1e-9)
        assert filled[i, o] == rows[i, o]
    draws = model.impute(rows, n_draws=4, random_state=0)
    assert draws.shape == (4, 3, 2) and np.isfinite(draws).all()


def test_tail_probabilities_of_a_noise_model_are_refused_with_the_fix(fitted):
    model = fitted["noise"]
    rows = np.array([[1.0, np.nan], [0.0, 0.0]])
    for method in (model.tail_probability, model.is_anomaly):
        with pytest.raises(ValueError, match=r"noise component.*predict\(X\) == -1"):
            method(rows)


def test_stepwise_em_is_refused_with_noise_naming_the_fix(problem, fitted):
    X = problem[0]
    with pytest.raises(ValueError, match="batch_size=None"):
        GaussianMixture(3, noise=True, batch_size=200).fit(X)
    for model in (GaussianMixture(3, noise=True), fitted["noise"]):
        before = getattr(model, "noise_weight_", None)
        with pytest.raises(ValueError, match=r"partial_fit.*noise=False"):
            model.partial_fit(X[:100])
        assert getattr(model, "noise_weight_", None) == before
    with pytest.raises(TypeError, match="noise"):
        BayesianGaussianMixture(3, noise=True)  # type: ignore[call-arg]


def test_out_of_core_rows_give_the_in_memory_fit(tmp_path: Path, problem, fitted):
    """A memory map and a .npy file read in blocks (the region from every block's extent)
    fit the same noise model as the rows in memory."""
    X = problem[0]
    path = tmp_path / "rows.npy"
    np.save(path, X)
    ref = fitted["noise"]
    for rows in (np.load(path, mmap_mode="r"), NpySource(path, block_rows=256)):
        model = GaussianMixture(3, noise=True, random_state=0).fit(rows)
        assert model.noise_region_ == ref.noise_region_
        assert model.noise_weight_ == pytest.approx(ref.noise_weight_, rel=1e-9)
        np.testing.assert_allclose(model.means_, ref.means_, rtol=1e-9, atol=1e-9)
