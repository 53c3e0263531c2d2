"""How clustering goes wrong, shown side by side on the reader's data where it does.

Four demonstrations, each a few fitted states (or k-means labels) and one sentence on
what to learn:

* k-means against the mixture (nearest centre against covariances and probabilities);
* too few and too many components against the chosen number;
* a start stuck in a local optimum against the best of several starts;
* a component collapsing onto a few rows when the covariances are not regularised.

Each is tried on the reader's data; where it does not show there (one component, k-means
agreeing with the mixture, every start reaching the same optimum, nothing collapsing, or a
single column), it is shown on the bundled Old Faithful data instead, and the page says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from ..covariance import get_family
from ..datasets import load_faithful
from ..mixture import GaussianMixture, SingularCovarianceWarning
from ..multistart import FitEvent
from ..regularisation import RELATIVE_REG, is_relative
from ..strategy import DegenerateMixtureError
from ._display import dataset
from ._encoding import DisplayFrame, encode_state, pack
from ._replays import estimator

Array = NDArray[np.float64]

#: k-means and the mixture "disagree" when at least this share of rows is grouped apart
MIN_DISAGREEMENT = 0.05
#: "too many" components: twice the chosen number, at most this many more
MAX_EXTRA = 3
#: single starts tried for a local optimum, and the rows they are fitted on at most
N_STARTS = 10
LOCAL_ROWS = 5_000
#: a start is "stuck" when it ends at least this far (total log-likelihood) below the best
MIN_GAP = 1.0
#: rows tried as the seed of a collapsing component, and the rows that run uses at most
COLLAPSE_TRIES = 4
COLLAPSE_ROWS = 2_000
#: a component has collapsed when its smallest standard deviation falls below this share
#: of the data's
COLLAPSED = 1e-4
#: the bundled data's model when a demonstration falls back to it (BIC's choice there)
FALLBACK_K = 3
FALLBACK_TYPE = "tied"
#: letters of component labels (as the page decodes them)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass
class Source:
    """A data set the demonstrations run on, with its chosen model.

    Attributes
    ----------
    key : {"user", "faithful"}
    X : ndarray of shape (n, d)
    frame : DisplayFrame
    model : GaussianMixture
        The chosen model (or the fallback's).
    rows : ndarray
        The rows the page draws.
    seed : int
    fitted : dict
        Models already fitted, by ``(covariance_type, n_components)`` (the sweep's).
    """

    key: str
    X: Array
    frame: DisplayFrame
    model: GaussianMixture
    rows: NDArray[np.intp]
    seed: int
    fitted: dict[tuple[str, int], GaussianMixture] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.model.n_components)

    @property
    def type(self) -> str:
        return str(self.model.covariance_type)

    def state(self, model: GaussianMixture) -> dict[str, Any]:
        return encode_state(
            model.covariance_type, model.weights_, model.means_, model.covariances_, self.frame
        )

    def fit(self, k: int) -> GaussianMixture | None:
        """The chosen covariance model with ``k`` components (from the sweep if there);
        ``None`` if it cannot be fitted."""
        known = self.fitted.get((self.type, k))
        if known is None:
            model = GaussianMixture(k, covariance_type=self.type, random_state=self.seed)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    warnings.simplefilter("ignore", SingularCovarianceWarning)  # shown on the page
                    known = model.fit(self.X)
            except (DegenerateMixtureError, ValueError):
                return None
            self.fitted[(self.type, k)] = known
        return known


#: a demonstration: its entry for the page, or None and why it does not apply
Outcome = tuple[dict[str, Any] | None, str]


def matching(labels: NDArray[np.intp], reference: NDArray[np.intp], k: int) -> NDArray[np.intp]:
    """The renaming of ``labels`` (``0..k-1``) that agrees best with ``reference``."""
    table = np.zeros((k, k))
    np.add.at(table, (labels, reference), 1)
    rows, cols = linear_sum_assignment(-table)
    rename = np.empty(k, dtype=np.intp)
    rename[rows] = cols
    return rename


def _codes(labels: NDArray[np.intp]) -> str:
    return "".join(_DIGITS[j] for j in labels.tolist())


def kmeans_vs_mixture(src: Source) -> Outcome:
    """k-means with the chosen number of groups against the chosen mixture."""
    k = src.k
    if not 2 <= k <= len(_DIGITS):
        return None, f"the chosen model has {k} component{'s' if k > 1 else ''}"
    with threadpool_limits(limits=1):  # its OpenMP threads stall when the cores are shared
        km = KMeans(n_clusters=k, n_init=4, random_state=src.seed).fit(src.X)
    mixture = np.asarray(src.model.predict(src.X), np.intp)
    # k-means' groups renamed after the components they overlap most, so colours match
    rename = matching(np.asarray(km.labels_, np.intp), mixture, k)
    labels = rename[km.labels_]
    apart = float(np.mean(labels != mixture))
    if apart < MIN_DISAGREEMENT:
        return None, f"k-means groups {1 - apart:.0%} of its rows as the mixture does"
    centres = np.empty_like(km.cluster_centers_)
    centres[rename] = km.cluster_centers_
    return {
        "id": "kmeans",
        "title": "k-means against the mixture",
        "lesson": (
            "k-means gives each row to the nearest centre, which cuts the plane into round "
            "regions of about equal width; the mixture's covariances follow groups that are "
            "elongated, tilted or of different spread, and give each row a probability "
            "instead of a hard cut."
        ),
        "panels": [
            {
                "title": f"k-means, k = {k}",
                "labels": _codes(labels[src.rows]),
                "centres": pack(src.frame.to_frame(centres)),
                "caption": f"{apart:.0%} of the rows are grouped differently from the mixture",
            },
            {
                "title": f"Gaussian mixture, k = {k}, {src.type}",
                "state": src.state(src.model),
                "caption": "colours: most probable component; paler: less certain",
            },
        ],
    }, ""


def component_count(src: Source) -> Outcome:
    """Too few and too many components against the chosen number."""
    k = src.k
    if k < 2:
        return None, "the chosen model has one component, so none can be too few"
    few, many = max(1, k // 2), min(2 * k, k + MAX_EXTRA)
    panels = []
    for kk, title in ((few, "too few"), (k, "chosen"), (many, "too many")):
        model = src.model if kk == k else src.fit(kk)
        if model is None:
            return None, f"{kk} components cannot be fitted to it"
        panels.append(
            {
                "title": f"{title}: k = {kk}",
                "state": src.state(model),
                "caption": (
                    f"log-likelihood {model.score(src.X) * len(src.X):,.1f}, "
                    f"BIC {model.bic(src.X):,.1f}"
                ),
            }
        )
    return {
        "id": "components",
        "title": "Too few and too many components",
        "lesson": (
            "Too few components merge distinct groups under one broad ellipse; too many cut a "
            "group into pieces that fit its noise. The likelihood always rises with k, so it "
            "cannot choose: BIC charges each parameter and picks between them."
        ),
        "panels": panels,
    }, ""


def _sample(n: int, at_most: int, seed: int) -> NDArray[np.intp]:
    if n <= at_most:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, at_most, replace=False))


def local_optimum(src: Source) -> Outcome:
    """Single starts of the chosen model: the worst optimum reached against the best."""
    k = src.k
    if k < 2:
        return None, "a single component has no local optima"
    rows = _sample(len(src.X), LOCAL_ROWS, src.seed)
    X = src.X[rows]
    fits: list[tuple[float, int, GaussianMixture]] = []
    for i in range(N_STARTS):
        model = estimator("random_from_data", k, src.type, src.seed + i)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", SingularCovarianceWarning)  # shown on the page
                model.fit(X)
        except DegenerateMixtureError:
            continue
        fits.append((float(model.score(X)) * len(X), src.seed + i, model))
    if len(fits) < 2:
        return None, "too few starts could be fitted"
    fits.sort(key=lambda f: f[0])
    (worst, worst_seed, stuck), (best, best_seed, top) = fits[0], fits[-1]
    if best - worst < MIN_GAP:
        return None, f"all {len(fits)} starts reached the same optimum"
    on = "" if len(rows) == len(src.X) else f" (fitted on a random {len(rows):,} rows)"
    return {
        "id": "local",
        "title": "A start stuck in a local optimum",
        "lesson": (
            "EM only ever climbs, so it stops on top of the hill it started on: a poor start "
            "ends at a local optimum. Several starts, keeping the best (gaussmix races 16 by "
            "default), guard against it."
        ),
        "panels": [
            {
                "title": f"stuck: random rows, seed {worst_seed}",
                "state": src.state(stuck),
                "caption": f"log-likelihood {worst:,.1f}{on}",
            },
            {
                "title": f"best of {len(fits)} starts: seed {best_seed}",
                "state": src.state(top),
                "caption": f"log-likelihood {best:,.1f}, {best - worst:,.1f} higher",
            },
        ],
    }, ""


def seeded_start(src: Source, X: Array, row: int, neighbours: NDArray[np.intp]) -> dict[str, Array]:
    """The chosen model's components plus one on ``X[row]`` and its nearest rows.

    The added component has the weight of ``d + 1`` rows and their covariance (plus a
    ridge a thousandth of each feature's frame scale), so that EM starts it on them.
    """
    n, d = X.shape
    k = src.k
    dense = get_family(src.type).dense(np.asarray(src.model.covariances_, np.float64), k, d)
    local = np.cov(X[[row, *neighbours]], rowvar=False).reshape(d, d)
    local += np.diag((src.frame.scale * 1e-3) ** 2)
    weights = np.append(np.asarray(src.model.weights_) * (1 - (d + 1) / n), (d + 1) / n)
    return {
        "weights_init": weights,
        "means_init": np.vstack([np.asarray(src.model.means_, np.float64), X[row]]),
        "precisions_init": np.linalg.inv(np.concatenate([dense, local[None]])),
    }


def _run(
    X: Array, start: dict[str, Array], reg_covar: float | str
) -> tuple[GaussianMixture, list[FitEvent]]:
    events: list[FitEvent] = []
    model = GaussianMixture(
        len(start["means_init"]),
        covariance_type="full",
        reg_covar=reg_covar,
        weights_init=start["weights_init"],
        means_init=start["means_init"],
        precisions_init=start["precisions_init"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SingularCovarianceWarning)  # shown on the page
        model.fit(X, callback=events.append)
    return model, events


def _smallest_sd(covariance: Array) -> float:
    return float(np.sqrt(max(np.linalg.eigvalsh(covariance).min(), 0.0)))


def collapse(src: Source) -> Outcome:
    """A component seeded on near-duplicate rows, EM without ``reg_covar``."""
    rows = _sample(len(src.X), COLLAPSE_ROWS, src.seed)
    X = src.X[rows]
    d = X.shape[1]
    if len(X) < d + 3:
        return None, "it has too few rows"
    Z = src.frame.to_frame(X)
    data_sd = _smallest_sd(np.atleast_2d(np.cov(X, rowvar=False)))
    distance, near = NearestNeighbors(n_neighbors=d + 2).fit(Z).kneighbors(Z)
    tried: set[tuple[float, ...]] = set()
    found = None
    for i in np.argsort(distance[:, 1], kind="stable"):
        key = tuple(X[i].tolist())
        if key in tried:
            continue
        tried.add(key)
        if len(tried) > COLLAPSE_TRIES:
            break
        start = seeded_start(src, X, int(i), near[i, 1:])
        try:
            _, events = _run(X, start, 0.0)
        except (DegenerateMixtureError, ValueError):
            continue
        j = src.k  # the seeded component
        sds = [_smallest_sd(e.covariances[j]) for e in events]
        collapsed = [t for t, sd in enumerate(sds) if sd < COLLAPSED * data_sd]
        if collapsed:
            found = start, events, collapsed[0], j
            break
    if found is None:
        return None, f"no component collapsed in {COLLAPSE_TRIES} tries"
    start, events, t, j = found
    drawn = None
    for at in reversed(events[: t + 1]):
        try:
            state = encode_state("full", at.weights, at.means, at.covariances, src.frame)
        except ValueError:
            continue
        if not state.get("f64"):  # the most collapsed state the page evaluates as the others
            drawn = at, state
            break
    if drawn is None:
        return None, "the collapsing component cannot be drawn"
    at, state = drawn
    gone = events[t]
    reg = GaussianMixture().reg_covar
    # the variance it adds at least: RELATIVE_REG of the smallest feature variance ("auto")
    least = float(reg) if not is_relative(reg) else RELATIVE_REG * float(X.var(axis=0).min())
    try:
        floor, floor_events = _run(X, start, reg)
    except (DegenerateMixtureError, ValueError):
        return None, "the regularised run failed"
    on = "" if len(rows) == len(src.X) else f" (on a random {len(rows):,} rows)"
    return {
        "id": "collapse",
        "title": "A component collapsing without regularisation",
        "lesson": (
            "Rows that share a value let one component squeeze onto them: its variance goes "
            "to zero and the likelihood to infinity, so without regularisation the "
            "\u201cbest\u201d fit is a degenerate one; reg_covar puts a floor under every "
            "variance, which keeps the likelihood bounded (raise it for coarsely measured "
            "data, and judge models by a criterion, not by their likelihood)."
        ),
        "panels": [
            {
                "title": f"reg_covar = 0, iteration {at.iteration}",
                "state": state,
                "highlight": int(j),
                "caption": (
                    f"c{j} holds {float(at.weights[j]) * len(X):.1f} rows, smallest standard "
                    f"deviation {_smallest_sd(at.covariances[j]):.2g}; at iteration "
                    f"{gone.iteration} {_smallest_sd(gone.covariances[j]):.2g} (the data's: "
                    f"{data_sd:.3g}); log-likelihood per row {at.log_likelihood:.3f}, then "
                    f"{gone.log_likelihood:.3f} and {events[-1].log_likelihood:.3f} at the "
                    f"end{on}"
                ),
            },
            {
                "title": f"reg_covar = {reg!r} (the default), same start",
                "state": src.state(floor),
                "highlight": int(j),
                "caption": (
                    f"c{j}'s smallest standard deviation "
                    f"{_smallest_sd(np.asarray(floor.covariances_)[j]):.3g}, no lower than "
                    f"the floor reg_covar puts, {np.sqrt(least):.3g}; log-likelihood per row "
                    f"{floor.score(X):.3f}, bounded"
                ),
            },
        ],
        "curves": [
            {"label": "reg_covar = 0", "values": [float(e.log_likelihood) for e in events]},
            {
                "label": f"reg_covar = {reg!r}",
                "values": [float(e.log_likelihood) for e in floor_events],
            },
        ],
        "mark": int(at.iteration),
    }, ""


MODES: tuple[Callable[[Source], Outcome], ...] = (
    kmeans_vs_mixture,
    component_count,
    local_optimum,
    collapse,
)


def faithful_source(seed: int) -> tuple[Source, dict[str, Any]]:
    """The bundled data, its fallback model and its description for the page."""
    X, names = load_faithful()
    X = np.asarray(X, np.float64)
    data, frame = dataset(X, list(names), np.arange(len(X)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SingularCovarianceWarning)  # shown on the page
        model = GaussianMixture(FALLBACK_K, covariance_type=FALLBACK_TYPE, random_state=seed)
        model.fit(X)
    return Source("faithful", X, frame, model, np.arange(len(X)), seed), data


def failure_modes(user: Source) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every demonstration, on ``user`` where it shows, else on Old Faithful.

    Returns the entries and the extra data sets they draw on (by key).
    """
    entries: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    fallback: tuple[Source, dict[str, Any]] | None = None
    is_bundled: bool | None = None
    for mode in MODES:
        made, why = (None, "the data has one column") if user.X.shape[1] < 2 else mode(user)
        if made is not None:
            made.update(source="On your data.", data=user.key)
            entries.append(made)
            continue
        if fallback is None:
            fallback = faithful_source(user.seed)
            bundled = fallback[0].X
            is_bundled = user.X.shape == bundled.shape and bool(np.array_equal(user.X, bundled))
        if is_bundled:
            continue  # the user's data is the bundled data: nothing else to show it on
        made, _ = mode(fallback[0])
        if made is None:
            continue
        made.update(source=f"On the bundled Old Faithful data: in yours, {why}.", data="faithful")
        extra["faithful"] = fallback[1]
        entries.append(made)
    return entries, extra
