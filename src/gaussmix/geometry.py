"""Geometry shared by the plots and the HTML report: principal axes, projections, ellipses.

Pure numpy, with no optional dependency, so that :mod:`gaussmix.plot` (matplotlib) and
:mod:`gaussmix.report` (HTML) draw the same numbers.

* :func:`principal_axes`: the leading eigenvectors of a covariance matrix, with a
  deterministic sign, and the share of the variance along each;
* :class:`Projection`: the affine map ``x -> W (x - centre)`` onto the axes of a figure,
  applied to points (:meth:`Projection.points`) and to covariances
  (:meth:`Projection.covariances`, ``W S Wᵀ``);
* :func:`data_pca` and :func:`mixture_pca`: the projection onto the first principal
  components of a data set, or of a mixture's own covariance (:func:`mixture_moments`);
* :func:`ellipse_axes`: the semi-axes and orientation of the ellipse of a 2-D covariance.

A linear map sends ``N(mu, S)`` to ``N(W mu, W S Wᵀ)``, so a component's projected mean and
covariance describe its projection exactly (the marginal on the plane, not a slice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]

#: default axis label of :func:`data_pca` and :func:`mixture_pca`; ``number`` counts from
#: 1 and ``percent`` is the explained share of the variance in percent
PC_LABEL = "PC{number} ({percent:.1f}% of variance)"


def principal_axes(covariance: ArrayLike, n_axes: int = 2) -> tuple[Array, Array]:
    """The leading principal axes of a covariance matrix and their share of the variance.

    Parameters
    ----------
    covariance : array-like of shape (d, d)
        A symmetric positive semi-definite matrix (its symmetric part is used).
    n_axes : int, default=2
        How many axes, at most ``d``.

    Returns
    -------
    axes : ndarray of shape (n_axes, d)
        Orthonormal rows, the eigenvectors of the largest eigenvalues first.  Each row's
        largest loading (in absolute value; the first one on a tie) is positive, so that
        the same matrix always gives the same axes.
    explained_variance_ratio : ndarray of shape (n_axes,)
        Each axis's eigenvalue over the trace, negative eigenvalues (round-off) counted as
        zero; zeros when the matrix is zero.

    Raises
    ------
    ValueError
        If ``covariance`` is not square or ``n_axes`` is not between 1 and ``d``.
    """
    S = np.asarray(covariance, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"covariance must be a square matrix; got shape {S.shape}.")
    d = S.shape[0]
    if not 1 <= n_axes <= d:
        raise ValueError(f"n_axes must be between 1 and {d}; got {n_axes}.")
    values, vectors = np.linalg.eigh((S + S.T) / 2.0)
    values = np.clip(values[::-1], 0.0, None)
    axes = vectors[:, ::-1][:, :n_axes].T.copy()
    rows = np.arange(n_axes)
    # an eigenvector's sign is arbitrary: fixing it keeps figures stable across platforms
    largest = axes[rows, np.abs(axes).argmax(axis=1)]
    axes *= np.where(largest < 0, -1.0, 1.0)[:, None]
    total = values.sum()
    ratio = values[:n_axes] / total if total > 0 else np.zeros(n_axes)
    return axes, ratio


@dataclass(frozen=True, eq=False)  # array fields make a field-wise == ambiguous
class Projection:
    """The affine map from feature space onto the axes of a figure.

    A point ``x`` is drawn at ``(x - centre) @ components.T``.

    Attributes
    ----------
    centre : ndarray of shape (n_features,)
        Subtracted before projecting (zeros for the identity).
    components : ndarray of shape (n_axes, n_features)
        Orthonormal rows ``W``: principal axes, or the identity.
    labels : tuple of str
        One label per axis.
    explained_variance_ratio : ndarray of shape (n_axes,) or None
        Share of the total variance along each axis; ``None`` for the identity.
    """

    centre: Array
    components: Array
    labels: tuple[str, ...]
    explained_variance_ratio: Array | None = None

    def __post_init__(self) -> None:
        n_axes, d = np.shape(self.components)
        if np.shape(self.centre) != (d,) or len(self.labels) != n_axes:
            raise ValueError(
                f"A projection onto {n_axes} axes of {d} features needs a centre of shape "
                f"({d},) and {n_axes} labels; got {np.shape(self.centre)} and "
                f"{len(self.labels)}."
            )

    @classmethod
    def identity(cls, labels: Sequence[str]) -> Projection:
        """The features themselves as axes, one label per feature."""
        d = len(labels)
        return cls(np.zeros(d), np.eye(d), tuple(labels))

    @classmethod
    def principal(
        cls,
        centre: ArrayLike,
        covariance: ArrayLike,
        *,
        n_axes: int = 2,
        label: str = PC_LABEL,
    ) -> Projection:
        """The first ``n_axes`` principal axes of ``covariance`` (see :func:`principal_axes`).

        ``label`` is formatted with ``number`` (1, 2, ...) and ``percent`` (the explained
        share of the variance, in percent) for each axis.
        """
        axes, ratio = principal_axes(covariance, n_axes)
        labels = tuple(label.format(number=i + 1, percent=100 * r) for i, r in enumerate(ratio))
        return cls(np.asarray(centre, dtype=np.float64), axes, labels, ratio)

    @property
    def is_identity(self) -> bool:
        """Whether the axes are the features themselves (no projection)."""
        return self.explained_variance_ratio is None

    def points(self, X: ArrayLike) -> Array:
        """Project rows (data points or means) of shape (n, n_features) -> (n, n_axes)."""
        Xa = np.asarray(X, dtype=np.float64)
        return np.asarray((Xa - self.centre) @ self.components.T)

    def covariances(self, covariances: ArrayLike) -> Array:
        """Project dense covariances (k, d, d) -> (k, n_axes, n_axes): ``W S Wᵀ``."""
        W = self.components
        S = np.asarray(covariances, dtype=np.float64)
        return np.asarray(np.einsum("pd,kde,qe->kpq", W, S, W))


def data_pca(X: ArrayLike, *, n_axes: int = 2, label: str = PC_LABEL) -> Projection:
    """The projection of a data set onto its first principal components.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        At least two rows; the centre is their mean and the axes those of their
        (unbiased) sample covariance.
    n_axes : int, default=2
    label : str, default=PC_LABEL
        Format of the axis labels (see :meth:`Projection.principal`).

    Returns
    -------
    Projection
    """
    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim != 2 or Xa.shape[0] < 2:
        raise ValueError(f"X must be a 2-D array with at least two rows; got shape {Xa.shape}.")
    return Projection.principal(
        Xa.mean(axis=0), np.cov(Xa, rowvar=False), n_axes=n_axes, label=label
    )


def mixture_moments(
    weights: ArrayLike, means: ArrayLike, covariances: ArrayLike
) -> tuple[Array, Array]:
    """Mean and covariance of a Gaussian mixture.

    Parameters
    ----------
    weights : array-like of shape (k,)
        Non-negative, normalised here.
    means : array-like of shape (k, d)
    covariances : array-like of shape (k, d, d)
        Dense covariances.

    Returns
    -------
    mean : ndarray of shape (d,)
        ``mu = sum_j w_j mu_j``.
    covariance : ndarray of shape (d, d)
        ``sum_j w_j (S_j + (mu_j - mu)(mu_j - mu)ᵀ)``: within plus between components.
    """
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu = np.asarray(means, dtype=np.float64)
    centre = w @ mu
    dev = mu - centre
    total = np.tensordot(w, np.asarray(covariances, dtype=np.float64), axes=1) + (dev.T * w) @ dev
    return np.asarray(centre), np.asarray(total)


def mixture_pca(
    weights: ArrayLike,
    means: ArrayLike,
    covariances: ArrayLike,
    *,
    n_axes: int = 2,
    label: str = PC_LABEL,
) -> Projection:
    """The projection onto the first principal components of a mixture's own covariance.

    See :func:`mixture_moments` for the parameters and :func:`data_pca` for ``n_axes`` and
    ``label``.
    """
    centre, total = mixture_moments(weights, means, covariances)
    return Projection.principal(centre, total, n_axes=n_axes, label=label)


def ellipse_axes(covariance: ArrayLike) -> tuple[float, float, float]:
    """Semi-axes and orientation of the one-sigma ellipse of a 2-D covariance.

    The ellipse ``{x : xᵀ S⁻¹ x = 1}`` has its axes along the eigenvectors of ``S`` with
    half-lengths the square roots of the eigenvalues; the ``r``-sigma ellipse scales both by
    ``r``.

    Parameters
    ----------
    covariance : array-like of shape (2, 2)
        Symmetric positive semi-definite (its symmetric part is used; negative eigenvalues
        from round-off count as zero).

    Returns
    -------
    a, b : float
        Semi-major and semi-minor axes, ``a >= b >= 0``.
    angle : float
        Direction of the major axis from the first coordinate axis, in radians, in
        ``(-pi, pi]`` (the ellipse is the same for ``angle + pi``).
    """
    S = np.asarray(covariance, dtype=np.float64)
    if S.shape != (2, 2):
        raise ValueError(f"covariance must have shape (2, 2); got {S.shape}.")
    values, vectors = np.linalg.eigh((S + S.T) / 2.0)
    b, a = np.sqrt(np.clip(values, 0.0, None))
    angle = float(np.arctan2(vectors[1, 1], vectors[0, 1]))
    return float(a), float(b), angle


__all__ = [
    "PC_LABEL",
    "Projection",
    "data_pca",
    "ellipse_axes",
    "mixture_moments",
    "mixture_pca",
    "principal_axes",
]
