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
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import NDArray

from .engine import Frame

Array = NDArray[np.float64]

#: the value of ``reg_covar`` meaning "relative to the data's variance"
AUTO = "auto"

#: ``reg_covar="auto"`` adds this fraction of the data's variances
RELATIVE_REG = 1e-6


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


def min_scale(reg_covar: float | str) -> float:
    """The smallest scale the internal frame may take: ``sqrt(reg_covar)`` for an absolute
    value, which keeps it at most 1 in internal units when the data's spread is tinier;
    none for a relative one, which follows the data."""
    return 0.0 if is_relative(reg_covar) else float(np.sqrt(reg_covar))


def internal_reg(reg_covar: float | str, frame: Frame, data: Frame) -> float | Array:
    """``reg_covar`` in ``frame``'s internal units: one value per feature for a per-feature
    frame, one for a common frame.

    ``data`` is the frame taken from the rows being fitted (:meth:`Frame.from_data`), whose
    variances a relative value reads; it is ``frame`` itself but for a warm start, which
    goes on in the previous fit's frame.
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
    if frame.per_feature:
        return RELATIVE_REG * np.where(variance > 0, variance, ratio)
    mean = float(np.mean(variance))
    return RELATIVE_REG * (mean if mean > 0 else float(ratio[0]))


__all__ = [
    "AUTO",
    "RELATIVE_REG",
    "check_reg_covar",
    "internal_reg",
    "is_relative",
    "min_scale",
]
