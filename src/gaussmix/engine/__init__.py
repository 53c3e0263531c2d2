"""The engine: one chunked pass over the data that serves EM, prediction, scoring and statistics.

``mixture_pass(X, terms, frame, ...)`` walks ``X`` in chunks of ``chunk_size`` rows and, for
the model's pass terms (:class:`PassTerms`: per-component means, precision factors and
additive constants), returns the log-likelihood, the sufficient statistics for the next
M-step (:class:`~gaussmix.stats.SuffStats`) and, only when asked, per-row outputs
(responsibilities, log-densities, labels).  Its memory is bounded by the chunk size: no
``n x k x d`` array ever exists, and ``n x k`` only when responsibilities are requested.

Numerics
--------
Rows are mapped to an internal frame ``z = (x - centre) / scale`` (:class:`Frame`) with a
scalar scale, so that data scaled by 1e-150 or 1e150 neither under- nor overflows, and all
arithmetic is float64 whatever the input dtype.

Two interchangeable kernels compute the same quantities:

``"expanded"``
    Every component's log-density is linear in the features ``phi(z) = [z, q(z)]``
    (``q`` = packed upper triangle of ``z zᵀ``, or ``z²``), so the E-step for all components is
    a single GEMM ``phi @ W`` and the M-step statistics are a single GEMM ``phiᵀ @ R``.  The
    expansion cancels terms of size ``mᵀ P m`` (the squared Mahalanobis distance of the frame's
    centre from a component), which costs about ``eps * mᵀ P m`` of accuracy.
``"direct"``
    Per component, the centred differences ``z - m_j`` are formed first: exact for components
    far from the centre with tiny variances, and the plain reference implementation.

``kernel="auto"`` chooses per component: the expansion (one GEMM for all of them) for every
component whose ``mᵀ P m`` stays within :data:`EXPANDED_RISK_LIMIT` — which bounds the
expansion's relative error of log-densities and covariances near ``eps * 1e6 ~ 2e-10`` — and
the direct form for the others (``PassResult.kernel`` is then ``"mixed"``).

The fused kernel
----------------
The log-densities need neither features nor GEMMs: each is ``|(z - m_j) U_j|²``,
``d(d+1)/2`` multiply-adds of the centred differences with a triangular factor (``d`` with a
diagonal one).  With ``kernel="auto"`` they run in the C extension ``gaussmix._kernels``
where it was built (``PassResult.kernel`` is then ``"fused"``): per block of a few rows it
forms all log-densities in registers, in the direct form, and normalises them while they
are in cache, with the GIL released.  In a pass with statistics it also gathers them, about
each component's mean (as the direct form does), while the block is in cache.  Float32
input with well-conditioned triangular factors (:data:`FLOAT32_PRODUCTS_COND`) has its
products formed in float32 lanes (``PassResult.float32_products``), and from
:data:`FLOAT32_STATISTICS_MIN_FEATURES` features its statistics summed in float32 lanes in
each component's whitened coordinates, where they are well-conditioned, then mapped back in
float64 (``PassResult.float32_statistics``; a pass whose sums a rounding bound cannot vouch
for is redone in float64).  The
extension is optional; :func:`compiled_kernels` says whether it is in use, and
:func:`numpy_kernels` switches it off for a block of code.

Layout
------
``frame``         the internal coordinate frame (:class:`Frame`)
``terms``         what a pass needs of a model (:class:`PassTerms`, :func:`gaussian_terms`;
                  a :class:`Background` column, mclust's noise component)
``chunks``        chunk sizes
``planning``      per-pass constants: which kernel each component takes, its operands
``numpy_kernel``  the expanded and direct numpy kernels, normalisation, statistics' GEMM
``fused``         glue to the optional C kernel
``whitened``      float32 statistics in whitened coordinates and the bound that checks them
``threads``       worker threads and their scratch buffers
``blas``          BLAS's thread limit
``sums``          per-chunk sums and their in-order total
``result``        :class:`PassResult`, :class:`WorstRows`
``passes``        :func:`mixture_pass`
"""

from __future__ import annotations

from .blas import single_threaded_blas
from .chunks import FUSED_CHUNK_ROWS, auto_chunk_size, iter_chunks
from .frame import FRAME_SAMPLE, Frame, Missing
from .fused import compiled_kernels, numpy_kernels
from .passes import GivenResponsibilities, mixture_pass
from .planning import (
    EXPANDED_RISK_LIMIT,
    FLOAT32_PRODUCTS_COND,
    FLOAT32_PRODUCTS_MIN_ROWS,
    FLOAT32_STATISTICS_MIN_FEATURES,
    Kernel,
)
from .result import NonFiniteInput, PassResult, WorstRows, merge_results
from .terms import (
    BACKGROUND_LABEL,
    LOG_2PI,
    Background,
    PassTerms,
    gaussian_terms,
    unit_terms,
)
from .threads import release_workspaces, run_parallel

__all__ = [
    "BACKGROUND_LABEL",
    "EXPANDED_RISK_LIMIT",
    "FLOAT32_PRODUCTS_COND",
    "FLOAT32_PRODUCTS_MIN_ROWS",
    "FLOAT32_STATISTICS_MIN_FEATURES",
    "FRAME_SAMPLE",
    "FUSED_CHUNK_ROWS",
    "LOG_2PI",
    "Background",
    "Frame",
    "GivenResponsibilities",
    "Kernel",
    "Missing",
    "NonFiniteInput",
    "PassResult",
    "PassTerms",
    "WorstRows",
    "auto_chunk_size",
    "compiled_kernels",
    "gaussian_terms",
    "iter_chunks",
    "merge_results",
    "mixture_pass",
    "numpy_kernels",
    "release_workspaces",
    "run_parallel",
    "single_threaded_blas",
    "unit_terms",
]
