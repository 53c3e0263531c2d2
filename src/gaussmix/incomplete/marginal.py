"""Each missingness pattern's marginal densities, and the lift of its observed statistics.

For a component with mean ``mu`` and covariance ``S``, the rows of a pattern with observed
coordinates ``o`` and missing ones ``m`` have the marginal density ``N(x_o; mu_o, S_oo)``,
and, given ``x_o``, their missing coordinates are ``N(mu_m + B (x_o - mu_o), C)`` with
``B = S_mo S_oo^-1`` and ``C = S_mm - B S_om``.  A pass evaluates the marginal densities on
the observed coordinates alone, with the upper-triangular factor ``U_o`` of ``S_oo^-1``
(``S_oo^-1 = U_o U_o^T``), sums each pattern's observed statistics about ``mu_o``, and
:meth:`Operators.lift` turns those into the expected complete-data statistics the M-step
needs: with ``A = [I; B]`` (observed rows first), ``E[x - mu] = A (x_o - mu_o)`` and
``E[(x - mu)(x - mu)^T] = A (x_o - mu_o)(x_o - mu_o)^T A^T + [[0, 0], [0, C]]``.

This is the numpy twin of the compiled kernel's ``marginal_chunk`` (which forms the same
operators per pattern in C); patterns with equally many observed coordinates are computed
together, in batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..engine.terms import LOG_2PI

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Marginal:
    """One pattern's operands for every component (diagonal covariances: ``factors`` and
    ``C`` hold diagonals, ``B`` is empty)."""

    obs: NDArray[np.intp]  # (d_o,) observed coordinates, increasing
    mis: NDArray[np.intp]  # (d_m,) missing coordinates, increasing
    factors: Array  # (k, d_o, d_o) upper-triangular U_o, or (k, d_o)
    log_det: Array  # (k,) log det U_o
    B: Array  # (k, d_m, d_o), or empty
    C: Array  # (k, d_m, d_m), or the missing variances (k, d_m)

    def base(self, log_weights: Array, scale: Array) -> Array:
        """The log-density constants (k,), the frame's Jacobian over the observed
        coordinates (the sum of their log ``scale`` (d,)) included."""
        d_o = self.obs.shape[0]
        jacobian = float(np.log(scale[self.obs]).sum())
        return log_weights - 0.5 * d_o * LOG_2PI - jacobian + self.log_det

    def lift(self, nk: Array, s1: Array, s2: Array, S1: Array, S2: Array) -> None:
        """Add the complete-data sums about the means to ``S1`` (k, d) and ``S2`` (k, d, d)
        or (k, d), from this pattern's sums about ``mu_o``: ``nk`` (k,), ``s1`` (k, d_o)
        and ``s2`` (k, d_o, d_o) or (k, d_o)."""
        o, m = self.obs, self.mis
        S1[:, o] += s1
        if S2.ndim == 2:  # diagonal: B = 0, C the missing variances
            S2[:, o] += s2
            S2[:, m] += nk[:, None] * self.C
            return
        S1[:, m] += np.einsum("kmo,ko->km", self.B, s1)
        mo = self.B @ s2  # (k, d_m, d_o)
        S2[:, o[:, None], o[None, :]] += s2
        S2[:, m[:, None], o[None, :]] += mo
        S2[:, o[:, None], m[None, :]] += np.swapaxes(mo, -1, -2)
        mm = mo @ np.swapaxes(self.B, -1, -2) + nk[:, None, None] * self.C
        S2[:, m[:, None], m[None, :]] += 0.5 * (mm + np.swapaxes(mm, -1, -2))


def marginals(covariances: Array, observed: NDArray[np.bool_]) -> list[Marginal]:
    """Each pattern's operands, for covariances (k, d, d) or diagonal variances (k, d) in
    the internal frame and patterns ``observed`` (P, d)."""
    P, d = observed.shape
    out: list[Marginal | None] = [None] * P
    n_obs = observed.sum(axis=1)
    for size in np.unique(n_obs).tolist():
        members = np.flatnonzero(n_obs == size)
        cols = np.broadcast_to(np.arange(d), (members.size, d))
        obs = cols[observed[members]].reshape(members.size, size)
        mis = cols[~observed[members]].reshape(members.size, d - size)
        if covariances.ndim == 2:
            var_o = covariances[:, obs].transpose(1, 0, 2)  # (G, k, d_o)
            u = 1.0 / np.sqrt(var_o)
            log_det = np.log(u).sum(axis=2)
            C = covariances[:, mis].transpose(1, 0, 2)
            for g, p in enumerate(members.tolist()):
                out[p] = Marginal(obs[g], mis[g], u[g], log_det[g], np.empty(0), C[g])
            continue
        ji = np.arange(covariances.shape[0])[None, :, None, None]
        S_oo = covariances[ji, obs[:, None, :, None], obs[:, None, None, :]]  # (G, k, d_o, d_o)
        S_mo = covariances[ji, mis[:, None, :, None], obs[:, None, None, :]]
        S_mm = covariances[ji, mis[:, None, :, None], mis[:, None, None, :]]
        low = np.linalg.cholesky(S_oo)  # S_oo = L L^T: S_oo^-1 = L^-T L^-1
        inv_low = np.linalg.inv(low)
        upper = np.swapaxes(inv_low, -1, -2)  # U_o
        log_det = -np.log(np.diagonal(low, axis1=-2, axis2=-1)).sum(axis=-1)
        B = S_mo @ upper @ inv_low  # S_mo S_oo^-1
        C = S_mm - B @ np.swapaxes(S_mo, -1, -2)
        C = 0.5 * (C + np.swapaxes(C, -1, -2))
        for g, p in enumerate(members.tolist()):
            out[p] = Marginal(obs[g], mis[g], upper[g], log_det[g], B[g], C[g])
    return [m for m in out if m is not None]


__all__ = ["Marginal", "marginals"]
