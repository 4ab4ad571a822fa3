"""IQM, rliable's aggregates, stratified bootstrap intervals and performance profiles."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from perturbation.sweeps import (
    bootstrap_ci,
    bootstrap_distribution,
    iqm,
    mean,
    median,
    optimality_gap,
    performance_profile,
    probability_of_improvement,
)
from perturbation.sweeps.strategies import ragged_scores, score_matrices

# --- point estimates: hand-computed values ------------------------------------------------------


def test_iqm_hand_values():
    assert iqm([1.0, 2.0, 3.0, 4.0, 100.0]) == 3.0  # N=5: cut 1 each end -> mean(2, 3, 4)
    x = np.arange(8.0).reshape(4, 2)  # N=8: cut 2 each end -> mean(2, 3, 4, 5)
    assert iqm(x) == 3.5
    assert iqm([10.0, 1.0, 1.0, 1.0]) == 1.0  # robust to the outlier
    assert iqm([7.0]) == 7.0


def test_mean_median_gap_hand_values():
    x = np.array([[1.0, 10.0, 0.0], [3.0, 20.0, 2.0]])  # task means 2, 15, 1
    assert mean(x) == pytest.approx(6.0)
    assert median(x) == 2.0
    assert optimality_gap([[0.5, 2.0], [1.0, 0.0]]) == pytest.approx(0.375)
    assert optimality_gap([[0.5, 2.0], [1.0, 0.0]], gamma=2.0) == pytest.approx(2 - 3.5 / 4)


def test_ragged_tasks_weigh_equally_in_mean_and_are_pooled_in_iqm():
    scores = {"a": [0.0, 2.0], "b": [10.0]}
    assert mean(scores) == 5.5  # mean of task means (1, 10), not the pooled 4
    assert iqm(scores) == 4.0  # N=3: nothing cut, pooled mean


@settings(max_examples=60, deadline=None)
@given(score_matrices())
def test_property_iqm_is_scipy_trim_mean(x):
    assert iqm(x) == pytest.approx(scipy.stats.trim_mean(x, 0.25, axis=None), abs=1e-12)
    assert mean(x) == pytest.approx(x.mean(), abs=1e-9)
    assert median(x) == pytest.approx(np.median(x.mean(axis=0)), abs=1e-12)


# --- bootstrap: exact distributions and hand-computed intervals ---------------------------------


def test_bootstrap_distribution_of_two_runs_is_binomial():
    boot = bootstrap_distribution([0.0, 1.0], "mean", reps=40_000, random_state=1)
    freq = [np.mean(boot == v) for v in (0.0, 0.5, 1.0)]
    assert freq == pytest.approx([0.25, 0.5, 0.25], abs=0.015)


def test_percentile_and_basic_intervals_hand_computed():
    # runs (0, 0, 3): bootstrap mean = K with K ~ Bin(3, 1/3); P(K=3) = 1/27 > 2.5%, P(K=0) = 8/27
    ci = bootstrap_ci([0.0, 0.0, 3.0], "mean", reps=20_000, random_state=0)
    assert (ci.point, ci.lower, ci.upper) == (1.0, 0.0, 3.0)
    basic = bootstrap_ci([0.0, 0.0, 3.0], "mean", reps=20_000, method="basic", random_state=0)
    assert (basic.point, basic.lower, basic.upper) == (1.0, -1.0, 2.0)  # [2θ - q_hi, 2θ - q_lo]
    assert "mean = 1 [0, 3]" in ci.summary()


def test_bootstrap_is_stratified_within_tasks():
    # every task is constant across its runs: each stratified resample is the data itself
    x = np.array([[0.0, 5.0, -1.0]] * 4)
    for stat in ("iqm", "mean", "median", "optimality_gap"):
        ci = bootstrap_ci(x, stat, reps=500)
        assert ci.lower == ci.point == ci.upper
    # one run per task: no variation either (a pooled bootstrap would vary)
    ci = bootstrap_ci({"a": [0.0], "b": [10.0]}, "mean", reps=500)
    assert ci.lower == ci.point == ci.upper == 5.0


def test_bootstrap_reproducible_and_callable_matches_builtin():
    x = np.random.default_rng(3).normal(size=(6, 3))
    a = bootstrap_ci(x, "mean", reps=300, random_state=5)
    assert a == bootstrap_ci(x, "mean", reps=300, random_state=5)
    b = bootstrap_ci(x, lambda m: float(np.mean(m)), reps=300, random_state=5)
    assert (b.point, b.lower, b.upper) == pytest.approx((a.point, a.lower, a.upper), abs=1e-12)
    assert b.statistic == "<lambda>"


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(score_matrices(max_runs=6), ragged_scores()),
    st.sampled_from(["iqm", "mean", "median"]),
    st.floats(0.5, 0.99),
)
def test_property_interval_invariants(scores, stat, confidence):
    ci = bootstrap_ci(scores, stat, reps=200, confidence=confidence, random_state=0)
    values = np.concatenate(
        [np.ravel(v) for v in (scores.values() if isinstance(scores, dict) else [scores])]
    )
    lo, hi = values.min(), values.max()
    # every resample's statistic lies in the data range, hence so do its quantiles
    assert lo - 1e-9 <= ci.lower <= ci.point + 1e-9
    assert ci.point - 1e-9 <= ci.upper <= hi + 1e-9
    basic = bootstrap_ci(scores, stat, reps=200, confidence=confidence, method="basic")
    assert basic.lower <= basic.upper


@settings(max_examples=40, deadline=None)
@given(score_matrices(max_runs=5, max_tasks=3), st.floats(-100, 100))
def test_property_translation_equivariance(x, c):
    a = bootstrap_ci(x, "iqm", reps=100, random_state=2)
    b = bootstrap_ci(x + c, "iqm", reps=100, random_state=2)
    assert (b.point, b.lower, b.upper) == pytest.approx(
        (a.point + c, a.lower + c, a.upper + c), abs=1e-9
    )


# --- performance profiles -----------------------------------------------------------------------


def test_profile_hand_values():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    p = performance_profile(x, [-1.0, 0.0, 1.5, 3.0], reps=100)
    assert p.values.tolist() == [1.0, 0.75, 0.5, 0.0]
    # ragged: each task weighs 1/2: task a has 1 of 2 runs above 0.5, task b all of its 1 run
    q = performance_profile({"a": [0.0, 1.0], "b": [2.0]}, [0.5], reps=100)
    assert q.values.tolist() == [0.75]


@settings(max_examples=40, deadline=None)
@given(score_matrices(max_runs=6), st.lists(st.floats(-12, 12), min_size=1, max_size=6))
def test_property_profile_monotone_and_bounded(x, taus):
    taus = np.sort(np.array(taus))
    p = performance_profile(x, taus, reps=100)
    assert np.all(np.diff(p.values) <= 0)
    assert np.all((p.values >= 0) & (p.values <= 1))
    assert np.all(p.lower <= p.upper) and np.all((p.lower >= 0) & (p.upper <= 1))
    assert p.values == pytest.approx([np.mean(x > t) for t in taus])


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "kwargs", "match"),
    [
        ([], {}, "task 0 has no runs"),
        ([1.0, np.nan], {}, "non-finite"),
        (np.zeros((2, 2, 2)), {}, "shape"),
        ({}, {}, "no tasks"),
        ({"a": [[1.0]]}, {}, "must be 1-D"),
        ([[1.0], [1.0, 2.0]], {}, "mapping task -> runs"),
        ([1.0], {"statistic": "max"}, "statistic must be one of"),
        ([1.0], {"statistic": 3}, "statistic must be a name or a callable"),
        ([1.0], {"reps": 0}, "reps must be a positive integer"),
        ([1.0], {"confidence": 1.0}, "confidence must be in"),
        ([1.0], {"method": "bca"}, "method must be"),
    ],
)
def test_bad_bootstrap_input_raises(scores, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(scores, **kwargs)


@pytest.mark.parametrize("taus", [[], [np.nan], [[0.0]]])
def test_bad_taus_raise(taus):
    with pytest.raises(ValueError, match=r"taus must (be|have|not be)"):
        performance_profile([1.0, 2.0], taus)


# -- probability of improvement --------------------------------------------------------------


def test_probability_of_improvement_hand_values():
    # task 0: x beats y in 3 of 4 pairs and ties one (3.5 / 4); task 1: x loses every pair
    pi = probability_of_improvement([[2.0, 0.0], [3.0, 0.0]], [[1.0, 5.0], [2.0, 5.0]])
    assert pi.point == pytest.approx((3.5 / 4 + 0.0) / 2)
    assert pi.lower <= pi.point <= pi.upper


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(-5, 5), min_size=1, max_size=6),
    st.lists(st.floats(-5, 5), min_size=1, max_size=6),
)
def test_property_probability_of_improvement_is_antisymmetric(x, y):
    """P(X > Y) + P(Y > X) = 1 (ties count half each way), and P(X > X) = 1/2."""
    a = probability_of_improvement(x, y, reps=20).point
    b = probability_of_improvement(y, x, reps=20).point
    assert a + b == pytest.approx(1.0)
    assert probability_of_improvement(x, x, reps=20).point == pytest.approx(0.5)


def test_seed_interval_resamples_rows_of_any_shape():
    """The interval is the percentile interval of the statistic over rows resampled with
    replacement (computed here by hand from the same generator), for 1-D and (seeds, ...) input."""
    from perturbation.sweeps import seed_interval

    x = np.random.default_rng(1).normal(size=(12, 3, 2))
    stat = lambda a: float(a.var(axis=0, ddof=1).mean())  # noqa: E731
    got = seed_interval(x, np.random.default_rng(7), stat, reps=300, confidence=0.8)
    rng = np.random.default_rng(7)
    draws = [stat(x[rng.integers(12, size=12)]) for _ in range(300)]
    assert got == pytest.approx([np.quantile(draws, 0.1), np.quantile(draws, 0.9)], rel=1e-12)
    lo, hi = seed_interval(np.full(5, 2.0), np.random.default_rng(0))
    assert lo == hi == 2.0


@settings(max_examples=25, deadline=None)
@given(
    x=st.lists(st.floats(-100, 100), min_size=2, max_size=12),
    confidence=st.floats(0.5, 0.99),
)
def test_mean_interval_matches_scipy(x, confidence):
    """The t and normal intervals equal scipy's ``t.interval`` / ``norm.interval`` around the
    mean with the standard error ``s / sqrt(n)``."""
    from scipy import stats as sps

    from perturbation.sweeps import mean_interval

    a = np.asarray(x)
    m, lo, hi = mean_interval(a, confidence=confidence)
    assert m == pytest.approx(a.mean())
    if np.all(a == a[0]):
        assert lo == hi == m
        return
    se = a.std(ddof=1) / np.sqrt(a.size)
    assume(se > 1e-100)  # scipy's interval returns NaN at a vanishing scale
    t_lo, t_hi = sps.t.interval(confidence, a.size - 1, loc=a.mean(), scale=se)
    assert (lo, hi) == pytest.approx((t_lo, t_hi), rel=1e-9, abs=1e-9)
    _, n_lo, n_hi = mean_interval(a, confidence=confidence, method="normal")
    z_lo, z_hi = sps.norm.interval(confidence, loc=a.mean(), scale=se)
    assert (n_lo, n_hi) == pytest.approx((z_lo, z_hi), rel=1e-9, abs=1e-9)
    assert n_hi - n_lo < hi - lo  # the t interval is wider
