"""Second-moment layouts shared by the covariance families.

Every covariance family needs, per component, either the full weighted second-moment matrix
(``full``, ``tied``) or only its diagonal (``diag``, ``spherical``).  A :class:`MomentKind` owns
everything that depends on that choice and nothing that depends on the family:

* the *expanded feature map* ``phi(z) = [z, q(z)]`` where ``q`` is the packed upper triangle of
  ``z zᵀ`` (full) or ``z²`` (diag).  The log-density of every component is linear in
  ``phi(z)``, so the E-step of all components is one GEMM ``phi @ W``, and the statistics of the
  M-step are one GEMM ``phiᵀ @ R``;
* the *direct* (per-component, centred) forms of the same quantities, which are exact for data
  far from the reference point and serve as the reference implementation;
* packing, unpacking and re-centring of second moments.

Per-component precision *factors* are ``(k, d, d)`` upper-triangular matrices ``U`` with
``P = U Uᵀ`` (full kind) or ``(k, d)`` vectors ``u`` with ``P = diag(u²)`` (diag kind).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


class MomentKind(ABC):
    """The layout of second moments: ``"full"`` matrices or their ``"diag"`` only."""

    name: str

    @abstractmethod
    def second_shape(self, k: int, d: int) -> tuple[int, ...]:
        """Shape of ``k`` second moments: (k, d, d) or (k, d)."""

    @abstractmethod
    def n_quad(self, d: int) -> int:
        """Number of quadratic features for ``d`` dimensions."""

    @abstractmethod
    def fill_quad(self, phi: Array, d: int) -> None:
        """Fill ``phi[d:]`` with the quadratic features of ``z = phi[:d]`` in place.

        ``phi`` is feature-major: shape (n_cols, rows).
        """

    @abstractmethod
    def precision(self, factors: Array) -> Array:
        """Precision matrices (k, d, d) or diagonals (k, d) from factors."""

    @abstractmethod
    def quad_weights(self, precision: Array) -> Array:
        """Weights (n_quad, k) such that ``q(z) @ W = -0.5 zᵀ P z`` for every component."""

    @abstractmethod
    def matvec(self, precision: Array, m: Array) -> Array:
        """``P_j m_j`` for every component, shape (k, d)."""

    @abstractmethod
    def unpack(self, packed: Array, d: int) -> Array:
        """Packed quadratic sums (n_quad, k) -> second moments (k, d, d) or (k, d)."""

    @abstractmethod
    def mahalanobis(self, diff: Array, factor: Array) -> Array:
        """Squared Mahalanobis norm of each row of ``diff`` under one component's factor."""

    @abstractmethod
    def weighted_second(self, diff: Array, r: Array) -> Array:
        """``sum_i r_i diff_i diff_iᵀ`` (d, d) or its diagonal (d,)."""

    @abstractmethod
    def outer(self, a: Array, b: Array) -> Array:
        """Per-component ``a_j b_jᵀ`` (k, d, d) or ``a_j * b_j`` (k, d)."""

    def log_det(self, factors: Array) -> Array:
        """``log det U_j`` = half the log-determinant of each precision, shape (k,)."""
        return np.log(self._diagonal(factors)).sum(axis=-1)

    @abstractmethod
    def _diagonal(self, factors: Array) -> Array:
        """The diagonal entries of each factor, shape (k, d)."""


@lru_cache(maxsize=64)
def _triu(d: int) -> tuple[NDArray[np.intp], NDArray[np.intp], Array]:
    rows, cols = np.triu_indices(d)
    scale = np.where(rows == cols, -0.5, -1.0)
    return rows, cols, scale


class FullMoments(MomentKind):
    """Full second-moment matrices; quadratic features are the upper triangle of ``z zᵀ``."""

    name = "full"

    def second_shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k, d, d)

    def n_quad(self, d: int) -> int:
        return d * (d + 1) // 2

    def fill_quad(self, phi: Array, d: int) -> None:
        col = d
        for a in range(d):
            width = d - a
            np.multiply(phi[a : a + 1], phi[a:d], out=phi[col : col + width])
            col += width

    def precision(self, factors: Array) -> Array:
        return np.matmul(factors, np.swapaxes(factors, -1, -2))

    def quad_weights(self, precision: Array) -> Array:
        rows, cols, scale = _triu(precision.shape[-1])
        return np.ascontiguousarray((precision[:, rows, cols] * scale).T)

    def matvec(self, precision: Array, m: Array) -> Array:
        return np.einsum("kab,kb->ka", precision, m)

    def unpack(self, packed: Array, d: int) -> Array:
        rows, cols, _ = _triu(d)
        out = np.empty((packed.shape[1], d, d))
        out[:, rows, cols] = packed.T
        out[:, cols, rows] = packed.T
        return out

    def mahalanobis(self, diff: Array, factor: Array) -> Array:
        y = diff @ factor
        return np.einsum("ij,ij->i", y, y)

    def weighted_second(self, diff: Array, r: Array) -> Array:
        return (diff * r[:, None]).T @ diff

    def outer(self, a: Array, b: Array) -> Array:
        return a[:, :, None] * b[:, None, :]

    def _diagonal(self, factors: Array) -> Array:
        return np.diagonal(factors, axis1=-2, axis2=-1)


class DiagMoments(MomentKind):
    """Diagonal second moments only; quadratic features are ``z²``."""

    name = "diag"

    def second_shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k, d)

    def n_quad(self, d: int) -> int:
        return d

    def fill_quad(self, phi: Array, d: int) -> None:
        np.multiply(phi[:d], phi[:d], out=phi[d : 2 * d])

    def precision(self, factors: Array) -> Array:
        return factors * factors

    def quad_weights(self, precision: Array) -> Array:
        return np.ascontiguousarray(-0.5 * precision.T)

    def matvec(self, precision: Array, m: Array) -> Array:
        return precision * m

    def unpack(self, packed: Array, d: int) -> Array:
        return np.ascontiguousarray(packed.T)

    def mahalanobis(self, diff: Array, factor: Array) -> Array:
        y = diff * factor
        return np.einsum("ij,ij->i", y, y)

    def weighted_second(self, diff: Array, r: Array) -> Array:
        return r @ (diff * diff)

    def outer(self, a: Array, b: Array) -> Array:
        return a * b

    def _diagonal(self, factors: Array) -> Array:
        return factors


FULL = FullMoments()
DIAG = DiagMoments()
