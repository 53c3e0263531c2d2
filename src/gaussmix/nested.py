"""Starts for ``k + 1`` components from a fitted ``k``-component mixture: a component split.

A sweep over ``n_components`` fits ``k + 1`` components also from its ``k`` fit with one
component split in two (:func:`split`), so that the larger model starts where the smaller
one ended plus one degree of freedom; and a mixture with one component duplicated
(:func:`duplicate`, two halves with the same mean and covariance) *is* a ``k + 1``
component mixture with exactly the ``k`` fit's density, so a sweep's log-likelihood never
has to decrease with ``k``.  Every model's constraints hold in both: they equate parts of
the covariances across components, and a copy of a component's covariance keeps them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .covariance import CovarianceFamily
from .params import Params

Array = NDArray[np.float64]

#: the halves of a split component sit this many standard deviations (along its longest
#: axis) on either side of its mean
SPLIT_OFFSET = 0.5


def duplicate(params: Params, family: CovarianceFamily, j: int) -> Params:
    """``params`` with component ``j`` in two identical halves (the last one new): the
    same density with one more component."""
    return _halves(params, family, j, np.zeros(params.means.shape[1]))


def split(params: Params, family: CovarianceFamily, j: int) -> Params:
    """``params`` with component ``j`` split in two halves of half its weight, its
    covariance, and means :data:`SPLIT_OFFSET` standard deviations along its longest axis on
    either side of its mean (the last component new)."""
    k, d = params.means.shape
    cov = family.dense(params.covariances, k, d)[j]
    values, vectors = np.linalg.eigh(cov)
    return _halves(params, family, j, SPLIT_OFFSET * np.sqrt(max(values[-1], 0.0)) * vectors[:, -1])


def split_order(params: Params, family: CovarianceFamily) -> NDArray[np.intp]:
    """The components in the order they are worth splitting: by weight times the
    geometric mean of their variances (their share of the data's volume), largest first."""
    k, d = params.means.shape
    _, logdet = np.linalg.slogdet(family.dense(params.covariances, k, d))
    return np.argsort(-(np.log(params.weights) + logdet / (2.0 * d)), kind="stable")


def _halves(params: Params, family: CovarianceFamily, j: int, offset: Array) -> Params:
    k = params.n_components
    order = np.append(np.arange(k), j)
    weights = params.weights[order].copy()
    weights[[j, k]] = params.weights[j] / 2.0
    means = params.means[order].copy()
    means[j] -= offset
    means[k] += offset
    covariances = family.select(params.covariances, order)
    chol = family.select(params.precisions_cholesky, order)
    return Params(weights, means, covariances, chol)


__all__ = ["SPLIT_OFFSET", "duplicate", "split", "split_order"]
