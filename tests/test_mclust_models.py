"""mclust's 14 covariance models: M-steps, parameter counts, aliases, recovery, monotone EM.

Every model is ``Sigma_k = lambda_k D_k A_k D_kᵀ`` with the volume ``lambda``, the shape ``A``
(diagonal, determinant one) and the orientation ``D`` (orthogonal) each Equal across
components, Variable, or the Identity (Celeux & Govaert 1995).  The references here are built
from those three letters alone, independently of gaussmix's M-steps: a parameterisation of each
model's set of covariances (whose length is the model's number of free parameters), scipy's
optimiser of the expected complete-data log-likelihood over it, and a test of membership.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import linalg, optimize
from scipy.optimize import linear_sum_assignment

from gaussmix import GaussianMixture, load, select_model
from gaussmix.covariance import COVARIANCE_TYPES, MCLUST_MODELS, REGISTRY, get_family
from gaussmix.covariance.storage import DenseStorage, DiagonalStorage
from gaussmix.engine import Frame, mixture_pass, unit_terms
from tests._data import make_blobs

ITERATIVE = ("VEI", "VEE", "EVE", "VVE", "VEV")
ALIASES = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}
#: mclust's models other than the four with scikit-learn's names, for the tests that run
#: over ``COVARIANCE_TYPES`` to run on every model once
OTHER_MODELS = [m for m in MCLUST_MODELS if m not in ALIASES.values()]


# ---------------------------------------------------------------- the models from their letters


def n_free(model: str, k: int, d: int) -> int:
    """Free parameters from the letters: a volume (1 or k), a shape (d - 1 or k (d - 1), none
    for I), an orientation (d (d - 1) / 2 or k times that, none for I or a spherical shape)."""
    volume, shape, orientation = model
    count = {"E": 1, "V": k}[volume]
    count += {"E": d - 1, "V": k * (d - 1), "I": 0}[shape]
    if shape != "I":
        count += {"E": d * (d - 1) // 2, "V": k * d * (d - 1) // 2, "I": 0}[orientation]
    return count


def compose(model: str, theta: np.ndarray, k: int, d: int) -> np.ndarray:
    """Dense covariances (k, d, d) of ``model`` from an unconstrained parameter vector: log
    volumes, log shapes (the last one minus the sum of the others), and orientations as
    Cayley transforms ``(I - A)^-1 (I + A)`` of skew-symmetric matrices ``A`` (every rotation
    but those with an eigenvalue -1: a dense subset, so the same infimum)."""
    volume, shape, orientation = model
    pos = 0

    def take(m: int) -> np.ndarray:
        nonlocal pos
        pos += m
        return theta[pos - m : pos]

    log_volume = np.broadcast_to(take(1 if volume == "E" else k), (k,))
    log_shape = np.zeros((k, d))
    if shape != "I":
        m = 1 if shape == "E" else k
        free = take(m * (d - 1)).reshape(m, d - 1)
        log_shape[:] = np.concatenate([free, -free.sum(axis=1, keepdims=True)], axis=1)
    rotations = np.broadcast_to(np.eye(d), (k, d, d))
    if shape != "I" and orientation != "I":
        m = 1 if orientation == "E" else k
        iu = np.triu_indices(d, 1)
        mats = []
        for angles in take(m * len(iu[0])).reshape(m, -1):
            skew = np.zeros((d, d))
            skew[iu] = angles
            mats.append(np.linalg.solve(np.eye(d) - skew + skew.T, np.eye(d) + skew - skew.T))
        rotations = np.broadcast_to(np.stack(mats), (k, d, d))
    assert pos == theta.size
    eig = np.exp(log_volume[:, None] + log_shape)
    return np.einsum("kai,ki,kbi->kab", rotations, eig, rotations)


def in_model(model: str, dense: np.ndarray, rtol: float = 1e-7) -> bool:
    """Whether the covariances satisfy the model's constraints (not derived from gaussmix)."""
    volume, shape, orientation = model
    d = dense.shape[-1]
    scale = np.abs(dense).max()
    ok = bool(np.allclose(dense, np.swapaxes(dense, 1, 2), atol=rtol * scale))
    vols = np.exp(np.linalg.slogdet(dense)[1] / d)
    if volume == "E":
        ok &= bool(np.allclose(vols, vols[0], rtol=rtol))
    normalised = dense / vols[:, None, None]
    eig = np.sort(np.linalg.eigvalsh(normalised), axis=1)
    if shape == "I":
        ok &= bool(np.allclose(normalised, np.eye(d), atol=rtol))
    elif shape == "E":
        ok &= bool(np.allclose(eig, eig[0], rtol=rtol, atol=rtol))
    if orientation == "I":
        ok &= bool(np.allclose(dense * (1 - np.eye(d)), 0.0, atol=rtol * scale))
    elif orientation == "E":  # a common eigenbasis: the matrices commute
        for a, b in itertools.combinations(normalised, 2):
            ok &= bool(np.allclose(a @ b, b @ a, atol=rtol * np.abs(a @ b).max()))
        if shape == "E":
            ok &= bool(np.allclose(normalised, normalised[0], atol=rtol))
    return ok


def objective(nk: np.ndarray, scatter: np.ndarray, dense: np.ndarray) -> float:
    """``sum_k n_k (log det Sigma_k + tr(S_k Sigma_k^-1))``: minus twice the expected
    complete-data log-likelihood, up to a constant."""
    _, logdet = np.linalg.slogdet(dense)
    traces = np.einsum("kab,kba->k", scatter, np.linalg.inv(dense))
    return float(nk @ (logdet + traces))


def data(rng: np.random.Generator, n: int = 400, d: int = 3, k: int = 3):
    centres = rng.normal(scale=3.0, size=(k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    R = rng.dirichlet(np.ones(k) * 0.5, size=n)
    return X, R


def scatters(X: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nk = R.sum(axis=0)
    own = np.stack([np.cov(X.T, aweights=R[:, j], bias=True) for j in range(R.shape[1])])
    return nk, own


def m_step(name: str, X: np.ndarray, R: np.ndarray, reg: float = 0.0, previous=None):
    family = get_family(name)
    k, d = R.shape[1], X.shape[1]
    frame = Frame(np.zeros(d), 1.0)
    terms = unit_terms(family.moments, np.zeros((k, d)))
    stats = mixture_pass(X, terms, frame, given=lambda rows: R[rows]).stats
    return family.dense(family.estimate(stats, reg, previous), k, d)


# ---------------------------------------------------------------- registry and counts


def test_registry_holds_the_14_models_and_the_four_aliases():
    assert set(MCLUST_MODELS) == {
        a + b + c for a in "EV" for b in "EVI" for c in "EVI" if not (b == "I" and c != "I")
    } | {"EII", "VII"}
    assert len(MCLUST_MODELS) == 14 and COVARIANCE_TYPES == tuple(ALIASES)
    assert list(REGISTRY) == [*COVARIANCE_TYPES, *MCLUST_MODELS]
    for name, family in REGISTRY.items():
        assert family.name == name
        assert family.model in MCLUST_MODELS
    for alias, model in ALIASES.items():
        assert type(REGISTRY[alias]) is type(REGISTRY[model])
        assert REGISTRY[alias].model == model and REGISTRY[alias] is not REGISTRY[model]


@pytest.mark.parametrize("name", MCLUST_MODELS)
def test_parameter_counts_follow_the_letters(name):
    family = get_family(name)
    for k, d in itertools.product((1, 2, 3, 7), (1, 2, 3, 6)):
        assert family.n_parameters(k, d) == n_free(name, k, d), (k, d)


# R mclust 6.0.0: mapply(nVarParams, mclust.options("emModelNames"), d = d, G = G)
MCLUST_COUNTS = {
    (4, 3): (1, 4, 3, 6, 9, 12, 6, 9, 12, 15, 15, 18, 21, 24),
    (4, 5): (1, 4, 5, 8, 17, 20, 15, 18, 27, 30, 45, 48, 57, 60),
    (1, 3): (1, 1, 3, 3, 3, 3, 6, 6, 6, 6, 6, 6, 6, 6),
}


@pytest.mark.parametrize(("k", "d"), list(MCLUST_COUNTS))
def test_parameter_counts_equal_mclusts(k, d):
    ours = tuple(get_family(m).n_parameters(k, d) for m in MCLUST_MODELS)
    assert ours == MCLUST_COUNTS[k, d]


# ---------------------------------------------------------------- the M-steps


@pytest.mark.parametrize(
    ("name", "k", "d"),
    # an odd and an even d for the orientation's rotation rounds; the closed forms are also
    # checked against their formulas in tests/test_covariance_contract.py
    [(name, 3, 3) for name in MCLUST_MODELS] + [(name, 2, 4) for name in ITERATIVE],
)
def test_m_step_matches_a_numerical_optimiser(name, k, d, rng):
    """scipy's optimiser over the model's parameterisation finds nothing better than the
    M-step, whose covariances belong to the model."""
    X, R = data(rng, d=d, k=k)
    nk, own = scatters(X, R)
    ours = m_step(name, X, R)
    assert in_model(name, ours)
    best = objective(nk, own, ours)
    p = n_free(name, k, d)

    def f(theta):
        return objective(nk, own, compose(name, theta, k, d)) / nk.sum()

    starts = [np.zeros(p), rng.normal(scale=0.5, size=p)]
    found = min(optimize.minimize(f, s, method="BFGS", options={"gtol": 1e-6}).fun for s in starts)
    assert best / nk.sum() <= found + 1e-9
    # and the optimiser reaches the M-step's value (the parameterisation is the whole model)
    assert found <= best / nk.sum() + 1e-6


@pytest.mark.parametrize("name", ITERATIVE)
def test_iterative_m_step_never_ends_above_the_previous_covariances(name, rng):
    """From any covariances of the model (the M-step of other data), the M-step's objective
    is at most theirs: the guarantee behind EM's monotone log-likelihood."""
    X, R = data(rng)
    nk, own = scatters(X, R)
    family = get_family(name)
    k, d = R.shape[1], X.shape[1]
    for trial in range(6):
        Xo, Ro = data(np.random.default_rng(trial))
        previous = storage_form(name, m_step(name, Xo, Ro))
        new = m_step(name, X, R, previous=previous)
        assert in_model(name, new)
        before = objective(nk, own, family.dense(previous, k, d))
        assert objective(nk, own, new) <= before + 1e-12 * abs(before)


@pytest.mark.parametrize("name", MCLUST_MODELS)
def test_reg_covar_is_the_m_step_of_regularised_scatters(name, rng):
    """reg_covar keeps the constraint: the estimate is the model's maximiser for scatters
    ``S_k + reg I`` (checked against the optimiser), and the covariances stay in the model."""
    X, R = data(rng, d=2)
    k, d = R.shape[1], X.shape[1]
    reg = 0.3
    ours = m_step(name, X, R, reg=reg)
    assert in_model(name, ours)
    nk, own = scatters(X, R)
    shifted = own + reg * np.eye(d)
    p = n_free(name, k, d)
    found = optimize.minimize(
        lambda t: objective(nk, shifted, compose(name, t, k, d)) / nk.sum(),
        np.zeros(p),
        method="BFGS",
        options={"gtol": 1e-6},
    ).fun
    assert objective(nk, shifted, ours) / nk.sum() <= found + 1e-9
    if name in ("EII", "VII", "EEI", "VVI", "EEE", "EEV", "VVV"):  # linear in the scatters
        np.testing.assert_allclose(ours, m_step(name, X, R) + reg * np.eye(d), rtol=1e-9)


@pytest.mark.parametrize("name", MCLUST_MODELS)
def test_empty_component_keeps_the_estimate_finite(name, rng):
    X, R = data(rng)
    R = np.column_stack([R, np.zeros(len(R))])
    dense = m_step(name, X, R, reg=1e-6)
    assert np.isfinite(dense).all()
    assert np.all(np.linalg.eigvalsh(dense) > 0)
    # the other components' shared parts are those of the model without it
    np.testing.assert_allclose(dense[:3], m_step(name, X, R[:, :3], reg=1e-6), rtol=1e-7)


# ---------------------------------------------------------------- fits


@pytest.mark.parametrize("alias", COVARIANCE_TYPES)
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_aliases_fit_bit_for_bit_like_scikit_learns_names(alias, init, rng):
    X, _, _ = make_blobs(rng, n=500, d=3, k=3, spread=3.0)
    fits = [
        GaussianMixture(3, covariance_type=name, init_params=init, random_state=1).fit(X)
        for name in (alias, ALIASES[alias])
    ]
    a, b = fits
    assert (a.covariance_type, b.covariance_type) == (alias, ALIASES[alias])
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_", "history_"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert a.bic(X) == b.bic(X) and a.n_parameters() == b.n_parameters()


def true_covariances(name: str, d: int) -> np.ndarray:
    """Three well-conditioned covariances of the model (dense), made from its letters."""
    volume, shape, orientation = name
    volumes = np.array([1.0, 2.5, 0.5]) if volume == "V" else np.ones(3)
    shapes = np.array([[3.0, 1.0, 1 / 3], [1 / 3, 3.0, 1.0], [1.0, 1 / 3, 3.0]])[:, :d]
    shapes /= np.exp(np.log(shapes).mean(axis=1, keepdims=True))
    if shape == "E":
        shapes[:] = shapes[0]
    elif shape == "I":
        shapes[:] = 1.0
    upper = np.triu(np.ones((d, d)), 1)
    rot = [linalg.expm(angle * (upper - upper.T)) for angle in (0.5, 1.2, -0.8)]
    rotations = np.stack(rot) if orientation == "V" else np.stack([rot[0]] * 3)
    if orientation == "I":
        rotations = np.broadcast_to(np.eye(d), (3, d, d))
    dense = np.einsum("kai,ki,kbi->kab", rotations, volumes[:, None] * shapes, rotations)
    assert in_model(name, dense)
    return dense


def storage_form(name: str, dense: np.ndarray) -> np.ndarray:
    """Dense covariances in the model's storage layout."""
    storage = get_family(name).storage
    if isinstance(storage, DenseStorage):
        return dense[0] if storage.shared else dense
    assert isinstance(storage, DiagonalStorage)
    return dense[:, 0, 0].copy() if storage.isotropic else np.diagonal(dense, 0, 1, 2).copy()


@pytest.mark.parametrize("name", MCLUST_MODELS)
def test_recovers_parameters_of_data_from_each_model(name):
    d, n = 3, 20_000
    means = np.array([[0.0, 0.0, 0.0], [9.0, 1.0, -2.0], [2.0, 9.0, 4.0]])
    weights = np.array([0.5, 0.3, 0.2])
    dense = true_covariances(name, d)
    family = get_family(name)
    truth = GaussianMixture(3, covariance_type=name)
    truth.weights_, truth.means_ = weights, means
    truth.covariances_ = storage_form(name, dense)
    truth.precisions_cholesky_ = family.precisions_cholesky(truth.covariances_)[0]
    X, _ = truth.sample(n, random_state=11)
    gm = GaussianMixture(3, covariance_type=name, random_state=0).fit(X)
    assert gm.converged_
    cost = ((gm.means_[:, None, :] - means[None]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    order = rows[np.argsort(cols)]
    np.testing.assert_allclose(gm.weights_[order], weights, atol=0.02)
    np.testing.assert_allclose(gm.means_[order], means, atol=0.1)
    fitted = family.dense(gm.covariances_, 3, d)[order]
    assert in_model(name, fitted)
    np.testing.assert_allclose(fitted, dense, atol=0.12, rtol=0.08)
    # the truth's log-likelihood is no better than the fit's
    assert gm.score(X) >= truth.score(X) - 1e-9


@pytest.mark.parametrize("name", MCLUST_MODELS)
def test_saved_model_round_trips_its_name(name, rng, tmp_path):
    X, _, _ = make_blobs(rng, n=300, d=3, k=2)
    gm = GaussianMixture(2, covariance_type=name, random_state=0).fit(X)
    path = tmp_path / f"{name}.gmm"
    gm.save(path)
    back = load(path)
    assert back.covariance_type == name
    np.testing.assert_array_equal(back.covariances_, gm.covariances_)
    np.testing.assert_allclose(back.score_samples(X), gm.score_samples(X), rtol=1e-12)


def test_alias_name_round_trips_through_a_saved_model(rng, tmp_path):
    X, _, _ = make_blobs(rng, n=300, d=2, k=2)
    for name in ("full", "VVV"):
        GaussianMixture(2, covariance_type=name, random_state=0).fit(X).save(tmp_path / name)
        assert load(tmp_path / name).covariance_type == name


def dense_from_storage(name: str, cov: np.ndarray, k: int, d: int) -> np.ndarray:
    """Dense covariances from the storage layout, written out here (not ``family.dense``)."""
    storage = get_family(name).storage
    if isinstance(storage, DenseStorage):
        return np.repeat(cov[None], k, axis=0) if storage.shared else cov
    if storage.isotropic:
        return cov[:, None, None] * np.eye(d)
    return np.stack([np.diag(c) for c in cov])


@pytest.mark.parametrize("name", MCLUST_MODELS)
def test_plots_draw_every_model(name, rng, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gaussmix.plot import plot_ellipses
    from tests.test_plot import ellipse_boundary

    X, _, _ = make_blobs(rng, n=300, d=3, k=3)
    gm = GaussianMixture(3, covariance_type=name, random_state=0).fit(X)
    result = plot_ellipses(gm, X, n_std=(2,))
    assert len(result.ellipses) == 3
    W = result.projection.components
    centre = X.mean(axis=0)
    dense = dense_from_storage(name, gm.covariances_, 3, 3)
    for j, patch in enumerate(result.ellipses):  # the boundary at Mahalanobis distance 2
        S = W @ dense[j] @ W.T
        diff = ellipse_boundary(patch) - W @ (gm.means_[j] - centre)
        maha = np.sqrt(np.einsum("ni,ij,nj->n", diff, np.linalg.inv(S), diff))
        np.testing.assert_allclose(maha, 2.0, rtol=1e-8)
    result.ax.figure.savefig(tmp_path / f"{name}.png")
    plt.close("all")


@pytest.mark.parametrize("name", MCLUST_MODELS)
def test_report_handles_every_model(name, rng):
    from gaussmix.report import build_report_html
    from tests.test_report import payload

    X, _, _ = make_blobs(rng, n=200, d=2, k=2)
    html = build_report_html(X, n_components=[2], covariance_types=[name], random_state=1)
    data = payload(html)
    chosen = data["candidates"][data["chosen"]]
    assert chosen["type"] == name and chosen["k"] == 2
    assert [(c["k"], c["type"]) for c in data["candidates"]] == [(2, name)]


# ---------------------------------------------------------------- ICL


def test_icl_is_bic_plus_twice_the_classification_cost(rng):
    """ICL-BIC as mclust computes it (``icl.Mclust`` in mclust 6.0.0: ``bic + 2 sum(C *
    log(z))`` with ``C`` the most probable component's indicator), on gaussmix's sign."""
    X, _, _ = make_blobs(rng, n=400, d=2, k=3, spread=2.0)
    gm = GaussianMixture(3, covariance_type="VEV", random_state=0).fit(X)
    z = gm.predict_proba(X)
    cost = -np.sum(np.log(z[np.arange(len(z)), z.argmax(axis=1)]))
    assert cost > 0
    np.testing.assert_allclose(gm.icl(X), gm.bic(X) + 2 * cost, rtol=1e-12)
    # between BIC and BIC plus twice the soft classification entropy
    entropy = -np.sum(z * np.log(np.where(z > 0, z, 1.0)))
    assert gm.bic(X) < gm.icl(X) <= gm.bic(X) + 2 * entropy
    # one component: nothing to classify, ICL is BIC
    one = GaussianMixture(1, covariance_type="VEV").fit(X)
    assert one.icl(X) == pytest.approx(one.bic(X), rel=1e-14)


def test_selection_reports_icl_and_chooses_by_it(rng):
    X, _, _ = make_blobs(rng, n=300, d=2, k=2, spread=5.0)
    result = select_model(X, [1, 2, 3], ["EII", "VEV"], criterion="icl", random_state=0)
    for row, model in zip(result.rows, result.models, strict=True):
        assert model is not None
        assert row["icl"] == pytest.approx(model.icl(X), rel=1e-10)
        assert row["icl"] >= row["bic"] - 1e-9
    assert result.best["icl"] == min(r["icl"] for r in result.rows)
    assert "ICL" in str(result)
