"""Every check of user input, at the API boundary, with messages that name the fix.

Nothing here copies or modifies the user's arrays unless a dtype conversion is required.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.utils import check_random_state

from .engine.threads import default_threads, pool

Array = NDArray[np.float64]


# --------------------------------------------------------------------------- data


def _first_bad_value(arr: NDArray[Any]) -> tuple[tuple[int, ...], object]:
    for index, value in np.ndenumerate(arr):
        try:
            float(value)
        except (TypeError, ValueError):
            return index, value
    return (), None


def precheck_X(X: Any, what: str = "X", *, check_finite: bool = True) -> None:
    """Reject inputs scikit-learn's ``check_array`` would reject with a less helpful message.

    ``check_finite=False`` leaves out the scan of a float array for NaN and inf (a read of all
    of it), for callers whose pass over the data finds them anyway and then calls
    :func:`raise_not_finite` (missing values of a data frame are still caught here).
    """
    if sparse.issparse(X):
        raise TypeError(
            f"{what} is a sparse matrix, but gaussmix needs dense data (Gaussian mixtures use "
            f"every entry). Convert it with {what}.toarray() if it fits in memory."
        )
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "columns"):  # pandas-like frame: name the columns
        bad = [
            str(c) for c, t in zip(X.columns, dtypes, strict=True) if not _maybe_numeric_dtype(t)
        ]
        if bad:
            raise TypeError(
                f"{what} has non-numeric columns {bad}; gaussmix models numeric features only. "
                "Drop or encode those columns first."
            )
        isna = getattr(X, "isna", None)
        missing = np.asarray(isna(), dtype=bool) if callable(isna) else None
        if missing is not None and missing.ndim == 2 and missing.any():
            rows = missing.any(axis=1)
            raise ValueError(
                f"Input {what} contains missing values (NaN or NA) in {int(rows.sum())} of "
                f"{rows.shape[0]} rows (first: row {int(np.flatnonzero(rows)[0])}). gaussmix "
                "does not handle missing or infinite values yet; drop those rows first, "
                f"e.g. {what} = {what}.dropna()."
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
    if kind in "SU":
        raise ValueError(
            f"{what} holds strings (dtype {arr.dtype}), but gaussmix models numeric features "
            f"only. Convert the data to numbers explicitly (e.g. {what}.astype(np.float64) "
            "if the strings are numbers), or drop or encode non-numeric columns first."
        )
    if kind == "c":
        raise ValueError(
            f"Complex data not supported: {what} has complex values. Pass the real part "
            f"({what}.real) or split real and imaginary parts into separate columns."
        )
    if kind in "OV":
        converted = None
        if kind == "O":
            try:
                converted = arr.astype(np.float64)
            except (TypeError, ValueError):
                pass
        if converted is None:
            index, value = _first_bad_value(arr)
            where = f" at index {index}" if index else ""
            shown = repr(value) if index else f"values of dtype {arr.dtype}"
            msg = (
                f"{what} must hold numbers, but it contains {shown}{where}. Convert the data "
                "to numeric values, or drop or encode non-numeric columns first."
            )
            if isinstance(value, (str, bytes)) or kind == "V":
                raise ValueError(msg)
            raise TypeError(msg + " (float() argument must be a string or a real number.)")
        arr, kind = converted, "f"
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
    n, d = arr.shape
    if n == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is "
            f"required. {what} is empty: pass at least one row (two to fit a mixture)."
        )
    if d == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
            f"required. {what} has no columns: pass at least one numeric feature."
        )
    # a finite sum proves every entry finite, without an n x d mask; an infinite or NaN sum
    # may also come from finite values overflowing, so it is followed by the exact test
    if kind == "f" and check_finite:
        if not np.isfinite(_sum(arr)) and not np.isfinite(arr).all():
            raise_not_finite(arr, what)


# arrays from this many entries are summed by the engine's worker threads (numpy releases
# the GIL in the reduction, so the parts are summed in parallel)
_PARALLEL_SUM = 1 << 21


def _sum(arr: NDArray[Any]) -> Any:
    """The sum of every entry (overflow and NaN allowed), in parts on the worker threads."""
    workers = default_threads()
    with np.errstate(over="ignore", invalid="ignore"):
        if arr.size < _PARALLEL_SUM or workers < 2 or not arr.flags.c_contiguous:
            return arr.sum()
        flat = arr.reshape(-1)
        bounds = np.linspace(0, flat.shape[0], workers + 1).astype(np.intp)
        parts = [flat[a:b] for a, b in itertools.pairwise(bounds)]
        return sum(pool(workers).map(_quiet_sum, parts))


def _quiet_sum(part: NDArray[Any]) -> Any:
    with np.errstate(over="ignore", invalid="ignore"):  # per thread: set in the worker
        return part.sum()


def _maybe_numeric_dtype(dtype: Any) -> bool:
    """False for a column dtype that cannot hold numbers (strings, categories, dates).

    NumPy ``object`` columns pass: their values are inspected later.  pandas extension
    dtypes (``Int64``, ``string``, ``category``, ...) are judged by their ``kind``, since
    ``np.dtype`` cannot interpret them.
    """
    kind = getattr(dtype, "kind", "O")
    if kind in "biuf":
        return True
    return isinstance(dtype, np.dtype) and kind == "O"


def raise_not_finite(arr: NDArray[Any], what: str = "X") -> None:
    """Raise the error for NaN or inf in ``arr`` (which must hold some)."""
    bad_rows = ~np.isfinite(arr).all(axis=1)
    first = int(np.flatnonzero(bad_rows)[0])
    has_nan, has_inf = bool(np.isnan(arr).any()), bool(np.isinf(arr).any())
    raise not_finite_error(has_nan, has_inf, int(bad_rows.sum()), arr.shape[0], first, what)


def not_finite_error(
    has_nan: bool,
    has_inf: bool,
    n_bad: int,
    n_rows: int,
    first: int,
    what: str = "X",
    where: str = "",
) -> ValueError:
    """The error for ``n_bad`` of ``n_rows`` rows holding NaN or inf (``first``: the first
    such row); ``where`` narrows the rows counted (e.g. to a block of a Dask array)."""
    kinds = " and ".join(k for k, present in (("NaN", has_nan), ("inf", has_inf)) if present)
    return ValueError(
        f"Input {what} contains {kinds} in {n_bad} of {n_rows} rows{where} (first: row {first}). "
        "gaussmix does not handle missing or infinite values yet; drop those rows first, "
        f"e.g. {what} = {what}[np.isfinite({what}).all(axis=1)]."
    )


def check_sample_weight(sample_weight: Any, n_samples: int) -> Array | None:
    """Validated float64 copy of ``sample_weight`` (or ``None``)."""
    if sample_weight is None:
        return None
    if sparse.issparse(sample_weight):
        raise TypeError(
            "sample_weight must be a dense 1-D array, got a sparse matrix; convert it with "
            "sample_weight.toarray().ravel()."
        )
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        sw = np.full(n_samples, float(sample_weight))  # type: ignore[arg-type]
    else:
        try:
            sw = np.array(sample_weight, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"sample_weight must be an array of numbers, got {type(sample_weight).__name__}; "
                "pass one non-negative number per row of X."
            ) from None
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) to match X, got {sw.shape}; "
            "pass one weight per row of X as a 1-D array."
        )
    with np.errstate(over="ignore", invalid="ignore"):  # NaN and inf are reported below
        total = float(sw.sum())
    non_finite = 0 if np.isfinite(sw).all() else int((~np.isfinite(sw)).sum())
    check_weight_values(non_finite, int((sw < 0).sum()) if (sw < 0).any() else 0, total)
    return sw


def check_weight_values(non_finite: int, negative: int, total: float) -> None:
    """The checks of sample weights that need only their summary: the number of NaN or
    infinite weights, of negative ones, and their sum."""
    if non_finite:
        raise ValueError(
            f"sample_weight contains {non_finite} NaN or infinite values; "
            "pass finite weights (give rows to leave out weight 0)."
        )
    if negative:
        raise ValueError(
            f"sample_weight has {negative} negative values; weights must be >= 0 "
            "(give rows to leave out weight 0)."
        )
    if not total > 0:
        raise ValueError("sample_weight sums to zero; give at least one row a positive weight.")
    if not np.isfinite(total):
        raise ValueError(
            "sample_weight sums to infinity; rescale the weights (only their ratios matter "
            "to the fitted parameters)."
        )


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
        if not np.isfinite(float(value)) or value < low:
            raise _param_error(name, value, f"a finite real number >= {low}")

    return check


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise _param_error(name, value, "True or False")


def _random_state(name: str, value: Any) -> None:
    ok = (
        value is None
        or (
            isinstance(value, numbers.Integral)
            and not isinstance(value, bool)
            and 0 <= int(value) < 2**32
        )
        or isinstance(value, (np.random.RandomState, np.random.Generator))
    )
    if not ok:
        raise _param_error(
            name,
            value,
            "None, an int in [0, 2**32 - 1], a numpy RandomState or a numpy Generator",
        )


def as_random_state(value: Any) -> np.random.RandomState:
    """A ``RandomState`` from a validated ``random_state`` (a ``Generator`` seeds a new one)."""
    if isinstance(value, np.random.Generator):
        return np.random.RandomState(int(value.integers(np.iinfo(np.int32).max)))
    state: np.random.RandomState = check_random_state(value)
    return state


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
    value: Any,
    shape: tuple[int, ...],
    name: str,
    dtype: np.dtype[Any] | None = None,
    hint: str = "",
) -> Array:
    """A user-given initial array as float64, with its shape checked.

    ``hint`` names the expected layout in words, for the error message.
    """
    if sparse.issparse(value):
        raise TypeError(f"{name} must be a dense array, got a sparse matrix; pass .toarray().")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an array of numbers, got {type(value).__name__}; pass an array "
            f"of shape {shape}{' ' + hint if hint else ''}."
        ) from None
    if arr.shape != shape:
        raise ValueError(
            f"{name} must have shape {shape}{' ' + hint if hint else ''}, got {arr.shape}; "
            f"pass an array of that shape, or leave {name}=None."
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; pass finite numbers.")
    return arr


def check_weights_init(value: Any, n_components: int) -> Array:
    """Validated ``weights_init``: non-negative, summing to one (renormalised exactly)."""
    w = check_init_array(value, (n_components,), "weights_init", hint="(n_components,)")
    if (w < 0).any() or (w > 1).any():
        raise ValueError(
            f"weights_init must lie in [0, 1], got values in [{w.min():.6g}, {w.max():.6g}]; "
            "pass the component proportions (non-negative, summing to 1)."
        )
    if not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
        raise ValueError(
            f"weights_init must sum to 1, but they sum to {w.sum():.6g}; "
            "normalise them, e.g. weights_init / weights_init.sum()."
        )
    return w / w.sum()
