"""``diag``: each component has its own diagonal covariance matrix."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .._moments import DIAG
from .base import Array, CovarianceFamily


class Diag(CovarianceFamily):
    """One vector of ``d`` variances per component (axis-aligned ellipsoids)."""

    name = "diag"
    moments = DIAG

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features

    def estimate(self, scatter: Array, nk: Array, reg_covar: float) -> Array:
        return scatter + reg_covar

    def precisions_cholesky(self, covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
        ok = np.isfinite(covariances) & (covariances > 0)
        safe = np.where(ok, covariances, 1.0)
        chol = 1.0 / np.sqrt(safe)
        bad = ~(ok.reshape(ok.shape[0], -1).all(axis=1) & np.isfinite(chol).all(axis=-1))
        return chol, np.asarray(bad, dtype=bool)

    def covariances_from_cholesky(self, precisions_cholesky: Array) -> Array:
        return 1.0 / (precisions_cholesky * precisions_cholesky)

    def precisions(self, precisions_cholesky: Array) -> Array:
        return precisions_cholesky * precisions_cholesky

    def cholesky_from_precisions(self, precisions: Array) -> Array:
        return np.sqrt(precisions)

    def factors(self, precisions_cholesky: Array, n_components: int, n_features: int) -> Array:
        return precisions_cholesky

    def dense(self, covariances: Array, n_components: int, n_features: int) -> Array:
        out = np.zeros((n_components, n_features, n_features))
        out[:, np.arange(n_features), np.arange(n_features)] = covariances
        return out

    def mean_variance(self, covariances: Array) -> float:
        return float(np.mean(covariances))

    def sample_noise(
        self, rng: np.random.Generator, covariances: Array, j: int, n: int, d: int
    ) -> Array:
        return rng.standard_normal((n, d)) * np.sqrt(covariances[j])

    def check_precisions(self, precisions: Array, n_components: int, n_features: int) -> None:
        self._check_shape(precisions, n_components, n_features, "precisions_init")
        if np.any(precisions <= 0):
            raise ValueError("precisions_init must be strictly positive for 'diag' covariances.")
