"""The internal coordinate frame: centre and power-of-two scale of the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NoReturn

import numpy as np
from numpy.typing import NDArray

from ..params import Params
from .chunks import CHUNK_BYTES, auto_chunk_size, iter_chunks
from .result import NonFiniteInput

Array = NDArray[np.float64]

#: what a NaN read by :meth:`Frame.from_data` means: an error, or a value missing at random
Missing = Literal["error", "observed"]

#: rows beyond which :meth:`Frame.from_data` works on an evenly strided sample
FRAME_SAMPLE = 8_192


@dataclass(frozen=True)
class Frame:
    """The internal coordinate frame ``z = (x - centre) / scale``.

    ``scale`` is a power of two, so scaling adds no rounding error.
    """

    centre: Array
    scale: float

    @property
    def n_features(self) -> int:
        return int(self.centre.shape[0])

    def to_internal(self, x: NDArray[np.floating], out: Array | None = None) -> Array:
        """Map rows to the internal frame, in float64 (into ``out`` if given)."""
        if out is None:
            out = np.empty(x.shape, dtype=np.float64)
        np.subtract(x, self.centre, out=out, casting="unsafe")
        inverse = 1.0 / self.scale
        if inverse * self.scale == 1.0:  # a power of two whose inverse is exact: same result
            out *= inverse
        else:
            out /= self.scale
        return out

    def to_user(self, params: Params) -> tuple[Array, Array, Array, Array]:
        """``(weights, means, covariances, precisions_cholesky)`` in the caller's units."""
        s = self.scale
        with np.errstate(over="ignore", under="ignore"):
            return (
                params.weights.copy(),
                self.centre + s * params.means,
                params.covariances * s * s,
                params.precisions_cholesky / s,
            )

    @classmethod
    def from_data(
        cls,
        X: NDArray[np.floating],
        sample_weight: Array | None = None,
        chunk_size: int | None = None,
        min_scale: float = 0.0,
        missing: Missing = "error",
    ) -> Frame:
        """Weighted mean as centre, root-mean-square deviation as scale.

        ``min_scale`` bounds the scale from below; with ``sqrt(reg_covar)`` it keeps the
        regularisation representable in the internal frame when the data's spread is tiny.

        ``missing`` says what a NaN in the rows read means: ``"error"`` raises the
        boundary's ``ValueError`` (as does an infinity, whatever ``missing``), and
        ``"observed"`` takes a value missing at random: centre and scale come from the
        observed entries of each column (a column with none gets centre 0).

        Beyond ``2 * FRAME_SAMPLE`` rows both are taken from every ``n // FRAME_SAMPLE``-th
        row: the frame needs a centre near the data and a scale within a small factor of the
        spread, not exact moments, and the sample spares the frame two passes over all rows.
        Rows the sample misses stay exact: nothing in the engine assumes the centre is the
        mean.
        """
        n = X.shape[0]
        if n > 2 * FRAME_SAMPLE:
            step = n // FRAME_SAMPLE
            ws = None if sample_weight is None else sample_weight[::step]
            if ws is None or ws.sum() > 0:
                sample = X[::step]
                if sample.shape[0] * sample.shape[1] * 8 <= CHUNK_BYTES:
                    # gathered once, then read twice at unit stride: cheaper than reading
                    # the strided rows twice
                    sample = np.ascontiguousarray(sample, dtype=np.float64)
                return cls._from_rows(sample, ws, chunk_size, min_scale, missing)
        return cls._from_rows(X, sample_weight, chunk_size, min_scale, missing)

    @classmethod
    def _from_rows(
        cls,
        X: NDArray[np.floating],
        sample_weight: Array | None,
        chunk_size: int | None,
        min_scale: float,
        missing: Missing,
    ) -> Frame:
        if missing not in ("error", "observed"):
            raise ValueError(f"Unknown missing={missing!r}; use 'error' or 'observed'.")
        n, d = X.shape
        step = chunk_size or auto_chunk_size(d, d, 1, n)
        if missing == "observed":
            return cls._from_observed(X, sample_weight, step, min_scale)
        amax = 0.0
        unit = 1.0
        for attempt in range(2):
            # values near the float64 limit overflow the sums: then they are summed again in
            # units of 2**64 (exact scaling)
            sums = np.zeros(d)
            total_w = 0.0
            with np.errstate(over="ignore", invalid="ignore"):
                for sl in iter_chunks(n, step):
                    xc = np.asarray(X[sl], dtype=np.float64)
                    if unit != 1.0:
                        xc = xc / unit
                    w = None if sample_weight is None else sample_weight[sl]
                    if w is None:
                        total_w += xc.shape[0]
                        w = np.ones(xc.shape[0])  # a product: BLAS sums faster than sum(axis=0)
                    else:
                        total_w += float(w.sum())
                    sums += w @ xc
                    if attempt == 0:
                        amax = max(amax, float(xc.max()), -float(xc.min()))
            if np.all(np.isfinite(sums)):
                break
            unit = 2.0**64
        else:
            _not_finite(X)  # NaN or inf: sums of finite rows in units of 2**64 are finite
        centre = sums / total_w * unit if total_w > 0 else np.zeros(d)
        if not np.all(np.isfinite(centre)):
            centre = np.zeros(d)
        spread = 0.0
        if amax > 0:
            for sl in iter_chunks(n, step):
                zc = np.asarray(X[sl], dtype=np.float64) - centre
                zc /= amax
                if sample_weight is None:
                    spread += float(np.vdot(zc, zc))
                else:
                    spread += float(sample_weight[sl] @ np.einsum("ij,ij->i", zc, zc))
        scale = amax * float(np.sqrt(spread / (total_w * d))) if total_w > 0 else 0.0
        return cls(centre, _power_of_two(max(scale, min_scale)))

    @classmethod
    def _from_observed(
        cls, X: NDArray[np.floating], sample_weight: Array | None, step: int, min_scale: float
    ) -> Frame:
        """:meth:`_from_rows` over each column's observed (non-NaN) entries."""
        n, d = X.shape
        w_all = np.ones(n) if sample_weight is None else sample_weight
        sums, counts, amax = np.zeros(d), np.zeros(d), 0.0
        for sl in iter_chunks(n, step):
            xc = np.asarray(X[sl], dtype=np.float64)
            if np.isinf(xc).any():
                _not_finite(xc)
            seen = ~np.isnan(xc)
            xc = np.where(seen, xc, 0.0)
            # exact scaling by 2**64 keeps sums of values near the float64 limit finite
            sums += w_all[sl] @ (xc / 2.0**64)
            counts += w_all[sl] @ seen
            amax = max(amax, float(np.abs(xc).max(initial=0.0)))
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = np.where(counts > 0, sums / counts * 2.0**64, 0.0)
        spread, total = 0.0, float(counts.sum())
        if amax > 0:
            for sl in iter_chunks(n, step):
                xc = np.asarray(X[sl], dtype=np.float64)
                zc = np.where(np.isnan(xc), 0.0, (xc - centre) / amax)
                spread += float(w_all[sl] @ np.einsum("ij,ij->i", zc, zc))
        scale = amax * float(np.sqrt(spread / total)) if total > 0 else 0.0
        return cls(centre, _power_of_two(max(scale, min_scale)))

    @classmethod
    def from_means(cls, weights: Array, means: Array, mean_variance: float) -> Frame:
        """A frame for a given model: weighted centre of the means and its average spread."""
        w = np.asarray(weights, dtype=np.float64)
        mu = np.asarray(means, dtype=np.float64)
        centre = (w / w.sum()) @ mu
        spread = float(w @ np.mean((mu - centre) ** 2, axis=1)) / w.sum()
        return cls(centre, _power_of_two(float(np.sqrt(spread + mean_variance))))


def _power_of_two(scale: float) -> float:
    """The power of two nearest ``scale`` (1.0 if unusable): dividing by it is exact."""
    if not (np.isfinite(scale) and scale > 0):
        return 1.0
    return float(np.ldexp(1.0, int(np.round(np.log2(scale)))))


def _not_finite(X: NDArray[np.floating]) -> NoReturn:
    """Raise :class:`NonFiniteInput` naming the first row of ``X`` with a NaN or an inf."""
    rows = np.asarray(X)
    bad = ~np.isfinite(rows).all(axis=1)
    if not bad.any():  # a weight large enough to overflow, not the rows
        raise ValueError(
            "The weighted sums of X overflow float64; rescale sample_weight (only the "
            "ratios of the weights matter)."
        )
    first = int(np.flatnonzero(bad)[0])
    kind = "NaN" if np.isnan(rows[first]).any() else "an infinite value"
    raise NonFiniteInput(
        f"The rows given to Frame.from_data hold {kind} ({int(bad.sum())} rows, the first "
        f"at row {first}); drop or impute them, or pass missing='observed' to take NaN as "
        "missing at random."
    )
