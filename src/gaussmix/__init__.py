"""gaussmix: fast, memory-bounded Gaussian mixture models with a scikit-learn API."""

from __future__ import annotations

from .covariance import COVARIANCE_TYPES
from .em import DegenerateMixtureError
from .mixture import GaussianMixture
from .selection import SelectionResult, select_model
from .stats import SuffStats

__version__ = "0.1.0"

__all__ = [
    "COVARIANCE_TYPES",
    "DegenerateMixtureError",
    "GaussianMixture",
    "SelectionResult",
    "SuffStats",
    "__version__",
    "select_model",
]
