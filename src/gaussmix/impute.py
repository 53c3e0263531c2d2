"""Imputation under a fitted mixture: each missing value's conditional expectation, or draws
from its conditional distribution (multiple imputation).

Given a row's observed coordinates ``x_o``, a Gaussian mixture's missing coordinates follow
the mixture ``sum_j r_j(x_o) N(mu_jm + B_j (x_o - mu_jo), C_j)``, with ``r_j(x_o)`` the
posterior probability of component ``j`` on the observed coordinates alone, ``B_j =
S_j,mo S_j,oo^-1`` and ``C_j = S_j,mm - B_j S_j,om`` (the per-pattern operators of
:mod:`gaussmix.incomplete.marginal`).  Its mean is ``sum_j r_j(x_o) (mu_jm + B_j (x_o -
mu_jo))``, the conditional expectation; a draw picks a component from ``r(x_o)`` and then a
value from that component's conditional Gaussian.  A row with nothing observed gets the
mixture's mean, or draws from the mixture.

The posteriors come from one pass of :class:`~gaussmix.incomplete.source.IncompleteSource`
over the incomplete rows; the operators are built for a batch of patterns at a time, and
the rows of each batch are filled by batched products (one per chunk of rows, whatever the
number of patterns), so that memory stays bounded by the batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from .engine import Frame, PassTerms
from .incomplete.marginal import marginals
from .incomplete.patterns import Patterns
from .incomplete.source import IncompleteSource, covariances_of

Array = NDArray[np.float64]

#: float64 entries of the largest temporary a batch of patterns or rows may allocate (32 MiB)
WORK_ENTRIES = 1 << 22


@dataclass(frozen=True)
class _Block:
    """Rows that share a number of observed coordinates, with their patterns' operators.

    ``rows`` index the incomplete rows; ``local`` gives each row's pattern among ``obs``,
    ``mis``, ``B`` and ``C`` (see :class:`~gaussmix.incomplete.marginal.Marginal`).
    """

    rows: NDArray[np.intp]
    local: NDArray[np.intp]
    obs: NDArray[np.intp]  # (G, d_o)
    mis: NDArray[np.intp]  # (G, d_m)
    B: Array  # (G, k, d_m, d_o), or empty for diagonal covariances
    C: Array  # (G, k, d_m, d_m), or the missing variances (G, k, d_m)
    root: Array | None = None  # square roots of C, for draws

    def rows_slice(self, sl: slice) -> _Block:
        return replace(self, rows=self.rows[sl], local=self.local[sl])


def impute_rows(
    X: NDArray[np.floating],
    terms: PassTerms,
    frame: Frame,
    *,
    n_draws: int | None = None,
    rng: np.random.Generator | None = None,
) -> NDArray[np.floating]:
    """``X`` with its NaN entries filled under the mixture of ``terms``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated rows (float32 or float64), NaN where a value is missing, no infinity.
    terms : PassTerms
        The fitted mixture's pass terms in ``frame``.
    frame : Frame
    n_draws : int, optional
        ``None``: fill each missing value with its conditional expectation.  Otherwise draw
        this many completions of every row from the conditional distribution.
    rng : numpy.random.Generator, optional
        Source of the draws (required with ``n_draws``).

    Returns
    -------
    ndarray of shape (n_samples, n_features), or (n_draws, n_samples, n_features)
        A new array in ``X``'s dtype; observed values are copied as they are.
    """
    draws = 1 if n_draws is None else int(n_draws)
    out = np.repeat(X[None], draws, axis=0)
    incomplete = np.flatnonzero(np.isnan(X).any(axis=1))
    if incomplete.size:
        rows = X[incomplete]
        source = IncompleteSource(rows)
        resp = source.mixture_pass(terms, frame, stats=False, resp=True).resp
        assert resp is not None
        z = frame.to_internal(rows)
        filled = np.repeat(z[None], draws, axis=0)
        means = terms.means
        for block in _blocks(source.patterns, covariances_of(terms)):
            if n_draws is not None:
                block = replace(block, root=_roots(block.C))
            for part in _chunks(block, draws, means.shape[0]):
                _fill(part, z, resp, means, filled, None if n_draws is None else rng)
        user = frame.centre + frame.scale * filled
        out[:, incomplete] = np.where(np.isnan(rows), user, rows)
    return out[0] if n_draws is None else out


def _blocks(patterns: Patterns, cov: Array) -> Iterator[_Block]:
    """The incomplete rows in blocks of patterns (a batch of patterns at a time, so that
    their operators stay within :data:`WORK_ENTRIES`), rows with nothing observed last."""
    k, d = cov.shape[:2]
    counts = np.diff(patterns.bounds)
    batch = max(1, WORK_ENTRIES // (k * d * d))
    for start in range(0, patterns.n_patterns, batch):
        members = np.arange(start, min(start + batch, patterns.n_patterns))
        ops = marginals(cov, patterns.observed[members])
        n_obs = patterns.observed[members].sum(axis=1)
        for size in np.unique(n_obs).tolist():
            if size == d:  # complete rows (not among those passed here)
                continue
            group = [ops[i] for i in np.flatnonzero(n_obs == size).tolist()]
            p = members[n_obs == size]
            local = np.repeat(np.arange(p.size), counts[p])
            rows = np.concatenate([patterns.order[patterns.bounds[q] : patterns.bounds[q + 1]]
                                   for q in p.tolist()])  # fmt: skip
            yield _Block(rows, local, *(np.stack([getattr(m, a) for m in group])
                                        for a in ("obs", "mis", "B", "C")))  # fmt: skip
    if patterns.empty.size:  # nothing observed: the mixture itself
        diagonal = cov.ndim == 2
        yield _Block(
            patterns.empty,
            np.zeros(patterns.empty.size, dtype=np.intp),
            np.zeros((1, 0), dtype=np.intp),
            np.arange(d)[None],
            np.empty(0) if diagonal else np.zeros((1, k, d, 0)),
            cov[None],
        )


def _chunks(block: _Block, draws: int, k: int) -> Iterator[_Block]:
    """``block`` in chunks of rows whose gathered operators and draws stay within
    :data:`WORK_ENTRIES`."""
    d_o, d_m = block.obs.shape[1], block.mis.shape[1]
    per_row = k * d_m * (d_o + d_m + 1) + draws * d_m * (d_m + 2)
    size = max(1, WORK_ENTRIES // per_row)
    for a in range(0, block.rows.size, size):
        yield block.rows_slice(slice(a, a + size))


def _fill(
    part: _Block,
    z: Array,
    resp: NDArray[np.floating],
    means: Array,
    filled: Array,
    rng: np.random.Generator | None,
) -> None:
    """Fill the missing coordinates of ``part``'s rows in ``filled`` (internal frame): the
    conditional mean, or one draw per completion in ``filled``'s first axis."""
    rows, g = part.rows, part.local
    obs, mis = part.obs[g], part.mis[g]  # (c, d_o), (c, d_m)
    c, d_m = mis.shape
    r = np.asarray(resp[rows], dtype=np.float64)  # (c, k)
    cond = np.swapaxes(means[:, mis], 0, 1)  # (c, k, d_m): the components' conditional means
    if part.B.size:
        zo = np.take_along_axis(z[rows], obs, axis=1)
        diff = zo[:, None, :] - np.swapaxes(means[:, obs], 0, 1)  # (c, k, d_o)
        cond = cond + (part.B[g] @ diff[..., None])[..., 0]
    at = (rows[:, None], mis)
    if rng is None:
        filled[0][at] = np.einsum("ck,ckm->cm", r, cond)
        return
    draws = filled.shape[0]
    # a component per draw from the posterior, then a draw from its conditional Gaussian
    cum = np.cumsum(r, axis=1)
    u = rng.random((draws, c)) * cum[:, -1]
    comp = np.minimum((u[..., None] > cum[None]).sum(axis=-1), r.shape[1] - 1)  # (T, c)
    noise = rng.standard_normal((draws, c, d_m))
    ci = np.arange(c)[None]
    assert part.root is not None
    if part.C.ndim == 3:  # diagonal: independent missing coordinates
        spread = part.root[g[None], comp] * noise
    else:
        spread = (part.root[g[None], comp] @ noise[..., None])[..., 0]
    for t in range(draws):
        filled[t][at] = cond[ci[0], comp[t]] + spread[t]


def _roots(C: Array) -> Array:
    """Square roots ``R`` with ``R Rᵀ = C`` of the conditional covariances (standard
    deviations for variances), from the eigendecomposition: robust to a covariance that
    rounding left barely indefinite."""
    if C.ndim == 3:
        return np.sqrt(np.maximum(C, 0.0))
    values, vectors = np.linalg.eigh(C)
    roots: Array = vectors * np.sqrt(np.maximum(values, 0.0))[..., None, :]
    return roots


__all__ = ["WORK_ENTRIES", "impute_rows"]
