"""``GaussianMixtureImputer``: missing values filled by a Gaussian mixture, as a scikit-learn
transformer (a thin wrapper of :meth:`GaussianMixture.impute`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from . import _validation as v
from .mixture import GaussianMixture


class GaussianMixtureImputer(TransformerMixin, BaseEstimator):
    """Fill missing values (NaN) with their conditional expectation under a Gaussian
    mixture fitted to the incomplete rows, or with a draw from their conditional
    distribution.

    ``fit`` fits the mixture by EM on every row's observed values (exactly, values missing
    at random: ``missing='marginalize'``); ``transform`` calls
    :meth:`GaussianMixture.impute`.  It goes in a :class:`~sklearn.pipeline.Pipeline`
    before an estimator that needs complete rows.

    Parameters
    ----------
    mixture : GaussianMixture, default=None
        The model to fit (cloned by ``fit``); ``None`` fits ``GaussianMixture()``, one
        Gaussian.  Pass e.g. ``GaussianMixture(5, random_state=0)`` for a mixture.
    sample_posterior : bool, default=False
        ``False``: each missing value's conditional expectation (deterministic).  ``True``:
        one draw from its conditional distribution (a component drawn from the posterior on
        the observed values, then a value from that component's conditional Gaussian), as
        one completion of a multiple imputation.
    random_state : int, Generator or None, default=None
        Seed of the draws of ``sample_posterior=True``: with an int every ``transform``
        draws the same completion; use :meth:`GaussianMixture.impute` with ``n_draws`` (on
        ``mixture_``) for several.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted mixture.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> model = make_pipeline(
    ...     GaussianMixtureImputer(GaussianMixture(3, random_state=0)), LogisticRegression()
    ... )  # doctest: +SKIP
    """

    def __init__(
        self,
        mixture: GaussianMixture | None = None,
        *,
        sample_posterior: bool = False,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.mixture = mixture
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> Any:
        """Fit the mixture to the rows of ``X`` on their observed values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN where values are missing.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixtureImputer
        """
        if self.mixture is not None and not isinstance(self.mixture, GaussianMixture):
            raise TypeError(
                f"mixture must be a gaussmix.GaussianMixture (or None), got "
                f"{type(self.mixture).__name__}; pass e.g. GaussianMixture(3)."
            )
        v.boolean("sample_posterior", self.sample_posterior)
        v.random_state("random_state", self.random_state)
        mixture = GaussianMixture() if self.mixture is None else clone(self.mixture)
        self.mixture_ = mixture.fit(X, sample_weight=sample_weight)
        self.n_features_in_ = self.mixture_.n_features_in_
        names = getattr(self.mixture_, "feature_names_in_", None)
        if names is not None:
            self.feature_names_in_ = names
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """``X`` with each missing value filled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            A new array (``X`` is not modified); observed values as they are.
        """
        check_is_fitted(self)
        if not self.sample_posterior:
            return self.mixture_.impute(X)
        return self.mixture_.impute(X, n_draws=1, random_state=self.random_state)[0]

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> NDArray[Any]:
        """The output columns: the input's (imputation keeps every column)."""
        check_is_fitted(self)
        names: NDArray[Any] = _check_feature_names_in(self, input_features)
        return names

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


__all__ = ["GaussianMixtureImputer"]
