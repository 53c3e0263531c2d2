"""The variational posterior of a Bayesian Gaussian mixture: its update from statistics, its
expectations, its lower bound's normalisers and its predictive density.

The model (Bishop 2006, 10.2; Blei & Jordan 2006 for the stick-breaking weights) puts a
Dirichlet distribution on the weights (or a Dirichlet process, truncated at ``k``
components: ``pi_j = v_j prod_{i<j} (1 - v_i)`` with ``v_j ~ Beta(1, alpha)``) and a
Normal-Wishart prior on each component's mean and precision, ``mu_j ~ N(m0, (beta0
Lambda_j)^-1)``, ``Lambda_j ~ Wishart(W0, nu0)``.  The factorised posterior keeps the
prior's form, with hyper-parameters (:class:`Posterior`) that the update (:func:`update`)
computes from the statistics of the current responsibilities, as the maximum-likelihood
M-step computes parameters from them.

The four conjugate covariance models follow scikit-learn's ``BayesianGaussianMixture``
exactly (the same updates, expectations and lower bound, so that fits agree):

``full`` (VVV)
    One Wishart per component.
``diag`` (VVI), ``spherical`` (VII)
    A Wishart whose scale matrix ``W_j`` is diagonal (isotropic): the expectations of the
    precision are those of that Wishart.
``tied`` (EEE)
    One precision shared by the components, whose posterior is that of ``k`` components
    with one prior each, sharing the data equally: ``nu = nu0 + n / k`` and
    ``W^-1 = W0^-1 + (sum_j N_j S_j + sum_j beta0 N_j / beta_j d_j d_jᵀ) / k``.

The other covariance models of mclust have constrained M-steps with no conjugate prior;
they are refused (:func:`check_family`).

Everything here is in the engine's internal frame (:class:`~gaussmix.engine.Frame`), as
the strategy's parameters are; the lower bound's normalisers take the frame's log-scales so
that the bound is in the caller's units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaln, digamma, gammaln

from ._moments import FULL
from .covariance import CovarianceFamily
from .engine import LOG_2PI, PassTerms

Array = NDArray[np.float64]

#: mclust's names of the models with a conjugate prior, and scikit-learn's for them
CONJUGATE_MODELS: dict[str, str] = {
    "VVV": "full",
    "EEE": "tied",
    "VVI": "diag",
    "VII": "spherical",
}

#: the weight priors, by scikit-learn's names
WEIGHT_PRIORS = ("dirichlet_process", "dirichlet_distribution")

#: a component is effective when it explains at least this share of the rows (the
#: responsibilities' sum its posterior was updated with, over the total weight); the others'
#: weights have vanished but for the prior's share
EFFECTIVE_SHARE = 1e-3


def check_family(family: CovarianceFamily) -> None:
    """Raise ``ValueError`` if ``family`` has no conjugate Normal-Wishart prior."""
    if family.model not in CONJUGATE_MODELS:
        names = ", ".join(f"{n!r} ({m})" for m, n in CONJUGATE_MODELS.items())
        raise ValueError(
            f"covariance_type {family.name!r} has no conjugate Normal-Wishart prior, so the "
            "Bayesian mixture cannot fit it (its constrained M-step has no closed-form "
            f"posterior). Use one of {names} (mclust's names of those four are accepted "
            "too), or fit GaussianMixture for the other models."
        )


def prior_shape(family: CovarianceFamily, n_features: int) -> tuple[int, ...]:
    """Shape of ``covariance_prior``: one component's covariance in the family's storage,
    (d, d), (d,) or ()."""
    shape = family.shape(1, n_features)
    return shape if family.moments.shared_precision else shape[1:]


@dataclass(frozen=True)
class Priors:
    """The prior's hyper-parameters (internal frame).

    Attributes
    ----------
    process : bool
        Stick-breaking (Dirichlet process) weights; ``False``: a Dirichlet distribution.
    concentration : float
        ``alpha``: the Dirichlet's concentration of each component, or the process's.
    mean_precision : float
        ``beta0``.
    mean : ndarray of shape (d,)
        ``m0``.
    dof : float
        ``nu0`` (greater than ``d - 1``).
    covariance : ndarray
        ``W0^-1`` in the family's storage: (d, d) for dense storage, (d,) for diagonal,
        () for isotropic.
    """

    process: bool
    concentration: float
    mean_precision: float
    mean: Array
    dof: float
    covariance: Array


@dataclass
class Posterior:
    """The variational posterior's hyper-parameters (internal frame).

    Attributes
    ----------
    concentration : ndarray of shape (k,) or (2, k)
        The Dirichlet's parameters, or each stick's Beta parameters ``(a_j, b_j)``.
    mean_precision : ndarray of shape (k,)
        ``beta_j``.
    means : ndarray of shape (k, d)
        ``m_j``.
    dof : ndarray of shape (k,)
        ``nu_j`` (all equal for ``tied``).
    covariances : ndarray
        ``W_j^-1 / nu_j`` in the family's storage (scikit-learn's ``covariances_``): the
        inverse of the expected precision.
    precisions_cholesky : ndarray
        Its precision factors (of ``nu_j W_j``), as the family stores them.
    """

    concentration: Array
    mean_precision: Array
    means: Array
    dof: Array
    covariances: Array
    precisions_cholesky: Array

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])


# ------------------------------------------------------------------------- weights


def weight_concentration(priors: Priors, counts: Array) -> Array:
    """The weights' posterior parameters from the expected counts ``N_j`` (k,)."""
    if priors.process:
        # each stick's second parameter: alpha plus the counts of the later components
        later = np.concatenate([np.cumsum(counts[::-1])[-2::-1], [0.0]])
        return np.stack([1.0 + counts, priors.concentration + later])
    return priors.concentration + counts


def expected_log_weights(priors: Priors, concentration: Array) -> Array:
    """``E[log pi_j]`` under the weights' posterior, shape (k,)."""
    if priors.process:
        a, b = concentration
        total = digamma(a + b)
        log_v, log_rest = digamma(a) - total, digamma(b) - total
        return np.asarray(log_v + np.concatenate([[0.0], np.cumsum(log_rest)[:-1]]))
    return np.asarray(digamma(concentration) - digamma(concentration.sum()))


def expected_weights(process: bool, concentration: Array) -> Array:
    """The posterior's expected weights, normalised (scikit-learn's ``weights_``; the
    truncated process's left-over mass is shared out); ``process``: stick-breaking."""
    if process:
        a, b = concentration
        v = a / (a + b)
        w = v * np.concatenate([[1.0], np.cumprod(1.0 - v)[:-1]])
    else:
        w = np.asarray(concentration, dtype=np.float64)
    return np.asarray(w / w.sum())


def expected_counts(priors: Priors, concentration: Array) -> Array:
    """The rows each component explains (the responsibilities' weighted sum) that the
    weights' posterior was updated with."""
    if priors.process:
        return np.asarray(concentration[0] - 1.0)
    return np.asarray(concentration - priors.concentration)


def effective(
    priors: Priors, concentration: Array, share: float = EFFECTIVE_SHARE
) -> NDArray[np.bool_]:
    """The components that explain at least ``share`` of the rows (:data:`EFFECTIVE_SHARE`)."""
    counts = np.maximum(expected_counts(priors, concentration), 0.0)
    total = counts.sum()
    return np.asarray(counts >= share * total) if total > 0 else np.ones(counts.shape, bool)


def log_weight_normaliser(priors: Priors, concentration: Array) -> float:
    """The log-normaliser of the weights' posterior (scikit-learn's ``log_norm_weight``)."""
    if priors.process:
        return float(-np.sum(betaln(concentration[0], concentration[1])))
    return float(gammaln(concentration.sum()) - np.sum(gammaln(concentration)))


# ------------------------------------------------------------------------- update


def update(
    priors: Priors, family: CovarianceFamily, counts: Array, means: Array, scatters: Array
) -> tuple[Posterior, NDArray[np.bool_]]:
    """The posterior after responsibilities with counts ``N_j``, means ``x_j`` and
    covariances ``S_j`` (regularised, in the family's storage); and a mask (k,) of
    components whose expected precision is not positive-definite (or not finite).

    ``scatters`` are what the family's maximum-likelihood M-step estimates (the pooled
    covariance for ``tied``).
    """
    k = means.shape[0]
    beta = priors.mean_precision + counts
    post_means = (priors.mean_precision * priors.mean + counts[:, None] * means) / beta[:, None]
    diff = means - priors.mean
    # the spread of the component's mean about the prior's, in the moments' layout
    # (summed over the components for the pooled layout)
    moments = family.moments
    spread = moments.outer((priors.mean_precision * counts / beta)[:, None] * diff, diff)
    if moments.shared_precision:
        total = float(counts.sum())
        dof = np.full(k, priors.dof + total / k)
        scale = priors.covariance + (total * scatters + spread) / k
        covariances = scale / dof[0]
    else:
        trailing = (-1,) + (1,) * (np.ndim(scatters) - 1)
        dof = priors.dof + counts
        scale = priors.covariance + counts.reshape(trailing) * scatters + spread
        covariances = scale / dof.reshape(trailing)
    covariances = np.asarray(covariances, dtype=np.float64)
    chol, bad_cov = family.precisions_cholesky(covariances)
    bad = np.broadcast_to(bad_cov, (k,)) | ~np.isfinite(post_means).all(axis=1)
    posterior = Posterior(
        weight_concentration(priors, counts), beta, post_means, dof, covariances, chol
    )
    return posterior, np.asarray(bad)


# ------------------------------------------------------------------------- expectations


def _expected_log_det(dof: Array, d: int) -> Array:
    """``E[log det Lambda_j] - log det W_j`` of Wisharts with ``dof`` (k,)."""
    halves = 0.5 * (dof[:, None] - np.arange(d)[None, :])
    return np.asarray(d * np.log(2.0) + digamma(halves).sum(axis=1))


def responsibility_terms(priors: Priors, family: CovarianceFamily, post: Posterior) -> PassTerms:
    """The pass terms whose responsibilities are the variational ones (Bishop 10.46-10.67):
    ``E[log pi_j] + E[log N(z | mu_j, Lambda_j^-1)]``.

    Each component's factor is that of ``E[Lambda_j] = nu_j W_j``, and its constant holds
    the expected log-weight, ``E[log det Lambda_j]`` and the ``-d / (2 beta_j)`` of the
    mean's uncertainty.
    """
    k, d = post.means.shape
    factors = np.ascontiguousarray(family.factors(post.precisions_cholesky, k, d))
    log_det = family.moments.log_det(factors) - 0.5 * d * np.log(post.dof)  # of W_j / 2
    constant = (
        expected_log_weights(priors, post.concentration)
        - 0.5 * d * LOG_2PI
        + log_det
        + 0.5 * (_expected_log_det(post.dof, d) - d / post.mean_precision)
    )
    weights = expected_weights(priors.process, post.concentration)
    return PassTerms(family.moments, post.means, factors, constant, weights)


def bound_normalisers(
    priors: Priors, family: CovarianceFamily, post: Posterior, log_scale: float
) -> float:
    """The lower bound's terms of the posterior's normalisers, in the caller's units.

    The bound after an M-step (scikit-learn's ``_compute_lower_bound``, which leaves out the
    terms that do not change during a fit) is the responsibilities' entropy plus this:
    minus the Wishart, weight and mean normalisers.  ``log_scale`` is the sum of the
    internal frame's log-scales, one per feature (the Wisharts' scale matrices are in its
    units).
    """
    k, d = post.means.shape
    factors = family.factors(post.precisions_cholesky, k, d)
    half_log_det = family.moments.log_det(factors) - log_scale - 0.5 * d * np.log(post.dof)
    halves = 0.5 * (post.dof[:, None] - np.arange(d)[None, :])
    log_wishart = -(
        post.dof * half_log_det + post.dof * d * 0.5 * np.log(2.0) + gammaln(halves).sum(axis=1)
    )
    return float(
        -log_wishart.sum()
        - log_weight_normaliser(priors, post.concentration)
        - 0.5 * d * np.sum(np.log(post.mean_precision))
    )


def predictive_shape(mean_precision: Array, dof: Array, n_features: int) -> tuple[Array, Array]:
    """Each predictive Student-t component's degrees of freedom ``nu_j - d + 1`` and the
    factor ``c_j`` of its scale matrix: ``W_j^-1 (1 + beta_j) / (beta_j (nu_j - d + 1))``
    is the expected precision's inverse ``W_j^-1 / nu_j`` over ``c_j²``."""
    t_dof = dof - n_features + 1.0
    return t_dof, np.sqrt(mean_precision * t_dof / (dof * (1.0 + mean_precision)))


def predictive_terms(priors: Priors, family: CovarianceFamily, post: Posterior) -> PassTerms:
    """The pass terms of the posterior predictive density, a mixture of Student-t
    distributions (Bishop 10.81): component ``j`` has ``nu_j - d + 1`` degrees of freedom,
    location ``m_j``, scale matrix ``W_j^-1 (1 + beta_j) / (beta_j (nu_j - d + 1))`` and
    weight ``E[pi_j]``.

    For ``diag`` and ``spherical`` it is the predictive under the Wishart whose expectations
    the fit uses (a diagonal or isotropic scale matrix), so that the density the fit
    optimises and the one it predicts with are the same model's.
    """
    k, d = post.means.shape
    dof, shrink = predictive_shape(post.mean_precision, post.dof, d)
    # the factor of E[Lambda_j] = nu_j W_j, rescaled to the inverse of the scale matrix
    base = family.factors(post.precisions_cholesky, k, d)
    factors = np.ascontiguousarray(base * shrink.reshape((k,) + (1,) * (base.ndim - 1)))
    # the pooled layout's single quadratic feature needs one factor for all components
    moments = FULL if family.moments.shared_precision else family.moments
    weights = expected_weights(priors.process, post.concentration)
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    constant = (
        log_w
        + gammaln(0.5 * (dof + d))
        - gammaln(0.5 * dof)
        - 0.5 * d * np.log(dof * np.pi)
        + moments.log_det(factors)
    )
    return PassTerms(moments, post.means, factors, constant, weights, dof=dof)


__all__ = [
    "CONJUGATE_MODELS",
    "EFFECTIVE_SHARE",
    "WEIGHT_PRIORS",
    "Posterior",
    "Priors",
    "bound_normalisers",
    "check_family",
    "effective",
    "expected_counts",
    "expected_log_weights",
    "expected_weights",
    "predictive_shape",
    "predictive_terms",
    "prior_shape",
    "responsibility_terms",
    "update",
    "weight_concentration",
]
