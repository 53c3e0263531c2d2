"""The demo: model selection on Old Faithful and a readable summary."""

from __future__ import annotations

from typing import TextIO

import numpy as np

from .covariance import get_family
from .datasets import load_faithful
from .selection import select_model


def _matrix(a: np.ndarray, indent: str) -> str:
    rows = np.atleast_2d(a)
    return "\n".join(indent + "  ".join(f"{x:10.4f}" for x in row) for row in rows)


def run_demo(seed: int = 0, max_components: int = 6, out: TextIO | None = None) -> str:
    """Fit Old Faithful, choose by BIC, and write (and return) the summary."""
    X, columns = load_faithful()
    result = select_model(X, range(1, max_components + 1), "all", random_state=seed)
    model = result.best_model
    best = result.best
    lines = [
        f"Old Faithful: {X.shape[0]} eruptions x {X.shape[1]} features ({', '.join(columns)})",
        "",
        "Model selection by BIC (lower is better; * = chosen):",
        result.to_string(),
        "",
        f"Chosen model: {best['n_components']} components, covariance_type="
        f"{best['covariance_type']!r}, BIC {best['bic']:.2f}, "
        f"converged in {model.n_iter_} iterations",
        "",
    ]
    family = get_family(model.covariance_type)
    cov = family.dense(np.asarray(model.covariances_), model.n_components, X.shape[1])
    for j in range(model.n_components):
        lines.append(f"Component {j}: weight {model.weights_[j]:.4f}")
        lines.append(
            "  mean       "
            + "  ".join(f"{c}={m:.4f}" for c, m in zip(columns, model.means_[j], strict=True))
        )
        lines.append("  covariance")
        lines.append(_matrix(cov[j], "    "))
    proba = model.predict_proba(X)
    labels = proba.argmax(axis=1)
    lines += ["", "A few eruptions and their membership probabilities:"]
    head = (
        "  row  "
        + "  ".join(f"{c:>9}" for c in columns)
        + "  "
        + "  ".join(f"  P(c{j})" for j in range(model.n_components))
    )
    lines.append(head)
    uncertain = np.argsort(proba.max(axis=1))[:3]
    for i in list(range(3)) + [int(u) for u in uncertain]:
        lines.append(
            f"  {i:3d}  "
            + "  ".join(f"{x:9.3f}" for x in X[i])
            + "  "
            + "  ".join(f"{p:7.3f}" for p in proba[i])
            + ("   <- least certain" if i in uncertain else "")
        )
    logd = model.score_samples(X)
    worst = np.argsort(logd)[:5]
    lines += ["", "Most anomalous eruptions (lowest log-density):"]
    for i in worst:
        lines.append(
            f"  row {i:3d}  "
            + "  ".join(f"{c}={x:.3f}" for c, x in zip(columns, X[i], strict=True))
            + f"  log-density {logd[i]:.3f}  (component {labels[i]})"
        )
    text = "\n".join(lines) + "\n"
    if out is not None:
        out.write(text)
    return text
