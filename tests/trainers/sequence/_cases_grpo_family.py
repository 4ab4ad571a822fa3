"""Bad-input cases of the GRPO family's switches and helpers (DAPO, Dr. GRPO, View-R1's APO in
trainers.sequence.grpo; GHPO in trainers.sequence.ghpo); gathered by test_bad_input.py.

Among them the refusals these were written against: an STCR base <= 1 (``1 - base^-Delta``
would not lie in [0, 1)), DADS without a KL term, a dynamic-sampling budget of no batch, an
overlong buffer longer than the completions, a hint ladder that does not climb inside (0, 1),
GHPO on a task without expert solutions.
"""

from __future__ import annotations

import dataclasses
import functools

import torch

from tests._audit import Case, bad, lazy
from trainers.sequence import TinyCausalLM, tied_digit_sum
from trainers.sequence.ghpo import GHPOConfig, hint_lengths, train_ghpo
from trainers.sequence.grpo import (
    GRPOConfig,
    completion_correct,
    dads_kl_loss,
    dads_weights,
    overlong_reward,
    stcr_factors,
    train_grpo,
)

NAN, INF = float("nan"), float("inf")
A = torch.zeros(2, 4)  # advantages (Bp, G)
CORRECT = torch.zeros(2, 4, dtype=torch.bool)
LP = torch.zeros(2, 3)  # per-token log-probs (B, L)
M = torch.ones(2, 3, dtype=torch.bool)
W = torch.ones(2)
P = torch.full((1, 2, 1), 2, dtype=torch.long)  # prompts (N, B, Tp)
TOK = torch.zeros(1, 2, 3, dtype=torch.long)  # completions (N, B, L) of _task()
TM = torch.ones(1, 2, 3, dtype=torch.bool)


@functools.cache
def _task():
    """One digit in {0, 1}: completions ``d A=a <eos>`` (L = 3)."""
    return tied_digit_sum(n_digits=1, max_digit=1, sums=range(2))


def _no_solutions():
    return dataclasses.replace(_task(), solutions=None, solution_mask=None)


ONE = GHPOConfig(steps=1, batch_prompts=1, num_generations=2)

EXEMPT: dict[str, str] = {}
CASES: list[Case] = [
    # GRPOConfig: DAPO / APO switches and presets
    bad(GRPOConfig, "stcr_base", "range", stcr_base=1.0),
    bad(GRPOConfig, "stcr_base", "nan", stcr_base=NAN),
    bad(GRPOConfig, "max_gen_batches", "range", max_gen_batches=0),
    bad(GRPOConfig, "dynamic_sampling", "type", dynamic_sampling=1),
    bad(GRPOConfig, "filter_metric", "option", filter_metric="acc"),
    bad(GRPOConfig, "overlong_buffer", "range", overlong_buffer=0),
    bad(GRPOConfig, "overlong_buffer", "value", overlong_buffer=5, max_completion_length=4),
    bad(GRPOConfig, "overlong_penalty", "inf", overlong_penalty=INF),
    bad(GRPOConfig, "std_eps", "range", std_eps=-1.0),
    bad(GRPOConfig, "stcr", "type", stcr="yes"),
    bad(GRPOConfig, "beta", "value", dads=True),
    bad(GRPOConfig.dapo, "epsilon_high", "range", epsilon_high=-0.1),
    bad(GRPOConfig.apo_view_r1, "beta", "value", beta=0.0),
    bad(GRPOConfig.dr_grpo, "lr", "nan", lr=NAN),
    bad(train_grpo, "overlong_buffer", "range", _task(), GRPOConfig(overlong_buffer=4)),
    # completion_correct
    bad(completion_correct, "task_or_tasks", "type", "digits", P, TOK, TM),
    lazy(
        completion_correct,
        "task_or_tasks",
        "shape",
        lambda: (([_task(), _task()], P, TOK, TM), {}),
    ),
    bad(completion_correct, "task_or_tasks[0]", "type", [None], P, TOK, TM),
    bad(completion_correct, "prompts", "type", _task(), P.double(), TOK, TM),
    bad(completion_correct, "mask", "shape", _task(), P, TOK, TM[..., :2]),
    bad(completion_correct, "tokens", "shape", _task(), P, TOK[..., :2], TM[..., :2]),
    bad(completion_correct, "prompts", "shape", _task(), P[:, :1], TOK, TM),
    # overlong_reward
    bad(overlong_reward, "lengths", "type", [3, 4], 6, 2),
    bad(overlong_reward, "buffer", "range", torch.tensor([3]), 6, 0),
    bad(overlong_reward, "buffer", "value", torch.tensor([3]), 6, 7),
    bad(overlong_reward, "max_completion_length", "type", torch.tensor([3]), 6.5, 2),
    bad(overlong_reward, "penalty", "nan", torch.tensor([3]), 6, 2, NAN),
    # dads_weights / dads_kl_loss / stcr_factors
    bad(dads_weights, "advantages", "type", A.long(), CORRECT),
    bad(dads_weights, "advantages", "shape", torch.tensor(1.0), torch.tensor(True)),
    bad(dads_weights, "correct", "type", A, A),
    bad(dads_weights, "correct", "shape", A, CORRECT[:, :3]),
    bad(dads_kl_loss, "weights", "shape", LP, LP, M, torch.ones(3)),
    bad(dads_kl_loss, "weights", "type", LP, LP, M, [1.0, 1.0]),
    bad(dads_kl_loss, "mask", "shape", LP, LP, M[:, :2], W),
    bad(dads_kl_loss, "ref_logp", "shape", LP, LP[:1], M, W),
    bad(stcr_factors, "base", "range", A, CORRECT, 1.0),
    bad(stcr_factors, "base", "nan", A, CORRECT, NAN),
    bad(stcr_factors, "correct", "shape", A, CORRECT[:1]),
    bad(stcr_factors, "lengths", "type", [[1, 2]], CORRECT),
    bad(stcr_factors, "correct", "type", A, A),
    # GHPOConfig / hint_lengths / train_ghpo
    bad(GHPOConfig, "hint_ladder", "value", hint_ladder=(0.5, 0.25)),
    bad(GHPOConfig, "hint_ladder[1]", "range", hint_ladder=(0.5, 1.0)),
    bad(GHPOConfig, "hint_ladder[0]", "nan", hint_ladder=(NAN,)),
    bad(GHPOConfig, "hint_ladder", "empty", hint_ladder=()),
    bad(GHPOConfig, "hint_ladder", "type", hint_ladder=0.5),
    bad(GHPOConfig, "dynamic_sampling", "value", dynamic_sampling=True),
    bad(GHPOConfig, "overlong_buffer", "value", overlong_buffer=2),
    bad(GHPOConfig, "dads", "value", dads=True, beta=0.1),
    bad(GHPOConfig, "stcr", "value", stcr=True),
    bad(GHPOConfig, "loss_type", "option", loss_type="token-mean"),
    bad(hint_lengths, "task", "type", "digits", 0.5),
    bad(hint_lengths, "fraction", "range", _task(), 1.0),
    lazy(hint_lengths, "solutions", "value", lambda: ((_no_solutions(), 0.5), {})),
    bad(train_ghpo, "cfg", "type", _task(), GRPOConfig(steps=1)),
    lazy(train_ghpo, "solutions", "value", lambda: ((_no_solutions(), ONE), {})),
    bad(train_ghpo, "task_or_tasks", "type", "digits", ONE),
    bad(train_ghpo, "seeds", "empty", _task(), ONE, seeds=[]),
    bad(train_ghpo, "ref_policy", "type", _task(), ONE, ref_policy="ref"),
    bad(train_ghpo, "seeds", "value", _task(), ONE, seeds=[0, 1], policy=TinyCausalLM(7, seed=0)),
    bad(train_ghpo, "max_completion_length", "range", _task(), GHPOConfig(max_completion_length=1)),
]
