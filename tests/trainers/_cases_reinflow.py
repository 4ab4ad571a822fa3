"""Bad-input cases of trainers.reinflow (ReinFlow: noisy flow policies fine-tuned with PPO)."""

from __future__ import annotations

import math

import torch

from tests._audit import Case, bad, lazy
from trainers.reinflow import (
    FlowPolicy,
    PointReachTask,
    ReinFlowConfig,
    chain_log_prob,
    finetune_reinflow,
    flow_matching_loss,
    mean_actions,
    point_reach_task,
    pretrain_flow,
    reinflow_ppo_loss,
    sample_chain,
    train_reinflow,
)

NAN = float("nan")
_CFG = ReinFlowConfig(
    denoising_steps=2, hidden=4, bc_demos=8, bc_steps=1, iterations=1, batch_size=4
)
_TASK = point_reach_task(1)
_POL = FlowPolicy(1, 1, _CFG, [0])
_OBS = torch.zeros(1, 3, 1, dtype=torch.float64)
_CHAIN = torch.zeros(1, 3, 3, 1, dtype=torch.float64)
_Z = torch.zeros(1, 3, dtype=torch.float64)
_G = torch.Generator().manual_seed(0)


def _nan_rewards(obs, actions):
    return torch.full(actions.shape[:2], math.nan)


EXEMPT = {
    "reinflow.PointReachTask": "task dataclass built (and validated) by point_reach_task",
    "reinflow.PretrainResult": "result dataclass returned by pretrain_flow",
    "reinflow.ReinFlowResult": "result dataclass returned by finetune_reinflow",
    "reinflow.ReinFlowLoss": "result dataclass returned by reinflow_ppo_loss",
}

CASES: list[Case] = [
    bad(ReinFlowConfig, "denoising_steps", "range", denoising_steps=0),
    bad(ReinFlowConfig, "denoising_steps", "type", denoising_steps=1.5),
    bad(ReinFlowConfig, "sigma_min", "value", sigma_min=0.3, sigma_max=0.2),
    bad(ReinFlowConfig, "sigma_min", "range", sigma_min=0.0),
    bad(ReinFlowConfig, "sigma_max", "nan", sigma_max=NAN),
    bad(ReinFlowConfig, "noise_inputs", "option", noise_inputs="a"),
    bad(ReinFlowConfig, "time_grid", "option", time_grid="cosine"),
    bad(ReinFlowConfig, "clip_coef", "range", clip_coef=1.0),
    bad(ReinFlowConfig, "batch_size", "range", batch_size=1),
    bad(ReinFlowConfig, "minibatches", "value", batch_size=4, minibatches=5),
    bad(ReinFlowConfig, "log_prob_min", "value", log_prob_min=1.0, log_prob_max=0.0),
    bad(point_reach_task, "dim", "range", 0),
    bad(point_reach_task, "expert_std", "range", expert_std=0.0),
    bad(point_reach_task, "shift", "shape", 2, shift=[0.0]),
    bad(point_reach_task, "shift", "nan", 1, shift=[NAN]),
    bad(FlowPolicy.with_runs, "seeds", "empty", _POL, []),
    bad(FlowPolicy.with_runs, "config", "value", _POL, [0], ReinFlowConfig(hidden=5)),
    bad(sample_chain, "policy", "type", None, _OBS),
    bad(sample_chain, "obs", "shape", _POL, torch.zeros(3, 1)),
    bad(sample_chain, "obs", "nan", _POL, torch.full((1, 3, 1), NAN)),
    bad(sample_chain, "initial", "shape", _POL, _OBS, initial=torch.zeros(1, 2, 1)),
    bad(sample_chain, "noise", "shape", _POL, _OBS, noise=torch.zeros(1, 3, 1, 1)),
    bad(chain_log_prob, "chain", "shape", _POL, _OBS, torch.zeros(1, 3, 2, 1)),
    bad(chain_log_prob, "chain", "inf", _POL, _OBS, torch.full((1, 3, 3, 1), math.inf)),
    bad(mean_actions, "samples", "range", _POL, _OBS, samples=0),
    bad(mean_actions, "seed", "seed", _POL, _OBS, seed=-1),
    bad(flow_matching_loss, "actions", "shape", _POL, _OBS, torch.zeros(1, 2, 1), _G),
    bad(pretrain_flow, "task", "type", "task", _CFG),
    bad(pretrain_flow, "config", "type", _TASK, {}),
    bad(pretrain_flow, "task", "shape", (torch.zeros(3, 1), torch.zeros(2, 1)), _CFG),
    bad(pretrain_flow, "task[1]", "nan", (torch.zeros(3, 1), torch.full((3, 1), NAN)), _CFG),
    bad(pretrain_flow, "task[0]", "shape", (torch.zeros(3), torch.zeros(3, 1)), _CFG),
    bad(pretrain_flow, "seed", "seed", _TASK, _CFG, seed=-3),
    bad(reinflow_ppo_loss, "returns", "nan", _Z, _Z, torch.full((1, 3), NAN), _Z, _Z, _Z),
    bad(reinflow_ppo_loss, "returns", "inf", _Z, _Z, torch.full((1, 3), math.inf), _Z, _Z, _Z),
    bad(reinflow_ppo_loss, "old_log_prob", "shape", _Z, torch.zeros(1, 2), _Z, _Z, _Z, _Z),
    bad(reinflow_ppo_loss, "new_log_prob", "type", [[0.0]], _Z, _Z, _Z, _Z, _Z),
    bad(reinflow_ppo_loss, "clip_coef", "range", _Z, _Z, _Z, _Z, _Z, _Z, clip_coef=1.5),
    bad(reinflow_ppo_loss, "ent_coef", "range", _Z, _Z, _Z, _Z, _Z, _Z, ent_coef=-1.0),
    bad(reinflow_ppo_loss, "log_prob_bounds", "value", _Z, _Z, _Z, _Z, _Z, _Z, log_prob_bounds=1),
    bad(finetune_reinflow, "reward_fn", "nan", _TASK, _POL, _CFG, reward_fn=_nan_rewards),
    bad(finetune_reinflow, "reward_shifts", "shape", _TASK, _POL, _CFG, reward_shifts=[[0.0, 1.0]]),
    bad(finetune_reinflow, "seeds", "empty", _TASK, _POL, _CFG, seeds=[]),
    bad(finetune_reinflow, "pretrained", "type", _TASK, None, _CFG),
    bad(finetune_reinflow, "hidden", "value", _TASK, _POL, ReinFlowConfig(hidden=5)),
    bad(finetune_reinflow, "task", "type", PointReachTask, _POL, _CFG),
    lazy(train_reinflow, "seeds", "seed", lambda: ((_TASK, _CFG), {"seeds": [-1]})),
    bad(FlowPolicy, "seeds", "empty", 1, 1, _CFG, []),
    bad(FlowPolicy, "obs_dim", "range", 0, 1, _CFG, [0]),
    bad(FlowPolicy, "config", "type", 1, 1, None, [0]),
]
