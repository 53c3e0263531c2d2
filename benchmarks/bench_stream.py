#!/usr/bin/env python
"""Benchmark streaming fits: ``partial_fit``'s throughput against one EM iteration, exact EM
on a 10-million-row ``.npy`` memory map (peak memory and time per iteration against the
rows in memory), and mini-batch EM's log-likelihood and time against exact EM.

* **partial_fit throughput**: the seconds ``partial_fit`` takes over every row of a data set
  in batches of B rows (from a model fitted on its first 100,000 rows), against the
  seconds of one EM iteration over all rows (the median time between E-steps of a fit
  from the same parameters); the two are timed alternately, ``--repeat`` times, medians.
* **exact EM out of core**: a default fit (16 starts racing on a 10,000-row subsample, then
  EM on all rows, ``--iters`` iterations) of a ``.npy`` file of n x 16 float64 rows, k = 8,
  read as ``np.load(path, mmap_mode="r")``, in a child process, against the same fit of the
  file loaded into memory (another child).  Memory: the peak resident set (``VmHWM`` of
  ``/proc/self/status``, reset through ``/proc/self/clear_refs`` just before the fit, so
  it counts the file's pages a memory map keeps resident) less the resident set before
  the fit, and tracemalloc's peak (Python and numpy allocations) during the fit.  The file
  is written to the temporary folder (free space checked first) and deleted afterwards.
* **mini-batch EM**: a default exact fit (``tol`` 1e-4) of overlapping clusters, where exact
  EM needs tens of iterations, against ``batch_size=B`` fits (default step schedule) of
  ``--epochs`` epochs and to ``tol`` 1e-4 on the epochs: time, epochs, and the mean
  log-likelihood per row of all rows under the fitted model, less exact EM's.

Run it from the repository root (``make bench`` runs it with ``--write-readme``)::

    .venv/bin/python benchmarks/bench_stream.py --quick
    .venv/bin/python benchmarks/bench_stream.py --write-readme
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

README = Path(__file__).resolve().parent / "README.md"
START_MARK = "<!-- stream:start -->"
END_MARK = "<!-- stream:end -->"


def blobs(rng: np.random.Generator, n: int, centres: NDArray[np.float64]) -> NDArray[np.float64]:
    """``n`` rows around ``centres`` with unit covariance."""
    labels = rng.integers(centres.shape[0], size=n)
    return centres[labels] + rng.normal(size=(n, centres.shape[1]))


# --------------------------------------------------------------------------- partial_fit


def em_iteration(X: NDArray[np.float64], start: Any, iters: int = 4) -> float:
    """Median seconds between the E-steps of a fit of ``iters`` iterations from ``start``."""
    from gaussmix import GaussianMixture

    stamps: list[float] = []
    gm = GaussianMixture(
        start.n_components, weights_init=start.weights_, means_init=start.means_,
        precisions_init=start.precisions_, max_iter=iters, tol=0.0,
    )  # fmt: skip
    gm.fit(X, callback=lambda event: stamps.append(time.perf_counter()))
    return statistics.median(np.diff(stamps))


def stream_seconds(X: NDArray[np.float64], start: Any, batch: int) -> float:
    model = copy.deepcopy(start)
    t = time.perf_counter()
    for a in range(0, X.shape[0], batch):
        model.partial_fit(X[a : a + batch])
    return time.perf_counter() - t


def throughput(n: int, batches: Sequence[int], repeat: int, out: Any) -> str:
    from gaussmix import GaussianMixture

    d, k = 16, 8
    rng = np.random.default_rng(1)
    X = blobs(rng, n, rng.normal(scale=4.0, size=(k, d)))
    start = GaussianMixture(k, random_state=0, max_iter=3).fit(X[:100_000])
    em: list[float] = []
    streamed: dict[int, list[float]] = {b: [] for b in batches}
    for _ in range(repeat):  # alternately, so that both see the same load
        em.append(em_iteration(X, start))
        for b in batches:
            streamed[b].append(stream_seconds(X, start, b))
    one = statistics.median(em)
    lines = [
        f"n = {n:,}, d = {d}, k = {k}, covariance 'full'; one EM iteration over all rows: "
        f"{one:.3f} s (median of {repeat}).",
        "",
        "| batch rows | partial_fit calls | s for all rows | / one EM iteration |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for b in batches:
        s = statistics.median(streamed[b])
        lines.append(f"| {b:,} | {-(-n // b):,} | {s:.3f} | {s / one:.2f} |")
        print(lines[-1], file=out, flush=True)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- out of core


def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (0 where unknown)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def child(path: str, mode: str, iters: int) -> dict[str, Any]:
    """One fit of the file at ``path`` (``mode``: ``memmap`` or ``memory``), in this process."""
    from gaussmix import GaussianMixture

    X = np.load(path, mmap_mode="r") if mode == "memmap" else np.load(path)
    stamps: list[float] = []

    def tick(event: Any) -> None:
        if event.phase == "full":
            stamps.append(time.perf_counter())

    gm = GaussianMixture(8, random_state=0, max_iter=iters, tol=0.0)
    before = _status("VmRSS")
    try:  # reset the peak resident set to the current one (Linux >= 4.0)
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    tracemalloc.start()
    t = time.perf_counter()
    gm.fit(X, callback=tick)
    seconds = time.perf_counter() - t
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "s_per_iter": statistics.median(np.diff(stamps)),
        "fit_s": seconds,
        "rss_before": before,
        "hwm_increase": _status("VmHWM") - before,
        "traced_peak": traced,
        "lower_bound": gm.lower_bound_,
    }


def write_npy(path: Path, n: int, d: int, k: int) -> None:
    """n x d float64 rows around k centres, written a block at a time."""
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=4.0, size=(k, d))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d))
    step = 1_000_000
    for a in range(0, n, step):
        out[a : a + step] = blobs(rng, min(step, n - a), centres)
        out.flush()
    del out
    with open(path, "rb+") as f:  # written back before the fits read it
        os.fsync(f.fileno())


def out_of_core(n: int, iters: int, repeat: int, out: Any) -> str:
    d, k = 16, 8
    size = n * d * 8
    folder = Path(tempfile.gettempdir())
    free = shutil.disk_usage(folder).free
    if free < 2 * size:
        return f"Skipped: {free / 2**30:.1f} GiB free in {folder}, {size / 2**30:.2f} needed.\n"
    path = folder / f"gaussmix-bench-{os.getpid()}.npy"
    try:
        write_npy(path, n, d, k)
        done: dict[str, list[dict[str, Any]]] = {"memory": [], "memmap": []}
        for _ in range(repeat):  # alternately, so that both see the same load
            for mode in done:
                run = subprocess.run(
                    [sys.executable, __file__, "--child", str(path), mode, str(iters)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                done[mode].append(json.loads(run.stdout.strip().splitlines()[-1]))
                print(mode, done[mode][-1], file=out, flush=True)
    finally:
        path.unlink(missing_ok=True)
    # times: medians; memory: the largest
    runs = {
        mode: {
            key: (max if key in ("hwm_increase", "traced_peak") else statistics.median)(
                r[key] for r in results
            )
            for key in results[0]
        }
        for mode, results in done.items()
    }
    mib = 2**20
    lines = [
        f"A default fit (k = {k}, covariance 'full', the start race, then {iters} EM "
        f"iterations on all rows) of {n:,} x {d} float64 rows, a {size / mib:,.0f} MiB "
        f"`.npy` file; each in a child process, the two alternately, {repeat} times (times: "
        "medians; memory: the largest).",
        "",
        "| rows read | s per EM iteration | fit s | peak RSS increase | / file | "
        "tracemalloc peak | / file |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    names = {"memmap": "`np.load(mmap_mode='r')` (out of core)", "memory": "`np.load` (in memory)"}
    for mode in ("memmap", "memory"):
        r = runs[mode]
        cells = [
            names[mode], f"{r['s_per_iter']:.2f}", f"{r['fit_s']:.1f}",
            f"{r['hwm_increase'] / mib:,.0f} MiB", f"{r['hwm_increase'] / size:.3f}",
            f"{r['traced_peak'] / mib:,.0f} MiB", f"{r['traced_peak'] / size:.3f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    same = runs["memmap"]["lower_bound"] - runs["memory"]["lower_bound"]
    lines += [
        "",
        f"Both fits reach the same log-likelihood (difference {same:.1e} per row). In memory, "
        "the RSS increase leaves out the rows themselves, loaded before the fit.",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- mini-batch


def overlapping(n: int, d: int, k: int) -> NDArray[np.float64]:
    """Overlapping clusters with random covariances, where exact EM needs many iterations."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=1.0, size=(k, d))
    mixing = rng.normal(size=(k, d, d)) * 0.4 + np.eye(d)
    labels = rng.integers(k, size=n)
    return centres[labels] + np.einsum("nd,nde->ne", rng.normal(size=(n, d)), mixing[labels])


def minibatch(n: int, batches: Sequence[int], epochs: Sequence[int], out: Any) -> str:
    from gaussmix import GaussianMixture

    d, k = 4, 12  # exact EM takes tens of iterations here (benchmarks/README.md)
    X = overlapping(n, d, k)
    runs: list[tuple[int | None, int | None]] = [(None, None)]
    runs += [(batch, e) for batch in batches for e in (*epochs, None)]
    rows = []
    for batch, e in runs:
        # a given number of epochs (tol 0), or until the epochs change by less than tol
        tol, max_iter = (1e-4, 500) if e is None else (0.0, e)
        gm = GaussianMixture(k, random_state=0, tol=tol, max_iter=max_iter, batch_size=batch)
        t = time.perf_counter()
        gm.fit(X)
        rows.append((batch, e, time.perf_counter() - t, gm.n_iter_, gm.score(X)))
        print(rows[-1], file=out, flush=True)
    exact = rows[0]
    lines = [
        f"n = {n:,}, d = {d}, k = {k} overlapping clusters, covariance 'full'; exact EM to "
        "tol 1e-4, mini-batch EM (default steps: learning_offset 10, learning_decay 0.6) "
        "for a fixed number of epochs or to tol 1e-4 on its epochs.",
        "",
        "| fit | s | / exact | iterations or epochs | mean log-likelihood per row | "
        "less exact EM's |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for batch, e, seconds, iters, score in rows:
        name = "exact EM, tol 1e-4"
        if batch is not None:
            name = f"batch_size={batch:,}, " + ("tol 1e-4" if e is None else f"{e} epochs")
        cells = [
            name, f"{seconds:.2f}", f"{seconds / exact[2]:.2f}", str(iters), f"{score:.5f}",
            f"{score - exact[4]:+.1e}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_readme(text: str) -> None:
    old = README.read_text()
    block = f"{START_MARK}\n{text}{END_MARK}"
    if START_MARK in old and END_MARK in old:
        head, rest = old.split(START_MARK, 1)
        _, tail = rest.split(END_MARK, 1)
        README.write_text(f"{head}{block}{tail}")
    else:
        README.write_text(old.rstrip("\n") + f"\n\n{block}\n")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--child", nargs=3, metavar=("PATH", "MODE", "ITERS"), help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=1_000_000, help="rows of the partial_fit data")
    p.add_argument("--batches", default="1000,10000,100000", help="partial_fit batch rows")
    p.add_argument("--repeat", type=int, default=3, help="alternating repetitions")
    p.add_argument("--file-rows", type=int, default=10_000_000, help="rows of the .npy file")
    p.add_argument("--iters", type=int, default=5, help="EM iterations on all rows")
    p.add_argument("--minibatch-n", type=int, default=2_000_000, help="rows of mini-batch data")
    p.add_argument("--minibatch-batches", default="2000,10000", help="mini-batch batch rows")
    p.add_argument("--epochs", default="1,3", help="mini-batch epochs of the fixed-length fits")
    p.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    p.add_argument("--write-readme", action="store_true", help="update README.md")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")  # fits of a few iterations do not converge
    if args.child:
        path, mode, iters = args.child
        print(json.dumps(child(path, mode, int(iters))))
        return 0
    if args.quick:
        args.n, args.repeat, args.file_rows, args.minibatch_n = 200_000, 1, 1_000_000, 200_000
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (
        f"{os.cpu_count()} cores, load average {load:.1f} when started (the numbers of a busy "
        "machine are noisy; ratios are of runs that alternate or follow each other).\n\n"
    )
    parts = [
        "**partial_fit throughput**\n\n"
        + throughput(args.n, [int(b) for b in args.batches.split(",")], args.repeat, sys.stdout),
        "**Exact EM on a `.npy` memory map**\n\n"
        + out_of_core(args.file_rows, args.iters, args.repeat, sys.stdout),
        "**Mini-batch EM against exact EM**\n\n"
        + minibatch(
            args.minibatch_n,
            [int(b) for b in args.minibatch_batches.split(",")],
            [int(e) for e in args.epochs.split(",")],
            sys.stdout,
        ),
    ]
    text = header + "\n".join(parts)
    print(text)
    if args.write_readme:
        write_readme(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
