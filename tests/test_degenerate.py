"""Degenerate and badly scaled data fit to finite parameters for every covariance type.

Warnings are errors (``pyproject.toml``), so any RuntimeWarning from numpy inside the library
(overflow, division by zero, invalid value) fails these tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gaussmix import (
    COVARIANCE_TYPES,
    DegenerateMixtureError,
    GaussianMixture,
    SingularCovarianceWarning,
)

from ._data import make_blobs
from .test_mclust_models import OTHER_MODELS

Maker = Callable[[np.random.Generator], tuple[np.ndarray, int]]


def _constant_columns(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    X = make_blobs(rng, n=60, d=3, k=2)[0]
    X[:, 1] = 7.0
    X[:, 2] = 0.0
    return X, 2


def _all_constant(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    return np.full((20, 3), -4.5), 2


def _duplicate_rows(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    X = make_blobs(rng, n=12, d=2, k=2)[0]
    return np.repeat(X, 5, axis=0), 3


def _collinear_columns(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    X = make_blobs(rng, n=60, d=2, k=2)[0]
    return np.c_[X[:, 0], 2.0 * X[:, 0] - 1.0, X[:, 1], X[:, 0] + X[:, 1]], 2


def _few_distinct_points(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    points = rng.normal(size=(3, 2)) * 5
    return np.repeat(points, 10, axis=0), 5


def _float32_far_from_origin(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    X = make_blobs(rng, n=80, d=2, k=2, spread=3.0)[0]
    return (1e4 + X).astype(np.float32), 2


def _tiny_clusters_far_apart(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    a = rng.normal(0.0, 1e-3, size=(30, 2))
    b = rng.normal(1e6, 1e-3, size=(30, 2))
    return np.r_[a, b], 2


def _scaled(factor: float) -> Maker:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, int]:
        return make_blobs(rng, n=60, d=2, k=2)[0] * factor, 2

    return make


CASES: dict[str, Maker] = {
    "constant-columns": _constant_columns,
    "all-rows-identical": _all_constant,
    "duplicate-rows": _duplicate_rows,
    "collinear-columns": _collinear_columns,
    "3-distinct-points-k5": _few_distinct_points,
    "float32-at-1e4": _float32_far_from_origin,
    "tiny-variance-1e6-apart": _tiny_clusters_far_apart,
    "scaled-1e-150": _scaled(1e-150),
    "scaled-1e150": _scaled(1e150),
}


def assert_finite_fit(model: GaussianMixture, X: np.ndarray) -> None:
    for attr in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        value = getattr(model, attr)
        assert np.isfinite(value).all(), f"{attr} is not finite: {value}"
    assert np.isclose(model.weights_.sum(), 1.0, rtol=1e-5)
    assert np.isfinite(model.lower_bound_)
    logd = model.score_samples(X)
    proba = model.predict_proba(X)
    assert np.isfinite(logd).all()
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    labels = model.predict(X)
    assert labels.min() >= 0 and labels.max() < model.n_components
    assert np.isfinite(model.score(X))
    assert np.isfinite(model.bic(X))


# degenerate data: a start (the hierarchical one splits identical rows anyhow) may leave a
# component too few rows, which the fit rightly warns about; the fit must still be finite
@pytest.mark.filterwarnings("ignore::gaussmix.SingularCovarianceWarning")
@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, *OTHER_MODELS])
@pytest.mark.parametrize("case", list(CASES))
def test_degenerate_data_fits(rng: np.random.Generator, case: str, covariance_type: str) -> None:
    X, k = CASES[case](rng)
    model = GaussianMixture(k, covariance_type=covariance_type, n_init=2, random_state=0)
    model.fit(X)
    assert_finite_fit(model, X)
    assert model.means_.dtype == X.dtype


@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, *OTHER_MODELS])
@pytest.mark.parametrize("init_params", ["kmeans", "random", "random_from_data"])
def test_few_distinct_points_every_init(
    rng: np.random.Generator, covariance_type: str, init_params: str
) -> None:
    X, k = _few_distinct_points(rng)
    model = GaussianMixture(
        k, covariance_type=covariance_type, init_params=init_params, n_init=1, random_state=0
    )
    with warnings.catch_warnings():
        # scikit-learn's KMeans (init_params="kmeans") rightly reports that it found only 3
        # distinct clusters for 5 centres; that is a data warning, not a numerical defect
        warnings.filterwarnings(
            "ignore", "Number of distinct clusters", category=ConvergenceWarning
        )
        # 3 distinct points for 5 components: some are left with too few rows, which the
        # fit rightly reports
        warnings.simplefilter("ignore", SingularCovarianceWarning)
        model.fit(X)
    assert_finite_fit(model, X)


@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, *OTHER_MODELS])
def test_scaled_data_gives_scaled_model(rng: np.random.Generator, covariance_type: str) -> None:
    """Scaling X by 1e±150 scales the fitted means and covariances, with an absolute
    reg_covar scaled too (the default, relative one follows the data: tests/test_scale.py)."""
    X = make_blobs(rng, n=60, d=2, k=2)[0]
    # tol given: the refinement of tol=None stops where rounding decides, not the scale
    params = {"covariance_type": covariance_type, "n_init": 1, "random_state": 0, "tol": 1e-3}
    ref = GaussianMixture(2, reg_covar=1e-6, **params).fit(X)
    for factor in (1e-150, 1e150):
        model = GaussianMixture(2, reg_covar=1e-6 * factor**2, **params).fit(X * factor)
        np.testing.assert_allclose(model.weights_, ref.weights_, rtol=1e-6)
        np.testing.assert_allclose(model.means_ / factor, ref.means_, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(model.covariances_ / factor**2, ref.covariances_, rtol=1e-6)
        np.testing.assert_allclose(model.predict_proba(X * factor), ref.predict_proba(X), atol=1e-8)


# degenerate data: a start (the hierarchical one splits identical rows anyhow) may leave a
# component too few rows, which the fit rightly warns about; the fit must still be finite
@pytest.mark.filterwarnings("ignore::gaussmix.SingularCovarianceWarning")
@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, *OTHER_MODELS])
def test_collapsed_component_is_reseeded(rng: np.random.Generator, covariance_type: str) -> None:
    """A component whose mean is far from all data gets no rows: it is re-seeded."""
    X = np.r_[rng.normal(0.0, 1.0, (40, 2)), rng.normal(8.0, 1.0, (40, 2))]
    model = GaussianMixture(
        3,
        covariance_type=covariance_type,
        means_init=[[0.0, 0.0], [8.0, 8.0], [1e3, 1e3]],
        weights_init=[0.4, 0.4, 0.2],
        random_state=0,
    ).fit(X)
    assert model.reseeds_, "the component at (1e3, 1e3) should have been re-seeded"
    assert all(j == 2 for _, j in model.reseeds_)
    assert_finite_fit(model, X)
    assert model.weights_[2] > 0
    assert np.abs(model.means_).max() < 20  # moved onto the data


# degenerate data: a start (the hierarchical one splits identical rows anyhow) may leave a
# component too few rows, which the fit rightly warns about; the fit must still be finite
@pytest.mark.filterwarnings("ignore::gaussmix.SingularCovarianceWarning")
@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, *OTHER_MODELS])
@pytest.mark.parametrize("n_components", [1, 2])
def test_unrecoverable_degeneracy_raises(covariance_type: str, n_components: int) -> None:
    X = np.full((10, 2), 3.0)
    model = GaussianMixture(n_components, covariance_type=covariance_type, reg_covar=0.0)
    with pytest.raises(DegenerateMixtureError, match=r"Component \d+ .*increase reg_covar"):
        model.fit(X)
    assert issubclass(DegenerateMixtureError, ValueError)
    assert not hasattr(model, "means_")  # no half-fitted state left behind
    # the advice works: the same data fits once reg_covar > 0
    model.set_params(reg_covar=1e-6)
    assert_finite_fit(model.fit(X), X)


@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, *OTHER_MODELS])
def test_far_rows_with_zero_weight_change_nothing(
    rng: np.random.Generator, covariance_type: str
) -> None:
    X = np.r_[rng.normal(0.0, 1.0, (30, 2)), rng.normal(6.0, 1.0, (30, 2))]
    X_far = np.r_[X, np.full((5, 2), 1e100)]
    sw = np.r_[np.ones(len(X)), np.zeros(5)]
    params = {"covariance_type": covariance_type, "means_init": [[0.0, 0.0], [6.0, 6.0]]}
    ref = GaussianMixture(2, **params).fit(X)
    model = GaussianMixture(2, **params).fit(X_far, sample_weight=sw)
    assert_finite_fit(model, X)
    np.testing.assert_allclose(model.means_, ref.means_, atol=1e-10)
    np.testing.assert_allclose(model.covariances_, ref.covariances_, atol=1e-10)


@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, *OTHER_MODELS])
def test_single_feature(rng: np.random.Generator, covariance_type: str) -> None:
    X = np.r_[rng.normal(-5, 1, 30), rng.normal(5, 1, 30)][:, None]
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert_finite_fit(model, X)


@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, *OTHER_MODELS])
def test_prediction_far_from_every_component(
    rng: np.random.Generator, covariance_type: str
) -> None:
    """Rows far outside the training data get finite log-densities and valid probabilities."""
    X = make_blobs(rng, n=60, d=2, k=2)[0]
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    far = np.array([[1e6, -1e6], [1e12, 1e12], [-1e15, 0.0]])
    logd = model.score_samples(far)
    proba = model.predict_proba(far)
    assert np.isfinite(logd).all() and (logd < -1e3).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
