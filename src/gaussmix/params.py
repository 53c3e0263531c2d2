"""Mixture parameters in the engine's internal frame: the point estimate EM works on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass
class Params:
    """Weights, means, covariances and precision Cholesky factors in the internal frame.

    All arrays are float64; ``covariances`` and ``precisions_cholesky`` are in the layout of
    the covariance family (see :mod:`gaussmix.covariance`).
    """

    weights: Array
    means: Array
    covariances: Array
    precisions_cholesky: Array

    @property
    def n_components(self) -> int:
        return int(self.weights.shape[0])

    def copy(self) -> Params:
        return Params(
            self.weights.copy(),
            self.means.copy(),
            self.covariances.copy(),
            self.precisions_cholesky.copy(),
        )
