"""The ``gaussmix`` command line (also ``python -m gaussmix``).

Commands: ``fit``, ``select``, ``predict``, ``score``, ``anomalies``, ``sample``, ``report``
and ``demo``; ``gaussmix COMMAND --help`` shows each one's options and examples.

Data files are CSV (``.csv``, ``.tsv``, optionally ``.gz``), Parquet (``.parquet``,
``.pq``) or NumPy (``.npy``, a 2-D numeric array whose columns are called ``x0, x1, ...``);
output tables are CSV or Parquet by extension, or CSV on standard output.  CSV and Parquet
need the optional ``pyarrow`` and the progress bar ``tqdm`` (``pip install
"gaussmix[cli]"``).  Every failure the user can fix (a missing file, a bad column, a model
file of another version...) is reported as one line ``gaussmix: error: ...`` on standard
error with exit status 1; set ``GAUSSMIX_DEBUG=1`` to get the traceback instead.

The package's modules, each importing only the ones listed before it: ``errors`` (user
errors, message wording), ``tables`` (data files in, tables out), ``progress`` (the progress
bar), ``commands`` (one function per command), ``parser`` (options and help texts) and
``entry`` (``main``).
"""

from __future__ import annotations

from .entry import main
from .errors import CLIError
from .parser import build_parser, parse_components, parse_covariance
from .progress import Progress
from .tables import Data, read_data, select_features, write_table

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
