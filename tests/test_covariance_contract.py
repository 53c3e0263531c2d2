"""The contract every covariance family keeps, run for each registered family.

A family is a storage (shapes, factors, conversions, sampling, checks) and a constraint (the
M-step and the parameter count).  Each family here is checked against independent references:
numpy's inverses and Cholesky factors, scipy's Gaussian log-densities for the expected
complete-data log-likelihood its M-step maximises, closed forms of that maximum, and the
sample covariance of many draws.  ``EqualSpherical`` (mclust's EII) is defined here in a few
lines to show that one small class is a whole new family, and runs the same contract.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from gaussmix._moments import MEAN_SQUARE
from gaussmix.covariance import REGISTRY, CovarianceFamily
from gaussmix.covariance.storage import ISOTROPIC, DenseStorage
from gaussmix.engine import Frame, mixture_pass, unit_terms
from gaussmix.stats import SuffStats


class EqualSpherical(CovarianceFamily):
    """mclust's EII: one variance shared by every component (equal volume, spherical)."""

    name = "EII"
    storage = ISOTROPIC
    moments = MEAN_SQUARE

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return 1

    def estimate(self, stats: SuffStats, reg_covar: float, previous: object = None) -> np.ndarray:
        nk = stats.N
        pooled = float(nk @ stats.scatter()) / float(nk.sum())
        return np.full(nk.shape, pooled + reg_covar)


FAMILIES = [*REGISTRY.values(), EqualSpherical()]
IDS = [f.name for f in FAMILIES]


def closed_form(name: str, X: np.ndarray, R: np.ndarray) -> np.ndarray:
    """The maximiser of the expected complete-data log-likelihood over each family's
    covariances, from its textbook formula (dense (k, d, d))."""
    nk = R.sum(axis=0)
    means = (R.T @ X) / nk[:, None]
    k, d = means.shape
    own = np.stack([np.cov(X.T, aweights=R[:, j], bias=True) for j in range(k)])
    if name == "full":
        return own
    if name == "tied":
        return np.broadcast_to(np.tensordot(nk / nk.sum(), own, axes=1), own.shape)
    if name == "diag":
        return np.stack([np.diag(np.diag(c)) for c in own])
    if name == "spherical":
        return np.stack([np.eye(d) * np.trace(c) / d for c in own])
    if name == "EII":
        pooled = sum(nk[j] * np.trace(own[j]) for j in range(k)) / (d * nk.sum())
        return np.broadcast_to(np.eye(d) * pooled, own.shape)
    raise AssertionError(f"no closed form for {name}")


def statistics(family: CovarianceFamily, X: np.ndarray, R: np.ndarray) -> SuffStats:
    """Statistics of ``X`` under responsibilities ``R``, frame = identity."""
    d = X.shape[1]
    frame = Frame(np.zeros(d), 1.0)
    terms = unit_terms(family.moments, np.zeros((R.shape[1], d)))
    stats = mixture_pass(X, terms, frame, given=lambda rows: R[rows]).stats
    assert stats is not None
    return stats


def expected_loglik(X: np.ndarray, R: np.ndarray, means: np.ndarray, dense: np.ndarray) -> float:
    """sum_i sum_j r_ij log N(x_i; mu_j, Sigma_j), by scipy."""
    return float(
        sum(
            R[:, j] @ sps.multivariate_normal(means[j], dense[j]).logpdf(X)
            for j in range(len(means))
        )
    )


def data(rng: np.random.Generator, n: int = 400, d: int = 3, k: int = 3):
    centres = rng.normal(scale=3.0, size=(k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    R = rng.dirichlet(np.ones(k) * 0.5, size=n)
    return X, R


def random_covariances(family: CovarianceFamily, rng: np.random.Generator, k: int, d: int):
    """Valid covariances of the family: its own M-step on random data."""
    X, R = data(rng, n=200, d=d, k=k)
    return family.estimate(statistics(family, X, R), 1e-3)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_shapes(family, rng):
    k, d = 4, 3
    cov = random_covariances(family, rng, k, d)
    assert cov.shape == family.shape(k, d)
    chol, bad = family.precisions_cholesky(cov)
    assert chol.shape == cov.shape
    assert bad.dtype == bool and bad.shape in ((k,), (1,)) and not bad.any()
    factors = family.factors(chol, k, d)
    assert factors.shape in ((k, d, d), (k, d))
    assert factors.shape[-1] == d and family.moments.precision(factors).shape[0] == k
    assert family.dense(cov, k, d).shape == (k, d, d)
    assert family.precisions(chol).shape == cov.shape
    assert 0 < family.n_parameters(k, d) <= k * d * (d + 1) // 2
    assert family.n_parameters(k, d + 1) >= family.n_parameters(k, d)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_factor_and_dense_round_trips(family, rng):
    k, d = 3, 4
    cov = random_covariances(family, rng, k, d)
    dense = family.dense(cov, k, d)
    chol, _ = family.precisions_cholesky(cov)
    np.testing.assert_allclose(family.covariances_from_cholesky(chol), cov, rtol=1e-10)
    precisions = family.precisions(chol)
    np.testing.assert_allclose(family.cholesky_from_precisions(precisions), chol, rtol=1e-10)
    # the engine's factors are the factors of the inverse of each dense covariance
    factors = family.factors(chol, k, d)
    inverse = np.linalg.inv(dense)
    rebuilt = family.dense(family.covariances_from_cholesky(chol), k, d)
    np.testing.assert_allclose(np.linalg.inv(rebuilt), inverse, rtol=1e-9, atol=1e-12)
    for j in range(k):
        u = factors[j] if factors.ndim == 3 else np.diag(factors[j])
        np.testing.assert_allclose(u @ u.T, inverse[j], rtol=1e-9, atol=1e-12)
        assert np.allclose(u, np.triu(u))  # upper-triangular (or diagonal)
    # log-determinants of the factors: half those of the precisions
    np.testing.assert_allclose(
        family.moments.log_det(factors), -0.5 * np.linalg.slogdet(dense)[1], rtol=1e-10
    )


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_m_step_is_the_closed_form_maximum(family, rng):
    X, R = data(rng)
    stats = statistics(family, X, R)
    k, d = R.shape[1], X.shape[1]
    estimate = family.dense(family.estimate(stats, 0.0), k, d)
    np.testing.assert_allclose(estimate, closed_form(family.name, X, R), rtol=1e-10, atol=1e-12)
    # reg_covar adds to the diagonal, nothing else
    regularised = family.dense(family.estimate(stats, 0.5), k, d)
    np.testing.assert_allclose(
        regularised - estimate, np.broadcast_to(0.5 * np.eye(d), (k, d, d)), atol=1e-12
    )


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_m_step_maximises_the_expected_complete_data_log_likelihood(family, rng):
    """No other covariances of the family do better on these responsibilities: neither the
    M-step's answers for other data (all valid members of the family) nor their multiples."""
    X, R = data(rng)
    k, d = R.shape[1], X.shape[1]
    stats = statistics(family, X, R)
    means = stats.means()
    best = expected_loglik(X, R, means, family.dense(family.estimate(stats, 0.0), k, d))
    for trial in range(8):
        Xo, Ro = data(np.random.default_rng(trial), d=d, k=k)
        other = family.estimate(statistics(family, Xo, Ro), 0.0)
        for scale in (0.5, 1.0, 2.0):
            value = expected_loglik(X, R, means, family.dense(other * scale, k, d))
            assert value < best
    # small changes of the estimate itself within the family: the answer for slightly
    # different responsibilities
    for eps in (1e-2, 1e-3):
        Rp = R * np.exp(eps * rng.normal(size=R.shape))
        near = family.estimate(statistics(family, X, Rp), 0.0)
        assert expected_loglik(X, R, means, family.dense(near, k, d)) <= best + 1e-9 * abs(best)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_previous_covariances_do_not_change_a_closed_form_m_step(family, rng):
    X, R = data(rng)
    stats = statistics(family, X, R)
    previous = random_covariances(family, rng, R.shape[1], X.shape[1])
    np.testing.assert_array_equal(
        family.estimate(stats, 1e-6, previous), family.estimate(stats, 1e-6, None)
    )


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_samples_have_the_model_covariance(family, rng):
    k, d, n = 3, 3, 200_000
    cov = random_covariances(family, rng, k, d)
    dense = family.dense(cov, k, d)
    for j in range(k):
        draws = family.sample_noise(rng, cov, j, n, d)
        assert draws.shape == (n, d)
        np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=6 * np.sqrt(dense[j].max() / n))
        # sample covariance entries have standard error <= sqrt(2 / n) sigma_a sigma_b
        sd = np.sqrt(np.diag(dense[j]))
        tol = 6 * np.sqrt(2.0 / n) * np.outer(sd, sd)
        assert np.all(np.abs(np.cov(draws.T) - dense[j]) <= tol)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_checks_of_user_precisions(family, rng):
    k, d = 2, 3
    chol, _ = family.precisions_cholesky(random_covariances(family, rng, k, d))
    precisions = family.precisions(chol)
    family.check_precisions(precisions, k, d)  # valid: no error
    with pytest.raises(ValueError, match="shape"):
        family.check_precisions(precisions[..., :-1], k, d)
    with pytest.raises(ValueError, match="NaN or infinite"):
        family.check_precisions(np.where(precisions != 0, np.nan, 0.0), k, d)
    with pytest.raises(ValueError, match="positive"):
        family.check_precisions(-precisions, k, d)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_degenerate_covariances_are_flagged(family, rng):
    k, d = 3, 2
    cov = random_covariances(family, rng, k, d).copy()
    shared = isinstance(family.storage, DenseStorage) and family.storage.shared
    broken = cov.copy()
    if shared:
        broken[:] = 0.0
    else:
        broken[1] = 0.0
    chol, bad = family.precisions_cholesky(broken)
    assert np.all(np.isfinite(chol))
    assert bad.any() and (shared or list(np.flatnonzero(bad)) == [1])
    # re-seeding gives the flagged component the others' weighted mean (a shared one stays)
    weights = np.array([0.2, 0.5, 0.3])
    reseeded = family.reseed_covariance(cov, 1, weights)
    assert reseeded.shape == cov.shape
    if shared:
        np.testing.assert_array_equal(reseeded, cov)
    else:
        expected = (0.2 * cov[0] + 0.3 * cov[2]) / 0.5
        np.testing.assert_allclose(reseeded[1], expected, rtol=1e-12)
