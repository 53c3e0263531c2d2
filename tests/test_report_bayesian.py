"""The HTML report of a Bayesian mixture (``write_bayesian_report``, ``gaussmix report
--bayesian``): its embedded document against the fit, and the page in headless Chromium
(the helpers and the browser of ``tests/test_report.py``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import multivariate_t
from sklearn.exceptions import ConvergenceWarning

from gaussmix import BayesianGaussianMixture
from gaussmix.cli import main
from gaussmix.report import build_bayesian_report_html, write_bayesian_report
from gaussmix.report._encoding import decode_state

from ._data import make_blobs
from .test_report import (
    RTOL,
    assert_ellipses,
    assert_offline,
    browser,  # noqa: F401  (the module-scoped fixture)
    dense,
    drawn_points,
    frame_of,
    geometry,
    hover_point,
    open_page,
    payload,
)

#: the blobs' true number of groups; the fit may use up to K_MAX components
TRUE_K = 3
K_MAX = 10


def blobs(d: int, seed: int = 0) -> np.ndarray:
    X, _, _ = make_blobs(np.random.default_rng(seed), n=300, k=TRUE_K, d=d, spread=8.0)
    return np.asarray(X, np.float64)


def reference(X: np.ndarray, seed: int = 0, **kw: Any) -> BayesianGaussianMixture:
    """The fit the report makes (same estimator, same seed), made here independently."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return BayesianGaussianMixture(K_MAX, random_state=seed, **kw).fit(X)


@pytest.fixture(scope="module")
def two_d() -> tuple[np.ndarray, str, BayesianGaussianMixture]:
    X = blobs(2)
    return X, build_bayesian_report_html(X, n_components=K_MAX), reference(X)


def test_the_page_shows_the_effective_components(
    two_d: tuple[np.ndarray, str, BayesianGaussianMixture],
) -> None:
    X, html, model = two_d
    assert_offline(html)
    data = payload(html)
    shown = model.pruned()
    assert model.effective_n_components_ == TRUE_K  # well separated blobs: recovered
    (cand,) = data["candidates"]
    assert cand["k"] == TRUE_K and data["chosen"] == 0
    frame = frame_of(data["data"])
    w, mu, cov = decode_state(cand["state"], frame)
    np.testing.assert_allclose(w, shown.weights_, rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(mu, shown.means_, rtol=RTOL, atol=1e-4)
    np.testing.assert_allclose(cov, dense(shown), rtol=1e-4, atol=1e-6)
    # the page's Student-t components: scipy's multivariate t gives the predictive density
    t = cand["state"]["t"]
    density = sum(
        w[j] * multivariate_t(mu[j], t["spread"][j] * cov[j], df=t["dof"][j]).pdf(X)
        for j in range(TRUE_K)
    )
    np.testing.assert_allclose(np.log(density), shown.score_samples(X), rtol=1e-4)
    # the variational run: every component, the lower bound per row, never decreasing
    run = data["replays"]["starts"][0]["runs"][str(data["random_state"])]
    assert run["final"]["state"]["k"] == K_MAX
    assert run["final"]["ll"] == pytest.approx(model.lower_bound_ / len(X), rel=1e-12)
    full = [s["ll"] for s in run["steps"] if s["phase"] == "full"]
    assert np.all(np.diff(full) >= -1e-9 * np.abs(full[:-1]))
    assert data["criteria"] == [] and data["failures"] == []
    assert 'id="bayesian-note"' in html and f"{TRUE_K} of the {K_MAX} are effective" in html


def test_weight_prior_and_bad_input() -> None:
    X = blobs(2)
    html = build_bayesian_report_html(
        X, n_components=6, weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=0.01,
    )  # fmt: skip
    assert "a Dirichlet distribution" in html and "concentration 0.01" in html
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 missing values.*complete rows"):
        build_bayesian_report_html(X)
    with pytest.raises(ValueError, match="max_points"):
        build_bayesian_report_html(blobs(2), max_points=0)


def test_bayesian_report_in_chromium(
    browser: Any,  # noqa: F811
    two_d: tuple[np.ndarray, str, BayesianGaussianMixture],
    tmp_path: Path,
) -> None:
    _, html, model = two_d
    shown = model.pruned()
    path = tmp_path / "bayes.html"
    path.write_text(html, encoding="utf-8")
    page, errors = open_page(browser, path)
    # the effective components only, as ellipses of their posterior-mean covariances
    assert_ellipses(geometry(page, "main-plot"), shown.means_, dense(shown))
    assert page.locator("#main-legend li:not(.note)").count() == TRUE_K
    assert page.locator("#bayesian-note").is_visible()
    for part in ("#selection", "#failures", "#candidate-grid", "nav a[href='#selection']"):
        assert page.locator(part).is_hidden(), part
    assert page.locator("#em > h2").text_content() == "Variational inference, step by step"
    assert "lower bound per row" in (page.locator("#ll-plot").text_content() or "")
    # a point's log-density and memberships: the predictive density's
    data = payload(html)
    rows = data["data"]["rows"]
    drawn = drawn_points(data["data"])
    for index in (0, len(rows) // 2):
        info = hover_point(page, index)
        assert info["row"] == rows[index]
        expected = shown.score_samples(drawn[index : index + 1])[0]
        assert info["logp"] == pytest.approx(expected, rel=1e-4, abs=1e-4)
        assert len(info["p"]) == TRUE_K and sum(info["p"]) == pytest.approx(1, abs=1e-3)
    # the density view draws contours; the replay steps through every component
    page.locator("input[name='view-mode'][value='density']").check()
    assert page.locator("#main-plot path.contour").count() > 0
    page.locator("#em-last").click()
    assert len(geometry(page, "em-plot")) == K_MAX
    assert errors == []


@pytest.mark.parametrize("d", [1, 3])
def test_other_dimensions_in_chromium(browser: Any, d: int, tmp_path: Path) -> None:  # noqa: F811
    X = blobs(d, seed=d)
    path = write_bayesian_report(X, tmp_path / "bayes.html", n_components=6)
    page, errors = open_page(browser, path)
    k = payload(path.read_text(encoding="utf-8"))["candidates"][0]["k"]
    assert len(geometry(page, "main-plot")) == k == reference_k(X)
    page.locator("input[name='view-mode'][value='density']").check()
    assert errors == []


def reference_k(X: np.ndarray) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return BayesianGaussianMixture(6, random_state=0).fit(X).effective_n_components_


def test_cli_report_bayesian(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X = blobs(2)
    csv = tmp_path / "data.csv"
    np.savetxt(csv, X, delimiter=",", header="a,b", comments="")
    out = tmp_path / "r.html"
    args = ["report", str(csv), "--bayesian", "-k", str(K_MAX), "-o", str(out)]
    assert main([*args, "--weight-prior", "dirichlet_distribution"]) == 0
    assert f"Wrote the report to {out}" in capsys.readouterr().out
    data = payload(out.read_text(encoding="utf-8"))
    expected = reference(X, weight_concentration_prior_type="dirichlet_distribution")
    assert data["candidates"][0]["k"] == expected.effective_n_components_
    assert data["candidates"][0]["type"] == "full"  # the default with --bayesian
    assert data["columns"] == ["a", "b"]
    assert main([*args, "--force", "--covariance", "full,diag"]) == 1
    assert "--bayesian fits one covariance type" in capsys.readouterr().err
