"""Row sources: the contract every source keeps, and statistics that travel.

Every source (a numpy array, a memory-mapped ``.npy`` file, ``BlockSource``, rows in
blocks whose passes are merged, ``DaskSource`` on a real local cluster, the sources read
out of core — ``NpySource`` of a file, of a memory map and of a strided view of one,
``ParquetSource`` of a file and of a folder — and ``IncompleteSource`` of complete rows)
must give the same passes, statistics, worst rows and fits as the rows in memory.
Statistics computed in other processes (``multiprocessing`` with spawn) merge to the
in-memory result.
"""

from __future__ import annotations

import itertools
import multiprocessing
import pickle

import numpy as np
import pytest

from gaussmix.covariance import COVARIANCE_TYPES, get_family
from gaussmix.engine import (
    Frame,
    WorstRows,
    gaussian_terms,
    merge_results,
    mixture_pass,
    unit_terms,
)
from gaussmix.incomplete.source import IncompleteSource
from gaussmix.init import initialize
from gaussmix.multistart import fit_multistart
from gaussmix.ondisk import NpySource, ParquetSource
from gaussmix.params import Params
from gaussmix.regularisation import internal_reg
from gaussmix.sources import ArraySource, BlockedRows, RowSource
from gaussmix.stats import SuffStats
from gaussmix.strategy import MaximumLikelihood, reseed

from ._blocks import BlockSource, block_pass
from ._data import make_blobs

N, D, K = 2400, 3, 4
BOUNDS = [0, 700, 1501, N]


def memmap(X: np.ndarray, tmp_path) -> np.ndarray:
    path = tmp_path / "rows.npy"
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def strided_memmap(X: np.ndarray, tmp_path) -> np.ndarray:
    """A memory map of ``X``'s columns within a wider array (not C-contiguous)."""
    path = tmp_path / "wide.npy"
    np.save(path, np.concatenate([X, X[:, :2]], axis=1))
    return np.load(path, mmap_mode="r")[:, : X.shape[1]]


def parquet(X: np.ndarray, tmp_path, files: int = 1):
    """``X`` in Parquet, row groups of 700 rows (a folder of ``files`` files if more)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    names = [f"f{j}" for j in range(X.shape[1])]
    if files == 1:
        path = tmp_path / "rows.parquet"
        pq.write_table(pa.table(dict(zip(names, X.T, strict=True))), path, row_group_size=700)
        return path
    folder = tmp_path / "rows"
    (folder / "part").mkdir(parents=True)
    for i, part in enumerate(np.array_split(X, files)):
        table = pa.table(dict(zip(names, part.T, strict=True)))
        # subfolders count, in the order of the paths
        pq.write_table(table, folder / ("part" if i else "") / f"{i:02d}.pq", row_group_size=700)
    return folder


def dask_source(X: np.ndarray, w: np.ndarray | None) -> RowSource:
    """The rows as a Dask array in the blocks ``BOUNDS`` (held on the test cluster)."""
    da = pytest.importorskip("dask.array")
    from gaussmix.dask.source import DaskSource

    chunks = (tuple(np.diff(BOUNDS).tolist()),)
    Xd = da.from_array(X, chunks=(chunks[0], X.shape[1])).persist()
    return DaskSource(Xd, None if w is None else da.from_array(w, chunks=chunks).persist())


SOURCES = {
    "array": lambda X, w, tmp: ArraySource(X, w),
    "memmap": lambda X, w, tmp: ArraySource(memmap(X, tmp), w),
    "blocks": lambda X, w, tmp: BlockSource(X, w, BOUNDS),
    "dask": lambda X, w, tmp: dask_source(X, w),
    "npy": lambda X, w, tmp: NpySource(memmap(X, tmp).filename, w, block_rows=700),
    "npy-memmap": lambda X, w, tmp: NpySource(memmap(X, tmp)[:], w, block_rows=650),
    "npy-strided": lambda X, w, tmp: NpySource(strided_memmap(X, tmp), w, block_rows=800),
    "parquet": lambda X, w, tmp: ParquetSource(parquet(X, tmp), sample_weight=w),
    "parquet-folder": lambda X, w, tmp: ParquetSource(parquet(X, tmp, 3), sample_weight=w),
    "incomplete": lambda X, w, tmp: IncompleteSource(X, w),
}


def make_source(kind: str, X: np.ndarray, w: np.ndarray | None, tmp_path, request) -> RowSource:
    if kind == "dask":  # on a real cluster of worker processes
        request.getfixturevalue("dask_client")
    return SOURCES[kind](X, w, tmp_path)


@pytest.fixture
def problem(rng):
    X, _, _ = make_blobs(rng, n=N, d=D, k=K, spread=4.0)
    X[5] += 40.0  # a few rows far out, so that the worst rows are well defined
    X[1900] -= 35.0
    weights = rng.uniform(0.2, 3.0, size=N)
    weights[::7] = 0.0
    frame = Frame.from_data(X)
    family = get_family("full")
    cov = np.stack([np.eye(D) * 2.0] * K)
    chol, _ = family.precisions_cholesky(cov / frame.scale[0] ** 2)
    means = frame.to_internal(X[[0, 600, 1200, 1800]])
    params = Params(np.full(K, 1 / K), means, cov / frame.scale[0] ** 2, chol)
    return X, weights, frame, params


def assert_same_stats(a: SuffStats, b: SuffStats, rtol: float = 1e-12) -> None:
    np.testing.assert_allclose(a.N, b.N, rtol=rtol)
    np.testing.assert_allclose(a.means(), b.means(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(a.scatter(), b.scatter(), rtol=1e-10, atol=1e-12)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=rtol)
    assert a.weight == pytest.approx(b.weight, rel=rtol)
    assert a.n_rows == b.n_rows


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", SOURCES)
def test_source_contract(kind, weighted, problem, tmp_path, request):
    X, weights, frame, params = problem
    w = weights if weighted else None
    source = make_source(kind, X, w, tmp_path, request)
    memory = ArraySource(X, w)
    assert isinstance(source, RowSource)
    assert (source.n_rows, source.n_features, source.dtype) == (N, D, X.dtype)
    if w is None:
        assert source.sample_weight is None
    else:  # a Dask source's weights are a Dask array
        np.testing.assert_array_equal(np.asarray(source.sample_weight), w)
    rows = np.array([3, 2399, 0, 1501, 700, 699])
    np.testing.assert_array_equal(source.take(rows), X[rows])
    sub = source.subset(rows)
    np.testing.assert_array_equal(sub.take(np.arange(len(rows))), X[rows])
    if weighted:
        np.testing.assert_array_equal(sub.sample_weight, weights[rows])

    family = get_family("full")
    terms = gaussian_terms(params, family)
    options = {"resp": True, "log_density": True, "labels": True, "n_worst": K}
    got = source.mixture_pass(terms, frame, **options)
    want = memory.mixture_pass(terms, frame, **options)
    assert got.stats is not None and want.stats is not None
    assert_same_stats(got.stats, want.stats)
    np.testing.assert_allclose(got.resp, want.resp, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(got.log_density, want.log_density, rtol=1e-12)
    np.testing.assert_array_equal(got.labels, want.labels)
    np.testing.assert_array_equal(got.worst_rows, want.worst_rows)
    assert {5, 1900} <= set(got.worst_rows.tolist())

    labels = (np.arange(N) * 7) % K  # hard labels by global row
    soft = np.random.default_rng(3).dirichlet(np.ones(K), size=N)
    unit = unit_terms(family.moments, params.means)
    for given in (lambda r: labels[r], lambda r: soft[r]):
        a, b = (s.mixture_pass(unit, frame, given=given).stats for s in (source, memory))
        assert a is not None and b is not None
        assert_same_stats(a, b)
    a, b = (s.mixture_pass(unit, frame, hard=True).stats for s in (source, memory))
    assert a is not None and b is not None
    assert_same_stats(a, b)

    # the box of the rows of positive weight, along the coordinate axes or rotated ones
    axes = np.linalg.qr(np.arange(D * D, dtype=float).reshape(D, D) + np.eye(D))[0]
    kept = X if w is None else X[w > 0]
    for centre, rotation in ((None, None), (X.mean(axis=0), axes)):
        y = kept if centre is None else (kept - centre) @ rotation
        lower, upper = source.extent(centre, rotation)
        np.testing.assert_allclose(lower, y.min(axis=0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(upper, y.max(axis=0), rtol=1e-12, atol=1e-12)

    if isinstance(source, BlockedRows):  # its blocks cover the rows in order
        parts = [source.block(i) for i in range(source.n_blocks)]
        assert len(parts) > 1
        np.testing.assert_array_equal(
            np.concatenate([p.take(np.arange(p.n_rows)) for p in parts]), X
        )
        if weighted:
            np.testing.assert_array_equal(np.concatenate([p.sample_weight for p in parts]), w)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("kind", SOURCES)
def test_the_driver_fits_the_same_model_from_every_source(
    kind, covariance_type, rng, tmp_path, request
):
    X, _, _ = make_blobs(rng, n=N, d=D, k=K)
    w = rng.uniform(0.5, 2.0, size=N)
    family = get_family(covariance_type)
    frame = Frame.from_data(X, w)

    def fit(source):
        def starts(rows, rngs):
            return initialize(rows, family, frame, K, method="k-means++", rngs=rngs,
                              reg_covar=internal_reg(1e-6, frame, frame))  # fmt: skip

        best, _ = fit_multistart(
            source, MaximumLikelihood(family, internal_reg(1e-6, frame, frame)), frame, starts,
            n_components=K, n_init=4, init_iter=4, max_iter=30, tol=1e-10,
            rng=np.random.default_rng(0), short_run_rows=1000,
        )  # fmt: skip
        return best

    got, want = fit(make_source(kind, X, w, tmp_path, request)), fit(ArraySource(X, w))
    np.testing.assert_allclose(got.monitor.history, want.monitor.history, rtol=1e-11)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(
            getattr(got.params, name), getattr(want.params, name), rtol=1e-9, atol=1e-12
        )


def test_statistics_from_other_processes_merge_to_the_in_memory_result(problem):
    """Each block's pass runs in a spawned process; its statistics and worst rows come back
    pickled and merge to those of one pass over all rows, and re-seeding from the merged
    worst rows picks the same rows."""
    X, weights, frame, params = problem
    family = get_family("full")
    terms = gaussian_terms(params, family)
    options = {"n_worst": K}
    jobs = [(X[a:b], terms, frame, weights[a:b], a, options) for a, b in itertools.pairwise(BOUNDS)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        parts = pool.starmap(block_pass, jobs)
    merged = merge_results(parts, K)
    whole = mixture_pass(X, terms, frame, sample_weight=weights, n_worst=K)
    assert merged.stats is not None and whole.stats is not None
    assert_same_stats(merged.stats, whole.stats)
    assert merged.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-12)
    np.testing.assert_array_equal(merged.worst_rows, whole.worst_rows)
    np.testing.assert_array_equal(merged.worst.log_density, whole.worst.log_density)
    bad = np.array([False, True, False, True])
    moved = [
        reseed(params, bad, frame.to_internal(X[r.worst_rows]), family)[0] for r in (merged, whole)
    ]
    np.testing.assert_array_equal(moved[0].means, moved[1].means)


def test_statistics_survive_pickling_and_merge(problem):
    X, weights, frame, params = problem
    family = get_family("full")
    terms = gaussian_terms(params, family)
    a = mixture_pass(X[:1000], terms, frame, sample_weight=weights[:1000]).stats
    b = mixture_pass(X[1000:], terms, frame, sample_weight=weights[1000:]).stats
    assert a is not None and b is not None
    a2, b2 = pickle.loads(pickle.dumps(a)), pickle.loads(pickle.dumps(b))
    assert a2.moments is family.moments
    whole = mixture_pass(X, terms, frame, sample_weight=weights).stats
    assert whole is not None
    assert_same_stats(a2 + b2, whole)


def test_scaled_statistics_equal_statistics_of_scaled_weights(problem):
    X, weights, frame, params = problem
    terms = gaussian_terms(params, get_family("full"))
    stats = mixture_pass(X, terms, frame, sample_weight=weights).stats
    tripled = mixture_pass(X, terms, frame, sample_weight=3.0 * weights).stats
    assert stats is not None and tripled is not None
    scaled = 3.0 * stats
    assert scaled.n_rows == stats.n_rows
    np.testing.assert_allclose(scaled.N, tripled.N, rtol=1e-12)
    np.testing.assert_allclose(scaled.S1, tripled.S1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scaled.S2, tripled.S2, rtol=1e-12, atol=1e-12)
    assert scaled.log_likelihood == pytest.approx(tripled.log_likelihood, rel=1e-12)
    # a convex combination of two sets' statistics: stepwise EM's update
    mix = 0.25 * stats + 0.75 * tripled
    np.testing.assert_allclose(mix.N, 2.5 * stats.N, rtol=1e-12)


def test_worst_rows_of_blocks_merge_with_ties_to_the_lower_index():
    # equal log-densities across blocks and within one: the lower indices are kept
    values = np.array([-5.0, -1.0, -9.0, -9.0, -2.0, -9.0, -9.0, -3.0])
    whole = WorstRows.of(np.arange(8), values, 3)
    assert whole.indices.tolist() == [2, 3, 5]
    left = WorstRows.of(np.arange(4), values[:4], 3)
    right = WorstRows.of(np.arange(4, 8), values[4:], 3)
    merged = right.merged(left, 3)
    assert merged.indices.tolist() == [2, 3, 5]
    np.testing.assert_array_equal(merged.log_density, [-9.0, -9.0, -9.0])


def test_the_pass_keeps_tied_worst_rows_by_index_whatever_the_chunks(rng):
    X = np.repeat(rng.normal(size=(50, 2)), 4, axis=0)  # every row four times
    frame = Frame.from_data(X)
    family = get_family("spherical")
    params = Params(np.array([1.0]), np.zeros((1, 2)), np.array([1.0]), np.array([1.0]))
    terms = gaussian_terms(params, family)
    logd = mixture_pass(X, terms, frame, stats=False, log_density=True).log_density
    want = [i for _, i in sorted(zip(logd.tolist(), range(len(X)), strict=True))[:6]]
    assert want[:4] == list(range(want[0], want[0] + 4))  # a whole group of equal rows first
    for chunk_size in (3, 7, 64, len(X)):
        got = mixture_pass(X, terms, frame, n_worst=6, chunk_size=chunk_size, n_threads=2)
        assert got.worst_rows.tolist() == want
