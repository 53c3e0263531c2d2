"""Saved models: one documented, versioned file format that never executes code when read.

:func:`write_model` writes a fitted model's :class:`~gaussmix.model_state.ModelState` and
constructor parameters, and :func:`~gaussmix.model_reader.read_model_file` reads them back,
arrays bit-for-bit those that were saved; neither module knows an estimator class
(:mod:`gaussmix.persistence` turns the two into a :class:`~gaussmix.GaussianMixture`:
``GaussianMixture.save`` and :func:`gaussmix.load`).  No pickle is involved: the file holds
JSON and ``.npy`` arrays read with ``np.load(..., allow_pickle=False)``, and everything is
validated before a model is built.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _parameters
from ._files import replaced_atomically
from ._version import __version__
from .covariance import CovarianceFamily, get_family
from .model_state import (
    FITTED_ARRAYS,
    POSTERIOR_ARRAYS,
    POSTERIOR_NUMBERS,
    ModelState,
)
from .noise.region import NoiseRegion
from .posterior import prior_shape
from .standardize import Standardization

FORMAT_NAME = "gaussmix-model"
#: the newest version of the file format, which this module writes for the models that
#: need it (a Bayesian mixture) and reads
FORMAT_VERSION = 3
#: the version a model that needs nothing newer is written with (a GaussianMixture)
BASE_FORMAT_VERSION = 2
#: versions :mod:`gaussmix.model_reader` accepts (each later one adds to the one before)
READABLE_VERSIONS = (1, 2, 3)
JSON_MEMBER = "gaussmix.json"

INIT_ARRAYS = ("weights_init", "means_init", "precisions_init")
#: the constructor parameters both estimators store first and last in the JSON
_LEADING_PARAMS = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "init_iter",
)
_TRAILING_PARAMS = ("random_state", "warm_start", "verbose", "verbose_interval", "chunk_size")
#: constructor parameters stored in the JSON (the ``*_init`` arrays are members)
JSON_PARAMS = (*_LEADING_PARAMS, *_TRAILING_PARAMS, "missing", "noise", "noise_region")
#: parameters written only for a model with a noise component (a reader takes the
#: defaults when they are absent)
_NOISE_PARAMS = ("noise", "noise_region")
#: a Bayesian mixture's constructor parameters stored in the JSON, and those that are arrays
BAYESIAN_JSON_PARAMS = (
    *_LEADING_PARAMS,
    "weight_concentration_prior_type",
    "weight_concentration_prior",
    "mean_precision_prior",
    "degrees_of_freedom_prior",
    *_TRAILING_PARAMS,
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
HEADER_KEYS = (
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
OPTIONAL_HEADER_KEYS = ("noise",)
#: the keys version 3 adds
HEADER_KEYS_3 = ("estimator", "posterior")
FIT_KEYS = ("converged", "n_iter", "lower_bound", "history", "start_lower_bounds", "reseeds")
MAX_JSON_BYTES = 64 * 2**20
NPY_HEADER_ALLOWANCE = 64 * 2**10
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: same model, same bytes

PathLike = str | os.PathLike[str]


class ModelFileError(ValueError):
    """A file is not a valid gaussmix model file (wrong format, version, or content)."""


@dataclass(frozen=True)
class ModelFile:
    """What :func:`~gaussmix.model_reader.read_model_file` returns.

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
    shapes = param_shapes(family, k, d)
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


def param_shapes(family: CovarianceFamily, k: int, d: int) -> dict[str, tuple[int, ...]]:
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


__all__ = [
    "BASE_FORMAT_VERSION",
    "ESTIMATORS",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "ModelFile",
    "ModelFileError",
    "param_shapes",
    "write_model",
]
