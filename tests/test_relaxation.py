"""Over-relaxed refinement (gaussmix.relaxation): longer steps taken in the sufficient
statistics once a run has converged, undone where they lower the log-likelihood.  Checked
against plain EM run to a tight tolerance (the same optimum, in fewer iterations), for the
log-likelihood it records never decreasing under every covariance model, and for its undo."""

from __future__ import annotations

import numpy as np
import pytest

from gaussmix import GaussianMixture
from gaussmix.covariance import MCLUST_MODELS, get_family
from gaussmix.engine import Frame
from gaussmix.regularisation import internal_reg
from gaussmix.relaxation import GROWTH, Overrelaxation
from gaussmix.sources import ArraySource
from gaussmix.strategy import MaximumLikelihood


def overlapping(rng: np.random.Generator, n: int = 1500, apart: float = 2.0) -> np.ndarray:
    """Two components ``apart`` standard deviations apart: EM's rate is close to one."""
    X = rng.normal(size=(n, 2))
    X[: n // 3] += [apart, 0.5 * apart]
    return X


@pytest.mark.parametrize("apart", [1.5, 2.0, 2.5])
def test_the_refinement_reaches_plain_ems_optimum_in_fewer_iterations(apart):
    """Plain EM to a change of 1e-13 takes 200 to 4,000 iterations on these data; the default
    refinement (over-relaxed) ends at the same log-likelihood to 1e-8 per row, in fewer."""
    X = overlapping(np.random.default_rng(5), apart=apart)
    start = {"n_init": 1, "random_state": 0}
    plain = GaussianMixture(2, tol=1e-13, max_iter=50_000, **start).fit(X)  # no refinement
    relaxed = GaussianMixture(2, **start).fit(X)  # tol=None: refined, over-relaxed
    assert plain.converged_ and relaxed.converged_
    assert relaxed.lower_bound_ == pytest.approx(plain.lower_bound_, abs=1e-8)
    np.testing.assert_allclose(relaxed.means_, plain.means_, atol=1e-3)  # a flat optimum
    assert relaxed.n_iter_ < plain.n_iter_ / 2
    assert np.all(np.diff(relaxed.history_) >= 0.0)


@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_the_recorded_log_likelihood_never_decreases(model, rng):
    """The statistics' longer step leaves every model's constraints to the M-step; a step
    that lowers the log-likelihood is undone, so the history never decreases."""
    X = overlapping(rng, n=300)
    X[:, 1] *= 1.7
    gm = GaussianMixture(3, covariance_type=model, n_init=2, random_state=1).fit(X)
    history = np.asarray(gm.history_)
    assert np.all(np.diff(history) >= -1e-12 * np.abs(history[1:])), model
    assert gm.n_iter_ == len(history)


def test_a_step_that_lowers_the_objective_is_undone(rng):
    X = overlapping(rng, n=400)
    frame = Frame.from_data(X)
    family = get_family("VVV")
    strategy = MaximumLikelihood(family, internal_reg(1e-8, frame, frame))
    gm = GaussianMixture(2, n_init=1, tol=1e-3, random_state=0).fit(X)
    Z = frame.to_internal(X)
    labels = gm.predict(X)
    from gaussmix.stats import labelled_statistics

    ref = np.stack([Z[labels == j].mean(0) for j in range(2)])
    first = labelled_statistics(Z, labels, ref, family.moments, None)
    params, _ = strategy.m_step(first, None)
    source = ArraySource(X)
    second = source.mixture_pass(strategy.pass_terms(params), frame).stats
    plain, _ = strategy.m_step(second, params)
    relax: Overrelaxation = Overrelaxation()
    assert relax.next_params(first, params, params, strategy) is params  # no anchor: EM's
    longer = relax.next_params(second, plain, params, strategy)
    assert relax.step == GROWTH and longer is not plain
    # the statistics of the longer step: the anchor moved GROWTH times as far as EM's
    np.testing.assert_allclose(relax.anchor.N, first.N + GROWTH * (second.N - first.N))
    assert relax.undo(value=-1.0, last=-2.0) is None  # it raised the objective: kept
    assert relax.undo(value=-3.0, last=-2.0) is plain  # it lowered it: EM's step instead
    assert relax.step == 1.0 and relax.anchor is second and relax.rejected == 1
    assert relax.undo(value=-9.0, last=-2.0) is None  # EM's own step is never undone
