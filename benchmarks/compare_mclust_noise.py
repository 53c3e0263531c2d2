#!/usr/bin/env python
"""gaussmix's noise component against R's mclust (``Mclust(X, initialization =
list(noise = ...))``); not a test dependency.

On Old Faithful and iris with 5 % of extra rows uniform over their bounding box, and on
three clusters with 10 % uniform rows, for a few models and G = 1..4, both fit a mixture
with a noise component from the same rows given as noise at the start (gaussmix's start
rule, :func:`gaussmix.noise.start.clutter`), mclust with its hierarchical start and EM
tolerance 1e-10.  Compared:

* the volume: gaussmix's region against mclust's ``hypvol`` (the same rule);
* gaussmix's fit from its own start (``GaussianMixture(G, covariance_type=model,
  noise=True, tol=1e-10)``: the default start, mclust's tolerance);
* gaussmix's EM continued from mclust's fitted parameters (a warm start, ``tol=1e-10``,
  ``reg_covar=0``): where both implement the same model, EM stays at mclust's optimum;
* BIC under mclust's parameters (``max_iter=0``): mclust counts the noise weight and the
  volume as two more free parameters (``nMclustParams(..., noise = TRUE)``), as gaussmix.

Log-likelihoods are totals in nats.  Needs ``Rscript`` with mclust (Debian: ``apt-get
install -y r-cran-mclust``); run it from the repository root::

    .venv/bin/python benchmarks/compare_mclust_noise.py [--write-readme]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from bench_noise import write_readme
from compare_mclust import storage_precisions
from gaussmix import GaussianMixture
from gaussmix.datasets import load_faithful
from gaussmix.noise.start import clutter

START_MARK = "<!-- noise-mclust:start -->"
END_MARK = "<!-- noise-mclust:end -->"
MODELS = ("VVV", "EEE", "VII", "EEV")

#: R: every model and G for one data set with the given noise rows; one line per fit: the
#: model, G, then loglik, df, bic, log(hypvol) and pro (G + 1), mean, sigma (column-major)
R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(mclust))
X <- as.matrix(read.csv(args[1], header = FALSE))
noise <- scan(args[2], quiet = TRUE) == 1
out <- file(args[3], "w")
ctrl <- emControl(tol = c(1e-10, sqrt(.Machine$double.eps)))
num <- function(x) format(x, digits = 17)
for (m in strsplit(args[4], ",")[[1]]) for (g in 1:as.integer(args[5])) {
  fit <- tryCatch(suppressWarnings(
    Mclust(X, G = g, modelNames = m, control = ctrl, verbose = FALSE,
           initialization = list(noise = noise))),
    error = function(e) NULL)
  if (is.null(fit)) {
    writeLines(paste(m, g, "NA"), out)
    next
  }
  p <- fit$parameters
  writeLines(paste(c(m, g, num(fit$loglik), fit$df, num(fit$bic), num(log(fit$hypvol)),
                     num(p$pro), num(p$mean), num(p$variance$sigma)), collapse = " "), out)
}
close(out)
cat(as.character(packageVersion("mclust")), "\n")
"""


def datasets() -> dict[str, np.ndarray]:
    """Each data set with its uniform rows appended (a fixed seed)."""
    rng = np.random.default_rng(2026)
    faithful, _ = load_faithful()
    iris = load_iris().data
    centres = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]])
    clusters = centres[rng.integers(3, size=600)] + rng.normal(size=(600, 2)) * [1.0, 0.7]
    out = {}
    for name, X, share in (("faithful", faithful, 0.05), ("iris", iris, 0.05),
                           ("clusters", clusters, 0.10)):  # fmt: skip
        m = round(share * len(X) / (1 - share))
        extra = rng.uniform(X.min(0), X.max(0), size=(m, X.shape[1]))
        out[name] = np.vstack([np.asarray(X, np.float64), extra])
    return out


def run_mclust(X: np.ndarray, noise: np.ndarray, max_g: int, work: Path) -> tuple[str, list[dict]]:
    """mclust's fits of ``X`` from the ``noise`` rows, and mclust's version."""
    data, flags, out, script = (work / n for n in ("x.csv", "noise.txt", "out.txt", "fit.R"))
    np.savetxt(data, X, delimiter=",", fmt="%.17g")
    np.savetxt(flags, noise.astype(int), fmt="%d")
    script.write_text(R_SCRIPT)
    done = subprocess.run(
        ["Rscript", str(script), str(data), str(flags), str(out), ",".join(MODELS), str(max_g)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    d = X.shape[1]
    fits = []
    for line in out.read_text().splitlines():
        fields = line.split()
        row: dict = {"model": fields[0], "G": int(fields[1])}
        if fields[2] != "NA":
            g = row["G"]
            values = np.array(fields[2:], dtype=np.float64)
            row.update(loglik=values[0], df=int(values[1]), bic=values[2], log_volume=values[3])
            rest = values[4:]
            row["pro"] = rest[: g + 1]
            row["mean"] = rest[g + 1 : g + 1 + g * d].reshape(g, d)
            row["sigma"] = rest[g + 1 + g * d :].reshape(g, d, d)
        fits.append(row)
    return done.stdout.strip(), fits


def at_mclust(X: np.ndarray, row: dict, max_iter: int) -> GaussianMixture:
    """gaussmix at mclust's fitted parameters (its region from ``X``), continued by EM for
    ``max_iter`` iterations (a warm start, ``tol=1e-10``)."""
    g = row["G"]
    model = GaussianMixture(
        g, covariance_type=row["model"], noise=True, max_iter=0, reg_covar=0.0,
        weights_init=row["pro"][:g] / row["pro"][:g].sum(), means_init=row["mean"],
        precisions_init=storage_precisions(row["model"], row["sigma"]),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)  # the region, and the model's storage
    model.weights_ = np.asarray(row["pro"][:g], np.float64)
    model.noise_weight_ = float(row["pro"][g])
    model.set_params(warm_start=True, max_iter=max_iter, tol=1e-10)
    if max_iter:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)
    return model


def compare(name: str, X: np.ndarray, fits: list[dict], stats: dict[str, list[float]]) -> list[str]:
    """The table's lines; appends to ``stats`` the volumes', BIC's and free parameters'
    differences from mclust's and the warm starts' log-likelihood changes."""
    lines = []
    for row in fits:
        model, g = row["model"], row["G"]
        default = GaussianMixture(
            g, covariance_type=model, noise=True, random_state=0, tol=1e-10, max_iter=1000
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            default.fit(X)
        ll = float(default.score_samples(X).sum())
        if "loglik" not in row:
            lines.append(f"| {name} | {model} | {g} | failed | | {ll:.3f} | | | | | |")
            continue
        ref = row["loglik"]
        stats["volume"].append(abs(default.noise_region_.log_volume - row["log_volume"]))
        fixed = at_mclust(X, row, 0)
        stats["bic"].append(abs(fixed.bic(X) + row["bic"]) / abs(row["bic"]))
        stats["df"].append(float(fixed.n_parameters() != row["df"]))
        warm = at_mclust(X, row, 1000)
        ll_warm = float(warm.score_samples(X).sum())
        stats["warm"].append(ll_warm - ref)
        lines.append(
            f"| {name} | {model} | {g} | {ref:.3f} | {row['pro'][g]:.4f} | {ll:.3f} "
            f"| {default.noise_weight_:.4f} | {ll - ref:+.3f} | {ll_warm - ref:+.2e} "
            f"| {warm.noise_weight_ - row['pro'][g]:+.1e} | {row['df']} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--max-g", type=int, default=4)
    p.add_argument("--write-readme", action="store_true", help="update README.md")
    args = p.parse_args(argv)
    if shutil.which("Rscript") is None:
        print("Rscript not found: install R and mclust (apt-get install -y r-cran-mclust).")
        return 1
    header = [
        "| data | model | G | mclust logL | mclust noise | gaussmix logL | gaussmix noise "
        "| difference | from mclust's fit | its noise weight | df |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    body: list[str] = []
    stats: dict[str, list[float]] = {"volume": [], "bic": [], "df": [], "warm": []}
    version = "?"
    with tempfile.TemporaryDirectory() as tmp:
        for name, X in datasets().items():
            noise = clutter(X)
            version, fits = run_mclust(X, noise, args.max_g, Path(tmp))
            body += compare(name, X, fits, stats)
    text = "\n".join(
        [
            f"R mclust {version}, EM tolerance 1e-10, hierarchical start from the rows "
            "gaussmix's start rule gives as noise; gaussmix from its own default start, EM "
            "tolerance 1e-10.",
            "",
            *header,
            *body,
            "",
            f"* volume: |log gaussmix region - log mclust hypvol| at most "
            f"{max(stats['volume']):.1e} ({len(stats['volume'])} fits)",
            f"* BIC under mclust's parameters: largest relative difference from minus "
            f"mclust's {max(stats['bic']):.1e}; free parameters equal to mclust's df in "
            f"{len(stats['df']) - int(sum(stats['df']))} of {len(stats['df'])}",
            f"* EM continued from mclust's fit: log-likelihood change from "
            f"{min(stats['warm']):+.1e} to {max(stats['warm']):+.1e} nats",
            "",
        ]
    )
    print(text)
    if args.write_readme:
        write_readme(text, START_MARK, END_MARK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
