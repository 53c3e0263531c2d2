"""Rows of a Parquet file, or a folder of them, read row group by row group.

A row group is the unit Parquet stores and decodes, so it is the block: the source holds
two of them (the one in the engine and the next), and memory is bounded by the largest row
group (write files with row groups of about 10-100 MB, e.g. ``row_group_size=`` of pyarrow's
``write_table``).  A folder's ``.parquet`` and ``.pq`` files (in its subfolders too) are
read in the order of their paths; every file must have the chosen columns, numeric.
pyarrow (the ``cli`` extra) is imported when a source is made.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .streamed import StreamedSource

_HINT = 'reading Parquet needs pyarrow: pip install "gaussmix[cli]" (or pip install pyarrow)'


def _pyarrow() -> tuple[Any, Any]:
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ImportError(_HINT) from None


def parquet_files(path: Path) -> list[Path]:
    """``path`` itself, or the Parquet files of the folder ``path`` in the order of their
    paths."""
    if not path.exists():
        raise FileNotFoundError(f"No such Parquet file or folder: {path}")
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".parquet", ".pq"))
    if not files:
        raise ValueError(f"{path} is a folder without .parquet or .pq files.")
    return files


def _numeric(pa: Any, t: Any) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


class ParquetReader:
    """The row groups of Parquet files as blocks of rows of the chosen columns.

    Parameters
    ----------
    path : str or os.PathLike
        A Parquet file or a folder of them.
    columns : sequence of str, optional
        The columns to read (default: every column, which must then all be numeric).
    """

    def __init__(self, path: str | os.PathLike[str], columns: Any = None) -> None:
        pa, pq = _pyarrow()
        self.path = Path(path)
        self.where = str(self.path)
        self.files = parquet_files(self.path)
        groups: list[tuple[int, int]] = []
        sizes: list[int] = []
        chosen = None if columns is None else [str(c) for c in columns]
        float32 = True
        for f, file in enumerate(self.files):
            try:
                meta = pq.read_metadata(file)
                schema = pq.read_schema(file)
            except (pa.ArrowException, OSError) as exc:
                raise ValueError(f"Cannot read {file} as Parquet: {exc}") from None
            names = [str(n) for n in schema.names]
            if chosen is None:
                chosen = names
            missing = [c for c in chosen if c not in names]
            if missing:
                raise ValueError(
                    f"{file} has no columns {missing}; its columns are {names}. Choose "
                    "columns every file has with columns=[...]."
                )
            types = {c: schema.field(c).type for c in chosen}
            bad = [c for c, t in types.items() if not _numeric(pa, t)]
            if bad:
                raise ValueError(
                    f"{file} has non-numeric columns {bad} "
                    f"({', '.join(str(types[c]) for c in bad)}); gaussmix models numeric "
                    "features only: choose numeric columns with columns=[...]."
                )
            float32 &= all(t == pa.float32() for t in types.values())
            for g in range(meta.num_row_groups):
                rows = int(meta.row_group(g).num_rows)
                if rows:
                    groups.append((f, g))
                    sizes.append(rows)
        assert chosen is not None
        if not chosen:
            raise ValueError(f"{self.path} has no columns.")
        self.columns = chosen
        self.groups = groups
        self._bounds = np.concatenate([[0], np.cumsum(sizes, dtype=np.intp)]).astype(np.intp)
        self._dtype = np.dtype(np.float32 if float32 else np.float64)

    @property
    def bounds(self) -> NDArray[np.intp]:
        return self._bounds

    @property
    def n_features(self) -> int:
        return len(self.columns)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    def read(self, i: int, out: NDArray[np.floating]) -> NDArray[np.floating]:
        pa, pq = _pyarrow()
        f, g = self.groups[i]
        table = pq.ParquetFile(self.files[f]).read_row_group(g, columns=self.columns)
        x = out[: table.num_rows]
        target = pa.float32() if self._dtype == np.float32 else pa.float64()
        for j, name in enumerate(self.columns):
            # nulls become NaN, which the pass then reports
            column = table.column(name).cast(target, safe=False)
            x[:, j] = column.to_numpy(zero_copy_only=False)
        return x

    def rows(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        out = np.empty((rows.shape[0], self.n_features), dtype=self._dtype)
        blocks = np.searchsorted(self._bounds, rows, side="right") - 1
        buffer = None
        for b in np.unique(blocks).tolist():
            sel = blocks == b
            size = int(self._bounds[b + 1] - self._bounds[b])
            if buffer is None or buffer.shape[0] < size:
                buffer = np.empty((size, self.n_features), dtype=self._dtype)
            x = self.read(b, buffer)
            out[sel] = x[rows[sel] - self._bounds[b]]
        return out


class ParquetSource(StreamedSource):
    """The rows of a Parquet file, or a folder of Parquet files, read out of core.

    Parameters
    ----------
    path : str or os.PathLike
        A Parquet file, or a folder whose ``.parquet`` / ``.pq`` files (subfolders
        included) are read in the order of their paths.
    columns : sequence of str, optional
        The features (default: every column; they must be numeric).  Integer and decimal
        columns are read as float64; float32 columns stay float32 when all are.
    sample_weight : array-like of shape (n_samples,), optional

    Notes
    -----
    Each row group is a block: memory is bounded by two of the largest row group.
    Selecting rows by index (the start race's subsample) reads every row group that holds
    one, once.

    Examples
    --------
    >>> GaussianMixture(8).fit(ParquetSource("events/", columns=["x", "y"]))  # doctest: +SKIP
    """

    def __init__(
        self, path: str | os.PathLike[str], columns: Any = None, sample_weight: Any = None
    ) -> None:
        super().__init__(ParquetReader(path, columns), sample_weight)


__all__ = ["ParquetReader", "ParquetSource", "parquet_files"]
