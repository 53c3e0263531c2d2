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
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


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


def objective(D: Array, W: Array, m: Array) -> float:
    """``sum_k tr(W_k D diag(m_k) Dᵀ)``."""
    return float(np.einsum("kb,kb->", m, np.einsum("ab,kac,cb->kb", D, W, D)))


def rotation_sweep(D: Array, W: Array, m: Array) -> Array:
    """One sweep of exact pair rotations from ``D`` (d, d); ``W`` (k, d, d), ``m`` (k, d).

    Returns a new orthogonal matrix whose objective is at most ``D``'s.
    """
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
