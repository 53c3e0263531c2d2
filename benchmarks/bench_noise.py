#!/usr/bin/env python
"""The noise component: what it costs per EM iteration, and what it buys on contaminated data.

Cost: one EM iteration (a pass and the M-step, :func:`gaussmix.em.em_step`) of the plain
mixture and of the mixture with a noise component, from the same parameters, at
n = 200,000, d = 10, k = 10, alternated in the same process (``--repeat`` of each, medians),
for the fused kernel and for numpy; and what a fit with noise spends before EM (its region's
two passes, the start rule on at most 2,048 rows).

Accuracy: three clusters with a share of rows uniform over a box around them (d = 2 and 5),
fitted by the plain mixture, by gaussmix with noise and, where ``Rscript`` with mclust is
found, by mclust with noise (``Mclust(X, G = 3, modelNames = "VVV", initialization =
list(noise = ...))`` from the rows gaussmix's start rule flags).  Columns: the largest
distance of a fitted mean from its true mean, in units of the clusters' spread (each true
mean's nearest fitted one), the adjusted Rand index of the clustered rows' labels, and the
recall and precision of label -1 (noise) for the uniform rows, with the estimated noise
share.

Run it from the repository root (``make bench`` runs it with ``--write-readme``)::

    .venv/bin/python benchmarks/bench_noise.py --quick
    .venv/bin/python benchmarks/bench_noise.py --write-readme
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

from gaussmix import GaussianMixture
from gaussmix.covariance import get_family
from gaussmix.em import ConvergenceMonitor, EMState, em_step
from gaussmix.engine import Frame, numpy_kernels
from gaussmix.init import initialize
from gaussmix.noise.region import fit_region
from gaussmix.noise.start import SAMPLE, clutter
from gaussmix.noise.strategy import NoiseMaximumLikelihood
from gaussmix.params import Params
from gaussmix.sources import ArraySource
from gaussmix.strategy import MaximumLikelihood

README = Path(__file__).resolve().parent / "README.md"
START_MARK = "<!-- noise:start -->"
END_MARK = "<!-- noise:end -->"
N, D, K = 200_000, 10, 10


def timed(step: Callable[[], Any]) -> float:
    t = time.perf_counter()
    step()
    return time.perf_counter() - t


def cost(covariance_type: str, repeat: int, numpy: bool) -> tuple[float, float]:
    """Median seconds of an EM iteration, plain and with noise, alternated."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(K, D))
    X = centres[rng.integers(K, size=N)] + rng.normal(size=(N, D))
    source = ArraySource(X)
    frame = Frame.from_data(X)
    family = get_family(covariance_type)
    reg = 1e-6 / frame.scale**2
    (start,) = initialize(source, family, frame, K, method="k-means++", rngs=[rng], reg_covar=reg)
    assert isinstance(start, Params)
    region = fit_region(source, frame, get_family("full").moments)
    plain = MaximumLikelihood(family, reg)
    noisy = NoiseMaximumLikelihood(family, reg, region)
    noisy_start = start.copy()
    noisy_start.weights = noisy_start.weights * 0.95

    def step(strategy: Any, params: Any) -> Callable[[], Any]:
        def run() -> None:  # the same parameters every time: each repetition is one pass
            state = EMState(params, ConvergenceMonitor(0.0, 1))
            em_step(source, state, strategy, frame, limit=10)

        return run

    runs = [step(plain, plain.start(start)), step(noisy, noisy.start(noisy_start))]
    times: list[list[float]] = [[], []]
    with numpy_kernels() if numpy else _nothing():
        for r in range(repeat + 1):
            for i, run in enumerate(runs if r % 2 else runs[::-1]):
                seconds = timed(run)
                if r:  # the first round warms the caches and the thread pool
                    times[i].append(seconds)
    return statistics.median(times[0]), statistics.median(times[1])


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def setup_cost() -> tuple[float, float]:
    """Seconds of a fit's region (two passes over the rows) and of its start rule."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, D))
    frame = Frame.from_data(X)
    region = timed(lambda: fit_region(ArraySource(X), frame, get_family("full").moments))
    start = timed(lambda: clutter(X[:: max(1, N // SAMPLE)]))
    return region, start


# ------------------------------------------------------------------ accuracy

MCLUST = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(mclust))
X <- as.matrix(read.csv(args[1], header = FALSE))
noise <- scan(args[2], quiet = TRUE) == 1
fit <- Mclust(X, G = 3, modelNames = "VVV", verbose = FALSE,
              initialization = list(noise = noise))
write(format(c(fit$parameters$pro, fit$parameters$mean), digits = 17), args[3], ncolumns = 1)
write(fit$classification, args[4], ncolumns = 1)
"""


def contaminated(d: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1,500 rows of three clusters (unit spread) and ``share`` of all rows uniform over
    their box widened by 6 on each side: rows, labels (-1: uniform), true means."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=5.0, size=(3, d))
    labels = rng.integers(3, size=1500)
    X = means[labels] + rng.normal(size=(1500, d))
    m = round(share * 1500 / (1 - share))
    extra = rng.uniform(X.min(0) - 6.0, X.max(0) + 6.0, size=(m, d))
    return np.vstack([X, extra]), np.r_[labels, np.full(m, -1)], means


def scores(labels: np.ndarray, truth: np.ndarray, means: np.ndarray, true_means: np.ndarray,
           noise: float | None) -> list[str]:  # fmt: skip
    error = max(float(np.sqrt(((means - t) ** 2).sum(1)).min()) for t in true_means)
    clustered = truth >= 0
    ari = adjusted_rand_score(truth[clustered], labels[clustered])
    if noise is None:
        return [f"{error:.3f}", f"{ari:.3f}", "", "", ""]
    flagged = labels == -1
    recall = float(flagged[~clustered].mean()) if (~clustered).any() else float("nan")
    precision = float((~clustered)[flagged].mean()) if flagged.any() else float("nan")
    shown = [f"{v:.3f}" if np.isfinite(v) else "-" for v in (recall, precision)]
    return [f"{error:.3f}", f"{ari:.3f}", *shown, f"{noise:.3f}"]


def run_mclust(X: np.ndarray, work: Path) -> tuple[np.ndarray, np.ndarray, float] | None:
    """mclust's labels (-1 for noise), means and noise share, from gaussmix's start rows."""
    files = [work / n for n in ("x.csv", "noise.txt", "pars.txt", "labels.txt", "fit.R")]
    np.savetxt(files[0], X, delimiter=",", fmt="%.17g")
    np.savetxt(files[1], clutter(X).astype(int), fmt="%d")
    files[4].write_text(MCLUST)
    try:
        subprocess.run(["Rscript", *map(str, [files[4], *files[:4]])], check=True,
                       capture_output=True, text=True)  # fmt: skip
    except subprocess.CalledProcessError:
        return None
    pars = np.loadtxt(files[2])
    labels = np.loadtxt(files[3]).astype(int) - 1  # mclust's noise is 0
    d = X.shape[1]
    return labels, pars[4:].reshape(3, d), float(pars[3])


def accuracy(shares: Sequence[float], dims: Sequence[int]) -> list[str]:
    mclust = shutil.which("Rscript") is not None
    lines = [
        "| d | uniform share | fit | mean error | ARI | recall of -1 | precision of -1 "
        "| noise share |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for d in dims:
            for share in shares:
                X, truth, true_means = contaminated(d, share, seed=10 * d + int(100 * share))
                fits: list[tuple[str, list[str]]] = []
                plain = GaussianMixture(3, random_state=0).fit(X)
                fits.append(("plain", scores(plain.predict(X), truth, plain.means_, true_means,
                                             None)))  # fmt: skip
                noisy = GaussianMixture(3, noise=True, random_state=0).fit(X)
                fits.append(("noise", scores(noisy.predict(X), truth, noisy.means_, true_means,
                                             noisy.noise_weight_)))  # fmt: skip
                got = run_mclust(X, Path(tmp)) if mclust else None
                if got is not None:
                    fits.append(("mclust noise", scores(got[0], truth, got[1], true_means,
                                                        got[2])))  # fmt: skip
                for name, cells in fits:
                    lines.append(f"| {d} | {share:.0%} | {name} | " + " | ".join(cells) + " |")
    return lines


def write_readme(text: str, start: str, end: str) -> None:
    """Replace README.md's section between the markers ``start`` and ``end`` by ``text``."""
    old = README.read_text()
    head, rest = old.split(start, 1)
    _, tail = rest.split(end, 1)
    README.write_text(f"{head}{start}\n{text}{end}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--repeat", type=int, default=7, help="iterations timed per variant")
    p.add_argument("--quick", action="store_true", help="3 repetitions, full only, d = 2")
    p.add_argument("--write-readme", action="store_true", help="update README.md")
    args = p.parse_args(argv)
    repeat = 3 if args.quick else args.repeat
    types = ["full"] if args.quick else ["full", "diag"]
    lines = [
        f"One EM iteration at n = {N:,}, d = {D}, k = {K}, float64, from the same parameters, "
        f"plain and with noise alternated in one process ({repeat} of each, medians); "
        f"{os.cpu_count()} cores (shared with other work when measured: compare the ratios).",
        "",
        "| covariance | kernel | plain (s) | with noise (s) | ratio |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for covariance_type in types:
        for numpy in (False, True):
            a, b = cost(covariance_type, repeat, numpy)
            kernel = "numpy" if numpy else "fused"
            lines.append(f"| {covariance_type} | {kernel} | {a:.3f} | {b:.3f} | {b / a:.3f} |")
    region, start = setup_cost()
    lines += [
        "",
        f"Before EM, a fit with noise spends {region:.3f} s on its region (the bounding box and "
        f"the box along the principal axes: two passes at n = {N:,}) and {start:.3f} s on its "
        f"start rule (nearest-neighbour clutter on {SAMPLE:,} rows).",
        "",
        "Three clusters with uniform rows (1,500 clustered rows; the fits' default settings, "
        "VVV for mclust):",
        "",
        *accuracy([0.05] if args.quick else [0.0, 0.05, 0.1, 0.2], [2] if args.quick else [2, 5]),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_readme:
        write_readme(text, START_MARK, END_MARK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
