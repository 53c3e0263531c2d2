"""The Bayesian mixture (variational inference): scikit-learn's ``BayesianGaussianMixture`` as
the reference, scipy's Student-t for the predictive density, and invariants.

scikit-learn is started from the same responsibilities as gaussmix by its own hook: a
subclass whose ``_initialize_parameters`` hands ``_initialize`` the one-hot responsibilities
of each row's nearest given mean, which is what ``means_init`` makes gaussmix start from.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBayesian

from gaussmix import BayesianGaussianMixture, GaussianMixture, ModelFileError, load
from gaussmix.cli import main
from gaussmix.covariance import MCLUST_MODELS, get_family
from gaussmix.engine import Frame, PassTerms, mixture_pass
from gaussmix.io import FORMAT_VERSION
from gaussmix.model_reader import read_model_file
from gaussmix.posterior import CONJUGATE_MODELS

from ._data import make_blobs
from .test_io import rewrite

TYPES = ("full", "tied", "diag", "spherical")
PRIORS = ("dirichlet_process", "dirichlet_distribution")
NON_CONJUGATE = [m for m in MCLUST_MODELS if m not in CONJUGATE_MODELS]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class FromGivenMeans(SkBayesian):
    """scikit-learn's Bayesian mixture started from the hard responsibilities of each row's
    nearest mean in ``start_means``, in units of each feature's standard deviation but for
    'spherical' (gaussmix's start: no rescaling of one feature changes it)."""

    def __init__(self, *, start_means: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.start_means = start_means

    def _initialize_parameters(self, X: Any, random_state: Any, xp: Any = None) -> None:
        unit = 1.0 if self.covariance_type == "spherical" else X.std(axis=0)
        distance = (((X[:, None, :] - self.start_means[None]) / unit) ** 2).sum(axis=2)
        self._initialize(X, np.eye(self.n_components)[distance.argmin(axis=1)])


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """600 rows of 3 clusters in 3-d, off the origin and not unit-scaled, and 5 start means."""
    rng = np.random.default_rng(7)
    X, _, _ = make_blobs(rng, n=600, d=3, k=3, spread=4.0)
    X = 3.0 * X + np.array([10.0, -5.0, 2.0])
    return X, X[rng.choice(len(X), 5, replace=False)]


@pytest.fixture(scope="module")
def separated() -> np.ndarray:
    """Three well-separated clusters of 300 rows in 2-d."""
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    return np.concatenate([rng.normal(c, 1.0, size=(300, 2)) for c in centres])


# --------------------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("covariance_type", TYPES)
def test_agrees_with_scikit_learn_from_the_same_start(
    blobs: tuple[np.ndarray, np.ndarray], covariance_type: str, prior: str
) -> None:
    """Same priors, same starting responsibilities, 12 iterations: the lower bound after
    every iteration to 1e-8 relative, and the posterior and predictions."""
    X, start = blobs
    common = dict(
        n_components=5, covariance_type=covariance_type, weight_concentration_prior_type=prior,
        max_iter=12, tol=0.0,
    )  # fmt: skip
    ours = BayesianGaussianMixture(means_init=start, **common).fit(X)
    ref = FromGivenMeans(start_means=start, **common).fit(X)
    np.testing.assert_allclose(ours.history_, np.ravel(ref.lower_bounds_), rtol=1e-8)
    assert ours.lower_bound_ == pytest.approx(float(np.ravel(ref.lower_bound_)[0]), rel=1e-8)
    assert ours.n_iter_ == ref.n_iter_ == 12
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                 "precisions_", "mean_precision_", "degrees_of_freedom_", "mean_prior_",
                 "covariance_prior_"):  # fmt: skip
        np.testing.assert_allclose(
            getattr(ours, name), getattr(ref, name), rtol=1e-8, atol=1e-12, err_msg=name
        )
    np.testing.assert_allclose(ours.weight_concentration_, ref.weight_concentration_, rtol=1e-8)
    for name in ("weight_concentration_prior_", "mean_precision_prior_",
                 "degrees_of_freedom_prior_"):  # fmt: skip
        assert getattr(ours, name) == pytest.approx(getattr(ref, name), rel=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    # scikit-learn's score_samples under its own name
    np.testing.assert_allclose(ours.expected_log_likelihood(X), ref.score_samples(X), rtol=1e-9)


def test_lower_bound_never_decreases(separated: np.ndarray) -> None:
    """Without reg_covar the iteration is exact coordinate ascent: the bound never drops by
    more than rounding; with it, by no more than its second-order effect."""
    for prior in PRIORS:
        for covariance_type in TYPES:
            for reg, slack in ((0.0, 1e-12), (1e-6, 1e-10)):
                model = BayesianGaussianMixture(
                    8, covariance_type=covariance_type, weight_concentration_prior_type=prior,
                    reg_covar=reg, n_init=1, init_params="random", max_iter=60, tol=0.0,
                    random_state=1,
                ).fit(separated)  # fmt: skip
                history = np.asarray(model.history_)
                drops = -np.diff(history) / np.abs(history[1:])
                assert drops.max() <= slack, (prior, covariance_type, reg, drops.max())


# --------------------------------------------------------------------------- effective components


@pytest.mark.parametrize("prior", PRIORS)
def test_three_clusters_give_three_effective_components(separated: np.ndarray, prior: str) -> None:
    model = BayesianGaussianMixture(10, weight_concentration_prior_type=prior, random_state=0).fit(
        separated
    )
    assert model.effective_n_components_ == 3
    kept = model.effective_components_
    np.testing.assert_allclose(np.sort(model.weights_[kept]), [1 / 3] * 3, atol=0.01)
    # every true centre has an effective component on it
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    distance = np.linalg.norm(model.means_[kept][:, None] - centres[None], axis=2)
    assert distance.min(axis=0).max() < 0.3
    pruned = model.pruned()
    assert pruned.n_components == 3
    np.testing.assert_array_equal(pruned.means_, model.means_[kept])
    assert pruned.weights_.sum() == pytest.approx(1.0)
    if prior == "dirichlet_distribution":  # the kept weights' posterior, renormalised
        alpha = model.weight_concentration_[kept]
        np.testing.assert_allclose(pruned.weights_, alpha / alpha.sum(), rtol=1e-12)
    # the vanished components carried little of the predictive density
    diff = np.abs(pruned.score_samples(separated) - model.score_samples(separated))
    assert np.median(diff) < 0.01


# --------------------------------------------------------------------------- predictive density


@pytest.mark.parametrize("covariance_type", TYPES)
def test_predictive_density_is_scipys_student_t_mixture(
    blobs: tuple[np.ndarray, np.ndarray], covariance_type: str
) -> None:
    X, start = blobs
    model = BayesianGaussianMixture(
        5, covariance_type=covariance_type, means_init=start, max_iter=5
    ).fit(X[:40])  # few rows: few degrees of freedom, far from Gaussian
    k, d = model.means_.shape
    dense = get_family(covariance_type).dense(model.covariances_, k, d)
    nu = np.broadcast_to(model.degrees_of_freedom_, (k,))
    beta = model.mean_precision_
    parts = [
        np.log(model.weights_[j])
        + stats.multivariate_t(
            model.means_[j],
            dense[j] * nu[j] * (1 + beta[j]) / (beta[j] * (nu[j] - d + 1)),
            df=nu[j] - d + 1,
        ).logpdf(X)
        for j in range(k)
    ]
    np.testing.assert_allclose(model.score_samples(X), logsumexp(parts, axis=0), rtol=1e-11)
    assert model.score(X) == pytest.approx(np.mean(model.score_samples(X)), rel=1e-12)
    # Jensen: the expected log-likelihood is below the predictive log-density
    assert np.all(model.expected_log_likelihood(X) < model.score_samples(X))
    weights, means, scales, dof = model.predictive_parameters()
    np.testing.assert_array_equal(weights, model.weights_)
    np.testing.assert_array_equal(means, model.means_)
    np.testing.assert_allclose(dof, nu - d + 1)
    np.testing.assert_allclose(scales[0], dense[0] * nu[0] * (1 + beta[0]) / (beta[0] * dof[0]))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_predictive_density_integrates_to_one(covariance_type: str) -> None:
    rng = np.random.default_rng(11)
    X = np.concatenate([rng.normal(c, 1.0, size=(8, 2)) for c in ([0, 0], [4, 1])])
    # one dimension: adaptive quadrature over the real line
    model = BayesianGaussianMixture(3, covariance_type=covariance_type, random_state=0)
    model.fit(X[:, :1])
    total, _ = integrate.quad(
        lambda x: float(np.exp(model.score_samples(np.array([[x]]))[0])), -np.inf, np.inf,
        epsabs=1e-12, epsrel=1e-10,
    )  # fmt: skip
    assert total == pytest.approx(1.0, abs=1e-8)
    # two dimensions: x = c + s tan(u) maps the plane onto a square (heavy tails included),
    # integrated by the midpoint rule
    model.fit(X)
    m = 801
    u = (np.arange(m) + 0.5) / m * np.pi - np.pi / 2
    c, s = X.mean(axis=0), X.std(axis=0)
    xx, yy = np.meshgrid(c[0] + s[0] * np.tan(u), c[1] + s[1] * np.tan(u))
    jacobian = np.outer(1 / np.cos(u) ** 2, 1 / np.cos(u) ** 2) * s.prod() * (np.pi / m) ** 2
    density = np.exp(model.score_samples(np.column_stack([xx.ravel(), yy.ravel()])))
    assert (density.reshape(xx.shape) * jacobian).sum() == pytest.approx(1.0, abs=1e-4)


def test_predictive_density_approaches_maximum_likelihood() -> None:
    """As the rows grow, the posterior concentrates: the Student-t components tend to the
    maximum-likelihood Gaussians (their difference shrinks about as 1 / n)."""
    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 0.0], [6.0, 2.0]])
    test = np.concatenate([rng.normal(c, 1.0, size=(200, 2)) for c in centres])
    gaps = []
    for n in (100, 1_000, 10_000):
        X = np.concatenate([rng.normal(c, 1.0, size=(n // 2, 2)) for c in centres])
        vb = BayesianGaussianMixture(
            2, means_init=centres, weight_concentration_prior_type="dirichlet_distribution",
            tol=1e-8, max_iter=500,
        ).fit(X)  # fmt: skip
        ml = GaussianMixture(2, means_init=centres, tol=1e-10, max_iter=500).fit(X)
        gaps.append(np.abs(vb.score_samples(test) - ml.score_samples(test)).mean())
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < gaps[0] / 20 and gaps[2] < 5e-3


def test_student_t_terms_in_every_kernel(rng: np.random.Generator) -> None:
    """The engine's Student-t components: both numpy kernels agree with scipy, whatever the
    chunk size (the fused kernel leaves them to numpy)."""
    X = rng.normal(size=(300, 3)) * 2.0 + 1.0
    frame = Frame.from_data(X)
    k, d = 3, 3
    means = rng.normal(size=(k, d))
    factors = np.triu(rng.normal(size=(k, d, d)) * 0.3) + np.eye(d)[None] * 1.5
    dof = np.array([1.5, 4.0, 30.0])
    constant = rng.normal(size=k)
    terms = PassTerms(get_family("full").moments, means, factors, constant, np.ones(k) / k, dof)
    z = frame.to_internal(X)
    y = np.einsum("kid,kde->kie", z[None] - means[:, None], factors)
    quad = np.einsum("kie,kie->ki", y, y)
    logp = constant[:, None] - 0.5 * (dof + d)[:, None] * np.log1p(quad / dof[:, None])
    expected = logsumexp(logp, axis=0) - frame.log_scale
    for kernel in ("expanded", "direct", "auto"):
        for chunk in (None, 37):
            result = mixture_pass(
                X, terms, frame, kernel=kernel, chunk_size=chunk, stats=False, log_density=True
            )
            np.testing.assert_allclose(result.log_density, expected, rtol=1e-11)


# --------------------------------------------------------------------------- the estimator


@pytest.mark.parametrize("covariance_type", NON_CONJUGATE)
def test_models_without_a_conjugate_prior_are_refused(
    separated: np.ndarray, covariance_type: str
) -> None:
    with pytest.raises(ValueError, match=f"{covariance_type!r} has no conjugate") as err:
        BayesianGaussianMixture(2, covariance_type=covariance_type).fit(separated)
    assert "'full' (VVV)" in str(err.value) and "GaussianMixture" in str(err.value)


@pytest.mark.parametrize(("name", "sklearn_name"), list(CONJUGATE_MODELS.items()))
def test_mclust_names_of_the_conjugate_models(
    blobs: tuple[np.ndarray, np.ndarray], name: str, sklearn_name: str
) -> None:
    X, start = blobs
    a = BayesianGaussianMixture(5, covariance_type=name, means_init=start, max_iter=5).fit(X)
    b = BayesianGaussianMixture(5, covariance_type=sklearn_name, means_init=start, max_iter=5)
    b.fit(X)
    assert a.covariance_type == name
    np.testing.assert_array_equal(a.covariances_, b.covariances_)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"degrees_of_freedom_prior": 1.5}, "greater than n_features - 1 = 2"),
        ({"covariance_prior": np.eye(2)}, "shape (3, 3)"),
        ({"covariance_prior": -np.eye(3)}, "not positive-definite"),
        ({"covariance_prior": [[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]]}, "not symmetric"),
        ({"covariance_type": "diag", "covariance_prior": [1.0, -1.0, 1.0]}, "must be positive"),
        ({"covariance_type": "spherical", "covariance_prior": [1.0, 2.0]}, "a float"),
        ({"mean_prior": [0.0, 1.0]}, "mean_prior must have shape (3,)"),
        ({"weight_concentration_prior": 0.0}, "finite real number > 0"),
        ({"mean_precision_prior": -1.0}, "finite real number > 0"),
        ({"weight_concentration_prior_type": "dirichlet"}, "'dirichlet_process'"),
        ({"means_init": np.zeros((2, 3))}, "means_init must have shape (5, 3)"),
    ],
)
def test_bad_parameters_are_named(
    blobs: tuple[np.ndarray, np.ndarray], params: dict[str, Any], fragment: str
) -> None:
    X, _ = blobs
    with pytest.raises((ValueError, TypeError)) as err:
        BayesianGaussianMixture(5, **params).fit(X)
    assert fragment in str(err.value)


def test_given_priors_are_used_as_given(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, start = blobs
    common = dict(
        n_components=5, covariance_type="diag", max_iter=4, tol=0.0, mean_prior=[1.0, 2.0, 3.0],
        covariance_prior=[2.0, 3.0, 4.0], degrees_of_freedom_prior=5.5,
        weight_concentration_prior=0.5, mean_precision_prior=0.1,
    )  # fmt: skip
    ours = BayesianGaussianMixture(means_init=start, **common).fit(X)
    ref = FromGivenMeans(start_means=start, **common).fit(X)
    np.testing.assert_array_equal(ours.mean_prior_, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ours.covariance_prior_, [2.0, 3.0, 4.0])
    np.testing.assert_allclose(ours.history_, ref.lower_bounds_, rtol=1e-8)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=1e-9)


def test_weights_count_as_repeated_rows(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, start = blobs
    counts = np.random.default_rng(0).integers(0, 4, size=len(X))
    params = dict(means_init=start, max_iter=8, tol=0.0)
    repeated = BayesianGaussianMixture(5, **params).fit(X.repeat(counts, axis=0))
    weighted = BayesianGaussianMixture(5, **params).fit(X, sample_weight=counts)
    np.testing.assert_allclose(weighted.history_, repeated.history_, rtol=1e-9)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-9)
    np.testing.assert_allclose(weighted.covariance_prior_, repeated.covariance_prior_, rtol=1e-9)


def test_warm_start_continues_the_posterior(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, start = blobs
    whole = BayesianGaussianMixture(5, means_init=start, max_iter=10, tol=0.0).fit(X)
    model = BayesianGaussianMixture(5, means_init=start, max_iter=4, tol=0.0).fit(X)
    model.set_params(warm_start=True, max_iter=6)
    model.fit(X)
    np.testing.assert_allclose(model.history_, whole.history_[4:], rtol=1e-10)
    np.testing.assert_allclose(model.means_, whole.means_, rtol=1e-10)


def test_float32_input_keeps_float32_estimates(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, start = blobs
    model = BayesianGaussianMixture(5, means_init=start, max_iter=10, tol=0.0)
    model.fit(X.astype(np.float32))
    reference = BayesianGaussianMixture(5, means_init=start, max_iter=10, tol=0.0).fit(X)
    assert model.means_.dtype == model.covariances_.dtype == np.float32
    assert model.score_samples(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(model.history_, reference.history_, rtol=1e-5)


# --------------------------------------------------------------------------- saved models


@pytest.mark.parametrize("covariance_type", TYPES)
def test_saved_and_loaded(
    tmp_path: Path, blobs: tuple[np.ndarray, np.ndarray], covariance_type: str
) -> None:
    X, start = blobs
    model = BayesianGaussianMixture(
        5, covariance_type=covariance_type, means_init=start, max_iter=20,
        weight_concentration_prior_type="dirichlet_distribution", mean_precision_prior=0.5,
    ).fit(X)  # fmt: skip
    loaded = load(model.save(tmp_path / "vb.gmm"))
    assert type(loaded) is BayesianGaussianMixture
    assert loaded.get_params()["mean_precision_prior"] == 0.5
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                 "weight_concentration_", "mean_precision_", "degrees_of_freedom_",
                 "mean_prior_", "covariance_prior_", "means_init"):  # fmt: skip
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name), err_msg=name)
    assert type(loaded.degrees_of_freedom_) is type(model.degrees_of_freedom_)
    assert loaded.history_ == model.history_
    assert loaded.effective_n_components_ == model.effective_n_components_
    np.testing.assert_allclose(loaded.score_samples(X), model.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-12)
    assert read_model_file(tmp_path / "vb.gmm").header["format_version"] == FORMAT_VERSION == 3


def test_save_prunes_on_request(tmp_path: Path, separated: np.ndarray) -> None:
    model = BayesianGaussianMixture(8, random_state=0).fit(separated)
    loaded = load(model.save(tmp_path / "pruned.gmm", prune=True))
    assert loaded.n_components == model.effective_n_components_ == 3
    np.testing.assert_allclose(loaded.score_samples(separated), model.pruned().score_samples(
        separated), rtol=1e-12)  # fmt: skip
    assert loaded.get_params()["weight_concentration_prior"] == pytest.approx(1 / 8)
    # a refit of the pruned model's parameters fits three components
    refit = BayesianGaussianMixture(**loaded.get_params()).fit(separated)
    assert refit.effective_n_components_ == 3


def test_edited_posterior_is_refused(tmp_path: Path, separated: np.ndarray) -> None:
    model = BayesianGaussianMixture(4, random_state=0).fit(separated)
    path = model.save(tmp_path / "vb.gmm")
    concentration = np.array(model.weight_concentration_)
    concentration[0, ::-1] = concentration[0].copy()
    buffer = io.BytesIO()
    np.save(buffer, concentration)
    rewrite(path, arrays={"weight_concentration_": buffer.getvalue()})
    with pytest.raises(ModelFileError, match="not the expected weights"):
        load(path)
    model.save(path)
    rewrite(path, edit_json=lambda h: h["posterior"].update(weight_concentration_prior=-1))
    with pytest.raises(ModelFileError, match="positive"):
        load(path)


# --------------------------------------------------------------------------- command line


def test_command_line_fits_a_bayesian_mixture(
    tmp_path: Path, separated: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.npy"
    np.save(data, separated)
    assert main(["fit", str(data), "--bayesian", "-k", "10", "-o", str(tmp_path / "a.gmm")]) == 0
    out = capsys.readouterr().out
    assert "at most 10 components" in out and "3 effective components" in out
    model = load(tmp_path / "a.gmm")
    assert isinstance(model, BayesianGaussianMixture) and model.n_components == 10
    assert model.weight_concentration_prior_type == "dirichlet_process"
    argv = ["fit", str(data), "--bayesian", "-k", "2..8", "--covariance", "diag", "--prune",
            "--weight-prior", "dirichlet_distribution", "-o", str(tmp_path / "b.gmm")]  # fmt: skip
    assert main(argv) == 0
    pruned = load(tmp_path / "b.gmm")
    assert pruned.n_components == 3 and pruned.covariance_type == "diag"
    assert pruned.weight_concentration_prior_type == "dirichlet_distribution"
    assert main(["score", str(tmp_path / "b.gmm"), str(data), "-o", str(tmp_path / "s.csv")]) == 0


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--prune"], "add --bayesian"),
        (["--bayesian", "--covariance", "full,diag"], "one covariance type"),
        (["--bayesian", "--covariance", "VEV"], "no conjugate"),
        (["--bayesian", "--batch-size", "100"], "--batch-size is not available with --bayesian"),
        (["--bayesian", "--out-of-core"], "--out-of-core is not available with --bayesian"),
    ],
)
def test_command_line_bayesian_errors(
    tmp_path: Path, separated: np.ndarray, capsys: pytest.CaptureFixture[str],
    extra: list[str], fragment: str,
) -> None:  # fmt: skip
    data = tmp_path / "data.npy"
    np.save(data, separated)
    assert main(["fit", str(data), "-k", "3", *extra, "-o", str(tmp_path / "m.gmm")]) != 0
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "m.gmm").exists()


# --------------------------------------------------------------------------- plots


def test_plots_draw_the_effective_components_and_the_predictive_density(
    separated: np.ndarray,
) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gaussmix.plot import plot_convergence, plot_density, plot_ellipses

    model = BayesianGaussianMixture(6, random_state=0).fit(separated)
    try:
        drawn = plot_ellipses(model, separated, n_std=(1, 2))
        assert len(drawn.ellipses) == 2 * model.effective_n_components_
        density = plot_density(model, grid_size=30)
        xx, yy, logd = density.grid
        points = np.column_stack([xx.ravel(), yy.ravel()])
        np.testing.assert_allclose(logd.ravel(), model.score_samples(points), rtol=1e-9)
        assert plot_convergence(model).ax.get_ylabel() == "lower bound"
    finally:
        plt.close("all")


# --------------------------------------------------------------------------- Dask


def test_dask_input_fits_and_predicts_on_the_cluster(
    dask_client: Any, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    da = pytest.importorskip("dask.array")
    X, start = blobs
    lazy = da.from_array(X, chunks=150)
    params = dict(n_components=5, means_init=start, max_iter=10, tol=0.0)
    on_cluster = BayesianGaussianMixture(**params).fit(lazy)
    in_memory = BayesianGaussianMixture(**params).fit(X)
    np.testing.assert_allclose(on_cluster.history_, in_memory.history_, rtol=1e-10)
    np.testing.assert_allclose(on_cluster.means_, in_memory.means_, rtol=1e-10)
    np.testing.assert_allclose(
        on_cluster.covariance_prior_, in_memory.covariance_prior_, rtol=1e-12
    )
    scores = on_cluster.score_samples(lazy)
    assert isinstance(scores, da.Array)
    np.testing.assert_allclose(scores.compute(), in_memory.score_samples(X), rtol=1e-9)
    np.testing.assert_allclose(
        on_cluster.predict_proba(lazy).compute(), in_memory.predict_proba(X), atol=1e-9
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert on_cluster.score(lazy) == pytest.approx(in_memory.score(X), rel=1e-10)
