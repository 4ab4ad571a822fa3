"""PPO on CartPole and on the tabular-MDP gymnasium environment."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import theory as T
from theory.generators import random_mdp
from trainers.envs import TabularMDPEnv, make_env
from trainers.ppo import PPOConfig, evaluate_policy, train_ppo


def test_ppo_cartpole_beats_random():
    res = train_ppo("CartPole-v1", PPOConfig(total_timesteps=8192), seed=0, progress=False)
    assert np.mean(res.episode_returns[-20:]) > 22 + 20  # a uniform policy averages about 22
    assert evaluate_policy(res.agent, "CartPole-v1", 3).mean() > 60
    assert res.metrics[-1]["charts/SPS"] > 0


def test_tabular_env_follows_the_mdp():
    mdp = random_mdp(np.random.default_rng(0), 4, 3, 0.9)
    env = TabularMDPEnv(mdp, max_steps=5)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=1)
    assert obs.sum() == 1 and obs[info["state"]] == 1
    s = info["state"]
    _, r, term, trunc, info = env.step(2)
    assert r == mdp.R[s, 2] and not term and not trunc
    assert mdp.P[s, 2, info["state"]] > 0


def test_ppo_tabular_mdp_beats_uniform():
    rng = np.random.default_rng(4)
    mdp = random_mdp(rng, 3, 3, 0.9)
    cfg = PPOConfig(total_timesteps=6144, gamma=0.9, learning_rate=3e-3, num_steps=64)
    res = train_ppo(lambda: TabularMDPEnv(mdp, max_steps=30), cfg, seed=0, progress=False)
    import torch

    with torch.no_grad():
        pi = torch.softmax(res.agent(torch.eye(3)).double(), -1).numpy()
    mu = np.full(3, 1 / 3)
    v_ppo = T.policy_value(mdp, pi) @ mu
    v_unif = T.policy_value(mdp, np.full((3, 3), 1 / 3)) @ mu
    v_star = T.optimal_q(mdp).max(-1) @ mu
    assert v_ppo - v_unif > 0.5 * (v_star - v_unif)


@pytest.mark.parametrize(
    "call",
    [
        lambda: PPOConfig(num_minibatches=3),
        lambda: PPOConfig(clip_coef=0.0),
        lambda: PPOConfig(num_envs=0),
        lambda: TabularMDPEnv("not an mdp"),
        lambda: TabularMDPEnv(random_mdp(np.random.default_rng(0), 2, 2, 0.5), max_steps=0),
        lambda: make_env(3),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()
