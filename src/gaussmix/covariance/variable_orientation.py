"""The ellipsoidal models with an orientation per component: EEV, VEV and EVV.

``Sigma_k = lambda_k D_k A_k D_kᵀ`` with each component's orientation ``D_k`` its scatter's
eigenvectors (eigenvalues in decreasing order, matched to a shared shape's); EEV shares the
volume and the shape, VEV the shape, EVV the volume.  Stored dense per component (k, d, d).
"""

from __future__ import annotations

import numpy as np

from .._moments import FULL
from ..stats import SuffStats
from ._constrained import regularised_scatters, start_volumes, volume_and_shape, volumes
from .base import Array, CovarianceFamily
from .storage import DENSE


def _eigen(scatter: Array) -> tuple[Array, Array]:
    """Eigenvalues (k, d) in decreasing order and the matching eigenvectors (k, d, d)."""
    values, vectors = np.linalg.eigh(scatter)
    return values[:, ::-1], vectors[:, :, ::-1]


def _compose(vectors: Array, values: Array) -> Array:
    """``D_k diag(values_k) D_kᵀ`` for every component."""
    return np.asarray(np.einsum("kai,ki,kbi->kab", vectors, values, vectors))


class EEV(CovarianceFamily):
    """``lambda D_k A D_kᵀ``: equal volume and shape, an orientation per component.

    Closed form: the eigenvalues are the weighted mean of the scatters' (in decreasing
    order) (Celeux & Govaert 1995).
    """

    name = "EEV"
    storage = DENSE
    moments = FULL

    def n_parameters(self, n_components: int, n_features: int) -> int:
        d = n_features
        return 1 + (d - 1) + n_components * d * (d - 1) // 2

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, scatter = regularised_scatters(stats, reg_covar)
        values, vectors = _eigen(scatter)
        pooled = (n @ values) / n.sum()
        return _compose(vectors, np.broadcast_to(pooled, values.shape))


class VEV(CovarianceFamily):
    """``lambda_k D_k A D_kᵀ``: a shared shape, a volume and an orientation per component.

    Iterative: the shape and the volumes are each the other's closed-form minimiser on the
    scatters' eigenvalues, alternated from the previous volumes until the objective changes
    by at most ``INNER_TOL`` (see :mod:`gaussmix.covariance._constrained`).
    """

    name = "VEV"
    storage = DENSE
    moments = FULL
    iterative = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        d = n_features
        return n_components + (d - 1) + n_components * d * (d - 1) // 2

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, scatter = regularised_scatters(stats, reg_covar)
        values, vectors = _eigen(scatter)
        volume, shape = volume_and_shape(n, values, start_volumes(previous, scatter))
        return _compose(vectors, volume[:, None] * shape)


class EVV(CovarianceFamily):
    """``lambda C_k``: one volume, each component's own ellipsoid ``C_k`` (determinant one).

    Closed form: ``C_k`` is the scatter normalised to determinant one, the volume the
    weighted mean of the scatters' ``det^(1/d)``.
    """

    name = "EVV"
    storage = DENSE
    moments = FULL
    per_feature_equivariant = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        d = n_features
        return 1 + n_components * (d * (d + 1) // 2 - 1)

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, scatter = regularised_scatters(stats, reg_covar)
        own = volumes(scatter)
        volume = (n @ own) / n.sum()
        with np.errstate(divide="ignore", invalid="ignore"):  # a singular scatter: flagged later
            return np.asarray(scatter * (volume / own)[:, None, None])
