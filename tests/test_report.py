"""The HTML report: its embedded data, that it is offline, and how it behaves in Chromium.

The browser tests drive Debian's Chromium (``GAUSSMIX_CHROMIUM``, default
``/usr/bin/chromium``; ``make chromium`` installs it) through Playwright, which never
downloads a browser of its own here.  Screenshots go to ``GAUSSMIX_ARTIFACTS`` (default: the
test's temporary directory).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gaussmix import GaussianMixture, select_model
from gaussmix.datasets import load_faithful
from gaussmix.multistart import FitEvent
from gaussmix.report import build_report_html, write_report
from gaussmix.report._payload import retained_run

from ._data import make_blobs

CHROMIUM = os.environ.get("GAUSSMIX_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DATA_RE = re.compile(r'<script type="application/json" id="gm-data">(.*?)</script>', re.S)
MAX_BYTES = 1_500_000


def payload(html: str) -> dict[str, Any]:
    """The JSON document embedded in the page."""
    match = DATA_RE.search(html)
    assert match is not None, "the page has no embedded data"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def decode(step: dict[str, Any], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Component index and (hundredths of) probability of each shown point at one step."""
    z, p = step["z"], step["p"]
    labels = np.array([int(z[i : i + width], 36) for i in range(0, len(z), width)])
    proba = np.array([int(p[i : i + 2]) for i in range(0, len(p), 2)]) / 100
    return labels, proba


def assert_offline(html: str) -> None:
    """No URL the browser could fetch: no remote src/href, no external style or script."""
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?(?!#)""", html, re.I)
    assert "<link" not in html.lower() and "@import" not in html
    assert not re.search(r"url\((?!#)", html)


@pytest.fixture(scope="module")
def faithful() -> tuple[np.ndarray, list[str], str]:
    X, columns = load_faithful()
    return X, columns, build_report_html(X, columns=columns)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    path = Path(os.environ.get("GAUSSMIX_ARTIFACTS") or tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------ the page's content


def test_faithful_page_is_offline_and_small(faithful: tuple[Any, Any, str]) -> None:
    _, _, html = faithful
    assert_offline(html)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert len(html.encode()) < 200_000
    for anchor in ('id="em-plot"', 'id="em-step"', 'id="em-play"', 'id="anomaly"'):
        assert anchor in html
    for section in ("Model selection", "Fitted parameters", "Least likely rows", "Data"):
        assert f"<h2>{section}</h2>" in html


def test_faithful_payload_matches_the_selected_model(faithful: tuple[Any, Any, str]) -> None:
    X, columns, html = faithful
    data = payload(html)
    result = select_model(X, range(1, 7), "all", random_state=0)
    k, ct = result.best["n_components"], result.best["covariance_type"]
    assert data["chosen"]["k"] == k and data["chosen"]["type"] == ct
    assert data["view"] == "features" and data["labels"] == columns
    assert len(data["selection"]["rows"]) == len(result.rows) == 6 * 14  # "all": 14 models
    assert data["selection"]["best"] == result.best_index

    model = GaussianMixture(k, covariance_type=ct, random_state=0).fit(X)
    np.testing.assert_allclose(model.means_, result.best_model.means_)
    steps = data["steps"]
    assert steps[-1]["phase"] == "fitted"
    assert {s["phase"] for s in steps[:-1]} <= {"short", "full"}
    # the kept start's log-likelihoods end with the model's history_
    lls = [s["ll"] for s in steps[:-1]]
    np.testing.assert_allclose(lls[-len(model.history_) :], model.history_, rtol=1e-7)
    np.testing.assert_allclose(steps[-1]["w"], model.weights_, atol=1e-4)
    # the last step's colours are the model's predictions, probabilities its maxima
    labels, proba = decode(steps[-1], data["code_width"])
    assert len(labels) == len(proba) == len(X) == len(data["points"]["x"])
    exact = model.predict_proba(X)
    clear = exact.max(axis=1) > 0.51
    np.testing.assert_array_equal(labels[clear], model.predict(X)[clear])
    np.testing.assert_allclose(proba, np.minimum(exact.max(axis=1), 0.99), atol=0.0051)
    # iterations differ: EM moved the components
    assert steps[0]["g"] != steps[-1]["g"]
    # anomaly counts at every quantile of score_samples
    scores = model.score_samples(X)
    for step, permille in enumerate(data["anomaly"]["permille"]):
        expected = np.sum(scores < np.quantile(scores, permille / 1000))
        assert data["anomaly"]["count"][step] == expected
    assert data["anomaly"]["count"][0] == 0


@pytest.mark.parametrize("d", [1, 2, 4])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_each_dimension_and_covariance_type(
    rng: np.random.Generator, d: int, covariance_type: str
) -> None:
    X, _, _ = make_blobs(rng, n=300, d=d, k=2)
    html = build_report_html(
        X, n_components=[2], covariance_types=[covariance_type], random_state=1
    )
    assert_offline(html)
    assert len(html.encode()) < 250_000
    data = payload(html)
    assert data["chosen"] == {**data["chosen"], "k": 2, "type": covariance_type}
    assert data["d"] == d and data["columns"] == [f"x{j}" for j in range(d)]
    view = {1: "density", 2: "features", 4: "pca"}[d]
    assert data["view"] == view
    if d == 4:
        assert re.fullmatch(r"PC1 \(\d+\.\d% of variance\)", data["labels"][0])
        assert 0 < sum(data["explained"]) <= 1.0001
    geometry_len = 2 if d == 1 else 5
    for step in data["steps"]:
        assert len(step["w"]) == len(step["g"]) == 2
        assert all(len(g) == geometry_len for g in step["g"])
        assert len(step["z"]) == 300 and len(step["p"]) == 600
    if d == 1:
        assert len(data["density"]["heights"]) + 1 == len(data["density"]["edges"])


def test_large_data_is_subsampled_and_size_bounded(rng: np.random.Generator) -> None:
    # overlapping clusters: many EM iterations, the worst case for the page's size
    X, _, _ = make_blobs(rng, n=6000, d=4, k=4, spread=1.2)
    html = build_report_html(X, n_components=[4], covariance_types=["full"], max_points=2000)
    data = payload(html)
    index = data["points"]["index"]
    assert len(index) == 2000 and index == sorted(set(index)) and index[-1] < 6000
    assert len(html.encode()) < MAX_BYTES
    # each EM step costs about 3 bytes per point: even the longest fit (max_iter=100 on all
    # rows after 20 short-run iterations, and the fitted step) stays under MAX_BYTES
    sizes = [len(json.dumps(step, separators=(",", ":"))) for step in data["steps"]]
    assert max(sizes) < 3 * 2000 + 500
    assert len(html.encode()) - sum(sizes) + 121 * (3 * 2000 + 500) < MAX_BYTES
    small = build_report_html(X, n_components=[4], covariance_types=["full"], max_points=100)
    assert len(payload(small)["points"]["x"]) == 100
    assert len(small) < len(html)


def test_write_report_atomic_and_deterministic(tmp_path: Path) -> None:
    X, columns = load_faithful()
    target = tmp_path / "report.html"
    target.write_text("old")
    kwargs: dict[str, Any] = {"n_components": [2, 3], "covariance_types": ["full", "diag"]}
    written = write_report(X, target, columns=columns, **kwargs)
    assert written == target and target.read_text(encoding="utf-8").startswith("<!DOCTYPE")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temp file left
    assert target.read_text(encoding="utf-8") == build_report_html(X, columns=columns, **kwargs)


def test_names_are_escaped() -> None:
    X, _ = load_faithful()
    evil = ["</script><script>alert(1)</script>", "a & <b>"]
    html = build_report_html(X, columns=evil, n_components=[2], covariance_types=["full"])
    assert "<script>alert(1)" not in html and "<b>" not in html
    assert payload(html)["columns"] == evil
    assert "a &amp; &lt;b&gt;" in html


def test_bad_arguments() -> None:
    X, _ = load_faithful()
    with pytest.raises(ValueError, match="columns has 1 names"):
        build_report_html(X, columns=["only one"])
    with pytest.raises(ValueError, match="max_points"):
        build_report_html(X, max_points=0)
    with pytest.raises(ValueError, match="covariance_type"):
        build_report_html(X, covariance_types=["nope"])
    with pytest.raises(ValueError, match=r"X\.reshape"):
        build_report_html(X[:, 0])


def test_random_state_none_is_resolved_once() -> None:
    X, _ = load_faithful()
    data = payload(build_report_html(X, n_components=[2], random_state=None))
    assert isinstance(data["random_state"], int)


def test_retained_run_picks_the_start_that_was_continued() -> None:
    def event(start: int, phase: str, it: int, ll: float) -> FitEvent:
        z = np.zeros(1)
        return FitEvent(start, 3, phase, it, ll, 10, z, z[:, None], z)

    raced = [event(0, "short", 1, -3.0), event(1, "short", 1, -2.0), event(2, "short", 1, -4.0)]
    raced += [event(1, "short", 2, -1.9), event(0, "short", 2, -2.5), event(0, "full", 1, -2.4)]
    run, start, curves = retained_run(raced, [-2.4])
    assert start == 0 and [e.phase for e in run] == ["short", "short", "full"]
    assert curves == [[-3.0, -2.5, -2.4], [-2.0, -1.9], [-4.0]]
    # no full phase: the start whose curve ends with history_ (not simply the longest)
    short = [event(0, "short", 1, -3.0), event(1, "short", 1, -2.0), event(0, "short", 2, -2.9)]
    assert retained_run(short, [-2.0])[1] == 1
    assert retained_run([], [])[0] == []


# ------------------------------------------------------------------ in a real browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"Chromium not found at {CHROMIUM} (set GAUSSMIX_CHROMIUM, or run `make chromium`,"
            " which apt-installs Debian's chromium)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def open_page(browser: Any, path: Path) -> tuple[Any, list[str]]:
    """Load a report from a file:// URL; return the page and the errors it reports."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("request", lambda r: None if r.url.startswith("file:") else errors.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='true']", timeout=10_000)
    return page, errors


def drawn(page: Any) -> dict[str, Any]:
    """What the EM plot shows now: step, shapes and point colours."""
    return page.evaluate(
        """() => ({
            step: document.getElementById('em-plot').getAttribute('data-step'),
            shapes: [...document.querySelectorAll('#em-plot .ellipse, #em-plot .curve')]
                .map(e => e.getAttribute('d')),
            fills: [...document.querySelectorAll('#em-plot circle.point')]
                .map(c => c.getAttribute('fill') + c.getAttribute('fill-opacity')),
            label: document.getElementById('em-step-label').textContent,
        })"""
    )


def set_range(page: Any, selector: str, value: int) -> None:
    page.evaluate(
        """([sel, v]) => { const r = document.querySelector(sel); r.value = v;
                           r.dispatchEvent(new Event('input', {bubbles: true})); }""",
        [selector, value],
    )


def test_page_in_chromium(
    browser: Any, faithful: tuple[Any, Any, str], tmp_path: Path, artifacts: Path
) -> None:
    X, _, html = faithful
    data = payload(html)
    path = tmp_path / "faithful.html"
    path.write_text(html, encoding="utf-8")
    page, errors = open_page(browser, path)
    n_steps = len(data["steps"])

    # opens on the fitted model; all shapes and points are drawn
    final = drawn(page)
    assert final["step"] == str(n_steps - 1)
    assert len(final["fills"]) == len(X) and all(final["shapes"])
    assert len(final["shapes"]) == 2 * data["chosen"]["k"]  # 1- and 2-sigma ellipses
    assert f"Step {n_steps} of {n_steps}" in final["label"]
    assert page.locator("#bic-plot path").count() >= 4 and page.locator("#ll-plot path").count()

    # the EM slider, moved with the keyboard, redraws the first iteration
    page.focus("#em-step")
    page.keyboard.press("Home")
    first = drawn(page)
    assert first["step"] == "0" and first["label"].startswith("Step 1 of")
    assert first["shapes"] != final["shapes"] and first["fills"] != final["fills"]
    before = page.screenshot()
    page.keyboard.press("End")
    assert drawn(page) == final
    assert page.screenshot() != before

    # the anomaly threshold: 5 % flags what score_samples' 5 % quantile flags
    k, ct = data["chosen"]["k"], data["chosen"]["type"]
    scores = GaussianMixture(k, covariance_type=ct, random_state=0).fit(X).score_samples(X)
    expected = int(np.sum(scores < np.quantile(scores, 0.05)))
    set_range(page, "#anomaly", 50)
    count = page.locator("#anomaly-count")
    assert count.get_attribute("data-count") == str(expected)
    assert count.inner_text().startswith(f"{expected} of {len(X)} rows flagged")
    assert page.locator("#em-plot circle.point.flagged").count() == expected
    assert page.locator("#anomaly-pct").inner_text() == "5.0 %"
    set_range(page, "#anomaly", 0)
    assert count.get_attribute("data-count") == "0"
    set_range(page, "#anomaly", 50)

    # play from the first iteration advances the slider; pause stops it
    page.focus("#em-step")
    page.keyboard.press("Home")
    play = page.locator("#em-play")
    play.click()
    assert "Pause" in play.inner_text()
    page.wait_for_function("Number(document.getElementById('em-step').value) >= 2")
    play.click()
    assert "Play" in play.inner_text()
    stopped = page.evaluate("document.getElementById('em-step').value")
    page.wait_for_timeout(600)
    assert page.evaluate("document.getElementById('em-step').value") == stopped
    assert drawn(page)["step"] == stopped

    # zooming the selection charts redraws them
    bic_before = page.locator("#bic-plot").inner_html()
    page.check("#criterion-zoom")
    assert page.locator("#bic-plot").inner_html() != bic_before

    page.focus("#em-step")
    page.keyboard.press("End")
    page.screenshot(path=str(artifacts / "report-faithful.png"), full_page=True)
    assert (artifacts / "report-faithful.png").stat().st_size > 10_000
    assert errors == []
    page.close()


@pytest.mark.parametrize("d", [1, 4])
def test_other_views_in_chromium(
    browser: Any, rng: np.random.Generator, d: int, tmp_path: Path, artifacts: Path
) -> None:
    # overlapping clusters: EM visibly moves the components between the first and last step
    X, _, _ = make_blobs(rng, n=3000, d=d, k=3, spread=1.5)
    path = write_report(X, tmp_path / f"d{d}.html", n_components=[3], max_points=500)
    page, errors = open_page(browser, path)
    final = drawn(page)
    assert len(final["fills"]) == 500
    # d == 1: one curve per component and the mixture's; otherwise two ellipses each
    assert len(final["shapes"]) == (4 if d == 1 else 6) and all(final["shapes"])
    set_range(page, "#em-step", 0)
    assert drawn(page)["shapes"] != final["shapes"]
    text = page.evaluate("document.getElementById('em-plot').textContent")
    assert ("PC1 (" in text) if d == 4 else ("density" in text and "x0" in text)
    page.screenshot(path=str(artifacts / f"report-d{d}.png"), full_page=True)
    assert errors == []
    page.close()
