"""Tests of :mod:`theory.effective_reward`: multi-reward RL (Xu 2025, §4).

Claim policy-cliff/lemma-4.2 (Lemma 4.2: ``||dR_eff||_inf <= max_k ||dR_k||_inf``, equality when all components move
together), Prop 4.3 (Q*_eff is 1/(1-gamma)-Lipschitz in ``||.||_N``), Prop 4.6 (ties of
``R_eff`` give cliffs under joint perturbations) and Prop 4.7 in ``||.||_N``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.theory._reference import CHEAP_PROPERTY, PROPERTY
from theory import (
    TabularMDP,
    cliff_witness,
    effective_reward,
    effective_reward_lipschitz_constant,
    max_total_variation,
    optimal_actions,
    optimal_q,
    q_lipschitz_bound,
    reward_distance,
    soft_optimal_policy,
    soft_policy_tv_bound,
)
from theory.strategies import mdps, mdps_with_ties, simplex_weights


@st.composite
def stacks(draw):
    """(R, R', w): two reward stacks (K, S, A) and simplex weights (S, K)."""
    K = draw(st.integers(1, 4))
    S = draw(st.integers(1, 6))
    A = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    R = rng.uniform(-1, 1, size=(K, S, A))
    scale = draw(st.sampled_from([1e-6, 1e-2, 1.0]))
    dR = scale * rng.uniform(-1, 1, size=(K, S, A))
    return R, R + dR, draw(simplex_weights(n_states=S, n_components=K))


def _norm_N(R1: np.ndarray, R2: np.ndarray) -> float:
    """``||R1 - R2||_N = max_k ||R1_k - R2_k||_inf`` (computed by hand)."""
    return float(max(np.max(np.abs(a - b)) for a, b in zip(R1, R2, strict=True)))


# --- the map itself --------------------------------------------------------------------------------


def test_docstring_example():
    R = np.stack([np.ones((2, 2)), np.zeros((2, 2))])
    np.testing.assert_allclose(
        effective_reward(R, np.array([[1.0, 0.0], [0.25, 0.75]])), [[1.0, 1.0], [0.25, 0.25]]
    )


@CHEAP_PROPERTY
@given(stacks())
def test_effective_reward_matches_explicit_sum(case):
    R, _, w = case
    K, S, A = R.shape
    expected = np.array(
        [[sum(w[s, k] * R[k, s, a] for k in range(K)) for a in range(A)] for s in range(S)]
    )
    np.testing.assert_allclose(effective_reward(R, w), expected, atol=1e-14)


def test_one_hot_router_selects_a_component():
    R = np.stack([np.full((3, 2), 1.0), np.full((3, 2), 2.0), np.full((3, 2), 3.0)])
    w = np.eye(3)[[2, 0, 1]]
    np.testing.assert_array_equal(effective_reward(R, w), [[3, 3], [1, 1], [2, 2]])


# --- lemma-4.2: Lemma 4.2 ---------------------------------------------------------------------------


@CHEAP_PROPERTY
@given(stacks())
def test_lemma_4_2_effective_reward_is_1_lipschitz(case):
    R1, R2, w = case
    lhs = reward_distance(effective_reward(R1, w), effective_reward(R2, w))
    rhs = reward_distance(R1, R2)  # on (K, S, A) stacks this is ||.||_N
    assert rhs == _norm_N(R1, R2)
    assert lhs <= rhs * (1 + 1e-12) + 1e-15
    assert effective_reward_lipschitz_constant(w) == pytest.approx(1.0, abs=1e-12)


@CHEAP_PROPERTY
@given(stacks(), st.floats(-1, 1))
def test_lemma_4_2_equality_when_all_components_move_together(case, c):
    # delta_k = delta for every k: dR_eff = sum_k w_k delta = delta, so the constant 1 is attained.
    R, _, w = case
    delta = np.random.default_rng(0).uniform(-1, 1, size=R.shape[1:]) * c
    lhs = reward_distance(effective_reward(R + delta, w), effective_reward(R, w))
    assert lhs == pytest.approx(float(np.max(np.abs(delta))), abs=1e-14)


@CHEAP_PROPERTY
@given(stacks(), st.integers(0, 2**32 - 1))
def test_lemma_4_2_unnormalized_weights_constant_is_sup_sum_abs(case, seed):
    # [derived] with real weights (TRL's reward_weights) the constant is max_s sum_k |w_k(s)|,
    # attained by delta_k(s, a) = sign(w_k(s)) c at the maximizing state.
    R, R2, _ = case
    K, S, _ = R.shape
    w = np.random.default_rng(seed).normal(size=(S, K))
    L = effective_reward_lipschitz_constant(w)
    assert L == pytest.approx(float(np.max(np.abs(w).sum(axis=1))))
    lhs = reward_distance(
        effective_reward(R, w, normalized=False), effective_reward(R2, w, normalized=False)
    )
    assert lhs <= L * reward_distance(R, R2) * (1 + 1e-12) + 1e-15
    s = int(np.argmax(np.abs(w).sum(axis=1)))
    worst = np.zeros_like(R)
    worst[:, s, :] = np.sign(w[s])[:, None] * 0.5
    attained = reward_distance(
        effective_reward(R + worst, w, normalized=False), effective_reward(R, w, normalized=False)
    )
    assert attained == pytest.approx(0.5 * L, rel=1e-12)


def test_lemma_4_2_component_with_zero_weight_cannot_move_its_state():
    # [derived] perturbing only R_j moves R_eff(s) by w_j(s) dR_j(s): nothing where w_j(s) = 0.
    R = np.zeros((2, 2, 3))
    w = np.array([[1.0, 0.0], [0.3, 0.7]])
    dR = np.zeros_like(R)
    dR[1] = 1.0
    d_eff = effective_reward(R + dR, w) - effective_reward(R, w)
    np.testing.assert_allclose(d_eff, [[0.0] * 3, [0.7] * 3], atol=1e-15)


# --- Prop 4.3: Q*_eff is 1/(1-gamma)-Lipschitz in ||.||_N ------------------------------------------


@st.composite
def multi_reward_mdp(draw):
    mdp = draw(mdps())
    K = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    R = rng.uniform(-1, 1, size=(K, mdp.n_states, mdp.n_actions))
    dR = draw(st.sampled_from([1e-3, 0.1, 1.0])) * rng.uniform(-1, 1, size=R.shape)
    w = draw(simplex_weights(n_states=mdp.n_states, n_components=K))
    return mdp, R, dR, w


@PROPERTY
@given(multi_reward_mdp())
def test_prop_4_3_effective_q_lipschitz_in_norm_N(case):
    mdp, R, dR, w = case
    q1 = optimal_q(mdp, rewards=effective_reward(R, w))
    q2 = optimal_q(mdp, rewards=effective_reward(R + dR, w))
    bound = q_lipschitz_bound(reward_distance(R + dR, R), mdp.gamma)
    assert np.max(np.abs(q1 - q2)) <= bound + 2e-10


@PROPERTY
@given(multi_reward_mdp(), st.sampled_from([0.1, 1.0]))
def test_prop_4_7_soft_policy_lipschitz_in_norm_N(case, alpha):
    mdp, R, dR, w = case
    pi1 = soft_optimal_policy(mdp, alpha, rewards=effective_reward(R, w))
    pi2 = soft_optimal_policy(mdp, alpha, rewards=effective_reward(R + dR, w))
    bound = soft_policy_tv_bound(reward_distance(R + dR, R), alpha, mdp.gamma)
    assert max_total_variation(pi1, pi2) <= bound + 2e-10 / alpha


# --- Prop 4.6: a tie in R_eff is a cliff for joint perturbations -----------------------------------


def _decompose(R_eff: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Components R_k with sum_k w_k(s) R_k(s, .) = R_eff: R_k = R_eff + Z_k - sum_j w_j Z_j."""
    K = w.shape[1]
    Z = rng.normal(size=(K, *R_eff.shape))
    return R_eff + Z - np.einsum("sk,ksa->sa", w, Z)


@st.composite
def tied_multi_reward(draw):
    mdp, state, m = draw(mdps_with_ties())
    K = draw(st.integers(1, 3))
    w = draw(simplex_weights(n_states=mdp.n_states, n_components=K))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return mdp, state, m, w, _decompose(np.asarray(mdp.R), w, rng), draw(st.floats(1e-6, 1e-1))


@PROPERTY
@given(tied_multi_reward())
def test_prop_4_6_joint_perturbation_breaks_effective_tie(case):
    mdp, s0, m, w, R, eps = case
    np.testing.assert_allclose(effective_reward(R, w), mdp.R, atol=1e-12)
    wit = cliff_witness(mdp, s0, eps)
    delta = wit.reward - mdp.R  # perturb every component by the same amount
    R_eps = R + delta
    # since sum_k w_k = 1, ||R_eps - R||_N = ||dR_eff||_inf <= (1 + gamma) eps
    assert reward_distance(R_eps, R) == pytest.approx(wit.reward_distance, rel=1e-12)
    assert reward_distance(R_eps, R) <= (1 + mdp.gamma) * eps + 1e-9
    eff_mdp = mdp.with_reward(effective_reward(R_eps, w))
    assert np.flatnonzero(optimal_actions(eff_mdp)[s0]).tolist() == [wit.target_action]
    assert wit.tv_jump == pytest.approx((m - 1) / m, abs=1e-12)


def test_prop_4_6_conflicting_components_tie_and_flip():
    # Two reward models disagree at a boundary state routed 1/2 - 1/2: R_eff ties there.
    P = np.ones((1, 2, 1))
    R = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # R_1 prefers a0, R_2 prefers a1
    w = np.array([[0.5, 0.5]])
    mdp = TabularMDP(P, effective_reward(R, w), 0.0)
    np.testing.assert_array_equal(optimal_actions(mdp), [[True, True]])
    for eps in (1e-1, 1e-3, 1e-6):
        bump = np.zeros_like(R)
        bump[1, 0, 1] = eps  # a tiny change to one reward model only
        sets = optimal_actions(mdp.with_reward(effective_reward(R + bump, w)))
        np.testing.assert_array_equal(sets, [[False, True]])
        assert reward_distance(R + bump, R) == pytest.approx(eps, rel=1e-12)


# --- one test per bad input --------------------------------------------------------------------


def test_weights_off_the_simplex_raise():
    with pytest.raises(ValueError, match="weights must sum to 1"):
        effective_reward(np.zeros((2, 1, 1)), np.array([[0.5, 0.4]]))


def test_negative_weights_raise():
    with pytest.raises(ValueError, match="weights must be non-negative"):
        effective_reward(np.zeros((2, 1, 1)), np.array([[1.5, -0.5]]))


def test_unnormalized_weights_are_accepted_when_asked():
    out = effective_reward(np.ones((2, 1, 1)), np.array([[1.5, -0.25]]), normalized=False)
    np.testing.assert_allclose(out, [[1.25]])


def test_weights_of_wrong_shape_raise():
    with pytest.raises(ValueError, match=r"weights must have shape \(S, K\)"):
        effective_reward(np.zeros((2, 3, 1)), np.full((2, 3), 1 / 3))


def test_rewards_of_wrong_dimension_raise():
    with pytest.raises(ValueError, match="rewards must have 3 dimension"):
        effective_reward(np.zeros((3, 1)), np.ones((3, 1)))


def test_nan_weights_raise():
    with pytest.raises(ValueError, match="weights must be finite"):
        effective_reward(np.zeros((1, 1, 1)), np.array([[np.nan]]))
