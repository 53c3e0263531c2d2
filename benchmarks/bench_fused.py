"""The fused prediction kernel against the numpy path and scikit-learn, in one run.

``predict_proba`` and ``score_samples`` run in the C extension ``gaussmix._kernels`` where
it was built.  This script times each call three ways
on the same fitted parameters (the benchmark's blobs, the same initial parameters, two EM
iterations): scikit-learn, gaussmix on its numpy path (``engine.numpy_kernels()``) and
gaussmix with the kernel, and prints the ratios as a markdown table.  It also checks that
the two gaussmix paths agree.

    python benchmarks/bench_fused.py [--configs 200000x10x10,...] [--types full,...] [--repeat 5]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import bench_em as B
from gaussmix.engine import compiled_kernels, numpy_kernels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="all", help="n x d x k list, or 'all'")
    parser.add_argument("--data", default="blobs", choices=["blobs", "aniso"])
    parser.add_argument("--types", default="full,tied,diag,spherical")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if compiled_kernels() is None:
        raise SystemExit("gaussmix._kernels was not built: nothing to compare")
    warnings.filterwarnings("ignore")  # sklearn's convergence warning after 2 iterations
    B.warm_up()
    print("\n".join(B.machine_info()) + "\n")
    header = ["n", "d", "k", "type", "call", "sklearn ms", "numpy ms", "kernel ms"]
    header += ["kernel / numpy", "vs sklearn (numpy)", "vs sklearn (kernel)", "max |Δ|"]
    rows = []
    for cfg in B.parse_configs(args.configs):
        X = B.make_data(args.data, cfg)
        seeding = B.make_seeding(X, cfg.k, 0)
        for cov_type in args.types.split(","):
            init = B.initial_params(seeding, cov_type)
            sk = B.sk_factory(cfg.k, cov_type, init)(2)
            gm = B.gm_factory(cfg.k, cov_type, init)(2)
            sk.fit(X)
            gm.fit(X)
            for call in ["predict_proba", "score_samples"]:
                sk_fn, gm_fn = getattr(sk, call), getattr(gm, call)
                t_sk = B.timed_call(lambda: sk_fn(X), args.repeat)  # noqa: B023
                t_fast = B.timed_call(lambda: gm_fn(X), args.repeat)  # noqa: B023
                fast = gm_fn(X)
                with numpy_kernels():
                    t_np = B.timed_call(lambda: gm_fn(X), args.repeat)  # noqa: B023
                    plain = gm_fn(X)
                diff = float(np.abs(fast - plain).max())
                rows.append(
                    [f"{cfg.n:,}", str(cfg.d), str(cfg.k), cov_type, f"`{call}`"]
                    + [f"{t * 1e3:.1f}" for t in (t_sk, t_np, t_fast)]
                    + [f"{t_np / t_fast:.2f}x", f"{t_sk / t_np:.1f}x", f"{t_sk / t_fast:.1f}x"]
                    + [f"{diff:.0e}"]
                )
                print(" | ".join(rows[-1]), flush=True)
    print()
    print(B.markdown_table(header, rows))


if __name__ == "__main__":
    main()
