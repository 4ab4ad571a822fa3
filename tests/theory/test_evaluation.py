"""Tests of :mod:`theory.evaluation`: exact policy evaluation, and claim policy-cliff/prop-3.1 (Prop 3.1).

Prop 3.1 (the "clever slacker"): a policy optimal for an incomplete reward, which breaks a tie
at ``s0`` away from an action the missing reward favours, is strictly suboptimal for the true
reward wherever ``s0`` is reached, and optimal where it is not.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.theory._reference import PROPERTY, VI_ATOL, brute_force_q, evaluate
from theory import (
    TabularMDP,
    argmax_mask,
    incomplete_reward_regret_lower_bound,
    optimal_q,
    policy_q,
    policy_value,
)
from theory.strategies import mdps, mdps_with_ties, probability_vectors


@st.composite
def mdp_and_policy(draw):
    mdp = draw(mdps())
    rows = [draw(probability_vectors(size=mdp.n_actions)) for _ in range(mdp.n_states)]
    return mdp, np.array(rows)


def _first_optimal(q: np.ndarray) -> np.ndarray:
    """Deterministic selection: the first action of each argmax set (ties within 1e-8)."""
    mask = argmax_mask(q)
    pi = np.zeros_like(q)
    pi[np.arange(q.shape[0]), np.argmax(mask, axis=1)] = 1.0
    return pi


# --- exact policy evaluation -----------------------------------------------------------------------


@PROPERTY
@given(mdp_and_policy())
def test_policy_value_matches_reference_solve_and_bellman_equation(case):
    mdp, pi = case
    v = policy_value(mdp, pi)
    np.testing.assert_allclose(v, evaluate(mdp.P, mdp.R, mdp.gamma, pi), atol=1e-10)
    q = policy_q(mdp, pi)
    # Bellman expectation equation: Q = R + gamma P (sum_a pi Q)
    np.testing.assert_allclose(
        q, mdp.R + mdp.gamma * mdp.expected_next((pi * q).sum(axis=1)), atol=1e-10
    )
    np.testing.assert_allclose((pi * q).sum(axis=1), v, atol=1e-10)


@PROPERTY
@given(mdp_and_policy())
def test_policy_value_matches_truncated_series(case):
    # V = sum_t gamma^t P_pi^t r_pi, truncated where gamma^T / (1 - gamma) < 1e-12
    mdp, pi = case
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    r_pi = (pi * mdp.R).sum(axis=1)
    v, term = np.zeros(mdp.n_states), r_pi.copy()
    for _ in range(800):
        v += term
        term = mdp.gamma * P_pi @ term
    np.testing.assert_allclose(policy_value(mdp, pi), v, atol=1e-9)


@PROPERTY
@given(mdps())
def test_greedy_policy_of_q_star_has_value_q_star(mdp):
    q_star = optimal_q(mdp)
    np.testing.assert_allclose(policy_q(mdp, _first_optimal(q_star)), q_star, atol=VI_ATOL)
    np.testing.assert_allclose(q_star, brute_force_q(mdp.P, mdp.R, mdp.gamma), atol=VI_ATOL)


def test_one_state_closed_form():
    mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), 0.5)
    assert policy_value(mdp, [[0.25, 0.75]])[0] == pytest.approx(0.25 / 0.5)
    np.testing.assert_allclose(policy_q(mdp, [[1.0, 0.0]]), [[2.0, 1.0]])


# --- prop-3.1: Prop 3.1, incomplete rewards ----------------------------------------------------


def _slacker_mdp(gamma: float) -> TabularMDP:
    """s0: a0 -> s1, a1 -> s2; s1, s2, s3 absorbing. R_train = 0: a0 and a1 tie at s0."""
    P = np.zeros((4, 2, 4))
    P[0, 0, 1] = P[0, 1, 2] = 1.0
    for s in (1, 2, 3):
        P[s, :, s] = 1.0
    return TabularMDP(P, np.zeros((4, 2)), gamma)


@pytest.mark.parametrize("gamma", [0.5, 0.9])
def test_prop_3_1_clever_slacker_construction(gamma):
    train = _slacker_mdp(gamma)
    r_missing = np.zeros((4, 2))
    r_missing[2] = 1.0  # the missing reward pays in s2, reached only through (s0, a1)
    true = train.with_reward(train.R + r_missing)
    pi_train = _first_optimal(optimal_q(train))
    assert pi_train[0].tolist() == [1.0, 0.0]  # the tie is broken toward a0
    # (2) the advantage of a1 at s0 under pi_train for R_missing is gamma/(1-gamma) > 0
    missing = train.with_reward(r_missing)
    adv = policy_q(missing, pi_train)[0, 1] - policy_value(missing, pi_train)[0]
    assert adv == pytest.approx(gamma / (1 - gamma), abs=1e-12)
    v_star = optimal_q(true).max(axis=1)
    v_pi = policy_value(true, pi_train)
    # (3) mu = delta_{s0} reaches s0: strict suboptimality, by exactly the advantage
    assert v_star[0] - v_pi[0] == pytest.approx(gamma / (1 - gamma), abs=VI_ATOL)
    assert v_star[0] - v_pi[0] >= incomplete_reward_regret_lower_bound(adv, 1.0) - VI_ATOL
    # mu = delta_{s3} never reaches s0: equality
    assert v_star[3] - v_pi[3] == pytest.approx(0.0, abs=VI_ATOL)
    # a mixture reaches s0 with probability 0.3
    mu = np.array([0.3, 0.0, 0.0, 0.7])
    assert mu @ (v_star - v_pi) == pytest.approx(0.3 * gamma / (1 - gamma), abs=VI_ATOL)


@st.composite
def slacker_case(draw):
    mdp, s0, _ = draw(mdps_with_ties())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c = draw(st.floats(1e-3, 1.0))
    noise = draw(st.sampled_from([0.0, 0.1]))
    mu = draw(probability_vectors(size=mdp.n_states, sparse=False))
    return mdp, s0, c, noise * rng.uniform(-1, 1, size=mdp.R.shape), mu


@PROPERTY
@given(slacker_case())
def test_prop_3_1_random_tied_mdps(case):
    train, s0, c, noise, mu = case
    q_train = optimal_q(train)
    tied = np.flatnonzero(argmax_mask(q_train[s0]))
    a1, a2 = tied[0], tied[1]
    pi_train = _first_optimal(q_train)
    assert pi_train[s0, a1] == 1.0
    r_missing = noise.copy()
    r_missing[s0, a2] += c
    missing = train.with_reward(r_missing)
    adv = policy_q(missing, pi_train)[s0, a2] - policy_value(missing, pi_train)[s0]
    assume(adv > 1e-3)
    true = train.with_reward(train.R + r_missing)
    regret = optimal_q(true).max(axis=1) - policy_value(true, pi_train)
    assert regret.min() >= -VI_ATOL  # V* >= V^pi everywhere
    assert regret[s0] >= adv - VI_ATOL  # strict at s0: pi_train is not optimal for R_true
    bound = incomplete_reward_regret_lower_bound(adv, mu[s0])
    assert mu @ regret >= bound - VI_ATOL
    assert bound > 0 if mu[s0] > 0 else bound == 0


# --- one test per bad input ------------------------------------------------------------------------


def _mdp() -> TabularMDP:
    return TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), 0.5)


def test_policy_of_wrong_shape_raises():
    with pytest.raises(ValueError, match=r"policy must have shape \(S, A\)"):
        policy_value(_mdp(), [[1 / 3, 1 / 3, 1 / 3]])


def test_policy_of_wrong_dimension_raises():
    with pytest.raises(ValueError, match="policy must have 2 dimension"):
        policy_value(_mdp(), [0.5, 0.5])


def test_policy_off_the_simplex_raises():
    with pytest.raises(ValueError, match="policy must sum to 1"):
        policy_q(_mdp(), [[0.5, 0.6]])


def test_negative_policy_raises():
    with pytest.raises(ValueError, match="policy must be non-negative"):
        policy_value(_mdp(), [[1.5, -0.5]])
