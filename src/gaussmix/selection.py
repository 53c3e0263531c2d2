"""Model selection: fit a grid of ``n_components`` x covariance types, compare by BIC, AIC
or ICL."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning

from . import _validation as v
from .base import count_parameters
from .covariance import CovarianceFamily, get_family
from .covariance import covariance_types as resolve_covariance_types
from .engine import Frame, single_threaded_blas
from .init import TreeSample, grow_tree
from .mixture import GaussianMixture, SingularCovarianceWarning, singular_components
from .multistart import FitCallback
from .nested import duplicate, split, split_order
from .params import Params
from .sources import RowSource
from .strategy import DegenerateMixtureError

_COLUMNS = (
    "n_components",
    "covariance_type",
    "log_likelihood",
    "n_parameters",
    "bic",
    "aic",
    "icl",
    "converged",
    "seconds",
)


@dataclass
class SelectionResult:
    """The table of a model sweep and the chosen model.

    Attributes
    ----------
    rows : list of dict
        One per fitted candidate with keys ``n_components, covariance_type, log_likelihood``
        (total, under the final parameters), ``n_parameters, bic, aic, icl, converged,
        seconds``, ``error`` (``None``, or why the candidate could not be fitted) and
        ``flag`` (``None``, or why the fitted candidate is never chosen: more free parameters
        than rows, or a covariance held up only by regularisation).
    criterion : str
        ``"bic"``, ``"aic"`` or ``"icl"``; lower is better (scikit-learn's sign convention;
        mclust reports ``-BIC`` and ``-ICL``).
    best_index : int
        Index in ``rows`` of the chosen model.
    best_model : GaussianMixture
        The chosen model, fitted.
    """

    rows: list[dict[str, Any]]
    criterion: str
    best_index: int
    best_model: GaussianMixture
    models: list[GaussianMixture | None] = field(default_factory=list, repr=False)

    @property
    def best(self) -> dict[str, Any]:
        """The row of the chosen model."""
        return self.rows[self.best_index]

    def to_string(self) -> str:
        """The table as aligned text, the chosen model marked with ``*``."""
        header = ["", "k", "covariance", "log-lik", "params", "BIC", "AIC", "ICL", "conv", "sec"]
        flagged = any(r.get("flag") for r in self.rows)
        lines = [header + ["not chosen because"] * flagged]
        for i, r in enumerate(self.rows):
            failed = r["error"] is not None
            lines.append(
                [
                    "*" if i == self.best_index else ("!" if r.get("flag") else ""),
                    str(r["n_components"]),
                    r["covariance_type"],
                    "failed" if failed else f"{r['log_likelihood']:.3f}",
                    str(r["n_parameters"]),
                    "" if failed else f"{r['bic']:.3f}",
                    "" if failed else f"{r['aic']:.3f}",
                    "" if failed else f"{r['icl']:.3f}",
                    "" if failed else ("yes" if r["converged"] else "no"),
                    f"{r['seconds']:.2f}",
                ]
                + [r.get("flag") or ""] * flagged
            )
        widths = [max(len(line[c]) for line in lines) for c in range(len(lines[0]))]
        return "\n".join(
            "  ".join(cell.rjust(w) if 2 < c < len(header) else cell.ljust(w) for c, (cell, w) in
                      enumerate(zip(line, widths, strict=True))).rstrip()
            for line in lines
        )  # fmt: skip

    def __str__(self) -> str:
        return self.to_string()


def _components(n_components: int | Iterable[int]) -> list[int]:
    values = [n_components] if isinstance(n_components, (int, np.integer)) else n_components
    out = []
    for k in values:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_components must hold positive integers; got {k!r}.")
        out.append(int(k))
    if not out:
        raise ValueError("n_components is empty; pass at least one number of components.")
    return out


#: ``n_init`` of each candidate of a sweep unless given: the sweep adds its shared tree's
#: start and the splits of the previous fit, so fewer seedings do
SWEEP_N_INIT = 4
#: components of the ``k - 1`` fit whose split starts the ``k`` fit (the largest first)
SWEEP_SPLITS = 2


def select_model(
    X: ArrayLike,
    n_components: int | Iterable[int] = range(1, 10),
    covariance_types: str | Iterable[str] = "all",
    *,
    criterion: str = "bic",
    sample_weight: ArrayLike | None = None,
    callback: FitCallback | None = None,
    candidate_callback: Callable[[int, int, int, str], None] | None = None,
    shared: bool = True,
    **params: Any,
) -> SelectionResult:
    """Fit every combination of ``n_components`` and ``covariance_types``; keep the best.

    Like mclust's ``Mclust``: one model-based hierarchical clustering of a subsample of
    2,000 rows (:func:`gaussmix.init.grow_tree`) gives every candidate its first start, and
    each candidate of ``k`` components also starts from the ``k - 1`` fit of its model with
    a component split (:func:`gaussmix.nested.split`).  Where its fit still ends below the
    ``k - 1`` fit's log-likelihood, the candidate is that fit with a component halved
    (:func:`gaussmix.nested.duplicate`: the same density, one more component), so within a
    model the log-likelihood never decreases with ``k`` and the criteria compare the
    models, not their starts.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int or iterable of int, default=range(1, 10)
    covariance_types : str or iterable of str, default="all"
        ``"all"``: mclust's 14 models (EII, VII, ..., VVV); ``"sklearn"``: scikit-learn's
        four names (full, tied, diag, spherical); or any registered names.
    criterion : {"bic", "aic", "icl"}, default="bic"
        ICL is BIC plus twice the classification's cost (see
        :meth:`GaussianMixture.icl <gaussmix.base.MixtureBase.icl>`).
    sample_weight : array-like of shape (n_samples,), optional
        Row weights; ``n`` in the BIC penalty is their sum.
    callback : callable, optional
        Passed to every fit (see :meth:`GaussianMixture.fit`), e.g. for a progress bar.
    candidate_callback : callable, optional
        Called before each candidate is fitted, as ``candidate_callback(i, n_candidates,
        n_components, covariance_type)`` with ``i`` from 0 (a progress bar's "candidate i
        of N").
    shared : bool, default=True
        Share one hierarchical tree and nested starts across the sweep (above); ``False``:
        every candidate is ``GaussianMixture(k, covariance_type=t, **params)`` fitted alone,
        the same fit as its own ``fit`` (the report replays the chosen one).
    **params
        Passed to every :class:`GaussianMixture` (``random_state``, ``n_init``, ``noise``,
        ...).  With ``noise=True`` every candidate has a noise component, whose weight and
        volume count as two more free parameters (mclust's count), and each is fitted
        alone (as with ``shared=False``).
        ``n_init`` defaults to :data:`SWEEP_N_INIT` here (with ``shared``).

    Returns
    -------
    SelectionResult
        Candidates that cannot be fitted (more components than rows, degenerate) are kept in
        the table with their ``error`` and never chosen.  Fitted candidates with more free
        parameters than rows (the sum of ``sample_weight``), or with a covariance held up only
        by ``reg_covar`` (a component with fewer effective rows than its covariance needs, see
        :class:`~gaussmix.SingularCovarianceWarning`), are kept with their ``flag`` and never
        chosen either: their likelihood reflects the regularisation, not the data.

    Raises
    ------
    ValueError
        If no candidate could be fitted, or every fitted one is flagged.
    """
    if criterion not in ("bic", "aic", "icl"):
        raise ValueError(f"criterion must be 'bic', 'aic' or 'icl'; got {criterion!r}.")
    ks = sorted(set(_components(n_components)))
    types = resolve_covariance_types(covariance_types)
    # a nested start or a halved fallback would carry no noise component: fitted alone
    shared = shared and not params.get("noise", False)
    if shared:
        params = {"n_init": SWEEP_N_INIT, **params}
    # a data frame read as an array (the fits read its names)
    Xa, _ = v.precheck_X(X, allow_nan=params.get("missing", "marginalize") != "error")
    n = Xa.shape[0] if Xa.ndim == 2 else 0
    sw = v.check_sample_weight(sample_weight, n)
    n_eff = float(n if sw is None else sw.sum())

    template = GaussianMixture(1, **params)
    noise = bool(params.get("noise", False))
    with single_threaded_blas():
        source, frame_rows, frame_weights, missing_kind = template._fit_rows(X, sw)
        missing = missing_kind == "observed"
        # one frame per kind: per feature for the models a rescaled feature maps onto
        # themselves, one shared scale for the others (see gaussmix.regularisation)
        frames: dict[bool, Frame] = {}
        trees = None
        if (
            shared
            and template.init_params in ("auto", "hierarchical")
            and template.labels_init is None
        ):
            seed = v.as_random_state(template.random_state).randint(np.iinfo(np.int32).max)
            trees = [grow_tree(source, np.random.default_rng(seed))]
        d = source.n_features
        rows: list[dict[str, Any]] = []
        models: list[GaussianMixture | None] = []
        for cov in types:
            family = get_family(cov)
            kind = family.per_feature_equivariant
            if kind not in frames:
                frames[kind] = template._data_frame(
                    source, frame_rows, frame_weights, missing_kind, kind
                )
            frame = frames[kind]
            previous: tuple[int, GaussianMixture, float] | None = None
            for k in ks:
                if candidate_callback is not None:
                    candidate_callback(len(rows), len(types) * len(ks), k, cov)
                row: dict[str, Any] = dict.fromkeys(_COLUMNS)
                row.update(n_components=k, covariance_type=cov, error=None, flag=None)
                row["n_parameters"] = count_parameters(cov, k, d, noise)
                model = GaussianMixture(k, covariance_type=cov, **params)
                model._adopt_validation(template)
                nested = shared and previous is not None and previous[0] == k - 1
                start = time.perf_counter()
                try:
                    if k > n:
                        raise ValueError(
                            f"Expected n_samples >= n_components but got n_components = {k}, "
                            f"n_samples = {n}. Decrease n_components or pass more rows."
                        )
                    extra: list[Params] = []
                    if nested:
                        assert previous is not None
                        fitted = previous[1]._internal_params(frame)
                        order = split_order(fitted, family)[:SWEEP_SPLITS]
                        extra = [split(fitted, family, int(j)) for j in order]
                    _fit_candidate(
                        model, row, source, frame, trees, extra, callback, shared, missing
                    )
                except DegenerateMixtureError as exc:
                    row["error"] = str(exc)
                except ValueError as exc:
                    if "n_samples >= n_components" not in str(exc):
                        raise
                    row["error"] = str(exc)
                if row["error"] is None:
                    ll, cost, _ = model._criterion_terms(X, sw)
                    if nested and previous is not None and ll < previous[2]:
                        # no fit above the k - 1 one: that one with a component halved
                        model = _halved(previous[1], family, frame, source, params)
                        ll, cost, _ = model._criterion_terms(X, sw)
                        why = singular_components(cov, model.weights_, d, n_eff)
                        row["flag"] = None if why is None else "singular covariance: " + why
                    row["seconds"] = time.perf_counter() - start
                    _fill(row, ll, cost, n_eff, model)
                    previous = (k, model, ll)
                    models.append(model)
                else:
                    row["seconds"] = time.perf_counter() - start
                    previous = None
                    models.append(None)
                rows.append(row)

    scores = [r[criterion] if r["error"] is None and not r["flag"] else np.inf for r in rows]
    if not np.isfinite(scores).any():
        flagged = [r for r in rows if r["error"] is None]
        if not flagged:
            raise ValueError(
                "No candidate model could be fitted: " + "; ".join(str(r["error"]) for r in rows)
            )
        fewest = min(flagged, key=lambda r: r["n_parameters"])
        raise ValueError(
            f"No candidate model can be chosen from {n_eff:.6g} rows: every one fitted has more "
            "free parameters than rows or a covariance held up only by reg_covar (the "
            f"smallest, {fewest['n_components']} {fewest['covariance_type']!r} component"
            f"{'s' * (fewest['n_components'] > 1)}: {fewest['flag']}). Use fewer features "
            "(e.g. after PCA), fewer components or simpler covariance types ('diag', "
            "'spherical'), or fit a single model (one number of components, one covariance "
            "type), which is not chosen among others."
        )
    best = int(np.argmin(scores))
    model_best = models[best]
    assert model_best is not None
    return SelectionResult(rows, criterion, best, model_best, models)


def _fit_candidate(
    model: GaussianMixture,
    row: dict[str, Any],
    source: RowSource,
    frame: Frame,
    trees: list[TreeSample] | None,
    extra: list[Params],
    callback: FitCallback | None,
    shared: bool,
    missing: bool,
) -> None:
    """Fit one candidate, its singular-covariance warning noted in ``row``'s flag; not
    ``shared``, as its own ``fit`` would."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("always", SingularCovarianceWarning)
        model._fit_prepared(
            source, frame, callback, trees=trees, extra_starts=extra,
            race=True if shared else None, missing=missing,
        )  # fmt: skip
    for w in caught:  # the others are shown as they would have been
        if issubclass(w.category, SingularCovarianceWarning):
            row["flag"] = "singular covariance: " + str(w.message).split(":")[0]
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _halved(
    fitted: GaussianMixture,
    family: CovarianceFamily,
    frame: Frame,
    source: RowSource,
    params: dict[str, Any],
) -> GaussianMixture:
    """The ``k - 1`` fit with its largest component halved, as a ``k``-component model."""
    internal = fitted._internal_params(frame)
    j = int(split_order(internal, family)[0])
    model = GaussianMixture(internal.n_components + 1, covariance_type=family.name, **params)
    model._adopt_validation(fitted)
    model._set_fit(
        duplicate(internal, family, j), frame, source.dtype,
        converged=bool(fitted.converged_), n_iter=0, lower_bound=float(fitted.lower_bound_),
        history=[], start_lower_bounds=[], reseeds=[],
    )  # fmt: skip
    return model


def _fill(
    row: dict[str, Any], ll: float, cost: float, n_eff: float, model: GaussianMixture
) -> None:
    """The fitted candidate's columns of its row."""
    p = row["n_parameters"]
    if p > n_eff:
        row["flag"] = f"{p} free parameters for {n_eff:.6g} rows"
    bic = -2.0 * ll + p * np.log(n_eff)
    row.update(
        log_likelihood=ll,
        bic=bic,
        aic=-2.0 * ll + 2.0 * p,
        icl=bic + 2.0 * cost,
        converged=bool(model.converged_),
    )
