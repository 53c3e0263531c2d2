"""Model strategies: what the EM driver swaps to fit another kind of model on the same pass.

One EM iteration (:func:`gaussmix.em.em_step`) asks its strategy for the pass terms of the
current parameters (:meth:`ModelStrategy.pass_terms`), runs one pass over the rows, reads the
objective off the pass (:meth:`~ModelStrategy.objective`), and asks for the next parameters
from the statistics (:meth:`~ModelStrategy.m_step`) and, where that left a component
degenerate, for a repair (:meth:`~ModelStrategy.repair`).  The driver never looks inside the
parameters: a strategy may carry any record (variational Bayes its posterior's
hyper-parameters), as long as it can state a point estimate of them
(:meth:`~ModelStrategy.point_estimate`) for callbacks and fitted attributes.

:class:`MaximumLikelihood` is EM for a Gaussian mixture: M-step by the covariance family,
log-likelihood as the objective, degenerate components re-seeded at the rows the mixture
explains worst.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from .covariance import CovarianceFamily
from .engine import PassResult, PassTerms, gaussian_terms
from .params import Params
from .stats import SuffStats

Array = NDArray[np.float64]
P = TypeVar("P")

#: a component whose share of the total weight falls below this is considered collapsed
COLLAPSE_SHARE = 1e-10

#: the M-step's parameters differ from those it started from by at most this, relative to
#: their scale (:func:`params_unchanged`): EM is at a fixed point, its next log-likelihood the
#: same to rounding
FIXED_POINT = 1e-12

#: ``candidates(n)``: ``n`` rows (internal frame) the current model explains worst, worst
#: first; it costs a pass, so a strategy calls it only when it re-seeds
Candidates = Callable[[int], Array]


class DegenerateMixtureError(ValueError):
    """A component could not be estimated and could not be re-seeded."""


class ModelStrategy(ABC, Generic[P]):
    """The parts of EM that depend on the model: terms, M-step, objective, degeneracy.

    ``P`` is the strategy's parameter record, in the engine's internal frame.
    """

    #: the model's covariance family (its storage maps point estimates to the caller's units)
    family: CovarianceFamily

    @abstractmethod
    def pass_terms(self, params: P) -> PassTerms:
        """What the pass needs of ``params``: means, precision factors, constants."""

    @abstractmethod
    def m_step(self, stats: SuffStats, previous: P | None) -> tuple[P, NDArray[np.bool_]]:
        """New parameters from a pass's statistics, and a mask (k,) of degenerate components.

        ``previous`` are the parameters that produced the statistics (``None`` at a start),
        for M-steps that iterate or keep some parameters fixed.
        """

    @abstractmethod
    def objective(self, result: PassResult, params: P) -> float:
        """The value EM increases, from the pass under ``params`` (the mean log-likelihood
        per unit weight for maximum likelihood)."""

    @abstractmethod
    def repair(
        self, params: P, bad: NDArray[np.bool_], candidates: Candidates, budget: int
    ) -> tuple[P, list[int]]:
        """Deal with the degenerate components ``bad`` of ``params``: the parameters to go
        on with and the components changed.

        ``budget`` is how many more components may be re-seeded in this run; raise
        :class:`DegenerateMixtureError` where nothing can be done.
        """

    @abstractmethod
    def point_estimate(self, params: P) -> Params:
        """Weights, means and covariances that ``params`` stand for (internal frame)."""

    @abstractmethod
    def start(self, params: Params) -> P:
        """The strategy's parameters for an initial point estimate."""

    def unchanged(self, new: P, old: P) -> bool:
        """Whether the M-step gave back ``new`` parameters equal to the ``old`` ones it
        started from (to :data:`FIXED_POINT`): EM is at a fixed point, and another iteration
        would only confirm it.  False where the strategy cannot tell, and the run goes on
        until its objective stops changing."""
        return False

    def thin(self, params: P, n_rows: float) -> bool:
        """Whether a component of ``params``, fitted to rows of total weight ``n_rows``, has
        fewer effective rows than its covariance needs to be non-singular
        (:meth:`CovarianceFamily.rows_needed`).  Such a component is a spike that the
        regulariser alone holds up: on a subsample it raises the log-likelihood without
        fitting the data, so a race ranks these starts after the others."""
        point = self.point_estimate(params)
        k, d = point.means.shape
        return bool(self.family.short_of_rows(point.weights[:k], d, n_rows).any())


def params_from_stats(
    stats: SuffStats,
    family: CovarianceFamily,
    reg_covar: float | Array,
    previous: Params | None = None,
) -> tuple[Params, NDArray[np.bool_]]:
    """The maximum-likelihood M-step: parameters from statistics, and a mask of degenerate
    components."""
    nk = stats.N
    total = nk.sum()
    k = nk.shape[0]
    weights = nk / total if total > 0 else np.full(k, 1.0 / k)
    means = stats.means()
    covariances = family.estimate(
        stats, reg_covar, None if previous is None else previous.covariances
    )
    chol, bad_cov = family.precisions_cholesky(covariances)
    bad = np.broadcast_to(bad_cov, (k,)) | (nk <= COLLAPSE_SHARE * total)
    bad |= ~np.isfinite(means).all(axis=1)
    return Params(weights, means, covariances, chol), bad


def params_unchanged(new: Params, old: Params, family: CovarianceFamily) -> bool:
    """Whether two point estimates agree to :data:`FIXED_POINT`: the weights absolutely,
    each feature of the means relative to its standard deviation (averaged over the
    components), each component's covariance relative to its largest entry."""
    # the weights first: they are cheapest, and move wherever the others do
    if not np.abs(new.weights - old.weights).max(initial=0.0) <= FIXED_POINT:
        return False
    d = old.means.shape[1]
    spread = np.sqrt(family.feature_variances(old.covariances, d))
    if not (np.abs(new.means - old.means) <= FIXED_POINT * spread).all():
        return False
    rows = old.covariances.shape[0] if old.covariances.ndim else 1
    before = old.covariances.reshape(rows, -1)
    scale = np.abs(before).max(axis=1, keepdims=True)
    return bool((np.abs(new.covariances.reshape(rows, -1) - before) <= FIXED_POINT * scale).all())


def reseed(
    params: Params,
    bad: NDArray[np.bool_],
    candidates: Array,
    family: CovarianceFamily,
) -> tuple[Params, list[int]]:
    """Move each degenerate component onto a candidate row (worst-explained first).

    The component gets a copy of the heaviest healthy component's covariance (for ``tied``
    the shared one), which keeps the model's constraints, and weight ``1/k`` before
    renormalisation.

    Raises
    ------
    DegenerateMixtureError
        If no healthy component or no candidate is left, or the result is still degenerate.
    """
    k = params.n_components
    bad_idx = [int(j) for j in np.flatnonzero(bad)]
    good = ~bad
    if not good.any() or len(candidates) < len(bad_idx):
        raise degenerate_error(bad_idx[0], family)
    weights = params.weights.copy()
    weights[bad] = 0.0
    means = params.means.copy()
    cov = params.covariances
    for n, j in enumerate(bad_idx):
        means[j] = candidates[n]
        cov = family.reseed_covariance(cov, j, weights)
    weights[bad] = 1.0 / k
    weights /= weights.sum()
    chol, still_bad = family.precisions_cholesky(cov)
    still = np.broadcast_to(still_bad, (k,))
    if still.any():
        raise degenerate_error(int(np.flatnonzero(still)[0]), family)
    return Params(weights, means, cov, chol), bad_idx


def degenerate_error(j: int, family: CovarianceFamily) -> DegenerateMixtureError:
    """The error for component ``j`` of a ``family`` mixture that could not be rescued."""
    return DegenerateMixtureError(
        f"Component {j} of the {family.name!r} mixture became degenerate (its weight collapsed "
        "or its covariance is not positive-definite) and could not be re-seeded. Try to "
        "decrease n_components, increase reg_covar, use a more constrained covariance_type, "
        "or scale the input data."
    )


class MaximumLikelihood(ModelStrategy[Params]):
    """Maximum-likelihood EM for a Gaussian mixture with covariances of ``family``.

    Parameters
    ----------
    family : CovarianceFamily
    reg_covar : float or ndarray of shape (n_features,)
        Added to the covariances' diagonal, in the internal frame's units (one per feature
        for a per-feature frame).
    """

    def __init__(self, family: CovarianceFamily, reg_covar: float | Array) -> None:
        self.family = family
        self.reg_covar = reg_covar

    def pass_terms(self, params: Params) -> PassTerms:
        return gaussian_terms(params, self.family)

    def m_step(self, stats: SuffStats, previous: Params | None) -> tuple[Params, NDArray[np.bool_]]:
        return params_from_stats(stats, self.family, self.reg_covar, previous)

    def objective(self, result: PassResult, params: Params) -> float:
        assert result.stats is not None
        return result.stats.mean_log_likelihood()

    def unchanged(self, new: Params, old: Params) -> bool:
        return params_unchanged(new, old, self.family)

    def repair(
        self, params: Params, bad: NDArray[np.bool_], candidates: Candidates, budget: int
    ) -> tuple[Params, list[int]]:
        if int(bad.sum()) > budget:
            raise degenerate_error(int(np.flatnonzero(bad)[0]), self.family)
        return reseed(params, bad, candidates(params.n_components), self.family)

    def point_estimate(self, params: Params) -> Params:
        return params

    def start(self, params: Params) -> Params:
        return params


__all__ = [
    "COLLAPSE_SHARE",
    "FIXED_POINT",
    "DegenerateMixtureError",
    "MaximumLikelihood",
    "ModelStrategy",
    "params_from_stats",
    "params_unchanged",
    "reseed",
]
