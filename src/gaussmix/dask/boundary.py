"""What the estimators call on Dask input (:class:`gaussmix.base.MixtureBase` dispatches here,
once, on the input's type): the lazy rows and their stand-in for scikit-learn's bookkeeping,
the fit's row source and frame sample, and the lazy pass of predictions and scores.

How a fit runs on Dask: the frame is taken from a strided sample of at most
:data:`~gaussmix.engine.FRAME_SAMPLE` rows (the rows the in-memory frame reads), gathered
once; the start race's subsample (at most 10,000 rows, or 500 per component) is gathered
once into memory, where the k-means++ seeding and the short runs take place
(:func:`gaussmix.multistart.fit_multistart` calls :meth:`DaskSource.subset`); the winner
continues on the cluster, one pass of :class:`DaskSource` per EM iteration.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..multistart import SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT
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
    check_start(estimator, int(X.shape[0]))
    source = DaskSource(X, check_sample_weight(sample_weight, X), missing=estimator._allows_nan())
    return (source, *source.frame_sample())


def check_start(estimator: Any, n_rows: int) -> None:
    """Refuse a start that would read more rows into memory than the start race's sample:
    ``init_params='kmeans'`` runs scikit-learn's KMeans on the rows the starts are made
    from, which are all rows unless the race takes a subsample (given means or a warm start
    make no such start)."""
    if getattr(estimator, "init_params", None) != "kmeans":
        return
    warm = getattr(estimator, "warm_start", False) and hasattr(estimator, "converged_")
    if warm or getattr(estimator, "means_init", None) is not None:
        return
    race = estimator.n_init > 1 and estimator.init_iter is not None
    sample = max(SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT * estimator.n_components)
    if not race and n_rows > sample:
        raise ValueError(
            f"init_params='kmeans' with n_init={estimator.n_init} and "
            f"init_iter={estimator.init_iter} runs scikit-learn's KMeans on all {n_rows} rows "
            "in memory, which gaussmix does not do with Dask input. Use the default "
            "init_params='k-means++' (seeds from a sample, refined by short EM runs), keep "
            "n_init > 1 and init_iter set (KMeans then runs on the race's subsample of "
            f"{sample} rows), or pass means_init (e.g. the centres of dask_ml.cluster.KMeans)."
        )


__all__ = ["check_start", "fit_rows", "lazy_impute", "lazy_pass", "lazy_rows", "lazy_rowwise"]
