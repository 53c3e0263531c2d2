"""The ``gaussmix`` argument parser: commands, options, their types and help texts.

It imports no numerical module: a command's function (:mod:`gaussmix.cli.commands`, which
imports NumPy and the estimators) is imported when the command runs, so that ``--help`` and
argument errors answer at once.
"""

from __future__ import annotations

import argparse
import importlib
import math
import textwrap
from typing import Any

from .defaults import (
    COVARIANCE_NAMES,
    COVARIANCE_SETS,
    ESTIMATOR_DEFAULTS,
    REPORT_COVARIANCE,
    WEIGHT_PRIORS,
)
from .errors import _INSTALL_HINT

AUTO_COMPONENTS = range(1, 10)


# --------------------------------------------------------------------------- argument types


def parse_components(text: str) -> list[int]:
    """Numbers of components from ``3``, ``auto`` (1..9), ``1..9`` or ``2,4,8``.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of int

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is none of those forms or names a number below 1.
    """
    t = text.strip().lower()
    try:
        if t == "auto":
            ks = list(AUTO_COMPONENTS)
        elif ".." in t:
            low, high = (int(p) for p in t.split("..", 1))
            ks = list(range(low, high + 1))
        else:
            ks = [int(p) for p in t.split(",")]
    except ValueError:
        ks = []
    ks = list(dict.fromkeys(ks))  # without repeats, in the given order
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(
            f"invalid number of components {text!r}: use a positive integer (3), a range "
            "(1..9), a list (2,4,8) or auto (1..9)"
        )
    return ks


def parse_covariance(text: str) -> list[str]:
    """Covariance types from one name, a comma-separated list, ``all`` (mclust's 14 models) or
    ``sklearn`` (scikit-learn's four names); names are matched without regard to case.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str

    Raises
    ------
    argparse.ArgumentTypeError
        If a name is not a registered covariance type.
    """
    known = {name.lower(): name for name in (*COVARIANCE_NAMES, *COVARIANCE_SETS)}
    parts = [p.strip() for p in text.split(",")]
    bad = [p for p in parts if p.lower() not in known]
    if bad:
        raise argparse.ArgumentTypeError(
            f"invalid covariance type {', '.join(bad)!r}: use {', '.join(COVARIANCE_NAMES)}, "
            f"{', '.join(COVARIANCE_SETS)}, or a comma-separated list"
        )
    types = [t for p in parts for t in COVARIANCE_SETS.get(known[p.lower()], (known[p.lower()],))]
    return list(dict.fromkeys(types))


def _quantile(text: str) -> float:
    try:
        q = float(text)
    except ValueError:
        q = -1.0
    if not 0.0 < q < 1.0:
        raise argparse.ArgumentTypeError(f"invalid quantile {text!r}: use a number in (0, 1)")
    return q


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: use a positive integer")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: use a finite number")
    return value


def _reg_covar(text: str) -> float | str:
    """``auto`` or a finite number (the estimator checks its sign)."""
    return "auto" if text.strip().lower() == "auto" else _finite_float(text)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: use an integer in [0, 2**32)")
    return value


# --------------------------------------------------------------------------- the parser


class _Formatter(argparse.HelpFormatter):
    """Wraps each paragraph of the description; keeps the examples' lines as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if paragraph.startswith("examples:"):
                paragraphs.append(paragraph)
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(paragraphs)


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


class _Command:
    """A sub-command's handler, imported from :mod:`gaussmix.cli.commands` when it runs."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, args: argparse.Namespace) -> int:
        commands = importlib.import_module(".commands", __package__)
        status: int = getattr(commands, self.name)(args)
        return status

    def __repr__(self) -> str:
        return f"<gaussmix command {self.name}>"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gaussmix`` command.

    Returns
    -------
    argparse.ArgumentParser
        Each sub-command's namespace has ``handler``, the function that runs it.
    """
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="gaussmix",
        description="Gaussian mixture models from the command line: fit, select, predict, "
        "score, flag anomalies, impute empty cells, sample, and write an interactive HTML "
        "report.\n\n"
        "DATA is a .csv, .tsv, .parquet or .npy file; output tables are .csv or .parquet "
        "(CSV on standard output without -o).  CSV and Parquet need pyarrow, the progress "
        f"bar tqdm: {_INSTALL_HINT}.",
        epilog=_examples(
            "gaussmix demo",
            "gaussmix fit data.csv -k auto --covariance all -o model.gmm",
            "gaussmix predict model.gmm data.csv --proba --id name -o labels.csv",
            "gaussmix anomalies model.gmm new.parquet --quantile 0.01 -o flagged.csv",
            "gaussmix COMMAND --help",
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"gaussmix {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no informational lines"
    )
    columns = argparse.ArgumentParser(add_help=False)
    columns.add_argument(
        "--columns",
        metavar="A,B,C",
        help="comma-separated feature columns (for .npy: x0,x1 or 0,1); default: every column "
        "(of the model: the columns it was fitted on) but those of --exclude and --id",
    )
    columns.add_argument(
        "--exclude",
        metavar="A,B",
        help="comma-separated columns to leave out of the features (identifiers, labels, text)",
    )

    def add_force(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument(
            "--force",
            action="store_true",
            help=f"replace {what} even if it is one of the inputs or a file of another kind "
            "(by default such a file is left as it is, with an error)",
        )

    def add_id(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--id",
            metavar="COLUMN",
            help="an identifier column, left out of the features",
        )

    defaults = ESTIMATOR_DEFAULTS  # help texts follow the estimator's defaults
    model_opts = argparse.ArgumentParser(add_help=False)
    model_opts.add_argument(
        "--seed", type=_seed, default=0, help="random seed of the initialisation (default: 0)"
    )
    model_opts.add_argument(
        "--n-init",
        type=_positive_int,
        metavar="N",
        help=f"starts per fit (default: {defaults['n_init']})",
    )
    model_opts.add_argument(
        "--max-iter",
        type=_positive_int,
        metavar="N",
        help=f"most EM iterations (default: {defaults['max_iter']})",
    )
    model_opts.add_argument(
        "--tol",
        type=_finite_float,
        metavar="TOL",
        help="convergence: change of the mean log-likelihood per row (with --bayesian: of "
        "the lower bound, a total over the rows) (default: 1e-3, refined further on data of "
        "at most 5,000 rows)",
    )
    model_opts.add_argument(
        "--reg-covar",
        type=_reg_covar,
        metavar="X",
        help="added to the covariances' diagonal: 'auto' (1e-8 times each feature's "
        "variance, so that rescaling a column changes nothing) or an absolute variance, "
        f"scikit-learn's meaning (default: {defaults['reg_covar']})",
    )
    noise_opt = argparse.ArgumentParser(add_help=False)
    noise_opt.add_argument(
        "--noise",
        action="store_true",
        help="add a noise component (mclust's Poisson noise): a uniform density over the "
        "data's box, with its own weight, for rows that belong to no cluster; predict labels "
        "them -1 (its probability is the last column, proba_noise)",
    )
    model_opts.add_argument(
        "--standardize",
        action="store_true",
        help="fit on columns scaled to mean 0, standard deviation 1; the scaling is saved in "
        "the model and applied by predict, score, anomalies and sample",
    )

    missing = argparse.ArgumentParser(add_help=False)
    missing.add_argument(
        "--missing",
        choices=("marginalize", "error"),
        default="marginalize",
        help="what an empty cell (or NaN) of DATA is: marginalize, a value missing at random "
        "(each row is fitted on its observed values; the default), or error (rows with one "
        "are refused); the model keeps it for predict, score and anomalies",
    )

    cluster = argparse.ArgumentParser(add_help=False)
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the dask.distributed cluster whose scheduler is at ADDRESS (e.g. "
        "tcp://10.0.0.5:8786): its workers read DATA (.parquet, .zarr, .npy) out of core, at "
        "the same path, and NaN are missing values; no --standardize or --id (fit: one "
        'model) (needs "gaussmix[dask]")',
    )

    def add_candidates(p: argparse.ArgumentParser, default_covariance: str) -> None:
        """``-k`` and ``--covariance``: the candidate models, compared by BIC when several."""
        p.add_argument(
            "-k",
            "--components",
            type=parse_components,
            default=list(AUTO_COMPONENTS),
            metavar="K",
            help="number of components: 3, a range 1..9, a list 2,4,8, or auto (1..9); "
            "several are compared by BIC (default: auto)",
        )
        p.add_argument(
            "--covariance",
            type=parse_covariance,
            default=parse_covariance(default_covariance),
            metavar="TYPE",
            help="mclust's models EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, "
            "EVV, VVV or scikit-learn's full, tied, diag, spherical; a comma-separated list; "
            "all (the 14 models) or sklearn (the four); several are compared by BIC "
            f"(default: {default_covariance})",
        )

    def add_bayesian(p: argparse.ArgumentParser, extra: str = "") -> Any:
        """``--bayesian`` and ``--weight-prior``, in a group the caller may add to."""
        bayes = p.add_argument_group("Bayesian mixture (variational inference)")
        bayes.add_argument(
            "--bayesian",
            action="store_true",
            help="fit a Bayesian mixture (gaussmix.BayesianGaussianMixture) of at most K "
            "components (of a range or list, its largest), which leaves the components the "
            "data does not need empty: no BIC sweep; one of the covariance types full, tied, "
            f"diag, spherical (or VVV, EEE, VVI, VII){extra}",
        )
        bayes.add_argument(
            "--weight-prior",
            choices=WEIGHT_PRIORS,
            default=WEIGHT_PRIORS[0],
            help=f"the weights' prior with --bayesian (default: {WEIGHT_PRIORS[0]})",
        )
        return bayes

    def command(name: str, **kw: Any) -> Any:
        p = sub.add_parser(name, formatter_class=_Formatter, **kw)
        p.set_defaults(handler=_Command(f"cmd_{name}"))
        return p

    fit = command(
        "fit",
        parents=[columns, model_opts, noise_opt, missing, quiet, cluster],
        help="fit a mixture (or choose one by BIC) and save it",
        description="Fit a Gaussian mixture to DATA and save it to MODEL (a ZIP file of JSON "
        "and .npy arrays, read by gaussmix.load).  With several numbers of components or "
        "covariance types, every combination is fitted and the lowest BIC is kept.",
        epilog=_examples(
            "gaussmix fit data.csv -k 3 --covariance full -o model.gmm",
            "gaussmix fit data.parquet -k auto --covariance all -o model.gmm   # BIC, k = 1..9",
            "gaussmix fit data.csv -k 2..6 --columns x,y --standardize -o model.gmm",
            "gaussmix fit X.npy -k 4 --n-init 16 --seed 1 --max-iter 500 -o model.gmm",
            "gaussmix fit data.csv -k 1..6 --noise -o model.gmm   # outliers labelled -1",
            "gaussmix fit big.parquet -k 8 --scheduler tcp://10.0.0.5:8786 -o model.gmm",
            "gaussmix fit rows.npy -k 8 --out-of-core -o model.gmm   # exact EM, streamed",
            "gaussmix fit events/ -k 8 --batch-size 10000 -o model.gmm   # mini-batch EM",
            "gaussmix fit data.csv --bayesian -k 20 --prune -o model.gmm   # k chosen by the fit",
        ),
    )
    fit.add_argument(
        "data",
        metavar="DATA",
        help="training data (.csv, .tsv, .parquet, .npy, or a folder of Parquet files)",
    )
    fit.add_argument("-o", "--output", metavar="MODEL", required=True, help="model file to write")
    fit.add_argument(
        "--out-of-core",
        action="store_true",
        help="read DATA (.npy, Parquet) block by block, one pass per EM iteration, memory "
        "bounded by two blocks; automatic for a Parquet folder and for files whose columns "
        "would take more than a quarter of the available memory; one model, no --standardize",
    )
    fit.add_argument(
        "--batch-size",
        type=_positive_int,
        metavar="N",
        help="mini-batch EM: stepwise updates over shuffled batches of N rows, --max-iter "
        "and --tol then count epochs (an approximate fit of large data in a few passes)",
    )
    add_id(fit)
    add_candidates(fit, default_covariance="full")
    add_force(fit, "MODEL")
    bayes = add_bayesian(fit)
    bayes.add_argument(
        "--prune",
        action="store_true",
        help="with --bayesian, save only the effective components (those explaining at least "
        "0.1%% of the rows)",
    )

    select = command(
        "select",
        parents=[columns, model_opts, noise_opt, missing, quiet, cluster],
        help="print the BIC/AIC/ICL table of numbers of components x covariance types",
        description="Fit every combination of numbers of components and covariance types "
        "to DATA and print the table of log-likelihoods, BIC, AIC and ICL (lower is better), "
        "the chosen model marked with *.  Candidates with more free parameters than rows, or "
        "with a covariance held up only by --reg-covar (a component with too few rows), are "
        "marked with ! and never chosen; the last column says why.",
        epilog=_examples(
            "gaussmix select data.csv -k 1..9 --covariance all",
            "gaussmix select data.parquet -k 1..6 --covariance full,diag --csv table.csv",
            "gaussmix select X.npy --criterion icl --covariance VEV,VVV,sklearn",
            "gaussmix select big.parquet -k 2..6 --covariance full --scheduler tcp://10.0.0.5:8786",
        ),
    )
    select.add_argument("data", metavar="DATA", help="data (.csv, .tsv, .parquet, .npy)")
    add_candidates(select, default_covariance="all")
    select.add_argument(
        "--criterion",
        choices=("bic", "aic", "icl"),
        default="bic",
        help="what chooses the model (default: bic)",
    )
    select.add_argument("--csv", metavar="OUT.csv", help="also write the table as CSV")
    add_id(select)
    add_force(select, "the --csv file")

    def prediction_command(
        name: str, output: str = "output .csv or .parquet (default: CSV on stdout)", **kw: Any
    ) -> Any:
        p = command(name, parents=[columns, quiet, cluster], **kw)
        p.add_argument("model", metavar="MODEL", help="model file written by gaussmix fit")
        p.add_argument("data", metavar="DATA", help="rows to process (.csv, .tsv, .parquet, .npy)")
        p.add_argument("-o", "--output", metavar="OUT", help=output)
        p.add_argument(
            "--id",
            metavar="COLUMN",
            help="an identifier column: copied to the output as it is, left out of the features",
        )
        add_force(p, "OUT")
        return p

    predict = prediction_command(
        "predict",
        help="most probable component (and probabilities) of each row",
        description="Write the most probable component of each row of DATA ('label'), and "
        "with --proba the probability of every component ('proba_0', 'proba_1', ...), rows "
        "in input order.  A model fitted with --noise labels the rows its noise component "
        "explains best -1, and adds their probability as 'proba_noise'.",
        epilog=_examples(
            "gaussmix predict model.gmm data.csv -o labels.csv",
            "gaussmix predict model.gmm data.parquet --proba --id customer -o proba.parquet",
        ),
    )
    predict.add_argument("--proba", action="store_true", help="add per-component probabilities")

    prediction_command(
        "score",
        help="log-density of each row",
        description="Write the log-density of the mixture at each row of DATA "
        "('log_density', in the data's units), rows in input order.  Low values are unusual "
        "rows.",
        epilog=_examples(
            "gaussmix score model.gmm data.csv -o scores.csv",
            "gaussmix score model.gmm data.npy | head",
            "gaussmix score model.gmm big.parquet --scheduler tcp://10.0.0.5:8786 -o s.parquet",
        ),
    )

    anomalies = prediction_command(
        "anomalies",
        help="rows with the lowest log-density",
        description="Write the rows of DATA whose log-density is in the lowest --quantile "
        "(or below --threshold): their row number (from 0), feature values and log-density, "
        "in input order.",
        epilog=_examples(
            "gaussmix anomalies model.gmm data.csv --quantile 0.01 -o flagged.csv",
            "gaussmix anomalies model.gmm new.csv --threshold -12.5 --id name",
        ),
    )
    rule = anomalies.add_mutually_exclusive_group()
    rule.add_argument(
        "--quantile",
        type=_quantile,
        default=0.01,
        help="flag this share of the rows of DATA: those at or below the quantile (default: 0.01)",
    )
    rule.add_argument(
        "--threshold",
        type=_finite_float,
        help="flag rows whose log-density is below this value",
    )

    impute = prediction_command(
        "impute",
        output="file to write, in DATA's format (default: DATA's name with -imputed, beside it)",
        help="fill the empty cells of DATA under a fitted model",
        description="Write DATA with each empty cell (or NaN) of the model's columns filled "
        "with its conditional expectation given the row's observed values under the mixture "
        "in MODEL, or with --draws, several completions drawn from the conditional "
        "distribution (multiple imputation).  The output is a new file in DATA's format, its "
        "other columns (identifiers, text) as they are; it never replaces an input.  A row "
        "with nothing observed gets the mixture's mean.",
        epilog=_examples(
            "gaussmix impute model.gmm data.csv                     # writes data-imputed.csv",
            "gaussmix impute model.gmm data.parquet -o filled.parquet --id customer",
            "gaussmix impute model.gmm data.csv --draws 5 --seed 0 -o completions.csv",
        ),
    )
    impute.add_argument(
        "--draws",
        type=_positive_int,
        metavar="M",
        help="draw M completions of every row instead of the conditional expectation: a "
        "leading 'draw' column numbers them (in a .npy array: a leading axis)",
    )
    impute.add_argument(
        "--seed", type=_seed, default=None, help="random seed of --draws (default: fresh entropy)"
    )

    sample = command(
        "sample",
        parents=[quiet],
        help="draw rows from a fitted model",
        description="Draw rows from the mixture in MODEL: one column per feature and the "
        "'component' each row was drawn from, in random order.",
        epilog=_examples(
            "gaussmix sample model.gmm -n 1000 --seed 0 -o synthetic.csv",
            "gaussmix sample model.gmm -n 10",
        ),
    )
    sample.add_argument("model", metavar="MODEL", help="model file written by gaussmix fit")
    sample.add_argument(
        "-n", type=_positive_int, default=1000, metavar="N", help="number of rows (default: 1000)"
    )
    sample.add_argument(
        "-o", "--output", metavar="OUT", help="output .csv or .parquet (default: CSV on stdout)"
    )
    sample.add_argument(
        "--seed", type=_seed, default=None, help="random seed (default: fresh entropy)"
    )
    add_force(sample, "OUT")

    report = command(
        "report",
        parents=[columns, noise_opt, missing, quiet],
        help="write an interactive HTML report of a fit",
        description="Choose a mixture for DATA by BIC and write a self-contained interactive "
        "HTML page: the EM iterations, the BIC/AIC curves, anomalies, the parameters.",
        epilog=_examples(
            "gaussmix report data.csv -o report.html",
            "gaussmix report data.parquet -k 1..4 --covariance full --columns x,y -o r.html",
            "gaussmix report data.csv --bayesian -k 20 -o r.html   # a Bayesian mixture",
        ),
    )
    report.add_argument("data", metavar="DATA", help="data (.csv, .tsv, .parquet, .npy)")
    report.add_argument(
        "-o", "--output", metavar="HTML", help="page to write (default: DATA-report.html)"
    )
    add_id(report)
    add_candidates(report, default_covariance=REPORT_COVARIANCE)
    report.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    report.add_argument("--title", help="title of the page (default: from DATA)")
    report.add_argument(
        "--max-points",
        type=_positive_int,
        default=2000,
        metavar="N",
        help="rows drawn at most: a sample stratified by component when DATA has more "
        "(statistics use every row; default: 2000)",
    )
    add_force(report, "HTML")
    add_bayesian(report, "; without --covariance, full")

    demo = command(
        "demo",
        help="fit the bundled Old Faithful data, print a summary, write a report",
        description="Fit the bundled Old Faithful data (272 eruptions), choose the number of "
        "components and the covariance type by BIC, print a summary and write an "
        "interactive HTML report.",
        epilog=_examples("gaussmix demo", "gaussmix demo -o faithful.html --seed 1"),
    )
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    demo.add_argument(
        "--max-components",
        type=_positive_int,
        default=6,
        metavar="K",
        help="largest number of components tried (default: 6)",
    )
    demo.add_argument(
        "-o",
        "--output",
        metavar="HTML",
        default="gaussmix-demo-report.html",
        help="report to write (default: gaussmix-demo-report.html)",
    )
    demo.add_argument("--no-report", action="store_true", help="print the summary only")
    add_force(demo, "HTML")
    return parser
