"""Same initial parameters, same fixed iterations: gaussmix equals scikit-learn to 1e-8."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import COVARIANCE_TYPES, GaussianMixture
from tests._data import make_blobs

RTOL = 1e-8
#: scikit-learn's default regularisation, an absolute variance: given to both explicitly,
#: since gaussmix's default ("auto") is relative to the data's variances
REG = 1e-6


def _sk_start(X: np.ndarray, k: int, cov: str, seed: int) -> dict[str, np.ndarray]:
    """Initial parameters: one sklearn EM iteration from its k-means start."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkGaussianMixture(k, covariance_type=cov, max_iter=1, random_state=seed, reg_covar=REG)
        sk.fit(X)
    return {
        "weights_init": sk.weights_,
        "means_init": sk.means_,
        "precisions_init": sk.precisions_,
    }


def _fit_both(X, k, cov, n_iter, start, **gm_kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkGaussianMixture(
            k, covariance_type=cov, tol=0, max_iter=n_iter, reg_covar=REG, **start
        ).fit(X)
        gm = GaussianMixture(
            k, covariance_type=cov, tol=0, max_iter=n_iter, reg_covar=REG, **start, **gm_kwargs
        )
        gm.fit(X)
    return sk, gm


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
@pytest.mark.parametrize(("n", "d", "k"), [(900, 3, 3), (400, 5, 4), (300, 1, 2)])
def test_same_start_same_result(rng, cov, n, d, k):
    X, _, _ = make_blobs(rng, n=n, d=d, k=k, spread=3.0)
    start = _sk_start(X, k, cov, seed=1)
    sk, gm = _fit_both(X, k, cov, 15, start)
    assert gm.n_iter_ == sk.n_iter_ == 15
    np.testing.assert_allclose(gm.weights_, sk.weights_, rtol=RTOL)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(gm.precisions_cholesky_, sk.precisions_cholesky_, rtol=1e-7)
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=RTOL)
    np.testing.assert_allclose(gm.history_, sk.lower_bounds_, rtol=RTOL)
    # log-densities near zero: compare absolutely too (1e-8 nats)
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=RTOL, atol=1e-8)
    np.testing.assert_allclose(gm.predict_proba(X), sk.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))
    np.testing.assert_allclose(gm.bic(X), sk.bic(X), rtol=RTOL)
    np.testing.assert_allclose(gm.aic(X), sk.aic(X), rtol=RTOL)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
@pytest.mark.parametrize("kernel_chunk", [7, 100, None])
def test_agreement_does_not_depend_on_chunk_size(rng, cov, kernel_chunk):
    X, _, _ = make_blobs(rng, n=500, d=4, k=3, spread=4.0)
    start = _sk_start(X, 3, cov, seed=2)
    sk, gm = _fit_both(X, 3, cov, 10, start, chunk_size=kernel_chunk)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=RTOL)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_float32_input_agrees_with_float64_reference(rng, cov):
    X, _, _ = make_blobs(rng, n=800, d=3, k=3, spread=4.0)
    X32 = X.astype(np.float32)
    start = _sk_start(X32.astype(np.float64), 3, cov, seed=3)
    sk, _ = _fit_both(X32.astype(np.float64), 3, cov, 10, start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, covariance_type=cov, tol=0, max_iter=10, reg_covar=REG, **start)
        gm.fit(X32)
    assert gm.means_.dtype == np.float32 and gm.covariances_.dtype == np.float32
    # statistics are float64: only the final rounding of the attributes to float32 differs,
    # and for full models the log-densities' products in float32 lanes
    # (engine.FLOAT32_PRODUCTS_COND; measured 5e-9 relative on the lower bound here, the
    # issue's bound for float32 input is 1e-5)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=1e-5, atol=1e-6)
    rtol = 1e-7 if cov == "full" else 1e-10
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=rtol)
