"""Cholesky helpers shared by the families with dense (full / tied) covariances."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import linalg
from scipy.linalg import lapack

Array = NDArray[np.float64]


def precision_factor(cov: Array) -> Array | None:
    """Upper-triangular ``U`` with ``inv(cov) = U Uᵀ``, or ``None`` if ``cov`` is not PD."""
    factors, bad = precision_factors(cov[None])
    return None if bad[0] else factors[0]


def precision_factors(covariances: Array) -> tuple[Array, NDArray[np.bool_]]:
    """``U_j`` with ``inv(C_j) = U_j U_jᵀ`` for a stack ``(k, d, d)``, and a mask of failures.

    A covariance that is not finite or not positive-definite, or whose factor overflows,
    is flagged and gets the identity in its place.  LAPACK is called directly, once per
    matrix for the factorisation and once for the triangular inverse, and the checks are
    made on the whole stack: this runs at every M-step, where scipy's wrappers and a check
    per matrix would cost more than the arithmetic.
    """
    k, d, _ = covariances.shape
    out = np.empty((k, d, d))
    bad: NDArray[np.bool_] = np.asarray(~np.isfinite(covariances).all(axis=(1, 2)))
    for j in np.flatnonzero(~bad).tolist():
        low, info = lapack.dpotrf(covariances[j], lower=1, clean=1)
        if info == 0:
            inv_low, info = lapack.dtrtri(low, lower=1)
        if info != 0:
            bad[j] = True
            continue
        out[j] = inv_low.T
    # dpotrf fails on a non-positive pivot, so a finite factor has a positive diagonal
    bad |= ~np.isfinite(out).all(axis=(1, 2))
    out[bad] = np.eye(d)
    return out, bad


def factor_from_precision(precision: Array) -> Array:
    """The upper-triangular ``U`` with ``precision = U Uᵀ`` (reverse-order Cholesky)."""
    flipped = precision[::-1, ::-1]
    low = linalg.cholesky(flipped, lower=True, check_finite=False)
    return np.ascontiguousarray(low[::-1, ::-1])


def is_positive_definite(matrix: Array) -> bool:
    """True when ``matrix`` is symmetric and admits a Cholesky factorisation."""
    if not np.allclose(matrix, matrix.T, rtol=1e-8, atol=0.0):
        return False
    try:
        linalg.cholesky(matrix, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return False
    return True


def symmetric_from_factor(factor: Array) -> Array:
    """``inv(U Uᵀ)`` computed stably as ``inv(U)ᵀ inv(U)``."""
    inv, info = lapack.dtrtri(np.asarray(factor, dtype=np.float64), lower=0)
    if info != 0:
        raise linalg.LinAlgError("singular precision Cholesky factor")
    return np.asarray(inv.T @ inv)
