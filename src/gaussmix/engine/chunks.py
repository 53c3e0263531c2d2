"""How a pass cuts the rows into chunks: sizes that bound memory and keep the workers busy."""

from __future__ import annotations

from collections.abc import Iterator

from . import threads

#: target size in bytes of the largest per-chunk buffer when ``chunk_size`` is ``None``;
#: large enough that per-chunk Python overhead is negligible and worker threads scale,
#: small enough that the buffers stay a fraction of a large input
CHUNK_BYTES = 8 * 2**20

#: rows per chunk at least, when ``chunk_size`` is ``None``, for a pass the compiled kernel
#: does (its buffers do not grow with the rows; a chunk it hands back to numpy is redone in
#: pieces of numpy's size): each call has a fixed cost besides its rows, which larger
#: chunks spread; chosen by measurement, see benchmarks/README.md (Design measurements)
FUSED_CHUNK_ROWS = 8192

#: a chunk is split off for another worker only if it carries at least this much work, in
#: multiply-adds (about ``k (d² + 32)`` a row): handing a chunk to a thread costs tens of
#: microseconds, more than a pass over a few thousand rows of a small model takes
SPLIT_WORK = 2**21


def iter_chunks(n: int, chunk_size: int) -> Iterator[slice]:
    """Consecutive row slices of at most ``chunk_size`` rows."""
    for start in range(0, n, chunk_size):
        yield slice(start, min(start + chunk_size, n))


def auto_chunk_size(
    n_features: int,
    n_components: int,
    n_feature_cols: int,
    n_rows: int | None = None,
    least: int = 256,
) -> int:
    """Rows per chunk for one worker's buffers (float64, ``n_feature_cols + k`` per row).

    The buffers get :data:`CHUNK_BYTES` (memory is bounded by a constant, not by ``n``), and
    with ``n_rows`` given a chunk is at most an equal share of the rows per worker, so that
    small data sets are done in as few chunks as there are workers, and in one where a share
    would carry less than :data:`SPLIT_WORK`.  Smaller buffers cost
    time: each chunk has a fixed overhead.  ``least`` raises the rows before that share
    (:data:`FUSED_CHUNK_ROWS`).
    """
    width = max(n_feature_cols + n_components, n_features, 1)
    rows = min(max(CHUNK_BYTES // (8 * width), 256, least), max(65536, least))
    if n_rows is not None and n_rows > 0:
        # equal chunks in whole rounds over the workers, so none waits for a last straggler;
        # fewer where a chunk would carry too little work to be worth a thread (SPLIT_WORK)
        workers = threads.default_threads()
        rounds = -(-n_rows // (workers * rows))
        worth = -(-SPLIT_WORK // (max(n_components, 1) * (n_features**2 + 32)))
        chunks = max(-(-n_rows // rows), min(workers * rounds, n_rows // worth))
        rows = max(256, -(-n_rows // chunks))
    return rows
