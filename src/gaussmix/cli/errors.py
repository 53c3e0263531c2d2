"""The command line's user errors and the wording shared by its messages."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

_INSTALL_HINT = 'pip install "gaussmix[cli]"'


class CLIError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


def _optional(module: str, what: str) -> ModuleType:
    """Import an optional dependency, or fail with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise CLIError(f"{what} needs {top}, which is not installed: {_INSTALL_HINT}") from None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _shown(names: Sequence[str], limit: int = 8) -> str:
    quoted = [repr(n) for n in names[:limit]]
    return ", ".join(quoted) + (f", ... ({len(names)} in all)" if len(names) > limit else "")
