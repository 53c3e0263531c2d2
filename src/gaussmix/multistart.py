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
from scipy.optimize import linear_sum_assignment

from .em import ConvergenceMonitor, EMState, IterationCallback, gain_left, run_em
from .engine import Frame, threads
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


#: data of at most this many rows is small: every start runs to convergence on all rows and
#: the best converged fit is kept (so that adding starts never lowers it), refined when asked;
#: above it the starts race in short runs
FULL_RUN_ROWS = 5_000

#: the short runs over several starts use a random subsample of at most
#: ``max(SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT * n_components)`` rows: enough to pick
#: as good a start as more rows would, in less time; chosen by measurement, see
#: benchmarks/README.md (Design measurements)
SHORT_RUN_ROWS = 10_000
SHORT_RUN_ROWS_PER_COMPONENT = 500

#: ... and of at most one row in ``SHORT_RUN_SHARE`` of the data, so that the race (about
#: ``5 * init_iter`` iterations of one start on it) costs about a pass over all rows, not
#: many times the EM it starts; but of at least
#: ``max(SHORT_RUN_LEAST, SHORT_RUN_LEAST_PER_COMPONENT * n_components)`` rows, enough for
#: every component's covariance (see :func:`race_sample_rows`); one in 50 picked the best
#: optimum as often as one in 25, chosen by measurement (benchmarks/README.md, Default fit)
SHORT_RUN_SHARE = 50
SHORT_RUN_LEAST = 4_000
SHORT_RUN_LEAST_PER_COMPONENT = 250


def race_sample_rows(n_rows: int, n_components: int) -> int:
    """Rows of the random subsample a race of starts runs on, for data of ``n_rows`` rows
    (the race takes all rows where there are no more than this).  It depends on the data's
    size and ``n_components`` only, so that start ``i`` does not depend on ``n_init``."""
    most = max(SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT * n_components)
    least = max(SHORT_RUN_LEAST, SHORT_RUN_LEAST_PER_COMPONENT * n_components)
    return min(most, max(least, n_rows // SHORT_RUN_SHARE))


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
    sample = race_sample_rows(n_rows, estimator.n_components)
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
    one's (16 starts, 10 iterations: 2, 3, 5, 10 — 58 iterations instead of 160).
    With one start (or full runs, ``budget = max_iter``), a single round.
    """
    rounds = max(1, int(np.ceil(np.log2(n_starts)))) if n_starts > 1 else 1
    return [max(1, int(np.ceil(budget / 2 ** (rounds - 1 - r)))) for r in range(rounds)]


#: two runs whose weights and means (internal frame, where the data's spread is about one)
#: all agree to this, component by component, are taken for runs to the same optimum
SAME_OPTIMUM = 1e-2


def same_optimum(a: Params, b: Params) -> bool:
    """Whether two converged runs are at the same optimum: their components paired so that
    the means are closest agree in weight and mean to :data:`SAME_OPTIMUM`."""
    cost = ((a.means[:, None, :] - b.means[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return bool(
        np.sqrt(cost[rows, cols].max()) <= SAME_OPTIMUM
        and np.abs(a.weights[rows] - b.weights[cols]).max() <= SAME_OPTIMUM
    )


#: a refinement is abandoned once the run is more than this many nats per row (per unit of
#: sample weight) below the best refined start ...
REFINE_GAP = 0.1
#: ... and more than this many times the gain left, as Aitken's extrapolation estimates it
#: (with the last change): EM can crawl along a ridge and speed up again, which a linear
#: extrapolation does not foresee, hence the wide margins
REFINE_REACH = 10.0


def falls_short(history: Sequence[float], best: float) -> bool:
    """Whether a run converging linearly with these log-likelihoods (its last three values)
    cannot reach ``best``: even :data:`REFINE_GAP`, or :data:`REFINE_REACH` times the gain
    left by Aitken's extrapolation (:func:`~gaussmix.em.gain_left`) and the last change,
    would leave it below.  Never where the changes do not shrink (no rate to extrapolate
    by)."""
    left = gain_left(history)
    if left is None or not np.isfinite(best):
        return False
    last = history[-1] - history[-2]
    reach = max(REFINE_GAP, REFINE_REACH * (last + left))
    return history[-1] + reach < best


def races(n_rows: int, n_init: int, init_iter: int | None) -> bool:
    """Whether a fit of ``n_rows`` rows races its starts in short runs (rather than running
    each to convergence): several starts, short runs asked for, and more than
    :data:`FULL_RUN_ROWS` rows."""
    return init_iter is not None and n_init > 1 and n_rows > FULL_RUN_ROWS


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
    refine: float | None = None,
    refine_iter: int = 0,
    race: bool | None = None,
    refine_any_size: bool = False,
) -> tuple[EMState[P], list[float]]:
    """EM from ``n_init`` starts; return the retained run and each start's objective.

    ``start(rows, rngs)`` builds the starts' point estimates, one per generator
    (all at once, so that their initialisation can share array operations); a start it
    returns as a :class:`DegenerateMixtureError` is left out.  Start ``i`` depends only on
    the ``i``-th generator, which does not depend on ``n_init``.

    Where :func:`races` says no — one start, ``init_iter=None``, or at most
    :data:`FULL_RUN_ROWS` rows — every start runs to convergence on all rows and the best is
    kept (ties to the first): a start added can only raise the result.  On those small data
    the runs are refined as ``refine`` and ``refine_iter`` ask
    (:class:`~gaussmix.em.ConvergenceMonitor`).  Otherwise the starts race in short runs
    (short-run EM) — on a random subsample of ``short_run_rows`` rows (default
    :func:`race_sample_rows`) when ``source`` is larger: after
    each round the worse half is dropped (successive halving, :func:`_race_schedule`; a start
    with a component too thin for the subsample, :meth:`ModelStrategy.thin
    <gaussmix.strategy.ModelStrategy.thin>`, ranks below every other), the
    last survivor has run ``init_iter`` iterations, and only it is continued on all rows;
    ``history`` (and ``max_iter``) then count the iterations on all rows only.  ``scores``
    holds each start's log-likelihood when it was dropped (or finished).
    ``race=True`` races the starts whatever the size of the data (a sweep over many
    candidates, whose starts need not each converge), ``False`` runs every start to the end.
    The winner of a race on small data is refined too; ``refine_any_size`` refines on data
    of any size (a sweep's chosen candidate, continued).
    ``callback`` receives a :class:`FitEvent` after every iteration's E-step.  ``previous``
    is the log-likelihood the first change is measured against (a warm start's last value).
    """

    def reporter(
        start: int, phase: str, rows: int, sink: FitCallback | None = None
    ) -> IterationCallback[P] | None:
        """The run's iteration callback: a :class:`FitEvent` to ``sink`` (default
        ``callback``)."""
        cb = callback if sink is None else sink
        if cb is None:
            return None

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
    if race is None:
        race = races(n, n_init, init_iter)
    race = race and n_init > 1 and max_iter > 0 and init_iter is not None
    rows_s = source
    size = race_sample_rows(n, n_components) if short_run_rows is None else short_run_rows
    if race and n > size:
        rows_s = source.subset(np.sort(rng.choice(n, size, replace=False)))
        ws = rows_s.sample_weight
        if ws is not None and not (ws.sum() > 0):
            rows_s = source
    phase = "short" if race else "full"
    refining = refine is not None and (n <= FULL_RUN_ROWS or refine_any_size)
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

    def advance(
        s: int,
        target: int,
        rows: RowSource,
        until: Callable[[EMState[P]], bool] | None = None,
        events: list[FitEvent] | None = None,
        say: bool = True,
    ) -> DegenerateMixtureError | None:
        """Run start ``s`` to ``target`` iterations, its events to ``events`` if given (else
        to ``callback``) and its line printed if ``say``; a start that failed is dropped and
        its error returned."""
        state = runs[s]
        assert state is not None
        state.monitor.max_iter = target
        report = reporter(s, phase, rows.n_rows, None if events is None else events.append)
        try:
            run_em(rows, state, strategy, frame, callback=report, until=until, **opts)
        except DegenerateMixtureError as exc:
            runs[s] = None
            return exc
        if say:
            tell(s)
        return None

    def tell(s: int) -> None:
        """Print start ``s``'s line where ``verbose`` asks (a start that failed has none)."""
        state = runs[s]
        if verbose and state is not None:
            print(f"Start {s}: log-likelihood {state.lower_bound:.6f}", file=sys.stdout)

    def run_round(starts: list[int], target: int) -> None:
        """A round of the race: each of ``starts`` run to ``target`` iterations on the race's
        rows.  The runs are independent: on several cores they run side by side, a pass
        thread each (a pass of a subsample's few rows gains less from threads than separate
        runs do); their events and lines then follow in start order, as one after another
        would give them."""
        nonlocal failure
        workers = min(threads.default_threads(), len(starts))
        if workers <= 1 or rows_s is source or verbose >= 2:
            for s in starts:
                failure = advance(s, target, rows_s) or failure
            return
        events: list[list[FitEvent]] = [[] for _ in starts]
        errors: list[DegenerateMixtureError | None] = [None] * len(starts)

        def task(t: int, i: int) -> None:
            with threads.limited(1):
                seen = None if callback is None else events[i]
                errors[i] = advance(starts[i], target, rows_s, events=seen, say=False)

        threads.run_parallel(len(starts), workers, task)
        for s, seen, error in zip(starts, events, errors, strict=True):
            for event in seen:
                assert callback is not None  # events are kept only for it
                callback(event)
            failure = error or failure
            tell(s)

    alive = [s for s, r in enumerate(runs) if r is not None]
    if not race:
        # every start to convergence, in order; refined, a start is left where it nears the
        # optimum of an earlier one (which it would end at), or where its refinement cannot
        # reach the best earlier one's (falls_short): those decisions rest on the earlier
        # starts alone, so a start added later never changes what they end at
        kept: list[int] = []
        optima: list[Params] = []
        leader = -np.inf  # the best refined start's log-likelihood

        def repeats(state: EMState[P]) -> bool:
            if state.monitor.n_iter < 2 or not optima:
                return False
            point = strategy.point_estimate(state.params)
            return any(same_optimum(point, optimum) for optimum in optima)

        def left_behind(state: EMState[P]) -> bool:
            return falls_short(state.monitor.history, leader) or repeats(state)

        for s in alive:
            state = runs[s]
            assert state is not None
            failure = advance(s, max_iter, source, repeats if refining else None) or failure
            if not refining or runs[s] is None or not state.monitor.converged:
                continue
            state.monitor.refine, state.monitor.refine_iter = refine, refine_iter
            failure = advance(s, max_iter, source, left_behind) or failure
            if runs[s] is not None and not left_behind(state):
                kept.append(s)
                optima.append(strategy.point_estimate(state.params))
                leader = max(leader, state.lower_bound)
        alive = [s for s, r in enumerate(runs) if r is not None]
        if not alive:
            assert failure is not None
            raise failure
        candidates = kept if kept else alive
        chosen = runs[max(candidates, key=lambda s: (_score(runs[s]), -s))]
        assert chosen is not None
        return chosen, [_score(r) for r in runs]
    sw = rows_s.sample_weight
    mass = float(rows_s.n_rows if sw is None else np.sum(sw))

    def thin(s: int) -> bool:
        state = runs[s]
        return state is not None and strategy.thin(state.params, mass)

    for target in _race_schedule(n_init, min(init_iter or 1, max_iter)):
        run_round(alive, target)
        alive = [s for s in alive if runs[s] is not None]
        if not alive:
            assert failure is not None
            raise failure
        # successive halving: the better half of the starts goes on to the next round, those
        # with a component too thin for the subsample last (their spikes flatter them)
        alive = sorted(alive, key=lambda s: (thin(s), -_score(runs[s])))
        alive = alive[: max(1, -(-len(alive) // 2))]
    scores = [_score(r) for r in runs]
    best = runs[alive[0]]  # the schedule has at least one round, which raised if none was left
    assert best is not None
    index = alive[0]
    if rows_s is not source:
        best = EMState(best.params, ConvergenceMonitor(tol, max_iter))
    elif best.monitor.converged and not refining:
        return best, scores
    best.monitor.max_iter = max_iter
    report = reporter(index, "full", n)
    best = run_em(source, best, strategy, frame, callback=report, **opts)
    if refining:
        best.monitor.refine, best.monitor.refine_iter = refine, refine_iter
        best = run_em(source, best, strategy, frame, callback=report, **opts)
    return best, scores
