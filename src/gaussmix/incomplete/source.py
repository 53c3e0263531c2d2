"""The row source of incomplete rows: the engine's pass over missingness patterns, returning
the expected complete-data statistics that EM's M-step takes as they are."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._moments import MomentKind
from ..engine import Frame, PassResult, PassTerms, WorstRows
from ..sources import ArrayRows
from ..stats import SuffStats
from .passes import pattern_pass
from .patterns import GroupedRows, Patterns

Array = NDArray[np.float64]


def covariances_of(terms: PassTerms) -> Array:
    """Each component's covariance (k, d, d), or variances (k, d), from its pass terms."""
    if terms.factors.ndim == 2:
        return 1.0 / (terms.factors * terms.factors)
    inv = np.linalg.inv(terms.factors)  # U^-1: covariance = U^-T U^-1
    cov = np.swapaxes(inv, -1, -2) @ inv
    return 0.5 * (cov + np.swapaxes(cov, -1, -2))


def group(X: NDArray[np.floating]) -> tuple[Patterns, GroupedRows]:
    """The patterns of ``X``'s rows and their observed values, grouped by pattern."""
    patterns = Patterns.of(X)
    return patterns, GroupedRows.of(X, patterns)


class IncompleteSource(ArrayRows):
    """Rows with NaN for values missing at random, as a :class:`~gaussmix.sources.RowSource`.

    Passes return the observed-data log-likelihood and, for the M-step, each component's
    expected complete-data statistics (conditional expectations of the missing coordinates
    and their conditional covariances); rows with nothing observed are left out of them
    (their responsibilities are the mixing weights, their log-density 0, the log of the
    density of nothing).  The observed values are copied once, grouped by pattern
    (:class:`~gaussmix.incomplete.patterns.GroupedRows`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Rows with NaN where values are missing (no infinity).
    sample_weight : ndarray of shape (n_samples,), optional
    grouped : tuple of Patterns and GroupedRows, optional
        ``X``'s patterns and grouped rows, if they are known already.
    """

    def __init__(
        self,
        X: NDArray[np.floating],
        sample_weight: Array | None = None,
        *,
        grouped: tuple[Patterns, GroupedRows] | None = None,
    ) -> None:
        super().__init__(X, sample_weight)
        self.patterns, self.rows = grouped or group(X)
        self.row_weights = None if sample_weight is None else sample_weight[self.patterns.order]
        self._fill: Array | None = None

    @property
    def n_empty(self) -> int:
        """Rows with nothing observed (left out of the statistics)."""
        return int(self.patterns.empty.shape[0])

    def take(self, rows: NDArray[np.intp]) -> NDArray[np.floating]:
        """The rows at ``rows``, their missing values filled with the observed column means
        (finite rows for seeds and re-seeding candidates)."""
        taken = np.take(self.X, rows, axis=0)
        return np.where(np.isnan(taken), self.fill.astype(taken.dtype), taken)

    @property
    def fill(self) -> Array:
        """The column means of the observed values (0 for a column with none)."""
        if self._fill is None:
            seen = ~np.isnan(self.X)
            counts = seen.sum(axis=0)
            sums = np.where(seen, self.X, 0.0).sum(axis=0, dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                self._fill = np.where(counts > 0, sums / counts, 0.0)
        return self._fill

    def subset(self, rows: NDArray[np.intp]) -> IncompleteSource:
        weights = None if self._weights is None else self._weights[rows]
        return IncompleteSource(np.take(self.X, rows, axis=0), weights)

    def mixture_pass(self, terms: PassTerms, frame: Frame, **options: Any) -> PassResult:
        """The pass of :func:`gaussmix.engine.mixture_pass` over incomplete rows (its
        options; ``kernel``, ``chunk_size``, ``float32_statistics`` and ``finite`` are
        not needed here and ignored)."""
        stats = bool(options.get("stats", True))
        n_worst = int(options.get("n_worst", 0))
        offset = int(options.get("row_offset", 0))
        hard = bool(options.get("hard", False))
        given_fn = options.get("given")
        out_dtype = options.get("out_dtype", np.float64)
        n, k = self.n_rows, terms.n_components
        pat = self.patterns
        moments: MomentKind = terms.moments
        # the pass runs in the per-feature layout of the statistics (full matrices, or
        # diagonals for diagonal covariances), which lifts and then folds into the family's
        cov = covariances_of(terms)
        with np.errstate(divide="ignore"):
            log_w = (
                terms.constant
                - terms.moments.log_det(terms.factors)
                + 0.5 * (terms.n_features * np.log(2.0 * np.pi))
            )
        used = pat.order.shape[0]
        lse = np.empty(used)
        want_resp = bool(options.get("resp", False))
        resp_sorted = np.empty((used, k), dtype=out_dtype) if want_resp else None
        want_labels = bool(options.get("labels", False))
        labels_sorted = np.empty(used, dtype=np.intp) if want_labels else None
        given = None
        if given_fn is not None:
            asked = np.asarray(given_fn(slice(offset, offset + n)))
            if asked.ndim == 1:
                asked = np.eye(k)[asked]
            given = asked[pat.order]
        sums = pattern_pass(
            self.rows, terms.means, cov, log_w, frame, sample_weight=self.row_weights,
            stats=stats, lse=lse, resp=resp_sorted, labels=labels_sorted, hard=hard,
            given=given, n_threads=options.get("n_threads"),
        )  # fmt: skip
        suff = None
        log_likelihood = sums.log_likelihood
        weight = sums.weight + self._empty_weight()
        if stats:
            # the lifted sums are per component and per feature: folded into the family's
            # layout (pooled over components, or the mean over features) as the kernel's are
            suff = SuffStats(
                moments, terms.means.copy(), sums.nk, sums.s1, moments.from_components(sums.s2)
            )
            suff.log_likelihood = log_likelihood
            suff.weight = weight
            suff.n_rows = n
        result = PassResult(
            stats=suff,
            log_likelihood=log_likelihood,
            weight=weight,
            kernel="incomplete",
            empty_rows=self.n_empty,
        )
        log_weights = np.where(np.isfinite(log_w), log_w, -np.inf)
        if want_resp:
            resp = np.empty((n, k), dtype=out_dtype)
            assert resp_sorted is not None
            resp[pat.order] = resp_sorted
            resp[pat.empty] = np.exp(log_weights - log_weights.max())
            resp[pat.empty] /= resp[pat.empty].sum(axis=1, keepdims=True)
            result.resp = resp
        if options.get("log_density", False):
            logd = np.zeros(n, dtype=out_dtype)
            logd[pat.order] = lse
            result.log_density = logd
        if want_labels:
            labels = np.empty(n, dtype=np.intp)
            assert labels_sorted is not None
            labels[pat.order] = labels_sorted
            labels[pat.empty] = int(np.argmax(log_weights))
            result.labels = labels
        if n_worst:
            result.worst = WorstRows.of(pat.order + offset, lse, n_worst)
        return result

    def _empty_weight(self) -> float:
        """The weight of the rows with nothing observed (their density is 1: they count in
        the weight, adding 0 to the log-likelihood)."""
        empty = self.patterns.empty
        if not empty.size:
            return 0.0
        return float(empty.size if self._weights is None else self._weights[empty].sum())


__all__ = ["IncompleteSource", "covariances_of", "group"]
