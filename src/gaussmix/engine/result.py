"""What a pass returns: its sums, per-row outputs and the rows it explains worst."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..stats import SuffStats

Array = NDArray[np.float64]


class NonFiniteInput(ValueError):
    """Rows held NaN or inf where finite ones were needed: raised by a pass told that ``X``
    may hold them (``finite=False``) when it meets one, and by :meth:`Frame.from_data`."""


@dataclass(frozen=True)
class WorstRows:
    """The rows a model explains worst: indices and log-densities, lowest first.

    Indices are global (the pass adds its ``row_offset``), so the worst rows of several
    blocks merge into those of all their rows (:meth:`merged`); ties go to the lower index.
    """

    indices: NDArray[np.intp]
    log_density: Array

    @classmethod
    def empty(cls) -> WorstRows:
        return cls(np.empty(0, dtype=np.intp), np.empty(0))

    @classmethod
    def of(cls, indices: NDArray[np.intp], log_density: Array, keep: int) -> WorstRows:
        """The ``keep`` lowest of the given rows, in order."""
        order = np.lexsort((indices, log_density))[:keep]
        return cls(np.asarray(indices[order], dtype=np.intp), np.asarray(log_density[order]))

    def merged(self, other: WorstRows, keep: int) -> WorstRows:
        """The ``keep`` worst rows of both sets."""
        return WorstRows.of(
            np.concatenate([self.indices, other.indices]),
            np.concatenate([self.log_density, other.log_density]),
            keep,
        )

    def __len__(self) -> int:
        return int(self.indices.shape[0])


@dataclass
class PassResult:
    """What one pass over the data produced; fields not asked for are ``None``."""

    stats: SuffStats | None
    log_likelihood: float
    weight: float
    resp: NDArray[np.floating] | None = None
    log_density: NDArray[np.floating] | None = None
    labels: NDArray[np.intp] | None = None
    worst: WorstRows = field(default_factory=lambda: WorstRows.empty())
    #: "expanded", "mixed" or "direct" (the numpy kernels), or "fused" (the compiled one)
    kernel: str = ""
    #: whether the fused kernel formed the log-densities' products in float32 lanes
    float32_products: bool = False
    #: whether the fused kernel summed the statistics in float32 lanes (whitened)
    float32_statistics: bool = False
    #: the components whose statistics it summed so (bool (k,)), the others' in float64
    whitened_components: NDArray[np.bool_] | None = None
    #: rows with nothing observed (missing values), left out of the statistics
    empty_rows: int = 0
    #: options for the next pass of the same run (the same rows under nearby terms): what
    #: this pass learnt, e.g. the components whose float32 statistics failed their check
    next_options: dict[str, Any] = field(default_factory=dict)

    @property
    def worst_rows(self) -> NDArray[np.intp]:
        """Indices of the worst-explained rows, lowest log-density first."""
        return self.worst.indices

    def mean_log_likelihood(self) -> float:
        return self.log_likelihood / self.weight if self.weight > 0 else -np.inf


def merge_results(results: Sequence[PassResult], n_worst: int = 0) -> PassResult:
    """One result from the passes over consecutive blocks of rows (in row order).

    Statistics, log-likelihoods and weights add (statistics by the parallel-axis merge),
    per-row outputs are concatenated, and the ``n_worst`` worst rows of all blocks are kept
    (each block's pass must have had its ``row_offset``).
    """
    if not results:
        raise ValueError("merge_results needs at least one result.")
    stats = None
    if all(r.stats is not None for r in results):
        stats = results[0].stats
        for r in results[1:]:
            assert stats is not None and r.stats is not None
            stats = stats + r.stats
    worst = WorstRows.empty()
    for r in results:
        worst = worst.merged(r.worst, n_worst)

    def joined(name: str) -> NDArray[Any] | None:
        parts = [getattr(r, name) for r in results]
        return None if any(p is None for p in parts) else np.concatenate(parts)

    return PassResult(
        stats=stats,
        log_likelihood=float(sum(r.log_likelihood for r in results)),
        weight=float(sum(r.weight for r in results)),
        resp=joined("resp"),
        log_density=joined("log_density"),
        labels=joined("labels"),
        worst=worst,
        kernel="+".join(sorted({r.kernel for r in results})),
        float32_products=any(r.float32_products for r in results),
        float32_statistics=any(r.float32_statistics for r in results),
        empty_rows=sum(r.empty_rows for r in results),
        next_options=_common_options([r.next_options for r in results]),
    )


def _common_options(options: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What every block advises: the components all of them allow float32 statistics."""
    if not options or any("float32_statistics" not in o for o in options):
        return {}
    masks = [np.asarray(o["float32_statistics"], dtype=bool) for o in options]
    return {"float32_statistics": np.logical_and.reduce(masks)}
