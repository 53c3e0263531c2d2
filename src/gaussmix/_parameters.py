"""The declared constructor parameters of the estimators, checked in ``fit`` and when a saved
model is read (one table, so that both accept exactly the same values)."""

from __future__ import annotations

from typing import Any

from . import _validation as v
from .covariance import REGISTRY
from .init import INITIALIZERS
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


#: every constructor parameter of :class:`gaussmix.GaussianMixture` and its check
GAUSSIAN_MIXTURE: dict[str, v.Check] = {
    "n_components": v.int_at_least(1),
    "covariance_type": choice(tuple(REGISTRY)),
    "tol": v.real_at_least(0.0),
    "reg_covar": check_reg_covar,
    "max_iter": v.int_at_least(0),
    "n_init": v.int_at_least(1),
    "init_params": choice(tuple(INITIALIZERS)),
    "init_iter": v.int_at_least(1, allow_none=True),
    "weights_init": init_array,
    "means_init": init_array,
    "precisions_init": init_array,
    "random_state": v.random_state,
    "warm_start": v.boolean,
    "verbose": v.int_at_least(0),
    "verbose_interval": v.int_at_least(1),
    "chunk_size": v.int_at_least(1, allow_none=True),
    "missing": choice(("marginalize", "error")),
}


def check_values(params: dict[str, Any], table: dict[str, v.Check]) -> None:
    """Check the parameters given in ``params`` (a subset of ``table``'s)."""
    for name, value in params.items():
        table[name](name, value)
