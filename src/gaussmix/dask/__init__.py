"""gaussmix on Dask: fitting and prediction over rows held in a Dask array or data frame.

The estimators accept ``dask.array.Array`` and ``dask.dataframe.DataFrame`` wherever they
accept arrays; this package is what they call on such input (the optional extra
``gaussmix[dask]``: ``dask`` and ``distributed``).  Nothing here gathers the data on the
client:

``source``
    :class:`~gaussmix.dask.source.DaskSource`, the :class:`~gaussmix.sources.RowSource` of a
    Dask array: every pass maps the engine's pass over the blocks on the workers and
    tree-reduces their results (statistics, log-likelihood, worst rows) in row order, so a
    fit is the same whichever worker computes a block, and a block lost with its worker is
    recomputed.  Some rows (the frame's sample, the start race's subsample, re-seeding
    candidates) are gathered by index, once.
``outputs``
    Lazy per-row outputs (labels, responsibilities, log-densities): one task per block,
    chunked as the input.
``boundary``
    What the estimators call: lazy validation (dtype, shape and chunks from the metadata;
    NaN and infinity found by the passes), the fit's row source and frame, predictions.

This module imports nothing of Dask: :func:`is_dask_collection` tells Dask input apart
without it, and the submodules are imported only for such input.
"""

from __future__ import annotations

from typing import Any


def is_dask_collection(X: Any) -> bool:
    """Whether ``X`` is a Dask collection (array, data frame, series), without importing Dask.

    Parameters
    ----------
    X : object

    Returns
    -------
    bool
    """
    return type(X).__module__.startswith("dask") and hasattr(X, "__dask_graph__")


__all__ = ["is_dask_collection"]
