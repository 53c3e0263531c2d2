"""The command line on files with empty cells: fit, select, predict, score and anomalies on
each row's observed values, ``--missing error``, and ``gaussmix impute``.

The commands run in-process (``gaussmix.cli.main``); every number they write is checked
against the library's own methods on the same rows (``load`` of the model written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gaussmix import load
from gaussmix.cli import main
from gaussmix.persistence import read_model

from ._data import make_blobs

pa = pytest.importorskip("pyarrow")
pacsv = pytest.importorskip("pyarrow.csv")
pq = pytest.importorskip("pyarrow.parquet")

N = 150


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two clusters in (a, b, c) with empty cells (two rows entirely), an identifier and a
    text column, as CSV, Parquet and NPY."""
    rng = np.random.default_rng(5)
    X, _, _ = make_blobs(rng, n=N, d=3, k=2)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[[10, 20]] = np.nan
    root = tmp_path_factory.mktemp("cli-missing")
    table = pa.table(
        {
            "name": [f"id-{i:03d}" for i in range(N)],
            "a": pa.array(X[:, 0], from_pandas=True),  # NaN -> null: an empty CSV cell
            "b": pa.array(X[:, 1], from_pandas=True),
            "note": ["x" if i % 2 else "y" for i in range(N)],
            "c": pa.array(X[:, 2], from_pandas=True),
        }
    )
    out: dict[str, Any] = {"X": X, "dir": root}
    out["csv"] = root / "data.csv"
    pacsv.write_csv(table, out["csv"])
    out["parquet"] = root / "data.parquet"
    pq.write_table(table, out["parquet"])
    out["npy"] = root / "data.npy"
    np.save(out["npy"], X)
    return out


def named(X: np.ndarray) -> Any:
    """Rows with the column names the CLI's models are fitted with."""
    return pa.table({c: X[:, j] for j, c in enumerate("abc")})


def run(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def fit(files: dict[str, Any], capsys: pytest.CaptureFixture[str], *extra: Any) -> Path:
    model = files["dir"] / f"model{len(list(files['dir'].glob('*.gmm')))}.gmm"
    status, _, err = run(capsys, "fit", files["csv"], "-k", "2", "--id", "name",
                         "--exclude", "note", "-o", model, "-q", *extra)  # fmt: skip
    assert status == 0, err
    return model


def test_fit_select_predict_score_on_observed_values(
    files: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    X = files["X"]
    incomplete, cells = int(np.isnan(X).any(axis=1).sum()), int(np.isnan(X).sum())
    empty = int(np.isnan(X).all(axis=1).sum())
    said = f"{incomplete} of {N} rows are incomplete ({cells} empty cells; {empty} with nothing"
    model_path = tmp_path / "m.gmm"
    status, out, err = run(capsys, "fit", files["csv"], "-k", "2", "--id", "name",
                           "--exclude", "note", "-o", model_path)  # fmt: skip
    assert status == 0, err
    assert said + " observed, left out of the fit): fitted on their observed values" in out
    model = load(model_path)
    assert model.missing == "marginalize"
    status, out, _ = run(capsys, "select", files["parquet"], "-k", "1..2", "--covariance",
                         "full,diag", "--id", "name", "--exclude", "note")  # fmt: skip
    assert status == 0 and said in out

    labels = tmp_path / "labels.csv"
    status, out, _ = run(capsys, "predict", model_path, files["csv"], "--id", "name", "-o", labels)
    assert status == 0 and f"Wrote {N} predictions" in out and said in out
    written = pacsv.read_csv(labels)
    np.testing.assert_array_equal(written.column("label").to_numpy(), model.predict(named(X)))
    status, out, err = run(capsys, "score", model_path, files["npy"])  # CSV on stdout
    assert status == 0 and said in err
    scores = np.array([float(v) for v in out.splitlines()[1:]])
    np.testing.assert_allclose(scores, model.score_samples(named(X)), rtol=1e-12)


def test_anomalies_rank_incomplete_rows_by_tail_probability(
    files: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    X = files["X"]
    model_path = fit(files, capsys)
    model = load(model_path)
    out_path = tmp_path / "flagged.parquet"
    status, out, _ = run(capsys, "anomalies", model_path, files["parquet"], "--id", "name",
                         "--quantile", "0.05", "-o", out_path)  # fmt: skip
    assert status == 0 and "lowest tail probability" in out
    flagged = pq.read_table(out_path)
    tails = model.tail_probability(named(X))
    want = np.sort(np.lexsort((model.score_samples(named(X)), tails))[: int(np.ceil(0.05 * N))])
    np.testing.assert_array_equal(flagged.column("row").to_numpy(), want)
    np.testing.assert_allclose(flagged.column("tail_probability").to_numpy(), tails[want])
    assert flagged.column("name").to_pylist() == [f"id-{i:03d}" for i in want]


def test_missing_error_on_every_command_that_fits(
    files: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = int(np.isnan(files["X"]).any(axis=1).sum())
    for command, extra in (("fit", ["-o", tmp_path / "m.gmm"]), ("select", []),
                           ("report", ["-o", tmp_path / "r.html"])):  # fmt: skip
        status, _, err = run(capsys, command, files["csv"], "-k", "2", "--id", "name",
                             "--exclude", "note", "--missing", "error", *extra)  # fmt: skip
        assert status == 1, command
        assert f"in {rows} of {N} rows" in err and "refused with --missing error" in err
    # a model fitted with --missing error keeps it: its predictions refuse empty cells too
    complete = tmp_path / "complete.npy"
    np.save(complete, np.nan_to_num(files["X"]))
    status, _, err = run(capsys, "fit", complete, "-k", "1", "--missing", "error", "-q",
                         "-o", tmp_path / "strict.gmm")  # fmt: skip
    assert status == 0, err
    assert read_model(tmp_path / "strict.gmm").model.missing == "error"
    status, _, err = run(capsys, "predict", tmp_path / "strict.gmm", files["npy"])
    assert status == 1 and "refused with --missing error" in err


@pytest.mark.parametrize("fmt", ["csv", "parquet", "npy"])
def test_impute_writes_a_new_file_in_the_inputs_format(
    files: dict[str, Any], capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    X = files["X"]
    model_path = fit(files, capsys)
    model = load(model_path)
    data = files[fmt]
    before = data.read_bytes()
    status, out, err = run(capsys, "impute", model_path, data, *(["--id", "name"] * (fmt != "npy")))
    assert status == 0, err
    written = data.with_name(f"data-imputed.{fmt}")
    assert f"wrote {written}" in out and f"{int(np.isnan(X).sum())} empty cells" in out
    assert data.read_bytes() == before  # the input is untouched
    want = model.impute(named(X))
    if fmt == "npy":
        np.testing.assert_allclose(np.load(written), want, rtol=1e-12)
        return
    table = pacsv.read_csv(written) if fmt == "csv" else pq.read_table(written)
    original = pacsv.read_csv(data) if fmt == "csv" else pq.read_table(data)
    assert table.column_names == original.column_names  # every column, in its place
    assert table.column("name").equals(original.column("name"))
    assert table.column("note").equals(original.column("note"))
    got = np.column_stack([table.column(c).to_numpy() for c in ("a", "b", "c")])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(got[observed], X[observed])


def test_impute_draws_standardized_models_and_refusals(
    files: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    X = files["X"]
    model_path = fit(files, capsys, "--standardize")
    saved = read_model(model_path)
    out_path = tmp_path / "draws.csv"
    args = ("impute", model_path, files["csv"], "--id", "name", "--draws", "3", "--seed", "7")
    status, out, err = run(capsys, *args, "-o", out_path)
    assert status == 0, err
    assert "Drew 3 completions" in out
    table = pacsv.read_csv(out_path)
    assert table.column_names[0] == "draw" and table.num_rows == 3 * N
    np.testing.assert_array_equal(table.column("draw").to_numpy(), np.repeat(np.arange(3), N))
    z = saved.standardization.transform(X)
    want = saved.standardization.inverse_transform(
        saved.model.impute(named(z), n_draws=3, random_state=7)
    )
    got = np.column_stack([table.column(c).to_numpy() for c in ("a", "b", "c")])
    np.testing.assert_allclose(got, want.reshape(3 * N, 3), rtol=1e-9)
    # the same seed, the same completions
    again = tmp_path / "again.csv"
    assert run(capsys, *args, "-o", again)[0] == 0
    assert again.read_bytes() == out_path.read_bytes()

    status, _, err = run(capsys, "impute", model_path, files["csv"], "-o", files["csv"])
    assert status == 1 and "refusing to overwrite" in err and "input DATA" in err
    status, _, err = run(capsys, "impute", model_path, files["csv"], "-o", tmp_path / "x.parquet")
    assert status == 1 and "keeps the format of" in err
    inf = tmp_path / "inf.npy"
    bad = X.copy()
    bad[4, 1] = np.inf
    np.save(inf, bad)
    npy_model = tmp_path / "n.gmm"
    assert run(capsys, "fit", files["npy"], "-k", "2", "-q", "-o", npy_model)[0] == 0
    status, _, err = run(capsys, "impute", npy_model, inf)
    assert status == 1 and "infinite values in 1 of 150 rows" in err and ": 4)" in err
