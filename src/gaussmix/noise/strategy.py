"""Maximum-likelihood EM for a Gaussian mixture with a noise component (mclust's Poisson
noise): the model strategy the EM driver swaps in.

The noise component is uniform over a region fixed before the fit (its volume ``V``), with
its own weight ``pi_0``: the pass takes it as a background column of log-density
``log(pi_0 / V)`` (:class:`~gaussmix.noise.background.UniformBackground`), so that the
E-step's responsibilities of the Gaussian components leave it its share of each row.  The
M-step of the components is the maximum-likelihood one, from their statistics; the weights
are each component's share of all rows' weight, ``pi_0`` the share the background took
(:attr:`~gaussmix.stats.SuffStats.background`).  Both steps are exact EM steps, so the
observed-data log-likelihood never decreases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..covariance import CovarianceFamily
from ..engine import PassResult, PassTerms, gaussian_terms
from ..params import Params
from ..stats import SuffStats
from ..strategy import (
    FIXED_POINT,
    Candidates,
    ModelStrategy,
    degenerate_error,
    params_from_stats,
    params_unchanged,
    reseed,
)
from .background import UniformBackground
from .region import NoiseRegion


@dataclass
class NoisyParams:
    """A Gaussian mixture with a noise component, in the internal frame.

    Attributes
    ----------
    gaussian : Params
        The components; their ``weights`` are each one's share of all rows (they sum to
        ``1 - noise``).
    noise : float
        The noise component's share of the rows.
    """

    gaussian: Params
    noise: float


class NoiseMaximumLikelihood(ModelStrategy[NoisyParams]):
    """Maximum-likelihood EM for Gaussian components of ``family`` and a uniform noise
    component over ``region``.

    Parameters
    ----------
    family : CovarianceFamily
    reg_covar : float or ndarray of shape (n_features,)
        Added to the covariances' diagonal, in the internal frame's units.
    region : NoiseRegion
        Where the noise component is uniform (the fit's rows lie in it).
    fixed_noise : float, optional
        Keep the noise weight at this value instead of estimating it (0: the plain mixture's
        EM, with the background's column at ``-inf``).
    """

    def __init__(
        self,
        family: CovarianceFamily,
        reg_covar: float | NDArray[np.float64],
        region: NoiseRegion,
        fixed_noise: float | None = None,
    ) -> None:
        self.family = family
        self.reg_covar = reg_covar
        self.region = region
        self.fixed_noise = fixed_noise

    def pass_terms(self, params: NoisyParams) -> PassTerms:
        with np.errstate(divide="ignore"):
            log_weight = float(np.log(params.noise))
        background = UniformBackground(self.region, log_weight, check_inside=False)
        return gaussian_terms(params.gaussian, self.family, background)

    def m_step(
        self, stats: SuffStats, previous: NoisyParams | None
    ) -> tuple[NoisyParams, NDArray[np.bool_]]:
        params, bad = params_from_stats(
            stats, self.family, self.reg_covar, None if previous is None else previous.gaussian
        )
        nk = stats.N
        # the background's count is the rows' weight less the components': never below 0
        background = max(float(stats.background), 0.0)
        if self.fixed_noise is not None:
            noise = self.fixed_noise
            params.weights = params.weights * (1.0 - noise)
        else:
            total = float(nk.sum()) + background
            noise = background / total if total > 0 else 1.0
            params.weights = nk / total if total > 0 else np.zeros_like(nk)
        return NoisyParams(params, noise), bad

    def objective(self, result: PassResult, params: NoisyParams) -> float:
        assert result.stats is not None
        return result.stats.mean_log_likelihood()

    def unchanged(self, new: NoisyParams, old: NoisyParams) -> bool:
        return abs(new.noise - old.noise) <= FIXED_POINT and params_unchanged(
            new.gaussian, old.gaussian, self.family
        )

    def repair(
        self, params: NoisyParams, bad: NDArray[np.bool_], candidates: Candidates, budget: int
    ) -> tuple[NoisyParams, list[int]]:
        gaussian = params.gaussian
        if int(bad.sum()) > budget:
            raise degenerate_error(int(np.flatnonzero(bad)[0]), self.family)
        fixed, changed = reseed(gaussian, bad, candidates(gaussian.n_components), self.family)
        fixed.weights = fixed.weights * (1.0 - params.noise)  # reseed's sum to one
        return NoisyParams(fixed, params.noise), changed

    def point_estimate(self, params: NoisyParams) -> Params:
        return params.gaussian

    def start(self, params: Params) -> NoisyParams:
        """The components of ``params``; the noise component the share their weights leave
        (or ``fixed_noise``)."""
        if self.fixed_noise is not None:
            noise = self.fixed_noise
            scaled = params.weights / params.weights.sum() * (1.0 - noise)
            return NoisyParams(Params(scaled, *_rest(params)), noise)
        noise = min(max(1.0 - float(params.weights.sum()), 0.0), 1.0)
        return NoisyParams(params.copy(), noise)


def _rest(params: Params) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    return params.means.copy(), params.covariances.copy(), params.precisions_cholesky.copy()


__all__ = ["NoiseMaximumLikelihood", "NoisyParams"]
