"""Type stub of the optional C extension (src/gaussmix/_hierarchy.c)."""

import numpy as np
from numpy.typing import NDArray

def agglomerate(
    z: NDArray[np.float64],
    alpha: float,
    beta: float,
    merges: NDArray[np.int64],
    costs: NDArray[np.float64],
) -> None: ...
