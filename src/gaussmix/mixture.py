"""``GaussianMixture``: a thin scikit-learn estimator over :mod:`gaussmix.em`."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _validation as v
from .covariance import COVARIANCE_TYPES, CovarianceFamily, get_family
from .em import EMState, FitCallback, fit_multistart
from .engine import Frame, NonFiniteInput, Params, mixture_pass, single_threaded_blas
from .init import INITIALIZERS, initialize

Array = NDArray[np.float64]


def _choice(valid: tuple[str, ...]) -> v.Check:
    def check(name: str, value: Any) -> None:
        if value not in valid:
            raise ValueError(
                f"The {name!r} parameter must be one of {', '.join(map(repr, valid))}; "
                f"got {value!r}."
            )

    return check


def _init_array(name: str, value: Any) -> None:
    if value is not None and not hasattr(value, "__len__") and not hasattr(value, "__array__"):
        raise ValueError(f"The {name!r} parameter must be None or array-like; got {value!r}.")


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by expectation-maximisation.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: same parameters and
    fitted attributes, plus ``chunk_size`` (memory stays bounded by it), ``init_iter``
    (short-run EM over several starts) and ``sample_weight`` in :meth:`fit`.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Structure of the covariance matrices (see :mod:`gaussmix.covariance`).
    tol : float, default=1e-3
        EM stops when the mean log-likelihood per sample changes by less than ``tol``.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of the covariances.
    max_iter : int, default=100
        Largest number of EM iterations of the retained start (short-run iterations included).
    n_init : int, default=16
        Number of starts.  With ``init_iter`` set, the starts race in short EM runs (on a
        random subsample of 10 000 rows, or 500 per component, when ``X`` is larger): after
        each round the worse half is dropped, and the winner, after ``init_iter``
        iterations, is continued on all rows.
    init_params : {'k-means++', 'kmeans', 'random', 'random_from_data'}, default='k-means++'
        Initialisation strategy (see :mod:`gaussmix.init`).
    init_iter : int or None, default=20
        Short-run iterations of the winning start (the rounds before it are shorter: 3, 5,
        10, 20 for 16 starts).  ``None`` runs every start to convergence on all rows and keeps the
        best (scikit-learn's behaviour).
    weights_init : array-like of shape (n_components,), default=None
        Initial weights; overrides the strategy.
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means.  Makes the start deterministic: the other parameters are estimated
        from each row's nearest given mean, and only one start is run.
    precisions_init : array-like, default=None
        Initial precisions (inverse covariances), of shape (n_components, n_features,
        n_features) for 'full', (n_features, n_features) for 'tied', (n_components,
        n_features) for 'diag' and (n_components,) for 'spherical'.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation.
    warm_start : bool, default=False
        Start a new :meth:`fit` from the previous solution (one start).
    verbose : int, default=0
        1 prints one line per start, 2 one line per iteration.
    chunk_size : int or None, default=None
        Rows processed at a time; ``None`` picks a size that keeps each buffer at a few MiB.
        Results do not depend on it.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape as ``precisions_init``.
    precisions_ : ndarray
    precisions_cholesky_ : ndarray
        Upper-triangular ``U`` with ``precision = U @ U.T`` (full, tied), or
        ``1 / sqrt(variance)`` (diag, spherical).
    converged_ : bool
    n_iter_ : int
        EM iterations of the retained start.
    lower_bound_ : float
        Mean log-likelihood per sample at the last E-step of the retained start.
    history_ : list of float
        Mean log-likelihood at every E-step of the retained start (also ``lower_bounds_``).
    start_lower_bounds_ : list of float
        Mean log-likelihood of every start at the end of its short run.
    reseeds_ : list of (int, int)
        (iteration, component) of every degenerate component that was re-seeded.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.

    Notes
    -----
    Default initialisation: ``n_init=16`` k-means++ seedings race in short EM runs on a
    subsample — 3 iterations each, the better 8 go on to 5, the better 4 to 10, the better 2
    to 20 — and the winner is continued to convergence on all rows (short-run EM, Biernacki,
    Celeux & Govaert 2003, with successive halving).  This costs a fixed amount whatever ``n`` and
    discards starts headed for poor local optima, which reaches a higher log-likelihood than
    one k-means start (scikit-learn's default) in less time; ``benchmarks/README.md`` has the
    measurements.  ``history_`` then holds the iterations on all rows, and
    ``start_lower_bounds_`` each start's subsample log-likelihood when it was dropped.
    """

    _parameter_table: ClassVar[dict[str, v.Check]] = {
        "n_components": v.int_at_least(1),
        "covariance_type": _choice(COVARIANCE_TYPES),
        "tol": v.real_at_least(0.0),
        "reg_covar": v.real_at_least(0.0),
        "max_iter": v.int_at_least(0),
        "n_init": v.int_at_least(1),
        "init_params": _choice(tuple(INITIALIZERS)),
        "init_iter": v.int_at_least(1, allow_none=True),
        "weights_init": _init_array,
        "means_init": _init_array,
        "precisions_init": _init_array,
        "random_state": v.random_state,
        "warm_start": v.boolean,
        "verbose": v.int_at_least(0),
        "chunk_size": v.int_at_least(1, allow_none=True),
    }

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 16,
        init_params: str = "k-means++",
        init_iter: int | None = 20,
        weights_init: ArrayLike | None = None,
        means_init: ArrayLike | None = None,
        precisions_init: ArrayLike | None = None,
        random_state: int | np.random.RandomState | np.random.Generator | None = None,
        warm_start: bool = False,
        verbose: int = 0,
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
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.chunk_size = chunk_size

    # ------------------------------------------------------------------ validation

    def _family(self) -> CovarianceFamily:
        return get_family(self.covariance_type)

    def _validate_X(
        self, X: Any, *, reset: bool, check_finite: bool = True
    ) -> NDArray[np.floating]:
        if (
            not reset
            and not check_finite
            and type(X) is np.ndarray
            and X.dtype in (np.float64, np.float32)
            and X.dtype.isnative
            and X.ndim == 2
            and X.shape[0] >= 1
            and X.shape[1] == getattr(self, "n_features_in_", -1)
            and not hasattr(self, "feature_names_in_")
        ):
            # a float array of the fitted width, for a pass that finds NaN and inf itself:
            # nothing for validate_data to convert or report (it costs ~0.25 ms a call)
            return X
        v.precheck_X(X, check_finite=check_finite)
        expected = getattr(self, "n_features_in_", None)
        if not reset and expected is not None and np.shape(X)[1] != expected:
            raise ValueError(
                f"X has {np.shape(X)[1]} features, but {type(self).__name__} is expecting "
                f"{expected} features as input. Pass rows with the same {expected} columns "
                "as the data the model was fitted on."
            )
        # precheck_X has already rejected NaN and inf with a clearer message
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_min_samples=1,
            ensure_all_finite=False,
        )
        return np.asarray(X)

    def _validate_fit(self, X: Any, sample_weight: Any) -> tuple[NDArray[np.floating], Any]:
        v.check_params(self, self._parameter_table)
        X = self._validate_X(X, reset=True)
        n = X.shape[0]
        if n < 2:
            raise ValueError(
                f"Found array with {n} sample(s) (shape={X.shape}) while a minimum of 2 is "
                "required to fit a Gaussian mixture. Pass more rows."
            )
        if n < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n}. Decrease n_components or pass more rows."
            )
        sw = v.check_sample_weight(sample_weight, n)
        return X, sw

    def _user_inits(self, family: CovarianceFamily, d: int) -> dict[str, Array | None]:
        k = self.n_components
        out: dict[str, Array | None] = {"weights": None, "means": None, "precisions": None}
        if self.weights_init is not None:
            out["weights"] = v.check_weights_init(self.weights_init, k)
        if self.means_init is not None:
            out["means"] = v.check_init_array(
                self.means_init, (k, d), "means_init", hint="(n_components, n_features)"
            )
        if self.precisions_init is not None:
            prec = v.check_init_array(
                self.precisions_init,
                family.shape(k, d),
                "precisions_init",
                hint=f"for covariance_type={family.name!r}",
            )
            family.check_precisions(prec, k, d)
            out["precisions"] = prec
        return out

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: ArrayLike,
        y: Any = None,
        sample_weight: ArrayLike | None = None,
        *,
        callback: FitCallback | None = None,
    ) -> Any:
        """Estimate the parameters with EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; float32 data keeps float32 attributes (statistics are float64).
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; integer weights are equivalent to repeating rows.
        callback : callable, optional
            Called with a :class:`gaussmix.em.FitEvent` after every EM iteration of every
            start (progress bars, the HTML report's EM animation).

        Returns
        -------
        self : GaussianMixture
        """
        # BLAS on one thread for the whole fit, not only inside the passes: its products
        # here are small, and after a multi-threaded call OpenBLAS's worker spins on the
        # other core for a while, competing with the passes' workers (measured at
        # n=200 000, d=10, k=10 diag: 9-10 ms per iteration instead of 5-6)
        with single_threaded_blas():
            return self._fit(X, sample_weight, callback)

    def _fit(
        self, X: ArrayLike, sample_weight: ArrayLike | None, callback: FitCallback | None
    ) -> Any:
        X, sw = self._validate_fit(X, sample_weight)
        family = self._family()
        d = X.shape[1]
        k = self.n_components
        inits = self._user_inits(family, d)
        warm = bool(self.warm_start) and hasattr(self, "converged_")
        if warm:
            self._check_warm_start(family, k, d)
            frame = self._prediction_frame()
        else:
            floor = float(np.sqrt(self.reg_covar))
            frame = Frame.from_data(X, sw, self.chunk_size, min_scale=floor)
        reg = float(self.reg_covar) / frame.scale / frame.scale  # no overflow of scale**2
        rs = v.as_random_state(self.random_state)
        opts: dict[str, Any] = {"reg_covar": reg, "chunk_size": self.chunk_size}

        if warm:
            warm_params = self._internal_params(frame)

            def start(Xs: Any, ws: Array | None, rngs: Sequence[np.random.Generator]) -> Any:
                return [warm_params for _ in rngs]

        else:

            def start(Xs: Any, ws: Array | None, rngs: Sequence[np.random.Generator]) -> Any:
                return initialize(
                    Xs, family, frame, k,
                    method=self.init_params, rngs=rngs, sample_weight=ws,
                    weights_init=inits["weights"], means_init=inits["means"],
                    precisions_init=inits["precisions"], **opts,
                )  # fmt: skip

        deterministic = warm or inits["means"] is not None
        best, starts = fit_multistart(
            X, family, frame, start,
            n_components=k, n_init=1 if deterministic else self.n_init,
            init_iter=self.init_iter, max_iter=self.max_iter, tol=self.tol,
            rng=np.random.default_rng(rs.randint(np.iinfo(np.int32).max)),
            sample_weight=sw, verbose=self.verbose, callback=callback,
            previous=self.lower_bound_ if warm else -np.inf, **opts,
        )  # fmt: skip

        if self.max_iter > 0 and not best.monitor.converged:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self._set_fitted(best, family, frame, X.dtype)
        self.start_lower_bounds_ = starts
        return self

    def _check_warm_start(self, family: CovarianceFamily, k: int, d: int) -> None:
        """Refuse to continue a previous fit whose shape no longer matches the parameters."""
        old_k, old_d = np.shape(self.means_)
        old_shape = np.shape(self.covariances_)
        if (old_k, old_d) != (k, d) or old_shape != family.shape(k, d):
            raise ValueError(
                "warm_start=True continues the previous fit, which had "
                f"n_components={old_k}, n_features={old_d} and covariances of shape "
                f"{old_shape}, but now n_components={k}, n_features={d} and "
                f"covariance_type={self.covariance_type!r} (shape {family.shape(k, d)}). "
                "Set warm_start=False to start afresh, or keep the same settings and columns."
            )

    def _set_fitted(
        self, state: EMState, family: CovarianceFamily, frame: Frame, dtype: np.dtype[Any]
    ) -> None:
        s = frame.scale
        weights, means, covariances, chol = frame.to_user(state.params)
        with np.errstate(over="ignore", under="ignore"):
            fitted = {
                name: value.astype(dtype)
                for name, value in (
                    ("weights_", weights),
                    ("means_", means),
                    ("covariances_", covariances),
                    ("precisions_cholesky_", chol),
                    ("precisions_", family.precisions(chol)),
                )
            }
        for name, value in fitted.items():
            if not np.all(np.isfinite(value)):
                raise ValueError(
                    f"The fitted {name} are not representable in {np.dtype(dtype).name} "
                    f"(the data's spread, about {s:.1e}, is too small or too large). Rescale "
                    "the data (e.g. sklearn.preprocessing.StandardScaler) or increase reg_covar."
                )
        self._frame = frame
        for name, value in fitted.items():
            setattr(self, name, value)
        self.converged_ = state.monitor.converged
        self.n_iter_ = state.monitor.n_iter
        self.lower_bound_ = state.lower_bound
        self.history_ = list(state.monitor.history)
        self.lower_bounds_ = self.history_  # scikit-learn >= 1.7's name for the same list
        self.reseeds_ = list(state.reseeds)

    def _internal_params(self, frame: Frame | None = None) -> Params:
        """The fitted attributes expressed in the internal frame."""
        frame = frame or self._prediction_frame()
        s = frame.scale
        means = (np.asarray(self.means_, np.float64) - frame.centre) / s
        chol = np.asarray(self.precisions_cholesky_, np.float64) * s
        return Params(
            np.asarray(self.weights_, np.float64),
            means,
            np.asarray(self.covariances_, np.float64) / s / s,
            chol,
        )

    def _prediction_frame(self) -> Frame:
        frame = getattr(self, "_frame", None)
        if frame is None or frame.n_features != np.shape(self.means_)[1]:
            family = self._family()
            frame = Frame.from_means(
                self.weights_, self.means_, family.mean_variance(np.asarray(self.covariances_))
            )
        return frame

    def fit_predict(
        self,
        X: ArrayLike,
        y: Any = None,
        sample_weight: ArrayLike | None = None,
        *,
        callback: FitCallback | None = None,
    ) -> NDArray[np.intp]:
        """Fit, then return the most probable component of each row of ``X``."""
        return self.fit(X, sample_weight=sample_weight, callback=callback).predict(X)

    # ------------------------------------------------------------------ inference

    def _pass(self, X: ArrayLike, **what: Any) -> Any:
        check_is_fitted(self)
        # NaN and inf are found by the pass itself (a row holding one has no finite
        # log-density), which saves a read of X: 1-2 ms of 5-8 at n=100 000, d=32
        Xv = self._validate_X(X, reset=False, check_finite=False)
        try:
            return mixture_pass(
                Xv,
                self._internal_params(),
                self._family(),
                self._prediction_frame(),
                chunk_size=self.chunk_size,
                stats=False,
                out_dtype=Xv.dtype,
                finite=False,
                **what,
            )
        except NonFiniteInput:
            v.raise_not_finite(Xv)
            raise

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """Most probable component of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        labels: NDArray[np.intp] = self._pass(X, labels=True, log_likelihood=False).labels
        return labels

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Posterior probability of each component for each row.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components)
            Rows sum to one; dtype follows ``X``.
        """
        proba: NDArray[np.floating] = self._pass(X, resp=True).resp
        return proba

    def score_samples(self, X: ArrayLike) -> NDArray[np.floating]:
        """Log-density of the mixture at each row.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        logd: NDArray[np.floating] = self._pass(X, log_density=True).log_density
        return logd

    def score(self, X: ArrayLike, y: Any = None) -> float:
        """Mean log-density per row of ``X``."""
        result = self._pass(X)
        return float(result.mean_log_likelihood())

    def n_parameters(self) -> int:
        """Number of free parameters: weights, means and covariances."""
        check_is_fitted(self)
        k, d = np.shape(self.means_)
        return int(self._family().n_parameters(k, d) + k * d + k - 1)

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        mean_ll = self.score(X)  # validates X first
        n = np.shape(X)[0]
        return float(-2.0 * mean_ll * n + self.n_parameters() * np.log(n))

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        mean_ll = self.score(X)  # validates X first
        n = np.shape(X)[0]
        return float(-2.0 * mean_ll * n + 2 * self.n_parameters())

    def sample(
        self, n_samples: int = 1, random_state: int | np.random.Generator | None = None
    ) -> tuple[NDArray[np.floating], NDArray[np.intp]]:
        """Draw rows from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, Generator or None, default=None
            Seed of these draws (independent of the constructor's ``random_state``; ``None``
            draws fresh entropy).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Rows in random order.
        labels : ndarray of shape (n_samples,)
            The component each row was drawn from.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
            raise ValueError(
                f"n_samples must be a positive integer; got {n_samples!r}. "
                "Pass the number of rows to draw, e.g. n_samples=100."
            )
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at "
                "least one sample: pass n_samples >= 1."
            )
        v.random_state("random_state", random_state)
        if isinstance(random_state, np.random.RandomState):
            rng = np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
        else:
            rng = np.random.default_rng(random_state)
        family = self._family()
        weights = np.asarray(self.weights_, np.float64)
        means = np.asarray(self.means_, np.float64)
        cov = np.asarray(self.covariances_, np.float64)
        k, d = means.shape
        counts = rng.multinomial(n_samples, weights / weights.sum())
        parts = [
            means[j] + family.sample_noise(rng, cov, j, int(c), d)
            for j, c in enumerate(counts)
            if c
        ]
        labels = np.repeat(np.arange(k), counts)
        order = rng.permutation(n_samples)
        X = np.concatenate(parts)[order].astype(np.asarray(self.means_).dtype)
        return X, labels[order]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to ``path`` (atomically; no pickle).

        The format is documented in :mod:`gaussmix.io`; read the file back with
        :func:`gaussmix.load`, which returns a model with exactly these parameters.

        Parameters
        ----------
        path : str or os.PathLike
            Destination (suggested extension ``.gmm``); an existing file is replaced only
            once the new one is complete.

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        """
        from .io import save_model

        return save_model(self, path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


__all__ = ["GaussianMixture"]
