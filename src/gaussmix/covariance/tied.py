"""``tied``: all components share one covariance matrix."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .._moments import POOLED
from ._dense import (
    factor_from_precision,
    is_positive_definite,
    precision_factor,
    symmetric_from_factor,
)
from .base import Array, CovarianceFamily


class Tied(CovarianceFamily):
    """A single ``(d, d)`` covariance matrix shared by every component."""

    name = "tied"
    moments = POOLED

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_features, n_features)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_features * (n_features + 1) // 2

    def estimate(self, scatter: Array, nk: Array, reg_covar: float) -> Array:
        # the pooled layout's scatter is already the weighted mean over components
        cov = np.array(scatter, dtype=np.float64)
        d = cov.shape[-1]
        cov[np.arange(d), np.arange(d)] += reg_covar
        return np.asarray(cov)

    def precisions_cholesky(self, covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
        factor = precision_factor(covariances)
        # The mask is per component; a shared covariance fails for all of them at once.
        if factor is None:
            return np.eye(covariances.shape[0]), np.ones(1, dtype=bool)
        return factor, np.zeros(1, dtype=bool)

    def covariances_from_cholesky(self, precisions_cholesky: Array) -> Array:
        return symmetric_from_factor(precisions_cholesky)

    def precisions(self, precisions_cholesky: Array) -> Array:
        return precisions_cholesky @ precisions_cholesky.T

    def cholesky_from_precisions(self, precisions: Array) -> Array:
        return factor_from_precision(precisions)

    def factors(self, precisions_cholesky: Array, n_components: int, n_features: int) -> Array:
        d = precisions_cholesky.shape[0]
        return np.broadcast_to(precisions_cholesky, (n_components, d, d))

    def dense(self, covariances: Array, n_components: int, n_features: int) -> Array:
        d = n_features
        return np.array(np.broadcast_to(covariances, (n_components, d, d)), dtype=np.float64)

    def mean_variance(self, covariances: Array) -> float:
        return float(np.mean(np.diagonal(covariances)))

    def sample_noise(
        self, rng: np.random.Generator, covariances: Array, j: int, n: int, d: int
    ) -> Array:
        low = np.linalg.cholesky(covariances)
        return rng.standard_normal((n, d)) @ low.T

    def check_precisions(self, precisions: Array, n_components: int, n_features: int) -> None:
        self._check_shape(precisions, n_components, n_features, "precisions_init")
        if not is_positive_definite(precisions):
            raise ValueError(
                "precisions_init is not symmetric positive-definite; "
                "pass the inverse of a valid covariance matrix."
            )

    def reseed_covariance(self, covariances: Array, j: int, weights: Array) -> Array:
        # The shared covariance is not the component's own: re-seeding moves only its mean.
        return covariances
