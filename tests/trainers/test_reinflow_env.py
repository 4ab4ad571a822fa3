"""ReinFlow over episodes (trainers.reinflow_env): experts, demonstrations, GAE fine-tuning."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from perturbation.continuous import lq_regret
from perturbation.reinflow import fitted_gains
from theory.continuous import lq_task, soft_lq_policy
from trainers.continuous_envs import LQEnv
from trainers.reinflow import ReinFlowConfig, pretrain_flow
from trainers.reinflow_env import (
    collect_demos,
    evaluate_flow,
    finetune_reinflow_env,
    lq_expert,
    pendulum_expert,
)

TASK = lq_task(1.0, 1.0, 1.0, 0.5, gamma=0.9, noise=0.01)
K_OPT = float(soft_lq_policy(TASK, 1.0).K[0, 0])
SMALL = ReinFlowConfig(
    hidden=16, bc_steps=100, iterations=2, envs_per_run=2, rollout_steps=5, minibatches=1
)


def _lq():
    return LQEnv(TASK, horizon=10)


class _ConstantReward(gym.Env):
    """Reward 1 every step, truncated after 3 steps (bootstrapping must not leak into rewards)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(1, np.float32), 1.0, False, self.t >= 3, {}


def test_lq_expert_is_the_scaled_optimal_gain():
    ex = lq_expert(TASK, gain_scale=0.5, std=1e-12)
    x = np.array([[1.0], [-2.0]])
    np.testing.assert_allclose(ex(x, np.random.default_rng(0))[:, 0], -0.5 * K_OPT * x[:, 0])


def test_pendulum_expert_swings_up():
    env, ex, rng = gym.make("Pendulum-v1"), pendulum_expert(std=0.0), np.random.default_rng(0)
    returns = []
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(ex(obs[None], rng)[0].astype(np.float32))
            total, done = total + r, term or trunc
        returns.append(total)
    assert max(returns) > -400 and np.mean(returns) > -400  # a random policy: about -1200


def test_collect_demos_records_every_step_deterministically():
    obs, acts = collect_demos(_lq, lq_expert(TASK), episodes=3, seed=4)
    assert obs.shape == (30, 1) and acts.shape == (30, 1)
    _, acts2 = collect_demos(_lq, lq_expert(TASK), episodes=3, seed=4)
    np.testing.assert_array_equal(acts, acts2)
    # the recorded action is the expert's: -K x + noise, so the residual is the noise
    resid = acts[:, 0] + K_OPT * obs[:, 0]
    assert 0.03 < resid.std() < 0.3


@pytest.fixture(scope="module")
def pretrained():
    demos = collect_demos(_lq, lq_expert(TASK, gain_scale=0.5), episodes=16, seed=0)
    return pretrain_flow(demos, SMALL, seed=0).policy


def test_paired_runs_share_draws_and_runs_are_independent(pretrained):
    same = finetune_reinflow_env(_lq, pretrained, SMALL, seeds=[3, 3])
    for a, b in zip(same.policy.parameters(), same.policy.parameters(), strict=True):
        torch.testing.assert_close(a[0], b[1], rtol=0, atol=0)
    one = finetune_reinflow_env(_lq, pretrained, SMALL, seeds=[3, 5])
    other = finetune_reinflow_env(_lq, pretrained, SMALL, seeds=[3, 7])
    for a, b in zip(one.policy.parameters(), other.policy.parameters(), strict=True):
        torch.testing.assert_close(a[0], b[0], rtol=0, atol=1e-12)
    assert not torch.equal(one.policy.noise.weights[0][1], other.policy.noise.weights[0][1])


def test_reported_rewards_exclude_the_truncation_bootstrap(pretrained):
    res = finetune_reinflow_env(_ConstantReward, pretrained, SMALL, seeds=[0])
    np.testing.assert_array_equal(res.step_rewards, 1.0)
    assert res.episode_returns[0] and set(res.episode_returns[0]) == {3.0}


def test_finetuning_moves_the_clone_toward_the_optimal_gain(pretrained):
    cfg = ReinFlowConfig(
        hidden=16, iterations=25, envs_per_run=4, rollout_steps=10, critic_warmup=2
    )
    probe = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None]

    before = fitted_gains(pretrained.with_runs([0], cfg), probe)[0]
    res = finetune_reinflow_env(_lq, pretrained, cfg, seeds=[0, 1])
    after = fitted_gains(res.policy, probe)
    task_args = {"A": 1.0, "B": 1.0, "Q": 1.0, "R": 0.5, "gamma": 0.9, "noise": 0.01}
    assert before < 0.8 * K_OPT  # the clone of a half-gain expert (0.5 K*) is suboptimal
    assert all(lq_regret(g, task_args) < lq_regret(before, task_args) for g in after)


def test_evaluate_flow_shapes_and_common_random_numbers(pretrained):
    pol = pretrained.with_runs([0, 0], SMALL)
    out = evaluate_flow(_lq, pol, episodes=2, seed=1)
    assert out.shape == (2, 2) and np.all(out < 0)
    np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.slow
def test_flow_clone_of_the_pendulum_expert_beats_a_random_policy():
    demos = collect_demos("Pendulum-v1", pendulum_expert(std=0.1), episodes=20, seed=0)
    cfg = ReinFlowConfig(hidden=64, bc_steps=2000, bc_batch_size=256, sigma_max=0.2)
    clone = pretrain_flow(demos, cfg, seed=0).policy
    returns = evaluate_flow("Pendulum-v1", clone, episodes=6, seed=1)
    assert returns.mean() > -600  # the expert: about -150; a random policy: about -1200
