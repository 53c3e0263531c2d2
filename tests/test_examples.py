"""The scripts in examples/ run end to end (in a subprocess) and write what they promise."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run_example(name: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, f"examples/{name}.py", "--out", str(out), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Warning" not in proc.stderr, proc.stderr
    return proc


def assert_png(path: Path) -> tuple[int, int]:
    assert path.is_file(), f"{path.name} was not written"
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_customer_segmentation(tmp_path):
    proc = run_example("customer_segmentation", tmp_path)
    for name in ("criteria.png", "segments.png"):
        assert_png(tmp_path / name)
    header, segments = read_csv(tmp_path / "segments.csv")
    assert header[:4] == ["segment", "weight", "customers", "expected_customers"]
    k = len(segments)
    assert f"Chosen: {k} segments" in proc.stdout
    assert k == 4  # the four hidden segments are recovered
    assert sum(float(r[1]) for r in segments) == pytest.approx(1.0, abs=1e-4)
    header, customers = read_csv(tmp_path / "customers.csv")
    assert len(customers) == 2000 and len(header) == 4 + k
    assert sum(int(r[2]) for r in segments) == len(customers)
    assert sum(float(r[3]) for r in segments) == pytest.approx(len(customers), rel=1e-4)
    proba = np.array([[float(x) for x in r[4:]] for r in customers])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-3)
    np.testing.assert_array_equal(proba.argmax(axis=1), [int(r[3]) for r in customers])


def test_image_segmentation(tmp_path):
    from sklearn.datasets import load_sample_image

    k = 6
    run_example("image_segmentation", tmp_path, "--n-components", str(k), "--sample", "4000")
    original = load_sample_image("china.jpg")
    height, width, _ = original.shape
    for name in ("original.png", "comparison.png", "colour_space.png"):
        assert_png(tmp_path / name)
    assert assert_png(tmp_path / "segmented.png") == (width, height)
    with Image.open(tmp_path / "segmented.png") as im:
        segmented = np.asarray(im.convert("RGB"))
    with Image.open(tmp_path / "original.png") as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), original)
    assert segmented.shape == original.shape
    summary = json.loads((tmp_path / "segments.json").read_text(encoding="utf-8"))
    assert summary["n_components"] == k and summary["shape"] == [height, width, 3]
    palette = {tuple(c) for c in summary["palette"]}
    colours = {tuple(c) for c in np.unique(segmented.reshape(-1, 3), axis=0).tolist()}
    # only the components' mean colours, at most k of them
    assert colours <= palette and 2 <= len(colours) <= k
    assert sum(summary["pixel_share"]) == pytest.approx(1.0, abs=1e-5)


def test_anomaly_detection(tmp_path):
    run_example("anomaly_detection", tmp_path)
    assert_png(tmp_path / "anomalies.png")
    assert_png(tmp_path / "flagged.png")
    m = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert m["n_outliers"] == 30 and m["n_rows"] == 3030
    assert m["n_flagged"] == m["true_positives"] + m["false_positives"]
    assert m["n_flagged"] == pytest.approx(m["quantile"] * m["n_rows"], abs=1)
    assert m["true_positives"] + m["false_negatives"] == m["n_outliers"]
    assert m["precision"] >= 0.8 and m["recall"] >= 0.8
