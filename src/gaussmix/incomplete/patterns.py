"""Rows grouped by missingness pattern: which of their values are observed, and those values
kept compact, each pattern's rows together."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: features up to which a row's pattern is one integer key (its observed mask as bits)
_INTEGER_KEYS = 64


@dataclass(frozen=True)
class Patterns:
    """The missingness patterns of a set of rows.

    Attributes
    ----------
    order : ndarray of shape (n_used,)
        Indices of the rows with at least one observed value, grouped by pattern (in their
        original order within a pattern).
    bounds : ndarray of shape (P + 1,)
        ``order[bounds[p]:bounds[p + 1]]`` are the rows of pattern ``p``.
    observed : ndarray of shape (P, d) of bool
        Each pattern's observed features.
    empty : ndarray
        Indices of the rows with nothing observed.
    """

    order: NDArray[np.intp]
    bounds: NDArray[np.intp]
    observed: NDArray[np.bool_]
    empty: NDArray[np.intp]

    @classmethod
    def of(cls, X: NDArray[np.floating]) -> Patterns:
        """The patterns of ``X``'s NaN entries (everything else counts as observed)."""
        seen = ~np.isnan(X)
        n, d = seen.shape
        if not n:
            nothing = np.empty(0, dtype=np.intp)
            return cls(nothing, np.zeros(1, dtype=np.intp), np.zeros((0, d), bool), nothing)
        if d <= _INTEGER_KEYS:
            # one integer per row, its observed mask as bits: one stable sort groups the rows
            # (a radix sort for 16 bits or fewer)
            keys = seen.astype(np.uint64) @ (np.uint64(1) << np.arange(d, dtype=np.uint64))
            if d <= 16:
                keys = keys.astype(np.uint16)
            order = np.argsort(keys, kind="stable")
            ranked = keys[order]
            change = ranked[1:] != ranked[:-1]
        else:
            packed = np.packbits(seen, axis=1, bitorder="little")
            order = np.lexsort(packed.T[::-1])
            ranked_rows = packed[order]
            change = (ranked_rows[1:] != ranked_rows[:-1]).any(axis=1)
        starts = np.concatenate([[0], np.flatnonzero(change) + 1]).astype(np.intp)
        observed = seen[order[starts]]
        bounds = np.concatenate([starts, [n]]).astype(np.intp)
        empty = np.empty(0, dtype=np.intp)
        if not observed[0].any():  # the all-missing key sorts first (all bits zero)
            empty = order[: bounds[1]]
            order, observed, bounds = order[bounds[1] :], observed[1:], bounds[1:] - bounds[1]
        return cls(order.astype(np.intp), bounds, observed, np.asarray(empty, dtype=np.intp))

    @property
    def n_patterns(self) -> int:
        return int(self.observed.shape[0])


@dataclass(frozen=True)
class GroupedRows:
    """The rows with something observed, grouped by pattern, their observed values alone.

    Attributes
    ----------
    values : ndarray of shape (n_observed,)
        The observed values, row by row in the order of ``Patterns.order`` (pattern ``p``'s
        rows, each ``observed[p].sum()`` values long, start at ``offsets[p]``), in the
        input's dtype.
    offsets : ndarray of shape (P + 1,) of int64
    bounds : ndarray of shape (P + 1,) of int64
        Pattern ``p`` holds the grouped rows ``bounds[p]`` to ``bounds[p + 1] - 1``.
    observed : ndarray of shape (P, d) of bool
    """

    values: NDArray[np.floating]
    offsets: NDArray[np.int64]
    bounds: NDArray[np.int64]
    observed: NDArray[np.bool_]

    @classmethod
    def of(cls, X: NDArray[np.floating], patterns: Patterns) -> GroupedRows:
        grouped = np.take(X, patterns.order, axis=0)
        values = np.ascontiguousarray(grouped[~np.isnan(grouped)])
        sizes = np.diff(patterns.bounds) * patterns.observed.sum(axis=1)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return cls(values, offsets, patterns.bounds.astype(np.int64), patterns.observed)

    @property
    def n_rows(self) -> int:
        return int(self.bounds[-1]) if self.bounds.shape[0] else 0

    def pattern_of(self, row: int) -> int:
        """The pattern of grouped row ``row``."""
        return int(np.searchsorted(self.bounds, row, side="right")) - 1

    def rows(self, p: int, start: int, stop: int) -> NDArray[np.floating]:
        """Grouped rows ``start`` to ``stop - 1`` of pattern ``p``: (m, d_o), observed values."""
        width = int(self.observed[p].sum())
        first = int(self.offsets[p]) + (start - int(self.bounds[p])) * width
        return self.values[first : first + (stop - start) * width].reshape(stop - start, width)
