"""The internal coordinate frame: centre and power-of-two scales of the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NoReturn

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..params import Params
from .chunks import CHUNK_BYTES, auto_chunk_size, iter_chunks
from .result import NonFiniteInput

if TYPE_CHECKING:
    from ..covariance.storage import Storage

Array = NDArray[np.float64]

#: what a NaN read by :meth:`Frame.from_data` means: an error, or a value missing at random
Missing = Literal["error", "observed"]

#: rows beyond which :meth:`Frame.from_data` works on an evenly strided sample
FRAME_SAMPLE = 8_192


#: variances below this (subnormal data the power-of-two scales cannot lift) give no
#: spread: a precision ``1 / variance`` beyond it would overflow in its products
_LEAST_VARIANCE = float(np.finfo(np.float64).tiny) ** 0.5


@dataclass(frozen=True)
class Frame:
    """The internal coordinate frame ``z = (x - centre) / scale``, feature by feature.

    ``scale`` holds one power of two per feature, so scaling adds no rounding error.  A
    *per-feature* frame (``per_feature=True``) scales each feature by the power of two
    nearest its own spread, for covariance models that a rescaling of one feature maps to
    the same model (``CovarianceFamily.per_feature_equivariant``): internal arithmetic then
    never meets a feature's variance in the caller's units (``1e300`` for data at ``1e150``).
    A *common* frame has one scale for every feature (a scalar ``scale`` is broadcast).

    ``variance``, where the frame was taken from data, is each feature's weighted variance
    in internal units (``var_j / scale_j**2``; 0 for a constant feature): the relative
    regularisation and the initialisation's standardised distances read it.
    """

    centre: Array
    scale: Array
    per_feature: bool = False
    variance: Array | None = None

    def __post_init__(self) -> None:
        centre = np.asarray(self.centre, dtype=np.float64)
        scale = np.array(np.broadcast_to(np.asarray(self.scale, np.float64), centre.shape))
        if not self.per_feature and scale.size and not (scale == scale[0]).all():
            raise ValueError("A common frame has one scale for every feature.")
        object.__setattr__(self, "centre", centre)
        object.__setattr__(self, "scale", scale)

    @property
    def n_features(self) -> int:
        return int(self.centre.shape[0])

    @property
    def log_scale(self) -> float:
        """``sum_j log scale_j``: what a log-density in the caller's units has less than in
        the internal frame (the Jacobian of the map)."""
        return float(np.log(self.scale).sum())

    def spread(self) -> Array | None:
        """Each feature's standard deviation in internal units, for distances between rows
        that no rescaling of a feature changes (a per-feature frame taken from data; zero
        spreads, and those whose inverse squares would overflow, count as 1); ``None`` where
        plain internal distances are meant (a common frame, whose single scale already makes
        them equivariant)."""
        if not self.per_feature or self.variance is None:
            return None
        return np.where(self.variance > _LEAST_VARIANCE, np.sqrt(self.variance), 1.0)

    def to_internal(self, x: NDArray[np.floating], out: Array | None = None) -> Array:
        """Map rows to the internal frame, in float64 (into ``out`` if given)."""
        if out is None:
            out = np.empty(x.shape, dtype=np.float64)
        np.subtract(x, self.centre, out=out, casting="unsafe")
        with np.errstate(over="ignore"):
            inverse = 1.0 / self.scale
        if (inverse * self.scale == 1.0).all():  # powers of two with exact inverses: same result
            out *= inverse
        else:
            out /= self.scale
        return out

    def to_user(self, params: Params, storage: Storage) -> tuple[Array, Array, Array, Array]:
        """``(weights, means, covariances, precisions_cholesky)`` in the caller's units, the
        covariances in ``storage``'s layout."""
        with np.errstate(over="ignore", under="ignore"):
            covariances, chol = storage.rescaled(
                params.covariances, params.precisions_cholesky, self.scale
            )
            return (
                params.weights.copy(),
                self.centre + self.scale * params.means,
                covariances,
                chol,
            )

    def from_user(
        self,
        weights: ArrayLike,
        means: ArrayLike,
        covariances: ArrayLike,
        precisions_cholesky: ArrayLike,
        storage: Storage,
    ) -> Params:
        """Parameters in the caller's units expressed in this frame (:meth:`to_user`'s
        inverse; exact but for the means' centring)."""
        inverse = 1.0 / self.scale  # powers of two: exact
        with np.errstate(over="ignore", under="ignore"):
            cov, chol = storage.rescaled(
                np.asarray(covariances, np.float64),
                np.asarray(precisions_cholesky, np.float64),
                inverse,
            )
            return Params(
                np.asarray(weights, np.float64).copy(),
                (np.asarray(means, np.float64) - self.centre) * inverse,
                cov,
                chol,
            )

    @classmethod
    def from_data(
        cls,
        X: NDArray[np.floating],
        sample_weight: Array | None = None,
        chunk_size: int | None = None,
        min_scale: float = 0.0,
        missing: Missing = "error",
        per_feature: bool = False,
    ) -> Frame:
        """Weighted mean as centre, root-mean-square deviation as scale.

        With ``per_feature`` each feature gets the power of two nearest its own standard
        deviation, else all get the one nearest the root of the features' mean variance.
        ``min_scale`` bounds the scales of spread data from below (a constant feature, or
        data, gets scale 1): with ``sqrt(reg_covar)`` it keeps an absolute regularisation
        representable in the internal frame when the data's spread is tiny, and a relative
        one's floor likewise (:func:`gaussmix.regularisation.min_scale`).

        ``missing`` says what a NaN in the rows read means: ``"error"`` raises the
        boundary's ``ValueError`` (as does an infinity, whatever ``missing``), and
        ``"observed"`` takes a value missing at random: centre and spread come from the
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
                return cls._from_rows(sample, ws, chunk_size, min_scale, missing, per_feature)
        return cls._from_rows(X, sample_weight, chunk_size, min_scale, missing, per_feature)

    @classmethod
    def _from_rows(
        cls,
        X: NDArray[np.floating],
        sample_weight: Array | None,
        chunk_size: int | None,
        min_scale: float,
        missing: Missing,
        per_feature: bool,
    ) -> Frame:
        if missing not in ("error", "observed"):
            raise ValueError(f"Unknown missing={missing!r}; use 'error' or 'observed'.")
        n, d = X.shape
        step = chunk_size or auto_chunk_size(d, d, 1, n)
        if missing == "observed":
            centre, sigma, counts = _observed_moments(X, sample_weight, step)
        else:
            centre, sigma, counts = _moments(X, sample_weight, step)
        return cls._of_spread(centre, sigma, counts, min_scale, per_feature)

    @classmethod
    def _of_spread(
        cls, centre: Array, sigma: Array, counts: Array, min_scale: float, per_feature: bool
    ) -> Frame:
        """The frame of data with standard deviations ``sigma`` (caller's units), each
        feature's observed weight ``counts`` weighting the common frame's mean variance."""
        if per_feature:
            scale = np.array([_bounded(float(s), min_scale) for s in sigma])
        else:
            top = float(sigma.max(initial=0.0))
            total = float(counts.sum())
            # the root of the weighted mean variance, in units of the largest deviation: no
            # square of a value near the float64 limit is formed
            mean = float(counts @ (sigma / top) ** 2) / total if top > 0 and total > 0 else 0.0
            scale = np.full(sigma.shape, _bounded(top * np.sqrt(mean), min_scale))
        return cls(centre, scale, per_feature, (sigma / scale) ** 2)

    @classmethod
    def from_means(
        cls, weights: Array, means: Array, variances: Array, per_feature: bool = False
    ) -> Frame:
        """A frame for a given model: the weighted centre of the means, and each feature's
        spread of the means plus its average variance ``variances`` (d,) as the scale (per
        feature, or their mean for a common frame)."""
        w = np.asarray(weights, dtype=np.float64)
        w = w / w.sum()
        mu = np.asarray(means, dtype=np.float64)
        centre = w @ mu
        var = np.broadcast_to(np.asarray(variances, dtype=np.float64), centre.shape)
        # in units of each feature's largest term: no square of a value near the float64
        # limit is formed
        top = np.maximum(np.abs(mu - centre).max(axis=0), np.sqrt(var))
        unit = np.where(np.isfinite(top) & (top > 0), top, 1.0)
        sigma = unit * np.sqrt(w @ ((mu - centre) / unit) ** 2 + var / unit / unit)
        return cls._of_spread(centre, sigma, np.ones(centre.shape), 0.0, per_feature)


def _moments(
    X: NDArray[np.floating], sample_weight: Array | None, step: int
) -> tuple[Array, Array, Array]:
    """Each column's weighted mean and standard deviation, and its weight (all rows'),
    overflow-safe; a NaN or an infinity raises the boundary's error.  Rows of zero weight
    count for nothing, wherever they lie."""
    n, d = X.shape
    amax = np.zeros(d)
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
                    counted = xc if sample_weight is None else xc[w > 0]
                    if counted.shape[0]:
                        high = np.maximum(counted.max(axis=0), -counted.min(axis=0))
                        amax = np.maximum(amax, high)
        if np.all(np.isfinite(sums)):
            break
        unit = 2.0**64
    else:
        _not_finite(X)  # NaN or inf: sums of finite rows in units of 2**64 are finite
    centre = sums / total_w * unit if total_w > 0 else np.zeros(d)
    if not np.all(np.isfinite(centre)):
        centre = np.zeros(d)
    # deviations in units of each column's largest value: their squares cannot overflow
    unit_j = np.where(amax > 0, amax, 1.0)
    spread = np.zeros(d)
    if amax.any():
        for sl in iter_chunks(n, step):
            zc = np.asarray(X[sl], dtype=np.float64) - centre
            if sample_weight is None:
                zc /= unit_j
                spread += np.einsum("ij,ij->j", zc, zc)
            else:
                w = sample_weight[sl]
                zc = zc[w > 0] / unit_j
                spread += w[w > 0] @ (zc * zc)
    sigma = unit_j * np.sqrt(spread / total_w) if total_w > 0 else np.zeros(d)
    return centre, sigma, np.full(d, total_w)


def _observed_moments(
    X: NDArray[np.floating], sample_weight: Array | None, step: int
) -> tuple[Array, Array, Array]:
    """:func:`_moments` over each column's observed (non-NaN) entries (of rows of positive
    weight)."""
    n, d = X.shape
    w_all = np.ones(n) if sample_weight is None else sample_weight
    sums, counts, amax = np.zeros(d), np.zeros(d), np.zeros(d)
    for sl in iter_chunks(n, step):
        xc = np.asarray(X[sl], dtype=np.float64)
        if np.isinf(xc).any():
            _not_finite(xc)
        seen = ~np.isnan(xc)
        xc = np.where(seen, xc, 0.0)
        # exact scaling by 2**64 keeps sums of values near the float64 limit finite
        sums += w_all[sl] @ (xc / 2.0**64)
        counts += w_all[sl] @ seen
        amax = np.maximum(amax, np.abs(xc[w_all[sl] > 0]).max(axis=0, initial=0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(counts > 0, sums / counts * 2.0**64, 0.0)
    unit_j = np.where(amax > 0, amax, 1.0)
    spread = np.zeros(d)
    if amax.any():
        for sl in iter_chunks(n, step):
            w = w_all[sl]
            xc = np.asarray(X[sl], dtype=np.float64)[w > 0]
            zc = np.where(np.isnan(xc), 0.0, (xc - centre) / unit_j)
            spread += w[w > 0] @ (zc * zc)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.where(counts > 0, unit_j * np.sqrt(spread / counts), 0.0)
    return centre, sigma, counts


def _power_of_two(scale: float) -> float:
    """The power of two nearest ``scale`` (1.0 if unusable): dividing by it is exact."""
    if not (np.isfinite(scale) and scale > 0):
        return 1.0
    return float(np.ldexp(1.0, int(np.round(np.log2(scale)))))


def _bounded(spread: float, min_scale: float) -> float:
    """The scale of a feature of standard deviation ``spread``: at least ``min_scale``, or 1
    for a constant one (nothing to bound)."""
    return _power_of_two(max(spread, min_scale)) if spread > 0 else 1.0


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
