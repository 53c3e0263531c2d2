"""Assemble the report: static HTML tables, the page template, its CSS, JS and JSON data."""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._version import __version__
from ..covariance import get_family
from ._payload import ReportData, compute

#: covariance matrices are shown in full up to this many features (the diagonal always)
MAX_MATRIX_FEATURES = 12
#: columns shown in the table of the most anomalous rows
MAX_ROW_FEATURES = 12
#: rows in the table of the most anomalous rows
N_ANOMALOUS_ROWS = 10
#: incomplete rows shown with their imputed values
N_IMPUTED_ROWS = 10


def _num(x: float) -> str:
    """A table cell: four significant digits, a true minus sign."""
    if not np.isfinite(x):
        return "—"
    return f"{x:.4g}".replace("-", "\u2212")


def _total(x: float) -> str:
    """A criterion or total log-likelihood: one decimal, thousands separators."""
    if not np.isfinite(x):
        return "—"
    text = f"{x:,.1f}" if abs(x) < 1e12 else f"{x:.4e}"
    return text.replace("-", "\u2212")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """An HTML table from already-escaped cells (first column is a row header)."""
    out = [f'<table class="{cls}">' if cls else "<table>", "<thead><tr>"]
    out += [f"<th>{h}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + f'<th scope="row">{row[0]}</th>')
        out += [f"<td>{c}</td>" for c in row[1:]]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _swatch(j: int) -> str:
    return f'<span class="swatch" data-component="{j}"></span>c{j}'


def parameter_tables(data: ReportData) -> str:
    """Weights and means, per-feature variances and (small d) covariance matrices."""
    model, names = data.model, [_esc(c) for c in data.names]
    k, d = np.shape(model.means_)
    weights = np.asarray(model.weights_, np.float64)
    means = np.asarray(model.means_, np.float64)
    dense = get_family(model.covariance_type).dense(
        np.asarray(model.covariances_, np.float64), k, d
    )
    parts = [
        "<h3>Weights and means</h3>",
        _table(
            ["component", "weight", *(f"mean of {c}" for c in names)],
            ([_swatch(j), _num(weights[j]), *map(_num, means[j])] for j in range(k)),
            "numeric",
        ),
        "<h3>Standard deviations (square roots of the covariance diagonals)</h3>",
        _table(
            ["component", *(f"sd of {c}" for c in names)],
            (
                [_swatch(j), *map(_num, np.sqrt(np.clip(np.diagonal(dense[j]), 0, None)))]
                for j in range(k)
            ),
            "numeric",
        ),
    ]
    if 2 <= d <= MAX_MATRIX_FEATURES:
        parts.append('<h3>Covariance matrices</h3><div class="matrices">')
        for j in range(k):
            parts.append(f"<figure><figcaption>{_swatch(j)}</figcaption>")
            parts.append(
                _table(
                    ["", *names],
                    ([names[a], *map(_num, dense[j, a])] for a in range(d)),
                    "numeric matrix",
                )
            )
            parts.append("</figure>")
        parts.append("</div>")
    elif d > MAX_MATRIX_FEATURES:
        parts.append(
            f'<p class="note">Full covariance matrices are not shown for {d} features '
            f"(more than {MAX_MATRIX_FEATURES}); <code>model.covariances_</code> has them.</p>"
        )
    return "".join(parts)


def data_summary(data: ReportData) -> str:
    """n, d and per-column mean, standard deviation, minimum and maximum (of the observed
    values, and their number when some are missing)."""
    X = data.X
    missing = data.missing
    observed = np.where(missing, 0.0, X)
    count = (~missing).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = observed.sum(axis=0) / count
        std = np.sqrt(np.where(missing, 0.0, (X - mean) ** 2).sum(axis=0) / (count - 1))
    low = np.where(missing, np.inf, X).min(axis=0)
    high = np.where(missing, -np.inf, X).max(axis=0)
    stats = zip(mean, std, low, high, strict=True)
    extra = missing.any()
    return _table(
        ["column", "mean", "std", "min", "max", *(["missing values"] if extra else [])],
        (
            [_esc(c), *map(_num, s), *([str(int(missing[:, j].sum()))] if extra else [])]
            for j, (c, s) in enumerate(zip(data.names, stats, strict=True))
        ),
        "numeric",
    )


def _cells(data: ReportData, i: int, count: int) -> list[str]:
    """Row ``i``'s first ``count`` values as table cells, imputed ones marked."""
    return [
        f'<em class="imputed" title="missing: the chosen model\u2019s conditional '
        f'expectation">{_num(data.filled[i, j])}</em>'
        if np.isnan(data.X[i, j])
        else _num(data.X[i, j])
        for j in range(count)
    ]


def imputed_rows(data: ReportData) -> str:
    """The first rows with missing values, filled by the chosen model (empty when every
    row is complete)."""
    missing = data.missing
    incomplete = np.flatnonzero(missing.any(axis=1))
    if not incomplete.size:
        return ""
    cells, empty = int(missing.sum()), int(missing.all(axis=1).sum())
    shown = data.names[:MAX_ROW_FEATURES]
    rows = ([str(int(i)), *_cells(data, i, len(shown))] for i in incomplete[:N_IMPUTED_ROWS])
    lead = (
        f"<h3>Missing values</h3><p>{incomplete.size:,} of {data.X.shape[0]:,} rows miss "
        f"{cells:,} value{'s' * (cells != 1)}"
        + (f" ({empty:,} miss every value)" if empty else "")
        + ". Every fit used each row's observed values (the marginal density); the page draws "
        "an incomplete row where the chosen model expects it, its missing values "
        '<em class="imputed">marked</em> as their conditional expectations given the '
        "observed ones (<code>model.impute(X)</code>), with a dashed outline. "
        f"{'The first ' + str(N_IMPUTED_ROWS) + ':' if incomplete.size > N_IMPUTED_ROWS else ''}"
        "</p>"
    )
    return lead + _table(["row", *map(_esc, shown)], rows, "numeric imputed-rows")


def selection_table(data: ReportData) -> str:
    """Every candidate of the model selection, the chosen one highlighted.

    Each row names its candidate (``data-candidate``) so that the page can draw it.
    """
    res = data.result
    criteria = data.payload["criteria"]
    out = [
        '<table class="numeric selection"><thead><tr>',
        "<th>k</th><th>covariance</th><th>log-likelihood</th><th>parameters</th>",
        *(f"<th>{c.upper()}</th>" for c in criteria),
        "<th>converged</th></tr></thead><tbody>",
    ]
    for i, r in enumerate(res.rows):
        chosen = i == res.best_index
        mark = ' class="chosen"' if chosen else ""
        out.append(f'<tr data-candidate="{i}"{mark}>')
        out.append(f"<th scope='row'>{r['n_components']}{' ★' if chosen else ''}</th>")
        out.append(f"<td>{_esc(r['covariance_type'])}</td>")
        if r["error"] is not None:
            span = 3 + len(criteria)
            out.append(f'<td colspan="{span}" class="failed">not fitted: {_esc(r["error"])}</td>')
        else:
            out += [
                f"<td>{_total(r['log_likelihood'])}</td>",
                f"<td>{r['n_parameters']}</td>",
                *(f"<td>{_total(r[c]) if r.get(c) is not None else '—'}</td>" for c in criteria),
                f"<td>{'yes' if r['converged'] else 'no'}</td>",
            ]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def criterion_charts(criteria: Sequence[str]) -> str:
    """One empty chart per criterion, drawn by the page."""
    return "".join(
        f'<figure><svg id="{c}-plot" viewBox="0 0 520 320" role="img" '
        f'aria-label="{c.upper()} against the number of components"></svg></figure>'
        for c in criteria
    )


def anomalous_rows(data: ReportData) -> str:
    """The rows of lowest log-density under the fitted model; with incomplete rows, of
    lowest tail probability (comparable whatever a row misses)."""
    shown = data.names[:MAX_ROW_FEATURES]
    if data.tails is None:
        order = np.argsort(data.scores, kind="stable")[:N_ANOMALOUS_ROWS]
        lead, tail_head = "", []
    else:  # ties at the Monte-Carlo resolution broken by log-density
        order = np.lexsort((data.scores, data.tails))[:N_ANOMALOUS_ROWS]
        lead = (
            '<p class="note">Some rows are incomplete: a log-density over fewer columns is '
            "on another scale, so rows are ranked by their tail probability, the chosen "
            "model's probability of a row at most as likely on the same observed columns "
            "(<code>model.tail_probability(X)</code>).</p>"
        )
        tail_head = ["tail probability"]
    labels = data.model.predict(data.X[order])
    head = ["row", *map(_esc, shown), "log-density", *tail_head, "component"]
    rows = (
        [
            str(int(i)),
            *_cells(data, int(i), len(shown)),
            _num(data.scores[i]),
            *([] if data.tails is None else [_num(data.tails[i])]),
            _swatch(int(c)),
        ]
        for i, c in zip(order, labels, strict=True)
    )
    return lead + _table(head, rows, "numeric")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _json_for_script(payload: dict[str, Any]) -> str:
    """JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _em_fact(payload: dict[str, Any]) -> str:
    """How the chosen model's fit ran, for the header.

    E.g. "converged: 9 short-run iterations on 10,000 rows, then 2 on all rows; best of 16
    starts".
    """
    replays = payload["replays"]
    default = next(s for s in replays["starts"] if s["name"] == "default")
    run = default["runs"][str(replays["seed"])]
    steps = run["steps"]
    short = [s for s in steps if s["phase"] == "short"]
    full = [s for s in steps if s["phase"] == "full"]
    n = payload["n"]
    parts = []
    if short:
        rows = short[0]["rows"]
        parts.append(
            f"{len(short)} short-run iteration{'s' if len(short) != 1 else ''}"
            + (f" on {rows:,} rows" if rows < n else "")
        )
    if full:
        parts.append(f"{'then ' if short else ''}{len(full)} on all rows")
    starts = run["starts"]
    state = "converged" if run["final"]["converged"] else "not converged"
    return f"{state}: {', '.join(parts) or 'no iterations'}; best of {starts} start" + (
        "s" if starts != 1 else ""
    )


def render(data: ReportData) -> str:
    """The page from the computed report data."""
    payload = data.payload
    chosen = data.result.best
    k, ct = chosen["n_components"], chosen["covariance_type"]
    components = f"{k} component{'s' if k != 1 else ''}"
    title = payload["title"] or f"Gaussian mixture report: {components}, {ct} covariances"
    payload["title"] = title
    crit = data.result.criterion.upper()
    plural = "s" if payload["d"] > 1 else ""
    incomplete = payload.get("incomplete")
    missing_fact = (
        ""
        if incomplete is None
        else f', {incomplete["rows"]:,} incomplete (<a href="#data">{incomplete["cells"]:,} '
        "missing values</a>)"
    )
    facts = [
        ("data", f"{payload['n']:,} rows \u00d7 {payload['d']} column{plural}{missing_fact}"),
        ("chosen model", f"{components}, <code>{_esc(ct)}</code> covariances"),
        (crit, _total(chosen[data.result.criterion])),
        ("EM", _em_fact(payload)),
        ("log-likelihood", f"{_total(chosen['log_likelihood'])} "
                           f"(mean {_num(data.model.score(data.X))} per row)"),
        ("random_state", str(payload["random_state"])),
    ]  # fmt: skip
    shown = len(payload["data"]["rows"])
    parts = {
        "TITLE": _esc(title),
        "CSS": _asset("report.css"),
        "JS": _asset("report.js"),
        "DATA": _json_for_script(payload),
        "FACTS": "".join(f"<div><dt>{_esc(a)}</dt><dd>{b}</dd></div>" for a, b in facts),
        "SELECTION_TABLE": selection_table(data),
        "CRITERION_SVGS": criterion_charts(payload["criteria"]),
        "PARAMETERS": parameter_tables(data),
        "PARAMETERS_LABEL": f"{components}, <code>{_esc(ct)}</code> covariances: "
        "the chosen model \u2605",
        "SUMMARY": data_summary(data),
        "IMPUTED": imputed_rows(data),
        "SLIDER_NOTE": ""
        if incomplete is None
        else " Incomplete rows are scored on their observed columns, where a log-density is "
        "on another scale: the table of least likely rows ranks by tail probability instead.",
        "ANOMALOUS": anomalous_rows(data),
        "CRITERION": crit,
        "VERSION": _esc(__version__),
        "D": str(payload["d"]),
        "N_SHOWN": f"{shown:,}",
        "SAMPLE_NOTE": f", a stratified sample of the {payload['n']:,} rows"
        if shown < payload["n"]
        else "",
    }
    return re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: parts[m.group(1)], _asset("template.html"))


def build_report_html(
    X: ArrayLike,
    *,
    n_components: int | Iterable[int] = range(1, 7),
    covariance_types: str | Iterable[str] = "all",
    columns: Sequence[str] | None = None,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
    title: str | None = None,
    max_points: int = 2000,
    criterion: str = "bic",
) -> str:
    """The HTML report of a Gaussian mixture fit of ``X``, as a string.

    See :func:`write_report` for the parameters and the page's content.

    Returns
    -------
    str
        One self-contained HTML document (inline CSS, JavaScript, SVG and data).
    """
    data = compute(
        X,
        n_components=n_components,
        covariance_types=covariance_types,
        columns=columns,
        random_state=random_state,
        title=title,
        max_points=max_points,
        criterion=criterion,
    )
    return render(data)


def write_report(
    X: ArrayLike,
    path: str | os.PathLike[str],
    *,
    n_components: int | Iterable[int] = range(1, 7),
    covariance_types: str | Iterable[str] = "all",
    columns: Sequence[str] | None = None,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
    title: str | None = None,
    max_points: int = 2000,
    criterion: str = "bic",
) -> Path:
    """Fit, select and write a self-contained interactive HTML report of ``X``.

    The model is chosen with :func:`gaussmix.select_model` over ``n_components`` x
    ``covariance_types``; the page lets the reader change each choice and see its effect.
    It works offline (no network, no external files) and shows:

    * every candidate of the selection, one click away (a grid of number of components by
      covariance model, the criterion charts' markers, the table's rows): points coloured
      by their most probable component (opacity: its probability), one- and two-sigma
      ellipses, weights, the anomaly count and the parameter tables follow, the chosen model
      stays marked;
    * each point up close (hover, click, or the arrow keys): its membership probabilities
      and log-density; views of the uncertainty (1 - largest probability) and of the
      density (contours of log p(x), with the anomaly threshold);
    * EM replayed for the chosen model from a start the reader picks (the default race,
      each initialisation strategy alone) and one of a few seeds, E-step and M-step as
      separate half-steps, with the log-likelihood curve growing; every parameter drawn is
      the one EM had (recorded through the fit callback);
    * how clustering fails, side by side, on ``X`` where it shows (else on the bundled Old
      Faithful data): k-means against the mixture, too few and too many components, a start
      stuck in a local optimum, a component collapsing without regularisation;
    * BIC and AIC (and any other criterion of the selection table) against the number of
      components, an anomaly threshold (0 to 10 % quantile of ``score_samples``), the least
      likely rows and a summary of the data.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric data (a data frame's column names are used unless ``columns`` is given).
    path : str or path-like
        Where to write the HTML file (written to a temporary file, then renamed).
    n_components : int or iterable of int, default=range(1, 7)
        Candidate numbers of components.
    covariance_types : str or iterable of str, default="all"
        Candidate covariance types (``"all"``: every registered type).
    columns : sequence of str, optional
        Feature names for axes and tables.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the fits (resolved once to an int, so that the recorded re-fit is the
        selected model); the EM replays use it and the next two integers.
    title : str, optional
        Page title (default: names the chosen model).
    max_points : int, default=2000
        At most this many rows are drawn: a fixed-seed sample stratified by the chosen
        model's components (counts, thresholds and criteria use every row).
    criterion : {"bic", "aic"}, default="bic"
        Criterion of the model selection (lower is better).

    Returns
    -------
    pathlib.Path
        The written file.

    Notes
    -----
    Every fit is made in Python; the page embeds the parameters (in a power-of-two frame,
    as float32) and evaluates those mixtures at the drawn points itself, so its size grows
    with the drawn points times the number of features, and with the number of candidates
    and EM iterations times the parameters of a model, not with ``n``.  Two columns are
    drawn as they are; with more, the reader picks the axes among the first principal
    components of ``X`` and the features (means ``a mu``, covariances ``a Sigma bᵀ``: exact
    projections of each component); one column is drawn as the value against the mixture's
    density, the points in a jittered strip under the curves.
    """
    text = build_report_html(
        X,
        n_components=n_components,
        covariance_types=covariance_types,
        columns=columns,
        random_state=random_state,
        title=title,
        max_points=max_points,
        criterion=criterion,
    )
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
