"""The declared constructor parameters of the estimators, checked in ``fit`` and when a saved
model is read (one table, so that both accept exactly the same values)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import _validation as v
from .covariance import REGISTRY
from .init import INITIALIZERS
from .noise.region import REGION_KINDS
from .posterior import WEIGHT_PRIORS
from .regularisation import check_reg_covar


def choice(valid: tuple[str, ...]) -> v.Check:
    """A check that the value is one of ``valid`` (the message lists them)."""

    def check(name: str, value: Any) -> None:
        if value not in valid:
            raise ValueError(
                f"The {name!r} parameter must be one of {', '.join(map(repr, valid))}; "
                f"got {value!r}."
            )

    return check


def init_array(name: str, value: Any) -> None:
    """``None`` or array-like (the array itself is checked in ``fit``, against the data)."""
    if value is not None and not hasattr(value, "__len__") and not hasattr(value, "__array__"):
        raise ValueError(f"The {name!r} parameter must be None or array-like; got {value!r}.")


def step_decay(name: str, value: Any) -> None:
    """A real number in (0.5, 1]: the steps of stepwise EM then sum to infinity and their
    squares do not (the condition of its convergence)."""
    v.real_at_least(0.0)(name, value)
    if not 0.5 < value <= 1.0:
        raise ValueError(
            f"The {name!r} parameter must be in (0.5, 1] (the steps (learning_offset + t) ** "
            f"-{name} must sum to infinity while their squares converge); got {value!r}."
        )


def positive_or_none(name: str, value: Any) -> None:
    """``None`` or a finite real number > 0."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0 < float(value) < np.inf
    ):
        raise ValueError(
            f"The {name!r} parameter must be None or a finite real number > 0; got {value!r}."
        )


def array_or_positive(name: str, value: Any) -> None:
    """``None``, array-like, or a finite real number > 0 (checked against the data in
    ``fit``)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        positive_or_none(name, value)
    else:
        init_array(name, value)


#: every constructor parameter of :class:`gaussmix.GaussianMixture` and its check
GAUSSIAN_MIXTURE: dict[str, v.Check] = {
    "n_components": v.int_at_least(1),
    "covariance_type": choice(tuple(REGISTRY)),
    "tol": v.real_at_least(0.0, allow_none=True),
    "reg_covar": check_reg_covar,
    "max_iter": v.int_at_least(0),
    "n_init": v.int_at_least(1),
    "init_params": choice(tuple(INITIALIZERS)),
    "init_iter": v.int_at_least(1, allow_none=True),
    "weights_init": init_array,
    "means_init": init_array,
    "precisions_init": init_array,
    "labels_init": init_array,
    "random_state": v.random_state,
    "warm_start": v.boolean,
    "verbose": v.int_at_least(0),
    "verbose_interval": v.int_at_least(1),
    "chunk_size": v.int_at_least(1, allow_none=True),
    "missing": choice(("marginalize", "error")),
    "noise": v.boolean,
    "noise_region": choice(REGION_KINDS),
    "batch_size": v.int_at_least(1, allow_none=True),
    "learning_offset": v.real_at_least(0.0),
    "learning_decay": step_decay,
}


#: every constructor parameter of :class:`gaussmix.BayesianGaussianMixture` and its check
#: (``covariance_type``: any registered name here; the conjugate ones are checked in ``fit``)
BAYESIAN_GAUSSIAN_MIXTURE: dict[str, v.Check] = {
    **{
        name: GAUSSIAN_MIXTURE[name]
        for name in (
            "n_components", "covariance_type", "tol", "reg_covar", "max_iter", "n_init",
            "init_params", "init_iter", "means_init",
        )
    },
    "weight_concentration_prior_type": choice(WEIGHT_PRIORS),
    "weight_concentration_prior": positive_or_none,
    "mean_precision_prior": positive_or_none,
    "mean_prior": init_array,
    "degrees_of_freedom_prior": positive_or_none,
    "covariance_prior": array_or_positive,
    **{
        name: GAUSSIAN_MIXTURE[name]
        for name in ("random_state", "warm_start", "verbose", "verbose_interval", "chunk_size")
    },
}  # fmt: skip


def check_values(params: dict[str, Any], table: dict[str, v.Check]) -> None:
    """Check the parameters given in ``params`` (a subset of ``table``'s)."""
    for name, value in params.items():
        table[name](name, value)
