"""Rows of a ``.npy`` file or of a memory map, read block by block.

A C-ordered array in a file (a ``.npy`` file, or an ``np.memmap`` / ``np.load(...,
mmap_mode="r")`` of one that is not copy-on-write) is read with plain file reads into the
source's block buffers (:class:`FileReader`): the process's memory holds the two buffers,
never the file's pages (a memory map read in place keeps every page it touched resident
until the system needs the memory).  Any other array-like with ``shape``, ``dtype`` and row
slicing (a memory map in another order or of a column subset, an HDF5 or Zarr array) is
read a slice at a time (:class:`SliceReader`).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .streamed import StreamedSource, block_rows

#: memory-map modes whose pages are the file's (a copy-on-write map may differ from it)
_SHARED_MODES = ("r", "r+", "w+")


def _float_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """float32 rows stay float32; any other numeric dtype is read as float64."""
    if dtype.kind not in "iuf" or (dtype.kind == "f" and dtype.itemsize > 8):
        raise ValueError(
            f"gaussmix needs numeric rows (integers or floats up to 64 bits), got dtype "
            f"{dtype}; convert the array first."
        )
    return np.dtype(np.float32 if dtype == np.float32 else np.float64)


def _bounds(n: int, step: int) -> NDArray[np.intp]:
    return np.append(np.arange(0, n, step, dtype=np.intp), np.intp(n))


class _Blocks:
    """What both readers know of their blocks: bounds, columns kept and dtype."""

    _bounds: NDArray[np.intp]
    _d: int
    _dtype: np.dtype[Any]

    @property
    def bounds(self) -> NDArray[np.intp]:
        return self._bounds

    @property
    def n_features(self) -> int:
        return self._d

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype


class FileReader(_Blocks):
    """A C-ordered ``(n, d)`` array of ``dtype`` at byte ``offset`` of the file ``path``.

    Parameters
    ----------
    path : str or Path
    offset : int
        Byte of the first row in the file.
    shape : (int, int)
    dtype : numpy dtype
        The file's dtype (converted to float64 when read, float32 kept).
    rows : int, optional
        Rows per block (default: about :data:`~gaussmix.ondisk.streamed.BLOCK_BYTES`).
    columns : sequence of int, optional
        The columns to keep (default: all).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        offset: int,
        shape: tuple[int, int],
        dtype: np.dtype[Any],
        rows: int | None = None,
        columns: Sequence[int] | None = None,
    ) -> None:
        self.path = str(path)
        self.where = self.path
        self.offset = int(offset)
        self.n, width = int(shape[0]), int(shape[1])
        self.selected = None if columns is None else np.asarray(columns, dtype=np.intp)
        self._d = width if self.selected is None else int(self.selected.shape[0])
        self.file_dtype = np.dtype(dtype)
        self._dtype = _float_dtype(self.file_dtype)
        self.row_bytes = width * self.file_dtype.itemsize
        step = block_rows(width, self._dtype.itemsize, rows)
        self._bounds = _bounds(self.n, step)
        # reading straight into the buffer needs the buffer's bytes to be the file's
        self.direct = (
            self.selected is None and self.file_dtype == self._dtype and self.file_dtype.isnative
        )

    def _read_into(self, f: Any, start: int, target: NDArray[Any]) -> None:
        """Rows ``start ..`` of the file into ``target`` (C-contiguous, the file's dtype)."""
        view = target.data.cast("B")
        f.seek(self.offset + start * self.row_bytes)
        done = 0
        while done < view.nbytes:
            got = f.readinto(view[done:])
            if not got:
                raise ValueError(
                    f"{self.where} ends before its row {start + done // self.row_bytes}: the "
                    "file is shorter than its header says (truncated?)."
                )
            done += got

    def _read(self, f: Any, start: int, out: NDArray[np.floating]) -> None:
        if self.direct:
            self._read_into(f, start, out)
            return
        raw = np.empty((out.shape[0], self.row_bytes // self.file_dtype.itemsize), self.file_dtype)
        self._read_into(f, start, raw)
        out[...] = raw if self.selected is None else raw[:, self.selected]

    def read(self, i: int, out: NDArray[np.floating]) -> NDArray[np.floating]:
        a, b = int(self._bounds[i]), int(self._bounds[i + 1])
        x = out[: b - a]
        with open(self.path, "rb", buffering=0) as f:
            self._read(f, a, x)
        return x

    def rows(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        out = np.empty((rows.shape[0], self._d), dtype=self._dtype)
        # runs of consecutive rows are read at once
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        starts = np.concatenate([[0], breaks])
        stops = np.concatenate([breaks, [rows.shape[0]]])
        with open(self.path, "rb", buffering=0) as f:
            for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
                self._read(f, int(rows[a]), out[a:b])
        return out


class SliceReader(_Blocks):
    """Any array-like of shape ``(n, d)`` read a slice of rows at a time.

    Parameters
    ----------
    X : array-like
        With ``shape``, ``dtype`` and row slicing (``X[a:b]``).
    rows : int, optional
        Rows per block.
    where : str
        What ``X`` is, for messages.
    columns : sequence of int, optional
        The columns to keep (default: all).
    """

    def __init__(
        self,
        X: Any,
        rows: int | None = None,
        where: str = "the array",
        columns: Sequence[int] | None = None,
    ) -> None:
        self.X = X
        self.where = where
        self.selected = None if columns is None else np.asarray(columns, dtype=np.intp)
        width = int(X.shape[1])
        self._d = width if self.selected is None else int(self.selected.shape[0])
        self._dtype = _float_dtype(np.dtype(X.dtype))
        self._bounds = _bounds(int(X.shape[0]), block_rows(width, self._dtype.itemsize, rows))

    def read(self, i: int, out: NDArray[np.floating]) -> NDArray[np.floating]:
        a, b = int(self._bounds[i]), int(self._bounds[i + 1])
        x = out[: b - a]
        x[...] = self.X[a:b] if self.selected is None else self.X[a:b][:, self.selected]
        return x

    def rows(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        taken = np.take(self.X, rows, axis=0)
        if self.selected is not None:
            taken = taken[:, self.selected]
        return np.asarray(taken, dtype=self._dtype)


def file_region(X: np.memmap[Any, Any]) -> tuple[str, int] | None:
    """The file and byte offset of a memory map's rows, when reading the file gives them:
    a C-contiguous map that is not copy-on-write (a view of one included); else None."""
    if getattr(X, "mode", None) not in _SHARED_MODES or not X.flags.c_contiguous:
        return None
    filename = getattr(X, "filename", None)
    top: Any = X
    while isinstance(top.base, np.ndarray):
        top = top.base
    if filename is None or not isinstance(top, np.memmap) or not isinstance(top.base, mmap.mmap):
        return None
    # a view's offset attribute is its parent's: the distance between the data pointers is not
    delta = X.__array_interface__["data"][0] - top.__array_interface__["data"][0]
    return str(filename), int(top.offset) + int(delta)


def _check_shape(X: Any, where: str) -> None:
    if len(X.shape) != 2:
        raise ValueError(
            f"{where} holds an array of shape {tuple(X.shape)}; gaussmix needs rows of shape "
            "(n_samples, n_features) (reshape a single feature with x.reshape(-1, 1))."
        )


class NpySource(StreamedSource):
    """The rows of a ``.npy`` file or a memory map, read out of core block by block.

    Parameters
    ----------
    data : str, os.PathLike or numpy.memmap
        A ``.npy`` file holding a 2-D numeric array, or a memory map of one (``np.memmap``,
        ``np.load(path, mmap_mode="r")``; a view of rows of one too).  A C-ordered array
        is read with file reads (the process holds two blocks); another layout (a column
        subset, Fortran order, a copy-on-write map) through the map, a block at a time.
    sample_weight : array-like of shape (n_samples,), optional
    block_rows : int, optional
        Rows per block (default: about 16 MiB of rows).
    columns : sequence of int, optional
        The columns to read, by position (default: all).

    Examples
    --------
    >>> GaussianMixture(8).fit(NpySource("rows.npy"))  # doctest: +SKIP
    """

    def __init__(
        self,
        data: Any,
        sample_weight: Any = None,
        *,
        block_rows: int | None = None,
        columns: Sequence[int] | None = None,
    ) -> None:
        if isinstance(data, (str, os.PathLike)):
            path = Path(data)
            if not path.is_file():
                raise FileNotFoundError(f"No such .npy file: {path}")
            try:
                data = np.load(path, mmap_mode="r", allow_pickle=False)  # reads the header
            except (ValueError, OSError, EOFError) as exc:
                raise ValueError(f"Cannot read {path} as NPY: {exc}") from None
            where = str(path)
        else:
            where = str(getattr(data, "filename", None) or "the memory map")
        _check_shape(data, where)
        _float_dtype(np.dtype(data.dtype))
        if columns is not None:
            columns = [int(c) for c in columns]
            width = int(data.shape[1])
            if not columns or any(not -width <= c < width for c in columns):
                raise ValueError(
                    f"columns must be positions of the {width} columns of {where}; got {columns}."
                )
            columns = [c % width for c in columns]
        region = file_region(data) if isinstance(data, np.memmap) else None
        reader: FileReader | SliceReader
        if region is not None:
            reader = FileReader(region[0], region[1], data.shape, data.dtype, block_rows, columns)
        else:
            reader = SliceReader(data, block_rows, where, columns)
        super().__init__(reader, sample_weight)


__all__ = ["FileReader", "NpySource", "SliceReader", "file_region"]
