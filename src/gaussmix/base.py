"""The estimator base every mixture estimator shares: validation at the boundary, the internal
frame, prediction, scoring, sampling, criteria and saving.

A subclass supplies its constructor parameters (``_parameter_table``) and ``fit``; once
fitted, its state is a :class:`~gaussmix.model_state.ModelState` (weights, means and
covariances in the caller's units) and everything here works from that state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _validation as v
from .covariance import CovarianceFamily, get_family
from .dask import is_dask_collection
from .engine import (
    Frame,
    Missing,
    NonFiniteInput,
    PassResult,
    PassTerms,
    gaussian_terms,
    mixture_pass,
)
from .incomplete.source import IncompleteSource
from .io import write_model
from .model_state import ModelState
from .params import Params
from .sources import ArraySource, RowSource

Array = NDArray[np.float64]


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
        self, X: Any, *, reset: bool, check_finite: bool = True
    ) -> tuple[NDArray[np.floating], bool]:
        """``X`` as a float array, checked, and whether it holds NaN (missing values, where
        allowed; found only by the full scan, ``check_finite``)."""
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
            # nothing for validate_data to convert or report
            return X, False
        lazy = None
        if is_dask_collection(X):
            # checked lazily; scikit-learn's bookkeeping (width, names) sees a one-row stand-in
            from .dask.boundary import lazy_rows

            lazy, X = lazy_rows(X)
        frame = v.frame_values(X)
        if frame is not None:
            # a data frame (pandas, polars, pyarrow, ...) read once; scikit-learn still reads
            # and checks its column names
            values, has_nan = v.check_array_values(
                frame.values, frame=frame, allow_nan=self._allows_nan()
            )
            self._check_width(values, reset)
            validate_data(self, frame.native, reset=reset, skip_check_array=True)
            return (values, has_nan) if lazy is None else (lazy, False)
        _, has_nan = v.precheck_X(X, check_finite=check_finite, allow_nan=self._allows_nan())
        self._check_width(X, reset)
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

    def _validate_fit(self, X: Any, sample_weight: Any) -> tuple[NDArray[np.floating], Any, bool]:
        """``X``, the sample weights and whether ``X`` holds missing values."""
        v.check_params(self, self._parameter_table)
        X, has_nan = self._validate_X(X, reset=True)
        n = int(X.shape[0])
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
        sw = v.check_sample_weight(sample_weight, n) if isinstance(X, np.ndarray) else sample_weight
        return X, sw, has_nan

    def _fit_rows(
        self, X: Any, sample_weight: Any
    ) -> tuple[RowSource, NDArray[np.floating], Array | None, Missing]:
        """The training rows as a row source, the rows and weights its frame is taken from,
        and what a NaN among those means (validated; rows with missing values: the source of
        incomplete rows; Dask input: a lazy source, its frame's sample gathered once)."""
        X, sw, has_nan = self._validate_fit(X, sample_weight)
        if isinstance(X, np.ndarray):
            # rows with missing values are fitted on their observed coordinates exactly
            if has_nan:
                return IncompleteSource(X, sw), X, sw, "observed"
            return ArraySource(X, sw), X, sw, "error"
        from .dask.boundary import fit_rows

        source, rows, weights = fit_rows(self, X, sw)
        return source, rows, weights, "error"

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
        )
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
        """The pass terms of the fitted model in ``frame``."""
        return gaussian_terms(self._internal_params(frame), self._family())

    # ------------------------------------------------------------------ inference

    def _pass(self, X: ArrayLike, **what: Any) -> PassResult:
        check_is_fitted(self)
        # NaN and inf are found by the pass itself (a row holding one has no finite
        # log-density), which saves a read of X
        Xv, _ = self._validate_X(X, reset=False, check_finite=False)
        frame = self._prediction_frame()
        terms = self._pass_terms(frame)
        if not isinstance(Xv, np.ndarray):  # Dask: per-row outputs stay lazy
            from .dask.boundary import lazy_pass

            return lazy_pass(
                Xv, terms, frame, chunk_size=self.chunk_size, stats=False, out_dtype=Xv.dtype,
                **what,
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
        """
        labels = self._pass(X, labels=True, log_likelihood=False).labels
        assert labels is not None
        return labels

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Posterior probability of each component for each row.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components)
            Rows sum to one; dtype follows ``X``.
        """
        proba = self._pass(X, resp=True).resp
        assert proba is not None
        return proba

    def score_samples(self, X: ArrayLike) -> NDArray[np.floating]:
        """Log-density of the mixture at each row.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        logd = self._pass(X, log_density=True).log_density
        assert logd is not None
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
        result = self._pass(X)  # its weight is the number of rows
        n = result.weight
        return float(-2.0 * result.mean_log_likelihood() * n + self.n_parameters() * np.log(n))

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        result = self._pass(X)
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
        result = self._pass(X, resp=True, log_density=sample_weight is not None)
        assert result.resp is not None
        # the most probable component's probability is at least 1 / k: its log is finite
        cost = -np.log(np.max(result.resp, axis=1).astype(np.float64))
        if sample_weight is None:
            return float(result.log_likelihood), float(cost.sum()), float(cost.shape[0])
        assert result.log_density is not None
        w = np.asarray(sample_weight, dtype=np.float64)
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
        # drawn in an internal frame, where no variance nears the float64 limits; the one of
        # the parameters: a saved copy of the model draws the same rows
        frame = self._parameter_frame()
        params = self._internal_params(frame)
        weights, means, cov = params.weights, params.means, params.covariances
        k, d = means.shape
        counts = rng.multinomial(n_samples, weights / weights.sum())
        parts = [
            means[j] + family.sample_noise(rng, cov, j, int(c), d)
            for j, c in enumerate(counts)
            if c
        ]
        labels = np.repeat(np.arange(k), counts)
        order = rng.permutation(n_samples)
        with np.errstate(over="ignore", under="ignore"):
            X = frame.centre + np.concatenate(parts)[order] * frame.scale
        return X.astype(np.asarray(self.means_).dtype), labels[order]

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


__all__ = ["MixtureBase"]
