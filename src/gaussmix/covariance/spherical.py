"""``spherical``: each component has a single variance (a multiple of the identity)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .._moments import MEAN_SQUARE
from .base import Array, CovarianceFamily


class Spherical(CovarianceFamily):
    """One variance per component."""

    name = "spherical"
    moments = MEAN_SQUARE

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components,)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components

    def estimate(self, scatter: Array, nk: Array, reg_covar: float) -> Array:
        # the mean-square layout's scatter is already the mean variance over features
        return np.asarray(scatter + reg_covar)

    def precisions_cholesky(self, covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
        ok = np.isfinite(covariances) & (covariances > 0)
        chol = 1.0 / np.sqrt(np.where(ok, covariances, 1.0))
        return chol, ~(ok & np.isfinite(chol))

    def covariances_from_cholesky(self, precisions_cholesky: Array) -> Array:
        return 1.0 / (precisions_cholesky * precisions_cholesky)

    def precisions(self, precisions_cholesky: Array) -> Array:
        return precisions_cholesky * precisions_cholesky

    def cholesky_from_precisions(self, precisions: Array) -> Array:
        return np.sqrt(precisions)

    def factors(self, precisions_cholesky: Array, n_components: int, n_features: int) -> Array:
        return np.repeat(precisions_cholesky[:, None], n_features, axis=1)

    def dense(self, covariances: Array, n_components: int, n_features: int) -> Array:
        eye = np.eye(n_features)
        return np.asarray(covariances, dtype=np.float64)[:, None, None] * eye

    def mean_variance(self, covariances: Array) -> float:
        return float(np.mean(covariances))

    def sample_noise(
        self, rng: np.random.Generator, covariances: Array, j: int, n: int, d: int
    ) -> Array:
        return rng.standard_normal((n, d)) * np.sqrt(covariances[j])

    def check_precisions(self, precisions: Array, n_components: int, n_features: int) -> None:
        self._check_shape(precisions, n_components, n_features, "precisions_init")
        if np.any(precisions <= 0):
            raise ValueError(
                "precisions_init must be strictly positive for 'spherical' covariances."
            )
