"""The noise component as the engine sees it: a background column of the pass whose
log-density is ``log(noise weight / volume)`` inside the region and ``-inf`` outside."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .region import NoiseRegion

Array = NDArray[np.float64]


@dataclass(frozen=True)
class UniformBackground:
    """A uniform density over ``region`` with weight ``exp(log_weight)``: an
    :class:`~gaussmix.engine.terms.Background` of the pass.

    Attributes
    ----------
    region : NoiseRegion
    log_weight : float
        The log of the noise component's share of the rows (``-inf``: none).
    check_inside : bool
        Whether rows outside the region get ``-inf`` (a fitted model's predictions); a fit
        passes False, its rows being inside by construction (the region is theirs).
    """

    region: NoiseRegion
    log_weight: float
    check_inside: bool = True

    def log_density(
        self, x: NDArray[np.floating], observed: NDArray[np.bool_] | None = None
    ) -> Array:
        """``log_weight - log volume`` for each row of ``x`` (m, d) in the region (over the
        ``observed`` coordinates: the marginal's volume), ``-inf`` elsewhere.

        Raises
        ------
        ValueError
            With ``observed``, if the region is not along the coordinate axes.
        """
        if observed is None:
            log_volume = self.region.log_volume
        else:
            log_volume = self.region.marginal_log_volume(observed)
        out = np.full(x.shape[0], self.log_weight - log_volume)
        if self.check_inside:
            out[~self.region.contains(x, observed)] = -np.inf
        return out


__all__ = ["UniformBackground"]
