"""gaussmix: fast, memory-bounded Gaussian mixture models with a scikit-learn API."""

from __future__ import annotations

from ._version import __version__
from .covariance import COVARIANCE_TYPES, MCLUST_MODELS
from .io import ModelFileError
from .mixture import GaussianMixture
from .persistence import load
from .selection import SelectionResult, select_model
from .stats import SuffStats
from .strategy import DegenerateMixtureError

__all__ = [
    "COVARIANCE_TYPES",
    "MCLUST_MODELS",
    "DegenerateMixtureError",
    "GaussianMixture",
    "ModelFileError",
    "SelectionResult",
    "SuffStats",
    "__version__",
    "load",
    "select_model",
]
