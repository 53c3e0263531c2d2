"""The interface every covariance family implements.

A family owns the *shape* of the covariance parameters and the maps between covariances,
precisions and precision Cholesky factors.  Everything the engine needs is reached through
:meth:`CovarianceFamily.factors` (per-component precision factors) and the family's
:attr:`~CovarianceFamily.moments` kind; there is no ``covariance_type`` branching outside this
package.

Conventions follow scikit-learn: ``precisions_cholesky`` holds upper-triangular ``U`` with
``precision = U @ U.T`` (full, tied), or ``1 / sqrt(variance)`` (diag, spherical).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import NDArray

from .._moments import MomentKind

Array = NDArray[np.float64]


class CovarianceFamily(ABC):
    """One covariance structure (``full``, ``tied``, ``diag``, ``spherical``, ...)."""

    #: registry name
    name: str
    #: which second moments the M-step needs, and the feature map of the E-step
    moments: MomentKind

    @abstractmethod
    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of ``covariances_`` (and of ``precisions_`` / ``precisions_cholesky_``)."""

    @abstractmethod
    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Number of free covariance parameters."""

    @abstractmethod
    def estimate(self, scatter: Array, nk: Array, reg_covar: float) -> Array:
        """M-step: covariances from per-component covariances about the means.

        Parameters
        ----------
        scatter : ndarray
            Weighted covariance about the new means (no regularisation) in the layout of
            :attr:`moments`: per component (k, d, d), (k, d) or (k,), or pooled (d, d).
        nk : ndarray of shape (k,)
            Weight of each component.
        reg_covar : float
            Non-negative value added to the diagonal.
        """

    @abstractmethod
    def precisions_cholesky(self, covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
        """Precision Cholesky factors and a mask (k,) of components whose covariance failed.

        Failed components get an identity factor so that the result stays finite; the caller
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
    def mean_variance(self, covariances: Array) -> float:
        """The average per-feature variance over components (a scale for the data)."""

    @abstractmethod
    def sample_noise(
        self, rng: np.random.Generator, covariances: Array, j: int, n: int, d: int
    ) -> Array:
        """``n`` zero-mean draws with component ``j``'s covariance."""

    @abstractmethod
    def check_precisions(self, precisions: Array, n_components: int, n_features: int) -> None:
        """Raise ``ValueError`` naming the problem if user precisions are unusable."""

    def reseed_covariance(self, covariances: Array, j: int, weights: Array) -> Array:
        """Covariances with component ``j`` replaced by the weighted mean of the others."""
        out = covariances.copy()
        donors = (np.arange(len(weights)) != j) & (weights > 0)
        if not donors.any():
            return out
        w = weights[donors]
        out[j] = np.tensordot(w / w.sum(), covariances[donors], axes=1)
        return out

    def _check_shape(self, arr: Array, n_components: int, n_features: int, what: str) -> None:
        expected = self.shape(n_components, n_features)
        if arr.shape != expected:
            raise ValueError(
                f"{what} for covariance_type={self.name!r} must have shape {expected} "
                f"(n_components={n_components}, n_features={n_features}), got {arr.shape}."
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} contains NaN or infinite values; pass finite numbers.")
