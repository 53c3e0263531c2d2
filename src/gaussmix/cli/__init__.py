"""The ``gaussmix`` command line (also ``python -m gaussmix``)."""

from __future__ import annotations

from .commands import (
    CLIError,
    Progress,
    build_parser,
    main,
    parse_components,
    parse_covariance,
)

__all__ = [
    "CLIError",
    "Progress",
    "build_parser",
    "main",
    "parse_components",
    "parse_covariance",
]
