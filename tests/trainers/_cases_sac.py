"""Bad-input cases of trainers.sac and trainers.continuous_envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from tests._audit import Case, bad, bad_method, lazy
from theory.continuous import lq_task
from trainers.continuous_envs import LQEnv
from trainers.sac import (
    SACConfig,
    SACRunsResult,
    dsac_t_critic_loss,
    sac_actor_loss,
    sac_alpha_loss,
    sac_critic_loss,
    train_sac,
    train_sac_runs,
)

NAN = float("nan")
_TASK = lq_task(1.0, 1.0, 1.0, 1.0, gamma=0.9)
_T2 = torch.zeros(2)
_T3 = torch.zeros(3)


class _UnboundedEnv(gym.Env):
    """Box actions without finite bounds."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), 0.0, False, False, {}


class _NaNRewardEnv(_UnboundedEnv):
    """Finite bounds, but the reward is NaN."""

    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def step(self, action):
        return np.zeros(1, np.float32), float("nan"), False, False, {}


_TINY = SACConfig(total_timesteps=3, learning_starts=1, batch_size=2)


def _lq():
    return LQEnv(_TASK)


def _runs_result():
    """``run`` of a two-seed result (built when the case runs), with ``i`` out of range."""
    res = train_sac_runs(_lq, _TINY, seeds=[0, 1], progress=False)
    return (res, 2), {}


EXEMPT = {
    "sac.SACResult": "result dataclass returned by train_sac",
    "sac.SACRunsResult": "result dataclass returned by train_sac_runs (its run(i) is audited)",
}

CASES: list[Case] = [
    bad(SACConfig, "dsac_bias", "range", dsac_bias=-1.0),
    bad(SACConfig, "dsac_tau_b", "range", dsac_tau_b=0.0),
    bad(SACConfig, "features", "option", features="cnn"),
    bad(SACConfig, "dsac_t", "type", dsac_t=1),
    bad(SACConfig, "gamma", "range", gamma=1.0),
    bad(SACConfig, "tau", "range", tau=0.0),
    bad(SACConfig, "alpha", "range", alpha=-0.1),
    bad(SACConfig, "alpha", "nan", alpha=NAN),
    bad(SACConfig, "q_lr", "inf", q_lr=float("inf")),
    bad(SACConfig, "target_entropy", "nan", target_entropy=NAN),
    bad(SACConfig, "learning_starts", "range", total_timesteps=10, learning_starts=10),
    bad(SACConfig, "reward_scale", "range", reward_scale=0.0),
    bad(train_sac, "config", "type", lambda: LQEnv(_TASK), "cfg"),
    bad(train_sac, "env", "type", 3.0, _TINY),
    bad(train_sac, "env", "value", _UnboundedEnv, _TINY),
    bad(train_sac, "env", "value", lambda: gym.make("CartPole-v1"), _TINY),
    bad(train_sac, "reward", "nan", _NaNRewardEnv, _TINY),
    bad(train_sac, "seed", "seed", lambda: LQEnv(_TASK), _TINY, seed=-1),
    # train_sac_runs: repeated seeds are refused (a repeated seed repeats its run exactly)
    bad(train_sac_runs, "seeds", "empty", _lq, _TINY, seeds=[]),
    bad(train_sac_runs, "seeds", "value", _lq, _TINY, seeds=[3, 3]),
    bad(train_sac_runs, "seeds", "type", _lq, _TINY, seeds=5),
    bad(train_sac_runs, "seeds[1]", "seed", _lq, _TINY, seeds=[0, -1]),
    bad(train_sac_runs, "config", "type", _lq, "cfg", seeds=[0, 1]),
    bad(train_sac_runs, "env", "type", 3.0, _TINY, seeds=[0, 1]),
    bad(train_sac_runs, "env", "value", _UnboundedEnv, _TINY, seeds=[0, 1]),
    bad(train_sac_runs, "env", "value", LQEnv(_TASK), _TINY, seeds=[0, 1]),  # one instance
    bad(train_sac_runs, "reward", "nan", _NaNRewardEnv, _TINY, seeds=[0, 1]),
    lazy(SACRunsResult.run, "i", "range", _runs_result),
    bad(sac_critic_loss, "target", "shape", _T2, _T3),
    bad(sac_critic_loss, "q", "shape", torch.zeros(2, 2, 2), torch.zeros(2, 2, 2)),
    bad(sac_actor_loss, "alpha", "shape", torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(3)),
    bad(sac_alpha_loss, "log_alpha", "shape", torch.zeros(3), torch.zeros(2, 4), -1.0),
    bad(sac_critic_loss, "q", "type", [0.0], _T2),
    bad(sac_actor_loss, "q_min", "shape", _T2, _T3, 0.1),
    bad(sac_actor_loss, "alpha", "range", _T2, _T2, 0.0),
    bad(sac_alpha_loss, "log_alpha", "shape", _T2, _T2, -1.0),
    bad(sac_alpha_loss, "target_entropy", "nan", torch.tensor(0.0), _T2, NAN),
    bad(dsac_t_critic_loss, "sigma", "range", _T2, _T2, _T2, _T2, 1.0),
    bad(dsac_t_critic_loss, "y_z", "shape", _T2, torch.ones(2), _T2, _T3, 1.0),
    bad(dsac_t_critic_loss, "omega", "range", _T2, torch.ones(2), _T2, _T2, -1.0),
    bad(dsac_t_critic_loss, "bias", "range", _T2, torch.ones(2), _T2, _T2, 1.0, bias=-0.1),
    bad(dsac_t_critic_loss, "xi", "range", _T2, torch.ones(2), _T2, _T2, 1.0, xi=0.0),
    bad(dsac_t_critic_loss, "omega", "range", *[torch.ones(2, 2)] * 4, torch.tensor([1.0, 0.0])),
    bad(LQEnv, "task", "type", "task"),
    bad(LQEnv, "horizon", "range", _TASK, horizon=0),
    bad(LQEnv, "action_bound", "range", _TASK, action_bound=0.0),
    bad(LQEnv, "render_mode", "option", _TASK, render_mode="human"),
    bad(LQEnv, "action_bound", "inf", _TASK, action_bound=float("inf")),
    bad(LQEnv, "reward_noise", "range", _TASK, reward_noise=-1.0),
    bad(LQEnv, "reward_scale", "nan", _TASK, reward_scale=NAN),
    bad(LQEnv, "init_std", "range", _TASK, init_std=0.0),
    bad_method(LQEnv, "step", "action", "shape", ((_TASK,), {}), [0.0, 1.0]),
    bad_method(LQEnv, "step", "action", "nan", ((_TASK,), {}), [NAN]),
]
