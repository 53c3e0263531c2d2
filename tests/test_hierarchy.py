"""The model-based hierarchical agglomeration: the tree against a brute-force agglomeration
of the criterion written out from its definition, mclust's tree of iris, the scaled SVD
coordinates, and the partitions it gives (nested, numbered by first row)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

from gaussmix.datasets import load_faithful
from gaussmix.hierarchy import BETA, Tree, agglomerate, compiled, transform


def criterion(rows: np.ndarray, alpha: float) -> float:
    """A cluster's cost from its rows, as the module's docstring defines it."""
    n, d = rows.shape
    centred = rows - rows.mean(axis=0)
    scatter = centred.T @ centred
    det = np.linalg.det(scatter / n) if n > d else 0.0
    return float(n * np.log(max(det, 0.0) + BETA * (np.trace(scatter) + alpha) / n))


def brute_force(Z: np.ndarray) -> list[tuple[int, int]]:
    """Every step, every pair of clusters' merge cost from scratch; the cheapest merged
    (ties to the highest last rows, as mclust's), each cluster named by its last row."""
    m, d = Z.shape
    alpha = float(((Z - Z.mean(axis=0)) ** 2).sum()) / (m * d)
    clusters = [[i] for i in reversed(range(m))]
    merges = []
    while len(clusters) > 1:
        best = None
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                both = Z[clusters[a] + clusters[b]]
                cost = (
                    criterion(both, alpha)
                    - criterion(Z[clusters[a]], alpha)
                    - criterion(Z[clusters[b]], alpha)
                )
                if best is None or cost < best[0] - 1e-12:
                    best = (cost, a, b)
        assert best is not None
        _, a, b = best
        merges.append((max(clusters[a]), max(clusters[b])))
        clusters[a] = clusters[a] + clusters[b]
        del clusters[b]
    return merges


@pytest.mark.parametrize(("m", "d"), [(14, 2), (12, 3), (10, 1)])
@pytest.mark.parametrize("use_compiled", [True, False])
def test_the_tree_is_the_brute_force_agglomeration(rng, m, d, use_compiled):
    Z = rng.normal(size=(m, d)) + rng.integers(0, 3, size=(m, 1)) * 4.0
    Z[m // 2] = Z[1]  # duplicates: a tie, broken as mclust breaks it
    Z[m - 1] = Z[2]
    tree = agglomerate(Z, use_compiled=use_compiled)
    assert [tuple(int(i) for i in pair) for pair in tree.merges] == brute_force(Z)
    assert tree.n_rows == m and tree.costs.shape == (m - 1,)


@pytest.mark.skipif(not compiled(), reason="the compiled agglomeration was not built")
def test_single_rows_joining_a_cluster_merge_as_in_numpy(rng):
    """Rows scattered about a core join its cluster one at a time.  The compiled version takes
    a single row's merge with a cluster of at least d rows from the cluster's factored scatter
    (the determinant lemma); the tree is the numpy version's, merge for merge, with the same
    costs to rounding."""
    d = 3
    core = rng.normal(size=(60, d))
    away = rng.normal(size=(20, d))
    away *= rng.uniform(3.0, 6.0, size=(20, 1)) / np.linalg.norm(away, axis=1, keepdims=True)
    Z = np.vstack([core, away])
    fast, reference = agglomerate(Z), agglomerate(Z, use_compiled=False)
    np.testing.assert_array_equal(fast.merges, reference.merges)
    np.testing.assert_allclose(fast.costs, reference.costs, rtol=1e-9, atol=1e-9)
    sizes = dict.fromkeys(range(Z.shape[0]), 1)
    joined = 0  # single rows merged into a cluster of d rows or more: the lemma's case
    for a, b in fast.merges:
        pair = sorted((sizes[int(a)], sizes[int(b)]))
        joined += pair[0] == 1 and pair[1] >= d
        sizes[int(a)] += sizes.pop(int(b))
    assert joined > 10


def test_faithful_gives_mclusts_tree_with_its_ties():
    """mclust 6.0.0: ``table(hclass(hc(faithful, modelName = "VVV", use = "SVD"), 3:5))``
    gives clusters of 40, 97, 135, then 40, 65, 135, 32, then 40, 65, 65, 32, 70 rows (in
    order of their first rows); Old Faithful has 16 duplicated rows, whose ties decide it."""
    X, _ = load_faithful()
    parts = agglomerate(transform(np.asarray(X, dtype=np.float64))).partitions([3, 4, 5])
    assert np.bincount(parts[3]).tolist() == [40, 97, 135]
    assert np.bincount(parts[4]).tolist() == [40, 65, 135, 32]
    assert np.bincount(parts[5]).tolist() == [40, 65, 65, 32, 70]


def test_iris_gives_mclusts_tree():
    """mclust 6.0.0: ``table(hclass(hc(iris[, 1:4], modelName = "VVV", use = "SVD"),
    2:4))`` gives clusters of 49 and 101 rows, then 49, 62, 39, then 33, 16, 62, 39,
    numbered by their first row."""
    tree = agglomerate(transform(load_iris().data))
    parts = tree.partitions([2, 3, 4])
    assert np.bincount(parts[2]).tolist() == [49, 101]
    assert np.bincount(parts[3]).tolist() == [49, 62, 39]
    assert np.bincount(parts[4]).tolist() == [33, 16, 62, 39]


def test_partitions_are_nested_and_numbered_by_first_row(rng):
    Z = rng.normal(size=(60, 3))
    tree = agglomerate(Z)
    parts = tree.partitions(range(1, 61))
    assert parts[1].tolist() == [0] * 60
    assert parts[60].tolist() == list(range(60))
    for k in range(1, 60):
        finer, coarser = parts[k + 1], parts[k]
        assert len(np.unique(finer)) == k + 1
        # every cluster of k + 1 lies in one cluster of k
        for c in range(k + 1):
            assert len(np.unique(coarser[finer == c])) == 1
        first = [int(np.flatnonzero(finer == c)[0]) for c in range(k + 1)]
        assert first == sorted(first)
    np.testing.assert_array_equal(tree.labels(4), parts[4])
    with pytest.raises(ValueError, match="1 to 60 clusters"):
        tree.labels(61)


def test_duplicate_rows_merge_first_and_constant_columns_are_dropped(rng):
    Z = rng.normal(size=(30, 3))
    Z[7] = Z[3]
    tree = agglomerate(Z)
    assert tuple(tree.merges[0]) == (7, 3)
    X = np.column_stack([rng.normal(size=40), np.full(40, 2.5), rng.normal(size=40)])
    assert transform(X).shape == (40, 2)
    assert transform(np.ones((5, 2))).shape == (5, 1)
    assert isinstance(agglomerate(np.zeros((1, 2))), Tree)


def test_scaled_svd_coordinates(rng):
    """Scrucca & Raftery (2015): standardised columns on their principal axes, each divided by
    the square root of its singular value, so ``Zᵀ Z`` is the singular values' diagonal."""
    X = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 4)) + 5.0
    Z = transform(X)
    standard = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    values = np.linalg.svd(standard, compute_uv=False)
    np.testing.assert_allclose(Z.T @ Z, np.diag(values), atol=1e-9 * values.max())
    np.testing.assert_array_equal(transform(X, "none"), X)
    with pytest.raises(ValueError, match="Unknown transform"):
        transform(X, "pca")
