"""The HTML report: its embedded data, that it is offline, and how it behaves in Chromium.

The embedded data are checked against the library's own fits (each candidate of the
selection, each EM iteration through the fit callback, the failure demonstrations); the page
evaluates those mixtures itself, so the browser tests read back what it shows — memberships,
log-densities, ellipses, parameters — and check them against Python's computation.

The browser tests drive Debian's Chromium (``GAUSSMIX_CHROMIUM``, default
``/usr/bin/chromium``; ``make chromium`` installs it) through Playwright, which never
downloads a browser of its own here.  Screenshots go to ``GAUSSMIX_ARTIFACTS`` (default: the
test's temporary directory).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from gaussmix import GaussianMixture, select_model
from gaussmix.covariance import get_family
from gaussmix.datasets import load_faithful
from gaussmix.geometry import data_pca, ellipse_axes
from gaussmix.model_state import ModelState
from gaussmix.multistart import FitEvent
from gaussmix.report import build_report_html, write_report
from gaussmix.report._candidates import anomaly_cuts
from gaussmix.report._display import MIN_PER_COMPONENT, display_rows
from gaussmix.report._encoding import DisplayFrame, decode_state, encode_state, pack, unpack
from gaussmix.report._replays import REPLAY_TOL, retained_run

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
#: float32 carries about 7 significant digits; the page's numbers agree with Python's to this
RTOL = 2e-5


def payload(html: str) -> dict[str, Any]:
    """The JSON document embedded in the page."""
    match = DATA_RE.search(html)
    assert match is not None, "the page has no embedded data"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def frame_of(spec: dict[str, Any]) -> DisplayFrame:
    return DisplayFrame(np.asarray(spec["centre"]), np.asarray(spec["scale"]))


def drawn_points(spec: dict[str, Any]) -> np.ndarray:
    """The drawn rows of a data set, back in the data's units."""
    z = unpack(spec["z"]).astype(np.float64).reshape(-1, spec["d"])
    return np.asarray(z * spec["scale"] + spec["centre"])


def dense(model: GaussianMixture) -> np.ndarray:
    k, d = np.shape(model.means_)
    family = get_family(model.covariance_type)
    return np.asarray(family.dense(np.asarray(model.covariances_, np.float64), k, d))


def assert_state(
    state: dict[str, Any], frame: DisplayFrame, weights: Any, means: Any, covariances: np.ndarray
) -> None:
    """A packed state holds these parameters (float32 precision)."""
    w, mu, cov = decode_state(state, frame)
    scale = np.abs(np.asarray(means)).max() + np.sqrt(np.abs(covariances).max())
    np.testing.assert_allclose(w, weights, rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(mu, means, rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(cov, covariances, rtol=1e-4, atol=1e-5 * np.abs(covariances).max())


def from_state(state: dict[str, Any], frame: DisplayFrame) -> GaussianMixture:
    """The mixture a packed state describes, as a fitted estimator."""
    w, mu, cov = decode_state(state, frame)
    model: GaussianMixture = GaussianMixture.from_state(
        ModelState.from_covariances("full", w, mu, cov)
    )
    return model


def assert_offline(html: str) -> None:
    """No URL the browser could fetch: no remote src/href, no external style or script."""
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""\b(?:src|href)\s*=\s*(?!["']?#)""", html, re.I)
    assert "<link" not in html.lower() and "@import" not in html
    assert not re.search(r"url\((?!#)", html)


#: the report's sweep: every candidate fitted alone, at the replays' tol (report/_payload.py)
AS_THE_REPORT = {"shared": False, "tol": 1e-3}


def quiet_fit(model: GaussianMixture, X: np.ndarray, events: list[FitEvent] | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, callback=None if events is None else events.append)


@pytest.fixture(scope="module")
def faithful() -> tuple[np.ndarray, list[str], str]:
    X, columns = load_faithful()
    return X, columns, build_report_html(X, columns=columns)


@pytest.fixture(scope="module")
def faithful_selection() -> Any:
    X, _ = load_faithful()
    return select_model(X, range(1, 7), "all", random_state=0, **AS_THE_REPORT)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    path = Path(os.environ.get("GAUSSMIX_ARTIFACTS") or tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------ the encoding


def test_packed_numbers_round_trip() -> None:
    values = np.array([0.0, -1.5, 3.25e-20, 1e30])
    np.testing.assert_array_equal(unpack(pack(values)), values.astype(np.float32))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_states_decode_to_the_model(rng: np.random.Generator, covariance_type: str) -> None:
    X, _, _ = make_blobs(rng, n=400, d=3, k=3)
    X = X * [1e-3, 1.0, 1e4] + [5.0, -2.0, 1e6]  # features of very different scales
    model = quiet_fit(GaussianMixture(3, covariance_type=covariance_type, random_state=0), X)
    frame = DisplayFrame.for_data(X)
    exponent = np.log2(frame.scale)
    np.testing.assert_array_equal(exponent, np.round(exponent))  # exact powers of two
    state = encode_state(covariance_type, model.weights_, model.means_, model.covariances_, frame)
    assert state["diag"] == (covariance_type in ("diag", "spherical"))
    assert_state(state, frame, model.weights_, model.means_, dense(model))
    # the decoded mixture scores rows as the model does
    probe = from_state(state, frame)
    np.testing.assert_allclose(probe.score_samples(X), model.score_samples(X), atol=1e-4)


def test_a_state_out_of_float32_range_keeps_float64() -> None:
    frame = DisplayFrame(np.zeros(2), np.ones(2))
    covariances = np.diag([1e-90, 1.0])[None]
    state = encode_state("full", [1.0], [[0.0, 0.0]], covariances, frame)
    assert state["f64"]
    np.testing.assert_allclose(decode_state(state, frame)[2], covariances, rtol=1e-12)
    assert "f64" not in encode_state("full", [1.0], [[0.0, 0.0]], np.eye(2)[None], frame)
    with pytest.raises(ValueError, match="positive-definite"):
        encode_state("full", [1.0], [[0.0, 0.0]], np.zeros((1, 2, 2)), frame)


def test_anomaly_cuts_flag_the_rows_below_each_quantile(rng: np.random.Generator) -> None:
    scores = np.round(rng.normal(size=1001), 1)  # many ties
    cuts = anomaly_cuts(scores)
    for m, (cut, count) in enumerate(zip(cuts["cut"], cuts["count"], strict=True)):
        expected = int(np.sum(scores < np.quantile(scores, m / 1000)))
        assert count == expected
        assert (cut is None) == (expected == 0)
        if cut is not None:
            assert int(np.sum(scores < cut)) == expected


def test_display_rows_are_stratified(rng: np.random.Generator) -> None:
    labels = np.repeat([0, 1, 2, 3], [9000, 950, 45, 5])
    rows, statement = display_rows(labels, 500)
    assert len(rows) == 500 and np.all(np.diff(rows) > 0)
    drawn = np.bincount(labels[rows], minlength=4)
    assert drawn[3] == 5 and drawn[2] == MIN_PER_COMPONENT  # small strata keep a minimum
    assert abs(drawn[1] - 500 * 950 / 10_000) <= 2  # the others their share
    assert "stratified" in statement and "10,000" in statement
    every, none = display_rows(labels[:300], 500)
    assert np.array_equal(every, np.arange(300)) and none == ""


# ------------------------------------------------------------------ the page's content


def test_faithful_page_is_offline_and_small(faithful: tuple[Any, Any, str]) -> None:
    _, _, html = faithful
    assert_offline(html)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert len(html.encode()) < 320_000  # 84 candidates: k = 1..6 x mclust's 14 models
    for anchor in ('id="main-plot"', 'id="em-step"', 'id="em-start"', 'id="anomaly"'):
        assert anchor in html
    for section in ("Model selection", "EM, step by step", "How clustering fails", "Data"):
        assert f"<h2>{section}</h2>" in html


def test_candidates_are_the_selections_models(
    faithful: tuple[Any, Any, str], faithful_selection: Any
) -> None:
    X, columns, html = faithful
    data = payload(html)
    result = faithful_selection
    frame = frame_of(data["data"])
    assert data["chosen"] == result.best_index and data["criteria"][:2] == ["bic", "aic"]
    assert len(data["candidates"]) == len(result.rows) == 6 * 14  # "all": 14 models
    for entry, row, model in zip(data["candidates"], result.rows, result.models, strict=True):
        assert (entry["k"], entry["type"]) == (row["n_components"], row["covariance_type"])
        for key in data["criteria"]:
            np.testing.assert_allclose(entry[key], row[key], rtol=1e-12)
        assert_state(entry["state"], frame, model.weights_, model.means_, dense(model))
        # memberships and ellipses: the embedded mixture's are the model's
        probe = from_state(entry["state"], frame)
        np.testing.assert_allclose(probe.predict_proba(X), model.predict_proba(X), atol=1e-5)
        for S, T in zip(dense(probe), dense(model), strict=True):
            np.testing.assert_allclose(ellipse_axes(S)[:2], ellipse_axes(T)[:2], rtol=1e-5)
        # anomaly counts at every quantile of the candidate's own score_samples
        scores = model.score_samples(X)
        for m, count in zip(data["anomaly"]["permille"], entry["anomaly"]["count"], strict=True):
            assert count == np.sum(scores < np.quantile(scores, m / 1000))
    # every row drawn, exactly
    assert data["data"]["rows"] == list(range(len(X)))
    np.testing.assert_allclose(drawn_points(data["data"]), X, rtol=1e-7)
    assert data["data"]["columns"] == columns and data["data"]["sample"] == ""


def test_replays_are_the_iterations_em_made(faithful: tuple[Any, Any, str]) -> None:
    X, _, html = faithful
    data = payload(html)
    frame = frame_of(data["data"])
    replays = data["replays"]
    k, ct, seed = replays["k"], replays["type"], replays["seed"]
    chosen = data["candidates"][data["chosen"]]
    assert (k, ct) == (chosen["k"], chosen["type"]) and replays["seeds"] == [0, 1, 2]
    names = [s["name"] for s in replays["starts"]]
    assert names[0] == "default" and {"k-means++", "random", "random_from_data"} <= set(names)
    for start in replays["starts"]:
        for s in replays["seeds"]:
            run = start["runs"][str(s)]
            # the replays stop at scikit-learn's tol (report/_replays.py's estimator)
            if start["name"] == "default":
                model = GaussianMixture(k, covariance_type=ct, random_state=s, tol=1e-3)
            else:
                model = GaussianMixture(
                    k, covariance_type=ct, init_params=start["name"], n_init=1, random_state=s,
                    tol=1e-3,
                )  # fmt: skip
            events: list[FitEvent] = []
            quiet_fit(model, X, events)
            kept, _, _ = retained_run(events, model.history_)
            # each step is an E-step's parameters as the callback saw them, in order
            assert len(run["steps"]) == len(kept) > 0
            for step, event in zip(run["steps"], kept, strict=True):
                assert (step["phase"], step["iter"]) == (event.phase, event.iteration)
                assert step["ll"] == pytest.approx(event.log_likelihood, rel=1e-12)
                cov = get_family(ct).dense(event.covariances, k, X.shape[1])
                assert_state(step["state"], frame, event.weights, event.means, cov)
            # then the fitted parameters, after the last M-step
            assert_state(run["final"]["state"], frame, model.weights_, model.means_, dense(model))
            assert run["final"]["ll"] == pytest.approx(model.score(X), rel=1e-12)
            assert run["final"]["converged"] == model.converged_
    # the default start at the report's seed is the chosen model
    default = replays["starts"][0]["runs"][str(seed)]
    decoded = decode_state(default["final"]["state"], frame)
    np.testing.assert_allclose(decoded[0], decode_state(chosen["state"], frame)[0])
    # a random start climbs for more than 5 iterations to convergence
    random_rows = next(s for s in replays["starts"] if s["name"] == "random_from_data")
    runs = [random_rows["runs"][str(s)] for s in replays["seeds"]]
    assert max(len(r["steps"]) for r in runs) > 5 and all(r["final"]["converged"] for r in runs)


def test_failure_modes_on_faithful(faithful: tuple[Any, Any, str]) -> None:
    X, _, html = faithful
    data = payload(html)
    frame = frame_of(data["data"])
    failures = {f["id"]: f for f in data["failures"]}
    assert list(failures) == ["kmeans", "components", "local", "collapse"]
    assert all(f["data"] == "user" and f["lesson"] for f in failures.values())
    chosen = data["candidates"][data["chosen"]]
    k = chosen["k"]

    # k-means: the labels drawn are scikit-learn's, renamed to the mixture's components
    kmeans = failures["kmeans"]["panels"][0]
    ours = np.array([int(c, 36) for c in kmeans["labels"]])
    theirs = KMeans(n_clusters=k, n_init=4, random_state=0).fit(X).labels_
    pairs = set(zip(theirs.tolist(), ours.tolist(), strict=True))
    assert len(pairs) == k  # a renaming, one to one
    mixture = from_state(chosen["state"], frame).predict(X)
    apart = np.mean(ours != mixture)
    assert apart >= 0.05 and f"{apart:.0%}" in kmeans["caption"]

    # too few / chosen / too many: numbers of components and BIC in the captions
    panels = failures["components"]["panels"]
    ks = [decode_state(p["state"], frame)[0].shape[0] for p in panels]
    assert ks[0] < k == ks[1] < ks[2]
    bics = [float(re.findall(r"BIC ([\d,.]+)", p["caption"])[0].replace(",", "")) for p in panels]
    assert bics[1] < min(bics[0], bics[2])

    # the stuck start really ends lower than the best one
    stuck, best = (from_state(p["state"], frame) for p in failures["local"]["panels"])
    assert stuck.score(X) * len(X) < best.score(X) * len(X) - 1.0

    # the collapse: the likelihood runs away without regularisation, not with it
    collapse = failures["collapse"]
    free, floored = collapse["curves"]
    assert max(free["values"]) > max(floored["values"]) + 1.0
    floor_model = from_state(collapse["panels"][1]["state"], frame)
    j = collapse["panels"][1]["highlight"]
    smallest = np.linalg.eigvalsh(dense(floor_model)[j]).min()
    # the floor of reg_covar="auto" (the default): 1e-6 of the smallest feature variance
    assert smallest >= 1e-6 * X.var(axis=0).min() * (1 - 1e-3)


def test_failure_modes_fall_back_to_the_bundled_data(rng: np.random.Generator) -> None:
    # one column: no demonstration applies to it, so each runs on Old Faithful
    X, _, _ = make_blobs(rng, n=400, d=1, k=2)
    data = payload(build_report_html(X, n_components=[2], covariance_types=["full"]))
    assert [f["data"] for f in data["failures"]] == ["faithful"] * 4
    assert all("one column" in f["source"] for f in data["failures"])
    bundled = data["datasets"]["faithful"]
    np.testing.assert_allclose(drawn_points(bundled), load_faithful()[0], rtol=1e-7)


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
    assert len(html.encode()) < 300_000
    data = payload(html)
    chosen = data["candidates"][data["chosen"]]
    assert (chosen["k"], chosen["type"]) == (2, covariance_type)
    assert data["d"] == d and data["columns"] == [f"x{j}" for j in range(d)]
    axes = data["data"]["axes"]
    assert [a["kind"] for a in axes] == ["pc"] * (4 if d == 4 else 0) + ["feature"] * d
    if d == 4:
        assert re.fullmatch(r"PC1 \(\d+\.\d% of variance\)", axes[0]["label"])
        pca = data_pca(X, n_axes=4)
        frame = frame_of(data["data"])
        np.testing.assert_allclose(
            np.array([a["vec"] for a in axes[:4]]) / frame.scale, pca.components, atol=1e-12
        )
    if d == 1:
        hist = data["data"]["histogram"]
        assert len(hist["heights"]) + 1 == len(hist["edges"])
    for start in data["replays"]["starts"]:
        for run in start["runs"].values():
            assert all(s["state"]["k"] == 2 for s in run.get("steps", []))


def test_large_data_is_subsampled_and_size_bounded(rng: np.random.Generator) -> None:
    # overlapping clusters: many EM iterations, the worst case for the page's size
    X, _, _ = make_blobs(rng, n=6000, d=4, k=4, spread=1.2)
    html = build_report_html(X, n_components=[4], covariance_types=["full"], max_points=2000)
    data = payload(html)
    rows = data["data"]["rows"]
    assert len(rows) == 2000 and rows == sorted(set(rows)) and rows[-1] < 6000
    assert "stratified" in data["data"]["sample"]
    np.testing.assert_allclose(drawn_points(data["data"]), X[rows], rtol=1e-6, atol=1e-6)
    assert len(html.encode()) < MAX_BYTES
    small = build_report_html(X, n_components=[4], covariance_types=["full"], max_points=100)
    assert len(payload(small)["data"]["rows"]) == 100
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
    assert data["replays"]["seed"] == data["random_state"]


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
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    return page, errors


def geometry(page: Any, plot: str) -> np.ndarray:
    """The ellipses a plot draws: per component ``cx, cy, a, b, angle`` (data units)."""
    values = page.evaluate(
        f"""() => [...document.querySelectorAll('#{plot} path.ellipse, #{plot} path.curve')]
            .filter(e => e.hasAttribute('data-geometry'))
            .map(e => e.getAttribute('data-geometry').split(' ').map(Number))"""
    )
    return np.array(values)


def fills(page: Any, plot: str) -> list[str]:
    return list(
        page.evaluate(
            f"""() => [...document.querySelectorAll('#{plot} circle.point')]
                .map(c => c.getAttribute('fill') + ' ' + c.getAttribute('fill-opacity'))"""
        )
    )


def assert_ellipses(found: np.ndarray, means: np.ndarray, covs: np.ndarray) -> None:
    """Drawn ellipses against ``ellipse_axes`` of the given 2-D means and covariances."""
    assert found.shape == (len(means), 5)
    for (cx, cy, a, b, angle), mu, S in zip(found, means, covs, strict=True):
        ea, eb, eangle = ellipse_axes(S)
        np.testing.assert_allclose([cx, cy], mu, rtol=RTOL, atol=RTOL * np.abs(mu).max())
        np.testing.assert_allclose([a, b], [ea, eb], rtol=1e-4, atol=1e-6 * ea)
        if ea > eb * (1 + 1e-3):  # the angle is defined (mod pi) when the axes differ
            turn = (angle - eangle) / np.pi
            assert abs(turn - np.round(turn)) < 1e-4


def hover_point(page: Any, index: int) -> dict[str, Any]:
    """Hover drawn point ``index``; return what the point panel shows."""
    page.locator("#main-plot circle.point").nth(index).hover(force=True)
    return dict(
        page.evaluate(
            """() => { const box = document.getElementById('point-info');
                return { index: Number(box.getAttribute('data-index')),
                         row: Number(box.getAttribute('data-row')),
                         logp: Number(box.getAttribute('data-logp')),
                         p: [...box.querySelectorAll('li[data-component]')]
                              .map(li => Number(li.getAttribute('data-p'))),
                         text: box.textContent }; }"""
        )
    )


def set_range(page: Any, selector: str, value: int) -> None:
    page.evaluate(
        """([sel, v]) => { const r = document.querySelector(sel); r.value = v;
                           r.dispatchEvent(new Event('input', {bubbles: true})); }""",
        [selector, value],
    )


def numbers(text: str) -> list[float]:
    return [
        float(t.replace("\u2212", "-"))
        for t in re.findall(r"[\u2212-]?\d+\.?\d*(?:e[+-]\d+)?", text)
    ]


def test_candidates_in_chromium(
    browser: Any,
    faithful: tuple[Any, Any, str],
    faithful_selection: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    X, _, html = faithful
    result = faithful_selection
    path = tmp_path / "faithful.html"
    path.write_text(html, encoding="utf-8")
    page, errors = open_page(browser, path)
    chosen = result.best_index
    model = result.models[chosen]

    # opens on the chosen model: its ellipses, the chosen marked in the grid and the charts
    assert page.locator("#main-plot").get_attribute("data-candidate") == str(chosen)
    assert_ellipses(geometry(page, "main-plot"), model.means_, dense(model))
    assert page.locator("#candidate-grid button.cand").count() == len(result.rows)
    assert page.locator("#candidate-grid button.cand.chosen").get_attribute(
        "data-candidate"
    ) == str(chosen)
    assert page.locator("#bic-plot .chosen-mark").count() == 2  # the mark and its key

    # hovering a point shows its memberships and log-density under the drawn model
    for index in (0, 57, 200):
        shown = hover_point(page, index)
        row = shown["row"]
        np.testing.assert_allclose(shown["p"], model.predict_proba(X[row : row + 1])[0], atol=1e-5)
        assert shown["logp"] == pytest.approx(model.score_samples(X[row : row + 1])[0], abs=1e-4)
        assert f"Row {row}" in shown["text"]

    # another candidate, with another k: ellipses, tables and markers follow
    other = next(
        i for i, r in enumerate(result.rows)
        if r["n_components"] == model.n_components + 2
        and r["covariance_type"] == result.best["covariance_type"]
    )  # fmt: skip
    other_model = result.models[other]
    page.click(f"#candidate-grid button[data-candidate='{other}']")
    assert page.locator("#main-plot").get_attribute("data-candidate") == str(other)
    found = geometry(page, "main-plot")
    assert len(found) == other_model.n_components != model.n_components
    assert_ellipses(found, other_model.means_, dense(other_model))
    assert page.locator("#main-plot path.ellipse").count() == 2 * other_model.n_components
    weights = page.locator("#main-legend [data-weight]").evaluate_all(
        "els => els.map(e => Number(e.getAttribute('data-weight')))"
    )
    np.testing.assert_allclose(weights, other_model.weights_, rtol=RTOL)
    tables = page.locator("#parameter-tables").inner_text()
    shown_means = numbers(tables.split("Standard deviations")[0].split("mean of waiting")[1])
    expected = np.column_stack([other_model.weights_, other_model.means_]).ravel()
    np.testing.assert_allclose(
        [v for i, v in enumerate(shown_means) if i % 4 != 0], expected, rtol=1e-3
    )
    assert page.locator("#bic-plot .drawn-mark[data-candidate]").get_attribute(
        "data-candidate"
    ) == str(other)
    assert page.locator("#candidate-grid button.cand.chosen").count() == 1  # still marked
    assert "chosen model" in page.locator("#drawn-label").inner_text()
    shown = hover_point(page, 57)
    row = shown["row"]
    np.testing.assert_allclose(
        shown["p"], other_model.predict_proba(X[row : row + 1])[0], atol=1e-5
    )

    # the anomaly threshold follows the drawn model: 5 % flags what its quantile flags
    scores = other_model.score_samples(X)
    expected_count = int(np.sum(scores < np.quantile(scores, 0.05)))
    set_range(page, "#anomaly", 50)
    count = page.locator("#anomaly-count")
    assert count.get_attribute("data-count") == str(expected_count)
    assert page.locator("#main-plot circle.point.flagged").count() == expected_count
    assert count.inner_text().startswith(f"{expected_count} of {len(X)} rows flagged")

    # a marker of the AIC chart, then a row of the table, draw their candidates
    pick = next(i for i, r in enumerate(result.rows) if r["n_components"] == 1)
    page.locator(f"#aic-plot .pick[data-candidate='{pick}']").dispatch_event("click")
    assert page.locator("#main-plot path.ellipse").count() == 2
    page.locator("#selection summary").click()
    page.locator(f"tr[data-candidate='{chosen}']").click()
    assert page.locator("#main-plot").get_attribute("data-candidate") == str(chosen)
    assert page.locator("#back-to-chosen").is_disabled()

    # the parameter tables of the chosen model match the ones Python wrote
    page_numbers = numbers(page.locator("#parameter-tables").inner_text())
    python_tables = re.search(r'<div id="parameter-tables">(.*?)</div>\n</section>', html, re.S)
    assert python_tables is not None
    python_numbers = numbers(re.sub(r"<[^>]+>", " ", python_tables.group(1)))
    np.testing.assert_allclose(page_numbers, python_numbers, rtol=1e-3)

    # the views: uncertainty recolours the points, density draws contours and the threshold
    before = fills(page, "main-plot")
    page.check("input[name='view-mode'][value='uncertainty']")
    assert fills(page, "main-plot") != before
    page.check("input[name='view-mode'][value='density']")
    assert page.locator("#main-plot path.contour").count() == 5
    assert page.locator("#main-plot path.threshold").get_attribute("d")
    page.screenshot(path=str(artifacts / "report-faithful-density.png"), full_page=False)
    page.check("input[name='view-mode'][value='components']")
    assert page.locator("#main-plot path.contour").count() == 0

    # the keyboard: arrows step through the points, the grid's buttons take arrows too
    page.focus("#main-plot")
    page.keyboard.press("ArrowRight")
    first = page.locator("#point-info").get_attribute("data-row")
    page.keyboard.press("ArrowRight")
    assert page.locator("#point-info").get_attribute("data-row") not in (None, first)
    page.keyboard.press("Escape")
    right = next(
        i for i, r in enumerate(result.rows)
        if r["covariance_type"] == model.covariance_type
        and r["n_components"] == model.n_components + 1
    )  # fmt: skip
    page.focus(f"#candidate-grid button[data-candidate='{chosen}']")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    assert page.locator("#main-plot").get_attribute("data-candidate") == str(right)

    page.screenshot(path=str(artifacts / "report-faithful.png"), full_page=True)
    assert (artifacts / "report-faithful.png").stat().st_size > 10_000
    assert errors == []
    page.close()


def test_em_player_in_chromium(
    browser: Any, faithful: tuple[Any, Any, str], tmp_path: Path, artifacts: Path
) -> None:
    X, _, html = faithful
    data = payload(html)
    path = tmp_path / "faithful.html"
    path.write_text(html, encoding="utf-8")
    page, errors = open_page(browser, path)
    k, ct = data["replays"]["k"], data["replays"]["type"]

    # a random start (random rows as centres) and seed 1, fitted here independently
    starts = [s["name"] for s in data["replays"]["starts"]]
    page.select_option("#em-start", str(starts.index("random_from_data")))
    page.select_option("#em-seed", "1")
    events: list[FitEvent] = []
    model = quiet_fit(
        GaussianMixture(k, covariance_type=ct, init_params="random_from_data", n_init=1,
                        random_state=1, tol=1e-3),
        X, events,
    )  # fmt: skip
    T = len(events)
    assert T > 5 and model.converged_
    n_frames = int(page.locator("#em-step").get_attribute("max")) + 1
    assert n_frames == 2 * T + 2
    assert "Converged" in page.locator("#em-start-note").inner_text()

    def params() -> tuple[np.ndarray, np.ndarray]:
        table = page.locator("#em-params table")
        w = np.array(table.get_attribute("data-weights").split(), dtype=float)
        means = [row.split(",") for row in table.get_attribute("data-means").split()]
        return w, np.array(means, dtype=float)

    # the start: EM's first parameters, no memberships yet
    page.click("#em-first")
    assert page.locator("#em-step-label").get_attribute("data-kind") == "start"
    assert len(set(fills(page, "em-plot"))) == 1
    w, mu = params()
    np.testing.assert_allclose(w, events[0].weights, rtol=RTOL)
    np.testing.assert_allclose(mu, events[0].means, rtol=RTOL)
    assert page.locator("#ll-plot").get_attribute("data-points") == "0"
    start_shapes = geometry(page, "em-plot")

    # E-step 1 recolours the points and adds the first log-likelihood; the ellipses stay
    page.click("#em-next")
    assert page.locator("#em-step-label").get_attribute("data-kind") == "E"
    e_fills = fills(page, "em-plot")
    assert len(set(e_fills)) > 1
    np.testing.assert_allclose(geometry(page, "em-plot"), start_shapes)
    assert page.locator("#ll-plot").get_attribute("data-points") == "1"
    ll_text = page.locator("#em-phase").inner_text()
    assert f"{events[0].log_likelihood:.5g}".replace("-", "\u2212")[:6] in ll_text
    # M-step 1 moves the ellipses to the second iteration's parameters; colours stay
    page.click("#em-next")
    assert page.locator("#em-step-label").get_attribute("data-kind") == "M"
    assert fills(page, "em-plot") == e_fills
    w, mu = params()
    np.testing.assert_allclose(w, events[1].weights, rtol=RTOL)
    np.testing.assert_allclose(mu, events[1].means, rtol=RTOL)
    assert not np.allclose(geometry(page, "em-plot"), start_shapes)

    # play to the end: the curve grows to every iteration, the last step is the fitted model
    page.click("#em-play")
    assert "Pause" in page.locator("#em-play").inner_text()
    page.wait_for_function(
        f"document.getElementById('em-plot').getAttribute('data-frame') === '{n_frames - 1}'",
        timeout=30_000,
    )
    assert "Play" in page.locator("#em-play").inner_text()
    assert page.locator("#em-step-label").get_attribute("data-kind") == "fitted"
    assert page.locator("#ll-plot").get_attribute("data-points") == str(T + 1)
    w, mu = params()
    np.testing.assert_allclose(w, model.weights_, rtol=RTOL)
    np.testing.assert_allclose(mu, model.means_, rtol=RTOL)
    assert_ellipses(geometry(page, "em-plot"), model.means_, dense(model))
    assert "converged" in page.locator("#em-phase").inner_text()
    page.screenshot(path=str(artifacts / "report-em-player.png"), full_page=True)

    # the slider, by keyboard, steps back half a step at a time
    page.focus("#em-step")
    page.keyboard.press("ArrowLeft")
    assert page.locator("#em-plot").get_attribute("data-frame") == str(n_frames - 2)
    assert page.locator("#em-step-label").get_attribute("data-kind") == "M"

    # the failure panels render: points, shapes, captions and one lesson each
    for f in data["failures"]:
        box = page.locator(f"[data-failure='{f['id']}']")
        assert box.locator("circle.point").count() >= len(f["panels"]) * len(X)
        assert box.locator("path.ellipse, path.centre, path.curve").count() >= len(f["panels"])
        assert box.locator(".lesson").inner_text() == f["lesson"]
    assert errors == []
    page.close()


def test_projections_in_chromium(
    browser: Any, rng: np.random.Generator, tmp_path: Path, artifacts: Path
) -> None:
    # overlapping clusters: EM visibly moves the components between the first and last step
    X, _, _ = make_blobs(rng, n=3000, d=4, k=3, spread=1.5)
    path = write_report(X, tmp_path / "d4.html", n_components=[3], max_points=500)
    data = payload(path.read_text(encoding="utf-8"))
    page, errors = open_page(browser, path)
    assert page.locator("#main-plot circle.point").count() == 500
    candidate = data["candidates"][data["chosen"]]
    model = from_state(candidate["state"], frame_of(data["data"]))
    S, mu = dense(model), np.asarray(model.means_)

    # the default view: the first two principal components of the data
    pca = data_pca(X)
    W = pca.components
    assert_ellipses(
        geometry(page, "main-plot"),
        (mu - pca.centre) @ W.T,
        np.einsum("pd,kde,qe->kpq", W, S, W),
    )
    # x: the third feature, y: the second principal component
    labels = [a["label"] for a in data["data"]["axes"]]
    page.select_option("#axis-x", str(labels.index("x2")))
    page.select_option("#axis-y", "1")
    A = np.vstack([np.eye(4)[2], W[1]])
    centres = np.column_stack([mu[:, 2], (mu - pca.centre) @ W[1]])
    assert_ellipses(geometry(page, "main-plot"), centres, np.einsum("pd,kde,qe->kpq", A, S, A))
    text = page.evaluate("document.getElementById('main-plot').textContent")
    assert "x2" in text and "PC2 (" in text
    # every chart follows: the EM player and the failure panels on this data
    em_text = page.evaluate("document.getElementById('em-plot').textContent")
    assert "x2" in em_text and "PC2 (" in em_text
    assert_ellipses(geometry(page, "em-plot"), centres, np.einsum("pd,kde,qe->kpq", A, S, A))
    # a point up close: memberships and log-density in four dimensions, as the model's
    fitted = select_model(X, [3], "all", random_state=0, **AS_THE_REPORT).best_model
    for index in (3, 250):
        shown = hover_point(page, index)
        row = shown["row"]
        assert row == data["data"]["rows"][shown["index"]]
        np.testing.assert_allclose(shown["p"], fitted.predict_proba(X[row : row + 1])[0], atol=1e-5)
        assert shown["logp"] == pytest.approx(fitted.score_samples(X[row : row + 1])[0], abs=1e-4)
    page.screenshot(path=str(artifacts / "report-d4-projection.png"), full_page=True)
    assert errors == []
    page.close()


def test_one_column_in_chromium(
    browser: Any, rng: np.random.Generator, tmp_path: Path, artifacts: Path
) -> None:
    X, _, _ = make_blobs(rng, n=3000, d=1, k=3, spread=1.5)
    path = write_report(X, tmp_path / "d1.html", n_components=[2, 3], max_points=500)
    data = payload(path.read_text(encoding="utf-8"))
    page, errors = open_page(browser, path)
    chosen = data["candidates"][data["chosen"]]
    model = from_state(chosen["state"], frame_of(data["data"]))
    # one curve per component and the mixture's, at the components' means and sds
    found = geometry(page, "main-plot")
    np.testing.assert_allclose(found[:, 0], model.means_[:, 0], rtol=RTOL, atol=1e-5)
    np.testing.assert_allclose(found[:, 1], np.sqrt(dense(model)[:, 0, 0]), rtol=RTOL)
    assert page.locator("#main-plot path.curve").count() == chosen["k"] + 1
    other = next(i for i, c in enumerate(data["candidates"]) if c["k"] != chosen["k"])
    page.click(f"#candidate-grid button[data-candidate='{other}']")
    assert page.locator("#main-plot path.curve").count() == data["candidates"][other]["k"] + 1
    page.click("#em-first")
    assert page.locator("#em-plot path.curve").count() == chosen["k"] + 1
    assert page.locator("#projection").is_hidden()
    page.screenshot(path=str(artifacts / "report-d1.png"), full_page=True)
    assert errors == []
    page.close()


def test_extreme_scales_in_chromium(browser: Any, rng: np.random.Generator, tmp_path: Path) -> None:
    # the default reg_covar follows the data: in the display frame the states of data this
    # small are those of data at unit scale, and float32 carries them to the page
    X = make_blobs(rng, n=300, d=2, k=2)[0] * 1e-120
    path = write_report(X, tmp_path / "tiny.html", n_components=[1, 2])
    data = payload(path.read_text(encoding="utf-8"))
    chosen = data["candidates"][data["chosen"]]
    assert not chosen["state"].get("f64")
    page, errors = open_page(browser, path)
    model = select_model(X, [1, 2], "all", random_state=0, **AS_THE_REPORT).best_model
    shown = hover_point(page, 10)
    row = shown["row"]
    np.testing.assert_allclose(shown["p"], model.predict_proba(X[row : row + 1])[0], atol=1e-6)
    assert shown["logp"] == pytest.approx(model.score_samples(X[row : row + 1])[0], rel=1e-9)
    assert errors == []
    page.close()


# ------------------------------------------------------------------ a noise component


@pytest.fixture(scope="module")
def noisy_report() -> tuple[np.ndarray, str, Any]:
    """Old Faithful with 15 rows spread uniformly over its box, every model with noise."""
    X, _ = load_faithful()
    rng = np.random.default_rng(11)
    X = np.vstack([X, rng.uniform(X.min(0), X.max(0), size=(15, 2))])
    kw: dict[str, Any] = {"n_components": range(1, 4), "covariance_types": ["VVV", "EII"]}
    html = build_report_html(X, noise=True, random_state=0, **kw)
    # the report's own selection: each candidate fitted alone at the replays' tol
    result = select_model(X, kw["n_components"], kw["covariance_types"], noise=True,
                          random_state=0, shared=False, tol=REPLAY_TOL)  # fmt: skip
    return X, html, result


def test_noise_states_carry_the_noise_component(noisy_report: Any) -> None:
    _, html, result = noisy_report
    data = payload(html)
    frame = frame_of(data["data"])
    assert data["noise"] is True and data["chosen"] == result.best_index
    for entry, model in zip(data["candidates"], result.models, strict=True):
        noise = entry["state"]["noise"]
        assert noise["w"] == model.noise_weight_
        assert noise["logv"] == model.noise_region_.log_volume
        assert_state(entry["state"], frame, model.weights_, model.means_, dense(model))
    # each replayed step's noise weight is what its components' weights leave
    run = data["replays"]["starts"][0]["runs"][str(data["replays"]["seed"])]
    for step in run["steps"]:
        w, _, _ = decode_state(step["state"], frame)
        assert step["state"]["noise"]["w"] == pytest.approx(1 - w.sum(), abs=1e-6)
    # the failure demonstrations stay with plain mixtures
    assert all("noise" not in p.get("state", {}) for f in data["failures"] for p in f["panels"])


def test_noise_in_chromium(
    browser: Any, noisy_report: Any, tmp_path: Path, artifacts: Path
) -> None:
    X, html, result = noisy_report
    model = result.best_model
    labels = model.predict(X)
    assert (labels == -1).any()
    path = tmp_path / "noise.html"
    path.write_text(html, encoding="utf-8")
    page, errors = open_page(browser, path)
    # the rows labelled noise are the hollow grey points, and only they
    hollow = page.locator("#main-plot circle.point.noise")
    assert hollow.count() == int((labels == -1).sum())
    flags = page.evaluate(
        "() => [...document.querySelectorAll('#main-plot circle.point')]"
        ".map(c => c.classList.contains('noise'))"
    )
    np.testing.assert_array_equal(flags, labels == -1)
    # a noise point's memberships: the components' and the noise component's, last
    index = int(np.flatnonzero(labels == -1)[0])
    shown = hover_point(page, index)
    row = shown["row"]
    np.testing.assert_allclose(shown["p"], model.predict_proba(X[row : row + 1])[0], atol=1e-5)
    assert shown["logp"] == pytest.approx(model.score_samples(X[row : row + 1])[0], abs=1e-4)
    assert "noise" in shown["text"]
    # the legend's weights: the components' and the noise component's
    weights = page.locator("#main-legend [data-weight]").evaluate_all(
        "els => els.map(e => Number(e.getAttribute('data-weight')))"
    )
    np.testing.assert_allclose(weights, [*model.weights_, model.noise_weight_], rtol=RTOL)
    summary = page.locator("#parameter-tables .noise-summary")
    assert float(summary.get_attribute("data-noise-weight")) == pytest.approx(
        model.noise_weight_, rel=RTOL
    )
    assert "Noise component: weight" in summary.inner_text()
    # the EM player's last step lists the noise component's weight too
    page.click("#em-last")
    row_text = page.locator("#em-params tr.noise").inner_text()
    assert numbers(row_text)[0] == pytest.approx(model.noise_weight_, rel=1e-3)
    page.screenshot(path=str(artifacts / "report-noise.png"), full_page=False)
    assert errors == []
    page.close()


def test_incomplete_rows_in_chromium(
    browser: Any, rng: np.random.Generator, tmp_path: Path, artifacts: Path
) -> None:
    """Rows with missing values: fitted and scored on their observed columns (the page
    evaluates every mixture there too), drawn at their imputations, marked, and listed
    with their imputed values; the least likely rows ranked by tail probability."""
    X, _, _ = make_blobs(rng, n=400, d=3, k=3)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[[3, 30]] = np.nan
    path = write_report(X, tmp_path / "holes.html", n_components=[2, 3],
                        covariance_types=["full", "diag"])  # fmt: skip
    html = path.read_text(encoding="utf-8")
    data = payload(html)
    model = select_model(
        X,
        [2, 3],
        ["full", "diag"],
        random_state=data["random_state"],
        shared=False,
        tol=REPLAY_TOL,
    ).best_model  # the report's own selection
    incomplete = np.isnan(X).any(axis=1)
    cells, empty = int(np.isnan(X).sum()), int(np.isnan(X).all(axis=1).sum())
    assert data["incomplete"] == {"rows": int(incomplete.sum()), "cells": cells, "empty": empty}

    # drawn where the chosen model expects them; the missing columns listed per point
    spec = data["data"]
    drawn = np.asarray(spec["rows"])
    np.testing.assert_allclose(drawn_points(spec), model.impute(X)[drawn], rtol=RTOL, atol=1e-4)
    marked = spec["missing"]
    assert drawn[marked["points"]].tolist() == drawn[incomplete[drawn]].tolist()
    for i, columns in zip(marked["points"], marked["columns"], strict=True):
        assert columns == np.flatnonzero(np.isnan(X[drawn[i]])).tolist()

    # the least likely rows: by tail probability, imputed cells marked
    tails = model.tail_probability(X)
    least = np.lexsort((model.score_samples(X), tails))[:10]
    section = html.split('id="anomalies"')[1].split("</section>")[0]
    assert re.findall(r'<th scope="row">(\d+)</th>', section) == [str(i) for i in least]
    assert "tail probability" in section
    assert html.count('<em class="imputed"') >= int(np.isnan(X[least]).sum())
    assert "missing values</th>" in html and "Missing values</h3>" in html

    page, errors = open_page(browser, path)
    assert page.locator("#main-plot circle.point.imputed").count() == len(marked["points"])
    for index in [marked["points"][0], marked["points"][-1], 0, 1]:
        shown = hover_point(page, index)
        row = shown["row"]
        np.testing.assert_allclose(shown["p"], model.predict_proba(X[row : row + 1])[0], atol=1e-5)
        assert shown["logp"] == pytest.approx(model.score_samples(X[row : row + 1])[0], abs=1e-4)
        missing = np.flatnonzero(np.isnan(X[row]))
        assert ("(imputed)" in shown["text"]) == bool(missing.size)
    # a row with nothing observed: the mixing weights, log-density 0
    empty_point = next(i for i, c in zip(marked["points"], marked["columns"], strict=True)
                       if len(c) == 3)  # fmt: skip
    shown = hover_point(page, empty_point)
    np.testing.assert_allclose(shown["p"], model.weights_, atol=1e-6)
    assert shown["logp"] == 0.0
    # another candidate and an EM step are evaluated on the observed columns as well
    other = next(i for i, c in enumerate(data["candidates"]) if i != data["chosen"])
    page.click(f"#candidate-grid button[data-candidate='{other}']")
    other_model = from_state(data["candidates"][other]["state"], frame_of(spec))
    shown = hover_point(page, marked["points"][0])
    row = shown["row"]
    np.testing.assert_allclose(
        shown["p"], other_model.predict_proba(X[row : row + 1])[0], atol=1e-4
    )
    page.screenshot(path=str(artifacts / "report-incomplete.png"), full_page=False)
    assert errors == []
    page.close()
