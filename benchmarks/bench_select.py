"""The full model sweep against R's ``Mclust()``: every one of the 14 models x G = 1..9.

On ``n`` rows of ``d`` features (default 20,000 x 5, a mixture of 4 anisotropic Gaussian
clusters with a fixed seed), times ``select_model(X, range(1, 10), "all")`` (across the
cores, its default, and with ``n_jobs=1``) and R's
``Mclust(X)`` (its defaults: the same 14 models and G, hierarchical start on a subsample of
2,000 rows) alternately, ``--repeat`` times each (medians; R's time is measured inside R,
without its start-up), and compares the selected models' BIC (gaussmix's sign: lower is
better; mclust's is the opposite).  Not a test dependency: needs ``Rscript`` with mclust
(``apt-get install -y r-cran-mclust``)::

    python benchmarks/bench_select.py [--n 20000] [--d 5] [--repeat 1] [--write-readme]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gaussmix import select_model

README = Path(__file__).with_name("README.md")
START, END = "<!-- select:start -->", "<!-- select:end -->"

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(mclust))
X <- as.matrix(read.csv(args[1], header = FALSE))
t <- system.time(fit <- Mclust(X, verbose = FALSE))[["elapsed"]]
cat(fit$modelName, fit$G, format(fit$bic, digits = 17), format(fit$loglik, digits = 17), t,
    as.character(packageVersion("mclust")), "\n")
"""


def make_data(n: int, d: int, seed: int = 0) -> np.ndarray:
    """A mixture of 4 anisotropic Gaussian clusters, weights Dirichlet(5)."""
    rng = np.random.default_rng(seed)
    k = 4
    weights = rng.dirichlet(np.full(k, 5.0))
    labels = rng.choice(k, size=n, p=weights)
    centres = rng.normal(scale=3.0, size=(k, d))
    maps = rng.normal(size=(k, d, d)) * np.exp(rng.uniform(-1, 1, size=(k, 1, d)))
    noise = rng.normal(size=(n, d))
    return centres[labels] + np.einsum("ni,nij->nj", noise, maps[labels])


def run_mclust(data: Path, script: Path) -> dict:
    done = subprocess.run(
        ["Rscript", str(script), str(data)], capture_output=True, text=True, check=True
    )
    model, g, bic, ll, seconds, version = done.stdout.split()
    return {"model": model, "G": int(g), "bic": -float(bic), "loglik": float(ll),
            "seconds": float(seconds), "version": version}  # fmt: skip


def run_gaussmix(X: np.ndarray, n_jobs: int | None = None) -> dict:
    start = time.perf_counter()
    result = select_model(X, range(1, 10), "all", random_state=0, n_jobs=n_jobs)
    seconds = time.perf_counter() - start
    row = result.best
    return {"model": row["covariance_type"], "G": row["n_components"], "bic": row["bic"],
            "loglik": row["log_likelihood"], "seconds": seconds}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--d", type=int, default=5)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--write-readme", action="store_true")
    args = p.parse_args(argv)
    if shutil.which("Rscript") is None:
        print("Rscript not found: install R and mclust (apt-get install -y r-cran-mclust).")
        return 1
    X = make_data(args.n, args.d)
    ours: list[dict] = []
    alone: list[dict] = []
    theirs: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "X.csv", Path(tmp) / "sweep.R"
        np.savetxt(data, X, delimiter=",", fmt="%.17g")
        script.write_text(R_SCRIPT)
        for _ in range(args.repeat):  # alternating, so both see the same machine load
            theirs.append(run_mclust(data, script))
            ours.append(run_gaussmix(X))
            alone.append(run_gaussmix(X, n_jobs=1))
    t_ours = statistics.median(r["seconds"] for r in ours)
    t_alone = statistics.median(r["seconds"] for r in alone)
    t_theirs = statistics.median(r["seconds"] for r in theirs)
    a, b, c = ours[-1], theirs[-1], alone[-1]
    lines = [
        f"{args.n:,} x {args.d}, 14 models x G = 1..9, median of {args.repeat} "
        f"({os.cpu_count()} cores; R mclust {b['version']})",
        "",
        "| library | time (s) | chosen | BIC | logL |",
        "| --- | ---: | --- | ---: | ---: |",
        f"| R `Mclust(X)` | {t_theirs:.1f} | {b['model']}, {b['G']} | {b['bic']:.2f} "
        f"| {b['loglik']:.2f} |",
        f"| gaussmix `select_model(X)` | {t_ours:.1f} | {a['model']}, {a['G']} "
        f"| {a['bic']:.2f} | {a['loglik']:.2f} |",
        f"| gaussmix `select_model(X, n_jobs=1)` | {t_alone:.1f} | {c['model']}, {c['G']} "
        f"| {c['bic']:.2f} | {c['loglik']:.2f} |",
        "",
        f"Speed-up {t_theirs / t_ours:.1f}x ({t_theirs / t_alone:.1f}x in one process); "
        f"gaussmix's BIC minus mclust's {a['bic'] - b['bic']:+.2f} (negative: better).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_readme:
        readme = README.read_text()
        block = f"{START}\n{text}\n{END}"
        if START not in readme:
            raise SystemExit(f"{README} has no {START} marker")
        README.write_text(re.sub(f"{START}.*?{END}", lambda _: block, readme, flags=re.S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
