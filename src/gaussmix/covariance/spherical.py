"""The spherical models: ``spherical`` (mclust's VII), one variance per component, and EII,
one variance shared by every component.  Both are stored as one variance per component (k,).
"""

from __future__ import annotations

import numpy as np

from .._moments import MEAN_SQUARE
from ..stats import SuffStats
from ._constrained import regularised_scatters
from .base import Array, CovarianceFamily
from .storage import ISOTROPIC


class Spherical(CovarianceFamily):
    """One variance per component."""

    name = "spherical"
    model = "VII"
    storage = ISOTROPIC
    moments = MEAN_SQUARE

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        # the mean-square layout's scatter is already the mean variance over features
        return np.asarray(stats.scatter() + reg_covar)


class EII(CovarianceFamily):
    """One variance shared by every component: the weighted mean of their mean variances."""

    name = "EII"
    storage = ISOTROPIC
    moments = MEAN_SQUARE

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return 1

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, variance = regularised_scatters(stats, reg_covar)
        return np.full(n.shape, (n @ variance) / n.sum())
