"""Lazy per-row outputs of a fitted model on a Dask array: labels, responsibilities and
log-densities, one task per block, chunked as the input's rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np
from dask.highlevelgraph import HighLevelGraph
from numpy.typing import NDArray

from .. import _validation as v
from ..engine import Frame, NonFiniteInput, PassResult, PassTerms
from .source import DaskSource, PassSpec, _token, block_pass

#: PassResult's per-row fields and their flags in mixture_pass
ROW_OUTPUTS = ("labels", "resp", "log_density")


def block_output(
    x: NDArray[np.floating], spec: PassSpec, index: int, start: int, rows: int, field: str
) -> NDArray[Any]:
    """One per-row output of block ``index``; inf in it (and NaN, unless a missing value)
    raise the in-memory error, counted in the block."""
    try:
        out: NDArray[Any] = getattr(block_pass(x, None, spec, index, start, rows), field)
    except NonFiniteInput:
        has_nan = not spec.missing and bool(np.isnan(x).any())
        bad = np.isinf(x).any(axis=1) if spec.missing else ~np.isfinite(x).all(axis=1)
        raise v.not_finite_error(
            has_nan, bool(np.isinf(x).any()), int(bad.sum()), rows,
            start + int(np.flatnonzero(bad)[0]), where=f" of its block {index} (rows {start} "
            f"to {start + rows - 1})",
        ) from None  # fmt: skip
    return out


def lazy_pass(
    X: Any, terms: PassTerms, frame: Frame, *, missing: bool = False, **options: Any
) -> PassResult:
    """:func:`~gaussmix.engine.mixture_pass` of the rows of ``X`` (a validated Dask array).

    The per-row outputs asked for (``labels``, ``resp``, ``log_density``) are Dask arrays
    chunked as ``X``'s rows, computed when read; a pass that asks for none (a score) is
    computed now, on the cluster, and returns its log-likelihood and weight.  ``missing``:
    NaN is a missing value (each row scored on its observed values), not an error.
    """
    asked = [f for f in ROW_OUTPUTS if options.get(f)]
    if not asked:
        return DaskSource(X, missing=missing).mixture_pass(terms, frame, **options)
    outputs = {f: _lazy_output(X, terms, frame, f, options, missing) for f in asked}
    return PassResult(stats=None, log_likelihood=float("nan"), weight=float("nan"), **outputs)


def _lazy_output(
    X: Any, terms: PassTerms, frame: Frame, field: str, options: dict[str, Any], missing: bool
) -> Any:
    others = {f: False for f in ROW_OUTPUTS if f != field}
    # labels alone need no normalisation (as in memory)
    spec = PassSpec(
        terms, frame, {**options, **others, "log_likelihood": field != "labels"}, missing
    )
    name = _token(field.replace("_", "-"))
    spec_key = (name, "spec")
    dsk: dict[Any, Any] = {spec_key: spec}
    bounds = np.concatenate([[0], np.cumsum(X.chunks[0])]).tolist()
    k = terms.means.shape[0]
    for i, key in enumerate(X.__dask_keys__()):
        a, b = bounds[i], bounds[i + 1]
        out_key = (name, i, 0) if field == "resp" else (name, i)
        dsk[out_key] = (block_output, key[0], spec_key, i, a, b - a, field)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[X])
    out_dtype = np.dtype(options.get("out_dtype", np.float64))
    if field == "labels":
        return da.Array(graph, name, chunks=(X.chunks[0],), dtype=np.intp)
    if field == "log_density":
        return da.Array(graph, name, chunks=(X.chunks[0],), dtype=out_dtype)
    return da.Array(graph, name, chunks=(X.chunks[0], (k,)), dtype=out_dtype)


def lazy_rowwise(function: Callable[..., NDArray[Any]], X: Any, dtype: Any, **kw: Any) -> Any:
    """``function(block, **kw)`` of every block of ``X`` (a validated Dask array): one value
    per row, chunked as ``X``'s rows.  ``function`` takes validated in-memory rows (a fitted
    model's method, sent with the graph); a block holding infinity raises the in-memory
    error, counted in the block."""
    return da.map_blocks(
        _checked_block,
        X,
        function=function,
        kw=kw,
        drop_axis=1,
        dtype=dtype,
        meta=np.empty(0, dtype),
    )


def lazy_impute(model: Any, X: Any, n_draws: int | None, rng: np.random.Generator) -> Any:
    """:meth:`~gaussmix.base.MixtureBase.impute` of every block of ``X`` (a validated Dask
    array), chunked as ``X``'s rows (draws: a leading axis of ``n_draws``); each block's draws
    are seeded by one draw of ``rng`` and the block's index."""
    seed = None if n_draws is None else int(rng.integers(2**63))
    kw = {"model": model, "n_draws": n_draws, "seed": seed}
    if n_draws is None:
        return da.map_blocks(_impute_block, X, dtype=X.dtype, meta=np.empty((0, 0), X.dtype), **kw)
    chunks = ((n_draws,), X.chunks[0], X.chunks[1])
    return da.map_blocks(
        _impute_block, X, new_axis=0, chunks=chunks, dtype=X.dtype,
        meta=np.empty((0, 0, 0), X.dtype), **kw,
    )  # fmt: skip


def _finite_block(x: NDArray[np.floating], info: dict[Any, Any] | None) -> int:
    """The block's index; infinity in it raises the in-memory error (rows numbered as in
    the whole array)."""
    where = (info or {}).get(0, {})  # the input's block (the output may have a new axis)
    index = int(where.get("chunk-location", (0,))[0])
    if np.isinf(x).any():
        start = int(where.get("array-location", [(0, 0)])[0][0])
        bad = np.isinf(x).any(axis=1)
        raise v.not_finite_error(
            False, True, int(bad.sum()), x.shape[0], start + int(np.flatnonzero(bad)[0]),
            where=f" of its block {index} (rows {start} to {start + x.shape[0] - 1})",
        )  # fmt: skip
    return index


def _checked_block(
    x: NDArray[np.floating],
    function: Callable[..., NDArray[Any]],
    kw: dict[str, Any],
    block_info: dict[Any, Any] | None = None,
) -> NDArray[Any]:
    _finite_block(x, block_info)
    return function(x, **kw)


def _impute_block(
    x: NDArray[np.floating],
    model: Any,
    n_draws: int | None,
    seed: int | None,
    block_info: dict[Any, Any] | None = None,
) -> NDArray[np.floating]:
    index = _finite_block(x, block_info)
    rng = None if seed is None else np.random.default_rng([seed, index])
    out: NDArray[np.floating] = model._impute_rows(x, bool(np.isnan(x).any()), n_draws, rng)
    return out


__all__ = ["ROW_OUTPUTS", "block_output", "lazy_impute", "lazy_pass", "lazy_rowwise"]
