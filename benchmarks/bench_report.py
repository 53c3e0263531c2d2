#!/usr/bin/env python
"""The HTML report's size, build time and load time in Chromium, up to 100,000 rows.

For each data set: the seconds ``build_report_html`` takes (model selection over k = 1..6
and mclust's 14 covariance models, the EM replays, the failure demonstrations), the page's
size and what fills it, and the seconds Debian's Chromium takes to open it (navigation to
the page's ``data-ready`` mark, best of 3) and to draw another candidate.  The data:
Old Faithful, and overlapping anisotropic clusters (4 components, fixed seed) at
20,000 x 10 and 100,000 x 10.

Run from the repository root::

    .venv/bin/python benchmarks/bench_report.py
    .venv/bin/python benchmarks/bench_report.py --configs 100000x10 --write-readme
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gaussmix.datasets import load_faithful
from gaussmix.report import build_report_html

HERE = Path(__file__).resolve().parent
START, END = "<!-- report:start -->", "<!-- report:end -->"
CHROMIUM = os.environ.get("GAUSSMIX_CHROMIUM", "/usr/bin/chromium")
DATA_RE = re.compile(r'<script type="application/json" id="gm-data">(.*?)</script>', re.S)


def clusters(n: int, d: int, k: int = 4, seed: int = 0) -> NDArray[np.float64]:
    """Overlapping anisotropic clusters: random linear maps of standard normals."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.5, size=(k, d))
    maps = rng.normal(size=(k, d, d)) * np.exp(rng.uniform(np.log(0.3), np.log(1.5), (k, 1, d)))
    labels = rng.choice(k, size=n, p=rng.dirichlet(np.full(k, 5.0)))
    noise = np.einsum("nd,nde->ne", rng.normal(size=(n, d)), maps[labels])
    return np.asarray(centres[labels] + noise)


def data_set(name: str) -> tuple[NDArray[np.float64], list[str] | None]:
    if name == "faithful":
        X, columns = load_faithful()
        return np.asarray(X, np.float64), list(columns)
    n, d = (int(v) for v in name.split("x"))
    return clusters(n, d), None


def composition(html: str) -> dict[str, int]:
    """Bytes of the page by part: each section of the embedded data, and the rest."""
    match = DATA_RE.search(html)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    parts = {
        key: len(json.dumps(data[key], separators=(",", ":")).encode())
        for key in ("data", "candidates", "replays", "failures", "datasets")
    }
    parts["page"] = len(html.encode()) - sum(parts.values())
    return parts


def in_chromium(html: str, chosen: int) -> tuple[float, float] | None:
    """Seconds to open the page (best of 3) and to draw another candidate, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        path = Path(tmp) / "report.html"
        path.write_text(html, encoding="utf-8")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        opens, switches = [], []
        for _ in range(3):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            start = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-ready='true']", timeout=60_000)
            opens.append(time.perf_counter() - start)
            button = page.locator("#candidate-grid button.cand:not(.chosen):not([disabled])")
            start = time.perf_counter()
            button.last.click()
            page.wait_for_function(
                "document.getElementById('main-plot').getAttribute('data-candidate') "
                f"!== '{chosen}'"
            )
            switches.append(time.perf_counter() - start)
            page.close()
        browser.close()
    return min(opens), min(switches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs", default="faithful,20000x10,100000x10", help="faithful and/or NxD sizes"
    )
    parser.add_argument("--write-readme", action="store_true", help="update README.md")
    args = parser.parse_args()
    lines = [
        "| data | build s | page KiB | drawn points | embedded data KiB: points, candidates, "
        "EM replays, failure modes, bundled data | rest of the page KiB | open s | "
        "switch model s |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for name in args.configs.split(","):
        X, columns = data_set(name)
        start = time.perf_counter()
        html = build_report_html(X, columns=columns, random_state=0)
        built = time.perf_counter() - start
        parts = composition(html)
        match = DATA_RE.search(html)
        assert match is not None
        data = json.loads(match.group(1))
        shown = len(data["data"]["rows"])
        browser = in_chromium(html, data["chosen"])
        opened, switched = ("n/a", "n/a") if browser is None else (f"{v:.2f}" for v in browser)
        kib = {k: v / 1024 for k, v in parts.items()}
        line = (
            f"| {name} ({X.shape[0]:,} x {X.shape[1]}) | {built:.1f} | "
            f"{len(html.encode()) / 1024:,.0f} | {shown:,} | {kib['data']:.0f}, "
            f"{kib['candidates']:.0f}, {kib['replays']:.0f}, {kib['failures']:.0f}, "
            f"{kib['datasets']:.0f} | {kib['page']:.0f} | {opened} | {switched} |"
        )
        print(line, flush=True)
        lines.append(line)
    if args.write_readme:
        readme = HERE / "README.md"
        text = readme.read_text(encoding="utf-8")
        body = "\n".join([START, *lines, END])
        if START in text:
            text = re.sub(
                re.escape(START) + ".*?" + re.escape(END), lambda _: body, text, flags=re.S
            )
        else:
            text = text.rstrip("\n") + "\n\n## The HTML report\n\n" + body + "\n"
        readme.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
