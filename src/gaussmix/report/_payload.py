"""The numbers behind the HTML report: model selection, EM snapshots, projection, anomalies.

Everything the page draws is computed here, in Python, and handed to the page as one JSON
document; the page's JavaScript only maps numbers to pixels.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array

from .. import _validation as v
from ..covariance import get_family
from ..geometry import PC_LABEL, Projection, data_pca, ellipse_axes
from ..mixture import GaussianMixture
from ..model_state import ModelState
from ..multistart import FitEvent
from ..selection import SelectionResult, select_model

Array = NDArray[np.float64]

#: seed of the subsample of displayed points and of the 1-D jitter (fixed: the same data
#: always shows the same points, whatever ``random_state``)
DISPLAY_SEED = 0
#: the anomaly slider moves over quantiles 0 %, 0.1 %, ..., 10 % of ``score_samples``
ANOMALY_STEPS = 101
ANOMALY_PERMILLE_PER_STEP = 1
#: characters used to encode component indices (base 36)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
#: significant digits of the floats written to the page
SIGNIFICANT = 5


def rounded(value: Any, digits: int = SIGNIFICANT) -> Any:
    """Round floats (scalars or nested arrays) to ``digits`` significant digits for JSON.

    Non-finite values become ``None`` (JSON ``null``); integers and strings pass through.
    """
    if isinstance(value, (list, tuple)):
        return [rounded(x, digits) for x in value]
    if isinstance(value, np.ndarray):
        return rounded(value.tolist(), digits)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return float(f"{x:.{digits}g}") if np.isfinite(x) else None
    return value


def resolve_seed(random_state: Any) -> int:
    """An int seed, so that model selection and the recorded re-fit make the same fit.

    ``None`` draws fresh entropy once; a ``RandomState`` or ``Generator`` is drawn from once.
    """
    v.random_state("random_state", random_state)
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    return int(v.as_random_state(random_state).randint(2**31 - 1))


def column_names(X: Any, columns: Sequence[str] | None, d: int) -> list[str]:
    """The feature names: ``columns``, else a data frame's columns, else ``x0, x1, ...``."""
    if columns is None:
        frame_columns = getattr(X, "columns", None)
        names = [str(c) for c in frame_columns] if frame_columns is not None else []
        return names if len(names) == d else [f"x{j}" for j in range(d)]
    if isinstance(columns, str):
        raise TypeError(f"columns must be a sequence of {d} names, not a string ({columns!r}).")
    names = [str(c) for c in columns]
    if len(names) != d:
        raise ValueError(f"columns has {len(names)} names but X has {d} columns; pass {d} names.")
    return names


@dataclass(frozen=True)
class View:
    """How the d features are drawn in two dimensions.

    Attributes
    ----------
    kind : {"density", "features", "pca"}
        ``"density"`` (d == 1): the value on x, the mixture density on y; ``"features"``
        (d == 2): the two columns; ``"pca"`` (d > 2): the first two principal components.
    projection : Projection
        The map onto the axes (the identity for ``"density"`` and ``"features"``).
    """

    kind: str
    projection: Projection

    @classmethod
    def for_data(cls, X: Array, names: list[str]) -> View:
        """The view of ``X``: see :attr:`kind`."""
        d = X.shape[1]
        if d == 1:
            return cls("density", Projection.identity(names))
        if d == 2:
            return cls("features", Projection.identity(names))
        return cls("pca", data_pca(X, label=PC_LABEL))

    @property
    def labels(self) -> list[str]:
        """Axis labels (x, then y)."""
        return [*self.projection.labels, *(["density"] if self.kind == "density" else [])]

    @property
    def explained(self) -> list[float]:
        """Fraction of the total variance along each axis (``"pca"`` only, else empty)."""
        ratio = self.projection.explained_variance_ratio
        return [] if ratio is None else [float(r) for r in ratio]

    def geometry(self, means: Array, dense_cov: Array) -> list[list[float]]:
        """Per component: ``[mean, sd]`` (1-D) or the ellipse ``[cx, cy, a, b, angle]``.

        ``a >= b`` are the one-sigma semi-axes of the projected covariance ``W S Wᵀ`` and
        ``angle`` (radians) the direction of the ``a`` axis, in data units.
        """
        centres = self.projection.points(means)
        covs = self.projection.covariances(dense_cov)
        if self.kind == "density":
            return [
                [float(c[0]), float(np.sqrt(max(S[0, 0], 0.0)))]
                for c, S in zip(centres, covs, strict=True)
            ]
        return [
            [float(c[0]), float(c[1]), *ellipse_axes(S)] for c, S in zip(centres, covs, strict=True)
        ]


def probe_model(
    covariance_type: str, weights: Array, means: Array, covariances: Array
) -> GaussianMixture:
    """A fitted :class:`GaussianMixture` with the given parameters (user units).

    Used to evaluate responsibilities under the parameters of one EM iteration exactly as
    the library evaluates a fitted model.
    """
    state = ModelState.from_covariances(covariance_type, weights, means, covariances)
    model: GaussianMixture = GaussianMixture.from_state(state)
    return model


def retained_run(
    events: list[FitEvent], history: Sequence[float]
) -> tuple[list[FitEvent], int, list[list[float]]]:
    """The events of the start that produced the fitted model, and every start's curve.

    Parameters
    ----------
    events : list of FitEvent
        Everything the fit reported, in order.
    history : sequence of float
        The fitted model's ``history_``, which ends with the kept start's iterations.

    Returns
    -------
    events : list of FitEvent
        The kept start's iterations in order: its short run (if any), then its run on all
        rows (if any).
    start : int
        Its index.
    curves : list of list of float
        Per start, the log-likelihood of each of its iterations (short and full phases).
    """
    if not events:
        return [], 0, []
    n_starts = max(e.n_starts for e in events)
    curves: list[list[float]] = [[] for _ in range(n_starts)]
    for e in events:
        curves[e.start].append(float(e.log_likelihood))
    full_starts = {e.start for e in events if e.phase == "full"}
    h = [float(x) for x in history]
    if any(e.phase == "short" for e in events) and full_starts:
        start = min(full_starts)  # only the winner of the short runs goes on to all rows
    else:
        # every start ran on the same rows: the kept one's curve ends with ``history_``
        matches = [
            s for s, c in enumerate(curves)
            if h and len(c) >= len(h) and np.allclose(c[len(c) - len(h):], h, rtol=1e-12, atol=0)
        ]  # fmt: skip
        finals = [c[-1] if c else -np.inf for c in curves]
        start = matches[0] if matches else int(np.argmax(finals))
    return [e for e in events if e.start == start], start, curves


def _encode(values: NDArray[np.integer], table: list[str]) -> str:
    """One string from fixed-width codes (``table[value]``) of small non-negative ints."""
    return "".join(map(table.__getitem__, values.tolist()))


def _label_table(k: int) -> tuple[list[str], int]:
    width = 1 if k <= len(_DIGITS) else 2
    codes = [
        "".join(_DIGITS[(j // len(_DIGITS) ** p) % len(_DIGITS)] for p in reversed(range(width)))
        for j in range(k)
    ]
    return codes, width


_PERCENT_TABLE = [f"{p:02d}" for p in range(100)]


@dataclass
class ReportData:
    """Everything the report shows; ``payload`` is the JSON document embedded in the page."""

    X: Array
    names: list[str]
    result: SelectionResult
    model: GaussianMixture
    scores: Array
    payload: dict[str, Any]


def _density_frame(
    x: Array, steps: list[dict[str, Any]], final_geometry: list[list[float]]
) -> dict[str, Any]:
    """Histogram of the data and the y range of the density view (d == 1)."""
    edges = np.histogram_bin_edges(x, bins="auto")
    if len(edges) > 61:
        edges = np.histogram_bin_edges(x, bins=60)
    heights, edges = np.histogram(x, bins=edges, density=True)
    lo, hi = float(x.min()), float(x.max())
    pad = 0.08 * (hi - lo) if hi > lo else 1.0
    grid = np.linspace(lo - pad, hi + pad, 400)

    def peak(step_w: list[float], geometry: list[list[float]]) -> float:
        total = np.zeros_like(grid)
        for w, (mu, sd) in zip(step_w, geometry, strict=True):
            if sd > 0:
                total += w * np.exp(-0.5 * ((grid - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
        return float(total.max())

    final_peak = max(peak(steps[-1]["w"], final_geometry), float(heights.max()))
    all_peaks = [peak(s["w"], s["g"]) for s in steps]
    ymax = min(max([final_peak, *all_peaks]), 2.5 * final_peak) * 1.08
    return {
        "edges": rounded(edges),
        "heights": rounded(heights),
        "xrange": rounded([lo - pad, hi + pad]),
        "ymax": rounded(ymax),
    }


def compute(
    X: ArrayLike,
    *,
    n_components: int | Iterable[int],
    covariance_types: str | Iterable[str],
    columns: Sequence[str] | None,
    random_state: Any,
    title: str | None,
    max_points: int,
    criterion: str = "bic",
) -> ReportData:
    """Select the model, re-fit it recording EM, and build the page's JSON document."""
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)):
        raise TypeError(f"max_points must be a positive int; got {max_points!r}.")
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1; got {max_points}.")
    v.precheck_X(X)
    Xa = np.asarray(check_array(X, dtype=np.float64, ensure_min_samples=2), dtype=np.float64)
    n, d = Xa.shape
    names = column_names(X, columns, d)
    seed = resolve_seed(random_state)

    result = select_model(
        Xa, n_components, covariance_types, criterion=criterion, random_state=seed
    )
    k = int(result.best["n_components"])
    ct = str(result.best["covariance_type"])
    events: list[FitEvent] = []
    model = GaussianMixture(k, covariance_type=ct, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Xa, callback=events.append)
    run, retained, curves = retained_run(events, model.history_)
    family = get_family(ct)
    scores = np.asarray(model.score_samples(Xa), np.float64)

    # the displayed points: all rows, or a fixed-seed subsample of max_points
    rng = np.random.default_rng(DISPLAY_SEED)
    shown = np.arange(n) if n <= max_points else np.sort(rng.choice(n, max_points, False))
    Xs = Xa[shown]
    view = View.for_data(Xa, names)
    pts = view.projection.points(Xs)
    codes, width = _label_table(k)

    def snapshot(source: GaussianMixture, info: dict[str, Any]) -> dict[str, Any]:
        proba = np.asarray(source.predict_proba(Xs), np.float64)
        top = np.minimum(np.rint(proba.max(axis=1) * 100), 99).astype(np.intp)
        dense = family.dense(np.asarray(source.covariances_, np.float64), k, d)
        geometry = view.geometry(np.asarray(source.means_, np.float64), dense)
        info.update(
            w=rounded(np.asarray(source.weights_, np.float64), 4),
            g=rounded(geometry),
            z=_encode(proba.argmax(axis=1), codes),
            p=_encode(top, _PERCENT_TABLE),
        )
        return info

    steps = [
        snapshot(
            probe_model(ct, e.weights, e.means, e.covariances),
            {
                "phase": e.phase,
                "iter": e.iteration,
                "rows": e.n_rows,
                "ll": rounded(e.log_likelihood, 8),
            },
        )
        for e in run
    ]
    steps.append(
        snapshot(
            model,
            {
                "phase": "fitted",
                "iter": model.n_iter_,
                "rows": n,
                "ll": rounded(model.score(Xa), 8),
            },
        )
    )

    # anomaly slider: thresholds at quantiles 0 %, 0.1 %, ..., 10 % of all rows' scores
    quantiles = np.arange(ANOMALY_STEPS) * ANOMALY_PERMILLE_PER_STEP / 1000
    thresholds = np.quantile(scores, quantiles)
    counts = [int(np.sum(scores < t)) for t in thresholds]
    flag_step = np.searchsorted(thresholds, scores[shown], side="right")

    if view.kind == "density":
        x = pts[:, 0]
        y = np.random.default_rng(DISPLAY_SEED + 1).uniform(0.1, 0.9, len(shown))
    else:
        x, y = pts[:, 0], pts[:, 1]

    def span(values: Array) -> list[float]:
        lo, hi = float(values.min()), float(values.max())
        pad = 0.06 * (hi - lo) if hi > lo else max(abs(lo), 1.0) * 0.1
        return [lo - pad, hi + pad]

    selection_rows = [
        {
            "k": int(r["n_components"]),
            "type": str(r["covariance_type"]),
            "bic": rounded(r["bic"], 8) if r["error"] is None else None,
            "aic": rounded(r["aic"], 8) if r["error"] is None else None,
        }
        for r in result.rows
    ]
    types = list(dict.fromkeys(str(r["covariance_type"]) for r in result.rows))
    payload: dict[str, Any] = {
        "title": title,
        "n": n,
        "d": d,
        "columns": names,
        "view": view.kind,
        "labels": view.labels,
        "explained": rounded(view.explained, 4),
        "chosen": {
            "k": k,
            "type": ct,
            "criterion": criterion,
            "converged": bool(model.converged_),
            "n_iter": int(model.n_iter_),
        },
        "random_state": seed,
        "points": {
            "index": shown.tolist(),
            "x": rounded(x),
            "y": rounded(y, 3),
            "xrange": rounded(span(x)),
            "yrange": rounded(span(y)) if view.kind != "density" else [0, 1],
        },
        "code_width": width,
        "starts": {"n": len(curves), "retained": retained, "curves": rounded(curves, 8)},
        "history": rounded(list(model.history_), 8),
        "steps": steps,
        "anomaly": {
            "permille": (quantiles * 1000).round().astype(int).tolist(),
            "threshold": rounded(thresholds, 6),
            "count": counts,
            "flag_step": flag_step.astype(int).tolist(),
            "default": 20,
        },
        "selection": {"criterion": criterion, "types": types, "rows": selection_rows,
                      "best": result.best_index},
    }  # fmt: skip
    if view.kind == "density":
        payload["density"] = _density_frame(Xa[:, 0], steps, steps[-1]["g"])
        payload["points"]["xrange"] = payload["density"]["xrange"]
    return ReportData(Xa, names, result, model, scores, payload)
