"""Type stub of the optional C extension (src/gaussmix/_jacobi.c)."""

import numpy as np
from numpy.typing import NDArray

def sweep(
    D: NDArray[np.float64],
    W: NDArray[np.float64],
    m: NDArray[np.float64],
    pairs: NDArray[np.int64],
    out: NDArray[np.float64],
) -> None: ...
def orient(
    D: NDArray[np.float64],
    W: NDArray[np.float64],
    S: NDArray[np.float64],
    n: NDArray[np.float64],
    equal_volume: bool,
    threshold: float,
    max_iter: int,
    pairs: NDArray[np.int64],
    delta: NDArray[np.float64],
) -> None: ...
