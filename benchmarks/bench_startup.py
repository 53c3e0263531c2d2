"""How fast the ``gaussmix`` command answers when it does no numerical work.

``gaussmix --help``, ``gaussmix COMMAND --help`` and an argument error should not import
NumPy, SciPy or scikit-learn (the target is under 0.3 s).  Each case runs in a fresh
interpreter, ``--repeat`` times after one warm-up run (which fills the OS file cache); the
median and the fastest are reported, beside two references: an empty Python and the import of
the numerical stack.

    .venv/bin/python benchmarks/bench_startup.py
    .venv/bin/python benchmarks/bench_startup.py --python /other/venv/bin/python  # compare

The timings are not asserted anywhere (machines differ); ``tests/test_cli_files.py`` checks
instead that these commands import no numerical module.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

STACK = "import numpy, scipy.linalg, sklearn.base"
CASES = [
    ("python -c pass (reference)", ["-c", "pass"], 0),
    ("import numpy, scipy, sklearn (reference)", ["-c", STACK], 0),
    ("gaussmix --help", ["-m", "gaussmix", "--help"], 0),
    ("gaussmix fit --help", ["-m", "gaussmix", "fit", "--help"], 0),
    ("gaussmix select --help", ["-m", "gaussmix", "select", "--help"], 0),
    ("gaussmix fit x.csv -k 0 (argument error)",
     ["-m", "gaussmix", "fit", "x.csv", "-k", "0", "-o", "m.gmm"], 2),
    ("gaussmix --version", ["-m", "gaussmix", "--version"], 0),
]  # fmt: skip


def run(python: str, args: list[str], status: int) -> float:
    start = time.perf_counter()
    done = subprocess.run([python, *args], capture_output=True, timeout=120)
    elapsed = time.perf_counter() - start
    if done.returncode != status:
        raise SystemExit(f"{args} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter to time")
    parser.add_argument("--repeat", type=int, default=15, help="runs per case (default: 15)")
    args = parser.parse_args()
    print(f"interpreter: {args.python}; {args.repeat} runs per case after one warm-up\n")
    print("| command | median (s) | fastest (s) |")
    print("| --- | ---: | ---: |")
    for label, argv, status in CASES:
        run(args.python, argv, status)
        times = [run(args.python, argv, status) for _ in range(args.repeat)]
        print(f"| `{label}` | {statistics.median(times):.3f} | {min(times):.3f} |")


if __name__ == "__main__":
    main()
