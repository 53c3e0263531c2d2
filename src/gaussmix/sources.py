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

from .engine import FRAME_SAMPLE, Frame, PassResult, PassTerms, mixture_pass

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


@runtime_checkable
class BlockedRows(Protocol):
    """A row source read in consecutive blocks, one in memory at a time (a file read out of
    core): besides its passes, it hands out each block's rows, for the mini-batches of
    stepwise EM (:func:`gaussmix.stepwise.shuffled_batches`)."""

    @property
    def n_blocks(self) -> int:
        """Number of blocks."""

    def block(self, i: int) -> RowSource:
        """The rows of block ``i`` (and their weights), in memory."""


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


def unique_rows(rows: NDArray[np.intp], n: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The distinct rows of ``rows`` (global indices, negative from the end) among ``n``,
    sorted, and where each of ``rows`` is among them (a source held elsewhere reads each
    row once, in order).

    Raises
    ------
    IndexError
        For an index out of range.
    """
    rows = np.asarray(rows, dtype=np.intp).reshape(-1)
    if rows.size and (rows.min() < -n or rows.max() >= n):
        raise IndexError(f"row index out of range for {n} rows")
    unique, inverse = np.unique(np.where(rows < 0, rows + n, rows), return_inverse=True)
    return unique, inverse.reshape(-1)


def frame_rows(source: RowSource) -> tuple[NDArray[np.floating], Array | None]:
    """The rows (and weights) of ``source`` that :meth:`Frame.from_data` reads of the same
    rows in memory: every ``n // FRAME_SAMPLE``-th row beyond ``2 * FRAME_SAMPLE`` rows, else
    all (a source held elsewhere is read once, for these rows only).

    Raises
    ------
    ValueError
        Naming the first of these rows that holds NaN or infinity.
    """
    n = source.n_rows
    step = n // FRAME_SAMPLE if n > 2 * FRAME_SAMPLE else 1
    picked = np.arange(0, n, step)
    rows = source.take(picked)
    finite = np.isfinite(rows).all(axis=1)
    if not finite.all():
        where = getattr(source, "where", "The rows")  # a file's source names it
        raise ValueError(
            f"{where} holds NaN or infinity (first in row {int(picked[~finite][0])}); rows "
            "read out of core must be finite: drop or fill those rows (or load them into "
            "memory, where NaN is taken as a missing value)."
        )
    weights = source.sample_weight
    w = None if weights is None else np.asarray(weights[picked], dtype=np.float64)
    if w is not None and not w.sum() > 0:
        w = None  # the frame needs a centre near the data and a spread, not exact moments
    return rows, w


__all__ = ["ArrayRows", "ArraySource", "BlockedRows", "RowSource", "frame_rows", "unique_rows"]
