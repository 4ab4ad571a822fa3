"""Tests of :mod:`theory.inverse`: inverse Bellman and cliff witnesses (Props 2.9, 2.10, 3.2).

Claims 9 (``Q*_{R_Q} = Q``), 10 (the uniform-argmax policy jumps by ``(m-1)/m`` for every eps)
and 11 (Prop 3.2: with ``eps' = eps/(1+gamma)`` the planted gap is exactly ``eps'``).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.theory._reference import PROPERTY, tied_mdp_arrays
from theory import (
    CliffWitness,
    TabularMDP,
    cliff_tv_jump,
    cliff_witness,
    greedy_policy,
    inverse_bellman,
    optimal_actions,
    optimal_q,
    reward_distance,
    uniform_argmax_policy,
)
from theory.strategies import mdps, mdps_with_ties

EPS_GRID = [1e-1, 1e-3, 1e-6]


def _tied_mdp(m: int, gamma: float = 0.9, seed: int = 0) -> tuple[TabularMDP, int, list[int]]:
    """4 states, 6 actions, an exact m-way tie at state 2 (independent construction)."""
    rng = np.random.default_rng(seed)
    tied = sorted(rng.choice(6, size=m, replace=False).tolist())
    P, R, _ = tied_mdp_arrays(rng, 4, 6, gamma, state=2, tied=tied)
    return TabularMDP(P, R, gamma), 2, tied


def _expected_delta(mdp: TabularMDP, state: int, action: int, eps: float) -> np.ndarray:
    """R_eps - R = eps 1{(s0, a2)} - gamma eps P(s0 | s, a): only max Q(s0) moves, by eps."""
    d = -mdp.gamma * eps * mdp.P[:, :, state]
    d[state, action] += eps
    return d


# --- inverse-bellman: inverse Bellman ------------------------------------------------------------------


@st.composite
def mdp_and_q(draw):
    mdp = draw(mdps())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    return mdp, rng.uniform(-scale, scale, size=(mdp.n_states, mdp.n_actions))


@PROPERTY
@given(mdp_and_q())
def test_inverse_bellman_recovers_q_random_mdps(case):
    mdp, Q = case
    R_Q = inverse_bellman(Q, mdp.P, mdp.gamma)
    explicit = Q - mdp.gamma * np.einsum("sat,t->sa", mdp.P, Q.max(axis=1))
    np.testing.assert_allclose(R_Q, explicit, atol=1e-14)
    q_back = optimal_q(mdp.with_reward(R_Q), tol=1e-12)
    assert np.max(np.abs(q_back - Q)) <= 1e-10


@PROPERTY
@given(mdps())
def test_inverse_bellman_of_optimal_q_is_the_reward(mdp):
    # R -> Q*_R -> R_{Q*} is the identity (the inverse of the forward map).
    R_back = inverse_bellman(optimal_q(mdp), mdp.P, mdp.gamma)
    np.testing.assert_allclose(R_back, mdp.R, atol=(1 + mdp.gamma) * 1e-10 + 1e-13)


def test_inverse_bellman_docstring_example():
    np.testing.assert_array_equal(
        inverse_bellman(np.array([[2.0, 1.0]]), np.ones((1, 2, 1)), 0.5), [[1.0, 0.0]]
    )


def test_inverse_bellman_accepts_a_batch():
    rng = np.random.default_rng(4)
    P = rng.dirichlet(np.ones(3), size=(3, 2))
    Q = rng.normal(size=(4, 3, 2))
    R = inverse_bellman(Q, P, 0.7)
    assert R.shape == (4, 3, 2)
    for i in range(4):
        np.testing.assert_allclose(R[i], inverse_bellman(Q[i], P, 0.7), atol=1e-15)
        q_back = optimal_q(TabularMDP(P, R[i], 0.7), tol=1e-12)
        np.testing.assert_allclose(q_back, Q[i], atol=1e-10)


# --- prop-2.10: Props 2.9 and 2.10, the cliff -----------------------------------------------------


@pytest.mark.parametrize("m", [2, 3, 5])
def test_prop_2_10_cliff_jump_is_constant_in_eps(m):
    mdp, s0, tied = _tied_mdp(m)
    np.testing.assert_array_equal(np.flatnonzero(optimal_actions(mdp)[s0]), tied)
    jumps = []
    for eps in EPS_GRID:
        w = cliff_witness(mdp, s0, eps)
        assert isinstance(w, CliffWitness)
        assert w.tied_actions == tuple(tied)
        assert (w.selected_action, w.target_action) == (tied[0], tied[1])
        assert w.unique  # A*(s0; R_eps) = {a2}
        assert w.reward_distance <= w.distance_bound == pytest.approx((1 + mdp.gamma) * eps)
        # [derived] only max Q(s0) moves, so in fact ||R_eps - R||_inf <= eps
        assert w.reward_distance <= eps * (1 + 1e-6)
        np.testing.assert_allclose(
            w.reward - mdp.R, _expected_delta(mdp, s0, tied[1], eps), atol=1e-9
        )
        assert w.expected_jump == cliff_tv_jump(m) == (m - 1) / m
        jumps.append(w.tv_jump)
    assert jumps == [pytest.approx((m - 1) / m, abs=1e-12)] * 3
    assert jumps[0] == jumps[1] == jumps[2]
    assert jumps[0] >= 0.5


def test_prop_2_10_cliff_jumps_are_one_half_two_thirds_four_fifths():
    jumps = [cliff_witness(*_tied_mdp(m)[:2], 1e-6).tv_jump for m in (2, 3, 5)]
    np.testing.assert_allclose(jumps, [1 / 2, 2 / 3, 0.8], atol=1e-12)


@pytest.mark.parametrize("eps", EPS_GRID)
def test_prop_2_10_prop_2_9_deterministic_selection_jumps(eps):
    # the first-maximizer selection picks a1 at R and a2 at R_eps: no continuity at R.
    mdp, s0, tied = _tied_mdp(3)
    w = cliff_witness(mdp, s0, eps)
    pi0 = greedy_policy(optimal_q(mdp))[s0]
    pi_eps = greedy_policy(optimal_q(mdp.with_reward(w.reward)))[s0]
    assert np.argmax(pi0) == tied[0] and np.argmax(pi_eps) == tied[1]
    assert np.abs(pi0 - pi_eps).sum() == 2.0


def test_prop_2_10_chosen_target_action():
    mdp, s0, tied = _tied_mdp(5)
    w = cliff_witness(mdp, s0, 1e-3, action=tied[-1])
    assert w.target_action == tied[-1] and w.unique
    assert np.flatnonzero(optimal_actions(mdp.with_reward(w.reward))[s0]).tolist() == [tied[-1]]


def test_prop_2_10_summary_is_one_line():
    w = cliff_witness(*_tied_mdp(2)[:2], 1e-3)
    assert "\n" not in w.summary() and "TV jump 0.5000 (expected 0.5000)" in w.summary()


def _measured_jump(mdp: TabularMDP, reward: np.ndarray, s0: int) -> float:
    """d_TV at s0 between the uniform-argmax policies at R and at ``reward``, measured here."""
    pi0 = uniform_argmax_policy(optimal_q(mdp))[s0]
    pi1 = uniform_argmax_policy(optimal_q(mdp.with_reward(reward)))[s0]
    return 0.5 * float(np.abs(pi0 - pi1).sum())


@pytest.mark.parametrize("m", [2, 3, 5])
@pytest.mark.parametrize("eps", EPS_GRID)
def test_prop_2_10_jump_measured_independently(m, eps):
    mdp, s0, _ = _tied_mdp(m)
    w = cliff_witness(mdp, s0, eps)
    assert _measured_jump(mdp, w.reward, s0) == pytest.approx((m - 1) / m, abs=1e-12)
    assert w.tv_jump == pytest.approx(_measured_jump(mdp, w.reward, s0), abs=1e-12)


def test_prop_3_2_near_tie_is_snapped_so_the_gap_is_exactly_eps():
    # Q*(a0) = 1 - 5e-9 is tied with Q*(a1) = 1 within the tolerance 1e-8; the witness treats
    # the two as equal, so the measured gap is eps, not eps + 5e-9.
    mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0 - 5e-9, 1.0]]), 0.0)
    w = cliff_witness(mdp, 0, 1e-3)
    assert w.tied_actions == (0, 1)
    assert w.gap == pytest.approx(1e-3, abs=1e-13)
    np.testing.assert_allclose(w.reward, [[1.0, 1.0 + 1e-3]], atol=1e-15)


@st.composite
def tie_and_eps(draw):
    mdp, state, m = draw(mdps_with_ties())
    return mdp, state, m, draw(st.floats(1e-6, 1e-1))


@PROPERTY
@given(tie_and_eps())
def test_prop_2_10_cliff_witness_random_tied_mdps(case):
    mdp, s0, m, eps = case
    w = cliff_witness(mdp, s0, eps)
    assert len(w.tied_actions) == m
    assert w.unique
    assert w.tv_jump == pytest.approx((m - 1) / m, abs=1e-12)
    assert _measured_jump(mdp, w.reward, s0) == pytest.approx((m - 1) / m, abs=1e-12)
    assert w.reward_distance <= (1 + mdp.gamma) * eps + 1e-9
    assert w.reward_distance == pytest.approx(reward_distance(w.reward, mdp.R))
    np.testing.assert_allclose(
        w.reward - mdp.R, _expected_delta(mdp, s0, w.target_action, eps), atol=1e-9
    )
    # every other state keeps its optimal set
    before, after = optimal_actions(mdp), optimal_actions(mdp.with_reward(w.reward))
    np.testing.assert_array_equal(np.delete(after, s0, axis=0), np.delete(before, s0, axis=0))


# --- prop-3.2: Prop 3.2, the tie-breaker ---------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("eps", EPS_GRID)
def test_prop_3_2_gap_is_exactly_eps_over_one_plus_gamma(gamma, eps):
    mdp, s0, tied = _tied_mdp(2, gamma=gamma)
    eps_prime = eps / (1 + gamma)
    w = cliff_witness(mdp, s0, eps_prime)
    assert w.reward_distance <= eps + 1e-12  # within the reward budget eps
    assert w.gap == pytest.approx(eps_prime, abs=1e-9)
    q = optimal_q(mdp.with_reward(w.reward))
    assert q[s0, tied[1]] - q[s0, tied[0]] == pytest.approx(eps_prime, abs=1e-9)
    assert q[s0, tied[1]] > q[s0, tied[0]]


@PROPERTY
@given(tie_and_eps())
def test_prop_3_2_random_tied_mdps(case):
    mdp, s0, _, eps = case
    eps_prime = eps / (1 + mdp.gamma)
    w = cliff_witness(mdp, s0, eps_prime)
    assert w.reward_distance <= eps + 1e-9
    assert w.gap == pytest.approx(eps_prime, abs=1e-9)


# --- one test per bad input ------------------------------------------------------------------------


def test_cliff_witness_without_a_tie_raises():
    mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), 0.5)
    with pytest.raises(ValueError, match="unique optimal action 0; a cliff witness needs a tie"):
        cliff_witness(mdp, 0, 1e-3)


@pytest.mark.parametrize("eps", [1e-8, 1e-9])
def test_cliff_witness_eps_not_above_tie_tolerance_raises(eps):
    mdp, s0, _ = _tied_mdp(2)
    with pytest.raises(ValueError, match="eps must exceed the tie tolerance"):
        cliff_witness(mdp, s0, eps)


@pytest.mark.parametrize("eps", [0.0, -1e-3])
def test_cliff_witness_non_positive_eps_raises(eps):
    mdp, s0, _ = _tied_mdp(2)
    with pytest.raises(ValueError, match="eps"):
        cliff_witness(mdp, s0, eps)


def test_cliff_witness_untied_action_raises():
    mdp, s0, tied = _tied_mdp(2)
    untied = next(a for a in range(6) if a not in tied)
    with pytest.raises(ValueError, match="action must be a tied action"):
        cliff_witness(mdp, s0, 1e-3, action=untied)


def test_cliff_witness_selected_action_as_target_raises():
    mdp, s0, tied = _tied_mdp(2)
    with pytest.raises(ValueError, match="action must be a tied action other than"):
        cliff_witness(mdp, s0, 1e-3, action=tied[0])


@pytest.mark.parametrize("state", [-1, 4, 1.5])
def test_cliff_witness_bad_state_raises(state):
    mdp, _, _ = _tied_mdp(2)
    with pytest.raises(ValueError, match="state must be an integer"):
        cliff_witness(mdp, state, 1e-3)


def test_inverse_bellman_one_dimensional_q_raises():
    with pytest.raises(ValueError, match="Q must have shape"):
        inverse_bellman(np.zeros(2), np.ones((1, 2, 1)), 0.5)


def test_inverse_bellman_q_not_matching_p_raises():
    with pytest.raises(ValueError, match="Q must have shape"):
        inverse_bellman(np.zeros((1, 3)), np.ones((1, 2, 1)), 0.5)


def test_inverse_bellman_bad_gamma_raises():
    with pytest.raises(ValueError, match="gamma"):
        inverse_bellman(np.zeros((1, 2)), np.ones((1, 2, 1)), 1.0)


def test_inverse_bellman_non_stochastic_p_raises():
    with pytest.raises(ValueError, match="P must be row-stochastic"):
        inverse_bellman(np.zeros((1, 2)), np.full((1, 2, 1), 0.5), 0.5)
