"""What the constrained M-steps share: regularised scatters, volumes and the inner iteration.

Every M-step minimises, over its model's covariances, the negative expected complete-data
log-likelihood (up to constants and a factor 1/2)

    F(Sigma) = sum_k n_k (log det Sigma_k + tr(S_k Sigma_k^-1)),

with ``n_k`` the components' weights and ``S_k`` their regularised scatters about their
means.  The iterative M-steps lower ``F`` by alternating closed-form updates of the model's
parts (block coordinate descent); each update is the exact minimiser over its block, so ``F``
never increases from the starting point, which they take from the previous covariances.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from ..stats import SuffStats
from .base import Array, add_to_diagonal

T = TypeVar("T")

#: an inner iteration stops when it lowers ``F`` by at most this much per unit of weight and
#: feature (``F`` changes by twice the mean log-likelihood per row times the weight)
INNER_TOL = 1e-10
#: and after at most this many updates (each a few ``k d³`` operations)
MAX_INNER_ITER = 500


def regularised_scatters(stats: SuffStats, reg_covar: float | Array) -> tuple[Array, Array]:
    """The components' weights ``n`` (k,) and scatters ``S_k + diag(reg_covar)`` in the layout
    of ``stats`` ((k, d, d), (k, d) or (k,); ``reg_covar`` a scalar or one per feature).

    A component without weight (or whose scatter is not finite) gets weight zero and the
    pooled scatter of the others, so that shared parts are estimated from the rest and its own
    covariance stays finite (the strategy re-seeds it).
    """
    n = np.asarray(stats.N, dtype=np.float64).copy()
    scatter = np.array(stats.scatter(), dtype=np.float64)
    if scatter.ndim == 3:
        add_to_diagonal(scatter, reg_covar)
    else:
        scatter += reg_covar
    k = n.shape[0]
    active = (n > 0) & np.isfinite(scatter.reshape(k, -1)).all(axis=1)
    if not active.all():
        n[~active] = 0.0
        total = n.sum()
        scatter[~active] = (
            np.tensordot(n[active] / total, scatter[active], axes=1) if total > 0 else np.nan
        )
    return n, scatter


def geometric_mean(values: Array) -> Array:
    """Geometric mean over the last axis (the ``|A|^(1/d)`` of a diagonal)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.exp(np.log(values).mean(axis=-1)))


def volumes(matrices: Array) -> Array:
    """``det(M)^(1/d)`` of each matrix of a stack (k, d, d): the volume parameter ``lambda``."""
    sign, logdet = np.linalg.slogdet(matrices)
    return np.where(sign > 0, np.exp(logdet / matrices.shape[-1]), np.nan)


def start_volumes(previous: Array | None, scatter: Array) -> Array:
    """The volumes an iteration starts from: the previous covariances', else the scatters'
    (also where a previous one is not positive-definite)."""
    of_scatter = volumes(scatter) if scatter.ndim == 3 else geometric_mean(scatter)
    if previous is None:
        return of_scatter
    of_previous = volumes(previous) if previous.ndim == 3 else geometric_mean(previous)
    return np.where(np.isfinite(of_previous) & (of_previous > 0), of_previous, of_scatter)


def volume_and_shape(n: Array, values: Array, volume: Array) -> tuple[Array, Array]:
    """Variable volumes, one shape: minimise ``sum_k n_k (d log l_k + sum_a v_ka / (l_k a_a))``
    over ``l_k > 0`` and ``a > 0`` with ``prod(a) = 1``.

    ``values`` (k, d) are the diagonals of the scatters (VEI) or their eigenvalues in a common
    order (VEV); ``volume`` (k,) is the starting point.  Alternates the shape's and the volumes'
    closed forms.

    Returns
    -------
    volume : ndarray of shape (k,)
    shape : ndarray of shape (d,)
    """
    d = values.shape[1]

    def step(state: tuple[Array, Array | None]) -> tuple[tuple[Array, Array | None], float]:
        psi = (n / state[0]) @ values
        shape = psi / geometric_mean(psi)
        new = (values / shape).mean(axis=1)
        return (new, shape), objective_of_volumes(n, new, d)

    start: tuple[Array, Array | None] = (volume, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam, shape = iterate(step, start, n.sum() * d)
    assert shape is not None
    return lam, shape


def objective_of_volumes(n: Array, volume: Array, d: int) -> float:
    """``F`` where every trace term is at its optimum ``d`` (after a volume update)."""
    return float(d * (n @ np.log(volume)) + d * n.sum())


def iterate(step: Callable[[T], tuple[T, float]], state: T, scale: float) -> T:
    """Apply ``step`` (the next state and its objective, to be minimised) from ``state`` until
    it lowers the objective by at most ``INNER_TOL * scale``, ``MAX_INNER_ITER`` times at most.

    The first step is always taken; a later one that would raise the objective (by rounding)
    or make it NaN is not.
    """
    best = np.inf
    for _ in range(MAX_INNER_ITER):
        new, value = step(state)
        if best < np.inf and not value <= best:
            break
        done = not best - value > INNER_TOL * scale
        state, best = new, value
        if done:
            break
    return state
