"""Bad input is rejected at the API boundary with a message naming the problem and the fix."""

from __future__ import annotations

import contextlib
import re
import warnings
from typing import Any

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from gaussmix import COVARIANCE_TYPES, GaussianMixture, select_model
from gaussmix import _validation as v
from gaussmix.engine import numpy_kernels

from ._data import make_blobs

PREDICT_METHODS = ("predict", "predict_proba", "score_samples", "score")


@pytest.fixture
def X(rng: np.random.Generator) -> np.ndarray:
    return make_blobs(rng, n=60, d=2, k=2)[0]


@pytest.fixture
def fitted(X: np.ndarray) -> GaussianMixture:
    return GaussianMixture(2, n_init=1, random_state=0).fit(X)


def _call(model: GaussianMixture, method: str, X: Any) -> Any:
    return getattr(model, method)(X)


# --------------------------------------------------------------------------- X: values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fit_rejects_non_finite(X: np.ndarray, bad: float) -> None:
    """NaN is refused with missing='error' (by default it is a missing value); infinity
    always."""
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match=r"(NaN|inf) in 1 of 60 rows.*drop those rows"):
        GaussianMixture(2, missing="error").fit(X)
    if np.isinf(bad):
        with pytest.raises(ValueError, match=r"inf in 1 of 60 rows.*not a missing value"):
            GaussianMixture(2).fit(X)


@pytest.mark.parametrize("n", [5, v._PARALLEL_SUM // 2], ids=["small", "summed-in-parts"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_finite_values_whose_sum_overflows_are_accepted(dtype: type, n: int) -> None:
    """The finiteness check sums first (in parts on the worker threads for large arrays);
    a sum that overflows must not reject finite data, and no overflow warning escapes."""
    big = float(np.finfo(dtype).max) / 4
    rows = np.array([[1.0, 1.0], [1.1, 0.9], [0.9, 1.2], [1.05, 0.95], [0.95, 1.05]])
    X = (big * np.resize(rows, (n, 2))).astype(dtype)
    with np.errstate(over="ignore"):
        assert not np.isfinite(X.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v.precheck_X(X)  # accepted
    X[n - 1, 0] = np.nan
    with pytest.raises(ValueError, match=f"NaN in 1 of {n} rows"):
        v.precheck_X(X)


@pytest.mark.parametrize("method", PREDICT_METHODS)
def test_predict_rejects_nan(fitted: GaussianMixture, X: np.ndarray, method: str) -> None:
    X = X.copy()
    X[0, 0] = np.nan
    strict = clone(fitted).set_params(missing="error").fit(X[1:])
    with pytest.raises(ValueError, match=r"NaN in 1 of 60 rows.*np\.isfinite\(X\)\.all"):
        _call(strict, method, X)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
@pytest.mark.parametrize("compiled", [True, False], ids=["kernel", "numpy"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prediction_finds_non_finite_values_in_its_pass(
    rng: np.random.Generator, cov: str, compiled: bool, bad: float, dtype: type
) -> None:
    """Prediction leaves NaN and inf to its pass (a row holding one has no finite
    log-density) instead of reading X once more first: the error must be the same as
    the up-front check's, wherever the value lies among chunks and threads, and finite
    rows too far away for any density must still be scored, not rejected."""
    X, _, _ = make_blobs(rng, n=3000, d=3, k=3)
    model = GaussianMixture(
        3, covariance_type=cov, n_init=1, random_state=0, chunk_size=128, missing="error"
    )
    model.fit(X)
    Y = X.astype(dtype)
    Y[[5, 1700, 2999], [0, 2, 1]] = [bad, 50.0, bad]
    Y[2000] = np.finfo(dtype).max  # finite, beyond every component's reach
    before = Y.copy()
    kind = "NaN" if np.isnan(bad) else "inf"
    with contextlib.ExitStack() as stack:
        if not compiled:
            stack.enter_context(numpy_kernels())
        for method in PREDICT_METHODS:
            with pytest.raises(ValueError, match=rf"{kind} in 2 of 3000 rows \(first: row 5\)"):
                _call(model, method, Y)
        np.testing.assert_array_equal(Y, before)
        Y[[5, 2999], [0, 1]] = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            logd = model.score_samples(Y)
        assert np.isneginf(logd[2000]) and np.isfinite(np.delete(logd, 2000)).all()


def test_nan_in_object_array_is_reported_as_missing(X: np.ndarray) -> None:
    Xo = X.astype(object)
    Xo[2, 0] = None
    with pytest.raises(ValueError, match=r"NaN in 1 of 60 rows.*drop those rows"):
        GaussianMixture(2, missing="error").fit(Xo)


def test_select_model_rejects_nan(X: np.ndarray) -> None:
    X = X.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="drop those rows"):
        select_model(X, [1, 2], "diag", missing="error")


# --------------------------------------------------------------------------- X: shape


@pytest.mark.parametrize(
    ("shape", "match"),
    [((0, 2), r"0 sample\(s\).*pass at least one row"), ((5, 0), r"0 feature\(s\).*at least one")],
)
def test_empty_input(fitted: GaussianMixture, shape: tuple[int, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GaussianMixture(1).fit(np.empty(shape))
    with pytest.raises(ValueError, match=match):
        select_model(np.empty(shape), 1)
    if shape[1] == 2:
        for method in PREDICT_METHODS:
            with pytest.raises(ValueError, match=match):
                _call(fitted, method, np.empty(shape))


def test_one_dimensional_input(fitted: GaussianMixture) -> None:
    with pytest.raises(ValueError, match=r"1-D array.*reshape\(-1, 1\).*reshape\(1, -1\)"):
        GaussianMixture(1).fit(np.arange(10.0))
    for method in PREDICT_METHODS:
        with pytest.raises(ValueError, match=r"1-D array.*reshape"):
            _call(fitted, method, np.array([0.0, 1.0]))


def test_three_dimensional_input(fitted: GaussianMixture) -> None:
    with pytest.raises(ValueError, match=r"3-D array.*Reshape or flatten.*n_samples, n_features"):
        GaussianMixture(1).fit(np.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match=r"3-D array.*Reshape"):
        fitted.predict(np.zeros((4, 1, 2)))
    with pytest.raises(ValueError, match=r"3-D array.*Reshape"):
        select_model(np.zeros((4, 3, 2)), 1)


def test_ragged_rows() -> None:
    with pytest.raises(ValueError, match=r"could not be read as a 2-D array.*rows of equal length"):
        GaussianMixture(1).fit([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("X_bad", [None, 3.0, {"a": [1, 2]}])
def test_not_array_like(X_bad: Any) -> None:
    with pytest.raises(TypeError, match=r"array-like of shape \(n_samples, n_features\)"):
        GaussianMixture(1).fit(X_bad)


def test_fewer_rows_than_components(X: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"n_samples >= n_components.*Decrease n_components"):
        GaussianMixture(5).fit(X[:3])


def test_single_row() -> None:
    with pytest.raises(ValueError, match=r"1 sample.*minimum of 2.*Pass more rows"):
        GaussianMixture(1).fit([[1.0, 2.0]])


def test_wrong_number_of_features(fitted: GaussianMixture, X: np.ndarray) -> None:
    wider = np.c_[X, X[:, 0]]
    for method in (*PREDICT_METHODS, "bic", "aic"):
        with pytest.raises(ValueError, match=r"X has 3 features.*expecting 2.*same 2 columns"):
            _call(fitted, method, wider)


@pytest.mark.parametrize("method", ["bic", "aic"])
def test_criteria_validate_X(fitted: GaussianMixture, method: str) -> None:
    with pytest.raises(TypeError, match="array-like"):
        _call(fitted, method, None)
    with pytest.raises(ValueError, match="1-D array"):
        _call(fitted, method, np.arange(4.0))


# --------------------------------------------------------------------------- X: dtypes


def test_object_array_with_arbitrary_object(X: np.ndarray) -> None:
    Xo = X.astype(object)
    Xo[1, 1] = object()
    with pytest.raises(TypeError, match=r"must hold numbers.*index \(1, 1\).*Convert the data"):
        GaussianMixture(2).fit(Xo)


def test_object_array_of_numbers_is_accepted(X: np.ndarray) -> None:
    model = GaussianMixture(2, n_init=1, random_state=0).fit(X.astype(object))
    assert model.means_.dtype == np.float64


@pytest.mark.parametrize(
    "X_str",
    [
        np.array([["a", "b"], ["c", "d"], ["e", "f"]]),
        np.array([["1", "2"], ["3", "4"], ["5", "6"]]),  # numeric strings: still explicit
        np.array([[b"1", b"2"], [b"3", b"4"]]),
    ],
)
def test_string_arrays(fitted: GaussianMixture, X_str: np.ndarray) -> None:
    match = r"holds strings.*astype\(np\.float64\).*drop or encode"
    with pytest.raises(ValueError, match=match):
        GaussianMixture(1).fit(X_str)
    if X_str.shape[1] == 2:
        with pytest.raises(ValueError, match=match):
            fitted.predict(X_str)
    with pytest.raises(ValueError, match=match):
        select_model(X_str, 1)


def test_object_array_with_string(X: np.ndarray) -> None:
    Xo = X.astype(object)
    Xo[4, 0] = "red"
    with pytest.raises(ValueError, match=r"contains 'red' at index \(4, 0\).*drop or encode"):
        GaussianMixture(2).fit(Xo)


def test_dataframe_with_string_column() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "colour": ["r", "g", "b", "r"]})
    with pytest.raises(TypeError, match=r"non-numeric columns \['colour'\].*Drop or encode"):
        GaussianMixture(1).fit(df)
    with pytest.raises(TypeError, match=r"non-numeric columns \['colour'\]"):
        GaussianMixture(1).fit(df.astype({"colour": "category"}))
    # an object column of text is a text column; one of numbers and a typo names the cell
    with pytest.raises(TypeError, match=r"non-numeric columns \['colour'\]"):
        GaussianMixture(1).fit(df.astype({"colour": object}))
    df["colour"] = pd.Series([1.0, 2.0, "red", 4.0], dtype=object)
    with pytest.raises(ValueError, match=r"contains 'red' at index \(2, 1\) \(row 2 of column"):
        GaussianMixture(1).fit(df)


def test_dataframe_with_missing_values() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": pd.array([1, None, 3, 5], dtype="Int64"), "b": [1.0, 2.0, 5.0, 3.0]})
    with pytest.raises(ValueError, match=r"missing values.*1 of 4 rows.*X\.dropna\(\)"):
        GaussianMixture(1, missing="error").fit(df)


def test_dataframe_numeric_is_accepted() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [2.0, 1.0, 4.0, 3.0, 6.0]})
    model = GaussianMixture(1, random_state=0).fit(df)
    np.testing.assert_array_equal(model.feature_names_in_, ["x", "y"])


def test_complex_input(fitted: GaussianMixture, X: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"Complex data not supported.*\.real"):
        GaussianMixture(2).fit(X + 1j)
    with pytest.raises(ValueError, match="Complex data not supported"):
        fitted.predict(X + 0j)


def test_datetime_input() -> None:
    X_dt = np.array([["2024-01-01", "2024-01-02"]] * 3, dtype="datetime64[D]")
    with pytest.raises(TypeError, match=r"dates or durations.*convert them to numbers"):
        GaussianMixture(1).fit(X_dt)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input(fitted: GaussianMixture, X: np.ndarray, fmt: str) -> None:
    Xs = sparse.random(10, 2, density=0.5, format=fmt, random_state=0)
    with pytest.raises(TypeError, match=r"sparse matrix.*dense.*toarray\(\)"):
        GaussianMixture(1).fit(Xs)
    for method in PREDICT_METHODS:
        with pytest.raises(TypeError, match=r"toarray\(\)"):
            _call(fitted, method, Xs)
    with pytest.raises(TypeError, match=r"toarray\(\)"):
        select_model(Xs, 1)


# --------------------------------------------------------------------------- sample_weight


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda n: -np.ones(n), r"negative values; weights must be >= 0"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], r"NaN or infinite.*pass finite weights"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], r"NaN or infinite.*pass finite weights"),
        (lambda n: np.ones(n - 1), r"shape \(60,\) to match X.*one weight per row"),
        (lambda n: np.ones((n, 1)), r"shape \(60,\) to match X.*1-D array"),
        (lambda n: np.zeros(n), r"sums to zero.*positive weight"),
        (lambda n: np.full(n, 1e308), r"sums to infinity.*rescale"),
    ],
)
def test_bad_sample_weight(X: np.ndarray, make: Any, match: str) -> None:
    sw = make(X.shape[0])
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit(X, sample_weight=sw)
    with pytest.raises(ValueError, match=match):
        select_model(X, [1], "diag", sample_weight=sw)


def test_sample_weight_of_wrong_type(X: np.ndarray) -> None:
    with pytest.raises(TypeError, match=r"array of numbers.*one non-negative number per row"):
        GaussianMixture(2).fit(X, sample_weight=["a"] * X.shape[0])
    with pytest.raises(TypeError, match=r"sparse matrix.*toarray"):
        GaussianMixture(2).fit(X, sample_weight=sparse.csr_matrix(np.ones((1, X.shape[0]))))


# --------------------------------------------------------------------------- parameters

BAD_PARAMS: list[tuple[str, Any, str]] = [
    ("n_components", 0, r"'n_components' parameter must be an integer >= 1; got 0"),
    ("n_components", 1.5, r"'n_components' parameter must be an integer >= 1"),
    ("n_components", "2", r"'n_components' parameter must be an integer"),
    ("n_components", None, r"'n_components' parameter must be an integer"),
    ("covariance_type", "ful", r"one of 'full', 'tied', 'diag', 'spherical', 'EII', .*; got 'ful'"),
    ("covariance_type", None, r"one of 'full', 'tied', 'diag', 'spherical', 'EII', "),
    ("tol", -1e-3, r"'tol' parameter must be a finite real number >= 0"),
    ("tol", np.nan, r"'tol' parameter must be a finite real number >= 0"),
    ("tol", "small", r"'tol' parameter must be a real number"),
    ("reg_covar", -1e-6, r"'reg_covar' parameter must be 'auto' .* or a finite real number >= 0"),
    ("reg_covar", np.inf, r"'reg_covar' parameter must be 'auto' .* or a finite real number"),
    ("reg_covar", [1e-6], r"'reg_covar' parameter must be 'auto'"),
    ("reg_covar", "relative", r"'reg_covar' parameter must be 'auto' .*; got 'relative'"),
    ("max_iter", -1, r"'max_iter' parameter must be an integer >= 0"),
    ("max_iter", 10.0, r"'max_iter' parameter must be an integer"),
    ("n_init", 0, r"'n_init' parameter must be an integer >= 1"),
    ("n_init", True, r"'n_init' parameter must be an integer"),
    ("init_params", "kmean", r"one of 'auto', 'hierarchical', 'k-means\+\+', 'kmeans', 'random'"),
    ("init_params", None, r"'init_params' parameter must be one of"),
    ("init_iter", 0, r"'init_iter' parameter must be an integer >= 1 or None"),
    ("init_iter", 2.5, r"'init_iter' parameter must be an integer >= 1 or None"),
    ("weights_init", 0.5, r"'weights_init' parameter must be None or array-like"),
    ("means_init", 1.0, r"'means_init' parameter must be None or array-like"),
    ("precisions_init", object(), r"'precisions_init' parameter must be None or array-like"),
    ("labels_init", object(), r"'labels_init' parameter must be None or array-like"),
    ("random_state", -1, r"'random_state' parameter must be None, an int in \[0, 2\*\*32 - 1\]"),
    ("random_state", 2**40, r"'random_state' parameter must be None, an int"),
    ("random_state", "seed", r"'random_state' parameter must be None"),
    ("warm_start", 1, r"'warm_start' parameter must be True or False"),
    ("warm_start", "yes", r"'warm_start' parameter must be True or False"),
    ("verbose", -1, r"'verbose' parameter must be an integer >= 0"),
    ("verbose", "loud", r"'verbose' parameter must be an integer >= 0"),
    ("verbose_interval", 0, r"'verbose_interval' parameter must be an integer >= 1"),
    ("verbose_interval", 2.0, r"'verbose_interval' parameter must be an integer >= 1"),
    ("chunk_size", 0, r"'chunk_size' parameter must be an integer >= 1 or None"),
    ("chunk_size", 100.0, r"'chunk_size' parameter must be an integer >= 1 or None"),
    ("missing", "drop", r"'missing' parameter must be one of 'marginalize', 'error'"),
    ("noise", 1, r"'noise' parameter must be True or False"),
    ("noise_region", "hull", r"'noise_region' parameter must be one of 'auto', 'box'"),
    ("batch_size", 0, r"'batch_size' parameter must be an integer >= 1 or None"),
    ("batch_size", 10.0, r"'batch_size' parameter must be an integer >= 1 or None"),
    ("learning_offset", -1.0, r"'learning_offset' parameter must be a finite real number >= 0"),
    ("learning_decay", 0.5, r"'learning_decay' parameter must be in \(0.5, 1\]"),
    ("learning_decay", 1.5, r"'learning_decay' parameter must be in \(0.5, 1\]"),
    ("learning_decay", "fast", r"'learning_decay' parameter must be a real number"),
]


def test_every_parameter_is_covered() -> None:
    assert {name for name, _, _ in BAD_PARAMS} == set(GaussianMixture._parameter_table)
    assert set(GaussianMixture._parameter_table) == set(GaussianMixture().get_params())


@pytest.mark.parametrize(
    ("name", "value", "match"), BAD_PARAMS, ids=[f"{n}={v!r}" for n, v, _ in BAD_PARAMS]
)
def test_bad_parameter_raises_at_fit(X: np.ndarray, name: str, value: Any, match: str) -> None:
    model = GaussianMixture(**{name: value})  # constructing never raises
    assert model.get_params()[name] is value
    with pytest.raises(ValueError, match=match):
        model.fit(X)
    if name not in ("n_components", "covariance_type"):  # select_model's own arguments
        with pytest.raises(ValueError, match=match):
            select_model(X, [2], "diag", **{name: value})


def test_select_model_arguments(X: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"criterion must be 'bic', 'aic' or 'icl'"):
        select_model(X, [1], criterion="loglik")
    with pytest.raises(ValueError, match=r"n_components must hold positive integers; got 0"):
        select_model(X, [0, 1])
    with pytest.raises(ValueError, match=r"n_components is empty; pass at least one"):
        select_model(X, [])
    with pytest.raises(ValueError, match=r"Unknown covariance_type 'ful'.*'full', 'tied'"):
        select_model(X, [1], ["ful"])
    with pytest.raises(ValueError, match=r"No candidate model could be fitted.*more rows"):
        select_model(X[:3], [5], "diag")


def test_random_generator_is_accepted(X: np.ndarray) -> None:
    model = GaussianMixture(2, n_init=1, random_state=np.random.default_rng(0)).fit(X)
    assert np.isfinite(model.means_).all()


# --------------------------------------------------------------------------- *_init arrays


def test_weights_init_checks(X: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"weights_init must have shape \(2,\).*got \(3,\)"):
        GaussianMixture(2, weights_init=[0.2, 0.3, 0.5]).fit(X)
    with pytest.raises(ValueError, match=r"sum to 1, but they sum to 0\.6.*normalise"):
        GaussianMixture(2, weights_init=[0.3, 0.3]).fit(X)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\].*component proportions"):
        GaussianMixture(2, weights_init=[1.5, -0.5]).fit(X)
    with pytest.raises(ValueError, match=r"weights_init contains NaN.*finite"):
        GaussianMixture(2, weights_init=[np.nan, 0.5]).fit(X)
    with pytest.raises(TypeError, match=r"weights_init must be an array of numbers"):
        GaussianMixture(2, weights_init=["a", "b"]).fit(X)


def test_means_init_checks(X: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"means_init must have shape \(2, 2\).*got \(2, 3\)"):
        GaussianMixture(2, means_init=np.zeros((2, 3))).fit(X)
    with pytest.raises(ValueError, match=r"means_init must have shape \(2, 2\).*got \(3, 2\)"):
        GaussianMixture(2, means_init=np.zeros((3, 2))).fit(X)
    with pytest.raises(ValueError, match=r"means_init contains NaN or infinite"):
        GaussianMixture(2, means_init=[[np.inf, 0.0], [0.0, 0.0]]).fit(X)


def _valid_precisions(covariance_type: str, k: int, d: int) -> np.ndarray:
    return {
        "full": np.broadcast_to(np.eye(d), (k, d, d)),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[covariance_type].copy()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_init_wrong_shape(X: np.ndarray, covariance_type: str) -> None:
    good = _valid_precisions(covariance_type, 2, 2)
    bad = good[..., None]
    match = rf"precisions_init must have shape {re.escape(repr(good.shape))}.*{covariance_type}"
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, covariance_type=covariance_type, precisions_init=bad).fit(X)
    nan = np.full_like(good, np.nan)
    with pytest.raises(ValueError, match="precisions_init contains NaN"):
        GaussianMixture(2, covariance_type=covariance_type, precisions_init=nan).fit(X)


NOT_PD = [
    (covariance_type, kind)
    for covariance_type in COVARIANCE_TYPES
    for kind in ("negative", "zero", "indefinite", "asymmetric")
    if covariance_type in ("full", "tied") or kind in ("negative", "zero")
]


@pytest.mark.parametrize(("covariance_type", "kind"), NOT_PD)
def test_precisions_init_not_positive_definite(
    X: np.ndarray, covariance_type: str, kind: str
) -> None:
    good = _valid_precisions(covariance_type, 2, 2)
    if covariance_type in ("diag", "spherical"):
        bad = -good if kind == "negative" else np.zeros_like(good)
        match = rf"strictly positive for '{covariance_type}'"
    else:
        mat = {
            "negative": -np.eye(2),
            "zero": np.zeros((2, 2)),
            "indefinite": np.array([[1.0, 2.0], [2.0, 1.0]]),
            "asymmetric": np.array([[2.0, 1.0], [0.0, 2.0]]),
        }[kind]
        bad = np.broadcast_to(mat, good.shape).copy()
        match = r"not symmetric positive-definite.*inverse of a valid covariance"
    model = GaussianMixture(2, covariance_type=covariance_type, precisions_init=bad)
    with pytest.raises(ValueError, match=match):
        model.fit(X)


def test_valid_inits_are_accepted(X: np.ndarray) -> None:
    for covariance_type in COVARIANCE_TYPES:
        GaussianMixture(
            2,
            covariance_type=covariance_type,
            weights_init=[0.5, 0.5],
            means_init=X[:2],
            precisions_init=_valid_precisions(covariance_type, 2, 2),
        ).fit(X)


# --------------------------------------------------------------------------- sample, fitted


@pytest.mark.parametrize(
    ("n_samples", "match"),
    [(0, r"'n_samples': 0.*pass n_samples >= 1"), (-3, r"pass n_samples >= 1")],
)
def test_sample_needs_positive_count(fitted: GaussianMixture, n_samples: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fitted.sample(n_samples)


@pytest.mark.parametrize("n_samples", [2.5, "3", True, None])
def test_sample_count_type(fitted: GaussianMixture, n_samples: Any) -> None:
    with pytest.raises(ValueError, match=r"n_samples must be a positive integer.*e\.g\."):
        fitted.sample(n_samples)


def test_sample_random_state(fitted: GaussianMixture) -> None:
    with pytest.raises(ValueError, match=r"'random_state' parameter must be None"):
        fitted.sample(3, random_state="seed")
    a, _ = fitted.sample(5, random_state=3)
    b, _ = fitted.sample(5, random_state=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "method", [*PREDICT_METHODS, "bic", "aic", "sample", "n_parameters", "fit_predict"]
)
def test_not_fitted(X: np.ndarray, method: str) -> None:
    model = GaussianMixture(2)
    if method == "fit_predict":
        model.fit_predict(X)  # fits first: must work
        return
    with pytest.raises(NotFittedError, match=r"not fitted yet.*Call 'fit'"):
        if method in ("sample", "n_parameters"):
            getattr(model, method)()
        else:
            _call(model, method, X)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"n_components": 3}, r"had n_components=2.*now n_components=3"),
        ({"covariance_type": "diag"}, r"covariance_type='diag'"),
    ],
)
def test_warm_start_with_changed_shape(X: np.ndarray, change: dict[str, Any], match: str) -> None:
    model = GaussianMixture(2, warm_start=True, n_init=1, random_state=0).fit(X)
    model.set_params(**change)
    with pytest.raises(ValueError, match=match + r".*Set warm_start=False"):
        model.fit(X)


def test_warm_start_with_other_columns(X: np.ndarray) -> None:
    model = GaussianMixture(2, warm_start=True, n_init=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"n_features=2.*now.*n_features=3.*warm_start=False"):
        model.fit(np.c_[X, X[:, 0]])


# --------------------------------------------------------------------------- no side effects


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_user_arrays_are_not_modified(X: np.ndarray, covariance_type: str, dtype: type) -> None:
    Xd = np.asfortranarray(X.astype(dtype))
    sw = np.linspace(0.5, 2.0, X.shape[0])
    weights = np.array([0.4, 0.6])
    means = Xd[[0, -1]].astype(np.float64)
    prec = _valid_precisions(covariance_type, 2, 2)
    before = [a.copy() for a in (Xd, sw, weights, means, prec)]
    model = GaussianMixture(
        2,
        covariance_type=covariance_type,
        weights_init=weights,
        means_init=means,
        precisions_init=prec,
        max_iter=5,
        tol=0.0,
        chunk_size=16,
    )
    with pytest.warns(Warning, match="did not converge"):
        model.fit(Xd, sample_weight=sw)
    for method in PREDICT_METHODS:
        _call(model, method, Xd)
    model.bic(Xd)
    model.sample(4, random_state=0)
    for after, orig in zip((Xd, sw, weights, means, prec), before, strict=True):
        np.testing.assert_array_equal(after, orig)
        assert after.dtype == orig.dtype
    assert model.weights_ is not weights and model.means_ is not means


def test_list_input_is_not_modified(X: np.ndarray) -> None:
    rows = X.tolist()
    copy = [list(r) for r in rows]
    GaussianMixture(2, n_init=1, random_state=0).fit(rows).predict(rows)
    assert rows == copy


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(X: np.ndarray, covariance_type: str, dtype: type) -> None:
    Xd = X.astype(dtype)
    model = GaussianMixture(2, covariance_type=covariance_type, n_init=1, random_state=0).fit(Xd)
    for attr in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(model, attr).dtype == dtype, attr
    assert model.predict_proba(Xd).dtype == dtype
    assert model.score_samples(Xd).dtype == dtype
    assert model.sample(3, random_state=0)[0].dtype == dtype
    assert isinstance(model.score(Xd), float)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float16])
def test_other_numeric_dtypes_become_float64(X: np.ndarray, dtype: type) -> None:
    Xd = (X > 0) if dtype is np.bool_ else np.round(X * 3).astype(dtype)
    model = GaussianMixture(2, covariance_type="diag", n_init=1, random_state=0).fit(Xd)
    assert model.means_.dtype == np.float64
    assert model.predict_proba(Xd).dtype == np.float64


@pytest.mark.parametrize("method", PREDICT_METHODS)
def test_prediction_inputs_of_every_layout_agree(
    fitted: GaussianMixture, X: np.ndarray, method: str
) -> None:
    """Float arrays of the fitted width skip scikit-learn's validate_data (the pass finds
    NaN and inf itself); every other layout goes through it, with the same results."""
    expected = _call(fitted, method, X)
    for same in [np.asfortranarray(X), X.astype(">f8"), X.tolist(), X[::1, :].copy()]:
        np.testing.assert_allclose(_call(fitted, method, same), expected, rtol=1e-12)
    np.testing.assert_allclose(
        _call(fitted, method, X.astype(np.float32)), expected, rtol=1e-4, atol=1e-5
    )
    with pytest.raises(ValueError, match="expecting 2 features"):
        _call(fitted, method, X[:, :1])
    bad = X.copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        _call(fitted, method, bad)


def test_arrays_without_names_warn_for_a_model_fitted_on_names(X: np.ndarray) -> None:
    """The fast path of prediction inputs keeps scikit-learn's feature-name check."""
    pd = pytest.importorskip("pandas")
    gm = GaussianMixture(2, n_init=1, random_state=0).fit(pd.DataFrame(X, columns=["a", "b"]))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        gm.predict(X)
