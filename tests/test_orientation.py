"""The common orientation's Jacobi sweep (EVE, VVE): the C extension and numpy make the same
rotations, and a sweep never raises the objective it lowers."""

from __future__ import annotations

import os

import numpy as np
import pytest

from gaussmix.covariance import _orientation as orientation
from gaussmix.covariance._orientation import (
    objective,
    rotation_sweep,
    rotation_sweep_numpy,
    round_robin,
)
from gaussmix.covariance.common_orientation import _common_orientation

# make test sets this where a C compiler exists: there the extension must have been built
REQUIRED = os.environ.get("GAUSSMIX_REQUIRE_KERNELS") == "1"


def problem(rng: np.random.Generator, k: int, d: int):
    """Scatters ``W`` (k, d, d), positive ``m`` (k, d) and a random orthogonal ``D``."""
    A = rng.normal(size=(k, d, d + 2))
    W = A @ A.transpose(0, 2, 1)
    m = rng.uniform(0.1, 3.0, size=(k, d))
    D = np.linalg.qr(rng.normal(size=(d, d)))[0]
    return D, W, m


def test_extension_built_where_required():
    if not REQUIRED and not orientation.compiled():
        pytest.skip("no C compiler here: the numpy sweep runs instead")
    assert orientation.compiled()


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("k", [1, 3, 9])
def test_compiled_sweep_is_the_numpy_sweep(rng, k, d):
    if not orientation.compiled():
        pytest.skip("gaussmix._jacobi was not built")
    D, W, m = problem(rng, k, d)
    swept = rotation_sweep(D, W, m)
    np.testing.assert_allclose(swept, rotation_sweep_numpy(D, W, m), rtol=0, atol=1e-12)
    np.testing.assert_allclose(swept.T @ swept, np.eye(d), rtol=0, atol=1e-12)


@pytest.mark.parametrize("use_compiled", [True, False])
@pytest.mark.parametrize("d", [2, 5, 6])
def test_sweeps_never_raise_the_objective_and_reach_a_stationary_point(rng, d, use_compiled):
    D, W, m = problem(rng, 4, d)
    values = [objective(D, W, m)]
    for _ in range(200):
        D = rotation_sweep(D, W, m, use_compiled=use_compiled)
        values.append(objective(D, W, m))
    assert np.all(np.diff(values) <= 1e-12 * abs(values[0]))
    # stationary: no single pair rotation by a small angle lowers the objective
    for a, b in ((p, q) for rounds in round_robin(d) for p, q in zip(*rounds, strict=True)):
        for t in (1e-4, -1e-4):
            R = np.eye(d)
            R[a, a] = R[b, b] = np.cos(t)
            R[b, a], R[a, b] = np.sin(t), -np.sin(t)
            assert objective(D @ R, W, m) >= values[-1] - 1e-9 * abs(values[-1])


def test_a_sweep_without_gain_leaves_the_orientation(rng):
    D, W, _ = problem(rng, 3, 4)
    m = np.ones((3, 4))  # equal eigenvalues: every orientation is as good
    np.testing.assert_array_equal(rotation_sweep(D, W, m), D)
    np.testing.assert_array_equal(rotation_sweep_numpy(D, W, m), D)


@pytest.mark.parametrize("equal_volume", [True, False])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_compiled_alternation_is_the_numpy_one(rng, d, equal_volume):
    """EVE's and VVE's whole M-step in C: the numpy alternation's estimate, from the
    previous covariances or from none, with an empty component among them."""
    if not orientation.compiled():
        pytest.skip("gaussmix._jacobi was not built")
    for trial in range(4):
        k = 4
        A = rng.normal(size=(k, d, d + 3))
        S = A @ A.transpose(0, 2, 1) / (d + 3)
        n = rng.uniform(1.0, 100.0, size=k)
        if trial == 3:
            n[1] = 0.0
        previous = None if trial % 2 else S[::-1].copy()
        ours = _common_orientation(S, n, previous, equal_volume, use_compiled=True)
        numpy = _common_orientation(S, n, previous, equal_volume, use_compiled=False)
        np.testing.assert_allclose(ours, numpy, rtol=1e-10, atol=1e-12)
