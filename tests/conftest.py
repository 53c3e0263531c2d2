"""Shared fixtures: a printed, reproducible seed (override with GAUSSMIX_TEST_SEED)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

# CI runs the property tests derandomized (the same examples every run); locally they explore.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

SEED = int(os.environ.get("GAUSSMIX_TEST_SEED", "20261121"))


def pytest_report_header(config: pytest.Config) -> str:
    return f"gaussmix test seed: {SEED} (set GAUSSMIX_TEST_SEED to change)"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


@pytest.fixture(scope="session")
def dask_client():
    """A real local Dask cluster (2 worker processes of 1 thread, loopback), shared by the
    session's Dask tests and started only when one of them runs."""
    distributed = pytest.importorskip("distributed")
    # the scheduler's HTTP server on a free port: None means 8787, which another test
    # session on the machine may hold (its warning would fail the setup)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, worker_dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )  # fmt: skip
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
