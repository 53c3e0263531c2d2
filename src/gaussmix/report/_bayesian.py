"""The report of a Bayesian mixture: the same page, with the variational fit as the model.

:func:`compute_bayesian` gives the page what :func:`._payload.compute` gives it for a model
selection, from one :class:`~gaussmix.BayesianGaussianMixture` fit:

* one candidate, the fit's effective components (:meth:`~BayesianGaussianMixture.pruned`:
  the vanished ones are left out), drawn as ellipses of their posterior-mean covariances,
  with the Student-t parameters of the predictive density (``"t"``: each component's
  degrees of freedom and the factor that widens its covariance into the t's scale) so
  that the page's memberships, log-densities and contours are the predictive density's;
* the variational iterations replayed (every component, vanishing ones included), the
  lower bound per row in place of the log-likelihood;
* what the page leaves out (``"omit"``: the model selection and the failure
  demonstrations, which are about maximum likelihood) and the texts it says instead
  (``"texts"``).
"""

from __future__ import annotations

import html
import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.exceptions import ConvergenceWarning

from ..bayesian import BayesianGaussianMixture
from ..covariance import get_family
from ..multistart import FitEvent
from ..posterior import EFFECTIVE_SHARE
from ._candidates import ANOMALY_DEFAULT_STEP, ANOMALY_PERMILLE, anomaly_cuts
from ._display import dataset, display_rows
from ._encoding import DisplayFrame, encode_state
from ._payload import ReportData, Summary, prepare
from ._render import render, write_atomic
from ._replays import N_SEEDS, NUMBER_BUDGET, _numbers, replay_entry, retained_run

Array = NDArray[np.float64]

#: the weights' priors :class:`BayesianGaussianMixture` offers, as the page names them
WEIGHT_PRIOR_NAMES = {
    "dirichlet_process": "a Dirichlet process (stick-breaking weights)",
    "dirichlet_distribution": "a Dirichlet distribution",
}
#: page elements a Bayesian fit has no use for (ids; their links in the contents go too)
OMITTED = ("selection", "failures", "candidate-grid", "back-to-chosen")


def fit_bayesian(
    model: BayesianGaussianMixture, X: Array
) -> tuple[BayesianGaussianMixture, list[FitEvent], int, list[list[float]]]:
    """Fit ``model`` recording its iterations: the model, the kept start's events, its index
    and every start's curve, the lower bound per row (the fit reports totals)."""
    events: list[FitEvent] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the page says so
        model.fit(X, callback=events.append)
    per_row = [replace(e, log_likelihood=e.log_likelihood / e.n_rows) for e in events]
    history = [h / X.shape[0] for h in model.history_]
    run, retained, curves = retained_run(per_row, history)
    return model, run, retained, curves


def predictive_t(model: BayesianGaussianMixture) -> dict[str, list[float]]:
    """Each component's Student-t in the predictive density: its degrees of freedom and
    the factor of its scale matrix over its posterior-mean covariance."""
    _, _, scales, dof = model.predictive_parameters()
    k, d = np.shape(model.means_)
    dense = get_family(model.covariance_type).dense(
        np.asarray(model.covariances_, np.float64), k, d
    )
    spread = np.trace(scales, axis1=1, axis2=2) / np.trace(dense, axis1=1, axis2=2)
    return {"dof": np.asarray(dof, np.float64).tolist(), "spread": spread.tolist()}


def candidate(model: BayesianGaussianMixture, scores: Array, frame: DisplayFrame) -> dict[str, Any]:
    """The page's one candidate: the effective components and their predictive density."""
    k = int(model.n_components)
    return {
        "k": k,
        "type": str(model.covariance_type),
        "name": f"{k} effective component{'s' * (k != 1)}, {model.covariance_type}",
        "error": None,
        "converged": bool(model.converged_),
        "ll": float(scores.sum()),
        "state": {
            **encode_state(
                model.covariance_type, model.weights_, model.means_, model.covariances_, frame
            ),
            "t": predictive_t(model),
        },
        "anomaly": anomaly_cuts(scores),
    }


def variational_replays(
    X: Array,
    make: Any,
    seed: int,
    frame: DisplayFrame,
    first: tuple[BayesianGaussianMixture, list[FitEvent], int, list[list[float]]],
) -> dict[str, Any]:
    """The variational iterations from the estimator's default start and a few seeds (while
    the packed numbers stay within :data:`NUMBER_BUDGET`); ``first`` is the fit at
    ``seed``."""
    d = X.shape[1]
    defaults = make(seed)
    note = (
        f"the estimator's default: {defaults.n_init} {defaults.init_params} starts race in "
        "short runs, the best is continued on all rows"
    )
    runs: dict[str, Any] = {}
    seeds: list[int] = []
    spent = 0
    for i in range(N_SEEDS):
        s = seed + i
        if i > 0 and spent * (i + 1) / i > NUMBER_BUDGET:
            break
        fitted = first if i == 0 else fit_bayesian(make(s), X)
        entry = replay_entry(*fitted, X, frame)
        entry["final"]["ll"] = float(fitted[0].lower_bound_) / X.shape[0]
        runs[str(s)] = entry
        seeds.append(s)
        spent += _numbers(entry, d)
    k, ct = int(defaults.n_components), str(defaults.covariance_type)
    start = {"name": "default", "label": "default", "note": note, "runs": runs}
    return {"k": k, "type": ct, "seeds": seeds, "seed": seed, "starts": [start]}


def explanation(model: BayesianGaussianMixture, shown: BayesianGaussianMixture) -> str:
    """What the Bayesian fit is and what the page shows of it (HTML)."""
    k, kept = int(model.n_components), int(shown.n_components)
    prior = WEIGHT_PRIOR_NAMES.get(model.weight_concentration_prior_type, "")
    alpha = float(model.weight_concentration_prior_)
    return (
        '<div class="model-note" id="bayesian-note"><h2>A Bayesian mixture</h2><p>'
        f"A variational Bayesian fit of at most {k} components "
        "(<code>gaussmix.BayesianGaussianMixture</code>): the weights have "
        f"{html.escape(prior)} as their prior, with concentration {alpha:.4g}, and every "
        "component's mean and precision a Gaussian-Wishart prior; the fit gives the "
        "components the data does not need almost no weight instead of choosing their number "
        "by a criterion. "
        f"{kept} of the {k} are effective (each explains at least {EFFECTIVE_SHARE:.1%} of "
        "the rows); the others have vanished and are left out of the drawings and tables "
        "(<code>model.pruned()</code>).</p><p>Ellipses are the effective components' "
        "posterior-mean covariances; memberships, log-densities, density contours and the "
        "anomaly threshold are those of the predictive density, a mixture of Student-t "
        "distributions (<code>model.score_samples</code>). The step-by-step section replays "
        "the variational updates of every component, vanishing ones included, with the lower "
        "bound per row where a maximum-likelihood fit shows its log-likelihood. The model "
        "selection across numbers of components and the demonstrations of how "
        "maximum-likelihood clustering fails are left out: they belong to "
        "<code>gaussmix report</code> without <code>--bayesian</code>.</p></div>"
    )


def page_texts() -> dict[str, str]:
    """Texts of the page a Bayesian fit changes (CSS selector: plain text)."""
    return {
        "nav a[href='#explore']": "The Bayesian fit",
        "#explore > h2": "The Bayesian fit",
        "#explore > p.lead": "Points are coloured by their most probable effective component "
        "under the predictive density; the paler a point, the less certain its membership. "
        "Hover or click a point for its memberships and log-density.",
        "#parameters > h2": "Parameters of the effective components",
        "nav a[href='#em']": "Variational inference step by step",
        "#em > h2": "Variational inference, step by step",
        "#em > p.lead": "Step through the variational fit: each iteration updates every "
        "point's responsibilities under the current posterior (the points recolour), then "
        "the posterior of the weights, means and covariances from them (the ellipses move; "
        "components the data does not need lose their weight). The lower bound below never "
        "decreases; every parameter drawn is the posterior mean the fit had.",
        "#em figure.wide figcaption": "Lower bound per row (scikit-learn's, up to a constant) "
        "at each iteration; the last point is the fitted model. Other starts of the default "
        "race in grey.",
    }


def compute_bayesian(
    X: ArrayLike,
    *,
    n_components: int,
    covariance_type: str,
    weight_concentration_prior_type: str,
    weight_concentration_prior: float | None,
    columns: Sequence[str] | None,
    random_state: Any,
    title: str | None,
    max_points: int,
) -> ReportData:
    """Fit the Bayesian mixture, replay it, and build the page's document."""
    Xa, names, seed = prepare(X, columns, random_state, max_points)
    missing = int(np.isnan(Xa).sum())
    if missing:
        raise ValueError(
            f"X has {missing} missing values: the report of a Bayesian mixture needs complete "
            "rows; drop or impute them (gaussmix.GaussianMixture().fit(X).impute(X)), or "
            "report a maximum-likelihood fit, which handles them."
        )
    n, d = Xa.shape

    def make(s: int) -> BayesianGaussianMixture:
        return BayesianGaussianMixture(
            n_components,
            covariance_type=covariance_type,
            weight_concentration_prior_type=weight_concentration_prior_type,
            weight_concentration_prior=weight_concentration_prior,
            random_state=s,
        )

    first = fit_bayesian(make(seed), Xa)
    model = first[0]
    shown = model.pruned()
    scores = np.asarray(shown.score_samples(Xa), np.float64)
    rows, statement = display_rows(np.asarray(shown.predict(Xa)), max_points)
    data, frame = dataset(Xa, names, rows, statement)
    payload: dict[str, Any] = {
        "title": title,
        "n": n,
        "d": d,
        "columns": names,
        "random_state": seed,
        "criterion": "ll",
        "criteria": [],
        "chosen": 0,
        "data": data,
        "datasets": {},
        "candidates": [candidate(shown, scores, frame)],
        "anomaly": {"permille": list(ANOMALY_PERMILLE), "default": ANOMALY_DEFAULT_STEP},
        "replays": variational_replays(Xa, make, seed, frame, first),
        "failures": [],
        "objective": "lower bound per row",
        "omit": list(OMITTED),
        "texts": page_texts(),
    }
    kept = int(shown.n_components)
    plural = "s" if d > 1 else ""
    state = "converged" if model.converged_ else "not converged"
    summary = Summary(
        title=f"Bayesian Gaussian mixture report: {kept} effective of {n_components} "
        f"components, {covariance_type} covariances",
        facts=[
            ("data", f"{n:,} rows \u00d7 {d} column{plural}"),
            (
                "model",
                f"{kept} effective of {n_components} components, "
                f"<code>{html.escape(covariance_type)}</code> covariances",
            ),
            (
                "weight prior",
                f"<code>{html.escape(weight_concentration_prior_type)}</code>, "
                f"concentration {float(model.weight_concentration_prior_):.4g}",
            ),
            (
                "variational fit",
                f"{state} after {int(model.n_iter_)} iterations; lower bound "
                f"{float(model.lower_bound_):,.1f}",
            ),
            (
                "predictive log-likelihood",
                f"{float(scores.sum()):,.1f} (mean {float(scores.mean()):.4g} per row)",
            ),
            ("random_state", str(seed)),
        ],
        parameters_label=f"{kept} effective component{'s' * (kept != 1)} of {n_components}, "
        f"<code>{html.escape(covariance_type)}</code> covariances (posterior means)",
        note=explanation(model, shown),
    )
    return ReportData(Xa, names, None, shown, scores, payload, Xa, None, summary)


def build_bayesian_report_html(
    X: ArrayLike,
    *,
    n_components: int = 20,
    covariance_type: str = "full",
    weight_concentration_prior_type: str = "dirichlet_process",
    weight_concentration_prior: float | None = None,
    columns: Sequence[str] | None = None,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
    title: str | None = None,
    max_points: int = 2000,
) -> str:
    """The HTML report of a Bayesian Gaussian mixture fit of ``X``, as a string.

    See :func:`write_bayesian_report` for the parameters.
    """
    return render(
        compute_bayesian(
            X,
            n_components=n_components,
            covariance_type=covariance_type,
            weight_concentration_prior_type=weight_concentration_prior_type,
            weight_concentration_prior=weight_concentration_prior,
            columns=columns,
            random_state=random_state,
            title=title,
            max_points=max_points,
        )
    )


def write_bayesian_report(
    X: ArrayLike,
    path: str | os.PathLike[str],
    *,
    n_components: int = 20,
    covariance_type: str = "full",
    weight_concentration_prior_type: str = "dirichlet_process",
    weight_concentration_prior: float | None = None,
    columns: Sequence[str] | None = None,
    random_state: int | np.random.RandomState | np.random.Generator | None = 0,
    title: str | None = None,
    max_points: int = 2000,
) -> Path:
    """Fit a :class:`~gaussmix.BayesianGaussianMixture` and write its interactive report.

    The page is :func:`~gaussmix.report.write_report`'s with the Bayesian fit as the model
    shown: its effective components (ellipses of their posterior-mean covariances; the
    vanished ones left out), memberships, density contours and anomaly threshold under the
    predictive density, the variational iterations replayed with the lower bound's curve,
    and a note on the fit.  The model selection and the failure demonstrations, which are
    about maximum likelihood, are left out (the page says so).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric data without missing values (a data frame's column names are used unless
        ``columns`` is given).
    path : str or path-like
        Where to write the HTML file (written to a temporary file, then renamed).
    n_components : int, default=20
        The largest number of components; the fit leaves those it does not need empty.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    weight_concentration_prior_type : {"dirichlet_process", "dirichlet_distribution"}, \
default="dirichlet_process"
        The weights' prior.
    weight_concentration_prior : float, optional
        Its concentration (default ``1 / n_components``).
    columns : sequence of str, optional
        Feature names for axes and tables.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the fit (resolved once to an int); the replays use it and the next two
        integers.
    title : str, optional
        Page title (default: names the fit).
    max_points : int, default=2000
        At most this many rows are drawn (a sample stratified by component).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    text = build_bayesian_report_html(
        X,
        n_components=n_components,
        covariance_type=covariance_type,
        weight_concentration_prior_type=weight_concentration_prior_type,
        weight_concentration_prior=weight_concentration_prior,
        columns=columns,
        random_state=random_state,
        title=title,
        max_points=max_points,
    )
    return write_atomic(text, path)
