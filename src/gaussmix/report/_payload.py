"""The numbers behind the HTML report, gathered into the one JSON document the page reads.

Every fit is made here, in Python: the model selection (each candidate,
:mod:`._candidates`), EM from each start the reader can pick (:mod:`._replays`), the
demonstrations of how clustering fails (:mod:`._failures`), and what is drawn of the data
(:mod:`._display`).  The page does no fitting: it evaluates the embedded mixtures at the
drawn points (memberships, log-densities, contours) and maps numbers to pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils import check_array

from .. import _validation as v
from ..mixture import GaussianMixture
from ..selection import SelectionResult, select_model
from ._candidates import ANOMALY_DEFAULT_STEP, ANOMALY_PERMILLE, candidate_entries, criteria_of
from ._display import dataset, display_rows
from ._failures import Source, failure_modes
from ._replays import em_replays, estimator, fit_recorded

Array = NDArray[np.float64]


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


@dataclass
class ReportData:
    """Everything the report shows; ``payload`` is the JSON document embedded in the page.

    ``X`` holds NaN where values are missing; ``filled`` is ``X`` with them imputed by the
    chosen model (conditional expectations; ``X`` itself when complete), and ``tails`` each
    row's tail probability under it when some row is incomplete (else None).
    """

    X: Array
    names: list[str]
    result: SelectionResult
    model: GaussianMixture
    scores: Array
    payload: dict[str, Any]
    filled: Array
    tails: Array | None = None

    @property
    def missing(self) -> NDArray[np.bool_]:
        return np.isnan(self.X)


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
    """Select the model, replay EM, demonstrate failures, and build the page's document."""
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)):
        raise TypeError(f"max_points must be a positive int; got {max_points!r}.")
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1; got {max_points}.")
    v.precheck_X(X, allow_nan=True)
    Xa = np.asarray(
        check_array(X, dtype=np.float64, ensure_min_samples=2, ensure_all_finite="allow-nan"),
        dtype=np.float64,
    )
    n, d = Xa.shape
    names = column_names(X, columns, d)
    seed = resolve_seed(random_state)

    result = select_model(
        Xa, n_components, covariance_types, criterion=criterion, random_state=seed
    )
    k = int(result.best["n_components"])
    ct = str(result.best["covariance_type"])
    # the chosen model again, recording EM: the same fit as the selection's (same seed)
    chosen = fit_recorded(estimator("default", k, ct, seed), Xa)
    model = chosen[0]
    scores = np.asarray(model.score_samples(Xa), np.float64)
    # rows with missing values are drawn where the chosen model expects them, and the page
    # evaluates every mixture on their observed columns
    missing = np.isnan(Xa)
    incomplete = bool(missing.any())
    filled = np.asarray(model.impute(Xa), np.float64) if incomplete else Xa
    tails = np.asarray(model.tail_probability(Xa)) if incomplete else None

    rows, statement = display_rows(np.asarray(model.predict(Xa)), max_points)
    data, frame = dataset(filled, names, rows, statement, missing if incomplete else None)
    candidates = candidate_entries(Xa, result, frame)
    replays = em_replays(Xa, k, ct, seed, frame, chosen)
    fitted = {
        (str(r["covariance_type"]), int(r["n_components"])): m
        for r, m in zip(result.rows, result.models, strict=False)
        if m is not None
    }
    # k-means and the demonstrations' refits need complete rows: the imputed ones
    failures, extra = failure_modes(Source("user", filled, frame, model, rows, seed, fitted))
    if incomplete:
        for entry in failures:
            if entry.get("data") == "user":
                entry["source"] = (
                    "On your data, its missing values filled with the chosen model's "
                    "conditional expectations."
                )

    payload: dict[str, Any] = {
        "title": title,
        "n": n,
        "d": d,
        "columns": names,
        "random_state": seed,
        "criterion": criterion,
        "criteria": criteria_of(result),
        "chosen": result.best_index,
        "data": data,
        "datasets": extra,
        "candidates": candidates,
        "anomaly": {"permille": list(ANOMALY_PERMILLE), "default": ANOMALY_DEFAULT_STEP},
        "replays": replays,
        "failures": failures,
    }
    if incomplete:
        payload["incomplete"] = {
            "rows": int(missing.any(axis=1).sum()),
            "cells": int(missing.sum()),
            "empty": int(missing.all(axis=1).sum()),
        }
    return ReportData(Xa, names, result, model, scores, payload, filled, tails)
