"""The chunked pass over the data: one loop that serves EM, prediction, scoring and statistics.

``mixture_pass(X, params, ...)`` walks ``X`` in chunks of ``chunk_size`` rows and, for the
parameters it is given, returns the log-likelihood, the sufficient statistics for the next
M-step (:class:`~gaussmix.stats.SuffStats`) and, only when asked, per-row outputs
(responsibilities, log-densities, labels).  Its memory is bounded by the chunk size: no
``n x k x d`` array ever exists, and ``n x k`` only when responsibilities are requested.

Numerics
--------
Rows are mapped to an internal frame ``z = (x - centre) / scale`` (:class:`Frame`) with a
scalar scale, so that data scaled by 1e-150 or 1e150 neither under- nor overflows, and all
arithmetic is float64 whatever the input dtype.

Two interchangeable kernels compute the same quantities:

``"expanded"``
    Every component's log-density is linear in the features ``phi(z) = [z, q(z)]``
    (``q`` = packed upper triangle of ``z zᵀ``, or ``z²``), so the E-step for all components is
    a single GEMM ``phi @ W`` and the M-step statistics are a single GEMM ``phiᵀ @ R``.  The
    expansion cancels terms of size ``mᵀ P m`` (the squared Mahalanobis distance of the frame's
    centre from a component), which costs about ``eps * mᵀ P m`` of accuracy.
``"direct"``
    Per component, the centred differences ``z - m_j`` are formed first: exact for components
    far from the centre with tiny variances, and the plain reference implementation.

``kernel="auto"`` chooses per component: the expansion (one GEMM for all of them) for every
component whose ``mᵀ P m`` stays within :data:`EXPANDED_RISK_LIMIT` — which bounds the
expansion's relative error of log-densities and covariances near ``eps * 1e6 ~ 2e-10`` — and
the direct form for the others (``PassResult.kernel`` is then ``"mixed"``).

The fused kernel
----------------
The log-densities need neither features nor GEMMs: each is ``|(z - m_j) U_j|²``,
``d(d+1)/2`` multiply-adds of the centred differences with a triangular factor (``d`` with a
diagonal one).  With ``kernel="auto"`` they run in the C extension ``gaussmix._kernels``
where it was built (``PassResult.kernel`` is then ``"fused"``): per block of a few rows it
forms all log-densities in registers, in the direct form, and normalises them while they
are in cache, with the GIL released.  In a pass with statistics it also gathers them, about
each component's mean (as the direct form does), while the block is in cache.  Float32
input with well-conditioned triangular factors (:data:`FLOAT32_PRODUCTS_COND`) has its
products formed in float32 lanes (``PassResult.float32_products``), and its statistics
summed in float32 lanes in each component's whitened coordinates, where they are
well-conditioned, then mapped back in float64 (``PassResult.float32_statistics``; a pass
whose sums a rounding bound cannot vouch for is redone in float64).  The
extension is optional; :func:`compiled_kernels` says whether it is in use, and
:func:`numpy_kernels` switches it off for a block of code.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ._moments import MomentKind
from .covariance import CovarianceFamily
from .stats import SuffStats

try:  # the optional C extension (setup.py); without it the same passes run in numpy
    from . import _kernels as _compiled
except ImportError:  # pragma: no cover - depends on the build
    _compiled = None  # type: ignore[assignment]

Array = NDArray[np.float64]
Kernel = Literal["auto", "expanded", "direct"]

LOG_2PI = float(np.log(2.0 * np.pi))

#: largest ``mᵀ P m`` for which the expanded kernel is used by ``kernel="auto"``
EXPANDED_RISK_LIMIT = 1e6

#: largest 2-norm condition number of every component's precision factor ``U_j`` (the square
#: root of its covariance's) for which the fused kernel forms the products ``(x - mu_j) U_j``
#: of float32 input in float32 lanes.  Their rounding grows with ``eps32 * cond(U_j)``:
#: measured on the benchmark's anisotropic data at d = 32 (cond(U_j) up to 3,600), the
#: log-likelihood moved by 9e-10 relative and single rows' log-densities by 8e-6 at most
#: (the issue's bound for float32 input: 1e-5 on the log-likelihood); the statistics stay
#: float64.  Beyond it (near-singular covariances) the products stay float64.
FLOAT32_PRODUCTS_COND = 1e4

#: float32 products are considered from this many rows per feature (their condition
#: numbers cost about ``k d³``, a pass ``n k d²``)
FLOAT32_PRODUCTS_MIN_ROWS = 256

#: unit roundoff of float32
_U32 = 2.0**-24

#: the most float32 roundings in one of the whitened statistics' sums: each lane of a tile
#: sums at most ``256 / 8`` products over a flush (the kernel gathers at most 256 rows and
#: has at least 8 float32 lanes), then ``log2(lanes) <= 4`` folds join the lanes; with the
#: roundings of ``sqrt(r)``, of its products with ``y`` and of theirs, 45 bounds them all
_WHITENED_ROUNDINGS = 45

#: rows beyond which :meth:`Frame.from_data` works on an evenly strided sample
FRAME_SAMPLE = 8_192

_USE_COMPILED = [_compiled is not None]


def compiled_kernels() -> str | None:
    """The instruction set of the compiled kernels in use (e.g. ``"avx2"``), or ``None``.

    ``None`` where ``gaussmix._kernels`` was not built, or within :func:`numpy_kernels`.
    """
    return _compiled.target() if _compiled is not None and _USE_COMPILED[0] else None


@contextmanager
def numpy_kernels() -> Iterator[None]:
    """Run the passes started within this block on numpy only (for tests and benchmarks
    that compare the two paths; not meant for concurrent use)."""
    saved = _USE_COMPILED[0]
    _USE_COMPILED[0] = False
    try:
        yield
    finally:
        _USE_COMPILED[0] = saved


#: target size in bytes of the largest per-chunk buffer when ``chunk_size`` is ``None``;
#: large enough that per-chunk Python overhead is negligible and worker threads scale,
#: small enough that the buffers stay a fraction of a large input
_CHUNK_BYTES = 8 * 2**20

#: rows per chunk at least, when ``chunk_size`` is ``None``, for a pass the compiled kernel
#: does (its buffers do not grow with the rows; a chunk it hands back to numpy is redone in
#: pieces of numpy's size): each call costs about 0.1 ms besides its rows (measured at
#: n=100 000, d=32, k=16, float32 EM on two threads: 1786-row chunks 57.2 and 49.3 ms a
#: pass, 7144-row ones 53.2 and 46.1 ms)
FUSED_CHUNK_ROWS = 8192


@dataclass(frozen=True)
class Frame:
    """The internal coordinate frame ``z = (x - centre) / scale``.

    ``scale`` is a power of two, so scaling adds no rounding error.
    """

    centre: Array
    scale: float

    @property
    def n_features(self) -> int:
        return int(self.centre.shape[0])

    def to_internal(self, x: NDArray[np.floating], out: Array | None = None) -> Array:
        """Map rows to the internal frame, in float64 (into ``out`` if given)."""
        if out is None:
            out = np.empty(x.shape, dtype=np.float64)
        np.subtract(x, self.centre, out=out, casting="unsafe")
        inverse = 1.0 / self.scale
        if inverse * self.scale == 1.0:  # a power of two whose inverse is exact: same result
            out *= inverse
        else:
            out /= self.scale
        return out

    def to_user(self, params: Params) -> tuple[Array, Array, Array, Array]:
        """``(weights, means, covariances, precisions_cholesky)`` in the caller's units."""
        s = self.scale
        with np.errstate(over="ignore", under="ignore"):
            return (
                params.weights.copy(),
                self.centre + s * params.means,
                params.covariances * s * s,
                params.precisions_cholesky / s,
            )

    @classmethod
    def from_data(
        cls,
        X: NDArray[np.floating],
        sample_weight: Array | None = None,
        chunk_size: int | None = None,
        min_scale: float = 0.0,
    ) -> Frame:
        """Weighted mean as centre, root-mean-square deviation as scale.

        ``min_scale`` bounds the scale from below; with ``sqrt(reg_covar)`` it keeps the
        regularisation representable in the internal frame when the data's spread is tiny.

        Beyond ``2 * FRAME_SAMPLE`` rows both are taken from every ``n // FRAME_SAMPLE``-th
        row: the frame needs a centre near the data and a scale within a small factor of the
        spread, not exact moments, and the sample is what makes the frame 5-10x cheaper than
        two passes over all rows (it was a fifth of the seeding at n=200 000).  Rows the
        sample misses stay exact: nothing in the engine assumes the centre is the mean.
        """
        n = X.shape[0]
        if n > 2 * FRAME_SAMPLE:
            step = n // FRAME_SAMPLE
            ws = None if sample_weight is None else sample_weight[::step]
            if ws is None or ws.sum() > 0:
                sample = X[::step]
                if sample.shape[0] * sample.shape[1] * 8 <= _CHUNK_BYTES:
                    # gathered once, then read twice at unit stride (measured at 200 000 x
                    # 10: the frame 3-4 ms from the strided rows, about 1 ms this way)
                    sample = np.ascontiguousarray(sample, dtype=np.float64)
                return cls._from_rows(sample, ws, chunk_size, min_scale)
        return cls._from_rows(X, sample_weight, chunk_size, min_scale)

    @classmethod
    def _from_rows(
        cls,
        X: NDArray[np.floating],
        sample_weight: Array | None,
        chunk_size: int | None,
        min_scale: float,
    ) -> Frame:
        n, d = X.shape
        step = chunk_size or auto_chunk_size(d, d, 1, n)
        amax = 0.0
        unit = 1.0
        for attempt in range(2):
            # values near the float64 limit overflow the sums: then they are summed again in
            # units of 2**64 (exact scaling)
            sums = np.zeros(d)
            total_w = 0.0
            with np.errstate(over="ignore", invalid="ignore"):
                for sl in iter_chunks(n, step):
                    xc = np.asarray(X[sl], dtype=np.float64)
                    if unit != 1.0:
                        xc = xc / unit
                    w = None if sample_weight is None else sample_weight[sl]
                    if w is None:
                        total_w += xc.shape[0]
                        w = np.ones(xc.shape[0])  # a product: 4x faster than sum(axis=0)
                    else:
                        total_w += float(w.sum())
                    sums += w @ xc
                    if attempt == 0:
                        amax = max(amax, float(xc.max()), -float(xc.min()))
            if np.all(np.isfinite(sums)):
                break
            unit = 2.0**64
        centre = sums / total_w * unit if total_w > 0 else np.zeros(d)
        if not np.all(np.isfinite(centre)):
            centre = np.zeros(d)
        spread = 0.0
        if amax > 0:
            for sl in iter_chunks(n, step):
                zc = np.asarray(X[sl], dtype=np.float64) - centre
                zc /= amax
                if sample_weight is None:
                    spread += float(np.vdot(zc, zc))
                else:
                    spread += float(sample_weight[sl] @ np.einsum("ij,ij->i", zc, zc))
        scale = amax * float(np.sqrt(spread / (total_w * d))) if total_w > 0 else 0.0
        return cls(centre, _power_of_two(max(scale, min_scale)))

    @classmethod
    def from_means(cls, weights: Array, means: Array, mean_variance: float) -> Frame:
        """A frame for a given model: weighted centre of the means and its average spread."""
        w = np.asarray(weights, dtype=np.float64)
        mu = np.asarray(means, dtype=np.float64)
        centre = (w / w.sum()) @ mu
        spread = float(w @ np.mean((mu - centre) ** 2, axis=1)) / w.sum()
        return cls(centre, _power_of_two(float(np.sqrt(spread + mean_variance))))


def _power_of_two(scale: float) -> float:
    """The power of two nearest ``scale`` (1.0 if unusable): dividing by it is exact."""
    if not (np.isfinite(scale) and scale > 0):
        return 1.0
    return float(np.ldexp(1.0, int(np.round(np.log2(scale)))))


@dataclass
class Params:
    """Mixture parameters in the internal frame (float64)."""

    weights: Array
    means: Array
    covariances: Array
    precisions_cholesky: Array

    @property
    def n_components(self) -> int:
        return int(self.weights.shape[0])

    def copy(self) -> Params:
        return Params(
            self.weights.copy(),
            self.means.copy(),
            self.covariances.copy(),
            self.precisions_cholesky.copy(),
        )


class NonFiniteInput(ValueError):
    """Raised by a pass told that ``X`` may hold NaN or inf (``finite=False``) that met one."""


@dataclass
class PassResult:
    """What one pass over the data produced; fields not asked for are ``None``."""

    stats: SuffStats | None
    log_likelihood: float
    weight: float
    resp: NDArray[np.floating] | None = None
    log_density: NDArray[np.floating] | None = None
    labels: NDArray[np.intp] | None = None
    worst_rows: NDArray[np.intp] = field(default_factory=lambda: np.empty(0, dtype=np.intp))
    #: "expanded", "mixed" or "direct" (the numpy kernels), or "fused" (the compiled one)
    kernel: str = ""
    #: whether the fused kernel formed the log-densities' products in float32 lanes
    float32_products: bool = False
    #: whether the fused kernel summed the statistics in float32 lanes (whitened)
    float32_statistics: bool = False
    #: the components whose statistics it summed so (bool (k,)), the others' in float64
    whitened_components: NDArray[np.bool_] | None = None

    def mean_log_likelihood(self) -> float:
        return self.log_likelihood / self.weight if self.weight > 0 else -np.inf


def iter_chunks(n: int, chunk_size: int) -> Iterator[slice]:
    """Consecutive row slices of at most ``chunk_size`` rows."""
    for start in range(0, n, chunk_size):
        yield slice(start, min(start + chunk_size, n))


def auto_chunk_size(
    n_features: int,
    n_components: int,
    n_feature_cols: int,
    n_rows: int | None = None,
    least: int = 256,
) -> int:
    """Rows per chunk for one worker's buffers (float64, ``n_feature_cols + k`` per row).

    The buffers get :data:`_CHUNK_BYTES` (memory is bounded by a constant, not by ``n``), and
    with ``n_rows`` given a chunk is at most an equal share of the rows per worker, so that
    small data sets are done in as few chunks as there are workers.  Smaller buffers cost
    time: per-chunk overhead (measured at n=100 000, d=32, k=16: 0.7 MiB buffers make the pass
    1.3x slower than 8 MiB ones; at n=20 000, d=10, k=10, 12 chunks instead of 2 make it 2x
    slower).  ``least`` raises the rows before that share (:data:`FUSED_CHUNK_ROWS`).
    """
    width = max(n_feature_cols + n_components, n_features, 1)
    rows = min(max(_CHUNK_BYTES // (8 * width), 256, least), max(65536, least))
    if n_rows is not None and n_rows > 0:
        # equal chunks in whole rounds over the workers, so none waits for a last straggler
        # (measured at n=100 000, d=32, k=16 spherical: 5 chunks on 2 workers took as long
        # as 6)
        workers = _default_threads()
        rounds = -(-n_rows // (workers * rows))
        rows = max(256, -(-n_rows // (workers * rounds)))
    return rows


class _Prepared:
    """Per-pass constants derived from the parameters (independent of the data)."""

    def __init__(
        self,
        params: Params,
        family: CovarianceFamily,
        frame: Frame,
        kernel: Kernel,
        fused: bool = False,
        float32_rows: int = 0,
    ):
        """``float32_rows``: the number of rows of float32 input the pass reads (0: float64),
        for the choice of float32 products."""
        k, d = params.means.shape
        self.k, self.d = k, d
        self.moments: MomentKind = family.moments
        self.factors = np.ascontiguousarray(family.factors(params.precisions_cholesky, k, d))
        self.means = params.means
        precision = self.moments.precision(self.factors)
        pm = self.moments.matvec(precision, params.means)
        risk = np.einsum("kd,kd->k", pm, params.means)
        with np.errstate(divide="ignore"):
            log_w = np.log(params.weights)
        # log-density constant in the caller's units: includes the Jacobian of the frame
        self.base = (
            log_w - 0.5 * d * LOG_2PI + self.moments.log_det(self.factors) - d * np.log(frame.scale)
        )
        # component means in the caller's units: the direct kernel forms x - mu before any
        # rounding of the frame, exact for rows close to their component
        self.means_user = frame.centre + frame.scale * params.means
        self.scale = frame.scale
        self.inv_scale = 1.0 / frame.scale  # exact: the scale is a power of two
        if kernel == "auto":  # per component: the expansion only where it is accurate
            risky = risk > EXPANDED_RISK_LIMIT
        elif kernel in ("expanded", "direct"):
            risky = np.full(k, kernel == "direct")
        else:
            raise ValueError(f"Unknown kernel {kernel!r}; use 'auto', 'expanded' or 'direct'.")
        self.direct: list[int] = [int(j) for j in np.flatnonzero(risky)]
        self.expanded = np.flatnonzero(~risky)
        self.all_expanded = not self.direct
        self.kernel = (
            "expanded" if self.all_expanded else "mixed" if self.expanded.size else "direct"
        )
        self.n_cols = 0
        if self.expanded.size:
            e = self.expanded
            # features [z, q(z), 1]: the constant row adds each component's log-density
            # constant within the GEMM, and in the M-step it sums the responsibilities
            self.n_cols = d + self.moments.n_quad(d) + 1
            W = np.vstack(
                [
                    pm[e].T,
                    self.moments.quad_weights(precision[e]),
                    self.base[e] - 0.5 * risk[e],
                ]
            )
            self.WT = np.ascontiguousarray(W.T)
            self.centre_col = frame.centre[:, None]
        # the fused kernel's means: in units of the scale (exact, a power of two); it takes
        # the factors as they are
        self.fused = fused
        self.float32_products = False
        if fused:
            self.fused_means = np.ascontiguousarray(self.means_user * self.inv_scale)
            self.fused_factors = self.factors
            self.fused_shift: Array | None = None
            self.fused_transform: Array | None = None
            if self.moments.shared_precision and risk.max() <= EXPANDED_RISK_LIMIT:
                # one factor U for all: each row is transformed once, y = z U, and compared
                # with every m_j U (d(d+1)/2 + 2kd operations per row instead of k d(d+1)/2);
                # the cancellation costs about eps * sqrt(m_jᵀ P m_j), bounded as the
                # expansion's is
                u = self.factors[0]
                self.fused_shift = np.ascontiguousarray(frame.centre * self.inv_scale)
                self.fused_transform = np.ascontiguousarray(u)
                self.fused_means = np.ascontiguousarray(params.means @ u)
                self.fused_factors = np.ones((k, d))
            # float32 input, triangular factors, enough rows to pay for the check: products
            # in float32 lanes (twice the rows per vector) where every factor is
            # well-conditioned
            self.float32_products = bool(
                float32_rows >= FLOAT32_PRODUCTS_MIN_ROWS * d
                and self.fused_factors.ndim == 3
                and np.all(np.linalg.cond(self.fused_factors) <= FLOAT32_PRODUCTS_COND)
            )


def _centred(prep: _Prepared, x: NDArray[np.floating], j: int) -> Array:
    """``z - m_j`` of a chunk, formed as ``(x - mu_j) / scale`` in the caller's units."""
    diff = np.subtract(x, prep.means_user[j], dtype=np.float64)
    diff /= prep.scale
    return diff


def _far_rows(prep: _Prepared, x: NDArray[np.floating]) -> tuple[Array, NDArray[np.bool_]]:
    """Log-densities (k, r) of rows so far from every component that the fast path overflowed.

    Differences are scaled per row before the quadratic form, so the form itself cannot
    overflow; the log-density is then ``-inf`` only where it lies below the float64 range.
    Those rows are returned as ``hopeless``; their log-densities hold 0 for the component
    that is least far (in Mahalanobis terms) and ``-inf`` elsewhere, so that they normalise
    to a one-hot assignment.
    """
    k = prep.k
    diffs = [np.subtract(x, prep.means_user[j], dtype=np.float64) for j in range(k)]
    f0 = np.max([np.abs(dj).max(axis=1) for dj in diffs], axis=0)
    f0[f0 == 0] = 1.0
    quad = np.stack(
        [prep.moments.mahalanobis(dj / f0[:, None], prep.factors[j]) for j, dj in enumerate(diffs)]
    )
    with np.errstate(over="ignore"):
        reach = (f0 / prep.scale) ** 2
        logp = prep.base[:, None] - 0.5 * quad * reach
    hopeless = ~np.isfinite(logp.max(axis=0))
    if hopeless.any():
        nearest = quad[:, hopeless].argmin(axis=0)
        logp[:, hopeless] = np.where(np.arange(k)[:, None] == nearest, 0.0, -np.inf)
    return logp, hopeless


#: rows are transposed into the feature-major buffer this many at a time: a block's rows
#: stay in cache while they are read column by column (measured: 2.6x faster than one
#: transposing subtract over a 35 000-row chunk at d=10, 1.3x faster than a GEMM with the
#: identity at d=32)
_TRANSPOSE_BLOCK = 4096

#: floor of log-responsibilities relative to the row's best component (see _normalise)
_FLOOR = -700.0


def _normalise(logp: Array, top: Array, divide: bool = True) -> Array:
    """Turn log-densities (k, m) into responsibilities in place; return the log-sum-exp (m,).

    With ``divide=False`` the rows are left unnormalised (when only the log-sum-exp is used).

    ``top`` is the per-row maximum of ``logp``.  Relative log-responsibilities are floored
    at -700, so that no responsibility falls below ``exp(-700)`` (~1e-304) into the subnormal
    range, where every later product with it is an order of magnitude slower (measured: 10x
    for the statistics GEMM).  The floor changes no sum by more than 1e-300 relative.
    """
    logp -= top
    np.maximum(logp, _FLOOR, out=logp)
    np.exp(logp, out=logp)
    total = logp.sum(axis=0)
    if divide:  # a product with the reciprocal: 3x cheaper than k divisions per row
        logp *= 1.0 / total
    return np.asarray(top + np.log(total))


def mixture_pass(
    X: NDArray[np.floating],
    params: Params,
    family: CovarianceFamily,
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
) -> PassResult:
    """One pass over ``X`` under ``params``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated, finite data in the caller's units (float32 or float64).
    params : Params
        Parameters in the internal frame.
    family : CovarianceFamily
    frame : Frame
    sample_weight : ndarray of shape (n_samples,), optional
    chunk_size : int, optional
        Rows per chunk; ``None`` chooses one from the feature count (a few MiB per buffer).
    stats : bool
        Accumulate :class:`~gaussmix.stats.SuffStats` for the M-step.
    resp, log_density, labels : bool
        Return responsibilities (n, k), per-row log-densities (n,), or argmax labels (n,).
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
        products are (``PassResult.float32_statistics``).  They are summed in
        each component's whitened coordinates ``y = (z - m_j) U_j``, where they are close
        to a multiple of the identity, and mapped back in float64.  The pass's first chunk
        decides which components' sums can be (:class:`_Probe`); the others are summed in
        float64.  If a component's total then fails :func:`_whitened_safe`, the pass is
        redone with that component's statistics in float64.  An array fixes the components
        allowed, with no probe.

    Returns
    -------
    PassResult
    """
    n, d = X.shape
    fused = (
        kernel == "auto"
        and _USE_COMPILED[0]
        and X.dtype in (np.float32, np.float64)
        and X.dtype.isnative
        # a shared precision's pooled statistics cost numpy one d x d product per chunk,
        # the kernel k of them (measured: up to 4x slower at d=32, k=16)
        and not (stats and family.moments.shared_precision)
    )
    prep = _Prepared(params, family, frame, kernel, fused, n if X.dtype == np.float32 else 0)
    # float32 products and statistics: the statistics in float32 lanes too, whitened
    # (measured at n=100 000, d=32, k=16 in separate processes: a pass 106 -> 89 ms on one
    # thread, 56 -> 51-57 ms on two)
    k = prep.k
    allowed = np.broadcast_to(np.asarray(float32_statistics, dtype=bool), (k,))
    whitened = stats and prep.float32_products and bool(allowed.any())
    # numpy's chunks are sized by its buffers; the kernel's are larger (FUSED_CHUNK_ROWS)
    numpy_step = chunk_size or auto_chunk_size(d, k, prep.n_cols, n)
    step = numpy_step
    if chunk_size is None and prep.fused:
        step = auto_chunk_size(d, k, prep.n_cols, n, least=FUSED_CHUNK_ROWS)
    probing = whitened and np.ndim(float32_statistics) == 0
    out = _Outputs(
        resp=np.empty((n, k), dtype=out_dtype) if resp else None,
        log_density=np.empty(n, dtype=out_dtype) if log_density else None,
        labels=np.empty(n, dtype=np.intp) if labels else None,
    )
    if probing and step > numpy_step:
        # the probe is a chunk of numpy's size (a failing one is redone), the rest larger;
        # the other workers wait for its verdict before they start (see _Probe)
        head = min(numpy_step, n)
        chunks = [slice(0, head)] + [
            slice(head + c.start, head + c.stop) for c in iter_chunks(n - head, step)
        ]
    else:
        chunks = list(iter_chunks(n, step))
    workers = max(1, min(n_threads if n_threads is not None else _default_threads(), len(chunks)))
    rows = max((c.stop - c.start for c in chunks), default=0)
    needs_lse = stats or resp or log_density or bool(n_worst) or log_likelihood
    accs = [
        _Accumulator(prep, rows, stats, n_worst, needs_lse, _workspace(t), finite, whitened,
                     numpy_rows=min(numpy_step, rows))
        for t in range(workers)
    ]  # fmt: skip
    order = _InOrder(_Sums(prep, stats, n_worst, whitened))
    probe = _Probe(allowed.copy() if whitened else None, probing)
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
                probe.decide(_probe_verdict(acc.sums, params.weights, chunks[i], d))
            final = probe.outcome()
            if final is not mask:  # redone, some or all components in float64
                acc.sums.clear()
                acc.whitened = final
                acc.process(X, chunks[i], sample_weight, out)
        order.fold(i, acc.sums)

    # BLAS runs single-threaded inside the pass: its own threads are slower on these
    # tall-skinny products (measured: up to 7x for k=8), and our workers also spread the
    # element-wise work, which BLAS cannot parallelise, over the cores.  A fused pass calls
    # no BLAS but in a chunk the numpy path redoes (rare), so it skips setting the limit
    # (about 80 us a call: a third of a prediction's fixed cost).
    with nullcontext() if prep.fused else single_threaded_blas():
        run_parallel(len(chunks), workers, chunk)
    total = order.total
    if whitened and total.w_n.any():
        safe = _whitened_safe(total.w_n, total.w_s1, total.w_s2)
        if not safe.all():
            final = probe.outcome()
            assert final is not None
            return mixture_pass(
                X, params, family, frame, sample_weight=sample_weight, chunk_size=chunk_size,
                stats=stats, resp=resp, log_density=log_density, labels=labels,
                n_worst=n_worst, log_likelihood=log_likelihood, kernel=kernel,
                out_dtype=out_dtype, n_threads=n_threads, finite=finite,
                float32_statistics=final & safe,
            )  # fmt: skip
        _unwhiten(prep.fused_factors, total.w_s1, total.w_s2)
        total.f_n += total.w_n
        total.f_s1 += total.w_s1
        total.f_s2 += total.w_s2
    result = accs[0].result(n, out, total)
    if result.float32_statistics:
        result.whitened_components = probe.outcome()
    return result


def _probe_verdict(sums: _Sums, weights: Array, sl: slice, d: int) -> NDArray[np.bool_]:
    """Which components a pass's first chunk, with whitened ``sums``, vouches for.

    A component with at least ``d + 1`` rows' worth of weight in the chunk is checked
    (:func:`_whitened_safe`; fewer leave its scatter singular).  One with less is vouched
    for, unchecked, only if its mixing weight promised more (the rows are in some order:
    the pass's total is checked), not if it is a small component, the kind most likely to
    collapse (measured on the benchmark's anisotropic data at n=100 000, d=32, k=16: with
    2 (d + 1) rows' worth and no such rule, 2 of EM's first 5 passes were redone whole for
    a component of 0.5 and 2.4 % weight the probe had not checked).
    """
    rows = sl.stop - sl.start
    least = (d + 1) * sums.weight / rows  # rows' worth of weight
    safe = _whitened_safe(sums.w_n, sums.w_s1, sums.w_s2, least)
    safe &= (sums.w_n > least) | (weights * sums.weight > least)
    return safe


class _Probe:
    """Which components' statistics a pass's chunks sum whitened in float32, decided by its
    first chunk.

    Chunk 0 is summed whitened for every component allowed and checked
    (:func:`_whitened_safe`, component by component); until then other workers sum their
    chunks the same way, and wait for the outcome before folding them.  The components
    chunk 0 fails are summed in float64 in every chunk: chunk 0 and the chunks summed ahead
    are redone so, and later chunks start so.  Which chunks and components are whitened
    does not depend on the workers' timing, so neither does the result.  (Measured at
    n=100 000, d=32, k=16 on the benchmark's anisotropic data: 3 of EM's first 10 passes
    fail, each costing a whole second pass if the check came only at the end, and only 1
    or 2 of the 16 components fail in each.)

    Where the pass's other chunks are larger than the probe (the kernel's chunks,
    :data:`FUSED_CHUNK_ROWS`, after a probe of numpy's size), they do not start before its
    verdict instead: none is summed ahead, and a failing probe costs one small chunk.

    The mask is ``None`` where nothing is whitened; with ``probing=False`` the mask given is
    the decision (a pass redone because its total failed).
    """

    def __init__(self, mask: NDArray[np.bool_] | None, probing: bool = True):
        self.decided = threading.Event()
        self.mask = mask
        if mask is None or not probing:
            self.decided.set()

    def probing(self) -> bool:
        return not self.decided.is_set()

    def hopeful(self) -> NDArray[np.bool_] | None:
        return self.mask

    def decide(self, safe: NDArray[np.bool_]) -> None:
        """Keep the components of the mask that ``safe`` vouches for (the same mask object
        if it vouches for all of them)."""
        assert self.mask is not None
        if not safe[self.mask].all():
            kept = self.mask & safe
            self.mask = kept if kept.any() else None
        self.decided.set()

    def abandon(self) -> None:
        """The probe failed (its chunk raised): nothing is whitened, and no one waits."""
        if not self.decided.is_set():
            self.mask = None
            self.decided.set()

    def outcome(self) -> NDArray[np.bool_] | None:
        self.decided.wait()
        return self.mask


def _whitened_safe(nk: Array, s1: Array, s2: Array, least: float = 0.0) -> NDArray[np.bool_]:
    """Which components' whitened float32 statistics give positive-definite scatters, with
    room: a bool (k,), True where they do.

    ``s1`` (k, d) and ``s2`` (k, d, d) are sums of ``r y`` and ``r yᵀy`` in a component's
    whitened coordinates, ``nk`` (k,) of ``r`` (in float64).  Per component they form the
    augmented matrix ``M = sum r [y, 1]ᵀ[y, 1]``, positive-definite exactly when the scatter
    ``s2 - s1ᵀ s1 / nk`` (its Schur complement) is.  Each entry of ``M`` was summed with at
    most :data:`_WHITENED_ROUNDINGS` float32 roundings, so its error is at most
    ``c = 45 u32`` times ``sum r |ŷ_a| |ŷ_b|`` (``ŷ = [y, 1]``), which by Cauchy-Schwarz is
    at most ``sqrt(M_aa M_bb)``; scaled by ``diag(M)^(-1/2)``, the error matrix has 2-norm
    at most its Frobenius norm, ``(d + 1) c``.  A component passes if its scaled ``M`` minus
    twice that is positive-definite (a Cholesky factorisation succeeds): then both the
    computed ``M`` and the one exact sums of the same ``y`` give are, and so are their
    scatters.  Near a fit the scaled ``M`` is close to the identity; it fails where the
    current parameters are far off (a component collapsing onto a subspace, or a mean
    moving far), and that component's sums are then redone in float64.

    Components of weight ``least`` or less pass unchecked (without weight, their sums are
    zero): a pass's first chunk, its probe (:class:`_Probe`), skips those with under
    ``d + 1`` rows' worth, too few to check (see :func:`_probe_verdict`; the pass's total is
    checked again, every component).
    """
    d = s1.shape[1]
    safe = np.ones(nk.shape[0], dtype=bool)
    live = np.flatnonzero(nk > max(least, 0.0))
    if not live.size:
        return safe
    aug = np.empty((live.size, d + 1, d + 1))
    aug[:, :d, :d] = s2[live]
    aug[:, d, :d] = aug[:, :d, d] = s1[live]
    aug[:, d, d] = nk[live]
    diag = np.einsum("kaa->ka", aug)
    sound = np.isfinite(aug).all(axis=(1, 2)) & (diag > 0).all(axis=1)
    safe[live[~sound]] = False
    live, aug = live[sound], aug[sound]
    scale = 1.0 / np.sqrt(diag[sound])
    aug *= scale[:, :, None] * scale[:, None, :]
    aug -= 2.0 * (d + 1) * _WHITENED_ROUNDINGS * _U32 * np.eye(d + 1)
    try:
        np.linalg.cholesky(aug)  # all at once; one by one only if some fail
    except np.linalg.LinAlgError:
        for j, m in zip(live, aug, strict=True):
            try:
                np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                safe[j] = False
    return safe


def _unwhiten(factors: Array, s1: Array, s2: Array) -> None:
    """Whitened sums (``y = (z - m) U``, ``U`` upper-triangular) back to ``z - m``, in place.

    ``z - m = y U⁻¹``: ``s1 <- s1 U⁻¹`` and ``s2 <- U⁻ᵀ s2 U⁻¹``, by solves with ``Uᵀ`` in
    float64, all components at once (per-component triangular solves cost 2.3 ms a pass at
    d = 32, k = 16, 5 % of it).
    """
    lower = np.swapaxes(np.triu(factors), 1, 2)  # Uᵀ
    s1[:] = np.linalg.solve(lower, s1[:, :, None])[:, :, 0]
    half = np.linalg.solve(lower, s2)  # U⁻ᵀ s2
    full = np.linalg.solve(lower, np.swapaxes(half, 1, 2))  # U⁻ᵀ (U⁻ᵀ s2)ᵀ = U⁻ᵀ s2 U⁻¹
    s2[:] = 0.5 * (full + np.swapaxes(full, 1, 2))


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool per worker count (creating threads per pass costs ~1 ms)."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS.setdefault(workers, ThreadPoolExecutor(workers, "gaussmix"))
    return pool


def run_parallel(n_tasks: int, workers: int, task: Callable[[int, int], None]) -> None:
    """Run ``task(t, i)`` for ``i`` in ``range(n_tasks)`` on ``workers`` threads.

    The calling thread is worker 0 and starts at once; the others come from a pool.  Tasks
    are handed out one at a time to whichever worker asks first, so a worker that starts
    late finds the work done rather than holding the pass back: an idle thread woken on a
    2-vCPU machine was measured starting 0.5-4 ms after it was asked (at n=100 000, d=32,
    k=16, a ``diag`` pass of 4 ms, which static shares made 7-8 ms).  ``t`` names the worker,
    for its own buffers.  After a failure no new task starts; the first error is raised once
    every started task has ended.
    """
    if workers <= 1 or n_tasks <= 1:
        for i in range(n_tasks):
            task(0, i)
        return
    lock = threading.Lock()
    state = {"next": 0, "failed": False}

    def claim() -> int | None:
        with lock:
            i = state["next"]
            if state["failed"] or i >= n_tasks:
                return None
            state["next"] = i + 1
            return i

    def work(t: int) -> None:
        try:
            while (i := claim()) is not None:
                task(t, i)
        except BaseException:
            state["failed"] = True
            raise

    helpers = [_pool(workers - 1).submit(work, t) for t in range(1, workers)]
    try:
        work(0)
    finally:
        # a helper not started yet has nothing left to do (and may be queued behind this
        # very thread, when a pass runs inside another's helper): cancelled, it is not
        # waited for (``wait`` would, until a pool thread dequeued it)
        started = [f for f in helpers if not f.cancel()]
        wait(started)
    for f in started:
        if (error := f.exception()) is not None:
            raise error


#: the machine's cores, read once (os.cpu_count() costs ~13 us, twice a pass)
_CORES = os.cpu_count() or 1


def _default_threads() -> int:
    return max(1, min(_CORES, 8))


_BLAS_CONTROLLER: list[Any] = []


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread; the library scan is done once and reused (it costs ms)."""
    if not _BLAS_CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER.append(ThreadpoolController())
    with _BLAS_CONTROLLER[0].limit(limits=1, user_api="blas"):
        yield


class _Workspace:
    """A float64 scratch buffer kept between passes.

    Allocating the chunk buffers afresh for every pass costs page faults on each first
    touch (numpy maps buffers of 4 MiB and more afresh, with huge pages); measured at
    n=200 000, d=10, k=10 this made a pass 1.5-2x slower.  Buffers are kept per calling
    thread and worker slot, so concurrent passes from different threads never share one,
    and each is at most a few MiB (see :func:`auto_chunk_size`).
    """

    def __init__(self) -> None:
        self.buffer = np.empty(0)

    def get(self, size: int) -> Array:
        if self.buffer.shape[0] < size:
            self.buffer = np.empty(size)
        return self.buffer[:size]


_LOCAL = threading.local()


def _workspace(slot: int) -> _Workspace:
    """The calling thread's workspace for worker ``slot``."""
    spaces: dict[int, _Workspace] | None = getattr(_LOCAL, "spaces", None)
    if spaces is None:
        spaces = _LOCAL.spaces = {}
    space = spaces.get(slot)
    if space is None:
        space = spaces[slot] = _Workspace()
    return space


def release_workspaces() -> None:
    """Free the calling thread's cached chunk buffers (the next pass allocates them again)."""
    _LOCAL.spaces = {}


@dataclass
class _Outputs:
    resp: NDArray[np.floating] | None
    log_density: NDArray[np.floating] | None
    labels: NDArray[np.intp] | None


def take_rows(X: NDArray[np.floating], rows: NDArray[np.intp]) -> NDArray[np.floating]:
    """``X[rows]`` (a copy) by :func:`numpy.take`: measured 3-4x faster than indexing with
    an integer array, for 40 000 of 200 000 rows of 10 features (1.1 ms against 3.3-4.5)."""
    return np.take(X, rows, axis=0)


def _rows(
    X: NDArray[np.floating], sl: slice, sample_weight: Array | None, out: _Outputs
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
        prep: _Prepared,
        rows: int,
        stats: bool,
        n_worst: int,
        needs_lse: bool,
        workspace: _Workspace,
        finite: bool = True,
        whitened: bool = False,
        numpy_rows: int | None = None,
    ):
        k = prep.k
        self.finite = finite
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
        self.buf_size = (prep.n_cols + k + n_exp) * self.numpy_rows
        self.n_exp = n_exp
        self.stats = stats
        # whether the log-sum-exp is needed at all (not for labels alone)
        self.needs_lse = needs_lse
        self.lse = np.empty(rows) if prep.fused and needs_lse else None
        # statistics gathered by the fused kernel: per component, about its mean, in the
        # factors' layout (diagonals (k, d) or matrices (k, d, d))
        self.fused_stats = stats and prep.fused
        # the current chunk's sums
        self.sums = _Sums(prep, stats, n_worst, whitened)

    def process(
        self, X: NDArray[np.floating], sl: slice, sample_weight: Array | None, out: _Outputs
    ) -> None:
        """A chunk's outputs and sums: by the kernel, or by numpy in pieces of at most
        ``numpy_rows`` rows (its buffers' size) where there is none or it hands it back."""
        if self.prep.fused:
            x, w, labels = _rows(X, sl, sample_weight, out)
            m = sl.stop - sl.start
            lse = None if self.lse is None else self.lse[:m]
            resp = None if out.resp is None else out.resp[sl]
            if self._fused(x, lse, resp, labels, w):
                self._tally(lse, None, sl, w, out)
                return
        for start in range(sl.start, sl.stop, self.numpy_rows):
            self._numpy(X, slice(start, min(start + self.numpy_rows, sl.stop)), sample_weight, out)

    def _numpy(
        self, X: NDArray[np.floating], sl: slice, sample_weight: Array | None, out: _Outputs
    ) -> None:
        """A chunk's outputs and sums by numpy (at most ``numpy_rows`` rows)."""
        prep = self.prep
        m = sl.stop - sl.start
        x, w, labels = _rows(X, sl, sample_weight, out)
        # contiguous (features, m) views of the buffer for this chunk: BLAS gets unit strides
        n_cols, k = prep.n_cols, prep.k
        buf = self.workspace.get(self.buf_size)
        ph = buf[: n_cols * m].reshape(n_cols, m)
        lp = buf[n_cols * m : (n_cols + k) * m].reshape(k, m)
        with np.errstate(over="ignore", invalid="ignore"):
            if prep.expanded.size:
                self._features(x, ph)
                # np.dot, not np.matmul: matmul keeps the GIL on some of these shapes
                # (measured: no gain from a second thread at 20 x 4096 @ 4096 x 10)
                if prep.all_expanded:
                    np.dot(prep.WT, ph, out=lp)
                else:
                    le = buf[(n_cols + k) * m : (n_cols + k + self.n_exp) * m]
                    le = le.reshape(self.n_exp, m)
                    np.dot(prep.WT, ph, out=le)
                    lp[prep.expanded] = le
            for j in prep.direct:
                diff = _centred(prep, x, j)
                lp[j] = prep.base[j] - 0.5 * prep.moments.mahalanobis(diff, prep.factors[j])
            top = lp.max(axis=0)
        far = ~np.isfinite(top)
        hopeless = None
        if far.any() and not self.finite and not np.isfinite(x[far]).all():
            raise NonFiniteInput
        if far.any():  # rows beyond ~1e154 scales: recompute them safely (rare)
            lp[:, far], lost = _far_rows(prep, x[far])
            top[far] = lp[:, far].max(axis=0)
            if prep.expanded.size:
                # their (overflowed) features must not reach the statistics; their
                # responsibilities still count in the weights (the constant row)
                ph[:-1, far] = 0.0
            if lost.any():
                hopeless = np.flatnonzero(far)[lost]
        if labels is not None:
            labels[:] = lp.argmax(axis=0)
        if not self.needs_lse:
            self._tally(None, None, sl, w, out)
            return
        # lp now holds the responsibilities (k, m) (unnormalised if no one reads them)
        lse = _normalise(lp, top, divide=self.stats or out.resp is not None)
        if out.resp is not None:
            np.copyto(out.resp[sl].T, lp, casting="same_kind")
        self._tally(lse, hopeless, sl, w, out)
        if self.stats:
            self._add_stats(x, lp if w is None else lp * w, ph, far if far.any() else None)

    def _features(self, x: NDArray[np.floating], ph: Array) -> None:
        """The expanded features ``[z, q(z), 1]`` of a chunk's rows into ``ph`` (n_cols, m)."""
        prep = self.prep
        d, m = prep.d, x.shape[0]
        for b in range(0, m, _TRANSPOSE_BLOCK):
            block = ph[:d, b : b + _TRANSPOSE_BLOCK]
            rows = x[b : b + _TRANSPOSE_BLOCK].T
            np.subtract(rows, prep.centre_col, out=block, casting="unsafe")
            block *= prep.inv_scale
        prep.moments.fill_quad(ph, d, prep.factors)
        ph[-1] = 1.0

    def _add_stats(
        self, x: NDArray[np.floating], rw: Array, ph: Array, far: NDArray[np.bool_] | None
    ) -> None:
        """Add a chunk's statistics, given its weighted responsibilities ``rw`` (k, m) and,
        for the expanded components, its features ``ph``; ``far`` rows have none."""
        prep = self.prep
        d = prep.d
        if prep.expanded.size:
            rwe = rw if prep.all_expanded else rw[prep.expanded]
            acc = np.dot(ph, rwe.T)
            self.sums.total_n[prep.expanded] += acc[-1]
            self.sums.s1[prep.expanded] += acc[:d].T
            self.sums.s2q += prep.moments.expanded_second(ph[:-1], rwe, acc[:-1], d)
        if prep.direct:
            if far is not None:
                x, rw = x[~far], rw[:, ~far]
            for i, j in enumerate(prep.direct):
                diff = _centred(prep, x, j)
                self.sums.total_n[j] += rw[j].sum()
                self.sums.s1[j] += rw[j] @ diff
                prep.moments.add_component(
                    self.sums.s2d, i, prep.moments.weighted_second(diff, rw[j])
                )

    def _fused(
        self,
        x: NDArray[np.floating],
        lse: Array | None,
        resp: NDArray[np.floating] | None,
        labels: NDArray[np.intp] | None,
        w: Array | None,
    ) -> bool:
        """The chunk's outputs (and statistics, if the kernel gathers them) by the fused
        kernel; False, with no statistics added, if the numpy path must redo it."""
        prep = self.prep
        assert _compiled is not None
        stats: dict[str, np.ndarray] = {}
        f64: NDArray[np.bool_] | None = None  # components summed in float64 beside whitened
        if self.fused_stats:
            sums = self.sums
            if self.whitened is not None:  # in y's coordinates, apart
                stats = {"nk": sums.w_n, "s1": sums.w_s1, "s2": sums.w_s2}
                if not self.whitened.all():
                    f64 = ~self.whitened
            else:
                stats = {"nk": sums.f_n, "s1": sums.f_s1, "s2": sums.f_s2}
            if w is not None:
                stats["sample_weight"] = np.ascontiguousarray(w, dtype=np.float64)
        clean = bool(
            _compiled.mixture_chunk(
                x,
                prep.inv_scale,
                prep.fused_means,
                prep.fused_factors,
                prep.base,
                lse,
                resp,
                labels,
                shift=prep.fused_shift,
                transform=prep.fused_transform,
                float32_products=prep.float32_products,
                float32_statistics=self.whitened is not None,
                float64_components=f64,
                **stats,
            )
        )
        if clean and f64 is not None:  # those components' sums go with the float64 ones
            sums = self.sums
            for w_, f_ in ((sums.w_n, sums.f_n), (sums.w_s1, sums.f_s1), (sums.w_s2, sums.f_s2)):
                f_[f64] += w_[f64]
                w_[f64] = 0.0
        return clean

    def _tally(
        self,
        lse: Array | None,
        hopeless: NDArray[np.intp] | None,
        sl: slice,
        w: Array | None,
        out: _Outputs,
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
            self.sums.worst_idx, self.sums.worst_val = _keep_worst(
                self.sums.worst_idx, self.sums.worst_val, lse, sl.start, self.sums.n_worst
            )

    def result(self, n: int, out: _Outputs, sums: _Sums) -> PassResult:
        """The pass's result from its total ``sums``."""
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
                suff = SuffStats(prep.moments, prep.means, sums.f_n, sums.f_s1, s2f) + suff
            suff.log_likelihood, suff.weight, suff.n_rows = sums.loglik, sums.weight, n
        return PassResult(
            stats=suff,
            log_likelihood=sums.loglik if self.needs_lse else float("nan"),
            weight=sums.weight,
            resp=out.resp,
            log_density=out.log_density,
            labels=out.labels,
            worst_rows=sums.worst_idx[np.argsort(sums.worst_val, kind="stable")],
            kernel="fused" if prep.fused else prep.kernel,
            float32_products=prep.float32_products,
            float32_statistics=bool(sums.w_n.size and sums.w_n.any()),
        )


class _Sums:
    """The sums of a pass, or of one chunk: statistics, log-likelihood, weight, worst rows."""

    def __init__(self, prep: _Prepared, stats: bool, n_worst: int, whitened: bool = False):
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

    def copy(self) -> _Sums:
        new = copy.copy(self)
        (
            new.total_n, new.s1, new.s2q, new.s2d, new.f_n, new.f_s1, new.f_s2,
            new.w_n, new.w_s1, new.w_s2,
        ) = (a.copy() for a in self._arrays())  # fmt: skip
        return new

    def add(self, other: _Sums) -> None:
        """Add the sums of other rows (same parameters)."""
        for mine, theirs in zip(self._arrays(), other._arrays(), strict=True):
            mine += theirs
        self.loglik += other.loglik
        self.weight += other.weight
        if self.n_worst:
            self.worst_idx = np.concatenate([self.worst_idx, other.worst_idx])
            self.worst_val = np.concatenate([self.worst_val, other.worst_val])
            if self.worst_val.shape[0] > self.n_worst:
                keep = np.argsort(self.worst_val, kind="stable")[: self.n_worst]
                self.worst_idx, self.worst_val = self.worst_idx[keep], self.worst_val[keep]


class _InOrder:
    """Chunk sums folded into a total in chunk order, whichever worker finishes first.

    The total is then the same, to the last bit, however the chunks were shared among the
    workers, and however many there were.  A chunk that finishes ahead of its turn waits as
    a copy (workers take chunks in order, so few ever wait).
    """

    def __init__(self, total: _Sums):
        self.total = total
        self.next = 0
        self.waiting: dict[int, _Sums] = {}
        self.lock = threading.Lock()

    def fold(self, i: int, sums: _Sums) -> None:
        with self.lock:
            if i != self.next:
                self.waiting[i] = sums.copy()
                return
            self.total.add(sums)
            self.next += 1
            while self.next in self.waiting:
                self.total.add(self.waiting.pop(self.next))
                self.next += 1


def _keep_worst(
    idx: NDArray[np.intp], val: Array, lse: Array, offset: int, keep: int
) -> tuple[NDArray[np.intp], Array]:
    """Merge a chunk's lowest log-densities into the running ``keep`` lowest."""
    take = min(keep, lse.shape[0])
    part = np.argpartition(lse, take - 1)[:take]
    idx = np.concatenate([idx, part + offset])
    val = np.concatenate([val, lse[part]])
    if val.shape[0] > keep:
        sel = np.argpartition(val, keep - 1)[:keep]
        idx, val = idx[sel], val[sel]
    return idx, val


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
) -> SuffStats:
    """Statistics of ``X`` under responsibilities given per chunk by ``resp_source``.

    ``resp_source(rows, z)`` receives the chunk's row slice and its internal coordinates and
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
        if keep is None:
            r = resp_source(sl, z)
        else:  # the source answers for whole chunks: zero-weight rows get a placeholder
            full = np.zeros((sl.stop - sl.start, d))
            full[keep] = z
            r = resp_source(sl, full)[keep]
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
    # small integers sort by radix (5x faster than a merge sort of intp at 5,000 rows)
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
