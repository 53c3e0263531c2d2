"""scikit-learn's estimator checks on small configurations of :class:`GaussianMixture` and
:class:`BayesianGaussianMixture`.

Every check of :func:`sklearn.utils.estimator_checks.parametrize_with_checks` must pass,
except the one listed in :func:`expected_failed_checks`:

``check_sample_weight_equivalence_on_dense_data`` (configurations with more than one component)
    The check fits once on rows repeated according to integer weights and once on the
    *shuffled* original rows with those weights, with the same ``random_state``, and compares
    ``predict_proba``.  Every randomised start (k-means++, k-means, random responsibilities,
    random rows) consumes the random stream row by row, so the two fits start from different
    seeds, and EM may reach another local optimum or the same one with the components in
    another order; either way the posterior columns differ.  This is inherent in a randomised
    initialisation, not a weighting defect: :func:`test_sample_weight_equivalence_from_fixed_start`
    below shows that from a deterministic start (``means_init``) weighted and repeated rows
    give the same model, for every covariance type.  With a single component the start is
    deterministic and the check passes, so it is not listed for that configuration.

The xfail is not strict: for some seeds and data both fits happen to reach the same labelling.

Some checks fit a few rows in many dimensions (15 rows x 30 features), where a component's
covariance is held up only by ``reg_covar``; :class:`~gaussmix.SingularCovarianceWarning`
rightly says so, and is not a failure here (the test suite turns warnings into errors).
Nor is a :class:`~sklearn.exceptions.ConvergenceWarning`: on some checks' small random data the
Bayesian mixture's lower bound does not settle within ``tol`` in ``max_iter`` iterations, and
no check is about convergence.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.utils import shuffle
from sklearn.utils.estimator_checks import parametrize_with_checks

from gaussmix import COVARIANCE_TYPES, BayesianGaussianMixture, GaussianMixture
from gaussmix.base import MixtureBase

pytestmark = [
    pytest.mark.filterwarnings("ignore::gaussmix.SingularCovarianceWarning"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

ESTIMATORS = [
    GaussianMixture(n_components=2, random_state=0),
    GaussianMixture(n_components=2, covariance_type="diag", random_state=0),
    GaussianMixture(n_components=2, covariance_type="tied", n_init=1, random_state=0),
    GaussianMixture(n_components=1, covariance_type="spherical", random_state=0),
    BayesianGaussianMixture(n_components=2, n_init=2, random_state=0),
    BayesianGaussianMixture(n_components=1, covariance_type="spherical", n_init=1, random_state=0),
]


def expected_failed_checks(estimator: MixtureBase) -> dict[str, str]:
    """Checks that cannot pass by design (see the module docstring)."""
    if estimator.n_components == 1:
        return {}
    return {
        # randomised seeding draws differently for repeated rows than for integer weights
        "check_sample_weight_equivalence_on_dense_data": (
            "randomised initialisation cannot draw identically for repeated rows and for "
            "integer weights; see test_sample_weight_equivalence_from_fixed_start"
        ),
    }


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=False
)
def test_sklearn_compatible(estimator: MixtureBase, check: Callable[[object], None]) -> None:
    check(estimator)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_weight_equivalence_from_fixed_start(covariance_type: str) -> None:
    """The data of ``check_sample_weight_equivalence``, started from given means.  The
    covariances of 15 rows in 30 features are held up by ``reg_covar`` (condition numbers of
    about 1e8), so the default refinement (``tol=None``), which stops where rounding stalls
    the log-likelihood, may stop the two fits an iteration apart at the same parameters:
    scikit-learn's ``tol`` is spelled out."""
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    sw = rng.randint(0, 5, size=15)
    X_repeated = X.repeat(sw, axis=0)
    X_weighted, sw_weighted = shuffle(X, sw, random_state=0)
    params = {"covariance_type": covariance_type, "means_init": X[[0, 5]], "tol": 1e-3}
    repeated = GaussianMixture(2, **params).fit(X_repeated)
    weighted = GaussianMixture(2, **params).fit(X_weighted, sample_weight=sw_weighted)
    assert repeated.n_iter_ == weighted.n_iter_
    np.testing.assert_allclose(weighted.weights_, repeated.weights_, rtol=1e-9)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-8)
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-7, atol=1e-9
    )
