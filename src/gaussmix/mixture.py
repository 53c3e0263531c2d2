"""``GaussianMixture``: a thin scikit-learn estimator over :mod:`gaussmix.multistart`.

Validation, prediction, scoring, sampling and saving come from
:class:`~gaussmix.base.MixtureBase`; this module holds the parameters and ``fit``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _parameters
from . import _validation as v
from .base import MixtureBase
from .covariance import REGISTRY, CovarianceFamily, get_family
from .em import ConvergenceMonitor, EMState
from .engine import Frame, single_threaded_blas
from .engine.frame import Missing
from .init import TreeSample, initialize
from .multistart import FitCallback, StartFactory, fit_multistart
from .noise.region import NoiseRegion, fit_region
from .noise.start import START_SHARE_MIN, noise_start
from .noise.strategy import NoiseMaximumLikelihood, NoisyParams
from .params import Params
from .regularisation import internal_reg, min_scale
from .sources import ArrayRows, RowSource
from .stepwise import RunningStats, StepSchedule, fit_minibatch, stats_of, stepwise_update
from .strategy import MaximumLikelihood, ModelStrategy

Array = NDArray[np.float64]


class SingularCovarianceWarning(UserWarning):
    """A fitted covariance is held up only by ``reg_covar``.

    Its component has fewer effective rows (the sum of its responsibilities, weighted) than
    the covariance needs to be non-singular (``n_features + 1`` for ``'full'``, 2 for
    ``'diag'`` and ``'spherical'``, ``n_features + n_components`` in all for ``'tied'``,
    see :meth:`CovarianceFamily.rows_needed
    <gaussmix.covariance.CovarianceFamily.rows_needed>`), or its rows are tied in a feature
    or lie on a hyperplane where the data as a whole do not: its variance in some direction
    is at most twice the regulariser's (:func:`regularised_components`).
    Its density then reflects the regularisation, not the data.
    """


def singular_components(
    covariance_type: str,
    weights: ArrayLike,
    n_features: int,
    n_rows: float,
) -> str | None:
    """Why a fit's covariances are held up only by regularisation, or None.

    Parameters
    ----------
    covariance_type : str
        A registered name; any other is not checked.
    weights : array-like of shape (n_components,)
        The fitted mixture weights.
    n_features : int
    n_rows : float
        Rows fitted (the sum of the sample weights).

    Returns
    -------
    str or None
        E.g. ``"component 2 has 3.1 effective rows for 5 features (a 'full' covariance
        needs 6)"``.
    """
    if covariance_type not in REGISTRY:
        return None
    w = np.asarray(weights, dtype=np.float64)
    k = w.shape[0]
    family = get_family(covariance_type)
    needed, each = family.rows_needed(k, n_features)
    bad = family.short_of_rows(w, n_features, n_rows)
    rows = w * n_rows
    if not each:
        if bad.any():
            return (
                f"{n_rows:.4g} rows for {n_features} features and {k} components (a "
                f"{covariance_type!r} covariance needs {needed:g})"
            )
    elif bad.any():
        return _components_message(
            np.flatnonzero(bad), [f"{r:.3g}" for r in rows], "effective rows for "
            f"{n_features} feature{'s' * (n_features > 1)} (a {covariance_type!r} covariance "
            f"needs {needed:g})",
        )  # fmt: skip
    return None


#: a component whose variance in some direction is at most this many times the
#: regulariser's there has a covariance held up by it: its own rows add no more than the
#: regulariser in that direction (tied in a feature, or on a hyperplane)
REG_DOMINATED = 2.0


def regularised_components(
    family: CovarianceFamily, params: Params, reg: float | NDArray[np.float64]
) -> str | None:
    """Why a fit's covariances are held up by regularisation in some direction where the
    mixture as a whole is not, or None: a component's least variance, in units of the
    regulariser (``reg`` per feature or one value, as ``params``, in the internal frame), is
    at most :data:`REG_DOMINATED`.  Such a component sits on rows tied in a feature or on a
    hyperplane: its density is a spike the regulariser alone bounds (mclust, which does not
    regularise, reports these fits as singular).  Where the whole mixture's covariance is
    that thin too, the data themselves are degenerate there, which every candidate shares:
    None.
    """
    k, d = params.means.shape
    r = np.broadcast_to(np.asarray(reg, dtype=np.float64), (d,))
    if not (r > 0).all():
        return None
    unit = 1.0 / np.sqrt(r)
    dense = family.dense(params.covariances, k, d) * unit[:, None] * unit[None, :]
    least = np.linalg.eigvalsh(dense)[:, 0]
    bad = least <= REG_DOMINATED
    if not bad.any():
        return None
    w = params.weights[:k] / params.weights[:k].sum()
    centred = (params.means - w @ params.means) * unit
    total = np.tensordot(w, dense, axes=1) + (centred * w[:, None]).T @ centred
    if np.linalg.eigvalsh(total)[0] <= REG_DOMINATED:
        return None
    return _components_message(
        np.flatnonzero(bad), [f"{x:.3g}" for x in least],
        "times the regulariser as the least variance of the covariance (rows tied in a "
        "feature, or on a hyperplane)",
    )  # fmt: skip


def singular_reason(
    family: CovarianceFamily,
    weights: ArrayLike,
    n_rows: float,
    params: Params,
    reg: float | NDArray[np.float64],
) -> str | None:
    """Why a fit's covariances are held up only by regularisation, or None: a component of
    too few effective rows (:func:`singular_components`), else one on tied rows
    (:func:`regularised_components`; ``params`` and ``reg`` in the internal frame)."""
    why = singular_components(family.name, weights, params.means.shape[1], n_rows)
    return why if why is not None else regularised_components(family, params, reg)


def _components_message(bad: NDArray[np.intp], values: list[str], what: str) -> str:
    """``"components 1, 2 have 3.1, 0.5 <what>"`` for the first few of ``bad``."""
    shown = [int(j) for j in bad[:5]]
    which = ", ".join(map(str, shown)) + (", ..." if bad.size > 5 else "")
    has = ", ".join(values[j] for j in shown) + (", ..." if bad.size > 5 else "")
    plural = bad.size > 1
    return f"component{'s' * plural} {which} ha{'ve' if plural else 's'} {has} {what}"


#: ``tol=None``: scikit-learn's threshold on the change of the mean log-likelihood per row
DEFAULT_TOL = 1e-3
#: ``tol=None`` on small data: the precision of the mean log-likelihood per row a run is
#: refined to, and the iterations the refinement may add to ``max_iter``
REFINE_TOL = 1e-8
REFINE_ITER = 1000


def convergence(tol: float | None) -> dict[str, Any]:
    """The stopping rule of ``tol`` (see :class:`GaussianMixture`) as
    :func:`~gaussmix.multistart.fit_multistart`'s arguments."""
    if tol is not None:
        return {"tol": float(tol)}
    return {"tol": DEFAULT_TOL, "refine": REFINE_TOL, "refine_iter": REFINE_ITER}


class GaussianMixture(MixtureBase):
    """Gaussian mixture model fitted by expectation-maximisation.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: same parameters and
    fitted attributes, plus ``chunk_size`` (memory stays bounded by it), ``init_iter``
    (short-run EM over several starts) and ``sample_weight`` in :meth:`fit`.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : str, default='full'
        Structure of the covariance matrices: one of mclust's 14 models ``Sigma_k = lambda_k
        D_k A_k D_kᵀ`` named by their volume, shape and orientation, each Equal, Variable or
        Identity: 'EII', 'VII', 'EEI', 'VEI', 'EVI', 'VVI', 'EEE', 'VEE', 'EVE', 'VVE',
        'EEV', 'VEV', 'EVV', 'VVV'; or scikit-learn's names 'full' (VVV), 'tied' (EEE),
        'diag' (VVI) and 'spherical' (VII), which give the same fits (see
        :mod:`gaussmix.covariance`).
    tol : float or None, default=None
        EM stops when the mean log-likelihood per sample changes by less than ``tol``.
        ``None``: 1e-3 (scikit-learn's default), and on data of at most
        :data:`~gaussmix.multistart.FULL_RUN_ROWS` rows, where iterations are cheap, each
        start then goes on until its log-likelihood is that of the optimum it converges to
        within :data:`REFINE_TOL` per row (Aitken's estimate of what is left to gain; at most
        :data:`REFINE_ITER` more iterations), so that fits of small data are comparable to
        the last digits that matter for BIC.  The refinement takes over-relaxed steps
        (:mod:`gaussmix.relaxation`), and a start stops refining where it nears an earlier
        start's optimum or cannot reach the best earlier one's
        (:func:`~gaussmix.multistart.falls_short`).  With any ``tol > 0``, EM also stops
        where an M-step gives back the parameters it started from (to
        :data:`~gaussmix.strategy.FIXED_POINT` of their scale): the next log-likelihood
        would equal the last, so the run ends one iteration before scikit-learn's would
        (clusters far apart, whose responsibilities are all 0 or 1).
    reg_covar : 'auto' or float, default='auto'
        Regularisation added to the diagonal of each component's scatter before the M-step
        (for 'full', 'tied', 'diag' and 'spherical': to the covariances).  ``'auto'``: 1e-8
        times each feature's variance in ``X`` (weighted, over its observed values) for the
        models that a rescaling of one feature maps onto themselves (VVV/'full', EEE/'tied',
        the diagonal ones, VEE, EVV), 1e-8 times the features' mean variance for the others,
        so that fits follow any rescaling of ``X`` (see :mod:`gaussmix.regularisation`; at
        least the smallest normal number of ``X``'s dtype, so that the fit stays
        representable where a variance is beyond the floating-point range).  A
        float is scikit-learn's absolute value (scikit-learn's default is 1e-6), in the units
        of ``X`` squared.
    max_iter : int, default=100
        Largest number of EM iterations on all rows of each start (iterations of a short run
        on a subsample are not counted).
    n_init : int, default=16
        Number of starts.  Start ``i`` is the same whatever ``n_init`` is.  On data of at most
        :data:`~gaussmix.multistart.FULL_RUN_ROWS` rows (or with ``init_iter=None``) every
        start runs to convergence and the best is kept, so that more starts never give a
        lower log-likelihood.  On larger data, with ``init_iter`` set, the starts race in short
        EM runs on a random subsample of ``X`` (one row in 50, at least 4,000 rows or 250 per
        component and at most 10,000 or 500 per component, when ``X`` is larger; see
        :func:`~gaussmix.multistart.race_sample_rows`): after each round the worse half is
        dropped (a start with a component too thin for the subsample ranks last), and the
        winner, after ``init_iter`` iterations, is continued on all rows.
    init_params : {'auto', 'hierarchical', 'k-means++', 'kmeans', 'random', \
'random_from_data'}, default='auto'
        Initialisation strategy (see :mod:`gaussmix.init`).  ``'auto'``: on data of at most
        :data:`~gaussmix.init.AUTO_TREE_ROWS` rows, the first start from a model-based
        hierarchical clustering of the rows (at most 2,000 of them; mclust's start) and the
        others k-means++ seedings; on more rows, k-means++ seedings only.
    init_iter : int or None, default=10
        Short-run iterations of the winning start of a race (the rounds before it are
        shorter: 2, 3, 5, 10 for 16 starts).  ``None`` runs every start to convergence on all
        rows and keeps the best (scikit-learn's behaviour).
    weights_init : array-like of shape (n_components,), default=None
        Initial weights; overrides the strategy.
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means.  Makes the start deterministic: the other parameters are estimated
        from each row's nearest given mean, and only one start is run.
    precisions_init : array-like, default=None
        Initial precisions (inverse covariances), of shape (n_components, n_features,
        n_features) for 'full', (n_features, n_features) for 'tied', (n_components,
        n_features) for 'diag' and (n_components,) for 'spherical'; mclust's models take
        the shape of the one with the same storage: (n_components,) for EII and VII,
        (n_components, n_features) for EEI, VEI, EVI and VVI, (n_features, n_features) for
        EEE, and (n_components, n_features, n_features) for the other ellipsoidal ones.
    labels_init : array-like of shape (n_samples,), default=None
        A partition to start from: each row's component (0 .. n_components - 1), or -1 for a
        row that takes no part in the start.  The start is the statistics of each
        component's rows (a component without rows is re-seeded); one start is run, and
        ``weights_init``, ``means_init`` and ``precisions_init`` override its parts.  It
        belongs to the rows it was given with and is not saved with the model.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation.
    warm_start : bool, default=False
        Start a new :meth:`fit` from the previous solution (one start).
    verbose : int, default=0
        1 prints one line per start; 2 also a line every ``verbose_interval`` iterations
        (time since the previous line, change of the log-likelihood), as scikit-learn does.
    verbose_interval : int, default=10
        Iterations between two lines printed with ``verbose >= 2``.
    chunk_size : int or None, default=None
        Rows processed at a time; ``None`` picks a size that keeps each buffer at a few MiB.
        Results do not depend on it.
    missing : {'marginalize', 'error'}, default='marginalize'
        What NaN in ``X`` means.  ``'marginalize'``: a value missing at random; each row is
        fitted and scored on its observed coordinates exactly (the E-step uses their marginal
        density, the M-step the conditional expectations of the missing ones), and a row
        with nothing observed is left out of the fit (``n_empty_rows_``), with the mixing
        weights as its probabilities.  ``'error'``: NaN is refused.  Infinity is always
        refused.
    noise : bool, default=False
        Add a noise component (mclust's Poisson noise): a uniform density over a region
        holding the training rows (``noise_region``), with its own fitted weight
        (``noise_weight_``), for rows that belong to no cluster.  ``predict`` labels the rows
        it explains best ``-1``; ``predict_proba`` has its column last; ``score_samples``
        adds its density inside the region (zero outside); BIC counts its weight and
        volume as two more free parameters (as mclust does).  Its start: the rows in sparse
        regions by nearest-neighbour clutter removal (Byers & Raftery 1998, see
        :mod:`gaussmix.noise.start`) start as noise, the components from the others.
        Exact EM only: mini-batch EM (``batch_size``) and :meth:`partial_fit` are refused
        with it, and so are :meth:`tail_probability` and :meth:`is_anomaly` on its model;
        :meth:`impute` completes rows as members of the clusters.
    noise_region : {'auto', 'box'}, default='auto'
        The region of the noise component.  ``'auto'``: mclust's ``hypvol`` rule, the
        smaller of the bounding boxes along the coordinate axes and along the training
        rows' principal axes (the coordinate box when they have missing values, whose
        marginals are boxes); ``'box'``: the bounding box along the coordinate axes (a model
        that scores rows with missing values needs it).
        refused.  :meth:`impute` fills NaN in either case (see also
        :meth:`tail_probability` and :meth:`is_anomaly`, which judge incomplete rows fairly).
    batch_size : int or None, default=None
        ``None``: exact EM, every iteration a pass over all rows.  An int: mini-batch EM, an
        approximate fit of many rows in a few passes: after the start race (on its
        subsample), stepwise EM updates over shuffled batches of ``batch_size`` rows, and
        ``max_iter`` and ``tol`` count and stop *epochs* (passes over all rows; see Notes).
    learning_offset : float, default=10.0
        ``t0`` of the step ``rho_t = (t0 + t) ** -learning_decay`` of the ``t``-th stepwise
        update (:meth:`partial_fit`, mini-batch EM); with 0 the first step is 1.
    learning_decay : float, default=0.6
        ``kappa`` of that step, in (0.5, 1]: the closer to 1, the faster old batches are
        weighed down less (1: the running statistics average all batches alike).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape as ``precisions_init``.
    precisions_ : ndarray
    precisions_cholesky_ : ndarray
        Upper-triangular ``U`` with ``precision = U @ U.T`` (full, tied), or
        ``1 / sqrt(variance)`` (diag, spherical).
    converged_ : bool
    n_iter_ : int
        EM iterations on all rows of the retained start (``len(history_)``).
    lower_bound_ : float
        Mean log-likelihood per sample at the last E-step of the retained start.
    history_ : list of float
        Mean log-likelihood at every E-step of the retained start (also ``lower_bounds_``).
    start_lower_bounds_ : list of float
        Mean log-likelihood of every start at the end of its short run.
    n_empty_rows_ : int
        Rows of ``X`` with nothing observed, left out of the fit.
    noise_weight_ : float
        The noise component's share of the rows (0 without ``noise``); ``weights_`` hold the
        components' shares of all rows, so ``weights_.sum() + noise_weight_ == 1``.
    noise_region_ : NoiseRegion or None
        Where the noise component is uniform (its ``volume``, ``contains(X)``); ``None``
        without ``noise``.
    reseeds_ : list of (int, int)
        (iteration, component) of every degenerate component that was re-seeded.
    n_steps_ : int
        Stepwise EM updates of the running statistics (:meth:`partial_fit` and mini-batch
        EM; 0 after an exact fit).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.

    Notes
    -----
    Default initialisation: on small data (at most
    :data:`~gaussmix.multistart.FULL_RUN_ROWS` rows) one hierarchical start and 15 k-means++
    seedings, each run to convergence, the best kept.  On larger data 16 k-means++ seedings
    race in short EM runs on a subsample — 3 iterations each, the better 8 go on to 5, the
    better 4 to 10, the better 2 to 20 — and the winner is continued to convergence on all
    rows (short-run EM, Biernacki, Celeux & Govaert 2003, with successive halving).  This
    costs a fixed amount whatever ``n`` and discards starts headed for poor local optima,
    which reaches a higher log-likelihood than one k-means start (scikit-learn's default) in
    less time; ``benchmarks/README.md`` has the measurements.  ``history_`` holds the
    iterations on all rows, and ``start_lower_bounds_`` each start's log-likelihood when it
    finished or was dropped.

    ``X`` may also be a row source read out of core (:class:`gaussmix.ondisk.NpySource`,
    :class:`gaussmix.ondisk.ParquetSource`, or a ``np.memmap``, which is read as an
    ``NpySource``): each EM iteration is one streaming pass over the file, memory is bounded by
    its blocks, and the start race reads its subsample of rows once.

    Stepwise EM (Cappé & Moulines 2009; Liang & Klein 2009) keeps running statistics per unit
    weight, ``s_t = (1 - rho_t) s_(t-1) + rho_t s(batch_t)``, each batch's statistics taken
    under the parameters before its update, and the parameters are the M-step of ``s_t``
    (:mod:`gaussmix.stepwise`).  Mini-batch EM (``batch_size``) is an approximation: each
    update sees one batch, and the step sizes decide how much of the batches' noise remains;
    ``history_`` holds each epoch's mean log-likelihood of its batches, each under the
    parameters before its update (not of the final parameters).  Rows held in memory are
    shuffled as a whole every epoch; a source read out of core is visited block by block in
    random order, each block's rows shuffled (rows sorted in the file stay grouped by
    block).  ``benchmarks/README.md`` compares its log-likelihood with exact EM's.
    """

    _parameter_table: ClassVar[dict[str, v.Check]] = _parameters.GAUSSIAN_MIXTURE

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float | None = None,
        reg_covar: float | str = "auto",
        max_iter: int = 100,
        n_init: int = 16,
        init_params: str = "auto",
        init_iter: int | None = 10,
        weights_init: ArrayLike | None = None,
        means_init: ArrayLike | None = None,
        precisions_init: ArrayLike | None = None,
        labels_init: ArrayLike | None = None,
        random_state: int | np.random.RandomState | np.random.Generator | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        chunk_size: int | None = None,
        missing: str = "marginalize",
        noise: bool = False,
        noise_region: str = "auto",
        batch_size: int | None = None,
        learning_offset: float = 10.0,
        learning_decay: float = 0.6,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.init_iter = init_iter
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.labels_init = labels_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size
        self.missing = missing
        self.noise = noise
        self.noise_region = noise_region
        self.batch_size = batch_size
        self.learning_offset = learning_offset
        self.learning_decay = learning_decay

    # ------------------------------------------------------------------ fitting

    def _user_inits(self, family: CovarianceFamily, n: int, d: int) -> dict[str, Any]:
        k = self.n_components
        out: dict[str, Any] = {"weights": None, "means": None, "precisions": None, "labels": None}
        if self.labels_init is not None:
            out["labels"] = v.check_labels_init(self.labels_init, n, k)
        if self.weights_init is not None:
            out["weights"] = v.check_weights_init(self.weights_init, k)
        if self.means_init is not None:
            out["means"] = v.check_init_array(
                self.means_init, (k, d), "means_init", hint="(n_components, n_features)"
            )
        if self.precisions_init is not None:
            prec = v.check_init_array(
                self.precisions_init,
                family.shape(k, d),
                "precisions_init",
                hint=f"for covariance_type={family.name!r}",
            )
            family.check_precisions(prec, k, d)
            out["precisions"] = prec
        return out

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: ArrayLike,
        y: Any = None,
        sample_weight: ArrayLike | None = None,
        *,
        callback: FitCallback | None = None,
    ) -> Any:
        """Estimate the parameters with EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a row source
            Training data; float32 data keeps float32 attributes (statistics are float64).
            A ``np.memmap`` or a row source (:mod:`gaussmix.ondisk`) is read out of core.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; integer weights are equivalent to repeating rows (a
            row source holds its own).
        callback : callable, optional
            Called with a :class:`gaussmix.multistart.FitEvent` after every EM iteration of every
            start (progress bars, the HTML report's EM animation).

        Returns
        -------
        self : GaussianMixture
        """
        # BLAS on one thread for the whole fit, not only inside the passes: its products
        # here are small, and after a multi-threaded call OpenBLAS's worker spins on the
        # other core for a while, competing with the passes' workers
        with single_threaded_blas():
            return self._fit(X, sample_weight, callback)

    def _fit(
        self, X: ArrayLike, sample_weight: ArrayLike | None, callback: FitCallback | None
    ) -> Any:
        if self.noise and self.batch_size is not None:
            raise ValueError(
                f"noise=True does not combine with mini-batch EM (batch_size="
                f"{self.batch_size!r}): stepwise updates have no step for the noise "
                "component's weight. Set batch_size=None (exact EM; a memory map or a row "
                "source is read out of core) or noise=False."
            )
        source, frame_rows, frame_weights, missing = self._fit_rows(X, sample_weight)
        family = self._family()
        data = self._data_frame(
            source, frame_rows, frame_weights, missing, family.per_feature_equivariant
        )
        frame = data
        if bool(self.warm_start) and hasattr(self, "converged_"):
            self._check_warm_start(family, self.n_components, source.n_features)
            frame = self._prediction_frame()
        return self._fit_prepared(source, frame, callback, data=data, missing=missing == "observed")

    def _data_frame(
        self,
        source: RowSource,
        frame_rows: NDArray[np.floating],
        frame_weights: Array | None,
        missing: Missing,
        per_feature: bool,
    ) -> Frame:
        """The internal frame of the rows (from :meth:`_fit_rows`): one scale per feature, or
        one shared (``per_feature``, as the covariance model allows)."""
        # C order: the frame's centre rounds the same whatever the input's layout
        return Frame.from_data(
            np.ascontiguousarray(frame_rows), frame_weights, self.chunk_size,
            min_scale=min_scale(self.reg_covar, source.dtype), missing=missing,
            per_feature=per_feature,
        )  # fmt: skip

    def _fit_prepared(
        self,
        source: RowSource,
        frame: Frame,
        callback: FitCallback | None,
        *,
        trees: Sequence[TreeSample] | None = None,
        extra_starts: Sequence[Params] = (),
        race: bool | None = None,
        missing: bool = False,
        data: Frame | None = None,
        refine_any_size: bool = False,
    ) -> Any:
        """Fit on validated rows in ``frame``.  ``trees``: the hierarchical starts' trees,
        grown already; ``extra_starts`` (internal frame) are tried after the first start;
        ``race`` and ``refine_any_size``: see :func:`~gaussmix.multistart.fit_multistart`;
        ``missing``: the rows hold missing values; ``data``: the rows' own frame, where
        ``frame`` is a warm start's (the relative regularisation follows the rows')."""
        family = self._family()
        d = source.n_features
        k = self.n_components
        inits = self._user_inits(family, source.n_rows, d)
        warm = bool(self.warm_start) and hasattr(self, "converged_")
        reg = internal_reg(self.reg_covar, frame, data or frame, source.dtype)
        rs = v.as_random_state(self.random_state)

        start: StartFactory
        if warm:
            warm_params = self._internal_params(frame)
            if self.noise and not self._has_noise():  # the noise component joins
                warm_params.weights = warm_params.weights * (1.0 - START_SHARE_MIN)

            def previous(rows: RowSource, rngs: Sequence[np.random.Generator]) -> Any:
                return [warm_params for _ in rngs]

            start = previous
        else:

            def initial(rows: RowSource, rngs: Sequence[np.random.Generator]) -> Any:
                made = initialize(
                    rows, family, frame, k,
                    method=self.init_params, rngs=rngs[: len(rngs) - len(extra_starts)],
                    reg_covar=reg, chunk_size=self.chunk_size, weights_init=inits["weights"],
                    means_init=inits["means"], precisions_init=inits["precisions"],
                    labels_init=inits["labels"], trees=trees, n_rows=source.n_rows,
                )  # fmt: skip
                return [*made[:1], *(p.copy() for p in extra_starts), *made[1:]]

            start = initial

        strategy: ModelStrategy[Any] = MaximumLikelihood(family, reg)
        region = None
        if self.noise:
            region = fit_region(
                source, frame, get_family("full").moments, self.noise_region,
                missing=missing, chunk_size=self.chunk_size,
            )  # fmt: skip
            strategy = NoiseMaximumLikelihood(family, reg, region)
            if not warm:
                start = noise_start(start, k)
        deterministic = warm or inits["means"] is not None or inits["labels"] is not None
        stopping = convergence(self.tol)
        common: dict[str, Any] = dict(
            n_components=k, n_init=1 if deterministic else self.n_init + len(extra_starts),
            init_iter=self.init_iter, max_iter=self.max_iter,
            rng=np.random.default_rng(rs.randint(np.iinfo(np.int32).max)),
            chunk_size=self.chunk_size, verbose=self.verbose,
            verbose_interval=self.verbose_interval, callback=callback,
            previous=self.lower_bound_ if warm else -np.inf,
        )  # fmt: skip
        running = None
        if self.batch_size is None:
            best, starts = fit_multistart(
                source, strategy, frame, start, race=race, refine_any_size=refine_any_size,
                **stopping, **common,
            )  # fmt: skip
        else:  # epochs stop at tol (no refinement: the batches' noise would hide it)
            best, starts, running = fit_minibatch(
                source, strategy, frame, start, lambda p: stats_of(p, family, reg),
                batch_size=self.batch_size, schedule=self._schedule(), tol=stopping["tol"],
                **common,
            )  # fmt: skip

        self._warn_unconverged(best.monitor.converged)
        monitor = best.monitor
        self._set_fit(
            strategy.point_estimate(best.params), frame, source.dtype,
            converged=monitor.converged, n_iter=monitor.n_iter, lower_bound=best.lower_bound,
            history=list(monitor.history), start_lower_bounds=starts, reseeds=list(best.reseeds),
            n_empty_rows=source.n_empty if isinstance(source, ArrayRows) else 0,
            **_noise_summary(best.params, region),
        )  # fmt: skip
        self.n_steps_ = 0 if running is None else running.steps
        # the running statistics of the last update, valid while the fitted means are these
        self._stepwise = None if running is None else (self.means_, running)
        weights = source.sample_weight
        # a lazy source's weights are not read again for a warning: its rows count instead
        n_rows = float(weights.sum() if isinstance(weights, np.ndarray) else source.n_rows)
        why = singular_reason(family, self.weights_, n_rows, self._internal_params(frame), reg)
        if why is not None:
            warnings.warn(
                f"{why}: the covariance is singular, held up only by reg_covar, and its "
                "density reflects the regularisation, not the data. Use fewer components, a "
                "covariance type with fewer parameters ('diag', 'spherical'), or more rows.",
                SingularCovarianceWarning,
                stacklevel=3,
            )
        return self

    def _variance_frame(self) -> Frame:
        """A frame whose ``variance`` is the fitted mixture's variance of each feature (the
        weighted spread of the means plus the weighted mean of the components')."""
        family = self._family()
        k, d = np.shape(self.means_)
        weights = np.asarray(self.weights_, np.float64)
        dense = family.dense(np.asarray(self.covariances_, np.float64), k, d)
        variances = weights / weights.sum() @ np.diagonal(dense, axis1=1, axis2=2)
        return Frame.from_means(weights, self.means_, variances, family.per_feature_equivariant)

    def _schedule(self) -> StepSchedule:
        return StepSchedule(float(self.learning_offset), float(self.learning_decay))

    def _adopt_validation(self, validated: GaussianMixture) -> None:
        """Take what validating the rows taught ``validated`` (their width and column
        names), so that this estimator can be fitted on the same prepared rows
        (:func:`gaussmix.select_model` validates them once for every candidate)."""
        v.check_params(self, self._parameter_table)
        self.n_features_in_ = int(getattr(validated, "n_features_in_"))  # noqa: B009
        names = getattr(validated, "feature_names_in_", None)
        if names is not None:
            self.feature_names_in_ = names

    # ------------------------------------------------------------------ stepwise EM

    def partial_fit(
        self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None
    ) -> Any:
        """One stepwise (online) EM update on the batch ``X``.

        The first call on an unfitted model fits the first batch (:meth:`fit`, with every
        parameter); each later call, and a call on a fitted or loaded model, takes the
        batch's E-step under the current parameters, averages its statistics per unit
        weight into the running ones with step ``rho_t = (learning_offset + t) **
        -learning_decay`` (``t`` counts the updates, ``n_steps_``) and sets the parameters
        to their M-step: a step of 1 (``learning_offset=0``, first update) is one EM
        iteration over the batch.  Where there are no running statistics yet (after
        :meth:`fit` or :func:`gaussmix.load`), they are those of the current parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a row source
            A batch of rows with the model's columns (one row is enough after the first
            call); NaN is a missing value (``missing='marginalize'``).
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixture
            ``lower_bound_`` is the batch's mean log-likelihood under the parameters
            before the update (the running log-likelihood of the stream: collect it after
            each call; ``history_`` keeps the first fit's); ``n_iter_`` counts the
            iterations of the first fit and the updates, ``converged_`` is False.
        """
        if self.noise or self._has_noise():
            raise ValueError(
                "partial_fit does not update a model with a noise component (noise=True): "
                "stepwise EM has no step for the noise component's weight. Fit it with fit "
                "(a memory map or a row source is read out of core), or set noise=False."
            )
        if not hasattr(self, "converged_"):
            with single_threaded_blas():
                return self._fit(X, sample_weight, None)
        # an update's products are small: BLAS's threads are left alone, which saves their
        # limit's cost on every batch (the pass sets it where it needs it)
        return self._partial_fit(X, sample_weight)

    def _partial_fit(self, X: ArrayLike, sample_weight: ArrayLike | None) -> Any:
        source, _, _, _ = self._fit_rows(X, sample_weight, reset=False)
        family = self._family()
        k = self.n_components
        self._check_warm_start(family, k, source.n_features, "partial_fit")
        frame = self._prediction_frame()
        # a relative reg_covar reads the model's own variances (for a maximum-likelihood
        # fit, those of its rows plus the regulariser), not the batch's: a batch of one row
        # has none, and a saved copy of the model updates alike
        reg = internal_reg(
            self.reg_covar, frame, self._variance_frame(), np.asarray(self.means_).dtype
        )
        params = self._internal_params(frame)
        cached = getattr(self, "_stepwise", None)
        if cached is not None and cached[0] is self.means_:
            running = cached[1]
        else:  # after fit, a load or new attributes: the statistics of the parameters
            running = RunningStats(stats_of(params, family, reg))
        state = EMState(params, ConvergenceMonitor(convergence(self.tol)["tol"], 1))
        value = stepwise_update(
            source, state, MaximumLikelihood(family, reg), frame, running, self._schedule(),
            lambda p: stats_of(p, family, reg), limit=2 * k + 5, chunk_size=self.chunk_size,
        )  # fmt: skip
        n_iter = int(self.n_iter_) + 1
        empty = source.n_empty if isinstance(source, ArrayRows) else 0
        self._set_fit(
            state.params, frame, np.asarray(self.means_).dtype,
            converged=False, n_iter=n_iter, lower_bound=value, history=list(self.history_),
            start_lower_bounds=list(self.start_lower_bounds_),
            reseeds=[*self.reseeds_, *((n_iter, j) for _, j in state.reseeds)],
            n_empty_rows=int(self.n_empty_rows_) + empty,
        )  # fmt: skip
        self.n_steps_ = running.steps
        self._stepwise = (self.means_, running)
        return self


def _noise_summary(params: Any, region: NoiseRegion | None) -> dict[str, Any]:
    """The fitted noise component's weight and region (none for a plain mixture)."""
    if region is None:
        return {}
    assert isinstance(params, NoisyParams)
    return {"noise_weight": float(params.noise), "noise_region": region}


__all__ = [
    "GaussianMixture",
    "SingularCovarianceWarning",
    "regularised_components",
    "singular_components",
    "singular_reason",
]
