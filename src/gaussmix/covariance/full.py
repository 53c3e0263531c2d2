"""``full`` (mclust's VVV): each component has its own unrestricted covariance matrix."""

from __future__ import annotations

from .._moments import FULL
from ..stats import SuffStats
from .base import Array, CovarianceFamily, add_to_diagonal
from .storage import DENSE


class Full(CovarianceFamily):
    """One ``(d, d)`` covariance matrix per component: each one's weighted scatter."""

    name = "full"
    model = "VVV"
    storage = DENSE
    moments = FULL
    per_feature_equivariant = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features * (n_features + 1) // 2

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        return add_to_diagonal(stats.scatter(), reg_covar)
