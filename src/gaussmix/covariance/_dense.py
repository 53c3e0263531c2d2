"""Cholesky helpers shared by the families with dense (full / tied) covariances."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import linalg
from scipy.linalg import lapack

Array = NDArray[np.float64]


def precision_factor(cov: Array) -> Array | None:
    """Upper-triangular ``U`` with ``inv(cov) = U Uᵀ``, or ``None`` if ``cov`` is not PD."""
    if not np.all(np.isfinite(cov)):
        return None
    # LAPACK directly (the routine scipy.linalg.cholesky calls, without its ~20 us of
    # argument handling: this runs for every component at every M-step)
    low, info = lapack.dpotrf(cov, lower=1, clean=1)
    if info != 0:
        return None
    diag = np.diagonal(low)
    if not np.all(diag > 0):
        return None
    inv_low, info = lapack.dtrtri(low, lower=1)
    if info != 0:
        return None
    factor = np.ascontiguousarray(inv_low.T)
    if not np.all(np.isfinite(factor)):
        return None
    return factor


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
