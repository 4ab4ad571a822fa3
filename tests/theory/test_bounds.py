"""Tests of :mod:`theory.bounds`: the right-hand sides of the paper's bounds, by hand.

Each bound is checked against measurements in the test file of the module it bounds (claims
1, 3, 6, 7, 12, 15, 16, 18); here: the formulas, their relations and their input checks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.theory._reference import CHEAP_PROPERTY
from theory import (
    cliff_tv_jump,
    greedy_stability_radius,
    incomplete_reward_regret_lower_bound,
    q_lipschitz_bound,
    soft_hard_value_gap_bound,
    soft_policy_regret_bound,
    soft_policy_tv_bound,
    soft_policy_tv_span_bound,
    softmax_tv_bound,
)

GAMMAS = st.floats(0.0, 0.999)
ALPHAS = st.floats(1e-3, 10.0)
DISTANCES = st.floats(0.0, 10.0)


def test_hand_computed_values():
    assert q_lipschitz_bound(0.1, 0.9) == pytest.approx(1.0, rel=1e-15)
    assert q_lipschitz_bound(0.3, 0.0) == 0.3
    assert soft_policy_tv_bound(0.1, alpha=0.5, gamma=0.0) == pytest.approx(0.1)
    assert soft_policy_tv_bound(1e-4, 1.0, 0.99) == pytest.approx(5e-3)
    assert soft_policy_tv_span_bound(0.2, 0.5, 0.0) == pytest.approx(0.1)
    assert softmax_tv_bound(0.3, 1.5) == pytest.approx(0.1)
    assert greedy_stability_radius(1.0, 0.0) == 0.5
    assert greedy_stability_radius(0.4, 0.9) == pytest.approx(0.02)
    assert soft_hard_value_gap_bound(0.1, 0.5, 4) == pytest.approx(0.1 * math.log(4))
    assert soft_policy_regret_bound(0.1, 0.5, 4) == pytest.approx(0.2 * math.log(4))
    assert incomplete_reward_regret_lower_bound(0.3, 0.5) == pytest.approx(0.15)


@pytest.mark.parametrize(("m", "jump"), [(2, 0.5), (3, 2 / 3), (5, 0.8), (100, 0.99)])
def test_prop_2_10_cliff_jumps(m, jump):
    assert cliff_tv_jump(m) == pytest.approx(jump, rel=1e-15)
    assert cliff_tv_jump(m) >= 0.5


def test_zero_gap_gives_zero_radius_and_one_action_no_entropy_cost():
    assert greedy_stability_radius(0.0, 0.5) == 0.0
    assert soft_hard_value_gap_bound(1.0, 0.9, 1) == 0.0
    assert soft_policy_regret_bound(1.0, 0.9, 1) == 0.0
    assert soft_hard_value_gap_bound(1.0, 0.0, 5) == 0.0  # gamma = 0: Q_tau = Q* = R


@CHEAP_PROPERTY
@given(DISTANCES, ALPHAS, GAMMAS)
def test_prop_4_7_is_lemma_c_2_divided_by_one_minus_gamma(d, alpha, gamma):
    assert soft_policy_tv_bound(d, alpha, gamma) == pytest.approx(
        softmax_tv_bound(q_lipschitz_bound(d, gamma), alpha), rel=1e-12
    )


@CHEAP_PROPERTY
@given(DISTANCES, st.floats(0.0, 1.0), ALPHAS, GAMMAS)
def test_span_refinement_is_never_worse(d, frac, alpha, gamma):
    span = 2 * d * frac  # any span of a perturbation with sup norm d is <= 2 d
    assert soft_policy_tv_span_bound(span, alpha, gamma) <= soft_policy_tv_bound(
        d, alpha, gamma
    ) * (1 + 1e-12)
    assert soft_policy_tv_span_bound(2 * d, alpha, gamma) == pytest.approx(
        soft_policy_tv_bound(d, alpha, gamma), rel=1e-12
    )


@CHEAP_PROPERTY
@given(ALPHAS, GAMMAS, st.integers(1, 50))
def test_soft_hard_gap_is_gamma_times_regret_bound(alpha, gamma, n):
    assert soft_hard_value_gap_bound(alpha, gamma, n) == pytest.approx(
        gamma * soft_policy_regret_bound(alpha, gamma, n), rel=1e-12, abs=1e-300
    )


@CHEAP_PROPERTY
@given(DISTANCES, GAMMAS)
def test_radius_and_lipschitz_bound_are_consistent(g, gamma):
    # a perturbation at the radius moves each Q* entry by at most g/2
    assert q_lipschitz_bound(greedy_stability_radius(g, gamma), gamma) == pytest.approx(
        g / 2, rel=1e-9
    )


# --- one test per bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [1.0, -0.1])
def test_bad_gamma_raises(gamma):
    for call in (
        lambda: q_lipschitz_bound(0.1, gamma),
        lambda: soft_policy_tv_bound(0.1, 1.0, gamma),
        lambda: soft_policy_tv_span_bound(0.1, 1.0, gamma),
        lambda: greedy_stability_radius(0.1, gamma),
        lambda: soft_hard_value_gap_bound(1.0, gamma, 2),
        lambda: soft_policy_regret_bound(1.0, gamma, 2),
    ):
        with pytest.raises(ValueError, match="gamma"):
            call()


def test_negative_reward_distance_raises():
    with pytest.raises(ValueError, match="reward_distance"):
        q_lipschitz_bound(-0.1, 0.5)
    with pytest.raises(ValueError, match="reward_distance"):
        soft_policy_tv_bound(-0.1, 1.0, 0.5)


def test_negative_span_raises():
    with pytest.raises(ValueError, match="reward_span"):
        soft_policy_tv_span_bound(-1.0, 1.0, 0.5)


def test_negative_logit_distance_raises():
    with pytest.raises(ValueError, match="logit_distance"):
        softmax_tv_bound(-1.0, 1.0)


def test_negative_gap_raises():
    with pytest.raises(ValueError, match="gap"):
        greedy_stability_radius(-1.0, 0.5)


@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_non_positive_temperature_raises(alpha):
    with pytest.raises(ValueError, match="alpha"):
        soft_policy_tv_bound(0.1, alpha, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        soft_hard_value_gap_bound(alpha, 0.5, 2)
    with pytest.raises(ValueError, match="tau"):
        softmax_tv_bound(0.1, alpha)


@pytest.mark.parametrize("m", [1, 0, 2.0, "3"])
def test_cliff_jump_needs_a_tie_of_size_two(m):
    with pytest.raises(ValueError, match="m must be an integer >= 2"):
        cliff_tv_jump(m)


@pytest.mark.parametrize("n", [0, 2.5])
def test_bad_action_count_raises(n):
    with pytest.raises(ValueError, match="n_actions"):
        soft_policy_regret_bound(1.0, 0.5, n)


def test_bad_reach_probability_raises():
    with pytest.raises(ValueError, match="reach_probability"):
        incomplete_reward_regret_lower_bound(0.1, 1.5)
    with pytest.raises(ValueError, match="advantage"):
        incomplete_reward_regret_lower_bound(-0.1, 0.5)


def test_integer_arguments_accept_numpy_integers():
    assert cliff_tv_jump(np.int64(3)) == pytest.approx(2 / 3)
    assert soft_policy_regret_bound(1.0, 0.5, np.int32(4)) == pytest.approx(2 * math.log(4))
