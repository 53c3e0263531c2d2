"""The ellipsoidal models with one orientation for every component: VEE, EVE and VVE.

``Sigma_k = lambda_k D A_k Dᵀ`` with the orientation ``D`` shared; VEE also shares the shape
(``Sigma_k = lambda_k C``), EVE the volume, VVE neither.  Covariances are stored dense per
component (k, d, d).  All three M-steps iterate (Celeux & Govaert 1995), from the previous
covariances, until the objective changes by at most ``INNER_TOL`` per unit of weight and
feature (:mod:`gaussmix.covariance._constrained`), so that EM's log-likelihood never
decreases.
"""

from __future__ import annotations

import numpy as np

from .._moments import FULL
from ..stats import SuffStats
from ._constrained import (
    INNER_TOL,
    MAX_INNER_ITER,
    geometric_mean,
    iterate,
    objective_of_volumes,
    regularised_scatters,
    start_volumes,
    volumes,
)
from ._orientation import alternate, rotation_sweep
from .base import Array, CovarianceFamily
from .storage import DENSE

#: weights of the combination of the previous covariances whose eigenvectors are their common
#: orientation: any positive weights do, irregular ones avoid ties among the eigenvalues
_GOLDEN = 0.6180339887498949


class VEE(CovarianceFamily):
    """``lambda_k C``: one ellipsoid ``C`` (determinant one) for every component, scaled by a
    volume per component.

    The shared ``C`` is the normalised sum of the scatters divided by the volumes, and each
    volume is ``tr(S_k C^-1) / d``; the two are alternated from the previous volumes.
    """

    name = "VEE"
    storage = DENSE
    moments = FULL
    per_feature_equivariant = True
    iterative = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        d = n_features
        return n_components + (d - 1) + d * (d - 1) // 2

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, scatter = regularised_scatters(stats, reg_covar)
        d = scatter.shape[-1]

        def step(state: tuple[Array, Array | None]) -> tuple[tuple[Array, Array | None], float]:
            psi = np.tensordot(n / state[0], scatter, axes=1)
            shared = psi / volumes(psi[None])[0]
            traces = np.einsum("kab,ab->k", scatter, np.linalg.inv(shared))
            volume = traces / d
            return (volume, shared), objective_of_volumes(n, volume, d)

        start: tuple[Array, Array | None] = (start_volumes(previous, scatter), None)
        with np.errstate(divide="ignore", invalid="ignore"):
            volume, shared = iterate(step, start, n.sum() * d)
        assert shared is not None
        return np.asarray(volume[:, None, None] * shared)


def _start_orientation(previous: Array | None, weighted: Array) -> Array:
    """The previous covariances' common eigenvectors, or the pooled scatter's at a start."""
    if previous is None or not np.isfinite(previous).all():
        combination = weighted.sum(axis=0)
    else:
        k = previous.shape[0]
        weights = 1.0 + (np.arange(1, k + 1) * _GOLDEN) % 1.0
        combination = np.tensordot(weights, previous, axes=1)
    if not np.isfinite(combination).all():
        return np.eye(weighted.shape[-1])
    return np.asarray(np.linalg.eigh(combination)[1])


def _common_orientation(
    scatter: Array, n: Array, previous: Array | None, equal_volume: bool, use_compiled: bool = True
) -> Array:
    """``D diag(delta_k) Dᵀ`` minimising the objective: alternates the eigenvalues' closed
    form given ``D`` with one sweep of rotations of ``D`` given the eigenvalues (in the C
    extension where it was built and ``use_compiled``)."""
    d = scatter.shape[-1]
    weighted = n[:, None, None] * scatter
    with np.errstate(divide="ignore", invalid="ignore"):
        D = _start_orientation(previous, weighted)
    done = None
    if use_compiled:
        threshold = INNER_TOL * n.sum() * d
        done = alternate(D, weighted, scatter, n, equal_volume, threshold, MAX_INNER_ITER)
    if done is not None:
        return np.asarray(np.einsum("ai,ki,bi->kab", done[0], done[1], done[0]))

    def eigenvalues(D: Array) -> tuple[Array, float]:
        # the diagonals of Dᵀ S_k D, the scatters' variances along the common axes
        e = np.einsum("ai,kab,bi->ki", D, scatter, D)
        if equal_volume:  # lambda A_k: shapes e_k / |e_k|^(1/d), one volume
            own = geometric_mean(e)
            delta = e * ((n @ own) / n.sum() / own)[:, None]
        else:
            delta = e
        value = n @ (np.log(delta).sum(axis=1) + (e / delta).sum(axis=1))
        return delta, float(value)

    def step(state: tuple[Array, Array]) -> tuple[tuple[Array, Array], float]:
        D = rotation_sweep(state[0], weighted, 1.0 / state[1])
        delta, value = eigenvalues(D)
        return (D, delta), value

    with np.errstate(divide="ignore", invalid="ignore"):
        D, delta = iterate(step, (D, eigenvalues(D)[0]), n.sum() * d)
    return np.asarray(np.einsum("ai,ki,bi->kab", D, delta, D))


class EVE(CovarianceFamily):
    """``lambda D A_k Dᵀ``: one volume and one orientation, a shape per component.

    Given the orientation the shapes and the volume have closed forms; the orientation given
    them is found by sweeps of exact Jacobi rotations (:mod:`gaussmix.covariance._orientation`).
    """

    name = "EVE"
    storage = DENSE
    moments = FULL
    iterative = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        d = n_features
        return 1 + n_components * (d - 1) + d * (d - 1) // 2

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, scatter = regularised_scatters(stats, reg_covar)
        return _common_orientation(scatter, n, previous, equal_volume=True)


class VVE(CovarianceFamily):
    """``lambda_k D A_k Dᵀ``: one orientation, a volume and a shape per component.

    Given the orientation each component's eigenvalues are its scatter's variances along the
    axes; the orientation given them is found by sweeps of exact Jacobi rotations.
    """

    name = "VVE"
    storage = DENSE
    moments = FULL
    iterative = True

    def n_parameters(self, n_components: int, n_features: int) -> int:
        d = n_features
        return n_components * d + d * (d - 1) // 2

    def estimate(
        self, stats: SuffStats, reg_covar: float | Array, previous: Array | None = None
    ) -> Array:
        n, scatter = regularised_scatters(stats, reg_covar)
        return _common_orientation(scatter, n, previous, equal_volume=False)
