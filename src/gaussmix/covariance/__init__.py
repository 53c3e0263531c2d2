"""Covariance families behind one registry.

>>> from gaussmix.covariance import get_family
>>> get_family("diag").shape(3, 2)
(3, 2)
"""

from __future__ import annotations

from .base import CovarianceFamily
from .diag import Diag
from .full import Full
from .spherical import Spherical
from .tied import Tied

REGISTRY: dict[str, CovarianceFamily] = {
    family.name: family for family in (Full(), Tied(), Diag(), Spherical())
}

#: the valid ``covariance_type`` names, in their conventional order
COVARIANCE_TYPES: tuple[str, ...] = tuple(REGISTRY)


def get_family(name: object) -> CovarianceFamily:
    """Look up a covariance family by name.

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message lists the valid names.
    """
    family = REGISTRY.get(name) if isinstance(name, str) else None
    if family is None:
        raise ValueError(
            f"Unknown covariance_type {name!r}. Valid names are: "
            + ", ".join(repr(n) for n in REGISTRY)
            + "."
        )
    return family


__all__ = ["COVARIANCE_TYPES", "REGISTRY", "CovarianceFamily", "get_family"]
