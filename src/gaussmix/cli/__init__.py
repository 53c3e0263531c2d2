"""The ``gaussmix`` command line (also ``python -m gaussmix``).

Commands: ``fit``, ``select``, ``predict``, ``score``, ``anomalies``, ``sample``, ``report``
and ``demo``; ``gaussmix COMMAND --help`` shows each one's options and examples.

Data files are CSV (``.csv``, ``.tsv``, optionally ``.gz``), Parquet (``.parquet``,
``.pq``) or NumPy (``.npy``, a 2-D numeric array whose columns are called ``x0, x1, ...``);
output tables are CSV or Parquet by extension, or CSV on standard output.  CSV and Parquet
need the optional ``pyarrow`` and the progress bar ``tqdm`` (``pip install
"gaussmix[cli]"``).  Every failure the user can fix (a missing file, a bad column, a model
file of another version...) is reported as one line ``gaussmix: error: ...`` on standard
error with exit status 1; set ``GAUSSMIX_DEBUG=1`` to get the traceback instead.  No command
overwrites one of its inputs, or an existing file of another kind than it writes (a data
file where a model goes), unless given ``--force``.

The package's modules, each importing only the ones listed before it: ``errors`` (user
errors, message wording), ``defaults`` (what the help texts name), ``tables`` (data files
in, tables out, output checks), ``progress`` (the progress bar), ``commands`` (one function
per command), ``parser`` (options and help texts) and ``entry`` (``main``).  ``parser`` and
``entry`` import ``commands`` (and with it NumPy and the estimators) only to run a command,
so that ``--help`` and argument errors start fast; the names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .entry import main
from .errors import CLIError
from .parser import build_parser, parse_components, parse_covariance
from .progress import Progress

if TYPE_CHECKING:
    from .tables import Data, read_data, select_features, write_table

_TABLES = ("Data", "read_data", "select_features", "write_table")


def __getattr__(name: str) -> Any:
    if name not in _TABLES:
        raise AttributeError(f"module 'gaussmix.cli' has no attribute {name!r}")
    return getattr(importlib.import_module(".tables", __name__), name)


__all__ = [
    "CLIError",
    "Data",
    "Progress",
    "build_parser",
    "main",
    "parse_components",
    "parse_covariance",
    "read_data",
    "select_features",
    "write_table",
]
