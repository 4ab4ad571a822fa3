"""Rollouts of policies in gymnasium environments (trainers.rollout)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import bootstrap
from torch import nn

import theory
from trainers.dqn import QNetwork, evaluate_greedy
from trainers.envs import PixelGridEnv, TabularMDPEnv
from trainers.ppo import Agent, evaluate_policy
from trainers.rollout import evaluate_returns, rollout, visited_states

# Two states, deterministic moves: action a leads to state a; reward R[s, a] = s (1 in state 1).
P = np.zeros((2, 2, 2))
P[:, 0, 0] = P[:, 1, 1] = 1.0
R = np.array([[0.0, 0.0], [1.0, 1.0]])
MDP = theory.TabularMDP(P, R, 0.9)


def _fixed(probs):
    """A callable policy giving every observation the same action probabilities."""
    return lambda obs: np.tile(np.asarray(probs, dtype=float), (len(obs), 1))


def _from_state0(max_steps=5):
    return lambda: TabularMDPEnv(MDP, initial=np.array([1.0, 0.0]), max_steps=max_steps)


def _equal(a, b):
    for name in ("states", "actions", "rewards", "episode", "episode_returns",
                 "episode_lengths", "truncated", "seeds"):  # fmt: skip
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_known_returns_on_a_tabular_mdp():
    # always action 1: reward 0 on the first step (state 0), then 1 per step: 0 + 4 * 1 = 4
    r = rollout(_fixed([0.0, 1.0]), _from_state0(5), episodes=3)
    np.testing.assert_array_equal(r.episode_returns, [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(r.episode_lengths, [5, 5, 5])
    assert r.truncated.all() and (r.actions == 1).all()
    np.testing.assert_array_equal(r.states[:5], np.array([[1, 0]] + [[0, 1]] * 4, np.float32))
    # always action 0 stays in state 0: return 0
    assert rollout(_fixed([1.0, 0.0]), _from_state0(5), episodes=2).episode_returns.sum() == 0
    # a module: logits favour action 1 -> the same as the callable
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.copy_(torch.tensor([0.0, 1.0]))
    _equal(rollout(lin, _from_state0(5), episodes=3), r)


@pytest.mark.parametrize("greedy", [True, False])
def test_deterministic_per_seed_and_independent_of_num_envs(greedy):
    torch.manual_seed(0)
    agent = Agent(4, 2)
    a = rollout(agent, "CartPole-v1", episodes=5, seed=7, greedy=greedy)
    _equal(a, rollout(agent, "CartPole-v1", episodes=5, seed=7, greedy=greedy))
    _equal(a, rollout(agent, "CartPole-v1", episodes=5, seed=7, greedy=greedy, num_envs=3))
    _equal(a, rollout(agent, "CartPole-v1", episodes=5, seed=7, greedy=greedy, num_envs=8))
    b = rollout(agent, "CartPole-v1", episodes=5, seed=8, greedy=greedy)
    assert not np.array_equal(a.states[:3], b.states[:3])


@pytest.mark.parametrize("episodes, num_envs", [(1, 1), (7, 3), (4, 4), (2, 5)])
def test_exact_episode_counts(episodes, num_envs):
    r = rollout(_fixed([0.5, 0.5]), MDP, episodes=episodes, seed=3, num_envs=num_envs,
                greedy=False, max_steps=4)  # fmt: skip
    assert r.episode_returns.shape == r.episode_lengths.shape == (episodes,)
    np.testing.assert_array_equal(r.seeds, 3 + np.arange(episodes))
    np.testing.assert_array_equal(r.episode_lengths, np.full(episodes, 4))
    np.testing.assert_array_equal(r.episode, np.repeat(np.arange(episodes), 4))
    assert len(r.states) == len(r.actions) == len(r.rewards) == 4 * episodes
    np.testing.assert_array_equal(
        r.episode_returns, np.bincount(r.episode, weights=r.rewards, minlength=episodes)
    )
    # a reward of 1 exactly when the previous action was 1 (P, R above)
    np.testing.assert_array_equal(r.rewards, r.states[:, 1])


def test_agrees_with_the_trainers_own_evaluations():
    torch.manual_seed(1)
    agent = Agent(4, 2)
    np.testing.assert_array_equal(
        rollout(agent, "CartPole-v1", episodes=4, seed=2).episode_returns,
        evaluate_policy(agent, "CartPole-v1", 4, seed=2),
    )
    q = QNetwork((1, 12, 12), 4)
    np.testing.assert_array_equal(
        rollout(q, PixelGridEnv, episodes=4, seed=5, num_envs=2).episode_returns,
        evaluate_greedy(q, PixelGridEnv, 4, seed=5),
    )


@pytest.mark.parametrize("kind", ["callable", "module"])
def test_sampled_actions_follow_the_policy(kind):
    if kind == "callable":
        policy = _fixed([0.25, 0.75])
    else:  # softmax(0, log 3) = (1/4, 3/4)
        policy = nn.Linear(2, 2)
        with torch.no_grad():
            policy.weight.zero_()
            policy.bias.copy_(torch.tensor([0.0, float(np.log(3.0))]))
    r = rollout(policy, MDP, episodes=40, greedy=False, max_steps=50, num_envs=4)
    share = r.actions.mean()  # 2000 draws: sd sqrt(3/16 / 2000) ~ 0.0097
    assert abs(share - 0.75) < 4 * np.sqrt(0.1875 / r.actions.size)
    greedy = rollout(policy, MDP, episodes=2, max_steps=10)
    assert (greedy.actions == 1).all()


def test_max_steps_and_trivial_cartpole_policy():
    r = rollout(_fixed([1.0, 0.0]), "CartPole-v1", episodes=6, seed=0)  # always push left
    assert np.all(np.isfinite(r.episode_returns)) and not r.truncated.any()
    np.testing.assert_array_equal(r.episode_returns, r.episode_lengths)  # reward 1 per step
    assert 5 <= r.episode_lengths.min() and r.episode_lengths.max() < 30
    cut = rollout(_fixed([0.5, 0.5]), "CartPole-v1", episodes=6, greedy=False, max_steps=5)
    assert cut.episode_lengths.max() == 5
    np.testing.assert_array_equal(cut.truncated, cut.episode_lengths == 5)
    assert "6 episodes" in cut.summary()


def test_visited_states_are_the_rollout_states():
    torch.manual_seed(2)
    agent = Agent(4, 2)
    s = visited_states(agent, "CartPole-v1", episodes=2, seed=4, max_steps=30)
    r = rollout(agent, "CartPole-v1", episodes=2, seed=4, max_steps=30)
    np.testing.assert_array_equal(s, r.states)
    assert s.dtype == np.float32 and s.shape[1:] == (4,)


def test_evaluate_returns_interval():
    const = evaluate_returns(_fixed([0.0, 1.0]), _from_state0(5), episodes=4)
    assert const.mean == const.lo == const.hi == 4.0
    est = evaluate_returns(_fixed([0.5, 0.5]), MDP, episodes=30, greedy=False, max_steps=6,
                           confidence=0.9, n_resamples=4000)  # fmt: skip
    ref = rollout(_fixed([0.5, 0.5]), MDP, episodes=30, greedy=False, max_steps=6)
    np.testing.assert_array_equal(est.returns, ref.episode_returns)
    assert est.mean == pytest.approx(ref.episode_returns.mean())
    # a second implementation: scipy's percentile bootstrap (its own resamples)
    sp = bootstrap((est.returns,), np.mean, confidence_level=0.9, n_resamples=4000,
                   method="percentile", random_state=1).confidence_interval  # fmt: skip
    sd = est.returns.std() / np.sqrt(est.returns.size)
    assert abs(est.lo - sp.low) < 0.15 * sd and abs(est.hi - sp.high) < 0.15 * sd
    assert est.lo < est.mean < est.hi and "90% percentile bootstrap" in est.summary()


def test_bad_policies_refused_by_name():
    with pytest.raises(ValueError, match=r"policy .*sum"):
        rollout(_fixed([0.5, 0.6]), MDP, episodes=1, max_steps=2)
    with pytest.raises(ValueError, match=r"policy .*negative"):
        rollout(_fixed([1.5, -0.5]), MDP, episodes=1, max_steps=2)
    with pytest.raises(ValueError, match=r"policy must output \(1, 2\)"):
        rollout(nn.Linear(2, 3), MDP, episodes=1, max_steps=2)
    with pytest.raises(ValueError, match="policy does not take"):
        rollout(nn.Linear(5, 2), MDP, episodes=1, max_steps=2)
