"""Plots of fitted mixtures (matplotlib; ``pip install "gaussmix[plot]"``).

* :func:`plot_ellipses`: component ellipses (1, 2, 3 standard deviations) over the data,
  points coloured by their most probable component;
* :func:`plot_criteria`: BIC / AIC of a :func:`~gaussmix.select_model` sweep against the
  number of components, one line per covariance type, the chosen model marked;
* :func:`plot_convergence`: mean log-likelihood per EM iteration (``history_``; a Bayesian
  mixture's lower bound);
* :func:`plot_uncertainty`: points shaded by their uncertainty, ``1 - max membership``;
* :func:`plot_density`: contours of the mixture's log-density on a grid;
* :func:`plot_anomalies`: histogram of ``score_samples`` with a low-density threshold.

Every function takes an optional ``ax`` (a new figure is made with :mod:`matplotlib.pyplot`
when it is ``None``) and returns a small dataclass holding that Axes and the artists it
drew, so that they can be restyled or inspected; ``result.ax.figure.savefig(path)`` saves
the plot.

Projection
----------
Data with more than two features is shown on its first two principal components: those of
``X`` when it is given, otherwise those of the fitted mixture itself (the covariance of the
mixture, ``sum_j w_j (S_j + (mu_j - mu)(mu_j - mu)^T)``).  The axes are labelled
``"PC1 (xx.x% var)"``.  Component ``j`` is drawn as the projected Gaussian
``N(W mu_j, W S_j W^T)`` with ``W`` the (2, d) matrix of principal axes, which is exact for
a linear projection, and density contours are those of the projected mixture (the marginal
density on the plane, not a slice through the full density).  :func:`pca_projection` returns
the projection used, a :class:`gaussmix.geometry.Projection` (the arithmetic the HTML
report shares).  With two features the axes are the features themselves, labelled with
``feature_names_in_`` when the model was fitted on a data frame.

Bayesian mixtures
-----------------
A :class:`~gaussmix.BayesianGaussianMixture` is drawn as a Gaussian mixture is, with two
differences: :func:`plot_ellipses` draws its effective components only (those whose
weight has not vanished), and :func:`plot_density` its predictive density, a mixture of
Student-t distributions (whose projections are Student-t distributions with the projected
scale matrices).

One feature
-----------
:func:`plot_density` draws the density curve (with a histogram of ``X`` and each weighted
component), :func:`plot_uncertainty` plots the uncertainty against the feature,
:func:`plot_ellipses` raises ``ValueError`` (an ellipse needs two dimensions; use
:func:`plot_density`).  :func:`plot_criteria`, :func:`plot_convergence` and
:func:`plot_anomalies` do not depend on the number of features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import solve_triangular
from scipy.special import gammaln, logsumexp
from sklearn.utils.validation import check_is_fitted

from .covariance import REGISTRY, get_family
from .geometry import Projection, data_pca, ellipse_axes, mixture_pca

try:
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
    from matplotlib.collections import PathCollection
    from matplotlib.colorbar import Colorbar
    from matplotlib.contour import ContourSet
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse
    from matplotlib.text import Text
    from matplotlib.ticker import MaxNLocator
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        'gaussmix.plot needs matplotlib, which is not installed: pip install "gaussmix[plot]"'
    ) from exc

if TYPE_CHECKING:
    from matplotlib.container import BarContainer

    from .mixture import GaussianMixture
    from .selection import SelectionResult

Array = NDArray[np.float64]
Color = tuple[float, float, float, float]

_GREY: Color = (0.45, 0.45, 0.45, 1.0)
_RED: Color = (0.84, 0.15, 0.16, 1.0)
_PC_LABEL = "PC{number} ({percent:.1f}% var)"


# ---------------------------------------------------------------------------- projection


def _feature_labels(model: Any, d: int) -> tuple[str, ...]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == d:
        return tuple(str(n) for n in names)
    return tuple(f"feature {i}" for i in range(d))


def _mixture(model: Any) -> tuple[Array, Array, Array]:
    """Weights (k,), means (k, d) and dense covariances (k, d, d) of a fitted model."""
    check_is_fitted(model, "means_")
    weights = np.asarray(model.weights_, dtype=np.float64)
    means = np.asarray(model.means_, dtype=np.float64)
    k, d = means.shape
    family = get_family(model.covariance_type)
    covs = family.dense(np.asarray(model.covariances_, dtype=np.float64), k, d)
    return weights, means, np.asarray(covs, dtype=np.float64)


def _as_data(model: Any, X: ArrayLike | None) -> Array | None:
    if X is None:
        return None
    Xa = np.asarray(X, dtype=np.float64)
    d = np.shape(model.means_)[1]
    if Xa.ndim != 2 or Xa.shape[1] != d or Xa.shape[0] < 1:
        raise ValueError(
            f"X must be a non-empty 2-D array with the model's {d} features; got shape {Xa.shape}."
        )
    if not np.all(np.isfinite(Xa)):
        raise ValueError("X contains NaN or infinite values; pass finite numbers.")
    return Xa


def pca_projection(model: GaussianMixture, X: ArrayLike | None = None) -> Projection:
    """The projection the plotting functions use for ``model`` (and ``X``).

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture.
    X : array-like of shape (n_samples, n_features), optional
        Data whose principal components define the plane; without it, the principal
        components of the fitted mixture's own covariance.

    Returns
    -------
    Projection
        The identity (labelled with the feature names) when the model has at most two
        features, otherwise the first two principal components.
    """
    weights, means, covs = _mixture(model)
    d = means.shape[1]
    if d <= 2:
        return Projection.identity(_feature_labels(model, d))
    Xa = _as_data(model, X)
    if Xa is not None and Xa.shape[0] >= 2:
        return data_pca(Xa, label=_PC_LABEL)
    return mixture_pca(weights, means, covs, label=_PC_LABEL)


# ---------------------------------------------------------------------------- helpers


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, new = plt.subplots()
    return new


def _rgba(value: Any) -> Color:
    r, g, b, a = (float(c) for c in value)
    return (r, g, b, a)


def _component_colors(k: int) -> list[Color]:
    if k <= 10:
        return [_rgba(matplotlib.colormaps["tab10"](i)) for i in range(k)]
    if k <= 20:
        return [_rgba(matplotlib.colormaps["tab20"](i)) for i in range(k)]
    return [_rgba(c) for c in matplotlib.colormaps["turbo"](np.linspace(0.0, 1.0, k))]


def _marker_size(n: int) -> float:
    return float(np.clip(3000.0 / max(n, 1), 2.0, 25.0))


def _set_labels(ax: Axes, projection: Projection) -> None:
    ax.set_xlabel(projection.labels[0])
    if len(projection.labels) > 1:
        ax.set_ylabel(projection.labels[1])


def ellipse_geometry(covariance: ArrayLike, n_std: float) -> tuple[float, float, float]:
    """Width, height and angle (degrees) of the ``n_std`` ellipse of a 2-D covariance.

    The ellipse ``{x : x^T S^-1 x = n_std^2}`` has axes along the eigenvectors of ``S``,
    of full lengths ``2 n_std sqrt(eigenvalue)``; ``width`` is the major axis and
    ``angle`` its direction from the first axis (as :class:`matplotlib.patches.Ellipse`):
    :func:`gaussmix.geometry.ellipse_axes` in matplotlib's terms.
    """
    a, b, angle = ellipse_axes(covariance)
    return float(2.0 * n_std * a), float(2.0 * n_std * b), float(np.degrees(angle))


def _density_components(model: Any) -> tuple[Array, Array, Array, Array | None]:
    """Weights, means, dense covariances (k, d, d) and degrees of freedom (``None``:
    Gaussian) of the components of a model's density: a Bayesian mixture's predictive
    Student-t components."""
    predictive = getattr(model, "predictive_parameters", None)
    if predictive is not None:
        weights, means, scales, dof = predictive()
        return weights, means, scales, dof
    return (*_mixture(model), None)


def _shown_components(model: Any, k: int) -> list[int]:
    """The components drawn: a Bayesian mixture's effective ones, or all."""
    return [int(j) for j in getattr(model, "effective_components_", range(k))]


def _mixture_log_density(
    points: Array, weights: Array, means: Array, covs: Array, dof: Array | None = None
) -> Array:
    """Log-density of a mixture with dense covariances (scale matrices) at ``points``
    (n, d): Gaussian, or Student-t with ``dof`` degrees of freedom."""
    n, d = points.shape
    k = len(weights)
    parts = np.full((n, k), -np.inf)
    with np.errstate(divide="ignore"):
        log_w = np.log(weights / weights.sum())
    for j in range(k):
        if not np.isfinite(log_w[j]):
            continue
        low = np.linalg.cholesky(covs[j])
        z = solve_triangular(low, (points - means[j]).T, lower=True)
        quad = np.einsum("ij,ij->j", z, z)
        if dof is None:
            log_kernel = -0.5 * quad - 0.5 * d * np.log(2.0 * np.pi)
        else:
            nu = dof[j]
            log_kernel = (
                gammaln(0.5 * (nu + d)) - gammaln(0.5 * nu) - 0.5 * d * np.log(nu * np.pi)
                - 0.5 * (nu + d) * np.log1p(quad / nu)
            )  # fmt: skip
        parts[:, j] = log_w[j] + log_kernel - np.log(np.diagonal(low)).sum()
    return np.asarray(logsumexp(parts, axis=1))


# ---------------------------------------------------------------------------- ellipses


@dataclass
class EllipsePlot:
    """What :func:`plot_ellipses` drew.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    ellipses : list of matplotlib.patches.Ellipse
        ``n_components * len(n_std)`` patches, component-major: component ``j``'s ellipse
        for ``n_std[i]`` is ``ellipses[j * len(n_std) + i]`` (for a Bayesian mixture, ``j``
        counts its effective components only).
    means : matplotlib.collections.PathCollection
        The component means (crosses).
    points : matplotlib.collections.PathCollection or None
        The data, when ``X`` was given.
    labels : ndarray of shape (n_samples,) or None
        The most probable component of each row of ``X`` (the points' colours).
    projection : Projection
    """

    ax: Axes
    ellipses: list[Ellipse]
    means: PathCollection
    points: PathCollection | None
    labels: NDArray[np.intp] | None
    projection: Projection


def plot_ellipses(
    model: GaussianMixture,
    X: ArrayLike | None = None,
    ax: Axes | None = None,
    *,
    n_std: Sequence[float] = (1, 2, 3),
    alpha: float = 0.25,
    legend: bool = True,
) -> EllipsePlot:
    """Component ellipses over the data, points coloured by their most probable component.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture with at least two features.
    X : array-like of shape (n_samples, n_features), optional
        Data to scatter (and to define the principal components when ``n_features > 2``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    n_std : sequence of float, default=(1, 2, 3)
        Mahalanobis radii of the ellipses drawn for every component.
    alpha : float, default=0.25
        Opacity of the innermost ellipse's fill; outer ones are fainter.
    legend : bool, default=True
        Add a legend with each component's weight (only up to 10 components).

    Returns
    -------
    EllipsePlot

    Raises
    ------
    ValueError
        If the model has a single feature (use :func:`plot_density`), or ``n_std`` is empty
        or not positive.
    """
    weights, means, covs = _mixture(model)
    k, d = means.shape
    if d < 2:
        raise ValueError(
            "plot_ellipses needs at least two features (this model has one); use "
            "plot_density for a one-dimensional mixture."
        )
    radii = [float(r) for r in n_std]
    if not radii or not all(np.isfinite(r) and r > 0 for r in radii):
        raise ValueError(f"n_std must hold positive numbers; got {n_std!r}.")
    Xa = _as_data(model, X)
    projection = pca_projection(model, Xa)
    ax = _axes(ax)
    colors = _component_colors(k)
    means2 = projection.points(means)
    covs2 = projection.covariances(covs)

    points = labels = None
    if X is not None and Xa is not None:
        labels = np.asarray(model.predict(X))
        pts = projection.points(Xa)
        points = ax.scatter(
            pts[:, 0],
            pts[:, 1],
            c=np.asarray(colors)[labels],
            s=_marker_size(len(pts)),
            alpha=0.6,
            linewidths=0,
            zorder=1,
        )

    ellipses: list[Ellipse] = []
    order = np.argsort(radii)
    shown = _shown_components(model, k)
    for j in shown:
        for i, r in enumerate(radii):
            width, height, angle = ellipse_geometry(covs2[j], r)
            fade = alpha / (1 + int(np.flatnonzero(order == i)[0]))
            patch = Ellipse(
                (float(means2[j, 0]), float(means2[j, 1])),
                width,
                height,
                angle=angle,
                facecolor=(*colors[j][:3], fade),
                edgecolor=colors[j],
                linewidth=1.2,
                zorder=2,
            )
            ax.add_patch(patch)
            ellipses.append(patch)
    mean_marks = ax.scatter(
        means2[shown, 0], means2[shown, 1], c=[colors[j] for j in shown], marker="x", s=60,
        linewidths=2, zorder=3,
    )  # fmt: skip
    ax.autoscale_view()
    _set_labels(ax, projection)
    ax.set_title(f"{len(shown)} components, {model.covariance_type} covariances")
    if legend and len(shown) <= 10:
        handles = [
            Line2D(
                [], [], ls="", marker="o", color=colors[j], label=f"{j}: weight {weights[j]:.2f}"
            )
            for j in shown
        ]
        ax.legend(handles=handles, title="component", fontsize="small", loc="best")
    return EllipsePlot(ax, ellipses, mean_marks, points, labels, projection)


# ---------------------------------------------------------------------------- criteria


@dataclass
class CriteriaPlot:
    """What :func:`plot_criteria` drew.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    lines : dict
        ``(covariance_type, criterion) -> Line2D`` (criterion ``"bic"``, ``"aic"`` or
        ``"icl"``);
        candidates that failed to fit are left out of the lines.
    best_marker : matplotlib.lines.Line2D
        The star on the chosen model: at ``(best["n_components"], best[criterion])`` with
        the selection's criterion when it is drawn, otherwise the drawn one.
    best : dict
        The chosen row (``selection_result.best``).
    """

    ax: Axes
    lines: dict[tuple[str, str], Line2D]
    best_marker: Line2D
    best: dict[str, Any]


def plot_criteria(
    selection_result: SelectionResult,
    ax: Axes | None = None,
    *,
    criterion: str = "both",
) -> CriteriaPlot:
    """BIC and/or AIC against the number of components, one line per covariance type.

    Parameters
    ----------
    selection_result : SelectionResult
        The result of :func:`gaussmix.select_model`.
    ax : matplotlib.axes.Axes, optional
    criterion : {"both", "bic", "aic", "icl"}, default="both"
        Which criterion to draw; with ``"both"`` BIC lines are solid and AIC dashed, in the
        same colour for a covariance type.

    Returns
    -------
    CriteriaPlot
    """
    if criterion not in ("both", "bic", "aic", "icl"):
        raise ValueError(f"criterion must be 'both', 'bic', 'aic' or 'icl'; got {criterion!r}.")
    shown = ["bic", "aic"] if criterion == "both" else [criterion]
    ax = _axes(ax)
    types = list(dict.fromkeys(r["covariance_type"] for r in selection_result.rows))
    known = [t for t in REGISTRY if t in types] + [t for t in types if t not in REGISTRY]
    colors = _component_colors(len(known))
    style = {"bic": ("-", "o"), "aic": ("--", "s"), "icl": (":", "^")}
    lines: dict[tuple[str, str], Line2D] = {}
    for t, color in zip(known, colors, strict=True):
        rows = sorted(
            (r for r in selection_result.rows if r["covariance_type"] == t and r["error"] is None),
            key=lambda r: r["n_components"],
        )
        if not rows:
            continue
        ks = [r["n_components"] for r in rows]
        for c in shown:
            ls, marker = style[c]
            label = f"{t} ({c.upper()})" if len(shown) > 1 else t
            (line,) = ax.plot(
                ks, [r[c] for r in rows], ls=ls, marker=marker, ms=4, color=color, label=label
            )
            lines[(t, c)] = line
    best = selection_result.best
    mark = selection_result.criterion if selection_result.criterion in shown else shown[0]
    (best_marker,) = ax.plot(
        [best["n_components"]],
        [best[mark]],
        ls="",
        marker="*",
        ms=16,
        color="black",
        zorder=5,
        label=(
            f"chosen by {selection_result.criterion.upper()}: "
            f"k={best['n_components']}, {best['covariance_type']}"
        ),
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of components")
    ylabel = "BIC / AIC" if len(shown) > 1 else shown[0].upper()
    ax.set_ylabel(f"{ylabel} (lower is better)")
    ax.set_title("Model selection")
    ax.legend(fontsize="small", loc="best")
    return CriteriaPlot(ax, lines, best_marker, best)


# ---------------------------------------------------------------------------- convergence


@dataclass
class ConvergencePlot:
    """What :func:`plot_convergence` drew.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    line : matplotlib.lines.Line2D
        ``history_`` against the iteration number (1, 2, ...).
    """

    ax: Axes
    line: Line2D


def plot_convergence(model: GaussianMixture, ax: Axes | None = None) -> ConvergencePlot:
    """Mean log-likelihood per sample (a Bayesian mixture's lower bound) at every iteration
    of the retained start.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture (its ``history_``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    ConvergencePlot

    Raises
    ------
    ValueError
        If no iteration was recorded (``max_iter=0``).
    """
    check_is_fitted(model, "means_")
    history = np.asarray(getattr(model, "history_", []), dtype=np.float64)
    if history.size == 0:
        raise ValueError(
            "The model recorded no EM iteration (history_ is empty, e.g. max_iter=0); "
            "there is nothing to plot."
        )
    ax = _axes(ax)
    (line,) = ax.plot(np.arange(1, history.size + 1), history, marker="o", ms=3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    bayesian = hasattr(model, "weight_concentration_")
    ax.set_xlabel("iteration" if bayesian else "EM iteration")
    ax.set_ylabel("lower bound" if bayesian else "mean log-likelihood per sample")
    state = "converged" if getattr(model, "converged_", False) else "not converged"
    method = "Variational inference" if bayesian else "EM"
    ax.set_title(f"{method}: {state} after {history.size} iterations")
    return ConvergencePlot(ax, line)


# ---------------------------------------------------------------------------- uncertainty


@dataclass
class UncertaintyPlot:
    """What :func:`plot_uncertainty` drew.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    points : matplotlib.collections.PathCollection
        The rows of ``X`` (most uncertain drawn last, on top).
    colorbar : matplotlib.colorbar.Colorbar or None
    uncertainty : ndarray of shape (n_samples,)
        ``1 - max_j p(j | x)`` per row, in the order of ``X``.
    projection : Projection
    """

    ax: Axes
    points: PathCollection
    colorbar: Colorbar | None
    uncertainty: Array
    projection: Projection


def plot_uncertainty(
    model: GaussianMixture,
    X: ArrayLike,
    ax: Axes | None = None,
    *,
    cmap: str = "viridis",
    colorbar: bool = True,
) -> UncertaintyPlot:
    """Points shaded by the uncertainty of their classification, ``1 - max membership``.

    The colour scale runs from 0 (certain) to ``1 - 1/k``, the largest possible value;
    uncertain points are also drawn larger, and on top.  With a single feature, the
    uncertainty is plotted against the feature.

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture.
    X : array-like of shape (n_samples, n_features)
    ax : matplotlib.axes.Axes, optional
    cmap : str, default="viridis"
    colorbar : bool, default=True

    Returns
    -------
    UncertaintyPlot
    """
    _, means, _ = _mixture(model)
    k, d = means.shape
    Xa = _as_data(model, X)
    if Xa is None:
        raise ValueError("plot_uncertainty needs the data X.")
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    uncertainty = 1.0 - proba.max(axis=1)
    projection = pca_projection(model, Xa)
    pts = projection.points(Xa)
    order = np.argsort(uncertainty, kind="stable")
    ax = _axes(ax)
    vmax = 1.0 - 1.0 / k if k > 1 else 1.0
    y = pts[order, 1] if d >= 2 else uncertainty[order]
    points = ax.scatter(
        pts[order, 0],
        y,
        c=uncertainty[order],
        cmap=cmap,
        vmin=0.0,
        vmax=vmax,
        s=_marker_size(len(pts)) * (1.0 + 3.0 * uncertainty[order] / vmax),
        linewidths=0,
    )
    _set_labels(ax, projection)
    if d < 2:
        ax.set_ylabel("uncertainty")
    bar = None
    if colorbar:
        bar = ax.figure.colorbar(points, ax=ax, label="uncertainty (1 - max membership)")
    ax.set_title(f"Classification uncertainty (mean {uncertainty.mean():.3f})")
    return UncertaintyPlot(ax, points, bar, uncertainty, projection)


# ---------------------------------------------------------------------------- density


@dataclass
class DensityPlot:
    """What :func:`plot_density` drew.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    contours : matplotlib.contour.ContourSet or None
        Log-density contours (``None`` for one feature).
    curves : list of matplotlib.lines.Line2D
        One feature only: the mixture density, then each weighted component's.
    points : matplotlib.collections.PathCollection or None
        The data, when ``X`` was given (two or more features).
    colorbar : matplotlib.colorbar.Colorbar or None
    grid : tuple of ndarray
        ``(xx, yy, log_density)`` meshes for two or more features, ``(x, log_density)``
        for one.
    projection : Projection
    """

    ax: Axes
    contours: ContourSet | None
    curves: list[Line2D]
    points: PathCollection | None
    colorbar: Colorbar | None
    grid: tuple[Array, ...]
    projection: Projection


def _bounds(pts: Array | None, means: Array, covs: Array, pad: float = 0.05) -> tuple[Array, Array]:
    sd = np.sqrt(np.clip(np.diagonal(covs, axis1=1, axis2=2), 0.0, None))
    if pts is not None:
        lo, hi = pts.min(axis=0), pts.max(axis=0)
    else:
        lo, hi = (means - 3 * sd).min(axis=0), (means + 3 * sd).max(axis=0)
    span = np.where(hi > lo, hi - lo, np.maximum(sd.max(axis=0), 1.0))
    return lo - pad * span, hi + pad * span


def plot_density(
    model: GaussianMixture,
    X: ArrayLike | None = None,
    ax: Axes | None = None,
    *,
    levels: int | ArrayLike = 10,
    grid_size: int = 200,
    filled: bool = False,
    cmap: str = "viridis",
    colorbar: bool = True,
) -> DensityPlot:
    """Contours of the mixture's log-density on a grid (a density curve for one feature).

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture.
    X : array-like of shape (n_samples, n_features), optional
        Data to scatter (a histogram for one feature); the grid covers it.  Without it the
        grid covers every component's mean +- 3 standard deviations.
    ax : matplotlib.axes.Axes, optional
    levels : int or array-like, default=10
        Number of contour levels, evenly spaced in log-density over the 12 nats below the
        grid's maximum; or the log-density values themselves (increasing).
    grid_size : int, default=200
        Grid points per axis.
    filled : bool, default=False
        Filled contours instead of lines.
    cmap : str, default="viridis"
    colorbar : bool, default=True
        Add a colour bar of the contour levels.

    Returns
    -------
    DensityPlot
    """
    weights, means, covs, dof = _density_components(model)
    k, d = means.shape
    if isinstance(grid_size, bool) or not isinstance(grid_size, (int, np.integer)) or grid_size < 2:
        raise ValueError(f"grid_size must be an integer >= 2; got {grid_size!r}.")
    Xa = _as_data(model, X)
    projection = pca_projection(model, Xa)
    means_p = projection.points(means)
    covs_p = projection.covariances(covs)
    pts = None if Xa is None else projection.points(Xa)
    lo, hi = _bounds(pts, means_p, covs_p)
    ax = _axes(ax)

    if d == 1:
        x = np.linspace(lo[0], hi[0], grid_size)
        logd = _mixture_log_density(x[:, None], weights, means_p, covs_p, dof)
        if pts is not None:
            ax.hist(pts[:, 0], bins="auto", density=True, color=_GREY, alpha=0.3)
        curves = [ax.plot(x, np.exp(logd), color="black", lw=2, label="mixture")[0]]
        w = weights / weights.sum()
        colors = _component_colors(k)
        for j in _shown_components(model, k):
            color = colors[j]
            logc = _mixture_log_density(
                x[:, None], np.ones(1), means_p[j : j + 1], covs_p[j : j + 1],
                None if dof is None else dof[j : j + 1],
            )  # fmt: skip
            curves += ax.plot(x, w[j] * np.exp(logc), color=color, ls="--", label=f"component {j}")
        _set_labels(ax, projection)
        ax.set_ylabel("density")
        ax.set_title("Mixture density")
        if k <= 10:
            ax.legend(fontsize="small", loc="best")
        return DensityPlot(ax, None, curves, None, None, (x, logd), projection)

    gx = np.linspace(lo[0], hi[0], grid_size)
    gy = np.linspace(lo[1], hi[1], grid_size)
    xx, yy = np.meshgrid(gx, gy)
    logd = _mixture_log_density(
        np.column_stack([xx.ravel(), yy.ravel()]), weights, means_p, covs_p, dof
    ).reshape(xx.shape)
    top = float(logd.max())
    if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
        if levels < 1:
            raise ValueError(f"levels must be a positive integer or values; got {levels!r}.")
        floor = max(float(logd.min()), top - 12.0)
        values = np.linspace(floor, top, int(levels) + 2)[1:-1]
    else:
        values = np.sort(np.asarray(levels, dtype=np.float64).ravel())
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError("levels must be a positive integer or finite log-density values.")
    points = None
    if pts is not None:
        points = ax.scatter(
            pts[:, 0], pts[:, 1], s=_marker_size(len(pts)), color=_GREY, alpha=0.5,
            linewidths=0, zorder=1,
        )  # fmt: skip
    draw = ax.contourf if filled else ax.contour
    extra: dict[str, Any] = {"alpha": 0.8} if filled else {"linewidths": 1.2}
    contours = draw(xx, yy, logd, levels=values, cmap=cmap, zorder=2, **extra)
    bar = ax.figure.colorbar(contours, ax=ax, label="log-density") if colorbar else None
    _set_labels(ax, projection)
    title = "Mixture log-density"
    ax.set_title(title if projection.is_identity else title + " (projected)")
    return DensityPlot(ax, contours, [], points, bar, (xx, yy, logd), projection)


# ---------------------------------------------------------------------------- anomalies


@dataclass
class AnomalyPlot:
    """What :func:`plot_anomalies` drew.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    scores : ndarray of shape (n_samples,)
        ``model.score_samples(X)``.
    threshold : float
        The ``quantile`` of the scores.
    flagged : ndarray of bool, shape (n_samples,)
        Rows with ``score <= threshold``.
    n_flagged : int
    threshold_line : matplotlib.lines.Line2D
        Vertical line at ``threshold``.
    bars : list of matplotlib.container.BarContainer
        The stacked histogram: kept rows, then flagged rows.
    text : matplotlib.text.Text
        The annotation with the count flagged.
    """

    ax: Axes
    scores: Array
    threshold: float
    flagged: NDArray[np.bool_]
    n_flagged: int
    threshold_line: Line2D
    bars: list[BarContainer]
    text: Text


def plot_anomalies(
    model: GaussianMixture,
    X: ArrayLike,
    ax: Axes | None = None,
    *,
    quantile: float = 0.01,
    bins: int | str = 50,
) -> AnomalyPlot:
    """Histogram of the log-density of each row, with the low-density threshold.

    Rows whose ``score_samples`` is at most the ``quantile`` of all scores are flagged
    (drawn in red, and counted on the plot).

    Parameters
    ----------
    model : GaussianMixture
        A fitted mixture.
    X : array-like of shape (n_samples, n_features)
    ax : matplotlib.axes.Axes, optional
    quantile : float, default=0.01
        Share of rows to flag, strictly between 0 and 1.
    bins : int or str, default=50
        Passed to :func:`numpy.histogram_bin_edges`.

    Returns
    -------
    AnomalyPlot
    """
    q = float(quantile)
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be strictly between 0 and 1; got {quantile!r}.")
    check_is_fitted(model, "means_")
    scores = np.asarray(model.score_samples(X), dtype=np.float64)
    threshold = float(np.quantile(scores, q))
    flagged = scores <= threshold
    n_flagged = int(flagged.sum())
    ax = _axes(ax)
    edges = np.histogram_bin_edges(scores, bins=bins)
    _, _, bars = ax.hist(
        [scores[~flagged], scores[flagged]],
        bins=edges.tolist(),
        stacked=True,
        color=[_GREY, _RED],
        label=["kept", "flagged"],
    )
    line = ax.axvline(
        threshold, color=_RED, ls="--", lw=1.5, label=f"{q:.1%} quantile = {threshold:.3g}"
    )
    text = ax.text(
        0.02,
        0.95,
        f"{n_flagged} of {scores.size} rows flagged",
        transform=ax.transAxes,
        va="top",
        ha="left",
    )
    ax.set_xlabel("log-density (score_samples)")
    ax.set_ylabel("rows")
    ax.set_title("Anomaly scores")
    ax.legend(fontsize="small", loc="upper right")
    containers = cast("list[BarContainer]", bars)  # stacked: one container per data set
    return AnomalyPlot(ax, scores, threshold, flagged, n_flagged, line, containers, text)


__all__ = [
    "AnomalyPlot",
    "ConvergencePlot",
    "CriteriaPlot",
    "DensityPlot",
    "EllipsePlot",
    "Projection",
    "UncertaintyPlot",
    "ellipse_geometry",
    "pca_projection",
    "plot_anomalies",
    "plot_convergence",
    "plot_criteria",
    "plot_density",
    "plot_ellipses",
    "plot_uncertainty",
]
