"""How covariances are stored: dense matrices or diagonals, per component or shared.

A storage owns everything about the covariance arrays that does not depend on how they are
estimated: their shape, the maps between covariances, precisions and precision Cholesky
factors, the per-component factors the engine takes, the dense form, sampling and the checks
of user-given precisions.  A covariance family (:mod:`gaussmix.covariance.base`) pairs one
storage with a constraint: the M-step and the parameter count.

Conventions follow scikit-learn: ``precisions_cholesky`` holds upper-triangular ``U`` with
``precision = U @ U.T`` (dense), or ``1 / sqrt(variance)`` (diagonal, isotropic).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import NDArray

from ._dense import (
    factor_from_precision,
    is_positive_definite,
    precision_factor,
    precision_factors,
    symmetric_from_factor,
)

Array = NDArray[np.float64]


class Storage(ABC):
    """The layout of a family's covariance arrays and the maps between their forms."""

    @abstractmethod
    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of ``covariances_`` (and of ``precisions_`` / ``precisions_cholesky_``)."""

    @abstractmethod
    def precisions_cholesky(self, covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
        """Precision Cholesky factors and a mask of components whose covariance failed.

        The mask is (k,), or (1,) for a covariance shared by every component.  Failed
        components get an identity factor so that the result stays finite; the caller
        decides whether to re-seed them or to raise.
        """

    @abstractmethod
    def covariances_from_cholesky(self, precisions_cholesky: Array) -> Array:
        """Covariances from precision Cholesky factors."""

    @abstractmethod
    def precisions(self, precisions_cholesky: Array) -> Array:
        """Precision matrices (or variances' inverses) from their Cholesky factors."""

    @abstractmethod
    def cholesky_from_precisions(self, precisions: Array) -> Array:
        """Precision Cholesky factors from (validated) precisions."""

    @abstractmethod
    def factors(self, precisions_cholesky: Array, n_components: int, n_features: int) -> Array:
        """Per-component factors for the engine: (k, d, d) upper or (k, d)."""

    @abstractmethod
    def dense(self, covariances: Array, n_components: int, n_features: int) -> Array:
        """Every component's covariance as a dense (k, d, d) array."""

    @abstractmethod
    def feature_variances(self, covariances: Array, n_features: int) -> Array:
        """Each feature's variance averaged over the components, (d,) (a scale for the
        data; one value for isotropic covariances)."""

    @abstractmethod
    def rescaled(
        self, covariances: Array, precisions_cholesky: Array, scale: Array
    ) -> tuple[Array, Array]:
        """The covariances and precision factors of ``x * scale`` given those of ``x``.

        ``scale`` (d,) multiplies each feature: covariances become ``D C D`` and factors
        ``D^-1 U`` with ``D = diag(scale)``, still upper-triangular (diagonal).  Exact where
        the scales are powers of two (the internal frame's), but for over- or underflow.
        """

    @abstractmethod
    def sample_noise(
        self, rng: np.random.Generator, covariances: Array, j: int, n: int, d: int
    ) -> Array:
        """``n`` zero-mean draws with component ``j``'s covariance."""

    @abstractmethod
    def check_precisions(self, precisions: Array, what: str) -> None:
        """Raise ``ValueError`` if shape-checked user precisions are unusable; ``what``
        names the family in the message."""

    def reseed_covariance(self, covariances: Array, j: int, weights: Array) -> Array:
        """Covariances with component ``j``'s replaced by a copy of the heaviest other
        component's: a copy keeps every constraint of mclust's models (all of them equate
        parts across components), where an average would not (EVI's volume, VEV's shape)."""
        out = covariances.copy()
        donors = (np.arange(len(weights)) != j) & (weights > 0)
        if not donors.any():
            return out
        out[j] = covariances[int(np.argmax(np.where(donors, weights, -np.inf)))]
        return out

    def select(self, covariances: Array, components: NDArray[np.intp]) -> Array:
        """The covariances of a mixture of the given components (repeats allowed) of this
        one, in order."""
        return np.array(covariances[components])


class DenseStorage(Storage):
    """Full ``(d, d)`` matrices: one per component, or one ``shared`` by all."""

    def __init__(self, shared: bool = False) -> None:
        self.shared = shared

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        d = n_features
        return (d, d) if self.shared else (n_components, d, d)

    def precisions_cholesky(self, covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
        if not self.shared:
            return precision_factors(np.asarray(covariances, dtype=np.float64))
        factor = precision_factor(covariances)
        # a shared covariance fails for every component at once
        if factor is None:
            return np.eye(covariances.shape[0]), np.ones(1, dtype=bool)
        return factor, np.zeros(1, dtype=bool)

    def covariances_from_cholesky(self, precisions_cholesky: Array) -> Array:
        if self.shared:
            return symmetric_from_factor(precisions_cholesky)
        return np.stack([symmetric_from_factor(u) for u in precisions_cholesky])

    def precisions(self, precisions_cholesky: Array) -> Array:
        return np.matmul(precisions_cholesky, np.swapaxes(precisions_cholesky, -1, -2))

    def cholesky_from_precisions(self, precisions: Array) -> Array:
        if self.shared:
            return factor_from_precision(precisions)
        return np.stack([factor_from_precision(p) for p in precisions])

    def factors(self, precisions_cholesky: Array, n_components: int, n_features: int) -> Array:
        if not self.shared:
            return precisions_cholesky
        d = precisions_cholesky.shape[0]
        return np.broadcast_to(precisions_cholesky, (n_components, d, d))

    def dense(self, covariances: Array, n_components: int, n_features: int) -> Array:
        if not self.shared:
            return np.array(covariances, dtype=np.float64)
        d = n_features
        return np.array(np.broadcast_to(covariances, (n_components, d, d)), dtype=np.float64)

    def feature_variances(self, covariances: Array, n_features: int) -> Array:
        diagonals = np.diagonal(covariances, axis1=-2, axis2=-1)
        return np.asarray(diagonals if self.shared else diagonals.mean(axis=0))

    def rescaled(
        self, covariances: Array, precisions_cholesky: Array, scale: Array
    ) -> tuple[Array, Array]:
        # row i, then column j: a covariance near 1 meets one scale at a time
        return (
            covariances * scale[:, None] * scale[None, :],
            precisions_cholesky / scale[:, None],
        )

    def sample_noise(
        self, rng: np.random.Generator, covariances: Array, j: int, n: int, d: int
    ) -> Array:
        low = np.linalg.cholesky(covariances if self.shared else covariances[j])
        return rng.standard_normal((n, d)) @ low.T

    def check_precisions(self, precisions: Array, what: str) -> None:
        stack = precisions[None] if self.shared else precisions
        for j, p in enumerate(stack):
            if not is_positive_definite(p):
                where = "" if self.shared else f"[{j}]"
                raise ValueError(
                    f"precisions_init{where} is not symmetric positive-definite; "
                    "pass the inverse of a valid covariance matrix."
                )

    def reseed_covariance(self, covariances: Array, j: int, weights: Array) -> Array:
        if self.shared:  # the shared covariance is not the component's own: keep it
            return covariances
        return super().reseed_covariance(covariances, j, weights)

    def select(self, covariances: Array, components: NDArray[np.intp]) -> Array:
        if self.shared:
            return np.array(covariances)
        return super().select(covariances, components)


class DiagonalStorage(Storage):
    """Variances per component: ``d`` per feature, or one (``isotropic``) for all features."""

    def __init__(self, isotropic: bool = False) -> None:
        self.isotropic = isotropic

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components,) if self.isotropic else (n_components, n_features)

    def precisions_cholesky(self, covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
        ok = np.isfinite(covariances) & (covariances > 0)
        chol = 1.0 / np.sqrt(np.where(ok, covariances, 1.0))
        fine = (ok & np.isfinite(chol)).reshape(ok.shape[0], -1).all(axis=1)
        return chol, np.asarray(~fine, dtype=bool)

    def covariances_from_cholesky(self, precisions_cholesky: Array) -> Array:
        return 1.0 / (precisions_cholesky * precisions_cholesky)

    def feature_variances(self, covariances: Array, n_features: int) -> Array:
        if self.isotropic:
            return np.full(n_features, np.mean(covariances))
        return np.asarray(np.mean(covariances, axis=0))

    def rescaled(
        self, covariances: Array, precisions_cholesky: Array, scale: Array
    ) -> tuple[Array, Array]:
        if self.isotropic:
            if not (scale == scale[0]).all():
                raise ValueError(
                    "Isotropic covariances stay isotropic only under one scale common to "
                    "every feature."
                )
            scale = scale[0]
        return covariances * scale * scale, precisions_cholesky / scale

    def precisions(self, precisions_cholesky: Array) -> Array:
        return precisions_cholesky * precisions_cholesky

    def cholesky_from_precisions(self, precisions: Array) -> Array:
        return np.sqrt(precisions)

    def factors(self, precisions_cholesky: Array, n_components: int, n_features: int) -> Array:
        if self.isotropic:
            return np.repeat(precisions_cholesky[:, None], n_features, axis=1)
        return precisions_cholesky

    def dense(self, covariances: Array, n_components: int, n_features: int) -> Array:
        if self.isotropic:
            return np.asarray(covariances, dtype=np.float64)[:, None, None] * np.eye(n_features)
        out = np.zeros((n_components, n_features, n_features))
        out[:, np.arange(n_features), np.arange(n_features)] = covariances
        return out

    def sample_noise(
        self, rng: np.random.Generator, covariances: Array, j: int, n: int, d: int
    ) -> Array:
        return rng.standard_normal((n, d)) * np.sqrt(covariances[j])

    def check_precisions(self, precisions: Array, what: str) -> None:
        if np.any(precisions <= 0):
            raise ValueError(f"precisions_init must be strictly positive for {what} covariances.")


#: one dense matrix per component, one shared dense matrix, a diagonal per component, and
#: one variance per component
DENSE = DenseStorage()
SHARED_DENSE = DenseStorage(shared=True)
DIAGONAL = DiagonalStorage()
ISOTROPIC = DiagonalStorage(isotropic=True)

__all__ = [
    "DENSE",
    "DIAGONAL",
    "ISOTROPIC",
    "SHARED_DENSE",
    "DenseStorage",
    "DiagonalStorage",
    "Storage",
]
