"""Over-relaxed EM for the refinement of a converged run: longer steps where EM crawls.

Near an optimum EM converges linearly, and where components overlap its rate is close to one:
a run refined to a tolerance of 1e-8 can take a thousand iterations.  Adaptive over-relaxed EM
(Salakhutdinov and Roweis, 2003) takes the step ``eta`` times as long as EM's, lengthens it
while the objective keeps rising, and goes back to EM's own step when a longer one lowered it.

Here the step is taken in the sufficient statistics, not the parameters: the next parameters
are the M-step's from ``S + eta (s - S)``, where ``S`` are the statistics the current
parameters came from and ``s`` the pass's under them (``eta = 1`` is EM).  Every parameter then
satisfies its covariance family's constraints (the M-step imposes them), for any of the 14
models and any strategy.  A step whose statistics the M-step cannot take (a weight or a
covariance no longer positive) is not taken.  A step that lowered the objective is undone: the
run goes on from EM's step from the parameters before it, so the objective the run records
never decreases (the pass that found it lower is not an iteration of the run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from .stats import SuffStats
from .strategy import ModelStrategy

P = TypeVar("P")

#: each step that raised the objective makes the next this many times longer
GROWTH = 2.0
#: and the step is never longer than this many EM steps
LONGEST = 256.0


@dataclass
class Overrelaxation(Generic[P]):
    """The state of over-relaxed EM along one run.

    Attributes
    ----------
    step : float
        The length of the last step taken, in EM steps.
    anchor : SuffStats or None
        The statistics the current parameters came from (None: not known yet, EM's step).
    fallback : P or None
        EM's own step from the parameters before the current ones, where the current ones
        came from a longer step: where they lowered the objective, the run goes on from it.
    fallback_stats : SuffStats or None
        The statistics ``fallback`` came from.
    rejected : int
        Steps undone.
    took : bool
        Whether the parameters last returned came from a longer step than EM's.
    """

    step: float = 1.0
    anchor: SuffStats | None = None
    fallback: P | None = None
    fallback_stats: SuffStats | None = None
    rejected: int = field(default=0)
    took: bool = False

    def retreat(self, current: P) -> P:
        """The parameters to take EM's own steps from instead of ``current``: EM's step where
        ``current`` came from a longer one (its objective is not known yet); the next step
        is EM's."""
        params = self.fallback if self.took and self.fallback is not None else current
        self.restart()
        return params

    def restart(self) -> None:
        """Forget the anchor (EM's own steps are taken meanwhile): the next step is EM's."""
        self.anchor = self.fallback = self.fallback_stats = None
        self.step, self.took = 1.0, False

    def undo(self, value: float, last: float) -> P | None:
        """The parameters to go on from if the step that led to an objective of ``value`` is
        undone (it is below ``last``, the run's last), else None."""
        if self.fallback is None or not value < last:
            return None
        params = self.fallback
        self.anchor, self.step = self.fallback_stats, 1.0
        self.fallback = self.fallback_stats = None
        self.rejected += 1
        self.took = False
        return params

    def next_params(self, stats: SuffStats, plain: P, current: P, strategy: ModelStrategy[P]) -> P:
        """The parameters after a pass with statistics ``stats`` under ``current``, whose EM
        step is ``plain``: a longer step where one can be taken."""
        anchor, self.anchor = self.anchor, stats
        self.fallback = self.fallback_stats = None
        self.took = False
        if anchor is None:
            self.step = 1.0
            return plain
        eta = min(self.step * GROWTH, LONGEST)
        longer = anchor.scaled(1.0 - eta) + stats.scaled(eta)
        if not _takes(longer):
            self.step = 1.0
            return plain
        try:
            params, bad = strategy.m_step(longer, current)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            bad = np.ones(1, dtype=bool)
        if bad.any() or not _finite(strategy.point_estimate(params)):
            self.step = 1.0
            return plain
        self.anchor, self.step = longer, eta
        self.fallback, self.fallback_stats = plain, stats
        self.took = True
        return params


def _takes(stats: SuffStats) -> bool:
    """Whether statistics are ones an M-step can take: positive weights, a positive
    background's share where there is one, finite moments."""
    return bool(
        np.all(stats.N > 0)
        and stats.background >= 0
        and np.isfinite(stats.S1).all()
        and np.isfinite(stats.S2).all()
    )


def _finite(point: Any) -> bool:
    return bool(
        np.isfinite(point.weights).all()
        and np.isfinite(point.means).all()
        and np.isfinite(point.covariances).all()
    )


__all__ = ["GROWTH", "LONGEST", "Overrelaxation"]
