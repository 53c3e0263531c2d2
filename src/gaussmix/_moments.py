"""Second-moment layouts shared by the covariance families.

Each covariance family needs only part of the weighted second moments of its components: the
full matrix per component (``full``), their sum over components (``tied``: the pooled scatter),
the diagonal per component (``diag``) or its mean (``spherical``).  A :class:`MomentKind` owns
everything that depends on that choice and nothing that depends on the family:

* the *expanded feature map* ``phi(z) = [z, q(z)]``.  The log-density of every component is
  linear in ``phi(z)``, so the E-step of all components is one GEMM ``phi @ W``, and the
  statistics of the M-step are one GEMM ``phiᵀ @ R``.  ``q`` is as small as the layout allows:
  the packed upper triangle of ``z zᵀ`` (full, ``d(d+1)/2`` columns, diagonal by diagonal),
  ``z²`` (diag, ``d``), the mean of ``z²`` (spherical, 1) or ``zᵀ P z`` under the shared
  precision (tied, 1; its pooled second moment is then one ``d x d`` product per chunk);
* the *direct* (per-component, centred) forms of the same quantities, which are exact for data
  far from the reference point and serve as the reference implementation;
* packing, unpacking and re-centring of second moments, and the scatter the M-step needs.

Per-component precision *factors* are ``(k, d, d)`` upper-triangular matrices ``U`` with
``P = U Uᵀ`` (full and tied kinds; equal for every component in the tied kind) or ``(k, d)``
vectors ``u`` with ``P = diag(u²)`` (diag and spherical kinds; all entries of a row equal in
the spherical kind).
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
    #: whether all components share one precision factor (the fused kernel then transforms
    #: each row once, engine/planning.py)
    shared_precision = False

    def __reduce__(self) -> tuple[object, tuple[str]]:
        # the kinds are singletons compared by identity: unpickled, a kind is the same one
        return (moment_kind, (self.name,))

    @abstractmethod
    def second_shape(self, k: int, d: int) -> tuple[int, ...]:
        """Shape of the second moments of ``k`` components: (k, d, d), (d, d), (k, d) or (k,)."""

    @abstractmethod
    def n_quad(self, d: int) -> int:
        """Number of quadratic features for ``d`` dimensions."""

    @abstractmethod
    def fill_quad(self, phi: Array, d: int, factors: Array) -> None:
        """Fill ``phi[d:]`` with the quadratic features of ``z = phi[:d]`` in place.

        ``phi`` is feature-major: shape (n_cols, rows).  ``factors`` are the pass's precision
        factors (only the tied kind's features depend on them).
        """

    @abstractmethod
    def unit_factors(self, k: int, d: int) -> Array:
        """The factors of ``k`` unit covariances in this layout: identities (k, d, d) or
        ones (k, d)."""

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
    def quadratic(self, factors: Array, m: Array) -> Array:
        """``m_jᵀ P_j m_j`` for every component, shape (k,), from the factors (without
        forming the precisions)."""

    def expanded_second(self, phi: Array, rw: Array, acc: Array, d: int) -> Array:
        """A chunk's packed second moments, given ``acc = phi @ rwᵀ`` (n_cols, k)."""
        return acc[d:]

    def packed_shape(self, k: int, d: int) -> tuple[int, ...]:
        """Shape of the packed second moments of ``k`` expanded components."""
        return (self.n_quad(d), k)

    @abstractmethod
    def unpack(self, packed: Array, d: int) -> Array:
        """Packed quadratic sums -> second moments in the layout of :meth:`second_shape`."""

    def assemble(
        self,
        k: int,
        d: int,
        expanded: NDArray[np.intp],
        packed: Array,
        direct: list[int],
        second_direct: Array,
    ) -> Array:
        """Second moments of all ``k`` components from the expanded and the direct ones."""
        out = np.zeros(self.second_shape(k, d))
        if expanded.size:
            out[expanded] = self.unpack(packed, d)
        out[direct] = second_direct
        return out

    def add_component(self, second: Array, i: int, value: Array) -> None:
        """Add one component's ``weighted_second`` into slot ``i`` of ``second``."""
        second[i] += value

    def from_components(self, second: Array) -> Array:
        """Second moments in this layout from each component's own, as the fused kernel
        gathers them: full matrices (k, d, d), or diagonals (k, d) in diagonal layouts."""
        return second

    def kernel_second_shape(self, k: int, d: int) -> tuple[int, ...]:
        """Shape of the second moments the fused kernel gathers for this layout (those of
        :meth:`from_components`)."""
        return (k, d)

    @abstractmethod
    def mahalanobis(self, diff: Array, factor: Array) -> Array:
        """Squared Mahalanobis norm of each row of ``diff`` under one component's factor."""

    @abstractmethod
    def weighted_second(self, diff: Array, r: Array | None) -> Array:
        """``sum_i r_i diff_i diff_iᵀ`` (d, d) or its diagonal (d,); ``r=None``: unit weights."""

    @abstractmethod
    def outer(self, a: Array, b: Array) -> Array:
        """Per-component products ``a_j b_jᵀ`` in the layout of :meth:`second_shape`."""

    @abstractmethod
    def trace(self, precision: Array, second: Array) -> float:
        """``sum_j tr(P_j second_j)`` over the components: the responsibilities' sum of the
        squared Mahalanobis distances, from second moments about each component's mean and
        precisions (k, d, d) or diagonals (k, d) (from :meth:`precision`)."""

    def shift(self, second: Array, n: Array, s1: Array, delta: Array) -> Array:
        """Second moments about ``ref - delta`` from those about ``ref`` (parallel axes).

        ``n`` (k,) and ``s1`` (k, d) are the weights and first moments about ``ref``.
        """
        nd = n.reshape((-1,) + (1,) * (second.ndim - 1))
        outer = self.outer
        return second + outer(s1, delta) + outer(delta, s1) + nd * outer(delta, delta)

    def scatter(self, second: Array, n: Array, s1: Array) -> Array:
        """Weighted covariance about the means, from moments about any reference.

        ``n`` must be positive (the caller floors it).
        """
        nd = n.reshape((-1,) + (1,) * (second.ndim - 1))
        m = s1 / n[:, None]
        return second / nd - self.outer(m, m)

    def log_det(self, factors: Array) -> Array:
        """``log det U_j`` = half the log-determinant of each precision, shape (k,)."""
        return np.log(self._diagonal(factors)).sum(axis=-1)

    @abstractmethod
    def _diagonal(self, factors: Array) -> Array:
        """The diagonal entries of each factor, shape (k, d)."""


@lru_cache(maxsize=64)
def _triu(d: int) -> tuple[NDArray[np.intp], NDArray[np.intp], Array]:
    """Upper-triangle entries ``(rows, cols)`` in diagonal order, and their E-step weights.

    Diagonal ``o`` holds the pairs ``(a, a + o)``; :meth:`FullMoments.fill_quad` fills it
    with one product of two equal-shape blocks, which numpy does faster than broadcasting one
    row against a block.
    """
    rows = np.concatenate([np.arange(d - o) for o in range(d)])
    offsets = np.concatenate([np.full(d - o, o) for o in range(d)])
    cols = rows + offsets
    scale = np.where(offsets == 0, -0.5, -1.0)
    return rows, cols, scale


class FullMoments(MomentKind):
    """Full second-moment matrices; quadratic features are the upper triangle of ``z zᵀ``."""

    name = "full"

    def second_shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k, d, d)

    def n_quad(self, d: int) -> int:
        return d * (d + 1) // 2

    def unit_factors(self, k: int, d: int) -> Array:
        return np.repeat(np.eye(d)[None], k, axis=0)

    def fill_quad(self, phi: Array, d: int, factors: Array) -> None:
        col = d
        for o in range(d):  # diagonal o of z zᵀ: z_a z_(a+o), in the order of _triu
            width = d - o
            np.multiply(phi[:width], phi[o:d], out=phi[col : col + width])
            col += width

    def precision(self, factors: Array) -> Array:
        return np.matmul(factors, np.swapaxes(factors, -1, -2))

    def quad_weights(self, precision: Array) -> Array:
        rows, cols, scale = _triu(precision.shape[-1])
        return np.ascontiguousarray((precision[:, rows, cols] * scale).T)

    def matvec(self, precision: Array, m: Array) -> Array:
        return np.einsum("kab,kb->ka", precision, m)

    def quadratic(self, factors: Array, m: Array) -> Array:
        y = np.einsum("kab,ka->kb", factors, m)  # U_jᵀ m_j, as P_j = U_j U_jᵀ
        return np.einsum("kb,kb->k", y, y)

    def unpack(self, packed: Array, d: int) -> Array:
        rows, cols, _ = _triu(d)
        out = np.empty((packed.shape[1], d, d))
        out[:, rows, cols] = packed.T
        out[:, cols, rows] = packed.T
        return out

    def mahalanobis(self, diff: Array, factor: Array) -> Array:
        y = diff @ factor
        return np.einsum("ij,ij->i", y, y)

    def weighted_second(self, diff: Array, r: Array | None) -> Array:
        if r is None:
            return diff.T @ diff  # a symmetric rank-k update
        return (diff * r[:, None]).T @ diff

    def outer(self, a: Array, b: Array) -> Array:
        return a[:, :, None] * b[:, None, :]

    def trace(self, precision: Array, second: Array) -> float:
        return float(np.einsum("kab,kab->", precision, second))

    def kernel_second_shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k, d, d)

    def _diagonal(self, factors: Array) -> Array:
        return np.diagonal(factors, axis1=-2, axis2=-1)


class DiagMoments(MomentKind):
    """Diagonal second moments only; quadratic features are ``z²``."""

    name = "diag"

    def second_shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k, d)

    def n_quad(self, d: int) -> int:
        return d

    def unit_factors(self, k: int, d: int) -> Array:
        return np.ones((k, d))

    def fill_quad(self, phi: Array, d: int, factors: Array) -> None:
        np.multiply(phi[:d], phi[:d], out=phi[d : 2 * d])

    def precision(self, factors: Array) -> Array:
        return factors * factors

    def quad_weights(self, precision: Array) -> Array:
        return np.ascontiguousarray(-0.5 * precision.T)

    def matvec(self, precision: Array, m: Array) -> Array:
        return precision * m

    def quadratic(self, factors: Array, m: Array) -> Array:
        y = factors * m
        return np.einsum("kd,kd->k", y, y)

    def unpack(self, packed: Array, d: int) -> Array:
        return np.ascontiguousarray(packed.T)

    def mahalanobis(self, diff: Array, factor: Array) -> Array:
        y = diff * factor
        return np.einsum("ij,ij->i", y, y)

    def weighted_second(self, diff: Array, r: Array | None) -> Array:
        if r is None:
            return np.einsum("ij,ij->j", diff, diff)
        return r @ (diff * diff)

    def outer(self, a: Array, b: Array) -> Array:
        return a * b

    def trace(self, precision: Array, second: Array) -> float:
        return float(np.einsum("kd,kd->", precision, second))

    def _diagonal(self, factors: Array) -> Array:
        return factors


class PooledMoments(FullMoments):
    """One second-moment matrix summed over components (``tied``).

    The components share one precision ``P = U Uᵀ``, so the only quadratic feature is
    ``zᵀ P z = |Uᵀ z|²`` (one column instead of ``d(d+1)/2``), and the M-step needs only the
    pooled moment ``sum_j sum_i r_ij (z_i - ref_j)(z_i - ref_j)ᵀ``: for expanded components one
    ``d x d`` product per chunk, with each row weighted by its total responsibility.
    """

    name = "pooled"
    shared_precision = True

    def second_shape(self, k: int, d: int) -> tuple[int, ...]:
        return (d, d)

    def n_quad(self, d: int) -> int:
        return 1

    def fill_quad(self, phi: Array, d: int, factors: Array) -> None:
        y = factors[0].T @ phi[:d]
        np.einsum("ij,ij->j", y, y, out=phi[d])

    def quad_weights(self, precision: Array) -> Array:
        return np.full((1, precision.shape[0]), -0.5)

    def expanded_second(self, phi: Array, rw: Array, acc: Array, d: int) -> Array:
        z = phi[:d]
        return np.asarray((z * rw.sum(axis=0)) @ z.T)

    def packed_shape(self, k: int, d: int) -> tuple[int, ...]:
        return (d, d)

    def unpack(self, packed: Array, d: int) -> Array:
        return packed.copy()

    def assemble(
        self,
        k: int,
        d: int,
        expanded: NDArray[np.intp],
        packed: Array,
        direct: list[int],
        second_direct: Array,
    ) -> Array:
        return packed + second_direct

    def add_component(self, second: Array, i: int, value: Array) -> None:
        second += value

    def from_components(self, second: Array) -> Array:
        return np.asarray(second.sum(axis=0))

    def outer(self, a: Array, b: Array) -> Array:
        return np.asarray(a.T @ b)

    def trace(self, precision: Array, second: Array) -> float:
        # one precision for all: the pooled moments' trace under it
        return float(np.einsum("ab,ab->", precision[0], second))

    def shift(self, second: Array, n: Array, s1: Array, delta: Array) -> Array:
        return second + self.outer(s1, delta) + self.outer(delta, s1) + (delta.T * n) @ delta

    def scatter(self, second: Array, n: Array, s1: Array) -> Array:
        """The pooled within-component covariance ``sum_j N_j cov_j / sum_j N_j`` (d, d)."""
        within = second - (s1.T / n) @ s1
        return np.asarray(within / n.sum())


class MeanSquareMoments(DiagMoments):
    """The mean over features of each component's second moments (``spherical``).

    Second moments are ``sum_i r_ij |z_i - ref_j|² / d`` (k,); the only quadratic feature is
    the mean of ``z²`` (one column instead of ``d``).  ``outer`` is the mean of the products, a
    bilinear form, so shifting and scatter follow the generic formulas.
    """

    name = "mean-square"

    def second_shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k,)

    def n_quad(self, d: int) -> int:
        return 1

    def fill_quad(self, phi: Array, d: int, factors: Array) -> None:
        z = phi[:d]
        np.einsum("ij,ij->j", z, z, out=phi[d])
        phi[d] /= d

    def quad_weights(self, precision: Array) -> Array:
        d = precision.shape[1]
        return np.ascontiguousarray(-0.5 * d * precision[:, :1].T)

    def unpack(self, packed: Array, d: int) -> Array:
        return np.ascontiguousarray(packed[0])

    def weighted_second(self, diff: Array, r: Array | None) -> Array:
        if r is None:
            return np.asarray(np.vdot(diff, diff) / diff.shape[1])
        return np.asarray(r @ np.einsum("ij,ij->i", diff, diff) / diff.shape[1])

    def outer(self, a: Array, b: Array) -> Array:
        return np.asarray(np.mean(a * b, axis=-1))

    def trace(self, precision: Array, second: Array) -> float:
        # isotropic precisions: d times each one's value times its mean second moment
        return float(precision.shape[1] * (precision[:, 0] @ second))

    def from_components(self, second: Array) -> Array:
        """(k, d) diagonals: their means; (k,): already the means (the kernel gathers them
        so for spherical factors, from each row's squared distance)."""
        return second if second.ndim == 1 else np.asarray(second.mean(axis=-1))

    def kernel_second_shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k,)


FULL = FullMoments()
DIAG = DiagMoments()
POOLED = PooledMoments()
MEAN_SQUARE = MeanSquareMoments()

#: the moment layouts by name
MOMENT_KINDS: dict[str, MomentKind] = {m.name: m for m in (FULL, DIAG, POOLED, MEAN_SQUARE)}


def moment_kind(name: str) -> MomentKind:
    """The moment layout called ``name`` (how a pickled layout comes back as the singleton)."""
    return MOMENT_KINDS[name]
