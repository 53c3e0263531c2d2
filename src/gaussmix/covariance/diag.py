"""The diagonal models: axis-aligned covariances (orientation I).

``diag`` (mclust's VVI) gives each component its own diagonal; EEI shares one diagonal; VEI
shares the shape and lets the volume vary; EVI shares the volume and lets the shape vary.
All are stored as one diagonal per component (k, d).
"""

from __future__ import annotations

import numpy as np

from .._moments import DIAG
from ..stats import SuffStats
from ._constrained import (
    geometric_mean,
    regularised_scatters,
    start_volumes,
    volume_and_shape,
)
from .base import Array, CovarianceFamily
from .storage import DIAGONAL


class Diag(CovarianceFamily):
    """One vector of ``d`` variances per component (axis-aligned ellipsoids)."""

    name = "diag"
    model = "VVI"
    storage = DIAGONAL
    moments = DIAG
    per_feature_equivariant = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        return stats.scatter() + reg_covar


class EEI(CovarianceFamily):
    """One diagonal covariance shared by every component: the pooled scatter's diagonal."""

    name = "EEI"
    storage = DIAGONAL
    moments = DIAG
    per_feature_equivariant = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_features

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, scatter = regularised_scatters(stats, reg_covar)
        pooled = (n @ scatter) / n.sum()
        return np.tile(pooled, (n.shape[0], 1))


class VEI(CovarianceFamily):
    """``lambda_k A``: a diagonal shape ``A`` (determinant one) shared, volumes ``lambda_k``
    per component.

    Iterative: the shape and the volumes are each the other's closed-form minimiser
    (Celeux & Govaert 1995), alternated from the previous volumes until the objective changes
    by at most ``INNER_TOL`` (see :mod:`gaussmix.covariance._constrained`).
    """

    name = "VEI"
    storage = DIAGONAL
    moments = DIAG
    per_feature_equivariant = True
    iterative = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components + n_features - 1

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, scatter = regularised_scatters(stats, reg_covar)
        volume, shape = volume_and_shape(n, scatter, start_volumes(previous, scatter))
        return np.asarray(volume[:, None] * shape)


class EVI(CovarianceFamily):
    """``lambda A_k``: one volume, a diagonal shape per component.

    Closed form: each shape is its scatter's diagonal normalised to determinant one, and the
    volume is the weighted mean of the diagonals' geometric means.
    """

    name = "EVI"
    storage = DIAGONAL
    moments = DIAG
    per_feature_equivariant = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return 1 + n_components * (n_features - 1)

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, scatter = regularised_scatters(stats, reg_covar)
        own = geometric_mean(scatter)
        volume = (n @ own) / n.sum()
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero variance: flagged later
            return np.asarray(scatter * (volume / own)[:, None])
