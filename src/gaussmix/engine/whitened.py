"""Float32 statistics summed in whitened coordinates, and the rounding bound that vouches
for them: which components a pass may sum so, and the map back to the data's coordinates.

The fused kernel sums the statistics of float32 input in float32 lanes, in each component's
whitened coordinates ``y = (z - m_j) U_j`` where they are close to a multiple of the identity
(:func:`mixture_pass`).  A pass's first chunk probes which components' sums a rounding bound
can vouch for (:class:`Probe`, :func:`probe_verdict`); the pass's total is checked again
(:func:`whitened_safe`) and mapped back in float64 (:func:`unwhiten`).
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray

from .sums import Sums

Array = NDArray[np.float64]

#: unit roundoff of float32
_U32 = 2.0**-24

#: the most float32 roundings in one of the whitened statistics' sums: each lane of a tile
#: sums at most ``256 / 8`` products over a flush (the kernel gathers at most 256 rows and
#: has at least 8 float32 lanes), then ``log2(lanes) <= 4`` folds join the lanes; with the
#: roundings of ``sqrt(r)``, of its products with ``y`` and of theirs, 45 bounds them all
_WHITENED_ROUNDINGS = 45

#: how many times the pass's check a probe asks of its chunk: a component near the bound
#: passes or fails a chunk by chance, and one the probe lets through but the total fails
#: costs the whole pass again, one the probe refuses only its float32 sums
PROBE_SLACK = 4.0


def probe_verdict(sums: Sums, sl: slice, d: int) -> NDArray[np.bool_]:
    """Which components a pass's first chunk, with whitened ``sums``, vouches for.

    Only a component with more than ``d + 1`` rows' worth of weight in the chunk can be
    checked (:func:`whitened_safe`; fewer leave its scatter singular), and only a checked
    one is vouched for.  The others are summed in float64: the mixing weights cannot speak
    for them, since early in a run from poor starts they are far from the rows' shares, and
    a component the probe lets through but the pass's total fails costs the whole pass
    again, while one summed in float64 costs only its share of the statistics.
    """
    rows = sl.stop - sl.start
    least = (d + 1) * sums.weight / rows  # rows' worth of weight
    safe = whitened_safe(sums.w_n, sums.w_s1, sums.w_s2, least, slack=PROBE_SLACK)
    return safe & (sums.w_n > least)


class Probe:
    """Which components' statistics a pass's chunks sum whitened in float32, decided by its
    first chunk.

    Chunk 0 is summed whitened for every component allowed and checked
    (:func:`whitened_safe`, component by component); until then other workers sum their
    chunks the same way, and wait for the outcome before folding them.  The components
    chunk 0 fails are summed in float64 in every chunk: chunk 0 and the chunks summed ahead
    are redone so, and later chunks start so.  Which chunks and components are whitened
    does not depend on the workers' timing, so neither does the result.  Deciding on the
    first chunk, component by component, spares the whole second pass that a check of the
    total alone would cost, where only a few components fail.

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


def whitened_safe(
    nk: Array, s1: Array, s2: Array, least: float = 0.0, slack: float = 1.0
) -> NDArray[np.bool_]:
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
    zero): a pass's first chunk, its probe (:class:`Probe`), skips those with under
    ``d + 1`` rows' worth, too few to check (see :func:`probe_verdict`; the pass's total is
    checked again, every component).  ``slack`` multiplies the room asked for.
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
    aug -= 2.0 * slack * (d + 1) * _WHITENED_ROUNDINGS * _U32 * np.eye(d + 1)
    try:
        np.linalg.cholesky(aug)  # all at once; one by one only if some fail
    except np.linalg.LinAlgError:
        for j, m in zip(live, aug, strict=True):
            try:
                np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                safe[j] = False
    return safe


def unwhiten(factors: Array, s1: Array, s2: Array) -> None:
    """Whitened sums (``y = (z - m) U``, ``U`` upper-triangular) back to ``z - m``, in place.

    ``z - m = y U⁻¹``: ``s1 <- s1 U⁻¹`` and ``s2 <- U⁻ᵀ s2 U⁻¹``, by solves with ``Uᵀ`` in
    float64, all components at once (per-component triangular solves would each pay
    numpy's per-call overhead).
    """
    lower = np.swapaxes(np.triu(factors), 1, 2)  # Uᵀ
    s1[:] = np.linalg.solve(lower, s1[:, :, None])[:, :, 0]
    half = np.linalg.solve(lower, s2)  # U⁻ᵀ s2
    full = np.linalg.solve(lower, np.swapaxes(half, 1, 2))  # U⁻ᵀ (U⁻ᵀ s2)ᵀ = U⁻ᵀ s2 U⁻¹
    s2[:] = 0.5 * (full + np.swapaxes(full, 1, 2))
