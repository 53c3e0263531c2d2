"""The entry point: parse, run the command, turn failures into one line and an exit status."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from .errors import CLIError, _one_line
from .parser import build_parser
from .progress import Progress

EXIT_ERROR = 1


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    line = f"gaussmix: warning: {_one_line(str(message))}"
    if Progress.active is not None:
        Progress.active.write(line)
    else:
        print(line, file=sys.stderr)


def _error(message: str) -> int:
    print(f"gaussmix: error: {_one_line(message)}", file=sys.stderr)
    return EXIT_ERROR


def _os_error(exc: OSError) -> str:
    if exc.errno is None and str(exc):  # gaussmix's own message, naming the path and the fix
        return str(exc)
    where = f": {exc.filename}" if exc.filename else ""
    if isinstance(exc, FileNotFoundError):
        return f"no such file or folder{where}"
    if isinstance(exc, IsADirectoryError):
        return f"is a folder, not a file{where}"
    if isinstance(exc, PermissionError):
        return f"permission denied{where}"
    return f"{exc.strerror or exc}{where}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the command line; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 after an error (one line on standard error), 2 for a usage error.
    """
    args = build_parser().parse_args(argv)
    debug = os.environ.get("GAUSSMIX_DEBUG", "") not in ("", "0")
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            if getattr(args, "scheduler", None):  # a Dask cluster for the run
                from .cluster import session  # its readers import numpy: only when asked

                with session(args):
                    status: int = args.handler(args)
            else:
                status = args.handler(args)
            return status
        except KeyboardInterrupt:
            print("gaussmix: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `gaussmix score ... | head`
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return EXIT_ERROR
        except CLIError as exc:
            if debug:
                raise
            return _error(str(exc))
        except OSError as exc:
            if debug:
                raise
            return _error(_os_error(exc))
        except (ValueError, TypeError) as exc:  # the library's messages name the fix
            if debug:
                raise
            return _error(str(exc))
