"""Model-based agglomerative hierarchical clustering: one tree, a partition for every k.

Starting from one cluster per row, the two clusters whose merge costs the least
classification log-likelihood are merged, until one cluster is left (Banfield & Raftery
1993; Fraley 1998).  The criterion is the unconstrained (VVV) one, regularised so that it is
defined for clusters of fewer rows than features: a cluster of ``n`` rows with scatter ``W``
(about its mean) and trace ``t`` costs

    n log( det(W / n) + beta (t + alpha) / n ),

where ``det(W / n)`` is zero below ``d + 1`` rows (the scatter is singular there, and the
cost is a function of the trace alone: small clusters merge by spread) and ``alpha`` is the
data's mean variance per feature (``beta = 1``), the regularisation of Fraley (1998) as
mclust uses it.  A merge's cost is the merged cluster's minus its two parts'.

The tree is computed on a transformation of the rows (:func:`transform`): by default the
scaled SVD of Scrucca & Raftery (2015) — columns standardised, rotated onto their principal
axes and divided by the square roots of the singular values —, which they found to give
better starts for EM than the raw or sphered variables.

Cost, for ``m`` rows and ``d`` features: the ``m x m`` matrix of merge costs (``8 m²``
bytes: 32 MB at the default 2,000 rows), the ``m (m - 1) / 2`` costs of singleton pairs by
one matrix product, and after each of the ``m - 1`` merges the costs of the merged cluster
against every other, one determinant of a ``d x d`` matrix each for merges of more than
``d`` rows: ``O(m² d³)`` in all.  Against a single row the compiled version takes the
determinant from the merged cluster's factored scatter (the matrix determinant lemma,
``O(d²)``): rows without cluster structure merge in chains, one cluster taking in single
rows, where the ``d³`` determinants would dominate.  :func:`agglomerate` runs in the C extension
``gaussmix._hierarchy`` where it was built (:func:`compiled`), in numpy otherwise (one array
operation per merge over all clusters; the same merges, ties included, up to rounding).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

try:  # the optional C extension (setup.py); without it the same agglomeration runs in numpy
    from . import _hierarchy as _compiled
except ImportError:  # pragma: no cover - depends on the build
    _compiled = None  # type: ignore[assignment]

Array = NDArray[np.float64]

#: rows of the subsample the tree is computed on, as mclust's ``subset`` (the tree costs
#: ``O(m²)`` memory and ``O(m² d³)`` time)
TREE_ROWS = 2_000

#: the regularisation's weight on a cluster's trace (Fraley's ``beta``)
BETA = 1.0

TRANSFORMS = ("svd", "none")


def transform(rows: Array, how: str = "svd") -> Array:
    """The coordinates the tree is computed in.

    ``"svd"``: each column centred and divided by its standard deviation (constant columns
    left out), then rotated onto the principal axes and each axis divided by the square root
    of its singular value (Scrucca & Raftery 2015).  ``"none"``: the rows as they are.
    """
    if how == "none":
        return np.asarray(rows, dtype=np.float64)
    if how != "svd":
        raise ValueError(f"Unknown transform {how!r}; use one of {TRANSFORMS}.")
    X = np.ascontiguousarray(rows, dtype=np.float64)  # the same rounding for any layout
    centred = X - X.mean(axis=0)
    sd = np.sqrt((centred * centred).sum(axis=0) / max(X.shape[0] - 1, 1))
    keep = sd > 0
    if not keep.any():
        return np.zeros((X.shape[0], 1))
    standard = centred[:, keep] / sd[keep]
    _, values, vt = np.linalg.svd(standard, full_matrices=False)
    rank = values > values[0] * X.shape[0] * np.finfo(np.float64).eps if values.size else values
    values, vt = values[rank], vt[rank]
    return np.asarray(standard @ vt.T / np.sqrt(values))


@dataclass(frozen=True)
class Tree:
    """The merges of an agglomeration of ``n_rows`` rows.

    Attributes
    ----------
    merges : ndarray of shape (n_rows - 1, 2)
        At step ``s`` the cluster holding row ``merges[s, 1]`` joins the one holding row
        ``merges[s, 0]`` (each cluster is named by its last row).
    costs : ndarray of shape (n_rows - 1,)
        Each merge's cost in classification log-likelihood (the criterion's change).
    """

    merges: NDArray[np.intp]
    costs: Array

    @property
    def n_rows(self) -> int:
        return int(self.merges.shape[0] + 1)

    def labels(self, n_clusters: int) -> NDArray[np.intp]:
        """Each row's cluster (0 .. n_clusters - 1, numbered by their first row) when
        ``n_clusters`` are left."""
        return self.partitions([n_clusters])[n_clusters]

    def partitions(self, n_clusters: Iterable[int]) -> dict[int, NDArray[np.intp]]:
        """:meth:`labels` for several numbers of clusters, from one replay of the merges."""
        wanted = sorted({int(k) for k in n_clusters}, reverse=True)
        m = self.n_rows
        for k in wanted:
            if not 1 <= k <= m:
                raise ValueError(f"A tree of {m} rows has 1 to {m} clusters; asked for {k}.")
        parent = np.arange(m)
        out: dict[int, NDArray[np.intp]] = {}
        done = 0
        for k in wanted:
            for a, b in self.merges[done : m - k]:
                parent[b] = a
            done = m - k
            root = parent.copy()
            while True:  # path halving by whole arrays: each pass follows every link once
                nxt = root[root]
                if np.array_equal(nxt, root):
                    break
                root = nxt
            _, first, labels = np.unique(root, return_index=True, return_inverse=True)
            # numbered by first row, whatever the merge order
            order = np.argsort(np.argsort(first))
            out[k] = order[labels.ravel()].astype(np.intp)
        return out


def _terms(n: Array, det: Array, trace: Array, alpha: float) -> Array:
    """The criterion of clusters of ``n`` rows: ``n log(det(W / n) + beta (t + alpha) / n)``."""
    return np.asarray(n * np.log(np.maximum(det, 0.0) + BETA * (trace + alpha) / n))


def compiled() -> bool:
    """Whether :func:`agglomerate` runs in the C extension."""
    return _compiled is not None


def agglomerate(Z: Array, *, use_compiled: bool = True) -> Tree:
    """The model-based hierarchical agglomeration of the rows of ``Z`` (m, d), see the
    module's docstring.  Ties (duplicate rows) go to the pair of clusters with the highest
    last rows, as mclust's do, so that its trees and starts are reproduced.  ``use_compiled``:
    run in the C extension where it was built."""
    m, d = np.shape(Z)
    if m < 2:
        return Tree(np.empty((0, 2), np.intp), np.empty(0))
    # the agglomeration breaks ties to the lowest first rows: run it on the rows reversed
    Z = np.ascontiguousarray(np.asarray(Z, dtype=np.float64)[::-1])
    centred = Z - Z.mean(axis=0)
    alpha = max(float(np.einsum("ij,ij->", centred, centred)) / (m * d), np.finfo(float).eps)
    if use_compiled and _compiled is not None:
        merges = np.empty((m - 1, 2), dtype=np.int64)
        costs = np.empty(m - 1)
        _compiled.agglomerate(Z, alpha, BETA, merges, costs)
        tree = Tree(merges.astype(np.intp), costs)
    else:
        tree = _agglomerate(Z, alpha)
    return Tree((m - 1) - tree.merges, tree.costs)


def _agglomerate(Z: Array, alpha: float) -> Tree:
    """:func:`agglomerate` in numpy, ties to the lowest first rows (clusters named by their
    first row)."""
    m, d = Z.shape
    count = np.ones(m)
    mean = Z.copy()
    scatter = np.zeros((m, d, d))
    trace = np.zeros(m)
    term = _terms(count, np.zeros(m), trace, alpha)

    # every pair of singletons: two rows, scatter v vᵀ / 2 with v their difference (formed
    # row block by row block, as differences: exact for close rows)
    dist = np.empty((m, m))
    for lo in range(0, m, 256):
        diff = Z[lo : lo + 256, None, :] - Z[None, :, :]
        dist[lo : lo + 256] = np.einsum("ijf,ijf->ij", diff, diff)
    # det(W / 2) of two rows is zero unless d = 1, where it is the trace's half
    pair_det = dist / 4.0 if d == 1 else np.zeros_like(dist)
    cost = _terms(np.full_like(dist, 2.0), pair_det, dist / 2.0, alpha) - 2.0 * term[0]
    np.fill_diagonal(cost, np.inf)
    best = np.argmin(cost, axis=1)
    best_cost = cost[np.arange(m), best]
    active = np.ones(m, dtype=bool)
    merges = np.empty((m - 1, 2), dtype=np.intp)
    costs = np.empty(m - 1)

    for step in range(m - 1):
        i = int(np.argmin(best_cost))
        j = int(best[i])
        a, b = (i, j) if i < j else (j, i)
        merges[step] = a, b
        costs[step] = best_cost[i]
        # a absorbs b
        na, nb = count[a], count[b]
        delta = mean[b] - mean[a]
        c = na * nb / (na + nb)
        scatter[a] += scatter[b] + c * np.outer(delta, delta)
        trace[a] += trace[b] + c * float(delta @ delta)
        mean[a] += (nb / (na + nb)) * delta
        count[a] = na + nb
        term[a] = cost[a, b] + term[a] + term[b]
        active[b] = False
        cost[b, :] = np.inf
        cost[:, b] = np.inf
        best_cost[b] = np.inf
        if step == m - 2:
            break
        others = np.flatnonzero(active)
        others = others[others != a]
        row = _merge_costs(a, others, count, mean, scatter, trace, term, alpha)
        cost[a, others] = row
        cost[others, a] = row
        # clusters whose best partner was a or b look again; the others compare with a
        stale = (best[others] == a) | (best[others] == b)
        redo = others[stale]
        if redo.size:
            best[redo] = np.argmin(cost[redo], axis=1)
            best_cost[redo] = cost[redo, best[redo]]
        keep = others[~stale]
        closer = row[~stale] < best_cost[keep]
        best[keep[closer]] = a
        best_cost[keep[closer]] = row[~stale][closer]
        # equal costs go to the lower row, as a fresh search would
        tie = (row[~stale] == best_cost[keep]) & (a < best[keep])
        best[keep[tie]] = a
        k = int(np.argmin(cost[a]))
        best[a], best_cost[a] = k, cost[a, k]
    return Tree(merges, costs)


def _merge_costs(
    a: int,
    others: NDArray[np.intp],
    count: Array,
    mean: Array,
    scatter: Array,
    trace: Array,
    term: Array,
    alpha: float,
) -> Array:
    """The cost of merging cluster ``a`` with each of ``others``."""
    d = mean.shape[1]
    n = count[a] + count[others]
    c = count[a] * count[others] / n
    delta = mean[others] - mean[a]
    t = trace[a] + trace[others] + c * np.einsum("ij,ij->i", delta, delta)
    det = np.zeros(others.shape[0])
    big = np.flatnonzero(n > d)  # fewer rows: a singular scatter, det zero
    if big.size:
        merged = scatter[others[big]] + scatter[a]
        merged += c[big, None, None] * delta[big, :, None] * delta[big, None, :]
        merged /= n[big, None, None]
        det[big] = np.linalg.det(merged)
    return _terms(n, det, t, alpha) - term[a] - term[others]


__all__ = ["BETA", "TRANSFORMS", "TREE_ROWS", "Tree", "agglomerate", "compiled", "transform"]
