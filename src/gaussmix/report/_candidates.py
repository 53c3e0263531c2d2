"""Every candidate of the model selection, ready to be drawn: parameters, criteria, anomalies.

Each fitted candidate of :func:`gaussmix.select_model` (any covariance model the registry
has) becomes one entry: its row of the selection table (every criterion the table has,
ICL included when present), its parameters packed for the page and, for the anomaly
slider, the log-density thresholds at quantiles 0 %, 0.1 %, ..., 10 % of its
``score_samples`` over every row with the number of rows below each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..mixture import GaussianMixture
from ..selection import SelectionResult
from ._encoding import DisplayFrame, encode_state, noise_of

Array = NDArray[np.float64]

#: the anomaly slider moves over quantiles 0 %, 0.1 %, ..., 10 % of ``score_samples``
ANOMALY_PERMILLE = tuple(range(101))
#: the slider's opening position (2 %)
ANOMALY_DEFAULT_STEP = 20
#: the selection table's criteria, in the order the page shows them (those it has)
CRITERIA = ("bic", "aic", "icl")


def anomaly_cuts(scores: Array, permille: tuple[int, ...] = ANOMALY_PERMILLE) -> dict[str, Any]:
    """Thresholds on the log-density and the number of rows below each.

    Step ``m`` flags the ``count[m]`` rows whose score is strictly below the ``m / 1000``
    quantile of ``scores``.  Its threshold ``cut[m]`` is the midpoint between the highest
    flagged score and the lowest other one: it flags the same rows, with room for the
    page's float32 arithmetic (``None`` when no row is flagged).
    """
    order = np.sort(scores)
    thresholds = np.quantile(scores, np.asarray(permille) / 1000)
    counts = np.searchsorted(order, thresholds, side="left")
    cuts = [None if c == 0 else float((order[c - 1] + order[c]) / 2) for c in counts.tolist()]
    return {
        "cut": [None if c is None else float(f"{c:.7g}") for c in cuts],
        "count": counts.astype(int).tolist(),
    }


def criteria_of(result: SelectionResult) -> list[str]:
    """The criteria the selection table has, of :data:`CRITERIA`."""
    return [c for c in CRITERIA if result.rows and c in result.rows[0]]


def candidate_entries(
    X: Array, result: SelectionResult, frame: DisplayFrame
) -> list[dict[str, Any]]:
    """One entry per row of the selection table (a failed candidate has no state)."""
    names = criteria_of(result)
    entries = []
    models: list[GaussianMixture | None] = list(result.models) or [None] * len(result.rows)
    for row, model in zip(result.rows, models, strict=True):
        failed = row["error"] is not None or model is None
        entry: dict[str, Any] = {
            "k": int(row["n_components"]),
            "type": str(row["covariance_type"]),
            "params": int(row["n_parameters"]),
            "error": None if row["error"] is None else str(row["error"]),
            "converged": None if failed else bool(row["converged"]),
            "ll": None if failed else float(row["log_likelihood"]),
        }
        for c in names:
            value = row.get(c)
            entry[c] = None if failed or value is None else float(value)
        if not failed:
            assert model is not None
            entry["state"] = encode_state(
                model.covariance_type, model.weights_, model.means_, model.covariances_, frame,
                noise_of(model),
            )  # fmt: skip
            entry["anomaly"] = anomaly_cuts(np.asarray(model.score_samples(X), np.float64))
        entries.append(entry)
    return entries
