"""What the estimators call on Dask input (:class:`gaussmix.base.MixtureBase` dispatches here,
once, on the input's type): the lazy rows and their stand-in for scikit-learn's bookkeeping,
the fit's row source and frame sample, and the lazy pass of predictions and scores.

How a fit runs on Dask: the frame is taken from a strided sample of at most
:data:`~gaussmix.engine.FRAME_SAMPLE` rows (the rows the in-memory frame reads), gathered
once; the start race's subsample (:func:`~gaussmix.multistart.race_sample_rows`) is gathered
once into memory, where the k-means++ seeding and the short runs take place
(:func:`gaussmix.multistart.fit_multistart` calls :meth:`DaskSource.subset`); the winner
continues on the cluster, one pass of :class:`DaskSource` per EM iteration.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..multistart import check_start
from .outputs import lazy_impute, lazy_pass, lazy_rowwise
from .source import DaskSource
from .validation import as_rows, check_sample_weight, stand_in

Array = NDArray[np.float64]


def lazy_rows(X: Any) -> tuple[Any, Any]:
    """``X`` validated lazily (:func:`~gaussmix.dask.validation.as_rows`) and a one-row
    in-memory stand-in with its columns, width and dtype."""
    rows = as_rows(X)
    return rows, stand_in(X, rows)


def fit_rows(
    estimator: Any, X: Any, sample_weight: Any
) -> tuple[DaskSource, NDArray[np.floating], Array | None]:
    """The fit's row source over validated rows ``X`` and the sample (rows and weights)
    its frame is taken from, once the estimator's start is known not to read every row
    into memory (:func:`check_start`)."""
    check_start(
        estimator, int(X.shape[0]), "with Dask input",
        "pass means_init (e.g. the centres of dask_ml.cluster.KMeans)",
    )  # fmt: skip
    source = DaskSource(X, check_sample_weight(sample_weight, X), missing=estimator._allows_nan())
    return (source, *source.frame_sample())


__all__ = ["check_start", "fit_rows", "lazy_impute", "lazy_pass", "lazy_rows", "lazy_rowwise"]
