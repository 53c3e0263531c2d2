"""Row sources: where the EM driver, the start race and initialisation read rows from.

Everything after validation reads the data through one small protocol, :class:`RowSource`:
a pass over all rows (:meth:`~RowSource.mixture_pass`: the E-step and statistics, or
statistics under given assignments for initialisation), some rows by index
(:meth:`~RowSource.take`, :meth:`~RowSource.subset`), the number of rows and their dtype.
:class:`ArraySource` serves numpy arrays and memory maps (``np.memmap``, ``np.load(...,
mmap_mode="r")``); sources of rows held elsewhere implement the same protocol, summing the
engine's statistics over their blocks (:class:`gaussmix.dask.source.DaskSource`: a Dask
array, on the workers).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from .engine import Frame, PassResult, PassTerms, mixture_pass

Array = NDArray[np.float64]


@runtime_checkable
class RowSource(Protocol):
    """The rows a model is fitted on (validated, finite), with optional sample weights."""

    @property
    def n_rows(self) -> int:
        """Number of rows."""

    @property
    def n_features(self) -> int:
        """Number of columns."""

    @property
    def dtype(self) -> np.dtype[Any]:
        """dtype of the rows (float32 or float64)."""

    @property
    def sample_weight(self) -> Array | None:
        """Weights of the rows (``None``: all 1); held where the rows are (a Dask source's
        are a Dask array)."""

    def mixture_pass(self, terms: PassTerms, frame: Frame, **options: Any) -> PassResult:
        """One pass over all rows (:func:`gaussmix.engine.mixture_pass`'s options); the
        statistics and worst rows cover every row, with global row indices."""

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """The rows at ``rows`` (global indices), in the caller's units, as an ndarray."""

    def subset(self, rows: NDArray[np.intp]) -> RowSource:
        """A source of the rows at ``rows`` (with their weights), in that order."""


class ArrayRows:
    """What a source whose rows are one array ``X`` (with optional weights) knows of them;
    ``X`` is any array with ``shape`` and ``dtype`` (an ndarray, a Dask array)."""

    def __init__(self, X: Any, sample_weight: Any = None) -> None:
        self.X = X
        self._weights = sample_weight

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(self.X.dtype)

    @property
    def sample_weight(self) -> Any:
        """The weights, in the array type of ``X`` (``None``: all 1)."""
        return self._weights

    @property
    def n_empty(self) -> int:
        """Rows with nothing observed, left out of the statistics (NaN as missing values)."""
        return 0


class ArraySource(ArrayRows):
    """Rows held in a numpy array or a memory map, read in place (never copied whole).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated, finite rows (float32 or float64).
    sample_weight : ndarray of shape (n_samples,), optional
    """

    def mixture_pass(self, terms: PassTerms, frame: Frame, **options: Any) -> PassResult:
        return mixture_pass(self.X, terms, frame, sample_weight=self._weights, **options)

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        # np.take copies the rows faster than indexing with an integer array
        return np.take(self.X, rows, axis=0)

    def subset(self, rows: NDArray[np.intp]) -> ArraySource:
        weights = None if self._weights is None else self._weights[rows]
        return ArraySource(self.take(rows), weights)


__all__ = ["ArrayRows", "ArraySource", "RowSource"]
