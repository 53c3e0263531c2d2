"""Tail probabilities: how unusual a row is under a fitted mixture, comparable across rows
whatever values they miss.

A row's log-density over fewer observed coordinates is not comparable with a complete
row's (it is a density in fewer dimensions), so one threshold on ``score_samples`` flags
incomplete rows at another rate than complete ones.  Each row is judged instead by its
*tail probability* under the model of its observed coordinates ``o``::

    p(x) = P_{Y ~ f_o}( f_o(Y) <= f_o(x_o) )

with ``f_o`` the mixture's marginal density of the coordinates ``o``: the model's mass
outside its highest-density region whose boundary passes through ``x_o``.  For a row drawn
from the model (its values missing independently of what they are), ``p(x)`` is uniform on
(0, 1] whatever is observed (the probability integral transform of the continuous
``f_o(Y)``), so flagging ``p(x) <= 1 - q`` flags a share ``1 - q`` of the model's rows of
every missingness pattern.

Why not the closed form "per-component chi-square tail mixed by the posterior",
``sum_j r_j(x) P(chi2_{d_o} >= D_j(x)^2)``?  For one Gaussian it is ``p(x)`` (the density
decreases with the Mahalanobis distance ``D``, whose square is chi-square), but for a mixture
it is the conditional expectation, given ``x``, of the uniform tail of the component ``x``
came from: a smoothed uniform, whose lower tail is thinner than the uniform's wherever the
components overlap (it flags fewer rows than asked), and it ignores the weights (a row in
the valley between two components is judged by its distance to each, not by how little
mass lies there).  ``p(x)`` has no closed form for a mixture, so it is estimated:

:data:`REFERENCE_DRAWS` rows are drawn from the model once (from a fixed seed, so that a
row's tail probability depends on the row and the model only); for each missingness pattern
met, they are masked to the pattern, their marginal log-densities computed by the engine's
pass of incomplete rows (grouped by pattern, their marginal densities) and sorted,
once per model and pattern (:class:`TailReference` caches them).  Then::

    p̂(x) = (1 + #{i : log f_o(Y_i) <= log f_o(x_o)}) / (M + 1)

a Monte-Carlo p-value (Barnard 1963; Davison & Hinkley 1997, §4.2): for a row from the model
``P(p̂ <= a) = floor(a (M + 1)) / (M + 1)``, averaged over the reference draws, which with
``M + 1 = 10⁴`` is exactly ``a`` for every ``a`` on a grid of 10⁻⁴; given one set of
reference draws the share flagged is ``a`` within about ``sqrt(a (1 - a) / M)``.  The
smallest tail probability it resolves is ``1 / (M + 1) = 10⁻⁴``.  A row with nothing
observed has tail probability 1.  The cost is one pass over ``M`` rows per distinct
missingness pattern met (the first time; a model keeps the references of about 800
patterns).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from .engine import LOG_2PI, Frame, PassTerms
from .incomplete.passes import pattern_pass
from .incomplete.patterns import GroupedRows, Patterns
from .incomplete.source import covariances_of

Array = NDArray[np.float64]

#: rows drawn from the model per missingness pattern (``M``; ``M + 1`` a power of ten)
REFERENCE_DRAWS = 9_999
#: the seed every pattern's reference draws are derived from (with the pattern)
REFERENCE_SEED = 20_261_121
#: reference rows evaluated in one pass (patterns are batched up to this many entries)
BATCH_ENTRIES = 1 << 22
#: reference values a model keeps (64 MiB: about 800 patterns); others are recomputed
CACHE_ENTRIES = 1 << 23


class TailReference:
    """Each missingness pattern's sorted reference log-densities under one fitted model.

    Parameters
    ----------
    terms : PassTerms
        The model's pass terms in ``frame``.
    frame : Frame
    draws : int, default=REFERENCE_DRAWS
        Reference rows per pattern.
    """

    def __init__(self, terms: PassTerms, frame: Frame, draws: int = REFERENCE_DRAWS) -> None:
        self.terms = terms
        self.frame = frame
        self.draws = int(draws)
        self._cov = covariances_of(terms)
        self._roots = np.sqrt(self._cov) if self._cov.ndim == 2 else np.linalg.cholesky(self._cov)
        # log w_j without the complete rows' normalisation, which each pattern's replaces
        with np.errstate(divide="ignore"):
            self._log_w = (
                terms.constant
                - terms.moments.log_det(terms.factors)
                + 0.5 * terms.n_features * LOG_2PI
            )
        self._rows: Array | None = None
        self._sorted: dict[bytes, Array] = {}

    # ------------------------------------------------------------------ per pattern

    def _sample(self) -> Array:
        """The reference rows: ``draws`` rows of the model, in the caller's units, from
        :data:`REFERENCE_SEED` (the same for every pattern, which masks them)."""
        t = self.terms
        rng = np.random.default_rng([REFERENCE_SEED, self.draws])
        w = np.asarray(t.weights, dtype=np.float64)
        counts = rng.multinomial(self.draws, w / w.sum())
        z = rng.standard_normal((self.draws, t.n_features))
        start = 0
        for j, c in enumerate(counts.tolist()):
            part = z[start : start + c]
            root = self._roots[j]
            part[:] = t.means[j] + (part * root if root.ndim == 1 else part @ root.T)
            start += c
        rows: Array = self.frame.centre + self.frame.scale * z
        return rows

    def references(self, observed: NDArray[np.bool_]) -> Iterator[tuple[int, Array]]:
        """Each pattern's reference log-densities, sorted, as ``(index, reference)`` pairs:
        the cached ones first, the others a batch of patterns at a time (kept while the
        cache holds fewer than :data:`CACHE_ENTRIES` values).

        Parameters
        ----------
        observed : ndarray of shape (P, n_features) of bool
            Distinct patterns, each with at least one observed coordinate.
        """
        keys = [row.tobytes() for row in observed]
        todo = []
        for i, key in enumerate(keys):
            if key in self._sorted:
                yield i, self._sorted[key]
            else:
                todo.append(i)
        k, d = self.terms.means.shape
        per_batch = max(1, BATCH_ENTRIES // (self.draws * d + k * d * d))
        if not todo:
            return
        if self._rows is None:
            self._rows = self._sample()
        drawn = self._rows
        for a in range(0, len(todo), per_batch):
            batch = todo[a : a + per_batch]
            # the reference rows' observed values under each pattern, grouped as the
            # incomplete rows' pass takes them (its marginal densities)
            obs = observed[batch]
            sizes = obs.sum(axis=1) * self.draws
            rows = GroupedRows(
                np.concatenate([drawn[:, o].ravel() for o in obs]),
                np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                (np.arange(len(batch) + 1) * self.draws).astype(np.int64),
                obs,
            )
            lse = np.empty(rows.n_rows)
            pattern_pass(
                rows, self.terms.means, self._cov, self._log_w, self.frame, stats=False, lse=lse
            )
            for i, part in zip(batch, lse.reshape(len(batch), self.draws), strict=True):
                ref = np.sort(part)
                if (len(self._sorted) + 1) * self.draws <= CACHE_ENTRIES:
                    self._sorted[keys[i]] = ref
                yield i, ref

    # ------------------------------------------------------------------ per row

    def _groups(self, X: NDArray[np.floating]) -> Iterator[tuple[NDArray[np.intp], Array]]:
        """The rows of ``X`` by pattern (rows with nothing observed left out), each with its
        pattern's sorted reference."""
        if not np.isnan(X).any():
            for _, ref in self.references(np.ones((1, X.shape[1]), dtype=bool)):
                yield np.arange(X.shape[0]), ref
            return
        pat = Patterns.of(X)
        for p, ref in self.references(pat.observed):
            yield pat.order[pat.bounds[p] : pat.bounds[p + 1]], ref

    def tail_probability(self, X: NDArray[np.floating], log_density: Array) -> Array:
        """``p̂(x)`` of each row of ``X`` (see the module's notes).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            NaN where values are missing.
        log_density : ndarray of shape (n_samples,)
            The rows' log-densities over their observed coordinates (``score_samples``).

        Returns
        -------
        ndarray of shape (n_samples,)
            In ``[1 / (M + 1), 1]``; 1 for a row with nothing observed.
        """
        out = np.ones(X.shape[0])
        for rows, ref in self._groups(X):
            below = np.searchsorted(ref, log_density[rows], side="right")
            out[rows] = (1.0 + below) / (self.draws + 1.0)
        return out

    def threshold(self, X: NDArray[np.floating], alpha: float) -> Array:
        """Per-row log-density thresholds: a row is flagged, ``p̂(x) <= alpha``, exactly when
        its log-density is below its threshold (``-inf`` where nothing can be flagged).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        alpha : float
            The tail probability flagged (``1 - quantile``).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        # p̂ <= alpha  <=>  #{ref <= l} <= m  <=>  l < ref[m], m = floor(alpha (M + 1)) - 1
        # (the tolerance keeps alpha = 0.29 from flooring 2899.9999999999995 to 2899)
        m = int(np.floor(alpha * (self.draws + 1.0) + 1e-9)) - 1
        out = np.full(X.shape[0], -np.inf)
        if m < 0:
            return out
        for rows, ref in self._groups(X):
            out[rows] = ref[min(m, self.draws - 1)]
        return out


__all__ = ["BATCH_ENTRIES", "CACHE_ENTRIES", "REFERENCE_DRAWS", "REFERENCE_SEED", "TailReference"]
