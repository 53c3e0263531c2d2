#!/usr/bin/env python
"""Benchmark the cost of a per-feature internal frame: one EM pass (E-step and statistics)
in a frame with one power-of-two scale per feature against the same pass in a frame with
one scale common to every feature.

The models a rescaling of one feature maps onto themselves (``full``, ``tied``, ``diag``
and the other per-feature equivariant ones) are fitted in a per-feature frame, so that
rescaling a column changes no clustering; the others keep one common scale.  Both frames go
through the same kernels (which take one inverse scale per feature), so the two passes do
the same work but for where each column's scale is read; this script checks that this costs
nothing per iteration.  Each case's two passes alternate, the medians are compared, and the
parameters are the same model expressed in either frame (that of one EM iteration from a
k-means++ start, as in ``bench_em.py``).

Run it from the repository root (``make bench`` runs it with ``--write-readme``)::

    .venv/bin/python benchmarks/bench_frame.py --quick
    .venv/bin/python benchmarks/bench_frame.py --write-readme
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning

from bench_em import (
    README,
    Config,
    collect_garbage,
    gm_factory,
    initial_params,
    log,
    machine_info,
    make_data,
    make_seeding,
    markdown_table,
    parse_choices,
    parse_configs,
    write_section,
)
from gaussmix.covariance import get_family
from gaussmix.engine import Frame, compiled_kernels, gaussian_terms, mixture_pass

Array = NDArray[np.float64]

COVARIANCE_TYPES = ("full", "tied", "diag")
DEFAULT_CONFIGS = "200000x10x10,1000000x16x8"
QUICK_CONFIG = "20000x5x4"
START_MARK = "<!-- frame:start -->"
END_MARK = "<!-- frame:end -->"


def pass_times(
    X: Array, cfg: Config, covariance_type: str, repeat: int
) -> tuple[float, float, float]:
    """Median seconds of one pass in a common and in a per-feature frame (alternating), and
    the largest relative difference of their log-likelihoods."""
    init = initial_params(make_seeding(X, cfg.k, 0), covariance_type)
    model = gm_factory(cfg.k, covariance_type, init)(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one iteration, as meant
        model.fit(X)
    family = get_family(covariance_type)
    frames = [Frame.from_data(X), Frame.from_data(X, per_feature=True)]
    # the same model in either frame
    terms = [gaussian_terms(model._internal_params(f), family) for f in frames]  # type: ignore
    times: list[list[float]] = [[], []]
    values = [0.0, 0.0]
    for r in range(repeat):
        for i in (0, 1) if r % 2 == 0 else (1, 0):  # either goes first half the time
            frame, t = frames[i], terms[i]
            collect_garbage()
            t0 = time.perf_counter()
            result = mixture_pass(X, t, frame)
            times[i].append(time.perf_counter() - t0)
            values[i] = result.log_likelihood
    diff = abs(values[1] - values[0]) / abs(values[0])
    return statistics.median(times[0]), statistics.median(times[1]), diff


def report(rows: Sequence[Sequence[str]], repeat: int) -> str:
    table = markdown_table(
        ["data", "n", "d", "k", "type", "common (ms)", "per-feature (ms)", "ratio", "Δ loglik"],
        rows,
    )
    kernel = "the fused C kernel" if compiled_kernels() is not None else "the numpy kernels"
    lines = [
        f"One EM pass (E-step and statistics, {kernel}), median of {repeat} alternating "
        "runs (either first in turn); ratio = per-feature / common (1 = no cost); "
        "Δ loglik = relative difference of the pass's log-likelihoods (the same model in "
        "either frame).",
        "",
        table,
        "",
        *machine_info(),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--configs", default=DEFAULT_CONFIGS, help="comma-separated NxDxK")
    p.add_argument("--quick", action="store_true", help=f"smoke test: --configs {QUICK_CONFIG}")
    p.add_argument("--types", default=",".join(COVARIANCE_TYPES), help="covariance types")
    p.add_argument("--repeat", type=int, default=None, help="passes per frame (default 15; 5)")
    p.add_argument("--write-readme", action="store_true", help="rewrite this README section")
    p.add_argument("--readme", type=Path, default=README, help="README file for --write-readme")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        configs = parse_configs(QUICK_CONFIG if args.quick else args.configs)
        types = parse_choices(args.types, COVARIANCE_TYPES, "covariance types")
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    repeat = args.repeat or (5 if args.quick else 15)
    rows = []
    for cfg in configs:
        X = make_data("aniso", cfg)
        for covariance_type in types:
            common, per_feature, diff = pass_times(X, cfg, covariance_type, repeat)
            log(f"{cfg.label} {covariance_type}: {common * 1e3:.1f} ms, {per_feature * 1e3:.1f} ms")
            ms = (f"{common * 1e3:.1f}", f"{per_feature * 1e3:.1f}")
            size = (str(cfg.n), str(cfg.d), str(cfg.k))
            ratio = f"{per_feature / common:.2f}"
            rows.append(["aniso", *size, covariance_type, *ms, ratio, f"{diff:.0e}"])
    text = report(rows, repeat)
    print(text)
    if args.write_readme:
        write_section(args.readme, text, START_MARK, END_MARK, "Per-feature frame")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
