"""A common orientation for several diagonal scalings: Jacobi rotations.

Given weighted scatter matrices ``W_k`` and positive diagonals ``m_k`` (the inverses of the
components' eigenvalues), the orientation ``D`` (orthogonal) of the models EVE and VVE minimises

    g(D) = sum_k tr(W_k D diag(m_k) Dᵀ).

Rotating two columns ``a, b`` of ``D`` by an angle ``t`` changes ``g`` by
``A cos 2t + B sin 2t`` plus a constant, with ``A = sum_k (m_ka - m_kb)(G_kaa - G_kbb) / 2``
and ``B = sum_k (m_ka - m_kb) G_kab`` where ``G_k = Dᵀ W_k D``; its exact minimiser is
``2t = atan2(-B, -A)``.  Rotations of disjoint pairs change disjoint diagonal entries of the
``G_k``, so their effects add: one *round* rotates ``d / 2`` disjoint pairs at once (one
product per component), and ``d - 1`` rounds of a round-robin schedule visit every pair (a
sweep).  Each rotation is exact, so ``g`` never increases, and a fixed point of the sweeps is
a stationary point of ``g`` on the orthogonal group (its pair rotations span the tangent
space).  This is a cyclic Jacobi method, akin to Flury & Gautschi's algorithm for common
principal components; Browne & McNicholas (2014) majorise ``g`` instead (one SVD per
step).

:func:`rotation_sweep` runs in the C extension ``gaussmix._jacobi`` where it was built
(:func:`compiled`), in numpy otherwise (:func:`rotation_sweep_numpy`: the same rotations, up
to rounding).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

try:  # the optional C extension (setup.py); without it the same sweep runs in numpy
    from .. import _jacobi as _compiled
except ImportError:  # pragma: no cover - depends on the build
    _compiled = None  # type: ignore[assignment]

Array = NDArray[np.float64]


def compiled() -> bool:
    """Whether the sweep runs in the C extension ``gaussmix._jacobi``."""
    return _compiled is not None


@lru_cache(maxsize=32)
def round_robin(d: int) -> tuple[tuple[NDArray[np.intp], NDArray[np.intp]], ...]:
    """The rounds ``(a, b)`` of disjoint pairs that together hold each pair of ``range(d)``
    once (the circle method; with ``d`` odd, one index rests in each round)."""
    m = d + d % 2
    order = list(range(m))
    rounds = []
    for _ in range(m - 1):
        pairs = [(order[i], order[m - 1 - i]) for i in range(m // 2)]
        pairs = [(min(p), max(p)) for p in pairs if max(p) < d]
        rounds.append(
            (np.array([p[0] for p in pairs], np.intp), np.array([p[1] for p in pairs], np.intp))
        )
        order = [order[0], order[-1], *order[1:-1]]
    return tuple(rounds)


@lru_cache(maxsize=32)
def _pairs(d: int) -> NDArray[np.int64]:
    """The pairs of :func:`round_robin`, round after round, as an (p, 2) array."""
    rounds = round_robin(d)
    a = np.concatenate([r[0] for r in rounds]) if rounds else np.zeros(0, np.intp)
    b = np.concatenate([r[1] for r in rounds]) if rounds else np.zeros(0, np.intp)
    pairs = np.ascontiguousarray(np.stack([a, b], axis=1), dtype=np.int64)
    pairs.setflags(write=False)
    return pairs


def objective(D: Array, W: Array, m: Array) -> float:
    """``sum_k tr(W_k D diag(m_k) Dᵀ)``."""
    return float(np.einsum("kb,kb->", m, np.einsum("ab,kac,cb->kb", D, W, D)))


def rotation_sweep(D: Array, W: Array, m: Array, use_compiled: bool = True) -> Array:
    """One sweep of exact pair rotations from ``D`` (d, d); ``W`` (k, d, d), ``m`` (k, d).

    Returns a new orthogonal matrix whose objective is at most ``D``'s; in the C extension
    where it was built and ``use_compiled``.
    """
    if _compiled is None or not use_compiled:
        return rotation_sweep_numpy(D, W, m)
    out = np.empty_like(D, dtype=np.float64)
    _compiled.sweep(
        np.ascontiguousarray(D, dtype=np.float64), np.ascontiguousarray(W, dtype=np.float64),
        np.ascontiguousarray(m, dtype=np.float64), _pairs(D.shape[0]), out,
    )  # fmt: skip
    return out


def alternate(
    D: Array,
    weighted: Array,
    scatter: Array,
    n: Array,
    equal_volume: bool,
    threshold: float,
    max_iter: int,
) -> tuple[Array, Array] | None:
    """The whole alternation of :mod:`gaussmix.covariance.common_orientation`'s M-step in
    the C extension: sweeps from ``D`` and the eigenvalues' closed form, until a step lowers
    the objective by at most ``threshold``; returns ``(D, delta)``, or ``None`` where the
    extension was not built."""
    if _compiled is None:
        return None
    k, d = n.shape[0], D.shape[0]
    D = np.array(D, dtype=np.float64, order="C")
    delta = np.empty((k, d))
    _compiled.orient(
        D, np.ascontiguousarray(weighted, dtype=np.float64),
        np.ascontiguousarray(scatter, dtype=np.float64), np.ascontiguousarray(n, np.float64),
        equal_volume, float(threshold), int(max_iter), _pairs(d), delta,
    )  # fmt: skip
    return D, delta


def rotation_sweep_numpy(D: Array, W: Array, m: Array) -> Array:
    """:func:`rotation_sweep` in numpy: each round's disjoint pairs rotated at once."""
    d = D.shape[0]
    D = D.copy()
    G = np.matmul(np.matmul(D.T, W), D)
    for a, b in round_robin(d):
        if a.size == 0:
            continue
        dm = m[:, a] - m[:, b]
        A = 0.5 * np.einsum("kp,kp->p", dm, G[:, a, a] - G[:, b, b])
        B = np.einsum("kp,kp->p", dm, G[:, a, b])
        # no gain (A = B = 0, exactly): no rotation, rather than atan2's arbitrary angle
        half = np.where((A != 0) | (B != 0), 0.5 * np.arctan2(-B, -A), 0.0)
        c, s = np.cos(half), np.sin(half)
        R = np.eye(d)
        R[a, a] = c
        R[b, b] = c
        R[b, a] = s
        R[a, b] = -s
        D = D @ R
        G = np.matmul(np.matmul(R.T, G), R)
    return D
