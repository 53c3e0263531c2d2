"""Every fast path agrees with a plain reference EM step on hard cases.

The reference below is written for clarity, not speed: per-component log-densities from
``scipy.stats.multivariate_normal`` (which centres each row on the component mean before
anything else), a log-sum-exp, and the weighted means and covariances of the M-step computed
two-pass, about the new means.  gaussmix runs the same step through its engine (expanded or
direct kernel as ``auto`` picks, several chunk sizes, one or several threads).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import logsumexp

from gaussmix import COVARIANCE_TYPES
from gaussmix.covariance import get_family
from gaussmix.engine import Frame, gaussian_terms, mixture_pass
from gaussmix.params import Params
from gaussmix.strategy import params_from_stats

REG = 1e-6


def reference_step(X, weights, means, dense_cov, cov_type):
    """One EM step with plain formulas: returns (mean log-likelihood, weights, means, dense)."""
    n, d = X.shape
    k = len(weights)
    logp = np.column_stack(
        [
            sps.multivariate_normal(means[j], dense_cov[j]).logpdf(X).reshape(n)
            + np.log(weights[j])
            for j in range(k)
        ]
    )
    lse = logsumexp(logp, axis=1)
    resp = np.exp(logp - lse[:, None])
    nk = resp.sum(axis=0)
    new_means = (resp.T @ X) / nk[:, None]
    scatter = np.stack(
        [((X - new_means[j]) * resp[:, j : j + 1]).T @ (X - new_means[j]) / nk[j] for j in range(k)]
    )
    if cov_type == "tied":
        scatter = np.broadcast_to(np.tensordot(nk / n, scatter, axes=1), scatter.shape)
    elif cov_type == "diag":
        scatter = np.stack([np.diag(np.diag(s)) for s in scatter])
    elif cov_type == "spherical":
        scatter = np.stack([np.eye(d) * np.trace(s) / d for s in scatter])
    return lse.mean(), nk / n, new_means, scatter + REG * np.eye(d)


def family_covariances(cov_type, dense):
    """Dense per-component covariances -> the family's parameter shape."""
    return {
        "full": dense,
        "tied": dense[0],
        "diag": np.diagonal(dense, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(dense, axis1=1, axis2=2).mean(axis=1),
    }[cov_type]


def engine_step(X, weights, means, covariances, cov_type, **pass_kw):
    family = get_family(cov_type)
    frame = Frame.from_data(X, min_scale=np.sqrt(REG))
    chol, bad = family.precisions_cholesky(covariances)
    assert not bad.any()
    s = frame.scale[0]
    p = Params(weights, (means - frame.centre) / s, covariances / s / s, chol * s)
    res = mixture_pass(X, gaussian_terms(p, family), frame, **pass_kw)
    new, bad = params_from_stats(res.stats, family, REG / s / s)
    assert not bad.any()
    w, m, c, _ = frame.to_user(new, family.storage)
    k, d = means.shape
    return res.mean_log_likelihood(), w, m, family.dense(c, k, d), res.kernel


def hard_case(name, rng):
    """(X, weights, means, dense covariances) for one hard case."""
    if name == "far-tiny":  # separated clusters 1e6 from the origin, variances 1e-6
        means = np.array([[1e6, 1e6], [1e6 + 1.0, 1e6 - 2.0]])
        cov = np.stack([np.eye(2) * 1e-6, np.array([[2e-6, 1e-6], [1e-6, 2e-6]])])
        X = np.vstack(
            [rng.multivariate_normal(m, c, size=150) for m, c in zip(means, cov, strict=True)]
        )
        return X, np.array([0.5, 0.5]), means, cov
    if name == "near-singular":  # two almost collinear features
        t = rng.normal(size=400)
        X = np.column_stack([t, t + 1e-5 * rng.normal(size=400), rng.normal(size=400)])
        X[200:] += 3.0
        means = np.array([X[:200].mean(0), X[200:].mean(0)])
        cov = np.stack([np.cov(X[:200].T), np.cov(X[200:].T)]) + 1e-9 * np.eye(3)
        return X, np.array([0.5, 0.5]), means, cov
    if name == "d1":
        X = np.concatenate([rng.normal(0, 1, 200), rng.normal(6, 0.5, 100)])[:, None]
        return X, np.array([0.6, 0.4]), np.array([[0.5], [5.0]]), np.array([[[1.5]], [[0.8]]])
    if name == "k1":
        X = rng.normal(size=(300, 3)) @ np.array([[2, 0, 0], [0.5, 1, 0], [0, 0.3, 0.2]])
        return X, np.array([1.0]), np.array([[0.1, 0.0, -0.1]]), np.eye(3)[None] * 1.3
    if name == "offset-1e4":  # moderate offset: the expanded kernel's regime
        means = np.array([[1e4, 0.0, 5.0], [1e4 + 4.0, 1.0, 3.0], [1e4 - 3.0, -2.0, 5.0]])
        X = np.vstack([m + rng.normal(size=(200, 3)) for m in means])
        return X, np.full(3, 1 / 3), means + 0.3, np.stack([np.eye(3) * 1.2] * 3)
    if name == "d16":  # wide rows: the chunk is transposed by a GEMM (d >= 12)
        means = rng.normal(scale=3.0, size=(3, 16)) + 50.0
        a = rng.normal(size=(3, 16, 16)) * 0.2
        cov = np.einsum("kab,kcb->kac", a, a) + np.eye(16)
        X = np.vstack(
            [rng.multivariate_normal(m, c, size=150) for m, c in zip(means, cov, strict=True)]
        )
        return X, np.full(3, 1 / 3), means + 0.2, cov
    if name == "mixed":  # two ordinary components and one thin one far out: per-component kernels
        means = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [100.0, -80.0, 60.0]])
        cov = np.stack([np.eye(3), np.eye(3) * 0.5 + 0.2, np.eye(3) * 1e-6])
        X = np.vstack(
            [rng.multivariate_normal(m, c, size=150) for m, c in zip(means, cov, strict=True)]
        )
        return X, np.array([0.4, 0.4, 0.2]), means + 0.01, cov
    raise AssertionError(name)


CASES = ["far-tiny", "near-singular", "d1", "k1", "offset-1e4", "d16", "mixed"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(
    "pass_kw",
    [{}, {"chunk_size": 37, "n_threads": 3}, {"kernel": "direct", "chunk_size": 1000}],
    ids=["auto", "auto-chunked-threads", "direct"],
)
def test_engine_step_matches_reference(rng, case, cov_type, pass_kw):
    X, weights, means, dense = hard_case(case, rng)
    k, d = means.shape
    covariances = family_covariances(cov_type, dense)
    # the reference starts from exactly the family's parameters
    start_dense = get_family(cov_type).dense(covariances, k, d)
    ll_ref, w_ref, m_ref, c_ref = reference_step(X, weights, means, start_dense, cov_type)
    ll, w, m, c, kernel = engine_step(X, weights, means, covariances, cov_type, **pass_kw)
    if case == "far-tiny" and "kernel" not in pass_kw:
        assert kernel != "expanded"  # "auto" refuses the expansion for the thin components
    if case == "mixed" and "kernel" not in pass_kw and cov_type != "tied":
        # the expansion for two components, direct for the thin one (unless the fused kernel
        # gathered all of them, about their means)
        assert kernel.removeprefix("fused+") == "mixed" or kernel == "fused"
    # Tolerances: float64 rounding of the inputs bounds what any two implementations can
    # agree on.  far-tiny: rows 1e6 from the origin hold ~10 significant digits of a 1e-3
    # deviation.  near-singular: covariances of condition ~1e9, so eps * cond ~ 2e-7 for
    # both the reference (scipy's eigendecomposition) and gaussmix (Cholesky).
    tol = 1e-6 if case in ("far-tiny", "near-singular") else 1e-9
    np.testing.assert_allclose(ll, ll_ref, rtol=tol)
    np.testing.assert_allclose(w, w_ref, rtol=tol, atol=1e-12)
    spread = np.sqrt(np.diagonal(c_ref, axis1=1, axis2=2).max())  # means: in units of std
    np.testing.assert_allclose(m, m_ref, rtol=1e-12, atol=10 * tol * spread)
    scale = np.abs(c_ref).max()
    np.testing.assert_allclose(c, c_ref, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_float32_input_is_computed_in_float64(rng, cov_type):
    """float32 rows give the reference step of the same (float32-rounded) rows exactly."""
    X, weights, means, dense = hard_case("offset-1e4", rng)
    X32 = X.astype(np.float32)
    k, d = means.shape
    covariances = family_covariances(cov_type, dense)
    start_dense = get_family(cov_type).dense(covariances, k, d)
    ll_ref, w_ref, m_ref, c_ref = reference_step(
        X32.astype(np.float64), weights, means, start_dense, cov_type
    )
    ll, w, m, c, _ = engine_step(X32, weights, means, covariances, cov_type)
    np.testing.assert_allclose(ll, ll_ref, rtol=1e-9)
    np.testing.assert_allclose(w, w_ref, rtol=1e-9)
    np.testing.assert_allclose(m, m_ref, rtol=1e-12)
    np.testing.assert_allclose(c, c_ref, rtol=1e-8)
    assert np.all(np.linalg.eigvalsh(c) > 0)
