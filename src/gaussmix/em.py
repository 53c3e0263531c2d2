"""The EM driver and its convergence monitor: pure functions, no estimator state.

One EM iteration is one :func:`~gaussmix.engine.mixture_pass` (E-step and statistics, fused)
followed by :func:`m_step`.  Degenerate components (collapsed weight, singular covariance) are
re-seeded at the worst-explained rows; :class:`DegenerateMixtureError` is raised only when that
cannot help.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .covariance import CovarianceFamily
from .engine import Frame, Params, mixture_pass, take_rows
from .stats import SuffStats

Array = NDArray[np.float64]

#: a component whose share of the total weight falls below this is considered collapsed
COLLAPSE_SHARE = 1e-10


class DegenerateMixtureError(ValueError):
    """A component could not be estimated and could not be re-seeded."""


@dataclass
class ConvergenceMonitor:
    """Stops EM when the mean log-likelihood per sample changes by less than ``tol``.

    Attributes
    ----------
    tol : float
        Threshold on ``|ll_t - ll_{t-1}|`` (mean log-likelihood per unit of sample weight).
    max_iter : int
        Largest number of iterations.
    history : list of float
        Mean log-likelihood computed in each iteration's E-step.
    previous : float
        The value the first change is measured against (``-inf`` for a fresh start).
    """

    tol: float
    max_iter: int
    history: list[float] = field(default_factory=list)
    previous: float = -np.inf
    converged: bool = False

    @property
    def n_iter(self) -> int:
        return len(self.history)

    @property
    def done(self) -> bool:
        return self.converged or self.n_iter >= self.max_iter

    def report(self, log_likelihood: float) -> bool:
        """Record one iteration's log-likelihood; return True once converged."""
        last = self.history[-1] if self.history else self.previous
        self.history.append(float(log_likelihood))
        self.converged = bool(abs(log_likelihood - last) < self.tol)
        return self.converged


@dataclass
class EMState:
    """A run of EM that can be continued: parameters, monitor and re-seed log."""

    params: Params
    monitor: ConvergenceMonitor
    reseeds: list[tuple[int, int]] = field(default_factory=list)  # (iteration, component)

    @property
    def lower_bound(self) -> float:
        return self.monitor.history[-1] if self.monitor.history else -np.inf


def params_from_stats(
    stats: SuffStats, family: CovarianceFamily, reg_covar: float
) -> tuple[Params, NDArray[np.bool_]]:
    """The M-step: parameters from statistics, and a mask of degenerate components."""
    nk = stats.N
    total = nk.sum()
    k = nk.shape[0]
    weights = nk / total if total > 0 else np.full(k, 1.0 / k)
    means = stats.means()
    covariances = family.estimate(stats.scatter(), nk, reg_covar)
    chol, bad_cov = family.precisions_cholesky(covariances)
    bad = np.broadcast_to(bad_cov, (k,)) | (nk <= COLLAPSE_SHARE * total)
    bad |= ~np.isfinite(means).all(axis=1)
    return Params(weights, means, covariances, chol), bad


def reseed(
    params: Params,
    bad: NDArray[np.bool_],
    candidates: Array,
    family: CovarianceFamily,
) -> tuple[Params, list[int]]:
    """Move each degenerate component onto a candidate row (worst-explained first).

    The component gets the weighted average covariance of the healthy components (for
    ``tied`` the shared one) and weight ``1/k`` before renormalisation.

    Raises
    ------
    DegenerateMixtureError
        If no healthy component or no candidate is left, or the result is still degenerate.
    """
    k = params.n_components
    bad_idx = [int(j) for j in np.flatnonzero(bad)]
    good = ~bad
    if not good.any() or len(candidates) < len(bad_idx):
        raise _degenerate_error(bad_idx[0], family)
    weights = params.weights.copy()
    weights[bad] = 0.0
    means = params.means.copy()
    cov = params.covariances
    for n, j in enumerate(bad_idx):
        means[j] = candidates[n]
        cov = family.reseed_covariance(cov, j, weights)
    weights[bad] = 1.0 / k
    weights /= weights.sum()
    chol, still_bad = family.precisions_cholesky(cov)
    still = np.broadcast_to(still_bad, (k,))
    if still.any():
        raise _degenerate_error(int(np.flatnonzero(still)[0]), family)
    return Params(weights, means, cov, chol), bad_idx


def _degenerate_error(j: int, family: CovarianceFamily) -> DegenerateMixtureError:
    return DegenerateMixtureError(
        f"Component {j} of the {family.name!r} mixture became degenerate (its weight collapsed "
        "or its covariance is not positive-definite) and could not be re-seeded. Try to "
        "decrease n_components, increase reg_covar, use a more constrained covariance_type, "
        "or scale the input data."
    )


def run_em(
    X: NDArray[np.floating],
    state: EMState,
    family: CovarianceFamily,
    frame: Frame,
    *,
    reg_covar: float,
    sample_weight: Array | None = None,
    chunk_size: int | None = None,
    max_reseeds: int | None = None,
    verbose: int = 0,
    callback: Callable[[int, Params, float], None] | None = None,
) -> EMState:
    """Run EM from ``state`` until its monitor converges or reaches ``max_iter``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated data in the caller's units.
    state : EMState
        Start parameters (internal frame) and a monitor; continued in place and returned.
    family, frame
        Covariance family and internal frame.
    reg_covar : float
        Regularisation in the internal frame's units.
    sample_weight : ndarray of shape (n_samples,), optional
    chunk_size : int, optional
    max_reseeds : int, optional
        Largest number of re-seeds in this run (default ``2 * n_components + 5``).
    verbose : int
        Print one line per iteration when ``>= 2``.
    callback : callable, optional
        ``callback(iteration, params, mean_log_likelihood)`` after each iteration's E-step,
        with the parameters that produced it.
    """
    k = state.params.n_components
    limit = 2 * k + 5 if max_reseeds is None else max_reseeds
    monitor = state.monitor
    while not monitor.done:
        result = mixture_pass(
            X, state.params, family, frame, sample_weight=sample_weight, chunk_size=chunk_size
        )
        assert result.stats is not None
        ll = result.stats.mean_log_likelihood()
        if callback is not None:
            callback(monitor.n_iter + 1, state.params, ll)
        params, bad = params_from_stats(result.stats, family, reg_covar)
        if bad.any():
            if len(state.reseeds) + int(bad.sum()) > limit:
                raise _degenerate_error(int(np.flatnonzero(bad)[0]), family)
            # rare: one more pass finds the rows the current parameters explain worst
            worst = mixture_pass(
                X, state.params, family, frame, sample_weight=sample_weight,
                chunk_size=chunk_size, stats=False, n_worst=k,
            ).worst_rows  # fmt: skip
            candidates = frame.to_internal(np.asarray(X[worst]))
            params, fixed = reseed(params, bad, candidates, family)
            state.reseeds.extend((monitor.n_iter + 1, j) for j in fixed)
        state.params = params
        converged = monitor.report(ll)
        if verbose >= 2:
            change = ll - (monitor.history[-2] if monitor.n_iter > 1 else monitor.previous)
            print(
                f"  Iteration {monitor.n_iter}\t log-likelihood {ll:.6f}\t change {change:.3e}",
                file=sys.stdout,
            )
        if converged:
            break
    return state


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
#: ``max(SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT * n_components)`` rows; measured on
#: four synthetic sets (benchmarks/README.md), 10 000 rows pick as good a start as 20 000 in
#: two thirds of the time
SHORT_RUN_ROWS = 10_000
SHORT_RUN_ROWS_PER_COMPONENT = 500

#: ``starts(X, sample_weight, rngs)``: one start per generator, a start that failed as its error
StartFactory = Callable[
    [NDArray[np.floating], "Array | None", Sequence[np.random.Generator]],
    "list[Params | DegenerateMixtureError]",
]


def _score(state: EMState | None) -> float:
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
    X: NDArray[np.floating],
    family: CovarianceFamily,
    frame: Frame,
    start: StartFactory,
    *,
    n_components: int,
    n_init: int,
    init_iter: int | None,
    max_iter: int,
    tol: float,
    reg_covar: float,
    rng: np.random.Generator,
    sample_weight: Array | None = None,
    chunk_size: int | None = None,
    verbose: int = 0,
    short_run_rows: int | None = None,
    callback: FitCallback | None = None,
    previous: float = -np.inf,
) -> tuple[EMState, list[float]]:
    """EM from ``n_init`` starts; return the retained run and each start's log-likelihood.

    ``start(X, sample_weight, rngs)`` builds the starts' parameters, one per generator
    (all at once, so that their initialisation can share array operations); a start it
    returns as a :class:`DegenerateMixtureError` is left out.  With ``init_iter=None``
    (or a single start) every start runs to convergence on all rows and the best is kept.
    Otherwise the starts race in short runs (short-run EM) — on a random subsample of
    ``short_run_rows`` rows (default :data:`SHORT_RUN_ROWS`, or 500 per component if more)
    when ``X`` is larger: after each round the worse half is dropped (successive halving,
    :func:`_race_schedule`), the last survivor has run ``init_iter`` iterations, and only it
    is continued on all rows, with a fresh monitor: ``history`` then holds the iterations on
    all rows only.  ``scores`` holds each start's log-likelihood when it was dropped (or
    finished).
    ``callback`` receives a :class:`FitEvent` after every iteration's E-step.  ``previous``
    is the log-likelihood the first change is measured against (a warm start's last value).
    """

    def reporter(start: int, phase: str, rows: int) -> Callable[[int, Params, float], None] | None:
        if callback is None:
            return None
        cb = callback

        def report(iteration: int, params: Params, ll: float) -> None:
            weights, means, covariances, _ = frame.to_user(params)
            cb(FitEvent(start, n_init, phase, iteration, ll, rows, weights, means, covariances))

        return report

    n = X.shape[0]
    opts: dict[str, Any] = {"reg_covar": reg_covar, "chunk_size": chunk_size}
    short = init_iter if n_init > 1 else None
    Xs, ws = X, sample_weight
    if short_run_rows is None:
        short_run_rows = max(SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT * n_components)
    if short is not None and n > short_run_rows:
        rows = np.sort(rng.choice(n, short_run_rows, replace=False))
        Xs = take_rows(X, rows)
        ws = None if sample_weight is None else sample_weight[rows]
        if ws is not None and not (ws.sum() > 0):
            Xs, ws = X, sample_weight
    phase = "full" if short is None else "short"
    runs: list[EMState | None] = []
    failure: DegenerateMixtureError | None = None
    rngs = [np.random.default_rng(rng.integers(2**63)) for _ in range(n_init)]
    for made in start(Xs, ws, rngs):
        if isinstance(made, DegenerateMixtureError):  # one bad start does not end the fit
            runs.append(None)
            failure = made
            continue
        runs.append(EMState(made, ConvergenceMonitor(tol, 0, previous=previous)))
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
            report = reporter(s, phase, Xs.shape[0])
            try:
                run_em(Xs, state, family, frame, sample_weight=ws, verbose=verbose,
                       callback=report, **opts)  # fmt: skip
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
    if Xs is not X:
        best = EMState(best.params, ConvergenceMonitor(tol, max_iter))
    elif best.monitor.converged:
        return best, scores
    best.monitor.max_iter = max_iter
    report = reporter(index, "full", n)
    best = run_em(
        X, best, family, frame, sample_weight=sample_weight, verbose=verbose, callback=report,
        **opts,
    )  # fmt: skip
    return best, scores
