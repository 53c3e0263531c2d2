"""Exact EM on rows read out of core: ``.npy`` files, memory maps and Parquet.

A fit of a file equals the fit of its rows in memory (1e-10) from the same start; a memory
map is never read into memory whole (measured with tracemalloc); bad files and rows get
errors that name them.  The row-source contract itself is in ``test_sources.py``.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gaussmix import GaussianMixture
from gaussmix.ondisk import NpySource, ParquetSource, streamed
from gaussmix.ondisk.npy import FileReader, SliceReader

from ._data import make_blobs

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

K = 3


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    X, _, _ = make_blobs(np.random.default_rng(5), n=3000, d=3, k=K)
    return X


@pytest.fixture(scope="module")
def files(rows, tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("ondisk")
    npy = folder / "rows.npy"
    np.save(npy, rows)
    table = pa.table({"a": rows[:, 0], "b": rows[:, 1], "c": rows[:, 2], "id": np.arange(3000)})
    parquet = folder / "rows.parquet"
    pq.write_table(table, parquet, row_group_size=400)
    return {"npy": npy, "parquet": parquet}


def sources(files) -> dict[str, object]:
    return {
        "memmap": np.load(files["npy"], mmap_mode="r"),
        "npy": NpySource(files["npy"], block_rows=500),
        "parquet": ParquetSource(files["parquet"], columns=["a", "b", "c"]),
    }


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", ["full", "tied", "VEV"])
@pytest.mark.parametrize("kind", ["memmap", "npy", "parquet"])
def test_exact_em_out_of_core_is_em_in_memory(rows, files, kind, covariance_type):
    params = {"covariance_type": covariance_type, "tol": 0.0, "max_iter": 15, "random_state": 0}
    start = {"means_init": rows[[0, 1000, 2000]]}
    memory = GaussianMixture(K, **params, **start).fit(rows)
    disk = GaussianMixture(K, **params, **start).fit(sources(files)[kind])
    assert disk.n_iter_ == memory.n_iter_
    np.testing.assert_allclose(disk.history_, memory.history_, rtol=1e-10)
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(
            getattr(disk, name), getattr(memory, name), rtol=1e-10, atol=1e-12
        )
    source = sources(files)[kind]
    if kind == "memmap":
        source = NpySource(source)
    np.testing.assert_allclose(disk.score_samples(source), memory.score_samples(rows), rtol=1e-12)
    np.testing.assert_array_equal(disk.predict(source), memory.predict(rows))
    assert disk.bic(source) == pytest.approx(memory.bic(rows), rel=1e-12)


def test_parquet_columns_become_feature_names(files, rows):
    model = GaussianMixture(K, random_state=0).fit(ParquetSource(files["parquet"], ["a", "c"]))
    assert list(model.feature_names_in_) == ["a", "c"]
    with pytest.raises(ValueError, match="not those the model was fitted on"):
        model.score(ParquetSource(files["parquet"], ["c", "a"]))
    # the whole table, an integer column included, is read as float64
    every = ParquetSource(files["parquet"])
    assert every.feature_names == ["a", "b", "c", "id"] and every.dtype == np.float64
    np.testing.assert_array_equal(
        every.take(np.array([2999, 7])), [[*rows[2999], 2999], [*rows[7], 7]]
    )


def test_a_memory_map_is_read_from_its_file_unless_it_cannot_be(tmp_path, rows):
    path = tmp_path / "x.npy"
    np.save(path, rows)
    mapped = np.load(path, mmap_mode="r")
    assert isinstance(NpySource(mapped).reader, FileReader)
    assert isinstance(NpySource(mapped[10:]).reader, FileReader)
    np.testing.assert_array_equal(NpySource(mapped[10:]).take(np.array([0, 5])), rows[[10, 15]])
    assert isinstance(NpySource(mapped[:, :2]).reader, SliceReader)  # not C-contiguous
    # copy-on-write: its pages may differ from the file
    private = np.load(path, mmap_mode="c")
    private[0] = 99.0
    source = NpySource(private)
    assert isinstance(source.reader, SliceReader)
    np.testing.assert_array_equal(source.take(np.array([0])), [[99.0] * 3])
    # other dtypes are read as float64, float32 stays
    np.save(tmp_path / "i.npy", np.arange(12, dtype=np.int16).reshape(4, 3))
    ints = NpySource(tmp_path / "i.npy", block_rows=3)
    assert ints.dtype == np.float64
    np.testing.assert_array_equal(ints.block(1).take(np.array([0])), [[9.0, 10.0, 11.0]])
    np.save(tmp_path / "f.npy", rows.astype(np.float32))
    assert NpySource(tmp_path / "f.npy").dtype == np.float32


def test_fitting_a_memory_map_does_not_read_it_into_memory(tmp_path, monkeypatch):
    """The memory a fit allocates (tracemalloc: numpy's buffers included) does not grow with
    the rows of a memory map: two blocks, the seeding's sample and the frame's sample are
    all it holds (one start: numpy draws the race's subsample of 10,000 rows from a
    permutation of all row indices below 500,000 rows, O(size) above).  The first two fits
    make the engine's workspaces, in every worker thread that takes a chunk; the last two
    are compared."""
    monkeypatch.setattr(streamed, "BLOCK_BYTES", 256 * 1024)
    peaks, sizes = [], []
    for n in (100_000, 800_000, 100_000, 800_000):
        X, _, _ = make_blobs(np.random.default_rng(2), n=n, d=4, k=K)
        path = tmp_path / f"rows{n}.npy"
        np.save(path, X)
        del X
        model = GaussianMixture(K, n_init=1, max_iter=3, tol=0.0, chunk_size=4096, random_state=0)
        tracemalloc.start()
        try:
            with pytest.warns(ConvergenceWarning):  # three iterations
                model.fit(np.load(path, mmap_mode="r"))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        sizes.append(path.stat().st_size)
    # 8 times the rows: not even 8 bytes per added row (one index each: 5.6 MB)
    assert peaks[3] - peaks[2] < 0.05 * (sizes[3] - sizes[2]), (peaks, sizes)
    assert peaks[3] < 0.1 * sizes[3], (peaks, sizes)


def test_bad_files_and_rows_are_named(tmp_path, rows):
    X = rows.copy()
    X = np.concatenate([X] * 7)  # beyond 2 * FRAME_SAMPLE rows: NaN missed by the frame
    X[20345, 1] = np.nan
    np.save(tmp_path / "nan.npy", X)
    with pytest.raises(ValueError, match=r"nan\.npy holds NaN or infinity \(first in row 20345\)"):
        GaussianMixture(K, random_state=0).fit(NpySource(tmp_path / "nan.npy", block_rows=1000))
    X = rows.copy()
    X[2000, 0] = np.inf  # in the frame's sample: found before any pass
    np.save(tmp_path / "inf.npy", X)
    with pytest.raises(ValueError, match=r"inf\.npy holds NaN or infinity \(first in row 2000\)"):
        GaussianMixture(K, random_state=0).fit(NpySource(tmp_path / "inf.npy"))
    np.save(tmp_path / "flat.npy", rows[:, 0])
    with pytest.raises(ValueError, match=r"shape \(3000,\).*reshape"):
        NpySource(tmp_path / "flat.npy")
    with pytest.raises(FileNotFoundError, match=r"No such \.npy file"):
        NpySource(tmp_path / "missing.npy")
    table = pa.table({"x": rows[:, 0], "name": ["a"] * len(rows)})
    pq.write_table(table, tmp_path / "text.parquet")
    with pytest.raises(ValueError, match=r"non-numeric columns \['name'\].*columns="):
        ParquetSource(tmp_path / "text.parquet")
    with pytest.raises(ValueError, match=r"has no columns \['y'\]"):
        ParquetSource(tmp_path / "text.parquet", columns=["x", "y"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"without \.parquet or \.pq files"):
        ParquetSource(tmp_path / "empty")
    nulls = pa.table({"x": pa.array([1.0, None, 3.0] * 10)})
    pq.write_table(nulls, tmp_path / "nulls.parquet")
    with pytest.raises(
        ValueError, match=r"nulls\.parquet holds NaN or infinity \(first in row 1\)"
    ):
        GaussianMixture(2).fit(ParquetSource(tmp_path / "nulls.parquet"))
    with pytest.raises(ValueError, match="KMeans on all 21000 rows in memory, which gaussmix"):
        GaussianMixture(2, init_params="kmeans", n_init=1).fit(NpySource(tmp_path / "nan.npy"))
    with pytest.raises(ValueError, match="sample_weight cannot be given with a row source"):
        GaussianMixture(2).fit(NpySource(tmp_path / "inf.npy"), sample_weight=np.ones(3000))


def test_weights_of_a_file_are_those_in_memory(files, rows):
    w = np.random.default_rng(0).uniform(0.0, 2.0, size=len(rows))
    params = {"random_state": 0, "tol": 1e-8}
    memory = GaussianMixture(K, **params).fit(rows, sample_weight=w)
    disk = GaussianMixture(K, **params).fit(np.load(files["npy"], mmap_mode="r"), sample_weight=w)
    np.testing.assert_allclose(disk.means_, memory.means_, rtol=1e-10)


def test_minibatch_em_visits_a_file_block_by_block(files, rows):
    exact = GaussianMixture(K, random_state=0, tol=1e-8).fit(rows)
    source = NpySource(files["npy"], block_rows=1000)
    mini = GaussianMixture(K, random_state=0, batch_size=100).fit(source)
    assert mini.n_steps_ == 30 * mini.n_iter_
    assert mini.score(rows) > exact.score(rows) - 5e-3
