"""The command line, end to end through ``python -m gaussmix`` on real files.

Each subprocess costs about a second of imports, so the workflows are few and each checks
several things; argument parsing and help texts are tested in-process.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gaussmix import MCLUST_MODELS, GaussianMixture, load
from gaussmix.cli import Progress, build_parser, main, parse_components, parse_covariance
from gaussmix.persistence import read_model

pa = pytest.importorskip("pyarrow")
pacsv = pytest.importorskip("pyarrow.csv")
pq = pytest.importorskip("pyarrow.parquet")

N = 150
OUTLIER = 7


def gaussmix(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GAUSSMIX_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "gaussmix", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def assert_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gaussmix: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def read_table(path: Path) -> Any:
    return pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three clusters in (a, b) with an outlier at row OUTLIER, as CSV, Parquet and NPY."""
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [6.0, 6.0], [0.0, 9.0]])
    labels = rng.integers(3, size=N)
    X = centres[labels] + rng.normal(scale=0.8, size=(N, 2))
    X[OUTLIER] = [2.0, 5.0]  # between the clusters: rare, but too close to get a component
    root = tmp_path_factory.mktemp("cli")
    table = pa.table(
        {
            "name": [f"id-{i:03d}" for i in range(N)],
            "a": X[:, 0],
            "b": X[:, 1],
            "kind": ["x" if i % 2 else "y" for i in range(N)],
        }
    )
    out = {"dir": root, "csv": root / "data.csv", "parquet": root / "data.parquet"}
    pacsv.write_csv(table, out["csv"])
    pq.write_table(table, out["parquet"])
    out["npy"] = root / "data.npy"
    np.save(out["npy"], X)
    # a model fitted in-process on (a, b), with its column names, as `gaussmix fit` saves it
    model = GaussianMixture(3, random_state=0).fit(X)
    model.feature_names_in_ = np.array(["a", "b"], dtype=object)
    out["model"] = model.save(root / "model.gmm")
    return out


def csv_X(path: Path) -> np.ndarray:
    t = pacsv.read_csv(path)
    return np.column_stack([t.column("a").to_numpy(), t.column("b").to_numpy()])


def named(X: np.ndarray) -> Any:
    """Rows with the column names the models were fitted with."""
    return pa.table({"a": X[:, 0], "b": X[:, 1]})


# --------------------------------------------------------------------------- workflows


def test_fit_csv_then_predict_with_probabilities_and_ids(
    files: dict[str, Path], tmp_path: Path
) -> None:
    model_path = tmp_path / "m.gmm"
    fit = ok(gaussmix(
        "fit", files["csv"], "-k", "3", "--covariance", "full", "--columns", "a,b",
        "--seed", "1", "--n-init", "4", "--max-iter", "200", "--tol", "1e-4",
        "-o", model_path, cwd=tmp_path,
    ))  # fmt: skip
    assert "Fitted 3 components (covariance 'full') to 150 rows x 2 columns" in fit.stdout
    assert f"Saved the model to {model_path}" in fit.stdout
    model = load(model_path)
    assert list(model.feature_names_in_) == ["a", "b"]
    assert model.get_params()["n_init"] == 4 and model.get_params()["random_state"] == 1

    out = tmp_path / "pred.csv"
    ok(gaussmix("predict", model_path, files["csv"], "--proba", "--id", "name", "-o", out,
                cwd=tmp_path))  # fmt: skip
    table = read_table(out)
    assert table.column_names == ["name", "label", "proba_0", "proba_1", "proba_2"]
    assert table.column("name").to_pylist() == [f"id-{i:03d}" for i in range(N)]
    X = csv_X(files["csv"])
    assert np.array_equal(table.column("label").to_numpy(), model.predict(named(X)))
    proba = np.column_stack([table.column(f"proba_{j}").to_numpy() for j in range(3)])
    np.testing.assert_allclose(proba, model.predict_proba(named(X)), rtol=1e-12, atol=1e-300)
    assert {p.name for p in tmp_path.iterdir()} == {"m.gmm", "pred.csv"}


def test_fit_auto_standardized_parquet_then_score(files: dict[str, Path], tmp_path: Path) -> None:
    model_path = tmp_path / "auto.gmm"
    fit = ok(gaussmix("fit", files["parquet"], "-k", "1..4", "--covariance", "all",
                      "--columns", "a,b", "--standardize", "-o", model_path,
                      cwd=tmp_path))  # fmt: skip
    assert "Chosen by BIC among 56 candidates" in fit.stdout  # 14 models x 4
    assert "(standardized)" in fit.stdout
    saved = read_model(model_path)
    assert saved.standardization is not None
    assert saved.model.n_components >= 3

    out = tmp_path / "scores.parquet"
    ok(gaussmix("score", model_path, files["parquet"], "--id", "name", "-o", out, cwd=tmp_path))
    table = read_table(out)
    assert table.column_names == ["name", "log_density"]
    X = csv_X(files["csv"])
    std = saved.standardization
    expected = saved.model.score_samples(named(std.transform(X))) - np.log(std.scale).sum()
    np.testing.assert_allclose(table.column("log_density").to_numpy(), expected, rtol=1e-12)
    assert int(np.argmin(expected)) == OUTLIER


def test_fit_npy_then_anomalies_on_stdout(files: dict[str, Path], tmp_path: Path) -> None:
    model_path = tmp_path / "npy.gmm"
    ok(gaussmix("fit", files["npy"], "-k", "3", "-o", model_path, "--quiet", cwd=tmp_path))
    model = load(model_path)
    assert not hasattr(model, "feature_names_in_")  # NPY columns have no names
    result = ok(gaussmix("anomalies", model_path, files["npy"], "--quantile", "0.02",
                         cwd=tmp_path))  # fmt: skip
    table = pacsv.read_csv(io.BytesIO(result.stdout.encode()))
    assert table.column_names == ["row", "x0", "x1", "log_density"]
    rows = table.column("row").to_pylist()
    assert OUTLIER in rows and rows == sorted(rows) and len(rows) == 3
    assert "Flagged 3 of 150 rows" in result.stderr
    X = np.load(files["npy"])
    logd = model.score_samples(X)
    assert set(rows) == set(np.argsort(logd)[:3].tolist())


def test_predict_score_anomalies_with_a_named_model(files: dict[str, Path], tmp_path: Path) -> None:
    """The model's columns are found by name in CSV/Parquet data, by position in NPY."""
    out = tmp_path / "flagged.csv"
    result = ok(gaussmix("anomalies", files["model"], files["parquet"], "--id", "name",
                         "-o", out, cwd=tmp_path))  # fmt: skip
    assert result.stdout.startswith("Flagged 2 of 150 rows")
    table = read_table(out)
    assert table.column_names == ["name", "row", "a", "b", "log_density"]
    assert f"id-{OUTLIER:03d}" in table.column("name").to_pylist()

    result = ok(gaussmix("predict", files["model"], files["npy"], cwd=tmp_path))
    labels = pacsv.read_csv(io.BytesIO(result.stdout.encode())).column("label").to_numpy()
    assert np.array_equal(labels, load(files["model"]).predict(named(np.load(files["npy"]))))


def test_select_prints_the_table_and_writes_csv(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    result = ok(gaussmix("select", files["csv"], "--columns", "a,b", "-k", "1..3",
                         "--covariance", "full,diag", "--csv", out, cwd=tmp_path))  # fmt: skip
    lines = result.stdout.splitlines()
    marked = [line.split() for line in lines if line.startswith("*")]
    assert len(marked) == 1
    _, k, cov, *_ = marked[0]
    assert f"Best: {k} components, covariance '{cov}'" in result.stdout
    table = pacsv.read_csv(out)
    assert table.num_rows == 6
    assert table.column("best").to_pylist().count(True) == 1
    assert set(table.column("covariance_type").to_pylist()) == {"full", "diag"}
    best = table.filter(table.column("best")).to_pylist()[0]
    assert (str(best["n_components"]), best["covariance_type"]) == (k, cov)
    assert best["bic"] == min(table.column("bic").to_pylist())


def test_sample_is_reproducible_with_a_seed(files: dict[str, Path], tmp_path: Path) -> None:
    first, second = tmp_path / "s1.csv", tmp_path / "s2.parquet"
    ok(gaussmix("sample", files["model"], "-n", "50", "--seed", "3", "-o", first, cwd=tmp_path))
    ok(gaussmix("sample", files["model"], "-n", "50", "--seed", "3", "-o", second, cwd=tmp_path))
    a, b = read_table(first), read_table(second)
    assert a.column_names == ["a", "b", "component"]
    assert a.equals(b)
    X, labels = load(files["model"]).sample(50, random_state=3)
    assert np.array_equal(a.column("a").to_numpy(), X[:, 0])
    assert np.array_equal(a.column("component").to_numpy(), labels)


def test_help_through_the_console_script(tmp_path: Path) -> None:
    result = ok(gaussmix("--help", cwd=tmp_path))
    assert "examples:" in result.stdout
    for command in ("fit", "select", "predict", "score", "anomalies", "sample", "report"):
        assert command in result.stdout
    script = Path(sys.executable).with_name("gaussmix")  # the console script of the venv
    if script.exists():
        result = subprocess.run(
            [script, "fit", "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120
        )
        assert ok(result).stdout.startswith("usage: gaussmix fit")


def test_report(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = ok(gaussmix("report", files["csv"], "--columns", "a,b", "-k", "1..2",
                         "--covariance", "full", "--max-points", "40", "-o", out,
                         cwd=tmp_path))  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert "<html" in html.lower() and f"Wrote the report to {out}" in result.stdout
    data = re.search(r'<script type="application/json" id="gm-data">(.*?)</script>', html, re.S)
    assert data is not None and len(json.loads(data.group(1))["data"]["rows"]) == min(N, 40)


def test_demo_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.html"
    assert main(["demo", "--max-components", "2", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Old Faithful" in text and f"Wrote the interactive report to {out}" in text
    assert out.exists()


def test_demo_without_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--max-components", "2", "--no-report"]) == 0
    assert "Chosen model" in capsys.readouterr().out


# --------------------------------------------------------------------------- bad input


def test_missing_data_file(files: dict[str, Path], tmp_path: Path) -> None:
    result = gaussmix("predict", files["model"], tmp_path / "missing.csv", cwd=tmp_path)
    assert_error(result, "no such file", "missing.csv")


def test_unreadable_format(files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "data.parquet"
    bad.write_bytes(b"this is not parquet" * 10)
    assert_error(gaussmix("fit", bad, "-k", "2", "-o", tmp_path / "m.gmm", cwd=tmp_path),
                 "cannot read", "as Parquet")  # fmt: skip
    assert not (tmp_path / "m.gmm").exists()


def test_non_numeric_columns(files: dict[str, Path], tmp_path: Path) -> None:
    result = gaussmix("fit", files["csv"], "-k", "2", "-o", tmp_path / "m.gmm", cwd=tmp_path)
    assert_error(result, "non-numeric columns 'name', 'kind'", "--columns")


def test_unknown_columns(files: dict[str, Path], tmp_path: Path) -> None:
    result = gaussmix("score", files["model"], files["parquet"], "--columns", "a,zzz",
                      cwd=tmp_path)  # fmt: skip
    assert_error(result, "unknown columns 'zzz'", "'name', 'a', 'b', 'kind'")


def test_rows_with_nan_and_inf(files: dict[str, Path], tmp_path: Path) -> None:
    # NaN is a missing value (predicted from the observed ones), infinity is an error
    X = np.load(files["npy"])
    X[[4, 40, 41, 90, 91, 120], 1] = np.nan
    X[[60, 70], 0] = np.inf
    path = tmp_path / "holes.npy"
    np.save(path, X)
    result = gaussmix("predict", files["model"], path, cwd=tmp_path)
    assert_error(result, "infinite values in 2 of 150 rows", "60, 70)", "not a missing value")


def test_model_of_another_format_version(files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "future.gmm"
    edit_model(files["model"], path, lambda h: h.update(format_version=4))
    assert_error(gaussmix("sample", path, "-n", "5", cwd=tmp_path),
                 "format version 4", "reads format versions 1, 2 and 3")  # fmt: skip


def test_tampered_model(files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "tampered.gmm"
    edit_model(files["model"], path, None, {"means_.npy": b"garbage"})
    assert_error(gaussmix("predict", path, files["csv"], cwd=tmp_path), "checksum of means_.npy")


def test_pickled_model(files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(load(files["model"])))
    assert_error(gaussmix("score", path, files["csv"], cwd=tmp_path),
                 "not a gaussmix model file", "pickle")  # fmt: skip


def edit_model(src: Path, dst: Path, edit: Any, replace: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(src) as zf:
        content = {name: zf.read(name) for name in zf.namelist()}
    header = json.loads(content["gaussmix.json"])
    if edit is not None:
        edit(header)
    content["gaussmix.json"] = json.dumps(header).encode()
    content.update(replace or {})
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in content.items():
            zf.writestr(name, data)


# --------------------------------------------------------------------------- in-process


COMMANDS = (
    "fit", "select", "predict", "score", "anomalies", "impute", "sample", "report", "demo",
)  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: gaussmix {command}")
    assert "examples:" in text and f"gaussmix {command}" in text.split("examples:")[1]


def test_component_and_covariance_arguments() -> None:
    assert parse_components("3") == [3]
    assert parse_components("auto") == list(range(1, 10))
    assert parse_components("2..5") == [2, 3, 4, 5]
    assert parse_components("2,4,8") == [2, 4, 8]
    assert parse_components(" 4,2,4 ") == [4, 2]
    for bad in ("0", "x", "5..2", "", "1..x"):
        with pytest.raises(Exception, match="invalid number of components"):
            parse_components(bad)
    assert parse_covariance("all") == list(MCLUST_MODELS)
    assert parse_covariance("sklearn") == ["full", "tied", "diag", "spherical"]
    assert parse_covariance("diag,full") == ["diag", "full"]
    # any case, sets expanded, without repeats
    mixed = parse_covariance("vev, VVV,full,sklearn")
    assert mixed == ["VEV", "VVV", "full", "tied", "diag", "spherical"]
    with pytest.raises(Exception, match="invalid covariance type"):
        parse_covariance("fuller")


def test_reg_covar_argument() -> None:
    """``auto`` (the relative default) or an absolute number, scikit-learn's meaning."""

    def parsed(*extra: str) -> object:
        return build_parser().parse_args(["fit", "x.npy", "-o", "m.gmm", *extra]).reg_covar

    assert parsed() is None  # the estimator's default, "auto"
    assert parsed("--reg-covar", "AUTO") == "auto"
    assert parsed("--reg-covar", "1e-6") == 1e-6
    with pytest.raises(SystemExit):
        parsed("--reg-covar", "relative")


def test_usage_errors_exit_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fit", "x.csv", "-k", "0", "-o", "m.gmm"])
    assert info.value.code == 2
    assert "invalid number of components" in capsys.readouterr().err


def test_missing_pyarrow_names_the_extra(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("pyarrow", "pyarrow.csv", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["score", str(files["model"]), str(files["csv"])]) == 1
    err = capsys.readouterr().err
    assert err == (
        "gaussmix: error: reading CSV files needs pyarrow, which is not installed: "
        'pip install "gaussmix[cli]"\n'
    )


def test_output_format_is_checked_first(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xlsx = tmp_path / "x.xlsx"
    assert main(["score", str(files["model"]), str(files["csv"]), "-o", str(xlsx)]) == 1
    assert "unknown output format '.xlsx'" in capsys.readouterr().err
    assert main(["fit", str(files["npy"]), "-k", "2", "-o", str(tmp_path / "no" / "m.gmm")]) == 1
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["report", "demo"])
def test_report_missing_is_one_clear_line(
    command: str,
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "gaussmix.report", None)
    args = [str(files["npy"])] if command == "report" else []
    assert main([command, *args, "-o", str(tmp_path / "r.html")]) == 1
    captured = capsys.readouterr()
    assert (
        captured.err
        == "gaussmix: error: this gaussmix has no HTML report (gaussmix.report is missing)\n"
    )
    assert captured.out == "" and not (tmp_path / "r.html").exists()


def test_garbage_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(bytes(range(256)) * 4)
    assert main(["select", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"gaussmix: error: cannot read {path} as CSV: ")


def test_progress_bar_follows_the_fit(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tqdm")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    args = build_parser().parse_args(["fit", "x.npy", "-o", "m.gmm"])
    progress = Progress(args, "fitting")
    assert progress.bar is not None and Progress.active is progress
    GaussianMixture(2, random_state=0).fit(np.load(files["npy"]), callback=progress)
    assert progress.bar.n > 0
    progress.close()
    assert Progress.active is None
    quiet = build_parser().parse_args(["fit", "x.npy", "-o", "m.gmm", "--quiet"])
    assert Progress(quiet, "fitting").bar is None
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert Progress(args, "fitting").bar is None


def test_noise_component_through_fit_predict_and_select(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [6.0, 6.0], [0.0, 9.0]])
    X = np.vstack(
        [centres[rng.integers(3, size=300)] + rng.normal(scale=0.6, size=(300, 2)),
         rng.uniform(-6.0, 12.0, size=(20, 2))]
    )  # fmt: skip
    data = tmp_path / "noisy.csv"
    pacsv.write_csv(pa.table({"a": X[:, 0], "b": X[:, 1]}), data)
    model_path = tmp_path / "noise.gmm"
    assert main(["fit", str(data), "-k", "3", "--noise", "-o", str(model_path)]) == 0
    model = load(model_path)
    assert model.noise_region_ is not None and model.get_params()["noise"] is True
    noisy = int((model.predict(named(X)) == -1).sum())
    printed = capsys.readouterr().out
    bayes = ["fit", str(data), "-k", "3", "--noise", "--bayesian", "-o", str(tmp_path / "b.gmm")]
    assert main(bayes) != 0  # variational Bayes has no noise component: refused, not ignored
    assert "--noise" in capsys.readouterr().err and not (tmp_path / "b.gmm").exists()
    assert f"noise: weight {model.noise_weight_:.4f}, uniform over a box of volume" in printed
    assert f"; {noisy} of {len(X)} rows labelled -1" in printed

    out = tmp_path / "labels.csv"
    assert main(["predict", str(model_path), str(data), "--proba", "-o", str(out), "-q"]) == 0
    table = read_table(out)
    assert table.column_names == ["label", "proba_0", "proba_1", "proba_2", "proba_noise"]
    labels = table.column("label").to_numpy()
    np.testing.assert_array_equal(labels, model.predict(named(X)))
    assert (labels == -1).sum() >= 10
    proba = np.column_stack([table.column(c).to_numpy() for c in table.column_names[1:]])
    np.testing.assert_allclose(proba, model.predict_proba(named(X)), rtol=1e-12, atol=1e-300)
    plain = tmp_path / "plain.csv"
    assert main(["predict", str(model_path), str(data), "-o", str(plain), "-q"]) == 0
    np.testing.assert_array_equal(read_table(plain).column("label").to_numpy(), labels)

    table_path = tmp_path / "table.csv"
    args = ["select", str(data), "-k", "2..3", "--covariance", "full", "--n-init", "4"]
    assert main([*args, "--noise", "--csv", str(table_path), "-q"]) == 0
    capsys.readouterr()
    rows = pacsv.read_csv(table_path).to_pylist()
    assert [r["n_parameters"] for r in rows] == [11 + 2, 17 + 2]
