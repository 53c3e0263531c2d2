"""Synthetic data shared by the tests."""

from __future__ import annotations

import numpy as np


def make_blobs(
    rng: np.random.Generator,
    n: int = 600,
    d: int = 3,
    k: int = 3,
    spread: float = 6.0,
    anisotropic: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Well-separated Gaussian clusters: returns X, the true labels and the true means."""
    means = rng.normal(scale=spread, size=(k, d))
    labels = rng.integers(k, size=n)
    if anisotropic:
        mats = rng.normal(size=(k, d, d)) * 0.6 + np.eye(d)
        noise = np.einsum("nd,nde->ne", rng.normal(size=(n, d)), mats[labels])
    else:
        noise = rng.normal(size=(n, d))
    return means[labels] + noise, labels, means
