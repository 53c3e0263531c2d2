"""Planning a pass before it reads a row: the per-pass constants that decide which kernel
serves each component, and their operands."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .._moments import MomentKind
from .frame import Frame
from .terms import PassTerms

Array = NDArray[np.float64]
Kernel = Literal["auto", "expanded", "direct"]

#: largest ``mᵀ P m`` for which the expanded kernel is used by ``kernel="auto"``
EXPANDED_RISK_LIMIT = 1e6

#: largest 2-norm condition number of every component's precision factor ``U_j`` (the square
#: root of its covariance's) for which the fused kernel forms the products ``(x - mu_j) U_j``
#: of float32 input in float32 lanes.  Their rounding grows with ``eps32 * cond(U_j)``; the
#: value keeps float32 input within its bound of 1e-5 on the log-likelihood, chosen by
#: measurement, see benchmarks/README.md (Design measurements); the statistics are checked
#: on their own (engine/whitened.py).  Beyond it (near-singular covariances) the products
#: stay float64.
FLOAT32_PRODUCTS_COND = 1e4

#: float32 products are considered from this many rows per feature (their condition
#: numbers cost about ``k d³``, a pass ``n k d²``)
FLOAT32_PRODUCTS_MIN_ROWS = 256

#: float32 statistics (summed whitened, engine/whitened.py) from this many features: they
#: save ``k d²/2`` float64 products per row and cost a whitening, a square root and a fold
#: per row and component, which at fewer features cost more than they save
FLOAT32_STATISTICS_MIN_FEATURES = 4


class Prepared:
    """Per-pass constants derived from the pass terms (independent of the data): which
    kernel each component takes, the expanded kernel's GEMM weights, the fused kernel's
    operands."""

    def __init__(
        self,
        terms: PassTerms,
        frame: Frame,
        kernel: Kernel,
        fused: bool = False,
        float32_rows: int = 0,
        centred: bool = False,
    ):
        """``float32_rows``: the number of rows of float32 input the pass reads (0: float64),
        for the choice of float32 products.  ``centred``: numpy takes every component in
        the direct form, whose statistics are centred on the component (a pass under given
        responsibilities, where the terms' factors say nothing of the data's spread)."""
        k, d = terms.means.shape
        self.k, self.d = k, d
        # the background column after the components, if the terms have one
        self.background = terms.background
        self.n_out = terms.n_columns
        if centred and self.background is not None:
            raise ValueError("A pass under given responsibilities takes no background column.")
        self.moments: MomentKind = terms.moments
        self.factors = np.ascontiguousarray(terms.factors)
        self.means = terms.means
        self.weights = terms.weights
        risk = self.moments.quadratic(self.factors, terms.means)
        # log-density constant in the caller's units: includes the Jacobian of the frame
        self.base = terms.constant - frame.log_scale
        # Student-t components: the kernels form the Gaussian exponent -|(z - m_j) U_j|²/2
        # (constant 0), which student_t turns into the log-density
        self.dof = terms.dof
        self.exponent_base = self.base if self.dof is None else np.zeros(k)
        # component means in the caller's units: the direct kernel forms x - mu before any
        # rounding of the frame, exact for rows close to their component
        self.means_user = frame.centre + frame.scale * terms.means
        self.scale = frame.scale
        self.inv_scale = 1.0 / frame.scale  # exact: the scales are powers of two
        if centred:
            risky = np.ones(k, dtype=bool)
        elif kernel == "auto":  # per component: the expansion only where it is accurate
            risky = risk > EXPANDED_RISK_LIMIT
        elif kernel in ("expanded", "direct"):
            risky = np.full(k, kernel == "direct")
        else:
            raise ValueError(f"Unknown kernel {kernel!r}; use 'auto', 'expanded' or 'direct'.")
        self.direct: list[int] = [int(j) for j in np.flatnonzero(risky)]
        self.expanded = np.flatnonzero(~risky)
        self.all_expanded = not self.direct
        self.kernel = (
            "expanded" if self.all_expanded else "mixed" if self.expanded.size else "direct"
        )
        self.n_cols = 0
        if self.expanded.size:
            # features [z, q(z), 1] (their weights: :attr:`WT`)
            self.n_cols = d + self.moments.n_quad(d) + 1
            self.centre = np.ascontiguousarray(frame.centre, dtype=np.float64)
            self.centre_col = self.centre[:, None]
            self.inv_scale_col = self.inv_scale[:, None]
        # the fused kernel's means: in units of the scales (exact, powers of two); it takes
        # the factors as they are
        self.fused = fused
        self.float32_products = False
        if fused:
            self.fused_means = np.ascontiguousarray(self.means_user * self.inv_scale)
            self.fused_factors = self.factors
            self.fused_shift: Array | None = None
            self.fused_transform: Array | None = None
            if self.moments.shared_precision and risk.max() <= EXPANDED_RISK_LIMIT:
                # one factor U for all: each row is transformed once, y = z U, and compared
                # with every m_j U (d(d+1)/2 + 2kd operations per row instead of k d(d+1)/2);
                # the cancellation costs about eps * sqrt(m_jᵀ P m_j), bounded as the
                # expansion's is
                u = self.factors[0]
                self.fused_shift = np.ascontiguousarray(frame.centre * self.inv_scale)
                self.fused_transform = np.ascontiguousarray(u)
                self.fused_means = np.ascontiguousarray(terms.means @ u)
                self.fused_factors = np.ones((k, d))
            # float32 input, triangular factors, enough rows to pay for the check: products
            # in float32 lanes (twice the rows per vector) where every factor is
            # well-conditioned
            self.float32_products = bool(
                float32_rows >= FLOAT32_PRODUCTS_MIN_ROWS * d
                and self.fused_factors.ndim == 3
                and np.all(np.linalg.cond(self.fused_factors) <= FLOAT32_PRODUCTS_COND)
            )

    @cached_property
    def WT(self) -> Array:
        """The expanded kernel's GEMM weights, (expanded components, n_cols), formed on
        first use: a fused pass needs them only for a chunk it hands back to numpy.  Against
        the features ``[z, q(z), 1]``: ``P_j m_j``, the quadratic form's weights, and the
        log-density constant, whose row in the M-step sums the responsibilities."""
        e = self.expanded
        precision = self.moments.precision(self.factors)
        pm = self.moments.matvec(precision, self.means)
        # mᵀPm from the P m of the GEMM's first rows (not :meth:`MomentKind.quadratic`):
        # the terms that cancel near the mean then carry the same rounding
        risk = np.einsum("kd,kd->k", pm, self.means)
        W = np.vstack(
            [
                pm[e].T,
                self.moments.quad_weights(precision[e]),
                self.exponent_base[e] - 0.5 * risk[e],
            ]
        )
        return np.ascontiguousarray(W.T)
