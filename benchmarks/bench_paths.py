#!/usr/bin/env python
"""Benchmark the paths that good data and good starts hide: float32 against float64, and the
fixed cost of a fit against one EM iteration, on data that do not flatter the engine.

``bench_em.py`` times gaussmix against scikit-learn on separated or mildly overlapping
clusters from k-means++ starts.  This script fits data as users have them — heavily
overlapping components, components of very different sizes and scales — from starts at
random rows, in float64 and in float32, up to 10,000,000 rows, and reports each slow path
as a number:

* ``f32 / f64``: gaussmix's float32 time over its float64 time, per EM iteration and per
  ``predict_proba`` / ``score_samples`` call (above 1: float32 is the slower path);
* ``fixed / iter``: the fixed cost of a fit (validation, the internal frame, the start's
  statistics pass, the final state) in EM iterations (``fixed = t(1) - s/iter``, as in
  ``bench_em.py``);
* scikit-learn's time per iteration from the same start (float64; only up to
  ``--sk-max-rows`` rows, beyond which one of its iterations takes tens of seconds), and
  the agreement of the log-likelihoods.

Run it from the repository root (``make bench`` runs it with ``--write-readme``)::

    .venv/bin/python benchmarks/bench_paths.py --quick
    .venv/bin/python benchmarks/bench_paths.py --write-readme
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench_em import (
    README,
    Config,
    InitParams,
    IterTiming,
    common_rel_diff,
    gm_factory,
    iteration_timing,
    log,
    machine_info,
    markdown_table,
    parse_choices,
    parse_configs,
    sk_factory,
    timed_call,
    warm_up,
)

Array = NDArray[np.float64]

DATA_KINDS = ("overlap", "unequal")
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
DEFAULT_CONFIGS = "1000000x16x8,300000x32x16,4000000x8x6,10000000x16x8"
QUICK_CONFIG = "50000x8x4"
SEED = 20261205
START_MARK = "<!-- paths:start -->"
END_MARK = "<!-- paths:end -->"


def make_data(kind: str, cfg: Config) -> Array:
    """Deterministic data of shape (n, d), float64.

    ``overlap``: component ``c`` is ``N(0.7 c, I)`` in every feature (``c`` in 0..k-1, equal
    weights): neighbours 0.7 sqrt(d) apart, far less than their spread's reach, so most rows
    have non-negligible and many have tiny responsibilities under several components.
    ``unequal``: components of very different sizes (weights proportional to 2^-c) and scales
    (each a random rotation of axis scales log-uniform in [0.01, 100]), centres ~ N(0, 10²).
    """
    n, d, k = cfg.n, cfg.d, cfg.k
    rng = np.random.default_rng([SEED, DATA_KINDS.index(kind), n, d, k])
    if kind == "overlap":
        labels = rng.integers(k, size=n)
        X = rng.standard_normal((n, d))
        X += 0.7 * labels[:, None]
        return X
    if kind == "unequal":
        weights = 0.5 ** np.arange(k)
        labels = rng.choice(k, size=n, p=weights / weights.sum())
        X = np.empty((n, d))
        for j in range(k):
            rows = np.flatnonzero(labels == j)
            q, _ = np.linalg.qr(rng.standard_normal((d, d)))
            scales = np.exp(rng.uniform(np.log(0.01), np.log(100.0), size=d))
            X[rows] = (
                rng.normal(0.0, 10.0, size=d) + rng.standard_normal((rows.size, d)) * scales @ q
            )
        return X
    raise ValueError(f"unknown data kind {kind!r}")


def random_start(X: Array, k: int, covariance_type: str) -> InitParams:
    """Means at ``k`` random rows, equal weights, every component with the data's own
    covariance (in ``covariance_type``'s shape): a start far from the fit."""
    rng = np.random.default_rng([SEED, X.shape[0], k])
    means = X[np.sort(rng.choice(X.shape[0], k, replace=False))]
    sample = X[:: max(1, X.shape[0] // 100_000)]
    cov = np.cov(sample, rowvar=False) + 1e-6 * np.eye(X.shape[1])
    if covariance_type == "full":
        precisions: Array = np.stack([np.linalg.inv(cov)] * k)
    elif covariance_type == "tied":
        precisions = np.linalg.inv(cov)
    elif covariance_type == "diag":
        precisions = np.stack([1.0 / np.diag(cov)] * k)
    else:
        precisions = np.full(k, 1.0 / float(np.mean(np.diag(cov))))
    return InitParams(np.full(k, 1.0 / k), means, precisions)


@dataclass
class PathRow:
    data: str
    cfg: Config
    covariance_type: str
    f64: IterTiming
    f32: IterTiming
    proba: tuple[float, float]
    score: tuple[float, float]
    rel32: float
    sk: IterTiming | None = None
    rel_sk: float | None = None


def bench_case(
    data: str, cfg: Config, covariance_type: str, X: Array, X32: NDArray[np.float32], args: Any
) -> PathRow:
    init = random_start(X, cfg.k, covariance_type)
    make = gm_factory(cfg.k, covariance_type, init)
    f64 = iteration_timing(make, X, args.iters, args.repeat)
    f32 = iteration_timing(make, X32, args.iters, args.repeat)
    m64, m32 = f64.model, f32.model
    proba = (
        timed_call(lambda: m64.predict_proba(X), args.repeat),
        timed_call(lambda: m32.predict_proba(X32), args.repeat),
    )
    score = (
        timed_call(lambda: m64.score_samples(X), args.repeat),
        timed_call(lambda: m32.score_samples(X32), args.repeat),
    )
    row = PathRow(data, cfg, covariance_type, f64, f32, proba, score, common_rel_diff(m32, m64))
    if cfg.n <= args.sk_max_rows:
        row.sk = iteration_timing(
            sk_factory(cfg.k, covariance_type, init), X, args.iters, args.sk_repeat
        )
        row.rel_sk = common_rel_diff(m64, row.sk.model)
    return row


def _t(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds >= 0.01 else f"{seconds:.4f}"


def _r(x: float | None) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.2f}"


def table(rows: Sequence[PathRow]) -> str:
    header = [
        "data", "n", "d", "k", "type",
        "f64 s/iter", "f32 s/iter", "f32 / f64 iter",
        "f64 fixed / iter", "f32 fixed / iter",
        "f32 / f64 predict_proba", "f32 / f64 score_samples",
        "sk s/iter", "f64 speedup vs sk", "rel \\|ΔlogL\\| vs sk", "f32 rel \\|ΔlogL\\|",
    ]  # fmt: skip
    body = []
    for r in rows:
        it64, it32 = r.f64.per_iter, r.f32.per_iter
        body.append([
            r.data, f"{r.cfg.n:,}", str(r.cfg.d), str(r.cfg.k), r.covariance_type,
            _t(it64), _t(it32), _r(it32 / it64 if it64 > 0 else None),
            _r(r.f64.fixed / it64 if it64 > 0 else None),
            _r(r.f32.fixed / it32 if it32 > 0 else None),
            _r(r.proba[1] / r.proba[0]), _r(r.score[1] / r.score[0]),
            "-" if r.sk is None else _t(r.sk.per_iter),
            "-" if r.sk is None or it64 <= 0 else f"{r.sk.per_iter / it64:.1f}x",
            "-" if r.rel_sk is None else f"{r.rel_sk:.1e}",
            f"{r.rel32:.1e}",
        ])  # fmt: skip
    return markdown_table(header, body)


def report(args: Any, rows: Sequence[PathRow], argv: Sequence[str]) -> str:
    command = " ".join(["python benchmarks/bench_paths.py", *argv])
    return "\n".join([
        f"Command: `{command}`",
        "",
        *machine_info(),
        "",
        f"gaussmix from a start at random rows (see `random_start`), {args.iters} EM "
        f"iterations, fits of 1 and {args.iters} iterations alternating, best of at least "
        f"{args.repeat} and until 4 s; scikit-learn from the same start, the same way, best "
        f"of at least {args.sk_repeat}, up to "
        f"{args.sk_max_rows:,} rows. Ratios above 1 in the `f32 / f64` columns, and above 1 "
        "in the `fixed / iter` columns, are the slow paths this table exists to show.",
        "",
        table(rows),
    ]) + "\n"  # fmt: skip


def write_readme(path: Path, text: str) -> None:
    block = f"{START_MARK}\n{text}{END_MARK}"
    old = path.read_text()
    if START_MARK in old and END_MARK in old:
        head, rest = old.split(START_MARK, 1)
        _, tail = rest.split(END_MARK, 1)
        path.write_text(head + block + tail)
    else:
        path.write_text(old.rstrip("\n") + "\n\n## Slow paths\n\n" + block + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--configs", default=DEFAULT_CONFIGS, help="comma-separated NxDxK")
    p.add_argument("--quick", action="store_true", help=f"smoke test: --configs {QUICK_CONFIG}")
    p.add_argument("--types", default=",".join(COVARIANCE_TYPES), help="covariance types")
    p.add_argument("--data", default=",".join(DATA_KINDS), help="data generators")
    p.add_argument("--iters", type=int, default=3, help="EM iterations (>= 2)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per measurement, best kept")
    p.add_argument("--sk-repeat", type=int, default=2, help="sklearn's timed runs, best kept")
    p.add_argument("--sk-max-rows", type=int, default=1_000_000, help="largest n for sklearn")
    p.add_argument("--write-readme", action="store_true", help="rewrite README's slow paths")
    args = p.parse_args(argv)
    args.configs = parse_configs(QUICK_CONFIG if args.quick else args.configs)
    args.types = parse_choices(args.types, COVARIANCE_TYPES, "covariance types")
    args.data = parse_choices(args.data, DATA_KINDS, "data")
    log("\n".join(machine_info()))
    warm_up()
    rows = []
    for cfg in args.configs:
        for data in args.data:
            t0 = time.perf_counter()
            X = make_data(data, cfg)
            X32 = X.astype(np.float32)
            log(f"{data} {cfg.label}: data ready in {time.perf_counter() - t0:.1f} s")
            for covariance_type in args.types:
                t0 = time.perf_counter()
                row = bench_case(data, cfg, covariance_type, X, X32, args)
                rows.append(row)
                log(
                    f"  {covariance_type:9s} f64 {row.f64.per_iter:.3f} s/iter, f32 "
                    f"{row.f32.per_iter:.3f}, fixed {row.f64.fixed:.3f} / {row.f32.fixed:.3f} "
                    f"({time.perf_counter() - t0:.0f} s)"
                )
            del X, X32
    text = report(args, rows, argv)
    print(text)
    if args.write_readme:
        write_readme(README, text)
        log(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
