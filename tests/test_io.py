"""Saved models: exact round trips, atomic writes, and every way a file can be wrong."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import gaussmix
from gaussmix import COVARIANCE_TYPES, GaussianMixture, load
from gaussmix.io import BASE_FORMAT_VERSION, FORMAT_VERSION, JSON_MEMBER, ModelFileError
from gaussmix.persistence import read_model, save_model
from gaussmix.standardize import Standardization

from ._data import make_blobs

STORED = ("weights_", "means_", "covariances_", "precisions_cholesky_")


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    X, _, _ = make_blobs(np.random.default_rng(7), n=240, d=3, k=3)
    return X


@pytest.fixture(scope="module")
def models(data: np.ndarray) -> dict[tuple[str, str], GaussianMixture]:
    return {
        (cov, dtype): GaussianMixture(3, covariance_type=cov, random_state=0).fit(
            data.astype(dtype)
        )
        for cov in COVARIANCE_TYPES
        for dtype in ("float64", "float32")
    }


@pytest.fixture
def saved(tmp_path: Path, models: dict[tuple[str, str], GaussianMixture]) -> Path:
    """A float64 'full' model file."""
    path = tmp_path / "model.gmm"
    models["full", "float64"].save(path)
    return path


# --------------------------------------------------------------------------- helpers


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def rewrite(
    path: Path,
    *,
    edit_json: Callable[[dict[str, Any]], None] | None = None,
    arrays: dict[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
    extra: dict[str, bytes] | None = None,
    fix_checksums: bool = True,
) -> None:
    """Rewrite a model file as a valid ZIP with edited content (checksums recomputed)."""
    import hashlib

    content = members(path)
    header = json.loads(content[JSON_MEMBER])
    for name, data in (arrays or {}).items():
        content[f"{name}.npy"] = data
        if fix_checksums:
            header["arrays"][name]["sha256"] = hashlib.sha256(data).hexdigest()
    if edit_json is not None:
        edit_json(header)
    content[JSON_MEMBER] = json.dumps(header).encode()
    content.update(extra or {})
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in content.items():
            if name not in drop:
                zf.writestr(name, data)


def assert_rejected(path: Path, *fragments: str) -> str:
    with pytest.raises(ModelFileError) as info:
        load(path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_round_trip_is_exact(
    tmp_path: Path,
    data: np.ndarray,
    models: dict[tuple[str, str], GaussianMixture],
    cov: str,
    dtype: str,
) -> None:
    model = models[cov, dtype]
    path = tmp_path / "m.gmm"
    assert model.save(path) == path
    loaded = load(path)
    assert isinstance(loaded, GaussianMixture)
    assert loaded is not model
    for name in (*STORED, "precisions_"):
        a, b = getattr(model, name), getattr(loaded, name)
        assert b.dtype == a.dtype == np.dtype(dtype), name
        assert b.shape == a.shape, name
        if name != "precisions_" or dtype == "float64":
            assert np.array_equal(a, b), name
        else:  # recomputed from the float32 factor: within rounding of the float64 original
            np.testing.assert_allclose(b, a, rtol=4 * np.finfo(np.float32).eps)
    assert loaded.get_params() == model.get_params()
    for name in ("converged_", "n_iter_", "lower_bound_", "history_", "start_lower_bounds_",
                 "reseeds_", "n_features_in_"):  # fmt: skip
        assert getattr(loaded, name) == getattr(model, name), name
    assert loaded.lower_bounds_ == loaded.history_
    assert not hasattr(loaded, "feature_names_in_")

    X = data.astype(dtype)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    tol = 1e-10 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=tol)
    np.testing.assert_allclose(loaded.score_samples(X), model.score_samples(X), rtol=tol)
    a, la = model.sample(40, random_state=3)
    b, lb = loaded.sample(40, random_state=3)
    assert np.array_equal(a, b) and np.array_equal(la, lb)

    # the format is deterministic: saving the loaded model gives the same bytes
    again = loaded.save(tmp_path / "again.gmm")
    assert again.read_bytes() == path.read_bytes()


def test_path_as_str_and_pathlike(tmp_path: Path, models: Any) -> None:
    model = models["diag", "float64"]
    written = model.save(str(tmp_path / "a.gmm"))
    assert isinstance(written, Path) and written.exists()
    assert np.array_equal(load(str(written)).means_, model.means_)
    assert np.array_equal(load(tmp_path / "a.gmm").means_, model.means_)
    assert np.array_equal(gaussmix.persistence.load(written).means_, model.means_)


def test_feature_names_are_kept(tmp_path: Path, data: np.ndarray) -> None:
    pa = pytest.importorskip("pyarrow")
    table = pa.table({"alpha": data[:, 0], "beta": data[:, 1], "gamma": data[:, 2]})
    model = GaussianMixture(2, random_state=0).fit(table)
    loaded = load(model.save(tmp_path / "named.gmm"))
    assert loaded.feature_names_in_.dtype == object
    assert list(loaded.feature_names_in_) == ["alpha", "beta", "gamma"]
    assert np.array_equal(loaded.predict(table), model.predict(table))


def test_unfitted_model_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError):
        GaussianMixture(2).save(tmp_path / "nope.gmm")
    assert list(tmp_path.iterdir()) == []


def test_init_arrays_and_random_state(tmp_path: Path, data: np.ndarray) -> None:
    means_init = data[:3].copy()
    model = GaussianMixture(
        3,
        covariance_type="tied",
        means_init=means_init,
        weights_init=[0.2, 0.3, 0.5],
        random_state=np.random.RandomState(0),
        tol=1e-4,
        chunk_size=50,
    ).fit(data)
    loaded = load(model.save(tmp_path / "init.gmm"))
    params = loaded.get_params()
    assert np.array_equal(params["means_init"], means_init)
    assert np.array_equal(params["weights_init"], [0.2, 0.3, 0.5])
    assert params["precisions_init"] is None
    assert params["random_state"] is None  # a RandomState is not stored
    assert params["tol"] == 1e-4 and params["chunk_size"] == 50
    assert np.array_equal(loaded.means_, model.means_)


def test_init_array_of_another_shape_is_not_saved(tmp_path: Path, models: Any) -> None:
    model = clone_fitted(models["full", "float64"])
    model.set_params(means_init=np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"Cannot save means_init: .* shape \(3, 3\)"):
        model.save(tmp_path / "bad.gmm")
    assert list(tmp_path.iterdir()) == []


def clone_fitted(model: GaussianMixture) -> GaussianMixture:
    import copy

    return copy.deepcopy(model)


def test_non_finite_fit_summary(tmp_path: Path, data: np.ndarray) -> None:
    model = GaussianMixture(2, max_iter=0, random_state=0).fit(data)
    model.lower_bound_ = -np.inf  # e.g. a start that never ran an E-step
    model.start_lower_bounds_ = [-np.inf, np.inf, np.nan]
    path = model.save(tmp_path / "zero.gmm")
    header = json.loads(members(path)[JSON_MEMBER])
    assert header["fit"]["lower_bound"] == "-inf"  # strict JSON: no bare Infinity / NaN
    loaded = load(path)
    assert loaded.lower_bound_ == -np.inf
    first, second, third = loaded.start_lower_bounds_
    assert first == -np.inf and second == np.inf and np.isnan(third)
    assert loaded.n_iter_ == model.n_iter_ and loaded.history_ == model.history_


def test_standardization_is_stored_and_load_refuses_it(
    tmp_path: Path, models: Any, data: np.ndarray
) -> None:
    model = models["spherical", "float64"]
    std = Standardization.fit(data)
    path = save_model(model, tmp_path / "std.gmm", standardization=std)
    saved = read_model(path)
    assert saved.standardization is not None
    assert np.array_equal(saved.standardization.mean, std.mean)
    assert np.array_equal(saved.standardization.scale, std.scale)
    assert np.array_equal(saved.model.covariances_, model.covariances_)
    # a GaussianMixture needs nothing newer than version 2: older readers read it
    assert saved.header["format_version"] == BASE_FORMAT_VERSION == 2
    assert_rejected(path, "standardized", "read_model")
    np.testing.assert_allclose(std.inverse_transform(std.transform(data)), data, rtol=1e-12)


# --------------------------------------------------------------------------- atomic writes


def test_failed_write_leaves_the_old_file_intact(
    tmp_path: Path, models: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.gmm"
    models["full", "float64"].save(path)
    before = path.read_bytes()
    original = zipfile.ZipFile.writestr
    calls = []

    def failing(self: zipfile.ZipFile, info: Any, data: Any, *args: Any, **kw: Any) -> None:
        calls.append(info)
        if len(calls) == 3:  # after the JSON and one array went to disk
            raise OSError("disk full (simulated)")
        original(self, info, data, *args, **kw)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing)
    with pytest.raises(OSError, match="simulated"):
        models["diag", "float32"].save(path)
    monkeypatch.undo()
    assert len(calls) == 3
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gmm"]
    assert np.array_equal(load(path).means_, models["full", "float64"].means_)

    # no previous file: nothing is left behind either
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("fsync failed")))
    with pytest.raises(OSError, match="fsync failed"):
        models["diag", "float32"].save(tmp_path / "new.gmm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gmm"]


def test_overwrite_replaces_the_file(tmp_path: Path, models: Any) -> None:
    path = tmp_path / "model.gmm"
    models["full", "float64"].save(path)
    models["tied", "float32"].save(path)
    assert load(path).covariance_type == "tied"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gmm"]


# --------------------------------------------------------------------------- rejected files


def test_pickle_is_not_a_model(tmp_path: Path, models: Any) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(models["full", "float64"]))
    assert_rejected(path, "not a gaussmix model file", "pickle")


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "empty"),
        (b"\x00\x01 random bytes, not a model" * 10, "not a ZIP archive"),
        (b"n_components,covariance\n3,full\n", "not a ZIP archive"),
    ],
)
def test_other_files_are_not_models(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "x.gmm"
    path.write_bytes(content)
    assert_rejected(path, "not a gaussmix model file", fragment)


def test_npz_is_not_a_model(tmp_path: Path, models: Any) -> None:
    path = tmp_path / "arrays.npz"
    np.savez(path, means_=models["full", "float64"].means_)
    assert_rejected(path, "not a gaussmix model file", "no gaussmix.json")


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.gmm")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_file(saved: Path, fraction: float) -> None:
    content = saved.read_bytes()
    saved.write_bytes(content[: int(len(content) * fraction)])
    assert_rejected(saved, str(saved))


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 0, "1", True])
def test_other_format_version(saved: Path, version: Any) -> None:
    rewrite(saved, edit_json=lambda h: h.update(format_version=version))
    message = assert_rejected(
        saved, f"format version {version!r}", "reads format versions 1, 2 and 3"
    )
    if version == FORMAT_VERSION + 1:
        assert "Upgrade gaussmix" in message


def test_version_1_files_still_load(
    saved: Path, models: dict[tuple[str, str], GaussianMixture], data: np.ndarray
) -> None:
    # what gaussmix wrote before format version 2: version 1, without the parameters
    # added since (their defaults apply)
    def as_version_1(header: dict[str, Any]) -> None:
        header["format_version"] = 1
        for key in ("verbose_interval", "missing"):
            del header["params"][key]

    rewrite(saved, edit_json=as_version_1)
    loaded = load(saved)
    assert loaded.get_params()["missing"] == "marginalize"
    np.testing.assert_array_equal(loaded.means_, models["full", "float64"].means_)
    np.testing.assert_allclose(
        loaded.score_samples(data), models["full", "float64"].score_samples(data), rtol=1e-12
    )


def test_other_format_name(saved: Path) -> None:
    rewrite(saved, edit_json=lambda h: h.update(format="something-else"))
    assert_rejected(saved, "not a gaussmix model file", "something-else")


def test_flipped_byte_in_an_array(saved: Path) -> None:
    content = bytearray(members(saved)["means_.npy"])
    content[-3] ^= 0x10
    rewrite(saved, arrays={"means_": bytes(content)}, fix_checksums=False)
    assert_rejected(saved, "checksum of means_.npy")


def test_flipped_byte_in_the_file(saved: Path) -> None:
    content = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("covariances_.npy")
    content[info.header_offset + 30 + len(info.filename) + 5] ^= 0xFF  # in the member's data
    saved.write_bytes(bytes(content))
    assert_rejected(saved, str(saved))


def test_edited_json(saved: Path) -> None:
    rewrite(saved, edit_json=lambda h: h.update(covariance_type="diag"))
    assert_rejected(saved, "covariances_ has shape (3, 3, 3), expected (3, 3)")


def test_edited_json_parameter(saved: Path) -> None:
    rewrite(saved, edit_json=lambda h: h["params"].update(n_init=0))
    assert_rejected(saved, "invalid estimator parameter", "n_init")


@pytest.mark.parametrize("value", ["auto", 2e-3])
def test_reg_covar_is_auto_or_a_number(saved: Path, value: object) -> None:
    rewrite(saved, edit_json=lambda h: h["params"].update(reg_covar=value))
    assert load(saved).get_params()["reg_covar"] == value


@pytest.mark.parametrize("value", ["relative", -1.0])
def test_reg_covar_of_another_meaning_is_refused(saved: Path, value: object) -> None:
    rewrite(saved, edit_json=lambda h: h["params"].update(reg_covar=value))
    assert_rejected(saved, "reg_covar")


def test_edited_json_unknown_key(saved: Path) -> None:
    rewrite(saved, edit_json=lambda h: h.update(code="__import__('os')"))
    assert_rejected(saved, "unknown keys ['code']")


def test_json_syntax_error(saved: Path) -> None:
    content = members(saved)
    content[JSON_MEMBER] = content[JSON_MEMBER][:-20]
    with zipfile.ZipFile(saved, "w") as zf:
        for name, data in content.items():
            zf.writestr(name, data)
    assert_rejected(saved, "not valid JSON")


def test_missing_member(saved: Path) -> None:
    rewrite(saved, drop=("precisions_cholesky_.npy",))
    assert_rejected(saved, "lacks the members ['precisions_cholesky_.npy']")


def test_unexpected_member(saved: Path) -> None:
    rewrite(saved, extra={"payload.pkl": b"\x80\x04."})
    assert_rejected(saved, "unexpected members ['payload.pkl']")


def test_object_array_is_not_unpickled(saved: Path) -> None:
    evil = np.array([{"a": 1}, None, 3], dtype=object)
    buf = io.BytesIO()
    np.save(buf, evil, allow_pickle=True)
    rewrite(saved, arrays={"weights_": buf.getvalue()})
    assert_rejected(saved, "weights_")


def test_non_positive_definite_covariance(saved: Path, models: Any) -> None:
    cov = models["full", "float64"].covariances_.copy()
    cov[1] = [[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]  # symmetric, eigenvalue -1
    rewrite(saved, arrays={"covariances_": npy(cov)})
    assert_rejected(saved, "covariances_ of component 1 is not positive-definite")


def test_negative_variance(tmp_path: Path, models: Any) -> None:
    path = models["diag", "float32"].save(tmp_path / "diag.gmm")
    cov = models["diag", "float32"].covariances_.copy()
    cov[0, 1] = -cov[0, 1]
    rewrite(path, arrays={"covariances_": npy(cov)})
    assert_rejected(path, "covariances_ of component 0 is not positive-definite")


def test_covariance_inconsistent_with_cholesky(saved: Path, models: Any) -> None:
    cov = models["full", "float64"].covariances_ * 1.01  # still positive-definite
    rewrite(saved, arrays={"covariances_": npy(cov)})
    assert_rejected(saved, "precisions_cholesky_ does not match covariances_")


def test_weights_must_sum_to_one(saved: Path, models: Any) -> None:
    rewrite(saved, arrays={"weights_": npy(models["full", "float64"].weights_ * 0.9)})
    assert_rejected(saved, "weights_ must be non-negative and sum to 1")


def test_non_finite_array(saved: Path, models: Any) -> None:
    means = models["full", "float64"].means_.copy()
    means[2, 0] = np.nan
    rewrite(saved, arrays={"means_": npy(means)})
    assert_rejected(saved, "means_ holds NaN or infinite values")


def test_wrong_dtype_and_shape(saved: Path, models: Any) -> None:
    means = models["full", "float64"].means_
    rewrite(saved, arrays={"means_": npy(means.astype(np.float32))})
    assert_rejected(saved, "means_ has dtype <f4, expected <f8")
    rewrite(saved, arrays={"means_": npy(means[:2])})
    assert_rejected(saved, "means_ has shape (2, 3), expected (3, 3)")


def test_oversized_member(saved: Path) -> None:
    rewrite(saved, arrays={"weights_": npy(np.full(100_000, 1e-5))})
    assert_rejected(saved, "weights_.npy is", "bytes, more than")


def test_model_file_error_is_a_value_error() -> None:
    assert issubclass(ModelFileError, ValueError)


FITTED = (
    "weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_", "converged_",
    "n_iter_", "lower_bound_", "history_", "lower_bounds_", "start_lower_bounds_", "reseeds_",
    "n_features_in_",
)  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_model_state_carries_every_fitted_attribute(
    tmp_path: Path,
    models: dict[tuple[str, str], GaussianMixture],
    data: np.ndarray,
    cov: str,
    dtype: str,
) -> None:
    """A model rebuilt from its state, and the state read back from a file written without
    any estimator, are the same fitted model."""
    from gaussmix.io import write_model
    from gaussmix.model_reader import read_model_file
    from gaussmix.model_state import ModelState

    model = models[cov, dtype]
    rebuilt = GaussianMixture.from_state(ModelState.of(model))
    path = write_model(tmp_path / "state.gmm", ModelState.of(model), {"covariance_type": cov})
    read = read_model_file(path)
    assert read.params["covariance_type"] == cov and "tol" not in read.params
    from_file = GaussianMixture.from_state(read.state)
    for other in (rebuilt, from_file):
        for name in FITTED:
            got, want = getattr(other, name), getattr(model, name)
            if isinstance(want, np.ndarray):
                assert got.dtype == want.dtype
                if name == "precisions_" and other is from_file:  # recomputed from the file's
                    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 0)
                else:
                    np.testing.assert_array_equal(got, want)
            else:
                assert got == want
        np.testing.assert_allclose(other.score_samples(data), model.score_samples(data), rtol=1e-6)


# --------------------------------------------------------------------------- corruption, paths


def test_version_needed_to_extract_beyond_zipfile(saved: Path) -> None:
    """A flipped "version needed to extract" in the central directory made zipfile raise
    NotImplementedError; it is a damaged file like any other."""
    content = bytearray(saved.read_bytes())
    directory = content.rindex(b"PK\x01\x02")  # the last member's central directory entry
    content[directory + 6] = 0xFF  # version needed to extract: 25.5
    saved.write_bytes(bytes(content))
    assert_rejected(saved, "damaged or truncated ZIP archive")


def _same_model(a: Any, b: Any) -> bool:
    arrays = all(
        np.array_equal(getattr(a.state, f), getattr(b.state, f))
        for f in ("weights", "means", "covariances", "precisions_cholesky")
    )
    params = a.params.keys() == b.params.keys() and all(
        a.params[p] is b.params[p] or np.array_equal(a.params[p], b.params[p]) for p in a.params
    )
    return arrays and params and a.header == b.header and a.state.history == b.state.history


def test_every_single_bit_flip_is_the_model_or_a_model_file_error(tmp_path: Path) -> None:
    """Every one of the ~17,000 single-bit flips of a small model file either loads as exactly
    the original model (a flip in a field the reader ignores: a timestamp, "version made
    by") or raises ModelFileError, never another exception."""
    from gaussmix.model_reader import read_model_file

    X = np.random.default_rng(0).normal(size=(20, 1))
    model = GaussianMixture(1, covariance_type="spherical", n_init=1, tol=10.0).fit(X)
    original_path = model.save(tmp_path / "small.gmm")
    original = read_model_file(original_path)
    content = original_path.read_bytes()
    assert len(content) < 4096  # all bits in a few seconds
    path = tmp_path / "flipped.gmm"
    same = errors = 0
    for bit in range(8 * len(content)):
        flipped = bytearray(content)
        flipped[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(flipped))
        try:
            loaded = read_model_file(path)
        except ModelFileError:
            errors += 1
            continue
        assert _same_model(loaded, original), f"bit {bit} loads as another model"
        same += 1
    assert same + errors == 8 * len(content) and errors > 0.8 * (same + errors)


def test_save_into_a_missing_folder_or_onto_a_folder(tmp_path: Path, models: Any) -> None:
    model = models["full", "float64"]
    target = tmp_path / "no" / "such" / "model.gmm"
    with pytest.raises(FileNotFoundError, match="there is no folder") as info:
        model.save(target)
    assert str(target) in str(info.value) and ".tmp" not in str(info.value)
    with pytest.raises(IsADirectoryError, match="it is a folder") as folder:
        model.save(tmp_path)
    assert f"e.g. {tmp_path / 'model.gmm'}" in str(folder.value)
    assert ".tmp" not in str(folder.value)
    assert list(tmp_path.iterdir()) == []


def test_files_written_before_verbose_interval_still_load(saved: Path) -> None:
    rewrite(saved, edit_json=lambda h: h["params"].pop("verbose_interval"))
    assert load(saved).verbose_interval == 10
    rewrite(saved, edit_json=lambda h: h["params"].update(verbose_interval=3))
    assert load(saved).verbose_interval == 3
    rewrite(saved, edit_json=lambda h: h["params"].update(verbose_interval=0))
    assert_rejected(saved, "'verbose_interval' parameter must be an integer >= 1")
