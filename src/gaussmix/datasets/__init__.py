"""Small data sets shipped with gaussmix."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
from numpy.typing import NDArray


def load_faithful() -> tuple[NDArray[np.float64], list[str]]:
    """Old Faithful geyser eruptions (272 rows).

    Returns
    -------
    X : ndarray of shape (272, 2)
        Eruption duration (minutes) and waiting time to the next eruption (minutes).
    columns : list of str
        ``["eruptions", "waiting"]``.

    Notes
    -----
    Härdle (1991), *Smoothing Techniques with Implementation in S*; the copy distributed
    with R's ``datasets`` package.
    """
    text = resources.files(__package__).joinpath("faithful.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    columns = [c.strip() for c in rows[0]]
    X = np.array([[float(x) for x in row] for row in rows[1:] if row], dtype=np.float64)
    return X, columns


__all__ = ["load_faithful"]
