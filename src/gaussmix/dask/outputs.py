"""Lazy per-row outputs of a fitted model on a Dask array: labels, responsibilities and
log-densities, one task per block, chunked as the input's rows."""

from __future__ import annotations

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
    """One per-row output of block ``index``; NaN or inf in it raise the in-memory error,
    counted in the block."""
    try:
        out: NDArray[Any] = getattr(block_pass(x, None, spec, index, start, rows), field)
    except NonFiniteInput:
        bad = ~np.isfinite(x).all(axis=1)
        raise v.not_finite_error(
            bool(np.isnan(x).any()), bool(np.isinf(x).any()), int(bad.sum()), rows,
            start + int(np.flatnonzero(bad)[0]), where=f" of its block {index} (rows {start} "
            f"to {start + rows - 1})", lazy=True,
        ) from None  # fmt: skip
    return out


def lazy_pass(X: Any, terms: PassTerms, frame: Frame, **options: Any) -> PassResult:
    """:func:`~gaussmix.engine.mixture_pass` of the rows of ``X`` (a validated Dask array).

    The per-row outputs asked for (``labels``, ``resp``, ``log_density``) are Dask arrays
    chunked as ``X``'s rows, computed when read; a pass that asks for none (a score) is
    computed now, on the cluster, and returns its log-likelihood and weight.
    """
    asked = [f for f in ROW_OUTPUTS if options.get(f)]
    if not asked:
        return DaskSource(X).mixture_pass(terms, frame, **options)
    outputs = {f: _lazy_output(X, terms, frame, f, options) for f in asked}
    return PassResult(stats=None, log_likelihood=float("nan"), weight=float("nan"), **outputs)


def _lazy_output(
    X: Any, terms: PassTerms, frame: Frame, field: str, options: dict[str, Any]
) -> Any:
    others = {f: False for f in ROW_OUTPUTS if f != field}
    # labels alone need no normalisation (as in memory)
    spec = PassSpec(terms, frame, {**options, **others, "log_likelihood": field != "labels"})
    name = _token(field.replace("_", "-"))
    spec_key = (name, "spec")
    dsk: dict[Any, Any] = {spec_key: spec}
    bounds = np.concatenate([[0], np.cumsum(X.chunks[0])]).tolist()
    k = terms.n_columns
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


__all__ = ["ROW_OUTPUTS", "block_output", "lazy_pass"]
