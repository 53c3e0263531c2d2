"""``--scheduler ADDRESS``: the command's session on a dask.distributed cluster, and training
data read out of core (Parquet, Zarr, ``.npy``) by the cluster's workers.

The workers read DATA themselves, block by block, at the path given: it must be readable
there (a shared file system, or a cluster on this machine).  Nothing but the samples of the
fit and the fitted model comes back to this process.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CLIError, _one_line, _shown
from .outofcore import check_one_model
from .tables import Data, _parse_columns

if TYPE_CHECKING:
    from numpy.typing import NDArray

_DASK_HINT = 'pip install "gaussmix[dask]"'
_FORMATS = ".parquet, .pq (a file or a folder of files), .zarr or .npy"

#: rows of a block of a ``.npy`` file: about this many bytes each
BLOCK_BYTES = 64 << 20


def _dask(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise CLIError(f"--scheduler needs dask and distributed: {_DASK_HINT}") from None


@contextlib.contextmanager
def session(args: argparse.Namespace) -> Iterator[None]:
    """Connect to the scheduler named by ``--scheduler`` for the command's run (the client
    becomes Dask's default), and close the connection after it; nothing without it."""
    address = getattr(args, "scheduler", None)
    if not address:
        yield
        return
    distributed = _dask("distributed")
    try:
        client = distributed.Client(address)  # Dask's connect timeout (its config)
    except (OSError, TimeoutError) as exc:
        raise CLIError(
            f"cannot reach the Dask scheduler at {address}: {_one_line(str(exc))}"
        ) from None
    try:
        yield
    finally:
        client.close()


def read_lazily(args: argparse.Namespace, *, one_model: bool = True) -> tuple[Data, Any, list[str]]:
    """The training data of ``args`` as a Dask array read by the workers, and its columns
    (``one_model``: the command fits one model, as ``fit`` does).

    Raises
    ------
    CLIError
        For a format that cannot be read out of core, a missing file, unknown or
        non-numeric columns, or options that need all rows in memory.
    """
    if one_model or getattr(args, "standardize", False):
        check_one_model(args, "with --scheduler")
    return _read(Path(args.data), args.columns, None)


def read_for_model(
    args: argparse.Namespace, model_names: list[str] | None, n_features: int
) -> tuple[Data, Any, list[str]]:
    """The rows of ``args.data`` a fitted model reads, as a Dask array read by the workers:
    ``--columns``, else the model's columns by name (Parquet), else every column.

    Raises
    ------
    CLIError
        As :func:`read_lazily`, for ``--id`` (the rows are not gathered here), and for a
        column count the model does not expect.
    """
    if getattr(args, "id", None) is not None:
        raise CLIError("--id is not available with --scheduler; run without it")
    data, X, names = _read(Path(args.data), args.columns, model_names)
    if len(names) != n_features:
        raise CLIError(
            f"the model expects {n_features} columns, but {len(names)} of {data.path} were "
            f"selected ({_shown(names)}); choose {n_features} with --columns"
        )
    return data, X, names


def _read(
    path: Path, columns: str | None, by_name: list[str] | None
) -> tuple[Data, Any, list[str]]:
    """``path``'s columns (``--columns``; else ``by_name`` in a Parquet file; else all)."""
    if not path.exists():
        raise CLIError(f"no such file: {path}")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return _parquet(path, columns, by_name)
    if name.endswith(".zarr"):
        da = _dask("dask.array")
        return _by_position(path, da.from_zarr(str(path)), columns)
    if name.endswith(".npy"):
        return _by_position(path, _npy(path), columns)
    raise CLIError(f"with --scheduler, DATA is read out of core by the workers: use {_FORMATS}")


def standardized(X: Any, standardization: Any) -> Any:
    """A saved model's standardization of the lazy rows ``X`` (they stay lazy)."""
    if standardization is None:
        return X
    return (X.astype("float64") - standardization.mean) / standardization.scale


def _parquet(
    path: Path, columns: str | None, by_name: list[str] | None
) -> tuple[Data, Any, list[str]]:
    dd = _dask("dask.dataframe")
    try:
        frame = dd.read_parquet(str(path))
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {path} as Parquet: {_one_line(str(exc))}") from None
    all_names = [str(c) for c in frame.columns]
    data = Data(path, all_names, 0, True)
    names = _parse_columns(columns, data) or by_name or all_names
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise CLIError(
            f"unknown columns {_shown(unknown)} in {path}; its columns are {_shown(all_names)}"
        )
    bad = [n for n in names if frame[n].dtype.kind not in "biuf"]
    if bad:
        raise CLIError(
            f"{path} has non-numeric columns {_shown(bad)}; gaussmix models numeric features "
            "only: choose other columns with --columns"
        )
    from ..dask.validation import as_rows  # dask is there: read_parquet was

    # partitions' lengths (the row offsets) are counted by the workers
    X = as_rows(frame[names])
    data.n_rows = int(X.shape[0])
    return data, X, names


def _by_position(path: Path, X: Any, columns: str | None) -> tuple[Data, Any, list[str]]:
    if X.ndim != 2:
        raise CLIError(f"{path} holds an array of shape {X.shape}; gaussmix needs (rows, columns)")
    all_names = [f"x{j}" for j in range(X.shape[1])]
    data = Data(path, all_names, int(X.shape[0]), False)
    names = _parse_columns(columns, data) or all_names
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise CLIError(
            f"unknown columns {_shown(unknown)} in {path}; its columns are {_shown(all_names)}"
        )
    if names != all_names:
        X = X[:, [all_names.index(n) for n in names]]
    return data, X, names


def _read_rows(path: str, start: int, stop: int) -> NDArray[Any]:
    """Rows ``start:stop`` of a ``.npy`` file, read on a worker through a memory map."""
    import numpy as np  # imported where data are read: --help starts without it

    return np.array(np.load(path, mmap_mode="r", allow_pickle=False)[start:stop])


def _npy(path: Path) -> Any:
    """A ``.npy`` file as a Dask array whose blocks the workers read (the file's array is
    never sent through the scheduler)."""
    import numpy as np

    dask = _dask("dask")
    da = _dask("dask.array")
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)  # reads the header only
    except (ValueError, OSError, EOFError) as exc:
        raise CLIError(f"cannot read {path} as NPY: {_one_line(str(exc))}") from None
    shape, dtype = mapped.shape, mapped.dtype
    if dtype.kind not in "iuf" or len(shape) != 2:
        raise CLIError(
            f"{path} holds a {dtype} array of shape {shape}; gaussmix needs a numeric array "
            "of shape (rows, columns)"
        )
    n, d = shape
    step = max(1, BLOCK_BYTES // max(1, d * dtype.itemsize))
    blocks = [
        da.from_delayed(
            dask.delayed(_read_rows, pure=True)(str(path.resolve()), a, min(a + step, n)),
            (min(a + step, n) - a, d),
            dtype,
        )
        for a in range(0, n, step)
    ]
    return da.concatenate(blocks) if blocks else da.zeros((0, d), dtype=dtype)
