"""Tests of :mod:`theory.actions`: argmax sets, action gaps, selections (Thm 2.7, Prop 2.10).

Claims 12 (quantitative Thm 2.7: no greedy flip below ``(1 - gamma) g / 2``) and 13 (near a tie
the optimal set only shrinks: upper hemicontinuity, Lemma 2.5).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.theory._reference import PROPERTY, brute_force_q
from theory import (
    TabularMDP,
    action_gap,
    argmax_mask,
    greedy_policy,
    greedy_stability_radius,
    optimal_actions,
    optimal_q,
    uniform_argmax_policy,
)
from theory.strategies import mdps, mdps_with_ties, reward_perturbations


def _bandit(rewards, gamma: float = 0.0) -> TabularMDP:
    r = np.asarray(rewards, dtype=float)
    return TabularMDP(np.ones((1, r.size, 1)), r[None, :], gamma)


# --- argmax sets and selections ----------------------------------------------------------------


def test_optimal_actions_docstring_example():
    np.testing.assert_array_equal(optimal_actions(_bandit([1.0, 1.0, 0.0])), [[True, True, False]])


def test_argmax_mask_uses_the_tolerance():
    q = np.array([1.0, 1.0 - 5e-9, 1.0 - 2e-8])
    np.testing.assert_array_equal(argmax_mask(q), [True, True, False])
    np.testing.assert_array_equal(argmax_mask(q, tol=1e-12), [True, False, False])
    np.testing.assert_array_equal(argmax_mask(q, tol=1e-7), [True, True, True])


def test_uniform_argmax_policy_hand_computed():
    q = np.array([[1.0, 1.0, 0.0, 1.0], [0.0, 2.0, 1.0, 0.0]])
    np.testing.assert_allclose(uniform_argmax_policy(q), [[1 / 3, 1 / 3, 0, 1 / 3], [0, 1, 0, 0]])


def test_greedy_policy_picks_the_first_maximizer():
    q = np.array([[0.0, 1.0, 1.0], [3.0, 2.0, 3.0]])
    np.testing.assert_array_equal(greedy_policy(q), [[0, 1, 0], [1, 0, 0]])
    assert greedy_policy(np.zeros((2, 5, 3))).shape == (2, 5, 3)


@PROPERTY
@given(mdps())
def test_optimal_actions_match_brute_force(mdp):
    q_ref = brute_force_q(mdp.P, mdp.R, mdp.gamma)
    expected = q_ref >= q_ref.max(axis=1, keepdims=True) - 1e-8
    # generic random MDPs have no entries within 1e-8 +- 1e-9 of the threshold
    near = np.abs(q_ref - (q_ref.max(axis=1, keepdims=True) - 1e-8)) < 1e-9
    assume(not near.any())
    np.testing.assert_array_equal(optimal_actions(mdp), expected)


@PROPERTY
@given(mdps_with_ties())
def test_planted_ties_are_found_with_their_size(case):
    mdp, state, m = case
    sets = optimal_actions(mdp)
    assert sets[state].sum() == m
    others = np.delete(sets.sum(axis=1), state)
    assert np.all(others == 1)
    assert action_gap(mdp) == 0.0
    pi = uniform_argmax_policy(optimal_q(mdp))
    np.testing.assert_allclose(pi[state][sets[state]], 1 / m)


# --- action gap --------------------------------------------------------------------------------


def test_action_gap_hand_computed():
    assert action_gap(_bandit([1.0, 0.25, -2.0])) == pytest.approx(0.75, abs=1e-12)
    # one state with a self-loop: Q*(a) = R(a) + gamma max R / (1 - gamma), the gap is unchanged
    assert action_gap(_bandit([1.0, 0.25], gamma=0.9)) == pytest.approx(0.75, abs=1e-9)


def test_action_gap_is_zero_at_a_tie_and_infinite_with_one_action():
    assert action_gap(_bandit([1.0, 1.0, 0.0])) == 0.0
    assert action_gap(_bandit([1.0, 1.0 + 5e-9])) == 0.0  # within the tie tolerance
    assert action_gap(_bandit([3.0])) == float("inf")


@PROPERTY
@given(mdps(min_actions=2))
def test_action_gap_matches_brute_force(mdp):
    q = np.sort(brute_force_q(mdp.P, mdp.R, mdp.gamma), axis=1)
    expected = float(np.min(q[:, -1] - q[:, -2]))
    assume(expected > 1e-6)
    assert action_gap(mdp) == pytest.approx(expected, abs=1e-8)


# --- greedy-radius: quantitative Thm 2.7 ------------------------------------------------------------


@st.composite
def gapped_mdp_and_direction(draw):
    mdp = draw(mdps(min_actions=2))
    unit = draw(reward_perturbations(shape=(mdp.n_states, mdp.n_actions), min_norm=1, max_norm=1))
    return mdp, unit


@PROPERTY
@given(gapped_mdp_and_direction())
def test_greedy_radius_thm_2_7_no_greedy_flip_inside_radius_random_mdps(case):
    mdp, unit = case
    g = action_gap(mdp)
    assume(g >= 1e-3)  # the perturbed gap is then >= 1e-6, far above the solver error
    radius = greedy_stability_radius(g, mdp.gamma)
    dR = 0.999 * radius * unit
    before = np.argmax(optimal_q(mdp), axis=1)
    after = np.argmax(optimal_q(mdp, rewards=mdp.R + dR), axis=1)
    np.testing.assert_array_equal(after, before)


def test_greedy_radius_zero_flips_in_3000_perturbations_at_0999_of_radius():
    rng = np.random.default_rng(2025)
    P = rng.dirichlet(np.ones(5), size=(5, 3))
    mdp = TabularMDP(P, rng.uniform(-1, 1, (5, 3)), 0.9)
    g = action_gap(mdp)
    assert g > 1e-2
    radius = greedy_stability_radius(g, 0.9)
    assert radius == pytest.approx(0.05 * g)
    # half vertices of the sup-norm ball (the most damaging directions), half dense noise
    signs = rng.choice([-1.0, 1.0], size=(1500, 5, 3))
    dense = rng.uniform(-1, 1, size=(1500, 5, 3))
    dense /= np.max(np.abs(dense), axis=(1, 2), keepdims=True)
    dR = 0.999 * radius * np.concatenate([signs, dense])
    assert np.max(np.abs(dR)) == pytest.approx(0.999 * radius)
    before = np.argmax(optimal_q(mdp), axis=1)
    after = np.argmax(optimal_q(mdp, rewards=mdp.R + dR), axis=-1)
    assert after.shape == (3000, 5)
    flips = int(np.sum(np.any(after != before, axis=1)))
    assert flips == 0


@pytest.mark.parametrize("factor", [0.999, 1.001])
def test_greedy_radius_radius_is_tight_for_bandits(factor):
    # gamma = 0, R = (1, 0): g = 1, radius 1/2; dR = (-r, +r) flips exactly when r > 1/2.
    mdp = _bandit([1.0, 0.0])
    r = factor * greedy_stability_radius(action_gap(mdp), 0.0)
    after = np.argmax(optimal_q(mdp, rewards=mdp.R + np.array([[-r, r]])), axis=1)
    assert after[0] == (0 if factor < 1 else 1)


# --- uhc: near a tie the optimal set only shrinks (u.h.c.) --------------------------------


def _suboptimal_gap(q: np.ndarray, sets: np.ndarray) -> float:
    """Smallest gap between max Q*(s, .) and the best strictly suboptimal action (inf if none)."""
    below = np.where(sets, -np.inf, q)
    gaps = q.max(axis=1) - below.max(axis=1)
    return float(np.min(gaps))


@st.composite
def tied_mdp_and_direction(draw):
    mdp, state, m = draw(mdps_with_ties())
    unit = draw(reward_perturbations(shape=(mdp.n_states, mdp.n_actions), min_norm=1, max_norm=1))
    return mdp, state, m, unit


@PROPERTY
@given(tied_mdp_and_direction())
def test_uhc_optimal_set_only_shrinks_near_a_tie(case):
    mdp, _, _, unit = case
    sets0 = optimal_actions(mdp)
    g_prime = _suboptimal_gap(optimal_q(mdp), sets0)
    norm = 1.0 if np.isinf(g_prime) else 0.999 * greedy_stability_radius(g_prime, mdp.gamma)
    sets1 = optimal_actions(mdp.with_reward(mdp.R + norm * unit))
    assert np.all(sets1 <= sets0)  # A*(s; R) is a subset of A*(s; R0): never gains an action
    assert np.all(sets1.sum(axis=1) >= 1)


def test_uhc_tie_shrinks_and_never_grows_on_a_bandit():
    mdp = _bandit([1.0, 1.0, 0.0], gamma=0.5)  # one state, self-loop: tie {0, 1}, g' = 1
    sets0 = optimal_actions(mdp)
    np.testing.assert_array_equal(sets0, [[True, True, False]])
    radius = greedy_stability_radius(1.0, 0.5)
    assert radius == 0.25
    shrink = optimal_actions(mdp.with_reward(mdp.R + np.array([[0.0, 0.2, 0.0]])))
    np.testing.assert_array_equal(shrink, [[False, True, False]])
    toward_third = optimal_actions(mdp.with_reward(mdp.R + np.array([[-0.24, -0.24, 0.24]])))
    np.testing.assert_array_equal(toward_third, [[True, True, False]])
    # at the radius itself (gamma = 0: half the gap) a new action can enter
    bandit = _bandit([1.0, 1.0, 0.0])
    grown = optimal_actions(bandit.with_reward(bandit.R + np.array([[-0.5, -0.5, 0.5]])))
    np.testing.assert_array_equal(grown, [[True, True, True]])


# --- one test per bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("tol", [0.0, -1e-8])
def test_non_positive_tie_tolerance_raises(tol):
    with pytest.raises(ValueError, match="tol"):
        argmax_mask(np.zeros(2), tol)
    with pytest.raises(ValueError, match="tol"):
        optimal_actions(_bandit([1.0, 0.0]), tol)
    with pytest.raises(ValueError, match="tol"):
        action_gap(_bandit([1.0, 0.0]), tol)


def test_nan_q_raises():
    with pytest.raises(ValueError, match="q must be finite"):
        greedy_policy(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="q must be finite"):
        uniform_argmax_policy(np.array([np.nan, 0.0]))
