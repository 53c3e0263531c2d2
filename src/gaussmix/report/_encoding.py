"""How numbers travel to the page: a power-of-two frame and packed float32 blocks.

The page evaluates the embedded mixtures at the drawn points (memberships, log-densities,
contours), so it needs the points in every feature and each state's parameters exactly as
EM had them.  Both go as little-endian float32 blocks in base64 (about 5.3 characters a
number, 7 significant digits), in a *display frame* ``z = (x - centre) / scale`` with a
power-of-two ``scale`` per feature, so that data of any magnitude keeps its precision and
``log p(x) = log p(z) - sum(log2(scale)) * ln 2`` is exact.

A mixture state is packed as its weights, its means and, per component, the upper
triangle of the precision's Cholesky factor ``U`` (``inv(Sigma) = U Uᵀ``), row by row, or
only its diagonal when every factor is diagonal.  The page needs nothing else: the
Mahalanobis term is ``|(z - mu) U|²``, and any projected covariance ``A Sigma Bᵀ`` follows
from triangular solves with ``U``.  A state whose numbers float32 cannot carry (a model far
from its data's scale) is packed in float64 instead, and says so (``"f64"``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..covariance import get_family

Array = NDArray[np.float64]

#: float32 keeps 7 significant digits between these magnitudes (normal numbers, with room)
FLOAT32_SMALLEST = 1e-36
FLOAT32_LARGEST = 1e36


def pack(values: ArrayLike, dtype: str = "<f4") -> str:
    """Numbers as base64 of little-endian float32 (or ``dtype``), row-major."""
    with np.errstate(over="ignore", under="ignore"):
        data = np.ascontiguousarray(np.asarray(values, dtype=dtype)).tobytes()
    return base64.b64encode(data).decode("ascii")


def unpack(text: str, dtype: str = "<f4") -> NDArray[np.floating]:
    """The inverse of :func:`pack` (a flat array)."""
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def fits_float32(values: Array) -> bool:
    """Whether float32 carries every number to its usual precision (no overflow, no
    underflow into subnormals or zero)."""
    magnitude = np.abs(values[values != 0])
    return bool(np.all((magnitude < FLOAT32_LARGEST) & (magnitude > FLOAT32_SMALLEST)))


@dataclass(frozen=True, eq=False)
class DisplayFrame:
    """The map ``z = (x - centre) / scale`` of the numbers embedded in the page.

    Attributes
    ----------
    centre : ndarray of shape (d,)
        The data's mean.
    scale : ndarray of shape (d,)
        Powers of two near each feature's standard deviation (1 for a constant feature),
        so that dividing by them is exact.
    """

    centre: Array
    scale: Array

    @classmethod
    def for_data(cls, X: Array) -> DisplayFrame:
        """The frame of ``X``: its mean and per-feature powers of two."""
        sd = X.std(axis=0)
        exponent = np.where(sd > 0, np.round(np.log2(np.where(sd > 0, sd, 1.0))), 0.0)
        return cls(X.mean(axis=0), np.exp2(exponent))

    def to_frame(self, X: ArrayLike) -> Array:
        """Rows of shape (n, d) in frame units."""
        return np.asarray((np.asarray(X, np.float64) - self.centre) / self.scale)

    def describe(self) -> dict[str, Any]:
        """The frame for the page."""
        return {"centre": self.centre.tolist(), "scale": self.scale.tolist()}


def encode_state(
    covariance_type: str,
    weights: ArrayLike,
    means: ArrayLike,
    covariances: ArrayLike,
    frame: DisplayFrame,
    noise: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """One mixture (user units) packed for the page (see the module's docstring).

    The precision factors are those the library computes from ``covariances``
    (:meth:`CovarianceFamily.precisions_cholesky`), whatever the covariance family.
    ``noise`` is a noise component's weight and log volume (user units), recorded as
    ``{"w": ..., "logv": ...}`` beside the packed numbers; the page adds its uniform density
    at every drawn point (the training rows, all inside its region).

    Raises
    ------
    ValueError
        If a covariance is not positive-definite, or a number is not finite.
    """
    family = get_family(covariance_type)
    w = np.asarray(weights, np.float64)
    mu = np.asarray(means, np.float64)
    k, d = mu.shape
    chol, bad = family.precisions_cholesky(np.asarray(covariances, np.float64))
    if np.any(bad):
        raise ValueError("covariances must be positive-definite to be drawn.")
    factors = np.asarray(family.factors(chol, k, d), np.float64)
    diagonal = factors.ndim == 2
    if diagonal:
        scaled = factors * frame.scale  # diag(scale) U for a diagonal U
        packed = scaled
    else:
        scaled = factors * frame.scale[None, :, None]  # row i of U times scale_i
        rows, cols = np.triu_indices(d)
        packed = scaled[:, rows, cols]
    blob = np.concatenate([w, frame.to_frame(mu).ravel(), packed.ravel()])
    if not np.all(np.isfinite(blob)):
        raise ValueError("a parameter is not finite and cannot be drawn.")
    state: dict[str, Any] = {"k": int(k), "diag": bool(diagonal)}
    if fits_float32(blob):
        state["b"] = pack(blob)
    else:  # a model far from its data's scale (a variance floor far above it, a collapsing
        # component) keeps float64
        state.update(f64=True, b=pack(blob, "<f8"))
    if noise is not None:
        state["noise"] = {"w": float(noise[0]), "logv": float(noise[1])}
    return state


def noise_of(model: Any) -> tuple[float, float] | None:
    """A fitted model's noise component as :func:`encode_state` takes it (``None``: none)."""
    region = getattr(model, "noise_region_", None)
    return None if region is None else (float(model.noise_weight_), float(region.log_volume))


def decode_state(state: dict[str, Any], frame: DisplayFrame) -> tuple[Array, Array, Array]:
    """Weights, means and dense covariances (user units) of a packed state.

    The inverse of :func:`encode_state` up to float32 rounding (used by the tests and by
    nothing on the page's side).
    """
    k, d = int(state["k"]), frame.centre.shape[0]
    flat = unpack(state["b"], "<f8" if state.get("f64") else "<f4").astype(np.float64)
    weights, rest = flat[:k], flat[k:]
    means = rest[: k * d].reshape(k, d) * frame.scale + frame.centre
    packed = rest[k * d :]
    U = np.zeros((k, d, d))
    if state["diag"]:
        U[:, np.arange(d), np.arange(d)] = packed.reshape(k, d)
    else:
        rows, cols = np.triu_indices(d)
        U[:, rows, cols] = packed.reshape(k, -1)
    U /= frame.scale[None, :, None]  # back to user units
    inverse = np.linalg.inv(U)
    covariances = np.einsum("kji,kjl->kil", inverse, inverse)  # Sigma = U⁻ᵀ U⁻¹
    return weights, means, covariances
