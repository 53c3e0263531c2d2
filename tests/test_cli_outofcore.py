"""``gaussmix fit`` out of core: ``.npy`` and Parquet read block by block, and its rule.

In-process (``main``), so that the rule's view of the available memory can be replaced.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gaussmix import GaussianMixture, load
from gaussmix.cli import main, outofcore

from ._data import make_blobs

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    X, _, _ = make_blobs(np.random.default_rng(4), n=2000, d=3, k=3, spread=8.0)
    root = tmp_path_factory.mktemp("outofcore")
    np.save(root / "rows.npy", X)
    folder = root / "events"
    folder.mkdir()
    ids = np.arange(len(X))
    for i, part in enumerate(np.array_split(np.arange(len(X)), 2)):
        table = pa.table({"id": ids[part], "a": X[part, 0], "b": X[part, 1], "c": X[part, 2]})
        pq.write_table(table, folder / f"part-{i}.parquet", row_group_size=300)
    return {"X": X, "npy": root / "rows.npy", "folder": folder}


def fit(*args: str | Path) -> int:
    return main(["fit", *map(str, args), "--seed", "0", "--tol", "1e-6", "--max-iter", "500"])


def test_a_file_read_out_of_core_fits_the_model_of_its_rows(data, tmp_path, capsys):
    X = data["X"]
    memory = GaussianMixture(3, random_state=0, tol=1e-6, max_iter=500).fit(X)
    assert fit(data["npy"], "-k", "3", "--out-of-core", "-o", tmp_path / "a.gmm") == 0
    assert "out of core: 2000 rows x 3 columns" in capsys.readouterr().out
    streamed = load(tmp_path / "a.gmm")
    assert streamed.score(X) == pytest.approx(memory.score(X), rel=1e-9)
    # columns by position
    assert (
        fit(data["npy"], "-k", "3", "--out-of-core", "--columns", "0,2", "-o", tmp_path / "b.gmm")
        == 0
    )
    two = load(tmp_path / "b.gmm")
    assert two.n_features_in_ == 2
    assert two.score(X[:, [0, 2]]) == pytest.approx(
        GaussianMixture(3, random_state=0, tol=1e-6, max_iter=500)
        .fit(X[:, [0, 2]])
        .score(X[:, [0, 2]]),
        rel=1e-9,
    )


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_a_parquet_folder_streams_with_its_column_choices(data, tmp_path, capsys):
    X = data["X"]
    assert fit(data["folder"], "-k", "3", "--id", "id", "-o", tmp_path / "m.gmm") == 0
    out = capsys.readouterr().out
    assert "Reading events out of core" in out and "to 2000 rows x 3 columns" in out
    model = load(tmp_path / "m.gmm")
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    assert model.score(X) == pytest.approx(
        GaussianMixture(3, random_state=0, tol=1e-6, max_iter=500).fit(X).score(X), rel=1e-9
    )
    assert fit(data["folder"], "-k", "3", "--exclude", "id,b", "-o", tmp_path / "n.gmm") == 0
    assert list(load(tmp_path / "n.gmm").feature_names_in_) == ["a", "c"]


def test_files_larger_than_a_share_of_memory_stream(data, tmp_path, capsys, monkeypatch):
    size = 2000 * 3 * 8  # the float64 matrix of rows.npy
    monkeypatch.setattr(
        outofcore, "available_memory", lambda: int(size / outofcore.MEMORY_SHARE) + 8
    )
    assert fit(data["npy"], "-k", "3", "-o", tmp_path / "in.gmm") == 0
    assert "out of core" not in capsys.readouterr().out
    monkeypatch.setattr(
        outofcore, "available_memory", lambda: int(size / outofcore.MEMORY_SHARE) - 8
    )
    assert fit(data["npy"], "-k", "3", "-o", tmp_path / "out.gmm") == 0
    assert "out of core" in capsys.readouterr().out
    # --batch-size: mini-batch EM, out of core too
    assert fit(data["npy"], "-k", "3", "--batch-size", "200", "-o", tmp_path / "mb.gmm") == 0
    mini = load(tmp_path / "mb.gmm")
    exact = load(tmp_path / "out.gmm")
    assert mini.score(data["X"]) > exact.score(data["X"]) - 5e-3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-k", "2..4"], "a fit out of core fits one model"),
        (["-k", "3", "--standardize"], "--standardize is not available out of core"),
    ],
)
def test_what_a_fit_out_of_core_cannot_do_is_refused(data, tmp_path, capsys, extra, message):
    assert fit(data["npy"], *extra, "--out-of-core", "-o", tmp_path / "m.gmm") == 1
    assert message in capsys.readouterr().err


def test_out_of_core_reads_npy_and_parquet_only(tmp_path, capsys):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n3,4\n")
    assert fit(tmp_path / "x.csv", "-k", "1", "--out-of-core", "-o", tmp_path / "m.gmm") == 1
    assert "--out-of-core reads .npy and Parquet files" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert fit(tmp_path / "empty", "-k", "1", "-o", tmp_path / "m.gmm") == 1
    assert "is a folder, not a data file" in capsys.readouterr().err
    assert fit(tmp_path / "empty", "-k", "1", "--out-of-core", "-o", tmp_path / "m.gmm") == 1
    assert "--out-of-core reads .npy and Parquet files" in capsys.readouterr().err
