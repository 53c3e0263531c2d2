"""gaussmix: fast, memory-bounded Gaussian mixture models with a scikit-learn API."""

from __future__ import annotations

from .covariance import COVARIANCE_TYPES
from .em import DegenerateMixtureError
from .io import ModelFileError, load
from .mixture import GaussianMixture
from .selection import SelectionResult, select_model
from .stats import SuffStats

__version__ = "0.1.0"

__all__ = [
    "COVARIANCE_TYPES",
    "DegenerateMixtureError",
    "GaussianMixture",
    "ModelFileError",
    "SelectionResult",
    "SuffStats",
    "__version__",
    "load",
    "select_model",
]
