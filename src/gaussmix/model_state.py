"""The fitted state of a mixture: one plain record that estimators, saved models and the
report share.

:class:`ModelState` holds the fitted arrays (in the caller's units and dtype) and the fit
summary.  It is the only place that knows the names of the fitted attributes of an estimator
(:meth:`ModelState.apply`, :meth:`ModelState.of`): :mod:`gaussmix.io` reads and writes it
without knowing any estimator class, and the report builds one for each EM iteration it
draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .covariance import CovarianceFamily, get_family

Array = NDArray[np.floating]

#: the fitted arrays, as estimator attributes, in the order a saved model lists them
FITTED_ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_")

#: a Bayesian mixture's arrays of its posterior and prior, as :class:`PosteriorState` fields
POSTERIOR_ARRAYS = (
    "weight_concentration",
    "mean_precision",
    "degrees_of_freedom",
    "mean_prior",
    "covariance_prior",
)
#: its prior's numbers
POSTERIOR_NUMBERS = (
    "weight_concentration_prior",
    "mean_precision_prior",
    "degrees_of_freedom_prior",
)


@dataclass
class PosteriorState:
    """A Bayesian mixture's variational posterior and prior, in the caller's units (float64).

    The estimator's attributes are these names with a trailing underscore (scikit-learn's
    ``BayesianGaussianMixture``'s); ``weight_concentration_`` is the pair of arrays
    ``(a, b)`` for the Dirichlet process, and ``degrees_of_freedom_`` and
    ``covariance_prior_`` are floats where scikit-learn's are (``tied``; ``spherical``).

    Attributes
    ----------
    weight_concentration_prior_type : {"dirichlet_process", "dirichlet_distribution"}
    weight_concentration : ndarray of shape (k,) or (2, k)
        The Dirichlet's parameters, or each stick's Beta parameters (rows ``a`` and ``b``).
    mean_precision : ndarray of shape (k,)
    degrees_of_freedom : ndarray of shape (k,), or () for ``tied``
    weight_concentration_prior, mean_precision_prior, degrees_of_freedom_prior : float
    mean_prior : ndarray of shape (d,)
    covariance_prior : ndarray
        (d, d) for dense covariances, (d,) for ``diag``, () for ``spherical``.
    """

    weight_concentration_prior_type: str
    weight_concentration: Array
    mean_precision: Array
    degrees_of_freedom: Array
    weight_concentration_prior: float
    mean_precision_prior: float
    mean_prior: Array
    degrees_of_freedom_prior: float
    covariance_prior: Array

    @property
    def process(self) -> bool:
        return self.weight_concentration_prior_type == "dirichlet_process"

    def apply(self, estimator: Any) -> None:
        """Set ``estimator``'s attributes of the posterior and prior."""
        conc = np.asarray(self.weight_concentration, np.float64)
        estimator.weight_concentration_ = (conc[0], conc[1]) if self.process else conc
        estimator.mean_precision_ = np.asarray(self.mean_precision, np.float64)
        dof = np.asarray(self.degrees_of_freedom, np.float64)
        estimator.degrees_of_freedom_ = float(dof) if dof.ndim == 0 else dof
        estimator.weight_concentration_prior_ = float(self.weight_concentration_prior)
        estimator.mean_precision_prior_ = float(self.mean_precision_prior)
        estimator.mean_prior_ = np.asarray(self.mean_prior, np.float64)
        estimator.degrees_of_freedom_prior_ = float(self.degrees_of_freedom_prior)
        cov = np.asarray(self.covariance_prior, np.float64)
        estimator.covariance_prior_ = float(cov) if cov.ndim == 0 else cov

    @classmethod
    def of(cls, estimator: Any) -> PosteriorState | None:
        """The posterior of a fitted Bayesian mixture; ``None`` for another estimator."""
        if not hasattr(estimator, "weight_concentration_"):
            return None
        concentration = np.asarray(estimator.weight_concentration_, np.float64)
        return cls(
            "dirichlet_process" if concentration.ndim == 2 else "dirichlet_distribution",
            concentration,
            np.asarray(estimator.mean_precision_, np.float64),
            np.asarray(estimator.degrees_of_freedom_, np.float64),
            float(estimator.weight_concentration_prior_),
            float(estimator.mean_precision_prior_),
            np.asarray(estimator.mean_prior_, np.float64),
            float(estimator.degrees_of_freedom_prior_),
            np.asarray(estimator.covariance_prior_, np.float64),
        )


@dataclass
class ModelState:
    """Fitted parameters and fit summary of a Gaussian mixture.

    Attributes
    ----------
    covariance_type : str
        A registered covariance family (:mod:`gaussmix.covariance`).
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        In the family's layout (see :meth:`CovarianceFamily.shape`).
    precisions_cholesky : ndarray
        As ``covariances``: upper-triangular ``U`` with ``inv(covariance) = U Uᵀ``, or
        ``1 / sqrt(variance)``.
    precisions : ndarray or None
        The precisions, if known; ``None``: computed in float64 from
        ``precisions_cholesky`` when applied.
    converged : bool
    n_iter : int
    lower_bound : float
        Mean log-likelihood per sample at the last E-step.
    history : list of float
        Mean log-likelihood of every EM iteration of the retained run.
    start_lower_bounds : list of float
        Each start's log-likelihood at the end of its short run.
    reseeds : list of (int, int)
        (iteration, component) of every re-seeded degenerate component.
    n_empty_rows : int
        Rows of the training data with nothing observed (left out of the fit).
    feature_names : list of str or None
        Column names of the training data, when it had string column names.
    posterior : PosteriorState or None
        A Bayesian mixture's posterior and prior (``None`` for maximum likelihood).
    """

    covariance_type: str
    weights: Array
    means: Array
    covariances: Array
    precisions_cholesky: Array
    precisions: Array | None = None
    converged: bool = False
    n_iter: int = 0
    lower_bound: float = -np.inf
    history: list[float] = field(default_factory=list)
    start_lower_bounds: list[float] = field(default_factory=list)
    reseeds: list[tuple[int, int]] = field(default_factory=list)
    feature_names: list[str] | None = None
    n_empty_rows: int = 0
    posterior: PosteriorState | None = None

    @property
    def family(self) -> CovarianceFamily:
        return get_family(self.covariance_type)

    @property
    def n_components(self) -> int:
        return int(np.shape(self.means)[0])

    @property
    def n_features(self) -> int:
        return int(np.shape(self.means)[1])

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.asarray(self.means).dtype

    @classmethod
    def from_covariances(
        cls,
        covariance_type: str,
        weights: ArrayLike,
        means: ArrayLike,
        covariances: ArrayLike,
        **summary: Any,
    ) -> ModelState:
        """A float64 state with the precision factors computed from ``covariances``.

        Raises
        ------
        ValueError
            If a covariance is not positive-definite.
        """
        family = get_family(covariance_type)
        cov = np.asarray(covariances, np.float64)
        chol, bad = family.precisions_cholesky(cov)
        if np.any(bad):
            raise ValueError("covariances must be positive-definite to build a model.")
        return cls(
            family.name,
            np.asarray(weights, np.float64),
            np.asarray(means, np.float64),
            cov,
            chol,
            **summary,
        )

    def precision_matrices(self) -> Array:
        """``precisions`` if set, else computed from the factors (float64, cast back)."""
        if self.precisions is not None:
            return self.precisions
        chol = np.asarray(self.precisions_cholesky, np.float64)
        return self.family.precisions(chol).astype(self.dtype.newbyteorder("="))

    def apply(self, estimator: Any) -> None:
        """Set ``estimator``'s fitted attributes (scikit-learn's names) from this state."""
        dtype = self.dtype.newbyteorder("=")
        for name, value in zip(
            FITTED_ARRAYS,
            (self.weights, self.means, self.covariances, self.precisions_cholesky),
            strict=True,
        ):
            setattr(estimator, name, np.asarray(value).astype(dtype, copy=False))
        estimator.precisions_ = self.precision_matrices()
        estimator.converged_ = bool(self.converged)
        estimator.n_iter_ = int(self.n_iter)
        estimator.lower_bound_ = float(self.lower_bound)
        estimator.history_ = [float(x) for x in self.history]
        estimator.lower_bounds_ = estimator.history_  # scikit-learn >= 1.7's name
        estimator.start_lower_bounds_ = [float(x) for x in self.start_lower_bounds]
        estimator.reseeds_ = [(int(i), int(j)) for i, j in self.reseeds]
        estimator.n_empty_rows_ = int(self.n_empty_rows)
        estimator.n_features_in_ = self.n_features
        if self.feature_names is not None:
            estimator.feature_names_in_ = np.asarray(self.feature_names, dtype=object)
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        if self.posterior is not None:
            self.posterior.apply(estimator)

    @classmethod
    def of(cls, estimator: Any) -> ModelState:
        """The state of a fitted estimator (its arrays, not copies)."""
        names = getattr(estimator, "feature_names_in_", None)
        return cls(
            covariance_type=estimator.covariance_type,
            weights=estimator.weights_,
            means=estimator.means_,
            covariances=estimator.covariances_,
            precisions_cholesky=estimator.precisions_cholesky_,
            precisions=getattr(estimator, "precisions_", None),
            converged=bool(estimator.converged_),
            n_iter=int(estimator.n_iter_),
            lower_bound=float(estimator.lower_bound_),
            history=list(getattr(estimator, "history_", [])),
            start_lower_bounds=list(getattr(estimator, "start_lower_bounds_", [])),
            reseeds=list(getattr(estimator, "reseeds_", [])),
            feature_names=None if names is None else [str(n) for n in names],
            n_empty_rows=int(getattr(estimator, "n_empty_rows_", 0)),
            posterior=PosteriorState.of(estimator),
        )


__all__ = [
    "FITTED_ARRAYS",
    "POSTERIOR_ARRAYS",
    "POSTERIOR_NUMBERS",
    "ModelState",
    "PosteriorState",
]
