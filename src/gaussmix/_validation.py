"""Every check of user input, at the API boundary, with messages that name the fix.

Nothing here copies or modifies the user's arrays unless a dtype conversion is required.
"""

from __future__ import annotations

import importlib
import itertools
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
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


# --------------------------------------------------------------------------- data frames

_NARWHALS: list[ModuleType | None] = []

#: how to drop the rows holding missing values, by data-frame library
_DROP_MISSING = {
    "pandas": "{X} = {X}.dropna()",
    "polars": "{X} = {X}.drop_nulls().drop_nans()",
    "pyarrow": "{X} = {X}.drop_null()",
}


def _narwhals() -> ModuleType | None:
    """narwhals (the data-frame layer scikit-learn uses too), or None if not installed."""
    if not _NARWHALS:
        try:
            _NARWHALS.append(importlib.import_module("narwhals.stable.v2"))
        except ImportError:
            _NARWHALS.append(None)
    return _NARWHALS[0]


@dataclass(frozen=True)
class FrameValues:
    """A data frame's values, read once.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_columns)
        C-contiguous float64 (float32 when every column is float32); missing values
        (null, NA, NaN) are NaN.
    native : object
        The frame whose column names scikit-learn reads: the user's frame, or a pyarrow
        Table made from an object known only by the interchange protocol.
    library : str
        ``"pandas"``, ``"polars"``, ``"pyarrow"``, ... (for messages).
    """

    values: NDArray[np.floating]
    native: Any
    library: str

    def drop_missing_hint(self, what: str) -> str:
        """How to drop the rows with missing values, in this library's words."""
        return _DROP_MISSING.get(self.library, "{X} = {X}[rows without missing values]").format(
            X=what
        )


def _as_native_frame(X: Any, nw: ModuleType, what: str) -> Any:
    """``X`` if narwhals knows its library; else a pyarrow Table made from an object with the
    Arrow PyCapsule or dataframe interchange protocol; else None (not a data frame)."""
    if nw.dependencies.is_into_dataframe(X):
        return X
    if isinstance(X, (np.ndarray, list, tuple)) or sparse.issparse(X):
        return None
    has_stream = hasattr(X, "__arrow_c_stream__") and not hasattr(X, "__arrow_c_array__")
    if not has_stream and not hasattr(X, "__dataframe__"):
        return None
    try:
        pa = importlib.import_module("pyarrow")
        if has_stream:
            return pa.table(X)
        return importlib.import_module("pyarrow.interchange").from_dataframe(X)
    except ImportError:
        pass
    except Exception:  # not a table after all (a stream of another type): not a frame
        return None
    if hasattr(X, "__dataframe__"):
        try:
            pd = importlib.import_module("pandas")
        except ImportError:
            raise TypeError(
                f"{what} is a {type(X).__name__} data frame (dataframe interchange protocol); "
                "reading it needs pyarrow or pandas. Install one, or pass a NumPy array."
            ) from None
        return pd.api.interchange.from_dataframe(X)
    return None


def frame_values(X: Any, what: str = "X") -> FrameValues | None:
    """The values of a data frame (pandas, polars, pyarrow, ... through narwhals), or None
    when ``X`` is not a data frame.

    Raises
    ------
    TypeError
        Naming the columns that cannot hold numbers (text, categories, dates, nested).
    ValueError
        Naming the first cell of an ``object`` column that is not a number.
    """
    if isinstance(X, np.ndarray):
        return None
    nw = _narwhals()
    if nw is None:
        module = type(X).__module__.split(".")[0]
        if module != "pandas" and (hasattr(X, "__dataframe__") or hasattr(X, "schema")):
            raise TypeError(
                f"{what} is a {module} {type(X).__name__}; gaussmix reads data frames other "
                "than pandas through narwhals, which is not installed: pip install narwhals "
                f"(or pass {what}.to_numpy())."
            )
        return None  # pandas without narwhals: precheck_X's own checks
    native = _as_native_frame(X, nw, what)
    if native is None:
        return None
    try:
        df = nw.from_native(native, eager_only=True)
    except nw.exceptions.DuplicateError:
        names = [str(c) for c in getattr(native, "columns", getattr(native, "column_names", []))]
        twice = sorted({c for c in names if names.count(c) > 1})
        raise ValueError(
            f"{what} has duplicate column names {twice}; rename them so that each feature "
            "has its own name."
        ) from None
    schema = df.schema
    # Object (pandas object columns) and Unknown (e.g. pandas sparse columns) are read
    # value by value below
    maybe = (nw.Boolean, nw.Object, nw.Unknown)
    bad = {
        str(name): str(dtype)
        for name, dtype in schema.items()
        if not (dtype.is_numeric() or any(dtype == m for m in maybe))
    }
    if bad:
        kinds = ", ".join(sorted(set(bad.values())))
        raise TypeError(
            f"{what} has non-numeric columns {list(bad)} ({kinds}); gaussmix models numeric "
            "features only. Drop or encode those columns first (e.g. one-hot encode "
            "categories, convert dates to numbers)."
        )
    n, d = df.shape
    f32 = d > 0 and all(dtype == nw.Float32 for dtype in schema.values())
    dtype = np.float32 if f32 else np.float64
    values = np.empty((n, d), dtype=dtype)
    for j, (name, column_type) in enumerate(schema.items()):
        column = df.get_column(name)
        if column_type == nw.Object or column_type == nw.Unknown:
            values[:, j] = _object_column(column, j, name, dtype, what)
        else:
            values[:, j] = column.cast(nw.Float32 if f32 else nw.Float64).to_numpy()
    library = str(df.implementation).lower().rsplit(".", 1)[-1]
    return FrameValues(values, native, library)


def _object_column(column: Any, j: int, name: Any, dtype: type, what: str) -> NDArray[Any]:
    """An ``object`` column's values as numbers (missing ones NaN), or the error naming the
    first value that is not a number."""
    raw = np.array(column.to_numpy(), dtype=object)  # a copy: missing values become NaN
    raw[np.asarray(column.is_null().to_numpy(), dtype=bool)] = np.nan
    try:
        return raw.astype(dtype)
    except (TypeError, ValueError):
        pass
    index, value = _first_bad_value(raw)
    i = index[0] if index else 0
    msg = (
        f"{what} must hold numbers, but it contains {value!r} at index ({i}, {j}) (row {i} of "
        f"column {name!r}). Convert the data to numeric values, or drop or encode "
        "non-numeric columns first."
    )
    if isinstance(value, (str, bytes)):
        raise ValueError(msg)
    raise TypeError(msg + " (float() argument must be a string or a real number.)")


# --------------------------------------------------------------------------- checks


def precheck_X(
    X: Any, what: str = "X", *, check_finite: bool = True, allow_nan: bool = False
) -> tuple[NDArray[Any], bool]:
    """Reject inputs scikit-learn's ``check_array`` would reject with a less helpful message.

    Returns the values checked (``X`` itself when it is a NumPy array, else ``X`` read as
    one: a data frame through :func:`frame_values`) and whether they hold NaN.

    ``check_finite=False`` leaves out the scan of a float array for NaN and inf (a read of all
    of it), for callers whose pass over the data finds them anyway and then calls
    :func:`raise_not_finite` (missing values of a data frame are still caught here, unless
    allowed).  ``allow_nan`` takes NaN as a missing value (infinity stays an error).
    """
    frame = frame_values(X, what)
    if frame is not None:
        return check_array_values(frame.values, what, frame=frame, allow_nan=allow_nan)
    if sparse.issparse(X):
        raise TypeError(
            f"{what} is a sparse matrix, but gaussmix needs dense data (Gaussian mixtures use "
            f"every entry). Convert it with {what}.toarray() if it fits in memory."
        )
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "columns"):  # pandas without narwhals
        bad = [
            str(c) for c, t in zip(X.columns, dtypes, strict=True) if not _maybe_numeric_dtype(t)
        ]
        if bad:
            raise TypeError(
                f"{what} has non-numeric columns {bad}; gaussmix models numeric features only. "
                "Drop or encode those columns first."
            )
        isna = getattr(X, "isna", None)
        missing = np.asarray(isna(), dtype=bool) if callable(isna) and not allow_nan else None
        if missing is not None and missing.ndim == 2 and missing.any():
            rows = missing.any(axis=1)
            raise ValueError(
                f"Input {what} contains missing values (NaN or NA) in {int(rows.sum())} of "
                f"{rows.shape[0]} rows (first: row {int(np.flatnonzero(rows)[0])}), which are "
                f"refused here (missing='error'): drop those rows first, e.g. {what} = "
                f"{what}.dropna(), or leave missing='marginalize' (the default) to fit and "
                "score rows on their observed values."
            )
    return check_array_values(X, what, check_finite=check_finite, allow_nan=allow_nan)


def check_array_values(
    X: Any,
    what: str = "X",
    *,
    check_finite: bool = True,
    frame: FrameValues | None = None,
    allow_nan: bool = False,
) -> tuple[NDArray[Any], bool]:
    """:func:`precheck_X` of an array-like that is not a data frame (or a frame's values)."""
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
    if kind == "f" and (check_finite or frame is not None) and not np.isfinite(_sum(arr)):
        if not allow_nan:
            if not np.isfinite(arr).all():
                raise_not_finite(arr, what, frame)
            return arr, False
        if np.isinf(arr).any():
            raise_infinite(arr, what)
        return arr, bool(np.isnan(arr).any())
    return arr, False


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


def raise_not_finite(arr: NDArray[Any], what: str = "X", frame: FrameValues | None = None) -> None:
    """Raise the error for NaN or inf in ``arr`` (which must hold some); ``frame`` when
    ``arr`` holds a data frame's values (its missing values are NaN)."""
    bad_rows = ~np.isfinite(arr).all(axis=1)
    first = int(np.flatnonzero(bad_rows)[0])
    has_nan, has_inf = bool(np.isnan(arr).any()), bool(np.isinf(arr).any())
    fix = frame.drop_missing_hint(what) if frame is not None and has_nan else None
    raise not_finite_error(
        has_nan, has_inf, int(bad_rows.sum()), arr.shape[0], first, what,
        fix=fix, frame=frame is not None,
    )  # fmt: skip


def not_finite_error(
    has_nan: bool,
    has_inf: bool,
    n_bad: int,
    n_rows: int,
    first: int,
    what: str = "X",
    where: str = "",
    *,
    fix: str | None = None,
    frame: bool = False,
) -> ValueError:
    """The error for ``n_bad`` of ``n_rows`` rows holding NaN or inf (``first``: the first
    such row); ``where`` narrows the rows counted (e.g. to a block of a Dask array), ``fix``
    replaces the generic way to drop them, ``frame`` names a data frame's missing values
    (the ways to drop them work on Dask arrays too)."""
    if frame and has_nan:
        kinds = "missing values (NaN or NA)" + (" and inf" if has_inf else "")
    else:
        kinds = " and ".join(k for k, present in (("NaN", has_nan), ("inf", has_inf)) if present)
    if has_nan:
        fix = fix or f"{what} = {what}[np.isfinite({what}).all(axis=1)]"
        advice = (
            f"NaN is refused here (missing='error'): drop those rows first, e.g. {fix}, or "
            "leave missing='marginalize' (the default) to fit and score rows on their "
            "observed values."
        )
    else:
        fix = fix or f"{what} = {what}[~np.isinf({what}).any(axis=1)]"
        advice = (
            "Infinity is not a missing value: replace it with NaN if the value is unknown, or "
            f"drop those rows, e.g. {fix}."
        )
    return ValueError(
        f"Input {what} contains {kinds} in {n_bad} of {n_rows} rows{where} (first: row {first}). "
        + advice
    )


def raise_infinite(arr: NDArray[Any], what: str = "X") -> None:
    """Raise the error for infinite values in ``arr`` (which must hold some), where NaN is
    taken as missing."""
    bad_rows = np.isinf(arr).any(axis=1)
    first = int(np.flatnonzero(bad_rows)[0])
    raise not_finite_error(False, True, int(bad_rows.sum()), arr.shape[0], first, what)


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
