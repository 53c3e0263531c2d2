"""``diag`` (mclust's VVI): each component has its own diagonal covariance matrix."""

from __future__ import annotations

from .._moments import DIAG
from ..stats import SuffStats
from .base import Array, CovarianceFamily
from .storage import DIAGONAL


class Diag(CovarianceFamily):
    """One vector of ``d`` variances per component (axis-aligned ellipsoids)."""

    name = "diag"
    storage = DIAGONAL
    moments = DIAG

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features

    def estimate(self, stats: SuffStats, reg_covar: float, previous: Array | None = None) -> Array:
        return stats.scatter() + reg_covar
