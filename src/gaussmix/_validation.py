"""Every check of user input, at the API boundary, with messages that name the fix.

Nothing here copies or modifies the user's arrays unless a dtype conversion is required.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

Array = NDArray[np.float64]


# --------------------------------------------------------------------------- data


def _first_bad_value(arr: NDArray[Any]) -> tuple[tuple[int, ...], object]:
    for index, value in np.ndenumerate(arr):
        try:
            float(value)
        except (TypeError, ValueError):
            return index, value
    return (), None


def precheck_X(X: Any, what: str = "X") -> None:
    """Reject inputs scikit-learn's ``check_array`` would reject with a less helpful message."""
    if sparse.issparse(X):
        raise TypeError(
            f"{what} is a sparse matrix, but gaussmix needs dense data (Gaussian mixtures use "
            f"every entry). Convert it with {what}.toarray() if it fits in memory."
        )
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "columns"):  # pandas-like frame: name the columns
        bad = [
            str(c)
            for c, t in zip(X.columns, dtypes)
            if not (np.issubdtype(np.dtype(t), np.number) or np.dtype(t) == np.bool_)
            and np.dtype(t) != object
        ]
        if bad:
            raise TypeError(
                f"{what} has non-numeric columns {bad}; gaussmix models numeric features only. "
                "Drop or encode those columns first."
            )
    arr = X if isinstance(X, np.ndarray) else None
    if arr is None and not hasattr(X, "__array__") and not isinstance(X, (list, tuple)):
        raise TypeError(
            f"{what} must be array-like of shape (n_samples, n_features) holding numbers, "
            f"got {type(X).__name__}."
        )
    if arr is None:
        try:
            arr = np.asarray(X)
        except ValueError as exc:  # ragged nested sequences
            raise ValueError(
                f"{what} could not be read as a 2-D array ({exc}). Pass rows of equal length."
            ) from None
    kind = arr.dtype.kind
    if kind == "c":
        raise ValueError(
            f"Complex data not supported: {what} has complex values. Pass the real part "
            f"({what}.real) or split real and imaginary parts into separate columns."
        )
    if kind in "USOV":
        if kind == "O":
            try:
                converted = arr.astype(np.float64)
            except (TypeError, ValueError):
                pass
            else:
                if converted.ndim == 2 and not np.isfinite(converted).all():
                    _raise_not_finite(converted, what)
                return
        index, value = _first_bad_value(arr)
        where = f" at index {index}" if index else ""
        msg = (
            f"{what} must hold numbers, but it contains {value!r}{where}. "
            "Convert the data to numeric values, or drop or encode non-numeric columns first."
        )
        if isinstance(value, (str, bytes)) or kind in "USV":
            raise ValueError(msg)
        raise TypeError(msg + " (float() argument must be a string or a real number.)")
    if kind in "mM":
        raise TypeError(
            f"{what} holds dates or durations ({arr.dtype}); convert them to numbers first."
        )
    if arr.ndim != 2:
        shape = arr.shape
        if arr.ndim == 1:
            hint = (
                f"Reshape your data with {what}.reshape(-1, 1) if it has a single feature, "
                f"or {what}.reshape(1, -1) if it is a single sample."
            )
        else:
            hint = (
                "Reshape or flatten it to (n_samples, n_features) first, "
                f"e.g. {what}.reshape(len({what}), -1)."
            )
        raise ValueError(
            f"Expected a 2-D array of shape (n_samples, n_features), got a {arr.ndim}-D array "
            f"of shape {shape}. {hint}"
        )
    if kind == "f" and not np.isfinite(arr).all():
        _raise_not_finite(arr, what)


def _raise_not_finite(arr: NDArray[Any], what: str) -> None:
    bad_rows = ~np.isfinite(arr).all(axis=1)
    n_bad = int(bad_rows.sum())
    first = int(np.flatnonzero(bad_rows)[0])
    has_nan = bool(np.isnan(arr).any())
    kinds = " and ".join(
        k for k, present in (("NaN", has_nan), ("inf", bool(np.isinf(arr).any()))) if present
    )
    raise ValueError(
        f"Input {what} contains {kinds} in {n_bad} of {arr.shape[0]} rows (first: row {first}). "
        "gaussmix does not handle missing or infinite values yet; drop those rows first, "
        f"e.g. {what} = {what}[np.isfinite({what}).all(axis=1)]."
    )


def check_sample_weight(sample_weight: Any, n_samples: int) -> Array | None:
    """Validated float64 copy of ``sample_weight`` (or ``None``)."""
    if sample_weight is None:
        return None
    if sparse.issparse(sample_weight):
        raise TypeError("sample_weight must be a dense 1-D array, got a sparse matrix.")
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        sw = np.full(n_samples, float(sample_weight))  # type: ignore[arg-type]
    else:
        try:
            sw = np.array(sample_weight, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("sample_weight must be an array of numbers.") from None
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) to match X, got {sw.shape}."
        )
    if not np.isfinite(sw).all():
        raise ValueError("sample_weight contains NaN or infinite values; pass finite weights.")
    if (sw < 0).any():
        raise ValueError(
            f"sample_weight has {int((sw < 0).sum())} negative values; weights must be >= 0."
        )
    if sw.sum() <= 0:
        raise ValueError("sample_weight sums to zero; at least one row needs a positive weight.")
    return sw


# --------------------------------------------------------------------------- parameters


Check = Callable[[str, Any], None]


def _int(low: int | None = None, allow_none: bool = False) -> Check:
    def check(name: str, value: Any) -> None:
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise _param_error(name, value, f"an integer >= {low}" + (" or None" * allow_none))
        if low is not None and value < low:
            raise _param_error(name, value, f"an integer >= {low}" + (" or None" * allow_none))

    return check


def _real(low: float) -> Check:
    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _param_error(name, value, f"a real number >= {low}")
        if not np.isfinite(value) or value < low:
            raise _param_error(name, value, f"a finite real number >= {low}")

    return check


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise _param_error(name, value, "True or False")


def _random_state(name: str, value: Any) -> None:
    ok = (
        value is None
        or (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0)
        or isinstance(value, (np.random.RandomState, np.random.Generator))
    )
    if not ok:
        raise _param_error(name, value, "None, a non-negative int, or a numpy random generator")


def _any(name: str, value: Any) -> None:
    return None


def _param_error(name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"The {name!r} parameter must be {expected}; got {value!r}.")


def check_params(estimator: Any, table: dict[str, Check]) -> None:
    """Check every constructor parameter against the declared ``table``."""
    for name, check in table.items():
        check(name, getattr(estimator, name))


int_at_least = _int
real_at_least = _real
boolean = _bool
random_state = _random_state
unchecked = _any


def check_init_array(
    value: Any, shape: tuple[int, ...], name: str, dtype: np.dtype[Any] = np.dtype(np.float64)
) -> Array:
    """A user-given initial array as float64, with its shape checked."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers.") from None
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; pass finite numbers.")
    return arr


def check_weights_init(value: Any, n_components: int) -> Array:
    w = check_init_array(value, (n_components,), "weights_init")
    if (w < 0).any() or (w > 1).any():
        raise ValueError("weights_init must lie in [0, 1].")
    if not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
        raise ValueError(f"weights_init must sum to 1, but they sum to {w.sum():.6g}.")
    return w / w.sum()
