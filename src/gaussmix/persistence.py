"""Saving and loading estimators: the bridge between model files and estimator classes.

:mod:`gaussmix.io` reads and writes a plain :class:`~gaussmix.model_state.ModelState` with the
constructor parameters; this module turns them into a fitted
:class:`~gaussmix.GaussianMixture` or :class:`~gaussmix.BayesianGaussianMixture` and back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.utils.validation import check_is_fitted

from .base import MixtureBase
from .bayesian import BayesianGaussianMixture
from .io import ModelFileError, write_model
from .mixture import GaussianMixture
from .model_reader import read_model_file
from .model_state import ModelState
from .standardize import Standardization

PathLike = str | os.PathLike[str]

#: the estimator classes by the names model files give them
ESTIMATOR_CLASSES: dict[str, type[MixtureBase]] = {
    "GaussianMixture": GaussianMixture,
    "BayesianGaussianMixture": BayesianGaussianMixture,
}


@dataclass(frozen=True)
class SavedModel:
    """What :func:`read_model` returns.

    Attributes
    ----------
    model : GaussianMixture or BayesianGaussianMixture
        The fitted estimator.
    standardization : Standardization or None
        Set when the model was fitted on standardized rows: apply
        ``standardization.transform`` to rows before ``model.predict`` and friends.
    header : dict
        The parsed ``gaussmix.json``.
    """

    model: Any
    standardization: Standardization | None
    header: dict[str, Any]


def save_model(
    model: MixtureBase,
    path: PathLike,
    *,
    standardization: Standardization | None = None,
) -> Path:
    """Write a fitted model to ``path`` atomically (format: :mod:`gaussmix.io`).

    Parameters
    ----------
    model : GaussianMixture or BayesianGaussianMixture
        A fitted estimator.
    path : str or os.PathLike
        Destination; an existing file is replaced only once the new one is complete.
    standardization : Standardization, optional
        Recorded when ``model`` was fitted on standardized rows.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    """
    if not isinstance(model, MixtureBase):
        raise TypeError(
            f"Expected a GaussianMixture or BayesianGaussianMixture, got {type(model).__name__}."
        )
    check_is_fitted(model)
    return write_model(
        path, ModelState.of(model), model.get_params(deep=False), standardization=standardization
    )


def read_model(path: PathLike) -> SavedModel:
    """Read and validate a model file, with its standardization if it has one.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    SavedModel

    Raises
    ------
    ModelFileError
        If the file is not a valid gaussmix model file of a version this gaussmix reads
        (the message says why).
    OSError
        If the file cannot be opened (missing, a directory, no permission).
    """
    saved = read_model_file(path)
    model = ESTIMATOR_CLASSES[saved.estimator](**saved.params)
    saved.state.apply(model)
    return SavedModel(model, saved.standardization, saved.header)


def load(path: PathLike) -> Any:
    """Read a model written by :meth:`GaussianMixture.save <gaussmix.GaussianMixture.save>`
    or :meth:`BayesianGaussianMixture.save <gaussmix.BayesianGaussianMixture.save>`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    GaussianMixture or BayesianGaussianMixture
        A fitted estimator with exactly the saved parameters (of the class saved).

    Raises
    ------
    ModelFileError
        If the file is not a valid gaussmix model file (a pickle, another format version,
        edited or corrupted content), or if it holds a model of standardized data
        (``gaussmix fit --standardize``; read those with :func:`read_model`).
    OSError
        If the file cannot be opened.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from gaussmix import GaussianMixture, load
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.gmm")
    >>> _ = gm.save(path)
    >>> bool(np.array_equal(load(path).means_, gm.means_))
    True
    """
    saved = read_model(path)
    if saved.standardization is not None:
        raise ModelFileError(
            f"{os.fspath(path)} holds a model of standardized data (written by `gaussmix fit "
            "--standardize`), which gives wrong answers on raw rows; read it with "
            "gaussmix.persistence.read_model(path), which returns the model and its "
            "standardization."
        )
    return saved.model


__all__ = ["SavedModel", "load", "read_model", "save_model"]
