"""The commands: one ``cmd_*`` function per sub-command, taking the parsed arguments."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from .defaults import COVARIANCE_SETS, REPORT_COVARIANCE
from .errors import CLIError, _shown
from .progress import Progress
from .tables import (
    Data,
    check_output,
    copy_kind,
    derived_path,
    read_data,
    select_features,
    write_like,
    write_table,
    write_text_table,
)


def _say(args: argparse.Namespace, text: str, stream: TextIO | None = None) -> None:
    """An informational line (silenced by ``--quiet``)."""
    if not getattr(args, "quiet", False):
        print(text, file=stream or sys.stdout)


@contextlib.contextmanager
def _plain_arrays() -> Iterator[None]:
    """Silence scikit-learn's warning about predicting plain arrays with a named model.

    The command line selects the model's columns by name itself, then passes arrays.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        yield


def _estimator_params(args: argparse.Namespace) -> dict[str, Any]:
    """The GaussianMixture parameters the options set."""
    params: dict[str, Any] = {"random_state": args.seed}
    for name in ("n_init", "max_iter", "tol", "reg_covar", "missing", "batch_size"):
        value = getattr(args, name, None)
        if value is not None:
            params[name] = value
    if getattr(args, "noise", False):
        params["noise"] = True
    return params


def _candidates(args: argparse.Namespace) -> int:
    return len(args.components) * len(args.covariance)


def _select(X: NDArray[np.floating], args: argparse.Namespace, progress: Progress) -> Any:
    from ..selection import select_model

    # the bar counts candidates only: a callback of every EM iteration would keep the
    # sweep in one process
    return select_model(
        X,
        args.components,
        args.covariance,
        criterion=getattr(args, "criterion", "bic"),
        **_estimator_params(args),
        candidate_callback=progress.candidate if progress.bar is not None else None,
    )


def _flagged_note(result: Any) -> str | None:
    flagged = sum(1 for row in result.rows if row.get("flag"))
    if not flagged:
        return None
    return (
        f"! = never chosen ({flagged} candidate{'s' * (flagged > 1)}): more free parameters "
        "than rows, or a covariance held up only by --reg-covar (a component with fewer "
        "rows than its covariance needs); the last column says which"
    )


def _features(data: Data, args: argparse.Namespace, **kw: Any) -> Any:
    kw.setdefault("allow_missing", getattr(args, "missing", "marginalize") != "error")
    return select_features(
        data,
        args.columns,
        id_column=getattr(args, "id", None),
        exclude=getattr(args, "exclude", None),
        **kw,
    )


def _incomplete(X: NDArray[np.floating], verb: str, empty_note: str = "") -> str | None:
    """What the rows with missing values are, in words, e.g. "12 of 300 rows are incomplete
    (15 empty cells; 1 with nothing observed): fitted on their observed values"; None when
    every row is complete, or for rows read lazily (a Dask fit refuses missing values)."""
    if not isinstance(X, np.ndarray):
        return None
    missing = np.isnan(X)
    rows = int(missing.any(axis=1).sum())
    if not rows:
        return None
    cells = int(missing.sum())
    empty = int(missing.all(axis=1).sum())
    detail = f"{cells} empty cell{'s' * (cells > 1)}"
    if empty:
        detail += f"; {empty} with nothing observed{empty_note}"
    return (
        f"{rows} of {X.shape[0]} rows {'is' if rows == 1 else 'are'} incomplete ({detail}): "
        f"{verb} on their observed values"
    )


def _read_training_data(
    args: argparse.Namespace, one_model: bool = True, out_of_core: bool = False
) -> tuple[Data, Any, list[str], Any]:
    """DATA's rows (an array; a Dask array with ``--scheduler``; a row source read out of
    core where ``out_of_core`` allows it, see :mod:`gaussmix.cli.outofcore`), their columns
    and the standardization to apply (``one_model``: the command fits one model)."""
    from ..standardize import Standardization

    if getattr(args, "scheduler", None):  # out of core, on the cluster
        from .cluster import read_lazily

        return (*read_lazily(args, one_model=one_model), None)
    if out_of_core:
        from .outofcore import read_out_of_core, streams

        if streams(args):
            data, source, names = read_out_of_core(args)
            _say(
                args,
                f"Reading {data.path.name} out of core: {data.n_rows} rows x {len(names)} "
                "columns, one pass per EM iteration",
            )
            return data, source, names, None
    data = read_data(args.data)
    X, names = _features(data, args)
    standardization = Standardization.fit(X) if getattr(args, "standardize", False) else None
    Z = X if standardization is None else standardization.transform(X)
    return data, Z, names, standardization


def _check_bayesian_options(args: argparse.Namespace) -> None:
    """``--bayesian`` fits one model; ``--prune`` and ``--weight-prior`` need it, ``--noise``
    refuses it."""
    if not args.bayesian:
        if getattr(args, "prune", False):
            raise CLIError("--prune applies to a Bayesian mixture: add --bayesian")
        return
    for flag, name in (("--batch-size", "batch_size"), ("--out-of-core", "out_of_core")):
        if getattr(args, name, None):  # options of fit, not of report
            raise CLIError(f"{flag} is not available with --bayesian; fit without it")
    if getattr(args, "noise", False):
        raise CLIError(
            "--noise (a uniform noise component) applies to maximum-likelihood fits, not to "
            "--bayesian: drop one of them"
        )
    if len(args.covariance) > 1:
        raise CLIError(
            f"--bayesian fits one covariance type, got {len(args.covariance)} "
            f"({_shown(args.covariance, 4)}): pass one of full, tied, diag, spherical"
        )


def cmd_fit(args: argparse.Namespace) -> int:
    """``gaussmix fit``: fit one model or choose one by BIC (or fit a Bayesian mixture), save
    it, print a summary."""
    from ..mixture import GaussianMixture
    from ..persistence import save_model

    _check_bayesian_options(args)
    out = check_output(args.output, "model", inputs=[("DATA", args.data)], force=args.force)
    assert out is not None
    data, Z, names, standardization = _read_training_data(args, out_of_core=True)
    ks, types = args.components, args.covariance
    n_candidates = 1 if args.bayesian else len(ks) * len(types)
    progress = (
        Progress(args, "fitting")
        if n_candidates == 1
        else Progress(args, "selecting", candidates=n_candidates)
    )
    result = None
    try:
        if args.bayesian:
            from ..bayesian import BayesianGaussianMixture

            # the options it has (no missing values, no mini-batches: not VB's parameters)
            accepted = BayesianGaussianMixture().get_params()
            params = {n: x for n, x in _estimator_params(args).items() if n in accepted}
            model = BayesianGaussianMixture(
                max(ks), covariance_type=types[0],
                weight_concentration_prior_type=args.weight_prior, **params,
            )  # fmt: skip
            model.fit(Z, callback=progress if progress.bar is not None else None)
        elif n_candidates == 1:
            model = GaussianMixture(ks[0], covariance_type=types[0], **_estimator_params(args))
            model.fit(Z, callback=progress if progress.bar is not None else None)
        else:
            result = _select(Z, args, progress)
            model = result.best_model
    finally:
        progress.close()
    if data.named:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    fitted = model
    if args.prune:
        model = model.pruned()
    save_model(model, out, standardization=standardization)

    n = Z.n_rows if hasattr(Z, "n_rows") else Z.shape[0]  # a row source, or an array
    log_det = 0.0 if standardization is None else standardization.log_abs_det
    with _plain_arrays():
        mean_ll = model.score(Z) - log_det
    source = f"to {n} rows x {len(names)} columns ({_shown(names, 6)}) of {data.path.name}" + (
        " (standardized)" if standardization is not None else ""
    )
    if args.bayesian:
        lines = _bayesian_summary(fitted, model, source, mean_ll)
    else:
        lines = _summary(model, result, source, mean_ll, n)
    note = _incomplete(Z, "fitted", ", left out of the fit")
    if note is not None:
        lines.append(note)
    means = np.asarray(model.means_, dtype=np.float64)
    if standardization is not None:
        means = standardization.inverse_transform(means)
    shown_components = (
        fitted.effective_components_ if args.bayesian and not args.prune else range(len(means))
    )
    for j in shown_components:
        shown = ", ".join(f"{c}={m:.4g}" for c, m in zip(names[:6], means[j][:6], strict=True))
        more = ", ..." if len(names) > 6 else ""
        lines.append(f"  component {j}: weight {model.weights_[j]:.4f}, mean {shown}{more}")
    if getattr(model, "noise_region_", None) is not None:
        with _plain_arrays():
            noisy = int(np.count_nonzero(model.predict(Z) == -1))
        lines.append(
            f"  noise: weight {model.noise_weight_:.4f}, uniform over a box of volume "
            f"{model.noise_region_.volume:.4g}; {noisy} of {n} rows labelled -1"
        )
    lines.append(f"Saved the model to {out}")
    _say(args, "\n".join(lines))
    return 0


def _bayesian_summary(fitted: Any, model: Any, source: str, mean_ll: float) -> list[str]:
    """What ``gaussmix fit --bayesian`` says of its fit (before the components)."""
    k, used = fitted.n_components, fitted.effective_n_components_
    prior = fitted.weight_concentration_prior_type.replace("_", " ")
    empty = k - used
    return [
        f"Fitted a Bayesian mixture of at most {k} components (covariance "
        f"{fitted.covariance_type!r}, {prior} prior) {source}",
        f"{used} effective component{'s' * (used != 1)} (each explaining at least 0.1% of the "
        "rows)"
        + (
            f"; {'dropped' if model is not fitted else 'not listed'}: {empty} with vanishing weight"
            if empty
            else ""
        ),
        f"{'Converged' if fitted.converged_ else 'Did NOT converge'} in {fitted.n_iter_} "
        f"iterations; lower bound {fitted.lower_bound_:.6g}; predictive log-density "
        f"{mean_ll:.6g} per row",
    ]


def _summary(model: Any, result: Any, source: str, mean_ll: float, n: int) -> list[str]:
    """What ``gaussmix fit`` says of a maximum-likelihood fit (before the components)."""
    bic = -2.0 * n * mean_ll + model.n_parameters() * np.log(n)
    lines = [
        f"Fitted {model.n_components} component{'s' * (model.n_components > 1)} "
        f"(covariance {model.covariance_type!r}) {source}",
    ]
    if result is not None:
        flagged = sum(1 for row in result.rows if row.get("flag"))
        lines.append(
            f"Chosen by BIC among {len(result.rows)} candidates"
            + (
                f" ({flagged} never chosen: more free parameters than rows, or a singular "
                "covariance)"
                if flagged
                else ""
            )
            + " (`gaussmix select` prints the table)."
        )
    lines.append(
        f"{'Converged' if model.converged_ else 'Did NOT converge'} in {model.n_iter_} EM "
        f"iterations; log-likelihood {mean_ll:.6g} per row; BIC {bic:.6g}"
    )
    return lines


def cmd_select(args: argparse.Namespace) -> int:
    """``gaussmix select``: print (and optionally write) the BIC/AIC/ICL table."""
    csv_path = check_output(args.csv, "csv", inputs=[("DATA", args.data)], force=args.force)
    data, Z, names, standardization = _read_training_data(args, one_model=False)
    progress = Progress(args, "selecting", candidates=_candidates(args))
    try:
        result = _select(Z, args, progress)
    finally:
        progress.close()
    if standardization is not None:  # report the likelihood of the raw rows
        shift = Z.shape[0] * standardization.log_abs_det
        for row in result.rows:
            if row["error"] is None:
                row["log_likelihood"] -= shift
                row["bic"] += 2.0 * shift
                row["aic"] += 2.0 * shift
                row["icl"] += 2.0 * shift
    crit = result.criterion.upper()
    best = result.best
    note = _incomplete(Z, "fitted", ", left out of the fits")
    print(
        f"{data.path.name}: {Z.shape[0]} rows x {len(names)} columns"
        + (" (standardized)" if standardization is not None else "")
        + f"; lower BIC/AIC/ICL is better, * = chosen by {crit}"
    )
    if note is not None:
        print(note)
    print(result.to_string())
    note = _flagged_note(result)
    if note is not None:
        print(note)
    print(
        f"Best: {best['n_components']} components, covariance {best['covariance_type']!r}, "
        f"{crit} {best[result.criterion]:.6g}"
    )
    if csv_path is not None:
        fields = [
            "n_components", "covariance_type", "log_likelihood", "n_parameters", "bic", "aic",
            "icl", "converged", "seconds", "error", "flag",
        ]  # fmt: skip
        table = [[*fields, "best"]]
        for i, row in enumerate(result.rows):
            table.append([*(row.get(c) for c in fields), i == result.best_index])
        write_text_table(table, csv_path)
        _say(args, f"Wrote the table to {csv_path}")
    return 0


@dataclass
class _Loaded:
    model: Any
    standardization: Any
    X: NDArray[np.floating]
    names: list[str]
    data: Data
    lazy: bool = False  # X a Dask array read by the cluster's workers

    def z(self) -> NDArray[np.floating]:
        if self.lazy:
            from .cluster import standardized

            return standardized(self.X, self.standardization)
        return self.X if self.standardization is None else self.standardization.transform(self.X)

    def log_density(self) -> NDArray[np.floating]:
        with _plain_arrays():
            logd: NDArray[np.floating] = np.asarray(self.model.score_samples(self.z()))
        if self.standardization is not None:
            logd = logd - self.standardization.log_abs_det
        return logd


def _load_for_prediction(args: argparse.Namespace, allow_missing: bool = False) -> _Loaded:
    """The model and the rows of DATA it reads (with missing values where the model takes
    them, or ``allow_missing``)."""
    from ..persistence import read_model

    saved = read_model(args.model)
    model = saved.model
    names_in = getattr(model, "feature_names_in_", None)
    if getattr(args, "scheduler", None):  # out of core, on the cluster
        from .cluster import read_for_model

        data, X, names = read_for_model(
            args, None if names_in is None else [str(n) for n in names_in], model.n_features_in_
        )
        return _Loaded(model, saved.standardization, X, names, data, lazy=True)
    data = read_data(args.data)
    X, names = _features(
        data,
        args,
        model_names=None if names_in is None else [str(n) for n in names_in],
        n_features=int(model.n_features_in_),
        allow_missing=allow_missing or model._allows_nan(),
    )
    return _Loaded(model, saved.standardization, X, names, data)


def _table_output(args: argparse.Namespace) -> Path | None:
    """``-o`` of a command writing a table: never its MODEL or DATA (unless ``--force``)."""
    inputs = [("MODEL", args.model)] + ([("DATA", args.data)] if "data" in args else [])
    return check_output(args.output, "table", inputs=inputs, force=args.force)


def _with_id(args: argparse.Namespace, loaded: _Loaded, rows: Any = None) -> dict[str, Any]:
    if args.id is None:
        return {}
    column = loaded.data.raw(args.id)
    return {args.id: column if rows is None else column.take(rows)}


def _wrote(
    args: argparse.Namespace, out: Path | None, text: str, X: NDArray[np.floating] | None = None
) -> None:
    """The closing line of a command writing a table (only to a file), and what its
    incomplete rows were (on standard error when the table goes to standard output)."""
    note = None if X is None else _incomplete(X, "scored")
    if out is not None:
        _say(args, text + ("" if note is None else f"; {note}"))
    elif note is not None:
        _say(args, note, sys.stderr)


def cmd_predict(args: argparse.Namespace) -> int:
    """``gaussmix predict``: labels (and probabilities) of every row, in input order."""
    out = _table_output(args)
    loaded = _load_for_prediction(args)
    k = loaded.model.n_components
    with _plain_arrays():
        if args.proba:  # np.asarray: lazy outputs computed on the cluster
            proba = np.asarray(loaded.model.predict_proba(loaded.z()))
            labels = np.argmax(proba, axis=1)
            labels[labels == k] = -1  # the noise component's column, after the components'
        else:
            labels = np.asarray(loaded.model.predict(loaded.z()))
    columns = _with_id(args, loaded)
    columns["label"] = np.asarray(labels, dtype=np.int64)
    if args.proba:
        for j in range(proba.shape[1]):
            columns[f"proba_{j}" if j < k else "proba_noise"] = proba[:, j]
    write_table(columns, out)
    _wrote(args, out, f"Wrote {len(labels)} predictions to {out}", loaded.X)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``gaussmix score``: log-density of every row, in the data's units."""
    out = _table_output(args)
    loaded = _load_for_prediction(args)
    logd = loaded.log_density()
    columns = _with_id(args, loaded)
    columns["log_density"] = logd
    write_table(columns, out)
    _wrote(args, out, f"Wrote {len(logd)} log-densities to {out}", loaded.X)
    return 0


def cmd_anomalies(args: argparse.Namespace) -> int:
    """``gaussmix anomalies``: the rows of lowest log-density (a quantile or a threshold);
    with incomplete rows, the rows of lowest tail probability (a log-density over fewer
    columns is on another scale)."""
    out = _table_output(args)
    loaded = _load_for_prediction(args)
    logd = loaded.log_density()
    tails = None
    if np.isnan(loaded.X).any():
        with _plain_arrays():
            tails = loaded.model.tail_probability(loaded.z())
    if args.threshold is not None:
        threshold = float(args.threshold)
        rule = f"log-density below {threshold:.6g}"
        if tails is not None:
            rule += (
                "; the log-densities of incomplete rows are over fewer columns, not "
                "comparable with this threshold: --quantile ranks them fairly"
            )
        flagged = np.flatnonzero(logd < threshold)
    elif tails is None:
        threshold = float(np.quantile(logd.astype(np.float64), args.quantile))
        rule = f"log-density at or below {threshold:.6g}, the {args.quantile:g} quantile"
        flagged = np.flatnonzero(logd <= threshold)
    else:
        # tail probabilities are comparable whatever a row misses; ties (the Monte-Carlo
        # resolution) are broken by log-density, which orders the rows of one pattern alike
        count = int(np.ceil(args.quantile * logd.shape[0] - 1e-9))
        flagged = np.sort(np.lexsort((logd, tails))[:count])
        rule = (
            f"the {args.quantile:g} share with the lowest tail probability, each row judged "
            f"on its observed columns: {int(np.isnan(loaded.X).any(axis=1).sum())} rows are "
            "incomplete"
        )
    columns = _with_id(args, loaded, flagged)
    columns["row"] = flagged.astype(np.int64)
    rows = np.asarray(loaded.X[flagged])  # only these rows come back from a cluster
    for j, name in enumerate(loaded.names):
        if name not in columns:
            columns[name] = rows[:, j]
    columns["log_density"] = logd[flagged]
    if tails is not None:
        columns["tail_probability"] = tails[flagged]
    write_table(columns, out)
    summary = f"Flagged {len(flagged)} of {len(logd)} rows ({rule})"
    if out is not None:
        _say(args, f"{summary}; wrote them to {out}")
    else:
        _say(args, summary, sys.stderr)
    return 0


def cmd_impute(args: argparse.Namespace) -> int:
    """``gaussmix impute``: DATA with its empty cells filled under the model, written to a
    new file in DATA's format (every other column as it is)."""
    out_text = args.output or derived_path(args.data, "imputed")
    out = check_output(
        out_text, copy_kind(args.data, out_text),
        inputs=[("MODEL", args.model), ("DATA", args.data)], force=args.force,
    )  # fmt: skip
    assert out is not None
    loaded = _load_for_prediction(args, allow_missing=True)
    X = loaded.X
    with _plain_arrays():
        filled = loaded.model.impute(loaded.z(), n_draws=args.draws, random_state=args.seed)
    if loaded.standardization is not None:
        filled = loaded.standardization.inverse_transform(filled)
    missing = np.isnan(X)
    filled = np.where(missing, filled, X)  # observed cells exactly as read
    write_like(loaded.data, loaded.names, filled, out)
    rows = int(missing.any(axis=1).sum())
    empty = int(missing.all(axis=1).sum())
    cells = f"{int(missing.sum())} empty cells in {rows} of {X.shape[0]} rows"
    if args.draws is None:
        what = f"Imputed {cells} (each its conditional expectation under the model"
        what += f"; {empty} rows with nothing observed got the mixture's mean)" if empty else ")"
        _say(args, f"{what}; wrote {out}")
    else:
        shape = (
            f"an array of shape {filled.shape} to {out}" if out.suffix.lower() == ".npy"
            else f"{filled.shape[0] * X.shape[0]} rows to {out} (every row {args.draws} "
            "times, the completion numbered in the column 'draw')"
        )  # fmt: skip
        _say(args, f"Drew {args.draws} completions of the {cells} from their conditional "
             f"distribution under the model; wrote {shape}")  # fmt: skip
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """``gaussmix sample``: rows drawn from the model, in the data's units."""
    from ..persistence import read_model

    out = _table_output(args)
    saved = read_model(args.model)
    model = saved.model
    X, labels = model.sample(args.n, random_state=args.seed)
    if saved.standardization is not None:
        X = saved.standardization.inverse_transform(X)
    names_in = getattr(model, "feature_names_in_", None)
    names = [f"x{j}" for j in range(X.shape[1])] if names_in is None else list(map(str, names_in))
    columns: dict[str, Any] = {name: X[:, j] for j, name in enumerate(names)}
    columns["component" if "component" not in columns else "_component"] = labels.astype(np.int64)
    write_table(columns, out)
    _wrote(args, out, f"Wrote {args.n} rows to {out}")
    return 0


def _write_report_function() -> Callable[..., Path]:
    function: Callable[..., Path] = _report_module().write_report
    return function


def _report_module() -> Any:
    """:mod:`gaussmix.report`, or a clear error where it or what it needs is missing."""
    try:
        module = importlib.import_module("gaussmix.report")
    except ModuleNotFoundError as exc:
        if exc.name in ("gaussmix.report", None):
            raise CLIError(
                "this gaussmix has no HTML report (gaussmix.report is missing)"
            ) from None
        raise CLIError(f"the HTML report needs {exc.name}, which is not installed") from None
    return module


def cmd_report(args: argparse.Namespace) -> int:
    """``gaussmix report``: the interactive HTML report of a model chosen by BIC."""
    out = check_output(
        args.output or f"{Path(args.data).name.split('.')[0]}-report.html",
        "html",
        inputs=[("DATA", args.data)],
        force=args.force,
    )
    assert out is not None
    if args.bayesian and tuple(args.covariance) == COVARIANCE_SETS[REPORT_COVARIANCE]:
        args.covariance = ["full"]  # the report's default sweeps every type; one is fitted
    _check_bayesian_options(args)
    module = _report_module()
    data = read_data(args.data)
    X, names = _features(data, args)
    common = dict(columns=names, random_state=args.seed, title=args.title,
                  max_points=args.max_points)  # fmt: skip
    if args.bayesian:
        path = module.write_bayesian_report(
            X, out, n_components=max(args.components), covariance_type=args.covariance[0],
            weight_concentration_prior_type=args.weight_prior, **common,
        )  # fmt: skip
    else:
        path = module.write_report(
            X, out, n_components=args.components, covariance_types=args.covariance,
            noise=args.noise, **common,
        )  # fmt: skip
    note = _incomplete(X, "fitted")
    _say(args, f"Wrote the report to {path}" + ("" if note is None else f"; {note}"))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``gaussmix demo``: the Old Faithful summary and its HTML report."""
    from ..datasets import load_faithful
    from ..demo import run_demo

    out = Path(args.output)
    write_report = None
    if not args.no_report:
        check_output(args.output, "html", force=args.force)
        write_report = _write_report_function()
    run_demo(seed=args.seed, max_components=args.max_components, out=sys.stdout)
    if write_report is not None:
        X, columns = load_faithful()
        path = write_report(
            X,
            out,
            n_components=range(1, args.max_components + 1),
            covariance_types="all",
            columns=columns,
            random_state=args.seed,
            title="Old Faithful eruptions",
        )
        print(f"\nWrote the interactive report to {path}")
    return 0
