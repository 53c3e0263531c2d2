"""Every table a user has: polars, pyarrow, pandas with nullable and extension dtypes, and any
object with the dataframe interchange protocol or the Arrow PyCapsule stream give the same
fit as the NumPy array; columns that cannot hold numbers are named; missing values become
NaN (refused, for now, with the error that says how to drop them).

The data is scikit-learn's bundled wine data set (178 rows x 13 features, real scales from
0.1 to 1680), fitted with several starts so that each fit is a real one.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_wine
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gaussmix import GaussianMixture, select_model
from gaussmix import _validation as v

pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")
pd = pytest.importorskip("pandas")
pytest.importorskip("narwhals")

WINE = load_wine()
X = np.ascontiguousarray(WINE.data, dtype=np.float64)
NAMES = [n.replace("/", "_") for n in WINE.feature_names]
DIAG = {"covariance_type": "diag", "random_state": 0}
FITTED = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def fit(data: Any, **kw: Any) -> GaussianMixture:
    params = {"covariance_type": "diag", "n_init": 4, "random_state": 0, **kw}
    return GaussianMixture(3, **params).fit(data)


@pytest.fixture(scope="module")
def reference() -> GaussianMixture:
    return fit(X)


def frames() -> dict[str, Any]:
    columns = {name: X[:, j] for j, name in enumerate(NAMES)}
    pandas = pd.DataFrame(columns)
    return {
        "polars": pl.DataFrame(columns),
        "pyarrow": pa.table(columns),
        "pandas Float64": pandas.astype("Float64"),
        "pandas double[pyarrow]": pandas.astype("double[pyarrow]"),
        "pandas object": pandas.astype(object),
    }


@pytest.mark.parametrize("kind", list(frames()))
def test_a_data_frame_gives_the_fit_of_its_array(kind: str, reference: GaussianMixture) -> None:
    frame = frames()[kind]
    model = fit(frame)
    for name in FITTED:
        np.testing.assert_array_equal(getattr(model, name), getattr(reference, name))
    assert list(model.feature_names_in_) == NAMES
    np.testing.assert_array_equal(model.predict(frame), reference.predict(X))
    np.testing.assert_array_equal(model.score_samples(frame), reference.score_samples(X))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(X)  # scikit-learn's check of the names still applies


def test_integer_and_boolean_columns_of_every_library() -> None:
    rng = np.random.default_rng(0)
    ints = rng.integers(0, 50, size=(60, 2))
    flags = rng.integers(0, 2, size=60).astype(bool)
    expected = fit(np.c_[ints, flags].astype(np.float64), covariance_type="spherical")
    pandas = pd.DataFrame({"a": ints[:, 0], "b": ints[:, 1], "c": flags})
    for frame in (
        pandas.astype({"a": "Int64", "b": "int16[pyarrow]", "c": "boolean"}),
        pl.from_pandas(pandas).cast({"a": pl.Int32, "b": pl.UInt8}),
        pa.Table.from_pandas(pandas),
    ):
        model = fit(frame, covariance_type="spherical")
        np.testing.assert_array_equal(model.means_, expected.means_)


def test_float32_frames_keep_float32() -> None:
    X32 = X.astype(np.float32)
    expected = fit(X32)
    for frame in (pl.DataFrame(X32, schema=NAMES), pd.DataFrame(X32, columns=NAMES)):
        model = fit(frame)
        assert model.means_.dtype == np.float32
        np.testing.assert_array_equal(model.means_, expected.means_)


class Interchange:
    """An object known only by the dataframe interchange protocol."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __dataframe__(self, nan_as_null: bool = False, allow_copy: bool = True) -> Any:
        return self._table.__dataframe__(nan_as_null, allow_copy)


class ArrowStream:
    """An object known only by the Arrow PyCapsule stream protocol."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._table.__arrow_c_stream__(requested_schema)


@pytest.mark.parametrize("wrapper", [Interchange, ArrowStream])
def test_protocol_objects(wrapper: type, reference: GaussianMixture) -> None:
    table = pa.table({name: X[:, j] for j, name in enumerate(NAMES)})
    model = fit(wrapper(table))
    np.testing.assert_array_equal(model.means_, reference.means_)
    assert list(model.feature_names_in_) == NAMES
    np.testing.assert_array_equal(model.predict(wrapper(table)), reference.predict(X))


def test_text_and_categorical_columns_are_named() -> None:
    n = 20
    pandas = pd.DataFrame(
        {
            "x": np.arange(n, dtype=float),
            "colour": pd.Categorical(["r", "g"] * (n // 2)),
            "name": pd.array([f"n{i}" for i in range(n)], dtype="string"),
            "when": pd.date_range("2020-01-01", periods=n),
        }
    )
    polars = pl.DataFrame(
        {
            "x": np.arange(n, dtype=float),
            "colour": pl.Series(["r", "g"] * (n // 2), dtype=pl.Categorical),
            "name": [f"n{i}" for i in range(n)],
        }
    )
    for frame, bad in (
        (pandas, r"\['colour', 'name', 'when'\]"),
        (polars, r"\['colour', 'name'\]"),
        (pa.Table.from_pandas(pandas), r"\['colour', 'name', 'when'\]"),
    ):
        with pytest.raises(TypeError, match=rf"non-numeric columns {bad}.*Drop or encode"):
            GaussianMixture(1).fit(frame)


def test_missing_values_of_frames_become_nan_and_are_fitted_or_refused() -> None:
    """A frame's null, NA and NaN become NaN: fitted as missing values by default (the same
    fit as the numpy array with NaN), refused with the library's own fix under
    missing='error'."""
    Xm = X[:, :3].copy()
    Xm[[4, 9], 1] = np.nan
    pandas = pd.DataFrame(Xm, columns=["a", "b", "c"])
    cases = {
        "X.dropna()": pandas.astype("Float64"),
        "X.drop_nulls().drop_nans()": pl.from_pandas(pandas),
        "X.drop_null()": pa.Table.from_pandas(pandas.astype("Float64")),
    }
    for fix, frame in cases.items():
        values = v.frame_values(frame)
        assert values is not None
        assert np.isnan(values.values[[4, 9], 1]).all() and np.isfinite(values.values[:4]).all()
        with pytest.raises(ValueError, match=rf"missing values.*2 of 178 rows.*{re.escape(fix)}"):
            GaussianMixture(1, missing="error").fit(frame)
        fitted = GaussianMixture(2, random_state=0).fit(frame)
        array = GaussianMixture(2, random_state=0).fit(Xm)
        np.testing.assert_array_equal(fitted.means_, array.means_)


def test_a_typo_in_an_object_column_is_named_by_row_and_column() -> None:
    frame = pd.DataFrame(
        {"a": X[:5, 0], "b": pd.Series([1.0, 2.0, "1.5e", 4.0, 5.0], dtype=object)}
    )
    with pytest.raises(ValueError, match=r"'1.5e' at index \(2, 1\) \(row 2 of column 'b'\)"):
        GaussianMixture(1).fit(frame)


def test_pipelines_with_polars_output(reference: GaussianMixture) -> None:
    frame = pl.DataFrame({name: X[:, j] for j, name in enumerate(NAMES)})
    expected = make_pipeline(StandardScaler(), GaussianMixture(3, **DIAG)).fit(X)
    with sklearn.config_context(transform_output="polars"):
        pipe = make_pipeline(StandardScaler(), GaussianMixture(3, **DIAG))
        labels = pipe.fit_predict(frame)
        scores = pipe.score_samples(frame)
    np.testing.assert_array_equal(labels, expected.predict(X))
    np.testing.assert_allclose(scores, expected.score_samples(X), rtol=1e-12)
    assert list(pipe[-1].feature_names_in_) == NAMES


def test_select_model_takes_a_frame() -> None:
    frame = pl.DataFrame({name: X[:, j] for j, name in enumerate(NAMES)})
    kw = {"n_init": 2, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # singular or unconverged candidates: not the point
        from_frame = select_model(frame, [1, 2, 3], ["diag", "spherical"], **kw)
        from_array = select_model(X, [1, 2, 3], ["diag", "spherical"], **kw)
    assert from_frame.best_index == from_array.best_index
    assert [r["bic"] for r in from_frame.rows] == [r["bic"] for r in from_array.rows]
    assert list(from_frame.best_model.feature_names_in_) == NAMES


def test_without_narwhals(monkeypatch: pytest.MonkeyPatch) -> None:
    """pandas still works (its own checks); other frames name the missing package."""
    monkeypatch.setattr(v, "_NARWHALS", [None])
    frame = pd.DataFrame(X, columns=NAMES)
    np.testing.assert_array_equal(fit(frame).means_, fit(X).means_)
    with pytest.raises(TypeError, match="through narwhals, which is not installed"):
        GaussianMixture(1).fit(pl.DataFrame(X))


def test_sparse_columns_and_duplicate_names(reference: GaussianMixture) -> None:
    sparse = pd.DataFrame(X, columns=NAMES).astype(pd.SparseDtype(float))
    np.testing.assert_array_equal(fit(sparse).means_, reference.means_)
    twice = pd.DataFrame(X[:, :3], columns=["a", "a", "b"])
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]; rename them"):
        GaussianMixture(1).fit(twice)
