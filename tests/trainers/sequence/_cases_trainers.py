"""Bad-input cases of trainers.sequence (trainers) and the token-level losses of
trainers.losses; gathered by test_bad_input.py.

Among them the refusals the trainers were written against: a group of one completion (its
group-normalised advantage is 0/0), a reward_fn returning NaN (named ``reward_fn``), a stack
of tasks that differ in more than the reward, a single module given several seeds, DPO pairs
comparing a completion with itself, SFT on a task without expert solutions.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from tests._audit import Case, bad, lazy
from trainers import losses as L
from trainers.sequence import (
    GHPOConfig,
    GRPOConfig,
    PPOSeqConfig,
    SequenceDPOConfig,
    SequenceRunResult,
    SFTConfig,
    TinyCausalLM,
    bradley_terry_pairs,
    pretrain_reference,
    tied_digit_sum,
    train_grpo,
    train_sequence_dpo,
    train_sequence_ppo,
    train_sft,
)

NAN, INF = float("nan"), float("inf")
LP = torch.zeros(2, 3)  # per-token log-probs (B, L)
M = torch.ones(2, 3, dtype=torch.bool)
A = torch.zeros(2)
T2 = torch.zeros(2)


@functools.cache
def _task():
    return tied_digit_sum(n_digits=1, max_digit=1, sums=range(2))


def _nan_task():
    return _task().with_reward(
        lambda p, t, m: torch.full((t.shape[0],), NAN, dtype=torch.float64), "nan"
    )


def _no_solutions():
    return dataclasses.replace(_task(), solutions=None, solution_mask=None)


def _other_prompts():
    t = _task()
    return dataclasses.replace(t, prompts=t.prompts.flip(0), solutions=None, solution_mask=None)


ONE = GRPOConfig(steps=1, batch_prompts=1, num_generations=2)
PPO1 = PPOSeqConfig(steps=1, batch_size=2)
DPO1 = SequenceDPOConfig(steps=1, batch_size=2, n_pairs=4)
SFT1 = SFTConfig(steps=1, batch_size=2)


def _pairs(p=(0, 1), w=(0, 1), lo=(1, 0)):
    return (np.array(p), np.array(w), np.array(lo))


def _result_fields():
    res = train_sft(_task(), SFT1)
    return (), {f.name: getattr(res, f.name) for f in dataclasses.fields(res)}


EXEMPT: dict[str, str] = {}
CASES: list[Case] = [
    # trainers.losses, token level
    bad(L.aggregate_token_loss, "loss_type", "option", LP, M, "token-mean"),
    bad(L.aggregate_token_loss, "max_completion_length", "value", LP, M, "dr_grpo"),
    bad(
        L.aggregate_token_loss,
        "max_completion_length",
        "range",
        LP,
        M,
        "dr_grpo",
        max_completion_length=2,
    ),
    bad(L.aggregate_token_loss, "mask", "shape", LP, M[:, :2], "grpo"),
    bad(L.aggregate_token_loss, "mask", "type", LP, torch.ones(2, 3, dtype=torch.long), "grpo"),
    bad(
        L.aggregate_token_loss,
        "loss",
        "shape",
        torch.zeros(3),
        torch.ones(3, dtype=torch.bool),
        "grpo",
    ),
    bad(L.aggregate_token_loss, "loss", "type", np.zeros((2, 3)), M, "grpo"),
    bad(
        L.grpo_token_loss,
        "advantages",
        "shape",
        LP,
        None,
        None,
        torch.zeros(3),
        M,
        loss_type="grpo",
    ),
    bad(L.grpo_token_loss, "old_logp", "shape", LP, LP[:, :2], None, A, M, loss_type="grpo"),
    bad(L.grpo_token_loss, "ref_logp", "value", LP, None, None, A, M, loss_type="grpo", beta=0.1),
    bad(L.grpo_token_loss, "ref_logp", "shape", LP, None, LP[:1], A, M, loss_type="grpo", beta=0.1),
    bad(L.grpo_token_loss, "epsilon", "range", LP, None, None, A, M, loss_type="grpo", epsilon=1.5),
    bad(
        L.grpo_token_loss,
        "epsilon_high",
        "nan",
        LP,
        None,
        None,
        A,
        M,
        loss_type="grpo",
        epsilon_high=NAN,
    ),
    bad(L.grpo_token_loss, "beta", "range", LP, None, LP, A, M, loss_type="grpo", beta=-1.0),
    bad(L.grpo_token_loss, "beta", "inf", LP, None, LP, A, M, loss_type="grpo", beta=INF),
    bad(L.grpo_token_loss, "loss_type", "option", LP, None, None, A, M, loss_type="seq"),
    bad(L.grpo_token_loss, "logp", "type", LP.long(), None, None, A, M, loss_type="grpo"),
    bad(L.sequence_nll, "mask", "shape", LP, M[:1]),
    bad(L.sequence_nll, "loss_type", "option", LP, M, loss_type="mean"),
    bad(L.sequence_nll, "logp", "type", [0.0], M),
    bad(L.ipo_loss, "beta", "range", T2, T2, T2, T2, 0.0),
    bad(L.ipo_loss, "beta", "nan", T2, T2, T2, T2, NAN),
    bad(L.ipo_loss, "ref_rejected_logp", "shape", T2, T2, T2, torch.zeros(3), 0.1),
    # GRPOConfig / train_grpo
    bad(GRPOConfig, "num_generations", "range", num_generations=1),
    bad(GRPOConfig, "loss_type", "option", loss_type="token-mean"),
    bad(GRPOConfig, "scale_rewards", "option", scale_rewards="std"),
    bad(GRPOConfig, "baseline", "option", baseline="mean"),
    bad(GRPOConfig, "epsilon", "range", epsilon=1.5),
    bad(GRPOConfig, "epsilon_high", "range", epsilon_high=-0.1),
    bad(GRPOConfig, "beta", "range", beta=-0.1),
    bad(GRPOConfig, "kl_in_reward", "nan", kl_in_reward=NAN),
    bad(GRPOConfig, "temperature", "range", temperature=0.0),
    bad(GRPOConfig, "lr", "inf", lr=INF),
    bad(GRPOConfig, "steps", "type", steps=True),
    bad(GRPOConfig, "max_grad_norm", "range", max_grad_norm=0.0),
    bad(GRPOConfig, "dtype", "option", dtype="float16"),
    bad(train_grpo, "task_or_tasks", "type", "digits", ONE),
    bad(train_grpo, "callback", "type", _task(), ONE, callback="print"),
    bad(
        train_grpo, "cfg", "type", _task(), GHPOConfig(steps=1, batch_prompts=1, num_generations=2)
    ),
    bad(train_sequence_ppo, "callback", "type", _task(), PPO1, callback=3),
    bad(train_sequence_dpo, "callback", "type", _task(), DPO1, callback=[]),
    bad(train_sft, "callback", "type", _task(), SFT1, callback=1.0),
    bad(train_grpo, "cfg", "type", _task(), PPO1),
    bad(train_grpo, "seeds", "seed", _task(), ONE, seeds=[-1]),
    bad(train_grpo, "seeds", "empty", _task(), ONE, seeds=[]),
    bad(train_grpo, "task_or_tasks", "shape", [_task()] * 3, ONE, seeds=[0, 1]),
    bad(train_grpo, "task_or_tasks[1]", "type", [_task(), "x"], ONE, seeds=[0, 1]),
    lazy(
        train_grpo,
        "task_or_tasks[1]",
        "value",
        lambda: (([_task(), _other_prompts()], ONE), {"seeds": [0, 1]}),
    ),
    lazy(train_grpo, "reward_fn", "nan", lambda: ((_nan_task(), ONE), {})),
    bad(train_grpo, "policy", "type", _task(), ONE, policy=lambda ids: ids),
    bad(train_grpo, "seeds", "value", _task(), ONE, seeds=[0, 1], policy=TinyCausalLM(4, seed=0)),
    bad(train_grpo, "ref_policy", "type", _task(), ONE, ref_policy="ref"),
    bad(train_grpo, "max_completion_length", "range", _task(), GRPOConfig(max_completion_length=1)),
    bad(train_grpo, "device", "option", _task(), ONE, device="tpu"),
    # PPOSeqConfig / train_sequence_ppo
    bad(PPOSeqConfig, "clip_eps", "range", clip_eps=0.0),
    bad(PPOSeqConfig, "lam", "range", lam=1.5),
    bad(PPOSeqConfig, "gamma", "nan", gamma=NAN),
    bad(PPOSeqConfig, "value_clip", "range", value_clip=-1.0),
    bad(PPOSeqConfig, "reward_norm", "type", reward_norm=1),
    bad(PPOSeqConfig, "critic_lr", "range", critic_lr=0.0),
    bad(train_sequence_ppo, "cfg", "type", _task(), ONE),
    bad(train_sequence_ppo, "task_or_tasks", "type", None, PPO1),
    lazy(train_sequence_ppo, "reward_fn", "nan", lambda: ((_nan_task(), PPO1), {})),
    bad(train_sequence_ppo, "ref_policy", "type", _task(), PPO1, ref_policy=3),
    # SequenceDPOConfig / bradley_terry_pairs / train_sequence_dpo
    bad(SequenceDPOConfig, "loss_type", "option", loss_type="hinge"),
    bad(SequenceDPOConfig, "beta", "range", beta=0.0),
    bad(SequenceDPOConfig, "label_smoothing", "range", label_smoothing=0.6),
    bad(SequenceDPOConfig, "label_smoothing", "value", loss_type="ipo", label_smoothing=0.1),
    bad(SequenceDPOConfig, "oracle_scale", "inf", oracle_scale=INF),
    bad(bradley_terry_pairs, "task", "type", "digits", 4),
    bad(bradley_terry_pairs, "n", "range", _task(), 0),
    bad(bradley_terry_pairs, "scale", "range", _task(), 4, scale=-1.0),
    bad(bradley_terry_pairs, "seed", "seed", _task(), 4, seed=-3),
    bad(bradley_terry_pairs, "drop_ties", "type", _task(), 4, drop_ties="yes"),
    lazy(
        bradley_terry_pairs,
        "task",
        "value",
        lambda: ((_task().with_reward(lambda p, t, m: torch.zeros(t.shape[0])), 4), {}),
    ),
    bad(train_sequence_dpo, "pairs", "value", _task(), DPO1, pairs=_pairs(w=(0, 1), lo=(0, 0))),
    bad(train_sequence_dpo, "pairs", "range", _task(), DPO1, pairs=_pairs(p=(0, 9))),
    bad(train_sequence_dpo, "pairs", "type", _task(), DPO1, pairs=_pairs(w=(0.0, 1.0))),
    bad(train_sequence_dpo, "pairs", "type", _task(), DPO1, pairs=(np.array([0]),) * 2),
    bad(train_sequence_dpo, "pairs", "shape", _task(), DPO1, pairs=_pairs(p=(0,))),
    bad(train_sequence_dpo, "cfg", "type", _task(), SFT1),
    bad(train_sequence_dpo, "ref_policy", "type", _task(), DPO1, ref_policy=[]),
    # SFTConfig / train_sft / pretrain_reference
    bad(SFTConfig, "targets", "option", targets="experts"),
    bad(SFTConfig, "uniform_mix", "range", uniform_mix=1.5),
    bad(SFTConfig, "loss_type", "option", loss_type="mean"),
    lazy(train_sft, "solutions", "value", lambda: ((_no_solutions(), SFT1), {})),
    bad(
        train_sft,
        "completions",
        "shape",
        _task(),
        SFT1,
        completions=(torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 3, dtype=torch.bool)),
    ),
    bad(train_sft, "completions", "type", _task(), SFT1, completions=torch.zeros(2, 3)),
    bad(
        train_sft,
        "completions",
        "value",
        _task(),
        SFTConfig(targets="valid"),
        completions=(torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.bool)),
    ),
    bad(train_sft, "cfg", "type", _task(), DPO1),
    bad(pretrain_reference, "config.targets", "value", _task(), config=SFT1),
    bad(pretrain_reference, "task", "type", [_task()]),
    bad(pretrain_reference, "config", "type", _task(), config=DPO1),
    # SequenceRunResult (built from an SFT result: it has no reference)
    Case(
        SequenceRunResult,
        "task",
        "type",
        build=_result_fields,
        method="distribution",
        method_args=("digits",),
    ),
    Case(
        SequenceRunResult,
        "reference",
        "value",
        build=_result_fields,
        method="ref_distribution",
        method_args=(_task(),),
    ),
]
