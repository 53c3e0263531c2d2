"""The pass over rows grouped by missingness pattern: marginal densities, expected
complete-data statistics.

The grouped rows (:class:`~gaussmix.incomplete.patterns.GroupedRows`: each pattern's rows
together, their observed values alone) are cut into tasks of :data:`TASK_ROWS` consecutive
rows, whatever their patterns, and each task is one call of the compiled kernel's
``marginal_chunk``: for every pattern it meets, the marginal operators of all components
(the Cholesky factors of the observed blocks, and the lift to the missing coordinates), the
fused kernel over the pattern's rows on its observed coordinates only, and the lift of
their statistics into the task's complete-data sums.  Tasks run on the worker threads, and
their sums are folded in task order: the result does not depend on the number of threads.
Patterns the kernel hands back (a row whose every log-density underflows), and every pattern
where there is no kernel, take the numpy twin (:mod:`~gaussmix.incomplete.marginal` and the
direct form below), which the tests compare with it.  A background column (mclust's noise
component: each row's log-density under it, given per grouped row) joins the components in
both, as in :func:`~gaussmix.engine.mixture_pass`: normalised with them, taking no statistics.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext

import numpy as np
from numpy.typing import NDArray

from ..engine import fused, single_threaded_blas, threads
from ..engine.chunks import FUSED_CHUNK_ROWS
from ..engine.frame import Frame
from ..engine.numpy_kernel import FLOOR
from ..engine.sums import InOrder
from ..engine.terms import BACKGROUND_LABEL
from .marginal import Marginal, marginals
from .patterns import GroupedRows

Array = NDArray[np.float64]

#: grouped rows per task: a pattern spans tasks where it is longer, and a task patterns
#: where they are short, so that the per-call cost is spread however many patterns occur
TASK_ROWS = FUSED_CHUNK_ROWS


class PatternSums:
    """The sums of a pass over grouped rows, or of one task: the expected complete-data
    statistics about the components' means (internal frame; ``s2`` full matrices (k, d, d)
    or diagonals (k, d), as the covariances), log-likelihood and weight."""

    def __init__(self, k: int, d: int, diagonal: bool, stats: bool) -> None:
        self.nk = np.zeros(k)
        self.s1 = np.zeros((k, d) if stats else (k, 0))
        self.s2 = np.zeros(((k, d) if diagonal else (k, d, d)) if stats else (k, 0))
        self.log_likelihood = 0.0
        self.weight = 0.0

    def clear(self) -> None:
        for a in (self.nk, self.s1, self.s2):
            a.fill(0.0)
        self.log_likelihood = self.weight = 0.0

    def copy(self) -> PatternSums:
        new = copy.copy(self)
        new.nk, new.s1, new.s2 = self.nk.copy(), self.s1.copy(), self.s2.copy()
        return new

    def add(self, other: PatternSums) -> None:
        self.nk += other.nk
        self.s1 += other.s1
        self.s2 += other.s2
        self.log_likelihood += other.log_likelihood
        self.weight += other.weight


def pattern_pass(
    rows: GroupedRows,
    means: Array,
    covariances: Array,
    log_weights: Array,
    frame: Frame,
    *,
    sample_weight: Array | None = None,
    stats: bool = True,
    lse: Array | None = None,
    resp: NDArray[np.floating] | None = None,
    labels: NDArray[np.intp] | None = None,
    hard: bool = False,
    given: Array | None = None,
    background: Array | None = None,
    n_threads: int | None = None,
) -> PatternSums:
    """One pass over the grouped rows.

    Parameters
    ----------
    rows : GroupedRows
    means : ndarray of shape (k, d)
        Component means in the internal frame.
    covariances : ndarray of shape (k, d, d) or (k, d)
        Component covariances (or variances) in the internal frame.
    log_weights : ndarray of shape (k,)
        What each component adds to every row's log-density (its log-weight, and the
        strategy's constant); the marginal normalisation and the frame's Jacobian over the
        observed coordinates are added here.
    frame : Frame
    sample_weight : ndarray of shape (n_rows,), optional
        Per grouped row.
    stats : bool
        Sum the expected complete-data statistics.
    lse, resp, labels : ndarray, optional
        Per grouped row, of shape (n_rows,), (n_rows, k) and (n_rows,), filled in place:
        each row's log-density (its largest log-density under ``hard`` or ``given``),
        responsibilities and most probable component.
    hard, given
        Responsibilities instead of the posterior's: one-hot at each row's most probable
        component, or given (n_rows, k), as in :func:`~gaussmix.engine.mixture_pass`.
    background : ndarray of shape (n_rows,), optional
        Each grouped row's log-density under a background column after the components (in
        the caller's units, its weight included): ``resp`` is then (n_rows, k + 1), its label
        ``-1``; it takes no statistics.  Not with ``hard`` or ``given``.
    n_threads : int, optional

    Returns
    -------
    PatternSums
    """
    n = rows.n_rows
    k, d = means.shape
    if background is not None and (hard or given is not None):
        raise ValueError("A pass under hard or given responsibilities takes no background column.")
    bg_all = None if background is None else np.ascontiguousarray(background, dtype=np.float64)
    diagonal = covariances.ndim == 2
    lse_out = np.empty(n) if lse is None else lse
    inv_scale = 1.0 / frame.scale  # exact: the scales are powers of two
    means_units = np.ascontiguousarray((frame.centre + frame.scale * means) * inv_scale)
    covariances = np.ascontiguousarray(covariances, dtype=np.float64)
    log_weights = np.ascontiguousarray(log_weights, dtype=np.float64)
    given_all = None if given is None else np.ascontiguousarray(given, dtype=np.float64)
    log_scale = np.log(frame.scale)
    starts = list(range(0, n, TASK_ROWS))
    compiled = fused.in_use()
    workers = max(1, min(n_threads or threads.default_threads(), len(starts)))
    accs = [PatternSums(k, d, diagonal, stats) for _ in range(workers)]
    order = InOrder(PatternSums(k, d, diagonal, stats))

    def task(t: int, i: int) -> None:
        acc = accs[t]
        acc.clear()
        a, b = starts[i], min(starts[i] + TASK_ROWS, n)
        if compiled:
            handed = fused.marginal_chunk(
                rows.values, rows.offsets, rows.bounds, rows.observed, a, b, inv_scale,
                means_units, covariances, log_weights, log_scale, lse_out, resp, labels,
                sample_weight=sample_weight, sums=(acc.nk, acc.s1, acc.s2) if stats else None,
                hard=hard, given=given_all, background=bg_all,
            )  # fmt: skip
        else:
            handed = list(range(rows.pattern_of(a), rows.pattern_of(b - 1) + 1))
        if handed:
            ops = marginals(covariances, rows.observed[handed])
            for p, op in zip(handed, ops, strict=True):
                lo, hi = max(a, int(rows.bounds[p])), min(b, int(rows.bounds[p + 1]))
                _numpy(
                    rows.rows(p, lo, hi), slice(lo, hi), frame, means, op,
                    op.base(log_weights, frame.scale), lse_out, resp, labels,
                    None if sample_weight is None else sample_weight[lo:hi],
                    None if given_all is None else given_all[lo:hi], hard,
                    acc if stats else None, None if bg_all is None else bg_all[lo:hi],
                )  # fmt: skip
        w = np.ones(b - a) if sample_weight is None else sample_weight[a:b]
        used = w > 0
        acc.log_likelihood += float(w[used] @ lse_out[a:b][used])
        acc.weight += float(w.sum())
        order.fold(i, acc)

    with nullcontext() if compiled else single_threaded_blas():
        threads.run_parallel(len(starts), workers, task)
    return order.total


def _numpy(
    x: NDArray[np.floating],
    rows: slice,
    frame: Frame,
    means: Array,
    op: Marginal,
    base: Array,
    lse: Array,
    resp: NDArray[np.floating] | None,
    labels: NDArray[np.intp] | None,
    w: Array | None,
    given: Array | None,
    hard: bool,
    acc: PatternSums | None,
    bg: Array | None = None,
) -> None:
    """Rows of one pattern (their observed values ``x``) by numpy in the direct form, their
    rows scaled first so that nothing overflows (the reference the kernel agrees with);
    their lifted statistics added to ``acc``; ``bg`` their background column, if any."""
    o = op.obs
    z = (x - frame.centre[o]) / frame.scale[o]
    k = means.shape[0]
    diffs = z[None] - means[:, o][:, None]  # (k, m, d_o)
    reach = np.maximum(np.abs(diffs).max(axis=(0, 2)), np.finfo(np.float64).tiny)
    if op.factors.ndim == 3:
        y = np.matmul(diffs / reach[:, None], op.factors)
    else:
        y = diffs / reach[:, None] * op.factors[:, None, :]
    quad = np.einsum("kmd,kmd->km", y, y)
    with np.errstate(over="ignore"):
        logp = base[:, None] - 0.5 * quad * reach**2
    top = logp.max(axis=0)
    lost = ~np.isfinite(top)  # log-densities below the float64 range, as in far_rows
    if bg is not None:
        taken = lost & np.isfinite(bg)  # the background takes them: the components get none
        logp[:, taken] = -np.inf
        diffs[:, taken] = 0.0
        lost &= ~taken
        logp = np.vstack([logp, bg[None]])  # after the components: ties go to them
        top = np.where(taken, bg, np.maximum(top, bg))
    if lost.any():
        nearest = quad[:, lost].argmin(axis=0)
        logp[:, lost] = np.where(np.arange(logp.shape[0])[:, None] == nearest, 0.0, -np.inf)
        top[lost] = 0.0
        diffs[:, lost] = 0.0  # they add no statistics (their squares overflow)
    if labels is not None:
        best = logp.argmax(axis=0)
        labels[rows] = np.where(best == k, BACKGROUND_LABEL, best)
    if hard or given is not None:
        lse[rows] = top
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
        lse[rows] = top + np.log(total)
    lse[rows][lost] = -np.inf
    if resp is not None:
        np.copyto(resp[rows], r.T, casting="same_kind")
    if acc is None:
        return
    rw = r[:k] if w is None else r[:k] * w
    rw[:, lost] = 0.0
    nk = rw.sum(axis=1)
    s1 = np.einsum("km,kmd->kd", rw, diffs)
    if acc.s2.ndim == 3:
        s2 = np.einsum("km,kma,kmb->kab", rw, diffs, diffs)
    else:
        s2 = np.einsum("km,kmd->kd", rw, diffs * diffs)
    acc.nk += nk
    op.lift(nk, s1, s2, acc.s1, acc.s2)


__all__ = ["TASK_ROWS", "PatternSums", "pattern_pass"]
