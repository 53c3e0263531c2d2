"""The numpy kernels of the pass: log-densities by the expanded features' GEMM or the direct
(centred) form per component, their normalisation, and the statistics' GEMM.

See :mod:`gaussmix.engine` for when each form is used.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .fused import centred_columns
from .planning import Prepared
from .sums import Sums

Array = NDArray[np.float64]


def centred(prep: Prepared, x: NDArray[np.floating], j: int) -> Array:
    """``z - m_j`` of a chunk, formed as ``(x - mu_j) / scale`` in the caller's units (the
    division by each feature's power of two is exact)."""
    diff = np.subtract(x, prep.means_user[j], dtype=np.float64)
    diff /= prep.scale
    return diff


def far_rows(prep: Prepared, x: NDArray[np.floating]) -> tuple[Array, NDArray[np.bool_]]:
    """Log-densities (k, r) of rows so far from every component that the fast path overflowed.

    Differences are scaled per row before the quadratic form (once in the caller's units,
    once more in the internal frame's), so the form itself cannot overflow; the log-density
    is then ``-inf`` only where it lies below the float64 range.
    Those rows are returned as ``hopeless``; their log-densities hold 0 for the component
    that is least far (in Mahalanobis terms) and ``-inf`` elsewhere, so that they normalise
    to a one-hot assignment.
    """
    k = prep.k
    diffs = [np.subtract(x, prep.means_user[j], dtype=np.float64) for j in range(k)]
    f0 = np.max([np.abs(dj).max(axis=1) for dj in diffs], axis=0)
    f0[f0 == 0] = 1.0
    # at most 1 in the caller's units, then in the internal frame's: at most 1 / scale
    units = [dj / f0[:, None] / prep.scale for dj in diffs]
    f1 = np.max([np.abs(u).max(axis=1) for u in units], axis=0)
    f1[f1 == 0] = 1.0
    quad = np.stack(
        [prep.moments.mahalanobis(u / f1[:, None], prep.factors[j]) for j, u in enumerate(units)]
    )
    with np.errstate(over="ignore"):
        reach = (f0 * f1) ** 2
        logp = prep.exponent_base[:, None] - 0.5 * quad * reach
    student_t(prep, logp)
    hopeless = ~np.isfinite(logp.max(axis=0))
    if hopeless.any():
        nearest = quad[:, hopeless].argmin(axis=0)
        logp[:, hopeless] = np.where(np.arange(k)[:, None] == nearest, 0.0, -np.inf)
    return logp, hopeless


#: rows are transposed into the feature-major buffer this many at a time: a block's rows
#: stay in cache while they are read column by column, which beats one transposing
#: subtract over the chunk and a GEMM with the identity (see benchmarks/README.md, Design
#: measurements)
TRANSPOSE_BLOCK = 4096

#: floor of log-responsibilities relative to the row's best component (see normalise)
FLOOR = -700.0


def normalise(logp: Array, top: Array, divide: bool = True) -> Array:
    """Turn log-densities (k, m) into responsibilities in place; return the log-sum-exp (m,).

    With ``divide=False`` the rows are left unnormalised (when only the log-sum-exp is used).

    ``top`` is the per-row maximum of ``logp``.  Relative log-responsibilities are floored
    at -700, so that no responsibility falls below ``exp(-700)`` (~1e-304) into the subnormal
    range, where every later product with it (the statistics GEMM's) is much slower.  The
    floor changes no sum by more than 1e-300 relative.
    """
    logp -= top
    np.maximum(logp, FLOOR, out=logp)
    np.exp(logp, out=logp)
    total = logp.sum(axis=0)
    if divide:  # a product with the reciprocal: one division per row, not k
        logp *= 1.0 / total
    return np.asarray(top + np.log(total))


def log_densities(
    prep: Prepared, x: NDArray[np.floating], buf: Array, n_exp: int
) -> tuple[Array, Array, Array]:
    """A chunk's features ``ph`` (n_cols, m), log-densities ``lp`` (n_out, m) and the
    per-row maximum of the components', in views of ``buf``; rows that overflowed have a
    non-finite maximum.  A background's row of ``lp`` (the last) is left to the caller.

    ``n_exp`` is the number of expanded components when some are direct (their GEMM's
    output is then gathered into ``lp``), 0 otherwise.
    """
    m = x.shape[0]
    # contiguous (features, m) views of the buffer for this chunk: BLAS gets unit strides
    n_cols, k, n_out = prep.n_cols, prep.k, prep.n_out
    ph = buf[: n_cols * m].reshape(n_cols, m)
    out = buf[n_cols * m : (n_cols + n_out) * m].reshape(n_out, m)
    lp = out[:k]
    with np.errstate(over="ignore", invalid="ignore"):
        if prep.expanded.size:
            features(prep, x, ph)
            # np.dot, not np.matmul: matmul keeps the GIL on some of these shapes
            if prep.all_expanded:
                np.dot(prep.WT, ph, out=lp)
            else:
                le = buf[(n_cols + n_out) * m : (n_cols + n_out + n_exp) * m].reshape(n_exp, m)
                np.dot(prep.WT, ph, out=le)
                lp[prep.expanded] = le
        for j in prep.direct:
            diff = centred(prep, x, j)
            lp[j] = prep.exponent_base[j] - 0.5 * prep.moments.mahalanobis(diff, prep.factors[j])
        student_t(prep, lp)
        top = lp.max(axis=0)
    return ph, out, top


def student_t(prep: Prepared, lp: Array) -> None:
    """Turn Gaussian exponents ``-q/2`` (k, m) into the log-densities of Student-t
    components, in place (nothing for Gaussian ones, ``prep.dof`` None)."""
    dof = prep.dof
    if dof is None:
        return
    lp *= (-2.0 / dof)[:, None]
    np.log1p(lp, out=lp)
    lp *= (-0.5 * (dof + prep.d))[:, None]
    lp += prep.base[:, None]


def features(prep: Prepared, x: NDArray[np.floating], ph: Array) -> None:
    """The expanded features ``[z, q(z), 1]`` of a chunk's rows into ``ph`` (n_cols, m)."""
    d, m = prep.d, x.shape[0]
    # the extension's transposing copy: numpy's, with float32 rows' cast, costs about 3x
    if not centred_columns(prep, x, ph[:d]):
        for b in range(0, m, TRANSPOSE_BLOCK):
            block = ph[:d, b : b + TRANSPOSE_BLOCK]
            rows = x[b : b + TRANSPOSE_BLOCK].T
            np.subtract(rows, prep.centre_col, out=block, casting="unsafe")
            block *= prep.inv_scale_col
    prep.moments.fill_quad(ph, d, prep.factors)
    ph[-1] = 1.0


def add_stats(
    prep: Prepared,
    sums: Sums,
    x: NDArray[np.floating],
    rw: Array,
    ph: Array,
    far: NDArray[np.bool_] | None,
) -> None:
    """Add a chunk's statistics to ``sums``, given its weighted responsibilities ``rw``
    (k, m) and, for the expanded components, its features ``ph``; ``far`` rows have none."""
    d = prep.d
    if prep.expanded.size:
        rwe = rw if prep.all_expanded else rw[prep.expanded]
        acc = np.dot(ph, rwe.T)
        sums.total_n[prep.expanded] += acc[-1]
        sums.s1[prep.expanded] += acc[:d].T
        sums.s2q += prep.moments.expanded_second(ph[:-1], rwe, acc[:-1], d)
    if prep.direct:
        if far is not None:
            x, rw = x[~far], rw[:, ~far]
        for i, j in enumerate(prep.direct):
            diff = centred(prep, x, j)
            sums.total_n[j] += rw[j].sum()
            sums.s1[j] += rw[j] @ diff
            prep.moments.add_component(sums.s2d, i, prep.moments.weighted_second(diff, rw[j]))


def assign(lp: Array, given: Array | None) -> None:
    """Replace a chunk's log-densities (k, m) by responsibilities not the model's, in place:
    ``given`` (m, k), or one-hot at each row's best component (ties to the first)."""
    if given is not None:
        lp[:] = given.T
        return
    best = lp.argmax(axis=0)
    lp.fill(0.0)
    lp[best, np.arange(lp.shape[1])] = 1.0
