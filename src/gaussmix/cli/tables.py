"""Data files in, tables out: CSV, Parquet and NPY; column selection and output paths.

Outputs are checked before any work (:func:`check_output`): no command overwrites one of
its inputs, or an existing file of another kind than it writes, unless ``--force``; tables
are written atomically, like models.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from .._files import replaced_atomically
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
    _schema: Any = None  # pyarrow.Schema of a table not read (out of core)

    def is_numeric(self, name: str) -> bool:
        if self._array is not None:
            return True
        pa = importlib.import_module("pyarrow")
        schema = self._schema if self._table is None else self._table.schema
        t = schema.field(name).type
        return bool(
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_decimal(t)
            or pa.types.is_null(t)
        )

    def bad_cells(self, name: str) -> tuple[NDArray[np.intp], list[Any]] | None:
        """The rows and values of a text column that are not numbers, when the column is
        mostly numbers (a typo such as ``abc`` or ``1.5e``); None for a text column."""
        if self._table is None:  # an array, or a table not read
            return None
        pa = importlib.import_module("pyarrow")
        pc = importlib.import_module("pyarrow.compute")
        column = self._table.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            return None
        numeric = pc.match_substring_regex(column, _NUMBER, ignore_case=True)
        numeric = np.asarray(numeric.fill_null(True).to_numpy(zero_copy_only=False), dtype=bool)
        rows = np.flatnonzero(~numeric)
        present = self.n_rows - column.null_count
        if rows.size == 0 or rows.size * 2 > present:
            return None  # text (or numbers pyarrow did not read as such)
        return rows, column.take(rows[:3]).to_pylist()

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


#: a number as a CSV cell may hold it (Python's float() syntax, without underscores)
_NUMBER = r"^\s*[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|inf(inity)?|nan)\s*$"


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
    if path.is_dir():
        raise CLIError(f"{path} is a folder, not a data file; name a file inside it")
    if suffix not in _CSV_SUFFIXES + _PARQUET_SUFFIXES + (".npy",):
        raise CLIError(
            f"cannot read {path}: unknown data format {suffix or '(no extension)'!r}; "
            "use .csv, .tsv, .parquet or .npy"
        )
    if not path.exists():
        raise CLIError(f"no such file: {path}")
    if suffix == ".npy":
        return _read_npy(path)
    kind = "CSV" if suffix in _CSV_SUFFIXES else "Parquet"
    pa = _optional("pyarrow", f"reading {kind} files")
    try:
        if kind == "CSV":
            pacsv = _optional("pyarrow.csv", f"reading {kind} files")
            delimiter = "\t" if suffix.startswith(".tsv") else ","
            table = _read_csv(pa, pacsv, path, delimiter)
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


def _read_csv(pa: Any, pacsv: Any, path: Path, delimiter: str) -> Any:
    """A CSV file as a pyarrow Table; a column whose type pyarrow inferred from its first
    rows, then found a cell it cannot convert, is read again as text (so that the cell is
    named by :meth:`Data.bad_cells`)."""
    parse = pacsv.ParseOptions(delimiter=delimiter)
    as_text: dict[str, Any] = {}
    while True:
        convert = pacsv.ConvertOptions(column_types=as_text)
        try:
            return pacsv.read_csv(path, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            found = re.search(r"In CSV column #(\d+): .*conversion error", str(exc))
            names = pacsv.open_csv(path, parse_options=parse).schema.names if found else []
            index = int(found.group(1)) if found else -1
            if not 0 <= index < len(names) or names[index] in as_text:
                raise
            as_text[names[index]] = pa.string()


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


def _parse_columns(text: str | None, data: Data, option: str = "--columns") -> list[str] | None:
    if text is None:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise CLIError(f"{option} is empty; name at least one column")
    if not data.named:  # NPY: x0, x1, ... or plain positions 0, 1, ...
        names = [f"x{c}" if c.isdigit() else c for c in names]
    return names


def _not_numbers(data: Data, names: Sequence[str], chosen: bool) -> CLIError:
    """The error for selected columns that do not hold numbers: cells that are typos in a
    numeric column are named by row and value; text columns by name, with the options that
    leave them out."""
    cells = []
    text = []
    for name in names:
        bad = data.bad_cells(name)
        if bad is None:
            text.append(name)
            continue
        rows, values = bad
        shown = ", ".join(f"row {int(r)} {v!r}" for r, v in zip(rows, values, strict=False))
        count = f"{len(rows)} cells, e.g. " if len(rows) > len(values) else ""
        cells.append(f"column {name!r}: {count}{shown}")
    parts = []
    if cells:
        parts.append(
            f"{data.path} has cells that are not numbers in " + "; ".join(cells) + " (rows "
            "counted from 0 after the header); correct or remove those rows"
        )
    if text:
        listed = ",".join(text)
        hint = (
            "gaussmix models numeric features only: choose other columns with --columns"
            if chosen
            else f"leave them out with --exclude {listed} (or name an identifier with --id), "
            "or choose the features with --columns"
        )
        parts.append(f"{data.path} has non-numeric columns {_shown(text)}; {hint}")
    return CLIError("; ".join(parts))


def select_features(
    data: Data,
    columns: str | None,
    *,
    model_names: Sequence[str] | None = None,
    n_features: int | None = None,
    id_column: str | None = None,
    exclude: str | None = None,
    allow_missing: bool = False,
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
    exclude : str, optional
        ``--exclude``: comma-separated columns left out of the default features.
    allow_missing : bool
        Take empty cells (and NaN) as missing values, kept as NaN; else refuse their rows.

    Returns
    -------
    X : ndarray of shape (n_rows, n_columns)
        float64 (float32 for float32 NPY data); every value finite or, with
        ``allow_missing``, NaN.
    names : list of str

    Raises
    ------
    CLIError
        Naming unknown or non-numeric columns (a cell that is not a number by row and
        value), a column count the model does not expect, or the rows holding infinite
        values (and, without ``allow_missing``, missing ones).
    """
    names = select_names(
        data, columns, model_names=model_names, n_features=n_features,
        id_column=id_column, exclude=exclude,
    )  # fmt: skip
    X = data.values(names)
    finite = np.isfinite(X).all(axis=1)
    if finite.all():
        return X, names
    if allow_missing:
        rows = np.flatnonzero(np.isinf(X).any(axis=1))
        if rows.size:
            raise CLIError(
                f"{data.path} has infinite values in {len(rows)} of {data.n_rows} rows "
                f"(counting data rows from 0: {_rows_shown(rows)}); infinity is not a missing "
                "value: leave the cell empty if the value is unknown, or drop those rows"
            )
        return X, names
    rows = np.flatnonzero(~finite)
    raise CLIError(
        f"{data.path} has missing or non-finite values (NaN, empty, inf) in {len(rows)} of "
        f"{data.n_rows} rows (counting data rows from 0: {_rows_shown(rows)}), refused with "
        "--missing error; drop or fill them first, or fit without --missing error (empty "
        "cells are then missing values, and rows are fitted on their observed values)"
    )


def select_names(
    data: Data,
    columns: str | None,
    *,
    model_names: Sequence[str] | None = None,
    n_features: int | None = None,
    id_column: str | None = None,
    exclude: str | None = None,
) -> list[str]:
    """The feature columns :func:`select_features` reads, with its checks of the columns
    and of the rows' count, made without reading any value (its parameters)."""
    requested = _parse_columns(columns, data)
    left_out = _parse_columns(exclude, data, "--exclude") or []
    if id_column is not None and id_column not in data.names:
        raise CLIError(
            f"unknown --id column {id_column!r} in {data.path}; its columns are "
            f"{_shown(data.names)}"
        )
    unknown = [n for n in left_out if n not in data.names]
    if unknown:
        raise CLIError(
            f"unknown --exclude columns {_shown(unknown)} in {data.path}; its columns are "
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
        both = [n for n in names if n in left_out]
        if both:
            raise CLIError(f"--columns and --exclude both name {_shown(both)}; choose one")
    elif model_names is not None and data.named:
        names = list(model_names)
        unknown = [n for n in names if n not in data.names]
        if unknown:
            raise CLIError(
                f"{data.path} lacks the model's columns {_shown(unknown)} (the model was "
                f"fitted on {_shown(names)}; the file has {_shown(data.names)}); rename them, "
                "or choose columns by position with --columns"
            )
        both = [n for n in names if n in left_out]
        if both:
            raise CLIError(
                f"--exclude names {_shown(both)}, but the model was fitted on them: the model "
                f"needs the columns {_shown(names)}"
            )
    else:
        names = [n for n in data.names if n != id_column and n not in left_out]
        if not names:
            raise CLIError(
                f"--id and --exclude leave none of the columns of {data.path} "
                f"({_shown(data.names)}); keep at least one"
            )
        bad = [n for n in names if not data.is_numeric(n)]
        if bad:
            raise _not_numbers(data, bad, chosen=False)
    bad = [n for n in names if not data.is_numeric(n)]
    if bad:
        raise _not_numbers(data, bad, chosen=True)
    if len(set(names)) != len(names):
        raise CLIError(f"--columns names a column twice: {_shown(names)}")
    if n_features is not None and len(names) != n_features:
        raise CLIError(
            f"the model expects {n_features} columns, but {len(names)} of {data.path} were "
            f"selected ({_shown(names)}); choose {n_features} with --columns"
        )
    if data.n_rows == 0:
        raise CLIError(f"{data.path} has no rows")
    return names


# --------------------------------------------------------------------------- output


#: what an output may replace, by what the command writes (besides a missing or empty file)
_REPLACEABLE = {
    "model": ("model",),
    "npy": ("npy",),
    "csv": ("text",),
    "gzip": ("gzip",),
    "parquet": ("parquet",),
    "html": ("html",),
}
_WHAT = {
    "model": "a gaussmix model",
    "zip": "a ZIP archive",
    "parquet": "a Parquet table",
    "npy": "a NumPy array",
    "gzip": "gzip-compressed data",
    "html": "an HTML page",
    "text": "text (a CSV table?)",
    "binary": "binary data",
}
_EXAMPLE = {"model": "model.gmm", "html": "report.html"}


def _sniff(path: Path) -> str:
    """What an existing file holds, from its first bytes (a key of ``_WHAT``, or "empty")."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head:
        return "empty"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        with contextlib.suppress(Exception), zipfile.ZipFile(path) as zf:
            if "gaussmix.json" in zf.namelist():
                return "model"
        return "zip"
    for magic, kind in ((b"PAR1", "parquet"), (b"\x93NUMPY", "npy"), (b"\x1f\x8b", "gzip")):
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "binary"
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text"


def _output_kind(path: Path) -> str:
    suffix = _suffix(path)
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    return "gzip" if suffix.endswith(".gz") else "csv"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    path_text: str | None,
    kind: str,
    *,
    inputs: Sequence[tuple[str, str]] = (),
    force: bool = False,
) -> Path | None:
    """Fail before any work when an output cannot or must not be written.

    Parameters
    ----------
    path_text : str or None
        The output (None: standard output, nothing to check).
    kind : {"table", "model", "html", "csv", "npy"}
        What the command writes: a table (CSV or Parquet by extension), a model file, an
        HTML page, a CSV file whatever its name, or a NumPy array.
    inputs : sequence of (str, str)
        The command's input files, as (what, path): the output must not be one of them.
    force : bool
        ``--force``: replace an input or a file of another kind all the same.

    Raises
    ------
    CLIError
        For an unknown table format, a folder, a missing folder; and, without ``force``, an
        output that is one of the inputs or an existing file of another kind.
    """
    if path_text is None:
        return None
    path = Path(path_text)
    if kind == "table" and _suffix(path) not in _CSV_SUFFIXES + _PARQUET_SUFFIXES:
        raise CLIError(
            f"cannot write {path}: unknown output format {path.suffix or '(no extension)'!r}; "
            "use .csv or .parquet"
        )
    if kind == "npy" and _suffix(path) != ".npy":
        raise CLIError(f"cannot write {path}: an array is written to a .npy file; name it so")
    if path.is_dir():
        example = _EXAMPLE.get(kind, "out.csv")
        raise CLIError(
            f"cannot write {path}: it is a folder; name a file inside it, e.g. {path / example}"
        )
    _check_folder(path)
    if force:
        return path
    for what, other in inputs:
        if path.exists() and _same_file(path, Path(other)):
            raise CLIError(
                f"refusing to overwrite {path}: it is this command's input {what}; write to "
                "another file, or add --force to replace it"
            )
    if kind in ("model", "html"):
        suffix = _suffix(path)
        wanted = ".gmm" if kind == "model" else ".html"
        others = _CSV_SUFFIXES + _PARQUET_SUFFIXES + (".npy", ".gmm", ".html")
        if suffix in others and suffix != wanted:
            raise CLIError(
                f"refusing to write {'a model' if kind == 'model' else 'an HTML page'} to "
                f"{path}: {suffix} names another kind of file; name it with {wanted}, or add "
                "--force"
            )
    if not path.exists():
        return path
    kind_written = _output_kind(path) if kind == "table" else kind
    found = _sniff(path)
    if found != "empty" and found not in _REPLACEABLE[kind_written]:
        wanted = {"csv": "a CSV table", "gzip": "a gzip-compressed CSV table"}.get(
            kind_written, _WHAT.get(kind_written, kind_written)
        )
        raise CLIError(
            f"refusing to overwrite {path}: it holds {_WHAT[found]}, not {wanted}; choose "
            "another file name, or add --force to replace it"
        )
    return path


def _check_folder(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise CLIError(f"cannot write {path}: no such folder {folder}")


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A binary file replacing ``path`` once complete (a crash leaves the old file)."""
    with replaced_atomically(path, "the table", "out.csv") as f:
        yield f


def write_text_table(rows: Sequence[Sequence[Any]], path: Path) -> None:
    """Write rows of cells as CSV, atomically (``None`` cells empty)."""
    import csv

    with atomic_output(path) as f:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        writer = csv.writer(text)
        for row in rows:
            writer.writerow(["" if cell is None else cell for cell in row])
        text.flush()
        text.detach()


def derived_path(data_path: str, tag: str) -> str:
    """A file beside ``data_path`` in its format, its name tagged: ``data.csv.gz`` ->
    ``data-imputed.csv.gz``."""
    path = Path(data_path)
    suffix = _suffix(path)
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    return str(path.with_name(f"{stem}-{tag}{path.name[len(stem) :]}"))


def copy_kind(data_path: str, out: str) -> str:
    """What :func:`check_output` checks for a copy of the data at ``data_path`` written to
    ``out`` (``"npy"`` or ``"table"``), once ``out`` is known to be of the same format.

    Raises
    ------
    CLIError
        If ``out`` names another format than the data's (CSV / TSV, Parquet or NPY).
    """
    formats = (_CSV_SUFFIXES, _PARQUET_SUFFIXES, (".npy",))
    given, wanted = _suffix(Path(data_path)), _suffix(Path(out))
    if not any(given in f and wanted in f for f in formats):
        example = derived_path(data_path, "imputed")
        raise CLIError(
            f"cannot write {out}: the completed data keeps the format of {data_path}; name "
            f"the output with {given or 'its extension'} (e.g. {example})"
        )
    return "npy" if wanted == ".npy" else "table"


def write_like(data: Data, names: Sequence[str], values: NDArray[np.floating], path: Path) -> None:
    """``data`` with its columns ``names`` replaced by ``values``, every other column as it
    is, in ``data``'s format at ``path`` (atomically).

    Parameters
    ----------
    data : Data
    names : sequence of str
        Columns replaced.
    values : ndarray of shape (n_rows, len(names)) or (n_draws, n_rows, len(names))
        Several completions are stacked: a leading ``draw`` column (0, 1, ...) in a table, a
        leading axis in an array.
    path : pathlib.Path
    """
    stacked = values if values.ndim == 3 else values[None]
    if data._array is not None:
        idx = [data.names.index(n) for n in names]
        dtype = np.float32 if data._array.dtype == np.float32 else np.float64
        out = np.repeat(data._array.astype(dtype)[None], stacked.shape[0], axis=0)
        out[:, :, idx] = stacked
        with atomic_output(path) as f:
            np.lib.format.write_array(f, out if values.ndim == 3 else out[0], allow_pickle=False)
        return
    pa = _optional("pyarrow", "writing tables")
    table = data._table
    parts = []
    for t, part in enumerate(stacked):
        columns: dict[str, Any] = {"draw": np.full(data.n_rows, t)} if values.ndim == 3 else {}
        for name in data.names:
            column = table.column(name)
            if name in names:
                column = pa.array(part[:, list(names).index(name)])
            columns["_draw" if values.ndim == 3 and name == "draw" else name] = column
        parts.append(pa.table(columns))
    write_table(
        dict(zip(parts[0].column_names, pa.concat_tables(parts).columns, strict=True)), path
    )


def write_table(columns: dict[str, Any], path: Path | None) -> None:
    """Write columns (NumPy or pyarrow arrays) as CSV / Parquet, or CSV on standard output.

    Parameters
    ----------
    columns : dict of str to array
        Output columns, in order, of equal length.
    path : pathlib.Path or None
        ``.parquet`` / ``.pq`` writes Parquet, anything else CSV (``.tsv``: tab-separated);
        ``None`` writes CSV to standard output.  A file is replaced atomically.
    """
    kind = "Parquet" if path is not None and _suffix(path) in _PARQUET_SUFFIXES else "CSV"
    pa = _optional("pyarrow", f"writing {kind}")
    table = pa.table(columns)
    try:
        if kind == "Parquet":
            pq = _optional("pyarrow.parquet", "writing Parquet")
            assert path is not None
            with atomic_output(path) as f:
                pq.write_table(table, f)
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
            with (
                atomic_output(path) as f,
                pa.CompressedOutputStream(pa.PythonFile(f, mode="w"), "gzip") as sink,
            ):
                pacsv.write_csv(table, sink, write_options=options)
        else:
            with atomic_output(path) as f:
                pacsv.write_csv(table, f, write_options=options)
    except pa.ArrowException as exc:
        raise CLIError(f"cannot write {path or 'standard output'}: {_one_line(str(exc))}") from None
