"""Rows that stay on disk: row sources read block by block, for exact EM out of core.

Each is a :class:`~gaussmix.sources.RowSource` that :meth:`GaussianMixture.fit
<gaussmix.GaussianMixture.fit>` takes in place of an array: every EM iteration is one
streaming pass over the file, with memory bounded by two blocks, and the start race reads
its subsample of rows once.

``streamed``
    :class:`~gaussmix.ondisk.streamed.StreamedSource`: the passes block by block (the next
    block read while the engine works on the current one), rows by index, the frame's
    sample; blocks come from a :class:`~gaussmix.ondisk.streamed.BlockReader`.
``npy``
    :class:`~gaussmix.ondisk.npy.NpySource`: a ``.npy`` file or a memory map (file reads
    into the block buffers, so the file's pages are not kept in the process's memory).
``parquet``
    :class:`~gaussmix.ondisk.parquet.ParquetSource`: a Parquet file or folder, row group
    by row group (pyarrow, imported when one is made).
"""

from __future__ import annotations

from .npy import NpySource
from .parquet import ParquetSource
from .streamed import StreamedSource

__all__ = ["NpySource", "ParquetSource", "StreamedSource"]
