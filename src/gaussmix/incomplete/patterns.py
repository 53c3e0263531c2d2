"""Rows grouped by missingness pattern: which of their values are observed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Patterns:
    """The missingness patterns of a set of rows.

    Attributes
    ----------
    order : ndarray of shape (n_used,)
        Indices of the rows with at least one observed value, grouped by pattern.
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
        # one key per row: its observed mask packed into bytes, compared as one value
        packed = np.packbits(seen, axis=1)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))[:, 0]
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        observed = seen[first]
        used = observed.any(axis=1)
        order = np.argsort(inverse, kind="stable")
        counts = np.bincount(inverse, minlength=unique.shape[0])
        empty = order[: counts[0]] if not used[0] else np.empty(0, dtype=np.intp)
        if not used[0]:  # the all-missing key sorts first (all bits zero)
            order, counts, observed = order[counts[0] :], counts[1:], observed[1:]
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        return cls(order.astype(np.intp), bounds, observed, np.asarray(empty, dtype=np.intp))

    @property
    def n_patterns(self) -> int:
        return int(self.observed.shape[0])
