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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from .engine import Frame
from .sources import RowSource
from .stats import SuffStats
from .strategy import ModelStrategy

Array = NDArray[np.float64]
P = TypeVar("P")

#: ``callback(iteration, params, objective)`` after an iteration's E-step, with the
#: parameters that produced it
IterationCallback = Callable[[int, P, float], None]


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
) -> float:
    """One EM iteration from ``state`` (updated in place); return its objective.

    The objective is that of the parameters the iteration started from (the E-step's).
    ``limit`` bounds the re-seeds of the whole run (``state.reseeds`` counts them).
    ``combine(stats)`` gives the statistics the M-step takes from the pass's (stepwise EM's
    running average, :mod:`gaussmix.stepwise`); ``None``: the pass's own.
    """
    terms = strategy.pass_terms(state.params)
    result = source.mixture_pass(terms, frame, chunk_size=chunk_size, **state.pass_options)
    state.pass_options = result.next_options
    assert result.stats is not None
    value = strategy.objective(result, state.params)
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
) -> EMState[P]:
    """Run EM from ``state`` until its monitor converges or reaches ``max_iter``.

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
    """
    k = strategy.point_estimate(state.params).n_components
    limit = 2 * k + 5 if max_reseeds is None else max_reseeds
    monitor = state.monitor
    shown = time.perf_counter()
    while not monitor.done:
        value = em_step(
            source, state, strategy, frame, limit=limit, chunk_size=chunk_size, callback=callback
        )
        converged = monitor.report(value)
        if verbose >= 2 and monitor.n_iter % verbose_interval == 0:
            change = value - (monitor.history[-2] if monitor.n_iter > 1 else monitor.previous)
            now = time.perf_counter()
            print(
                f"  Iteration {monitor.n_iter}\t time lapse {now - shown:.5f}s\t "
                f"ll change {change:.5f}\t log-likelihood {value:.6f}",
                file=sys.stdout,
            )
            shown = now
        if converged:
            break
    return state
