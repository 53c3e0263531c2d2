"""Stepwise (online) EM: running statistics, the step schedule and mini-batch epochs.

Stepwise EM (Cappé & Moulines 2009; Liang & Klein 2009) replaces the E-step's statistics of
all rows by a running average of each batch's statistics per unit of weight,

    s_t = (1 - rho_t) s_(t-1) + rho_t sbar(batch_t; theta_(t-1)),    theta_t = M(s_t),

with the step ``rho_t = (t0 + t) ** -kappa`` (:class:`StepSchedule`), ``t = 1, 2, ...``
counting the updates since the running statistics were started.  One update is one
iteration of the EM driver (:func:`gaussmix.em.em_step`) over the batch, whose statistics go
through the running average (:meth:`RunningStats.combine`) before the M-step: nothing here
loops over rows.

Statistics per unit of weight (``N`` summing to one) do not change the M-step, which divides
by ``N``; a step of 1 is therefore exactly one EM iteration over the batch.  Where no running
statistics exist yet (after ``fit``, or for a loaded model), they are those whose M-step
gives the current parameters back (:func:`stats_of`): exact for the closed-form M-steps,
and a fixed point of the iterative ones.

Mini-batch EM (:func:`fit_minibatch`) runs the same update over shuffled batches of the
training rows, epoch after epoch: an approximate fit of many rows in a few passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .covariance import CovarianceFamily
from .em import ConvergenceMonitor, EMState, em_step
from .engine import Frame
from .multistart import (
    SHORT_RUN_ROWS,
    SHORT_RUN_ROWS_PER_COMPONENT,
    FitCallback,
    FitEvent,
    StartFactory,
    fit_multistart,
)
from .params import Params
from .sources import BlockedRows, RowSource
from .stats import SuffStats
from .strategy import ModelStrategy

Array = NDArray[np.float64]

#: ``restart(params)``: running statistics for parameters (:func:`stats_of` of a model)
Restart = Callable[[Params], SuffStats]


@dataclass(frozen=True)
class StepSchedule:
    """Step sizes ``rho_t = (offset + t) ** -decay`` of the updates ``t = 1, 2, ...``.

    ``decay`` in (0.5, 1] makes the steps sum to infinity and their squares converge
    (Robbins-Monro), the condition of Cappé & Moulines' convergence result; with
    ``offset = 0`` the first step is 1 (the first batch's statistics replace the running ones).
    """

    offset: float
    decay: float

    def rho(self, t: int) -> float:
        """The step of update ``t`` (>= 1)."""
        return float((self.offset + t) ** -self.decay)


def per_unit(stats: SuffStats) -> SuffStats | None:
    """``stats`` scaled to unit total responsibility (``None`` for a batch without weight)."""
    total = float(stats.N.sum())
    if not total > 0:
        return None
    return stats.scaled(1.0 / total)


def stats_of(params: Params, family: CovarianceFamily, reg_covar: float | Array) -> SuffStats:
    """Statistics per unit weight whose M-step gives ``params`` back: ``N`` the weights,
    means as reference points, and second moments ``N_j (Sigma_j - diag(reg_covar))`` in the
    family's layout (the M-step adds ``reg_covar`` back)."""
    k, d = params.means.shape
    moments = family.moments
    weights = params.weights / params.weights.sum()
    scatter = family.dense(params.covariances, k, d)
    scatter[:, np.arange(d), np.arange(d)] -= reg_covar
    second = weights[:, None, None] * scatter
    if len(moments.kernel_second_shape(k, d)) < 3:  # diagonal layouts take the diagonals
        second = np.ascontiguousarray(np.diagonal(second, axis1=1, axis2=2))
    return SuffStats(
        moments,
        params.means.copy(),
        weights.copy(),
        np.zeros((k, d)),
        moments.from_components(second),
        weight=1.0,
    )


@dataclass
class RunningStats:
    """The running statistics of stepwise EM and the updates made so far.

    Attributes
    ----------
    stats : SuffStats
        Per unit weight, in the internal frame of the model's parameters.
    steps : int
        Updates since the statistics were started (``t`` of the last update).
    batch_weight : float
        The weight (sum of sample weights) of the last batch.
    """

    stats: SuffStats
    steps: int = 0
    batch_weight: float = 0.0

    def combine(self, schedule: StepSchedule) -> Callable[[SuffStats], SuffStats]:
        """The ``combine`` of :func:`~gaussmix.em.em_step` for the next update: the batch's
        statistics averaged into the running ones (which it then holds)."""

        def update(batch: SuffStats) -> SuffStats:
            self.batch_weight = float(batch.weight)
            unit = per_unit(batch)
            if unit is None:  # nothing observed: nothing to learn from this batch
                return self.stats
            self.steps += 1
            rho = schedule.rho(self.steps)
            if rho >= 1.0:
                self.stats = unit
            else:
                # about the batch's reference points (the current means), where the moments
                # are accurate
                self.stats = unit.scaled(rho) + self.stats.scaled(1.0 - rho)
            return self.stats

        return update


def stepwise_update(
    source: RowSource,
    state: EMState[Params],
    strategy: ModelStrategy[Params],
    frame: Frame,
    running: RunningStats,
    schedule: StepSchedule,
    restart: Restart,
    *,
    limit: int,
    chunk_size: int | None = None,
) -> float:
    """One stepwise EM update over the rows of ``source`` (a batch); return the batch's mean
    log-likelihood under the parameters before the update.

    ``state`` and ``running`` are updated in place; ``restart(params)`` gives the running
    statistics of re-seeded parameters (a degenerate component re-seeded at the batch's
    worst rows starts afresh).
    """
    seeded = len(state.reseeds)
    value = em_step(
        source, state, strategy, frame, limit=limit, chunk_size=chunk_size,
        combine=running.combine(schedule),
    )  # fmt: skip
    assert value is not None  # no over-relaxation here: every pass is an iteration
    if len(state.reseeds) > seeded:
        running.stats = restart(state.params)
    return value


def shuffled_batches(
    source: RowSource, batch_size: int, rng: np.random.Generator
) -> Iterator[RowSource]:
    """The rows of ``source`` in random batches of at most ``batch_size`` rows, each row once.

    Rows held in memory are permuted as a whole; a source read in blocks
    (:class:`~gaussmix.sources.BlockedRows`, a file out of core) is visited block by block in
    random order, each block's rows permuted (a block in memory at a time).
    """
    if isinstance(source, BlockedRows):
        for b in rng.permutation(source.n_blocks):
            block = source.block(int(b))
            yield from _batches_of(block, block.n_rows, batch_size, rng)
        return
    yield from _batches_of(source, source.n_rows, batch_size, rng)


def _batches_of(
    source: RowSource, n: int, batch_size: int, rng: np.random.Generator
) -> Iterator[RowSource]:
    order = rng.permutation(n)
    for a in range(0, n, batch_size):
        # sorted: the rows of a batch are read in order (its statistics do not depend on it)
        yield source.subset(np.sort(order[a : a + batch_size]))


def fit_minibatch(
    source: RowSource,
    strategy: ModelStrategy[Params],
    frame: Frame,
    start: StartFactory,
    restart: Restart,
    *,
    n_components: int,
    n_init: int,
    init_iter: int | None,
    max_iter: int,
    tol: float,
    rng: np.random.Generator,
    batch_size: int,
    schedule: StepSchedule,
    chunk_size: int | None = None,
    verbose: int = 0,
    verbose_interval: int = 10,
    callback: FitCallback | None = None,
    previous: float = -np.inf,
) -> tuple[EMState[Params], list[float], RunningStats]:
    """Mini-batch EM: stepwise updates over shuffled batches, for at most ``max_iter`` epochs.

    The start is :func:`~gaussmix.multistart.fit_multistart`'s race on a random subsample of
    the rows (its size, and ``init_iter`` iterations of the winner on it; ``init_iter=None``:
    to convergence), gathered once.  Each epoch then visits every row once
    (:func:`shuffled_batches`), one update per batch; the monitor sees each epoch's mean
    log-likelihood of the batches, each under the parameters before its update, and stops
    when it changes by less than ``tol``.  Returns the run, each start's objective and the
    running statistics (with the number of updates).
    """
    n = source.n_rows
    size = max(SHORT_RUN_ROWS, SHORT_RUN_ROWS_PER_COMPONENT * n_components)
    rows = source
    if n > size:
        rows = source.subset(np.sort(rng.choice(n, size, replace=False)))
    start_iter = max_iter if init_iter is None else init_iter
    best, scores = fit_multistart(
        rows, strategy, frame, start, n_components=n_components, n_init=n_init,
        init_iter=init_iter, max_iter=start_iter, tol=tol, rng=rng, chunk_size=chunk_size,
        short_run_rows=size, verbose=verbose, verbose_interval=verbose_interval,
        callback=callback,
    )  # fmt: skip
    state = EMState(best.params, ConvergenceMonitor(tol, max_iter, previous=previous))
    running = RunningStats(restart(best.params))
    limit = 2 * n_components + 5
    while not state.monitor.done:
        total, weight = 0.0, 0.0
        for batch in shuffled_batches(source, batch_size, rng):
            value = stepwise_update(
                batch, state, strategy, frame, running, schedule, restart,
                limit=limit, chunk_size=chunk_size,
            )  # fmt: skip
            total += value * running.batch_weight
            weight += running.batch_weight
        value = total / weight if weight > 0 else -np.inf
        state.monitor.report(value)
        epoch = state.monitor.n_iter
        if callback is not None:
            w, m, c, _ = frame.to_user(
                strategy.point_estimate(state.params), strategy.family.storage
            )
            callback(FitEvent(0, 1, "minibatch", epoch, value, n, w, m, c))
        if verbose >= 2 and epoch % verbose_interval == 0:
            print(f"  Epoch {epoch}\t mean log-likelihood of its batches {value:.6f}")
        if state.monitor.converged:
            break
    if verbose:
        print(f"Mini-batch EM: {running.steps} updates in {state.monitor.n_iter} epochs")
    return state, scores, running


__all__ = [
    "RunningStats",
    "StepSchedule",
    "fit_minibatch",
    "per_unit",
    "shuffled_batches",
    "stats_of",
    "stepwise_update",
]
