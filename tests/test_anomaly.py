"""Tail probabilities and anomaly flags that treat incomplete rows fairly.

References: for one Gaussian the tail probability is the chi-square tail of the squared
Mahalanobis distance on the observed coordinates (scipy), whatever the covariance model;
for a mixture, calibration: rows drawn from the model, with values missing completely at
random, are flagged at the rate asked, for complete and incomplete rows alike, within four
standard errors (the binomial error of the rows counted plus that of the Monte-Carlo
reference, ``sqrt(a (1 - a) (1 / n + 1 / M))``).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

import gaussmix.anomaly
from gaussmix import COVARIANCE_TYPES, GaussianMixture, load
from gaussmix.anomaly import REFERENCE_DRAWS
from gaussmix.covariance import get_family

from ._data import make_blobs
from .test_fast_paths import family_covariances
from .test_incomplete import dense_model, model_of, with_holes

M = REFERENCE_DRAWS


def tolerance(alpha, n):
    """Four standard errors of a flagged share ``alpha`` over ``n`` rows and ``M`` draws."""
    return 4.0 * np.sqrt(alpha * (1 - alpha) * (1.0 / n + 1.0 / M))


@pytest.fixture(scope="module")
def drawn():
    """A mixture fitted to blobs, and 40,000 rows drawn from it with 30 % of the values
    missing completely at random (some rows entirely)."""
    rng = np.random.default_rng(11)
    X, _, _ = make_blobs(rng, n=3000, d=4, k=3, spread=3.0)
    gm = GaussianMixture(3, random_state=0).fit(X)
    Y, _ = gm.sample(40_000, random_state=1)
    return gm, with_holes(rng, Y, 0.3, empty_rows=20)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_one_gaussian_tail_is_the_chi_square_tail(cov_type):
    rng = np.random.default_rng(12)
    d = 4
    _, means, dense = dense_model(rng, d, 1)
    cov = family_covariances(cov_type, dense)
    dense = get_family(cov_type).dense(cov, 1, d)[0]
    gm = model_of(cov_type, np.ones(1), means, cov)
    X = with_holes(rng, means[0] + rng.normal(scale=1.5, size=(400, d)), 0.3, empty_rows=2)
    got = gm.tail_probability(X)
    for x, p in zip(X, got, strict=True):
        o = ~np.isnan(x)
        if not o.any():
            assert p == 1.0
            continue
        diff = x[o] - means[0][o]
        want = sps.chi2.sf(diff @ np.linalg.solve(dense[np.ix_(o, o)], diff), o.sum())
        # the Monte-Carlo p-value: (1 + Binomial(M, p)) / (M + 1), five standard errors
        assert abs(p - want) <= 5 * np.sqrt(want * (1 - want) / M) + 1.0 / (M + 1)


@pytest.mark.parametrize("quantile", [0.9, 0.95, 0.99])
def test_flags_are_calibrated_for_complete_and_incomplete_rows(drawn, quantile):
    gm, Y = drawn
    alpha = 1 - quantile
    flagged = gm.is_anomaly(Y, quantile)
    observed = (~np.isnan(Y)).sum(axis=1)
    d = Y.shape[1]
    assert not flagged[observed == 0].any()
    for n_obs in range(1, d + 1):  # complete rows, and rows with 1, 2, 3 observed values
        rows = observed == n_obs
        assert abs(flagged[rows].mean() - alpha) <= tolerance(alpha, rows.sum()), n_obs


def test_a_threshold_on_raw_log_densities_is_not(drawn):
    """The threshold that flags 5 % of the complete rows by their log-density flags the
    incomplete rows at a very different rate: a density over fewer coordinates is on
    another scale."""
    gm, Y = drawn
    scores = gm.score_samples(Y)
    complete = ~np.isnan(Y).any(axis=1)
    incomplete = ~complete & ~np.isnan(Y).all(axis=1)
    raw = np.quantile(scores[complete], 0.05)
    rate = (scores[incomplete] < raw).mean()
    se = np.sqrt(0.05 * 0.95 / incomplete.sum())
    assert abs(rate - 0.05) > 10 * se  # here about a tenth of the rate asked
    fair = gm.is_anomaly(Y, 0.95)[incomplete].mean()
    assert abs(fair - 0.05) <= tolerance(0.05, incomplete.sum())


def test_the_posterior_mixed_chi_square_tail_would_not_be_calibrated():
    """Why the tail is estimated by Monte Carlo: the closed form ``sum_j r_j(x) P(chi2 >=
    D_j(x)^2)`` flags too few rows where components overlap (here two unit Gaussians two
    standard deviations apart), where the Monte-Carlo tail flags the share asked."""
    gm = model_of("full", np.array([0.5, 0.5]), np.array([[0.0, 0.0], [2.0, 0.0]]),
                  np.stack([np.eye(2)] * 2))  # fmt: skip
    Y, _ = gm.sample(40_000, random_state=0)
    r = gm.predict_proba(Y)
    D2 = ((Y[:, None, :] - gm.means_[None]) ** 2).sum(axis=2)
    closed = (r * sps.chi2.sf(D2, 2)).sum(axis=1)
    alpha, n = 0.05, Y.shape[0]
    se = np.sqrt(alpha * (1 - alpha) / n)
    assert (closed <= alpha).mean() < alpha - 6 * se  # here about three quarters of it
    assert abs((gm.tail_probability(Y) <= alpha).mean() - alpha) <= tolerance(alpha, n)


def test_flags_thresholds_and_tails_agree(drawn):
    gm, Y = drawn
    Y = Y[:3000]
    scores = gm.score_samples(Y)
    tails = gm.tail_probability(Y)
    assert tails.min() >= 1.0 / (M + 1) and tails.max() <= 1.0
    for q in (0.5, 0.71, 0.99, 0.9999):
        threshold = gm.anomaly_threshold(Y, q)
        flagged = gm.is_anomaly(Y, q)
        np.testing.assert_array_equal(flagged, scores < threshold)
        np.testing.assert_array_equal(flagged, tails <= 1 - q + 1e-12)
    empty = np.isnan(Y).all(axis=1)
    assert np.all(tails[empty] == 1.0)
    assert np.all(gm.anomaly_threshold(Y, 0.9)[empty] == -np.inf)
    # rows with the same observed columns share a threshold
    same = ~np.isnan(Y).any(axis=1)
    assert np.unique(gm.anomaly_threshold(Y, 0.9)[same]).size == 1


def test_a_rows_tail_depends_on_the_row_and_the_model_only(drawn, tmp_path):
    gm, Y = drawn
    whole = gm.tail_probability(Y[:2000])
    np.testing.assert_array_equal(gm.tail_probability(Y[1000:2000]), whole[1000:])
    loaded = load(gm.save(tmp_path / "m.gmm"))  # a fresh model, its own reference draws
    np.testing.assert_allclose(loaded.tail_probability(Y[:2000]), whole)


def test_the_reference_follows_the_fitted_parameters(rng):
    X, _, _ = make_blobs(rng, n=600, d=3, k=2)
    gm = GaussianMixture(2, random_state=0).fit(X)
    before = gm.tail_probability(X)
    gm.fit(X * 3.0)  # new parameters: the cached reference must not be reused
    fresh = GaussianMixture(2, random_state=0).fit(X * 3.0)
    np.testing.assert_allclose(gm.tail_probability(X), fresh.tail_probability(X))
    assert not np.allclose(gm.tail_probability(X), before)


def test_batches_of_patterns_give_the_same_tails(drawn, monkeypatch, tmp_path):
    gm, Y = drawn
    want = gm.tail_probability(Y[:2000])
    fresh = load(gm.save(tmp_path / "m.gmm"))
    monkeypatch.setattr(gaussmix.anomaly, "BATCH_ENTRIES", 1)  # one pattern per pass
    np.testing.assert_allclose(fresh.tail_probability(Y[:2000]), want)


def test_boundary(drawn):
    gm, Y = drawn
    for bad in (0, 1, 1.5, -0.1, "0.9", True, None):
        with pytest.raises(ValueError, match=r"quantile must be a number in \(0, 1\)"):
            gm.is_anomaly(Y[:10], bad)
        with pytest.raises(ValueError, match=r"quantile must be a number in \(0, 1\)"):
            gm.anomaly_threshold(Y[:10], bad)
    with pytest.raises(ValueError, match="X has 3 features"):
        gm.tail_probability(Y[:10, :3])
    complete = Y[:500][~np.isnan(Y[:500]).any(axis=1)]
    strict = GaussianMixture(2, missing="error", random_state=0).fit(complete)
    for method in (strict.tail_probability, strict.is_anomaly, strict.anomaly_threshold):
        with pytest.raises(ValueError, match="NaN is refused here"):
            method(Y[:100])
    with_inf = Y[:50].copy()
    with_inf[3, 1] = np.inf
    with pytest.raises(ValueError, match="Infinity is not a missing value"):
        gm.tail_probability(with_inf)


def test_a_bounded_cache_gives_the_same_tails(drawn, monkeypatch, tmp_path):
    """Beyond the cache's budget references are recomputed, identically."""
    gm, Y = drawn
    want = gm.tail_probability(Y[:2000])
    fresh = load(gm.save(tmp_path / "m.gmm"))
    monkeypatch.setattr(gaussmix.anomaly, "CACHE_ENTRIES", 3 * M)  # three patterns kept
    np.testing.assert_array_equal(fresh.tail_probability(Y[:2000]), want)
    assert len(fresh._tails()._sorted) == 3
    np.testing.assert_array_equal(fresh.tail_probability(Y[:2000]), want)
