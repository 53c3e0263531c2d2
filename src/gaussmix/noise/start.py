"""Where a noise component starts: the rows in sparse regions, by nearest-neighbour
clutter removal (Byers & Raftery 1998, the rule of prabclus's ``NNclean``).

Under a homogeneous Poisson process of intensity ``lambda`` in ``d`` dimensions, the volume
``Y`` of the ball reaching a point's ``K``-th nearest neighbour is Gamma-distributed with
shape ``K`` and rate ``lambda``.  Features (dense) and clutter (sparse) are two such
processes, so the volumes follow a mixture of two Gammas of shape ``K``, fitted by EM in
one dimension; a row whose posterior of the sparse one exceeds one half starts as noise.
The mixture's start leaves those rows out of its components' start (as mclust's
hierarchical start leaves out the rows given as noise) and gives the noise component
their share of the rows, within [:data:`START_SHARE_MIN`, :data:`START_SHARE_MAX`].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from ..multistart import StartFactory
from ..params import Params
from ..sources import RowSource
from ..strategy import DegenerateMixtureError

Array = NDArray[np.float64]

#: the ``K`` of the ``K``-th nearest neighbour: ``K - 1`` rows close together may still be
#: taken for clutter, ``K`` not
NEIGHBOURS = 5
#: the rule reads at most this many rows (evenly spread), its cost being their square
SAMPLE = 2048
#: the noise weight's start lies in this range, so that EM can still move it either way
START_SHARE_MIN = 0.01
START_SHARE_MAX = 0.5
_BLOCK = 512


def kth_neighbour_distance(Z: Array, k: int) -> Array:
    """Each row's Euclidean distance to its ``k``-th nearest other row (m,), by blocks of
    rows against all (``O(m^2 d)``)."""
    m = Z.shape[0]
    sq = np.einsum("ij,ij->i", Z, Z)
    out = np.empty(m)
    for a in range(0, m, _BLOCK):
        b = min(a + _BLOCK, m)
        dist = sq[a:b, None] - 2.0 * (Z[a:b] @ Z.T) + sq[None, :]
        dist[np.arange(b - a), np.arange(a, b)] = -np.inf  # the row itself comes first
        out[a:b] = np.partition(dist, k, axis=1)[:, k]
    return np.sqrt(np.maximum(out, 0.0))


def clutter(
    Z: NDArray[np.floating], n_neighbours: int = NEIGHBOURS, max_iter: int = 200
) -> NDArray[np.bool_]:
    """Rows of ``Z`` (m, d) in sparse regions: those the two-Gamma mixture of their
    ``n_neighbours``-th neighbour's ball volumes gives to the sparser process.

    No row is flagged when there are too few rows or the volumes show no sparse part.
    """
    Zf = np.asarray(Z, dtype=np.float64)
    m, d = Zf.shape
    none = np.zeros(m, dtype=bool)
    K = n_neighbours
    if m <= 2 * K:
        return none
    dist = kth_neighbour_distance(Zf, K)
    positive = dist[dist > 0]
    if positive.size < m // 2:  # mostly repeated rows: no volume to speak of
        return none
    # ball volumes in units of their median's (their ratios are all the mixture reads)
    with np.errstate(divide="ignore"):
        log_u = d * (np.log(dist) - np.log(np.median(positive)))
    u = np.exp(np.minimum(log_u, 700.0))
    r = (u > np.quantile(u, 0.9)).astype(np.float64)  # the sparsest tenth starts as clutter
    for _ in range(max_iter):
        share = float(r.mean())
        if not 0.0 < share < 1.0:
            return none
        rate_c = K * r.sum() / float(r @ u)
        rate_f = K * (1.0 - r).sum() / float((1.0 - r) @ u)
        if not rate_c < rate_f:  # the "sparse" process is not sparser
            return none
        logit = (
            np.log(share / (1.0 - share))
            + K * (np.log(rate_c) - np.log(rate_f))
            - (rate_c - rate_f) * u
        )
        new = expit(logit)
        done = float(np.max(np.abs(new - r))) < 1e-8
        r = new
        if done:
            break
    return np.asarray(r > 0.5)


def noise_start(start: StartFactory, n_components: int) -> StartFactory:
    """``start`` with a noise component: its components start from the rows
    :func:`clutter` leaves (of at most :data:`SAMPLE` rows, evenly spread), and each start's
    weights are scaled to leave the noise component the flagged rows' share (the strategy
    reads it as one minus their sum)."""

    def make(
        rows: RowSource, rngs: Sequence[np.random.Generator]
    ) -> list[Params | DegenerateMixtureError]:
        sw = rows.sample_weight
        candidates = np.arange(rows.n_rows)
        if isinstance(sw, np.ndarray):
            candidates = np.flatnonzero(sw > 0)
        step = max(1, -(-candidates.size // SAMPLE))
        picked = candidates[::step]
        flagged = clutter(np.asarray(rows.take(picked)))
        clean = picked[~flagged]
        share = float(flagged.mean()) if flagged.size else 0.0
        # enough rows left to start the components from, else all of them
        base = rows.subset(clean) if flagged.any() and clean.size >= 2 * n_components else rows
        made = start(base, rngs)
        noise = min(max(share, START_SHARE_MIN), START_SHARE_MAX)
        for params in made:
            if isinstance(params, Params):
                params.weights = params.weights / params.weights.sum() * (1.0 - noise)
        return made

    return make


__all__ = [
    "NEIGHBOURS",
    "SAMPLE",
    "START_SHARE_MAX",
    "START_SHARE_MIN",
    "clutter",
    "kth_neighbour_distance",
    "noise_start",
]
