"""Useless fits are never returned silently: a covariance held up only by ``reg_covar`` warns,
and model selection never chooses a candidate with more free parameters than rows or such a
covariance (it keeps it in the table, flagged, with the reason)."""

from __future__ import annotations

import io
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from gaussmix import GaussianMixture, SingularCovarianceWarning, select_model
from gaussmix.covariance import get_family
from gaussmix.mixture import regularised_components, singular_components
from gaussmix.params import Params

from ._data import make_blobs

IRIS = load_iris().data


# --------------------------------------------------------------------------- the warning


def test_singular_components_by_covariance_type() -> None:
    w = np.array([0.5, 0.45, 0.05])
    assert singular_components("full", w, 4, 100) is None  # 5 rows for 4 features: enough
    assert singular_components("full", w, 4, 80) == (
        "component 2 has 4 effective rows for 4 features (a 'full' covariance needs 5)"
    )
    assert "components 1, 2 have 4.5, 0.5 effective rows" in str(
        singular_components("full", w, 4, 10)
    )
    assert singular_components("diag", w, 50, 40) is None  # 2 rows per variance suffice
    assert "a 'diag' covariance needs 2" in str(singular_components("diag", w, 50, 20))
    assert "a 'spherical' covariance needs 2" in str(singular_components("spherical", w, 3, 20))
    assert singular_components("tied", w, 4, 7) is None  # d + k = 7 rows in all
    assert "a 'tied' covariance needs 7" in str(singular_components("tied", w, 4, 6))
    assert singular_components("a family added later", w, 4, 6) is None


def test_a_component_of_fewer_rows_than_dimensions_warns() -> None:
    """Three tight clusters of 40 rows and one of 3 rows, in 5 dimensions: the 'full'
    covariance of the small one has rank 2 and exists only through reg_covar."""
    rng = np.random.default_rng(1)
    big = [rng.normal(loc=10.0 * j, size=(40, 5)) for j in range(3)]
    small = rng.normal(loc=-30.0, scale=0.1, size=(3, 5))
    X = np.vstack([*big, small])
    with pytest.warns(SingularCovarianceWarning, match=r"3 effective rows for 5 features"):
        GaussianMixture(4, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GaussianMixture(4, covariance_type="diag", random_state=0).fit(X)  # 3 rows suffice
        GaussianMixture(3, random_state=0).fit(np.vstack(big))


def test_effective_rows_are_the_sum_of_the_sample_weights() -> None:
    X, _, _ = make_blobs(np.random.default_rng(2), n=60, d=4, k=2)
    sw = np.full(60, 0.05)  # 3 rows in all
    with pytest.warns(SingularCovarianceWarning, match="a 'full' covariance needs 5"):
        GaussianMixture(1, random_state=0).fit(X, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GaussianMixture(1, random_state=0).fit(X, sample_weight=np.full(60, 2.0))


def test_regularised_components_are_thin_where_the_mixture_is_not() -> None:
    """A component whose variance in some direction is at most twice the regulariser's is
    named, with that ratio; not where the whole mixture is that thin too (the data's own
    degeneracy, which every candidate shares)."""
    family = get_family("VVV")
    reg = np.array([1e-6, 4e-6])
    means = np.array([[0.0, 0.0], [5.0, 3.0]])
    tied = np.diag([1.0, 6e-6])  # the second feature: 1.5 x its regulariser of 4e-6
    line = np.array([[1.0, 1.0], [1.0, 1.0]]) + np.diag(reg)  # rows on x1 = x2
    fine = np.diag([1.0, 2.0])
    params = Params(np.array([0.5, 0.5]), means, np.stack([fine, tied]), np.zeros((2, 2, 2)))
    assert regularised_components(family, params, reg) == (
        "component 1 has 1.5 times the regulariser as the least variance of the covariance "
        "(rows tied in a feature, or on a hyperplane)"
    )
    # the least variance of the line (direction (1, -1)) is sum(reg) / 2 over unit reg
    on_line = Params(np.array([0.5, 0.5]), means, np.stack([fine, line]), np.zeros((2, 2, 2)))
    assert "component 1 has" in str(regularised_components(family, on_line, reg))
    assert regularised_components(family, Params(
        np.array([0.5, 0.5]), means, np.stack([fine, 3.0 * np.diag(reg)]), np.zeros((2, 2, 2))
    ), reg) is None  # fmt: skip
    # every component (and the mixture) as thin in the second feature: the data are
    flat = Params(
        np.array([0.5, 0.5]), np.array([[0.0, 0.0], [5.0, 0.0]]),
        np.stack([np.diag([1.0, 1e-6]), np.diag([2.0, 1.2e-6])]), np.zeros((2, 2, 2)),
    )  # fmt: skip
    assert regularised_components(family, flat, reg) is None


def tied_rows() -> np.ndarray:
    """Two clusters of 200 rows, and 12 rows sharing the value 9 of the second feature."""
    rng = np.random.default_rng(3)
    tied = np.column_stack([rng.normal(3.0, 1.0, 12), np.full(12, 9.0)])
    shifted = rng.normal(size=(200, 2)) + np.array([6.0, 0.0])
    return np.vstack([rng.normal(size=(200, 2)), shifted, tied])


def test_a_component_on_tied_rows_warns() -> None:
    """Two clusters and 12 rows sharing one value of the second feature: a 'diag' component
    on them has the regulariser alone as its variance there."""
    X = tied_rows()
    means = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 9.0]])
    with pytest.warns(SingularCovarianceWarning, match=r"times the regulariser as the least"):
        GaussianMixture(3, covariance_type="diag", means_init=means).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant feature in all rows is the data's own
        GaussianMixture(2, covariance_type="diag", random_state=0).fit(
            np.column_stack([X[:400, 0], np.full(400, 2.0)])
        )


# --------------------------------------------------------------------------- selection


def test_a_few_rows_never_choose_a_component_per_row() -> None:
    X = np.random.default_rng(0).normal(size=(6, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = select_model(X, range(1, 7), "all", random_state=0)
    assert result.best["n_components"] == 1
    for row in result.rows:
        if row["n_parameters"] > 6:
            assert row["flag"] == f"{row['n_parameters']} free parameters for 6 rows"
        else:
            assert row["flag"] is None
    table = result.to_string().splitlines()
    assert table[0].split()[-3:] == ["not", "chosen", "because"]
    flagged = [line for line in table if line.startswith("!")]
    assert len(flagged) == sum(1 for r in result.rows if r["flag"])
    assert all("free parameters for 6 rows" in line for line in flagged)


def test_singular_candidates_are_flagged_not_chosen() -> None:
    """Iris with four nearly identical rows added: k = 4 'full' can place a component on them
    (a covariance of rank 0, and a huge likelihood); it must not win."""
    X = np.vstack([IRIS, np.full((4, 4), 20.0) + 1e-3 * np.arange(16).reshape(4, 4)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = select_model(X, range(1, 6), "full", random_state=0)
    flags = {r["n_components"]: r["flag"] for r in result.rows}
    singular = [k for k, flag in flags.items() if flag and flag.startswith("singular")]
    assert singular, flags
    assert "effective rows for 4 features" in str(flags[singular[0]])
    assert result.best["flag"] is None
    assert result.best["n_components"] not in singular


def test_candidates_on_tied_rows_are_flagged_not_chosen() -> None:
    """12 rows sharing one value of a feature, beside two clusters: every candidate with a
    component on them (a variance of only the regulariser in that feature, and a likelihood
    as large as the regulariser is small) is flagged, and the choice is another."""
    X = tied_rows()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = select_model(X, range(1, 5), ["diag", "spherical"], random_state=0)
    flags = {(r["covariance_type"], r["n_components"]): r["flag"] for r in result.rows}
    thin = [key for key, flag in flags.items() if flag and "times the regulariser" in flag]
    assert ("diag", 3) in thin, flags
    assert result.best["flag"] is None
    by_bic = min(result.rows, key=lambda r: r["bic"])
    assert by_bic["flag"] is not None  # unflagged, the spike would have won


def test_every_candidate_flagged_is_an_error() -> None:
    X = np.random.default_rng(0).normal(size=(30, 40))
    with pytest.raises(ValueError, match=r"can be chosen from 30 rows.*PCA.*fit a single model"):
        select_model(X, [1, 2], ["diag", "spherical"], random_state=0)


def test_sample_weights_are_the_rows_that_count() -> None:
    X = IRIS[::10]  # 15 rows, 4 features
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        light = select_model(X, [1, 2], "diag", sample_weight=np.full(15, 0.8), random_state=0)
    assert light.rows[0]["flag"] is None and light.best_index == 0
    assert light.rows[1]["flag"] == "17 free parameters for 12 rows"  # 2 x 8 + 1


def test_the_candidate_callback_counts_candidates() -> None:
    seen: list[tuple[int, int, int, str]] = []
    select_model(IRIS, [1, 2], ["diag", "spherical"], random_state=0,
                 candidate_callback=lambda *a: seen.append(a))  # fmt: skip
    assert seen == [(0, 4, 1, "diag"), (1, 4, 2, "diag"), (2, 4, 1, "spherical"),
                    (3, 4, 2, "spherical")]  # fmt: skip


# --------------------------------------------------------------------------- verbose


def test_verbose_interval_as_in_scikit_learn() -> None:
    out = io.StringIO()
    with redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GaussianMixture(
            3, n_init=1, max_iter=20, tol=0.0, verbose=2, verbose_interval=5, random_state=0
        ).fit(IRIS)
    lines = out.getvalue().splitlines()
    iterations = [int(line.split()[1]) for line in lines if line.startswith("  Iteration")]
    assert iterations == [5, 10, 15, 20]
    assert all("time lapse" in line and "ll change" in line for line in lines[:4])
    assert lines[-1].startswith("Start 0: log-likelihood")
    quiet = io.StringIO()
    with redirect_stdout(quiet):
        GaussianMixture(3, n_init=1, verbose=1, random_state=0).fit(IRIS)
    assert "Iteration" not in quiet.getvalue() and "Start 0" in quiet.getvalue()
