#!/usr/bin/env python
"""Benchmark EM with missing values: accuracy of the estimates under MCAR and MAR, and the
cost of one EM iteration against complete data.

*Accuracy*: synthetic mixtures with known parameters (d = 5, k = 3), values removed
completely at random (MCAR) at 10, 30 and 50 %.  Each fit starts from the generating
parameters (so that components stay matched to them) and runs to convergence; the error of
the means is the root mean square of ``means_ - means`` over components and features, that
of the covariances the mean over components of ``||S_hat - S||_F / ||S||_F``.  Three fits
per rate: gaussmix on the complete data (the same rows before the values were removed),
gaussmix marginalising the missing values (``missing="marginalize"``), and mean imputation
(each NaN replaced by its column's observed mean) followed by complete-data EM.  Errors are
averaged over ``--replicates`` data sets.  One MAR case (d = 2): the second feature is
hidden where the first is high within its cluster; complete-case analysis (rows with a NaN
dropped) is biased, marginalising is not.

*Cost*: n = 200,000, d = 10, k = 10, every covariance type, 10, 30 and 50 % MCAR: seconds
per EM iteration (the median time between two E-steps of a fit from the same start,
``tol=0``, read from the fit callback, so that validation, grouping by pattern and the start
are left out) with missing values and on the complete rows, timed alternately in the same
process (medians over ``--repeat`` rounds); scikit-learn's complete-data iteration for the
four types it has, ``(t(1 + m) - t(1)) / m``, for context.

Run it from the repository root (``make bench`` runs it with ``--write-readme``)::

    .venv/bin/python benchmarks/bench_missing.py --quick
    .venv/bin/python benchmarks/bench_missing.py --write-readme
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench_dask import write_readme
from gaussmix import MCLUST_MODELS, GaussianMixture
from gaussmix.multistart import FitEvent

Array = NDArray[np.float64]

START_MARK = "<!-- missing:start -->"
END_MARK = "<!-- missing:end -->"
RATES = (0.1, 0.3, 0.5)
#: scikit-learn's names of the covariance types it has
SKLEARN = {"VVV": "full", "EEE": "tied", "VVI": "diag", "VII": "spherical"}


# ------------------------------------------------------------------ accuracy


def mixture(rng: np.random.Generator, d: int, k: int) -> tuple[Array, Array, Array]:
    """Weights, well separated means and correlated covariances of a known mixture."""
    weights = rng.dirichlet(np.full(k, 5.0))
    means = rng.normal(scale=4.0, size=(k, d))
    a = rng.normal(size=(k, d, d)) * 0.5
    covariances = np.einsum("kab,kcb->kac", a, a) + 0.5 * np.eye(d)
    return weights, means, covariances


def draw(rng: np.random.Generator, n: int, weights: Array, means: Array, cov: Array) -> Array:
    labels = rng.choice(len(weights), size=n, p=weights)
    low = np.linalg.cholesky(cov)
    return means[labels] + np.einsum(
        "nab,nb->na", low[labels], rng.normal(size=means[labels].shape)
    )


def fit_from(X: Array, weights: Array, means: Array, cov: Array) -> GaussianMixture:
    """A full-covariance fit from the generating parameters, run to convergence."""
    gm = GaussianMixture(
        len(weights), weights_init=weights, means_init=means,
        precisions_init=np.linalg.inv(cov), tol=1e-7, max_iter=1000,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gm.fit(X)


def errors(gm: GaussianMixture, means: Array, cov: Array) -> tuple[float, float]:
    """RMS error of the means; mean relative Frobenius error of the covariances."""
    mean_err = float(np.sqrt(np.mean((gm.means_ - means) ** 2)))
    norms = np.linalg.norm(gm.covariances_ - cov, axis=(1, 2)) / np.linalg.norm(cov, axis=(1, 2))
    return mean_err, float(norms.mean())


def mean_imputed(X: Array) -> Array:
    fill = np.nanmean(X, axis=0)
    return np.where(np.isnan(X), fill, X)


def accuracy(n: int, replicates: int, out: Any) -> str:
    d, k = 5, 3
    # errors[method][rate] -> list over replicates of (means, covariances)
    found: dict[str, dict[float, list[tuple[float, float]]]] = {
        m: {r: [] for r in RATES} for m in ("complete", "gaussmix", "imputed")
    }
    for rep in range(replicates):
        rng = np.random.default_rng(100 + rep)
        weights, means, cov = mixture(rng, d, k)
        X = draw(rng, n, weights, means, cov)
        complete = errors(fit_from(X, weights, means, cov), means, cov)
        for rate in RATES:
            Xm = X.copy()
            Xm[rng.random(X.shape) < rate] = np.nan
            Xm = Xm[~np.isnan(Xm).all(axis=1)]  # rows with nothing observed say nothing
            found["complete"][rate].append(complete)
            found["gaussmix"][rate].append(errors(fit_from(Xm, weights, means, cov), means, cov))
            imputed = fit_from(mean_imputed(Xm), weights, means, cov)
            found["imputed"][rate].append(errors(imputed, means, cov))
        print(f"accuracy replicate {rep + 1}/{replicates} done", file=out, flush=True)

    def avg(method: str, rate: float, which: int) -> float:
        return float(np.mean([e[which] for e in found[method][rate]]))

    lines = [
        "| MCAR | means: complete | gaussmix | mean-imputed | gaussmix / complete "
        "| covariances: complete | gaussmix | mean-imputed | gaussmix / complete |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rate in RATES:
        cells = [f"{rate:.0%}"]
        for which in (0, 1):
            c, g, i = (avg(m, rate, which) for m in ("complete", "gaussmix", "imputed"))
            cells += [f"{c:.4f}", f"{g:.4f}", f"{i:.4f}", f"{g / c:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def missing_at_random(n: int) -> str:
    """Complete-case analysis against marginalising, values missing at random (MAR)."""
    rng = np.random.default_rng(7)
    means = np.array([[-4.0, 0.0], [4.0, 3.0]])
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    weights = np.array([0.5, 0.5])
    X = draw(rng, n, weights, means, np.stack([cov, cov]))
    hide = ((X[:, 0] > -3.5) & (X[:, 0] < 0.0)) | (X[:, 0] > 4.5)
    Xm = X.copy()
    Xm[hide, 1] = np.nan
    covs = np.stack([cov, cov])
    lines = [
        f"MAR, n = {n:,}, d = 2, k = 2: the second feature hidden where the first lies in "
        f"(-3.5, 0) or above 4.5 ({hide.mean():.0%} of rows); error of the means "
        "(largest over components and features):",
        "",
        "| fit | largest error of the means | mean of feature 2, component 1 (true 0) "
        "| component 2 (true 3) |",
        "| :--- | ---: | ---: | ---: |",
    ]
    for name, data in (
        ("complete data", X),
        ("gaussmix, marginalised", Xm),
        ("complete cases (rows with a NaN dropped)", Xm[~hide]),
        ("mean imputation + EM", mean_imputed(Xm)),
    ):
        gm = fit_from(data, weights, means, covs)
        err = float(np.abs(gm.means_ - means).max())
        lines.append(f"| {name} | {err:.3f} | {gm.means_[0, 1]:.3f} | {gm.means_[1, 1]:.3f} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ cost


def per_iteration(gm: GaussianMixture, X: Array) -> float:
    """Median seconds between the E-steps of ``gm``'s fit on ``X``."""
    stamps: list[float] = []

    def tick(event: FitEvent) -> None:
        stamps.append(time.perf_counter())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X, callback=tick)
    return statistics.median(np.diff(stamps))


def sklearn_per_iteration(X: Array, cov: str, start: Array, iters: int) -> float | None:
    try:
        from sklearn.mixture import GaussianMixture as SkGM
    except ImportError:
        return None

    def fit(m: int) -> float:
        gm = SkGM(len(start), covariance_type=cov, means_init=start, max_iter=m, tol=0.0)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm.fit(X)
        return time.perf_counter() - t

    fit(1)  # warm-up
    return (fit(1 + iters) - fit(1)) / iters


def cost(n: int, types: Sequence[str], iters: int, repeat: int, sklearn: bool, out: Any) -> str:
    d, k = 10, 10
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=4.0, size=(k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    holed = {}
    for rate in RATES:
        Xm = X.copy()
        Xm[rng.random(X.shape) < rate] = np.nan
        holed[rate] = Xm
    start = X[np.random.default_rng(2).choice(n, k, replace=False)]
    lines = [
        "| type | complete s/iter | 10 % s/iter | 30 % s/iter | 50 % s/iter "
        "| 10 % / complete | 30 % / complete | 50 % / complete | scikit-learn complete s/iter |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cov in types:
        model = partial(
            GaussianMixture, k, covariance_type=cov, means_init=start, max_iter=iters, tol=0.0
        )
        full: list[float] = []
        missing: dict[float, list[float]] = {rate: [] for rate in RATES}
        for _ in range(repeat):  # alternating, so that a slow spell weighs on all alike
            for rate in RATES:
                full.append(per_iteration(model(), X))
                missing[rate].append(per_iteration(model(), holed[rate]))
        t_full = statistics.median(full)
        t_miss = [statistics.median(missing[rate]) for rate in RATES]
        sk = (
            sklearn_per_iteration(X, SKLEARN[cov], start, max(iters - 1, 1))
            if sklearn and cov in SKLEARN
            else None
        )
        cells = [
            cov if cov not in SKLEARN else f"{cov} ({SKLEARN[cov]})",
            f"{t_full:.4f}",
            *(f"{t:.4f}" for t in t_miss),
            *(f"{t / t_full:.2f}" for t in t_miss),
            "—" if sk is None else f"{sk:.4f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], file=out, flush=True)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ report


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--n", type=int, default=200_000, help="rows of the cost benchmark")
    p.add_argument("--accuracy-n", type=int, default=20_000, help="rows per accuracy data set")
    p.add_argument("--replicates", type=int, default=5, help="accuracy data sets per rate")
    p.add_argument("--types", default="all", help="comma-separated covariance types, or all")
    p.add_argument("--iters", type=int, default=6, help="EM iterations per timed fit")
    p.add_argument("--repeat", type=int, default=3, help="alternating rounds per type")
    p.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn's timings")
    p.add_argument("--quick", action="store_true", help="small n, four types, one round")
    p.add_argument("--write-readme", action="store_true", help="update README.md")
    args = p.parse_args(argv)
    types: Sequence[str] = MCLUST_MODELS if args.types == "all" else args.types.split(",")
    n, acc_n, replicates, repeat = args.n, args.accuracy_n, args.replicates, args.repeat
    if args.quick:
        types, n, acc_n, replicates, repeat = ("VVV", "EEE", "VVI", "VII"), 20_000, 5_000, 1, 1
    run: list[tuple[str, Callable[[], str]]] = [
        ("accuracy", lambda: accuracy(acc_n, replicates, sys.stdout)),
        ("mar", lambda: missing_at_random(acc_n)),
        ("cost", lambda: cost(n, types, args.iters, repeat, not args.no_sklearn, sys.stdout)),
    ]
    parts = {name: step() for name, step in run}
    text = (
        f"Accuracy: MCAR, n = {acc_n:,} per data set, d = 5, k = 3, full covariances, fits "
        f"from the generating parameters to convergence, errors averaged over {replicates} "
        "data sets; mean-imputed: NaN replaced by the column's observed mean, then "
        "complete-data EM.\n\n"
        + parts["accuracy"]
        + "\n"
        + parts["mar"]
        + f"\nCost: seconds per EM iteration, n = {n:,}, d = 10, k = 10, values MCAR at "
        f"10/30/50 %, {os.cpu_count()} cores, gaussmix's default threads; medians of "
        f"{repeat} alternating rounds of {args.iters}-iteration fits.\n\n" + parts["cost"]
    )
    print(text)
    if args.write_readme:
        write_readme(text, START_MARK, END_MARK)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
