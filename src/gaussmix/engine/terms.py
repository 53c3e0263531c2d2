"""Pass terms: what one pass over the rows needs to know of a model, and nothing more.

The pass evaluates, for every row ``z`` (internal frame) and component ``j``, the log-density

    log p_j(z) = constant_j - |(z - means_j) U_j|² / 2

with ``U_j`` a precision factor (upper-triangular, or a diagonal stored as a vector), and
gathers statistics in the layout of ``moments``.  A Gaussian mixture's terms come from its
parameters (:func:`gaussian_terms`); other models (variational Bayes' expected log-weights
and scaled precisions, say) bring their own constants and factors.  Terms with degrees of
freedom ``dof`` describe Student-t components instead (a Bayesian mixture's predictive
density):

    log p_j(z) = constant_j - (dof_j + d) / 2 * log(1 + |(z - means_j) U_j|² / dof_j)

A model may add one more column, a *background* (:class:`Background`): a component whose
log-density does not depend on the Gaussians (mclust's uniform noise component, constant
over a region).  The pass normalises it with the components, reports it last in the
responsibilities and as label ``-1``, and gathers no statistics for it: its weighted count
is what the components leave of the rows' weight (:attr:`~gaussmix.stats.SuffStats.background`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from .._moments import MomentKind
from ..params import Params

if TYPE_CHECKING:
    from ..covariance import CovarianceFamily

Array = NDArray[np.float64]

LOG_2PI = float(np.log(2.0 * np.pi))


#: the label a pass gives a row whose background column is the most probable
BACKGROUND_LABEL = -1


@runtime_checkable
class Background(Protocol):
    """The extra column of a pass: each row's log-density under a background component.

    Implementations must pickle (Dask sends the terms to its workers) and be safe to call
    from several threads at once.
    """

    def log_density(
        self, x: NDArray[np.floating], observed: NDArray[np.bool_] | None = None
    ) -> Array:
        """Log-densities (m,) of rows ``x`` (m, d) in the caller's units, the component's
        weight included (``-inf`` where it takes no rows).

        ``observed`` (d,), when given, names the coordinates the rows have (the others hold
        placeholders): the log-density is then that of the background's marginal over them.
        """


@dataclass(frozen=True)
class PassTerms:
    """Per-component inputs of a pass, in the internal frame.

    Attributes
    ----------
    moments : MomentKind
        Layout of the statistics (and the factors' kind: matrices or diagonals).
    means : ndarray of shape (k, d)
    factors : ndarray of shape (k, d, d) or (k, d)
        Precision factors ``U_j`` (upper-triangular, ``P_j = U_j U_jᵀ``) or their diagonals.
    constant : ndarray of shape (k,)
        The additive constant of each component's log-density (``-inf`` for a component
        that takes no rows).
    weights : ndarray of shape (k,)
        Each component's expected share of the rows; it only guides which of the float32
        statistics' checks the first chunk of a pass can skip.
    dof : ndarray of shape (k,) or None
        Degrees of freedom of Student-t components (see the module's docstring); ``None``:
        Gaussian components.
    background : Background or None
        A column after the ``k`` components (see the module's notes).
    """

    moments: MomentKind
    means: Array
    factors: Array
    constant: Array
    weights: Array
    dof: Array | None = None
    background: Background | None = None

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])

    @property
    def n_columns(self) -> int:
        """Columns of the responsibilities: the components, and the background if any."""
        return self.n_components + (self.background is not None)


def gaussian_terms(
    params: Params, family: CovarianceFamily, background: Background | None = None
) -> PassTerms:
    """The terms of a Gaussian mixture: ``constant_j = log w_j + log det U_j - d log(2 pi)/2``
    (``w_j`` each component's share of all rows, ``background`` the rest's column)."""
    k, d = params.means.shape
    moments = family.moments
    factors = np.ascontiguousarray(family.factors(params.precisions_cholesky, k, d))
    with np.errstate(divide="ignore"):
        log_w = np.log(params.weights)
    constant = log_w - 0.5 * d * LOG_2PI + moments.log_det(factors)
    return PassTerms(
        moments, params.means, factors, constant, params.weights, background=background
    )


def unit_terms(moments: MomentKind, means: Array, spread: Array | None = None) -> PassTerms:
    """Terms of components with unit covariances and equal weights about ``means``: each
    row's most probable component is its nearest mean, and statistics in ``moments``'s
    layout are taken about the means (initialisation's assignments).

    With ``spread`` (d,) the covariances are ``diag(spread**2)`` instead: the nearest mean
    in the features' standardised units.
    """
    k, d = means.shape
    factors = moments.unit_factors(k, d)
    if spread is not None:
        # U = diag(1 / spread): row a of the identity divided by spread_a
        factors = factors / (spread[:, None] if factors.ndim == 3 else spread)
    return PassTerms(moments, means, factors, np.zeros(k), np.full(k, 1.0 / k))


__all__ = [
    "BACKGROUND_LABEL",
    "LOG_2PI",
    "Background",
    "PassTerms",
    "gaussian_terms",
    "unit_terms",
]
