"""``BayesianGaussianMixture``: variational Bayes on the EM driver, a thin estimator over
:mod:`gaussmix.multistart` with the :class:`~gaussmix.variational.VariationalBayes` strategy.

Validation, prediction, sampling and saving come from :class:`~gaussmix.base.MixtureBase`;
this module holds the parameters, the priors' defaults, ``fit`` and what only a Bayesian
mixture has: the predictive density, the expected log-likelihood and the effective
components.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.validation import check_is_fitted

from . import _parameters
from . import _validation as v
from .base import MixtureBase
from .covariance import CovarianceFamily
from .covariance.storage import DenseStorage
from .engine import Frame, PassTerms, single_threaded_blas, unit_terms
from .init import Nearest, initialize
from .model_state import ModelState, PosteriorState
from .multistart import FitCallback, fit_multistart
from .posterior import (
    EFFECTIVE_SHARE,
    Posterior,
    Priors,
    check_family,
    effective,
    expected_weights,
    predictive_shape,
    predictive_terms,
    prior_shape,
    responsibility_terms,
)
from .regularisation import internal_reg, min_scale
from .sources import RowSource
from .variational import VariationalBayes

Array = NDArray[np.float64]


class BayesianGaussianMixture(MixtureBase):
    """Gaussian mixture fitted by variational inference, which switches off the components
    the data does not need.

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture` (Bishop
    2006, 10.2; Blei & Jordan 2006 for the Dirichlet process): the same parameters, updates
    and fitted attributes — from the same start the same posterior and lower bound, to
    rounding — on gaussmix's fused, chunked pass (the variational E-step is a pass like
    maximum likelihood's, with the expected log-weights and log-determinants in its
    constants).  Beyond scikit-learn:

    * :meth:`score_samples` and :meth:`score` give the posterior predictive density, a
      mixture of Student-t distributions (:meth:`expected_log_likelihood` gives
      scikit-learn's ``score_samples``, the log of the variational responsibilities'
      normaliser);
    * :attr:`effective_n_components_` counts the components the fit uses, and
      :meth:`pruned` (``save(..., prune=True)``) drops the others;
    * several starts race in short runs, as :class:`~gaussmix.GaussianMixture`'s do
      (``n_init``, ``init_iter``); ``sample_weight`` in :meth:`fit`, ``chunk_size``,
      ``means_init`` and Dask input.

    Parameters
    ----------
    n_components : int, default=1
        Largest number of components; the fit leaves those it does not need with almost no
        weight.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Or mclust's names of these four, 'VVV', 'EEE', 'VVI', 'VII'.  mclust's other
        models have no conjugate prior and are refused.
    tol : float, default=1e-3
        The fit stops when the lower bound (a total over the rows, as scikit-learn's)
        changes by less than ``tol``.
    reg_covar : 'auto' or float, default=1e-6
        Added to the diagonal of each component's covariance before the posterior's update:
        an absolute variance (scikit-learn's meaning and default), or ``'auto'``, relative
        to each feature's variance (:mod:`gaussmix.regularisation`).  With ``'auto'`` (or
        0) and priors that follow the data (the defaults, or priors mapped with it), a fit
        of rescaled features is the fit of the features with every parameter rescaled.
    max_iter : int, default=100
        Largest number of iterations of the retained start (short-run iterations included).
    n_init : int, default=16
        Number of starts; with ``init_iter`` set they race in short runs on a subsample,
        as :class:`~gaussmix.GaussianMixture`'s do.
    init_params : {'k-means++', 'kmeans', 'random', 'random_from_data'}, default='k-means++'
        How each start's responsibilities are drawn (:mod:`gaussmix.init`); the posterior
        starts from them, as scikit-learn's does.
    init_iter : int or None, default=20
        Short-run iterations of the winning start; ``None`` runs every start to convergence
        and keeps the best.
    means_init : array-like of shape (n_components, n_features), default=None
        A deterministic start: every row starts in the component of its nearest given mean
        (hard responsibilities, as scikit-learn's 'kmeans' start gives its k-means labels),
        distances in units of each feature's standard deviation but for 'spherical' (so
        that rescaling a feature does not change the start).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
        Stick-breaking weights (a Dirichlet process truncated at ``n_components``) or a
        Dirichlet distribution.
    weight_concentration_prior : float, default=None
        The concentration ``alpha`` (default ``1 / n_components``): smaller values leave
        more components empty.
    mean_precision_prior : float, default=None
        ``beta0``, how strongly the means are drawn to ``mean_prior`` (default 1).
    mean_prior : array-like of shape (n_features,), default=None
        ``m0`` (default: the mean of ``X``).
    degrees_of_freedom_prior : float, default=None
        ``nu0`` of the Wishart priors, greater than ``n_features - 1`` (default
        ``n_features``).
    covariance_prior : float or array-like, default=None
        ``W0^-1``, of shape (n_features, n_features) for 'full' and 'tied', (n_features,)
        for 'diag', a float for 'spherical' (default: the covariance of ``X``, its diagonal,
        or its diagonal's mean).
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Continue the previous fit's posterior (one start).
    verbose : int, default=0
    verbose_interval : int, default=10
    chunk_size : int or None, default=None
        Rows processed at a time; results do not depend on it.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The expected weights (normalised).
    means_ : ndarray of shape (n_components, n_features)
        The posterior means ``m_j``.
    covariances_ : ndarray
        ``W_j^-1 / nu_j``, the inverse of the expected precision, shaped as in
        :class:`~gaussmix.GaussianMixture`.
    precisions_, precisions_cholesky_ : ndarray
        The expected precisions ``nu_j W_j`` and their factors.
    weight_concentration_ : ndarray of shape (n_components,), or tuple of two
        The Dirichlet's parameters, or each stick's Beta parameters ``(a, b)``.
    mean_precision_ : ndarray of shape (n_components,)
    degrees_of_freedom_ : ndarray of shape (n_components,), or float for 'tied'
    weight_concentration_prior_, mean_precision_prior_, degrees_of_freedom_prior_ : float
    mean_prior_ : ndarray of shape (n_features,)
    covariance_prior_ : ndarray or float
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        scikit-learn's lower bound of the retained start after its last iteration: the
        evidence lower bound, up to terms that are constant during a fit.
    history_ : list of float
        The lower bound after every iteration of the retained start (also
        ``lower_bounds_``); it never decreases.
    start_lower_bounds_ : list of float
        Each start's lower bound at the end of its short run (on the race's subsample).
    reseeds_ : list
        Always empty (components are switched off, never re-seeded).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    The predictive density of :meth:`score_samples` (Bishop 10.81) is
    ``sum_j E[pi_j] St(x | m_j, L_j^-1, nu_j - d + 1)`` with the scale matrix
    ``L_j^-1 = W_j^-1 (1 + beta_j) / (beta_j (nu_j - d + 1))``: the posterior's uncertainty
    about the means and precisions widens each component, less as it explains more rows.
    :meth:`sample`, like scikit-learn's, draws from the Gaussian mixture of the point
    estimate (``weights_``, ``means_``, ``covariances_``).  BIC, AIC and ICL are those of the
    predictive density with every component's parameters counted; use them on
    :meth:`pruned` models.
    """

    _parameter_table: ClassVar[dict[str, v.Check]] = _parameters.BAYESIAN_GAUSSIAN_MIXTURE

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float | str = 1e-6,
        max_iter: int = 100,
        n_init: int = 16,
        init_params: str = "k-means++",
        init_iter: int | None = 20,
        means_init: ArrayLike | None = None,
        weight_concentration_prior_type: str = "dirichlet_process",
        weight_concentration_prior: float | None = None,
        mean_precision_prior: float | None = None,
        mean_prior: ArrayLike | None = None,
        degrees_of_freedom_prior: float | None = None,
        covariance_prior: float | ArrayLike | None = None,
        random_state: int | np.random.RandomState | np.random.Generator | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        chunk_size: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.init_iter = init_iter
        self.means_init = means_init
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    # ------------------------------------------------------------------ priors

    def _priors(
        self, source: RowSource, frame: Frame, family: CovarianceFamily
    ) -> tuple[Priors, PosteriorState]:
        """The priors in the internal frame, and in the caller's units (with the fit's
        posterior fields left empty).

        The defaults that come from the data (the mean and covariance of ``X``, weighted
        rows counted as repeated rows) take one pass over the rows.
        """
        d = source.n_features
        k = self.n_components
        shape = prior_shape(family, d)
        mean_user = cov_user = None
        if self.mean_prior is not None:
            mean_user = v.check_init_array(
                self.mean_prior, (d,), "mean_prior", hint="(n_features,)"
            )
        if self.covariance_prior is not None:
            cov_user = _check_covariance_prior(self.covariance_prior, family, shape)
        if mean_user is None or cov_user is None:
            # one component over every row: the data's mean and covariance in the family's
            # layout (its maximum-likelihood estimate), with n / (n - 1) as numpy's ddof=1
            stats = source.mixture_pass(
                unit_terms(family.moments, np.zeros((1, d))), frame, hard=True,
                chunk_size=self.chunk_size,
            ).stats  # fmt: skip
            assert stats is not None
            n = stats.weight
            mean_z = stats.means()[0]
            cov_z = family.estimate(stats, 0.0).reshape(shape) * (n / (n - 1.0) if n > 1 else 1.0)
        if mean_user is None:
            mean_user = frame.centre + frame.scale * mean_z
        else:
            mean_z = frame.to_internal(mean_user[None])[0]
        if cov_user is None:
            cov_user = _rescaled(cov_z, frame.scale)
        else:
            cov_z = _rescaled(cov_user, 1.0 / frame.scale)  # powers of two: exact
        dof = float(d if self.degrees_of_freedom_prior is None else self.degrees_of_freedom_prior)
        if not dof > d - 1.0:
            raise ValueError(
                f"degrees_of_freedom_prior must be greater than n_features - 1 = {d - 1}, got "
                f"{dof:g}; leave it None (n_features) or pass a larger value."
            )
        alpha = float(
            1.0 / k if self.weight_concentration_prior is None else self.weight_concentration_prior
        )
        beta = float(1.0 if self.mean_precision_prior is None else self.mean_precision_prior)
        process = self.weight_concentration_prior_type == "dirichlet_process"
        priors = Priors(process, alpha, beta, mean_z, dof, np.asarray(cov_z, np.float64))
        empty = np.empty(0)
        user = PosteriorState(
            self.weight_concentration_prior_type, empty, empty, empty,
            alpha, beta, np.asarray(mean_user, np.float64), dof, np.asarray(cov_user, np.float64),
        )  # fmt: skip
        return priors, user

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: ArrayLike,
        y: Any = None,
        sample_weight: ArrayLike | None = None,
        *,
        callback: FitCallback | None = None,
    ) -> Any:
        """Infer the posterior by variational inference.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (a Dask array or data frame too); float32 data keeps float32
            point estimates.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; integer weights are equivalent to repeating rows.
        callback : callable, optional
            Called with a :class:`gaussmix.multistart.FitEvent` after every iteration of
            every start; its ``log_likelihood`` is the lower bound.

        Returns
        -------
        self : BayesianGaussianMixture
        """
        # BLAS on one thread for the whole fit (see GaussianMixture.fit)
        with single_threaded_blas():
            return self._fit(X, sample_weight, callback)

    def _fit(
        self, X: ArrayLike, sample_weight: ArrayLike | None, callback: FitCallback | None
    ) -> Any:
        v.check_params(self, self._parameter_table)
        family = self._family()
        check_family(family)
        source, frame_rows, frame_weights, _ = self._fit_rows(X, sample_weight)
        d = source.n_features
        k = self.n_components
        warm = bool(self.warm_start) and hasattr(self, "converged_")
        means_init = None
        if self.means_init is not None:
            means_init = v.check_init_array(
                self.means_init, (k, d), "means_init", hint="(n_components, n_features)"
            )
        # per feature where the family is: the conjugate update maps onto itself under a
        # rescaling of one feature (the Normal-Wishart prior's mean and scale matrix with
        # it), so the posterior does too once the priors are mapped into the frame
        data = Frame.from_data(
            frame_rows, frame_weights, self.chunk_size,
            min_scale=min_scale(self.reg_covar, source.dtype),
            per_feature=family.per_feature_equivariant,
        )  # fmt: skip
        if warm:
            self._check_warm_start(family, k, d)
            frame = self._prediction_frame()
        else:
            frame = data
        reg = internal_reg(self.reg_covar, frame, data, source.dtype)
        priors, prior_state = self._priors(source, frame, family)
        strategy = VariationalBayes(family, priors, reg, log_scale=frame.log_scale)
        if warm:
            strategy.given = self._internal_posterior(frame, priors)
        elif means_init is not None:
            stats = Nearest(frame.to_internal(means_init)).statistics(
                source, family.moments, frame, self.chunk_size
            )
            strategy.given, _ = strategy.m_step(stats, None)
        given = strategy.given

        def start(rows: RowSource, rngs: Sequence[np.random.Generator]) -> Any:
            if given is not None:
                return [strategy.point_estimate(given) for _ in rngs]
            sw = rows.sample_weight
            # the starts' point estimates stand for responsibilities over these rows
            strategy.start_weight = float(rows.n_rows if sw is None else sw.sum())
            return initialize(
                rows, family, frame, k, method=self.init_params, rngs=rngs, reg_covar=reg,
                chunk_size=self.chunk_size, n_rows=source.n_rows,
            )  # fmt: skip

        rs = v.as_random_state(self.random_state)
        best, starts = fit_multistart(
            source, strategy, frame, start,
            n_components=k, n_init=1 if given is not None else self.n_init,
            init_iter=self.init_iter, max_iter=self.max_iter, tol=self.tol,
            rng=np.random.default_rng(rs.randint(np.iinfo(np.int32).max)),
            chunk_size=self.chunk_size, verbose=self.verbose,
            verbose_interval=self.verbose_interval, callback=callback,
            previous=self.lower_bound_ if warm else -np.inf,
        )  # fmt: skip
        self._warn_unconverged(best.monitor.converged)
        post = best.params
        monitor = best.monitor
        shared = family.moments.shared_precision
        prior_state.weight_concentration = post.concentration.copy()
        prior_state.mean_precision = post.mean_precision.copy()
        prior_state.degrees_of_freedom = np.asarray(post.dof[0] if shared else post.dof)
        self._set_fit(
            strategy.point_estimate(post), frame, source.dtype,
            converged=monitor.converged, n_iter=monitor.n_iter, lower_bound=best.lower_bound,
            history=list(monitor.history), start_lower_bounds=starts, posterior=prior_state,
        )  # fmt: skip
        return self

    # ------------------------------------------------------------------ the posterior

    def _fitted_priors(self, frame: Frame) -> Priors:
        """The fitted priors in ``frame``."""
        s = frame.scale
        return Priors(
            self.weight_concentration_prior_type == "dirichlet_process"
            if not hasattr(self, "weight_concentration_")
            else np.ndim(np.asarray(self.weight_concentration_)) == 2,
            float(self.weight_concentration_prior_),
            float(self.mean_precision_prior_),
            (np.asarray(self.mean_prior_, np.float64) - frame.centre) / s,
            float(self.degrees_of_freedom_prior_),
            _rescaled(np.asarray(self.covariance_prior_, np.float64), 1.0 / s),
        )

    def _internal_posterior(self, frame: Frame, priors: Priors | None = None) -> Posterior:
        """The fitted posterior in ``frame``."""
        point = self._internal_params(frame)
        k = point.n_components
        dof = np.broadcast_to(np.asarray(self.degrees_of_freedom_, np.float64), (k,)).copy()
        return Posterior(
            np.asarray(self.weight_concentration_, np.float64),
            np.asarray(self.mean_precision_, np.float64),
            point.means,
            dof,
            point.covariances,
            point.precisions_cholesky,
        )

    def _pass_terms(self, frame: Frame) -> PassTerms:
        """The variational responsibilities' terms."""
        priors = self._fitted_priors(frame)
        return responsibility_terms(priors, self._family(), self._internal_posterior(frame))

    def _density_terms(self, frame: Frame) -> PassTerms:
        """The posterior predictive density's terms (Student-t components)."""
        priors = self._fitted_priors(frame)
        return predictive_terms(priors, self._family(), self._internal_posterior(frame))

    def expected_log_likelihood(self, X: ArrayLike) -> NDArray[np.floating]:
        """scikit-learn's ``score_samples``: ``log sum_j exp(E[log pi_j] + E[log N(x | mu_j,
        Lambda_j^-1)])``, the log of the variational responsibilities' normaliser.

        It is no density (its exponential does not integrate to one) but a lower bound of
        the predictive log-density of :meth:`score_samples` (Jensen's inequality, per
        component).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        logd = self._pass(X, log_density=True).log_density
        assert logd is not None
        return logd

    def score_samples(self, X: ArrayLike) -> NDArray[np.floating]:
        """Log of the posterior predictive density (a mixture of Student-t distributions)
        at each row; scikit-learn's value is :meth:`expected_log_likelihood`.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        return super().score_samples(X)

    def score(self, X: ArrayLike, y: Any = None) -> float:
        """Mean log predictive density per row of ``X``."""
        return super().score(X, y)

    def predictive_parameters(self) -> tuple[Array, Array, Array, Array]:
        """The Student-t components of the predictive density (:meth:`score_samples`).

        Returns
        -------
        weights : ndarray of shape (n_components,)
            ``E[pi_j]`` (``weights_``).
        means : ndarray of shape (n_components, n_features)
            The locations ``m_j`` (``means_``).
        scales : ndarray of shape (n_components, n_features, n_features)
            The scale matrices ``W_j^-1 (1 + beta_j) / (beta_j (nu_j - d + 1))``.
        dof : ndarray of shape (n_components,)
            The degrees of freedom ``nu_j - d + 1``.
        """
        check_is_fitted(self)
        weights = np.asarray(self.weights_, np.float64)
        means = np.asarray(self.means_, np.float64)
        k, d = means.shape
        dof = np.broadcast_to(np.asarray(self.degrees_of_freedom_, np.float64), (k,))
        t_dof, shrink = predictive_shape(np.asarray(self.mean_precision_, np.float64), dof, d)
        dense = self._family().dense(np.asarray(self.covariances_, np.float64), k, d)
        return weights, means, dense / (shrink * shrink)[:, None, None], t_dof

    # ------------------------------------------------------------------ effective components

    def _effective(self, share: float = EFFECTIVE_SHARE) -> NDArray[np.bool_]:
        check_is_fitted(self)
        priors = self._fitted_priors(self._prediction_frame())
        return effective(priors, np.asarray(self.weight_concentration_, np.float64), share)

    @property
    def effective_components_(self) -> NDArray[np.intp]:
        """Indices of the components that explain at least 0.1 % of the rows
        (:data:`gaussmix.posterior.EFFECTIVE_SHARE`); the others' weights vanished."""
        return np.flatnonzero(self._effective())

    @property
    def effective_n_components_(self) -> int:
        """The number of :attr:`effective_components_`."""
        return int(self._effective().sum())

    def pruned(self, share: float = EFFECTIVE_SHARE) -> BayesianGaussianMixture:
        """A fitted copy with only the components that explain at least ``share`` of the
        rows.

        The weights' posterior keeps the kept components' parameters (for the Dirichlet
        distribution, exactly the posterior of the kept weights renormalised), and
        ``weights_`` are recomputed from it; the other posterior and prior attributes and
        the fit summary are kept.  ``n_components`` becomes the number kept, and a default
        ``weight_concentration_prior`` is set to the value the fit used.

        Parameters
        ----------
        share : float, default=0.001

        Returns
        -------
        BayesianGaussianMixture
        """
        keep = self._effective(share)
        state = ModelState.of(self)
        assert state.posterior is not None
        post = state.posterior
        family = self._family()
        priors = self._fitted_priors(self._prediction_frame())
        concentration = np.asarray(post.weight_concentration, np.float64)[..., keep]
        shared = family.moments.shared_precision

        def kept(a: Any) -> Any:
            return a if shared else np.asarray(a)[keep]

        weights = expected_weights(priors.process, concentration).astype(state.dtype)
        dof = np.asarray(post.degrees_of_freedom)
        pruned_post = PosteriorState(
            post.weight_concentration_prior_type, concentration, post.mean_precision[keep],
            dof if dof.ndim == 0 else dof[keep], post.weight_concentration_prior,
            post.mean_precision_prior, post.mean_prior, post.degrees_of_freedom_prior,
            post.covariance_prior,
        )  # fmt: skip
        new_state = ModelState(
            state.covariance_type, weights, np.asarray(state.means)[keep],
            kept(state.covariances), kept(state.precisions_cholesky),
            precisions=None if state.precisions is None else kept(state.precisions),
            converged=state.converged, n_iter=state.n_iter, lower_bound=state.lower_bound,
            history=state.history, start_lower_bounds=state.start_lower_bounds,
            feature_names=state.feature_names, posterior=pruned_post,
        )  # fmt: skip
        params = self.get_params(deep=False)
        params.update(
            n_components=int(keep.sum()),
            weight_concentration_prior=float(self.weight_concentration_prior_),
            means_init=None if self.means_init is None else np.asarray(self.means_init)[keep],
        )
        model = BayesianGaussianMixture(**params)
        new_state.apply(model)
        return model

    def save(self, path: str | os.PathLike[str], *, prune: bool = False) -> Path:
        """Write the fitted model to ``path`` (atomically; no pickle).

        Parameters
        ----------
        path : str or os.PathLike
        prune : bool, default=False
            Save :meth:`pruned` instead: only the effective components.

        Returns
        -------
        pathlib.Path
        """
        model = self.pruned() if prune else self
        return MixtureBase.save(model, path)


def _rescaled(covariance: Array, scale: Array) -> Array:
    """One component's covariance in the family's storage ((d, d), (d,) or ()) under the
    map ``x -> scale * x`` (``scale`` (d,), equal entries for a scalar covariance)."""
    cov = np.asarray(covariance, np.float64)
    if cov.ndim == 2:
        return cov * scale[:, None] * scale[None, :]  # no overflow of scale**2
    if cov.ndim == 1:
        return cov * scale * scale
    return np.asarray(cov * scale[0] * scale[0])


def _check_covariance_prior(value: Any, family: CovarianceFamily, shape: tuple[int, ...]) -> Array:
    """A user's ``covariance_prior`` in the family's storage (float64), checked."""
    hint = {2: "(n_features, n_features)", 1: "(n_features,)", 0: "a float"}[len(shape)]
    cov = v.check_init_array(value, shape, "covariance_prior", hint=f"{hint} for "
                             f"covariance_type={family.name!r}")  # fmt: skip
    if isinstance(family.storage, DenseStorage):
        if not np.allclose(cov, cov.T, rtol=1e-8, atol=0.0):
            raise ValueError("covariance_prior is not symmetric; pass a covariance matrix.")
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError(
                "covariance_prior is not positive-definite; pass a valid covariance matrix."
            ) from None
    elif not (cov > 0).all():
        raise ValueError(
            f"covariance_prior must be positive for covariance_type={family.name!r}; got "
            f"{np.min(cov):.6g}."
        )
    return cov


__all__ = ["BayesianGaussianMixture"]
