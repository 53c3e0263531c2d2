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

``kernel="auto"`` picks ``"expanded"`` unless some component's ``mᵀ P m`` exceeds
:data:`EXPANDED_RISK_LIMIT`, which bounds the expansion's relative error near 1e-10.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ._moments import MomentKind
from .covariance import CovarianceFamily
from .stats import SuffStats

Array = NDArray[np.float64]
Kernel = Literal["auto", "expanded", "direct"]

LOG_2PI = float(np.log(2.0 * np.pi))

#: largest ``mᵀ P m`` for which the expanded kernel is used by ``kernel="auto"``
EXPANDED_RISK_LIMIT = 1e5

#: target size in bytes of the largest per-chunk buffer when ``chunk_size`` is ``None``
_CHUNK_BYTES = 4 * 2**20


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
        out /= self.scale
        return out

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
        """
        n, d = X.shape
        step = chunk_size or auto_chunk_size(d, d, 1)
        total_w = 0.0
        sums = np.zeros(d)
        amax = 0.0
        for sl in iter_chunks(n, step):
            xc = np.asarray(X[sl], dtype=np.float64)
            w = None if sample_weight is None else sample_weight[sl]
            if w is None:
                total_w += xc.shape[0]
                sums += xc.sum(axis=0)
            else:
                total_w += float(w.sum())
                sums += w @ xc
            amax = max(amax, float(np.abs(xc).max(initial=0.0)))
        centre = sums / total_w if total_w > 0 else np.zeros(d)
        if not np.all(np.isfinite(centre)):
            centre = np.zeros(d)
        spread = 0.0
        if amax > 0:
            for sl in iter_chunks(n, step):
                zc = (np.asarray(X[sl], dtype=np.float64) - centre) / amax
                sq = np.einsum("ij,ij->i", zc, zc)
                spread += float(sq.sum() if sample_weight is None else sample_weight[sl] @ sq)
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
    kernel: str = ""

    def mean_log_likelihood(self) -> float:
        return self.log_likelihood / self.weight if self.weight > 0 else -np.inf


def iter_chunks(n: int, chunk_size: int) -> Iterator[slice]:
    """Consecutive row slices of at most ``chunk_size`` rows."""
    for start in range(0, n, chunk_size):
        yield slice(start, min(start + chunk_size, n))


def auto_chunk_size(n_features: int, n_components: int, n_feature_cols: int) -> int:
    """Rows per chunk so that the largest chunk buffer stays near :data:`_CHUNK_BYTES`."""
    width = max(n_feature_cols + n_components, n_features, 1)
    return int(np.clip(_CHUNK_BYTES // (8 * width), 256, 65536))


class _Prepared:
    """Per-pass constants derived from the parameters (independent of the data)."""

    def __init__(self, params: Params, family: CovarianceFamily, frame: Frame, kernel: Kernel):
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
        if kernel == "auto":
            kernel = "expanded" if float(risk.max(initial=0.0)) <= EXPANDED_RISK_LIMIT else "direct"
        self.kernel = kernel
        if kernel == "expanded":
            self.n_cols = d + self.moments.n_quad(d)
            self.W = np.vstack([pm.T, self.moments.quad_weights(precision)])
            self.b = self.base - 0.5 * risk
        elif kernel == "direct":
            self.n_cols = 0
            # component means in the caller's units: differences x - mu are then formed
            # before any rounding of the frame, exact for rows close to their component
            self.means_user = frame.centre + frame.scale * params.means
            self.scale = frame.scale
        else:
            raise ValueError(f"Unknown kernel {kernel!r}; use 'auto', 'expanded' or 'direct'.")


def _centred(prep: _Prepared, x: NDArray[np.floating], j: int) -> Array:
    """``z - m_j`` of a chunk, formed as ``(x - mu_j) / scale`` in the caller's units."""
    diff = np.subtract(x, prep.means_user[j], dtype=np.float64)
    diff /= prep.scale
    return diff


def _log_prob_chunk(prep: _Prepared, phi: Array, x: NDArray[np.floating], out: Array) -> None:
    """Weighted log-densities ``log w_j + log N(x | j)`` of a chunk into ``out`` (n_c, k)."""
    if prep.kernel == "expanded":
        np.matmul(phi, prep.W, out=out)
        out += prep.b
    else:
        for j in range(prep.k):
            diff = _centred(prep, x, j)
            out[:, j] = prep.base[j] - 0.5 * prep.moments.mahalanobis(diff, prep.factors[j])


def _normalise(logp: Array) -> Array:
    """Turn ``logp`` (n_c, k) into responsibilities in place; return the row log-sum-exp."""
    top = logp.max(axis=1)
    # rows whose every component has zero weight cannot occur: weights are checked upstream
    logp -= top[:, None]
    np.exp(logp, out=logp)
    total = logp.sum(axis=1)
    logp /= total[:, None]
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
    kernel: Kernel = "auto",
    out_dtype: type[np.floating] | np.dtype[np.floating] = np.float64,
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
    kernel : {"auto", "expanded", "direct"}
    out_dtype : dtype
        dtype of the per-row outputs.

    Returns
    -------
    PassResult
    """
    n, d = X.shape
    prep = _Prepared(params, family, frame, kernel)
    k = prep.k
    moments = prep.moments
    step = chunk_size or auto_chunk_size(d, k, prep.n_cols)
    rows = min(step, n)

    phi = np.empty((rows, prep.n_cols), order="F")
    logp = np.empty((rows, k))

    total_n = np.zeros(k)
    s1 = np.zeros((k, d))
    if prep.kernel == "expanded":
        s2: Array = np.zeros((moments.n_quad(d), k))
    else:
        s2 = np.zeros((k, d, d) if moments.name == "full" else (k, d))
    loglik = 0.0
    weight = 0.0

    out_resp = np.empty((n, k), dtype=out_dtype) if resp else None
    out_logd = np.empty(n, dtype=out_dtype) if log_density else None
    out_labels = np.empty(n, dtype=np.intp) if labels else None
    worst_idx = np.empty(0, dtype=np.intp)
    worst_val = np.empty(0)

    for sl in iter_chunks(n, step):
        m = sl.stop - sl.start
        ph = phi[:m]
        lp = logp[:m]
        x = X[sl]
        if prep.kernel == "expanded":
            frame.to_internal(x, out=ph[:, :d])
            moments.fill_quad(ph, d)
        _log_prob_chunk(prep, ph, x, lp)
        if out_labels is not None:
            out_labels[sl] = lp.argmax(axis=1)
        lse = _normalise(lp)  # lp now holds responsibilities
        w = None if sample_weight is None else sample_weight[sl]
        if w is None:
            loglik += float(lse.sum())
            weight += m
        else:
            loglik += float(w @ lse)
            weight += float(w.sum())
        if out_resp is not None:
            out_resp[sl] = lp
        if out_logd is not None:
            out_logd[sl] = lse
        if n_worst:
            worst_idx, worst_val = _keep_worst(worst_idx, worst_val, lse, sl.start, n_worst)
        if stats:
            rw = lp if w is None else lp * w[:, None]
            total_n += rw.sum(axis=0)
            if prep.kernel == "expanded":
                acc = ph.T @ rw
                s1 += acc[:d].T
                s2 += acc[d:]
            else:
                for j in range(k):
                    diff = _centred(prep, x, j)
                    s1[j] += rw[:, j] @ diff
                    s2[j] += moments.weighted_second(diff, rw[:, j])

    suff = None
    if stats:
        if prep.kernel == "expanded":
            suff = SuffStats(moments, np.zeros((k, d)), total_n, s1, moments.unpack(s2, d))
        else:
            suff = SuffStats(moments, prep.means.copy(), total_n, s1, s2)
        suff.log_likelihood, suff.weight, suff.n_rows = loglik, weight, n
    return PassResult(
        stats=suff,
        log_likelihood=loglik,
        weight=weight,
        resp=out_resp,
        log_density=out_logd,
        labels=out_labels,
        worst_rows=worst_idx[np.argsort(worst_val, kind="stable")],
        kernel=prep.kernel,
    )


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


RespSource = Callable[[slice, Array], Array]


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
    returns the responsibilities (n_c, k).  Used by initialisation (hard labels, random
    responsibilities); statistics are taken about ``ref`` (k, d) with the direct form.
    """
    n, d = X.shape
    k = ref.shape[0]
    step = chunk_size or auto_chunk_size(d, k, d)
    total = SuffStats.zeros(moments, ref)
    buf = np.empty((min(step, n), d))
    for sl in iter_chunks(n, step):
        z = frame.to_internal(X[sl], out=buf[: sl.stop - sl.start])
        r = resp_source(sl, z)
        if sample_weight is not None:
            r = r * sample_weight[sl][:, None]
        total.N += r.sum(axis=0)
        for j in range(k):
            if not r[:, j].any():
                continue
            diff = z - ref[j]
            total.S1[j] += r[:, j] @ diff
            total.S2[j] += moments.weighted_second(diff, r[:, j])
    total.weight = float(n if sample_weight is None else sample_weight.sum())
    total.n_rows = n
    return total
