"""A self-contained, interactive HTML report of a Gaussian mixture fit.

>>> from gaussmix.datasets import load_faithful
>>> from gaussmix.report import write_report
>>> X, columns = load_faithful()
>>> write_report(X, "faithful.html", columns=columns)  # doctest: +SKIP

The page is one file (inline SVG, vanilla JavaScript, CSS and JSON data; nothing is
fetched) that shows EM iteration by iteration, model selection curves, an anomaly
threshold and the fitted parameters.  Its template, style sheet and script are the package
data files ``template.html``, ``report.css`` and ``report.js``.
"""

from __future__ import annotations

from ._render import build_report_html, write_report

__all__ = ["build_report_html", "write_report"]
