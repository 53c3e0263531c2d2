"""A self-contained, interactive HTML report of a Gaussian mixture fit.

>>> from gaussmix.datasets import load_faithful
>>> from gaussmix.report import write_report
>>> X, columns = load_faithful()
>>> write_report(X, "faithful.html", columns=columns)  # doctest: +SKIP

The page is one file (inline SVG, vanilla JavaScript, CSS and JSON data; nothing is
fetched) where the reader changes each choice and sees its effect: every candidate of the
model selection, EM replayed from the start they pick, how clustering fails, each point's
memberships, uncertainty and density views, any projection of the features.  Its template,
style sheet and script are the package data files ``template.html``, ``report.css`` and
``report.js``; the modules ``_candidates``, ``_replays``, ``_failures`` and ``_display``
compute what it shows (``_payload`` gathers them, ``_encoding`` packs the numbers,
``_render`` writes the HTML).  :func:`write_bayesian_report` makes the same page of a
:class:`~gaussmix.BayesianGaussianMixture` fit (``_bayesian``).
"""

from __future__ import annotations

from ._bayesian import build_bayesian_report_html, write_bayesian_report
from ._render import build_report_html, write_report

__all__ = [
    "build_bayesian_report_html",
    "build_report_html",
    "write_bayesian_report",
    "write_report",
]
