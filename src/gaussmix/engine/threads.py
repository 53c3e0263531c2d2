"""Worker threads of a pass: the process-wide pools, the hand-out of chunks, and each
worker's scratch buffers."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

_POOLS: dict[int, ThreadPoolExecutor] = {}


# a forked child has none of its parent's pool threads: it starts pools of its own
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOLS.clear)


def pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool per worker count (threads created per pass would add to each)."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS.setdefault(workers, ThreadPoolExecutor(workers, "gaussmix"))
    return pool


def run_parallel(n_tasks: int, workers: int, task: Callable[[int, int], None]) -> None:
    """Run ``task(t, i)`` for ``i`` in ``range(n_tasks)`` on ``workers`` threads.

    The calling thread is worker 0 and starts at once; the others come from a pool.  Tasks
    are handed out one at a time to whichever worker asks first, so a worker that starts
    late finds the work done rather than holding the pass back: an idle thread, once woken,
    may start late on the scale of a short pass.  ``t`` names the worker, for its own
    buffers.  After a failure no new task starts; the first error is raised once every
    started task has ended.
    """
    if workers <= 1 or n_tasks <= 1:
        for i in range(n_tasks):
            task(0, i)
        return
    lock = threading.Lock()
    state = {"next": 0, "failed": False}

    def claim() -> int | None:
        with lock:
            i = state["next"]
            if state["failed"] or i >= n_tasks:
                return None
            state["next"] = i + 1
            return i

    def work(t: int) -> None:
        try:
            while (i := claim()) is not None:
                task(t, i)
        except BaseException:
            state["failed"] = True
            raise

    helpers = [pool(workers - 1).submit(work, t) for t in range(1, workers)]
    try:
        work(0)
    finally:
        # a helper not started yet has nothing left to do (and may be queued behind this
        # very thread, when a pass runs inside another's helper): cancelled, it is not
        # waited for (``wait`` would, until a pool thread dequeued it)
        started = [f for f in helpers if not f.cancel()]
        wait(started)
    for f in started:
        if (error := f.exception()) is not None:
            raise error


#: the machine's cores, read once (os.cpu_count() is not free, and a pass asks twice)
_CORES = os.cpu_count() or 1

_LIMIT = threading.local()
_PROCESS_LIMIT: list[int] = []


def default_threads() -> int:
    """Worker threads of a pass: the cores, at most 8, or less where the process or the
    calling thread is limited (:func:`set_process_limit`, :func:`limited`)."""
    limit = getattr(_LIMIT, "value", None)
    limits = [_CORES, 8, *_PROCESS_LIMIT, *([] if limit is None else [limit])]
    return max(1, min(limits))


def set_process_limit(workers: int) -> None:
    """At most ``workers`` threads for every pass of this process (a worker process, one of
    several sharing the cores)."""
    _PROCESS_LIMIT[:] = [workers]


@contextmanager
def limited(workers: int) -> Iterator[None]:
    """At most ``workers`` threads for the passes the calling thread runs in this block
    (where other processes already share the cores)."""
    before = getattr(_LIMIT, "value", None)
    _LIMIT.value = workers if before is None else min(before, workers)
    try:
        yield
    finally:
        _LIMIT.value = before


class Workspace:
    """A float64 scratch buffer kept between passes.

    Allocating the chunk buffers afresh for every pass costs page faults on each first
    touch (numpy maps buffers of 4 MiB and more afresh, with huge pages); kept, they fault
    once.  Buffers are kept per calling thread and worker slot, so concurrent passes from
    different threads never share one, and each is at most a few MiB (see
    :func:`auto_chunk_size`).
    """

    def __init__(self) -> None:
        self.buffer = np.empty(0)

    def get(self, size: int) -> Array:
        if self.buffer.shape[0] < size:
            self.buffer = np.empty(size)
        return self.buffer[:size]


_LOCAL = threading.local()


def workspace(slot: int) -> Workspace:
    """The calling thread's workspace for worker ``slot``."""
    spaces: dict[int, Workspace] | None = getattr(_LOCAL, "spaces", None)
    if spaces is None:
        spaces = _LOCAL.spaces = {}
    space = spaces.get(slot)
    if space is None:
        space = spaces[slot] = Workspace()
    return space


def release_workspaces() -> None:
    """Free the calling thread's cached chunk buffers (the next pass allocates them again)."""
    _LOCAL.spaces = {}
