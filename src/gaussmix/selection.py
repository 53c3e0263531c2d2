"""Model selection: fit a grid of ``n_components`` x covariance types, compare by BIC, AIC
or ICL."""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.exceptions import ConvergenceWarning

from . import _validation as v
from .base import count_parameters
from .covariance import CovarianceFamily, get_family
from .covariance import covariance_types as resolve_covariance_types
from .engine import Frame, single_threaded_blas
from .engine.processes import in_worker, run_shared
from .init import TreeSample, grow_tree
from .mixture import (
    GaussianMixture,
    SingularCovarianceWarning,
    singular_reason,
)
from .multistart import FULL_RUN_ROWS, FitCallback
from .nested import duplicate, split, split_order
from .params import Params
from .regularisation import internal_reg
from .sources import ArrayRows, RowSource
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
#: ``init_iter`` of each candidate of a sweep unless given: the race's winner after 20
#: iterations, not a single fit's 10 (on the 20,000-row sweep of benchmarks/README.md, 10
#: left 41 of the 126 candidates at a lower log-likelihood)
SWEEP_INIT_ITER = 20
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
    n_jobs: int | None = None,
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
        of N").  In a sweep across processes (``n_jobs``), once a model's candidates are
        all fitted, for each of them, in the order the models finish.
    shared : bool, default=True
        Share one hierarchical tree and nested starts across the sweep (above); ``False``:
        every candidate is ``GaussianMixture(k, covariance_type=t, **params)`` fitted alone,
        the same fit as its own ``fit`` (the report replays the chosen one).
    n_jobs : int, optional
        Processes that sweep the models, this one included (each model's candidates in
        one of them, in order of ``k``): the same table and models whatever their number,
        up to rounding (the passes' threads).
        ``None``: every core on data of more than :data:`PARALLEL_ROWS` rows, one
        otherwise.  Other processes are forked, so on Linux only (elsewhere a worker would
        first run the caller's script again).  The sweep stays in this process where ``callback``
        is given (it sees every iteration as it happens), ``random_state`` is not an
        integer or ``None`` (a generator must be drawn from in order), or the rows are not an
        array in memory.
    **params
        Passed to every :class:`GaussianMixture` (``random_state``, ``n_init``, ``noise``,
        ...).  With ``noise=True`` every candidate has a noise component, whose weight and
        volume count as two more free parameters (mclust's count), and each is fitted
        alone (as with ``shared=False``).
        ``n_init`` and ``init_iter`` default to :data:`SWEEP_N_INIT` and
        :data:`SWEEP_INIT_ITER` here (with ``shared``).

    Returns
    -------
    SelectionResult
        Candidates that cannot be fitted (more components than rows, degenerate) are kept in
        the table with their ``error`` and never chosen.  Fitted candidates with more free
        parameters than rows (the sum of ``sample_weight``), or with a covariance held up only
        by ``reg_covar`` (a component with fewer effective rows than its covariance needs, see
        :class:`~gaussmix.SingularCovarianceWarning`, or whose variance in some direction is
        at most twice the regulariser's where the whole mixture's is not: rows tied in a
        feature or on a hyperplane, :func:`~gaussmix.mixture.regularised_components`), are
        kept with their ``flag`` and never chosen either: their likelihood reflects the
        regularisation, not the data.

        With ``tol=None`` (the default) on data of more than
        :data:`~gaussmix.multistart.FULL_RUN_ROWS` rows, where the candidates stop at the
        tolerance, the chosen one is then refined (as ``tol=None`` refines fits of small
        data), which only raises its log-likelihood: the choice cannot change.

    Raises
    ------
    ValueError
        If no candidate could be fitted, or every fitted one is flagged.
    """
    if criterion not in ("bic", "aic", "icl"):
        raise ValueError(f"criterion must be 'bic', 'aic' or 'icl'; got {criterion!r}.")
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1
    ):
        raise ValueError(f"n_jobs must be a positive integer or None; got {n_jobs!r}.")
    ks = sorted(set(_components(n_components)))
    types = resolve_covariance_types(covariance_types)
    # a nested start or a halved fallback would carry no noise component: fitted alone
    shared = shared and not params.get("noise", False)
    if shared:
        params = {"n_init": SWEEP_N_INIT, "init_iter": SWEEP_INIT_ITER, **params}
    # a data frame read as an array (the fits read its names)
    Xa, _ = v.precheck_X(X, allow_nan=params.get("missing", "marginalize") != "error")
    n = Xa.shape[0] if Xa.ndim == 2 else 0
    sw = v.check_sample_weight(sample_weight, n)
    n_eff = float(n if sw is None else sw.sum())

    noise = bool(params.get("noise", False))
    template = GaussianMixture(1, **params)
    with single_threaded_blas():
        prepared = _Prepared.of(template, X, sw)
        trees = None
        if (
            shared
            and template.init_params in ("auto", "hierarchical")
            and template.labels_init is None
        ):
            seed = v.as_random_state(template.random_state).randint(np.iinfo(np.int32).max)
            trees = [grow_tree(prepared.source, np.random.default_rng(seed))]
    plan = _Plan(X, sw, params, ks, trees, shared, noise, n_eff)
    jobs = _jobs(n_jobs, plan, prepared, len(types), callback)
    rows: list[dict[str, Any]] = []
    models: list[GaussianMixture | None] = []
    if jobs > 1:
        # the costliest models first: the caller takes them, the workers the cheap ones
        order = sorted(range(len(types)), key=lambda i: not get_family(types[i]).iterative)
        counted, total = 0, len(types) * len(ks)

        def arrived(_: int, model: tuple[list[dict[str, Any]], Any, Any]) -> None:
            nonlocal counted
            assert candidate_callback is not None
            for row in model[0]:  # the model's table rows
                candidate_callback(counted, total, row["n_components"], row["covariance_type"])
                counted += 1

        tasks = [(plan, types[i]) for i in order]
        swept = run_shared(
            _sweep_task, tasks, jobs, None if candidate_callback is None else arrived
        )
        by_type = dict(zip(order, swept, strict=True))
        for i in range(len(types)):
            type_rows, type_models, caught = by_type[i]
            for message, category, filename, lineno in caught:
                warnings.warn_explicit(message, category, filename, lineno)
            rows += type_rows
            models += type_models
    else:
        with single_threaded_blas():
            for cov in types:
                type_rows, type_models = _sweep_type(
                    plan, cov, prepared, callback, candidate_callback, len(rows),
                    len(types) * len(ks),
                )  # fmt: skip
                rows += type_rows
                models += type_models

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
    if shared and params.get("tol") is None and prepared.source.n_rows > FULL_RUN_ROWS:
        with single_threaded_blas():
            _refine_choice(rows, models, best, criterion, plan, prepared)
    model_best = models[best]
    assert model_best is not None
    return SelectionResult(rows, criterion, best, model_best, models)


def _refine_choice(
    rows: list[dict[str, Any]],
    models: list[GaussianMixture | None],
    best: int,
    criterion: str,
    plan: _Plan,
    prepared: _Prepared,
) -> None:
    """Continue the chosen candidate until refined, as ``tol=None`` refines every fit of
    small data (:class:`~gaussmix.em.ConvergenceMonitor`), where the sweep's fits stopped at
    the tolerance; in place.

    Refining only raises the chosen candidate's log-likelihood, so only lowers its BIC and
    AIC and leaves the other rows as they were: the choice cannot change.  Under ICL (whose
    classification cost may rise) the refined fit is kept only if its criterion is not
    higher.  The model's larger candidates whose log-likelihood the refined fit now
    exceeds become the fit before them with a component halved, as in the sweep, so the
    log-likelihood still never decreases with ``k`` (each has more parameters than the
    chosen one and the same log-likelihood: none is chosen instead).
    """
    model, row = models[best], rows[best]
    assert model is not None
    family = get_family(row["covariance_type"])
    frame = prepared.frame(family)
    start = time.perf_counter()
    refined = copy.deepcopy(model)
    refined.warm_start = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        refined._fit_prepared(
            prepared.source, frame, None, missing=prepared.missing_kind == "observed",
            refine_any_size=True,
        )  # fmt: skip
    refined.warm_start = model.warm_start
    ll, cost, _ = refined._criterion_terms(plan.X, plan.sample_weight)
    new = dict(row)
    _fill(new, ll, cost, plan.n_eff, refined)
    if not (ll >= row["log_likelihood"] and new[criterion] <= row[criterion]):
        return
    new["seconds"] = row["seconds"] + time.perf_counter() - start
    # the continued run's iterations after the sweep's
    refined.n_iter_ = model.n_iter_ + refined.n_iter_
    refined.history_ = list(model.history_) + list(refined.history_)
    rows[best], models[best] = new, refined
    for i in range(best + 1, len(rows)):
        before, after = models[i - 1], rows[i]
        if (
            after["covariance_type"] != row["covariance_type"]
            or after["n_components"] != rows[i - 1]["n_components"] + 1
            or after["error"] is not None
            or before is None
            or after["log_likelihood"] >= rows[i - 1]["log_likelihood"]
        ):
            break
        halved = _halved(before, family, frame, prepared.source, plan.params)
        ll, cost, _ = halved._criterion_terms(plan.X, plan.sample_weight)
        after["flag"] = _singular_flag(halved, frame, prepared.source.dtype, plan.n_eff)
        _fill(after, ll, cost, plan.n_eff, halved)
        models[i] = halved


@dataclass(frozen=True)
class _Plan:
    """What every model's sweep shares (sent to the worker processes)."""

    X: Any
    sample_weight: NDArray[np.float64] | None
    params: dict[str, Any]
    ks: list[int]
    trees: list[TreeSample] | None
    shared: bool
    noise: bool
    n_eff: float


@dataclass
class _Prepared:
    """The validated rows of a sweep and their frames (one per kind, made when first asked):
    per feature for the models a rescaled feature maps onto themselves, one shared scale for
    the others (see gaussmix.regularisation)."""

    template: GaussianMixture
    source: RowSource
    frame_rows: NDArray[np.floating]
    frame_weights: NDArray[np.float64] | None
    missing_kind: Any
    frames: dict[bool, Frame] = field(default_factory=dict)

    @classmethod
    def of(cls, template: GaussianMixture, X: Any, sw: NDArray[np.float64] | None) -> _Prepared:
        return cls(template, *template._fit_rows(X, sw))

    def frame(self, family: CovarianceFamily) -> Frame:
        kind = family.per_feature_equivariant
        if kind not in self.frames:
            self.frames[kind] = self.template._data_frame(
                self.source, self.frame_rows, self.frame_weights, self.missing_kind, kind
            )
        return self.frames[kind]


#: data of more rows than this is swept across the cores by default (``n_jobs=None``): its
#: candidates outweigh handing them to another process
PARALLEL_ROWS = FULL_RUN_ROWS


def _usable_cores() -> int:
    """The cores this process may run on (fewer than the machine's in a container)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _jobs(
    n_jobs: int | None,
    plan: _Plan,
    prepared: _Prepared,
    n_types: int,
    callback: FitCallback | None,
) -> int:
    """How many processes sweep the models: 1 where the fit callback must see every
    iteration as it happens, a random state must be drawn from in order, or the rows are
    not in memory."""
    if n_jobs is None:
        n_jobs = 1 if prepared.source.n_rows <= PARALLEL_ROWS else _usable_cores()
    source = prepared.source
    in_memory = isinstance(source, ArrayRows) and type(source.X) is np.ndarray
    random_state = plan.params.get("random_state")
    seeded = random_state is None or isinstance(random_state, (int, np.integer))
    if callback is not None or not in_memory or not seeded or in_worker():
        return 1
    return max(1, min(n_jobs, n_types))


def _sweep_task(
    task: tuple[_Plan, str],
) -> tuple[list[dict[str, Any]], list[GaussianMixture | None], list[tuple[Any, ...]]]:
    """One model's sweep in a worker process: its rows, models and the warnings raised."""
    plan, cov = task
    with warnings.catch_warnings(record=True) as caught, single_threaded_blas():
        warnings.simplefilter("always")
        prepared = _Prepared.of(GaussianMixture(1, **plan.params), plan.X, plan.sample_weight)
        rows, models = _sweep_type(plan, cov, prepared, None, None, 0, 0)
    return rows, models, [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


def _sweep_type(
    plan: _Plan,
    cov: str,
    prepared: _Prepared,
    callback: FitCallback | None,
    candidate_callback: Callable[[int, int, int, str], None] | None,
    offset: int,
    total: int,
) -> tuple[list[dict[str, Any]], list[GaussianMixture | None]]:
    """The candidates of one covariance model, every ``k`` of the plan in order (a fit
    starts from the ``k - 1`` one); ``offset`` and ``total`` number them for
    ``candidate_callback``."""
    family = get_family(cov)
    frame = prepared.frame(family)
    source = prepared.source
    template = prepared.template
    missing = prepared.missing_kind == "observed"
    X, sw, params, shared = plan.X, plan.sample_weight, plan.params, plan.shared
    n, d = source.n_rows, source.n_features
    rows: list[dict[str, Any]] = []
    models: list[GaussianMixture | None] = []
    previous: tuple[int, GaussianMixture, float] | None = None
    for k in plan.ks:
        if candidate_callback is not None:
            candidate_callback(offset + len(rows), total, k, cov)
        row: dict[str, Any] = dict.fromkeys(_COLUMNS)
        row.update(n_components=k, covariance_type=cov, error=None, flag=None)
        row["n_parameters"] = count_parameters(cov, k, d, plan.noise)
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
            _fit_candidate(model, row, source, frame, plan.trees, extra, callback, shared, missing)
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
                row["flag"] = _singular_flag(model, frame, source.dtype, plan.n_eff)
            row["seconds"] = time.perf_counter() - start
            _fill(row, ll, cost, plan.n_eff, model)
            previous = (k, model, ll)
            models.append(model)
        else:
            row["seconds"] = time.perf_counter() - start
            previous = None
            models.append(None)
        rows.append(row)
    return rows, models


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


def _singular_flag(model: GaussianMixture, frame: Frame, dtype: Any, n_eff: float) -> str | None:
    """The flag of a candidate fitted in ``frame`` without a fit of its own (a halved
    ``k - 1`` fit), as its fit's :class:`~gaussmix.SingularCovarianceWarning` would give."""
    reg = internal_reg(model.reg_covar, frame, frame, dtype)
    family = get_family(model.covariance_type)
    why = singular_reason(family, model.weights_, n_eff, model._internal_params(frame), reg)
    return None if why is None else "singular covariance: " + why


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
