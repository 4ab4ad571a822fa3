"""Tests of :mod:`theory.shaping`: invariances the sup norm ignores (claim policy-cliff/shaping-invariance).

``R + c`` and ``R + gamma P Phi - Phi`` leave the argmax sets and the soft-optimal policy
unchanged (Ng, Harada & Russell 1999): Q* and the soft Q shift by ``c/(1-gamma)`` and by
``-Phi(s)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.theory._reference import PROPERTY, VI_ATOL
from theory import (
    TabularMDP,
    max_total_variation,
    optimal_actions,
    optimal_q,
    potential_shaping,
    reward_distance,
    soft_optimal_policy,
    soft_optimal_q,
    soft_policy_tv_bound,
)
from theory.strategies import mdps, mdps_with_ties


@st.composite
def mdp_potential_shift(draw, tied: bool = False):
    mdp = draw(mdps_with_ties())[0] if tied else draw(mdps())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    phi = rng.uniform(-5, 5, size=mdp.n_states)
    return mdp, phi, draw(st.floats(-3, 3)), draw(st.sampled_from([0.1, 1.0]))


def test_shaping_term_hand_computed():
    P = np.zeros((2, 1, 2))
    P[0, 0, 1] = P[1, 0, 1] = 1.0  # 0 -> 1 -> 1
    mdp = TabularMDP(P, np.zeros((2, 1)), 0.5)
    np.testing.assert_allclose(potential_shaping(mdp, [2.0, 4.0]), [[0.5 * 4 - 2], [0.5 * 4 - 4]])


@PROPERTY
@given(mdp_potential_shift())
def test_shaping_invariance_shaping_shifts_q_star_by_minus_phi(case):
    mdp, phi, _, alpha = case
    shaped = mdp.with_reward(mdp.R + potential_shaping(mdp, phi))
    np.testing.assert_allclose(optimal_q(shaped), optimal_q(mdp) - phi[:, None], atol=VI_ATOL)
    np.testing.assert_allclose(
        soft_optimal_q(shaped, alpha), soft_optimal_q(mdp, alpha) - phi[:, None], atol=VI_ATOL
    )


@PROPERTY
@given(mdp_potential_shift())
def test_shaping_invariance_soft_policy_invariant_to_shaping_and_shift(case):
    mdp, phi, c, alpha = case
    tol = 1e-11  # above float64's round-off allowance 4 eps max|Q| / (1 - gamma) here
    pi = soft_optimal_policy(mdp, alpha, tol=tol)
    shaped = soft_optimal_policy(mdp, alpha, rewards=mdp.R + potential_shaping(mdp, phi), tol=tol)
    shifted = soft_optimal_policy(mdp, alpha, rewards=mdp.R + c, tol=tol)
    # the logits are off by at most 2 tol / alpha each way
    assert max_total_variation(pi, shaped) <= 100 * tol / alpha
    assert max_total_variation(pi, shifted) <= 100 * tol / alpha


@PROPERTY
@given(mdp_potential_shift(tied=True))
def test_shaping_invariance_argmax_sets_invariant_including_ties(case):
    mdp, phi, c, _ = case
    sets = optimal_actions(mdp)
    shaped = mdp.with_reward(mdp.R + potential_shaping(mdp, phi))
    np.testing.assert_array_equal(optimal_actions(shaped), sets)
    np.testing.assert_array_equal(optimal_actions(mdp.with_reward(mdp.R + c)), sets)


@PROPERTY
@given(mdp_potential_shift())
def test_shaping_invariance_constant_shift_moves_q_by_c_over_one_minus_gamma(case):
    mdp, _, c, alpha = case
    np.testing.assert_allclose(
        optimal_q(mdp, rewards=mdp.R + c) - optimal_q(mdp), c / (1 - mdp.gamma), atol=VI_ATOL
    )
    np.testing.assert_allclose(
        soft_optimal_q(mdp, alpha, rewards=mdp.R + c) - soft_optimal_q(mdp, alpha),
        c / (1 - mdp.gamma),
        atol=VI_ATOL,
    )


def test_shaping_invariance_large_shaping_changes_nothing_so_the_sup_norm_bound_is_loose():
    rng = np.random.default_rng(7)
    mdp = TabularMDP(rng.dirichlet(np.ones(4), size=(4, 3)), rng.uniform(-1, 1, (4, 3)), 0.9)
    phi = np.array([5.0, -5.0, 2.0, 0.0])
    dR = potential_shaping(mdp, phi)
    assert reward_distance(mdp.R + dR, mdp.R) > 5.0
    tv = max_total_variation(
        soft_optimal_policy(mdp, 0.5, tol=1e-12),
        soft_optimal_policy(mdp, 0.5, rewards=mdp.R + dR, tol=1e-12),
    )
    assert tv <= 1e-10
    assert soft_policy_tv_bound(reward_distance(mdp.R + dR, mdp.R), 0.5, 0.9) > 50.0


def test_potential_of_wrong_shape_raises():
    mdp = TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), 0.5)
    with pytest.raises(ValueError, match=r"potential must have shape \(S,\)"):
        potential_shaping(mdp, [1.0, 2.0])


def test_non_finite_potential_raises():
    mdp = TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), 0.5)
    with pytest.raises(ValueError, match="potential must be finite"):
        potential_shaping(mdp, [np.inf])
