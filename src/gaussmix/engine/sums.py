"""The running sums of a pass: per chunk, per worker, and their total folded in chunk order."""

from __future__ import annotations

import copy
import threading
from typing import Generic, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from .planning import Prepared

Array = NDArray[np.float64]


class Sums:
    """The sums of a pass, or of one chunk: statistics, log-likelihood, weight, worst rows."""

    def __init__(self, prep: Prepared, stats: bool, n_worst: int, whitened: bool = False):
        k, d = prep.k, prep.d
        self.n_worst = n_worst
        self.total_n = np.zeros(k)
        self.s1 = np.zeros((k, d))
        # second moments: packed quadratic sums of the expanded components, and the
        # per-component (centred) moments of the direct ones
        self.s2q = np.zeros(prep.moments.packed_shape(prep.expanded.size, d))
        self.s2d = np.zeros(prep.moments.second_shape(len(prep.direct), d))
        # statistics gathered by the fused kernel: per component, about its mean, in the
        # factors' layout (diagonals (k, d) or matrices (k, d, d))
        self.fused = stats and prep.fused
        self.f_n, self.f_s1 = (
            np.zeros(k if self.fused else 0),
            np.zeros((k, d) if self.fused else 0),
        )
        self.f_s2 = np.zeros(prep.moments.kernel_second_shape(k, d) if self.fused else 0)
        # whitened float32 statistics (y's coordinates, see mixture_pass), kept apart
        wk = k if whitened else 0
        self.w_n, self.w_s1, self.w_s2 = np.zeros(wk), np.zeros((wk, d)), np.zeros((wk, d, d))
        self.loglik = 0.0
        self.weight = 0.0
        self.worst_idx = np.empty(0, dtype=np.intp)
        self.worst_val = np.empty(0)

    def _arrays(self) -> tuple[Array, ...]:
        return (
            self.total_n, self.s1, self.s2q, self.s2d, self.f_n, self.f_s1, self.f_s2,
            self.w_n, self.w_s1, self.w_s2,
        )  # fmt: skip

    def clear(self) -> None:
        for a in self._arrays():
            a.fill(0.0)
        self.loglik = self.weight = 0.0
        self.worst_idx = np.empty(0, dtype=np.intp)
        self.worst_val = np.empty(0)

    def copy(self) -> Sums:
        new = copy.copy(self)
        (
            new.total_n, new.s1, new.s2q, new.s2d, new.f_n, new.f_s1, new.f_s2,
            new.w_n, new.w_s1, new.w_s2,
        ) = (a.copy() for a in self._arrays())  # fmt: skip
        return new

    def add(self, other: Sums) -> None:
        """Add the sums of other rows (same parameters)."""
        for mine, theirs in zip(self._arrays(), other._arrays(), strict=True):
            mine += theirs
        self.loglik += other.loglik
        self.weight += other.weight
        if self.n_worst:
            self.worst_idx = np.concatenate([self.worst_idx, other.worst_idx])
            self.worst_val = np.concatenate([self.worst_val, other.worst_val])
            if self.worst_val.shape[0] > self.n_worst:
                keep = np.lexsort((self.worst_idx, self.worst_val))[: self.n_worst]
                self.worst_idx, self.worst_val = self.worst_idx[keep], self.worst_val[keep]


_F = TypeVar("_F", bound="Foldable")


class Foldable(Protocol):
    """Sums that :class:`InOrder` folds (:class:`Sums`, and those of other passes)."""

    def add(self: _F, other: _F) -> None: ...

    def copy(self: _F) -> _F: ...


S = TypeVar("S", bound=Foldable)


class InOrder(Generic[S]):
    """Chunk sums folded into a total in chunk order, whichever worker finishes first.

    The total is then the same, to the last bit, however the chunks were shared among the
    workers, and however many there were.  A chunk that finishes ahead of its turn waits as
    a copy (workers take chunks in order, so few ever wait).
    """

    def __init__(self, total: S):
        self.total = total
        self.next = 0
        self.waiting: dict[int, S] = {}
        self.lock = threading.Lock()

    def fold(self, i: int, sums: S) -> None:
        with self.lock:
            if i != self.next:
                self.waiting[i] = sums.copy()
                return
            self.total.add(sums)
            self.next += 1
            while self.next in self.waiting:
                self.total.add(self.waiting.pop(self.next))
                self.next += 1


def keep_worst(
    idx: NDArray[np.intp], val: Array, lse: Array, offset: int, keep: int
) -> tuple[NDArray[np.intp], Array]:
    """Merge a chunk's lowest log-densities into the running ``keep`` lowest.

    Rows tied with the last one kept are all candidates, so that ties go to the lower index
    whichever chunks the rows fell in (:class:`~gaussmix.engine.result.WorstRows`).
    """
    take = min(keep, lse.shape[0])
    part = np.argpartition(lse, take - 1)[:take]
    part = np.flatnonzero(lse <= lse[part].max())
    idx = np.concatenate([idx, part + offset])
    val = np.concatenate([val, lse[part]])
    if val.shape[0] > keep:
        sel = np.lexsort((idx, val))[:keep]
        idx, val = idx[sel], val[sel]
    return idx, val
