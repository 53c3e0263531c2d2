"""Each missingness pattern's marginal densities, and the lift of its observed statistics.

For a component with mean ``mu`` and covariance ``S``, the rows of a pattern with observed
coordinates ``o`` and missing ones ``m`` have the marginal density ``N(x_o; mu_o, S_oo)``,
and, given ``x_o``, their missing coordinates are ``N(mu_m + B (x_o - mu_o), C)`` with
``B = S_mo S_oo^-1`` and ``C = S_mm - B S_om``.  The engine evaluates the marginal densities
with the factor of ``S_oo^-1`` padded with zeros to ``d x d`` (the placeholders of missing
values then count for nothing) and sums each pattern's observed statistics about the means;
:meth:`Operators.lift` turns those into the expected complete-data statistics the M-step
needs: with ``A = [I; B]`` (observed rows first), ``E[x - mu] = A (x_o - mu_o)`` and
``E[(x - mu)(x - mu)^T] = A (x_o - mu_o)(x_o - mu_o)^T A^T + [[0, 0], [0, C]]``.

Patterns with equally many observed coordinates are computed together, in batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..engine.terms import LOG_2PI

Array = NDArray[np.float64]


@dataclass(frozen=True)
class _Group:
    """Patterns with the same number of observed coordinates."""

    patterns: NDArray[np.intp]  # (G,) their indices
    obs: NDArray[np.intp]  # (G, d_o) observed coordinates, increasing
    mis: NDArray[np.intp]  # (G, d_m) missing coordinates, increasing
    B: Array  # (G, k, d_m, d_o), or empty for diagonal covariances
    C: Array  # (G, k, d_m, d_m), or the missing variances (G, k, d_m) for diagonal ones


@dataclass(frozen=True)
class Operators:
    """The marginal densities' operands and the lifts of every pattern, for one set of
    component means and covariances (internal frame).

    Attributes
    ----------
    factors : ndarray of shape (P, k, d, d) or (P, k, d)
        Upper-triangular factors of each pattern's marginal precisions (diagonals for
        diagonal covariances), zero in the rows and columns of missing coordinates.
    log_det : ndarray of shape (P, k)
        Their log-determinants (``log det U_o``).
    n_observed : ndarray of shape (P,)
    observed : ndarray of shape (P, d) of bool
        Each pattern's observed coordinates.
    """

    factors: Array
    log_det: Array
    n_observed: NDArray[np.intp]
    groups: list[_Group]
    observed: NDArray[np.bool_]

    @classmethod
    def of(cls, covariances: Array, observed: NDArray[np.bool_]) -> Operators:
        """Operators for covariances (k, d, d) or diagonal variances (k, d)."""
        P, d = observed.shape
        k = covariances.shape[0]
        diagonal = covariances.ndim == 2
        factors = np.zeros((P, k, d) if diagonal else (P, k, d, d))
        log_det = np.zeros((P, k))
        n_obs = observed.sum(axis=1).astype(np.intp)
        groups = []
        for size in np.unique(n_obs).tolist():
            members = np.flatnonzero(n_obs == size)
            cols = np.broadcast_to(np.arange(d), (members.size, d))
            obs = cols[observed[members]].reshape(members.size, size)
            mis = cols[~observed[members]].reshape(members.size, d - size)
            g, j = members[:, None], np.arange(k)[None, :]
            if diagonal:
                var_o = covariances[:, obs].transpose(1, 0, 2)  # (G, k, d_o)
                u = 1.0 / np.sqrt(var_o)
                factors[g[:, :, None], j[:, :, None], obs[:, None, :]] = u
                log_det[members] = np.log(u).sum(axis=2)
                C = covariances[:, mis].transpose(1, 0, 2)
                groups.append(_Group(members, obs, mis, np.empty(0), C))
                continue
            gi = np.arange(members.size)[:, None, None, None]
            ji = np.arange(k)[None, :, None, None]
            full = covariances[None]  # (1, k, d, d)
            S_oo = full[0 * gi, ji, obs[:, None, :, None], obs[:, None, None, :]]
            S_mo = full[0 * gi, ji, mis[:, None, :, None], obs[:, None, None, :]]
            S_mm = full[0 * gi, ji, mis[:, None, :, None], mis[:, None, None, :]]
            low = np.linalg.cholesky(S_oo)  # S_oo = L L^T: S_oo^-1 = L^-T L^-1
            inv_low = np.linalg.inv(low)
            upper = np.swapaxes(inv_low, -1, -2)  # U_o with S_oo^-1 = U_o U_o^T
            factors[g[:, :, None, None], j[:, :, None, None], obs[:, None, :, None],
                    obs[:, None, None, :]] = upper  # fmt: skip
            log_det[members] = -np.log(np.diagonal(low, axis1=-2, axis2=-1)).sum(axis=-1)
            B = S_mo @ np.swapaxes(inv_low, -1, -2) @ inv_low  # S_mo S_oo^-1
            C = S_mm - B @ np.swapaxes(S_mo, -1, -2)
            groups.append(_Group(members, obs, mis, B, 0.5 * (C + np.swapaxes(C, -1, -2))))
        return cls(factors, log_det, n_obs, groups, observed)

    def base(self, log_weights: Array, scale: Array) -> Array:
        """Each pattern's log-density constants (P, k), the frame's Jacobian over the
        observed coordinates (their ``scale`` (d,)) included."""
        d_o = self.n_observed[:, None].astype(np.float64)
        jacobian = (self.observed @ np.log(scale))[:, None]
        return log_weights[None] - 0.5 * d_o * LOG_2PI + self.log_det - jacobian

    def lift(self, nk: Array, s1: Array, s2: Array) -> tuple[Array, Array]:
        """Complete-data sums (k, d) and (k, d, d) or (k, d) about the means, from each
        pattern's observed sums about the means: ``nk`` (P, k), ``s1`` (P, k, d) and ``s2``
        (P, k, d, d) or (P, k, d), whose missing coordinates are ignored."""
        _, k, d = s1.shape
        S1 = np.zeros((k, d))
        S2 = np.zeros((k, d) if s2.ndim == 3 else (k, d, d))
        for grp in self.groups:
            p = grp.patterns
            G = p.size
            gi, ji = np.arange(G)[:, None, None], np.arange(k)[None, :, None]
            s1_o = s1[p][gi, ji, grp.obs[:, None, :]]  # (G, k, d_o)
            n = nk[p]  # (G, k)
            full1 = np.zeros((G, k, d))
            full1[gi, ji, grp.obs[:, None, :]] = s1_o
            if s2.ndim == 3:  # diagonal: B = 0 and C the missing variances
                full2 = np.zeros((G, k, d))
                full2[gi, ji, grp.obs[:, None, :]] = s2[p][gi, ji, grp.obs[:, None, :]]
                full2[gi, ji, grp.mis[:, None, :]] = n[:, :, None] * grp.C
            else:
                g4, j4 = gi[..., None], ji[..., None]
                o_r, o_c = grp.obs[:, None, :, None], grp.obs[:, None, None, :]
                m_r, m_c = grp.mis[:, None, :, None], grp.mis[:, None, None, :]
                s2_oo = s2[p][g4, j4, o_r, o_c]  # (G, k, d_o, d_o)
                full1[gi, ji, grp.mis[:, None, :]] = np.einsum("gkmo,gko->gkm", grp.B, s1_o)
                mo = grp.B @ s2_oo  # (G, k, d_m, d_o)
                mm = mo @ np.swapaxes(grp.B, -1, -2) + n[:, :, None, None] * grp.C
                full2 = np.zeros((G, k, d, d))
                full2[g4, j4, o_r, o_c] = s2_oo
                full2[g4, j4, m_r, o_c] = mo
                full2[g4, j4, o_r, m_c] = np.swapaxes(mo, -1, -2)
                full2[g4, j4, m_r, m_c] = mm
            S1 += full1.sum(axis=0)
            S2 += full2.sum(axis=0)
        return S1, S2


__all__ = ["Operators"]
