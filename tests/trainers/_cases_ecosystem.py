"""Bad-input cases of trainers.loaders (SB3 zips, CleanRL agents) and trainers.rollout;
gathered by test_bad_input.py.

Among them: a zip that is not an SB3 model, a continuous-action model, a policy whose action
probabilities do not sum to 1 or whose module outputs the wrong number of actions, one Env
instance asked to serve several copies, a one-episode interval.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
from torch import nn

import theory
from tests._audit import Case, bad, lazy
from trainers.loaders import LoadedPolicy, Scale, cleanrl_policy, load_sb3_policy
from trainers.ppo import Agent
from trainers.rollout import evaluate_returns, rollout, visited_states

NAN, INF = float("nan"), float("inf")
DATA = Path(__file__).resolve().parents[1] / "data" / "sb3"
MDP = theory.TabularMDP(np.full((2, 2, 2), 0.5), np.array([[1.0, 0.0], [0.0, 1.0]]), 0.9)
_TMP = tempfile.TemporaryDirectory(prefix="trainers-ecosystem-audit-")


def _uniform(obs):
    return np.full((len(obs), 2), 0.5)


def _text_file():
    path = Path(_TMP.name) / "not_a_zip.zip"
    path.write_text("plain text")
    return (path,), {}


@functools.cache
def _loaded() -> LoadedPolicy:
    return load_sb3_policy(DATA / "dqn_cartpole.zip")


def _on_loaded(obs):
    """``LoadedPolicy.predict(loaded, obs)`` (the unbound method as the target)."""
    return lambda: ((_loaded(), obs), {})


EXEMPT: dict[str, str] = {
    "rollout.Rollout": "result dataclass returned by rollout; takes no user input",
    "rollout.ReturnEstimate": "result dataclass returned by evaluate_returns",
    "loaders.LoadedPolicy": "result dataclass returned by load_sb3_policy (predict audited)",
}

CASES: list[Case] = [
    # trainers.loaders.load_sb3_policy
    bad(load_sb3_policy, "path", "type", 3),
    lazy(load_sb3_policy, "path", "value", _text_file),
    bad(load_sb3_policy, "path", "value", DATA / "make_fixtures.py"),
    bad(load_sb3_policy, "action_space", "value", DATA / "ppo_pendulum_box.zip"),
    bad(load_sb3_policy, "device", "option", DATA / "dqn_cartpole.zip", device="tpu"),
    bad(load_sb3_policy, "fold_scaling", "type", DATA / "dqn_cartpole.zip", fold_scaling=1),
    # LoadedPolicy.predict (the policy built by the loader)
    lazy(LoadedPolicy.predict, "obs", "shape", _on_loaded(np.zeros((3, 5)))),
    lazy(LoadedPolicy.predict, "obs", "shape", _on_loaded(np.zeros(4))),
    lazy(LoadedPolicy.predict, "obs", "nan", _on_loaded(np.full((2, 4), NAN))),
    lazy(LoadedPolicy.predict, "obs", "type", _on_loaded(np.array([["a"] * 4]))),
    # trainers.loaders.Scale / cleanrl_policy
    bad(Scale, "divisor", "range", 0.0),
    bad(Scale, "divisor", "nan", NAN),
    bad(Scale, "divisor", "inf", INF),
    bad(cleanrl_policy, "agent", "type", "agent"),
    bad(cleanrl_policy, "agent", "value", nn.Linear(2, 2)),
    bad(cleanrl_policy, "pixel_divisor", "range", Agent(2, 2), pixel_divisor=-1.0),
    bad(cleanrl_policy, "pixel_divisor", "type", Agent(2, 2), pixel_divisor="255"),
    bad(cleanrl_policy, "example_obs", "shape", Agent(2, 2), example_obs=np.zeros(2)),
    bad(cleanrl_policy, "example_obs", "empty", Agent(2, 2), example_obs=np.zeros((0, 2))),
    bad(cleanrl_policy, "example_obs", "nan", Agent(2, 2), example_obs=np.full((1, 2), NAN)),
    # trainers.rollout.rollout / visited_states / evaluate_returns
    bad(rollout, "policy", "type", "policy", MDP),
    bad(rollout, "policy", "value", lambda o: np.full((len(o), 2), 0.6), MDP, max_steps=2),
    bad(rollout, "policy", "nan", lambda o: np.full((len(o), 2), NAN), MDP, max_steps=2),
    bad(rollout, "policy", "shape", lambda o: np.full((len(o), 3), 1 / 3), MDP, max_steps=2),
    bad(rollout, "policy", "shape", nn.Linear(2, 3), MDP, max_steps=2),
    bad(rollout, "policy", "shape", nn.Linear(4, 2), MDP, max_steps=2),
    bad(rollout, "env", "type", _uniform, 3),
    bad(rollout, "env", "value", _uniform, "NoSuchEnv-v0"),
    bad(rollout, "env", "value", _uniform, gym.make("CartPole-v1"), num_envs=2),
    bad(rollout, "episodes", "range", _uniform, MDP, episodes=0),
    bad(rollout, "episodes", "type", _uniform, MDP, episodes=2.5),
    bad(rollout, "seed", "seed", _uniform, MDP, seed=-1),
    bad(rollout, "num_envs", "range", _uniform, MDP, num_envs=0),
    bad(rollout, "greedy", "type", _uniform, MDP, greedy="yes"),
    bad(rollout, "max_steps", "range", _uniform, MDP, max_steps=0),
    bad(visited_states, "episodes", "range", _uniform, MDP, episodes=0),
    bad(visited_states, "policy", "type", 3, MDP),
    bad(evaluate_returns, "episodes", "range", _uniform, MDP, episodes=1),
    bad(evaluate_returns, "confidence", "range", _uniform, MDP, confidence=1.0),
    bad(evaluate_returns, "confidence", "nan", _uniform, MDP, confidence=NAN),
    bad(evaluate_returns, "n_resamples", "range", _uniform, MDP, n_resamples=0),
    bad(evaluate_returns, "seed", "seed", _uniform, MDP, seed=2**63),
]
