"""EM's fixed point: a run whose M-step gives back the parameters it started from stops there.

The next E-step would only confirm a log-likelihood equal to the last one, so the stop must
end where longer runs from the same start end, and must never fire on parameters that
still move.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gaussmix import GaussianMixture
from gaussmix.covariance import REGISTRY, get_family
from gaussmix.em import ConvergenceMonitor
from gaussmix.params import Params
from gaussmix.strategy import FIXED_POINT, params_unchanged
from tests._data import make_blobs


def apart(rng: np.random.Generator, n: int = 1500) -> np.ndarray:
    """Three clusters so far apart that every row's responsibility is one component's to
    the last bit: EM's second M-step gives back its first one's parameters exactly."""
    X, _, _ = make_blobs(rng, n=n, d=2, k=3, spread=60.0)
    return X


def fitted(X: np.ndarray, covariance_type: str) -> Params:
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    return Params(gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_)


def moved(params: Params, what: str, index: tuple[int, ...], by: float) -> Params:
    """``params`` with one entry of ``what`` changed by ``by`` times the scale that
    :func:`params_unchanged` measures it in (a weight absolutely, a mean entry in its feature's
    spread, a covariance entry in its component's largest one)."""
    copy = params.copy()
    array = getattr(copy, what)
    if what == "weights":
        scale = 1.0
    elif what == "means":
        family = get_family("VVV")
        scale = float(np.sqrt(family.feature_variances(params.covariances, 2)[index[1]]))
    else:
        rows = array.shape[0] if array.ndim else 1
        scale = float(np.abs(array.reshape(rows, -1)[index[0]]).max())
    array[index] += by * scale
    return copy


@pytest.mark.parametrize("what", ["weights", "means", "covariances"])
def test_unchanged_is_relative_to_each_parameters_scale(rng, what):
    """A change far below :data:`FIXED_POINT` in the parameter's own scale is a fixed point,
    one far above is not, on a feature a million times smaller than the other and for the
    component with the smallest covariance."""
    X = apart(rng)
    X[:, 1] *= 1e-6
    params = fitted(X, "full")
    small = int(np.argmin(np.linalg.det(params.covariances)))
    index = {"weights": (small,), "means": (small, 1), "covariances": (small, 1, 1)}[what]
    family = get_family("full")
    assert params_unchanged(params, params.copy(), family)
    assert params_unchanged(moved(params, what, index, FIXED_POINT / 100), params, family)
    assert not params_unchanged(moved(params, what, index, FIXED_POINT * 100), params, family)


@pytest.mark.parametrize("covariance_type", sorted(REGISTRY))
def test_unchanged_reads_every_familys_covariances(rng, covariance_type):
    """Each family's storage (one shared matrix, diagonals, one variance per component ...)
    is compared entry by entry."""
    params = fitted(apart(rng, n=600), covariance_type)
    family = get_family(covariance_type)
    index = (0,) * params.covariances.ndim
    assert params_unchanged(moved(params, "covariances", index, FIXED_POINT / 100), params, family)
    assert not params_unchanged(moved(params, "covariances", index, 1e-9), params, family)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "EEI", "EEV"])
def test_a_fixed_point_ends_the_run_where_longer_runs_end(rng, covariance_type):
    """On clusters far apart the fit stops one iteration before the change of the
    log-likelihood would have stopped it; every iteration after that, run with ``tol=0``
    from the same start, gives back the same parameters and log-likelihood."""
    X = apart(rng)
    opts = {"covariance_type": covariance_type, "n_init": 1, "random_state": 0}
    gm = GaussianMixture(3, tol=1e-3, **opts).fit(X)
    assert gm.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        longer = GaussianMixture(3, tol=0, max_iter=gm.n_iter_ + 4, **opts).fit(X)
    assert longer.n_iter_ == gm.n_iter_ + 4  # tol=0 asks for every iteration
    history = np.asarray(longer.history_)
    np.testing.assert_array_equal(history[: gm.n_iter_], gm.history_)
    changes = np.abs(np.diff(history))
    # the change of the log-likelihood alone would have stopped one iteration later
    assert int(np.argmax(changes < 1e-3)) + 2 == gm.n_iter_ + 1
    np.testing.assert_allclose(history[gm.n_iter_ :], history[gm.n_iter_ - 1], rtol=1e-13)
    np.testing.assert_allclose(longer.means_, gm.means_, rtol=0, atol=1e-9 * np.abs(X).max())
    np.testing.assert_allclose(longer.covariances_, gm.covariances_, rtol=1e-9)


def test_overlapping_clusters_still_stop_on_the_log_likelihood(rng):
    """Where responsibilities are shared, the parameters move at every iteration: the run
    stops where the change of the log-likelihood falls below ``tol``."""
    X, _, _ = make_blobs(rng, n=1500, d=2, k=3, spread=1.0)
    gm = GaussianMixture(3, tol=1e-3, random_state=0).fit(X)
    assert gm.converged_ and gm.n_iter_ >= 3
    assert abs(gm.history_[-1] - gm.history_[-2]) < 1e-3
    assert abs(gm.history_[-2] - gm.history_[-3]) >= 1e-3


def test_settle_ends_the_run_unless_every_iteration_was_asked_for():
    monitor = ConvergenceMonitor(tol=1e-3, max_iter=100, refine=1e-8, refine_iter=50)
    monitor.report(-3.0)
    assert not monitor.done
    monitor.settle()
    assert monitor.converged and monitor.done
    every = ConvergenceMonitor(tol=0.0, max_iter=100)
    every.report(-3.0)
    every.settle()
    assert not every.converged and not every.done
