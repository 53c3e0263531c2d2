"""The EM driver and its convergence monitor: pure functions, no estimator state.

One EM iteration (:func:`em_step`) is one pass over the rows (E-step and statistics, fused)
under the pass terms of the current parameters, then the M-step from its statistics; the
model's :class:`~gaussmix.strategy.ModelStrategy` supplies the terms, the M-step, the
objective and what to do with a degenerate component, and the
:class:`~gaussmix.sources.RowSource` the rows.  :func:`run_em` repeats it until the
:class:`ConvergenceMonitor` says stop.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from .engine import Frame
from .relaxation import Overrelaxation
from .sources import RowSource
from .stats import SuffStats
from .strategy import ModelStrategy

Array = NDArray[np.float64]
P = TypeVar("P")

#: a refinement's stop made on over-relaxed steps is confirmed by this many of EM's own:
#: the extrapolation of its rate rests on the last three values, and the first steps after
#: longer ones still carry the faster modes those excited
CONFIRM_STEPS = 8

#: ``callback(iteration, params, objective)`` after an iteration's E-step, with the
#: parameters that produced it
IterationCallback = Callable[[int, P, float], None]


def gain_left(history: Sequence[float]) -> float | None:
    """The log-likelihood a linearly converging run has left to gain, by Aitken's
    extrapolation of its last three values: with the rate ``a`` of the last two changes, what
    is left after a change ``c`` is ``c a / (1 - a)``.  0 where the last change gained
    nothing (rounding, an inexact inner M-step); None where the changes do not shrink (no
    rate to extrapolate by) or there are fewer than three values."""
    if len(history) < 3:
        return None
    last, before = history[-1] - history[-2], history[-2] - history[-3]
    if last <= 0.0:
        return 0.0
    if before <= 0.0 or last >= before:
        return None
    rate = last / before
    return last * rate / (1.0 - rate)


@dataclass
class ConvergenceMonitor:
    """Stops EM when the mean log-likelihood per sample changes by less than ``tol``, or, when
    asked to ``refine``, once its log-likelihood has stopped changing.

    Attributes
    ----------
    tol : float
        Threshold on ``|ll_t - ll_{t-1}|`` (mean log-likelihood per unit of sample weight):
        below it the run has converged (``converged``).
    max_iter : int
        Largest number of iterations before convergence.
    history : list of float
        Mean log-likelihood computed in each iteration's E-step.
    previous : float
        The value the first change is measured against (``-inf`` for a fresh start).
    refine : float or None
        After converging, go on until the log-likelihood left to gain, as Aitken's
        extrapolation of the last three values estimates it, and the last change are both
        at most ``refine`` per unit of sample weight (:meth:`refined`: a change of the
        log-likelihood, which scaling the data does not change); ``None``: stop at ``tol``.
    refine_iter : int
        Iterations the refinement may add to ``max_iter``.
    settled : bool
        EM reached a fixed point (:meth:`settle`): converged, refined and done.
    """

    tol: float
    max_iter: int
    history: list[float] = field(default_factory=list)
    previous: float = -np.inf
    converged: bool = False
    refine: float | None = None
    refine_iter: int = 0
    settled: bool = False

    @property
    def n_iter(self) -> int:
        return len(self.history)

    @property
    def exhausted(self) -> bool:
        """Whether the run has used every iteration it may (refinement's included)."""
        limit = self.max_iter + (self.refine_iter if self.converged and self.refine else 0)
        return self.n_iter >= limit

    @property
    def done(self) -> bool:
        if self.settled:
            return True
        if not self.converged:
            return self.n_iter >= self.max_iter
        return (
            self.refine is None or self.n_iter >= self.max_iter + self.refine_iter or self.refined()
        )

    def refined(self) -> bool:
        """Whether the gain left (:func:`gain_left`) and the last change are below the
        refinement's threshold."""
        if self.refine is None or self.n_iter < 3:
            return False
        if self.history[-1] - self.history[-2] > self.refine:
            return False
        left = gain_left(self.history)
        return left is not None and left <= self.refine

    def settle(self) -> None:
        """The last M-step gave back the parameters it started from: the next
        log-likelihood would equal the last to rounding, so the run has converged and
        refinement has nothing left to gain.  Not with ``tol=0``, which asks for every
        iteration."""
        if self.tol > 0:
            self.converged = self.settled = True

    def report(self, log_likelihood: float) -> bool:
        """Record one iteration's log-likelihood; return True once the run is done."""
        last = self.history[-1] if self.history else self.previous
        self.history.append(float(log_likelihood))
        if not self.converged:
            self.converged = bool(abs(log_likelihood - last) < self.tol)
        return self.done


@dataclass
class EMState(Generic[P]):
    """A run of EM that can be continued: parameters, monitor and re-seed log."""

    params: P
    monitor: ConvergenceMonitor
    reseeds: list[tuple[int, int]] = field(default_factory=list)  # (iteration, component)
    #: the engine's advice for the next pass over these rows (PassResult.next_options)
    pass_options: dict[str, Any] = field(default_factory=dict)

    @property
    def lower_bound(self) -> float:
        return self.monitor.history[-1] if self.monitor.history else -np.inf


def em_step(
    source: RowSource,
    state: EMState[P],
    strategy: ModelStrategy[P],
    frame: Frame,
    *,
    limit: int,
    chunk_size: int | None = None,
    callback: IterationCallback[P] | None = None,
    combine: Callable[[SuffStats], SuffStats] | None = None,
    relax: Overrelaxation[P] | None = None,
) -> float | None:
    """One EM iteration from ``state`` (updated in place); return its objective.

    The objective is that of the parameters the iteration started from (the E-step's).
    ``limit`` bounds the re-seeds of the whole run (``state.reseeds`` counts them).
    ``combine(stats)`` gives the statistics the M-step takes from the pass's (stepwise EM's
    running average, :mod:`gaussmix.stepwise`); ``None``: the pass's own.  ``relax``: take
    over-relaxed steps (:mod:`gaussmix.relaxation`); where the pass finds that the last one
    lowered the objective, it is undone and None returned (no iteration).  Where the M-step
    gives back the parameters it started from (:meth:`ModelStrategy.unchanged`), the monitor
    is told that EM is at a fixed point (:meth:`ConvergenceMonitor.settle`).
    """
    terms = strategy.pass_terms(state.params)
    result = source.mixture_pass(terms, frame, chunk_size=chunk_size, **state.pass_options)
    state.pass_options = result.next_options
    assert result.stats is not None
    value = strategy.objective(result, state.params)
    if relax is not None and state.monitor.history:
        undone = relax.undo(value, state.monitor.history[-1])
        if undone is not None:
            state.params = undone
            return None
    iteration = state.monitor.n_iter + 1
    if callback is not None:
        callback(iteration, state.params, value)
    stats = result.stats if combine is None else combine(result.stats)
    params, bad = strategy.m_step(stats, state.params)
    if bad.any():

        def candidates(n: int) -> Array:
            # rare: one more pass finds the rows the current parameters explain worst
            worst = source.mixture_pass(
                terms, frame, chunk_size=chunk_size, stats=False, n_worst=n
            ).worst_rows
            return frame.to_internal(np.asarray(source.take(worst)))

        params, fixed = strategy.repair(params, bad, candidates, limit - len(state.reseeds))
        state.reseeds.extend((iteration, j) for j in fixed)
        if relax is not None:  # the statistics no longer lead to these parameters
            relax.restart()
            relax = None
    elif combine is None and strategy.unchanged(params, state.params):
        state.monitor.settle()  # on a running average of statistics it would not be EM's
    if relax is not None:
        params = relax.next_params(stats, params, state.params, strategy)
    state.params = params
    return value


def run_em(
    source: RowSource,
    state: EMState[P],
    strategy: ModelStrategy[P],
    frame: Frame,
    *,
    chunk_size: int | None = None,
    max_reseeds: int | None = None,
    verbose: int = 0,
    verbose_interval: int = 10,
    callback: IterationCallback[P] | None = None,
    until: Callable[[EMState[P]], bool] | None = None,
) -> EMState[P]:
    """Run EM from ``state`` until its monitor says it is done (converged, refined, or out of
    iterations), or ``until(state)`` says stop (checked after every iteration).

    Parameters
    ----------
    source : RowSource
        Validated rows in the caller's units.
    state : EMState
        Start parameters (internal frame) and a monitor; continued in place and returned.
    strategy : ModelStrategy
        The model: pass terms, M-step, objective, repair of degenerate components.
    frame : Frame
        The internal frame.
    chunk_size : int, optional
    max_reseeds : int, optional
        Largest number of re-seeds in this run (default ``2 * n_components + 5``).
    verbose : int
        When ``>= 2``, print a line every ``verbose_interval`` iterations (as
        scikit-learn does): the iteration, the time since the previous line and the change
        of the log-likelihood.
    verbose_interval : int
    callback : callable, optional
        ``callback(iteration, params, objective)`` after each iteration's E-step, with the
        parameters that produced it.
    until : callable, optional
        ``until(state)`` after each iteration: True ends the run there.

    Once the run has converged and refines (``monitor.refine``), its steps are over-relaxed
    (:mod:`gaussmix.relaxation`): the log-likelihood it records still never decreases.  The
    refinement's stop extrapolates EM's rate from the last three values, which longer steps
    do not follow: it is confirmed by EM's own steps (relaxation resumes if they go on).
    """
    k = strategy.point_estimate(state.params).n_components
    limit = 2 * k + 5 if max_reseeds is None else max_reseeds
    monitor = state.monitor
    shown = time.perf_counter()
    relax: Overrelaxation[P] = Overrelaxation()
    plain = 0  # the recorded iterations in a row of parameters from EM's own steps
    hold = False  # EM's own steps, to confirm a stop the refinement made on longer ones
    while not monitor.done or (hold and not monitor.exhausted):
        refining = monitor.converged and monitor.refine is not None
        relaxed = relax.took  # the parameters this pass evaluates came from a longer step
        value = em_step(
            source, state, strategy, frame, limit=limit, chunk_size=chunk_size, callback=callback,
            relax=relax if refining and not hold else None,
        )  # fmt: skip
        if value is None:  # a longer step undone: no iteration
            continue
        plain = 0 if relaxed else plain + 1
        done = monitor.report(value)
        if hold and plain >= CONFIRM_STEPS:  # done says so on EM's own steps
            hold = False
        elif done and refining and plain < CONFIRM_STEPS and not monitor.exhausted:
            if not monitor.settled:  # a fixed point needs no confirming
                hold, done = True, False
                state.params = relax.retreat(state.params)
        if verbose >= 2 and monitor.n_iter % verbose_interval == 0:
            change = value - (monitor.history[-2] if monitor.n_iter > 1 else monitor.previous)
            now = time.perf_counter()
            print(
                f"  Iteration {monitor.n_iter}\t time lapse {now - shown:.5f}s\t "
                f"ll change {change:.5f}\t log-likelihood {value:.6f}",
                file=sys.stdout,
            )
            shown = now
        if done or (until is not None and until(state)):
            break
    return state
