#!/usr/bin/env python
"""Probe: is a fused compiled normalisation faster than numpy's separate passes?

The E-step normalisation of one chunk (row maximum, floor, ``exp``, sum, reciprocal product,
transposed write of the responsibilities, log) takes several element-wise numpy passes over
``k x m`` values.  This script times that sequence against one numba loop that does it all in
one pass, on the same chunk (k=10, m=4096), and checks that both agree.  numba is not a
dependency of gaussmix; install it into the virtual environment to run this::

    .venv/bin/pip install numba
    .venv/bin/python benchmarks/probe_fused_normalise.py

It reports whether numba's ``exp`` is vectorised (SVML), which decides the outcome.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def numpy_passes(lp: Array, resp: Array, lse: Array) -> None:
    """What the engine does: separate numpy passes over the (k, m) log-densities."""
    top = lp.max(axis=0)
    lp -= top
    np.maximum(lp, -700.0, out=lp)
    np.exp(lp, out=lp)
    total = lp.sum(axis=0)
    lp *= 1.0 / total
    np.copyto(resp.T, lp)
    lse[:] = top + np.log(total)


def best_time(fn: Callable[[Array], object], template: Array, repeat: int = 200) -> float:
    best = np.inf
    for _ in range(repeat):
        data = template.copy()
        t0 = time.perf_counter()
        fn(data)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    try:
        import numba
    except ImportError:
        print("numba is not installed; see the module docstring")
        return 0

    @numba.njit(cache=False)
    def fused(lp: Array, resp: Array, lse: Array) -> None:  # pragma: no cover - compiled
        k, m = lp.shape
        top = lp[0].copy()
        for j in range(1, k):
            for i in range(m):
                top[i] = max(top[i], lp[j, i])
        total = np.zeros(m)
        for j in range(k):
            for i in range(m):
                e = math.exp(max(lp[j, i] - top[i], -700.0))
                lp[j, i] = e
                total[i] += e
        for i in range(m):
            inv = 1.0 / total[i]
            for j in range(k):
                resp[i, j] = lp[j, i] * inv
            lse[i] = top[i] + math.log(total[i])

    k, m = 10, 4096
    template = -30.0 * np.random.default_rng(0).random((k, m))
    resp_a, resp_b = np.empty((m, k)), np.empty((m, k))
    lse_a, lse_b = np.empty(m), np.empty(m)
    fused(template.copy(), resp_a, lse_a)  # compile
    numpy_passes(template.copy(), resp_b, lse_b)
    assert np.allclose(resp_a, resp_b, rtol=1e-14, atol=0) and np.allclose(lse_a, lse_b)
    t_fused = best_time(lambda a: fused(a, resp_a, lse_a), template)
    t_numpy = best_time(lambda a: numpy_passes(a, resp_b, lse_b), template)
    print(f"numba {numba.__version__}, SVML (vectorised exp): {numba.config.USING_SVML}")
    print(f"chunk k={k}, m={m}: fused numba {t_fused * 1e6:.0f} us, numpy passes "
          f"{t_numpy * 1e6:.0f} us, numpy / fused = {t_numpy / t_fused:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
