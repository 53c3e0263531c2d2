"""gaussmix.geometry: principal axes, projections and ellipses, against independent references."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.decomposition import PCA

from gaussmix.geometry import (
    PC_LABEL,
    Projection,
    data_pca,
    ellipse_axes,
    mixture_moments,
    mixture_pca,
    principal_axes,
)


def rotation(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def random_orthogonal(rng: np.random.Generator, d: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diagonal(r))


def anisotropic_data(rng: np.random.Generator, n: int, scales: list[float]) -> np.ndarray:
    """Rows with standard deviations ``scales`` along random orthogonal axes, off-centre."""
    d = len(scales)
    return (rng.normal(size=(n, d)) * scales) @ random_orthogonal(rng, d) + rng.normal(
        scale=5.0, size=d
    )


def random_covariances(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    A = rng.normal(size=(k, d, d))
    return A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d)


def sign_rule(axes: np.ndarray) -> np.ndarray:
    """Flip each row so that its largest loading in absolute value is positive."""
    largest = axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)]
    return axes * np.sign(largest)[:, None]


# ---------------------------------------------------------------------------- import


def test_imports_alone_without_optional_dependencies():
    code = (
        "import sys\n"
        "for name in ('matplotlib', 'playwright', 'pandas'):\n"
        "    sys.modules[name] = None\n"
        "import gaussmix.geometry\n"
        "loaded = {n for n, m in sys.modules.items() if m is not None}\n"
        "print(sorted(loaded & {'matplotlib', 'gaussmix.plot', 'gaussmix.report'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- principal axes


@pytest.mark.parametrize("d", [3, 5, 8])
def test_data_pca_matches_scikit_learn(rng, d):
    X = anisotropic_data(rng, 2000, [6.0, 3.0, *np.linspace(1.5, 0.2, d - 2)])
    projection = data_pca(X)
    pca = PCA(2).fit(X)

    np.testing.assert_allclose(projection.centre, pca.mean_, rtol=1e-12, atol=1e-12)
    # the same axes up to sign, then the sign fixed by the largest loading
    W = projection.components
    np.testing.assert_allclose(np.abs(W @ pca.components_.T), np.eye(2), atol=1e-9)
    np.testing.assert_allclose(W, sign_rule(pca.components_), atol=1e-9)
    assert np.all(W[np.arange(2), np.abs(W).argmax(axis=1)] > 0)
    np.testing.assert_allclose(W @ W.T, np.eye(2), atol=1e-12)

    ratio = projection.explained_variance_ratio
    assert ratio is not None
    np.testing.assert_allclose(ratio, pca.explained_variance_ratio_, rtol=1e-9)
    flips = np.sign(np.sum(W * pca.components_, axis=1))
    np.testing.assert_allclose(projection.points(X), pca.transform(X) * flips, atol=1e-9)


def test_principal_axes_match_numpy_eigh_and_ratios_sum_to_one(rng):
    d = 6
    S = random_covariances(rng, 1, d)[0]
    axes, ratio = principal_axes(S, n_axes=d)
    values, vectors = np.linalg.eigh(S)
    values, vectors = values[::-1], vectors[:, ::-1].T

    np.testing.assert_allclose(axes, sign_rule(vectors), atol=1e-10)
    np.testing.assert_allclose(axes @ S @ axes.T, np.diag(values), atol=1e-10 * values[0])
    np.testing.assert_allclose(ratio, values / np.trace(S), rtol=1e-10)
    assert ratio.sum() == pytest.approx(1.0, rel=1e-12)
    assert np.all(np.diff(ratio) <= 0)

    top, top_ratio = principal_axes(S, n_axes=2)
    np.testing.assert_array_equal(top, axes[:2])
    np.testing.assert_array_equal(top_ratio, ratio[:2])
    assert top_ratio.sum() < 1.0


def test_sign_rule_makes_the_axes_independent_of_the_eigensolver_sign(rng):
    # a permuted diagonal: the axes are coordinate vectors, and must point the + way
    S = np.diag([1.0, 9.0, 4.0, 0.25])
    axes, ratio = principal_axes(S, n_axes=3)
    np.testing.assert_array_equal(axes, np.eye(4)[[1, 2, 0]])
    np.testing.assert_allclose(ratio, np.array([9.0, 4.0, 1.0]) / 14.25)

    # a rotation of the data by -I leaves the covariance, hence the axes, unchanged,
    # and so does reordering the rows
    X = anisotropic_data(rng, 500, [4.0, 2.0, 1.0])
    np.testing.assert_allclose(
        data_pca(-X).components, data_pca(X).components, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        data_pca(X[rng.permutation(len(X))]).components, data_pca(X).components, atol=1e-10
    )


def test_principal_axes_of_a_zero_or_rounded_covariance():
    axes, ratio = principal_axes(np.zeros((3, 3)))
    np.testing.assert_array_equal(ratio, np.zeros(2))
    np.testing.assert_allclose(axes @ axes.T, np.eye(2), atol=1e-12)

    # a negative eigenvalue (round-off, or an indefinite estimate) counts as zero in the total
    S = np.diag([2.0, 1.0, -1e-3])
    _, ratio = principal_axes(S)
    np.testing.assert_array_equal(ratio, [2.0 / 3.0, 1.0 / 3.0])


def test_principal_axes_bad_input():
    with pytest.raises(ValueError, match="square"):
        principal_axes(np.ones((2, 3)))
    with pytest.raises(ValueError, match="n_axes"):
        principal_axes(np.eye(3), n_axes=4)
    with pytest.raises(ValueError, match="n_axes"):
        principal_axes(np.eye(3), n_axes=0)
    with pytest.raises(ValueError, match="two rows"):
        data_pca(np.ones((1, 3)))


# ---------------------------------------------------------------------------- projection


def test_labels_format_the_explained_share():
    S = np.diag([3.0, 1.0, 0.0, 0.0])
    assert Projection.principal(np.zeros(4), S).labels == (
        "PC1 (75.0% of variance)",
        "PC2 (25.0% of variance)",
    )
    assert PC_LABEL.format(number=1, percent=75.0) == "PC1 (75.0% of variance)"
    custom = Projection.principal(np.zeros(4), S, n_axes=1, label="axis {number}: {percent:.0f}")
    assert custom.labels == ("axis 1: 75",)


def test_identity_projection_changes_nothing(rng):
    X = rng.normal(size=(20, 2))
    covs = random_covariances(rng, 3, 2)
    projection = Projection.identity(["a", "b"])
    assert projection.is_identity and projection.labels == ("a", "b")
    np.testing.assert_array_equal(projection.points(X), X)
    np.testing.assert_array_equal(projection.covariances(covs), covs)


def test_projection_checks_its_shapes():
    with pytest.raises(ValueError, match="labels"):
        Projection(np.zeros(3), np.eye(3)[:2], ("PC1",))
    with pytest.raises(ValueError, match="centre"):
        Projection(np.zeros(2), np.eye(3)[:2], ("PC1", "PC2"))


def test_projected_covariances_are_the_covariances_of_projected_samples(rng):
    d, k = 5, 3
    means = rng.normal(size=(k, d))
    covs = random_covariances(rng, k, d)
    projection = data_pca(anisotropic_data(rng, 200, [3.0, 2.0, 1.0, 0.5, 0.2]))
    W = projection.components
    projected = projection.covariances(covs)

    # the closed form, component by component
    for j in range(k):
        np.testing.assert_allclose(projected[j], W @ covs[j] @ W.T, rtol=1e-12, atol=1e-12)

    # and what a large sample of each component shows once projected
    for j in range(k):
        Z = rng.multivariate_normal(means[j], covs[j], size=200_000)
        P = projection.points(Z)
        scale = np.sqrt(np.outer(np.diagonal(projected[j]), np.diagonal(projected[j])))
        np.testing.assert_allclose(np.cov(P, rowvar=False) / scale, projected[j] / scale, atol=0.01)
        np.testing.assert_allclose(
            P.mean(axis=0), projection.points(means[j : j + 1])[0], atol=0.02 * scale.max() ** 0.5
        )


# ---------------------------------------------------------------------------- mixtures


def test_mixture_moments_closed_form_and_sample(rng):
    d, k = 3, 4
    weights = rng.uniform(0.5, 2.0, size=k)  # not normalised on purpose
    means = rng.normal(scale=3.0, size=(k, d))
    covs = random_covariances(rng, k, d)
    mean, cov = mixture_moments(weights, means, covs)

    w = weights / weights.sum()
    expected_mean = sum(w[j] * means[j] for j in range(k))
    second = sum(w[j] * (covs[j] + np.outer(means[j], means[j])) for j in range(k))
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(cov, second - np.outer(expected_mean, expected_mean), atol=1e-10)

    counts = rng.multinomial(400_000, w)
    Z = np.concatenate(
        [rng.multivariate_normal(means[j], covs[j], size=counts[j]) for j in range(k)]
    )
    np.testing.assert_allclose(Z.mean(axis=0), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), cov, rtol=0.03, atol=0.05)

    projection = mixture_pca(weights, means, covs)
    axes, ratio = principal_axes(cov)
    np.testing.assert_array_equal(projection.centre, mean)
    np.testing.assert_array_equal(projection.components, axes)
    np.testing.assert_array_equal(projection.explained_variance_ratio, ratio)


# ---------------------------------------------------------------------------- ellipses


@pytest.mark.parametrize("theta", [0.0, 0.3, np.pi / 4, 1.2, 2.0, -0.7, np.pi - 0.05])
@pytest.mark.parametrize(("a", "b"), [(3.0, 1.0), (1.0, 0.2), (5.0, 4.9)])
def test_ellipse_axes_of_a_rotated_diagonal(theta, a, b):
    S = rotation(theta) @ np.diag([a**2, b**2]) @ rotation(theta).T
    got_a, got_b, angle = ellipse_axes(S)
    assert (got_a, got_b) == pytest.approx((a, b), rel=1e-10)
    assert -np.pi < angle <= np.pi
    # the major axis is defined up to a half turn
    assert np.sin(angle - theta) == pytest.approx(0.0, abs=1e-9)

    # the boundary a (cos t, sin t) rotated by angle has Mahalanobis radius 1 under S
    t = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    boundary = (rotation(angle) @ np.vstack([got_a * np.cos(t), got_b * np.sin(t)])).T
    maha = np.einsum("ni,ij,nj->n", boundary, np.linalg.inv(S), boundary)
    np.testing.assert_allclose(maha, 1.0, rtol=1e-9)


def test_ellipse_axes_of_axis_aligned_and_degenerate_covariances():
    a, b, angle = ellipse_axes(np.diag([1.0, 4.0]))
    assert (a, b) == (2.0, 1.0)
    assert abs(angle) == pytest.approx(np.pi / 2)

    a, b, angle = ellipse_axes(np.diag([4.0, 1.0]))
    assert (a, b) == (2.0, 1.0)
    assert np.sin(angle) == pytest.approx(0.0, abs=1e-15)

    a, b, _ = ellipse_axes(np.array([[1.0, 0.0], [0.0, -1e-18]]))  # round-off negative
    assert (a, b) == (1.0, 0.0)

    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        ellipse_axes(np.eye(3))


# ---------------------------------------------------------------------------- callers


def test_plots_and_report_share_the_projection(rng):
    pytest.importorskip("matplotlib")
    from gaussmix import GaussianMixture
    from gaussmix.plot import Projection as PlotProjection
    from gaussmix.plot import ellipse_geometry, pca_projection
    from gaussmix.report._display import projection_axes
    from gaussmix.report._encoding import DisplayFrame

    assert PlotProjection is Projection
    X = anisotropic_data(rng, 300, [4.0, 2.0, 1.0, 0.5])
    model = GaussianMixture(2, random_state=0).fit(X)
    plotted = pca_projection(model, X)
    frame = DisplayFrame.for_data(X)
    axes = projection_axes(X, ["a", "b", "c", "d"], frame)
    pcs = [a for a in axes if a["kind"] == "pc"]
    assert [a["label"] for a in axes if a["kind"] == "feature"] == ["a", "b", "c", "d"]
    # the report's axes, on frame coordinates, are the plots' principal axes
    vectors = np.array([a["vec"] for a in pcs[:2]])
    np.testing.assert_array_equal(vectors / frame.scale, plotted.components)
    shown = frame.to_frame(X) @ vectors.T + [a["offset"] for a in pcs[:2]]
    np.testing.assert_allclose(shown, plotted.points(X), atol=1e-12)
    assert plotted.labels[0].endswith("% var)")
    assert pcs[0]["label"].endswith("% of variance)")

    S = plotted.covariances(model.covariances_)[0]
    a, b, angle = ellipse_axes(S)
    assert ellipse_geometry(S, 2.0) == (4.0 * a, 4.0 * b, np.degrees(angle))
