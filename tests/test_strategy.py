"""EM strategies: the seam through which another model runs on the same driver and pass.

``FixedCovariance`` below is a second strategy written only for these tests: EM over the
weights and means of a mixture whose covariances are fixed, with a parameter record of its
own.  It runs through the unchanged driver (``run_em``, ``fit_multistart``) and is checked
against a plain numpy EM with the same fixed covariances.  Every strategy (maximum
likelihood for each covariance family, and the toy) runs the same contract.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import logsumexp

from gaussmix.covariance import REGISTRY, CovarianceFamily, get_family
from gaussmix.em import ConvergenceMonitor, EMState, em_step, run_em
from gaussmix.engine import Frame, PassResult, PassTerms, gaussian_terms
from gaussmix.init import initialize
from gaussmix.multistart import fit_multistart
from gaussmix.noise.region import bounding_box
from gaussmix.noise.strategy import NoiseMaximumLikelihood
from gaussmix.params import Params
from gaussmix.posterior import CONJUGATE_MODELS, Priors, prior_shape
from gaussmix.regularisation import internal_reg
from gaussmix.sources import ArraySource, RowSource
from gaussmix.stats import SuffStats
from gaussmix.strategy import DegenerateMixtureError, MaximumLikelihood, ModelStrategy
from gaussmix.variational import VariationalBayes

from ._data import make_blobs


@dataclass
class WeightsAndMeans:
    weights: np.ndarray
    means: np.ndarray


class FixedCovariance(ModelStrategy[WeightsAndMeans]):
    """EM over weights and means; every component keeps the covariance it is given."""

    def __init__(self, family: CovarianceFamily, covariances: np.ndarray) -> None:
        self.family = family
        self.covariances = covariances
        self.chol, bad = family.precisions_cholesky(covariances)
        assert not bad.any()

    def _params(self, p: WeightsAndMeans) -> Params:
        return Params(p.weights, p.means, self.covariances, self.chol)

    def pass_terms(self, params: WeightsAndMeans) -> PassTerms:
        return gaussian_terms(self._params(params), self.family)

    def m_step(self, stats: SuffStats, previous: WeightsAndMeans | None):
        nk = stats.N
        return WeightsAndMeans(nk / nk.sum(), stats.means()), nk <= 0

    def objective(self, result: PassResult, params: WeightsAndMeans) -> float:
        return result.mean_log_likelihood()

    def repair(self, params, bad, candidates, budget):
        raise DegenerateMixtureError("a component lost all its rows")

    def point_estimate(self, params: WeightsAndMeans) -> Params:
        return self._params(params)

    def start(self, params: Params) -> WeightsAndMeans:
        return WeightsAndMeans(params.weights.copy(), params.means.copy())


def reference_fixed_covariance_em(X, weights, means, dense, iterations):
    """Plain EM over weights and means with covariances ``dense`` (k, d, d) held fixed:
    the mean log-likelihood before each M-step, and the final weights and means."""
    history = []
    for _ in range(iterations):
        logp = np.column_stack(
            [
                np.log(weights[j]) + sps.multivariate_normal(means[j], dense[j]).logpdf(X)
                for j in range(len(weights))
            ]
        )
        lse = logsumexp(logp, axis=1)
        history.append(lse.mean())
        resp = np.exp(logp - lse[:, None])
        nk = resp.sum(axis=0)
        weights, means = nk / nk.sum(), (resp.T @ X) / nk[:, None]
    return history, weights, means


def problem(rng, d=3, k=3, n=900):
    X, _, _ = make_blobs(rng, n=n, d=d, k=k, spread=3.0)
    frame = Frame.from_data(X)
    means = X[rng.choice(n, k, replace=False)]
    return X, frame, means


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_a_second_strategy_runs_through_the_unchanged_driver(covariance_type, rng):
    X, frame, means = problem(rng)
    k, d = means.shape
    family = get_family(covariance_type)
    # fixed covariances in the caller's units: a valid member of the family
    user_cov = {"full": np.stack([np.eye(d) * 1.5] * k), "diag": np.full((k, d), 1.5)}.get(
        covariance_type, np.full(k, 1.5)
    )
    s = frame.scale[0]
    strategy = FixedCovariance(family, user_cov / s**2)
    start = WeightsAndMeans(np.full(k, 1.0 / k), frame.to_internal(means))
    state = EMState(start, ConvergenceMonitor(tol=0.0, max_iter=12))
    seen = []
    run_em(ArraySource(X), state, strategy, frame, callback=lambda i, p, v: seen.append(i))
    history, weights, ref_means = reference_fixed_covariance_em(
        X, np.full(k, 1.0 / k), means, family.dense(user_cov, k, d), 12
    )
    assert seen == list(range(1, 13))
    np.testing.assert_allclose(state.monitor.history, history, rtol=1e-10)
    w, m, cov, _ = frame.to_user(strategy.point_estimate(state.params), family.storage)
    np.testing.assert_allclose(w, weights, rtol=1e-9)
    np.testing.assert_allclose(m, ref_means, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(cov, user_cov, rtol=1e-12)  # never estimated


def test_the_second_strategy_races_starts_in_fit_multistart(rng):
    X, frame, _ = problem(rng, n=3000)
    family = get_family("spherical")
    k = 3
    strategy = FixedCovariance(family, np.full(k, 1.0) / frame.scale[0] ** 2)

    def starts(rows: RowSource, rngs):
        return initialize(rows, family, frame, k, method="k-means++", rngs=rngs, reg_covar=1e-6)

    best, scores = fit_multistart(
        ArraySource(X), strategy, frame, starts, n_components=k, n_init=4, init_iter=5,
        max_iter=100, tol=1e-8, rng=np.random.default_rng(0), short_run_rows=1000,
    )  # fmt: skip
    assert isinstance(best.params, WeightsAndMeans)
    assert len(scores) == 4 and np.isfinite(scores).all()
    assert best.monitor.converged
    np.testing.assert_array_equal(
        strategy.point_estimate(best.params).covariances, strategy.covariances
    )


def maximum_likelihood(family: CovarianceFamily, frame: Frame, start: Params) -> ModelStrategy:
    return MaximumLikelihood(family, internal_reg(1e-6, frame, frame))


def fixed_covariance(family: CovarianceFamily, frame: Frame, start: Params) -> ModelStrategy:
    return FixedCovariance(family, start.covariances)


def with_noise(family: CovarianceFamily, frame: Frame, start: Params) -> ModelStrategy:
    """A noise component uniform over a box holding the problem's rows, its weight held at
    5 % (so that the contract's start, whose weights sum to one, has one)."""
    region = bounding_box(np.full(2, -60.0), np.full(2, 60.0))
    return NoiseMaximumLikelihood(
        family, internal_reg(1e-6, frame, frame), region, fixed_noise=0.05
    )


def variational(family: CovarianceFamily, frame: Frame, start: Params) -> ModelStrategy:
    """Variational Bayes with a unit prior covariance about the data's centre."""
    d = start.means.shape[1]
    shape = prior_shape(family, d)
    unit = np.eye(d) if len(shape) == 2 else np.ones(shape)
    priors = Priors(True, 1.0 / start.n_components, 1.0, np.zeros(d), float(d), unit)
    return VariationalBayes(family, priors, internal_reg(1e-6, frame, frame), start_weight=900.0)


CONJUGATE = [*CONJUGATE_MODELS.values(), *CONJUGATE_MODELS]

STRATEGIES = [
    *(pytest.param(maximum_likelihood, name, id=f"ml-{name}") for name in REGISTRY),
    *(pytest.param(fixed_covariance, name, id=f"fixed-{name}") for name in REGISTRY),
    *(pytest.param(with_noise, name, id=f"noise-{name}") for name in ("VVV", "EEE", "VII")),
    *(pytest.param(variational, name, id=f"vb-{name}") for name in CONJUGATE),
]


@pytest.mark.parametrize(("make", "covariance_type"), STRATEGIES)
def test_strategy_contract(make, covariance_type, rng):
    """What the driver relies on: terms of the right shapes, an M-step with a mask per
    component, a point estimate, and an objective EM never decreases."""
    X, frame, means = problem(rng, d=2, k=3)
    k, d = means.shape
    family = get_family(covariance_type)
    (start,) = initialize(
        ArraySource(X), family, frame, k, method="k-means++",
        rngs=[np.random.default_rng(1)], reg_covar=internal_reg(1e-6, frame, frame),
    )  # fmt: skip
    assert isinstance(start, Params)
    strategy = make(family, frame, start)
    params = strategy.start(start)
    terms = strategy.pass_terms(params)
    assert terms.means.shape == (k, d) and terms.constant.shape == (k,)
    assert terms.factors.shape in ((k, d, d), (k, d)) and terms.moments is family.moments
    assert terms.weights.shape == (k,)
    point = strategy.point_estimate(params)
    assert point.means.shape == (k, d) and point.covariances.shape == family.shape(k, d)
    state = EMState(params, ConvergenceMonitor(tol=0.0, max_iter=15))
    value = em_step(ArraySource(X), state, strategy, frame, limit=10)
    assert np.isfinite(value)
    # EM's fixed point is claimed only where the M-step gave back what it started from
    assert not strategy.unchanged(state.params, params) and not state.monitor.settled
    if isinstance(strategy, MaximumLikelihood | NoiseMaximumLikelihood):
        assert strategy.unchanged(state.params, state.params)
    result = ArraySource(X).mixture_pass(strategy.pass_terms(state.params), frame)
    new, bad = strategy.m_step(result.stats, state.params)
    assert bad.shape == (k,) and bad.dtype == bool
    assert strategy.point_estimate(new).means.shape == (k, d)
    run_em(ArraySource(X), state, strategy, frame)
    history = np.asarray(state.monitor.history)
    assert history.size == 15
    assert np.all(np.diff(history) >= -1e-12 * np.abs(history[1:]))


def test_a_race_ranks_a_start_with_a_spike_below_the_others(rng):
    """Two rows repeated exactly are a spike that a component of a 'full' mixture can sit on:
    its covariance shrinks to the regulariser, and its log-likelihood on the race's rows beats
    any honest fit.  With two effective rows for three features it is thinner than a full
    covariance allows (four), so the race prefers the other start, which splits the bulk."""
    d = 3
    X = np.vstack([rng.normal(size=(400, d)), np.full((2, d), 2.5)])
    frame = Frame.from_data(X)
    family = get_family("full")
    strategy = MaximumLikelihood(family, internal_reg(1e-8, frame, frame))
    Z = frame.to_internal(X)
    cov = np.stack([np.cov(Z[:400].T)] * 2)
    split = Z[:400, 0] > 0
    healthy = np.stack([Z[:400][split].mean(0), Z[:400][~split].mean(0)])
    spiked = np.stack([Z[:400].mean(0), Z[400]])
    small = cov.copy()
    small[1] *= 1e-3

    def starts(rows: RowSource, rngs):
        made = [
            (np.array([0.5, 0.5]), healthy, cov),
            (np.array([0.99, 0.01]), spiked, small),
        ]
        return [Params(w, m, c, family.precisions_cholesky(c)[0]) for w, m, c in made]

    runs = {}
    for order in ([0, 1], [1, 0]):

        def ordered(rows: RowSource, rngs, order=order):
            made = starts(rows, rngs)
            return [made[i] for i in order]

        best, scores = fit_multistart(
            ArraySource(X), strategy, frame, ordered, n_components=2, n_init=2, init_iter=6,
            max_iter=100, tol=1e-6, rng=np.random.default_rng(0), race=True,
        )  # fmt: skip
        runs[tuple(order)] = best, scores
        # the spike scores higher on the rows, which is why its rank must not rest on that
        assert scores[order.index(1)] > scores[order.index(0)] + 0.05
        point = strategy.point_estimate(best.params)
        assert (point.weights * X.shape[0]).min() >= d + 1
        assert not strategy.thin(best.params, X.shape[0])


def test_thin_counts_the_rows_each_family_needs():
    """``thin`` compares a component's effective rows with ``rows_needed``: d + 1 for VVV,
    2 for VII, and for EEE only the rows in all (d + k)."""
    d, k = 4, 2
    means = np.zeros((k, d))
    for name, cov, fine, thin in [
        ("VVV", np.stack([np.eye(d)] * k), 5.0, 4.9),
        ("VII", np.ones(k), 2.0, 1.9),
    ]:
        family = get_family(name)
        strategy = MaximumLikelihood(family, 1e-6)
        params = Params(np.array([0.5, 0.5]), means, cov, family.precisions_cholesky(cov)[0])
        assert not strategy.thin(params, 2 * fine)
        assert strategy.thin(params, 2 * thin)
    family = get_family("EEE")
    strategy = MaximumLikelihood(family, 1e-6)
    cov = np.eye(d)
    params = Params(np.array([0.999, 0.001]), means, cov, family.precisions_cholesky(cov)[0])
    assert not strategy.thin(params, d + k)
    assert strategy.thin(params, d + k - 0.5)
