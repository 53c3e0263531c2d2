"""The chunked pass over the rows: one loop that serves EM, prediction, scoring and statistics.

:func:`mixture_pass` cuts the rows into chunks, hands them to the worker threads
(:mod:`~gaussmix.engine.threads`), sends each through the fused kernel
(:mod:`~gaussmix.engine.fused`) or the numpy kernels (:mod:`~gaussmix.engine.numpy_kernel`),
and folds the chunks' sums in chunk order (:mod:`~gaussmix.engine.sums`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..stats import SuffStats
from . import fused, numpy_kernel, threads
from .blas import single_threaded_blas
from .chunks import FUSED_CHUNK_ROWS, auto_chunk_size, iter_chunks
from .frame import Frame
from .planning import FLOAT32_STATISTICS_MIN_FEATURES, Kernel, Prepared
from .result import NonFiniteInput, PassResult, WorstRows
from .sums import InOrder, Sums, keep_worst
from .terms import BACKGROUND_LABEL, PassTerms
from .whitened import Probe, probe_verdict, unwhiten, whitened_safe

Array = NDArray[np.float64]


def mixture_pass(
    X: NDArray[np.floating],
    terms: PassTerms,
    frame: Frame,
    *,
    sample_weight: Array | None = None,
    chunk_size: int | None = None,
    stats: bool = True,
    resp: bool = False,
    log_density: bool = False,
    labels: bool = False,
    n_worst: int = 0,
    log_likelihood: bool = True,
    kernel: Kernel = "auto",
    out_dtype: type[np.floating] | np.dtype[np.floating] = np.float64,
    n_threads: int | None = None,
    finite: bool = True,
    float32_statistics: bool | NDArray[np.bool_] = True,
    probe_first_chunk: bool = True,
    row_offset: int = 0,
    hard: bool = False,
    given: GivenResponsibilities | None = None,
) -> PassResult:
    """One pass over ``X`` under the model whose terms are ``terms``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated, finite data in the caller's units (float32 or float64).
    terms : PassTerms
        The model's per-component means, precision factors and constants, in the
        internal frame, and the layout of its statistics.
    frame : Frame
        The internal frame the terms are in.
    sample_weight : ndarray of shape (n_samples,), optional
    chunk_size : int, optional
        Rows per chunk; ``None`` chooses one from the feature count (a few MiB per buffer).
    stats : bool
        Accumulate :class:`~gaussmix.stats.SuffStats` for the M-step.
    resp, log_density, labels : bool
        Return responsibilities (n, k), per-row log-densities (n,), or argmax labels (n,).
        With a background column (``terms.background``) the responsibilities are
        (n, k + 1), the background's last, and its label is ``-1``.
    n_worst : int
        Also return the indices of the ``n_worst`` rows with the lowest density
        (used to re-seed degenerate components).
    log_likelihood : bool
        Compute the log-likelihood (``PassResult.log_likelihood``; NaN otherwise).  A pass
        that wants labels only skips the normalisation entirely.
    kernel : {"auto", "expanded", "direct"}
    out_dtype : dtype
        dtype of the per-row outputs.
    n_threads : int, optional
        Worker threads over chunks (default: the number of cores, at most 8).  Sums are
        merged in chunk order, so results do not depend on it.
    finite : bool
        Whether ``X`` is known to hold finite values only.  With ``False``, a chunk in which
        a row has no finite log-density is checked, and :class:`NonFiniteInput` raised if it
        holds NaN or inf (any such entry leaves its row without a finite log-density).
    float32_statistics : bool or ndarray of shape (n_components,) of bool
        Allow the statistics of float32 input to be summed in float32 lanes where the
        products are, from ``FLOAT32_STATISTICS_MIN_FEATURES`` features
        (``PassResult.float32_statistics``).  They are summed in
        each component's whitened coordinates ``y = (z - m_j) U_j``, where they are close
        to a multiple of the identity, and mapped back in float64.  The pass's first chunk
        decides which components' sums can be (:class:`~gaussmix.engine.whitened.Probe`);
        the others are summed in float64.  If a component's total then fails
        :func:`~gaussmix.engine.whitened.whitened_safe`, the pass is redone with that
        component's statistics in float64.  An array limits the components
        allowed (the probe decides among them).  A pass that had to be redone advises the
        next passes of the run to keep the components whose sums failed in float64
        (``PassResult.next_options``), so that it is redone at most once per component.
    probe_first_chunk : bool
        Let the first chunk decide which of the allowed components' sums are whitened;
        ``False``: all of them are (a pass redone with the components its total vouched
        for).
    row_offset : int
        The index of ``X``'s first row among all rows (a block of a larger set): the worst
        rows are reported by global index, so blocks' worst rows merge
        (:meth:`~gaussmix.engine.result.WorstRows.merged`).
    hard : bool
        Statistics (and ``resp``) under hard responsibilities: one-hot at each row's most
        probable component (with unit covariances and equal constants, its nearest mean:
        initialisation's nearest-centre assignment).
    given : callable, optional
        Statistics (and ``resp``) under given responsibilities instead of the model's:
        ``given(rows)`` returns them for a slice of global row indices (``row_offset``
        included), as an (m, k) array or as (m,) integer labels (one-hot).  With ``hard`` or
        ``given``, ``log_likelihood`` and ``log_density`` hold each row's largest
        log-density, not the mixture's.

    Returns
    -------
    PassResult
    """
    n, d = X.shape
    use_fused = (
        kernel == "auto"
        and fused.in_use()
        and X.dtype in (np.float32, np.float64)
        and X.dtype.isnative
        # a shared precision's pooled statistics cost numpy one d x d product per chunk,
        # the kernel k of them
        and not (stats and terms.moments.shared_precision)
        # the kernel's components are Gaussian
        and terms.dof is None
    )
    prep = Prepared(
        terms, frame, kernel, use_fused, n if X.dtype == np.float32 else 0,
        centred=hard or given is not None,
    )  # fmt: skip
    # float32 products and statistics: the statistics in float32 lanes too (twice the rows
    # a vector), whitened, where float32 sums stay accurate
    k = prep.k
    allowed = np.broadcast_to(np.asarray(float32_statistics, dtype=bool), (k,))
    whitened = (
        stats
        and prep.float32_products
        and d >= FLOAT32_STATISTICS_MIN_FEATURES
        and bool(allowed.any())
    )
    # numpy's chunks are sized by its buffers; the kernel's are larger (FUSED_CHUNK_ROWS)
    numpy_step = chunk_size or auto_chunk_size(d, k, prep.n_cols, n)
    step = numpy_step
    if chunk_size is None and prep.fused:
        step = auto_chunk_size(d, k, prep.n_cols, n, least=FUSED_CHUNK_ROWS)
    probing = whitened and probe_first_chunk
    out = Outputs(
        resp=np.empty((n, prep.n_out), dtype=out_dtype) if resp else None,
        log_density=np.empty(n, dtype=out_dtype) if log_density else None,
        labels=np.empty(n, dtype=np.intp) if labels else None,
    )
    if probing and step > numpy_step:
        # the probe is a chunk of numpy's size (a failing one is redone), the rest larger;
        # the other workers wait for its verdict before they start (see whitened.Probe)
        head = min(numpy_step, n)
        chunks = [slice(0, head)] + [
            slice(head + c.start, head + c.stop) for c in iter_chunks(n - head, step)
        ]
    else:
        chunks = list(iter_chunks(n, step))
    workers = max(
        1, min(n_threads if n_threads is not None else threads.default_threads(), len(chunks))
    )
    rows = max((c.stop - c.start for c in chunks), default=0)
    needs_lse = stats or resp or log_density or bool(n_worst) or log_likelihood
    accs = [
        _Accumulator(prep, rows, stats, n_worst, needs_lse, threads.workspace(t), finite, whitened,
                     numpy_rows=min(numpy_step, rows),
                     assignment=Assignment(hard, given, row_offset) if hard or given else None)
        for t in range(workers)
    ]  # fmt: skip
    order = InOrder(Sums(prep, stats, n_worst, whitened))
    probe = Probe(allowed.copy() if whitened else None, probing)
    # chunks larger than the probe do not start before its verdict: redone, they would
    # cost more than the wait
    wait = probing and len(chunks) > 1 and chunks[1].stop - chunks[1].start > chunks[0].stop

    def chunk(t: int, i: int) -> None:
        acc = accs[t]
        acc.sums.clear()
        acc.whitened = mask = probe.outcome() if wait and i > 0 else probe.hopeful()
        try:
            acc.process(X, chunks[i], sample_weight, out)
        except BaseException:
            if i == 0:  # the probe: workers waiting on it must not wait forever
                probe.abandon()
            raise
        if mask is not None:
            if i == 0 and probe.probing():  # the probe: its sums decide for the pass
                probe.decide(probe_verdict(acc.sums, chunks[i], d))
            final = probe.outcome()
            if final is not mask:  # redone, some or all components in float64
                acc.sums.clear()
                acc.whitened = final
                acc.process(X, chunks[i], sample_weight, out)
        order.fold(i, acc.sums)

    # BLAS runs single-threaded inside the pass: its own threads are slower on these
    # tall-skinny products, and our workers also spread the element-wise work, which BLAS
    # cannot parallelise, over the cores.  A fused pass calls no BLAS but in a chunk the
    # numpy path redoes (rare), so it skips setting the limit, a large share of a
    # prediction's fixed cost.
    with nullcontext() if prep.fused else single_threaded_blas():
        threads.run_parallel(len(chunks), workers, chunk)
    total = order.total
    if whitened and total.w_n.any():
        safe = whitened_safe(total.w_n, total.w_s1, total.w_s2)
        if not safe.all():
            final = probe.outcome()
            assert final is not None
            redone = mixture_pass(
                X, terms, frame, sample_weight=sample_weight, chunk_size=chunk_size,
                stats=stats, resp=resp, log_density=log_density, labels=labels,
                n_worst=n_worst, log_likelihood=log_likelihood, kernel=kernel,
                out_dtype=out_dtype, n_threads=n_threads, finite=finite,
                float32_statistics=final & safe, probe_first_chunk=False,
                row_offset=row_offset, hard=hard, given=given,
            )  # fmt: skip
            # the run learns the components the total failed, not those the probe did:
            # probes are cheap, and a component far off early may pass once EM has moved it
            redone.next_options = {"float32_statistics": allowed & safe}
            return redone
        unwhiten(prep.fused_factors, total.w_s1, total.w_s2)
        total.f_n += total.w_n
        total.f_s1 += total.w_s1
        total.f_s2 += total.w_s2
    result = accs[0].result(n, out, total, row_offset)
    if result.float32_statistics:
        result.whitened_components = probe.outcome()
    if np.ndim(float32_statistics):  # a mask given (or learnt): the run keeps it
        result.next_options = {"float32_statistics": allowed.copy()}
    return result


#: ``given(rows)``: responsibilities (m, k) or integer labels (m,) of a slice of global rows
GivenResponsibilities = Callable[[slice], NDArray[Any]]


@dataclass(frozen=True)
class Assignment:
    """Responsibilities a pass takes instead of the model's: hard (one-hot at each row's
    best component) or given per slice of global rows."""

    hard: bool
    given: GivenResponsibilities | None
    row_offset: int

    def of(self, sl: slice, k: int) -> Array | None:
        """The given responsibilities of a chunk's rows (m, k), C-contiguous float64."""
        if self.given is None:
            return None
        r = np.asarray(self.given(slice(sl.start + self.row_offset, sl.stop + self.row_offset)))
        if r.ndim == 1:  # labels
            out = np.zeros((r.shape[0], k))
            out[np.arange(r.shape[0]), r] = 1.0
            return out
        return np.ascontiguousarray(r, dtype=np.float64)


@dataclass
class Outputs:
    resp: NDArray[np.floating] | None
    log_density: NDArray[np.floating] | None
    labels: NDArray[np.intp] | None


def _rows(
    X: NDArray[np.floating], sl: slice, sample_weight: Array | None, out: Outputs
) -> tuple[NDArray[np.floating], Array | None, NDArray[np.intp] | None]:
    """A chunk's rows, their weights and their slice of the labels (None where absent)."""
    w = None if sample_weight is None else sample_weight[sl]
    return X[sl], w, None if out.labels is None else out.labels[sl]


class _Accumulator:
    """One worker's chunk buffers, and the sums of the chunk it is on.

    Buffers are feature-major: ``phi`` is (n_cols, rows) and the log-densities are
    (k, rows), so every per-row reduction over components runs over contiguous rows.
    """

    def __init__(
        self,
        prep: Prepared,
        rows: int,
        stats: bool,
        n_worst: int,
        needs_lse: bool,
        workspace: threads.Workspace,
        finite: bool = True,
        whitened: bool = False,
        numpy_rows: int | None = None,
        assignment: Assignment | None = None,
    ):
        self.finite = finite
        self.assignment = assignment
        # the given responsibilities of the chunk in process, and its first row
        self.given: Array | None = None
        self.given_start = 0
        # the components whose statistics the current chunk sums whitened (None: none);
        # whitened says whether any chunk may
        self.whitened: NDArray[np.bool_] | None = None
        self.prep = prep
        n_exp = 0 if prep.all_expanded else prep.expanded.size
        # the numpy path's buffers, taken from the workspace when it runs (a fused pass
        # needs them only for a chunk it hands back)
        self.workspace = workspace
        # the numpy path takes a chunk in pieces of at most numpy_rows rows
        self.numpy_rows = numpy_rows or rows
        self.buf_size = (prep.n_cols + prep.n_out + n_exp) * self.numpy_rows
        self.n_exp = n_exp
        self.stats = stats
        # whether the log-sum-exp is needed at all (not for labels alone)
        self.needs_lse = needs_lse
        self.lse = np.empty(rows) if prep.fused and needs_lse else None
        # statistics gathered by the fused kernel: per component, about its mean, in the
        # factors' layout (diagonals (k, d) or matrices (k, d, d))
        self.fused_stats = stats and prep.fused
        # the current chunk's sums
        self.sums = Sums(prep, stats, n_worst, whitened)

    def process(
        self, X: NDArray[np.floating], sl: slice, sample_weight: Array | None, out: Outputs
    ) -> None:
        """A chunk's outputs and sums: by the kernel, or by numpy in pieces of at most
        ``numpy_rows`` rows (its buffers' size) where there is none or it hands it back."""
        given = None if self.assignment is None else self.assignment.of(sl, self.prep.k)
        background = self.prep.background
        # the chunk's background column, once for both paths
        bg = None if background is None else background.log_density(X[sl])
        if self.prep.fused:
            x, w, labels = _rows(X, sl, sample_weight, out)
            m = sl.stop - sl.start
            lse = None if self.lse is None else self.lse[:m]
            resp = None if out.resp is None else out.resp[sl]
            sums = self.sums if self.fused_stats else None
            hard = self.assignment is not None and self.assignment.hard
            if fused.fused_chunk(
                self.prep, x, lse, resp, labels, w, sums, self.whitened, hard, given, bg
            ):
                self._tally(lse, None, sl, w, out)
                return
        self.given, self.given_start = given, sl.start
        for start in range(sl.start, sl.stop, self.numpy_rows):
            piece = slice(start, min(start + self.numpy_rows, sl.stop))
            bgp = None if bg is None else bg[piece.start - sl.start : piece.stop - sl.start]
            self._numpy(X, piece, sample_weight, out, bgp)

    def _numpy(
        self,
        X: NDArray[np.floating],
        sl: slice,
        sample_weight: Array | None,
        out: Outputs,
        bg: Array | None = None,
    ) -> None:
        """A chunk's outputs and sums by numpy (at most ``numpy_rows`` rows); ``bg`` its
        rows' background column."""
        prep = self.prep
        k = prep.k
        x, w, labels = _rows(X, sl, sample_weight, out)
        if prep.direct and x.dtype != np.float64:
            # each direct component forms x - mu_j in float64: one cast serves them all
            x = x.astype(np.float64)
        buf = self.workspace.get(self.buf_size)
        ph, lp, top = numpy_kernel.log_densities(prep, x, buf, self.n_exp)
        far = ~np.isfinite(top)
        hopeless = None
        if far.any() and not self.finite and not np.isfinite(x[far]).all():
            raise NonFiniteInput
        if far.any():  # rows beyond ~1e154 scales: recompute them safely (rare)
            lp[:k, far], lost = numpy_kernel.far_rows(prep, x[far])
            top[far] = lp[:k, far].max(axis=0)
            if prep.expanded.size:
                # their (overflowed) features must not reach the statistics; their
                # responsibilities still count in the weights (the constant row)
                ph[:-1, far] = 0.0
            if lost.any():
                hopeless = np.flatnonzero(far)[lost]
                if bg is not None:  # below the float64 range: the background takes them
                    taken = np.isfinite(bg[hopeless])
                    lp[:k, hopeless[taken]] = -np.inf
                    top[hopeless[taken]] = -np.inf
                    hopeless = hopeless[~taken] if not taken.all() else None
        if bg is not None:
            lp[k] = bg
            np.maximum(top, bg, out=top)
        if labels is not None:
            labels[:] = lp.argmax(axis=0)
            if bg is not None:
                labels[labels == k] = BACKGROUND_LABEL
        if not self.needs_lse:
            self._tally(None, None, sl, w, out)
            return
        # lp now holds the responsibilities (k, m) (unnormalised if no one reads them)
        if self.assignment is None:
            lse = numpy_kernel.normalise(lp, top, divide=self.stats or out.resp is not None)
        else:
            lse = top.copy()
            given = self.given
            if given is not None:  # this piece's rows of the chunk's
                given = given[sl.start - self.given_start : sl.stop - self.given_start]
            numpy_kernel.assign(lp, given)
        if out.resp is not None:
            np.copyto(out.resp[sl].T, lp, casting="same_kind")
        self._tally(lse, hopeless, sl, w, out)
        if self.stats:
            rw = lp[:k] if w is None else lp[:k] * w
            numpy_kernel.add_stats(prep, self.sums, x, rw, ph, far if far.any() else None)

    def _tally(
        self,
        lse: Array | None,
        hopeless: NDArray[np.intp] | None,
        sl: slice,
        w: Array | None,
        out: Outputs,
    ) -> None:
        """Add a chunk's log-sum-exp (None: not computed) to the totals and the outputs."""
        m = sl.stop - sl.start
        if lse is None:
            self.sums.weight += m if w is None else float(w.sum())
            return
        if hopeless is not None:
            lse[hopeless] = -np.inf  # log-density below the float64 range
        if w is None:
            self.sums.loglik += float(lse.sum())
            self.sums.weight += m
        else:
            used = (w > 0) if hopeless is not None else slice(None)
            self.sums.loglik += float(w[used] @ lse[used])
            self.sums.weight += float(w.sum())
        if out.log_density is not None:
            with np.errstate(over="ignore"):  # below float32's range: -inf, as in float64
                out.log_density[sl] = lse
        if self.sums.n_worst:
            self.sums.worst_idx, self.sums.worst_val = keep_worst(
                self.sums.worst_idx, self.sums.worst_val, lse, sl.start, self.sums.n_worst
            )

    def result(self, n: int, out: Outputs, sums: Sums, row_offset: int = 0) -> PassResult:
        """The pass's result from its total ``sums`` (row indices shifted by ``row_offset``)."""
        prep = self.prep
        k, d = prep.k, prep.d
        suff = None
        if self.stats:
            # expanded components: moments about the frame's centre (internal origin);
            # direct components: about their own mean
            ref = np.zeros((k, d))
            ref[prep.direct] = prep.means[prep.direct]
            s2 = prep.moments.assemble(k, d, prep.expanded, sums.s2q, prep.direct, sums.s2d)
            suff = SuffStats(prep.moments, ref, sums.total_n, sums.s1, s2)
            if self.fused_stats:  # about the means: chunks redone by numpy are shifted there
                s2f = prep.moments.from_components(sums.f_s2)
                fused = SuffStats(prep.moments, prep.means, sums.f_n, sums.f_s1, s2f)
                # no row went through numpy (the usual case): nothing to shift and add
                suff = fused + suff if sums.total_n.any() else fused
            suff.log_likelihood, suff.weight, suff.n_rows = sums.loglik, sums.weight, n
            if prep.background is not None:  # every row's responsibilities sum to one
                suff.background = sums.weight - float(suff.N.sum())
        return PassResult(
            stats=suff,
            log_likelihood=sums.loglik if self.needs_lse else float("nan"),
            weight=sums.weight,
            resp=out.resp,
            log_density=out.log_density,
            labels=out.labels,
            worst=WorstRows.of(sums.worst_idx + row_offset, sums.worst_val, sums.n_worst),
            kernel="fused" if prep.fused else prep.kernel,
            float32_products=prep.float32_products,
            float32_statistics=bool(sums.w_n.size and sums.w_n.any()),
        )
