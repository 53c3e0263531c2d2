#!/usr/bin/env python
"""The default fit on small data (at most 5,000 rows) against scikit-learn's, in one run.

On data this small every one of gaussmix's 16 starts runs to convergence and is refined
(``tol=None``), so the time goes to EM's iterations, not to the passes' arithmetic: data where
EM crawls (overlapping clusters, rows without clusters) are the slow case, and the cases
below include them.  Each case is fitted with both libraries' defaults
(``GaussianMixture(k, random_state=0)``) and timed over ``--repeat`` alternating fits
(medians); the table gives the time, the iterations of the retained run and ``score(X)``
(mean log-likelihood per row; gaussmix's fit is on the rows with missing values where the
case has them, scikit-learn's then on the complete rows).

Run it from the repository root::

    .venv/bin/python benchmarks/bench_small.py [--repeat 3] [--cases faithful,gauss2000x8x3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_iris
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from bench_em import Config, log, machine_info, markdown_table
from bench_em import make_data as bench_data
from bench_impute import make_data as impute_data
from gaussmix import GaussianMixture
from gaussmix.datasets import load_faithful

Array = NDArray[np.float64]


def _gauss(n: int, d: int) -> Array:
    """Rows of one standard normal: no clusters, the mixture only shapes the density."""
    return np.random.default_rng([n, d]).normal(size=(n, d))


#: name -> (rows to fit, complete rows for scikit-learn, components)
CASES: dict[str, Callable[[], tuple[Array, Array, int]]] = {
    "faithful": lambda: (*[np.asarray(load_faithful()[0], float)] * 2, 3),
    "iris": lambda: (*[np.asarray(load_iris().data, float)] * 2, 3),
    "aniso1000x8x3": lambda: (*[bench_data("aniso", Config(1000, 8, 3))] * 2, 3),
    "aniso5000x2x3": lambda: (*[bench_data("aniso", Config(5000, 2, 3))] * 2, 3),
    "aniso3000x32x4": lambda: (*[bench_data("aniso", Config(3000, 32, 4))] * 2, 4),
    "impute5000x8x4": lambda: (*[impute_data(Config(5000, 8, 4), 0.0)[0]] * 2, 4),
    "impute5000x8x4 20% missing": lambda: (
        impute_data(Config(5000, 8, 4), 0.2)[1],
        impute_data(Config(5000, 8, 4), 0.2)[0],
        4,
    ),
    "gauss2000x8x3": lambda: (*[_gauss(2000, 8)] * 2, 3),
    "gauss5000x32x3": lambda: (*[_gauss(5000, 32)] * 2, 3),
}


def timed(make: Callable[[], object], X: Array, repeat: int) -> tuple[float, object]:
    times, model = [], None
    for _ in range(repeat):
        model = make()
        t0 = time.perf_counter()
        model.fit(X)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - t0)
    return statistics.median(times), model


def run(names: Sequence[str], repeat: int) -> str:
    rows = []
    for name in names:
        X, complete, k = CASES[name]()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm_s, gm = timed(lambda k=k: GaussianMixture(k, random_state=0), X, repeat)
            sk_s, sk = timed(lambda k=k: SkGaussianMixture(k, random_state=0), complete, repeat)
        log(f"{name}: gaussmix {gm_s:.3f} s, scikit-learn {sk_s:.3f} s")
        n, d = X.shape
        rows.append([
            name, f"{n:,}", str(d), str(k),
            f"{sk_s:.3g}", str(sk.n_iter_), f"{sk.score(complete):.6f}",  # type: ignore[attr-defined]
            f"{gm_s:.3g}", str(gm.n_iter_), f"{gm.score(X):.6f}",  # type: ignore[attr-defined]
            f"{sk_s / gm_s:.2f}x",
        ])  # fmt: skip
    header = [
        "data", "n", "d", "k", "sklearn s", "sklearn n_iter_", "sklearn score",
        "gaussmix s", "gaussmix n_iter_", "gaussmix score", "speedup",
    ]  # fmt: skip
    return markdown_table(header, rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    log("\n".join(machine_info()))
    print(run(names, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
