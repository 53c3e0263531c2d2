#!/usr/bin/env python
"""Benchmark imputation: gaussmix's mixture imputation against scikit-learn's imputers, for
accuracy and time, on values missing completely at random.

Data: ``k`` Gaussian clusters in ``d`` correlated features (random full covariances, centres
a few standard deviations apart), each value hidden with probability ``--rate``.  Each
method fills the hidden values from the rest; accuracy is the RMSE over the hidden values
in units of each column's standard deviation (``NRMSE``), against the values hidden.

* gaussmix: ``GaussianMixture(k).fit(X)`` (exact EM on the observed values, its default
  16-start race) then ``impute(X)``, the conditional expectation; timed as fit + impute.
  Also, as a check of its multiple imputation, the share of hidden values inside the range
  of 19 draws (``impute(X, n_draws=19)``): 18/20 = 0.90 when the fitted conditional
  distributions are right (a value's rank among 19 draws of its distribution is uniform);
* gaussmix with one Gaussian (``GaussianMixture(1)``): the multivariate-normal imputation;
* scikit-learn ``IterativeImputer(BayesianRidge(), max_iter=10)`` (chained regressions);
* scikit-learn ``KNNImputer(n_neighbors=5)``, up to ``--knn-max-rows`` rows (its distances
  grow with n²);
* scikit-learn ``SimpleImputer()`` (column means), the floor.

Every method runs on the same data in the same process, the methods alternating within each
repetition; the median time is kept.  Run it from the repository root (``make bench`` runs it
with ``--write-readme``)::

    .venv/bin/python benchmarks/bench_impute.py --quick
    .venv/bin/python benchmarks/bench_impute.py --write-readme
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import BayesianRidge

from bench_em import Config, log, machine_info, markdown_table, parse_configs
from gaussmix import GaussianMixture

Array = NDArray[np.float64]

README = Path(__file__).with_name("README.md")
START_MARK = "<!-- impute:start -->"
END_MARK = "<!-- impute:end -->"
DEFAULT_CONFIGS = "5000x8x4,20000x12x4,100000x8x4"
QUICK_CONFIG = "3000x6x3"
SEED = 20261212
#: draws per hidden value: the range of 19 draws holds a value of their distribution with
#: probability 18/20 = 0.90 (its rank among them is uniform on 0..19)
DRAWS = 19


def make_data(cfg: Config, rate: float) -> tuple[Array, Array]:
    """Complete rows (n, d) from ``k`` correlated clusters, and a copy with values hidden
    completely at random (NaN)."""
    n, d, k = cfg.n, cfg.d, cfg.k
    rng = np.random.default_rng([SEED, n, d, k])
    means = rng.normal(scale=2.5, size=(k, d))
    factors = rng.normal(size=(k, d, d)) / np.sqrt(d) + 0.3 * np.eye(d)
    labels = rng.integers(k, size=n)
    X = means[labels] + np.einsum("nd,nde->ne", rng.normal(size=(n, d)), factors[labels])
    hidden = X.copy()
    hidden[rng.random(X.shape) < rate] = np.nan
    return X, hidden


def nrmse(filled: Array, X: Array, hidden: Array) -> float:
    """RMSE over the hidden values, each column in units of its standard deviation."""
    mask = np.isnan(hidden)
    err = (filled - X) / X.std(axis=0)
    return float(np.sqrt(np.mean(err[mask] ** 2)))


def coverage(draws: Array, X: Array, hidden: Array) -> float:
    """Share of the hidden values between the smallest and the largest of their draws."""
    mask = np.isnan(hidden)
    low, high = draws[:, mask].min(axis=0), draws[:, mask].max(axis=0)
    truth = X[mask]
    return float(np.mean((truth >= low) & (truth <= high)))


def methods(cfg: Config, knn_max_rows: int) -> dict[str, Callable[[Array], Array]]:
    """Name -> a function from the incomplete rows to the filled ones (fit included)."""

    def gaussmix(k: int) -> Callable[[Array], Array]:
        def run(hidden: Array) -> Array:
            return GaussianMixture(k, random_state=0).fit(hidden).impute(hidden)

        return run

    out: dict[str, Callable[[Array], Array]] = {
        f"gaussmix k={cfg.k}": gaussmix(cfg.k),
        "gaussmix k=1": gaussmix(1),
        "IterativeImputer": lambda h: IterativeImputer(
            BayesianRidge(), max_iter=10, random_state=0
        ).fit_transform(h),
    }
    if cfg.n <= knn_max_rows:
        out["KNNImputer"] = lambda h: KNNImputer(n_neighbors=5).fit_transform(h)
    out["SimpleImputer"] = lambda h: SimpleImputer().fit_transform(h)
    return out


def bench_config(cfg: Config, args: argparse.Namespace) -> list[list[str]]:
    X, hidden = make_data(cfg, args.rate)
    runs = methods(cfg, args.knn_max_rows)
    times: dict[str, list[float]] = {name: [] for name in runs}
    errors: dict[str, float] = {}
    for rep in range(args.repeat):
        # alternate the order so that no method always runs after the same one
        names = list(runs) if rep % 2 == 0 else list(reversed(runs))
        for name in names:
            before = hidden.copy()
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                filled = runs[name](hidden)
            times[name].append(time.perf_counter() - t0)
            assert np.array_equal(before, hidden, equal_nan=True), f"{name} modified X"
            errors[name] = nrmse(filled, X, hidden)
    gm = GaussianMixture(cfg.k, random_state=0).fit(hidden)
    t0 = time.perf_counter()
    gm.impute(hidden)
    impute_only = time.perf_counter() - t0
    cover = coverage(gm.impute(hidden, n_draws=DRAWS, random_state=0), X, hidden)
    reference = float(np.median(times["IterativeImputer"]))
    rows = []
    for name in runs:
        median = float(np.median(times[name]))
        is_gm = name == f"gaussmix k={cfg.k}"
        rows.append([
            f"{cfg.n:,}", str(cfg.d), str(cfg.k), name, f"{errors[name]:.3f}",
            f"{median:.2f}", f"{reference / median:.2f}",
            f"{impute_only:.3f}" if is_gm else "",
            f"{cover:.3f}" if is_gm else "",
        ])  # fmt: skip
        log(f"  {name:18s} NRMSE {errors[name]:.3f}  {median:.2f} s")
    return rows


def report(args: argparse.Namespace, rows: list[list[str]], argv: Sequence[str]) -> str:
    header = [
        "n", "d", "k", "method", "NRMSE", "s (fit + fill)", "speed vs IterativeImputer",
        "gaussmix impute() alone s", f"range of {DRAWS} draws covers",
    ]  # fmt: skip
    return "\n".join([
        f"`benchmarks/bench_impute.py {' '.join(argv)}`".replace(" `", "`"),
        "",
        *machine_info(),
        "",
        f"Values hidden completely at random with probability {args.rate:g}; NRMSE: RMSE over "
        "the hidden values in units of each column's standard deviation (lower is better). "
        f"Median of {args.repeat} runs, methods alternating; fit and fill timed together "
        "(gaussmix: its default 16-start race, then `impute`). The last column: share of the "
        f"hidden values between the smallest and largest of {DRAWS} draws (`impute(X, "
        f"n_draws={DRAWS})`), {DRAWS - 1}/{DRAWS + 1} = 0.90 when the conditional distributions "
        "are right. KNNImputer up to "
        f"{args.knn_max_rows:,} rows.",
        "",
        markdown_table(header, rows),
    ]) + "\n"  # fmt: skip


def write_readme(text: str) -> None:
    """Replace the section between the markers of benchmarks/README.md."""
    head, rest = README.read_text().split(START_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    README.write_text(f"{head}{START_MARK}\n{text}{END_MARK}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--configs", default=DEFAULT_CONFIGS, help="comma-separated NxDxK")
    p.add_argument("--quick", action="store_true", help=f"smoke test: --configs {QUICK_CONFIG}")
    p.add_argument("--rate", type=float, default=0.2, help="share of values hidden")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per method; median kept")
    p.add_argument("--knn-max-rows", type=int, default=20_000, help="largest n for KNNImputer")
    p.add_argument("--write-readme", action="store_true", help="rewrite README's section")
    args = p.parse_args(argv)
    configs = parse_configs(QUICK_CONFIG if args.quick else args.configs)
    log("\n".join(machine_info()))
    rows = []
    for cfg in configs:
        log(f"{cfg.label}:")
        rows += bench_config(cfg, args)
    text = report(args, rows, argv)
    print(text)
    if args.write_readme:
        write_readme(text)
        log(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
