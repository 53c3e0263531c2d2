"""Lazy validation of Dask input: what the metadata tells (dtype, shape, columns) is checked
at once, with the in-memory checks' messages; NaN and infinity are found by the passes
(NaN is a missing value unless the estimator's ``missing='error'``; infinity is an error).

The in-memory checks of :mod:`gaussmix._validation` run here on stand-ins that cost no
memory (an array broadcast from one zero to the input's shape and dtype, or a data frame's
two-row metadata), so that Dask input gets the same errors as the same rows in memory.
"""

from __future__ import annotations

from typing import Any, NoReturn

import dask
import dask.array as da
import numpy as np
from numpy.typing import NDArray

from .. import _validation as v
from . import is_dask_collection


def _is_frame(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "to_dask_array")


def _frame_dtype(dtypes: Any) -> np.dtype[Any]:
    """float32 where every column is float32, else float64 (as scikit-learn converts)."""
    all32 = all(np.dtype(t) == np.float32 for t in dtypes if isinstance(t, np.dtype))
    return np.dtype(np.float32 if len(dtypes) and all32 else np.float64)


def as_rows(X: Any, what: str = "X") -> Any:
    """``X`` as a lazy 2-D float array with known row chunks and one column chunk.

    A data frame's columns are checked by their dtypes (non-numeric columns are named) and
    converted to float64 (float32 where all are float32); its partitions' lengths are
    computed, which reads them once.  An array's dtype and shape are checked from its
    metadata; integer and boolean arrays are converted to float64.  Unknown chunk sizes are
    computed (one read of the blocks).  No value is checked: NaN and inf are found by the
    passes (:func:`raise_not_finite`).

    Parameters
    ----------
    X : dask.array.Array or dask.dataframe.DataFrame
    what : str
        The argument's name in messages.

    Returns
    -------
    dask.array.Array
        float32 or float64, of shape (n_samples, n_features).
    """
    if _is_frame(X):
        v.precheck_X(X._meta_nonempty, what, check_finite=False)
        dtype = _frame_dtype(list(X.dtypes))
        if any(np.dtype(t) != dtype if isinstance(t, np.dtype) else True for t in X.dtypes):
            X = X.astype(dtype)  # nullable columns' NA become NaN, found by the passes
        rows = X.to_dask_array(lengths=True)
    elif isinstance(X, da.Array):
        rows = X
    elif hasattr(X, "to_dask_array"):  # a series: one column, reported as 1-D
        rows = X.to_dask_array(lengths=True)
    else:
        raise TypeError(
            f"{what} is a Dask collection of type {type(X).__name__}; gaussmix reads Dask "
            "arrays and data frames. Convert it, e.g. with dask.array.from_delayed."
        )
    if any(np.isnan(c) for dim in rows.chunks for c in dim):
        rows = rows.compute_chunk_sizes()  # row offsets index the worst rows and samples
    if rows.dtype.kind in "OV":
        raise TypeError(
            f"{what} is a Dask array of dtype {rows.dtype}; gaussmix needs numbers. Convert "
            f"it lazily, e.g. {what} = {what}.astype(float), or drop non-numeric columns."
        )
    # the in-memory checks of dtype and shape, on a stand-in of no memory
    v.precheck_X(np.broadcast_to(np.zeros((), rows.dtype), rows.shape), what, check_finite=False)
    if rows.dtype not in (np.float32, np.float64):
        rows = rows.astype(np.float64)
    if len(rows.chunks[1]) > 1:
        rows = rows.rechunk({1: -1})  # a pass reads whole rows
    return rows


def stand_in(X: Any, rows: Any) -> Any:
    """A one-row, in-memory stand-in of ``X`` (its columns' names, ``rows``' width and
    dtype) for scikit-learn's bookkeeping of ``n_features_in_`` and ``feature_names_in_``."""
    values = np.zeros((1, rows.shape[1]), dtype=rows.dtype)
    if _is_frame(X):
        return X._meta.__class__(values, columns=X.columns)
    return values


def raise_not_finite(X: Any, what: str = "X", *, missing: bool = False) -> NoReturn:
    """Raise the in-memory error for NaN or inf in ``X`` (a Dask array that holds some),
    from counts reduced on the cluster; with ``missing`` (NaN is a missing value), for inf
    alone."""
    if missing:
        bad = da.isinf(X).any(axis=1)
        n_bad, first = dask.compute(bad.sum(), da.argmax(bad))
        has_nan, has_inf = False, bool(n_bad)
    else:
        bad = ~da.isfinite(X).all(axis=1)
        n_bad, first, has_nan, has_inf = dask.compute(
            bad.sum(), da.argmax(bad), da.isnan(X).any(), da.isinf(X).any()
        )
    if not n_bad:
        raise ValueError(f"The sums over {what} overflow float64; rescale {what}.")
    raise v.not_finite_error(bool(has_nan), bool(has_inf), int(n_bad), X.shape[0], int(first), what)


def check_sample_weight(sample_weight: Any, X: Any) -> Any:
    """Validated sample weights of the rows of ``X`` (a validated Dask array), as a float64
    Dask array chunked as ``X``'s rows (or ``None``).

    In-memory weights are checked as for in-memory rows and placed on the cluster once
    (persisted), so that passes do not send them again.  Dask weights are checked from one
    reduction (their count of NaN, inf and negative values, and their sum), with the
    in-memory messages.
    """
    if sample_weight is None:
        return None
    n = X.shape[0]
    if not is_dask_collection(sample_weight):
        sw = v.check_sample_weight(sample_weight, n)
        assert sw is not None
        return da.from_array(sw, chunks=(X.chunks[0],)).persist()
    w = sample_weight
    if not isinstance(w, da.Array):
        w = w.to_dask_array(lengths=True)
    if any(np.isnan(c) for dim in w.chunks for c in dim):
        w = w.compute_chunk_sizes()
    if w.dtype.kind not in "biuf":
        raise TypeError(
            f"sample_weight must be an array of numbers, got a Dask array of dtype {w.dtype}; "
            "pass one non-negative number per row of X."
        )
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(
            f"sample_weight must have shape ({n},) to match X, got {w.shape}; "
            "pass one weight per row of X as a 1-D array."
        )
    w = w.astype(np.float64).rechunk((X.chunks[0],))
    non_finite, negative, total = dask.compute((~da.isfinite(w)).sum(), (w < 0).sum(), w.sum())
    v.check_weight_values(int(non_finite), int(negative), float(total))
    return w


def block_values(block: NDArray[Any], index: int, start: int, shape: tuple[int, ...]) -> None:
    """Check that a block computed on a worker has the shape its chunks declare."""
    if block.shape != shape:
        raise ValueError(
            f"X could not be read as a 2-D array: its block {index} (rows {start} to "
            f"{start + shape[0] - 1}) holds an array of shape {block.shape}, but its chunks "
            f"declare {shape}. Pass blocks of the declared shapes (rows of equal length), e.g. "
            "give dask.array.from_delayed each block's true shape."
        )
