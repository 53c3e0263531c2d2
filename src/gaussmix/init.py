"""Initialisation strategies, looked up by name in :data:`INITIALIZERS`.

Each strategy reads the rows through a :class:`~gaussmix.sources.RowSource` and returns an
*assignment* of the rows to components (:class:`Nearest` centres, or :class:`Given`
responsibilities or labels produced chunk by chunk) and the rows to take statistics of
(``None``: all rows); one pass of the engine (the same fused, threaded pass as an EM
iteration, with the assignment's responsibilities instead of the model's) then turns them
into initial weights, means and covariances through the maximum-likelihood M-step.

``"kmeans"``
    Labels of scikit-learn's :class:`~sklearn.cluster.KMeans` (one run) on all rows.
``"k-means++"``
    Greedy k-means++ seeds (:func:`kmeans_plusplus_seeds`) drawn from a random subsample of
    :data:`SEED_SAMPLE` rows (200 per component if more), then every row of that subsample
    assigned to its nearest seed.  Cheap: the default, used with several short EM runs that
    refine the start on more rows (see :class:`gaussmix.GaussianMixture`).
``"random"``
    Uniform random responsibilities, normalised per row (as scikit-learn).  They are drawn in
    fixed blocks of rows, so the start does not depend on ``chunk_size``.
``"random_from_data"``
    ``n_components`` distinct rows drawn at random as seeds, then nearest-seed assignment.
``"hierarchical"``
    The partition into ``n_components`` clusters of a model-based agglomerative hierarchical
    clustering (:mod:`gaussmix.hierarchy`, Fraley 1998, on scaled SVD coordinates as in
    Scrucca & Raftery 2015) of a random subsample of :data:`~gaussmix.hierarchy.TREE_ROWS`
    rows (all rows when there are fewer), and the statistics of that subsample's clusters:
    mclust's start.  Each start draws its own subsample (the same rows, and so the same start,
    when the data has no more rows than that).
``"auto"``
    The default.  On data of at most :data:`AUTO_TREE_ROWS` rows, start 0 hierarchical and
    every further start k-means++: the tree's start is often the best one alone, and the
    seedings add starts that do not depend on it.  On more rows, k-means++ only: the tree
    costs ``O(m² d³)`` (tens of seconds at 2,000 rows of 32 features), more than the whole
    race of k-means++ starts that a large fit runs (see :class:`gaussmix.GaussianMixture`).

A given partition (``labels_init``) is a start of its own: the statistics of its clusters
(rows labelled ``-1`` left out).

User-given ``weights_init`` / ``means_init`` / ``precisions_init`` override the corresponding
parameters; when ``means_init`` is given the other parameters are estimated from the rows'
nearest given means, so the start is deterministic.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ._moments import MomentKind
from .covariance import CovarianceFamily
from .engine import Frame, GivenResponsibilities, unit_terms
from .hierarchy import TREE_ROWS, Tree, agglomerate, transform
from .params import Params
from .sources import ArraySource, RowSource
from .stats import SuffStats, labelled_statistics
from .strategy import DegenerateMixtureError, params_from_stats, reseed

Array = NDArray[np.float64]

#: k-means++ seeds are drawn from a subsample of at most
#: ``max(SEED_SAMPLE, SEED_SAMPLE_PER_COMPONENT * k)`` rows (the seeding costs
#: ``O(rows * k * log k)``; the short EM runs that follow refine the seeds on more rows)
SEED_SAMPLE = 2_500
SEED_SAMPLE_PER_COMPONENT = 200
_BLOCK = 4096


@dataclass(frozen=True)
class Nearest:
    """Each row assigned to its nearest centre (internal frame, in the features'
    standardised units where the frame has them, :meth:`Frame.spread`): a hard pass under
    equal weights and unit (or those units') covariances."""

    centres: Array

    def statistics(
        self, source: RowSource, moments: MomentKind, frame: Frame, chunk_size: int | None
    ) -> SuffStats:
        terms = unit_terms(moments, self.centres, frame.spread())
        stats = source.mixture_pass(terms, frame, hard=True, chunk_size=chunk_size).stats
        assert stats is not None
        return stats


@dataclass(frozen=True)
class Given:
    """Responsibilities (or hard labels) given for each slice of global rows; ``ref`` the
    points the statistics are taken about (and the missing values' conditional means, under
    unit covariances in the features' standardised units, :meth:`Frame.spread`).
    ``labels``: the hard labels of every row, where they are known whole; ``internal``:
    those rows in the internal frame, where the start has them already (their statistics
    are then summed without a second copy)."""

    responsibilities: GivenResponsibilities
    ref: Array
    labels: NDArray[np.intp] | None = None
    internal: Array | None = None

    def statistics(
        self, source: RowSource, moments: MomentKind, frame: Frame, chunk_size: int | None
    ) -> SuffStats:
        if (
            self.labels is not None
            and isinstance(source, ArraySource)
            and source.n_rows <= DIRECT_ROWS
        ):
            # a start's small sample under hard labels: summed directly, without the
            # pass's densities (most of a pass's cost), where no value is missing
            Z = self.internal
            if Z is None or Z.shape[0] != source.n_rows:
                Z = frame.to_internal(source.X)
            if np.isfinite(Z).all():
                return labelled_statistics(Z, self.labels, self.ref, moments, source.sample_weight)
        # a row's missing values are lifted under these covariances: the features'
        # variances where the frame has them, so that the start maps with the features
        terms = unit_terms(moments, self.ref, frame.spread())
        result = source.mixture_pass(
            terms, frame, given=self.responsibilities, chunk_size=chunk_size
        )
        assert result.stats is not None
        return result.stats


#: hard labels' statistics of an in-memory sample of at most this many rows are summed
#: directly (one internal copy of the rows); larger sources take a pass, in chunks
DIRECT_ROWS = 65_536


def _labelled_rows(labels: NDArray[np.intp], ref: Array, internal: Array | None = None) -> Given:
    """Hard labels known for every row (``internal``: the rows in the internal frame, where
    at hand), as a :class:`Given` assignment."""
    return Given(_labels(labels), ref, labels, internal)


#: a strategy's answer: the assignment and the rows to take the statistics of (None: all)
Start = tuple["Nearest | Given", "RowSource | None"]

Strategy = Callable[[RowSource, Frame, int, np.random.Generator], Start]


def _positive(source: RowSource) -> tuple[NDArray[np.floating], Array | None]:
    """The rows with positive weight and their weights (zero-weight rows must not influence
    the start)."""
    sw = source.sample_weight
    rows = _positive_rows(sw)
    if rows is None:
        rows = np.arange(source.n_rows)
    return source.take(rows), None if sw is None else sw[rows]


def _positive_rows(sw: Array | None) -> NDArray[np.intp] | None:
    """Indices of the rows with positive weight (``None``: all rows)."""
    if sw is None or (sw > 0).all():
        return None
    return np.flatnonzero(sw > 0)


def _standardised(frame: Frame, Z: Array) -> Array:
    """Internal rows ``Z`` in the units distances are measured in: each feature divided by
    its spread where the frame has them (a per-feature frame: no rescaling of a feature
    changes the distances), else as they are."""
    spread = frame.spread()
    return Z if spread is None else Z / spread


def _kmeans(source: RowSource, frame: Frame, k: int, rng: np.random.Generator) -> Start:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    Xp, wp = _positive(source)
    seed = int(rng.integers(2**31 - 1))
    with warnings.catch_warnings():
        # fewer distinct points than clusters: empty clusters are re-seeded by our M-step
        warnings.simplefilter("ignore", ConvergenceWarning)
        km = KMeans(n_clusters=k, n_init=1, random_state=seed)
        km.fit(_standardised(frame, frame.to_internal(Xp)), sample_weight=wp)
    spread = frame.spread()
    centres = km.cluster_centers_ if spread is None else km.cluster_centers_ * spread
    # KMeans's final labels are the nearest centres, so the assignment is recomputed per chunk
    return Nearest(np.asarray(centres, dtype=np.float64)), None


def kmeans_plusplus_seeds(
    Z: Array, k: int, rng: np.random.Generator, sample_weight: Array | None = None
) -> NDArray[np.intp]:
    """Indices of ``k`` seed rows of ``Z`` by greedy k-means++ (D² sampling).

    The first seed is drawn with probability proportional to the row weights; each further
    seed is the best of ``2 + ln k`` candidates drawn with probability proportional to
    weight times the squared distance to the nearest seed so far, "best" meaning the lowest
    total weighted squared distance once it is added (Arthur and Vassilvitskii, 2007, with
    the local trials of scikit-learn's ``kmeans_plusplus``).  Rows of zero weight are never
    drawn.  ``Z`` should be centred (the internal frame, standardised where it is per
    feature): distances are expanded as
    ``|z|² - 2 zᵀc + |c|²``.

    Written here rather than calling scikit-learn's, whose per-call validation outweighs the
    arithmetic on the small subsamples a default fit seeds.
    """
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)[None]
    return kmeans_plusplus_batch(Z[None], k, [rng], w)[0][0]


#: the samples :func:`kmeans_plusplus_batch` seeds in the same array operations are as many
#: as keep their working arrays (the rows' expansion, the candidates' distances) within about
#: this many bytes: more share the per-operation overhead, fewer stay in the cache; chosen by
#: measurement, see benchmarks/README.md (Small data)
KMEANS_GROUP_BYTES = 4 * 2**20


def kmeans_plusplus_batch(
    Z: Array, k: int, rngs: Sequence[np.random.Generator], sample_weight: Array | None = None
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """:func:`kmeans_plusplus_seeds` for ``S`` samples ``Z`` (S, m, d) at once.

    Returns the seeds (S, k) and each row's nearest seed (S, m), an index into its seeds
    (the distances to every seed are computed on the way; a tie goes to the earlier seed).
    Sample ``s`` draws from ``rngs[s]`` exactly as a single seeding would, so its seeds do
    not depend on the other samples; samples run in the same array operations, in groups of
    :data:`KMEANS_GROUP_BYTES` (the starts of a default fit seed together).
    ``sample_weight`` is (S, m).
    """
    S, n, d = Z.shape
    trials = 2 + int(np.log(k))
    group = max(1, KMEANS_GROUP_BYTES // (8 * n * (d + trials + 5)))
    if S > group:
        parts = [
            _kmeans_plusplus_group(
                Z[g : g + group],
                k,
                rngs[g : g + group],
                None if sample_weight is None else sample_weight[g : g + group],
            )
            for g in range(0, S, group)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return _kmeans_plusplus_group(Z, k, rngs, sample_weight)


def _kmeans_plusplus_group(
    Z: Array, k: int, rngs: Sequence[np.random.Generator], sample_weight: Array | None
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """:func:`kmeans_plusplus_batch` for one group of samples, in the same operations."""
    S, n, d = Z.shape
    w = sample_weight
    sq = np.einsum("smd,smd->sm", Z, Z)
    # |z|² - 2 zᵀc + |c|² for all rows against the candidates in one product:
    # [-2c, |c|², 1] @ [zᵀ; 1; |z|²] (the factor -2 is exact)
    right = np.empty((S, d + 2, n))
    right[:, :d] = np.swapaxes(Z, 1, 2)
    right[:, d] = 1.0
    right[:, d + 1] = sq
    trials = 2 + int(np.log(k))
    left = np.empty((S, trials, d + 2))
    seeds = np.empty((S, k), dtype=np.intp)
    prior = np.arange(1.0, n + 1.0)[None].repeat(S, 0) if w is None else np.cumsum(w, axis=1)
    each = np.arange(S)
    cand = np.empty((S, trials), dtype=np.intp)
    for s in range(S):
        draw = rngs[s].random() * prior[s, -1]
        cand[s] = min(int(np.searchsorted(prior[s], draw, side="right")), n - 1)
    seeds[:, 0] = cand[:, 0]
    closest = np.empty((S, n))
    labels = np.zeros((S, n), dtype=np.intp)
    for c in range(k):
        if c > 0:
            cum = np.cumsum(closest if w is None else w * closest, axis=1)
            for s in range(S):
                # every row on a seed: fall back to draws by weight
                row = cum[s] if cum[s, -1] > 0 else prior[s]
                picks = np.searchsorted(row, rngs[s].random(trials) * row[-1], side="right")
                cand[s] = np.minimum(picks, n - 1)
        used = 1 if c == 0 else trials
        np.multiply(Z[each[:, None], cand[:, :used]], -2.0, out=left[:, :used, :d])
        left[:, :used, d] = sq[each[:, None], cand[:, :used]]
        left[:, :used, d + 1] = 1.0
        dist = np.matmul(left[:, :used], right)
        if c == 0:
            closest = np.maximum(dist[:, 0], 0.0)
            continue
        # rounding can leave a distance slightly below zero: only the kept row is clamped
        np.minimum(dist, closest[:, None, :], out=dist)
        pot = dist.sum(axis=2) if w is None else np.matmul(dist, w[:, :, None])[:, :, 0]
        best = np.argmin(pot, axis=1)
        seeds[:, c] = cand[each, best]
        kept = dist[each, best]
        labels[kept < closest] = c
        closest = np.maximum(kept, 0.0)
    return seeds, labels


def _kmeans_plusplus(source: RowSource, frame: Frame, k: int, rng: np.random.Generator) -> Start:
    return _kmeans_plusplus_many(source, frame, k, [rng])[0]


def _kmeans_plusplus_many(
    source: RowSource, frame: Frame, k: int, rngs: Sequence[np.random.Generator]
) -> list[Start]:
    """k-means++ starts, one per generator, each on its own random subsample."""
    sw = source.sample_weight
    positive = _positive_rows(sw)
    n = source.n_rows if positive is None else positive.shape[0]
    size = max(SEED_SAMPLE, SEED_SAMPLE_PER_COMPONENT * k)
    picks: list[NDArray[np.intp] | None] = []
    for rng in rngs:
        rows = positive
        if n > size:
            pick = np.sort(rng.choice(n, size, replace=False))
            rows = pick if positive is None else positive[pick]
        picks.append(rows)
    m = min(n, size)
    taken = [np.arange(source.n_rows) if r is None else r for r in picks]
    gathered = source.take(np.concatenate(taken)).reshape(len(rngs), m, -1)
    samples = frame.to_internal(gathered)
    # np.asarray: a source's weights may be held elsewhere (a Dask array): these rows' only
    weights = None if sw is None else np.asarray(sw[np.concatenate(taken)]).reshape(len(rngs), m)
    seeds, labels = kmeans_plusplus_batch(_standardised(frame, samples), k, rngs, weights)
    # each start's statistics come from its own subsample, split by nearest seed (the short
    # EM runs that follow refine it on more rows)
    return [
        (
            _labelled_rows(labels[s], samples[s][seeds[s]], samples[s]),
            None
            if rows is None
            else ArraySource(gathered[s], None if weights is None else weights[s]),
        )
        for s, rows in enumerate(picks)
    ]


def _labels(labels: NDArray[np.intp]) -> GivenResponsibilities:
    """Hard labels known in advance for the rows they are asked for."""

    def given(rows: slice) -> NDArray[np.intp]:
        return labels[rows]

    return given


def _random_from_data(source: RowSource, frame: Frame, k: int, rng: np.random.Generator) -> Start:
    n, sw = source.n_rows, source.sample_weight
    if sw is None:
        idx = rng.choice(n, k, replace=False)
    else:
        p = sw / sw.sum()
        idx = rng.choice(n, k, replace=bool(np.count_nonzero(p) < k), p=p)
    return Nearest(frame.to_internal(source.take(np.sort(idx)))), None


def _random(source: RowSource, frame: Frame, k: int, rng: np.random.Generator) -> Start:
    seed = int(rng.integers(2**31 - 1))

    def responsibilities(rows: slice) -> Array:
        out = np.empty((rows.stop - rows.start, k))
        for b in range(rows.start // _BLOCK, (rows.stop - 1) // _BLOCK + 1):
            block = np.random.default_rng([seed, b]).random((_BLOCK, k))
            lo, hi = max(rows.start, b * _BLOCK), min(rows.stop, (b + 1) * _BLOCK)
            out[lo - rows.start : hi - rows.start] = block[lo - b * _BLOCK : hi - b * _BLOCK]
        out /= out.sum(axis=1, keepdims=True)
        return out

    return Given(responsibilities, np.zeros((k, source.n_features))), None


@dataclass(frozen=True)
class TreeSample:
    """A hierarchical agglomeration's tree of some rows: one start for every number of
    components (:meth:`start`), so that a sweep over ``n_components`` grows one tree.

    Attributes
    ----------
    rows : ndarray of shape (m, n_features)
        The subsample's rows, in the caller's units.
    weights : ndarray of shape (m,) or None
        Their sample weights.
    tree : Tree
    """

    rows: NDArray[np.floating]
    weights: Array | None
    tree: Tree
    #: the partitions asked for so far, by number of clusters (every model of a sweep asks
    #: for the same ones, and each replays the merges)
    _labels: dict[int, NDArray[np.intp]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def start(self, frame: Frame, k: int) -> Start:
        """The statistics of the tree's ``k`` clusters: a start."""
        k_tree = min(k, self.tree.n_rows)
        labels = self._labels.get(k_tree)
        if labels is None:
            labels = self._labels[k_tree] = self.tree.labels(k_tree)
            labels.setflags(write=False)
        return partition_start(self.rows, self.weights, labels, frame, k)


def grow_tree(
    source: RowSource, rng: np.random.Generator, *, size: int = TREE_ROWS, coordinates: str = "svd"
) -> TreeSample:
    """The tree of a random subsample of ``size`` rows of ``source`` with positive weight (all
    of them when there are fewer), in ``coordinates`` (:func:`gaussmix.hierarchy.transform`).
    The tree ignores the weights; the starts' statistics weigh the rows."""
    sw = source.sample_weight
    positive = _positive_rows(sw)
    n = source.n_rows if positive is None else positive.shape[0]
    rows = positive
    if n > size:
        pick = np.sort(rng.choice(n, size, replace=False))
        rows = pick if positive is None else positive[pick]
    taken = np.arange(source.n_rows) if rows is None else rows
    X = np.ascontiguousarray(source.take(taken))
    weights = None if sw is None else np.asarray(sw[taken], dtype=np.float64)
    return TreeSample(
        X, weights, agglomerate(transform(np.asarray(X, dtype=np.float64), coordinates))
    )


def partition_start(
    rows: NDArray[np.floating],
    weights: Array | None,
    labels: NDArray[np.intp],
    frame: Frame,
    k: int,
) -> Start:
    """The start of a partition of ``rows`` into components ``labels`` (0 .. k - 1): the
    statistics of each component's rows (one without rows is re-seeded)."""
    Z = frame.to_internal(np.asarray(rows))
    w = np.ones(len(labels)) if weights is None else weights
    counts = np.bincount(labels, weights=w, minlength=k)
    sums = np.stack([np.bincount(labels, weights=w * Z[:, f], minlength=k) for f in
                     range(Z.shape[1])], axis=1)  # fmt: skip
    ref = sums / np.where(counts > 0, counts, 1.0)[:, None]
    return _labelled_rows(labels, ref, Z), ArraySource(np.asarray(rows), weights)


def _hierarchical(source: RowSource, frame: Frame, k: int, rng: np.random.Generator) -> Start:
    return grow_tree(source, rng).start(frame, k)


#: ``"auto"`` grows a tree for its first start on data of at most this many rows
AUTO_TREE_ROWS = 5_000


def _auto(source: RowSource, frame: Frame, k: int, rng: np.random.Generator) -> Start:
    """One start of ``"auto"`` alone: its first."""
    if source.n_rows <= AUTO_TREE_ROWS:
        return _hierarchical(source, frame, k, rng)
    return _kmeans_plusplus(source, frame, k, rng)


INITIALIZERS: dict[str, Strategy] = {
    "auto": _auto,
    "hierarchical": _hierarchical,
    "k-means++": _kmeans_plusplus,
    "kmeans": _kmeans,
    "random": _random,
    "random_from_data": _random_from_data,
}


def _labelled(source: RowSource, labels: NDArray[np.intp], frame: Frame, k: int) -> Start:
    """The start of a given partition of the rows (``-1``: a row left out), its statistics
    taken by a pass over the labelled rows."""
    rows = np.flatnonzero(labels >= 0)
    ref = np.zeros((k, source.n_features))  # the frame's centre: rows are read only once
    if rows.size == labels.size:
        return _labelled_rows(labels, ref), None
    return _labelled_rows(labels[rows], ref), source.subset(rows)


def get_initializer(name: object) -> Strategy:
    """Look up an initialisation strategy; the error lists the valid names."""
    strategy = INITIALIZERS.get(name) if isinstance(name, str) else None
    if strategy is None:
        raise ValueError(
            f"Unknown init_params {name!r}. Valid names are: "
            + ", ".join(repr(n) for n in INITIALIZERS)
            + "."
        )
    return strategy


def initialize(
    source: RowSource,
    family: CovarianceFamily,
    frame: Frame,
    n_components: int,
    *,
    method: str,
    rngs: Sequence[np.random.Generator],
    reg_covar: float | Array,
    chunk_size: int | None = None,
    weights_init: Array | None = None,
    means_init: Array | None = None,
    precisions_init: Array | None = None,
    labels_init: NDArray[np.intp] | None = None,
    trees: Sequence[TreeSample] | None = None,
    n_rows: int | None = None,
) -> list[Params | DegenerateMixtureError]:
    """Initial parameters in the internal frame, one start per generator in ``rngs``.

    ``weights_init``, ``means_init`` and ``precisions_init`` are validated arrays in the
    caller's units; ``reg_covar`` is in internal units.  Each start depends only on its own
    generator (it is the same made alone or among others).  A start whose degenerate
    components could not be re-seeded is returned as its :class:`DegenerateMixtureError`
    (one bad start does not end a fit).  The k-means++ seeds of all starts are drawn
    together (:func:`kmeans_plusplus_batch`).  ``n_rows``: the rows of the data being
    fitted, where ``source`` is a subsample of them (a race's), on which ``"auto"`` decides
    (default: ``source``'s).
    """
    k = n_components
    d = frame.n_features
    means_z = None if means_init is None else frame.to_internal(means_init)
    chol_z = None
    if precisions_init is not None:
        chol = family.cholesky_from_precisions(np.asarray(precisions_init, float))
        # the factors of the variable z = x / scale (exact: powers of two)
        cov = family.covariances_from_cholesky(chol)
        _, chol_z = family.rescaled(cov, chol, 1.0 / frame.scale)

    if weights_init is not None and means_z is not None and chol_z is not None:
        cov_z = family.covariances_from_cholesky(chol_z)
        weights = np.asarray(weights_init, float)
        return [Params(weights.copy(), means_z.copy(), cov_z.copy(), chol_z.copy()) for _ in rngs]

    starts: list[Start]
    if labels_init is not None:
        starts = [_labelled(source, labels_init, frame, k)] * len(rngs)
    elif means_z is not None:
        starts = [(Nearest(means_z), None)] * len(rngs)
    elif method == "hierarchical" or (
        method == "auto"
        and (trees is not None or (source.n_rows if n_rows is None else n_rows) <= AUTO_TREE_ROWS)
    ):
        tree_rngs = rngs if method == "hierarchical" else rngs[:1]
        if trees is None:
            trees = [grow_tree(source, rng) for rng in tree_rngs]
        starts = [trees[i % len(trees)].start(frame, k) for i in range(len(tree_rngs))]
        if method == "auto" and len(rngs) > 1:
            starts += _kmeans_plusplus_many(source, frame, k, rngs[1:])
    elif method in ("k-means++", "auto"):
        starts = _kmeans_plusplus_many(source, frame, k, rngs)
    else:
        strategy = get_initializer(method)
        starts = [strategy(source, frame, k, rng) for rng in rngs]

    made: list[Params | DegenerateMixtureError] = []
    for (assignment, rows), rng in zip(starts, rngs, strict=True):
        rows_s = source if rows is None else rows
        stats = assignment.statistics(rows_s, family.moments, frame, chunk_size)
        params, bad = params_from_stats(stats, family, reg_covar)
        if bad.any():
            n = source.n_rows
            picks = rng.choice(n, size=min(n, int(bad.sum())), replace=False)
            try:
                params, _ = reseed(
                    params, bad, frame.to_internal(source.take(np.sort(picks))), family
                )
            except DegenerateMixtureError as exc:
                made.append(exc)
                continue
        if weights_init is not None:
            params.weights = np.asarray(weights_init, float).copy()
        if means_z is not None:
            params.means = means_z.copy()
        if chol_z is not None:
            params.precisions_cholesky = chol_z.copy()
            params.covariances = family.covariances_from_cholesky(chol_z)
        assert params.means.shape == (k, d)
        made.append(params)
    return made
