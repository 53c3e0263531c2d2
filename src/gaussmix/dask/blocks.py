"""Blocks with missing values on a worker, grouped by pattern once per block.

A block whose rows hold NaN (missing values) is passed as an
:class:`~gaussmix.incomplete.source.IncompleteSource`, which groups its rows by
missingness pattern and copies their observed values: a cost of the order of the pass
itself.  A persisted block is the same array in every pass of a fit, so its grouped rows
are kept while the array lives (and dropped with it); a block read afresh for each pass
(out-of-core data) is grouped in each.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
from numpy.typing import NDArray

from ..incomplete.patterns import GroupedRows, Patterns
from ..incomplete.source import IncompleteSource, group

Array = NDArray[np.float64]

#: id of a block -> a weak reference to it and its rows grouped (which do not refer to it)
_KEPT: dict[int, tuple[weakref.ref[NDArray[np.floating]], tuple[Patterns, GroupedRows]]] = {}
_LOCK = threading.Lock()


def kept_block(x: NDArray[np.floating], w: Array | None) -> IncompleteSource | None:
    """The source of block ``x`` (weights ``w``) if its rows were grouped before, else
    ``None``."""
    with _LOCK:
        kept = _KEPT.get(id(x))
    if kept is not None and kept[0]() is x:
        return IncompleteSource(x, w, grouped=kept[1])
    return None


def incomplete_block(x: NDArray[np.floating], w: Array | None) -> IncompleteSource:
    """The source of block ``x`` (weights ``w``), its rows grouped once while ``x`` lives."""
    source = kept_block(x, w)
    if source is not None:
        return source
    key = id(x)
    grouped = group(x)
    try:
        ref = weakref.ref(x, lambda _: _forget(key))
    except TypeError:  # an array that takes no weak reference: not kept
        return IncompleteSource(x, w, grouped=grouped)
    with _LOCK:
        _KEPT[key] = (ref, grouped)
    return IncompleteSource(x, w, grouped=grouped)


def _forget(key: int) -> None:
    with _LOCK:
        _KEPT.pop(key, None)


__all__ = ["incomplete_block", "kept_block"]
