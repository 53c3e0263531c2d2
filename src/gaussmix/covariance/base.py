"""The interface every covariance family implements: a storage and a constraint.

A family pairs a :class:`~gaussmix.covariance.storage.Storage` (dense or diagonal, per
component or shared: shapes, factors, conversions, sampling, checks) with a *constraint*:
its name, the moment layout its M-step needs (:attr:`CovarianceFamily.moments`), its number
of free parameters and the M-step itself (:meth:`CovarianceFamily.estimate`).  A new model
(one of mclust's volume/shape/orientation models, say) is one small subclass that names its
storage and moments and implements those two methods; the storage's methods are reached
through the family.  There is no ``covariance_type`` branching outside this package.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import NDArray

from .._moments import MomentKind
from ..stats import SuffStats
from .storage import Storage

Array = NDArray[np.float64]


class CovarianceFamily(ABC):
    """One covariance structure (``full``, ``tied``, ``diag``, ``spherical``, ``VEV``, ...)."""

    #: registry name: mclust's name of the model, or scikit-learn's for the four it has
    name: str
    #: mclust's name of the model: volume, shape and orientation, each E(qual), V(ariable) or
    #: I(dentity); defaults to :attr:`name`
    model: str
    #: whether :meth:`estimate` iterates (and so depends on ``previous``); closed-form M-steps
    #: ignore ``previous``
    iterative: bool = False
    #: whether rescaling one feature maps every covariance of the model to one of the model
    #: (``D C D`` with ``D`` diagonal: unrestricted, shared, diagonal, proportional or
    #: equal-determinant covariances), so that the maximum-likelihood fit of rescaled data is
    #: the rescaled fit; such a model gets one internal scale and a regularisation per
    #: feature.  Every model is equivariant under one scale common to all features.
    per_feature_equivariant: bool = False
    #: how the covariances are stored
    storage: Storage
    #: which second moments the M-step needs, and the feature map of the E-step
    moments: MomentKind

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and "model" not in cls.__dict__:
            cls.model = cls.name

    def renamed(self, name: str) -> CovarianceFamily:
        """The same family registered under another name (an alias)."""
        alias = copy.copy(self)
        alias.name = name
        return alias

    def __repr__(self) -> str:
        alias = f" ({self.model})" if self.model != self.name else ""
        return f"<covariance family {self.name!r}{alias}>"

    def rows_needed(self, n_components: int, n_features: int) -> tuple[float, bool]:
        """Effective rows the covariances need to be non-singular without regularisation,
        and whether per component (else in all): ``d + 1`` each where a component has its
        own shape and orientation (VVV, EVV), 2 each where it has any part of its own, and
        in all ``d + k`` for a shared ellipsoid (EEE, EEV), ``k + 1`` for a shared diagonal
        (EII, EEI)."""
        m, d, k = self.model, n_features, n_components
        if m[1:] == "VV":
            return d + 1, True
        if "V" in m[:2]:
            return 2, True
        return (d + k if m[2] != "I" else k + 1), False

    def short_of_rows(self, weights: Array, n_features: int, n_rows: float) -> NDArray[np.bool_]:
        """Which components of mixture ``weights``, fitted to rows of total weight
        ``n_rows``, have fewer effective rows than their covariances need
        (:meth:`rows_needed`; a relative 1e-9 short of it is enough, for the rounding of the
        weights): where the need is in all, every component or none."""
        w = np.asarray(weights, dtype=np.float64)
        needed, each = self.rows_needed(w.shape[0], n_features)
        if each:
            return np.asarray(w * n_rows < needed * (1.0 - 1e-9))
        return np.full(w.shape[0], n_rows < needed)

    @abstractmethod
    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Number of free covariance parameters, as mclust counts them (``nVarParams``)."""

    @abstractmethod
    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        """The M-step: covariances that maximise the expected complete-data log-likelihood.

        Iterative M-steps start from ``previous`` and never end at a lower value of that
        objective than ``previous`` has (when ``previous`` satisfies the constraint), so EM's
        log-likelihood never decreases.

        Parameters
        ----------
        stats : SuffStats
            Statistics in this family's moment layout (:attr:`moments`).
        reg_covar : float or ndarray of shape (n_features,)
            Non-negative value added to the diagonal of each component's scatter before the
            constrained estimate (see the module's docstring); one per feature only for
            :attr:`per_feature_equivariant` families.
        previous : ndarray, optional
            The covariances of the previous iteration, for M-steps that iterate (``None``
            at a start).

        Returns
        -------
        ndarray
            Covariances in the storage's layout (:meth:`shape`).
        """

    # the storage's methods, reached through the family

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of ``covariances_`` (and of ``precisions_`` / ``precisions_cholesky_``)."""
        return self.storage.shape(n_components, n_features)

    def precisions_cholesky(self, covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
        """Precision Cholesky factors and a mask of components whose covariance failed."""
        return self.storage.precisions_cholesky(covariances)

    def covariances_from_cholesky(self, precisions_cholesky: Array) -> Array:
        """Covariances from precision Cholesky factors."""
        return self.storage.covariances_from_cholesky(precisions_cholesky)

    def precisions(self, precisions_cholesky: Array) -> Array:
        """Precision matrices (or variances' inverses) from their Cholesky factors."""
        return self.storage.precisions(precisions_cholesky)

    def cholesky_from_precisions(self, precisions: Array) -> Array:
        """Precision Cholesky factors from (validated) precisions."""
        return self.storage.cholesky_from_precisions(precisions)

    def factors(self, precisions_cholesky: Array, n_components: int, n_features: int) -> Array:
        """Per-component factors for the engine: (k, d, d) upper or (k, d)."""
        return self.storage.factors(precisions_cholesky, n_components, n_features)

    def dense(self, covariances: Array, n_components: int, n_features: int) -> Array:
        """Every component's covariance as a dense (k, d, d) array."""
        return self.storage.dense(covariances, n_components, n_features)

    def feature_variances(self, covariances: Array, n_features: int) -> Array:
        """Each feature's variance averaged over the components, (d,)."""
        return self.storage.feature_variances(covariances, n_features)

    def rescaled(
        self, covariances: Array, precisions_cholesky: Array, scale: Array
    ) -> tuple[Array, Array]:
        """The covariances and precision factors of ``x * scale`` (per feature)."""
        return self.storage.rescaled(covariances, precisions_cholesky, scale)

    def sample_noise(
        self, rng: np.random.Generator, covariances: Array, j: int, n: int, d: int
    ) -> Array:
        """``n`` zero-mean draws with component ``j``'s covariance."""
        return self.storage.sample_noise(rng, covariances, j, n, d)

    def reseed_covariance(self, covariances: Array, j: int, weights: Array) -> Array:
        """Covariances with component ``j``'s replaced by a copy of the heaviest other
        component's, which keeps the model's constraints (a shared covariance is kept)."""
        return self.storage.reseed_covariance(covariances, j, weights)

    def select(self, covariances: Array, components: NDArray[np.intp]) -> Array:
        """The covariances of the mixture of the given components (repeats allowed), in
        order (a shared covariance is kept)."""
        return self.storage.select(covariances, components)

    def check_precisions(self, precisions: Array, n_components: int, n_features: int) -> None:
        """Raise ``ValueError`` naming the problem if user precisions are unusable."""
        expected = self.shape(n_components, n_features)
        if precisions.shape != expected:
            raise ValueError(
                f"precisions_init for covariance_type={self.name!r} must have shape {expected} "
                f"(n_components={n_components}, n_features={n_features}), got "
                f"{precisions.shape}."
            )
        if not np.all(np.isfinite(precisions)):
            raise ValueError(
                "precisions_init contains NaN or infinite values; pass finite numbers."
            )
        self.storage.check_precisions(precisions, repr(self.name))


def add_to_diagonal(covariances: Array, value: float | Array) -> Array:
    """``covariances`` (one matrix or a stack, modified in place) plus ``diag(value)``
    (``value`` a scalar or one per feature)."""
    d = covariances.shape[-1]
    covariances[..., np.arange(d), np.arange(d)] += value
    return covariances
