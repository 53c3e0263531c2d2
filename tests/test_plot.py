"""gaussmix.plot: every function rendered headless, and what it drew checked."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.contour import ContourSet
from scipy.stats import multivariate_normal
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from gaussmix import (
    COVARIANCE_TYPES,
    MCLUST_MODELS,
    GaussianMixture,
    SelectionResult,
    select_model,
)
from gaussmix.plot import (
    ellipse_geometry,
    pca_projection,
    plot_anomalies,
    plot_convergence,
    plot_criteria,
    plot_density,
    plot_ellipses,
    plot_uncertainty,
)
from tests._data import make_blobs
from tests.conftest import SEED

K = 3


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    """X for d = 1, 2, 4 (three clusters each)."""
    rng = np.random.default_rng(SEED)
    return {d: make_blobs(rng, n=300, d=d, k=K, spread=5.0)[0] for d in (1, 2, 4)}


@pytest.fixture(scope="module")
def models(data):
    """A fitted model per (d, covariance_type)."""
    return {
        (d, cov): GaussianMixture(K, covariance_type=cov, n_init=2, random_state=0).fit(X)
        for d, X in data.items()
        for cov in COVARIANCE_TYPES
    }


def dense_covariances(model):
    """Dense (k, d, d) covariances, written out per type independently of the registry."""
    cov = np.asarray(model.covariances_)
    k, d = model.means_.shape
    if model.covariance_type == "full":
        return cov
    if model.covariance_type == "tied":
        return np.repeat(cov[None], k, axis=0)
    if model.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(d) * c for c in cov])


def ellipse_boundary(patch, n=64):
    """Points of the drawn ellipse: the unit circle through the patch's own transform."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return patch.get_patch_transform().transform(np.column_stack([np.cos(t), np.sin(t)]))


def reference_pca(X):
    pca = PCA(2).fit(X)
    return pca.mean_, pca.components_, pca.explained_variance_ratio_


# ---------------------------------------------------------------------------- import


def test_import_gaussmix_does_not_import_matplotlib():
    code = "import sys, gaussmix; sys.exit(1 if 'matplotlib' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_missing_matplotlib_names_the_extra():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "try:\n"
        "    import gaussmix.plot\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    sys.exit(3)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert 'pip install "gaussmix[plot]"' in out


# ---------------------------------------------------------------------------- ellipses


@pytest.mark.parametrize("d", [2, 4])
@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_ellipses_count_colours_and_geometry(data, models, tmp_path, d, cov):
    X, model = data[d], models[(d, cov)]
    n_std = (1, 2, 3)
    result = plot_ellipses(model, X, n_std=n_std)
    assert len(result.ellipses) == K * len(n_std) == len(result.ax.patches)
    np.testing.assert_array_equal(result.labels, model.predict(X))
    assert len(result.points.get_offsets()) == len(X)

    # the plane: identity for d = 2, otherwise the PCA of X (checked against scikit-learn)
    if d == 2:
        centre, W = np.zeros(2), np.eye(2)
        assert result.ax.get_xlabel() == "feature 0"
    else:
        centre, W, ratio = reference_pca(X)
        assert result.ax.get_xlabel().startswith("PC1 (")
        assert result.ax.get_ylabel().startswith("PC2 (")
        assert f"{100 * ratio[0]:.1f}% var" in result.ax.get_xlabel()
        # same axes up to sign
        np.testing.assert_allclose(np.abs(result.projection.components @ W.T), np.eye(2), atol=1e-8)
        W = result.projection.components
    np.testing.assert_allclose(
        result.points.get_offsets(), (X - X.mean(axis=0) * (d > 2)) @ W.T, atol=1e-8
    )

    # every drawn boundary point lies at Mahalanobis distance n_std under W S W^T
    covs = dense_covariances(model)
    for j in range(K):
        S = W @ covs[j] @ W.T
        mu = W @ (model.means_[j] - centre)
        prec = np.linalg.inv(S)
        for i, r in enumerate(n_std):
            patch = result.ellipses[j * len(n_std) + i]
            diff = ellipse_boundary(patch) - mu
            maha = np.sqrt(np.einsum("ni,ij,nj->n", diff, prec, diff))
            np.testing.assert_allclose(maha, r, rtol=1e-8)
    result.ax.figure.savefig(tmp_path / f"ellipses_{d}_{cov}.png")
    assert (tmp_path / f"ellipses_{d}_{cov}.png").stat().st_size > 0


def test_diagonal_ellipse_width_and_height(models):
    model = models[(2, "diag")]
    result = plot_ellipses(model, n_std=(1, 2.5))
    for j in range(K):
        var = model.covariances_[j]
        for i, r in enumerate((1, 2.5)):
            e = result.ellipses[j * 2 + i]
            expected = 2 * r * np.sqrt(var)
            if var[0] >= var[1]:  # major axis along x
                assert e.angle % 180 == pytest.approx(0, abs=1e-9) or e.angle % 180 == (
                    pytest.approx(180, abs=1e-9)
                )
                np.testing.assert_allclose([e.width, e.height], expected, rtol=1e-12)
            else:
                assert e.angle % 180 == pytest.approx(90, abs=1e-9)
                np.testing.assert_allclose([e.width, e.height], expected[::-1], rtol=1e-12)
            assert e.center == pytest.approx(tuple(model.means_[j]))


def test_ellipse_geometry_rotated():
    # covariance with eigenvalues 9 and 1 along the diagonals of the plane
    R = np.array([[1, -1], [1, 1]]) / np.sqrt(2)
    S = R @ np.diag([9.0, 1.0]) @ R.T
    width, height, angle = ellipse_geometry(S, 2)
    assert (width, height) == pytest.approx((12.0, 4.0))
    assert angle % 180 == pytest.approx(45.0)


def test_ellipses_without_data_use_the_mixture_pca(models):
    model = models[(4, "full")]
    result = plot_ellipses(model, n_std=(1,))
    assert result.points is None and result.labels is None
    assert len(result.ellipses) == K
    assert result.ax.get_xlabel().startswith("PC1")
    # the mixture's own covariance, estimated from a large sample
    Z, _ = model.sample(200_000, random_state=1)
    _, W, ratio = reference_pca(Z)
    np.testing.assert_allclose(np.abs(result.projection.components @ W.T), np.eye(2), atol=2e-2)
    np.testing.assert_allclose(result.projection.explained_variance_ratio, ratio, atol=1e-2)


def test_feature_names_label_the_axes(models):
    model = models[(2, "full")]
    named = GaussianMixture(K).set_params(**model.get_params())
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_", "n_features_in_"):
        setattr(named, attr, getattr(model, attr))
    named.feature_names_in_ = np.array(["spend", "visits"], dtype=object)
    ax = plot_ellipses(named).ax
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("spend", "visits")
    ax = plot_density(named, colorbar=False).ax
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("spend", "visits")


def test_ellipses_on_a_given_axes(data, models, tmp_path):
    fig, axes = plt.subplots(1, 2)
    r1 = plot_ellipses(models[(2, "tied")], data[2], ax=axes[0], n_std=(2,))
    r2 = plot_ellipses(models[(4, "spherical")], data[4], ax=axes[1])
    assert r1.ax is axes[0] and r2.ax is axes[1]
    assert len(axes[0].patches) == K and len(axes[1].patches) == 3 * K
    fig.savefig(tmp_path / "two.png")


def test_ellipses_bad_input(data, models):
    with pytest.raises(ValueError, match="plot_density"):
        plot_ellipses(models[(1, "full")], data[1])
    with pytest.raises(ValueError, match="n_std"):
        plot_ellipses(models[(2, "full")], n_std=())
    with pytest.raises(ValueError, match="n_std"):
        plot_ellipses(models[(2, "full")], n_std=(1, -2))
    with pytest.raises(ValueError, match="2 features"):
        plot_ellipses(models[(2, "full")], data[4])
    with pytest.raises(NotFittedError):
        plot_ellipses(GaussianMixture(2))


def test_works_with_scikit_learn_mixture(data):
    from sklearn.mixture import GaussianMixture as SkGM

    model = SkGM(K, covariance_type="diag", random_state=0).fit(data[4])
    result = plot_ellipses(model, data[4])
    assert len(result.ellipses) == 3 * K


# ---------------------------------------------------------------------------- criteria


@pytest.fixture(scope="module")
def selection(data):
    return select_model(data[2], range(1, 5), "all", random_state=0, n_init=2)


@pytest.mark.parametrize("criterion", ["both", "bic", "aic", "icl"])
def test_criteria_lines_and_best_marker(selection, tmp_path, criterion):
    result = plot_criteria(selection, criterion=criterion)
    shown = ["bic", "aic"] if criterion == "both" else [criterion]
    # "all": mclust's 14 models
    assert set(result.lines) == {(t, c) for t in MCLUST_MODELS for c in shown}
    for (t, c), line in result.lines.items():
        rows = [r for r in selection.rows if r["covariance_type"] == t]
        np.testing.assert_array_equal(line.get_xdata(), [r["n_components"] for r in rows])
        np.testing.assert_allclose(line.get_ydata(), [r[c] for r in rows])
    best = selection.best
    assert result.best is best
    mark = "bic" if criterion in ("both", "bic") else criterion
    assert result.best_marker.get_xdata()[0] == best["n_components"]
    assert result.best_marker.get_ydata()[0] == pytest.approx(best[mark])
    # the marked model is the minimum of the selection's criterion
    assert best["bic"] == min(r["bic"] for r in selection.rows)
    assert "number of components" in result.ax.get_xlabel()
    result.ax.figure.savefig(tmp_path / f"criteria_{criterion}.png")


def test_criteria_skip_failed_candidates(selection):
    rows = [dict(r) for r in selection.rows if r["covariance_type"] == "VVV"]
    rows[-1].update(log_likelihood=None, bic=None, aic=None, icl=None, error="degenerate")
    fake = SelectionResult(rows, "bic", 0, selection.models[0])
    result = plot_criteria(fake)
    assert len(result.lines[("VVV", "bic")].get_xdata()) == len(rows) - 1
    with pytest.raises(ValueError, match="criterion"):
        plot_criteria(selection, criterion="hqc")


# ---------------------------------------------------------------------------- convergence


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_convergence_line_is_history(models, tmp_path, cov):
    model = models[(4, cov)]
    result = plot_convergence(model)
    np.testing.assert_array_equal(result.line.get_ydata(), model.history_)
    np.testing.assert_array_equal(result.line.get_xdata(), np.arange(1, len(model.history_) + 1))
    assert result.ax.get_xlabel() == "EM iteration"
    result.ax.figure.savefig(tmp_path / f"convergence_{cov}.png")


def test_convergence_without_iterations(models):
    model = GaussianMixture(K).set_params(**models[(2, "full")].get_params())
    for attr in ("weights_", "means_", "covariances_"):
        setattr(model, attr, getattr(models[(2, "full")], attr))
    model.history_ = []
    with pytest.raises(ValueError, match="history_"):
        plot_convergence(model)


# ---------------------------------------------------------------------------- uncertainty


@pytest.mark.parametrize("d", [1, 2, 4])
@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_uncertainty(data, models, tmp_path, d, cov):
    X, model = data[d], models[(d, cov)]
    result = plot_uncertainty(model, X)
    expected = 1 - model.predict_proba(X).max(axis=1)
    np.testing.assert_allclose(result.uncertainty, expected)
    colours = np.asarray(result.points.get_array())
    np.testing.assert_allclose(np.sort(colours), np.sort(expected))
    assert result.points.get_clim() == pytest.approx((0.0, 1 - 1 / K))
    assert result.colorbar is not None
    if d == 4:
        assert result.ax.get_xlabel().startswith("PC1")
    if d == 1:  # uncertainty against the feature
        np.testing.assert_allclose(np.sort(result.points.get_offsets()[:, 1]), np.sort(expected))
    result.ax.figure.savefig(tmp_path / f"uncertainty_{d}_{cov}.png")


def test_uncertainty_needs_data(models):
    with pytest.raises(ValueError, match="X"):
        plot_uncertainty(models[(2, "full")], None)


# ---------------------------------------------------------------------------- density


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_density_2d_matches_score_samples(data, models, tmp_path, cov):
    X, model = data[2], models[(2, cov)]
    result = plot_density(model, X, grid_size=60)
    assert isinstance(result.contours, ContourSet)
    assert len(result.contours.levels) == 10
    assert sum(len(p.vertices) for p in result.contours.get_paths()) > 0
    assert result.colorbar is not None
    xx, yy, logd = result.grid
    pts = np.column_stack([xx.ravel(), yy.ravel()])[::97]
    np.testing.assert_allclose(logd.ravel()[::97], model.score_samples(pts), rtol=1e-9)
    assert len(result.points.get_offsets()) == len(X)
    result.ax.figure.savefig(tmp_path / f"density_{cov}.png")


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_density_projected(data, models, tmp_path, cov):
    X, model = data[4], models[(4, cov)]
    result = plot_density(model, X, grid_size=40, filled=True, levels=6)
    assert result.contours.filled and len(result.contours.levels) == 6
    assert result.ax.get_xlabel().startswith("PC1") and result.ax.get_ylabel().startswith("PC2")
    # the projected mixture, independently: scipy's normal with W S W^T around W (mu - c)
    c, W, _ = reference_pca(X)
    W = np.sign(np.sum(W * result.projection.components, axis=1))[:, None] * W
    covs = dense_covariances(model)
    xx, yy, logd = result.grid
    pts = np.column_stack([xx.ravel(), yy.ravel()])[::37]
    dens = sum(
        w * multivariate_normal(W @ (m - c), W @ S @ W.T).pdf(pts)
        for w, m, S in zip(model.weights_, model.means_, covs, strict=True)
    )
    np.testing.assert_allclose(logd.ravel()[::37], np.log(dens), rtol=1e-6)
    result.ax.figure.savefig(tmp_path / f"density_projected_{cov}.png")


def test_density_without_data_and_explicit_levels(models):
    model = models[(4, "diag")]
    result = plot_density(model, levels=[-12.0, -8.0, -6.0], colorbar=False, grid_size=30)
    assert result.points is None and result.colorbar is None
    np.testing.assert_allclose(result.contours.levels, [-12.0, -8.0, -6.0])
    with pytest.raises(ValueError, match="grid_size"):
        plot_density(model, grid_size=1)
    with pytest.raises(ValueError, match="levels"):
        plot_density(model, levels=0)


def test_density_1d_curve(data, models, tmp_path):
    X, model = data[1], models[(1, "full")]
    result = plot_density(model, X)
    assert result.contours is None and len(result.curves) == 1 + K
    x, total = (np.asarray(v) for v in (result.curves[0].get_xdata(), result.curves[0].get_ydata()))
    np.testing.assert_allclose(np.log(total), model.score_samples(x[:, None]), rtol=1e-9)
    parts = sum(np.asarray(c.get_ydata()) for c in result.curves[1:])
    np.testing.assert_allclose(parts, total, rtol=1e-9)
    assert result.ax.get_ylabel() == "density"
    result.ax.figure.savefig(tmp_path / "density_1d.png")


# ---------------------------------------------------------------------------- anomalies


@pytest.mark.parametrize("d", [1, 2, 4])
@pytest.mark.parametrize("quantile", [0.01, 0.1])
def test_anomalies_threshold(data, models, tmp_path, d, quantile):
    X, model = data[d], models[(d, "full")]
    result = plot_anomalies(model, X, quantile=quantile)
    scores = model.score_samples(X)
    assert result.threshold == pytest.approx(np.quantile(scores, quantile))
    np.testing.assert_allclose(result.threshold_line.get_xdata(), [result.threshold] * 2)
    assert result.n_flagged == int((scores <= result.threshold).sum()) == result.flagged.sum()
    assert result.n_flagged == pytest.approx(quantile * len(X), abs=1)
    assert f"{result.n_flagged} of {len(X)}" in result.text.get_text()
    kept, flagged = result.bars
    assert sum(p.get_height() for p in kept) == len(X) - result.n_flagged
    assert sum(p.get_height() for p in flagged) == result.n_flagged
    result.ax.figure.savefig(tmp_path / f"anomalies_{d}_{quantile}.png")


def test_anomalies_bad_quantile(data, models):
    for q in (0, 1, -0.5, 2):
        with pytest.raises(ValueError, match="quantile"):
            plot_anomalies(models[(2, "full")], data[2], quantile=q)


def test_all_plots_on_one_figure(data, models, selection, tmp_path):
    X, model = data[4], models[(4, "full")]
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    plot_ellipses(model, X, ax=axes[0, 0])
    plot_criteria(selection, ax=axes[0, 1])
    plot_convergence(model, ax=axes[0, 2])
    plot_uncertainty(model, X, ax=axes[1, 0])
    plot_density(model, X, ax=axes[1, 1], grid_size=50)
    plot_anomalies(model, X, ax=axes[1, 2])
    fig.savefig(tmp_path / "all.png")
    assert (tmp_path / "all.png").stat().st_size > 10_000
    assert pca_projection(model, X).labels[0].startswith("PC1")


def test_noise_rows_are_drawn_apart(tmp_path):
    rng = np.random.default_rng(SEED)
    X = make_blobs(rng, n=300, d=2, k=K, spread=5.0)[0]
    X = np.vstack([X, rng.uniform(X.min(0) - 3, X.max(0) + 3, size=(25, 2))])
    model = GaussianMixture(K, noise=True, n_init=2, random_state=0).fit(X)
    labels = model.predict(X)
    assert (labels == -1).any()
    result = plot_ellipses(model, X)
    np.testing.assert_array_equal(result.labels, labels)
    np.testing.assert_allclose(result.noise_points.get_offsets(), X[labels == -1])
    np.testing.assert_allclose(result.points.get_offsets(), X[labels >= 0])
    legend = [t.get_text() for t in result.ax.get_legend().get_texts()]
    assert legend[-1] == f"noise: weight {model.noise_weight_:.2f}"
    uncertainty = plot_uncertainty(model, X)
    assert uncertainty.points.get_clim() == pytest.approx((0.0, 1 - 1 / (K + 1)))
    np.testing.assert_allclose(uncertainty.uncertainty, 1 - model.predict_proba(X).max(axis=1))
    # the density drawn is the components' (their weights shares of all rows)
    density = plot_density(model, X, grid_size=30)
    xx, yy, logd = density.grid
    pts = np.column_stack([xx.ravel(), yy.ravel()])[::37]
    components = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(pts)
            for w, m, c in zip(model.weights_, model.means_, model.covariances_, strict=True)
        ]
    )
    np.testing.assert_allclose(logd.ravel()[::37], np.logaddexp.reduce(components, axis=1))
    result.ax.figure.savefig(tmp_path / "noise.png")
