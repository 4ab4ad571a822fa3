"""Tests of :mod:`theory.generators`: seeded instances and the exact constructions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.theory._reference import CHEAP_PROPERTY, brute_force_q
from theory import (
    effective_reward,
    max_total_variation,
    optimal_actions,
    optimal_q,
    soft_optimal_policy,
    soft_policy_tv_bound,
)
from theory.generators import (
    bandit,
    conflicting_multi_reward_task,
    nonuniform_limit_mdp,
    planted_tie_mdp,
    random_mdp,
    random_transitions,
    tight_soft_construction,
)

SEEDS = st.integers(0, 2**32 - 1)


@CHEAP_PROPERTY
@given(SEEDS, st.integers(1, 5), st.integers(1, 4), st.sampled_from([0.0, 0.5, 1.0]))
def test_random_transitions_are_stochastic(seed, S, A, frac):
    P = random_transitions(np.random.default_rng(seed), S, A, deterministic_fraction=frac)
    assert P.shape == (S, A, S)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-12)
    if frac == 1.0:
        assert np.all(np.sort(P, axis=2)[..., -1] == 1.0)  # every row one-hot


def test_random_mdp_is_reproducible_from_its_seed():
    a = random_mdp(np.random.default_rng(5), 3, 2, 0.9, reward_scale=2.0)
    b = random_mdp(np.random.default_rng(5), 3, 2, 0.9, reward_scale=2.0)
    np.testing.assert_array_equal(a.P, b.P)
    np.testing.assert_array_equal(a.R, b.R)
    assert np.max(np.abs(a.R)) <= 2.0 and a.gamma == 0.9


@CHEAP_PROPERTY
@given(SEEDS, st.integers(1, 4), st.integers(2, 4), st.data())
def test_planted_tie_mdp_has_an_exact_m_way_tie(seed, S, A, data):
    m = data.draw(st.integers(2, A))
    mdp, state = planted_tie_mdp(np.random.default_rng(seed), S, A, m, 0.8)
    q = brute_force_q(mdp.P, mdp.R, mdp.gamma)
    tied = q >= q.max(axis=1, keepdims=True) - 1e-9
    assert tied[state].sum() == m
    assert np.all(np.delete(tied.sum(axis=1), state) == 1)


@pytest.mark.parametrize("m", [1, 4])
def test_planted_tie_size_out_of_range_raises(m):
    with pytest.raises(ValueError, match="m must be in"):
        planted_tie_mdp(np.random.default_rng(0), 2, 3, m, 0.5)


def test_bandit():
    b = bandit([1.0, 0.0, 1.0])
    assert (b.n_states, b.n_actions, b.gamma) == (1, 3, 0.0)
    np.testing.assert_array_equal(optimal_actions(b), [[True, False, True]])
    with pytest.raises(ValueError, match=r"rewards must have shape \(A,\)"):
        bandit([[1.0, 0.0]])


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9])
def test_tight_soft_construction_attains_prop_4_7(gamma):
    delta, alpha = 1e-4, 1.0
    mdp, dR = tight_soft_construction(gamma, delta)
    assert np.max(np.abs(dR)) == delta and np.all(mdp.R == 0)
    tv = max_total_variation(
        soft_optimal_policy(mdp, alpha), soft_optimal_policy(mdp, alpha, rewards=mdp.R + dR)
    )
    u = delta / (alpha * (1 - gamma))
    assert tv == pytest.approx(np.tanh(u) / 2, rel=1e-6)
    assert tv / soft_policy_tv_bound(delta, alpha, gamma) >= 0.9999


def test_tight_soft_construction_bad_delta_raises():
    with pytest.raises(ValueError, match="delta"):
        tight_soft_construction(0.5, 0.0)
    with pytest.raises(ValueError, match="gamma"):
        tight_soft_construction(1.0, 0.1)


@pytest.mark.parametrize("tau", [1.0, 0.1, 0.01])
def test_nonuniform_limit_mdp_ratio_is_two_at_gamma_one_half(tau):
    mdp, available = nonuniform_limit_mdp(0.5)
    assert available.sum(axis=1).tolist() == [2, 1, 2]
    pi = soft_optimal_policy(mdp, tau, available=available, tol=1e-12)
    assert pi[0, 1] / pi[0, 0] == pytest.approx(2.0, rel=1e-8)
    assert pi[1, 1] == 0.0  # the unavailable action gets probability zero


@CHEAP_PROPERTY
@given(SEEDS, st.integers(2, 3), st.integers(2, 3))
def test_conflicting_multi_reward_task_ties_at_boundary_states(seed, K, tie_size):
    task = conflicting_multi_reward_task(
        np.random.default_rng(seed), n_components=K, states_per_domain=2, tie_size=tie_size
    )
    w = task.weights
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    eff = task.effective_mdp
    np.testing.assert_allclose(eff.R, effective_reward(task.rewards, w))
    sets = optimal_actions(eff)
    counts = sets.sum(axis=1)
    assert all(counts[s] == tie_size for s in task.boundary_states)
    interior = [s for s in range(eff.n_states) if s not in task.boundary_states]
    assert np.all(counts[interior] == 1)
    for k, s in enumerate(task.boundary_states):
        j = (k + 1) % K
        assert w[s, k] == w[s, j] == 0.5
        # the two routed reward models disagree there: each prefers a different ordering
        assert np.max(np.abs(task.rewards[k, s] - task.rewards[j, s])) > 0


def test_conflicting_task_tiny_change_to_one_reward_model_flips_boundary_state():
    task = conflicting_multi_reward_task(np.random.default_rng(1), n_components=2)
    eff = task.effective_mdp
    s = task.boundary_states[0]
    tied = np.flatnonzero(optimal_actions(eff)[s])
    bump = np.zeros_like(task.rewards)
    bump[0, s, tied[1]] = 1e-6  # component 0 is routed to s with weight 1/2
    q = optimal_q(eff.with_reward(effective_reward(task.rewards + bump, task.weights)))
    assert np.flatnonzero(q[s] >= q[s].max() - 1e-8).tolist() == [tied[1]]


def test_conflicting_task_bad_sizes_raise():
    with pytest.raises(ValueError, match="n_components"):
        conflicting_multi_reward_task(np.random.default_rng(0), n_components=1)
    with pytest.raises(ValueError, match="tie_size"):
        conflicting_multi_reward_task(np.random.default_rng(0), n_actions=2, tie_size=3)
