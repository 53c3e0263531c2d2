"""gaussmix: fast, memory-bounded Gaussian mixture models with a scikit-learn API.

The names below are imported on first use (PEP 562), so that ``import gaussmix.cli`` and
``gaussmix --help`` start without importing NumPy, SciPy or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .bayesian import BayesianGaussianMixture
    from .covariance import COVARIANCE_TYPES, MCLUST_MODELS
    from .imputer import GaussianMixtureImputer
    from .io import ModelFileError
    from .mixture import GaussianMixture, SingularCovarianceWarning
    from .persistence import load
    from .selection import SelectionResult, select_model
    from .stats import SuffStats
    from .strategy import DegenerateMixtureError

#: public name -> the module that defines it
_LAZY = {
    "BayesianGaussianMixture": "bayesian",
    "COVARIANCE_TYPES": "covariance",
    "DegenerateMixtureError": "strategy",
    "GaussianMixture": "mixture",
    "GaussianMixtureImputer": "imputer",
    "MCLUST_MODELS": "covariance",
    "ModelFileError": "io",
    "SelectionResult": "selection",
    "SingularCovarianceWarning": "mixture",
    "SuffStats": "stats",
    "load": "persistence",
    "select_model": "selection",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gaussmix' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "COVARIANCE_TYPES",
    "MCLUST_MODELS",
    "BayesianGaussianMixture",
    "DegenerateMixtureError",
    "GaussianMixture",
    "GaussianMixtureImputer",
    "ModelFileError",
    "SelectionResult",
    "SingularCovarianceWarning",
    "SuffStats",
    "__version__",
    "load",
    "select_model",
]
