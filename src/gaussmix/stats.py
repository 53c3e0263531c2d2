"""Sufficient statistics of a Gaussian mixture that add across chunks, batches and workers.

One :class:`SuffStats` summarises a set of rows under fixed responsibilities: per component the
weight ``N``, the weighted sum ``S1`` and the weighted second moment ``S2`` of the rows about a
per-component *reference point* ``ref``, plus the log-likelihood of the rows under the
parameters that produced the responsibilities.  Keeping the moments about a reference close to
the component means (rather than raw moments about the origin) avoids the cancellation of
``E[x xᵀ] - μ μᵀ``; two statistics about different references are merged by the parallel-axis
shift, the generalisation of Chan et al.'s pairwise update.

All quantities are float64 and in the engine's internal frame (see :class:`gaussmix.engine.Frame`).
Statistics pickle (their moment layout comes back as the same singleton), so statistics summed
in other processes merge with ``+``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._moments import MomentKind

Array = NDArray[np.float64]


@dataclass
class SuffStats:
    """Additive sufficient statistics of a Gaussian mixture.

    Attributes
    ----------
    moments : MomentKind
        Layout of ``S2`` (see :mod:`gaussmix._moments`).
    ref : ndarray of shape (k, d)
        Reference point of each component's moments.
    N : ndarray of shape (k,)
        Sum of responsibilities times sample weights.
    S1 : ndarray of shape (k, d)
        Weighted sum of ``x - ref``.
    S2 : ndarray of shape (k, d, d), (d, d), (k, d) or (k,)
        Weighted sum of ``(x - ref)(x - ref)ᵀ``, or the part of it the layout keeps (summed
        over components, the diagonal, or the diagonal's mean).
    log_likelihood : float
        Weighted sum of the rows' log-densities under the parameters of the pass.
    weight : float
        Sum of the sample weights.
    n_rows : int
        Number of rows summarised.
    background : float
        Sum of the background's responsibilities times sample weights, for a pass whose
        terms have a background column (mclust's noise component); 0 otherwise.
    """

    moments: MomentKind
    ref: Array
    N: Array
    S1: Array
    S2: Array
    log_likelihood: float = 0.0
    weight: float = 0.0
    n_rows: int = 0
    background: float = 0.0

    @classmethod
    def zeros(cls, moments: MomentKind, ref: Array) -> SuffStats:
        """Empty statistics about ``ref`` (k, d)."""
        k, d = ref.shape
        s2 = np.zeros(moments.second_shape(k, d))
        return cls(moments, ref.copy(), np.zeros(k), np.zeros((k, d)), s2)

    def shifted(self, ref: Array) -> SuffStats:
        """The same statistics expressed about another reference point."""
        delta = self.ref - ref
        s1 = self.S1 + self.N[:, None] * delta
        s2 = self.moments.shift(self.S2, self.N, self.S1, delta)
        return SuffStats(
            self.moments, ref.copy(), self.N.copy(), s1, s2,
            self.log_likelihood, self.weight, self.n_rows, self.background,
        )  # fmt: skip

    def scaled(self, factor: float) -> SuffStats:
        """The statistics of the same rows with every weight multiplied by ``factor``
        (stepwise EM's ``(1 - rho) S + rho s``); the row count is kept."""
        a = float(factor)
        return SuffStats(
            self.moments, self.ref.copy(), a * self.N, a * self.S1, a * self.S2,
            a * self.log_likelihood, a * self.weight, self.n_rows, a * self.background,
        )  # fmt: skip

    def __mul__(self, factor: float) -> SuffStats:
        return self.scaled(factor)

    __rmul__ = __mul__

    def __add__(self, other: SuffStats) -> SuffStats:
        if not isinstance(other, SuffStats):
            return NotImplemented
        if other.moments is not self.moments or other.S2.shape != self.S2.shape:
            raise ValueError("Cannot merge statistics of different shapes or moment layouts.")
        if not np.array_equal(other.ref, self.ref):
            other = other.shifted(self.ref)
        return SuffStats(
            self.moments,
            self.ref.copy(),
            self.N + other.N,
            self.S1 + other.S1,
            self.S2 + other.S2,
            self.log_likelihood + other.log_likelihood,
            self.weight + other.weight,
            self.n_rows + other.n_rows,
            self.background + other.background,
        )

    def means(self) -> Array:
        """Weighted mean of each component, shape (k, d)."""
        return self.ref + self.S1 / self._safe_n()[:, None]

    def scatter(self) -> Array:
        """Weighted covariance about the means (no regularisation), in the moments' layout.

        Per component (k, d, d), (k, d) or (k,) (mean variance over features), or pooled over
        components (d, d) (see :mod:`gaussmix._moments`).
        """
        return self.moments.scatter(self.S2, self._safe_n(), self.S1)

    def mean_log_likelihood(self) -> float:
        """Log-likelihood per unit of sample weight."""
        return self.log_likelihood / self.weight if self.weight > 0 else -np.inf

    def _safe_n(self) -> Array:
        return np.maximum(self.N, np.finfo(np.float64).tiny)


def labelled_statistics(
    Z: NDArray[np.floating],
    labels: NDArray[np.intp],
    ref: Array,
    moments: MomentKind,
    sample_weight: Array | None = None,
) -> SuffStats:
    """The statistics of finite internal rows ``Z`` (m, d) under hard labels (0 .. k - 1,
    ``k = len(ref)``), about ``ref``: what a pass with those labels as its responsibilities
    sums, without the pass's densities, which hard labels do not need (a start's).  The
    log-likelihood is left at zero."""
    k = ref.shape[0]
    stats = SuffStats.zeros(moments, ref)
    Z = np.asarray(Z, dtype=np.float64)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    for j in range(k):
        rows = order[bounds[j] : bounds[j + 1]]
        if rows.size == 0:
            continue
        diff = Z[rows] - ref[j]
        r = None if sample_weight is None else sample_weight[rows]
        stats.N[j] = rows.size if r is None else r.sum()
        stats.S1[j] = diff.sum(axis=0) if r is None else r @ diff
        moments.add_component(stats.S2, j, moments.weighted_second(diff, r))
    stats.weight = float(len(labels) if sample_weight is None else sample_weight.sum())
    stats.n_rows = len(labels)
    return stats
