"""The command line on real files: scikit-learn's bundled iris, wine, breast cancer and digits
data sets, saved as CSV and Parquet with an identifier and a label column, as a new user has
them.  Nothing the user gave is overwritten; identifier columns are left out with ``--id``
and ``--exclude``; a bad cell is named; ``--help`` starts without the numerical stack.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import datasets

from gaussmix import COVARIANCE_TYPES, BayesianGaussianMixture, GaussianMixture, load
from gaussmix.cli import Progress, build_parser, defaults, main
from gaussmix.posterior import WEIGHT_PRIORS

from .test_cli import assert_error, gaussmix, ok

pa = pytest.importorskip("pyarrow")
pacsv = pytest.importorskip("pyarrow.csv")
pq = pytest.importorskip("pyarrow.parquet")

ROOT = Path(__file__).resolve().parents[1]
LOADERS = {
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "cancer": datasets.load_breast_cancer,
    "digits": datasets.load_digits,
}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each data set as NAME.csv and NAME.parquet: an ``id`` column of text, the features,
    and the integer ``label``."""
    root = tmp_path_factory.mktemp("real")
    out = {"dir": root}
    for name, loader in LOADERS.items():
        bunch = loader()
        X = bunch.data
        columns: dict[str, Any] = {"id": [f"{name}-{i:04d}" for i in range(len(X))]}
        names = getattr(bunch, "feature_names", None)
        for j in range(X.shape[1]):
            column = str(names[j]) if names is not None else f"f{j}"
            columns[column.replace(" ", "_").replace("/", "_")] = X[:, j]
        columns["label"] = bunch.target.astype(np.int64)
        table = pa.table(columns)
        pacsv.write_csv(table, root / f"{name}.csv")
        pq.write_table(table, root / f"{name}.parquet")
        out[name] = root / f"{name}.csv"
        out[f"{name}.parquet"] = root / f"{name}.parquet"
    model = GaussianMixture(3, covariance_type="diag", random_state=0)
    iris = pacsv.read_csv(out["iris"]).drop_columns(["id", "label"])
    model.fit(iris)
    out["model"] = model.save(root / "iris.gmm")
    return out


def commands() -> list[str]:
    """Every sub-command of the parser."""
    (sub,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def snapshot(*paths: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


# --------------------------------------------------------------------------- overwriting


def test_nothing_the_user_gave_is_overwritten(real: dict[str, Path], tmp_path: Path) -> None:
    """Every command that writes refuses its inputs and files of another kind, with one line,
    and leaves them byte for byte as they were."""
    data, parquet, model = real["iris"], real["iris.parquet"], real["model"]
    other = tmp_path / "notes.txt.gmm"
    other.write_text("my notes\n")
    before = snapshot(data, parquet, model, other)
    cases = [
        (["fit", data, "-k", "3", "-o", data], "it is this command's input DATA"),
        (["fit", data, "-k", "2", "--exclude", "id", "-o", parquet], ".parquet names another"),
        (["fit", data, "-k", "2", "--exclude", "id", "-o", other], "holds text"),
        (["predict", model, data, "--id", "id", "-o", data], "input DATA"),
        (["score", model, parquet, "--id", "id", "-o", parquet], "input DATA"),
        (["anomalies", model, parquet, "--id", "id", "-o", parquet], "input DATA"),
        (["sample", model, "-n", "5", "-o", model], "unknown output format '.gmm'"),
        (["sample", model, "-n", "5", "-o", data.with_name("iris.gmm.csv")], "holds a gaussmix"
         " model, not a CSV table"),
        (["select", data, "--id", "id", "-k", "1..2", "--csv", data], "input DATA"),
        (["report", data, "--id", "id", "-k", "1", "-o", data], "input DATA"),
        (["report", data, "--id", "id", "-k", "1", "-o", model], ".gmm names another kind"),
    ]  # fmt: skip
    model_csv = data.with_name("iris.gmm.csv")
    model_csv.write_bytes(model.read_bytes())  # a model named like a table
    before[model_csv] = model_csv.read_bytes()
    for args, fragment in cases:
        message = assert_error(gaussmix(*args, cwd=tmp_path), fragment)
        assert "refusing to" in message or "unknown output format" in message
        assert snapshot(*before) == before, args

    # the same with --force replaces the file, atomically, with what the command writes
    ok(gaussmix("predict", model, data, "--id", "id", "-o", model_csv, "--force", cwd=tmp_path))
    assert pacsv.read_csv(model_csv).column_names == ["id", "label"]
    copy = tmp_path / "copy.csv"
    copy.write_bytes(data.read_bytes())
    ok(gaussmix("fit", copy, "-k", "2", "--id", "id", "--exclude", "label", "-o", copy,
                "--force", "--quiet", cwd=tmp_path))  # fmt: skip
    assert load(copy).n_components == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_outputs_that_are_folders_name_the_path_and_the_fix(
    real: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(real["iris"])
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["fit", data, "-k", "2", "--id", "id", "-o", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"gaussmix: error: cannot write {folder}: it is a folder; name a file inside it, "
        f"e.g. {folder / 'model.gmm'}\n"
    )
    assert main(["score", str(real["model"]), data, "-o", str(tmp_path / "x" / "s.csv")]) == 1
    assert "no such folder" in capsys.readouterr().err
    assert main(["fit", str(folder), "-k", "2", "-o", str(tmp_path / "m.gmm")]) == 1
    assert capsys.readouterr().err == (
        f"gaussmix: error: {folder} is a folder, not a data file; name a file inside it\n"
    )
    assert list(folder.iterdir()) == []


# --------------------------------------------------------------------------- real tables


@pytest.mark.parametrize("name", ["wine", "cancer", "digits"])
def test_id_and_exclude_leave_columns_out(real: dict[str, Path], name: str, tmp_path: Path) -> None:
    """Fit on the features only (``--id`` the identifier, ``--exclude`` the label), then
    predict with the identifier copied through: the same model as fitted in-process."""
    model_path = tmp_path / f"{name}.gmm"
    ok(gaussmix("fit", real[f"{name}.parquet"], "--id", "id", "--exclude", "label", "-k", "2",
                "--covariance", "diag", "-o", model_path, "--quiet", cwd=tmp_path))  # fmt: skip
    model = load(model_path)
    table = pq.read_table(real[f"{name}.parquet"])
    features = table.drop_columns(["id", "label"])
    assert list(model.feature_names_in_) == features.column_names
    expected = GaussianMixture(2, covariance_type="diag", random_state=0).fit(features)
    np.testing.assert_array_equal(model.means_, expected.means_)

    out = tmp_path / "labels.csv"
    ok(gaussmix("predict", model_path, real[name], "--id", "id", "--exclude", "label",
                "-o", out, cwd=tmp_path))  # fmt: skip
    labels = pacsv.read_csv(out)
    assert labels.column_names == ["id", "label"]
    assert labels.column("id").to_pylist() == table.column("id").to_pylist()
    np.testing.assert_array_equal(labels.column("label").to_numpy(), expected.predict(features))


def test_select_and_report_take_id_and_exclude(real: dict[str, Path], tmp_path: Path) -> None:
    table = tmp_path / "table.csv"
    result = ok(gaussmix("select", real["iris"], "--id", "id", "--exclude", "label",
                         "-k", "1..3", "--covariance", "diag,spherical", "--csv", table,
                         cwd=tmp_path))  # fmt: skip
    assert "150 rows x 4 columns" in result.stdout
    assert pacsv.read_csv(table).column_names[-2:] == ["flag", "best"]
    report = tmp_path / "iris.html"
    ok(gaussmix("report", real["iris"], "--id", "id", "--exclude", "label", "-k", "1..2",
                "--covariance", "diag", "-o", report, cwd=tmp_path))  # fmt: skip
    assert "<html" in report.read_text(encoding="utf-8").lower()


def test_a_bad_cell_is_named_by_row_column_and_value(
    real: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = real["wine"].read_text().splitlines()
    header = lines[0].split(",")
    column = header.index('"alcohol"')
    for row, typo in ((17, "abc"), (40, "1.5e")):
        cells = lines[row + 1].split(",")
        cells[column] = typo
        lines[row + 1] = ",".join(cells)
    path = tmp_path / "typos.csv"
    path.write_text("\n".join(lines) + "\n")
    assert main(["fit", str(path), "--id", "id", "-k", "2", "-o", str(tmp_path / "m.gmm")]) == 1
    err = capsys.readouterr().err
    assert "cells that are not numbers in column 'alcohol': row 17 'abc', row 40 '1.5e'" in err
    assert "non-numeric" not in err and err.count("\n") == 1
    # without --id, the identifier is a text column, named with the options that leave it out
    assert main(["select", str(path), "-k", "1"]) == 1
    err = capsys.readouterr().err
    assert "row 17 'abc'" in err and "non-numeric columns 'id'; leave them out with --exclude id"


def test_anomalies_threshold_must_be_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("nan", "inf", "-inf", "x"):
        with pytest.raises(SystemExit) as info:
            main(["anomalies", "m.gmm", "d.csv", f"--threshold={bad}"])
        assert info.value.code == 2
        assert f"--threshold: invalid value '{bad}': use a finite number" in capsys.readouterr().err


def test_a_corrupted_model_is_one_line(real: dict[str, Path], tmp_path: Path) -> None:
    content = bytearray(real["model"].read_bytes())
    content[content.rindex(b"PK\x01\x02") + 6] = 0xFF  # "version needed to extract"
    path = tmp_path / "corrupted.gmm"
    path.write_bytes(bytes(content))
    result = gaussmix("predict", path, real["iris"], "--exclude", "id,label", cwd=tmp_path)
    assert_error(result, "is not a gaussmix model file (a damaged or truncated ZIP archive)")


# --------------------------------------------------------------------------- start, progress


_IMPORTS = """
import json, sys
from gaussmix.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit:
        pass
heavy = ("numpy", "scipy", "sklearn", "pyarrow", "gaussmix.mixture", "gaussmix.engine")
print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


def test_help_and_argument_errors_do_not_import_the_numerical_stack() -> None:
    argv = [["--help"], ["--version"], ["fit", "x.csv", "-k", "0", "-o", "m.gmm"]]
    argv += [[command, "--help"] for command in commands()]
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS, json.dumps(argv)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_the_parser_shows_the_estimator_defaults() -> None:
    from gaussmix.covariance import COVARIANCE_SETS, MCLUST_MODELS, REGISTRY

    assert defaults.COVARIANCE_TYPES == COVARIANCE_TYPES
    assert defaults.MCLUST_MODELS == MCLUST_MODELS
    assert defaults.COVARIANCE_NAMES == tuple(REGISTRY)
    assert defaults.COVARIANCE_SETS == COVARIANCE_SETS
    for estimator in (GaussianMixture(), BayesianGaussianMixture()):
        params = estimator.get_params()
        expected = dict(defaults.ESTIMATOR_DEFAULTS)
        if isinstance(estimator, BayesianGaussianMixture):
            # the CLI passes no tol unless given: the Bayesian mixture keeps its own
            # (scikit-learn's 1e-3; GaussianMixture's None refines small fits); it also keeps
            # scikit-learn's absolute reg_covar, and the command line gives both "auto"
            expected.update(tol=1e-3, reg_covar=1e-6)
        assert {name: params[name] for name in defaults.ESTIMATOR_DEFAULTS} == expected
    assert defaults.WEIGHT_PRIORS == WEIGHT_PRIORS
    assert params["weight_concentration_prior_type"] == defaults.WEIGHT_PRIORS[0]


def test_select_progress_counts_candidates(
    real: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tqdm")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    seen: list[str] = []
    candidate = Progress.candidate

    def record(self: Progress, *args: Any) -> None:
        candidate(self, *args)
        seen.append(self.bar.desc)

    monkeypatch.setattr(Progress, "candidate", record)
    assert main(["select", str(real["iris"]), "--exclude", "id,label", "-k", "1..2",
                 "--covariance", "diag,spherical"]) == 0  # fmt: skip
    assert seen == [
        "selecting: candidate 1 of 4 (k=1, diag)",
        "selecting: candidate 2 of 4 (k=2, diag)",
        "selecting: candidate 3 of 4 (k=1, spherical)",
        "selecting: candidate 4 of 4 (k=2, spherical)",
    ]


def test_the_readme_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [c for c in commands() if f"gaussmix {c}" not in readme]
    assert not missing, f"README.md does not show: {missing}"
