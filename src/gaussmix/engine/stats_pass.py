"""Statistics under given responsibilities: the pass initialisation uses, where hard labels
or soft responsibilities come from a strategy instead of the model's E-step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._moments import MomentKind
from ..stats import SuffStats
from .chunks import auto_chunk_size, iter_chunks
from .frame import Frame

Array = NDArray[np.float64]

#: ``source(rows, z)``: responsibilities (m, k) or hard labels (m,) of a chunk's rows
RespSource = Callable[[slice, Array], NDArray[Any]]


def stats_pass(
    X: NDArray[np.floating],
    resp_source: RespSource,
    moments: MomentKind,
    frame: Frame,
    ref: Array,
    *,
    sample_weight: Array | None = None,
    chunk_size: int | None = None,
    row_offset: int = 0,
) -> SuffStats:
    """Statistics of ``X`` under responsibilities given per chunk by ``resp_source``.

    ``resp_source(rows, z)`` receives the chunk's row slice (global: shifted by
    ``row_offset``, the index of ``X``'s first row among all rows) and its internal coordinates and
    returns either soft responsibilities (n_c, k) or hard labels (n_c,) of integers in
    ``[0, k)``.  Used by initialisation (nearest seeds, random responsibilities);
    statistics are taken about ``ref`` (k, d) with the direct form.  Hard labels are summed
    over each component's own rows only.  Rows of zero weight are left out (they may lie
    anywhere, even beyond float64 squares).
    """
    n, d = X.shape
    k = ref.shape[0]
    step = chunk_size or auto_chunk_size(d, k, d)  # one thread: no share per worker
    total = SuffStats.zeros(moments, ref)
    buf = np.empty((min(step, n), d))
    for sl in iter_chunks(n, step):
        x = X[sl]
        w = None if sample_weight is None else sample_weight[sl]
        keep = None if w is None or (w > 0).all() else w > 0
        if keep is not None and w is not None:
            x, w = x[keep], w[keep]
        z = frame.to_internal(x, out=buf[: x.shape[0]])
        rows = slice(sl.start + row_offset, sl.stop + row_offset)
        if keep is None:
            r = resp_source(rows, z)
        else:  # the source answers for whole chunks: zero-weight rows get a placeholder
            full = np.zeros((sl.stop - sl.start, d))
            full[keep] = z
            r = resp_source(rows, full)[keep]
        if r.ndim == 1:
            _add_hard(total, moments, z, r, w)
            continue
        if w is not None:
            r = r * w[:, None]
        for j in range(k):
            if r[:, j].any():
                _add_component(total, moments, j, z, r[:, j])
    total.weight = float(n if sample_weight is None else sample_weight.sum())
    total.n_rows = n
    return total


def _add_hard(
    total: SuffStats, moments: MomentKind, z: Array, labels: NDArray[Any], w: Array | None
) -> None:
    """Add a chunk's statistics under hard labels: each component over its own rows.

    The rows are sorted by label once, centred on their own component's reference in one
    operation, and the first moments summed per component by one ``reduceat``; only the
    second moments take a product per component.
    """
    k = total.N.shape[0]
    # small integers sort by radix, faster than a merge sort of intp
    small = labels.astype(np.int16) if k <= np.iinfo(np.int16).max else labels
    order = np.argsort(small, kind="stable")
    counts = np.bincount(labels, minlength=k)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    used = np.flatnonzero(counts)
    if used.size == 0:
        return
    # the sorted rows minus their references, repeated by count (a copy, not a gather)
    diff = np.take(z, order, axis=0)
    diff -= np.repeat(total.ref, counts, axis=0)
    r = None if w is None else w[order]
    total.N += counts if w is None else np.bincount(labels, weights=w, minlength=k)
    # consecutive used components' segments: reduceat sums each up to the next one's start
    total.S1[used] += np.add.reduceat(diff if r is None else diff * r[:, None], bounds[used])
    for j in used.tolist():
        rows = slice(bounds[j], bounds[j + 1])
        second = moments.weighted_second(diff[rows], None if r is None else r[rows])
        moments.add_component(total.S2, j, second)


def _add_component(total: SuffStats, moments: MomentKind, j: int, z: Array, r: Array) -> None:
    """Add rows ``z`` with weights ``r`` to component ``j``'s statistics (about its ref)."""
    diff = z - total.ref[j]
    total.N[j] += r.sum()
    total.S1[j] += r @ diff
    moments.add_component(total.S2, j, moments.weighted_second(diff, r))
