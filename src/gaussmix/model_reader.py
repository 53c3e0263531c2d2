"""Reading saved models: :func:`read_model_file` validates a file of the format that
:mod:`gaussmix.io` specifies and writes, member by member, before anything is built.

Every check names the file and what is wrong with it (:class:`~gaussmix.io.ModelFileError`);
arrays are read with ``np.load(..., allow_pickle=False)``, so reading never executes code.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _parameters
from ._version import __version__
from .covariance import REGISTRY, CovarianceFamily, get_family
from .io import (
    ESTIMATORS,
    FIT_KEYS,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_KEYS,
    HEADER_KEYS_3,
    JSON_MEMBER,
    MAX_JSON_BYTES,
    NPY_HEADER_ALLOWANCE,
    OPTIONAL_HEADER_KEYS,
    POSTERIOR_MEMBERS,
    READABLE_VERSIONS,
    ModelFile,
    ModelFileError,
    PathLike,
    param_shapes,
)
from .model_state import FITTED_ARRAYS, POSTERIOR_NUMBERS, ModelState, PosteriorState
from .noise.region import NoiseRegion, region_from_dict
from .posterior import WEIGHT_PRIORS, expected_weights, prior_shape
from .regularisation import AUTO
from .standardize import Standardization


class _Reader:
    """Validation of one file, with error messages that name it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, problem: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: {problem}")

    def not_a_model(self, why: str) -> ModelFileError:
        return ModelFileError(f"{self.path} is not a gaussmix model file ({why}).")

    # ---- archive

    def open(self, f: Any) -> zipfile.ZipFile:
        head = f.read(4)
        f.seek(0)
        try:
            zf = zipfile.ZipFile(f)
        # NotImplementedError: a "version needed to extract" beyond zipfile's (a flipped bit)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError):
            if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
                why = (
                    "it looks like a Python pickle, which gaussmix never loads because "
                    "loading a pickle can run arbitrary code; refit the model and save it "
                    "with GaussianMixture.save"
                )
            elif head.startswith(b"PK"):
                why = "a damaged or truncated ZIP archive"
            elif not head:
                why = "the file is empty"
            else:
                why = "not a ZIP archive"
            raise self.not_a_model(why) from None
        return zf

    def read_member(self, zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
        info = zf.getinfo(name)
        if info.file_size > limit:
            raise self.fail(
                f"member {name} is {info.file_size} bytes, more than the {limit} its header "
                "allows; the file is corrupted or was edited."
            )
        try:
            with zf.open(info) as member:
                data = member.read(limit + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError,
                zlib.error, OSError, ValueError) as exc:  # fmt: skip
            raise self.fail(
                f"member {name} cannot be read ({exc}); the file is corrupted."
            ) from None
        if len(data) > limit:
            raise self.fail(f"member {name} is larger than its header allows.")
        return data

    # ---- header

    def header(self, zf: zipfile.ZipFile) -> dict[str, Any]:
        names = zf.namelist()
        if len(set(names)) != len(names):
            raise self.fail("the archive holds duplicate members; the file was edited.")
        if JSON_MEMBER not in names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise self.not_a_model(f"no {JSON_MEMBER} member; it holds {shown or 'nothing'}")
        raw = self.read_member(zf, JSON_MEMBER, MAX_JSON_BYTES)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.fail(f"{JSON_MEMBER} is not valid JSON ({exc}).") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
            found = header.get("format") if isinstance(header, dict) else None
            raise self.not_a_model(f"format {found!r} in {JSON_MEMBER}, not {FORMAT_NAME!r}")
        version = header.get("format_version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            writer = header.get("gaussmix_version")
            by = f" (written by gaussmix {writer})" if isinstance(writer, str) else ""
            readable = ", ".join(str(v) for v in READABLE_VERSIONS[:-1])
            readable += f" and {READABLE_VERSIONS[-1]}" if readable else str(READABLE_VERSIONS[-1])
            raise self.fail(
                f"model file format version {version!r}{by}, but this gaussmix "
                f"({__version__}) reads format versions {readable} only. "
                + (
                    "Upgrade gaussmix to read it."
                    if isinstance(version, int) and version > FORMAT_VERSION
                    else "Re-save the model with a matching gaussmix version."
                )
            )
        keys = HEADER_KEYS + (HEADER_KEYS_3 if version >= 3 else ())
        missing = [key for key in keys if key not in header]
        unknown = [key for key in header if key not in keys + OPTIONAL_HEADER_KEYS]
        if missing or unknown:
            raise self.fail(
                f"{JSON_MEMBER} "
                + (f"lacks the keys {missing}" if missing else "")
                + (" and " if missing and unknown else "")
                + (f"has unknown keys {unknown}" if unknown else "")
                + "; the file was edited or is damaged."
            )
        return header

    def expect(self, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind in (int, float))
        if not ok:
            raise self.fail(f"{what} in {JSON_MEMBER} has the wrong type ({value!r}).")
        return value

    def number(self, value: Any, what: str) -> float:
        if isinstance(value, str) and value in ("inf", "-inf", "nan"):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{what} in {JSON_MEMBER} is not a number ({value!r}).")
        return float(value)

    def positive_int(self, value: Any, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(f"{what} in {JSON_MEMBER} must be a positive integer; got {value!r}.")
        return value

    # ---- arrays

    def array(
        self,
        zf: zipfile.ZipFile,
        name: str,
        entry: Any,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
    ) -> NDArray[Any]:
        member = f"{name}.npy"
        if not isinstance(entry, dict) or set(entry) != {"sha256"}:
            raise self.fail(f'arrays["{name}"] in {JSON_MEMBER} must be {{"sha256": ...}}.')
        expected_sha = entry["sha256"]
        size = math.prod(shape) * dtype.itemsize + NPY_HEADER_ALLOWANCE
        data = self.read_member(zf, member, size)
        if hashlib.sha256(data).hexdigest() != expected_sha:
            raise self.fail(
                f"the checksum of {member} does not match the one recorded in {JSON_MEMBER}; "
                "the file was edited or is corrupted."
            )
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise self.fail(f"{member} is not a valid .npy array ({exc}).") from None
        if not isinstance(arr, np.ndarray):
            raise self.fail(f"{member} is not a single .npy array.")
        if arr.dtype != dtype:
            raise self.fail(f"{name} has dtype {arr.dtype.str}, expected {dtype.str}.")
        if arr.shape != shape:
            raise self.fail(f"{name} has shape {arr.shape}, expected {shape}.")
        if not np.all(np.isfinite(arr)):
            raise self.fail(f"{name} holds NaN or infinite values.")
        return np.require(arr, requirements="C")

    def check_parameters(
        self,
        family: CovarianceFamily,
        arrays: dict[str, NDArray[Any]],
        k: int,
        d: int,
        noise_weight: float = 0.0,
    ) -> None:
        weights = arrays["weights_"].astype(np.float64)
        atol = 1e-6 if arrays["weights_"].dtype == np.float64 else 1e-4
        if (weights < 0).any() or abs(weights.sum() + noise_weight - 1.0) > atol:
            rest = f" less the noise weight {noise_weight:.9g}" if noise_weight else ""
            raise self.fail(
                f"weights_ must be non-negative and sum to 1{rest}; they sum to "
                f"{weights.sum():.9g} (smallest {weights.min():.3g})."
            )
        cov = arrays["covariances_"].astype(np.float64)
        chol = arrays["precisions_cholesky_"].astype(np.float64)
        eps = float(np.finfo(arrays["covariances_"].dtype).eps)
        dense = family.dense(cov, k, d)
        for j, c in enumerate(dense):
            if not np.allclose(c, c.T, rtol=1e-12, atol=0.0):
                raise self.fail(f"covariances_ of component {j} is not symmetric.")
            eig = np.linalg.eigvalsh(c)
            if not eig[0] > 0:
                raise self.fail(
                    f"covariances_ of component {j} is not positive-definite (smallest "
                    f"eigenvalue {eig[0]:.3g})."
                )
        # the stored factor must be the one the covariances imply (same structure, any
        # family); the rounding of either grows with the covariances' condition number
        expected, bad = family.precisions_cholesky(cov)
        if np.any(bad):
            raise self.fail("covariances_ cannot be factorised (not positive-definite).")
        eig = np.linalg.eigvalsh(dense)
        cond = float((eig[:, -1] / eig[:, 0]).max())
        err = float(np.max(np.abs(chol - expected)) / np.max(np.abs(expected)))
        if not err <= 1e-6 + 256 * eps * cond:
            raise self.fail(
                "precisions_cholesky_ does not match covariances_ (relative difference "
                f"{err:.3g}); the file was edited or is corrupted."
            )

    # ---- the model

    def model(self, zf: zipfile.ZipFile) -> ModelFile:
        header = self.header(zf)
        cov_type = header["covariance_type"]
        if not isinstance(cov_type, str) or cov_type not in REGISTRY:
            raise self.fail(
                f"unknown covariance_type {cov_type!r}; this gaussmix knows {', '.join(REGISTRY)}."
            )
        family = get_family(cov_type)
        k = self.positive_int(header["n_components"], "n_components")
        d = self.positive_int(header["n_features"], "n_features")
        if header["dtype"] not in ("float32", "float64"):
            raise self.fail(f"dtype must be 'float32' or 'float64'; got {header['dtype']!r}.")
        dtype = np.dtype(header["dtype"]).newbyteorder("<")
        f64 = np.dtype("<f8")
        estimator = header.get("estimator", "GaussianMixture")
        if estimator not in ESTIMATORS:
            raise self.fail(
                f"unknown estimator {estimator!r}; this gaussmix reads {', '.join(ESTIMATORS)}."
            )
        prior = self.posterior_header(header.get("posterior"), estimator)
        _, param_arrays, _ = ESTIMATORS[estimator]
        required = FITTED_ARRAYS + (POSTERIOR_MEMBERS if prior is not None else ())

        entries = self.expect(header["arrays"], dict, "arrays")
        unknown = [n for n in entries if n not in required + param_arrays]
        missing = [n for n in required if n not in entries]
        if unknown or missing:
            raise self.fail(
                f"arrays in {JSON_MEMBER} must name {', '.join(required)} (and optionally "
                f"{', '.join(param_arrays)}); "
                + (f"missing {missing}" if missing else f"unknown {unknown}")
                + "."
            )
        expected_members = {JSON_MEMBER} | {f"{n}.npy" for n in entries}
        present = set(zf.namelist())
        if present != expected_members:
            lacking = sorted(expected_members - present)
            extra = sorted(present - expected_members)
            raise self.fail(
                "the archive "
                + (f"lacks the members {lacking}" if lacking else "")
                + (" and " if lacking and extra else "")
                + (f"holds unexpected members {extra}" if extra else "")
                + "; the file is incomplete or was edited."
            )
        cov_shape = family.shape(k, d)
        process = prior is not None and prior[0] == "dirichlet_process"
        shared = family.moments.shared_precision
        shapes = {
            "weights_": (k,),
            "means_": (k, d),
            "covariances_": cov_shape,
            "precisions_cholesky_": cov_shape,
            **param_shapes(family, k, d),
            "weight_concentration_": (2, k) if process else (k,),
            "mean_precision_": (k,),
            "degrees_of_freedom_": () if shared else (k,),
            "mean_prior_": (d,),
            "covariance_prior_": prior_shape(family, d),
        }
        arrays = {
            name: self.array(
                zf, name, entry, shapes[name], f64 if name not in FITTED_ARRAYS else dtype
            )
            for name, entry in entries.items()
        }
        noise = self.noise(header, d)
        self.check_parameters(family, arrays, k, d, 0.0 if noise is None else noise[0])
        posterior = None
        if prior is not None:
            posterior = self.posterior(family, arrays, prior, d)

        params = self.parameters(header, arrays, family, k, estimator)
        state = self.state(header, arrays, family, d)
        if noise is not None:
            state.noise_weight, state.noise_region = noise
        state.posterior = posterior
        standardization = self.preprocessing(header["preprocessing"], d)
        return ModelFile(state, params, standardization, header, estimator)

    def posterior_header(
        self, value: Any, estimator: str
    ) -> tuple[str, float, float, float] | None:
        """The prior's type and numbers (``None`` for maximum likelihood), checked."""
        if estimator != "BayesianGaussianMixture":
            if value is not None:
                raise self.fail(f"posterior in {JSON_MEMBER} must be null for a {estimator}.")
            return None
        keys = ("weight_concentration_prior_type", *POSTERIOR_NUMBERS)
        if not isinstance(value, dict) or sorted(value) != sorted(keys):
            raise self.fail(f"posterior in {JSON_MEMBER} must have exactly the keys {keys}.")
        kind = value["weight_concentration_prior_type"]
        if kind not in WEIGHT_PRIORS:
            raise self.fail(
                f"posterior.weight_concentration_prior_type in {JSON_MEMBER} must be one of "
                f"{', '.join(map(repr, WEIGHT_PRIORS))}; got {kind!r}."
            )
        numbers = [self.number(value[name], f"posterior.{name}") for name in POSTERIOR_NUMBERS]
        if not all(np.isfinite(x) and x > 0 for x in numbers):
            raise self.fail(f"posterior in {JSON_MEMBER} must hold positive, finite numbers.")
        return kind, numbers[0], numbers[1], numbers[2]

    def posterior(
        self,
        family: CovarianceFamily,
        arrays: dict[str, NDArray[Any]],
        prior: tuple[str, float, float, float],
        d: int,
    ) -> PosteriorState:
        """A Bayesian mixture's posterior, checked against its prior and ``weights_``."""
        kind, alpha, beta0, nu0 = prior
        state = PosteriorState(
            kind, arrays["weight_concentration_"], arrays["mean_precision_"],
            arrays["degrees_of_freedom_"], alpha, beta0, arrays["mean_prior_"], nu0,
            arrays["covariance_prior_"],
        )  # fmt: skip
        if not ((state.weight_concentration > 0).all() and (state.mean_precision > 0).all()):
            raise self.fail("weight_concentration_ and mean_precision_ must be positive.")
        if not (nu0 > d - 1 and (state.degrees_of_freedom > d - 1).all()):
            raise self.fail(
                f"degrees_of_freedom_ and degrees_of_freedom_prior must exceed n_features - 1 "
                f"= {d - 1}."
            )
        cov = state.covariance_prior
        dense = cov.ndim == 2
        if not (np.linalg.eigvalsh(cov)[0] > 0 if dense else (cov > 0).all()):
            raise self.fail("covariance_prior_ must be positive-definite (positive).")
        if dense and not np.allclose(cov, cov.T, rtol=1e-12, atol=0.0):
            raise self.fail("covariance_prior_ is not symmetric.")
        weights = arrays["weights_"].astype(np.float64)
        expected = expected_weights(state.process, arrays["weight_concentration_"])
        atol = 1e-9 if arrays["weights_"].dtype == np.float64 else 1e-6
        if not np.allclose(weights, expected, rtol=1e-6, atol=atol):
            raise self.fail(
                "weights_ are not the expected weights of weight_concentration_; the file was "
                "edited or is corrupted."
            )
        return state

    def parameters(
        self,
        header: dict[str, Any],
        arrays: dict[str, NDArray[Any]],
        family: CovarianceFamily,
        k: int,
        estimator: str,
    ) -> dict[str, Any]:
        json_names, array_names, table = ESTIMATORS[estimator]
        params = dict(self.expect(header["params"], dict, "params"))
        unknown = [p for p in params if p not in json_names]
        if unknown:
            raise self.fail(f"params in {JSON_MEMBER} has unknown parameters {unknown}.")
        for name in ("tol", "reg_covar"):
            if name in params and not (
                (name == "tol" and params[name] is None)
                or (name == "reg_covar" and params[name] == AUTO)
            ):
                params[name] = self.number(params[name], f"params.{name}")
        for name in ("weight_concentration_prior", "mean_precision_prior",
                     "degrees_of_freedom_prior"):  # fmt: skip
            if params.get(name) is not None:
                params[name] = self.number(params[name], f"params.{name}")
        if params.get("n_components", k) != k or params.get("covariance_type") not in (
            None,
            family.name,
        ):
            raise self.fail(
                f"params in {JSON_MEMBER} disagree with n_components={k} / "
                f"covariance_type={family.name!r}."
            )
        params["n_components"] = k
        params["covariance_type"] = family.name
        for name in array_names:
            value = arrays.get(name)
            # a spherical covariance prior is a number
            params[name] = float(value) if value is not None and value.ndim == 0 else value
        try:
            _parameters.check_values(params, table)
        except (TypeError, ValueError) as exc:
            raise self.fail(f"invalid estimator parameter in {JSON_MEMBER}: {exc}") from None
        return params

    def state(
        self,
        header: dict[str, Any],
        arrays: dict[str, NDArray[Any]],
        family: CovarianceFamily,
        d: int,
    ) -> ModelState:
        fit = self.expect(header["fit"], dict, "fit")
        if sorted(fit) != sorted(FIT_KEYS):
            raise self.fail(f"fit in {JSON_MEMBER} must have exactly the keys {FIT_KEYS}.")
        history = [
            self.number(x, "fit.history") for x in self.expect(fit["history"], list, "fit.history")
        ]
        starts = self.expect(fit["start_lower_bounds"], list, "fit.start_lower_bounds")
        reseeds = []
        for pair in self.expect(fit["reseeds"], list, "fit.reseeds"):
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in pair)
            ):
                raise self.fail(f"fit.reseeds in {JSON_MEMBER} must hold [iteration, component].")
            reseeds.append((pair[0], pair[1]))
        n_iter = fit["n_iter"]
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
            raise self.fail(f"fit.n_iter in {JSON_MEMBER} must be a non-negative integer.")

        names = header["feature_names"]
        if names is not None:
            if (
                not isinstance(names, list)
                or len(names) != d
                or not all(isinstance(n, str) for n in names)
            ):
                raise self.fail(f"feature_names in {JSON_MEMBER} must be null or {d} strings.")

        native = arrays["means_"].dtype.newbyteorder("=")
        weights, means, covariances, chol = (
            arrays[name].astype(native, copy=False) for name in FITTED_ARRAYS
        )
        return ModelState(
            family.name,
            weights,
            means,
            covariances,
            chol,
            converged=self.expect(fit["converged"], bool, "fit.converged"),
            n_iter=n_iter,
            lower_bound=self.number(fit["lower_bound"], "fit.lower_bound"),
            history=history,
            start_lower_bounds=[self.number(x, "fit.start_lower_bounds") for x in starts],
            reseeds=reseeds,
            feature_names=names,
        )

    def noise(self, header: dict[str, Any], d: int) -> tuple[float, NoiseRegion] | None:
        """The noise component's weight and region, from the header's ``noise`` object
        (``None`` where it has none)."""
        if "noise" not in header:
            return None
        value = header["noise"]
        if not isinstance(value, dict) or set(value) != {"weight", "log_volume", "region"}:
            raise self.fail(
                f'noise in {JSON_MEMBER} must be {{"weight": ..., "log_volume": ..., '
                '"region": ...}.'
            )
        weight = self.number(value["weight"], "noise.weight")
        if not 0.0 <= weight <= 1.0:
            raise self.fail(f"noise.weight in {JSON_MEMBER} must lie in [0, 1]; got {weight!r}.")
        try:
            region = region_from_dict(value["region"], d)
        except ValueError as exc:
            raise self.fail(f"noise in {JSON_MEMBER}: {exc}.") from None
        log_volume = self.number(value["log_volume"], "noise.log_volume")
        if not abs(log_volume - region.log_volume) <= 1e-9 * max(1.0, abs(log_volume)):
            raise self.fail(
                f"noise.log_volume in {JSON_MEMBER} ({log_volume!r}) is not that of its region "
                f"({region.log_volume!r}); the file was edited or is corrupted."
            )
        return weight, region

    def preprocessing(self, value: Any, d: int) -> Standardization | None:
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != {"standardize"}:
            raise self.fail(
                f'preprocessing in {JSON_MEMBER} must be null or {{"standardize": ...}}.'
            )
        spec = value["standardize"]
        if not isinstance(spec, dict) or set(spec) != {"mean", "scale"}:
            raise self.fail("preprocessing.standardize needs exactly 'mean' and 'scale'.")
        out = []
        for key in ("mean", "scale"):
            values = spec[key]
            if not isinstance(values, list) or len(values) != d:
                raise self.fail(f"preprocessing.standardize.{key} must hold {d} numbers.")
            arr = np.array([self.number(x, f"preprocessing.standardize.{key}") for x in values])
            if not np.isfinite(arr).all() or (key == "scale" and not (arr > 0).all()):
                raise self.fail(
                    f"preprocessing.standardize.{key} must be finite"
                    + (" and positive." if key == "scale" else ".")
                )
            out.append(arr)
        return Standardization(out[0], out[1])


def read_model_file(path: PathLike) -> ModelFile:
    """Read and validate a model file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ModelFile

    Raises
    ------
    ModelFileError
        If the file is not a valid gaussmix model file of a version this gaussmix reads
        (the message says why).
    OSError
        If the file cannot be opened (missing, a directory, no permission).
    """
    target = Path(os.fspath(path))
    reader = _Reader(target)
    with open(target, "rb") as f:
        with reader.open(f) as zf:
            return reader.model(zf)


__all__ = ["read_model_file"]
