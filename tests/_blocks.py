"""A row source of consecutive blocks, for the tests: the shape of any source whose rows
live in pieces (Parquet row groups, Dask chunks), with each block's pass possibly computed
elsewhere (in another process) and the results merged."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from gaussmix.engine import (
    Frame,
    PassResult,
    PassTerms,
    merge_results,
    mixture_pass,
)
from gaussmix.sources import ArrayRows


def block_pass(
    X: np.ndarray,
    terms: PassTerms,
    frame: Frame,
    sample_weight: np.ndarray | None,
    row_offset: int,
    options: dict[str, Any],
) -> PassResult:
    """One block's pass (a module-level function, so that a spawned process can run it)."""
    return mixture_pass(
        X, terms, frame, sample_weight=sample_weight, row_offset=row_offset, **options
    )


class BlockSource(ArrayRows):
    """Rows held in blocks ``X[bounds[i]:bounds[i + 1]]``; every pass runs block by block."""

    def __init__(self, X: np.ndarray, sample_weight: np.ndarray | None, bounds: list[int]):
        super().__init__(X, sample_weight)
        self.bounds = bounds

    def blocks(self):
        for a, b in itertools.pairwise(self.bounds):
            yield a, self.X[a:b], None if self._weights is None else self._weights[a:b]

    def mixture_pass(self, terms: PassTerms, frame: Frame, **options: Any) -> PassResult:
        results = [block_pass(x, terms, frame, w, a, options) for a, x, w in self.blocks()]
        return merge_results(results, options.get("n_worst", 0))

    def take(self, rows: np.ndarray) -> np.ndarray:
        return np.take(self.X, rows, axis=0)

    def subset(self, rows: np.ndarray) -> BlockSource:
        weights = None if self._weights is None else self._weights[rows]
        m = len(rows)
        return BlockSource(self.take(rows), weights, [0, m // 3, m])
