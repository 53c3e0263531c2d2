"""gaussmix against R's mclust on its 14 covariance models (not a test dependency).

For Old Faithful and iris, every model and G = 1..5, R's ``Mclust`` (its hierarchical start,
EM tolerance 1e-10) is compared with

* gaussmix's default fit (``GaussianMixture(G, covariance_type=model, random_state=0)``), and
* gaussmix's EM started from mclust's fitted parameters (``weights_init``, ``means_init``,
  ``precisions_init``; ``tol=1e-10``, ``reg_covar=0`` like mclust): where both implement the
  same model, EM stays at mclust's optimum (or climbs above it where mclust stopped short of
  one), so this column checks the models themselves, independently of the starts.

With mclust's parameters as they are (``max_iter=0``), gaussmix's BIC and ICL are compared
with mclust's (whose signs are the opposite).  Last, ``Mclust(X)``'s choice (every model, G =
1..9, BIC) is compared with ``select_model(X, range(1, 10), "all")``'s.

The log-likelihoods are totals in nats, ``df`` the number of free parameters (mclust's
``df``, gaussmix's ``n_parameters()``); ``ok`` says whether the default fit reaches mclust's
log-likelihood minus 1e-6 |logL|.  Prints a markdown table.

Needs ``Rscript`` with mclust (Debian: ``apt-get install -y r-cran-mclust``)::

    python benchmarks/compare_mclust.py [--datasets faithful,iris] [--max-g 5]
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

from gaussmix import MCLUST_MODELS, GaussianMixture, select_model
from gaussmix.covariance import get_family
from gaussmix.covariance.storage import DenseStorage
from gaussmix.datasets import load_faithful

#: R: every model and G for one data set; one line per fit: the data set, model, G, then
#: loglik, df, bic, icl and the parameters (pro, mean, sigma in R's column-major order), or NA
R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(mclust))
X <- as.matrix(read.csv(args[1], header = FALSE))
out <- file(args[2], "w")
ctrl <- emControl(tol = c(1e-10, sqrt(.Machine$double.eps)))
num <- function(x) format(x, digits = 17)
for (m in mclust.options("emModelNames")) for (g in 1:as.integer(args[4])) {
  fit <- tryCatch(suppressWarnings(
    Mclust(X, G = g, modelNames = m, control = ctrl, verbose = FALSE)),
    error = function(e) NULL)
  if (is.null(fit)) {
    writeLines(paste(args[3], m, g, "NA"), out)
    next
  }
  p <- fit$parameters
  writeLines(paste(c(args[3], m, g, num(fit$loglik), fit$df, num(fit$bic), num(icl(fit)),
                     num(p$pro), num(p$mean), num(p$variance$sigma)), collapse = " "), out)
}
best <- Mclust(X, G = 1:9, verbose = FALSE)
writeLines(paste("best", best$modelName, best$G, num(best$bic), num(best$loglik)), out)
close(out)
cat(as.character(packageVersion("mclust")), "\n")
"""


def datasets() -> dict[str, np.ndarray]:
    faithful, _ = load_faithful()
    return {"faithful": np.asarray(faithful, np.float64), "iris": load_iris().data}


def run_mclust(name: str, X: np.ndarray, max_g: int, work: Path) -> tuple[str, list[dict]]:
    """mclust's fits of ``X`` (the R script's lines, parsed) and mclust's version."""
    data, out, script = work / f"{name}.csv", work / f"{name}.txt", work / "fit.R"
    np.savetxt(data, X, delimiter=",", fmt="%.17g")
    script.write_text(R_SCRIPT)
    done = subprocess.run(
        ["Rscript", str(script), str(data), str(out), name, str(max_g)],
        capture_output=True,
        text=True,
        check=True,
    )
    d = X.shape[1]
    fits = []
    for line in out.read_text().splitlines():
        fields = line.split()
        if fields[0] == "best":  # Mclust's own choice over every model and G = 1..9
            fits.append({"best": (fields[1], int(fields[2])), "bic": -float(fields[3]),
                         "loglik": float(fields[4])})  # fmt: skip
            continue
        row: dict = {"model": fields[1], "G": int(fields[2])}
        if fields[3] != "NA":
            g = row["G"]
            values = np.array(fields[3:], dtype=np.float64)
            row.update(loglik=values[0], df=int(values[1]), bic=values[2], icl=values[3])
            rest = values[4:]
            row["pro"] = rest[:g]
            row["mean"] = rest[g : g + g * d].reshape(g, d)
            row["sigma"] = rest[g + g * d :].reshape(g, d, d)
        fits.append(row)
    return done.stdout.strip(), fits


def storage_precisions(model: str, sigma: np.ndarray) -> np.ndarray:
    """mclust's covariances (G, d, d) as gaussmix's ``precisions_init`` for ``model``."""
    storage = get_family(model).storage
    if isinstance(storage, DenseStorage):
        inverse = np.linalg.inv(sigma)
        return inverse[0] if storage.shared else inverse
    diagonals = np.diagonal(sigma, axis1=1, axis2=2)
    return 1.0 / (diagonals[:, 0] if storage.isotropic else diagonals)


def total_log_likelihood(model: GaussianMixture, X: np.ndarray) -> float:
    return float(model.score_samples(X).sum())


def compare(name: str, X: np.ndarray, fits: list[dict], criteria: list[float]) -> list[str]:
    """The table's lines; appends to ``criteria`` the relative differences of gaussmix's BIC
    and ICL from minus mclust's, under mclust's parameters."""
    lines = []
    for row in fits:
        model, g = row["model"], row["G"]
        default = GaussianMixture(g, covariance_type=model, random_state=0).fit(X)
        ll = total_log_likelihood(default, X)
        df = default.n_parameters()
        if "loglik" not in row:
            lines.append(f"| {name} | {model} | {g} | failed | | {ll:.4f} | {df} | | | | |")
            continue
        ref = row["loglik"]
        start = {
            "weights_init": row["pro"] / row["pro"].sum(),
            "means_init": row["mean"],
            "precisions_init": storage_precisions(model, row["sigma"]),
            "reg_covar": 0.0,
        }
        warm = GaussianMixture(g, covariance_type=model, tol=1e-10, max_iter=1000, **start)
        at_mclust = GaussianMixture(g, covariance_type=model, max_iter=0, **start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warm.fit(X)
            at_mclust.fit(X)
        ll_warm = total_log_likelihood(warm, X)
        criteria += [
            abs(at_mclust.bic(X) + row["bic"]) / abs(row["bic"]),
            abs(at_mclust.icl(X) + row["icl"]) / abs(row["icl"]),
        ]
        ok = ll >= ref - 1e-6 * abs(ref)
        lines.append(
            f"| {name} | {model} | {g} | {ref:.4f} | {row['df']} | {ll:.4f} | {df} "
            f"| {ll - ref:+.4f} | {'yes' if ok else '**no**'} | {ll_warm:.4f} "
            f"| {ll_warm - ref:+.2e} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="faithful,iris")
    p.add_argument("--max-g", type=int, default=5)
    args = p.parse_args(argv)
    if shutil.which("Rscript") is None:
        print("Rscript not found: install R and mclust (apt-get install -y r-cran-mclust).")
        return 1
    available = datasets()
    chosen = [s.strip() for s in args.datasets.split(",")]
    unknown = [s for s in chosen if s not in available]
    if unknown:
        print(f"unknown data sets {unknown}; choose from {', '.join(available)}")
        return 1
    header = [
        "| data | model | G | mclust logL | mclust df | gaussmix logL | gaussmix df "
        "| difference | ok | from mclust's fit | difference |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    body: list[str] = []
    criteria: list[float] = []
    choices = [
        "| data | mclust's choice | BIC | logL | gaussmix's choice | BIC | logL | same |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            version, fits = run_mclust(name, available[name], args.max_g, Path(tmp))
            mclust_best = fits.pop()
            assert [f["model"] for f in fits[:: args.max_g]] == list(MCLUST_MODELS)
            body += compare(name, available[name], fits, criteria)
            choices.append(selection_line(name, available[name], mclust_best))
    print(f"R mclust {version}, EM tolerance 1e-10, hierarchical start\n")
    print("\n".join(header + body))
    short = sum("**no**" in line for line in body)
    print(f"\ndefault fit below mclust's logL - 1e-6 |logL|: {short} of {len(body)}")
    print(
        f"BIC and ICL under mclust's parameters ({len(criteria) // 2} fits): largest relative "
        f"difference from minus mclust's {max(criteria):.1e}"
    )
    print("\nSelection by BIC over the 14 models x G = 1..9 (`Mclust(X)` against "
          "`select_model(X)`; BIC in gaussmix's sign, lower is better)\n")  # fmt: skip
    print("\n".join(choices))
    return 0


def selection_line(name: str, X: np.ndarray, mclust_best: dict) -> str:
    """The table row of mclust's and gaussmix's choices for ``X``."""
    result = select_model(X, range(1, 10), "all", random_state=0)
    row = result.best
    ours = (row["covariance_type"], row["n_components"])
    model, g = mclust_best["best"]
    return (
        f"| {name} | {model}, {g} | {mclust_best['bic']:.4f} | {mclust_best['loglik']:.4f} "
        f"| {ours[0]}, {ours[1]} | {row['bic']:.4f} | {row['log_likelihood']:.4f} "
        f"| {'yes' if ours == (model, g) else '**no**'} |"
    )


if __name__ == "__main__":
    sys.exit(main())
