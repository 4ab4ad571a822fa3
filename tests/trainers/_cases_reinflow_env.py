"""Bad-input cases of trainers.reinflow_env (ReinFlow over episodes) and make_continuous_env."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

from tests._audit import Case, bad
from theory.continuous import lq_task
from trainers.continuous_envs import LQEnv, make_continuous_env, make_continuous_envs
from trainers.reinflow import FlowPolicy, ReinFlowConfig
from trainers.reinflow_env import (
    collect_demos,
    evaluate_flow,
    finetune_reinflow_env,
    lq_expert,
    pendulum_expert,
)

_TASK = lq_task(1.0, 1.0, 1.0, 0.5, gamma=0.9)
_CFG = ReinFlowConfig(hidden=4, iterations=1, envs_per_run=1, rollout_steps=2, minibatches=1)
_POL = FlowPolicy(1, 1, _CFG, [0])


def _lq():
    return LQEnv(_TASK, horizon=3)


class _NanReward(LQEnv):
    def step(self, action):
        obs, _, term, trunc, info = super().step(action)
        return obs, math.nan, term, trunc, info


def _discrete_obs():
    env = _lq()
    env.observation_space = gym.spaces.Discrete(3)
    return env


def _discrete():
    return gym.make("CartPole-v1")


EXEMPT = {
    "reinflow_env.EpisodicReinFlowResult": "result dataclass returned by finetune_reinflow_env",
}

CASES: list[Case] = [
    bad(lq_expert, "task", "type", "task"),
    bad(lq_expert, "gain_scale", "range", _TASK, gain_scale=0.0),
    bad(lq_expert, "std", "nan", _TASK, std=math.nan),
    bad(pendulum_expert, "pump", "range", pump=-1.0),
    bad(pendulum_expert, "catch", "range", catch=1.0),
    bad(pendulum_expert, "std", "range", std=-0.1),
    bad(collect_demos, "expert", "type", _lq, "expert"),
    bad(collect_demos, "episodes", "range", _lq, lq_expert(_TASK), episodes=0),
    bad(collect_demos, "env", "type", _lq(), lq_expert(_TASK)),
    bad(collect_demos, "env", "value", _discrete, lq_expert(_TASK)),
    bad(collect_demos, "expert", "nan", _lq, lambda o, r: np.full((1, 1), np.nan)),
    bad(evaluate_flow, "policy", "type", _lq, "policy"),
    bad(evaluate_flow, "episodes", "range", _lq, _POL, episodes=0),
    bad(evaluate_flow, "env", "shape", [_lq, _lq], _POL),
    bad(finetune_reinflow_env, "pretrained", "type", _lq, "p", _CFG),
    bad(finetune_reinflow_env, "config", "type", _lq, _POL, "cfg"),
    bad(finetune_reinflow_env, "seed", "seed", _lq, _POL, _CFG, seeds=[-1]),
    bad(finetune_reinflow_env, "hidden", "value", _lq, _POL, ReinFlowConfig(hidden=8)),
    bad(finetune_reinflow_env, "obs_dim", "shape", "Pendulum-v1", _POL, _CFG),
    bad(finetune_reinflow_env, "reward", "nan", lambda: _NanReward(_TASK), _POL, _CFG),
    bad(
        finetune_reinflow_env,
        "minibatches",
        "value",
        _lq,
        _POL,
        ReinFlowConfig(hidden=4, envs_per_run=1, rollout_steps=2, minibatches=3, batch_size=4),
    ),
    bad(evaluate_flow, "env", "value", _discrete_obs, _POL),
    bad(make_continuous_env, "env", "type", 3),
    bad(make_continuous_env, "env", "value", _discrete),
]

CASES += [
    bad(make_continuous_envs, "env", "empty", []),
    bad(make_continuous_envs, "env", "type", [_lq(), _lq()]),
    bad(make_continuous_envs, "env", "value", [_discrete_obs]),
    bad(make_continuous_envs, "env", "value", [_lq, "Pendulum-v1"]),
]
