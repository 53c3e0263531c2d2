"""``full``: each component has its own unrestricted covariance matrix."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .._moments import FULL
from ._dense import (
    factor_from_precision,
    is_positive_definite,
    precision_factors,
    symmetric_from_factor,
)
from .base import Array, CovarianceFamily


class Full(CovarianceFamily):
    """One ``(d, d)`` covariance matrix per component."""

    name = "full"
    moments = FULL

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features, n_features)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features * (n_features + 1) // 2

    def estimate(self, scatter: Array, nk: Array, reg_covar: float) -> Array:
        cov = scatter.copy()
        d = cov.shape[-1]
        cov[:, np.arange(d), np.arange(d)] += reg_covar
        return cov

    def precisions_cholesky(self, covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
        return precision_factors(np.asarray(covariances, dtype=np.float64))

    def covariances_from_cholesky(self, precisions_cholesky: Array) -> Array:
        return np.stack([symmetric_from_factor(u) for u in precisions_cholesky])

    def precisions(self, precisions_cholesky: Array) -> Array:
        return np.matmul(precisions_cholesky, np.swapaxes(precisions_cholesky, -1, -2))

    def cholesky_from_precisions(self, precisions: Array) -> Array:
        return np.stack([factor_from_precision(p) for p in precisions])

    def factors(self, precisions_cholesky: Array, n_components: int, n_features: int) -> Array:
        return precisions_cholesky

    def dense(self, covariances: Array, n_components: int, n_features: int) -> Array:
        return np.array(covariances, dtype=np.float64)

    def mean_variance(self, covariances: Array) -> float:
        return float(np.mean(np.diagonal(covariances, axis1=-2, axis2=-1)))

    def sample_noise(
        self, rng: np.random.Generator, covariances: Array, j: int, n: int, d: int
    ) -> Array:
        low = np.linalg.cholesky(covariances[j])
        return rng.standard_normal((n, d)) @ low.T

    def check_precisions(self, precisions: Array, n_components: int, n_features: int) -> None:
        self._check_shape(precisions, n_components, n_features, "precisions_init")
        for j, p in enumerate(precisions):
            if not is_positive_definite(p):
                raise ValueError(
                    f"precisions_init[{j}] is not symmetric positive-definite; "
                    "pass the inverse of a valid covariance matrix."
                )
