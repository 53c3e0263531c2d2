"""Per-feature standardization of rows, recorded with a model fitted on standardized data."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class Standardization:
    """Per-feature standardization ``z = (x - mean) / scale`` applied before the model.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
    scale : ndarray of shape (n_features,)
        Strictly positive.
    """

    mean: NDArray[np.float64]
    scale: NDArray[np.float64]

    @classmethod
    def fit(cls, X: ArrayLike) -> Standardization:
        """Column means and standard deviations of the observed values of ``X`` (NaN is a
        missing value; a constant column gets scale 1, one with no value mean 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Standardization
        """
        Xa = np.asarray(X, dtype=np.float64)
        if np.isnan(Xa).any():
            with warnings.catch_warnings():  # a column with no observed value: 0 and 1
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nan_to_num(np.nanmean(Xa, axis=0))
                scale = np.nanstd(Xa, axis=0)
        else:
            mean = Xa.mean(axis=0)
            scale = Xa.std(axis=0)
        scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
        return cls(mean, scale)

    def transform(self, X: NDArray[np.floating]) -> NDArray[np.floating]:
        """Standardized rows, in the dtype of ``X`` (float32 stays float32).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features)
        """
        Z = (np.asarray(X, dtype=np.float64) - self.mean) / self.scale
        return Z.astype(X.dtype if X.dtype == np.float32 else np.float64, copy=False)

    def inverse_transform(self, Z: NDArray[np.floating]) -> NDArray[np.floating]:
        """Rows in the original units.

        Parameters
        ----------
        Z : ndarray of shape (n_samples, n_features)

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        X = np.asarray(Z, dtype=np.float64) * self.scale + self.mean
        return X.astype(Z.dtype if Z.dtype == np.float32 else np.float64, copy=False)

    @property
    def log_abs_det(self) -> float:
        """``sum(log(scale))``: subtract it from a log-density of ``z`` to get that of ``x``."""
        return float(np.sum(np.log(self.scale)))


__all__ = ["Standardization"]
