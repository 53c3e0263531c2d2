"""``tied`` (mclust's EEE): all components share one covariance matrix."""

from __future__ import annotations

import numpy as np

from .._moments import POOLED
from ..stats import SuffStats
from .base import Array, CovarianceFamily, add_to_diagonal
from .storage import SHARED_DENSE


class Tied(CovarianceFamily):
    """A single ``(d, d)`` covariance matrix: the pooled within-component scatter."""

    name = "tied"
    model = "EEE"
    storage = SHARED_DENSE
    moments = POOLED
    per_feature_equivariant = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_features * (n_features + 1) // 2

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        # the pooled layout's scatter is already the weighted mean over components
        return add_to_diagonal(np.array(stats.scatter(), dtype=np.float64), reg_covar)
