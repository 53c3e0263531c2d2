"""Worker processes for independent tasks whose work holds the interpreter: a process-wide
pool, and the hand-out of tasks between it and the calling process.

A model sweep's candidates spend most of their time in Python (small M-steps, the set-up of
each pass), which threads cannot spread over the cores; processes can.  The calling process
works too, so a pool that starts slowly (a fresh process imports numpy and gaussmix) costs no
more than running the tasks in the caller: a task the pool has not started when the caller
runs out of its own is taken back and run in the caller.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from . import threads

T = TypeVar("T")
R = TypeVar("R")

_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()

#: tasks handed to each pool worker ahead of time: one running, one waiting, so that a
#: worker is not idle while the caller runs a task of its own
QUEUED_PER_WORKER = 2


# a forked child has none of its parent's worker processes
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOLS.clear)


def _initialise() -> None:
    # each worker is one of the processes that share the cores: one thread per pass
    threads.set_process_limit(1)


def in_worker() -> bool:
    """Whether multiprocessing started this process (a pool's worker, this module's or
    another's), which starts no pool of its own: forked while its parent held
    concurrent.futures' locks, it could wait on them forever."""
    return multiprocessing.parent_process() is not None


def available() -> bool:
    """Whether worker processes can be forked here (Linux).  Started any other way (spawn,
    forkserver: macOS's, Windows' and Python 3.14's defaults) a worker would first import
    the caller's main script, running its top-level code again in every worker."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def pool(workers: int) -> ProcessPoolExecutor:
    """The process-wide pool of ``workers`` worker processes, forked (started on first use;
    see :func:`available`)."""
    with _POOLS_LOCK:
        executor = _POOLS.get(workers)
        if executor is None:
            executor = _POOLS[workers] = ProcessPoolExecutor(
                workers, multiprocessing.get_context("fork"), initializer=_initialise
            )
        return executor


def _submit(executor: ProcessPoolExecutor, function: Callable[[T], R], item: T) -> Future[R]:
    with warnings.catch_warnings():
        # Python 3.12+ warns of any fork while threads run; the workers start no thread
        # before they take a task (_initialise), and only after its fork do they run code
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        return executor.submit(function, item)


def _forget(executor: ProcessPoolExecutor) -> None:
    with _POOLS_LOCK:
        for key, value in list(_POOLS.items()):
            if value is executor:
                del _POOLS[key]
    executor.shutdown(wait=False, cancel_futures=True)


def run_shared(
    function: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    done: Callable[[int, R], None] | None = None,
) -> list[R]:
    """``[function(item) for item in items]``, spread over the calling process and
    ``workers - 1`` worker processes.

    ``done(i, result)`` is called in the calling thread once for each item, as its result
    is in hand: the caller's own as each ends, a worker's when the caller next looks
    (between its own tasks, then as the last ones finish), e.g. for a progress bar.

    The caller takes the items from the front, the workers from the back (order the items
    from the costliest: the pool's slow start then holds the cheap ones); a worker's task
    not started when the caller has none left is run in the caller.  ``function`` and the
    items must pickle (``function`` a module-level function).  A task's error is raised in
    the caller; a worker lost (killed) is replaced by the caller running its task.  In a
    process that multiprocessing started (another pool's worker), and where workers cannot
    be forked (:func:`available`), everything runs in the caller.
    """
    n = len(items)
    results: dict[int, R] = {}

    def own(i: int) -> None:
        results[i] = function(items[i])
        if done is not None:
            done(i, results[i])

    if workers <= 1 or n <= 1 or in_worker() or not available():
        for i in range(n):
            own(i)
        return [results[i] for i in range(n)]
    executor = pool(workers - 1)
    futures: dict[int, Future[R]] = {}
    front, back = 0, n

    def collect(i: int) -> None:
        """A worker's result (its task again in the caller where the pool broke)."""
        try:
            results[i] = futures[i].result()
        except BrokenProcessPool:
            _forget(executor)
            results[i] = function(items[i])
        if done is not None:
            done(i, results[i])

    def top_up() -> None:
        nonlocal back
        waiting = sum(not f.done() for f in futures.values())
        while waiting < QUEUED_PER_WORKER * (workers - 1) and front < back:
            back -= 1
            try:
                futures[back] = _submit(executor, function, items[back])
            except (BrokenProcessPool, RuntimeError):  # the pool is gone: the caller runs it
                back += 1
                return
            waiting += 1

    # the caller's own passes share the cores with the workers
    with threads.limited(1):
        while True:
            for i in [i for i, f in futures.items() if f.done() and i not in results]:
                collect(i)
            top_up()
            if front >= back:
                break
            own(front)
            front += 1
        for i in sorted(futures, reverse=True):  # the most recently queued first
            if i not in results and futures[i].cancel():
                own(i)
        left = {futures[i]: i for i in futures if i not in results}
        for future in as_completed(left):
            collect(left[future])
    return [results[i] for i in range(n)]


__all__ = ["QUEUED_PER_WORKER", "available", "in_worker", "pool", "run_shared"]
