"""Imputation under a fitted mixture: conditional expectations and multiple imputation.

References: the conditional mean of a Gaussian in closed form, ``mu_m + S_mo S_oo^-1 (x_o -
mu_o)``, solved row by row with numpy; for a mixture, posteriors on the observed values from
scipy's Gaussian densities; for draws, the conditional mean and covariance of the mixture of
conditional Gaussians (law of total variance), checked with standard errors estimated from
the draws themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import softmax
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import gaussmix.impute
from gaussmix import COVARIANCE_TYPES, GaussianMixture, GaussianMixtureImputer
from gaussmix.covariance import get_family

from ._data import make_blobs
from .test_fast_paths import family_covariances
from .test_incomplete import dense_model, model_of, with_holes

pytestmark = pytest.mark.filterwarnings("ignore::gaussmix.SingularCovarianceWarning")


def conditional_parts(x, weights, means, dense):
    """Per component: posterior on the observed values, conditional mean and covariance of
    the missing ones (row by row, from the formulas)."""
    o = ~np.isnan(x)
    m = ~o
    k = len(weights)
    if o.any():
        logp = [np.log(w) + sps.multivariate_normal(mu[o], S[np.ix_(o, o)]).logpdf(x[o])
                for w, mu, S in zip(weights, means, dense, strict=True)]  # fmt: skip
        r = softmax(logp)
    else:
        r = np.asarray(weights, dtype=float)
    cond_means, cond_covs = [], []
    for j in range(k):
        S, mu = dense[j], means[j]
        if o.any():
            B = np.linalg.solve(S[np.ix_(o, o)], S[np.ix_(o, m)]).T
            cond_means.append(mu[m] + B @ (x[o] - mu[o]))
            cond_covs.append(S[np.ix_(m, m)] - B @ S[np.ix_(o, m)])
        else:
            cond_means.append(mu.copy())
            cond_covs.append(S.copy())
    return r, np.array(cond_means), np.array(cond_covs)


def mixture_moments(x, weights, means, dense):
    """Mean and covariance of the missing values of ``x`` given its observed ones."""
    r, cm, cc = conditional_parts(x, weights, means, dense)
    mean = r @ cm
    second = np.einsum("j,jab->ab", r, cc + np.einsum("ja,jb->jab", cm, cm))
    return mean, second - np.outer(mean, mean)


@pytest.fixture(scope="module")
def holes():
    rng = np.random.default_rng(7)
    X = rng.normal(scale=3.0, size=(300, 5))
    return with_holes(rng, X, 0.35, empty_rows=4)


def family_model(cov_type, d, k, seed):
    """A model of the family with random parameters: (model, weights, means, dense
    covariances)."""
    weights, means, dense = dense_model(np.random.default_rng(seed), d, k)
    cov = family_covariances(cov_type, dense)
    return (
        model_of(cov_type, weights, means, cov),
        weights,
        means,
        get_family(cov_type).dense(cov, k, d),
    )


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_conditional_means_of_one_gaussian_are_the_closed_form(cov_type, holes):
    gm, _, means, dense = family_model(cov_type, 5, 1, seed=1)
    before = holes.copy()
    filled = gm.impute(holes)
    np.testing.assert_array_equal(holes, before)  # the input is not modified
    for x, got in zip(holes, filled, strict=True):
        o = ~np.isnan(x)
        want = means[0].copy()
        if o.any():
            S = dense[0]
            want[~o] += S[np.ix_(~o, o)] @ np.linalg.solve(S[np.ix_(o, o)], x[o] - means[0][o])
            want[o] = x[o]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_conditional_means_of_a_mixture_row_by_row(cov_type, holes):
    gm, weights, means, dense = family_model(cov_type, 5, 3, seed=2)
    filled = gm.impute(holes)
    for x, got in zip(holes, filled, strict=True):
        m = np.isnan(x)
        r, cm, _ = conditional_parts(x, weights, means, dense)
        np.testing.assert_allclose(got[m], r @ cm, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(got[~m], x[~m])
    empty = np.isnan(holes).all(axis=1)
    np.testing.assert_allclose(filled[empty], np.broadcast_to(weights @ means, (empty.sum(), 5)))


def test_results_do_not_depend_on_batches(holes, monkeypatch):
    rng = np.random.default_rng(3)
    weights, means, dense = dense_model(rng, 5, 3)
    gm = model_of("full", weights, means, dense)
    whole = gm.impute(holes)
    monkeypatch.setattr(gaussmix.impute, "WORK_ENTRIES", 64)  # a pattern and a row at a time
    np.testing.assert_allclose(gm.impute(holes), whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cov_type", ["full", "diag"])
def test_draws_reproduce_the_conditional_mean_and_covariance(cov_type):
    """Multiple imputations of a row: their mean and covariance are the conditional ones
    (a mixture of conditional Gaussians), within five standard errors estimated from the
    draws (whitened by the reference covariance)."""
    d, k, T = 4, 3, 6000
    gm, weights, means, dense = family_model(cov_type, d, k, seed=4)
    rng = np.random.default_rng(4)
    x = means[0] + rng.normal(size=(4, d))
    x[0, [1, 3]] = np.nan
    x[1, 0] = np.nan
    x[2, :3] = np.nan
    x[3] = np.nan  # nothing observed: draws from the mixture
    draws = gm.impute(x, n_draws=T, random_state=0)
    assert draws.shape == (T, 4, d)
    for i in range(4):
        m = np.isnan(x[i])
        np.testing.assert_array_equal(draws[:, i, ~m], np.broadcast_to(x[i, ~m], (T, (~m).sum())))
        mean, var = mixture_moments(x[i], weights, means, dense)
        values, vectors = np.linalg.eigh(var)
        w = (draws[:, i, m] - mean) @ vectors / np.sqrt(values)  # whitened: mean 0, cov I
        se_mean = w.std(axis=0, ddof=1) / np.sqrt(T)
        assert np.all(np.abs(w.mean(axis=0)) < 5 * se_mean)
        products = np.einsum("ta,tb->tab", w, w)
        se_cov = products.std(axis=0, ddof=1) / np.sqrt(T)
        assert np.all(np.abs(products.mean(axis=0) - np.eye(m.sum())) < 5 * se_cov)


def test_draws_are_seeded_per_call(holes):
    gm = GaussianMixture(2, random_state=0).fit(holes)
    a = gm.impute(holes, n_draws=3, random_state=5)
    np.testing.assert_array_equal(a, gm.impute(holes, n_draws=3, random_state=5))
    b = gm.impute(holes, n_draws=3, random_state=6)
    missing = np.isnan(holes)
    assert not np.any(a[:, missing] == b[:, missing])
    assert not np.any(a[0][missing] == a[1][missing])  # the draws differ from each other


def test_boundary(holes, rng):
    gm = GaussianMixture(2, random_state=0).fit(holes)
    complete = rng.normal(size=(20, 5))
    copy = gm.impute(complete)
    assert copy is not complete
    np.testing.assert_array_equal(copy, complete)
    np.testing.assert_array_equal(gm.impute(complete, n_draws=2)[1], complete)
    f32 = gm.impute(holes.astype(np.float32))
    assert f32.dtype == np.float32 and not np.isnan(f32).any()
    np.testing.assert_allclose(f32, gm.impute(holes), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="X has 4 features, but GaussianMixture is expecting 5"):
        gm.impute(holes[:, :4])
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="n_draws must be None"):
            gm.impute(holes, n_draws=bad)
    with pytest.raises(ValueError, match="random_state"):
        gm.impute(holes, n_draws=1, random_state="x")
    with_inf = holes.copy()
    with_inf[3, 2] = np.inf
    with pytest.raises(ValueError, match="Infinity is not a missing value"):
        gm.impute(with_inf)
    one_column = complete.copy()  # every incomplete row misses the same column
    one_column[::3, 2] = np.nan
    np.testing.assert_array_equal(gm.impute(one_column)[:, [0, 1, 3, 4]],
                                  complete[:, [0, 1, 3, 4]])  # fmt: skip
    # a model that refuses NaN in fit and scores still imputes: NaN is what it fills
    strict = GaussianMixture(2, missing="error", random_state=0).fit(complete)
    assert not np.isnan(strict.impute(holes)).any()


def test_data_frames_keep_their_order_and_names(holes):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(holes, columns=[f"c{j}" for j in range(5)])
    gm = GaussianMixture(2, random_state=0).fit(frame)
    filled = gm.impute(frame)
    from_array = GaussianMixture(2, random_state=0).fit(holes)  # the same fit
    np.testing.assert_allclose(filled, from_array.impute(holes), rtol=1e-12)
    assert frame.isna().values.sum() == np.isnan(holes).sum()  # not filled in place


def test_imputer_in_a_pipeline(rng):
    """A classifier after the imputer gets complete rows; the mixture's imputations are
    closer to the hidden values than column means where clusters make features depend on
    each other."""
    X, labels, _ = make_blobs(rng, n=1200, d=4, k=2, spread=4.0)
    Xm = with_holes(rng, X, 0.3)
    train, test = slice(0, 800), slice(800, None)
    imputer = GaussianMixtureImputer(GaussianMixture(2, random_state=0))
    model = make_pipeline(imputer, LogisticRegression()).fit(Xm[train], labels[train])
    assert model.score(Xm[test], labels[test]) > 0.6
    fitted = model[0]
    assert not hasattr(imputer.mixture, "means_")  # the given mixture is cloned, not fitted
    filled = fitted.transform(Xm[test])
    np.testing.assert_array_equal(filled, fitted.mixture_.impute(Xm[test]))
    hidden = np.isnan(Xm[test])
    means = SimpleImputer().fit(Xm[train]).transform(Xm[test])
    error = np.sqrt(np.mean((filled - X[test])[hidden] ** 2))
    assert error < 0.8 * np.sqrt(np.mean((means - X[test])[hidden] ** 2))


def test_imputer_draws_and_output_frames(holes):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(holes, columns=[f"c{j}" for j in range(5)])
    imputer = GaussianMixtureImputer(sample_posterior=True, random_state=3).set_output(
        transform="pandas"
    )
    out = imputer.fit(frame).transform(frame)
    assert list(out.columns) == list(frame.columns) and not out.isna().values.any()
    np.testing.assert_array_equal(out.values, imputer.transform(frame).values)
    mean = GaussianMixtureImputer().fit(frame).transform(frame)
    missing = np.isnan(holes)
    assert not np.any(out.values[missing] == mean[missing])
    with pytest.raises(TypeError, match=r"mixture must be a gaussmix\.GaussianMixture"):
        GaussianMixtureImputer(mixture=LogisticRegression()).fit(holes)


@parametrize_with_checks([GaussianMixtureImputer(GaussianMixture(2, random_state=0))])
def test_imputer_is_a_scikit_learn_transformer(estimator, check):
    check(estimator)
