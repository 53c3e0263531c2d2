"""Glue to the optional fused kernel (the C extension ``gaussmix._kernels``): whether it is
in use, and one chunk through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .planning import Prepared
from .sums import Sums

try:  # the optional C extension (setup.py); without it the same passes run in numpy
    from .. import _kernels as _compiled
except ImportError:  # pragma: no cover - depends on the build
    _compiled = None  # type: ignore[assignment]

Array = NDArray[np.float64]

_USE_COMPILED = [_compiled is not None]


def compiled_kernels() -> str | None:
    """The instruction set of the compiled kernels in use (e.g. ``"avx2"``), or ``None``.

    ``None`` where ``gaussmix._kernels`` was not built, or within :func:`numpy_kernels`.
    """
    return _compiled.target() if _compiled is not None and _USE_COMPILED[0] else None


@contextmanager
def numpy_kernels() -> Iterator[None]:
    """Run the passes started within this block on numpy only (for tests and benchmarks
    that compare the two paths; not meant for concurrent use)."""
    saved = _USE_COMPILED[0]
    _USE_COMPILED[0] = False
    try:
        yield
    finally:
        _USE_COMPILED[0] = saved


def in_use() -> bool:
    """Whether passes may use the fused kernel now."""
    return _compiled is not None and _USE_COMPILED[0]


def centred_columns(prep: Prepared, x: NDArray[np.floating], out: Array) -> bool:
    """``out[a, i] = (x[i, a] - centre[a]) / scale[a]`` (the numpy path's first feature rows)
    by the extension, bit for bit numpy's; False, with nothing written, where it is not in
    use or ``x`` is not native float32 or float64."""
    if not in_use() or x.dtype not in (np.float32, np.float64) or not x.dtype.isnative:
        return False
    assert _compiled is not None
    _compiled.centred_columns(x, prep.centre, prep.inv_scale, out)
    return True


def fused_chunk(
    prep: Prepared,
    x: NDArray[np.floating],
    lse: Array | None,
    resp: NDArray[np.floating] | None,
    labels: NDArray[np.intp] | None,
    w: Array | None,
    sums: Sums | None,
    whitened: NDArray[np.bool_] | None,
    hard: bool = False,
    given: Array | None = None,
    background: Array | None = None,
) -> bool:
    """A chunk's outputs, and its statistics into ``sums`` if given, by the fused kernel;
    False, with no statistics added, if the numpy path must redo it.

    ``whitened`` names the components whose statistics are summed in float32 lanes in
    whitened coordinates (``sums.w_*``), the others' going to the float64 sums
    (``sums.f_*``); ``None``: all in float64.  ``hard`` and ``given`` replace the posterior
    responsibilities (see :func:`~gaussmix.engine.passes.mixture_pass`); ``background`` is
    the rows' background column (m,), if the terms have one.
    """
    assert _compiled is not None
    stats: dict[str, np.ndarray] = {}
    f64: NDArray[np.bool_] | None = None  # components summed in float64 beside whitened
    if sums is not None:
        if whitened is not None:  # in y's coordinates, apart
            stats = {"nk": sums.w_n, "s1": sums.w_s1, "s2": sums.w_s2}
            if not whitened.all():
                f64 = ~whitened
        else:
            stats = {"nk": sums.f_n, "s1": sums.f_s1, "s2": sums.f_s2}
        if w is not None:
            stats["sample_weight"] = np.ascontiguousarray(w, dtype=np.float64)
    clean = bool(
        _compiled.mixture_chunk(
            x,
            prep.inv_scale,
            prep.fused_means,
            prep.fused_factors,
            prep.base,
            lse,
            resp,
            labels,
            shift=prep.fused_shift,
            transform=prep.fused_transform,
            float32_products=prep.float32_products,
            float32_statistics=whitened is not None,
            float64_components=f64,
            hard=hard,
            given=given,
            background=background,
            **stats,
        )
    )
    if clean and f64 is not None and sums is not None:  # those go with the float64 sums
        for w_, f_ in ((sums.w_n, sums.f_n), (sums.w_s1, sums.f_s1), (sums.w_s2, sums.f_s2)):
            f_[f64] += w_[f64]
            w_[f64] = 0.0
    return clean


def raw_chunk(
    x: NDArray[np.floating],
    inv_scale: Array,
    means: Array,
    factors: Array,
    base: Array,
    lse: Array | None,
    resp: NDArray[np.floating] | None,
    labels: NDArray[np.intp] | None,
    **options: Any,
) -> bool:
    """One chunk through the kernel with operands given directly (no planned pass): the
    frame's inverse scales (d,), means in units of its scales, factors and constants per
    component; False if the numpy path must redo it."""
    assert _compiled is not None
    return bool(
        _compiled.mixture_chunk(x, inv_scale, means, factors, base, lse, resp, labels, **options)
    )


def marginal_chunk(
    values: NDArray[np.floating],
    offsets: NDArray[np.int64],
    bounds: NDArray[np.int64],
    observed: NDArray[np.bool_],
    start: int,
    stop: int,
    inv_scale: Array,
    means: Array,
    covariances: Array,
    log_weights: Array,
    log_scale: Array,
    lse: Array,
    resp: NDArray[np.floating] | None,
    labels: NDArray[np.intp] | None,
    *,
    sample_weight: Array | None,
    sums: tuple[Array, Array, Array] | None,
    hard: bool,
    given: Array | None,
    background: Array | None = None,
) -> list[int]:
    """Rows ``start`` to ``stop - 1`` of rows grouped by missingness pattern through the
    kernel, each row's densities the marginals on its observed values (see the extension's
    ``marginal_chunk``); ``sums`` (nk, s1, s2) get the expected complete-data statistics,
    ``background`` is the grouped rows' background column (n_rows,), if any.
    Returns the patterns whose rows there the numpy path must redo (nothing of them added)."""
    assert _compiled is not None
    nk, s1, s2 = (None, None, None) if sums is None else sums
    handed: list[int] = _compiled.marginal_chunk(
        values, offsets, bounds, observed, start, stop, inv_scale, means, covariances,
        log_weights, log_scale, lse, resp, labels, sample_weight=sample_weight, nk=nk, s1=s1,
        s2=s2, hard=hard, given=given, background=background,
    )  # fmt: skip
    return handed
