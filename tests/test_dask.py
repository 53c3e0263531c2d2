"""gaussmix on Dask, on a real local cluster (worker processes on loopback, no mocks).

Every result is checked against the same fit in memory (the independent reference: the
numpy path), and the Dask-specific promises are checked as behaviour: outputs stay lazy and
keep the input's chunks, the client never holds the data, a worker killed mid-fit changes
nothing, bad input gets the in-memory errors.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import tracemalloc

import numpy as np
import pytest

from gaussmix import GaussianMixture
from gaussmix.covariance import COVARIANCE_TYPES
from gaussmix.multistart import race_sample_rows

from ._data import make_blobs

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
pytest.importorskip("distributed")

pytestmark = [
    pytest.mark.usefixtures("dask_client"),
    # fits stopped after a fixed number of iterations, on purpose
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

CHUNKS = 700  # rows per block: several blocks, the last one shorter


@pytest.fixture
def data(rng):
    X, _, means = make_blobs(rng, n=2500, d=3, k=3, spread=5.0)
    return X, means


def lazy(X: np.ndarray, chunks: int = CHUNKS):
    """X as a Dask array held on the cluster's workers."""
    return da.from_array(X, chunks=(chunks, X.shape[1])).persist()


def assert_same_model(got: GaussianMixture, want: GaussianMixture, rtol: float = 1e-10) -> None:
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(got.history_, want.history_, rtol=rtol)
    assert got.n_iter_ == want.n_iter_


def start_of(X: np.ndarray, means: np.ndarray, covariance_type: str) -> dict:
    """A given start (means, weights, precisions): the same start for both fits."""
    gm = GaussianMixture(len(means), covariance_type=covariance_type, means_init=means, max_iter=1)
    gm.fit(X)
    return {
        "means_init": gm.means_,
        "weights_init": gm.weights_,
        "precisions_init": gm.precisions_,
    }


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_on_dask_equals_em_in_memory_from_the_same_start(data, rng, covariance_type, weighted):
    X, means = data
    w = rng.uniform(0.0, 2.0, size=len(X)) if weighted else None
    start = start_of(X, means, covariance_type)
    params = dict(covariance_type=covariance_type, tol=0.0, max_iter=12, **start)
    want = GaussianMixture(3, **params).fit(X, sample_weight=w)
    wd = None if w is None else da.from_array(w, chunks=CHUNKS)
    got = GaussianMixture(3, **params).fit(lazy(X), sample_weight=wd)
    assert_same_model(got, want)


def test_float32_rows_stay_float32_and_agree_with_memory(data):
    X, means = data
    X32 = X.astype(np.float32)
    params = dict(means_init=means, tol=0.0, max_iter=8)
    want = GaussianMixture(3, **params).fit(X32)
    got = GaussianMixture(3, **params).fit(lazy(X32))
    assert got.means_.dtype == np.float32
    assert_same_model(got, want, rtol=1e-6)
    proba = got.predict_proba(lazy(X32))
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.compute(), want.predict_proba(X32), atol=1e-5)


def test_the_default_start_races_on_a_gathered_sample_and_matches_memory(rng):
    """k-means++ and the short-run race run on the client on a subsample (gathered once); the
    winner continues on the cluster: the same model as in memory, and the callback sees both
    phases."""
    X, _, _ = make_blobs(rng, n=12_000, d=2, k=3)
    events = []
    want = GaussianMixture(3, random_state=4, tol=1e-6).fit(X)
    got = GaussianMixture(3, random_state=4, tol=1e-6).fit(lazy(X, 4000), callback=events.append)
    assert_same_model(got, want)
    np.testing.assert_allclose(got.start_lower_bounds_, want.start_lower_bounds_, rtol=1e-10)
    short = [e for e in events if e.phase == "short"]
    full = [e for e in events if e.phase == "full"]
    assert short and all(e.n_rows == race_sample_rows(len(X), 3) < len(X) for e in short)
    assert len(full) == got.n_iter_ and all(e.n_rows == len(X) for e in full)


@pytest.mark.parametrize("init_params", ["k-means++", "random", "random_from_data"])
def test_starts_made_on_the_cluster_equal_those_in_memory(data, rng, init_params):
    """One start on all rows: seeding reads rows by index and the start's statistics pass
    (responsibilities given per row) runs on the workers."""
    X, _ = data
    w = rng.uniform(0.5, 2.0, size=len(X))
    params = dict(init_params=init_params, n_init=1, random_state=3, tol=0.0, max_iter=4)
    want = GaussianMixture(3, **params).fit(X, sample_weight=w)
    got = GaussianMixture(3, **params).fit(lazy(X), sample_weight=da.from_array(w, CHUNKS))
    assert_same_model(got, want)


def test_a_warm_start_continues_on_dask_as_in_memory(data):
    X, means = data
    params = dict(means_init=means, tol=0.0, max_iter=3, warm_start=True)
    want = GaussianMixture(3, **params).fit(X).fit(X)
    got = GaussianMixture(3, **params).fit(X).fit(lazy(X))
    assert_same_model(got, want)


def test_a_noise_component_on_dask_as_in_memory(data, rng):
    X, means = data
    X = np.vstack([X, rng.uniform(X.min(0) - 3.0, X.max(0) + 3.0, size=(120, X.shape[1]))])
    params = dict(means_init=means, noise=True, tol=0.0, max_iter=6)
    want = GaussianMixture(3, **params).fit(X)
    got = GaussianMixture(3, **params).fit(lazy(X))
    assert_same_model(got, want, rtol=1e-9)
    assert got.noise_weight_ == pytest.approx(want.noise_weight_, rel=1e-9)
    for name in ("centre", "axes", "lower", "upper"):  # the region, reduced on the workers
        np.testing.assert_allclose(
            getattr(got.noise_region_, name), getattr(want.noise_region_, name), atol=1e-12
        )
    proba, labels = got.predict_proba(lazy(X)), got.predict(lazy(X))
    assert proba.chunks[1] == (4,)
    np.testing.assert_allclose(proba.compute(), want.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(labels.compute(), want.predict(X))
    assert (want.predict(X) == -1).any()
    # with missing values: the box's extent leaves them out on the workers as in memory
    holes = X.copy()
    holes[rng.random(X.shape) < 0.1] = np.nan
    params["noise_region"] = "box"
    want = GaussianMixture(3, **params).fit(holes)
    got = GaussianMixture(3, **params).fit(lazy(holes))
    assert got.noise_region_ == want.noise_region_
    assert got.noise_weight_ == pytest.approx(want.noise_weight_, rel=1e-9)


def test_results_depend_on_the_chunking_only_by_rounding_and_repeat_exactly(data):
    X, means = data
    params = dict(means_init=means, tol=0.0, max_iter=10, covariance_type="full")
    a = GaussianMixture(3, **params).fit(lazy(X, 700))
    b = GaussianMixture(3, **params).fit(lazy(X, 700))
    c = GaussianMixture(3, **params).fit(lazy(X, 333))
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))  # reproducible
    assert_same_model(a, c)


def test_predictions_stay_lazy_with_the_inputs_chunks(data):
    X, means = data
    gm = GaussianMixture(3, means_init=means).fit(X)
    Xd = lazy(X)
    labels, proba, logd = gm.predict(Xd), gm.predict_proba(Xd), gm.score_samples(Xd)
    for out in (labels, proba, logd):
        assert isinstance(out, da.Array)
        assert out.chunks[0] == Xd.chunks[0]
    assert proba.chunks[1] == (3,)
    assert labels.dtype == np.intp and proba.dtype == logd.dtype == np.float64
    np.testing.assert_array_equal(labels.compute(), gm.predict(X))
    np.testing.assert_allclose(proba.compute(), gm.predict_proba(X), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(logd.compute(), gm.score_samples(X), rtol=1e-12)
    assert gm.score(Xd) == pytest.approx(gm.score(X), rel=1e-12)
    assert gm.bic(Xd) == pytest.approx(gm.bic(X), rel=1e-12)
    assert gm.aic(Xd) == pytest.approx(gm.aic(X), rel=1e-12)


def test_data_frames_fit_and_predict_as_pandas_does(data):
    X, means = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    ddf = dd.from_pandas(frame, npartitions=3)
    params = dict(means_init=means, tol=0.0, max_iter=6)
    want = GaussianMixture(3, **params).fit(frame)
    got = GaussianMixture(3, **params).fit(ddf)
    assert_same_model(got, want)
    assert list(got.feature_names_in_) == ["a", "b", "c"]
    labels = got.predict(ddf)
    assert isinstance(labels, da.Array) and labels.numblocks == (3,)
    np.testing.assert_array_equal(labels.compute(), want.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        got.predict(ddf[["c", "b", "a"]])


def rows_on_the_workers(n: int, d: int = 4):
    """Three clusters of rows made on the workers: the client never had them."""
    X = da.random.default_rng(0).normal(size=(n, d), chunks=(100_000, d))
    return (X + (da.arange(n, chunks=100_000) % 3)[:, None] * 4.0).persist()


def test_the_client_never_holds_the_data(dask_client):
    """Fitting, scoring and predicting rows made on the workers allocates on the client
    what the samples it gathers need, the same for 8 times the rows, and far below them."""
    GaussianMixture(3, random_state=0, max_iter=2).fit(rows_on_the_workers(100_000))  # warm
    peaks = []
    for n in (200_000, 1_600_000):
        X = rows_on_the_workers(n)
        tracemalloc.start()
        try:
            gm = GaussianMixture(3, random_state=0, max_iter=5, tol=0.0).fit(X)
            gm.score(X)
            gm.predict_proba(X)  # lazy: nothing computed
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert gm.n_iter_ == 5
    nbytes = 1_600_000 * 4 * 8
    # gathering the rows would allocate all of their bytes at least once
    assert peaks[1] < peaks[0] + nbytes / 20, f"client peaks {peaks} for {nbytes} bytes of rows"
    assert peaks[1] < nbytes / 2


@pytest.mark.slow
def test_a_worker_killed_mid_fit_changes_nothing(dask_client, data):
    X, means = data
    params = dict(means_init=means, tol=0.0, max_iter=25)
    want = GaussianMixture(3, **params).fit(lazy(X, 300))
    pids = dask_client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed = threading.Event()

    def kill(event) -> None:
        if event.iteration == 3 and not killed.is_set():
            # shortly after the callback: the next pass is running
            threading.Timer(0.005, os.kill, (victim, signal.SIGKILL)).start()
            killed.set()

    got = GaussianMixture(3, **params).fit(lazy(X, 300), callback=kill)
    assert killed.is_set()
    dask_client.wait_for_workers(2, timeout=60)
    assert victim not in dask_client.run(os.getpid).values()  # its worker was replaced
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    np.testing.assert_array_equal(got.history_, want.history_)


def test_the_engine_runs_one_thread_per_block_on_the_workers(dask_client, data):
    X, means = data
    GaussianMixture(3, means_init=means, max_iter=3).fit(lazy(X))

    def engine_pools() -> list[int]:
        from gaussmix.engine import threads

        return sorted(threads._POOLS)

    # no worker started helper threads of its own beside the worker's threads
    assert dask_client.run(engine_pools) == {a: [] for a in dask_client.run(os.getpid)}


# ------------------------------------------------------------------------- bad input


def error_of(call) -> str:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    return f"{info.type.__name__}: {info.value}"


def test_inf_rows_get_the_in_memory_error(data):
    X, means = data
    X = X.copy()
    X[2001, 0] = np.inf
    X[2003, 2] = -np.inf
    want = error_of(lambda: GaussianMixture(3, means_init=means).fit(X))
    assert "contains inf in 2 of 2500 rows (first: row 2001)" in want
    assert error_of(lambda: GaussianMixture(3, means_init=means).fit(lazy(X))) == want
    # the default start: the race's sample need not hold the bad rows, the passes find them
    assert error_of(lambda: GaussianMixture(3, random_state=0).fit(lazy(X))) == want
    gm = GaussianMixture(3, means_init=means).fit(np.nan_to_num(X, posinf=0.0, neginf=0.0))
    assert error_of(lambda: gm.score(lazy(X))) == error_of(lambda: gm.score(X))


def test_nan_rows_are_refused_with_the_in_memory_error_under_missing_error(data):
    """missing='error': NaN (and inf) are counted over the whole array, as in memory; a lazy
    prediction's error counts its block's."""
    X, means = data
    X = X.copy()
    X[1405:1410, 1] = np.nan
    X[2001, 0] = np.inf
    strict = dict(means_init=means, missing="error")
    want = error_of(lambda: GaussianMixture(3, **strict).fit(X))
    assert "contains NaN and inf in 6 of 2500 rows (first: row 1405)" in want
    assert error_of(lambda: GaussianMixture(3, **strict).fit(lazy(X))) == want
    gm = GaussianMixture(3, **strict).fit(np.nan_to_num(X, posinf=0.0))
    assert error_of(lambda: gm.score(lazy(X))) == error_of(lambda: gm.score(X))
    proba = gm.predict_proba(lazy(X))  # lazy: the error comes when its block is computed
    message = error_of(proba.compute)
    assert "contains NaN and inf in 6 of 700 rows of its block 2 (rows 1400 to 2099)" in message
    assert "(first: row 1405)" in message and "missing='error'" in message


def test_inf_stays_an_error_where_nan_is_a_missing_value(data):
    X, means = data
    X = X.copy()
    X[1405:1410, 1] = np.nan
    X[2001, 0] = np.inf
    want = error_of(lambda: GaussianMixture(3, means_init=means).fit(X))
    assert "contains inf in 1 of 2500 rows (first: row 2001)" in want
    assert error_of(lambda: GaussianMixture(3, means_init=means).fit(lazy(X))) == want
    gm = GaussianMixture(3, means_init=means).fit(np.nan_to_num(X, posinf=0.0))
    assert error_of(lambda: gm.score(lazy(X))) == error_of(lambda: gm.score(X))
    message = error_of(gm.predict_proba(lazy(X)).compute)
    assert "contains inf in 1 of 700 rows of its block 2 (rows 1400 to 2099)" in message


@pytest.fixture(scope="module")
def holes():
    """Rows with values missing at random in some blocks (whole rows in block 0), none in
    the last ones, which take the complete-data pass."""
    rng = np.random.default_rng(7)
    X, _, means = make_blobs(rng, n=2500, d=3, k=3, spread=5.0)
    Xm = X.copy()
    Xm[:1400][rng.random((1400, 3)) < 0.3] = np.nan
    Xm[[3, 650]] = np.nan
    return Xm, means


@pytest.mark.parametrize(
    ("covariance_type", "weighted"),
    [("full", False), ("full", True), ("tied", False), ("diag", True), ("spherical", False),
     ("VEV", False)],
)  # fmt: skip
def test_missing_values_on_dask_equal_em_in_memory_from_the_same_start(
    holes, rng, covariance_type, weighted
):
    Xm, means = holes
    w = rng.uniform(0.0, 2.0, size=len(Xm)) if weighted else None
    params = dict(covariance_type=covariance_type, tol=0.0, max_iter=10, means_init=means)
    want = GaussianMixture(3, **params).fit(Xm, sample_weight=w)
    wd = None if w is None else da.from_array(w, chunks=CHUNKS)
    got = GaussianMixture(3, **params).fit(lazy(Xm), sample_weight=wd)
    assert_same_model(got, want)
    assert got.n_empty_rows_ == want.n_empty_rows_ == int(np.isnan(Xm).all(axis=1).sum()) >= 2


def test_missing_values_on_dask_are_predicted_lazily_as_in_memory(holes):
    Xm, means = holes
    gm = GaussianMixture(3, means_init=means, max_iter=5).fit(Xm)
    Xd = lazy(Xm)
    labels, proba, logd = gm.predict(Xd), gm.predict_proba(Xd), gm.score_samples(Xd)
    for out in (labels, proba, logd):
        assert isinstance(out, da.Array) and out.chunks[0] == Xd.chunks[0]
    np.testing.assert_array_equal(labels.compute(), gm.predict(Xm))
    np.testing.assert_allclose(proba.compute(), gm.predict_proba(Xm), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(logd.compute(), gm.score_samples(Xm), rtol=1e-12)
    assert gm.score(Xd) == pytest.approx(gm.score(Xm), rel=1e-12)
    assert gm.bic(Xd) == pytest.approx(gm.bic(Xm), rel=1e-12)


def test_missing_values_on_dask_from_the_default_start_match_memory(holes):
    """The race's subsample and the frame's sample hold missing values: gathered, they are
    grouped on the client as in memory."""
    Xm, _ = holes
    want = GaussianMixture(3, random_state=2, tol=1e-6).fit(Xm)
    got = GaussianMixture(3, random_state=2, tol=1e-6).fit(lazy(Xm))
    assert_same_model(got, want)


def test_a_block_with_missing_values_is_grouped_once_while_it_lives(dask_client, holes):
    """Persisted blocks keep their rows grouped between passes (one entry per block with
    missing values on its worker), and drop them with the block."""
    Xm, means = holes

    def kept() -> int:
        from gaussmix.dask import blocks

        return len(blocks._KEPT)

    Xd = lazy(Xm)
    GaussianMixture(3, means_init=means, max_iter=4).fit(Xd)
    assert sum(dask_client.run(kept).values()) == 2  # blocks 0 and 1 hold missing values
    del Xd
    import gc

    dask_client.run(gc.collect)
    for _ in range(50):
        if sum(dask_client.run(kept).values()) == 0:
            break
        threading.Event().wait(0.1)
    assert sum(dask_client.run(kept).values()) == 0


def test_wrong_width_dtype_and_shape_get_the_in_memory_errors(data):
    X, means = data
    gm = GaussianMixture(3, means_init=means).fit(X)
    for bad in (X[:, :2], X.astype(str), X.astype(complex), X[:, 0]):
        assert error_of(lambda b=bad: gm.predict(lazy(b) if b.ndim == 2 else da.from_array(b))) == (
            error_of(lambda b=bad: gm.predict(b))
        )
    frame = pd.DataFrame({"a": X[:, 0], "b": ["x"] * len(X), "c": X[:, 2]})
    ddf = dd.from_pandas(frame, npartitions=2)
    assert error_of(lambda: GaussianMixture(2).fit(ddf)) == error_of(
        lambda: GaussianMixture(2).fit(frame)
    )


def test_bad_sample_weights_get_the_in_memory_errors(data):
    X, _ = data
    for w in (-np.ones(len(X)), np.zeros(len(X)), np.full(len(X), np.nan), np.ones(len(X) - 1)):
        want = error_of(lambda w=w: GaussianMixture(3).fit(X, sample_weight=w))
        got = error_of(lambda w=w: GaussianMixture(3).fit(lazy(X), sample_weight=da.from_array(w)))
        assert got.split(" to match X")[0] == want.split(" to match X")[0]


def test_blocks_of_another_shape_than_declared_are_reported(data):
    import dask

    X, _ = data
    good = da.from_array(X[:1000], chunks=(1000, 3))
    ragged = da.from_delayed(dask.delayed(lambda: X[1000:2000, :2])(), (1000, 3), X.dtype)
    message = error_of(
        lambda: GaussianMixture(2, random_state=0).fit(da.concatenate([good, ragged]))
    )
    assert "could not be read as a 2-D array: its block 1 (rows 1000 to 1999)" in message
    assert "shape (1000, 2)" in message


def test_kmeans_on_all_rows_is_refused_and_runs_on_the_race_sample(rng):
    X, _, _ = make_blobs(rng, n=12_000, d=2, k=3)
    message = error_of(lambda: GaussianMixture(3, init_params="kmeans", n_init=1).fit(lazy(X)))
    assert "init_params='kmeans'" in message and "k-means++" in message
    got = GaussianMixture(3, init_params="kmeans", n_init=2, random_state=0, tol=1e-6)
    want = GaussianMixture(3, init_params="kmeans", n_init=2, random_state=0, tol=1e-6)
    assert_same_model(got.fit(lazy(X, 5000)), want.fit(X))


def test_gaussmix_imports_and_fits_without_dask():
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
        "import numpy as np, gaussmix\n"
        "X = np.random.default_rng(0).normal(size=(200, 2))\n"
        "print(gaussmix.GaussianMixture(2, random_state=0).fit(X).n_iter_)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 1


# ------------------------------------------------------------------------- command line


def gaussmix_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gaussmix", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **env},
    )  # fmt: skip


@pytest.mark.slow
def test_the_cli_fits_on_the_cluster_out_of_core_as_in_memory(dask_client, data, tmp_path):
    """``--scheduler``: the workers read Parquet, Zarr and .npy themselves; the model equals
    the in-memory command's."""
    zarr = pytest.importorskip("zarr")
    X, _ = data
    np.save(tmp_path / "x.npy", X)
    zarr.save_array(str(tmp_path / "x.zarr"), X)
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(name="row").to_parquet(tmp_path / "x.parquet")
    address = dask_client.scheduler.address
    from gaussmix import load

    done = gaussmix_cli("fit", str(tmp_path / "x.npy"), "-k", "3", "-o", str(tmp_path / "m.gmm"))
    assert done.returncode == 0, done.stderr
    want = load(tmp_path / "m.gmm")
    for name, extra in (("x.npy", []), ("x.zarr", []), ("x.parquet", ["--columns", "a,b,c"])):
        out = tmp_path / f"{name}.gmm"
        done = gaussmix_cli(
            "fit", str(tmp_path / name), "-k", "3", "-o", str(out), "--scheduler", address, *extra
        )
        assert done.returncode == 0, done.stderr
        assert "to 2500 rows x 3 columns" in done.stdout
        got = load(out)
        np.testing.assert_allclose(got.means_, want.means_, rtol=1e-10)
        np.testing.assert_allclose(got.covariances_, want.covariances_, rtol=1e-10)
    assert list(load(tmp_path / "x.parquet.gmm").feature_names_in_) == ["a", "b", "c"]
    # the non-numeric column is named, as in memory
    done = gaussmix_cli("fit", str(tmp_path / "x.parquet"), "-o", str(out), "-k", "2",
                        "--scheduler", address)  # fmt: skip
    assert done.returncode == 1 and "non-numeric columns 'name'" in done.stderr


@pytest.mark.slow
def test_the_cli_predicts_flags_and_selects_on_the_cluster(dask_client, holes, tmp_path):
    """``--scheduler`` on the commands that read data, each equal to the library in memory:
    predict (Parquet, the model's columns found by name, NaN marginalised), anomalies (the
    flagged rows gathered from a .npy the workers read) and select (every candidate fitted
    on the cluster)."""
    from gaussmix.persistence import save_model
    from gaussmix.selection import select_model

    Xm, _ = holes
    # the holes filled with draws, not one value: rows tied at a constant would be a
    # component's spike (SingularCovarianceWarning)
    X = np.where(np.isnan(Xm), np.random.default_rng(8).normal(size=Xm.shape), Xm)
    np.save(tmp_path / "x.npy", X)
    frame = pd.DataFrame(Xm, columns=["a", "b", "c"])
    frame.assign(name="row")[["name", "c", "a", "b"]].to_parquet(tmp_path / "holes.parquet")
    fitted = GaussianMixture(3, random_state=0).fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    save_model(fitted, tmp_path / "m.gmm")
    address = dask_client.scheduler.address

    def run(*args: str) -> pd.DataFrame:
        out = tmp_path / f"{args[0]}.csv"
        done = gaussmix_cli(*args, "-o", str(out), "--scheduler", address)
        assert done.returncode == 0, done.stderr
        return pd.read_csv(out)

    got = run("predict", str(tmp_path / "m.gmm"), str(tmp_path / "holes.parquet"), "--proba")
    want = fitted.predict_proba(frame)
    np.testing.assert_allclose(got[["proba_0", "proba_1", "proba_2"]], want, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(got["label"], want.argmax(axis=1))

    got = run("anomalies", str(tmp_path / "m.gmm"), str(tmp_path / "x.npy"), "--quantile", "0.02")
    logd = fitted.score_samples(pd.DataFrame(X, columns=["a", "b", "c"]))
    flagged = np.flatnonzero(logd <= np.quantile(logd, 0.02))
    np.testing.assert_array_equal(got["row"], flagged)
    np.testing.assert_array_equal(got[["x0", "x1", "x2"]], X[flagged])
    np.testing.assert_allclose(got["log_density"], logd[flagged], rtol=1e-10)

    table = tmp_path / "select.csv"
    done = gaussmix_cli("select", str(tmp_path / "holes.parquet"), "--columns", "a,b,c", "-k",
                        "1..2", "--covariance", "diag", "--csv", str(table), "--scheduler",
                        address)  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = pd.read_csv(table)
    want = select_model(frame, [1, 2], ["diag"], random_state=0)  # --seed 0
    np.testing.assert_allclose(got["bic"], [row["bic"] for row in want.rows], rtol=1e-8)
    assert got["best"].tolist() == [i == want.best_index for i in range(2)]


def test_the_cli_refuses_id_on_the_cluster(tmp_path):
    import argparse

    from gaussmix.cli.cluster import read_for_model
    from gaussmix.cli.errors import CLIError

    np.save(tmp_path / "x.npy", np.zeros((10, 2)))
    args = argparse.Namespace(data=str(tmp_path / "x.npy"), columns=None, id="x0")
    with pytest.raises(CLIError, match="--id is not available with --scheduler"):
        read_for_model(args, None, 2)


def test_npy_blocks_are_read_by_the_workers_not_sent_with_the_graph(tmp_path):
    import pickle

    from gaussmix.cli.cluster import _npy

    X = np.random.default_rng(0).normal(size=(40_000, 4))
    np.save(tmp_path / "x.npy", X)
    lazy_x = _npy(tmp_path / "x.npy")
    graph = pickle.dumps(dict(lazy_x.__dask_graph__()))
    assert len(graph) < X.nbytes / 50
    np.testing.assert_array_equal(lazy_x.compute(), X)


def test_the_cli_reports_an_unreachable_scheduler(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 2)))
    done = gaussmix_cli("fit", str(tmp_path / "x.npy"), "-k", "1", "-o", str(tmp_path / "m.gmm"),
                        "--scheduler", "tcp://127.0.0.1:9",
                        DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="1s")  # fmt: skip
    assert done.returncode == 1
    assert "gaussmix: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr


def test_imputation_and_tail_probabilities_are_lazy_and_match_memory(data, rng):
    """Imputation and anomaly scoring map the in-memory methods over the blocks: the same
    conditional means and tail probabilities (a pattern's reference draws do not depend on
    the block), chunked as the input; draws seeded per block."""
    X, _ = data
    holes = X.copy()
    holes[rng.random(X.shape) < 0.25] = np.nan
    holes[[5, 900]] = np.nan
    gm = GaussianMixture(3, random_state=0).fit(holes)
    lazy_holes = lazy(holes)
    filled = gm.impute(lazy_holes)
    assert isinstance(filled, da.Array) and filled.chunks == lazy_holes.chunks
    np.testing.assert_allclose(filled.compute(), gm.impute(holes), rtol=1e-12)
    tails = gm.tail_probability(lazy_holes)
    assert isinstance(tails, da.Array) and tails.chunks == (lazy_holes.chunks[0],)
    np.testing.assert_array_equal(tails.compute(), gm.tail_probability(holes))
    flags = gm.is_anomaly(lazy_holes, 0.9)
    assert flags.dtype == bool
    np.testing.assert_array_equal(flags.compute(), gm.is_anomaly(holes, 0.9))
    np.testing.assert_array_equal(
        gm.anomaly_threshold(lazy_holes, 0.9).compute(), gm.anomaly_threshold(holes, 0.9)
    )
    draws = gm.impute(lazy_holes, n_draws=2, random_state=4)
    assert draws.shape == (2, *holes.shape) and draws.chunks[1] == lazy_holes.chunks[0]
    got = draws.compute()
    np.testing.assert_array_equal(got, gm.impute(lazy_holes, n_draws=2, random_state=4).compute())
    missing = np.isnan(holes)
    assert not np.isnan(got).any() and np.all(got[:, ~missing] == holes[~missing])
    assert not np.any(got[0][missing] == got[1][missing])
    with_inf = holes.copy()
    with_inf[1000, 1] = np.inf
    with pytest.raises(
        ValueError,
        match=r"inf in 1 of 700 rows of its block 1 \(rows 700 to 1399\) \(first: row 1000\)",
    ):
        gm.impute(lazy(with_inf)).compute()


def test_each_blocks_draws_have_their_own_seed(rng):
    """Blocks holding the same rows draw different completions."""
    rows = rng.normal(size=(50, 3))
    rows[:, 1] = np.nan
    X = np.concatenate([rows, rows])
    gm = GaussianMixture(1, random_state=0).fit(rng.normal(size=(200, 3)))
    draws = gm.impute(lazy(X, chunks=50), n_draws=1, random_state=0).compute()[0]
    assert not np.any(draws[:50, 1] == draws[50:, 1])
