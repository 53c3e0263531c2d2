#!/usr/bin/env python
"""Benchmark gaussmix's ``BayesianGaussianMixture`` against scikit-learn's, in one run.

Both libraries fit the same data from the same start with the same (default) priors and
``tol=0``: gaussmix with ``means_init`` (every row starts in the component of its nearest
given mean, measured in the features' standardised units), scikit-learn through a subclass
whose ``_initialize_parameters`` hands its own ``_initialize`` those same one-hot
responsibilities (the spreads read from gaussmix's fit).  So both compute the same posterior
after every iteration, and the script checks that their lower bounds agree.

The time per variational iteration is the median interval between successive iterations of
a fit of ``iters + 1`` iterations: gaussmix's ``fit`` callback stamps each iteration,
scikit-learn's subclass stamps each of its E-steps (an iteration is an E-step, an M-step
and the lower bound), so validation and the start are left out of both.  The two libraries'
fits alternate within each repetition and the medians are reported, so that a busy machine
slows both alike.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_vb.py --quick          # smoke test, seconds
    .venv/bin/python benchmarks/bench_vb.py                  # 200000 x 10, k = 10, 4 types
    .venv/bin/python benchmarks/bench_vb.py --write-readme   # also rewrite README.md's section
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBayesian

import gaussmix
from gaussmix import BayesianGaussianMixture

Array = NDArray[np.float64]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
SEED = 20261205
README = Path(__file__).resolve().parent / "README.md"
START_MARK = "<!-- vb:start -->"
END_MARK = "<!-- vb:end -->"


class SameStart(SkBayesian):
    """scikit-learn's Bayesian mixture started from the one-hot responsibilities of each
    row's nearest mean in ``start_means`` (gaussmix's ``means_init`` start)."""

    def __init__(self, *, start_means: Any = None, spread: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.start_means = start_means
        self.spread = spread
        self.stamps: list[float] = []

    def _e_step(self, X: Any, xp: Any = None) -> Any:
        self.stamps.append(time.perf_counter())
        return super()._e_step(X)

    def _initialize_parameters(self, X: Any, random_state: Any, xp: Any = None) -> None:
        # nearest in the features' standardised units, as gaussmix assigns a means_init
        # start (each feature divided by its spread in gaussmix's frame, where it has one)
        unit = np.ones(X.shape[1]) if self.spread is None else 1.0 / np.asarray(self.spread)
        means, Z = np.asarray(self.start_means) * unit, X * unit
        # |z - m|² up to the row's own |z|², which does not change the nearest mean
        distance = (means * means).sum(axis=1) - 2.0 * Z @ means.T
        self._initialize(X, np.eye(self.n_components)[distance.argmin(axis=1)])


def make_data(n: int, d: int, k: int) -> tuple[Array, Array]:
    """``n`` rows of ``k`` overlapping Gaussian clusters in ``d`` dimensions, and ``k``
    start means drawn from the rows."""
    rng = np.random.default_rng(SEED)
    centres = rng.normal(0.0, 3.0, size=(k, d))
    labels = rng.integers(0, k, size=n)
    scales = rng.uniform(0.5, 1.5, size=(k, d))
    X = centres[labels] + rng.normal(size=(n, d)) * scales[labels]
    return X, X[rng.choice(n, k, replace=False)]


def per_iteration(stamps: Sequence[float]) -> float:
    """Median seconds between successive time stamps."""
    return float(np.median(np.diff(stamps)))


def ours(X: Array, start: Array, max_iter: int, params: dict[str, Any]) -> tuple[float, Any]:
    """gaussmix's seconds per iteration and its model."""
    stamps: list[float] = []
    model = BayesianGaussianMixture(means_init=start, max_iter=max_iter, **params)
    model.fit(X, callback=lambda event: stamps.append(time.perf_counter()))
    return per_iteration(stamps), model


def spread_of(model: Any) -> Array | None:
    """The feature spreads (in the caller's units) by which gaussmix's fit measured the
    distances of its ``means_init`` start, or None (one common scale: plain distances)."""
    frame = model._prediction_frame()  # the fit's frame; private, read for this check only
    spread = frame.spread()
    return None if spread is None else np.asarray(spread * frame.scale)


def theirs(
    X: Array, start: Array, max_iter: int, params: dict[str, Any], spread: Array | None
) -> tuple[float, Any]:
    """scikit-learn's seconds per iteration and its model."""
    model = SameStart(start_means=start, spread=spread, max_iter=max_iter, **params).fit(X)
    # its last E-step, after the loop, gives fit_predict's labels
    return per_iteration(model.stamps[:-1]), model


def run(n: int, d: int, k: int, types: Sequence[str], iters: int, repeat: int) -> str:
    """The results table as Markdown."""
    X, start = make_data(n, d, k)
    rows = []
    for covariance_type in types:
        common: dict[str, Any] = dict(n_components=k, covariance_type=covariance_type, tol=0.0)

        _, warm = ours(X, start, 2, common)  # warm-up: imports, thread pools and page faults
        spread = spread_of(warm)
        theirs(X, start, 2, common, spread)
        gm_times, sk_times = [], []
        for _ in range(repeat):
            gm_t, gm = ours(X, start, iters + 1, common)
            sk_t, sk = theirs(X, start, iters + 1, common, spread)
            gm_times.append(gm_t)
            sk_times.append(sk_t)
        agree = float(
            np.max(np.abs(np.subtract(gm.history_, np.ravel(sk.lower_bounds_))))
            / abs(float(np.ravel(sk.lower_bound_)[0]))
        )
        gm_s, sk_s = statistics.median(gm_times), statistics.median(sk_times)
        rows.append(
            f"| {covariance_type} | {gm_s * 1e3:.1f} | {sk_s * 1e3:.1f} | {sk_s / gm_s:.1f}x "
            f"| {agree:.1e} |"
        )
        print(rows[-1], flush=True)
    header = (
        f"n = {n}, d = {d}, k = {k}; median of {repeat} alternating repetitions of "
        f"{iters} iteration intervals; gaussmix {gaussmix.__version__}, scikit-learn "
        f"{sklearn.__version__}, numpy {np.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}.\n\n"
        "| covariance | gaussmix ms/iter | scikit-learn ms/iter | speed-up | lower bound "
        "max rel. diff |\n|---|---:|---:|---:|---:|\n"
    )
    return header + "\n".join(rows) + "\n"


def write_readme(text: str) -> None:
    """Replace the text between this benchmark's markers in ``README.md``."""
    old = README.read_text()
    head, rest = old.split(START_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    README.write_text(f"{head}{START_MARK}\n{text}{END_MARK}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200_000, help="rows (default 200000)")
    p.add_argument("--d", type=int, default=10, help="features (default 10)")
    p.add_argument("--k", type=int, default=10, help="components (default 10)")
    p.add_argument("--types", default=",".join(COVARIANCE_TYPES), help="covariance types")
    p.add_argument("--iters", type=int, default=5, help="timed iterations per fit (default 5)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    p.add_argument("--quick", action="store_true", help="20000 x 5, k = 4, 1 repetition")
    p.add_argument("--write-readme", action="store_true", help="update README.md")
    args = p.parse_args(argv)
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    bad = [t for t in types if t not in COVARIANCE_TYPES]
    if bad or not types:
        p.error(f"bad --types {bad}; choose from {', '.join(COVARIANCE_TYPES)}")
    if args.quick:
        args.n, args.d, args.k, args.iters, args.repeat = 20_000, 5, 4, 2, 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        text = run(args.n, args.d, args.k, types, args.iters, args.repeat)
    print(text)
    if args.write_readme:
        write_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
