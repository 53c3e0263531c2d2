"""Variational Bayes as an EM strategy: the same driver, pass and kernels as maximum likelihood.

:class:`VariationalBayes` is a :class:`~gaussmix.strategy.ModelStrategy` whose parameters
are the posterior's hyper-parameters (:class:`~gaussmix.posterior.Posterior`).  Its pass
terms are per-component constants and factors like a Gaussian mixture's (the expected
log-weights, ``E[log det Lambda_j]`` and ``-d / (2 beta_j)`` sit in the constants), so the
variational E-step is the fused pass of maximum likelihood unchanged; its M-step is the
posterior's update from the same statistics.

The objective is scikit-learn's lower bound: the evidence lower bound after the
iteration's M-step, up to terms that do not change during a fit.  It is the
responsibilities' entropy plus the posterior's normalisers; the pass gives the entropy
without a per-row term, as its log-likelihood ``sum_i log sum_j exp(rho_ij)`` minus the
responsibilities' sum of the log-terms ``rho_ij``, which the statistics give.  The bound
never decreases: the E-step maximises it over the responsibilities and the update over the
posterior (exactly without ``reg_covar``; adding ``reg_covar`` to the covariances moves the
update off the maximum by a second-order amount).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .covariance import CovarianceFamily
from .engine import PassResult, PassTerms
from .params import Params
from .posterior import (
    Posterior,
    Priors,
    bound_normalisers,
    expected_weights,
    responsibility_terms,
    update,
)
from .stats import SuffStats
from .strategy import Candidates, DegenerateMixtureError, ModelStrategy

Array = NDArray[np.float64]


class VariationalBayes(ModelStrategy[Posterior]):
    """Variational inference for a Bayesian Gaussian mixture with covariances of ``family``.

    Parameters
    ----------
    family : CovarianceFamily
        One of the conjugate models (:func:`gaussmix.posterior.check_family`).
    priors : Priors
        In the internal frame.
    reg_covar : float or ndarray of shape (n_features,)
        Added to the components' covariances before the update (internal units), as
        scikit-learn does.
    log_scale : float
        The sum of the internal frame's log-scales (:attr:`Frame.log_scale
        <gaussmix.engine.Frame.log_scale>`): the objective is in the caller's units.
    start_weight : float
        The total weight of the rows a start's point estimate was estimated from: a start
        (:meth:`start`) is the posterior after responsibilities with counts
        ``weights * start_weight`` (scikit-learn's start from responsibilities).
    given : Posterior, optional
        The posterior every start is (a warm start, a start from given means).
    """

    def __init__(
        self,
        family: CovarianceFamily,
        priors: Priors,
        reg_covar: float | Array,
        *,
        log_scale: float = 0.0,
        start_weight: float = 1.0,
        given: Posterior | None = None,
    ) -> None:
        self.family = family
        self.priors = priors
        self.reg_covar = reg_covar
        self.log_scale = log_scale
        self.start_weight = start_weight
        self.given = given

    def pass_terms(self, params: Posterior) -> PassTerms:
        return responsibility_terms(self.priors, self.family, params)

    def m_step(
        self, stats: SuffStats, previous: Posterior | None
    ) -> tuple[Posterior, NDArray[np.bool_]]:
        scatters = self.family.estimate(stats, self.reg_covar)
        return update(self.priors, self.family, stats.N, stats.means(), scatters)

    def objective(self, result: PassResult, params: Posterior) -> float:
        """The lower bound after the M-step from ``result``'s statistics (scikit-learn's)."""
        stats = result.stats
        assert stats is not None
        terms = self.pass_terms(params)
        # sum_ij w_i r_ij rho_ij: the constants' share, less half the squared Mahalanobis
        # distances' (the moments about each component's mean under its factor)
        about = stats.shifted(terms.means)
        quadratic = terms.moments.trace(terms.moments.precision(terms.factors), about.S2)
        expected = stats.N @ (terms.constant - self.log_scale) - 0.5 * quadratic
        entropy = result.log_likelihood - expected
        new, _ = self.m_step(stats, params)
        return float(entropy + bound_normalisers(self.priors, self.family, new, self.log_scale))

    def repair(
        self, params: Posterior, bad: NDArray[np.bool_], candidates: Candidates, budget: int
    ) -> tuple[Posterior, list[int]]:
        # the prior keeps every expected precision positive-definite: only non-finite
        # statistics get here, and re-seeding would defeat the switching off of components
        j = int(np.flatnonzero(bad)[0])
        raise DegenerateMixtureError(
            f"Component {j} of the Bayesian {self.family.name!r} mixture has a posterior that is "
            "not finite or not positive-definite. Scale the input data (e.g. "
            "sklearn.preprocessing.StandardScaler), or increase covariance_prior or reg_covar."
        )

    def point_estimate(self, params: Posterior) -> Params:
        weights = expected_weights(self.priors.process, params.concentration)
        return Params(weights, params.means, params.covariances, params.precisions_cholesky)

    def thin(self, params: Posterior, n_rows: float) -> bool:
        """Never: the priors hold every covariance up, and components the data leave empty
        are the ones variational Bayes prunes."""
        return False

    def start(self, params: Params) -> Posterior:
        if self.given is not None:
            return self.given
        counts = params.weights * self.start_weight
        posterior, _ = update(self.priors, self.family, counts, params.means, params.covariances)
        return posterior


__all__ = ["VariationalBayes"]
