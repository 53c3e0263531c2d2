"""Saved models: one documented, versioned file format that never executes code when read.

:func:`write_model` writes a fitted model's :class:`~gaussmix.model_state.ModelState` and
constructor parameters, and :func:`read_model_file` reads them back, arrays bit-for-bit those
that were saved; this module knows no estimator class (:mod:`gaussmix.persistence` turns the
two into a :class:`~gaussmix.GaussianMixture`: ``GaussianMixture.save`` and
:func:`gaussmix.load`).  No pickle is involved: the file holds JSON and ``.npy`` arrays read
with ``np.load(..., allow_pickle=False)``, and everything is validated before a model is
built.

File format, version 3 (this docstring is the specification)
------------------------------------------------------------
A ZIP archive (members stored or deflated; the suggested file extension is ``.gmm``) holding
exactly these members, and no others:

``gaussmix.json``
    UTF-8 JSON object (at most 64 MiB) with the keys

    ``format``
        the string ``"gaussmix-model"``.
    ``format_version``
        the integer ``3``, ``2`` or ``1``.  A reader refuses any version it does not know,
        naming it and the versions it reads.  A file is written with the lowest version
        that holds its model, so that older readers read it: version 2 for a
        :class:`~gaussmix.GaussianMixture`, version 3 for a
        :class:`~gaussmix.BayesianGaussianMixture`.  Version 3 adds the keys
        ``estimator`` and ``posterior`` and the posterior's arrays (below); version 2
        has neither and holds a ``GaussianMixture``.  Version 1 (gaussmix 0.x before
        mclust's models, missing values and the relative ``reg_covar``) is read as version
        2, of which it is a subset (the four scikit-learn covariance types; no
        ``verbose_interval`` or ``missing`` parameter; ``reg_covar`` a number).  Each
        version exists so that a reader of an earlier one refuses a newer file by its
        version, not by an unknown key, covariance name or parameter value.
    ``estimator`` (version 3)
        ``"GaussianMixture"`` or ``"BayesianGaussianMixture"``: the class of the model.
    ``gaussmix_version``
        the version of gaussmix that wrote the file (informative only).
    ``covariance_type``
        a registered name (:data:`gaussmix.covariance.REGISTRY`): ``"full"``, ``"tied"``,
        ``"diag"``, ``"spherical"`` or one of mclust's 14 model names (``"EII"``, ...,
        ``"VVV"``), as the model was given it.  The arrays' shapes are those of the model's
        storage.
    ``n_components``, ``n_features``
        positive integers ``k`` and ``d``.
    ``dtype``
        ``"float32"`` or ``"float64"``: the dtype of the four fitted arrays.
    ``feature_names``
        ``null``, or a list of ``d`` strings (the estimator's ``feature_names_in_``).
    ``params``
        the estimator's constructor parameters (``get_params()``) that JSON can hold:
        ``n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params,
        init_iter, random_state, warm_start, verbose, verbose_interval, chunk_size,
        missing`` for a ``GaussianMixture``; ``n_components, covariance_type, tol,
        reg_covar, max_iter, n_init, init_params, init_iter,
        weight_concentration_prior_type, weight_concentration_prior, mean_precision_prior,
        degrees_of_freedom_prior, random_state, warm_start, verbose, verbose_interval,
        chunk_size`` for a ``BayesianGaussianMixture``.  A ``GaussianMixture``'s ``tol`` may
        be ``null``, its default; ``labels_init`` belongs to the training rows and is not
        written.  ``random_state`` is an integer or
        ``null`` (a ``RandomState`` / ``Generator`` is written as ``null``).
        ``reg_covar`` is a number (an absolute variance, scikit-learn's meaning) or, from
        version 2, the string ``"auto"`` (relative to the data's variances,
        :mod:`gaussmix.regularisation`; the default since then: every writer has written
        ``reg_covar``, so no file takes it by its absence).  A key missing from the object
        takes the constructor's default (files written before ``verbose_interval`` and
        ``missing`` existed lack them); an unknown key is an error.  ``weights_init``,
        ``means_init`` and ``precisions_init`` (a ``GaussianMixture``'s) and
        ``means_init``, ``mean_prior`` and ``covariance_prior`` (a
        ``BayesianGaussianMixture``'s) are arrays (below).
    ``fit``
        the fit summary: ``converged`` (bool), ``n_iter`` (int), ``lower_bound`` (float),
        ``history`` (list of float), ``start_lower_bounds`` (list of float), ``reseeds``
        (list of ``[iteration, component]`` integer pairs).
    ``preprocessing``
        ``null``, or ``{"standardize": {"mean": [d floats], "scale": [d positive floats]}}``
        when the model was fitted on standardized rows ``(x - mean) / scale`` (``gaussmix fit
        --standardize``).  Such a file is read with :func:`gaussmix.persistence.read_model`,
        which returns the :class:`~gaussmix.standardize.Standardization` with the model;
        :func:`gaussmix.load` refuses it, because the bare model would silently give wrong
        answers on unstandardized rows.
    ``posterior`` (version 3)
        ``null`` for a ``GaussianMixture``; for a ``BayesianGaussianMixture`` the object
        ``{"weight_concentration_prior_type": "dirichlet_process" or
        "dirichlet_distribution", "weight_concentration_prior": float,
        "mean_precision_prior": float, "degrees_of_freedom_prior": float}``, the prior the
        fit used (the estimator's attributes of these names with a trailing underscore).
    ``arrays``
        an object mapping each array name to ``{"sha256": <hex digest of its .npy member's
        bytes>}``.  It names the four fitted arrays ``weights_, means_, covariances_,
        precisions_cholesky_``, for a ``BayesianGaussianMixture`` the five posterior arrays
        ``weight_concentration_, mean_precision_, degrees_of_freedom_, mean_prior_,
        covariance_prior_``, and, when set, the parameters' arrays.
    ``noise`` (optional; only for a model with a noise component, ``noise=True``)
        ``{"weight": w, "log_volume": v, "region": {"centre": [d floats], "axes": [d lists
        of d floats], "lower": [d floats], "upper": [d floats]}}``: the noise component's
        share of the rows ``w`` in [0, 1] (``weights_`` then sum to ``1 - w``), and the box
        it is uniform over, the rows ``x`` with ``lower <= (x - centre) @ axes <= upper``
        (``axes`` orthonormal columns, the identity for a box along the coordinate axes;
        ``upper > lower``), of volume ``exp(v)`` with ``v = sum(log(upper - lower))``
        (recorded for readers; checked against the box).  Absent: no noise component, as in
        every file written before it existed, which therefore reads as before.  The
        parameters ``noise`` and ``noise_region`` are written only for such a model too.

    Floats are written with Python's shortest round-trip representation; non-finite floats
    (a ``lower_bound`` of ``-inf`` after ``max_iter=0``, say) as the strings ``"inf"``,
    ``"-inf"`` and ``"nan"``.

``<name>.npy`` for every name in ``arrays``
    a NumPy ``.npy`` file (little-endian, no object dtype) holding

    ===========================  ===============================  ===========
    array                        shape                            dtype
    ===========================  ===============================  ===========
    ``weights_``                 ``(k,)``                         ``dtype``
    ``means_``                   ``(k, d)``                       ``dtype``
    ``covariances_``             by covariance type (below)       ``dtype``
    ``precisions_cholesky_``     as ``covariances_``              ``dtype``
    ``weights_init``             ``(k,)``                         float64
    ``means_init``               ``(k, d)``                       float64
    ``precisions_init``          as ``covariances_``              float64
    ``weight_concentration_``    ``(2, k)`` (Dirichlet process:   float64
                                 rows ``a``, ``b``) or ``(k,)``
    ``mean_precision_``          ``(k,)``                         float64
    ``degrees_of_freedom_``      ``()`` for ``tied``, else        float64
                                 ``(k,)``
    ``mean_prior_``              ``(d,)``                         float64
    ``covariance_prior_``        one component's covariance       float64
    ``mean_prior``               ``(d,)``                         float64
    ``covariance_prior``         as ``covariance_prior_``         float64
    ===========================  ===============================  ===========

    Covariance shapes: ``full`` ``(k, d, d)``, ``tied`` ``(d, d)``, ``diag`` ``(k, d)``,
    ``spherical`` ``(k,)``; one component's: ``(d, d)``, ``(d, d)``, ``(d,)``, ``()``.
    ``precisions_cholesky_`` follows scikit-learn: upper-triangular ``U`` with
    ``inv(covariance) = U @ U.T`` (full, tied), ``1 / sqrt(variance)`` (diag, spherical).

What a reader checks (any failure raises :class:`ModelFileError`, a ``ValueError``): the file
is a ZIP archive with exactly the members above; the JSON's format name, version, keys and
types; each member's SHA-256; each member's size, dtype and shape; that every array is
finite; that the weights are non-negative and sum to one (less the noise component's
weight, with one); that the noise component's region is a valid box of the recorded
volume; that the covariances are
symmetric positive-definite (variances positive); that ``precisions_cholesky_`` is
triangular with a positive diagonal and is the factor of the covariances' inverse (to the
accuracy the dtype and the covariances' condition number allow); for a Bayesian mixture,
that the posterior's and prior's numbers are in range (concentrations, precisions and the
prior's numbers positive, degrees of freedom above ``d - 1``, the covariance prior
positive-definite) and that ``weights_`` are the posterior's expected weights; that the
parameters are valid for the estimator.  The checksums detect corruption and edited
arrays; they do not authenticate the file (anyone can recompute them), which is harmless
since reading never executes code.

The loaded model holds the saved arrays exactly, recomputes ``precisions_`` from
``precisions_cholesky_``, and restores ``converged_, n_iter_, lower_bound_, history_,
lower_bounds_, start_lower_bounds_, reseeds_, n_features_in_`` and ``feature_names_in_``
(and a Bayesian mixture's posterior and prior attributes, or a noise component's
``noise_weight_`` and ``noise_region_``).
The internal coordinate frame of the fit is not stored: predictions of the loaded model use
a frame derived from the parameters and agree with the original model's to rounding
(about 1e-12 relative in float64).

Writing is atomic (:mod:`gaussmix._files`): the archive is written to a temporary file in the
target's directory, flushed and ``fsync``-ed, then moved over the target with
:func:`os.replace`, so a crash leaves either the old file or the new one, never a partial
file.  A target that is a folder, or in a folder that does not exist, is refused first with a
message naming it.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _parameters
from ._files import replaced_atomically
from ._version import __version__
from .covariance import REGISTRY, CovarianceFamily, get_family
from .model_state import (
    FITTED_ARRAYS,
    POSTERIOR_ARRAYS,
    POSTERIOR_NUMBERS,
    ModelState,
    PosteriorState,
)
from .noise.region import NoiseRegion, region_from_dict
from .posterior import WEIGHT_PRIORS, expected_weights, prior_shape
from .regularisation import AUTO
from .standardize import Standardization

FORMAT_NAME = "gaussmix-model"
#: the newest version of the file format, which this module writes for the models that
#: need it (a Bayesian mixture) and reads
FORMAT_VERSION = 3
#: the version a model that needs nothing newer is written with (a GaussianMixture)
BASE_FORMAT_VERSION = 2
#: versions this reader accepts (each later one adds to the one before)
READABLE_VERSIONS = (1, 2, 3)
JSON_MEMBER = "gaussmix.json"

INIT_ARRAYS = ("weights_init", "means_init", "precisions_init")
#: constructor parameters stored in the JSON (the ``*_init`` arrays are members)
JSON_PARAMS = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "init_iter",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
    "chunk_size",
    "missing",
    "noise",
    "noise_region",
)
#: parameters written only for a model with a noise component (a reader takes the
#: defaults when they are absent)
_NOISE_PARAMS = ("noise", "noise_region")
#: a Bayesian mixture's constructor parameters stored in the JSON, and those that are arrays
BAYESIAN_JSON_PARAMS = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "init_iter",
    "weight_concentration_prior_type",
    "weight_concentration_prior",
    "mean_precision_prior",
    "degrees_of_freedom_prior",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
    "chunk_size",
)
BAYESIAN_PARAM_ARRAYS = ("means_init", "mean_prior", "covariance_prior")
#: the posterior's arrays, as members (the estimator's attribute names)
POSTERIOR_MEMBERS = tuple(f"{name}_" for name in POSTERIOR_ARRAYS)
#: each estimator a file can hold: its JSON parameters, its parameters' arrays, its
#: parameter checks
ESTIMATORS: dict[str, tuple[tuple[str, ...], tuple[str, ...], dict[str, Any]]] = {
    "GaussianMixture": (JSON_PARAMS, INIT_ARRAYS, _parameters.GAUSSIAN_MIXTURE),
    "BayesianGaussianMixture": (
        BAYESIAN_JSON_PARAMS,
        BAYESIAN_PARAM_ARRAYS,
        _parameters.BAYESIAN_GAUSSIAN_MIXTURE,
    ),
}
_HEADER_KEYS = (
    "format",
    "format_version",
    "gaussmix_version",
    "covariance_type",
    "n_components",
    "n_features",
    "dtype",
    "feature_names",
    "params",
    "fit",
    "preprocessing",
    "arrays",
)
#: keys a file may have or not (a plain model's file has none of them)
_OPTIONAL_HEADER_KEYS = ("noise",)
#: the keys version 3 adds
_HEADER_KEYS_3 = ("estimator", "posterior")
_FIT_KEYS = ("converged", "n_iter", "lower_bound", "history", "start_lower_bounds", "reseeds")
_MAX_JSON_BYTES = 64 * 2**20
_NPY_HEADER_ALLOWANCE = 64 * 2**10
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: same model, same bytes

PathLike = str | os.PathLike[str]


class ModelFileError(ValueError):
    """A file is not a valid gaussmix model file (wrong format, version, or content)."""


@dataclass(frozen=True)
class ModelFile:
    """What :func:`read_model_file` returns.

    Attributes
    ----------
    state : ModelState
        The fitted arrays (in the saved dtype) and the fit summary.
    params : dict
        The estimator's constructor parameters that the file records (a missing one takes
        the constructor's default), with the ``*_init`` arrays.
    standardization : Standardization or None
        Set when the model was fitted on standardized rows.
    header : dict
        The parsed ``gaussmix.json``.
    estimator : str
        The class of the model, a key of :data:`ESTIMATORS`.
    """

    state: ModelState
    params: dict[str, Any]
    standardization: Standardization | None
    header: dict[str, Any]
    estimator: str = "GaussianMixture"


# --------------------------------------------------------------------------- writing


def _json_float(x: Any) -> float | str:
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _npy_bytes(arr: NDArray[Any]) -> bytes:
    buf = io.BytesIO()
    # np.require keeps a 0-d array's shape (np.ascontiguousarray makes it 1-d)
    np.save(buf, np.require(arr, requirements="C"), allow_pickle=False)
    return buf.getvalue()


def _little_endian(arr: NDArray[Any]) -> NDArray[Any]:
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False)


def _header_and_members(
    state: ModelState, params: dict[str, Any], standardization: Standardization | None
) -> tuple[dict[str, Any], dict[str, bytes]]:
    family = get_family(state.covariance_type)
    k, d = state.n_components, state.n_features
    dtype = state.dtype
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"Cannot save a model with {dtype} parameters; expected float32/64.")
    posterior = state.posterior
    estimator = "GaussianMixture" if posterior is None else "BayesianGaussianMixture"
    json_names, array_names, _ = ESTIMATORS[estimator]
    arrays: dict[str, NDArray[Any]] = {}
    fitted = (state.weights, state.means, state.covariances, state.precisions_cholesky)
    for name, fitted_array in zip(FITTED_ARRAYS, fitted, strict=True):
        arrays[name] = _little_endian(np.asarray(fitted_array, dtype=dtype))
    if posterior is not None:
        for field in POSTERIOR_ARRAYS:
            arrays[f"{field}_"] = _little_endian(
                np.asarray(getattr(posterior, field), dtype=np.float64)
            )
    shapes = _param_shapes(family, k, d)
    for name in array_names:
        given = params.get(name)
        if given is not None:
            try:
                arr = np.array(given, dtype=np.float64)
            except (TypeError, ValueError):
                arr = None
            if arr is None or arr.shape != shapes[name] or not np.isfinite(arr).all():
                raise ValueError(
                    f"Cannot save {name}: it must be a finite array of shape {shapes[name]} "
                    "matching the fitted model; set it to None (set_params) to save the model."
                )
            arrays[name] = _little_endian(arr)

    json_params: dict[str, Any] = {}
    for name in json_names:
        if name not in params or (name in _NOISE_PARAMS and not params.get("noise")):
            continue
        value: Any = params[name]
        if isinstance(value, (np.random.RandomState, np.random.Generator)):
            value = None
        elif isinstance(value, (bool, np.bool_)):
            value = bool(value)
        elif isinstance(value, (int, np.integer)):
            value = int(value)
        elif isinstance(value, (float, np.floating)):
            value = _json_float(value)
        json_params[name] = value

    preprocessing = None
    if standardization is not None:
        mean = np.asarray(standardization.mean, dtype=np.float64)
        scale = np.asarray(standardization.scale, dtype=np.float64)
        if mean.shape != (d,) or scale.shape != (d,):
            raise ValueError(f"The standardization must hold {d} means and {d} scales.")
        preprocessing = {
            "standardize": {
                "mean": [_json_float(x) for x in mean],
                "scale": [_json_float(x) for x in scale],
            }
        }
    members = {f"{name}.npy": _npy_bytes(arr) for name, arr in arrays.items()}
    header: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": BASE_FORMAT_VERSION if posterior is None else FORMAT_VERSION,
        "gaussmix_version": __version__,
        "covariance_type": family.name,
        "n_components": int(k),
        "n_features": int(d),
        "dtype": np.dtype(dtype).name,
        "feature_names": None if state.feature_names is None else list(state.feature_names),
        "params": json_params,
        "fit": {
            "converged": bool(state.converged),
            "n_iter": int(state.n_iter),
            "lower_bound": _json_float(state.lower_bound),
            "history": [_json_float(x) for x in state.history],
            "start_lower_bounds": [_json_float(x) for x in state.start_lower_bounds],
            "reseeds": [[int(i), int(j)] for i, j in state.reseeds],
        },
        "preprocessing": preprocessing,
        "arrays": {
            name: {"sha256": hashlib.sha256(members[f"{name}.npy"]).hexdigest()} for name in arrays
        },
    }
    if state.noise_region is not None:
        header["noise"] = _noise_entry(state.noise_weight, state.noise_region)
    if posterior is not None:
        header["estimator"] = estimator
        header["posterior"] = {
            "weight_concentration_prior_type": posterior.weight_concentration_prior_type,
            **{name: _json_float(getattr(posterior, name)) for name in POSTERIOR_NUMBERS},
        }
    return header, members


def _noise_entry(weight: float, region: NoiseRegion) -> dict[str, Any]:
    """The header's ``noise`` object."""
    return {
        "weight": _json_float(weight),
        "log_volume": _json_float(region.log_volume),
        "region": region.to_dict(),
    }


def _param_shapes(family: CovarianceFamily, k: int, d: int) -> dict[str, tuple[int, ...]]:
    """The shapes of the parameters' arrays (both estimators')."""
    return {
        "weights_init": (k,),
        "means_init": (k, d),
        "precisions_init": family.shape(k, d),
        "mean_prior": (d,),
        "covariance_prior": prior_shape(family, d),
    }


def _write_archive(fileobj: Any, header: dict[str, Any], members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        text = json.dumps(header, indent=2, allow_nan=False) + "\n"
        zf.writestr(zipfile.ZipInfo(JSON_MEMBER, _ZIP_TIME), text.encode("utf-8"))
        for name, data in members.items():
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)


def write_model(
    path: PathLike,
    state: ModelState,
    params: dict[str, Any],
    *,
    standardization: Standardization | None = None,
) -> Path:
    """Write a fitted model to ``path`` atomically (see the module docstring for the format).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; an existing file is replaced only once the new one is complete.
    state : ModelState
        The fitted arrays and fit summary.
    params : dict
        The estimator's constructor parameters (``get_params()``); those JSON cannot hold
        (a ``RandomState``) are written as ``null``.
    standardization : Standardization, optional
        Recorded when the model was fitted on standardized rows.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    IsADirectoryError, FileNotFoundError
        If ``path`` is a folder, or its folder does not exist (nothing is written).
    """
    header, members = _header_and_members(state, params, standardization)
    target = Path(os.fspath(path))
    with replaced_atomically(target, "the model", "model.gmm") as f:
        _write_archive(f, header, members)
    return target


# --------------------------------------------------------------------------- reading


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
        raw = self.read_member(zf, JSON_MEMBER, _MAX_JSON_BYTES)
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
        keys = _HEADER_KEYS + (_HEADER_KEYS_3 if version >= 3 else ())
        missing = [key for key in keys if key not in header]
        unknown = [key for key in header if key not in keys + _OPTIONAL_HEADER_KEYS]
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
        size = math.prod(shape) * dtype.itemsize + _NPY_HEADER_ALLOWANCE
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
            **_param_shapes(family, k, d),
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
        if sorted(fit) != sorted(_FIT_KEYS):
            raise self.fail(f"fit in {JSON_MEMBER} must have exactly the keys {_FIT_KEYS}.")
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


__all__ = [
    "BASE_FORMAT_VERSION",
    "ESTIMATORS",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "ModelFile",
    "ModelFileError",
    "read_model_file",
    "write_model",
]
