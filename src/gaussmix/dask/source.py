"""The rows of a Dask array as a :class:`~gaussmix.sources.RowSource`.

A pass is one task per block, each the engine's :func:`~gaussmix.engine.mixture_pass` of
its rows (with the block's first row as ``row_offset``), and a tree of merges
(:func:`~gaussmix.engine.merge_results`, :data:`FAN_IN` results each) over consecutive
blocks, so that only the statistics, log-likelihoods and worst rows travel, and in the
same order whichever worker computed a block: a fit is reproducible for a given chunking,
and a block lost with a worker is recomputed to the same result.  The model's terms travel
once per pass, as one key of the graph.

Each block's pass runs on :data:`BLOCK_THREADS` engine thread: a worker already runs as many
blocks at once as it has threads, so its cores are all used and never oversubscribed.

Missing values (NaN, where the estimator's ``missing='marginalize'``): a block whose pass
meets one is passed again as an :class:`~gaussmix.incomplete.source.IncompleteSource` of its
rows, grouped by its own patterns (once per block while it lives, :mod:`~gaussmix.dask.blocks`);
its expected complete-data statistics merge with the other blocks' as any block's do.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph
from numpy.typing import NDArray

from ..engine import (
    FRAME_SAMPLE,
    Frame,
    NonFiniteInput,
    PassResult,
    PassTerms,
    merge_results,
    mixture_pass,
)
from ..incomplete.source import IncompleteSource
from ..sources import ArrayRows, ArraySource, RowSource, unique_rows
from .blocks import incomplete_block, kept_block
from .validation import block_values, raise_not_finite

Array = NDArray[np.float64]

#: results merged by one task of a pass's reduction tree
FAN_IN = 8

#: engine threads of one block's pass
BLOCK_THREADS = 1


@dataclass(frozen=True)
class PassSpec:
    """What every block's pass of one pass shares (one key of the graph)."""

    terms: PassTerms
    frame: Frame
    options: dict[str, Any]
    #: whether NaN is a missing value (else an error, as infinity always is)
    missing: bool = False


def block_pass(
    x: NDArray[np.floating],
    w: Array | None,
    spec: PassSpec,
    index: int,
    start: int,
    rows: int,
) -> PassResult:
    """The engine's pass over block ``index`` (global rows ``start .. start + rows``); a
    block with missing values (``spec.missing``) over its rows' observed values."""
    block_values(x, index, start, (rows, spec.frame.n_features))
    options = {"n_threads": BLOCK_THREADS, **spec.options, "finite": False}
    known = kept_block(x, w) if spec.missing else None
    if known is not None:  # a block met before with missing values
        return known.mixture_pass(spec.terms, spec.frame, row_offset=start, **options)
    try:
        return mixture_pass(x, spec.terms, spec.frame, sample_weight=w, row_offset=start, **options)
    except NonFiniteInput:
        # the pass stops at the first row with a NaN: few blocks with missing values pass
        # far before it
        if not spec.missing or np.isinf(x).any():
            raise
    return incomplete_block(x, w).mixture_pass(spec.terms, spec.frame, row_offset=start, **options)


def _rows_of(
    block: NDArray[Any], local: NDArray[np.intp], index: int, start: int, shape: tuple[int, ...]
) -> NDArray[Any]:
    block_values(block, index, start, shape)
    return np.take(block, local, axis=0)


def _concatenate_each(parts: Sequence[Sequence[NDArray[Any]]]) -> tuple[NDArray[Any], ...]:
    return tuple(np.concatenate(p) for p in parts)


def _token(kind: str) -> str:
    # passes are never shared between calls, so a fresh name costs no hashing of the terms
    return f"gaussmix-{kind}-{uuid.uuid4().hex}"


class DaskSource(ArrayRows):
    """Rows held in a Dask array, read block by block on the workers.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        float32 or float64, with known chunk sizes and one chunk of columns (as
        :func:`gaussmix.dask.validation.as_rows` returns).  Its values are not checked
        here: a pass that meets NaN or inf raises the in-memory error.
    sample_weight : dask.array.Array of shape (n_samples,), optional
        float64, chunked as ``X``'s rows.
    missing : bool
        Whether NaN is a missing value (each row is then fitted and scored on its observed
        values) rather than an error.
    """

    def __init__(self, X: Any, sample_weight: Any = None, *, missing: bool = False) -> None:
        if len(X.chunks[1]) != 1:
            raise ValueError("DaskSource needs one chunk of columns; rechunk X({1: -1}).")
        if sample_weight is not None and sample_weight.chunks[0] != X.chunks[0]:
            raise ValueError("sample_weight must be chunked as the rows of X.")
        super().__init__(X, sample_weight)
        self.bounds = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.intp)
        self.missing = missing
        self._fill: NDArray[np.floating] | None = None
        self._empty = 0

    @property
    def n_blocks(self) -> int:
        return len(self.X.chunks[0])

    def _block_keys(self) -> tuple[list[Any], list[Any] | None]:
        xkeys = [k[0] for k in self.X.__dask_keys__()]
        wkeys = None if self._weights is None else list(self._weights.__dask_keys__())
        return xkeys, wkeys

    def _graph(self, name: str, dsk: dict[Any, Any]) -> HighLevelGraph:
        deps = [self.X] if self._weights is None else [self.X, self._weights]
        return HighLevelGraph.from_collections(name, dsk, dependencies=deps)

    def mixture_pass(self, terms: PassTerms, frame: Frame, **options: Any) -> PassResult:
        """One pass over all blocks on the workers, merged (see the module's notes)."""
        name = _token("pass")
        xkeys, wkeys = self._block_keys()
        spec_key = (name, "spec")
        dsk: dict[Any, Any] = {spec_key: PassSpec(terms, frame, options, self.missing)}
        level = []
        for i, (a, b) in enumerate(itertools.pairwise(self.bounds.tolist())):
            w = None if wkeys is None else wkeys[i]
            dsk[(name, 0, i)] = (block_pass, xkeys[i], w, spec_key, i, a, b - a)
            level.append((name, 0, i))
        n_worst = int(options.get("n_worst", 0))
        depth = 0
        while len(level) > 1:  # merges of consecutive results: the order of the sums is fixed
            depth += 1
            merged = []
            for j in range(0, len(level), FAN_IN):
                dsk[(name, depth, j)] = (merge_results, level[j : j + FAN_IN], n_worst)
                merged.append((name, depth, j))
            level = merged
        try:
            result: PassResult = Delayed(level[0], self._graph(name, dsk), layer=name).compute()
        except NonFiniteInput:
            raise_not_finite(self.X, missing=self.missing)
        self._empty = result.empty_rows
        return result

    @property
    def n_empty(self) -> int:
        """Rows with nothing observed, as the last pass counted them."""
        return self._empty

    def _gather(self, rows: NDArray[np.intp]) -> tuple[NDArray[np.floating], Array | None]:
        """The rows at ``rows`` and their weights, in that order, in one computation."""
        unique, inverse = unique_rows(rows, self.n_rows)
        name = _token("take")
        xkeys, wkeys = self._block_keys()
        blocks = np.searchsorted(self.bounds, unique, side="right") - 1
        dsk: dict[Any, Any] = {}
        parts: list[list[Any]] = [[], []]
        for b in np.unique(blocks).tolist():
            local = unique[blocks == b] - self.bounds[b]
            start, size = int(self.bounds[b]), int(self.bounds[b + 1] - self.bounds[b])
            shapes = ((size, self.n_features), (size,))
            for which, keys in enumerate((xkeys, wkeys)):
                if keys is not None:
                    dsk[(name, which, b)] = (_rows_of, keys[b], local, b, start, shapes[which])
                    parts[which].append((name, which, b))
        if not unique.size:
            empty = np.empty((0, self.n_features), dtype=self.dtype)
            return empty, None if self._weights is None else np.empty(0)
        dsk[(name, "all")] = (_concatenate_each, [p for p in parts if p])
        got = Delayed((name, "all"), self._graph(name, dsk), layer=name).compute()
        x = got[0][inverse]
        if not np.isfinite(x).all() and (not self.missing or np.isinf(x).any()):
            raise_not_finite(self.X, missing=self.missing)  # the whole array's count
        return x, None if self._weights is None else got[1][inverse]

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """The rows at ``rows`` (global indices), gathered into an ndarray; missing values
        filled with the column means of all observed values, as
        :meth:`IncompleteSource.take <gaussmix.incomplete.source.IncompleteSource.take>`
        fills them (seeds and re-seeding candidates are finite rows)."""
        x = self._gather(rows)[0]
        holes = np.isnan(x)
        if not holes.any():
            return x
        if self._fill is None:  # one reduction over the rows, the first time
            sums, counts = dask.compute(da.nansum(self.X, axis=0), (~da.isnan(self.X)).sum(0))
            with np.errstate(invalid="ignore", divide="ignore"):
                self._fill = np.where(counts > 0, sums / counts, 0.0)
        return np.where(holes, self._fill.astype(x.dtype), x)

    def subset(self, rows: NDArray[np.intp]) -> RowSource:
        """The rows at ``rows`` and their weights, gathered once into an :class:`ArraySource`,
        or an :class:`IncompleteSource` if they hold missing values (the start race's
        subsample: it runs on the client)."""
        x, w = self._gather(rows)
        return IncompleteSource(x, w) if np.isnan(x).any() else ArraySource(x, w)

    def frame_sample(self) -> tuple[NDArray[np.floating], Array | None]:
        """The rows (and weights) :meth:`Frame.from_data` would read of the same rows in
        memory: every ``n // FRAME_SAMPLE``-th row beyond ``2 * FRAME_SAMPLE`` rows, else all.
        """
        n = self.n_rows
        step = n // FRAME_SAMPLE if n > 2 * FRAME_SAMPLE else 1
        x, w = self._gather(np.arange(0, n, step))
        if w is not None and not w.sum() > 0:
            w = None  # the frame needs a centre near the data and a spread, not exact moments
        return x, w


__all__ = ["BLOCK_THREADS", "FAN_IN", "DaskSource", "PassSpec", "block_pass"]
