#!/usr/bin/env python
"""Benchmark gaussmix on Dask: seconds per EM iteration on a local cluster of 2 worker
processes (1 thread each) against gaussmix in memory (2 threads) and Spark ML's
``GaussianMixture`` on ``local[2]``, on the same data.

Per iteration means the time between two E-steps of the continued run (the fit callback's
timestamps), the median over ``--iters`` iterations from the same start (given means,
``tol=0``), so that the start, validation and the final state are left out.  The Dask array
is persisted in the workers' memory first (the in-memory comparison; a fit from files reads
them in every pass).  Spark's time per iteration is ``(t(m + 2) - t(2)) / m`` of fits with
``maxIter`` 2 and ``m + 2`` (its own start; a cached DataFrame of vectors).  Also measured:
each worker's peak resident memory against its share of the rows, and the scheduling cost
of a block (the same pass in 8 times as many blocks).

Run it from the repository root (``make bench`` runs it with ``--write-readme``)::

    .venv/bin/python benchmarks/bench_dask.py --quick
    .venv/bin/python benchmarks/bench_dask.py --write-readme
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench_scaling import blobs
from gaussmix import GaussianMixture
from gaussmix.multistart import FitEvent

README = Path(__file__).resolve().parent / "README.md"
START_MARK = "<!-- dask:start -->"
END_MARK = "<!-- dask:end -->"
D, K = 10, 10


def per_iteration(fit: Any, X: Any, iters: int, means: NDArray[np.float64]) -> float:
    """Median seconds between the E-steps of a fit of ``iters`` iterations from ``means``."""
    stamps: list[float] = []

    def tick(event: FitEvent) -> None:
        stamps.append(time.perf_counter())

    gm = GaussianMixture(K, means_init=means, max_iter=iters, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(gm, X, tick)
    return statistics.median(np.diff(stamps))


def worker_peak_rss() -> int:
    """This process's peak resident memory, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def spark_per_iteration(X: NDArray[np.float64], iters: int) -> float | None:
    try:
        import pandas as pd
        from pyspark.ml.clustering import GaussianMixture as SparkGM
        from pyspark.ml.feature import VectorAssembler
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "8g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        names = [f"x{j}" for j in range(X.shape[1])]
        frame = spark.createDataFrame(pd.DataFrame(X, columns=names))
        assembler = VectorAssembler(inputCols=names, outputCol="features")
        rows = assembler.transform(frame).select("features").repartition(8).cache()
        rows.count()

        def fit(max_iter: int) -> float:
            t = time.perf_counter()
            SparkGM(k=K, maxIter=max_iter, tol=0.0, seed=0).fit(rows)
            return time.perf_counter() - t

        fit(2)  # warm-up (the JVM's JIT)
        return (fit(iters + 2) - fit(2)) / iters
    finally:
        spark.stop()


def run(ns: Sequence[int], iters: int, chunk_rows: int, spark_max_n: int, out: Any) -> str:
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    lines = [
        "| n | d | k | blocks | in memory s/iter | Dask s/iter | Dask / memory "
        "| Spark s/iter | Spark / Dask | worker peak memory / its rows |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    overhead = None
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, memory_limit=0,
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        idle = max(client.run(worker_peak_rss).values())
        for n in ns:
            X = blobs(n, D, K, seed=1)
            means = X[np.random.default_rng(2).choice(n, K, replace=False)]
            mem = per_iteration(lambda gm, X, cb: gm.fit(X, callback=cb), X, iters, means)
            with warnings.catch_warnings():  # the rows are sent to the workers once
                warnings.simplefilter("ignore", UserWarning)
                Xd = da.from_array(X, chunks=(chunk_rows, D)).persist()
                wait(Xd)
            lazy = per_iteration(lambda gm, X, cb: gm.fit(X, callback=cb), Xd, iters, means)
            peaks = list(client.run(worker_peak_rss).values())
            share = X.nbytes / 2
            if overhead is None:  # the scheduling cost of a block, from 8 times the blocks
                fine = Xd.rechunk((max(1, chunk_rows // 8), D)).persist()
                wait(fine)
                t_fine = per_iteration(lambda gm, X, cb: gm.fit(X, callback=cb), fine, iters, means)
                overhead = (t_fine - lazy) / (fine.numblocks[0] - Xd.numblocks[0])
                del fine
            spark = spark_per_iteration(X, 2) if n <= spark_max_n else None
            cells = [
                f"{n:,}", str(D), str(K), str(Xd.numblocks[0]), f"{mem:.3f}", f"{lazy:.3f}",
                f"{lazy / mem:.2f}", "—" if spark is None else f"{spark:.2f}",
                "—" if spark is None else f"{spark / lazy:.1f}",
                f"{(max(peaks) - idle) / 2**20:,.0f} MiB / {share / 2**20:,.0f} MiB",
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
            print(lines[-1], file=out, flush=True)
            del Xd
            client.run(lambda: __import__("gc").collect())
    lines += [
        "",
        "Worker peak memory: the largest peak resident memory of the two worker processes, "
        f"less an idle worker's ({idle / 2**20:,.0f} MiB), against half the rows' bytes.",
        "",
        f"Scheduling cost of one block of a pass (its task and its share of the merges): "
        f"{overhead * 1e3:.1f} ms (from the same pass in 8 times as many blocks at "
        f"n = {ns[0]:,}).",
    ]
    return "\n".join(lines) + "\n"


def write_readme(text: str, start: str = START_MARK, end: str = END_MARK) -> None:
    """Replace README.md's text between the markers ``start`` and ``end``."""
    old = README.read_text()
    head, rest = old.split(start, 1)
    _, tail = rest.split(end, 1)
    README.write_text(f"{head}{start}\n{text}{end}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--ns", default="2000000,10000000", help="comma-separated row counts")
    p.add_argument("--iters", type=int, default=6, help="EM iterations per fit")
    p.add_argument("--chunk-rows", type=int, default=250_000, help="rows per Dask block")
    p.add_argument("--spark-max-n", type=int, default=2_000_000, help="largest n for Spark")
    p.add_argument("--quick", action="store_true", help="n = 200,000 only, no Spark")
    p.add_argument("--write-readme", action="store_true", help="update README.md")
    args = p.parse_args(argv)
    ns = [200_000] if args.quick else [int(x) for x in args.ns.split(",")]
    chunk_rows = 50_000 if args.quick else args.chunk_rows
    spark_max_n = 0 if args.quick else args.spark_max_n
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    header = (
        f"Per EM iteration, covariance 'full', same start; {os.cpu_count()} cores; Dask: "
        "2 worker processes x 1 thread, rows persisted in their memory; in memory: gaussmix's "
        "default threads; Spark ML on local[2].\n\n"
    )
    text = header + run(ns, args.iters, chunk_rows, spark_max_n, sys.stdout)
    print(text)
    if args.write_readme:
        write_readme(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
