"""A sweep across processes: the same table and models as in one process, the caller's
errors and warnings where they would be, and the hand-out of tasks it rests on."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gaussmix import select_model, selection
from gaussmix.engine import threads
from gaussmix.engine.processes import run_shared

from ._data import make_blobs


def _pid_of(item: int) -> tuple[int, int]:
    return item, os.getpid()


def _fails_on_three(item: int) -> int:
    if item == 3:
        raise ValueError("task 3 failed")
    return item * item


def _warns(item: int) -> int:
    warnings.warn(f"item {item}", UserWarning, stacklevel=1)
    return item


def test_run_shared_keeps_the_order_and_uses_another_process():
    out = run_shared(_pid_of, list(range(12)), 2)
    assert [item for item, _ in out] == list(range(12))
    assert {pid for _, pid in out} - {os.getpid()}  # a worker took some
    assert run_shared(_pid_of, [5], 2) == [(5, os.getpid())]  # one task: the caller's


@pytest.mark.parametrize("workers", [1, 2])
def test_run_shared_tells_each_result_once_as_it_is_in_hand(workers):
    told: list[tuple[int, tuple[int, int]]] = []
    out = run_shared(_pid_of, list(range(12)), workers, lambda i, r: told.append((i, r)))
    assert sorted(told) == list(enumerate(out))
    assert told[0][0] == 0  # the caller's first task, told before any other
    if workers == 1:
        assert told == list(enumerate(out))


def test_run_shared_raises_a_tasks_error_in_the_caller():
    with pytest.raises(ValueError, match="task 3 failed"):
        run_shared(_fails_on_three, list(range(8)), 2)
    assert run_shared(_fails_on_three, [0, 1, 2], 2) == [0, 1, 4]  # the pool still serves


@pytest.mark.parametrize("shared", [True, False])
def test_a_sweep_across_processes_is_the_sweep_in_one(rng, shared):
    X = make_blobs(rng, n=400, d=3, k=3)[0]
    types = ["VVV", "EVE", "VEI", "EII"]
    kw = {"random_state": 0, "shared": shared, "n_init": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # one thread per pass in both: the passes' threads would change the rounding
        with threads.limited(1):
            one = select_model(X, range(1, 5), types, n_jobs=1, **kw)
        two = select_model(X, range(1, 5), types, n_jobs=2, **kw)
    assert [(r["covariance_type"], r["n_components"]) for r in two.rows] == [
        (r["covariance_type"], r["n_components"]) for r in one.rows
    ]
    for a, b in zip(one.rows, two.rows, strict=True):
        assert a["n_parameters"] == b["n_parameters"] and a["flag"] == b["flag"]
        assert b["log_likelihood"] == pytest.approx(a["log_likelihood"], rel=1e-12)
    for a, b in zip(one.models, two.models, strict=True):
        np.testing.assert_allclose(b.means_, a.means_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=1e-9, atol=1e-12)
    assert two.best_index == one.best_index
    assert two.best_model.predict(X).tolist() == one.best_model.predict(X).tolist()


def test_a_candidate_callback_follows_a_sweep_across_processes(rng, monkeypatch):
    """The callback no longer keeps the sweep in one process: it is told of every
    candidate once, numbered in the order they come back, a model's candidates together."""
    X = make_blobs(rng, n=400, d=3, k=3)[0]
    types = ["VVV", "EVE", "VEI", "EII"]
    processes: list[int] = []
    jobs = selection._jobs

    def recorded(*args):
        processes.append(jobs(*args))
        return processes[-1]

    monkeypatch.setattr(selection, "_jobs", recorded)
    seen: list[tuple[int, int, int, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = select_model(X, range(1, 4), types, random_state=0, n_init=2, n_jobs=2,
                              candidate_callback=lambda *a: seen.append(a))  # fmt: skip
    assert processes == [2]
    assert [i for i, *_ in seen] == list(range(12)) and {t for _, t, _, _ in seen} == {12}
    assert sorted((c, k) for *_, k, c in seen) == sorted(
        (r["covariance_type"], r["n_components"]) for r in result.rows
    )
    for first in range(0, 12, 3):
        block = seen[first : first + 3]
        assert len({c for *_, c in block}) == 1 and [k for *_, k, _ in block] == [1, 2, 3]


def test_a_generator_as_random_state_sweeps_in_one_process(rng):
    X = make_blobs(rng, n=200, d=2, k=2)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = select_model(X, [1, 2], ["VVV", "EII"], random_state=np.random.RandomState(3),
                         n_jobs=1)  # fmt: skip
        b = select_model(X, [1, 2], ["VVV", "EII"], random_state=np.random.RandomState(3),
                         n_jobs=2)  # fmt: skip
    assert [r["log_likelihood"] for r in a.rows] == [r["log_likelihood"] for r in b.rows]


@pytest.mark.parametrize("n_jobs", [0, -1, 1.5, True, "2"])
def test_n_jobs_must_be_a_positive_integer(n_jobs):
    with pytest.raises(ValueError, match="n_jobs must be a positive integer or None"):
        select_model(np.zeros((10, 2)), [1], "VVV", n_jobs=n_jobs)


def test_the_choice_on_large_data_is_refined_and_stays_the_choice(rng):
    """Above FULL_RUN_ROWS the sweep's fits stop at the tolerance; the chosen one is then
    refined: the same choice, a log-likelihood at least the unrefined one's, the other rows
    as they were (or halved fits above a refined one), never decreasing with ``k``."""
    from gaussmix.multistart import FULL_RUN_ROWS

    X = make_blobs(rng, n=FULL_RUN_ROWS + 1000, d=2, k=3, spread=2.0)[0]
    kw = {"random_state": 0, "n_jobs": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = select_model(X, range(1, 5), ["VVV", "EII"], tol=1e-3, **kw)  # tol=None's
        refined = select_model(X, range(1, 5), ["VVV", "EII"], **kw)
    assert refined.best_index == plain.best_index
    b = refined.best_index
    assert refined.rows[b]["log_likelihood"] >= plain.rows[b]["log_likelihood"]
    assert refined.rows[b]["bic"] <= plain.rows[b]["bic"]
    assert refined.best_model.n_iter_ >= plain.best_model.n_iter_
    for i, (a, r) in enumerate(zip(plain.rows, refined.rows, strict=True)):
        if i < b or r["covariance_type"] != refined.rows[b]["covariance_type"]:
            assert r["log_likelihood"] == a["log_likelihood"]
    for cov in ("VVV", "EII"):
        ll = [r["log_likelihood"] for r in refined.rows if r["covariance_type"] == cov]
        assert np.all(np.diff(ll) >= 0)


def _shared_in_a_worker(item: int) -> list[tuple[int, int]]:
    return run_shared(_pid_of, list(range(item)), 2)


def test_another_pools_worker_runs_every_task_itself():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, multiprocessing.get_context()) as executor:
        out = executor.submit(_shared_in_a_worker, 6).result()
    assert [item for item, _ in out] == list(range(6))
    assert len({pid for _, pid in out}) == 1 and out[0][1] != os.getpid()
