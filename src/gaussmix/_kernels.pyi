"""Type stub of the optional C extension (src/gaussmix/_kernels.c)."""

import numpy as np
from numpy.typing import NDArray

def mixture_chunk(
    x: NDArray[np.floating],
    inv_scale: NDArray[np.float64],
    means: NDArray[np.float64],
    factors: NDArray[np.float64],
    base: NDArray[np.float64],
    lse: NDArray[np.float64] | None = None,
    resp: NDArray[np.floating] | None = None,
    labels: NDArray[np.intp] | None = None,
    *,
    shift: NDArray[np.float64] | None = None,
    transform: NDArray[np.float64] | None = None,
    sample_weight: NDArray[np.float64] | None = None,
    nk: NDArray[np.float64] | None = None,
    s1: NDArray[np.float64] | None = None,
    s2: NDArray[np.float64] | None = None,
    float32_products: bool = False,
    float32_statistics: bool = False,
    float64_components: NDArray[np.bool_] | None = None,
    hard: bool = False,
    given: NDArray[np.float64] | None = None,
    background: NDArray[np.float64] | None = None,
) -> bool: ...
def centred_columns(
    x: NDArray[np.floating],
    centre: NDArray[np.float64],
    inv_scale: NDArray[np.float64],
    out: NDArray[np.float64],
) -> None: ...
def target() -> str: ...
def use_target(name: str) -> bool: ...
def marginal_chunk(
    values: NDArray[np.floating],
    offsets: NDArray[np.int64],
    bounds: NDArray[np.int64],
    observed: NDArray[np.bool_],
    start: int,
    stop: int,
    inv_scale: NDArray[np.float64],
    means: NDArray[np.float64],
    covariances: NDArray[np.float64],
    log_weights: NDArray[np.float64],
    log_scale: NDArray[np.float64],
    lse: NDArray[np.float64],
    resp: NDArray[np.floating] | None = None,
    labels: NDArray[np.intp] | None = None,
    *,
    sample_weight: NDArray[np.float64] | None = None,
    nk: NDArray[np.float64] | None = None,
    s1: NDArray[np.float64] | None = None,
    s2: NDArray[np.float64] | None = None,
    hard: bool = False,
    given: NDArray[np.float64] | None = None,
    background: NDArray[np.float64] | None = None,
) -> list[int]: ...
