"""Stepwise (online) EM: ``partial_fit``, its running statistics and mini-batch EM.

A step of 1 is one EM iteration (checked against scikit-learn's own EM iteration from the
same parameters, and against a warm-started single iteration for every covariance model);
on a stationary stream the error of the estimates shrinks like ``1 / sqrt(n)``; mini-batch
EM comes close to exact EM's log-likelihood.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import COVARIANCE_TYPES, MCLUST_MODELS, GaussianMixture
from gaussmix.covariance import get_family
from gaussmix.engine import Frame, gaussian_terms, mixture_pass
from gaussmix.stepwise import RunningStats, StepSchedule, per_unit, stats_of
from gaussmix.strategy import params_from_stats

from ._data import make_blobs

K = 3
#: an absolute regularisation, scikit-learn's default: with it a step of one is exactly one EM
#: iteration (``"auto"`` reads the data's variances in a fit, the model's in an update)
REG = 1e-6


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    X, _, _ = make_blobs(np.random.default_rng(7), n=900, d=3, k=K)
    return X


def fitted(X: np.ndarray, covariance_type: str, **params) -> GaussianMixture:
    """A model a few EM iterations into a fit of ``X`` (not at its optimum)."""
    model = GaussianMixture(
        K, covariance_type=covariance_type, max_iter=2, n_init=1, tol=0.0, random_state=0,
        reg_covar=REG,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        return model.set_params(**params).fit(X)


def one_em_iteration(model: GaussianMixture, X: np.ndarray) -> GaussianMixture:
    """One EM iteration from ``model``'s parameters (a warm-started fit of one iteration)."""
    again = GaussianMixture(
        K, covariance_type=model.covariance_type, warm_start=True, max_iter=1,
        reg_covar=model.reg_covar,
    )  # fmt: skip
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        setattr(again, name, getattr(model, name).copy())
    again.converged_, again.lower_bound_ = False, model.lower_bound_
    with pytest.warns(ConvergenceWarning):
        return again.fit(X)


def assert_same_model(a: GaussianMixture, b, rtol: float = 1e-10) -> None:
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=rtol)
    np.testing.assert_allclose(a.means_, b.means_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_step_of_one_is_scikit_learns_em_iteration(blobs, covariance_type):
    model = fitted(blobs, covariance_type, learning_offset=0.0)
    reference = SkGaussianMixture(
        K, covariance_type=covariance_type, max_iter=1, reg_covar=REG, weights_init=model.weights_,
        means_init=model.means_, precisions_init=model.precisions_,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        reference.fit(blobs)
    before = model.score(blobs)
    model.partial_fit(blobs)
    assert_same_model(model, reference, rtol=1e-9)
    assert model.n_steps_ == 1
    assert model.lower_bound_ == pytest.approx(before, rel=1e-12)


@pytest.mark.parametrize("covariance_type", MCLUST_MODELS)
def test_a_step_of_one_is_one_em_iteration_for_every_model(blobs, covariance_type):
    model = fitted(blobs, covariance_type, learning_offset=0.0)
    reference = one_em_iteration(model, blobs)
    model.partial_fit(blobs)
    assert_same_model(model, reference)


def test_a_step_of_one_over_rows_with_missing_values_is_one_em_iteration(blobs):
    X = blobs.copy()
    rng = np.random.default_rng(3)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[5] = np.nan  # a row with nothing observed
    model = fitted(blobs, "full", learning_offset=0.0)
    reference = one_em_iteration(model, X)
    given = X.copy()
    model.partial_fit(X)
    np.testing.assert_array_equal(X, given)  # the batch is not modified
    assert_same_model(model, reference)
    assert model.n_empty_rows_ == int(np.isnan(X).all(axis=1).sum()) >= 1


@pytest.mark.parametrize("covariance_type", MCLUST_MODELS)
def test_running_statistics_of_parameters_give_them_back(blobs, covariance_type):
    model = fitted(blobs, covariance_type)
    frame = Frame.from_data(blobs)
    params = model._internal_params(frame)
    family = get_family(covariance_type)
    reg = 1e-6 / frame.scale**2
    stats = stats_of(params, family, reg)
    assert stats.N.sum() == pytest.approx(1.0)
    again, bad = params_from_stats(stats, family, reg, previous=params)
    assert not bad.any()
    np.testing.assert_allclose(again.weights, params.weights, rtol=1e-12)
    np.testing.assert_allclose(again.means, params.means, rtol=1e-12, atol=1e-14)
    # the iterative M-steps start from the parameters, a fixed point, and stop within their
    # inner tolerance
    rtol = 1e-6 if family.iterative else 1e-10
    np.testing.assert_allclose(again.covariances, params.covariances, rtol=rtol, atol=1e-12)


def test_steps_follow_the_schedule():
    schedule = StepSchedule(offset=2.0, decay=0.75)
    assert schedule.rho(1) == pytest.approx(3.0**-0.75)
    assert schedule.rho(10) == pytest.approx(12.0**-0.75)
    assert StepSchedule(0.0, 0.6).rho(1) == 1.0


def test_with_steps_one_over_t_the_running_statistics_average_the_batches(blobs):
    """Decay 1 and offset 0: steps 1, 1/2, 1/3, ... make the running statistics the plain
    average of the batches' statistics per unit weight; batches of equal weight taken under
    the same parameters then average to the statistics of their union."""
    family = get_family("diag")
    model = fitted(blobs, "diag")
    frame = model._prediction_frame()
    params = model._internal_params(frame)
    terms = gaussian_terms(params, family)
    running = RunningStats(stats_of(params, family, 0.0))
    update = running.combine(StepSchedule(0.0, 1.0))
    for part in np.array_split(blobs, 3):  # 300 rows each
        update(mixture_pass(part, terms, frame).stats)
    whole = per_unit(mixture_pass(blobs, terms, frame).stats)
    assert running.steps == 3 and whole is not None
    np.testing.assert_allclose(running.stats.N, whole.N, rtol=1e-12)
    np.testing.assert_allclose(running.stats.means(), whole.means(), rtol=1e-10)
    np.testing.assert_allclose(running.stats.scatter(), whole.scatter(), rtol=1e-10)


def test_the_first_batch_is_fitted_and_later_ones_update(blobs):
    first, second = blobs[:600], blobs[600:]
    model = GaussianMixture(K, random_state=0).partial_fit(first)
    alone = GaussianMixture(K, random_state=0).fit(first)
    assert_same_model(model, alone, rtol=0)
    assert model.n_steps_ == 0
    history = list(model.history_)
    before = model.score(second)
    model.partial_fit(second)
    assert model.n_steps_ == 1 and model.n_iter_ == alone.n_iter_ + 1
    assert model.lower_bound_ == pytest.approx(before, rel=1e-12)
    assert model.history_ == history  # the first fit's; a stream's would grow without end
    assert model.converged_ is False
    model.partial_fit(second[:1])  # one row is a batch
    assert model.n_steps_ == 2


def test_partial_fit_continues_a_loaded_model(blobs, tmp_path):
    from gaussmix import load

    model = GaussianMixture(K, random_state=0, learning_offset=0.0).fit(blobs)
    loaded = load(model.save(tmp_path / "m.gmm")).set_params(learning_offset=0.0)
    assert_same_model(loaded.partial_fit(blobs), model.partial_fit(blobs), rtol=1e-9)


def test_partial_fit_refuses_other_columns_and_settings(blobs):
    model = GaussianMixture(K, random_state=0).fit(blobs)
    with pytest.raises(ValueError, match="expecting 3 features"):
        model.partial_fit(blobs[:, :2])
    model.set_params(n_components=2)
    with pytest.raises(ValueError, match="partial_fit continues the previous fit"):
        model.partial_fit(blobs)
    with pytest.raises(ValueError, match=r"learning_decay.*\(0.5, 1\]"):
        GaussianMixture(learning_decay=0.5).fit(blobs)
    with pytest.raises(ValueError, match="learning_offset"):
        GaussianMixture(learning_offset=-1.0).fit(blobs)


def _matched_error(means: np.ndarray, truth: np.ndarray) -> float:
    """The largest distance of a true mean from its nearest estimate."""
    dist = np.linalg.norm(means[:, None] - truth[None], axis=-1)
    return float(dist.min(axis=0).max())


def test_on_a_stationary_stream_the_error_shrinks_like_one_over_sqrt_n():
    """Decay 1: the running statistics average every batch, and the means' error at n rows
    falls as ``n ** -0.5`` (the rate of the maximum-likelihood estimate); measured as the
    slope of the log of the root-mean-square error over 8 streams against log n."""
    truth = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    checkpoints, batch = [2_000, 8_000, 32_000], 1_000
    errors = np.zeros((8, len(checkpoints)))
    for s in range(errors.shape[0]):
        rng = np.random.default_rng(100 + s)
        model = GaussianMixture(3, random_state=s, n_init=2, learning_decay=1.0)
        seen = 0
        for c, n in enumerate(checkpoints):
            while seen < n:
                X = truth[rng.integers(3, size=batch)] + rng.normal(size=(batch, 2))
                model.partial_fit(X)
                seen += batch
            errors[s, c] = _matched_error(model.means_, truth)
    rmse = np.sqrt((errors**2).mean(axis=0))
    slope = np.polyfit(np.log(checkpoints), np.log(rmse), 1)[0]
    assert -0.75 < slope < -0.3, (slope, rmse)


def test_minibatch_em_comes_close_to_exact_em():
    rng = np.random.default_rng(11)
    X, _, _ = make_blobs(rng, n=30_000, d=3, k=4, spread=5.0)
    exact = GaussianMixture(4, random_state=0, tol=1e-6).fit(X)
    mini = GaussianMixture(4, random_state=0, batch_size=500).fit(X)
    again = GaussianMixture(4, random_state=0, batch_size=500).fit(X)
    assert_same_model(mini, again, rtol=0)  # reproducible
    assert mini.converged_ and mini.n_iter_ <= 10
    assert mini.n_steps_ == mini.n_iter_ * 60
    # within 1e-3 of the optimum's mean log-likelihood per row
    assert exact.score(X) - 1e-3 < mini.score(X) <= exact.score(X) + 1e-9
    # the running statistics carry on into partial_fit
    steps = mini.n_steps_
    mini.partial_fit(X[:500])
    assert mini.n_steps_ == steps + 1
