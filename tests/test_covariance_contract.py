"""The contract every covariance family keeps, run for each registered family.

A family is a storage (shapes, factors, conversions, sampling, checks) and a constraint (the
M-step and the parameter count).  Each family here is checked against independent references:
numpy's inverses and Cholesky factors, scipy's Gaussian log-densities for the expected
complete-data log-likelihood its M-step maximises, closed forms of that maximum (for the
models that have one; ``tests/test_mclust_models.py`` checks the iterative ones against a
numerical optimiser), and the sample covariance of many draws.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from gaussmix.covariance import REGISTRY, CovarianceFamily
from gaussmix.covariance.storage import DenseStorage
from gaussmix.engine import Frame, mixture_pass, unit_terms
from gaussmix.stats import SuffStats, labelled_statistics

FAMILIES = list(REGISTRY.values())
IDS = list(REGISTRY)


def closed_form(model: str, X: np.ndarray, R: np.ndarray, reg: float = 0.0) -> np.ndarray | None:
    """The maximiser of the expected complete-data log-likelihood over each model's
    covariances, from its textbook formula (Celeux & Govaert 1995) on the scatters plus
    ``reg`` I (dense (k, d, d)); ``None`` for the models whose M-step iterates."""
    nk = R.sum(axis=0)
    means = (R.T @ X) / nk[:, None]
    k, d = means.shape
    own = np.stack([np.cov(X.T, aweights=R[:, j], bias=True) for j in range(k)]) + reg * np.eye(d)
    pooled = np.tensordot(nk / nk.sum(), own, axes=1)
    diagonals = np.diagonal(own, axis1=1, axis2=2)
    if model == "VVV":
        return own
    if model == "EEE":
        return np.broadcast_to(pooled, own.shape)
    if model == "VVI":
        return np.stack([np.diag(np.diag(c)) for c in own])
    if model == "EEI":
        return np.broadcast_to(np.diag(np.diag(pooled)), own.shape)
    if model == "EVI":  # shapes diag(S_k) / |diag(S_k)|^(1/d), one volume
        geo = np.prod(diagonals, axis=1) ** (1 / d)
        return np.stack([np.diag(diagonals[j] / geo[j]) for j in range(k)]) * (nk @ geo / nk.sum())
    if model == "VII":
        return np.stack([np.eye(d) * np.trace(c) / d for c in own])
    if model == "EII":
        return np.broadcast_to(np.eye(d) * np.trace(pooled) / d, own.shape)
    if model == "EEV":  # each scatter's eigenvectors, the weighted mean of the eigenvalues
        values, vectors = np.linalg.eigh(own)
        mean = nk @ values / nk.sum()  # eigh sorts every component's values the same way
        return np.stack([v @ np.diag(mean) @ v.T for v in vectors])
    if model == "EVV":  # S_k / |S_k|^(1/d), one volume
        vol = np.linalg.det(own) ** (1 / d)
        return own / vol[:, None, None] * (nk @ vol / nk.sum())
    return None


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
    # the quadratic form m_jᵀ P_j m_j from the factors, against the inverse covariances
    m = rng.normal(size=(k, d))
    np.testing.assert_allclose(
        family.moments.quadratic(factors, m),
        np.einsum("ka,kab,kb->k", m, inverse, m),
        rtol=1e-9,
    )


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_m_step_is_the_closed_form_maximum(family, rng):
    X, R = data(rng)
    if closed_form(family.model, X, R) is None:
        assert family.iterative
        pytest.skip(f"{family.name} iterates (see tests/test_mclust_models.py)")
    assert not family.iterative
    stats = statistics(family, X, R)
    k, d = R.shape[1], X.shape[1]
    estimate = family.dense(family.estimate(stats, 0.0), k, d)
    np.testing.assert_allclose(estimate, closed_form(family.model, X, R), rtol=1e-10, atol=1e-12)
    # reg_covar: the same maximum for the scatters plus reg_covar I
    regularised = family.dense(family.estimate(stats, 0.5), k, d)
    np.testing.assert_allclose(
        regularised, closed_form(family.model, X, R, 0.5), rtol=1e-10, atol=1e-12
    )
    if family.model in ("VVV", "EEE", "VVI", "VII"):  # scikit-learn's: added to the diagonal
        np.testing.assert_allclose(
            regularised - estimate, np.broadcast_to(0.5 * np.eye(d), (k, d, d)), atol=1e-12
        )


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_hard_labels_statistics_equal_the_passes(family, weighted, rng):
    """A start's statistics summed directly from hard labels (``labelled_statistics``) are the
    pass's under the same labels as one-hot responsibilities, about the same references, with
    a component left without rows and sample weights."""
    X = rng.normal(size=(300, 4)) * [1.0, 3.0, 0.5, 2.0] + 5.0
    labels = rng.integers(0, 4, size=300)
    labels[labels == 2] = 3  # component 2 has no rows
    sw = rng.uniform(0.1, 3.0, size=300) if weighted else None
    ref = rng.normal(size=(4, 4)) + 5.0
    frame = Frame(np.zeros(4), 1.0)
    terms = unit_terms(family.moments, ref)
    one_hot = np.eye(4)[labels]
    by_pass = mixture_pass(X, terms, frame, given=lambda rows: one_hot[rows], sample_weight=sw)
    assert by_pass.stats is not None
    direct = labelled_statistics(X, labels, ref, family.moments, sw)
    for name in ("ref", "N", "S1", "S2"):
        np.testing.assert_allclose(
            getattr(direct, name), getattr(by_pass.stats, name), rtol=1e-12, atol=1e-9,
            err_msg=name,
        )  # fmt: skip
    assert direct.N[2] == 0.0
    assert direct.weight == pytest.approx(by_pass.stats.weight, rel=1e-14)
    assert direct.n_rows == by_pass.stats.n_rows == 300


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
    if family.iterative:
        pytest.skip(f"{family.name} starts its iteration from the previous covariances")
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
    # re-seeding gives the flagged component a copy of the heaviest other one's covariance,
    # which keeps every constraint that equates parts across components (a shared one stays)
    weights = np.array([0.2, 0.5, 0.3])
    reseeded = family.reseed_covariance(cov, 1, weights)
    assert reseeded.shape == cov.shape
    if shared:
        np.testing.assert_array_equal(reseeded, cov)
    else:
        np.testing.assert_array_equal(reseeded[1], cov[2])
        np.testing.assert_array_equal(reseeded[[0, 2]], cov[[0, 2]])


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_short_of_rows_follows_rows_needed(family):
    """Components short of the rows their covariances need: each one against its own need
    where the need is per component, all or none against the total otherwise."""
    k, d = 3, 4
    needed, each = family.rows_needed(k, d)
    weights = np.array([0.5, 0.3, 0.2])
    just = needed / 0.2 if each else needed  # the smallest component (or all) just enough
    assert not family.short_of_rows(weights, d, just).any()
    short = family.short_of_rows(weights, d, just * 0.99)
    if each:
        assert short.tolist() == [False, False, True]
    else:
        assert short.all()
