"""``gaussmix fit`` on data larger than memory: ``.npy`` and Parquet read out of core.

The rule (:func:`streams`): DATA is read out of core when ``--out-of-core`` is given, when
it is a folder of Parquet files, or when it is a ``.npy`` or Parquet file whose chosen
columns would take more than :data:`MEMORY_SHARE` of the available memory as float64 (the
matrix an in-memory fit holds, besides the file's own copy while it is read).  The fit is
then exact EM, one streaming pass over the file per iteration
(:mod:`gaussmix.ondisk`), with memory bounded by two blocks: 16 MiB of rows of a ``.npy``
file, two row groups of a Parquet file.  It fits one model (one ``-k``, one covariance
type) without ``--standardize``; CSV is always read into memory.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .errors import CLIError, _one_line, _optional
from .tables import Data, select_names

#: DATA is read out of core when its float64 matrix would exceed this share of the
#: available memory
MEMORY_SHARE = 0.25

_PARQUET = (".parquet", ".pq")


def check_one_model(args: argparse.Namespace, how: str) -> None:
    """Refuse what a fit ``how`` (out of core, on a cluster) cannot do: several candidate
    models, or ``--standardize`` (a pass of its own over all rows)."""
    if getattr(args, "standardize", False):
        raise CLIError(f"--standardize is not available {how}; fit without it")
    if len(args.components) * len(args.covariance) != 1:
        raise CLIError(
            f"a fit {how} fits one model: give one number of components (-k) and one "
            "covariance type"
        )


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux's MemAvailable, else the free
    physical pages), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _kind(path: Path) -> str | None:
    """``"npy"``, ``"parquet"`` (a file, or a folder holding Parquet files) or None."""
    name = path.name.lower()
    if path.is_dir():
        parts = (p for p in path.rglob("*") if p.suffix.lower() in _PARQUET)
        return "parquet" if next(parts, None) is not None else None
    if name.endswith(".npy"):
        return "npy"
    return "parquet" if name.endswith(_PARQUET) else None


def _schema_data(path: Path, kind: str) -> Data:
    """What column selection needs of DATA (names, types, rows), read from its header."""
    try:
        if kind == "npy":
            import numpy as np

            mapped = np.load(path, mmap_mode="r", allow_pickle=False)  # the header only
            if mapped.ndim != 2 or mapped.dtype.kind not in "iuf":
                raise CLIError(
                    f"{path} holds a {mapped.dtype} array of shape {mapped.shape}; gaussmix "
                    "needs a numeric array of shape (rows, columns)"
                )
            names = [f"x{j}" for j in range(mapped.shape[1])]
            return Data(path, names, int(mapped.shape[0]), False, _array=mapped)
        pq = _optional("pyarrow.parquet", "reading Parquet files")
        from ..ondisk.parquet import parquet_files

        files = parquet_files(path)
        schema = pq.read_schema(files[0])
        n_rows = sum(pq.read_metadata(f).num_rows for f in files)
        names = [str(n) for n in schema.names]
        return Data(path, names, n_rows, True, _schema=schema)
    except (OSError, ValueError, EOFError) as exc:
        what = "NPY" if kind == "npy" else "Parquet"
        raise CLIError(f"cannot read {path} as {what}: {_one_line(str(exc))}") from None


def streams(args: argparse.Namespace) -> bool:
    """Whether ``gaussmix fit`` reads DATA out of core (see the module's rule)."""
    path = Path(args.data)
    kind = _kind(path)
    if getattr(args, "out_of_core", False):
        if kind is None:
            raise CLIError(
                f"--out-of-core reads .npy and Parquet files (or a folder of Parquet files), "
                f"not {path.name}"
            )
        return True
    if kind is None or not path.exists():
        return False
    if path.is_dir():
        return True
    data = _schema_data(path, kind)
    columns = len(_feature_names(data, args))
    available = available_memory()
    return available is not None and data.n_rows * columns * 8 > MEMORY_SHARE * available


def _feature_names(data: Data, args: argparse.Namespace) -> list[str]:
    return select_names(
        data, args.columns, id_column=getattr(args, "id", None),
        exclude=getattr(args, "exclude", None),
    )  # fmt: skip


def read_out_of_core(args: argparse.Namespace) -> tuple[Data, Any, list[str]]:
    """DATA as a row source read out of core, with its columns chosen as in memory.

    Raises
    ------
    CLIError
        For options a fit out of core cannot take, unreadable files, or unknown and
        non-numeric columns.
    """
    check_one_model(args, "out of core")
    path = Path(args.data)
    kind = _kind(path)
    assert kind is not None
    data = _schema_data(path, kind)
    names = _feature_names(data, args)
    from ..ondisk import NpySource, ParquetSource

    try:
        if kind == "npy":
            source: Any = NpySource(path, columns=[data.names.index(n) for n in names])
        else:
            source = ParquetSource(path, columns=names)
    except (OSError, ValueError) as exc:
        raise CLIError(_one_line(str(exc))) from None
    return data, source, names


__all__ = ["MEMORY_SHARE", "available_memory", "check_one_model", "read_out_of_core", "streams"]
