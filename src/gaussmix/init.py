"""Initialisation strategies, looked up by name in :data:`INITIALIZERS`.

Each strategy returns a *responsibility source* (hard or soft assignments, produced chunk by
chunk) and reference points; one :func:`~gaussmix.engine.stats_pass` then turns them into
initial weights, means and covariances through the same M-step EM uses.

``"kmeans"``
    Labels of scikit-learn's :class:`~sklearn.cluster.KMeans` (one run) on all rows.
``"k-means++"``
    k-means++ seeds (:func:`sklearn.cluster.kmeans_plusplus`) drawn from a random subsample of
    :data:`SEED_SAMPLE` rows (200 per component if more), then every row assigned to its
    nearest seed.  Cheap: the default, used with several short EM runs (see
    :class:`gaussmix.GaussianMixture`).
``"random"``
    Uniform random responsibilities, normalised per row (as scikit-learn).  They are drawn in
    fixed blocks of rows, so the start does not depend on ``chunk_size``.
``"random_from_data"``
    ``n_components`` distinct rows drawn at random as seeds, then nearest-seed assignment.

User-given ``weights_init`` / ``means_init`` / ``precisions_init`` override the corresponding
parameters; when ``means_init`` is given the other parameters are estimated from the rows'
nearest given means, so the start is deterministic.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from .covariance import CovarianceFamily
from .em import params_from_stats, reseed
from .engine import Frame, Params, RespSource, stats_pass

Array = NDArray[np.float64]

#: k-means++ seeds are drawn from a subsample of at most
#: ``max(SEED_SAMPLE, SEED_SAMPLE_PER_COMPONENT * k)`` rows (the seeding costs
#: ``O(rows * k * log k)``; the short EM runs that follow refine the seeds on more rows)
SEED_SAMPLE = 5_000
SEED_SAMPLE_PER_COMPONENT = 200
_BLOCK = 4096

Strategy = Callable[
    [NDArray[np.floating], Frame, int, np.random.Generator, "Array | None"],
    tuple[RespSource, Array],
]


def nearest(centres: Array) -> RespSource:
    """Hard assignment of each row to its nearest centre (internal frame)."""
    sq = np.einsum("kd,kd->k", centres, centres)

    def source(rows: slice, z: Array) -> NDArray[np.intp]:
        dist = sq - 2.0 * (z @ centres.T)
        return np.asarray(dist.argmin(axis=1))

    return source


def _positive(
    X: NDArray[np.floating], sw: Array | None
) -> tuple[NDArray[np.floating], Array | None]:
    """The rows with positive weight (zero-weight rows must not influence the start)."""
    if sw is None or (sw > 0).all():
        return X, sw
    keep = sw > 0
    return X[keep], sw[keep]


def _kmeans(
    X: NDArray[np.floating], frame: Frame, k: int, rng: np.random.Generator, sw: Array | None
) -> tuple[RespSource, Array]:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    Xp, wp = _positive(X, sw)
    seed = int(rng.integers(2**31 - 1))
    with warnings.catch_warnings():
        # fewer distinct points than clusters: empty clusters are re-seeded by our M-step
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(Xp, sample_weight=wp)
    # KMeans's final labels are the nearest centres, so the assignment is recomputed per chunk
    centres = frame.to_internal(km.cluster_centers_)
    return nearest(centres), centres


def _kmeans_plusplus(
    X: NDArray[np.floating], frame: Frame, k: int, rng: np.random.Generator, sw: Array | None
) -> tuple[RespSource, Array]:
    from sklearn.cluster import kmeans_plusplus

    Xp, wp = _positive(X, sw)
    n = Xp.shape[0]
    size = max(SEED_SAMPLE, SEED_SAMPLE_PER_COMPONENT * k)
    rows = np.sort(rng.choice(n, size, replace=False)) if n > size else None
    sample = frame.to_internal(Xp if rows is None else Xp[rows])
    weights = None if wp is None else (wp if rows is None else wp[rows])
    seed = int(rng.integers(2**31 - 1))
    centres, _ = kmeans_plusplus(sample, k, sample_weight=weights, random_state=seed)
    return nearest(centres), centres


def _random_from_data(
    X: NDArray[np.floating], frame: Frame, k: int, rng: np.random.Generator, sw: Array | None
) -> tuple[RespSource, Array]:
    n = X.shape[0]
    if sw is None:
        idx = rng.choice(n, k, replace=False)
    else:
        p = sw / sw.sum()
        idx = rng.choice(n, k, replace=bool(np.count_nonzero(p) < k), p=p)
    centres = frame.to_internal(X[np.sort(idx)])
    return nearest(centres), centres


def _random(
    X: NDArray[np.floating], frame: Frame, k: int, rng: np.random.Generator, sw: Array | None
) -> tuple[RespSource, Array]:
    seed = int(rng.integers(2**31 - 1))

    def source(rows: slice, z: Array) -> Array:
        out = np.empty((rows.stop - rows.start, k))
        for b in range(rows.start // _BLOCK, (rows.stop - 1) // _BLOCK + 1):
            block = np.random.default_rng([seed, b]).random((_BLOCK, k))
            lo, hi = max(rows.start, b * _BLOCK), min(rows.stop, (b + 1) * _BLOCK)
            out[lo - rows.start : hi - rows.start] = block[lo - b * _BLOCK : hi - b * _BLOCK]
        out /= out.sum(axis=1, keepdims=True)
        return out

    return source, np.zeros((k, X.shape[1]))


INITIALIZERS: dict[str, Strategy] = {
    "kmeans": _kmeans,
    "k-means++": _kmeans_plusplus,
    "random": _random,
    "random_from_data": _random_from_data,
}


def get_initializer(name: object) -> Strategy:
    """Look up an initialisation strategy; the error lists the valid names."""
    strategy = INITIALIZERS.get(name) if isinstance(name, str) else None
    if strategy is None:
        raise ValueError(
            f"Unknown init_params {name!r}. Valid names are: "
            + ", ".join(repr(n) for n in INITIALIZERS)
            + "."
        )
    return strategy


def initialize(
    X: NDArray[np.floating],
    family: CovarianceFamily,
    frame: Frame,
    n_components: int,
    *,
    method: str,
    rng: np.random.Generator,
    reg_covar: float,
    sample_weight: Array | None = None,
    chunk_size: int | None = None,
    weights_init: Array | None = None,
    means_init: Array | None = None,
    precisions_init: Array | None = None,
) -> Params:
    """Initial parameters in the internal frame.

    ``weights_init``, ``means_init`` and ``precisions_init`` are validated arrays in the
    caller's units; ``reg_covar`` is in internal units.
    """
    k = n_components
    d = frame.n_features
    means_z = None if means_init is None else frame.to_internal(means_init)
    chol_z = None
    if precisions_init is not None:
        chol_z = family.cholesky_from_precisions(np.asarray(precisions_init, float)) * frame.scale

    if weights_init is not None and means_z is not None and chol_z is not None:
        cov_z = family.covariances_from_cholesky(chol_z)
        return Params(np.asarray(weights_init, float).copy(), means_z, cov_z, chol_z)

    if means_z is not None:
        source, ref = nearest(means_z), means_z
    else:
        source, ref = get_initializer(method)(X, frame, k, rng, sample_weight)
    stats = stats_pass(
        X, source, family.moments, frame, ref, sample_weight=sample_weight, chunk_size=chunk_size
    )
    params, bad = params_from_stats(stats, family, reg_covar)
    if bad.any():
        rows = rng.choice(X.shape[0], size=min(X.shape[0], int(bad.sum())), replace=False)
        params, _ = reseed(params, bad, frame.to_internal(X[np.sort(rows)]), family)
    if weights_init is not None:
        params.weights = np.asarray(weights_init, float).copy()
    if means_z is not None:
        params.means = means_z
    if chol_z is not None:
        params.precisions_cholesky = chol_z
        params.covariances = family.covariances_from_cholesky(chol_z)
    assert params.means.shape == (k, d)
    return params
