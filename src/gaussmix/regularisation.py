"""``reg_covar``: what the M-step adds to the covariances' diagonals, absolute or relative to
the data's spread, in the engine's internal frame.

A float is scikit-learn's meaning: that variance, in the caller's units, added to every
feature.  It does not follow the data's scale: data scaled by 1e-4 or less is swamped by the
default 1e-6 (every component collapses onto one mean), and a feature on a small scale
beside one on a large scale is swamped as well.

``"auto"`` (the default) is relative: :data:`RELATIVE_REG` times each feature's variance for
the models a rescaling of one feature maps onto themselves
(:attr:`~gaussmix.covariance.CovarianceFamily.per_feature_equivariant`), and the same
fraction of the features' mean variance for the others (a spherical or shared-orientation
model gets a regulariser of its own kind, ``lambda I``).  The variances are those of the
fitted rows, weighted by ``sample_weight``, over each feature's observed values, taken from
the same rows as the internal frame (an evenly strided sample of
:data:`~gaussmix.engine.FRAME_SAMPLE` rows beyond twice as many).  A feature of zero variance
(all features, for the mean) gets :data:`RELATIVE_REG` itself, as an absolute value.  So the
regulariser scales with the data: a fit of ``X @ diag(s)`` is the fit of ``X`` with every
parameter mapped by ``s`` (for the per-feature equivariant models; for the others, with
``s`` one common factor).

Only at the end of the floating-point range does it stop scaling: it is at least the
smallest normal number of the data's dtype (``numpy.finfo(dtype).tiny``, about 2.2e-308 for
float64), so that every fitted covariance, precision and factor stays representable.  That
floor is reached where a feature's variance is below ``tiny / RELATIVE_REG`` (a standard
deviation below about 1.5e-150 in float64), and where a constant feature's computed spread
is only the rounding of its mean.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .engine import Frame

Array = NDArray[np.float64]

#: the value of ``reg_covar`` meaning "relative to the data's variance"
AUTO = "auto"

#: ``reg_covar="auto"`` adds this fraction of the data's variances: small enough that the
#: fits end where scikit-learn's absolute 1e-6 and mclust's none do (see benchmarks/README.md,
#: Default fit), large enough that a component on a few rows keeps a
#: covariance whose condition, at most about 1 / RELATIVE_REG in each feature's units,
#: factorises accurately
RELATIVE_REG = 1e-8


def is_relative(reg_covar: float | str) -> bool:
    """Whether ``reg_covar`` is relative (``"auto"``) rather than an absolute variance."""
    return isinstance(reg_covar, str)


def check_reg_covar(name: str, value: object) -> None:
    """The parameter check: ``"auto"`` or a finite real number >= 0 (the message says so)."""
    if value == AUTO and isinstance(value, str):
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(float(value))
        or value < 0
    ):
        raise ValueError(
            f"The {name!r} parameter must be 'auto' (relative to the data's variance) or a "
            f"finite real number >= 0 (an absolute variance); got {value!r}."
        )


def floor(dtype: DTypeLike) -> float:
    """The least variance ``"auto"`` adds in the caller's units: ``dtype``'s smallest normal
    number (the fitted arrays' dtype is the data's)."""
    return float(np.finfo(np.dtype(dtype)).tiny)


def min_scale(reg_covar: float | str, dtype: DTypeLike = np.float64) -> float:
    """The smallest scale the internal frame may take for spread data: ``sqrt(reg_covar)``
    for an absolute value, the root of :func:`floor` for a relative one (below either, the
    regularisation dominates); each keeps the regulariser at most about 1 in internal
    units."""
    value = floor(dtype) if is_relative(reg_covar) else float(reg_covar)
    return float(np.sqrt(value))


def internal_reg(
    reg_covar: float | str, frame: Frame, data: Frame, dtype: DTypeLike = np.float64
) -> float | Array:
    """``reg_covar`` in ``frame``'s internal units: one value per feature for a per-feature
    frame, one for a common frame.

    ``data`` is the frame taken from the rows being fitted (:meth:`Frame.from_data`), whose
    variances a relative value reads; it is ``frame`` itself but for a warm start, which
    goes on in the previous fit's frame.  ``dtype`` is the data's, whose :func:`floor` bounds
    a relative value from below.
    """
    if not is_relative(reg_covar):
        value = float(reg_covar) / frame.scale / frame.scale  # no overflow of scale**2
        return value if frame.per_feature else float(value[0])
    if data.variance is None:
        raise ValueError("reg_covar='auto' needs the frame of the fitted rows (their variance).")
    # a zero variance counts as 1 in the data frame's units, where its scale is 1: the
    # absolute value RELATIVE_REG
    ratio = (data.scale / frame.scale) ** 2  # of two powers of two: exact
    variance = data.variance * ratio
    with np.errstate(under="ignore"):  # a floor below the data's spread vanishes
        least = floor(dtype) / frame.scale / frame.scale
    if frame.per_feature:
        return np.maximum(RELATIVE_REG * np.where(variance > 0, variance, ratio), least)
    mean = float(np.mean(variance))
    return max(RELATIVE_REG * (mean if mean > 0 else float(ratio[0])), float(least[0]))


__all__ = [
    "AUTO",
    "RELATIVE_REG",
    "check_reg_covar",
    "floor",
    "internal_reg",
    "is_relative",
    "min_scale",
]
