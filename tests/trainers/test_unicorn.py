"""Tests of trainers.unicorn: the candidate Q-network, double DQN over legal candidates,
seeded stacked runs, and a trained policy beating the random one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainers.crs_graph import ConversationalRecEnv, CRSRewards, synthetic_catalogue
from trainers.unicorn import (
    CandidateQNetwork,
    UnicornConfig,
    evaluate_unicorn,
    greedy_actions,
    train_unicorn,
)

TINY = UnicornConfig(total_steps=40, learning_starts=20, batch_size=8)


@pytest.fixture(scope="module")
def env():
    return ConversationalRecEnv(synthetic_catalogue(seed=0))


def test_dueling_head_adds_state_value():
    torch.manual_seed(0)
    net = CandidateQNetwork(11, 5, hidden=4)
    x = torch.randn(3, 7, 11)
    adv = net.advantage(x).squeeze(-1)
    val = net.value(x[:, 0, :5])
    torch.testing.assert_close(net(x), val + adv)
    assert CandidateQNetwork(11, 5, dueling=False)(x).shape == (3, 7)


def test_runs_are_seeded_and_paired_runs_share_a_seed(env):
    a = train_unicorn(env, TINY, seeds=[3, 4])
    b = train_unicorn(env, TINY, seeds=[3, 4])
    assert a.episode_returns == b.episode_returns
    for k, v in a.q_net.state_dict().items():
        torch.testing.assert_close(v, b.q_net.state_dict()[k])
    # same seed, same env: identical paired runs; a perturbed reward changes only its run
    envs = [env, env, ConversationalRecEnv(env.catalogue, rewards=CRSRewards(rec_fail=-0.12))]
    c = train_unicorn(envs, TINY, seeds=[3, 3, 3])
    assert c.episode_returns[0] == c.episode_returns[1]
    assert "UNICORN" in c.summary()


def test_greedy_actions_are_legal(env):
    res = train_unicorn(env, TINY, seeds=[0, 1])
    obs, masks = [], []
    for k in range(5):
        o, info = env.reset(seed=k)
        obs.append(o)
        masks.append(info["action_mask"])
    acts = greedy_actions(res, np.stack(obs), np.stack(masks))
    assert acts.shape == (2, 5)
    assert all(masks[j][acts[i, j]] for i in range(2) for j in range(5))


def test_random_evaluation_matches_a_hand_loop(env):
    res = train_unicorn(env, TINY, seeds=[0])
    ev = evaluate_unicorn(res, env, 5, seed=0, epsilon=1.0)
    assert 0.0 <= ev["success"][0] <= 1.0 and 1.0 <= ev["turns"][0] <= env.max_turns


@pytest.mark.slow
def test_trained_policy_beats_random(env):
    """Seeded: 2 runs x 1500 steps; greedy success exceeds the random policy's by 0.1."""
    res = train_unicorn(env, UnicornConfig(total_steps=1500), seeds=[0, 1])
    greedy = evaluate_unicorn(res, env, 100, seed=1000)
    rand = evaluate_unicorn(res, env, 100, seed=1000, epsilon=1.0)
    assert greedy["success"].mean() >= rand["success"].mean() + 0.1
    assert greedy["return"].mean() > rand["return"].mean()
