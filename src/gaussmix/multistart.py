"""Several starts of EM: a race of short runs (successive halving), the winner continued.

:func:`fit_multistart` runs EM from ``n_init`` starts through the same driver
(:func:`gaussmix.em.run_em`) whatever the model's strategy, and reports every iteration of
every start to a callback as a :class:`FitEvent`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from .em import ConvergenceMonitor, EMState, IterationCallback, run_em
from .engine import Frame
from .params import Params
from .sources import RowSource
from .strategy import DegenerateMixtureError, ModelStrategy

Array = NDArray[np.float64]
P = TypeVar("P")


@dataclass(frozen=True)
class FitEvent:
    """What :func:`fit_multistart` reports to its callback after every EM iteration.

    Attributes
    ----------
    start : int
        Index of the start (``0 .. n_starts - 1``).
    n_starts : int
    phase : {"short", "full"}
        ``"short"``: a short run (possibly on a subsample); ``"full"``: a run on all rows
        (a single start, a start run to convergence, or the continuation of the best start).
    iteration : int
        1-based iteration within this phase of this start.
    log_likelihood : float
        Mean log-likelihood per unit weight of the rows of this phase under ``weights``,
        ``means`` and ``covariances`` (the parameters *before* this iteration's M-step).
    n_rows : int
        Rows this phase runs on.
    weights, means, covariances : ndarray
        Those parameters, in the caller's units.
    """

    start: int
    n_starts: int
    phase: str
    iteration: int
    log_likelihood: float
    n_rows: int
    weights: Array
    means: Array
    covariances: Array


FitCallback = Callable[[FitEvent], None]


#: the short runs over several starts use a random subsample of at most
#: ``max(SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT * n_components)`` rows: enough to pick
#: as good a start as more rows would, in less time; chosen by measurement, see
#: benchmarks/README.md (Design measurements)
SHORT_RUN_ROWS = 10_000
SHORT_RUN_ROWS_PER_COMPONENT = 500

#: ``starts(rows, rngs)``: one start per generator, a start that failed as its error
StartFactory = Callable[
    [RowSource, Sequence[np.random.Generator]], "list[Params | DegenerateMixtureError]"
]


def check_start(estimator: Any, n_rows: int, where: str, instead: str) -> None:
    """Refuse a start that would read more rows into memory than the start race's sample,
    for rows held elsewhere (``where``: ``"with Dask input"``, ...; ``instead``: what to
    pass rather than the KMeans start): ``init_params='kmeans'`` runs scikit-learn's KMeans
    on the rows the starts are made from, which are all rows unless the race takes a
    subsample (given means or a warm start make no such start)."""
    if getattr(estimator, "init_params", None) != "kmeans":
        return
    warm = getattr(estimator, "warm_start", False) and hasattr(estimator, "converged_")
    if warm or getattr(estimator, "means_init", None) is not None:
        return
    race = estimator.n_init > 1 and estimator.init_iter is not None
    sample = max(SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT * estimator.n_components)
    if not race and n_rows > sample:
        raise ValueError(
            f"init_params='kmeans' with n_init={estimator.n_init} and "
            f"init_iter={estimator.init_iter} runs scikit-learn's KMeans on all {n_rows} rows "
            f"in memory, which gaussmix does not do {where}. Use the default "
            "init_params='k-means++' (seeds from a sample, refined by short EM runs), keep "
            "n_init > 1 and init_iter set (KMeans then runs on the race's subsample of "
            f"{sample} rows), or {instead}."
        )


def _score(state: EMState[Any] | None) -> float:
    """A start's log-likelihood; ``-inf`` for a start that failed."""
    return -np.inf if state is None else state.lower_bound


def _race_schedule(n_starts: int, budget: int) -> list[int]:
    """Cumulative iteration targets of the rounds of successive halving over the starts.

    ``n_starts`` starts are halved after every round until one is left; the last round
    brings the survivors to ``budget`` iterations and each earlier round to half the next
    one's (16 starts, 20 iterations: 3, 5, 10, 20 — 104 iterations instead of 320).
    With one start (or full runs, ``budget = max_iter``), a single round.
    """
    rounds = max(1, int(np.ceil(np.log2(n_starts)))) if n_starts > 1 else 1
    return [max(1, int(np.ceil(budget / 2 ** (rounds - 1 - r)))) for r in range(rounds)]


def fit_multistart(
    source: RowSource,
    strategy: ModelStrategy[P],
    frame: Frame,
    start: StartFactory,
    *,
    n_components: int,
    n_init: int,
    init_iter: int | None,
    max_iter: int,
    tol: float,
    rng: np.random.Generator,
    chunk_size: int | None = None,
    verbose: int = 0,
    verbose_interval: int = 10,
    short_run_rows: int | None = None,
    callback: FitCallback | None = None,
    previous: float = -np.inf,
) -> tuple[EMState[P], list[float]]:
    """EM from ``n_init`` starts; return the retained run and each start's objective.

    ``start(rows, rngs)`` builds the starts' point estimates, one per generator
    (all at once, so that their initialisation can share array operations); a start it
    returns as a :class:`DegenerateMixtureError` is left out.  With ``init_iter=None``
    (or a single start) every start runs to convergence on all rows and the best is kept.
    Otherwise the starts race in short runs (short-run EM) — on a random subsample of
    ``short_run_rows`` rows (default :data:`SHORT_RUN_ROWS`, or 500 per component if more)
    when ``source`` is larger: after each round the worse half is dropped (successive halving,
    :func:`_race_schedule`), the last survivor has run ``init_iter`` iterations, and only it
    is continued on all rows, with a fresh monitor: ``history`` then holds the iterations on
    all rows only.  ``scores`` holds each start's log-likelihood when it was dropped (or
    finished).
    ``callback`` receives a :class:`FitEvent` after every iteration's E-step.  ``previous``
    is the log-likelihood the first change is measured against (a warm start's last value).
    """

    def reporter(start: int, phase: str, rows: int) -> IterationCallback[P] | None:
        if callback is None:
            return None
        cb = callback

        def report(iteration: int, params: P, ll: float) -> None:
            estimate = strategy.point_estimate(params)
            weights, means, covariances, _ = frame.to_user(estimate, strategy.family.storage)
            cb(FitEvent(start, n_init, phase, iteration, ll, rows, weights, means, covariances))

        return report

    n = source.n_rows
    opts: dict[str, Any] = {
        "chunk_size": chunk_size,
        "verbose": verbose,
        "verbose_interval": verbose_interval,
    }
    short = init_iter if n_init > 1 else None
    rows_s = source
    if short_run_rows is None:
        short_run_rows = max(SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT * n_components)
    if short is not None and n > short_run_rows:
        rows_s = source.subset(np.sort(rng.choice(n, short_run_rows, replace=False)))
        ws = rows_s.sample_weight
        if ws is not None and not (ws.sum() > 0):
            rows_s = source
    phase = "full" if short is None else "short"
    runs: list[EMState[P] | None] = []
    failure: DegenerateMixtureError | None = None
    rngs = [np.random.default_rng(rng.integers(2**63)) for _ in range(n_init)]
    for made in start(rows_s, rngs):
        if isinstance(made, DegenerateMixtureError):  # one bad start does not end the fit
            runs.append(None)
            failure = made
            continue
        monitor = ConvergenceMonitor(tol, 0, previous=previous)
        runs.append(EMState(strategy.start(made), monitor))
    alive = [s for s, r in enumerate(runs) if r is not None]
    if short is None or max_iter == 0:
        schedule = [max_iter]
    else:
        schedule = _race_schedule(n_init, min(short, max_iter))
    for target in schedule:
        for s in list(alive):
            state = runs[s]
            assert state is not None
            state.monitor.max_iter = target
            report = reporter(s, phase, rows_s.n_rows)
            try:
                run_em(rows_s, state, strategy, frame, callback=report, **opts)
            except DegenerateMixtureError as exc:
                runs[s], failure = None, exc
                alive.remove(s)
                continue
            if verbose:
                print(f"Start {s}: log-likelihood {state.lower_bound:.6f}", file=sys.stdout)
        if not alive:
            assert failure is not None
            raise failure
        # successive halving: the better half of the starts goes on to the next round
        alive = sorted(alive, key=lambda s: -_score(runs[s]))[: max(1, -(-len(alive) // 2))]
    scores = [_score(r) for r in runs]
    best = runs[alive[0]]  # the schedule has at least one round, which raised if none was left
    assert best is not None
    if short is None or max_iter == 0:
        return best, scores
    index = alive[0]
    if rows_s is not source:
        best = EMState(best.params, ConvergenceMonitor(tol, max_iter))
    elif best.monitor.converged:
        return best, scores
    best.monitor.max_iter = max_iter
    report = reporter(index, "full", n)
    best = run_em(source, best, strategy, frame, callback=report, **opts)
    return best, scores
