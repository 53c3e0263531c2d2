#!/usr/bin/env python
"""Benchmark gaussmix's EM against scikit-learn's ``GaussianMixture``, in one run.

Both libraries fit the same data from the same initial parameters (``weights_init``,
``means_init``, ``precisions_init``) with ``tol=0`` for a fixed number of EM iterations; the
script reports the time per EM iteration, the agreement of the log-likelihoods, the peak
memory of a fit, the time of ``predict_proba`` / ``score_samples``, and a fit with each
library's defaults.  ``benchmarks/README.md`` describes the method.

Run it from the repository root::

    make bench                                     # .venv/bin/python benchmarks/bench_em.py
    .venv/bin/python benchmarks/bench_em.py --quick                     # smoke test, seconds
    .venv/bin/python benchmarks/bench_em.py --configs 200000x10x10 --types diag --iters 3
    .venv/bin/python benchmarks/bench_em.py --configs all --float32 --write-readme

``--help`` lists every option.  The default set (200000x10x10 and 1000000x16x8, both data
sets, all four covariance types) takes tens of minutes on a 2-core machine, most of it in
scikit-learn's 'full' fits; ``--sk-iters`` bounds the number of scikit-learn iterations.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import re
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy
import sklearn
from numpy.typing import NDArray
from sklearn.cluster import kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import gaussmix
from gaussmix import GaussianMixture as GmGaussianMixture
from gaussmix.engine import compiled_kernels, release_workspaces

Array = NDArray[np.float64]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
DATA_KINDS = ("blobs", "aniso")
DEFAULT_CONFIGS = "200000x10x10,1000000x16x8"
ALL_CONFIGS = "200000x10x10,1000000x16x8,100000x32x16,1000000x2x3"
QUICK_CONFIG = "20000x5x4"
#: rows of the subsample the shared initialisation is computed from
INIT_SAMPLE = 20_000
#: ``reg_covar`` of both libraries: scikit-learn's default, an absolute variance (gaussmix's
#: default, "auto", is relative to the data's variances)
REG_COVAR = 1e-6
SEED = 20240607
README = Path(__file__).resolve().parent / "README.md"
START_MARK = "<!-- results:start -->"
END_MARK = "<!-- results:end -->"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    """One problem size: rows, features, components."""

    n: int
    d: int
    k: int

    @property
    def label(self) -> str:
        return f"{self.n}x{self.d}x{self.k}"


def parse_configs(text: str) -> list[Config]:
    """Parse ``"200000x10x10,1000000x16x8"`` (``all`` and ``default`` are aliases)."""
    text = {"all": ALL_CONFIGS, "default": DEFAULT_CONFIGS, "quick": QUICK_CONFIG}.get(
        text.strip(), text
    )
    configs = []
    for item in text.split(","):
        match = re.fullmatch(r"\s*(\d[\d_]*)x(\d+)x(\d+)\s*", item)
        if match is None:
            raise argparse.ArgumentTypeError(f"bad config {item!r}; expected NxDxK, e.g. 20000x5x4")
        n, d, k = (int(g.replace("_", "")) for g in match.groups())
        if n < 2 * k or d < 1 or k < 1:
            raise argparse.ArgumentTypeError(f"bad config {item!r}: need n >= 2k, d >= 1, k >= 1")
        configs.append(Config(n, d, k))
    return configs


def parse_choices(text: str, valid: Sequence[str], what: str) -> list[str]:
    """Parse a comma-separated subset of ``valid``."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in valid]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"bad {what} {bad}; choose from {', '.join(valid)}")
    return items


# --------------------------------------------------------------------------- data


def _seed(*parts: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *parts])


def make_data(kind: str, cfg: Config) -> Array:
    """Deterministic synthetic data of shape (n, d), float64, C-contiguous.

    ``blobs``: well-separated isotropic clusters (centres ~ N(0, 8²), std 0.5-1.5).
    ``aniso``: overlapping anisotropic clusters (centres ~ N(0, 2²), each cluster a random
    linear map of a standard normal with axis scales log-uniform in [0.3, 3]).
    Component weights are Dirichlet(5) in both.
    """
    n, d, k = cfg.n, cfg.d, cfg.k
    rng = _seed(DATA_KINDS.index(kind), n, d, k)
    weights = rng.dirichlet(np.full(k, 5.0))
    labels = rng.choice(k, size=n, p=weights)
    X = np.empty((n, d))
    if kind == "blobs":
        centres = rng.normal(0.0, 8.0, size=(k, d))
        stds = rng.uniform(0.5, 1.5, size=k)
        maps = [np.eye(d) * s for s in stds]
    elif kind == "aniso":
        centres = rng.normal(0.0, 2.0, size=(k, d))
        maps = [
            rng.normal(size=(d, d)) / np.sqrt(d) * np.exp(rng.uniform(np.log(0.3), np.log(3), d))
            for _ in range(k)
        ]
    else:
        raise ValueError(f"unknown data kind {kind!r}")
    for j in range(k):
        rows = np.flatnonzero(labels == j)
        X[rows] = centres[j] + rng.standard_normal((rows.size, d)) @ maps[j]
    return X


# --------------------------------------------------------------------------- initialisation


@dataclass(frozen=True)
class Seeding:
    """A hard partition of a subsample, from which every covariance type's start is built."""

    sample: Array
    labels: NDArray[np.intp]
    k: int


@dataclass(frozen=True)
class InitParams:
    weights: Array
    means: Array
    precisions: Array


def make_seeding(X: Array, k: int, seed: int) -> Seeding:
    """k-means++ centres on a subsample of at most :data:`INIT_SAMPLE` rows, nearest-centre
    labels of that subsample."""
    rng = np.random.default_rng([SEED, seed])
    n = X.shape[0]
    rows = np.sort(rng.choice(n, INIT_SAMPLE, replace=False)) if n > INIT_SAMPLE else None
    sample = np.ascontiguousarray(X if rows is None else X[rows])
    centres, _ = kmeans_plusplus(sample, k, random_state=int(rng.integers(2**31 - 1)))
    dist = (centres**2).sum(axis=1) - 2.0 * sample @ centres.T
    labels = dist.argmin(axis=1).astype(np.intp)
    return Seeding(sample, labels, k)


def initial_params(seeding: Seeding, covariance_type: str) -> InitParams:
    """Weights, means and precisions (in ``covariance_type``'s shape) of the partition,
    with ``reg_covar`` added to the covariances as both libraries do."""
    X, labels, k = seeding.sample, seeding.labels, seeding.k
    m, d = X.shape
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    if (counts < 2).any():
        raise RuntimeError("initial partition has a component with fewer than 2 rows")
    weights = counts / counts.sum()
    means = np.stack([X[labels == j].mean(axis=0) for j in range(k)])
    diffs = [X[labels == j] - means[j] for j in range(k)]
    eye = np.eye(d)
    precisions: Array
    if covariance_type == "full":
        covs = np.stack([df.T @ df / df.shape[0] + REG_COVAR * eye for df in diffs])
        precisions = np.linalg.inv(covs)
        precisions = 0.5 * (precisions + precisions.transpose(0, 2, 1))
    elif covariance_type == "tied":
        cov = sum(df.T @ df for df in diffs) / m + REG_COVAR * eye
        precisions = np.linalg.inv(cov)
        precisions = 0.5 * (precisions + precisions.T)
    elif covariance_type == "diag":
        precisions = 1.0 / np.stack([(df**2).mean(axis=0) + REG_COVAR for df in diffs])
    elif covariance_type == "spherical":
        precisions = 1.0 / np.array([(df**2).mean() + REG_COVAR for df in diffs])
    else:
        raise ValueError(f"unknown covariance type {covariance_type!r}")
    return InitParams(weights, means, precisions)


# --------------------------------------------------------------------------- measurement


class Mixture(Protocol):
    lower_bound_: float
    n_iter_: int

    def fit(self, X: Any, y: Any = None) -> Any: ...
    def predict_proba(self, X: Any) -> Any: ...
    def score_samples(self, X: Any) -> Any: ...
    def score(self, X: Any, y: Any = None) -> float: ...


Factory = Callable[[int], Mixture]


def sk_factory(k: int, covariance_type: str, init: InitParams) -> Factory:
    """scikit-learn from ``init``.  Its fit still computes a start from ``init_params`` before
    the given arrays override it; ``random_from_data`` is the cheapest one (``kmeans``, the
    default, would run k-means on all rows)."""

    def make(max_iter: int) -> Mixture:
        model: Mixture = SkGaussianMixture(
            n_components=k,
            covariance_type=covariance_type,
            tol=0.0,
            reg_covar=REG_COVAR,
            max_iter=max_iter,
            n_init=1,
            init_params="random_from_data",
            weights_init=init.weights,
            means_init=init.means,
            precisions_init=init.precisions,
            random_state=0,
        )
        return model

    return make


def gm_factory(k: int, covariance_type: str, init: InitParams) -> Factory:
    """gaussmix from ``init`` (``means_init`` makes it a single deterministic start)."""

    def make(max_iter: int) -> Mixture:
        model: Mixture = GmGaussianMixture(
            n_components=k,
            covariance_type=covariance_type,
            tol=0.0,
            reg_covar=REG_COVAR,
            max_iter=max_iter,
            weights_init=init.weights,
            means_init=init.means,
            precisions_init=init.precisions,
            random_state=0,
        )
        return model

    return make


def _fit(model: Mixture, X: NDArray[np.floating]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)


def collect_garbage() -> None:
    """Collect garbage before a timed call, so that no collection runs inside it, then
    freeze what survives: a full collection walks every object the interpreter tracks
    (about 130 000 with scikit-learn loaded: 80 ms, which also leaves the caches cold for
    the call that follows), the next ones only those made since."""
    gc.collect()
    gc.freeze()


def timed_fit(make: Factory, X: NDArray[np.floating], max_iter: int) -> tuple[float, Mixture]:
    """Wall time of one fit with ``max_iter`` iterations, and its model."""
    model = make(max_iter)
    collect_garbage()
    t0 = time.perf_counter()
    _fit(model, X)
    took = time.perf_counter() - t0
    if model.n_iter_ != max_iter:
        raise RuntimeError(f"{type(model).__module__}: n_iter_={model.n_iter_} != {max_iter}")
    return took, model


#: fits are repeated until they have run this long, pairs of them (1 and n iterations)
#: alternating, at most MAX_FIT_PAIRS pairs: on this VM a slow spell lasts seconds, and a best
#: of 5 fits within 2 s moved a gaussmix cell by 1.5x between runs (the same rule for both
#: libraries; scikit-learn's fits run longer than this already)
MIN_FIT_SECONDS = 4.0
MAX_FIT_PAIRS = 20

#: short calls are repeated until they have run this long (at most MAX_CALLS times): a best
#: of 3 calls of 5-10 ms on this VM moved by 2x between runs, and a best over 0.5 s of
#: 40 ms calls by 1.5x.  The cap is high enough that calls of 4 ms still get the whole
#: time (with 60, gaussmix's 5-8 ms calls got 0.3-0.5 s, scikit-learn's the 1.5 s)
MIN_CALL_SECONDS = 1.5
MAX_CALLS = 400


def timed_call(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of at least ``repeat`` calls, more for short ones (the same rule for
    both libraries)."""
    best, spent, calls = np.inf, 0.0, 0
    while calls < repeat or (spent < MIN_CALL_SECONDS and calls < MAX_CALLS):
        collect_garbage()
        t0 = time.perf_counter()
        fn()
        took = time.perf_counter() - t0
        best, spent, calls = min(best, took), spent + took, calls + 1
    return float(best)


def peak_fit_memory(make: Factory, X: NDArray[np.floating], max_iter: int) -> int:
    """Peak bytes traced by :mod:`tracemalloc` during one fit, above those traced before it.

    numpy reports its array buffers to tracemalloc; memory that BLAS allocates internally is
    not seen.  This fit is separate from the timed ones.  gaussmix keeps its chunk buffers
    between passes; they are freed first, so that the fit allocates (and counts) them.
    """
    model = make(max_iter)
    release_workspaces()
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        _fit(model, X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return max(peak - before, 0)


@dataclass(frozen=True)
class IterTiming:
    """Per-iteration and fixed cost of a fit, from fits with 1 and ``n_iter`` iterations."""

    per_iter: float
    fixed: float
    model: Mixture


def iteration_timing(
    make: Factory, X: NDArray[np.floating], n_iter: int, repeat: int
) -> IterTiming:
    """``per_iter = (t(n_iter) - t(1)) / (n_iter - 1)``; ``fixed = t(1) - per_iter``.

    Each ``t`` is the best of at least ``repeat`` fits, more for short ones (see
    :data:`MIN_FIT_SECONDS`), fits with 1 and with ``n_iter`` iterations alternating so that
    a slow spell of the machine weighs on both alike.
    """
    t1 = tn = np.inf
    spent, pairs = 0.0, 0
    while pairs < repeat or (spent < MIN_FIT_SECONDS and pairs < MAX_FIT_PAIRS):
        one, _ = timed_fit(make, X, 1)
        many, model = timed_fit(make, X, n_iter)
        t1, tn = min(t1, one), min(tn, many)
        spent, pairs = spent + one + many, pairs + 1
    per_iter = max(tn - t1, 0.0) / (n_iter - 1)
    return IterTiming(per_iter, t1 - per_iter, model)


def lower_bounds(model: Mixture) -> list[float]:
    """Mean log-likelihood at each iteration's E-step (``history_`` / ``lower_bounds_``)."""
    for name in ("history_", "lower_bounds_"):
        values = getattr(model, name, None)
        if values is not None:
            return [float(x) for x in values]
    return [float(model.lower_bound_)]


def rel_diff(a: float, b: float) -> float:
    return float(abs(a - b) / max(abs(b), float(np.finfo(np.float64).tiny)))


def common_rel_diff(a: Mixture, b: Mixture) -> float:
    """Relative difference of the log-likelihoods at the last iteration both ran."""
    la, lb = lower_bounds(a), lower_bounds(b)
    m = min(len(la), len(lb))
    return rel_diff(la[m - 1], lb[m - 1])


@dataclass(frozen=True)
class Floor:
    """Seconds of the work no implementation on BLAS and numpy can skip (see engine_floor)."""

    em: float
    proba: float
    score: float


def engine_floor(model: Any, X: NDArray[np.floating]) -> Floor:
    """Lower bounds on gaussmix's time per EM iteration, ``predict_proba`` and ``score_samples``.

    For the fitted model's own expanded features (``F`` columns) and chunk size ``m``, one
    chunk's E-step GEMM ``(k x F) @ (F x m)``, statistics GEMM ``(F x m) @ (m x k)`` and
    ``exp`` of ``k x m`` values are timed alone on one core and scaled to all rows, divided by
    the number of worker threads as if they scaled perfectly; ``predict_proba`` adds writing
    a fresh ``n x k`` result.  Filling the features, the rest of the normalisation, the
    frame transposition, validation and Python overhead are left out, so the real pass can
    only be slower: a target above ``sklearn time / floor`` is out of reach for this design
    (BLAS GEMMs and numpy element-wise work), whatever else is tuned.
    """
    from threadpoolctl import threadpool_limits

    from gaussmix.engine import auto_chunk_size
    from gaussmix.engine.planning import Prepared
    from gaussmix.engine.threads import default_threads

    frame = model._prediction_frame()
    prep = Prepared(model._pass_terms(frame), frame, "expanded")
    n, d = X.shape
    k, cols = prep.k, prep.n_cols
    m = min(n, auto_chunk_size(d, k, cols, n))
    rng = np.random.default_rng(0)
    phi = rng.standard_normal((cols, m))
    resp = rng.random((k, m))
    logp = -10.0 * rng.random((k, m))
    out = np.empty((k, m))
    with threadpool_limits(1, user_api="blas"):
        e_gemm = timed_call(lambda: np.dot(prep.WT, phi, out=out), 7)
        m_gemm = timed_call(lambda: np.dot(phi, resp.T), 7)
    exp = timed_call(lambda: np.exp(logp, out=out), 7)
    fresh = timed_call(lambda: np.ones((n, k), dtype=X.dtype), 3)
    per_row = 1.0 / (m * default_threads())
    em = n * per_row * (e_gemm + m_gemm + exp)
    score = n * per_row * (e_gemm + exp)
    return Floor(em, score + fresh, score)


@dataclass
class Row:
    data: str
    cfg: Config
    covariance_type: str
    sk: IterTiming
    gm: IterTiming
    rel_dll: float
    sk_mem: float
    gm_mem: float
    proba_speedup: float
    score_speedup: float
    sk_proba: float = 0.0
    sk_score: float = 0.0
    floor: Floor | None = None
    gm32: IterTiming | None = None
    rel_dll32: float | None = None


def bench_case(
    data: str,
    cfg: Config,
    covariance_type: str,
    X: Array,
    X32: NDArray[np.float32] | None,
    init: InitParams,
    args: argparse.Namespace,
) -> Row:
    sk_make = sk_factory(cfg.k, covariance_type, init)
    gm_make = gm_factory(cfg.k, covariance_type, init)
    # The untimed memory fits come first: they also warm up each library on this data.
    sk_mem = peak_fit_memory(sk_make, X, args.mem_iters) / X.nbytes
    gm_mem = peak_fit_memory(gm_make, X, args.mem_iters) / X.nbytes

    sk = iteration_timing(sk_make, X, args.sk_iters, args.repeat)
    gm = iteration_timing(gm_make, X, args.iters, args.repeat)
    rel = common_rel_diff(gm.model, sk.model)

    sk_model, gm_model = sk.model, gm.model
    sk_proba = timed_call(lambda: sk_model.predict_proba(X), args.repeat)
    proba = sk_proba / timed_call(lambda: gm_model.predict_proba(X), args.repeat)
    sk_score = timed_call(lambda: sk_model.score_samples(X), args.repeat)
    score = sk_score / timed_call(lambda: gm_model.score_samples(X), args.repeat)
    row = Row(data, cfg, covariance_type, sk, gm, rel, sk_mem, gm_mem, proba, score)
    row.sk_proba, row.sk_score = sk_proba, sk_score
    row.floor = engine_floor(gm_model, X)
    if X32 is not None:
        row.gm32 = iteration_timing(gm_make, X32, args.iters, args.repeat)
        row.rel_dll32 = common_rel_diff(row.gm32.model, gm.model)
    return row


@dataclass(frozen=True)
class DefaultFit:
    library: str
    seconds: float
    n_iter: int
    converged: bool
    score: float


def bench_default_fit(X: Array, k: int, repeat: int = 1) -> list[DefaultFit]:
    """Each library's defaults (``random_state=0``): total fit time (the median of ``repeat``
    fits, the libraries alternating, so that both see the same load) and ``score(X)``."""
    makers: list[tuple[str, Callable[[], Mixture]]] = [
        ("scikit-learn", lambda: SkGaussianMixture(n_components=k, random_state=0)),
        ("gaussmix", lambda: GmGaussianMixture(n_components=k, random_state=0)),
    ]
    seconds: dict[str, list[float]] = {name: [] for name, _ in makers}
    fitted: dict[str, Mixture] = {}
    for _ in range(repeat):
        for name, make in makers:
            model = make()
            collect_garbage()
            t0 = time.perf_counter()
            _fit(model, X)
            seconds[name].append(time.perf_counter() - t0)
            fitted[name] = model  # the same fit every time (random_state=0)
    out = []
    for name, _ in makers:
        model = fitted[name]
        converged = bool(getattr(model, "converged_", False))
        out.append(
            DefaultFit(
                name, float(np.median(seconds[name])), int(model.n_iter_), converged,
                model.score(X),
            )
        )  # fmt: skip
    return out


def warm_up() -> None:
    """Load BLAS / OpenMP and sklearn's lazy imports before anything is timed."""
    X = make_data("blobs", Config(2000, 3, 2))
    init = initial_params(make_seeding(X, 2, 0), "full")
    for make in (sk_factory(2, "full", init), gm_factory(2, "full", init)):
        model = make(2)
        _fit(model, X)
        model.predict_proba(X)
        model.score_samples(X)
    for default in (SkGaussianMixture(2, random_state=0), GmGaussianMixture(2, random_state=0)):
        _fit(default, X)  # the default initialisations' imports (k-means) too


# --------------------------------------------------------------------------- reporting


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.machine()


def blas_info() -> list[str]:
    try:
        from threadpoolctl import threadpool_info  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return ["threadpoolctl not installed"]
    lines = []
    for pool in threadpool_info():
        parts = [
            str(pool.get("internal_api")),
            str(pool.get("version") or "?"),
            f"{pool.get('num_threads')} threads",
        ]
        for key in ("threading_layer", "architecture"):
            if pool.get(key):
                parts.append(str(pool[key]))
        lines.append(f"{pool.get('prefix')}: " + ", ".join(parts))
    return lines


def machine_info() -> list[str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return [
        f"- CPU: {cpu_model()} — {os.cpu_count()} logical cores ({usable} usable)",
        f"- Python {platform.python_version()} on {platform.system()} {platform.machine()}",
        f"- numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn "
        f"{sklearn.__version__}, gaussmix {gaussmix.__version__}",
        *(f"- {line}" for line in blas_info()),
        f"- gaussmix compiled kernel (prediction; EM but tied): {compiled_kernels() or 'none'}",
    ]


def _fmt_time(seconds: float) -> str:
    if seconds >= 10:
        return f"{seconds:.1f}"
    if seconds >= 0.1:
        return f"{seconds:.2f}"
    if seconds >= 0.01:
        return f"{seconds:.3f}"
    return f"{seconds:.4f}"


def _fmt_ratio(x: float | None) -> str:
    """A speedup; ``None`` (a per-iteration time within noise of zero) prints as ``n/a``."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def _fmt_sci(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    right = ["---:" if i > 0 else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(right) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def results_table(rows: Sequence[Row], float32: bool) -> str:
    header = [
        "data", "n", "d", "k", "type",
        "sk s/iter", "gm s/iter", "speedup", "sk fixed s", "gm fixed s",
        "rel \\|ΔlogL\\|", "sk peak mem / X", "gm peak mem / X",
        "predict_proba speedup", "score_samples speedup",
    ]  # fmt: skip
    if float32:
        header += ["gm f32 s/iter", "f32 speedup vs sk f64", "f32 rel \\|ΔlogL\\|"]
    body = []
    for r in rows:
        speedup = r.sk.per_iter / r.gm.per_iter if r.gm.per_iter > 0 else None
        cells = [
            r.data, f"{r.cfg.n:,}", str(r.cfg.d), str(r.cfg.k), r.covariance_type,
            _fmt_time(r.sk.per_iter), _fmt_time(r.gm.per_iter), _fmt_ratio(speedup),
            _fmt_time(r.sk.fixed), _fmt_time(r.gm.fixed),
            _fmt_sci(r.rel_dll), f"{r.sk_mem:.2f}", f"{r.gm_mem:.2f}",
            _fmt_ratio(r.proba_speedup), _fmt_ratio(r.score_speedup),
        ]  # fmt: skip
        if float32:
            cells += [
                "-" if r.gm32 is None else _fmt_time(r.gm32.per_iter),
                _fmt_ratio(
                    r.sk.per_iter / r.gm32.per_iter
                    if r.gm32 is not None and r.gm32.per_iter > 0
                    else None
                ),
                _fmt_sci(r.rel_dll32),
            ]
        body.append(cells)
    return markdown_table(header, body)


def ceiling_table(rows: Sequence[Row]) -> str:
    """Each cell's speedup next to the most the design allows (see :func:`engine_floor`)."""
    header = [
        "data", "n", "d", "k", "type",
        "EM floor s", "EM speedup", "EM ceiling",
        "proba floor s", "predict_proba speedup", "proba ceiling",
        "score_samples speedup", "score ceiling",
    ]  # fmt: skip
    body = []
    for r in rows:
        f = r.floor
        if f is None:
            continue
        speedup = r.sk.per_iter / r.gm.per_iter if r.gm.per_iter > 0 else None
        body.append([
            r.data, f"{r.cfg.n:,}", str(r.cfg.d), str(r.cfg.k), r.covariance_type,
            _fmt_time(f.em), _fmt_ratio(speedup), _fmt_ratio(r.sk.per_iter / f.em),
            _fmt_time(f.proba), _fmt_ratio(r.proba_speedup), _fmt_ratio(r.sk_proba / f.proba),
            _fmt_ratio(r.score_speedup), _fmt_ratio(r.sk_score / f.score),
        ])  # fmt: skip
    return markdown_table(header, body)


def default_fit_table(default: Sequence[tuple[str, Config, Sequence[DefaultFit]]]) -> str:
    header = ["library", "data", "n", "d", "k", "fit s", "speedup", "n_iter_", "converged_",
              "score(X)", "score - sklearn"]  # fmt: skip
    body = []
    for data, cfg, fits in default:
        ref = fits[0]
        body += [
            [f.library, data, f"{cfg.n:,}", str(cfg.d), str(cfg.k), _fmt_time(f.seconds),
             f"{ref.seconds / f.seconds:.2f}x", str(f.n_iter), str(f.converged),
             f"{f.score:.6f}", f"{f.score - ref.score:+.2e}"]
            for f in fits
        ]  # fmt: skip
    return markdown_table(header, body)


def report(
    args: argparse.Namespace,
    rows: Sequence[Row],
    default: Sequence[tuple[str, Config, list[DefaultFit]]],
    argv: Sequence[str],
) -> str:
    command = " ".join(["python benchmarks/bench_em.py", *argv])
    parts = [f"Command: `{command}`", "", *machine_info()]
    if rows:
        parts += em_parts(args, rows)
    if default:
        parts += [
            "",
            "Default fit (each library's defaults, `random_state=0`; covariance_type='full'; "
            f"fit s: the median of {args.default_repeat} fits, the libraries alternating):",
            "",
            default_fit_table(default),
        ]
    return "\n".join(parts) + "\n"


def em_parts(args: argparse.Namespace, rows: Sequence[Row]) -> list[str]:
    """The report's EM timings and their ceilings."""
    return [
        "",
        f"EM timing: scikit-learn {args.sk_iters} iterations, gaussmix {args.iters} iterations, "
        f"best of at least {args.repeat} fits, fits of 1 and N iterations alternating and "
        f"repeated until {MIN_FIT_SECONDS:g} s (at most {MAX_FIT_PAIRS} pairs); "
        f"s/iter = (t(N) - t(1)) / (N - 1), fixed = t(1) - s/iter. "
        f"`predict_proba` / `score_samples`: best of at least {args.repeat} calls, repeated "
        f"until {MIN_CALL_SECONDS} s (at most {MAX_CALLS} calls). "
        f"Peak memory: tracemalloc over a {args.mem_iters}-iteration fit, relative to X.nbytes. "
        "Speedups are scikit-learn time / gaussmix time.",
        "",
        results_table(rows, args.float32),
        "",
        "Ceilings: the speedup gaussmix would have if a pass cost only its GEMMs and `exp` "
        "(timed alone on one core for the model's own feature count and chunk size, scaled to "
        "all rows and divided by the worker threads as if they scaled perfectly; "
        "`predict_proba` adds writing a fresh n x k array). A target above the ceiling is "
        "out of reach for a design built on BLAS GEMMs and numpy element-wise work.",
        "",
        ceiling_table(rows),
    ]


def write_section(path: Path, text: str, start: str, end: str, title: str) -> None:
    """Replace the text between the markers ``start`` and ``end`` of ``path`` (appending them
    under a heading ``title`` if absent)."""
    block = f"{start}\n{text}{end}"
    old = path.read_text() if path.exists() else "# gaussmix benchmarks\n"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        _, tail = rest.split(end, 1)
        new = head + block + tail
    else:
        new = old.rstrip("\n") + f"\n\n## {title}\n\n" + block + "\n"
    path.write_text(new)


def write_readme(path: Path, text: str) -> None:
    """Replace the text between the result markers of ``path`` (appending them if absent)."""
    write_section(path, text, START_MARK, END_MARK, "Results")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help=f"comma-separated NxDxK; 'all' = {ALL_CONFIGS}",
    )
    p.add_argument("--quick", action="store_true", help=f"smoke test: --configs {QUICK_CONFIG}")
    p.add_argument("--types", default=",".join(COVARIANCE_TYPES), help="covariance types")
    p.add_argument("--data", default=",".join(DATA_KINDS), help="data generators")
    p.add_argument("--iters", type=int, default=5, help="EM iterations of gaussmix (>= 2)")
    p.add_argument(
        "--sk-iters", type=int, default=None, help="EM iterations of scikit-learn (default --iters)"
    )
    p.add_argument("--mem-iters", type=int, default=2, help="iterations of the memory fit")
    p.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timed runs per measurement, best kept (default 1; 3 with --quick)",
    )
    p.add_argument("--float32", action="store_true", help="also fit gaussmix on float32 input")
    p.add_argument(
        "--default-fit",
        default=None,
        help="comma-separated NxDxK of the default-parameter fits on 'aniso' data, or 'none' "
        "(default: every config of the run)",
    )
    p.add_argument(
        "--default-data",
        default=",".join(DATA_KINDS),
        help="data generators of the default-parameter fits",
    )
    p.add_argument(
        "--default-repeat",
        type=int,
        default=1,
        help="default-parameter fits per library and shape (alternating; the median is shown)",
    )
    p.add_argument(
        "--default-only",
        action="store_true",
        help="only the default-parameter fits (no EM timings; not with --write-readme)",
    )
    p.add_argument("--write-readme", action="store_true", help="rewrite the README results")
    p.add_argument("--readme", type=Path, default=README, help="README file for --write-readme")
    args = p.parse_args(argv)
    try:
        args.configs = parse_configs(QUICK_CONFIG if args.quick else args.configs)
        args.types = parse_choices(args.types, COVARIANCE_TYPES, "covariance types")
        args.data = parse_choices(args.data, DATA_KINDS, "data")
        args.default_data = parse_choices(args.default_data, DATA_KINDS, "data")
        if args.default_fit is None:
            args.default_fit = list(args.configs)
        elif args.default_fit.strip().lower() == "none":
            args.default_fit = []
        else:
            args.default_fit = parse_configs(args.default_fit)
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    if args.repeat is None:
        args.repeat = 3 if args.quick else 1
    if args.sk_iters is None:
        args.sk_iters = args.iters
    if args.iters < 2 or args.sk_iters < 2:
        p.error("--iters and --sk-iters must be at least 2 (s/iter is a difference of two fits)")
    if args.mem_iters < 1 or args.repeat < 1 or args.default_repeat < 1:
        p.error("--mem-iters, --repeat and --default-repeat must be at least 1")
    if args.default_only and args.write_readme:
        p.error("--default-only writes no README: the results section needs the EM timings")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    log("\n".join(machine_info()))
    warm_up()
    rows: list[Row] = []
    for data in [] if args.default_only else args.data:
        for cfg in args.configs:
            t0 = time.perf_counter()
            X = make_data(data, cfg)
            X32 = X.astype(np.float32) if args.float32 else None
            seeding = make_seeding(X, cfg.k, seed=cfg.n + cfg.d + cfg.k)
            log(f"{data} {cfg.label}: data ready in {time.perf_counter() - t0:.1f} s")
            for covariance_type in args.types:
                t0 = time.perf_counter()
                init = initial_params(seeding, covariance_type)
                row = bench_case(data, cfg, covariance_type, X, X32, init, args)
                rows.append(row)
                log(
                    f"  {covariance_type:9s} sk {row.sk.per_iter:.3f} s/iter, gm "
                    f"{row.gm.per_iter:.3f} s/iter, rel|ΔlogL| {row.rel_dll:.1e} "
                    f"({time.perf_counter() - t0:.0f} s)"
                )
            del X, X32
    default = []
    for data in args.default_data:
        for cfg in args.default_fit:
            log(f"default fit, {data} {cfg.label} ...")
            fits = bench_default_fit(make_data(data, cfg), cfg.k, args.default_repeat)
            default.append((data, cfg, fits))
    text = report(args, rows, default, argv)
    print(text)
    if args.write_readme:
        write_readme(args.readme, text)
        log(f"wrote {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
