"""Covariance families behind one registry: mclust's 14 models, four of them also under
scikit-learn's names.

>>> from gaussmix.covariance import get_family
>>> get_family("diag").shape(3, 2)
(3, 2)
>>> get_family("VVI").model, get_family("diag").model
('VVI', 'VVI')
"""

from __future__ import annotations

from collections.abc import Iterable

from .base import CovarianceFamily
from .common_orientation import EVE, VEE, VVE
from .diag import EEI, EVI, VEI, Diag
from .full import Full
from .spherical import EII, Spherical
from .tied import Tied
from .variable_orientation import EEV, EVV, VEV

_SKLEARN = (Full(), Tied(), Diag(), Spherical())
_MODELS: tuple[CovarianceFamily, ...] = (
    EII(), _SKLEARN[3], EEI(), VEI(), EVI(), _SKLEARN[2], _SKLEARN[1],
    VEE(), EVE(), VVE(), EEV(), VEV(), EVV(), _SKLEARN[0],
)  # fmt: skip

#: scikit-learn's four ``covariance_type`` names, in their conventional order
COVARIANCE_TYPES: tuple[str, ...] = tuple(f.name for f in _SKLEARN)

#: mclust's 14 model names, in mclust's order (``mclust.options("emModelNames")``)
MCLUST_MODELS: tuple[str, ...] = tuple(f.model for f in _MODELS)

#: every valid ``covariance_type``: scikit-learn's names, then mclust's; an alias is another
#: instance of the same family class under the other name, so a model keeps the name it was
#: given (and saved models round-trip it)
REGISTRY: dict[str, CovarianceFamily] = {
    **{f.name: f for f in _SKLEARN},
    **{f.model: f if f.name == f.model else f.renamed(f.model) for f in _MODELS},
}

#: the named sets of ``covariance_type`` a sweep accepts
COVARIANCE_SETS: dict[str, tuple[str, ...]] = {"all": MCLUST_MODELS, "sklearn": COVARIANCE_TYPES}


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


def covariance_types(spec: str | Iterable[str]) -> list[str]:
    """The ``covariance_type`` names a sweep fits.

    Parameters
    ----------
    spec : str or iterable of str
        ``"all"`` (mclust's 14 models, by mclust's names), ``"sklearn"`` (scikit-learn's four
        names), one name, or several names.

    Raises
    ------
    ValueError
        If a name is not registered (the message lists the valid names and sets), or ``spec``
        is empty.
    """
    if isinstance(spec, str):
        names = list(COVARIANCE_SETS.get(spec, (spec,)))
    else:
        names = list(spec)
    if not names:
        raise ValueError("covariance_types is empty; pass at least one covariance_type.")
    bad = [n for n in names if not (isinstance(n, str) and n in REGISTRY)]
    if bad:
        raise ValueError(
            f"Unknown covariance_type {bad[0]!r}. Valid names are: "
            + ", ".join(repr(n) for n in REGISTRY)
            + ", or one of the sets "
            + ", ".join(repr(s) for s in COVARIANCE_SETS)
            + "."
        )
    return names


__all__ = [
    "COVARIANCE_SETS",
    "COVARIANCE_TYPES",
    "MCLUST_MODELS",
    "REGISTRY",
    "CovarianceFamily",
    "covariance_types",
    "get_family",
]
