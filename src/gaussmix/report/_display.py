"""What the page draws of a data set: which rows, on which axes.

* :func:`display_rows`: every row, or a sample stratified by the chosen model's components
  when there are more than ``max_points`` (the statistics always use every row);
* :func:`projection_axes`: the axes the reader can put on x and y — the principal
  components of the data (when ``d > 2``) and every feature — each a linear function of the
  frame coordinates, so that the page projects points and covariances (``a Sigma bᵀ``)
  exactly (:mod:`gaussmix.geometry` does the same arithmetic in Python);
* :func:`dataset`: the points and axes of one data set, for the page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..geometry import PC_LABEL, data_pca
from ._encoding import DisplayFrame, pack

Array = NDArray[np.float64]

#: seed of the sample of displayed rows (fixed: the same data always shows the same rows)
DISPLAY_SEED = 0
#: a component keeps at least this many drawn rows (or all its rows) in a stratified sample
MIN_PER_COMPONENT = 20
#: principal components offered as axes (when d > 2)
MAX_PCS = 4


def display_rows(labels: NDArray[np.integer], max_points: int) -> tuple[NDArray[np.intp], str]:
    """The rows drawn, and how they were chosen (one sentence).

    Parameters
    ----------
    labels : ndarray of shape (n,)
        Each row's most probable component under the chosen model (the strata).
    max_points : int
        At most this many rows are drawn.

    Returns
    -------
    rows : ndarray
        Sorted row indices.
    statement : str
        Empty when every row is drawn.
    """
    n = labels.shape[0]
    if n <= max_points:
        return np.arange(n), ""
    strata = [np.flatnonzero(labels == j) for j in np.unique(labels)]
    counts = np.array([len(s) for s in strata])
    quota = max_points * counts / n
    take = np.minimum(counts, np.maximum(np.floor(quota), MIN_PER_COMPONENT)).astype(int)
    floor = np.minimum(counts, MIN_PER_COMPONENT)
    while take.sum() > max_points:  # the minimums overshot: trim the largest strata
        above = take > floor
        take[int(np.argmax(np.where(above, take, -1) if above.any() else take))] -= 1
    order = [j for j in np.argsort(-(quota - np.floor(quota)), kind="stable")]
    turn = 0
    while take.sum() < max_points:  # short by the rounding: largest remainders first
        j = order[turn % len(order)]
        if take[j] < counts[j]:
            take[j] += 1
        turn += 1
    rng = np.random.default_rng(DISPLAY_SEED)
    rows = np.sort(
        np.concatenate([rng.choice(s, t, replace=False) for s, t in zip(strata, take, strict=True)])
    )
    statement = (
        f"Showing {max_points:,} of the {n:,} rows: a random sample stratified by the chosen "
        "model's most probable component (each component keeps its share of the rows, and at "
        f"least {MIN_PER_COMPONENT}). Counts, thresholds and criteria use every row."
    )
    return rows, statement


def projection_axes(X: Array, names: list[str], frame: DisplayFrame) -> list[dict[str, Any]]:
    """The axes offered: principal components (d > 2), then every feature.

    An axis's value at frame coordinates ``z`` is ``offset + vec · z`` in user units: a
    feature's ``vec`` is its scale on that coordinate and its ``offset`` its centre; a
    principal component's is ``W_i * scale`` (the data's centre is the frame's).
    """
    d = X.shape[1]
    axes: list[dict[str, Any]] = []
    if d > 2:
        pca = data_pca(X, n_axes=min(MAX_PCS, d), label=PC_LABEL)
        ratio = pca.explained_variance_ratio
        assert ratio is not None
        for i, row in enumerate(pca.components):
            axes.append(
                {
                    "label": pca.labels[i],
                    "short": f"PC{i + 1}",
                    "kind": "pc",
                    "vec": (row * frame.scale).tolist(),
                    "offset": float(row @ (frame.centre - pca.centre)),
                    "explained": float(ratio[i]),
                }
            )
    for i, name in enumerate(names):
        axes.append({"label": name, "short": name, "kind": "feature", "index": i})
    return axes


def histogram(x: Array) -> dict[str, Any]:
    """Bins of one column (the density view's background)."""
    edges = np.histogram_bin_edges(x, bins="auto")
    if len(edges) > 61:
        edges = np.histogram_bin_edges(x, bins=60)
    heights, edges = np.histogram(x, bins=edges, density=True)
    return {"edges": edges.tolist(), "heights": heights.tolist()}


def dataset(
    X: Array,
    names: list[str],
    rows: NDArray[np.intp],
    statement: str = "",
    missing: NDArray[np.bool_] | None = None,
) -> tuple[dict[str, Any], DisplayFrame]:
    """The page's description of a data set: frame, drawn rows, their coordinates, axes.

    ``X`` is complete; ``missing`` (n, d) marks the values that were missing (``X`` holds
    their imputations): the page evaluates those rows on their observed columns and marks
    them.
    """
    frame = DisplayFrame.for_data(X)
    d = X.shape[1]
    out: dict[str, Any] = {
        "n": int(X.shape[0]),
        "d": int(d),
        "columns": names,
        **frame.describe(),
        "rows": rows.tolist(),
        "z": pack(frame.to_frame(X[rows])),
        "axes": projection_axes(X, names, frame),
        "sample": statement,
    }
    if d == 1:
        out["histogram"] = histogram(X[:, 0])
    if missing is not None and missing[rows].any():
        drawn = missing[rows]
        incomplete = np.flatnonzero(drawn.any(axis=1))
        out["missing"] = {
            "points": incomplete.tolist(),  # positions among the drawn rows
            "columns": [np.flatnonzero(drawn[i]).tolist() for i in incomplete],
        }
    return out, frame
