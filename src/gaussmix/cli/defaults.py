"""What the parser shows and checks, declared without importing the numerical stack.

``gaussmix --help``, ``gaussmix COMMAND --help`` and argument errors import only this
package's parser (no NumPy, SciPy or scikit-learn), so the covariance types and the
estimator's defaults that the help texts name are declared here;
``tests/test_cli.py`` checks them against :data:`gaussmix.COVARIANCE_TYPES`,
:class:`gaussmix.GaussianMixture` and :class:`gaussmix.BayesianGaussianMixture`.
"""

from __future__ import annotations

#: scikit-learn's covariance types, in their conventional order
COVARIANCE_TYPES: tuple[str, ...] = ("full", "tied", "diag", "spherical")

#: mclust's 14 models, in mclust's order
MCLUST_MODELS: tuple[str, ...] = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip

#: every registered ``covariance_type``, in the registry's order
COVARIANCE_NAMES: tuple[str, ...] = COVARIANCE_TYPES + MCLUST_MODELS

#: the named sets of covariance types a sweep accepts
COVARIANCE_SETS: dict[str, tuple[str, ...]] = {"all": MCLUST_MODELS, "sklearn": COVARIANCE_TYPES}

#: the covariance types ``gaussmix report`` sweeps by default
REPORT_COVARIANCE = "all"

#: the defaults of the GaussianMixture parameters that the command line sets
ESTIMATOR_DEFAULTS: dict[str, float | str | None] = {
    "n_init": 16,
    "max_iter": 100,
    "tol": None,
    "reg_covar": "auto",
}

#: the Bayesian mixture's weight priors (``--weight-prior``), its default first
WEIGHT_PRIORS: tuple[str, ...] = ("dirichlet_process", "dirichlet_distribution")
