"""The region a noise component is uniform over: a box, along the coordinate axes or the
data's principal axes, and its volume (mclust's ``hypvol``).

mclust takes the volume of the noise component's uniform density to be the smaller of two
boxes holding every row: the bounding box along the coordinate axes, and the bounding box
along the principal axes of the rows (``hypvol``: the box of ``princomp``'s scores).  A
:class:`NoiseRegion` is such a box, kept whole (centre, axes and bounds, in the caller's
units) rather than as a volume alone, so that a fitted model can tell whether a new row
lies where its uniform lives, draw from it, and, along the coordinate axes, give the
marginal over some of the coordinates (rows with missing values): a box again, whose
volume is the product of the observed sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._moments import MomentKind
from ..engine import Frame, unit_terms
from ..sources import RowSource

Array = NDArray[np.float64]

#: the shapes a fit may choose from: ``"auto"`` is mclust's rule (the smaller of the two
#: boxes; the coordinate box for rows with missing values), ``"box"`` the coordinate box
RegionKind = Literal["auto", "box"]
REGION_KINDS = ("auto", "box")

#: a box with a side this much smaller than its longest spans no volume: the rows lie on a
#: subspace (a constant feature, or collinear ones whose principal side is rounding)
FLAT_SIDE = 1e-9

#: a row within this share of a side beyond a bound still counts as inside (the bounds and
#: a row's coordinates along rotated axes may round differently), and within four roundings
#: of its dtype (a row of the training data cast to float32)
INSIDE_TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class NoiseRegion:
    """A box: the rows ``x`` with ``lower <= (x - centre) @ axes <= upper``.

    Attributes
    ----------
    centre : ndarray of shape (n_features,)
    axes : ndarray of shape (n_features, n_features)
        Orthonormal columns: the identity for a box along the coordinate axes, the
        principal axes of the rows otherwise.
    lower, upper : ndarray of shape (n_features,)
        The bounds of the box along each axis, about ``centre``.
    """

    centre: Array
    axes: Array
    lower: Array
    upper: Array

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoiseRegion):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("centre", "axes", "lower", "upper")
        )

    @property
    def n_features(self) -> int:
        return int(self.centre.shape[0])

    @property
    def aligned(self) -> bool:
        """Whether the box lies along the coordinate axes."""
        return bool(np.array_equal(self.axes, np.eye(self.n_features)))

    @property
    def sides(self) -> Array:
        """The side lengths, ``upper - lower``."""
        return np.asarray(self.upper - self.lower, dtype=np.float64)

    @property
    def log_volume(self) -> float:
        """The log of the box's volume (``-inf`` if a side is zero)."""
        with np.errstate(divide="ignore"):
            return float(np.log(self.sides).sum())

    @property
    def volume(self) -> float:
        """The box's volume (it may overflow to ``inf`` in many dimensions: see
        :attr:`log_volume`)."""
        with np.errstate(over="ignore"):
            return float(np.exp(self.log_volume))

    def coordinates(self, x: NDArray[np.floating]) -> Array:
        """Rows ``x`` (m, d) along the box's axes, about its centre (float64)."""
        y = np.subtract(x, self.centre, dtype=np.float64)
        return y if self.aligned else y @ self.axes

    def contains(
        self, x: NDArray[np.floating], observed: NDArray[np.bool_] | None = None
    ) -> NDArray[np.bool_]:
        """Whether each row of ``x`` (m, d) lies in the box (within
        :data:`INSIDE_TOLERANCE` of a side, or four roundings of ``x``'s dtype); with
        ``observed`` (d,), of a box along the coordinate axes, only the observed coordinates
        are compared (the others hold placeholders)."""
        y = self.coordinates(x)
        eps = float(np.finfo(x.dtype).eps) if np.issubdtype(x.dtype, np.floating) else 0.0
        reach = float(np.abs(self.centre).max() + np.maximum(-self.lower, self.upper).max())
        slack = INSIDE_TOLERANCE * self.sides + 4.0 * eps * reach
        within = (y >= self.lower - slack) & (y <= self.upper + slack)
        if observed is not None:
            within |= ~np.asarray(observed, dtype=bool)
        return np.asarray(within.all(axis=1))

    def marginal_log_volume(self, observed: NDArray[np.bool_]) -> float:
        """The log volume of the box's marginal over the ``observed`` coordinates (d,): the
        product of their sides (1 when none is).

        Raises
        ------
        ValueError
            If the box lies along the principal axes, whose marginals are not uniform.
        """
        if not self.aligned:
            raise ValueError(
                "This model's noise component is uniform over a box along the data's "
                "principal axes (mclust's choice, the smaller of that box and the bounding "
                "box), whose marginals are not uniform, so rows with missing values cannot "
                "be scored under it. Refit with noise_region='box' (the bounding box along "
                "the coordinate axes), or impute the missing values."
            )
        with np.errstate(divide="ignore"):
            return float(np.log(self.sides[np.asarray(observed, dtype=bool)]).sum())

    def sample(self, rng: np.random.Generator, n: int) -> Array:
        """``n`` rows drawn uniformly from the box (n, d)."""
        y = self.lower + rng.random((n, self.n_features)) * self.sides
        return np.asarray(self.centre + (y if self.aligned else y @ self.axes.T))

    def to_dict(self) -> dict[str, Any]:
        """The box as lists of floats (the saved model's ``noise.region``)."""
        return {
            "centre": self.centre.tolist(),
            "axes": self.axes.tolist(),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
        }


def bounding_box(lower: Array, upper: Array) -> NoiseRegion:
    """The box along the coordinate axes from ``lower`` to ``upper``."""
    d = lower.shape[0]
    return NoiseRegion(np.zeros(d), np.eye(d), lower.astype(np.float64), upper.astype(np.float64))


def fit_region(
    source: RowSource,
    frame: Frame,
    moments: MomentKind,
    kind: str = "auto",
    *,
    missing: bool = False,
    chunk_size: int | None = None,
) -> NoiseRegion:
    """The region of a noise component for the rows of ``source`` (those of positive
    weight).

    Parameters
    ----------
    source : RowSource
    frame : Frame
        The fit's internal frame (the principal axes' pass runs in it).
    moments : MomentKind
        The layout of full second moments (the principal axes come from the rows'
        covariance).
    kind : {"auto", "box"}
        ``"auto"``: mclust's ``hypvol`` rule, the smaller of the bounding boxes along the
        coordinate axes and along the rows' principal axes (about their mean); ``"box"``:
        the first.
    missing : bool
        Whether the rows have missing values: the coordinate box is then taken (its
        marginals are boxes).

    Raises
    ------
    ValueError
        If the rows span no volume (a constant feature, or rows on a subspace), where a
        uniform density does not exist.
    """
    lower, upper = source.extent()
    box = bounding_box(lower, upper)
    candidates = [box]
    if kind == "auto" and not missing and source.n_features > 1:
        centre, axes = principal_axes(source, frame, moments, chunk_size)
        low, high = source.extent(centre, axes)
        candidates.append(NoiseRegion(centre, axes, low, high))
    usable = [r for r in candidates if (r.sides > FLAT_SIDE * r.sides.max()).all()]
    if not usable:
        flat = np.flatnonzero(~(box.sides > FLAT_SIDE * box.sides.max()))
        what = (
            f"feature {int(flat[0])} takes a single value"
            if flat.size
            else "the rows lie on a lower-dimensional subspace"
        )
        raise ValueError(
            "noise=True needs rows that span a volume, over which the noise component is "
            f"uniform, but {what}. Drop constant or redundant features (or reduce them, "
            "e.g. with PCA), or fit without noise."
        )
    return min(usable, key=lambda r: r.log_volume)


def principal_axes(
    source: RowSource, frame: Frame, moments: MomentKind, chunk_size: int | None = None
) -> tuple[Array, Array]:
    """The weighted mean of the rows and the eigenvectors of their covariance (columns),
    from one pass of the engine (the rows' statistics under a single component)."""
    d = source.n_features
    terms = unit_terms(moments, np.zeros((1, d)))

    def one(rows: slice) -> NDArray[np.intp]:
        return np.zeros(rows.stop - rows.start, dtype=np.intp)

    stats = source.mixture_pass(terms, frame, given=one, chunk_size=chunk_size).stats
    assert stats is not None
    mean = frame.centre + frame.scale * stats.means()[0]
    s = np.broadcast_to(frame.scale, (d,))  # one scale per feature, or one shared
    scatter = np.asarray(stats.scatter())[0] * np.multiply.outer(s, s)
    _, vectors = np.linalg.eigh(0.5 * (scatter + scatter.T))
    return mean, np.ascontiguousarray(vectors[:, ::-1])


def region_from_dict(value: Any, d: int) -> NoiseRegion:
    """The box that :meth:`NoiseRegion.to_dict` wrote (shapes checked here; the values by
    the model reader).

    Raises
    ------
    ValueError
        If an entry is missing or has the wrong shape.
    """
    if not isinstance(value, dict) or set(value) != {"centre", "axes", "lower", "upper"}:
        raise ValueError("the region needs exactly 'centre', 'axes', 'lower' and 'upper'")
    parts = {}
    for key, shape in (("centre", (d,)), ("axes", (d, d)), ("lower", (d,)), ("upper", (d,))):
        try:
            arr = np.array(value[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"region.{key} must hold numbers") from None
        if arr.shape != shape or not np.isfinite(arr).all():
            raise ValueError(f"region.{key} must be {shape} finite numbers")
        parts[key] = arr
    if not (parts["upper"] > parts["lower"]).all():
        raise ValueError("region.upper must exceed region.lower on every axis")
    axes = parts["axes"]
    if not np.allclose(axes.T @ axes, np.eye(d), rtol=0.0, atol=1e-9):
        raise ValueError("region.axes must be orthonormal")
    return NoiseRegion(parts["centre"], axes, parts["lower"], parts["upper"])


__all__ = [
    "INSIDE_TOLERANCE",
    "REGION_KINDS",
    "NoiseRegion",
    "RegionKind",
    "bounding_box",
    "fit_region",
    "principal_axes",
    "region_from_dict",
]
