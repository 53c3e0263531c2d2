"""``spherical`` (mclust's VII): each component has a single variance (a multiple of the
identity)."""

from __future__ import annotations

import numpy as np

from .._moments import MEAN_SQUARE
from ..stats import SuffStats
from .base import Array, CovarianceFamily
from .storage import ISOTROPIC


class Spherical(CovarianceFamily):
    """One variance per component."""

    name = "spherical"
    storage = ISOTROPIC
    moments = MEAN_SQUARE

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components

    def estimate(self, stats: SuffStats, reg_covar: float, previous: Array | None = None) -> Array:
        # the mean-square layout's scatter is already the mean variance over features
        return np.asarray(stats.scatter() + reg_covar)
