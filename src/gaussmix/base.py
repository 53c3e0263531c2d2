"""The estimator base every mixture estimator shares: validation at the boundary, the internal
frame, prediction, scoring, sampling, criteria and saving.

A subclass supplies its constructor parameters (``_parameter_table``) and ``fit``; once
fitted, its state is a :class:`~gaussmix.model_state.ModelState` (weights, means and
covariances in the caller's units) and everything here works from that state.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _validation as v
from .anomaly import TailReference
from .covariance import CovarianceFamily, get_family
from .dask import is_dask_collection
from .engine import (
    BACKGROUND_LABEL,
    Frame,
    Missing,
    NonFiniteInput,
    PassResult,
    PassTerms,
    gaussian_terms,
    mixture_pass,
)
from .impute import impute_rows
from .incomplete.source import IncompleteSource
from .io import write_model
from .model_state import ModelState
from .multistart import FitCallback, check_start
from .noise.background import UniformBackground
from .ondisk import NpySource
from .params import Params
from .sources import ArraySource, RowSource, frame_rows

Array = NDArray[np.float64]

#: free parameters a noise component adds: its weight and its volume (taken from the data),
#: as mclust 6's ``nMclustParams`` counts them
NOISE_PARAMETERS = 2


def count_parameters(covariance_type: str, k: int, d: int, noise: bool = False) -> int:
    """Free parameters of a mixture of ``k`` components in ``d`` dimensions (mclust's
    count): covariances, means, ``k - 1`` weights and, with a noise component,
    :data:`NOISE_PARAMETERS` more."""
    family = get_family(covariance_type)
    return int(family.n_parameters(k, d) + k * d + k - 1 + NOISE_PARAMETERS * bool(noise))


class MixtureBase(DensityMixin, BaseEstimator):
    """What every fitted Gaussian mixture can do, whatever fitted it.

    Subclasses declare ``_parameter_table`` (constructor parameter -> check) and have the
    parameters ``n_components``, ``covariance_type`` and ``chunk_size``.
    """

    _parameter_table: ClassVar[dict[str, v.Check]] = {}
    n_components: int
    covariance_type: str
    chunk_size: int | None

    # ------------------------------------------------------------------ validation

    def _family(self) -> CovarianceFamily:
        return get_family(self.covariance_type)

    def _allows_nan(self) -> bool:
        """Whether NaN is taken as a missing value (``missing`` other than ``"error"``)."""
        return getattr(self, "missing", "error") != "error"

    def _validate_X(
        self, X: Any, *, reset: bool, check_finite: bool = True, allow_nan: bool | None = None
    ) -> tuple[NDArray[np.floating], bool]:
        """``X`` as a float array, checked, and whether it holds NaN (missing values, where
        allowed, by ``missing`` unless ``allow_nan`` says; found only by the full scan,
        ``check_finite``)."""
        allow = self._allows_nan() if allow_nan is None else allow_nan
        if (
            not reset
            and type(X) is np.ndarray
            and X.dtype in (np.float64, np.float32)
            and X.dtype.isnative
            and X.ndim == 2
            and X.shape[0] >= 1
            and X.shape[1] == getattr(self, "n_features_in_", -1)
            and not hasattr(self, "feature_names_in_")
        ):
            # a float array of the fitted width: nothing for validate_data to convert or
            # report; a pass that finds NaN and inf itself needs no scan either
            if not check_finite:
                return X, False
            return v.check_array_values(X, check_finite=True, allow_nan=allow)
        lazy = None
        if is_dask_collection(X):
            # checked lazily; scikit-learn's bookkeeping (width, names) sees a one-row stand-in
            from .dask.boundary import lazy_rows

            lazy, X = lazy_rows(X)
        frame = v.frame_values(X)
        if frame is not None:
            # a data frame (pandas, polars, pyarrow, ...) read once; scikit-learn still reads
            # and checks its column names
            values, has_nan = v.check_array_values(frame.values, frame=frame, allow_nan=allow)
            self._check_width(values, reset)
            validate_data(self, frame.native, reset=reset, skip_check_array=True)
            return (values, has_nan) if lazy is None else (lazy, False)
        checked, has_nan = v.precheck_X(X, check_finite=check_finite, allow_nan=allow)
        self._check_width(checked, reset)
        # precheck_X has already rejected NaN and inf with a clearer message
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_min_samples=1,
            ensure_all_finite=False,
        )
        # a Dask collection: its lazy rows (their missing values are found by the passes)
        return (np.asarray(X), has_nan) if lazy is None else (lazy, False)

    def _check_width(self, X: Any, reset: bool) -> None:
        expected = getattr(self, "n_features_in_", None)
        if not reset and expected is not None and np.shape(X)[1] != expected:
            raise ValueError(
                f"X has {np.shape(X)[1]} features, but {type(self).__name__} is expecting "
                f"{expected} features as input. Pass rows with the same {expected} columns "
                "as the data the model was fitted on."
            )

    def _validate_fit(
        self, X: Any, sample_weight: Any, reset: bool = True
    ) -> tuple[NDArray[np.floating], Any, bool]:
        """``X``, the sample weights and whether ``X`` holds missing values; ``reset=False``
        checks a batch for a fitted model (:meth:`partial_fit`): its columns must be the
        model's, and one row is enough."""
        v.check_params(self, self._parameter_table)
        X, has_nan = self._validate_X(X, reset=reset)
        if reset:
            self._check_rows(int(X.shape[0]), X.shape)
        n = int(X.shape[0])
        sw = v.check_sample_weight(sample_weight, n) if isinstance(X, np.ndarray) else sample_weight
        return X, sw, has_nan

    def _check_rows(self, n: int, shape: tuple[int, ...]) -> None:
        """Refuse fewer rows than a fit needs (two, and one per component)."""
        if n < 2:
            raise ValueError(
                f"Found array with {n} sample(s) (shape={shape}) while a minimum of 2 is "
                "required to fit a Gaussian mixture. Pass more rows."
            )
        if n < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n}. Decrease n_components or pass more rows."
            )

    def _fit_rows(
        self, X: Any, sample_weight: Any, reset: bool = True
    ) -> tuple[RowSource, NDArray[np.floating], Array | None, Missing]:
        """The training rows as a row source, the rows and weights its frame is taken from,
        and what a NaN among those means (validated; rows with missing values: the source of
        incomplete rows; Dask input: a lazy source, its frame's sample gathered once; a row
        source or a memory map: read out of core, its frame's sample read once)."""
        source = self._as_source(X, sample_weight)
        if source is not None:
            v.check_params(self, self._parameter_table)
            self._check_source(source, reset)
            if reset:
                check_start(self, source.n_rows, "with rows read out of core", "pass means_init")
            rows, weights = frame_rows(source)
            return source, rows, weights, "error"
        X, sw, has_nan = self._validate_fit(X, sample_weight, reset)
        if isinstance(X, np.ndarray):
            # rows with missing values are fitted on their observed coordinates exactly
            if has_nan:
                return IncompleteSource(X, sw), X, sw, "observed"
            return ArraySource(X, sw), X, sw, "error"
        from .dask.boundary import fit_rows

        source, rows, weights = fit_rows(self, X, sw)
        # the frame's sample holds NaN only where NaN is a missing value
        return source, rows, weights, "observed" if np.isnan(rows).any() else "error"

    @staticmethod
    def _as_source(X: Any, sample_weight: Any) -> RowSource | None:
        """``X`` as a row source read out of core (a memory map, or a row source given as
        such), or None for any other input."""
        if isinstance(X, np.memmap):
            # read by the source block by block: validation must not read it into memory
            return NpySource(X, sample_weight)
        if not isinstance(X, np.ndarray) and isinstance(X, RowSource):
            if sample_weight is not None:
                raise ValueError(
                    "sample_weight cannot be given with a row source, which holds its rows' "
                    f"weights: pass them to it ({type(X).__name__}(..., sample_weight=w))."
                )
            return X
        return None

    def _check_source(self, source: RowSource, reset: bool) -> None:
        """The checks of :meth:`_validate_X` a row source allows without reading its rows:
        rows, columns, dtype and names (scikit-learn's bookkeeping sees a one-row stand-in)."""
        n, d = source.n_rows, source.n_features
        if reset:
            self._check_rows(n, (n, d))
        if d < 1:
            raise ValueError(
                f"Found rows with 0 feature(s) (shape=({n}, 0)) while a minimum of 1 is "
                "required: pass at least one numeric feature."
            )
        if source.dtype not in (np.float32, np.float64):
            raise TypeError(f"A row source must give float32 or float64 rows, got {source.dtype}.")
        names = getattr(source, "feature_names", None)
        fitted = getattr(self, "feature_names_in_", None)
        if reset:
            validate_data(self, np.zeros((1, d), dtype=source.dtype), reset=True)
            if names is not None:
                self.feature_names_in_ = np.asarray(names, dtype=object)
            return
        self._check_width(np.empty((0, d)), reset=False)
        if names is not None and fitted is not None and list(names) != list(fitted):
            raise ValueError(
                f"The columns {list(names)} are not those the model was fitted on "
                f"({list(fitted)}): choose the same columns, in the same order."
            )

    def fit(
        self,
        X: ArrayLike,
        y: Any = None,
        sample_weight: ArrayLike | None = None,
        *,
        callback: FitCallback | None = None,
    ) -> Any:
        """Fit the model to ``X`` (each subclass fits its own way)."""
        raise NotImplementedError

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

    def _check_warm_start(
        self, family: CovarianceFamily, k: int, d: int, how: str = "warm_start=True"
    ) -> None:
        """Refuse to continue a previous fit whose shape no longer matches the parameters."""
        old_k, old_d = np.shape(self.means_)
        old_shape = np.shape(self.covariances_)
        if (old_k, old_d) != (k, d) or old_shape != family.shape(k, d):
            fresh = "call fit" if how == "partial_fit" else "Set warm_start=False"
            raise ValueError(
                f"{how} continues the previous fit, which had "
                f"n_components={old_k}, n_features={old_d} and covariances of shape "
                f"{old_shape}, but now n_components={k}, n_features={d} and "
                f"covariance_type={self.covariance_type!r} (shape {family.shape(k, d)}). "
                f"{fresh} to start afresh, or keep the same settings and columns."
            )

    def _warn_unconverged(self, converged: bool) -> None:
        """Warn, as scikit-learn does, when the retained start did not converge (called
        from a subclass's ``_fit``, inside ``fit``)."""
        if getattr(self, "max_iter", 0) > 0 and not converged:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ fitted state

    @classmethod
    def from_state(cls, state: ModelState, **params: Any) -> Any:
        """A fitted estimator with ``state``'s parameters (constructor ``params`` besides)."""
        model = cls(
            n_components=state.n_components, covariance_type=state.covariance_type, **params
        )
        state.apply(model)
        return model

    def _set_state(self, state: ModelState, frame: Frame | None = None) -> None:
        """Become the fitted model ``state``; ``frame`` is the fit's internal frame."""
        state.apply(self)
        self._frame = frame

    def _set_fit(self, params: Params, frame: Frame, dtype: np.dtype[Any], **summary: Any) -> None:
        """Become the fitted model with internal ``params`` in ``frame``, cast to ``dtype``.

        Raises
        ------
        ValueError
            If a fitted array is not representable in ``dtype``.
        """
        family = self._family()
        weights, means, covariances, chol = frame.to_user(params, family.storage)
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
        k, d = fitted["means_"].shape
        variances = np.diagonal(family.dense(fitted["covariances_"], k, d), axis1=1, axis2=2)
        for name, value in fitted.items():
            lost = name == "covariances_" and not (variances > 0).all()  # underflow to zero
            if lost or not np.all(np.isfinite(value)):
                low, high = float(frame.scale.min()), float(frame.scale.max())
                spread = f"about {high:.1e}" if low == high else f"{low:.1e} to {high:.1e}"
                raise ValueError(
                    f"The fitted {name} are not representable in {np.dtype(dtype).name} "
                    f"(the data's spread, {spread}, is too small or too large). "
                    "Rescale the data (e.g. sklearn.preprocessing.StandardScaler) or increase "
                    "reg_covar."
                )
        names = getattr(self, "feature_names_in_", None)
        state = ModelState(
            family.name,
            fitted["weights_"],
            fitted["means_"],
            fitted["covariances_"],
            fitted["precisions_cholesky_"],
            precisions=fitted["precisions_"],
            feature_names=None if names is None else [str(n) for n in names],
            **summary,
        )  # noise_weight and noise_region among the summary, for a noise component
        self._set_state(state, frame)

    def _internal_params(self, frame: Frame | None = None) -> Params:
        """The fitted attributes expressed in the internal frame."""
        frame = frame or self._prediction_frame()
        return frame.from_user(
            self.weights_,
            self.means_,
            self.covariances_,
            self.precisions_cholesky_,
            self._family().storage,
        )

    def _prediction_frame(self) -> Frame:
        """The fit's frame, or else :meth:`_parameter_frame` (a loaded model); a warm start
        goes on in it."""
        frame = getattr(self, "_frame", None)
        if (
            frame is None
            or frame.n_features != np.shape(self.means_)[1]
            or frame.per_feature != self._family().per_feature_equivariant
        ):
            return self._parameter_frame()
        return frame

    def _parameter_frame(self) -> Frame:
        """A frame derived from the fitted parameters alone (per feature where the family
        is): the same for a model and its saved copy."""
        family = self._family()
        d = np.shape(self.means_)[1]
        variances = family.feature_variances(np.asarray(self.covariances_, np.float64), d)
        return Frame.from_means(
            self.weights_, self.means_, variances, family.per_feature_equivariant
        )

    def _pass_terms(self, frame: Frame) -> PassTerms:
        """The pass terms of the fitted model in ``frame`` (with its noise component's
        background, zero outside its region)."""
        region = getattr(self, "noise_region_", None)
        background = None
        if region is not None:
            with np.errstate(divide="ignore"):
                log_weight = float(np.log(self.noise_weight_))
            background = UniformBackground(region, log_weight)
        return gaussian_terms(self._internal_params(frame), self._family(), background)

    def _has_noise(self) -> bool:
        return getattr(self, "noise_region_", None) is not None

    def _density_terms(self, frame: Frame) -> PassTerms | None:
        """The pass terms of the model's density where they differ from the
        responsibilities' (a Bayesian mixture's predictive density); ``None``: the same."""
        return None

    # ------------------------------------------------------------------ inference

    def _pass(self, X: ArrayLike, *, density: bool = False, **what: Any) -> PassResult:
        """One pass over ``X`` under the responsibilities' terms, or with ``density`` the
        density's (:meth:`_density_terms`)."""
        check_is_fitted(self)
        if not isinstance(X, np.ndarray) and isinstance(X, RowSource):  # read out of core
            self._check_source(X, reset=False)
            frame = self._prediction_frame()
            return X.mixture_pass(
                self._terms(frame, density), frame, chunk_size=self.chunk_size, stats=False,
                out_dtype=X.dtype, **what,
            )  # fmt: skip
        # NaN and inf are found by the pass itself (a row holding one has no finite
        # log-density), which saves a read of X
        Xv, _ = self._validate_X(X, reset=False, check_finite=False)
        return self._pass_rows(Xv, density=density, **what)

    def _terms(self, frame: Frame, density: bool) -> PassTerms:
        """The responsibilities' pass terms, or with ``density`` the density's."""
        return (self._density_terms(frame) if density else None) or self._pass_terms(frame)

    def _pass_rows(
        self, Xv: NDArray[np.floating], *, density: bool = False, **what: Any
    ) -> PassResult:
        """:meth:`_pass` of validated rows (NaN and inf not yet looked for)."""
        frame = self._prediction_frame()
        terms = self._terms(frame, density)
        if not isinstance(Xv, np.ndarray):  # Dask: per-row outputs stay lazy
            from .dask.boundary import lazy_pass

            return lazy_pass(
                Xv, terms, frame, missing=self._allows_nan(), chunk_size=self.chunk_size,
                stats=False, out_dtype=Xv.dtype, **what,
            )  # fmt: skip
        try:
            return mixture_pass(
                Xv, terms, frame, chunk_size=self.chunk_size, stats=False, out_dtype=Xv.dtype,
                finite=False, **what,
            )  # fmt: skip
        except NonFiniteInput:
            if not self._allows_nan() or np.isinf(Xv).any():
                if self._allows_nan():
                    v.raise_infinite(Xv)
                v.raise_not_finite(Xv)
                raise
        # missing values: each row scored on its observed coordinates
        source = IncompleteSource(Xv)
        return source.mixture_pass(terms, frame, stats=False, out_dtype=Xv.dtype, **what)

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """Most probable component of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            ``-1`` for a row whose most probable component is the noise component (a model
            fitted with ``noise=True``).
        """
        labels = self._pass(X, labels=True, log_likelihood=False).labels
        assert labels is not None
        return labels

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Posterior probability of each component for each row.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components) or (n_samples, n_components + 1)
            Rows sum to one; dtype follows ``X``.  A model with a noise component has one
            more column, the noise component's, last (as mclust's ``z``).
        """
        proba = self._pass(X, resp=True).resp
        assert proba is not None
        return proba

    def score_samples(self, X: ArrayLike) -> NDArray[np.floating]:
        """Log-density of the mixture at each row.

        With a noise component, the density is the components' plus the noise component's
        uniform one, ``noise_weight_ / volume`` inside ``noise_region_`` and zero outside
        it: a row outside the region has the components' density alone.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        logd = self._pass(X, density=True, log_density=True).log_density
        assert logd is not None
        return logd

    def score(self, X: ArrayLike, y: Any = None) -> float:
        """Mean log-density per row of ``X``."""
        result = self._pass(X, density=True)
        return float(result.mean_log_likelihood())

    def n_parameters(self) -> int:
        """Number of free parameters: weights, means and covariances, and a noise
        component's weight and volume (:func:`count_parameters`)."""
        check_is_fitted(self)
        k, d = np.shape(self.means_)
        return count_parameters(self.covariance_type, k, d, self._has_noise())

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        result = self._pass(X, density=True)  # its weight is the number of rows
        n = result.weight
        return float(-2.0 * result.mean_log_likelihood() * n + self.n_parameters() * np.log(n))

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        result = self._pass(X, density=True)
        n = result.weight
        return float(-2.0 * result.mean_log_likelihood() * n + 2 * self.n_parameters())

    def icl(self, X: ArrayLike) -> float:
        """Integrated completed likelihood on ``X`` (lower is better).

        BIC plus twice the classification's cost ``-sum_i log z_i,c(i)``, with ``z`` the
        posterior probabilities and ``c(i)`` each row's most probable component (Biernacki,
        Celeux & Govaert 2000, ICL-BIC): BIC penalised for components that overlap.  It is
        mclust's ``icl()`` with the opposite sign (mclust's criteria are higher-is-better).
        """
        log_likelihood, cost, n = self._criterion_terms(X)
        return float(-2.0 * log_likelihood + self.n_parameters() * np.log(n) + 2.0 * cost)

    def _criterion_terms(
        self, X: ArrayLike, sample_weight: Array | None = None
    ) -> tuple[float, float, float]:
        """From one pass over ``X``: the log-likelihood, the classification's cost
        ``-sum_i log max_k z_ik`` (both weighted by ``sample_weight``) and the number of rows
        (their total weight)."""
        # a Dask pass's outputs are lazy and it has no log-likelihood: the rows' sum is it
        lazy = is_dask_collection(X)
        result = self._pass(X, resp=True, log_density=sample_weight is not None or lazy)
        assert result.resp is not None
        # the most probable component's probability is at least 1 / k: its log is finite
        cost = -np.log(np.max(result.resp, axis=1).astype(np.float64))
        if self._density_terms(self._prediction_frame()) is not None:  # another density
            result = self._pass(X, density=True, log_density=sample_weight is not None or lazy)
        if sample_weight is None and not lazy:
            return float(result.log_likelihood), float(cost.sum()), float(cost.shape[0])
        assert result.log_density is not None
        n = int(cost.shape[0])
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        log_density = result.log_density.astype(np.float64)
        return float(w @ log_density), float(w @ cost), float(w.sum())

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
            The component each row was drawn from; ``-1`` for the noise component (drawn
            uniformly from ``noise_region_``).
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
        rng = _generator(random_state)
        family = self._family()
        # drawn in an internal frame, where no variance nears the float64 limits; the one of
        # the parameters: a saved copy of the model draws the same rows
        frame = self._parameter_frame()
        params = self._internal_params(frame)
        weights, means, cov = params.weights, params.means, params.covariances
        k, d = means.shape
        region = getattr(self, "noise_region_", None)
        shares = weights if region is None else np.append(weights, float(self.noise_weight_))
        counts = rng.multinomial(n_samples, shares / shares.sum())
        parts = [
            means[j] + family.sample_noise(rng, cov, j, int(c), d)
            for j, c in enumerate(counts[:k])
            if c
        ]
        labels = np.repeat(np.arange(k), counts[:k])
        if region is not None and counts[k]:  # the noise component's, uniform in its region
            # the region is in the caller's units; the parts, in the frame's
            parts.append((region.sample(rng, int(counts[k])) - frame.centre) / frame.scale)
            labels = np.append(labels, np.full(int(counts[k]), BACKGROUND_LABEL))
        order = rng.permutation(n_samples)
        with np.errstate(over="ignore", under="ignore"):
            X = frame.centre + np.concatenate(parts)[order] * frame.scale
        return X.astype(np.asarray(self.means_).dtype), labels[order]

    # ------------------------------------------------------------------ imputation

    def impute(
        self,
        X: ArrayLike,
        n_draws: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> NDArray[np.floating]:
        """Fill the missing values (NaN) of ``X`` under the fitted mixture.

        Each row's missing coordinates given its observed ones ``x_o`` follow the mixture
        ``sum_j r_j(x_o) N(mu_jm + S_j,mo S_j,oo^-1 (x_o - mu_jo), S_j,mm - S_j,mo S_j,oo^-1
        S_j,om)``, ``r_j(x_o)`` the posterior on the observed coordinates
        (:mod:`gaussmix.impute`).  NaN is taken as a missing value here whatever
        ``missing`` says; infinity is refused.  With a noise component the rows are
        completed as members of a cluster: ``r_j(x_o)`` are the components' posteriors
        renormalised without the noise column (a uniform box says nothing of a missing
        value given the observed ones).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with NaN where values are missing (a data frame's missing values are NaN).
            It is not modified.
        n_draws : int, optional
            ``None`` (default): fill each missing value with its conditional expectation.
            An int ``m >= 1``: draw ``m`` completions of every row from the conditional
            distribution (multiple imputation: pick a component from ``r(x_o)``, then draw
            from its conditional Gaussian).
        random_state : int, Generator or None, default=None
            Seed of the draws (independent of the constructor's ``random_state``; ``None``
            draws fresh entropy).  Not used without ``n_draws``.

        Returns
        -------
        ndarray of shape (n_samples, n_features), or (n_draws, n_samples, n_features)
            A new array, in ``X``'s dtype (float32 stays float32), its observed values as
            they are.  A row with nothing observed gets the mixture's mean (or draws from
            the mixture); ``X`` without NaN comes back as a copy.  For a Dask array: a lazy
            Dask array chunked as ``X``'s rows (each block's draws seeded from
            ``random_state`` and the block's index).
        """
        check_is_fitted(self)
        if n_draws is not None and (
            isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1
        ):
            raise ValueError(
                f"n_draws must be None (the conditional expectation) or a positive int (the "
                f"number of completions to draw); got {n_draws!r}."
            )
        rng = _generator(random_state)
        Xv, has_nan = self._validate_X(X, reset=False, allow_nan=True)
        if not isinstance(Xv, np.ndarray):  # Dask: block by block, lazily
            from .dask.boundary import lazy_impute

            return lazy_impute(self, Xv, n_draws, rng)
        return self._impute_rows(Xv, has_nan, n_draws, rng if n_draws is not None else None)

    def _impute_rows(
        self,
        Xv: NDArray[np.floating],
        has_nan: bool,
        n_draws: int | None,
        rng: np.random.Generator | None,
    ) -> NDArray[np.floating]:
        """:meth:`impute` of validated rows (``has_nan``: whether they hold any NaN)."""
        if not has_nan:
            return Xv.copy() if n_draws is None else np.repeat(Xv[None], n_draws, axis=0)
        frame = self._prediction_frame()
        return impute_rows(Xv, self._pass_terms(frame), frame, n_draws=n_draws, rng=rng)

    # ------------------------------------------------------------------ anomalies

    def tail_probability(self, X: ArrayLike) -> NDArray[np.float64]:
        """How unusual each row is: the model's probability of a row at most as likely.

        For a row with observed coordinates ``o``, ``P(f_o(Y) <= f_o(x_o))`` for ``Y``
        drawn from the model, ``f_o`` the mixture's density of the coordinates ``o``: the
        mass outside the highest-density region through the row.  Unlike
        :meth:`score_samples`, it is comparable across rows that miss different values:
        for rows drawn from the model it is uniform on (0, 1] whatever they miss.
        Estimated by Monte Carlo per missingness pattern (cached per model and pattern;
        :mod:`gaussmix.anomaly` has the definition and its calibration).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            In ``[1e-4, 1]`` (the Monte-Carlo resolution); 1 for a row with nothing
            observed.  Lazy for a Dask array.
        """
        return self._rowwise(X, self._tail_probability_rows, np.float64)

    def anomaly_threshold(self, X: ArrayLike, quantile: float = 0.99) -> NDArray[np.float64]:
        """Each row's log-density threshold: below it, the row is an anomaly at ``quantile``.

        The threshold of a row with observed coordinates ``o`` is the ``1 - quantile``
        quantile of ``log f_o(Y)`` for ``Y`` drawn from the model (estimated as in
        :meth:`tail_probability`): ``score_samples(X) < anomaly_threshold(X, q)`` exactly
        when ``tail_probability(X) <= 1 - q``.  Rows with the same observed columns share a
        threshold; rows with fewer observed columns get a threshold in their own units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        quantile : float in (0, 1), default=0.99
            The share of the model's rows judged normal: a share ``1 - quantile`` of rows
            drawn from the model is flagged, for complete and incomplete rows alike.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``-inf`` for rows with nothing observed (never flagged).  Lazy for Dask input.
        """
        return self._rowwise(X, self._threshold_rows, np.float64, alpha=_tail_share(quantile))

    def is_anomaly(self, X: ArrayLike, quantile: float = 0.99) -> NDArray[np.bool_]:
        """Whether each row lies outside the model's highest-density region of mass
        ``quantile``, on its observed coordinates.

        ``tail_probability(X) <= 1 - quantile``, the same as ``score_samples(X) <
        anomaly_threshold(X, quantile)``: rows drawn from the model are flagged at the rate
        ``1 - quantile`` whichever values they miss.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        quantile : float in (0, 1), default=0.99

        Returns
        -------
        ndarray of shape (n_samples,) of bool
            Lazy for Dask input.
        """
        return self._rowwise(X, self._anomaly_rows, np.bool_, alpha=_tail_share(quantile))

    def _rowwise(self, X: ArrayLike, method: Any, dtype: Any, **kw: Any) -> Any:
        """``method(rows, **kw)`` of the validated rows of ``X``; lazily, block by block,
        for a Dask collection."""
        check_is_fitted(self)
        Xv, _ = self._validate_X(X, reset=False, check_finite=False)
        if not isinstance(Xv, np.ndarray):
            from .dask.boundary import lazy_rowwise

            return lazy_rowwise(method, Xv, dtype, **kw)
        return method(Xv, **kw)

    def _tails(self) -> TailReference:
        """The tail reference of the fitted parameters (kept until they change).

        Raises
        ------
        ValueError
            For a model with a noise component.
        """
        if self._has_noise():
            raise ValueError(
                "Tail probabilities and anomaly flags compare a row with draws of a Gaussian "
                "mixture; this model has a noise component (noise=True), whose uniform "
                "density is not drawn there. Use predict(X) == -1 (the rows the noise "
                "component explains best) or score_samples, or fit with noise=False."
            )
        digest = hashlib.blake2b(digest_size=16)
        for name in ("weights_", "means_", "covariances_"):
            digest.update(np.ascontiguousarray(getattr(self, name), dtype=np.float64).tobytes())
        key = digest.digest()
        cached = getattr(self, "_tail_cache", None)
        if cached is None or cached[0] != key:
            frame = self._prediction_frame()
            cached = (key, TailReference(self._pass_terms(frame), frame))
            self._tail_cache = cached
        return cached[1]

    def _scored(self, Xv: NDArray[np.floating]) -> NDArray[np.float64]:
        logd = self._pass_rows(Xv, log_density=True).log_density
        assert logd is not None
        return np.asarray(logd, dtype=np.float64)

    def _tail_probability_rows(self, Xv: NDArray[np.floating]) -> NDArray[np.float64]:
        return self._tails().tail_probability(Xv, self._scored(Xv))

    def _threshold_rows(self, Xv: NDArray[np.floating], alpha: float) -> NDArray[np.float64]:
        self._scored(Xv)  # NaN or inf where the model refuses them raise here
        return self._tails().threshold(Xv, alpha)

    def _anomaly_rows(self, Xv: NDArray[np.floating], alpha: float) -> NDArray[np.bool_]:
        flagged: NDArray[np.bool_] = self._scored(Xv) < self._tails().threshold(Xv, alpha)
        return flagged

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
        IsADirectoryError, FileNotFoundError
            If ``path`` is a folder, or its folder does not exist (the message names it).
        """
        check_is_fitted(self)
        return write_model(path, ModelState.of(self), self.get_params(deep=False))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self._allows_nan()
        return tags


def _generator(random_state: Any) -> np.random.Generator:
    """A Generator from a validated per-call ``random_state`` (a RandomState is drawn
    from once)."""
    v.random_state("random_state", random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


def _tail_share(quantile: Any) -> float:
    """``1 - quantile``, the tail share flagged, from a validated ``quantile``."""
    if (
        isinstance(quantile, bool)
        or not isinstance(quantile, (int, float, np.integer, np.floating))
        or not 0.0 < float(quantile) < 1.0
    ):
        raise ValueError(
            f"quantile must be a number in (0, 1), the share of the model's rows judged "
            f"normal (0.99 flags 1 % of them); got {quantile!r}."
        )
    return 1.0 - float(quantile)


__all__ = ["MixtureBase"]
