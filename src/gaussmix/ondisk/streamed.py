"""A row source read block by block from storage: memory bounded by two blocks.

:class:`StreamedSource` runs every pass as the engine's pass over one block at a time (with
the block's first row as ``row_offset``) and merges the blocks' results in row order
(:func:`~gaussmix.engine.merge_results`), so that a pass, and a fit, is that of the rows in
memory up to the order of the sums.  While a block is in the engine, the next one is read
into a second buffer by a reader thread: the two buffers are all the rows it holds.  What
a block is, and how it is read, is the :class:`BlockReader`'s business (a ``.npy`` file or
a memory map, :mod:`gaussmix.ondisk.npy`; Parquet row groups, :mod:`gaussmix.ondisk.parquet`).

Rows are never checked when they are opened: a pass that meets NaN or infinity raises a
``ValueError`` naming the row (out-of-core rows must be finite).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, Protocol

import numpy as np
from numpy.typing import NDArray

from .. import _validation as v
from ..engine import Frame, NonFiniteInput, PassResult, PassTerms, merge_results
from ..engine import mixture_pass as engine_pass
from ..sources import ArraySource, unique_rows

Array = NDArray[np.float64]

#: bytes of one block of rows where the storage does not fix the blocks (files, memory maps)
BLOCK_BYTES = 16 * 2**20


class BlockReader(Protocol):
    """Consecutive blocks of rows in storage, read one at a time."""

    #: where the rows are, for messages (a path)
    where: str

    @property
    def bounds(self) -> NDArray[np.intp]:
        """First row of each block, and the number of rows last (n_blocks + 1,)."""

    @property
    def n_features(self) -> int:
        """Number of columns."""

    @property
    def dtype(self) -> np.dtype[Any]:
        """float32 or float64: the dtype of the blocks read."""

    def read(self, i: int, out: NDArray[np.floating]) -> NDArray[np.floating]:
        """Block ``i`` read into the first rows of ``out`` (C-contiguous, :attr:`dtype`, at
        least the block's rows); returns that part of ``out``."""

    def rows(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """The rows at ``rows`` (sorted, unique, in range), read into a new array."""


def block_rows(n_features: int, itemsize: int, rows: int | None = None) -> int:
    """Rows of a block: ``rows`` if given, else :data:`BLOCK_BYTES` worth."""
    if rows is not None:
        return max(1, int(rows))
    return max(1, BLOCK_BYTES // max(1, n_features * itemsize))


class StreamedSource:
    """Rows read block by block from storage, as a :class:`~gaussmix.sources.RowSource`.

    Parameters
    ----------
    reader : BlockReader
    sample_weight : array-like of shape (n_samples,), optional
        Weights of the rows, held in memory (one float per row).
    """

    def __init__(self, reader: BlockReader, sample_weight: Any = None) -> None:
        self.reader = reader
        self.bounds = np.asarray(reader.bounds, dtype=np.intp)
        self._weights = v.check_sample_weight(sample_weight, self.n_rows)

    # ------------------------------------------------------------------ what it holds

    @property
    def n_rows(self) -> int:
        return int(self.bounds[-1])

    @property
    def n_features(self) -> int:
        return int(self.reader.n_features)

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(self.reader.dtype)

    @property
    def sample_weight(self) -> Array | None:
        return self._weights

    @property
    def n_blocks(self) -> int:
        return int(self.bounds.shape[0] - 1)

    @property
    def where(self) -> str:
        """Where the rows are (a path), for messages."""
        return self.reader.where

    @property
    def feature_names(self) -> list[str] | None:
        """The columns' names, where the storage has them."""
        return getattr(self.reader, "columns", None)

    def _buffer(self) -> NDArray[np.floating]:
        largest = int(np.diff(self.bounds).max(initial=0))
        return np.empty((largest, self.n_features), dtype=self.dtype)

    def _weights_of(self, i: int) -> Array | None:
        if self._weights is None:
            return None
        return self._weights[self.bounds[i] : self.bounds[i + 1]]

    # ------------------------------------------------------------------ passes

    def blocks(self) -> Iterator[tuple[int, NDArray[np.floating]]]:
        """Every block in order, the next one read while the caller works on the current
        one (two buffers, reused: a block is valid until the next is asked for)."""
        n = self.n_blocks
        if n == 0:
            return
        buffers = [self._buffer() for _ in range(min(2, n))]
        with ThreadPoolExecutor(1, thread_name_prefix="gaussmix-read") as reader:
            pending = reader.submit(self.reader.read, 0, buffers[0])
            for i in range(n):
                x = pending.result()
                if i + 1 < n:
                    pending = reader.submit(self.reader.read, i + 1, buffers[(i + 1) % 2])
                yield i, x

    def mixture_pass(self, terms: PassTerms, frame: Frame, **options: Any) -> PassResult:
        """The engine's pass over each block in turn (its options), merged in row order."""
        offset = int(options.pop("row_offset", 0))
        options["finite"] = False
        results = []
        for i, x in self.blocks():
            start = int(self.bounds[i])
            try:
                result = engine_pass(
                    x, terms, frame, sample_weight=self._weights_of(i),
                    row_offset=offset + start, **options,
                )  # fmt: skip
            except NonFiniteInput:
                self.raise_not_finite(x, start)
            results.append(result)
        if not results:
            raise ValueError(f"{self.where} has no rows.")
        return merge_results(results, int(options.get("n_worst", 0)))

    def raise_not_finite(self, x: NDArray[np.floating], start: int) -> NoReturn:
        """Raise the ``ValueError`` naming the first row of ``x`` (global row ``start``
        onwards) that holds NaN or infinity."""
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        first = start + int(bad[0]) if bad.size else start
        raise ValueError(
            f"{self.where} holds NaN or infinity (first in row {first}); rows read "
            "out of core must be finite: drop or fill those rows (or load the data into "
            "memory, where NaN is taken as a missing value)."
        )

    # ------------------------------------------------------------------ rows by index

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """The rows at ``rows`` (global indices, any order, repeats allowed)."""
        unique, inverse = unique_rows(rows, self.n_rows)
        if not unique.size:
            return np.empty((0, self.n_features), dtype=self.dtype)
        return self.reader.rows(unique)[inverse]

    def subset(self, rows: NDArray[np.intp]) -> ArraySource:
        """The rows at ``rows`` and their weights, read into memory once (the start race's
        subsample)."""
        weights = None if self._weights is None else self._weights[rows]
        return ArraySource(self.take(rows), weights)

    def block(self, i: int) -> ArraySource:
        """Block ``i``'s rows and weights, in memory (a mini-batch epoch's current block)."""
        x = self.reader.read(i, self._buffer())
        if not np.isfinite(x).all():
            self.raise_not_finite(x, int(self.bounds[i]))
        return ArraySource(x, self._weights_of(i))


__all__ = ["BLOCK_BYTES", "BlockReader", "StreamedSource", "block_rows"]
