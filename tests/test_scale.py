"""Scale-equivariant fits: rescaling features maps the fit, and changes no clustering.

For the models that a rescaling of one feature maps onto themselves
(``CovarianceFamily.per_feature_equivariant``: VVV, EEE, VEE, EVV and the diagonal ones), a
fit of ``X @ diag(s)`` with the default ``reg_covar="auto"`` is the fit of ``X`` mapped by
``s``, for any positive ``s_j`` from 1e-150 to 1e150, mixed in one data set: the same
labels (adjusted Rand index 1), the log-likelihood shifted by exactly ``-n sum(log s_j)``
(the Jacobian), means times ``s``, covariances ``D C D`` and precision factors ``D^-1 U``
with ``D = diag(s)``, to rounding.  The other models are equivariant under one scale common
to every feature, which is what they are checked under.  The references are the fit of the
unscaled data and these closed forms; the data's variances (``numpy.var``) check the
relative regularisation itself.  The same maps hold for rows with missing values (whose
marginal densities scipy checks), imputation, ``partial_fit``, mini-batch EM and the
variational Bayesian mixture.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.metrics import adjusted_rand_score

import gaussmix
from gaussmix import COVARIANCE_TYPES, GaussianMixture
from gaussmix.covariance import MCLUST_MODELS, get_family
from gaussmix.engine import Frame, gaussian_terms, mixture_pass, numpy_kernels
from gaussmix.regularisation import RELATIVE_REG, internal_reg

from ._data import make_blobs

PER_FEATURE = [m for m in MCLUST_MODELS if get_family(m).per_feature_equivariant]
COMMON_ONLY = [m for m in MCLUST_MODELS if not get_family(m).per_feature_equivariant]

#: per-feature scales for d = 3: all tiny, all huge, and both beside a unit one (not powers
#: of two, so the internal frames of X and X * s differ by more than exact factors)
SCALES = {
    "tiny": np.array([1e-150, 3.7e-150, 2.2e-149]),
    "huge": np.array([1e150, 3.7e149, 2.2e150]),
    "mixed": np.array([1e-150, 1e150, 3.0]),
}
#: one scale for every feature
COMMON = {"tiny": 3.7e-150, "huge": 2.2e150}

#: parameters mapped by s agree to this (rounding, amplified a little by EM); measured
#: below 1e-11
RTOL = 1e-8
#: ... or this, for the M-steps that iterate: they stop when their objective changes by at
#: most INNER_TOL = 1e-10 (gaussmix.covariance._constrained), which determines their
#: parameters to about its square root (measured up to 5e-8)
RTOL_ITERATIVE = 1e-5


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    X, _, _ = make_blobs(np.random.default_rng(100), n=240, d=3, k=3, spread=5.0)
    return X


def fit(model: str, X: np.ndarray, **params: object) -> GaussianMixture:
    """One start to convergence: the same start for X and a rescaled X, then EM alone."""
    settings = {"covariance_type": model, "n_init": 1, "tol": 1e-6, "random_state": 0}
    return GaussianMixture(3, **{**settings, **params}).fit(X)


@pytest.fixture(scope="module")
def references(data: np.ndarray) -> dict[str, GaussianMixture]:
    return {m: fit(m, data) for m in MCLUST_MODELS}


def assert_mapped(scaled: GaussianMixture, ref: GaussianMixture, s: np.ndarray, X) -> None:
    """``scaled`` is ``ref`` with every feature j multiplied by ``s[j]``."""
    family = get_family(ref.covariance_type)
    n = X.shape[0]
    rtol = RTOL_ITERATIVE if family.iterative else RTOL
    assert adjusted_rand_score(ref.predict(X), scaled.predict(X * s)) == 1.0
    assert scaled.n_iter_ == ref.n_iter_
    # the log-likelihood of rescaled rows: less the Jacobian, n sum(log s_j), to the
    # rounding of the larger terms (|log s_j| up to 346)
    shift = np.log(s).sum()
    atol = 1e-13 * np.abs(np.log(s)).sum()
    np.testing.assert_allclose(
        np.array(scaled.history_) + shift, ref.history_, rtol=1e-12, atol=atol
    )
    np.testing.assert_allclose(
        scaled.score(X * s) * n + n * shift, ref.score(X) * n, rtol=1e-12, atol=n * atol
    )
    np.testing.assert_allclose(scaled.weights_, ref.weights_, rtol=rtol)
    np.testing.assert_allclose(scaled.means_ / s, ref.means_, rtol=rtol, atol=rtol)
    # back to X's units: D^-1 C D^-1 and D U (the scales' reciprocals, exact enough)
    cov, chol = family.rescaled(scaled.covariances_, scaled.precisions_cholesky_, 1.0 / s)
    size = np.abs(ref.covariances_).max()
    np.testing.assert_allclose(cov, ref.covariances_, rtol=rtol, atol=rtol * size)
    size = np.abs(ref.precisions_cholesky_).max()
    np.testing.assert_allclose(chol, ref.precisions_cholesky_, rtol=rtol, atol=rtol * size)
    np.testing.assert_allclose(
        scaled.score_samples(X * s) + shift, ref.score_samples(X), rtol=rtol / 100, atol=atol
    )


@pytest.mark.parametrize("scales", list(SCALES))
@pytest.mark.parametrize("model", PER_FEATURE)
def test_per_feature_scaling_maps_the_fit(data, references, model, scales):
    s = SCALES[scales]
    assert_mapped(fit(model, data * s), references[model], s, data)


@pytest.mark.parametrize("scale", list(COMMON))
@pytest.mark.parametrize("model", COMMON_ONLY)
def test_common_scaling_maps_the_fit(data, references, model, scale):
    s = np.full(data.shape[1], COMMON[scale])
    assert_mapped(fit(model, data * s), references[model], s, data)


@pytest.mark.parametrize("model", ["VVV", "VVI", "EEE", "VII", "EEV"])
def test_default_fits_cluster_rescaled_data_alike(data, model):
    """With every default (16 starts racing): the same clustering, whatever the scales (the
    winning start may change where several end equal to rounding, so the parameters are
    compared to EM's tolerance only)."""
    family = get_family(model)
    s = SCALES["mixed"] if family.per_feature_equivariant else np.full(3, COMMON["tiny"])
    ref = GaussianMixture(3, covariance_type=model, random_state=1).fit(data)
    scaled = GaussianMixture(3, covariance_type=model, random_state=1).fit(data * s)
    assert adjusted_rand_score(ref.predict(data), scaled.predict(data * s)) == 1.0
    assert scaled.score(data * s) + np.log(s).sum() == pytest.approx(ref.score(data), abs=1e-3)


def test_the_issue_data_scaled_by_1e_4_or_less_keeps_its_clusters(data):
    """The issue: data scaled by 1e-4 or less collapsed every component onto one mean under
    the absolute default (ARI 0, "converged in 2 iterations"); it still does with
    scikit-learn's absolute value, and not with the relative default."""
    ref = GaussianMixture(3, random_state=0).fit(data)
    for factor in (1e-4, 1e-8, 1e-150):
        default = GaussianMixture(3, random_state=0).fit(data * factor)
        assert adjusted_rand_score(ref.predict(data), default.predict(data * factor)) == 1.0
    absolute = GaussianMixture(3, reg_covar=1e-6, random_state=0).fit(data * 1e-8)
    assert adjusted_rand_score(ref.predict(data), absolute.predict(data * 1e-8)) < 0.5


@pytest.mark.parametrize("model", ["VVI", "VVV"])
def test_a_small_column_beside_a_huge_one_is_not_ignored(model):
    """The clusters lie in a column at 1e-150 only, beside noise at 1e150: a per-feature
    equivariant model finds them as at unit scale."""
    rng = np.random.default_rng(7)
    truth = rng.integers(2, size=300)
    X = np.c_[rng.normal(size=300), truth * 6.0 + rng.normal(size=300)]
    s = np.array([1e150, 1e-150])
    gm = GaussianMixture(2, covariance_type=model, random_state=0).fit(X * s)
    assert adjusted_rand_score(truth, gm.predict(X * s)) == 1.0


@pytest.mark.parametrize("model", ["VVV", "VVI", "VII"])
def test_float32_data_within_float32s_range(data, model):
    """float32 rows scaled from 1e-15 to 1e15 (variances 1e-30 to 1e30, inside float32's
    range): float32 parameters, mapped by s, to float32's accuracy."""
    family = get_family(model)
    s = np.array([1e-15, 1e15, 3.0]) if family.per_feature_equivariant else np.full(3, 1e15)
    X32 = data.astype(np.float32)
    scaled_rows = (X32 * s.astype(np.float32)).astype(np.float32)
    ref = fit(model, X32)
    scaled = fit(model, scaled_rows)
    assert scaled.means_.dtype == scaled.covariances_.dtype == np.float32
    assert np.isfinite(scaled.precisions_).all()
    assert adjusted_rand_score(ref.predict(X32), scaled.predict(scaled_rows)) == 1.0
    shift = np.log(s).sum()
    assert scaled.score(scaled_rows) + shift == pytest.approx(ref.score(X32), rel=1e-6)
    np.testing.assert_allclose(scaled.means_ / s, ref.means_, rtol=1e-4, atol=1e-4)
    cov, _ = family.rescaled(
        scaled.covariances_.astype(np.float64), scaled.precisions_cholesky_, 1.0 / s
    )
    np.testing.assert_allclose(cov, ref.covariances_, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("model", ["VVV", "VII"])
@pytest.mark.parametrize("factor", [1e-150, 1e150])
def test_extreme_scales_predict_score_sample_and_save(data, references, model, factor, tmp_path):
    """At 1e-150 and 1e150 (variances 1e-300 and 1e300): predictions, scores and draws are
    the unscaled model's mapped by s, and a saved copy gives the same."""
    family = get_family(model)
    s = np.array([factor, 2.0 * factor, 1.5 * factor])  # standard deviations >= 2e-150
    if not family.per_feature_equivariant:
        s = np.full(3, factor)
    ref, scaled = references[model], fit(model, data * s)
    Xs = data * s
    np.testing.assert_array_equal(scaled.predict(Xs), ref.predict(data))
    np.testing.assert_allclose(scaled.predict_proba(Xs), ref.predict_proba(data), atol=1e-9)
    jacobian = np.log(s).sum()
    np.testing.assert_allclose(scaled.score_samples(Xs) + jacobian, ref.score_samples(data))
    assert np.isfinite(scaled.bic(Xs)) and np.isfinite(scaled.aic(Xs))
    # draws: the unscaled model's, times s (the same normal draws, mapped)
    drawn, labels = scaled.sample(400, random_state=3)
    ref_drawn, ref_labels = ref.sample(400, random_state=3)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(drawn / s, ref_drawn, rtol=1e-7, atol=1e-7)
    loaded = gaussmix.load(scaled.save(Path(tmp_path) / "model.gmm"))
    assert loaded.get_params()["reg_covar"] == "auto"
    np.testing.assert_array_equal(loaded.predict(Xs), scaled.predict(Xs))
    np.testing.assert_allclose(loaded.score_samples(Xs), scaled.score_samples(Xs), rtol=1e-12)
    again, _ = loaded.sample(400, random_state=3)
    np.testing.assert_array_equal(again, drawn)  # both draw in the parameters' frame


# --------------------------------------------------------------------- the regularisation


def weighted_variances(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each column's variance over its observed entries, weighted (numpy's averages)."""
    out = []
    for column in X.T:
        seen = ~np.isnan(column)
        mean = np.average(column[seen], weights=w[seen])
        out.append(np.average((column[seen] - mean) ** 2, weights=w[seen]))
    return np.array(out)


@pytest.mark.parametrize("per_feature", [True, False])
def test_auto_is_a_share_of_the_weighted_observed_variances(rng, per_feature):
    X = rng.normal(size=(500, 3)) * [1e-120, 1.0, 1e80] + [5e-120, -3.0, 2e81]
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 2][::2] = 7e81  # half the rows constant in that column
    w = rng.uniform(0.0, 3.0, size=500)
    frame = Frame.from_data(X, w, missing="observed", per_feature=per_feature)
    reg = internal_reg("auto", frame, frame)
    variances = weighted_variances(X, w)
    if per_feature:  # in the caller's units: 1e-6 of each variance
        np.testing.assert_allclose(reg * frame.scale**2, RELATIVE_REG * variances, rtol=1e-12)
    else:  # one value: 1e-6 of the variances' mean
        assert np.ndim(reg) == 0
        expected = RELATIVE_REG * variances.mean()
        np.testing.assert_allclose(reg * frame.scale[0] ** 2, expected, rtol=1e-12)
    # an absolute value is that variance in the caller's units
    absolute = internal_reg(2e-3, frame, frame)
    np.testing.assert_allclose(absolute * frame.scale**2, 2e-3, rtol=1e-15)


def test_auto_scales_with_the_data_exactly(rng):
    """By powers of two, bit for bit; by any factor, to rounding."""
    X = rng.normal(size=(300, 3)) * [2.0, 0.1, 30.0]
    w = rng.uniform(0.5, 2.0, size=300)

    def user_reg(X):
        frame = Frame.from_data(X, w, per_feature=True)
        return internal_reg("auto", frame, frame) * frame.scale**2

    base = user_reg(X)
    two = np.array([2.0**-400, 2.0**300, 2.0**-3])
    np.testing.assert_array_equal(user_reg(X * two), base * two**2)
    s = np.array([1e-150, 1e150, 3.0])
    np.testing.assert_allclose(user_reg(X * s), base * s**2, rtol=1e-13)


@pytest.mark.parametrize("model", ["VVV", "EEE", "VVI", "VII", "EII"])
def test_one_component_covariance_is_the_scatter_plus_auto(rng, model):
    """One component: EM's fit is the sample covariance plus the regularisation, a closed
    form: 1e-6 of each feature's variance, or of their mean for a spherical model."""
    X = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 3)) * [1e-100, 1.0, 1e100]
    gm = GaussianMixture(1, covariance_type=model, n_init=1).fit(X)
    variances = X.var(axis=0)
    scatter = np.cov(X.T, bias=True)
    sd = np.sqrt(variances)
    if model in ("VVV", "EEE"):  # compared in units of the deviations: entries near 1
        got = np.reshape(gm.covariances_, (3, 3)) / np.outer(sd, sd)
        expected = (scatter + np.diag(RELATIVE_REG * variances)) / np.outer(sd, sd)
    elif model == "VVI":
        got = gm.covariances_[0] / variances
        expected = 1.0 + RELATIVE_REG
    else:  # one variance: the mean's share, added to the mean variance
        got = gm.covariances_ / variances.mean()
        expected = 1.0 + RELATIVE_REG
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_a_constant_feature_gets_the_absolute_floor(rng):
    """Zero variance: 1e-6 as an absolute value (nothing to be relative to)."""
    X = np.c_[rng.normal(size=200) * 1e-90, np.full(200, 4.0)]
    gm = GaussianMixture(1, covariance_type="VVI", n_init=1).fit(X)
    np.testing.assert_allclose(gm.covariances_[0, 1], RELATIVE_REG, rtol=1e-12)
    expected = (1 + RELATIVE_REG) * X[:, 0].var()
    np.testing.assert_allclose(gm.covariances_[0, 0], expected, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_spread_beyond_the_dtypes_range_gets_its_smallest_normal_number(dtype):
    """A column whose variance underflows (values 1e-300 apart in float64, 1e-30 in float32:
    variances near 1e-601 and 1e-61): the regularisation is floored at the dtype's smallest
    normal number, and the fit stays finite instead of failing."""
    tiny = np.finfo(dtype).tiny
    step = 1e-300 if dtype == np.float64 else 1e-30
    X = np.c_[np.zeros(10), np.arange(10.0)].astype(dtype)
    X[3, 0] = step
    gm = GaussianMixture(1, covariance_type="VVI", n_init=1).fit(X)
    assert gm.covariances_.dtype == dtype
    np.testing.assert_allclose(gm.covariances_[0, 0], tiny, rtol=1e-6)
    np.testing.assert_allclose(gm.covariances_[0, 1], (1 + RELATIVE_REG) * 8.25, rtol=1e-6)
    assert np.isfinite(gm.precisions_).all() and np.isfinite(gm.score_samples(X)).all()


# --------------------------------------------------------------------- the engine's frame


def test_per_feature_frame(rng):
    X = rng.normal(size=(1000, 4)) * [1e-300, 1e300, 3.0, 0.0] + [0.0, 1e300, -1.0, 5.0]
    frame = Frame.from_data(X, per_feature=True)
    top = np.abs(X).max(axis=0)
    sd = (X / top).std(axis=0) * top  # numpy's, without squares beyond float64's range
    # each scale the power of two nearest its feature's deviation (1 for a constant one)
    np.testing.assert_array_equal(frame.scale[:3], 2.0 ** np.round(np.log2(sd[:3])))
    assert frame.scale[3] == 1.0
    np.testing.assert_allclose(frame.variance[:3], (sd[:3] / frame.scale[:3]) ** 2, rtol=1e-12)
    assert frame.variance[3] == 0.0
    z = frame.to_internal(X)
    assert np.isfinite(z).all()
    assert (z[:, :3].std(axis=0) > 0.7).all() and (z[:, :3].std(axis=0) < 1.5).all()
    common = Frame.from_data(X)
    assert not common.per_feature and (common.scale == common.scale[0]).all()
    with pytest.raises(ValueError, match="one scale"):
        Frame(np.zeros(2), np.array([1.0, 2.0]))


@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_frame_maps_parameters_both_ways(references, model):
    """Caller's units -> internal frame -> caller's units, through the storage: exact (the
    scales are powers of two) but for the means' centring."""
    ref = references[model]
    family = get_family(model)
    per_feature = family.per_feature_equivariant
    scale = np.array([2.0**-300, 2.0**300, 0.5]) if per_feature else np.full(3, 2.0**-300)
    frame = Frame(np.array([1.0, -2.0, 3.0]), scale, per_feature)
    params = frame.from_user(
        ref.weights_, ref.means_, ref.covariances_, ref.precisions_cholesky_, family.storage
    )
    _, means, cov, chol = frame.to_user(params, family.storage)
    np.testing.assert_array_equal(cov, ref.covariances_)
    np.testing.assert_array_equal(chol, ref.precisions_cholesky_)
    np.testing.assert_allclose(means, ref.means_, rtol=1e-15, atol=1e-14)


# --------------------------------------------------------------------- kernels


@pytest.mark.parametrize("model", ["VVV", "EEE", "VVI"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_per_feature_pass_agrees_with_the_numpy_twin(rng, model, dtype):
    """A pass in a per-feature frame (columns 1e-12 to 1e12 apart): the fused kernel and the
    numpy kernels give the same log-densities, responsibilities and statistics."""
    X = (make_blobs(rng, n=3000, d=4, k=3)[0] * [1e-6, 1.0, 1e6, 3e-3]).astype(dtype)
    family = get_family(model)
    gm = GaussianMixture(3, covariance_type=model, n_init=1, random_state=0).fit(X)
    frame = Frame.from_data(X, per_feature=True)
    assert len(set(frame.scale)) == 4
    terms = gaussian_terms(gm._internal_params(frame), family)
    kw = {"resp": True, "log_density": True, "chunk_size": 700}
    fused = mixture_pass(X, terms, frame, **kw)
    with numpy_kernels():
        plain = mixture_pass(X, terms, frame, **kw)
    # the pooled statistics of a shared precision stay in numpy
    if gaussmix.engine.compiled_kernels() is not None and not family.moments.shared_precision:
        assert fused.kernel == "fused"
    assert plain.kernel != "fused"
    tol = 1e-10 if dtype == np.float64 else 1e-5
    size = np.abs(plain.log_density).max()
    np.testing.assert_allclose(fused.log_density, plain.log_density, rtol=0, atol=tol * size)
    np.testing.assert_allclose(fused.resp, plain.resp, atol=tol)
    np.testing.assert_allclose(fused.stats.N, plain.stats.N, rtol=tol)
    np.testing.assert_allclose(fused.stats.means(), plain.stats.means(), rtol=tol, atol=tol)
    np.testing.assert_allclose(fused.stats.scatter(), plain.stats.scatter(), rtol=tol, atol=tol)
    # and both are the model's own scores, in the caller's units
    np.testing.assert_allclose(plain.log_density, gm.score_samples(X), rtol=0, atol=tol * size)


# --------------------------------------------------------------------------- missing values


@pytest.fixture(scope="module")
def holes(data: np.ndarray) -> np.ndarray:
    """``data`` with a fifth of its values missing (NaN), a row with none observed."""
    X = data.copy()
    X[np.random.default_rng(5).random(X.shape) < 0.2] = np.nan
    X[7] = np.nan
    return X


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("model", ["VVV", "VVI", "EEE"])
def test_missing_values_per_feature_scaling_maps_the_fit(holes, model, compiled):
    """Rows with NaN on rescaled features: the pattern pass (fused ``marginal_chunk`` or its
    numpy twin) takes each pattern's observed features' scales, and the fit maps exactly as
    a complete one does, the Jacobian over each row's observed features only."""
    s = SCALES["mixed"]
    context = contextlib.nullcontext() if compiled else numpy_kernels()
    with context:
        ref = fit(model, holes)
        scaled = fit(model, holes * s)
        assert adjusted_rand_score(ref.predict(holes), scaled.predict(holes * s)) == 1.0
        assert scaled.n_iter_ == ref.n_iter_
        family = get_family(model)
        rtol = RTOL_ITERATIVE if family.iterative else RTOL
        np.testing.assert_allclose(scaled.means_ / s, ref.means_, rtol=rtol, atol=rtol)
        cov, _ = family.rescaled(scaled.covariances_, scaled.precisions_cholesky_, 1.0 / s)
        size = np.abs(ref.covariances_).max()
        np.testing.assert_allclose(cov, ref.covariances_, rtol=rtol, atol=rtol * size)
        jacobian = np.where(np.isnan(holes), 0.0, np.log(s)).sum(axis=1)
        np.testing.assert_allclose(
            scaled.score_samples(holes * s) + jacobian, ref.score_samples(holes),
            rtol=1e-9, atol=1e-9,
        )  # fmt: skip
        # imputation fills in the features' own units
        filled = scaled.impute(holes * s) / s
        np.testing.assert_allclose(filled, ref.impute(holes), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("model", ["VVV", "VVI"])
def test_marginal_densities_in_a_per_feature_frame_are_scipys(rng, model):
    """Features 1e-6 to 1e6 apart, a fifth of the values missing: each row's log-density,
    by the fused kernel and by numpy, is the mixture of the observed coordinates' marginal
    normal densities (scipy)."""
    scales = np.array([1e-6, 1.0, 1e6, 3e-3])
    X = make_blobs(rng, n=400, d=4, k=3)[0] * scales
    X[rng.random(X.shape) < 0.2] = np.nan
    gm = GaussianMixture(3, covariance_type=model, n_init=1, random_state=0).fit(X)
    cov = get_family(model).dense(gm.covariances_, 3, 4)
    # scipy's densities in units of the scales, then less the Jacobian of the observed ones
    # (scipy cannot factor covariances 1e24 apart)
    u = cov / scales[:, None] / scales[None, :]
    expected = np.empty(len(X))
    for i, row in enumerate(X):
        o = ~np.isnan(row)
        if not o.any():
            continue
        expected[i] = logsumexp([
            np.log(w) + multivariate_normal(m[o] / scales[o], c[np.ix_(o, o)]).logpdf(
                row[o] / scales[o]
            )
            for w, m, c in zip(gm.weights_, gm.means_, u, strict=True)
        ]) - np.log(scales[o]).sum()  # fmt: skip
    seen = ~np.isnan(X).all(axis=1)
    tol = 1e-8 * np.abs(expected).max()
    np.testing.assert_allclose(gm.score_samples(X)[seen], expected[seen], rtol=0, atol=tol)
    with numpy_kernels():
        plain = gm.score_samples(X)
    np.testing.assert_allclose(plain[seen], expected[seen], rtol=0, atol=tol)


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("model", ["VVV", "VVI", "EEE"])
def test_partial_fit_maps_with_the_features(data, model):
    """Stepwise updates with reg_covar='auto' (relative to the model's own variances, the
    same for a model and its rescaled twin): every update maps by ``s``."""
    s = SCALES["mixed"]
    ref = fit(model, data[:120], learning_offset=1.0)
    scaled = fit(model, data[:120] * s, learning_offset=1.0)
    family = get_family(model)
    rtol = RTOL_ITERATIVE if family.iterative else RTOL
    for batch in (data[120:180], data[180:181], data[181:]):
        ref.partial_fit(batch)
        scaled.partial_fit(batch * s)
        jacobian = np.log(s).sum()
        assert scaled.lower_bound_ + jacobian == pytest.approx(ref.lower_bound_, rel=1e-9)
        np.testing.assert_allclose(scaled.weights_, ref.weights_, rtol=rtol)
        np.testing.assert_allclose(scaled.means_ / s, ref.means_, rtol=rtol, atol=rtol)
        cov, _ = family.rescaled(scaled.covariances_, scaled.precisions_cholesky_, 1.0 / s)
        size = np.abs(ref.covariances_).max()
        np.testing.assert_allclose(cov, ref.covariances_, rtol=rtol, atol=rtol * size)


def test_partial_fit_auto_reads_the_models_variances(data):
    """The relative regulariser of an update is RELATIVE_REG times the model's variance of
    each feature (for a maximum-likelihood fit, the rows' variance plus the regulariser):
    the update from the model's own statistics gives its covariances back exactly."""
    gm = fit("VVV", data)
    var = np.diagonal(
        np.einsum("k,kij->ij", gm.weights_, gm.covariances_)
        + np.cov(gm.means_.T, aweights=gm.weights_, bias=True)
    )
    np.testing.assert_allclose(var, np.var(data, axis=0) * (1 + RELATIVE_REG), rtol=1e-9)
    frame = gm._prediction_frame()
    reg = internal_reg("auto", frame, gm._variance_frame()) * frame.scale**2
    np.testing.assert_allclose(reg, RELATIVE_REG * var, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("model", ["VVV", "VVI"])
def test_mini_batch_fit_maps_with_the_features(data, model):
    """Mini-batch EM (shuffled batches, stepwise updates) with the features rescaled: the
    same batches and updates, mapped by ``s``."""
    s = SCALES["mixed"]
    ref = fit(model, data, batch_size=60, max_iter=20)
    events: list[gaussmix.multistart.FitEvent] = []
    scaled = GaussianMixture(
        3, covariance_type=model, n_init=1, tol=1e-6, random_state=0, batch_size=60, max_iter=20
    ).fit(data * s, callback=events.append)
    # the epochs' reports are in the caller's units: the last is the fitted model
    assert events[-1].phase == "minibatch"
    np.testing.assert_allclose(events[-1].means, scaled.means_, rtol=1e-12)
    assert adjusted_rand_score(ref.predict(data), scaled.predict(data * s)) == 1.0
    np.testing.assert_allclose(scaled.means_ / s, ref.means_, rtol=RTOL, atol=RTOL)
    cov, _ = get_family(model).rescaled(scaled.covariances_, scaled.precisions_cholesky_, 1 / s)
    size = np.abs(ref.covariances_).max()
    np.testing.assert_allclose(cov, ref.covariances_, rtol=RTOL, atol=RTOL * size)


# --------------------------------------------------------------------------- Bayesian


@pytest.mark.parametrize(
    ("model", "s"),
    [("full", SCALES["mixed"]), ("diag", SCALES["mixed"]), ("tied", SCALES["huge"]),
     ("spherical", np.full(3, COMMON["tiny"]))],
)  # fmt: skip
def test_bayesian_fit_maps_with_the_features(data, model, s):
    """Variational Bayes with reg_covar='auto' and the data's priors: the Normal-Wishart
    update maps onto itself under a per-feature rescaling ('spherical': a common one), so
    the posterior maps by ``s``; the predictive density shifts by the Jacobian, and the lower
    bound by a constant (scikit-learn's bound leaves out the priors' normalisers, which
    depend on the units)."""
    params = {"covariance_type": model, "n_init": 1, "tol": 1e-8, "max_iter": 300,
              "random_state": 0, "reg_covar": "auto"}  # fmt: skip
    ref = gaussmix.BayesianGaussianMixture(4, **params).fit(data)
    scaled = gaussmix.BayesianGaussianMixture(4, **params).fit(data * s)
    assert scaled.n_iter_ == ref.n_iter_
    history = np.asarray(scaled.history_) - scaled.history_[0]
    np.testing.assert_allclose(history, np.asarray(ref.history_) - ref.history_[0], atol=1e-6)
    np.testing.assert_allclose(scaled.weights_, ref.weights_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(scaled.means_ / s, ref.means_, rtol=RTOL, atol=RTOL)
    np.testing.assert_allclose(scaled.mean_prior_ / s, ref.mean_prior_, rtol=RTOL)
    np.testing.assert_allclose(scaled.mean_precision_, ref.mean_precision_, rtol=RTOL)
    np.testing.assert_allclose(scaled.degrees_of_freedom_, ref.degrees_of_freedom_, rtol=RTOL)
    family = get_family(model)
    cov, _ = family.rescaled(scaled.covariances_, scaled.precisions_cholesky_, 1.0 / s)
    size = np.abs(ref.covariances_).max()
    np.testing.assert_allclose(cov, ref.covariances_, rtol=RTOL, atol=RTOL * size)
    np.testing.assert_allclose(
        scaled.score_samples(data * s) + np.log(s).sum(), ref.score_samples(data),
        rtol=1e-9, atol=1e-9,
    )  # fmt: skip
    assert (scaled.predict(data * s) == ref.predict(data)).all()


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_subnormal_data_fits_with_finite_parameters(cov):
    """Rows whose spread is subnormal (found by hypothesis in tests/test_properties.py):
    the starts' distances count such a spread as 1 instead of inverting it into an
    overflowing precision, and the fit's covariance stays at the regulariser's floor, the
    smallest normal float64.  The mean is the rows' mean."""
    X = np.zeros((8, 1))
    X[0, 0] = 2.22507386e-309
    gm = GaussianMixture(1, covariance_type=cov, random_state=0, max_iter=20).fit(X)
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.isfinite(getattr(gm, attr)).all(), attr
    assert gm.means_[0, 0] == pytest.approx(X.mean(), rel=1e-6)
    assert np.isfinite(gm.score_samples(X)).all()
