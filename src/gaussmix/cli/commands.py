"""The ``gaussmix`` command line (also ``python -m gaussmix``).

Commands: ``fit``, ``select``, ``predict``, ``score``, ``anomalies``, ``sample``, ``report``
and ``demo``; ``gaussmix COMMAND --help`` shows each one's options and examples.

Data files are CSV (``.csv``, ``.tsv``, optionally ``.gz``), Parquet (``.parquet``,
``.pq``) or NumPy (``.npy``, a 2-D numeric array whose columns are called ``x0, x1, ...``);
output tables are CSV or Parquet by extension, or CSV on standard output.  CSV and Parquet
need the optional ``pyarrow`` and the progress bar ``tqdm`` (``pip install
"gaussmix[cli]"``).  Every failure the user can fix (a missing file, a bad column, a model
file of another version...) is reported as one line ``gaussmix: error: ...`` on standard
error with exit status 1; set ``GAUSSMIX_DEBUG=1`` to get the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
from numpy.typing import NDArray

from ..covariance import COVARIANCE_TYPES

if TYPE_CHECKING:
    from ..em import FitEvent

EXIT_ERROR = 1
AUTO_COMPONENTS = range(1, 10)
_INSTALL_HINT = 'pip install "gaussmix[cli]"'
_CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


class CLIError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


# --------------------------------------------------------------------------- helpers


def _optional(module: str, what: str) -> ModuleType:
    """Import an optional dependency, or fail with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise CLIError(f"{what} needs {top}, which is not installed: {_INSTALL_HINT}") from None


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in _CSV_SUFFIXES + _PARQUET_SUFFIXES + (".npy",):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _shown(names: Sequence[str], limit: int = 8) -> str:
    quoted = [repr(n) for n in names[:limit]]
    return ", ".join(quoted) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _rows_shown(rows: NDArray[np.intp], limit: int = 5) -> str:
    head = ", ".join(str(int(r)) for r in rows[:limit])
    return head + (", ..." if len(rows) > limit else "")


def _say(args: argparse.Namespace, text: str, stream: TextIO | None = None) -> None:
    """An informational line (silenced by ``--quiet``)."""
    if not getattr(args, "quiet", False):
        print(text, file=stream or sys.stdout)


@contextlib.contextmanager
def _plain_arrays() -> Iterator[None]:
    """Silence scikit-learn's warning about predicting plain arrays with a named model.

    The command line selects the model's columns by name itself, then passes arrays.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        yield


# --------------------------------------------------------------------------- data


@dataclass
class Data:
    """A table read from a data file: named columns, numeric or not."""

    path: Path
    names: list[str]
    n_rows: int
    named: bool  # False for .npy (columns x0, x1, ... by position)
    _table: Any = None  # pyarrow.Table
    _array: NDArray[Any] | None = None

    def is_numeric(self, name: str) -> bool:
        if self._array is not None:
            return True
        pa = importlib.import_module("pyarrow")
        t = self._table.schema.field(name).type
        return bool(
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_decimal(t)
            or pa.types.is_null(t)
        )

    def values(self, names: Sequence[str]) -> NDArray[np.floating]:
        """The named columns as a float matrix (float32 ``.npy`` data stays float32)."""
        if self._array is not None:
            idx = [self.names.index(n) for n in names]
            arr = self._array[:, idx]
            dtype = np.float32 if arr.dtype == np.float32 else np.float64
            return np.ascontiguousarray(arr, dtype=dtype)
        pa = importlib.import_module("pyarrow")
        X = np.empty((self.n_rows, len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            column = self._table.column(name).cast(pa.float64(), safe=False)
            X[:, j] = column.to_numpy()
        return X

    def raw(self, name: str) -> Any:
        """One column as it is (for pass-through), a pyarrow or NumPy array."""
        if self._array is not None:
            return self._array[:, self.names.index(name)]
        return self._table.column(name)


def read_data(path_text: str) -> Data:
    """Read a CSV, Parquet or NPY file.

    Parameters
    ----------
    path_text : str
        ``.csv``, ``.tsv`` (optionally ``.gz``), ``.parquet``, ``.pq`` or ``.npy``.

    Returns
    -------
    Data

    Raises
    ------
    CLIError
        If the file is missing, of an unknown or unreadable format, or needs pyarrow.
    """
    path = Path(path_text)
    suffix = _suffix(path)
    if suffix not in _CSV_SUFFIXES + _PARQUET_SUFFIXES + (".npy",):
        raise CLIError(
            f"cannot read {path}: unknown data format {suffix or '(no extension)'!r}; "
            "use .csv, .tsv, .parquet or .npy"
        )
    if not path.exists():
        raise CLIError(f"no such file: {path}")
    if path.is_dir():
        raise CLIError(f"{path} is a directory, not a data file")
    if suffix == ".npy":
        return _read_npy(path)
    kind = "CSV" if suffix in _CSV_SUFFIXES else "Parquet"
    pa = _optional("pyarrow", f"reading {kind} files")
    try:
        if kind == "CSV":
            pacsv = _optional("pyarrow.csv", f"reading {kind} files")
            delimiter = "\t" if suffix.startswith(".tsv") else ","
            table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
        else:
            pq = _optional("pyarrow.parquet", f"reading {kind} files")
            table = pq.read_table(path)
    except (pa.ArrowException, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise CLIError(f"cannot read {path} as {kind}: {_one_line(str(exc))}") from None
    names = [str(n) for n in table.column_names]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise CLIError(f"{path} has duplicate column names {_shown(dup)}")
    return Data(path, names, table.num_rows, True, _table=table)


def _read_npy(path: Path) -> Data:
    try:
        with open(path, "rb") as f:
            arr = np.lib.format.read_array(f, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CLIError(f"cannot read {path} as NPY: {_one_line(str(exc))}") from None
    if arr.dtype.kind not in "iuf":
        raise CLIError(
            f"{path} holds {arr.dtype} values; gaussmix needs a numeric (integer or float) "
            "array of shape (rows, columns)"
        )
    if arr.ndim != 2:
        raise CLIError(
            f"{path} holds an array of shape {arr.shape}; gaussmix needs a 2-D array of shape "
            "(rows, columns) (reshape a single feature with x.reshape(-1, 1))"
        )
    names = [f"x{j}" for j in range(arr.shape[1])]
    return Data(path, names, arr.shape[0], False, _array=arr)


def _parse_columns(text: str | None, data: Data) -> list[str] | None:
    if text is None:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise CLIError("--columns is empty; name at least one column")
    if not data.named:  # NPY: x0, x1, ... or plain positions 0, 1, ...
        names = [f"x{c}" if c.isdigit() else c for c in names]
    return names


def select_features(
    data: Data,
    columns: str | None,
    *,
    model_names: Sequence[str] | None = None,
    n_features: int | None = None,
    id_column: str | None = None,
) -> tuple[NDArray[np.floating], list[str]]:
    """The feature matrix and its column names, with every check the user may need.

    Parameters
    ----------
    data : Data
    columns : str or None
        ``--columns``: comma-separated names (for NPY also positions).
    model_names : sequence of str, optional
        The columns a model was fitted on; looked up by name in CSV / Parquet data.
    n_features : int, optional
        How many columns the model expects.
    id_column : str, optional
        ``--id``: must exist; excluded from the default features.

    Returns
    -------
    X : ndarray of shape (n_rows, n_columns)
        float64 (float32 for float32 NPY data); every value finite.
    names : list of str

    Raises
    ------
    CLIError
        Naming unknown or non-numeric columns, a column count the model does not expect,
        or the rows holding missing / non-finite values.
    """
    requested = _parse_columns(columns, data)
    if id_column is not None and id_column not in data.names:
        raise CLIError(
            f"unknown --id column {id_column!r} in {data.path}; its columns are "
            f"{_shown(data.names)}"
        )
    if requested is not None:
        names = requested
        unknown = [n for n in names if n not in data.names]
        if unknown:
            raise CLIError(
                f"unknown columns {_shown(unknown)} in {data.path}; its columns are "
                f"{_shown(data.names)}"
            )
    elif model_names is not None and data.named:
        names = list(model_names)
        unknown = [n for n in names if n not in data.names]
        if unknown:
            raise CLIError(
                f"{data.path} lacks the model's columns {_shown(unknown)} (the model was "
                f"fitted on {_shown(names)}; the file has {_shown(data.names)}); rename them, "
                "or choose columns by position with --columns"
            )
    else:
        names = [n for n in data.names if n != id_column]
        bad = [n for n in names if not data.is_numeric(n)]
        if bad:
            raise CLIError(
                f"{data.path} has non-numeric columns {_shown(bad)}; choose the numeric "
                "ones with --columns (and name an identifier with --id)"
            )
    bad = [n for n in names if not data.is_numeric(n)]
    if bad:
        raise CLIError(
            f"{data.path} has non-numeric columns {_shown(bad)}; gaussmix models numeric "
            "features only: choose other columns with --columns"
        )
    if len(set(names)) != len(names):
        raise CLIError(f"--columns names a column twice: {_shown(names)}")
    if n_features is not None and len(names) != n_features:
        raise CLIError(
            f"the model expects {n_features} columns, but {len(names)} of {data.path} were "
            f"selected ({_shown(names)}); choose {n_features} with --columns"
        )
    if data.n_rows == 0:
        raise CLIError(f"{data.path} has no rows")
    X = data.values(names)
    finite = np.isfinite(X).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite)
        raise CLIError(
            f"{data.path} has missing or non-finite values (NaN, empty, inf) in {len(rows)} of "
            f"{data.n_rows} rows (counting data rows from 0: {_rows_shown(rows)}); drop or fill "
            "them first"
        )
    return X, names


# --------------------------------------------------------------------------- output


def _check_output(path_text: str | None) -> Path | None:
    """Fail before any work when the output's format or folder is wrong."""
    if path_text is None:
        return None
    path = Path(path_text)
    if _suffix(path) not in _CSV_SUFFIXES + _PARQUET_SUFFIXES:
        raise CLIError(
            f"cannot write {path}: unknown output format {path.suffix or '(no extension)'!r}; "
            "use .csv or .parquet"
        )
    _check_folder(path)
    return path


def _check_folder(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise CLIError(f"cannot write {path}: no such folder {folder}")


def write_table(columns: dict[str, Any], path: Path | None) -> None:
    """Write columns (NumPy or pyarrow arrays) as CSV / Parquet, or CSV on standard output.

    Parameters
    ----------
    columns : dict of str to array
        Output columns, in order, of equal length.
    path : pathlib.Path or None
        ``.parquet`` / ``.pq`` writes Parquet, anything else CSV (``.tsv``: tab-separated);
        ``None`` writes CSV to standard output.
    """
    kind = "Parquet" if path is not None and _suffix(path) in _PARQUET_SUFFIXES else "CSV"
    pa = _optional("pyarrow", f"writing {kind}")
    table = pa.table(columns)
    try:
        if kind == "Parquet":
            pq = _optional("pyarrow.parquet", "writing Parquet")
            pq.write_table(table, path)
            return
        pacsv = _optional("pyarrow.csv", "writing CSV")
        delimiter = "\t" if path is not None and _suffix(path).startswith(".tsv") else ","
        options = pacsv.WriteOptions(quoting_style="needed", delimiter=delimiter)
        if path is None:
            sink = pa.BufferOutputStream()
            pacsv.write_csv(table, sink, write_options=options)
            sys.stdout.write(sink.getvalue().to_pybytes().decode("utf-8"))
            sys.stdout.flush()
        elif str(path).lower().endswith(".gz"):
            with pa.CompressedOutputStream(str(path), "gzip") as sink:
                pacsv.write_csv(table, sink, write_options=options)
        else:
            pacsv.write_csv(table, path, write_options=options)
    except pa.ArrowException as exc:
        raise CLIError(f"cannot write {path or 'standard output'}: {_one_line(str(exc))}") from None


# --------------------------------------------------------------------------- progress


class Progress:
    """A tqdm progress bar on standard error fed by the fit callback.

    Shown only when standard error is a terminal, ``--quiet`` is not given and the fit runs
    longer than about a second.
    """

    #: the bar on screen, if any (warnings are printed around it)
    active: Progress | None = None

    def __init__(self, args: argparse.Namespace, description: str) -> None:
        self.bar: Any = None
        if getattr(args, "quiet", False) or not sys.stderr.isatty():
            return
        try:
            tqdm = importlib.import_module("tqdm").tqdm
        except ImportError:
            print(f"gaussmix: note: no progress bar without tqdm: {_INSTALL_HINT}", file=sys.stderr)
            return
        self.bar = tqdm(
            desc=description, unit=" it", delay=1.0, leave=False, file=sys.stderr, mininterval=0.2
        )
        Progress.active = self

    def __call__(self, event: FitEvent) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        self.bar.set_postfix_str(
            f"start {event.start + 1}/{event.n_starts} ({event.phase}), "
            f"log-lik {event.log_likelihood:.5g}",
            refresh=False,
        )

    def write(self, line: str) -> None:
        """Print a line on standard error without garbling the bar."""
        self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if Progress.active is self:
            Progress.active = None


# --------------------------------------------------------------------------- argument types


def parse_components(text: str) -> list[int]:
    """Numbers of components from ``3``, ``auto`` (1..9), ``1..9`` or ``2,4,8``.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of int

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is none of those forms or names a number below 1.
    """
    t = text.strip().lower()
    try:
        if t == "auto":
            ks = list(AUTO_COMPONENTS)
        elif ".." in t:
            low, high = (int(p) for p in t.split("..", 1))
            ks = list(range(low, high + 1))
        else:
            ks = [int(p) for p in t.split(",")]
    except ValueError:
        ks = []
    ks = list(dict.fromkeys(ks))  # without repeats, in the given order
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(
            f"invalid number of components {text!r}: use a positive integer (3), a range "
            "(1..9), a list (2,4,8) or auto (1..9)"
        )
    return ks


def parse_covariance(text: str) -> list[str]:
    """Covariance types from one name, a comma-separated list, or ``all``.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str

    Raises
    ------
    argparse.ArgumentTypeError
        If a name is not a registered covariance type.
    """
    t = text.strip().lower()
    types = list(COVARIANCE_TYPES) if t == "all" else [p.strip() for p in t.split(",")]
    bad = [p for p in types if p not in COVARIANCE_TYPES]
    if bad:
        raise argparse.ArgumentTypeError(
            f"invalid covariance type {', '.join(bad)!r}: use {', '.join(COVARIANCE_TYPES)} or all"
        )
    return types


def _quantile(text: str) -> float:
    try:
        q = float(text)
    except ValueError:
        q = -1.0
    if not 0.0 < q < 1.0:
        raise argparse.ArgumentTypeError(f"invalid quantile {text!r}: use a number in (0, 1)")
    return q


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: use a positive integer")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: use an integer in [0, 2**32)")
    return value


# --------------------------------------------------------------------------- commands


def _estimator_params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {"random_state": args.seed}
    for name in ("n_init", "max_iter", "tol", "reg_covar"):
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    return params


def _select(X: NDArray[np.floating], args: argparse.Namespace, progress: Progress) -> Any:
    from ..selection import select_model

    return select_model(
        X,
        args.components,
        args.covariance,
        criterion=getattr(args, "criterion", "bic"),
        **_estimator_params(args),
        callback=progress if progress.bar is not None else None,
    )


def _read_training_data(
    args: argparse.Namespace,
) -> tuple[Data, NDArray[np.floating], list[str], Any]:
    from ..io import Standardization

    data = read_data(args.data)
    X, names = select_features(data, args.columns)
    standardization = Standardization.fit(X) if getattr(args, "standardize", False) else None
    Z = X if standardization is None else standardization.transform(X)
    return data, Z, names, standardization


def cmd_fit(args: argparse.Namespace) -> int:
    """``gaussmix fit``: fit one model or choose one by BIC, save it, print a summary."""
    from ..io import save_model
    from ..mixture import GaussianMixture

    out = Path(args.output)
    _check_folder(out)
    data, Z, names, standardization = _read_training_data(args)
    ks, types = args.components, args.covariance
    progress = Progress(args, "fitting" if len(ks) * len(types) == 1 else "selecting")
    result = None
    try:
        if len(ks) * len(types) == 1:
            model = GaussianMixture(ks[0], covariance_type=types[0], **_estimator_params(args))
            model.fit(Z, callback=progress if progress.bar is not None else None)
        else:
            result = _select(Z, args, progress)
            model = result.best_model
    finally:
        progress.close()
    if data.named:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    save_model(model, out, standardization=standardization)

    n = Z.shape[0]
    log_det = 0.0 if standardization is None else standardization.log_abs_det
    with _plain_arrays():
        mean_ll = model.score(Z) - log_det
    bic = -2.0 * n * mean_ll + model.n_parameters() * np.log(n)
    lines = [
        f"Fitted {model.n_components} component{'s' * (model.n_components > 1)} "
        f"(covariance {model.covariance_type!r}) to {n} rows x {len(names)} columns "
        f"({_shown(names, 6)}) of {data.path.name}"
        + (" (standardized)" if standardization is not None else ""),
    ]
    if result is not None:
        lines.append(
            f"Chosen by BIC among {len(result.rows)} candidates "
            "(`gaussmix select` prints the table)."
        )
    lines.append(
        f"{'Converged' if model.converged_ else 'Did NOT converge'} in {model.n_iter_} EM "
        f"iterations; log-likelihood {mean_ll:.6g} per row; BIC {bic:.6g}"
    )
    means = np.asarray(model.means_, dtype=np.float64)
    if standardization is not None:
        means = standardization.inverse_transform(means)
    for j in range(model.n_components):
        shown = ", ".join(f"{c}={m:.4g}" for c, m in zip(names[:6], means[j][:6], strict=True))
        more = ", ..." if len(names) > 6 else ""
        lines.append(f"  component {j}: weight {model.weights_[j]:.4f}, mean {shown}{more}")
    lines.append(f"Saved the model to {out}")
    _say(args, "\n".join(lines))
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    """``gaussmix select``: print (and optionally write) the BIC/AIC table."""
    csv_path = None if args.csv is None else Path(args.csv)
    if csv_path is not None:
        _check_folder(csv_path)
    data, Z, names, standardization = _read_training_data(args)
    progress = Progress(args, "selecting")
    try:
        result = _select(Z, args, progress)
    finally:
        progress.close()
    if standardization is not None:  # report the likelihood of the raw rows
        shift = Z.shape[0] * standardization.log_abs_det
        for row in result.rows:
            if row["error"] is None:
                row["log_likelihood"] -= shift
                row["bic"] += 2.0 * shift
                row["aic"] += 2.0 * shift
    crit = result.criterion.upper()
    best = result.best
    print(
        f"{data.path.name}: {Z.shape[0]} rows x {len(names)} columns"
        + (" (standardized)" if standardization is not None else "")
        + f"; lower BIC/AIC is better, * = chosen by {crit}"
    )
    print(result.to_string())
    print(
        f"Best: {best['n_components']} components, covariance {best['covariance_type']!r}, "
        f"{crit} {best[result.criterion]:.6g}"
    )
    if csv_path is not None:
        import csv

        fields = [
            "n_components", "covariance_type", "log_likelihood", "n_parameters", "bic", "aic",
            "converged", "seconds", "error",
        ]  # fmt: skip
        with open(csv_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow([*fields, "best"])
            for i, row in enumerate(result.rows):
                cells = ["" if row[c] is None else row[c] for c in fields]
                writer.writerow([*cells, i == result.best_index])
        _say(args, f"Wrote the table to {csv_path}")
    return 0


@dataclass
class _Loaded:
    model: Any
    standardization: Any
    X: NDArray[np.floating]
    names: list[str]
    data: Data

    def z(self) -> NDArray[np.floating]:
        return self.X if self.standardization is None else self.standardization.transform(self.X)

    def log_density(self) -> NDArray[np.floating]:
        with _plain_arrays():
            logd: NDArray[np.floating] = self.model.score_samples(self.z())
        if self.standardization is not None:
            logd = logd - self.standardization.log_abs_det
        return logd


def _load_for_prediction(args: argparse.Namespace) -> _Loaded:
    from ..io import read_model

    saved = read_model(args.model)
    model = saved.model
    names_in = getattr(model, "feature_names_in_", None)
    data = read_data(args.data)
    X, names = select_features(
        data,
        args.columns,
        model_names=None if names_in is None else [str(n) for n in names_in],
        n_features=int(model.n_features_in_),
        id_column=args.id,
    )
    return _Loaded(model, saved.standardization, X, names, data)


def _with_id(args: argparse.Namespace, loaded: _Loaded, rows: Any = None) -> dict[str, Any]:
    if args.id is None:
        return {}
    column = loaded.data.raw(args.id)
    return {args.id: column if rows is None else column.take(rows)}


def _wrote(args: argparse.Namespace, out: Path | None, text: str) -> None:
    if out is not None:
        _say(args, text)


def cmd_predict(args: argparse.Namespace) -> int:
    """``gaussmix predict``: labels (and probabilities) of every row, in input order."""
    out = _check_output(args.output)
    loaded = _load_for_prediction(args)
    with _plain_arrays():
        if args.proba:
            proba = loaded.model.predict_proba(loaded.z())
            labels = np.argmax(proba, axis=1)
        else:
            labels = loaded.model.predict(loaded.z())
    columns = _with_id(args, loaded)
    columns["label"] = np.asarray(labels, dtype=np.int64)
    if args.proba:
        for j in range(proba.shape[1]):
            columns[f"proba_{j}"] = proba[:, j]
    write_table(columns, out)
    _wrote(args, out, f"Wrote {len(labels)} predictions to {out}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``gaussmix score``: log-density of every row, in the data's units."""
    out = _check_output(args.output)
    loaded = _load_for_prediction(args)
    logd = loaded.log_density()
    columns = _with_id(args, loaded)
    columns["log_density"] = logd
    write_table(columns, out)
    _wrote(args, out, f"Wrote {len(logd)} log-densities to {out}")
    return 0


def cmd_anomalies(args: argparse.Namespace) -> int:
    """``gaussmix anomalies``: the rows of lowest log-density (a quantile or a threshold)."""
    out = _check_output(args.output)
    loaded = _load_for_prediction(args)
    logd = loaded.log_density()
    if args.threshold is not None:
        threshold = float(args.threshold)
        rule = f"log-density below {threshold:.6g}"
    else:
        threshold = float(np.quantile(logd.astype(np.float64), args.quantile))
        rule = f"log-density at or below {threshold:.6g}, the {args.quantile:g} quantile"
    flagged = np.flatnonzero(logd <= threshold if args.threshold is None else logd < threshold)
    columns = _with_id(args, loaded, flagged)
    columns["row"] = flagged.astype(np.int64)
    for j, name in enumerate(loaded.names):
        if name not in columns:
            columns[name] = loaded.X[flagged, j]
    columns["log_density"] = logd[flagged]
    write_table(columns, out)
    summary = f"Flagged {len(flagged)} of {len(logd)} rows ({rule})"
    if out is not None:
        _say(args, f"{summary}; wrote them to {out}")
    else:
        _say(args, summary, sys.stderr)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """``gaussmix sample``: rows drawn from the model, in the data's units."""
    from ..io import read_model

    out = _check_output(args.output)
    saved = read_model(args.model)
    model = saved.model
    X, labels = model.sample(args.n, random_state=args.seed)
    if saved.standardization is not None:
        X = saved.standardization.inverse_transform(X)
    names_in = getattr(model, "feature_names_in_", None)
    names = [f"x{j}" for j in range(X.shape[1])] if names_in is None else list(map(str, names_in))
    columns: dict[str, Any] = {name: X[:, j] for j, name in enumerate(names)}
    columns["component" if "component" not in columns else "_component"] = labels.astype(np.int64)
    write_table(columns, out)
    _wrote(args, out, f"Wrote {args.n} rows to {out}")
    return 0


def _write_report_function() -> Callable[..., Path]:
    try:
        module = importlib.import_module("gaussmix.report")
    except ModuleNotFoundError as exc:
        if exc.name in ("gaussmix.report", None):
            raise CLIError(
                "this gaussmix has no HTML report (gaussmix.report is missing)"
            ) from None
        raise CLIError(f"the HTML report needs {exc.name}, which is not installed") from None
    function: Callable[..., Path] = module.write_report
    return function


def cmd_report(args: argparse.Namespace) -> int:
    """``gaussmix report``: the interactive HTML report of a model chosen by BIC."""
    out = (
        Path(args.output)
        if args.output
        else Path(f"{Path(args.data).name.split('.')[0]}-report.html")
    )
    _check_folder(out)
    write_report = _write_report_function()
    data = read_data(args.data)
    X, names = select_features(data, args.columns)
    path = write_report(
        X,
        out,
        n_components=args.components,
        covariance_types=args.covariance,
        columns=names,
        random_state=args.seed,
        title=args.title,
    )
    _say(args, f"Wrote the report to {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``gaussmix demo``: the Old Faithful summary and its HTML report."""
    from ..datasets import load_faithful
    from ..demo import run_demo

    out = Path(args.output)
    write_report = None
    if not args.no_report:
        _check_folder(out)
        write_report = _write_report_function()
    run_demo(seed=args.seed, max_components=args.max_components, out=sys.stdout)
    if write_report is not None:
        X, columns = load_faithful()
        path = write_report(
            X,
            out,
            n_components=range(1, args.max_components + 1),
            covariance_types="all",
            columns=columns,
            random_state=args.seed,
            title="Old Faithful eruptions",
        )
        print(f"\nWrote the interactive report to {path}")
    return 0


# --------------------------------------------------------------------------- the parser


class _Formatter(argparse.HelpFormatter):
    """Wraps each paragraph of the description; keeps the examples' lines as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if paragraph.startswith("examples:"):
                paragraphs.append(paragraph)
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(paragraphs)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gaussmix`` command.

    Returns
    -------
    argparse.ArgumentParser
        Each sub-command's namespace has ``handler``, the function that runs it.
    """
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="gaussmix",
        description="Gaussian mixture models from the command line: fit, select, predict, "
        "score, flag anomalies, sample, and write an interactive HTML report.\n\n"
        "DATA is a .csv, .tsv, .parquet or .npy file; output tables are .csv or .parquet "
        "(CSV on standard output without -o).  CSV and Parquet need pyarrow, the progress "
        f"bar tqdm: {_INSTALL_HINT}.",
        epilog=_examples(
            "gaussmix demo",
            "gaussmix fit data.csv -k auto --covariance all -o model.gmm",
            "gaussmix predict model.gmm data.csv --proba --id name -o labels.csv",
            "gaussmix anomalies model.gmm new.parquet --quantile 0.01 -o flagged.csv",
            "gaussmix COMMAND --help",
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"gaussmix {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no informational lines"
    )
    columns = argparse.ArgumentParser(add_help=False)
    columns.add_argument(
        "--columns",
        metavar="A,B,C",
        help="comma-separated feature columns (for .npy: x0,x1 or 0,1); default: every column "
        "(of the model: the columns it was fitted on)",
    )
    from ..mixture import GaussianMixture

    defaults = GaussianMixture().get_params()  # help texts follow the estimator's defaults
    model_opts = argparse.ArgumentParser(add_help=False)
    model_opts.add_argument(
        "--seed", type=_seed, default=0, help="random seed of the initialisation (default: 0)"
    )
    model_opts.add_argument(
        "--n-init",
        type=_positive_int,
        metavar="N",
        help=f"starts per fit (default: {defaults['n_init']})",
    )
    model_opts.add_argument(
        "--max-iter",
        type=_positive_int,
        metavar="N",
        help=f"most EM iterations (default: {defaults['max_iter']})",
    )
    model_opts.add_argument(
        "--tol",
        type=float,
        metavar="TOL",
        help="convergence: change of the mean log-likelihood per row "
        f"(default: {defaults['tol']:g})",
    )
    model_opts.add_argument(
        "--reg-covar",
        type=float,
        metavar="X",
        help=f"added to the covariances' diagonal (default: {defaults['reg_covar']:g})",
    )
    model_opts.add_argument(
        "--standardize",
        action="store_true",
        help="fit on columns scaled to mean 0, standard deviation 1; the scaling is saved in "
        "the model and applied by predict, score, anomalies and sample",
    )

    def add_candidates(p: argparse.ArgumentParser, default_covariance: str) -> None:
        """``-k`` and ``--covariance``: the candidate models, compared by BIC when several."""
        p.add_argument(
            "-k",
            "--components",
            type=parse_components,
            default=list(AUTO_COMPONENTS),
            metavar="K",
            help="number of components: 3, a range 1..9, a list 2,4,8, or auto (1..9); "
            "several are compared by BIC (default: auto)",
        )
        p.add_argument(
            "--covariance",
            type=parse_covariance,
            default=parse_covariance(default_covariance),
            metavar="TYPE",
            help=f"{', '.join(COVARIANCE_TYPES)}, a comma-separated list, or all; several "
            f"are compared by BIC (default: {default_covariance})",
        )

    def command(name: str, handler: Callable[[argparse.Namespace], int], **kw: Any) -> Any:
        p = sub.add_parser(name, formatter_class=_Formatter, **kw)
        p.set_defaults(handler=handler)
        return p

    fit = command(
        "fit",
        cmd_fit,
        parents=[columns, model_opts, quiet],
        help="fit a mixture (or choose one by BIC) and save it",
        description="Fit a Gaussian mixture to DATA and save it to MODEL (a ZIP file of JSON "
        "and .npy arrays, read by gaussmix.load).  With several numbers of components or "
        "covariance types, every combination is fitted and the lowest BIC is kept.",
        epilog=_examples(
            "gaussmix fit data.csv -k 3 --covariance full -o model.gmm",
            "gaussmix fit data.parquet -k auto --covariance all -o model.gmm   # BIC, k = 1..9",
            "gaussmix fit data.csv -k 2..6 --columns x,y --standardize -o model.gmm",
            "gaussmix fit X.npy -k 4 --n-init 16 --seed 1 --max-iter 500 -o model.gmm",
        ),
    )
    fit.add_argument("data", metavar="DATA", help="training data (.csv, .tsv, .parquet, .npy)")
    fit.add_argument("-o", "--output", metavar="MODEL", required=True, help="model file to write")
    add_candidates(fit, default_covariance="full")

    select = command(
        "select",
        cmd_select,
        parents=[columns, model_opts, quiet],
        help="print the BIC/AIC table of numbers of components x covariance types",
        description="Fit every combination of numbers of components and covariance types "
        "to DATA and print the table of log-likelihoods, BIC and AIC (lower is better), the "
        "chosen model marked with *.",
        epilog=_examples(
            "gaussmix select data.csv -k 1..9 --covariance all",
            "gaussmix select data.parquet -k 1..6 --covariance full,diag --csv table.csv",
            "gaussmix select X.npy --criterion aic",
        ),
    )
    select.add_argument("data", metavar="DATA", help="data (.csv, .tsv, .parquet, .npy)")
    add_candidates(select, default_covariance="all")
    select.add_argument(
        "--criterion",
        choices=("bic", "aic"),
        default="bic",
        help="what chooses the model (default: bic)",
    )
    select.add_argument("--csv", metavar="OUT.csv", help="also write the table as CSV")

    def prediction_command(name: str, handler: Any, **kw: Any) -> Any:
        p = command(name, handler, parents=[columns, quiet], **kw)
        p.add_argument("model", metavar="MODEL", help="model file written by gaussmix fit")
        p.add_argument("data", metavar="DATA", help="rows to process (.csv, .tsv, .parquet, .npy)")
        p.add_argument(
            "-o", "--output", metavar="OUT", help="output .csv or .parquet (default: CSV on stdout)"
        )
        p.add_argument(
            "--id", metavar="COLUMN", help="column copied to the output as it is (an identifier)"
        )
        return p

    predict = prediction_command(
        "predict",
        cmd_predict,
        help="most probable component (and probabilities) of each row",
        description="Write the most probable component of each row of DATA ('label'), and "
        "with --proba the probability of every component ('proba_0', 'proba_1', ...), rows "
        "in input order.",
        epilog=_examples(
            "gaussmix predict model.gmm data.csv -o labels.csv",
            "gaussmix predict model.gmm data.parquet --proba --id customer -o proba.parquet",
        ),
    )
    predict.add_argument("--proba", action="store_true", help="add per-component probabilities")

    prediction_command(
        "score",
        cmd_score,
        help="log-density of each row",
        description="Write the log-density of the mixture at each row of DATA "
        "('log_density', in the data's units), rows in input order.  Low values are unusual "
        "rows.",
        epilog=_examples(
            "gaussmix score model.gmm data.csv -o scores.csv",
            "gaussmix score model.gmm data.npy | head",
        ),
    )

    anomalies = prediction_command(
        "anomalies",
        cmd_anomalies,
        help="rows with the lowest log-density",
        description="Write the rows of DATA whose log-density is in the lowest --quantile "
        "(or below --threshold): their row number (from 0), feature values and log-density, "
        "in input order.",
        epilog=_examples(
            "gaussmix anomalies model.gmm data.csv --quantile 0.01 -o flagged.csv",
            "gaussmix anomalies model.gmm new.csv --threshold -12.5 --id name",
        ),
    )
    rule = anomalies.add_mutually_exclusive_group()
    rule.add_argument(
        "--quantile",
        type=_quantile,
        default=0.01,
        help="flag this share of the rows of DATA: those at or below the quantile (default: 0.01)",
    )
    rule.add_argument(
        "--threshold", type=float, help="flag rows whose log-density is below this value"
    )

    sample = command(
        "sample",
        cmd_sample,
        parents=[quiet],
        help="draw rows from a fitted model",
        description="Draw rows from the mixture in MODEL: one column per feature and the "
        "'component' each row was drawn from, in random order.",
        epilog=_examples(
            "gaussmix sample model.gmm -n 1000 --seed 0 -o synthetic.csv",
            "gaussmix sample model.gmm -n 10",
        ),
    )
    sample.add_argument("model", metavar="MODEL", help="model file written by gaussmix fit")
    sample.add_argument(
        "-n", type=_positive_int, default=1000, metavar="N", help="number of rows (default: 1000)"
    )
    sample.add_argument(
        "-o", "--output", metavar="OUT", help="output .csv or .parquet (default: CSV on stdout)"
    )
    sample.add_argument(
        "--seed", type=_seed, default=None, help="random seed (default: fresh entropy)"
    )

    report = command(
        "report",
        cmd_report,
        parents=[columns, quiet],
        help="write an interactive HTML report of a fit",
        description="Choose a mixture for DATA by BIC and write a self-contained interactive "
        "HTML page: the EM iterations, the BIC/AIC curves, anomalies, the parameters.",
        epilog=_examples(
            "gaussmix report data.csv -o report.html",
            "gaussmix report data.parquet -k 1..4 --covariance full --columns x,y -o r.html",
        ),
    )
    report.add_argument("data", metavar="DATA", help="data (.csv, .tsv, .parquet, .npy)")
    report.add_argument(
        "-o", "--output", metavar="HTML", help="page to write (default: DATA-report.html)"
    )
    add_candidates(report, default_covariance="all")
    report.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    report.add_argument("--title", help="title of the page (default: from DATA)")

    demo = command(
        "demo",
        cmd_demo,
        help="fit the bundled Old Faithful data, print a summary, write a report",
        description="Fit the bundled Old Faithful data (272 eruptions), choose the number of "
        "components and the covariance type by BIC, print a summary and write an "
        "interactive HTML report.",
        epilog=_examples("gaussmix demo", "gaussmix demo -o faithful.html --seed 1"),
    )
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    demo.add_argument(
        "--max-components",
        type=_positive_int,
        default=6,
        metavar="K",
        help="largest number of components tried (default: 6)",
    )
    demo.add_argument(
        "-o",
        "--output",
        metavar="HTML",
        default="gaussmix-demo-report.html",
        help="report to write (default: gaussmix-demo-report.html)",
    )
    demo.add_argument("--no-report", action="store_true", help="print the summary only")
    return parser


# --------------------------------------------------------------------------- main


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    line = f"gaussmix: warning: {_one_line(str(message))}"
    if Progress.active is not None:
        Progress.active.write(line)
    else:
        print(line, file=sys.stderr)


def _error(message: str) -> int:
    print(f"gaussmix: error: {_one_line(message)}", file=sys.stderr)
    return EXIT_ERROR


def _os_error(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    if isinstance(exc, FileNotFoundError):
        return f"no such file or folder{where}"
    if isinstance(exc, IsADirectoryError):
        return f"is a folder, not a file{where}"
    if isinstance(exc, PermissionError):
        return f"permission denied{where}"
    return f"{exc.strerror or exc}{where}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 after an error (one line on standard error), 2 for a usage error.
    """
    args = build_parser().parse_args(argv)
    debug = os.environ.get("GAUSSMIX_DEBUG", "") not in ("", "0")
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            status: int = args.handler(args)
            return status
        except KeyboardInterrupt:
            print("gaussmix: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `gaussmix score ... | head`
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return EXIT_ERROR
        except CLIError as exc:
            if debug:
                raise
            return _error(str(exc))
        except OSError as exc:
            if debug:
                raise
            return _error(_os_error(exc))
        except (ValueError, TypeError) as exc:  # the library's messages name the fix
            if debug:
                raise
            return _error(str(exc))


if __name__ == "__main__":
    sys.exit(main())
