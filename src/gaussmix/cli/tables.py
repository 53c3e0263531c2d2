"""Data files in, tables out: CSV, Parquet and NPY; column selection and output paths."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import CLIError, _one_line, _optional, _shown

_CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in _CSV_SUFFIXES + _PARQUET_SUFFIXES + (".npy",):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _rows_shown(rows: NDArray[np.intp], limit: int = 5) -> str:
    head = ", ".join(str(int(r)) for r in rows[:limit])
    return head + (", ..." if len(rows) > limit else "")


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
