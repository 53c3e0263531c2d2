"""The ``gaussmix`` command line (also ``python -m gaussmix``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the command line; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="gaussmix",
        description="Gaussian mixture models: fit, select, predict.",
        epilog="Example: gaussmix demo",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="fit the bundled Old Faithful data, choose the model by BIC, print a summary",
        description="Fit the bundled Old Faithful data (272 eruptions), choose the number of "
        "components and the covariance type by BIC, and print a summary.",
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--max-components", type=int, default=6, help="largest k tried (default 6)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        run_demo(seed=args.seed, max_components=args.max_components, out=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
