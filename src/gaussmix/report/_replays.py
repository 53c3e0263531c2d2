"""EM replayed from the starts the reader can pick, every iteration as EM had it.

For the chosen model (number of components and covariance model), each start — the
estimator's default (several starts raced, the winner continued) and every strategy of
:data:`gaussmix.init.INITIALIZERS` run alone — is fitted from a few seeds with the fit
callback (:class:`gaussmix.multistart.FitEvent`).  A replay keeps the events of the start
that produced the fitted model: the parameters of each E-step, in order, then the fitted
parameters (those after the last M-step), so the page can show each E-step (memberships
recomputed) and each M-step (parameters moved) as separate half-steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning

from ..init import INITIALIZERS
from ..mixture import GaussianMixture, SingularCovarianceWarning
from ..multistart import FitEvent
from ..strategy import DegenerateMixtureError
from ._encoding import DisplayFrame, encode_state, noise_of

Array = NDArray[np.float64]

#: seeds offered per start: ``random_state``, ``random_state + 1``, ...
N_SEEDS = 3
#: the replays' parameters stop gaining seeds beyond about this many numbers (the page's
#: size grows with them: about 5.3 bytes a number)
NUMBER_BUDGET = 80_000
#: how the page describes the strategies it knows (others are shown by name)
START_NOTES = {
    "k-means++": "k-means++ seeds (rows drawn far apart) on a sample, one start",
    "random_from_data": "k random rows as centres, each row joined to the nearest, one start",
    "random": "random memberships, one start: every component begins near the data's centre",
    "kmeans": "the groups of one k-means run, one start",
    "hierarchical": "model-based agglomerative clustering, one start",
}
#: the order of the start selector (then any other registered strategy)
PREFERRED = ("k-means++", "random_from_data", "random", "hierarchical", "kmeans")


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


def start_names() -> list[str]:
    """``"default"`` and every registered initialisation strategy, in the selector's order."""
    known = [name for name in PREFERRED if name in INITIALIZERS]
    return ["default", *known, *(name for name in INITIALIZERS if name not in known)]


def start_label(name: str) -> tuple[str, str]:
    """The selector's label of a start and one sentence on it."""
    if name == "default":
        defaults = GaussianMixture()
        return "default", (
            f"the estimator's default: {defaults.n_init} {defaults.init_params} starts race in "
            "short runs, the best is continued on all rows"
        )
    return name, START_NOTES.get(name, f"init_params={name!r}, one start")


#: the replays' ``tol``: scikit-learn's (the refinement of ``tol=None`` would add hundreds of
#: steps that no chart can show apart)
REPLAY_TOL = 1e-3


def estimator(
    start: str, k: int, covariance_type: str, seed: int, noise: bool = False
) -> GaussianMixture:
    """The estimator a replay fits: the defaults, or one start of strategy ``start``, at
    :data:`REPLAY_TOL` (with a noise component if ``noise``)."""
    if start == "default":
        return GaussianMixture(
            k, covariance_type=covariance_type, random_state=seed, tol=REPLAY_TOL, noise=noise
        )
    return GaussianMixture(
        k, covariance_type=covariance_type, init_params=start, n_init=1, random_state=seed,
        tol=REPLAY_TOL, noise=noise,
    )  # fmt: skip


def fit_recorded(
    model: GaussianMixture, X: Array
) -> tuple[GaussianMixture, list[FitEvent], int, list[list[float]]]:
    """Fit ``model`` recording every event; return it, the kept run, its start, all curves."""
    events: list[FitEvent] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SingularCovarianceWarning)  # shown on the page
        model.fit(X, callback=events.append)
    run, retained, curves = retained_run(events, model.history_)
    return model, run, retained, curves


def replay_entry(
    model: GaussianMixture,
    run: list[FitEvent],
    retained: int,
    curves: list[list[float]],
    X: Array,
    frame: DisplayFrame,
) -> dict[str, Any]:
    """One replay for the page: each E-step's parameters, then the fitted ones (a noise
    component's weight in each step is what the components' weights leave)."""
    ct = model.covariance_type
    fitted = noise_of(model)

    def noise(weights: Array) -> tuple[float, float] | None:
        return None if fitted is None else (max(0.0, 1.0 - float(weights.sum())), fitted[1])

    steps = [
        {
            "phase": e.phase,
            "iter": e.iteration,
            "rows": e.n_rows,
            "ll": float(e.log_likelihood),
            "state": encode_state(ct, e.weights, e.means, e.covariances, frame, noise(e.weights)),
        }
        for e in run
    ]
    return {
        "steps": steps,
        "final": {
            "state": encode_state(
                ct, model.weights_, model.means_, model.covariances_, frame, fitted
            ),
            "ll": float(model.score(X)),
            "converged": bool(model.converged_),
            "n_iter": int(model.n_iter_),
            "reseeds": [list(r) for r in model.reseeds_],
        },
        "starts": len(curves),
        "retained": retained,
        "curves": curves if len(curves) > 1 else [],
    }


def _numbers(entry: dict[str, Any], d: int) -> int:
    """Numbers a replay packs (for the page's size budget)."""
    states = [s["state"] for s in entry["steps"]] + [entry["final"]["state"]]
    per = [s["k"] * (1 + d + (d if s["diag"] else d * (d + 1) // 2)) for s in states]
    return int(sum(per))


def em_replays(
    X: Array,
    k: int,
    covariance_type: str,
    seed: int,
    frame: DisplayFrame,
    chosen: tuple[GaussianMixture, list[FitEvent], int, list[list[float]]],
    noise: bool = False,
) -> dict[str, Any]:
    """Replays of the chosen model from every start and a few seeds (with a noise
    component if ``noise``).

    ``chosen`` is the recorded fit of the chosen model (the default start at ``seed``).
    Seeds are added while the packed numbers stay within :data:`NUMBER_BUDGET` (the first
    seed always).  A start that cannot be fitted is listed with its error.
    """
    d = X.shape[1]
    names = start_names()
    starts: list[dict[str, Any]] = []
    for name in names:
        label, note = start_label(name)
        starts.append({"name": name, "label": label, "note": note, "runs": {}})

    def run(name: str, s: int) -> dict[str, Any]:
        if name == "default" and s == seed:
            return replay_entry(*chosen, X, frame)
        try:
            model = estimator(name, k, covariance_type, s, noise)
            return replay_entry(*fit_recorded(model, X), X, frame)
        except (DegenerateMixtureError, ValueError) as exc:
            return {"error": str(exc)}

    seeds: list[int] = []
    spent = 0
    for i in range(N_SEEDS):
        s = seed + i
        if i > 0 and spent * (i + 1) / i > NUMBER_BUDGET:
            break
        seeds.append(s)
        for entry in starts:
            made = run(entry["name"], s)
            entry["runs"][str(s)] = made
            if "steps" in made:
                spent += _numbers(made, d)
    return {"k": k, "type": covariance_type, "seeds": seeds, "seed": seed, "starts": starts}
