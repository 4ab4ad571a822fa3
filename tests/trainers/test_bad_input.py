"""Bad-input audit of :mod:`trainers`: every public name refuses bad input by name.

Each case feeds one kind of bad input (NaN, inf, wrong shape, empty, out of range, wrong type,
bad seed, unknown option, bad value) and asserts a ValueError/TypeError whose message names
the parameter. Among them the silent-wrong results this audit was written against: configs
that accepted ``clip_high=-0.5``, ``init_std=inf``, ``steps=True``, ``lr=inf`` or
``ent_coef=nan``; ``train_bandit_runs(seeds=[1.5])`` (silently seed 1); ``train_dpo`` on a
pair with ``chosen == rejected``; ``DQNConfig(learning_starts > total_timesteps)`` and
``PPOConfig(total_timesteps < num_envs * num_steps)`` (runs without a single update or with a
rollout longer than the budget); tasks with NaN features or zero contexts; and
``TabularMDPEnv.step(7)`` / ``PixelGridEnv.step(9)``, which ended in an IndexError.
Checkpoint loading refuses corrupt, tampered and malicious files (no code runs).

Every case fails before any training starts, so the table runs in seconds.
"""

from __future__ import annotations

import functools
import json
import math
import pickle
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import theory
import trainers
from tests._audit import Case, audit_ids, bad, bad_method, gather, lazy
from trainers import (
    ContextualBandit,
    DPOConfig,
    DQNConfig,
    PGConfig,
    PixelGridEnv,
    PPOConfig,
    SoftQConfig,
    StackedModule,
    SupervisedConfig,
    TabularMDPEnv,
    load_checkpoint,
    multi_reward_bandit,
    save_checkpoint,
    train_bandit,
    train_bandit_runs,
    train_bc,
    train_bc_runs,
    train_classifier,
    train_classifier_runs,
    train_dpo,
    train_dqn,
    train_ppo,
    train_soft_q,
)
from trainers import losses as L
from trainers import runtime as RT
from trainers.batched import StackedMLP, clip_grad_norm_per_run
from trainers.dpo import preference_pairs
from trainers.dqn import QNetwork, evaluate_greedy
from trainers.envs import build_env, make_env
from trainers.policy_gradient import make_policy
from trainers.ppo import Agent, evaluate_policy
from trainers.soft_q import SoftQResult
from trainers.supervised import SupervisedResult, make_mlp
from trainers.tasks import MultiRewardBandit, verifiable_bandit

EXEMPT = {
    "LoadedPolicy": "result dataclass returned by load_sb3_policy; takes no user input",
    "PGResult": "result dataclass returned by train_bandit_runs; takes no user input",
    "dpo.DPOResult": "result dataclass returned by train_dpo; takes no user input",
    "dqn.DQNResult": "result dataclass returned by train_dqn; takes no user input",
    "ppo.PPOResult": "result dataclass returned by train_ppo; takes no user input",
    "soft_q.SoftQResult": "result dataclass returned by train_soft_q; takes no user input",
    "supervised.SupervisedResult": "result dataclass returned by train_bc/train_classifier",
}

NAN, INF = float("nan"), float("inf")
R = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])  # 2 contexts x 3 arms
REF = np.full((2, 3), 1 / 3)
TASK = ContextualBandit.tabular(R)
MDP = theory.TabularMDP(np.full((2, 2, 2), 0.5), np.array([[1.0, 0.0], [0.0, 1.0]]), 0.9)
PG1 = PGConfig(steps=1)
PAIRS = (np.array([0, 1]), np.array([0, 1]), np.array([1, 2]))
X = np.random.default_rng(0).normal(size=(6, 2))
Y = np.array([0, 1, 0, 1, 0, 1])
SMALL_DQN = DQNConfig(total_timesteps=20, learning_starts=10)
SMALL_PPO = PPOConfig(total_timesteps=8, num_envs=1, num_steps=8, num_minibatches=1)
SMALL_SQ = SoftQConfig(total_timesteps=20, learning_starts=10)
LIN = nn.Linear(2, 3)
STACK = (([nn.Linear(2, 3), nn.Linear(2, 3)],), {})
_TMP = tempfile.TemporaryDirectory(prefix="trainers-audit-")
T2, T3 = torch.zeros(2), torch.zeros(3)
ROLL = torch.zeros(4, 2)  # a rollout of 4 steps x 2 envs
MRB = multi_reward_bandit(np.random.default_rng(0))
MRB_ARGS = (MRB.components, MRB.weights, MRB.boundary, MRB.tie_size)


def _gae(**over):
    """gae's arguments for a (4, 2) rollout, with ``over`` replacing some."""
    kw = {
        "rewards": ROLL,
        "values": ROLL,
        "dones": ROLL,
        "next_value": torch.zeros(2),
        "next_done": torch.zeros(2),
        "gamma": 0.9,
        "lam": 0.95,
    }
    return {**kw, **over}


@functools.cache
def _clf():
    """A one-step classifier result (for the result methods' cases)."""
    return train_classifier(X, Y, SupervisedConfig(steps=1, hidden=(3,)))


@functools.cache
def _sq():
    """A tiny soft-Q result on the two-state MDP."""
    return train_soft_q(MDP, SMALL_SQ, progress=False)


def _on(result, *args):
    """Lazy arguments ``(result(), *args)`` for a result method's case."""
    return lambda: ((result(), *args), {})


def _no_grad_params():
    return (([torch.zeros(2, 3)], 1.0), {})


def _mixed_runs():
    a, b = torch.zeros(2, 3, requires_grad=True), torch.zeros(3, 3, requires_grad=True)
    (a.sum() + b.sum()).backward()
    return ([a, b], 1.0), {}


def _ckpt(name: str, *, config: object = None, pt: object = None, raw: bytes | None = None):
    """A checkpoint ``name`` in the temporary folder with the given JSON payload / .pt content."""
    base = Path(_TMP.name) / name

    def build():
        save_checkpoint(base, {"w": torch.zeros(2)}, PG1)
        if config is not None:
            base.with_suffix(".json").write_text(
                config if isinstance(config, str) else json.dumps(config)
            )
        if pt is not None:
            torch.save(pt, base.with_suffix(".pt"))
        if raw is not None:
            base.with_suffix(".pt").write_bytes(raw)
        return (base, PGConfig), {}

    return build


class _Payload:
    """A pickle that would run code when loaded (here: write a marker file)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "executed"))


_GEN = torch.Generator().manual_seed(0)

CASES: list[Case] = [
    # ContextualBandit (and its classmethod / method)
    bad(ContextualBandit, "rewards", "nan", np.full((2, 3), NAN), REF, np.eye(2)),
    bad(ContextualBandit, "rewards", "inf", np.full((2, 3), INF), REF, np.eye(2)),
    bad(ContextualBandit, "rewards", "shape", np.zeros(3), REF, np.eye(2)),
    bad(ContextualBandit, "rewards", "empty", np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 1))),
    bad(ContextualBandit, "rewards", "range", np.zeros((2, 1)), np.ones((2, 1)), np.eye(2)),
    bad(ContextualBandit, "rewards", "type", "abc", REF, np.eye(2)),
    bad(ContextualBandit, "reference", "value", R, np.full((2, 3), 0.5), np.eye(2)),
    bad(ContextualBandit, "reference", "value", R, np.array([[1.5, -0.5, 0]] * 2), np.eye(2)),
    bad(ContextualBandit, "reference", "nan", R, np.full((2, 3), NAN), np.eye(2)),
    bad(ContextualBandit, "reference", "shape", R, np.full(3, 1 / 3), np.eye(2)),
    bad(ContextualBandit, "features", "nan", R, REF, np.full((2, 2), NAN)),
    bad(ContextualBandit, "features", "shape", R, REF, np.eye(3)),
    bad(ContextualBandit, "features", "empty", R, REF, np.zeros((2, 0))),
    bad(ContextualBandit, "tie_contexts", "range", R, REF, np.eye(2), (5,)),
    bad(ContextualBandit, "tie_contexts", "type", R, REF, np.eye(2), (0.5,)),
    bad(ContextualBandit.tabular, "rewards", "nan", [NAN, 1.0]),
    bad(ContextualBandit.tabular, "rewards", "shape", np.zeros((2, 2, 2))),
    bad(ContextualBandit.tabular, "reference", "value", R, [0.5, 0.5, 0.5]),
    bad(ContextualBandit.tabular, "reference", "shape", R, [0.5, 0.5]),
    bad_method(ContextualBandit, "closed_form", "beta", "range", ((R, REF, np.eye(2)), {}), 0.0),
    bad_method(ContextualBandit, "closed_form", "beta", "nan", ((R, REF, np.eye(2)), {}), NAN),
    bad_method(
        ContextualBandit, "closed_form", "rewards", "shape", ((R, REF, np.eye(2)), {}), 1.0, R[0]
    ),
    # multi_reward_bandit
    bad(multi_reward_bandit, "rng", "seed", 0),
    bad(multi_reward_bandit, "n_components", "range", np.random.default_rng(0), n_components=1),
    bad(multi_reward_bandit, "n_actions", "type", np.random.default_rng(0), n_actions=True),
    bad(multi_reward_bandit, "tie_size", "range", np.random.default_rng(0), tie_size=4),
    bad(
        multi_reward_bandit,
        "contexts_per_domain",
        "range",
        np.random.default_rng(0),
        contexts_per_domain=0,
    ),
    bad(multi_reward_bandit, "conflict", "nan", np.random.default_rng(0), conflict=NAN),
    # PGConfig: every field checked for type, finiteness and range
    bad(PGConfig, "PGConfig.clip_high", "range", clip_high=-0.5),
    bad(PGConfig, "PGConfig.init_std", "inf", init_std=INF),
    bad(PGConfig, "PGConfig.steps", "type", steps=True),
    bad(PGConfig, "PGConfig.steps", "type", steps=2.5),
    bad(PGConfig, "PGConfig.steps", "range", steps=0),
    bad(PGConfig, "PGConfig.lr", "inf", lr=INF),
    bad(PGConfig, "PGConfig.lr", "range", lr=-1.0),
    bad(PGConfig, "PGConfig.beta", "nan", beta=NAN),
    bad(PGConfig, "PGConfig.entropy_coef", "nan", entropy_coef=NAN),
    bad(PGConfig, "PGConfig.algorithm", "option", algorithm="sac"),
    bad(PGConfig, "PGConfig.optimizer", "option", optimizer="rmsprop"),
    bad(PGConfig, "PGConfig.kl_estimator", "option", kl_estimator="k2"),
    bad(PGConfig, "PGConfig.scale_rewards", "option", scale_rewards="std"),
    bad(PGConfig, "PGConfig.dtype", "option", dtype="float16"),
    bad(PGConfig, "PGConfig.group_size", "range", group_size=1),
    bad(PGConfig, "PGConfig.clip_low", "range", clip_low=1.0),
    bad(PGConfig, "PGConfig.anneal_lr", "type", anneal_lr=1),
    bad(PGConfig, "PGConfig.reward_norm", "type", reward_norm="yes"),
    bad(PGConfig, "PGConfig.reward_clip", "range", reward_clip=0.0),
    bad(PGConfig, "PGConfig.advantage_clip", "nan", advantage_clip=NAN),
    bad(PGConfig, "PGConfig.max_grad_norm", "range", max_grad_norm=0.0),
    bad(PGConfig, "PGConfig.update_epochs", "range", update_epochs=0),
    bad(PGConfig, "PGConfig.hidden", "type", hidden=1.5),
    bad(PGConfig, "PGConfig.log_every", "range", log_every=0),
    # PPOConfig
    bad(PPOConfig, "PPOConfig.ent_coef", "nan", ent_coef=NAN),
    bad(PPOConfig, "PPOConfig.total_timesteps", "value", total_timesteps=100),
    bad(PPOConfig, "PPOConfig.total_timesteps", "type", total_timesteps=1e5),
    bad(PPOConfig, "PPOConfig.num_minibatches", "value", num_minibatches=3),
    bad(PPOConfig, "PPOConfig.clip_coef", "range", clip_coef=0.0),
    bad(PPOConfig, "PPOConfig.learning_rate", "inf", learning_rate=INF),
    bad(PPOConfig, "PPOConfig.gamma", "range", gamma=1.5),
    bad(PPOConfig, "PPOConfig.gae_lambda", "nan", gae_lambda=NAN),
    bad(PPOConfig, "PPOConfig.norm_adv", "type", norm_adv="no"),
    bad(PPOConfig, "PPOConfig.max_grad_norm", "range", max_grad_norm=0.0),
    bad(PPOConfig, "PPOConfig.vf_coef", "range", vf_coef=-1.0),
    bad(PPOConfig, "PPOConfig.num_envs", "range", num_envs=0),
    bad(PPOConfig, "PPOConfig.hidden", "type", hidden=True),
    # DQNConfig
    bad(DQNConfig, "DQNConfig.learning_starts", "value", total_timesteps=100, learning_starts=200),
    bad(DQNConfig, "DQNConfig.learning_starts", "range", learning_starts=-1),
    bad(DQNConfig, "DQNConfig.gamma", "range", gamma=1.0),
    bad(DQNConfig, "DQNConfig.tau", "range", tau=0.0),
    bad(DQNConfig, "DQNConfig.channels", "shape", channels=(16,)),
    bad(DQNConfig, "DQNConfig.channels", "range", channels=(16, 0)),
    bad(DQNConfig, "DQNConfig.channels", "type", channels="16,32"),
    bad(DQNConfig, "DQNConfig.exploration_fraction", "range", exploration_fraction=0.0),
    bad(DQNConfig, "DQNConfig.start_e", "range", start_e=1.5),
    bad(DQNConfig, "DQNConfig.max_grad_norm", "nan", max_grad_norm=NAN),
    bad(DQNConfig, "DQNConfig.learning_rate", "inf", learning_rate=INF),
    bad(DQNConfig, "DQNConfig.double", "type", double="yes"),
    bad(DQNConfig, "DQNConfig.total_timesteps", "type", total_timesteps=True),
    # SoftQConfig
    bad(SoftQConfig, "SoftQConfig.algorithm", "option", algorithm="dqn"),
    bad(SoftQConfig, "SoftQConfig.alpha", "range", alpha=0.0),
    bad(SoftQConfig, "SoftQConfig.alpha", "nan", alpha=NAN),
    bad(SoftQConfig, "SoftQConfig.gamma", "range", gamma=1.0),
    bad(SoftQConfig, "SoftQConfig.tau", "range", tau=0.0),
    bad(SoftQConfig, "SoftQConfig.autotune", "value", autotune=True),
    bad(SoftQConfig, "SoftQConfig.learning_starts", "value", total_timesteps=100),
    bad(SoftQConfig, "SoftQConfig.q_lr", "inf", q_lr=INF),
    bad(SoftQConfig, "SoftQConfig.hidden", "range", hidden=-1),
    bad(SoftQConfig, "SoftQConfig.target_entropy_scale", "range", target_entropy_scale=1.0),
    bad(SoftQConfig, "SoftQConfig.anneal_lr", "type", anneal_lr=None),
    # DPOConfig
    bad(DPOConfig, "DPOConfig.beta", "range", beta=0.0),
    bad(DPOConfig, "DPOConfig.beta", "nan", beta=NAN),
    bad(DPOConfig, "DPOConfig.label_smoothing", "range", label_smoothing=0.5),
    bad(DPOConfig, "DPOConfig.steps", "type", steps=True),
    bad(DPOConfig, "DPOConfig.batch_size", "range", batch_size=0),
    bad(DPOConfig, "DPOConfig.batch_size", "type", batch_size=2.5),
    bad(DPOConfig, "DPOConfig.lr_schedule", "option", lr_schedule="step"),
    bad(DPOConfig, "DPOConfig.lr_schedule", "type", lr_schedule=None),
    bad(DPOConfig, "DPOConfig.lr", "inf", lr=INF),
    bad(DPOConfig, "DPOConfig.hidden", "range", hidden=-1),
    # SupervisedConfig
    bad(SupervisedConfig, "SupervisedConfig.hidden", "range", hidden=(0,)),
    bad(SupervisedConfig, "SupervisedConfig.hidden", "type", hidden="64"),
    bad(SupervisedConfig, "SupervisedConfig.activation", "option", activation="gelu"),
    bad(SupervisedConfig, "SupervisedConfig.batch_size", "range", batch_size=0),
    bad(SupervisedConfig, "SupervisedConfig.lr", "nan", lr=NAN),
    bad(SupervisedConfig, "SupervisedConfig.weight_decay", "range", weight_decay=-1.0),
    bad(SupervisedConfig, "SupervisedConfig.dtype", "option", dtype="float16"),
    bad(SupervisedConfig, "SupervisedConfig.steps", "type", steps=2.5),
    bad(SupervisedConfig, "SupervisedConfig.anneal_lr", "type", anneal_lr=None),
    # TabularMDPEnv
    bad(TabularMDPEnv, "mdp", "type", "not an mdp"),
    bad(TabularMDPEnv, "max_steps", "range", MDP, max_steps=0),
    bad(TabularMDPEnv, "render_mode", "option", MDP, render_mode="rgb_array"),
    bad(TabularMDPEnv, "max_steps", "type", MDP, max_steps=2.5),
    bad(TabularMDPEnv, "initial", "value", MDP, [0.9, 0.9]),
    bad(TabularMDPEnv, "initial", "shape", MDP, [1.0]),
    bad(TabularMDPEnv, "initial", "nan", MDP, [NAN, 1.0]),
    bad_method(TabularMDPEnv, "step", "action", "range", ((MDP,), {}), 7),
    bad_method(TabularMDPEnv, "step", "action", "range", ((MDP,), {}), -1),
    bad_method(TabularMDPEnv, "step", "action", "type", ((MDP,), {}), 0.5),
    # PixelGridEnv
    bad(PixelGridEnv, "size", "range", size=1),
    bad(PixelGridEnv, "render_mode", "option", render_mode="human"),
    bad(PixelGridEnv, "size", "type", size=True),
    bad(PixelGridEnv, "cell", "range", cell=0),
    bad(PixelGridEnv, "cell", "type", cell=True),
    bad(PixelGridEnv, "max_steps", "range", max_steps=0),
    bad_method(PixelGridEnv, "step", "action", "range", ((), {}), 9),
    bad_method(PixelGridEnv, "step", "action", "type", ((), {}), "up"),
    # StackedModule
    bad(StackedModule, "modules", "empty", []),
    bad(StackedModule, "modules", "type", LIN),
    bad(StackedModule, "modules[1]", "type", [LIN, "x"]),
    bad(StackedModule, "modules", "value", [nn.Linear(2, 3), nn.Linear(3, 3)]),
    bad_method(StackedModule, "__call__", "x", "shape", STACK, torch.zeros(4, 5)),
    bad_method(StackedModule, "__call__", "x", "type", STACK, np.zeros((4, 2))),
    bad_method(StackedModule, "unstack", "i", "range", STACK, 5, nn.Linear(2, 3)),
    bad_method(StackedModule, "unstack", "module", "value", STACK, 0, nn.Linear(3, 3)),
    # StackedMLP
    bad(StackedMLP, "sizes", "shape", (3,), [_GEN]),
    bad(StackedMLP, "sizes[1]", "range", (3, 0), [_GEN]),
    bad(StackedMLP, "generators", "type", (3, 2), [0]),
    bad(StackedMLP, "generators", "empty", (3, 2), []),
    bad(StackedMLP, "activation", "option", (3, 2), [_GEN], activation="gelu"),
    bad(StackedMLP, "init", "option", (3, 2), [_GEN], init="normal"),
    bad_method(StackedMLP, "replicated", "runs", "range", (((3, 2), [_GEN]), {}), 0),
    bad_method(StackedMLP, "load_into", "k", "range", (((3, 2), [_GEN]), {}), 1, [nn.Linear(3, 2)]),
    bad_method(StackedMLP, "load_into", "layers", "shape", (((3, 2), [_GEN]), {}), 0, []),
    # save_checkpoint / load_checkpoint
    bad(save_checkpoint, "config", "type", Path(_TMP.name) / "a", {"w": torch.zeros(1)}, {"a": 1}),
    bad(save_checkpoint, "config", "type", Path(_TMP.name) / "a", {"w": torch.zeros(1)}, PGConfig),
    bad(save_checkpoint, "state_dict", "type", Path(_TMP.name) / "a", {"w": [1.0]}, PG1),
    bad(save_checkpoint, "path", "type", 3, {"w": torch.zeros(1)}, PG1),
    bad(load_checkpoint, "path", "type", None, PGConfig),
    bad(load_checkpoint, "config_type", "type", Path(_TMP.name) / "a", dict),
    lazy(load_checkpoint, "path", "value", _ckpt("corrupt-json", config="{not json")),
    lazy(load_checkpoint, "path", "value", _ckpt("wrong-type", config={"type": "DQNConfig"})),
    lazy(load_checkpoint, "path", "value", _ckpt("list-json", config=[1, 2])),
    lazy(
        load_checkpoint,
        "path",
        "inf",
        _ckpt("tampered", config={"type": "PGConfig", "config": {"lr": math.inf}}),
    ),
    lazy(
        load_checkpoint,
        "path",
        "value",
        _ckpt("unknown-field", config={"type": "PGConfig", "config": {"evil": 1}}),
    ),
    lazy(load_checkpoint, "path", "value", _ckpt("corrupt-pt", raw=b"\x80\x02garbage")),
    lazy(load_checkpoint, "path", "value", _ckpt("list-pt", pt=[torch.zeros(2)])),
    lazy(load_checkpoint, "path", "nan", _ckpt("nan-pt", pt={"w": torch.full((2,), NAN)})),
    lazy(
        load_checkpoint,
        "path",
        "value",
        _ckpt("malicious", pt={"w": _Payload(str(Path(_TMP.name) / "pwned"))}),
    ),
    # train_bandit / train_bandit_runs
    bad(train_bandit, "task", "type", R, PG1),
    bad(train_bandit, "config", "type", TASK, {"steps": 1}),
    bad(train_bandit, "seed", "seed", TASK, PG1, seed=-1),
    bad(train_bandit, "seed", "type", TASK, PG1, seed=1.5),
    bad(train_bandit, "device", "option", TASK, PG1, device="tpu"),
    bad(train_bandit, "progress", "type", TASK, PG1, progress="yes"),
    bad(train_bandit_runs, "seeds[0]", "seed", TASK, PG1, [1.5]),
    bad(train_bandit_runs, "seeds[1]", "seed", TASK, PG1, [0, -1]),
    bad(train_bandit_runs, "seeds", "empty", TASK, PG1, []),
    bad(train_bandit_runs, "seeds", "type", TASK, PG1, 3),
    bad(train_bandit_runs, "rewards", "shape", TASK, PG1, [0, 1], rewards=np.zeros((3, 2, 3))),
    bad(train_bandit_runs, "rewards", "nan", TASK, PG1, [0], rewards=np.full((1, 2, 3), NAN)),
    bad(train_bandit_runs, "context_weights", "range", TASK, PG1, [0], context_weights=[-1.0, 1.0]),
    bad(train_bandit_runs, "context_weights", "shape", TASK, PG1, [0], context_weights=[1.0]),
    bad(train_bandit_runs, "context_weights", "value", TASK, PG1, [0], context_weights=[0, 0]),
    # train_dpo
    bad(train_dpo, "pairs", "value", TASK, (np.array([0]), np.array([1]), np.array([1]))),
    bad(train_dpo, "pairs", "type", TASK, (np.array([0.5]), np.array([1]), np.array([2]))),
    bad(train_dpo, "pairs", "range", TASK, (np.array([2]), np.array([1]), np.array([2]))),
    bad(train_dpo, "pairs", "range", TASK, (np.array([0]), np.array([3]), np.array([2]))),
    bad(train_dpo, "pairs", "shape", TASK, (np.array([0, 1]), np.array([1]), np.array([2]))),
    bad(train_dpo, "pairs", "empty", TASK, (np.array([], int),) * 3),
    bad(train_dpo, "pairs", "type", TASK, np.zeros((3, 2), int)),
    bad(train_dpo, "task", "type", R, PAIRS),
    bad(train_dpo, "config", "type", TASK, PAIRS, PG1),
    bad(train_dpo, "seed", "seed", TASK, PAIRS, seed=-1),
    # train_bc / train_bc_runs
    bad(train_bc, "states", "nan", np.full((5, 2), NAN), np.zeros(5)),
    bad(train_bc, "states", "shape", np.zeros(5), np.zeros(5)),
    bad(train_bc, "states", "empty", np.zeros((0, 2)), np.zeros(0)),
    bad(train_bc, "states", "type", "abc", np.zeros(5)),
    bad(train_bc, "actions", "shape", np.zeros((5, 2)), np.zeros((4, 1))),
    bad(train_bc, "actions", "inf", np.zeros((5, 2)), np.full(5, INF)),
    bad(train_bc, "weights", "value", np.zeros((5, 2)), np.zeros(5), weights=np.zeros(5)),
    bad(train_bc, "weights", "range", np.zeros((5, 2)), np.zeros(5), weights=-np.ones(5)),
    bad(train_bc, "weights", "shape", np.zeros((5, 2)), np.zeros(5), weights=np.ones(4)),
    bad(train_bc, "seed", "seed", np.zeros((5, 2)), np.zeros(5), seed=-1),
    bad(train_bc, "config", "type", np.zeros((5, 2)), np.zeros(5), PG1),
    bad(train_bc_runs, "seeds[0]", "seed", np.zeros((5, 2)), np.zeros(5), seeds=[1.5]),
    bad(train_bc_runs, "seeds", "empty", np.zeros((5, 2)), np.zeros(5), seeds=[]),
    bad(train_bc_runs, "seeds", "type", np.zeros((5, 2)), np.zeros(5), seeds=2),
    bad(train_bc_runs, "batched", "type", np.zeros((5, 2)), np.zeros(5), batched="no"),
    # train_classifier / train_classifier_runs
    bad(train_classifier, "labels", "type", X, np.zeros(6)),
    bad(train_classifier, "labels", "range", X, -Y),
    bad(train_classifier, "labels", "range", X, np.arange(6), n_classes=3),
    bad(train_classifier, "n_classes", "range", X, Y, n_classes=1),
    bad(train_classifier, "n_classes", "type", X, Y, n_classes=2.0),
    bad(train_classifier, "features", "nan", np.full((6, 2), NAN), Y),
    bad(train_classifier, "seed", "type", X, Y, seed=True),
    bad(train_classifier_runs, "labels", "shape", X, np.zeros((3, 6), int), seeds=[0, 1]),
    bad(train_classifier_runs, "seeds[0]", "seed", X, Y, seeds=[-1]),
    bad(train_classifier_runs, "features", "shape", X[:, 0], Y),
    # train_ppo / train_dqn / train_soft_q (all refuse before the first step)
    bad(train_ppo, "env", "value", PixelGridEnv(), PPOConfig(total_timesteps=1024, num_envs=2)),
    bad(train_ppo, "env", "type", 3, SMALL_PPO),
    bad(train_ppo, "env", "value", "NoSuchEnv-v0", SMALL_PPO),
    bad(train_ppo, "config", "type", MDP, DQNConfig()),
    bad(train_ppo, "seed", "type", MDP, SMALL_PPO, seed=1.5),
    bad(train_ppo, "device", "option", MDP, SMALL_PPO, device="tpu"),
    bad(train_dqn, "env", "type", 3, SMALL_DQN),
    bad(train_dqn, "env", "type", lambda: 3, SMALL_DQN),
    bad(train_dqn, "env", "value", "NoSuchEnv-v0", SMALL_DQN),
    bad(train_dqn, "env", "value", lambda: gym.make("Pendulum-v1"), SMALL_DQN),
    bad(train_dqn, "config", "type", PixelGridEnv, SMALL_SQ),
    bad(train_dqn, "seed", "seed", PixelGridEnv, SMALL_DQN, seed=-1),
    bad(train_soft_q, "env", "type", 3, SMALL_SQ),
    bad(train_soft_q, "env", "value", lambda: gym.make("Pendulum-v1"), SMALL_SQ),
    bad(train_soft_q, "config", "type", MDP, SMALL_DQN),
    bad(train_soft_q, "seed", "seed", MDP, SMALL_SQ, seed=2**64),
    # trainers.losses: shapes, types and hyperparameters on every call; values where cheap
    bad(L.group_advantages, "rewards", "nan", torch.tensor([[1.0, NAN, 0.0]])),
    bad(L.group_advantages, "rewards", "inf", torch.tensor([[1.0, INF]])),
    bad(L.group_advantages, "rewards", "shape", torch.zeros(3, 1)),
    bad(L.group_advantages, "rewards", "type", np.zeros((2, 3))),
    bad(L.group_advantages, "scale", "option", torch.zeros(2, 3), scale="std"),
    bad(L.group_advantages, "eps", "range", torch.zeros(2, 3), eps=-1.0),
    bad(L.group_advantages, "eps", "inf", torch.zeros(2, 3), eps=INF),
    bad(L.gae, "rewards", "nan", **_gae(rewards=torch.full((4, 2), NAN))),
    bad(L.gae, "values", "inf", **_gae(values=torch.full((4, 2), INF))),
    bad(L.gae, "next_value", "nan", **_gae(next_value=torch.full((2,), NAN))),
    bad(L.gae, "dones", "value", **_gae(dones=torch.full((4, 2), 2.0))),
    bad(L.gae, "next_done", "value", **_gae(next_done=torch.full((2,), 0.5))),
    bad(L.gae, "values", "shape", **_gae(values=torch.zeros(4, 3))),
    bad(L.gae, "next_value", "shape", **_gae(next_value=torch.zeros(2, 1))),
    bad(L.gae, "next_done", "shape", **_gae(next_done=torch.zeros(3))),
    bad(L.gae, "rewards", "empty", **_gae(rewards=T2[:0], values=T2[:0], dones=T2[:0])),
    bad(L.gae, "gamma", "range", **_gae(gamma=1.5)),
    bad(L.gae, "gamma", "nan", **_gae(gamma=NAN)),
    bad(L.gae, "lam", "range", **_gae(lam=-0.1)),
    bad(L.gae, "rewards", "type", **_gae(rewards=np.zeros((4, 2)))),
    bad(L.reinforce_loss, "advantages", "shape", T2, T3),
    bad(L.reinforce_loss, "advantages", "shape", torch.zeros(4), torch.zeros(4, 1)),
    bad(L.reinforce_loss, "logp", "type", [0.0, 0.0], T2),
    bad(L.ppo_clip_loss, "old_logp", "shape", T2, T3, T2),
    bad(L.ppo_clip_loss, "advantages", "type", T2, T2, 1.0),
    bad(L.ppo_clip_loss, "clip_low", "range", T2, T2, T2, clip_low=1.5),
    bad(L.ppo_clip_loss, "clip_low", "nan", T2, T2, T2, clip_low=NAN),
    bad(L.ppo_clip_loss, "clip_high", "range", T2, T2, T2, clip_high=0.0),
    bad(L.ppo_clip_loss, "clip_high", "nan", T2, T2, T2, clip_high=NAN),
    bad(L.ppo_clip_loss, "clip_high", "type", T2, T2, T2, clip_high="0.2"),
    bad(L.k3_kl, "ref_logp", "shape", T2, T3),
    bad(L.k3_kl, "logp", "type", 0.0, T2),
    bad(L.kl_penalized_rewards, "coef", "range", T2, T2, T2, -1.0),
    bad(L.kl_penalized_rewards, "coef", "nan", T2, T2, T2, NAN),
    bad(L.kl_penalized_rewards, "ref_logp", "shape", T2, T2, T3, 0.1),
    bad(L.log_softmax, "logits", "type", np.zeros(3)),
    bad(L.log_softmax, "logits", "shape", torch.tensor(1.0)),
    bad(L.log_softmax, "logits", "empty", torch.zeros(2, 0)),
    bad(L.categorical_entropy, "logits", "type", [0.0, 1.0]),
    bad(L.categorical_entropy, "logits", "empty", torch.zeros(3, 0)),
    bad(L.categorical_kl, "ref_logp", "shape", T2, T3),
    bad(L.categorical_kl, "ref_logp", "shape", torch.zeros(2, 3), torch.zeros(4, 3)),
    bad(L.categorical_kl, "ref_logp", "type", T2, np.zeros(2)),
    bad(L.RunningMeanStd, "shape", "type", 3),
    bad(L.RunningMeanStd, "shape[0]", "range", (0, 1)),
    bad(L.RunningMeanStd, "device", "option", device="gpu0"),
    bad_method(L.RunningMeanStd, "update", "x", "nan", ((), {}), torch.tensor([1.0, NAN])),
    bad_method(L.RunningMeanStd, "update", "x", "empty", ((), {}), torch.zeros(0)),
    bad_method(L.RunningMeanStd, "update", "x", "shape", (((5, 1),), {}), torch.zeros(3, 4)),
    bad_method(L.RunningMeanStd, "update", "x", "type", ((), {}), [1.0, 2.0]),
    bad(L.normalize_rewards, "rewards", "nan", torch.tensor([NAN]), L.RunningMeanStd()),
    bad(L.normalize_rewards, "rewards", "type", [1.0]),
    bad(L.normalize_rewards, "rewards", "shape", torch.zeros(3, 4), L.RunningMeanStd((5, 1))),
    bad(L.normalize_rewards, "stats", "type", T2, {"mean": 0}),
    bad(L.normalize_rewards, "clip", "range", T2, clip=0.0),
    bad(L.normalize_rewards, "clip", "nan", T2, clip=NAN),
    bad(L.normalize_rewards, "eps", "range", T2, eps=-1.0),
    bad(L.clip_advantages, "clip", "range", T2, 0.0),
    bad(L.clip_advantages, "clip", "inf", T2, INF),
    bad(L.clip_advantages, "advantages", "type", [1.0], 1.0),
    bad(L.clipped_value_loss, "returns", "shape", T2, T2, T3, 0.2),
    bad(L.clipped_value_loss, "clip", "range", T2, T2, T2, -1.0),
    bad(L.clipped_value_loss, "clip", "nan", T2, T2, T2, NAN),
    bad(L.dpo_loss, "beta", "range", T2, T2, T2, T2, 0.0),
    bad(L.dpo_loss, "beta", "inf", T2, T2, T2, T2, INF),
    bad(L.dpo_loss, "ref_rejected_logp", "shape", T2, T2, T2, T3, 0.1),
    bad(L.dpo_loss, "label_smoothing", "range", T2, T2, T2, T2, 0.1, label_smoothing=1.5),
    bad(L.dpo_loss, "label_smoothing", "nan", T2, T2, T2, T2, 0.1, label_smoothing=NAN),
    bad(
        L.dpo_loss,
        "label_smoothing",
        "nan",
        T2,
        T2,
        T2,
        T2,
        0.1,
        label_smoothing=torch.tensor([0.1, NAN]),
    ),
    bad(L.dpo_loss, "label_smoothing", "shape", T2, T2, T2, T2, 0.1, label_smoothing=T3),
    # trainers.batched.clip_grad_norm_per_run
    lazy(clip_grad_norm_per_run, "params", "empty", _no_grad_params),
    lazy(clip_grad_norm_per_run, "params", "shape", _mixed_runs),
    bad(clip_grad_norm_per_run, "params", "type", 3, 1.0),
    bad(clip_grad_norm_per_run, "params[0]", "type", [3.0], 1.0),
    bad(clip_grad_norm_per_run, "max_norm", "range", [torch.zeros(2)], 0.0),
    bad(clip_grad_norm_per_run, "max_norm", "nan", [torch.zeros(2)], NAN),
    # trainers.dpo.preference_pairs
    bad(preference_pairs, "task", "type", R, 5, np.random.default_rng(0)),
    bad(preference_pairs, "n", "range", TASK, 0, np.random.default_rng(0)),
    bad(preference_pairs, "n", "type", TASK, 2.5, np.random.default_rng(0)),
    bad(preference_pairs, "rng", "seed", TASK, 5, 0),
    # trainers.dqn.QNetwork / evaluate_greedy
    bad(QNetwork, "obs_shape", "shape", (2, 2), 4),
    bad(QNetwork, "obs_shape", "shape", (1, 2, 2), 4),
    bad(QNetwork, "obs_shape", "type", "1x12x12", 4),
    bad(QNetwork, "obs_shape[0]", "range", (0,), 4),
    bad(QNetwork, "n_actions", "range", (3,), 0),
    bad(QNetwork, "n_actions", "type", (3,), 2.5),
    bad(QNetwork, "dueling", "type", (3,), 2, dueling="yes"),
    bad(QNetwork, "channels", "shape", (1, 12, 12), 4, channels=(16,)),
    bad(QNetwork, "first_stride", "range", (1, 12, 12), 4, first_stride=0),
    bad(QNetwork, "hidden", "type", (3,), 2, hidden=1.5),
    bad(evaluate_greedy, "q_net", "type", "net", PixelGridEnv),
    bad(evaluate_greedy, "q_net", "shape", QNetwork((3,), 4), PixelGridEnv),
    bad(evaluate_greedy, "q_net", "shape", QNetwork((1, 12, 12), 2), PixelGridEnv),
    bad(evaluate_greedy, "episodes", "range", QNetwork((3,), 2), PixelGridEnv, episodes=0),
    bad(evaluate_greedy, "episodes", "type", QNetwork((3,), 2), PixelGridEnv, episodes=True),
    bad(evaluate_greedy, "epsilon", "nan", QNetwork((3,), 2), PixelGridEnv, epsilon=NAN),
    bad(evaluate_greedy, "epsilon", "range", QNetwork((3,), 2), PixelGridEnv, epsilon=1.5),
    bad(evaluate_greedy, "seed", "seed", QNetwork((3,), 2), PixelGridEnv, seed=-1),
    bad(evaluate_greedy, "env", "type", QNetwork((3,), 2), 3),
    # trainers.envs.build_env / make_env
    bad(build_env, "env", "type", 3),
    bad(build_env, "env", "type", lambda: 3),
    bad(build_env, "env", "value", "NoSuchEnv-v0"),
    bad(build_env, "env", "value", lambda: gym.make("Pendulum-v1")),
    bad(make_env, "env", "type", 3.5),
    bad(make_env, "env", "value", "NoSuchEnv-v0"),
    bad(make_env, "env", "value", PixelGridEnv(), size=3),
    bad(make_env, "max_steps", "range", MDP, max_steps=0),
    # trainers.policy_gradient.make_policy
    bad(make_policy, "n_features", "range", 0, 3, PG1, 0),
    bad(make_policy, "n_actions", "type", 2, 2.5, PG1, 0),
    bad(make_policy, "config", "type", 2, 3, {"hidden": 0}, 0),
    bad(make_policy, "seed", "seed", 2, 3, PG1, -1),
    # trainers.ppo.Agent / evaluate_policy
    bad(Agent, "obs_dim", "range", 0, 2),
    bad(Agent, "n_actions", "type", 3, True),
    bad(Agent, "hidden", "type", 3, 2, 1.5),
    bad(evaluate_policy, "agent", "type", "agent", MDP),
    bad(evaluate_policy, "agent", "shape", Agent(5, 2), MDP),
    bad(evaluate_policy, "agent", "shape", Agent(2, 3), MDP),
    bad(evaluate_policy, "episodes", "range", Agent(2, 2), MDP, episodes=0),
    bad(evaluate_policy, "seed", "seed", Agent(2, 2), MDP, seed=-1),
    bad(evaluate_policy, "env", "type", Agent(2, 2), 3),
    # trainers.runtime: the config rules and the shared plumbing
    bad(RT.FLAG, "Cfg.flag", "type", "Cfg.flag", 1),
    bad(RT.POSITIVE, "Cfg.lr", "range", "Cfg.lr", 0.0),
    bad(RT.POSITIVE, "Cfg.lr", "nan", "Cfg.lr", NAN),
    bad(RT.NONNEGATIVE, "Cfg.beta", "range", "Cfg.beta", -1.0),
    bad(RT.PROBABILITY, "Cfg.p", "range", "Cfg.p", 1.5),
    bad(RT.POSITIVE_INT, "Cfg.steps", "type", "Cfg.steps", 2.5),
    bad(RT.DISCOUNT, "Cfg.gamma", "range", "Cfg.gamma", 1.0),
    bad(RT.DISCOUNT, "Cfg.gamma", "nan", "Cfg.gamma", float("nan")),
    bad(RT.UNIT_FRACTION, "Cfg.tau", "range", "Cfg.tau", 0.0),
    bad(RT.UNIT_FRACTION, "Cfg.tau", "type", "Cfg.tau", "0.5"),
    bad(RT.NONNEGATIVE_INT, "Cfg.hidden", "range", "Cfg.hidden", -1),
    bad(RT.integer, "lo", "type", lo=1.5),
    bad(RT.integer, "lo", "value", lo=3, hi=2),
    bad_method(RT.integer, "__call__", "Cfg.n", "range", ((1, 3), {}), "Cfg.n", 4),
    bad(RT.real, "lo", "nan", NAN),
    bad(RT.real, "lo", "value", 1.0, 0.0),
    bad(RT.real, "lo_open", "type", lo_open=1),
    bad_method(RT.real, "__call__", "Cfg.x", "inf", ((0.0,), {}), "Cfg.x", INF),
    bad(RT.one_of, "options", "empty"),
    bad_method(RT.one_of, "__call__", "Cfg.kind", "option", (("a", "b"), {}), "Cfg.kind", "c"),
    bad(RT.optional, "rule", "type", 3),
    bad_method(RT.optional, "__call__", "Cfg.c", "range", ((RT.POSITIVE,), {}), "Cfg.c", 0.0),
    bad(RT.int_tuple, "length", "type", "2"),
    bad(RT.int_tuple, "lo", "type", 2, 1.5),
    bad_method(RT.int_tuple, "__call__", "Cfg.ch", "shape", ((2,), {}), "Cfg.ch", (1,)),
    bad_method(RT.int_tuple, "__call__", "Cfg.ch", "type", ((), {}), "Cfg.ch", "16,32"),
    bad(RT.check_config, "config", "type", {"a": 1}, {"a": RT.POSITIVE}),
    bad(RT.check_config, "rules", "type", PG1, ["lr"]),
    bad(RT.check_instance, "task", "type", "task", R, ContextualBandit),
    bad(RT.check_instance, "cls", "type", "task", R, "ContextualBandit"),
    bad(RT.resolve_device, "device", "option", "tpu"),
    bad(RT.seed_everything, "seed", "seed", -1),
    bad(RT.seed_everything, "seed", "type", 1.5),
    bad(RT.setup, "threads", "range", 0, "cpu", threads=0),
    bad(RT.setup, "seed", "seed", -1, "cpu"),
    bad(RT.setup, "device", "option", 0, "tpu"),
    bad(RT.MetricsLog, "total", "range", 0),
    bad(RT.MetricsLog, "progress", "type", 10, progress="yes"),
    bad(RT.MetricsLog, "log_dir", "type", 10, progress=False, log_dir=3),
    bad_method(
        RT.MetricsLog, "log", "metrics", "type", ((10,), {"progress": False}), 1, {"a": "x"}
    ),
    bad_method(RT.MetricsLog, "log", "metrics", "type", ((10,), {"progress": False}), 1, [1.0]),
    bad_method(RT.MetricsLog, "log", "step", "range", ((10,), {"progress": False}), -1, {}),
    bad_method(RT.MetricsLog, "advance", "n", "type", ((10,), {"progress": False}), 1.5),
    # trainers.supervised.make_mlp
    bad(make_mlp, "n_in", "range", 0, 2, SupervisedConfig(), 0),
    bad(make_mlp, "n_out", "type", 2, 2.0, SupervisedConfig(), 0),
    bad(make_mlp, "config", "type", 2, 2, PG1, 0),
    bad(make_mlp, "seed", "seed", 2, 2, SupervisedConfig(), 2**64),
    # trainers.tasks.MultiRewardBandit / verifiable_bandit
    bad(MultiRewardBandit, "components", "nan", np.full((2, 2, 3), NAN), *MRB_ARGS[1:]),
    bad(MultiRewardBandit, "components", "shape", MRB.components[0], *MRB_ARGS[1:]),
    bad(MultiRewardBandit, "weights", "shape", MRB.components, MRB.weights.T, *MRB_ARGS[2:]),
    bad(MultiRewardBandit, "weights", "value", MRB.components, MRB.weights * 2, *MRB_ARGS[2:]),
    bad(MultiRewardBandit, "boundary[0]", "range", *MRB_ARGS[:2], (99,), MRB.tie_size),
    bad(MultiRewardBandit, "boundary", "type", *MRB_ARGS[:2], 3, MRB.tie_size),
    bad(MultiRewardBandit, "tie_size", "range", *MRB_ARGS[:3], 1),
    bad(MultiRewardBandit, "tie_size", "type", *MRB_ARGS[:3], 2.0),
    bad_method(MultiRewardBandit, "effective", "components", "shape", (MRB_ARGS, {}), T2),
    bad_method(
        MultiRewardBandit,
        "effective",
        "components",
        "nan",
        (MRB_ARGS, {}),
        np.full(MRB.components.shape, NAN),
    ),
    bad_method(
        MultiRewardBandit,
        "features",
        "extra_dims",
        "range",
        (MRB_ARGS, {}),
        np.random.default_rng(0),
        -1,
    ),
    bad_method(MultiRewardBandit, "features", "rng", "seed", (MRB_ARGS, {}), 0, 2),
    bad(verifiable_bandit, "rng", "seed", 0),
    bad(verifiable_bandit, "n_contexts", "range", np.random.default_rng(0), n_contexts=0),
    bad(verifiable_bandit, "dim", "type", np.random.default_rng(0), dim=2.5),
    bad(verifiable_bandit, "n_actions", "range", np.random.default_rng(0), n_actions=1),
    # methods of the results (the result classes themselves are exempt)
    lazy(SupervisedResult.module, "run", "range", _on(_clf, 1)),
    lazy(SupervisedResult.module, "run", "type", _on(_clf, 0.5)),
    lazy(SupervisedResult.predict, "x", "shape", _on(_clf, np.zeros((3, 5)))),
    lazy(SupervisedResult.predict, "x", "nan", _on(_clf, np.full((3, 2), NAN))),
    lazy(SupervisedResult.predict, "x", "type", _on(_clf, "abc")),
    lazy(SupervisedResult.predict, "run", "range", _on(_clf, X, -1)),
    lazy(SupervisedResult.predict_proba, "x", "shape", _on(_clf, np.zeros(2))),
    lazy(SoftQResult.policy, "obs", "shape", _on(_sq, np.zeros((3, 5)))),
    lazy(SoftQResult.policy, "obs", "nan", _on(_sq, np.full((1, 2), NAN))),
    lazy(SoftQResult.tabular_policy, "n_states", "range", _on(_sq, 0)),
    lazy(SoftQResult.tabular_policy, "n_states", "type", _on(_sq, 2.0)),
]


_GATHERED = gather(__file__, __package__)  # the cases of every _cases_* module here
CASES += _GATHERED[0]
EXEMPT.update(_GATHERED[1])


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()


def test_every_public_name_is_audited_or_exempt():
    targets = {id(c.target) for c in CASES}
    for name in trainers.__all__:
        obj = getattr(trainers, name)
        assert id(obj) in targets or name in EXEMPT, name


def test_malicious_checkpoint_runs_no_code(tmp_path):
    """``torch.load(weights_only=True)`` refuses the pickle before its payload can run."""
    marker = tmp_path / "pwned"
    save_checkpoint(tmp_path / "ck", {"w": torch.zeros(1)}, PG1)
    (tmp_path / "ck.pt").write_bytes(pickle.dumps({"w": _Payload(str(marker))}, protocol=2))
    with pytest.raises(ValueError, match="path"):
        load_checkpoint(tmp_path / "ck", PGConfig)
    assert not marker.exists()


def test_missing_checkpoint_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing", PGConfig)


def test_configs_normalize_and_round_trip(tmp_path):
    """Validated fields are stored normalized (a JSON list as a tuple, an int lr as float), so
    that a checkpoint's config reads back equal to the one saved."""
    cfg = PGConfig(lr=1, clip_high=np.float32(0.25), steps=np.int64(3))
    assert type(cfg.lr) is float and type(cfg.steps) is int and cfg.clip_high == 0.25
    for config in (cfg, DQNConfig(channels=[4, 8]), SupervisedConfig(hidden=[3])):
        save_checkpoint(tmp_path / type(config).__name__, {"w": torch.zeros(1)}, config)
        _, back = load_checkpoint(tmp_path / type(config).__name__, type(config))
        assert back == config


def test_every_config_field_has_a_rule():
    """``check_config`` refuses a config whose rules miss a field (a new field must be checked)."""
    from dataclasses import dataclass

    from trainers.runtime import POSITIVE, check_config

    @dataclass(frozen=True)
    class Partial:
        a: float = 1.0
        b: float = 1.0

        def __post_init__(self):
            check_config(self, {"a": POSITIVE})

    with pytest.raises(RuntimeError, match="missing"):
        Partial()


def test_env_steps_accept_numpy_actions():
    env = TabularMDPEnv(MDP)
    env.reset(seed=0)
    env.step(np.int64(1))
    env.step(np.array(0))
    grid = PixelGridEnv()
    grid.reset(seed=0)
    grid.step(np.int32(3))
