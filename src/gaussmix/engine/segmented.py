"""A pass over rows in segments, each segment with its own precision factors and constants.

Rows that share a missingness pattern share their components' marginal densities: the
factors of each component's observed block (padded with zeros where values are missing,
so that the placeholders there count for nothing) and its marginal constant.
:func:`segmented_pass` runs the rows of every segment through the fused kernel with their
segment's factors (the numpy direct form where there is no kernel, or where it hands a
chunk back), one segment per task on the worker threads, and sums each segment's
statistics apart, about the components' means; the caller lifts them to the missing
coordinates (:mod:`gaussmix.incomplete`).

A pass of :func:`~gaussmix.engine.passes.mixture_pass` plans once for all its rows; here
many segments of a few hundred rows each are common (a pattern per segment), so each
segment costs one kernel call and no planning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import fused, threads
from .chunks import FUSED_CHUNK_ROWS
from .frame import Frame
from .numpy_kernel import FLOOR

Array = NDArray[np.float64]


@dataclass
class SegmentSums:
    """What :func:`segmented_pass` sums, per segment (s) and component (j).

    ``s1`` and ``s2`` are about the components' means, in the internal frame; ``s2`` holds
    full matrices (S, k, d, d) or diagonals (S, k, d) as the factors do.
    """

    nk: Array
    s1: Array
    s2: Array
    log_likelihood: Array
    weight: Array


def segmented_pass(
    X: NDArray[np.floating],
    bounds: NDArray[np.intp],
    means: Array,
    factors: Array,
    base: Array,
    frame: Frame,
    *,
    sample_weight: Array | None = None,
    stats: bool = True,
    lse: Array | None = None,
    resp: NDArray[np.floating] | None = None,
    labels: NDArray[np.intp] | None = None,
    hard: bool = False,
    given: Array | None = None,
    n_threads: int | None = None,
) -> SegmentSums:
    """One pass over ``X``'s segments ``X[bounds[s]:bounds[s + 1]]``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Finite rows, float32 or float64, in the caller's units.
    bounds : ndarray of shape (S + 1,)
        Segment boundaries (increasing, from 0 to n).
    means : ndarray of shape (k, d)
        Component means in the internal frame (shared by every segment).
    factors : ndarray of shape (S, k, d, d) or (S, k, d)
        Each segment's upper-triangular precision factors (or diagonals), internal frame.
    base : ndarray of shape (S, k)
        Each segment's log-density constants, the frame's Jacobian included:
        ``log p_j(x) = base[s, j] - |(z - means_j) U[s, j]|² / 2``.
    frame : Frame
    sample_weight : ndarray of shape (n,), optional
    stats : bool
        Sum each segment's statistics.
    lse, resp, labels : ndarray, optional
        Outputs of shape (n,), (n, k) and (n,), filled in place: each row's log-density
        (its largest log-density under ``hard`` or ``given``), responsibilities and most
        probable component.
    hard, given
        Responsibilities instead of the posterior's: one-hot at each row's most probable
        component, or given (n, k), as in :func:`~gaussmix.engine.passes.mixture_pass`.
    n_threads : int, optional

    Returns
    -------
    SegmentSums
    """
    n, d = X.shape
    S = bounds.shape[0] - 1
    k = means.shape[0]
    tri = factors.ndim == 4
    second = (S, k, d, d) if tri else (S, k, d)
    sums = SegmentSums(
        np.zeros((S, k)),
        np.zeros((S, k, d)),
        np.zeros(second if stats else (S, 0)),
        np.zeros(S),
        np.zeros(S),
    )
    lse_out = np.empty(n) if lse is None else lse
    inv_scale = 1.0 / frame.scale  # exact: the scales are powers of two
    means_units = np.ascontiguousarray((frame.centre + frame.scale * means) * inv_scale)
    factors = np.ascontiguousarray(factors)
    base = np.ascontiguousarray(base, dtype=np.float64)
    given_all = None if given is None else np.ascontiguousarray(given, dtype=np.float64)
    # the largest segments first, so that no worker is left with one at the end
    order = np.argsort(-np.diff(bounds), kind="stable")

    def task(t: int, i: int) -> None:
        s = int(order[i])
        a, b = int(bounds[s]), int(bounds[s + 1])
        for start in range(a, b, FUSED_CHUNK_ROWS):
            sl = slice(start, min(start + FUSED_CHUNK_ROWS, b))
            w = None if sample_weight is None else sample_weight[sl]
            g = None if given_all is None else given_all[sl]
            out = (lse_out[sl], None if resp is None else resp[sl],
                   None if labels is None else labels[sl])  # fmt: skip
            if not (
                fused.in_use()
                and _fused(
                    X[sl], frame, means_units, factors[s], base[s], out, w, g, hard, sums, s, stats
                )
            ):
                _numpy(X[sl], frame, means, factors[s], base[s], out, w, g, hard, sums, s, stats)
            weights = np.ones(sl.stop - sl.start) if w is None else w
            used = weights > 0
            sums.log_likelihood[s] += float(weights[used] @ lse_out[sl][used])
            sums.weight[s] += float(weights.sum())

    workers = max(1, min(n_threads or threads.default_threads(), S))
    threads.run_parallel(S, workers, task)
    return sums


Outputs = tuple[Array, "NDArray[np.floating] | None", "NDArray[np.intp] | None"]


def _fused(
    x: NDArray[np.floating],
    frame: Frame,
    means_units: Array,
    factors: Array,
    base: Array,
    out: Outputs,
    w: Array | None,
    given: Array | None,
    hard: bool,
    sums: SegmentSums,
    s: int,
    stats: bool,
) -> bool:
    """A chunk through the fused kernel; False (nothing added) if numpy must redo it."""
    lse, resp, labels = out
    extra: dict[str, Array] = {}
    if stats:
        extra = {"nk": sums.nk[s], "s1": sums.s1[s], "s2": sums.s2[s]}
        if w is not None:
            extra["sample_weight"] = np.ascontiguousarray(w, dtype=np.float64)
    # the kernel adds to the sums: a chunk it hands back must leave them as they were
    saved = None if not stats else (sums.nk[s].copy(), sums.s1[s].copy(), sums.s2[s].copy())
    clean = fused.raw_chunk(
        x, 1.0 / frame.scale, means_units, factors, base, lse, resp, labels,
        hard=hard, given=given, **extra,
    )  # fmt: skip
    if not clean and saved is not None:
        sums.nk[s], sums.s1[s], sums.s2[s] = saved
    return clean


def _numpy(
    x: NDArray[np.floating],
    frame: Frame,
    means: Array,
    factors: Array,
    base: Array,
    out: Outputs,
    w: Array | None,
    given: Array | None,
    hard: bool,
    sums: SegmentSums,
    s: int,
    stats: bool,
) -> None:
    """A chunk by numpy in the direct form, its rows scaled first so that nothing
    overflows (the reference the kernel agrees with)."""
    lse, resp, labels = out
    z = frame.to_internal(x)
    k = means.shape[0]
    diffs = z[None] - means[:, None]  # (k, m, d)
    reach = np.maximum(np.abs(diffs).max(axis=(0, 2)), np.finfo(np.float64).tiny)
    if factors.ndim == 3:
        y = np.matmul(diffs / reach[:, None], factors)
    else:
        y = diffs / reach[:, None] * factors[:, None, :]
    with np.errstate(over="ignore"):
        logp = base[:, None] - 0.5 * np.einsum("kmd,kmd->km", y, y) * reach**2
    top = logp.max(axis=0)
    if labels is not None:
        labels[:] = logp.argmax(axis=0)
    if hard or given is not None:
        lse[:] = top
        if given is not None:
            r = given.T.copy()
        else:
            r = np.zeros((k, x.shape[0]))
            r[logp.argmax(axis=0), np.arange(x.shape[0])] = 1.0
    else:
        rel = np.maximum(logp - top, FLOOR)
        r = np.exp(rel)
        total = r.sum(axis=0)
        r /= total
        lse[:] = top + np.log(total)
    if resp is not None:
        np.copyto(resp, r.T, casting="same_kind")
    if not stats:
        return
    rw = r if w is None else r * w
    sums.nk[s] += rw.sum(axis=1)
    sums.s1[s] += np.einsum("km,kmd->kd", rw, diffs)
    if sums.s2.ndim == 4:
        sums.s2[s] += np.einsum("km,kma,kmb->kab", rw, diffs, diffs)
    else:
        sums.s2[s] += np.einsum("km,kmd->kd", rw, diffs * diffs)


__all__ = ["SegmentSums", "segmented_pass"]
