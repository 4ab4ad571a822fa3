"""Bad-input cases of trainers.sequence.veripo and trainers.sequence.direct_advantage;
gathered by test_bad_input.py.

Among them the refusals the two trainers were written against: a verifier without a rejecting
rule (it could never form a pair), trace rules on a task without a digit-sum trace, a GRPO
stage or an iteration left without a step, the centred Direct Advantage loss with one
candidate per state (no spread to centre), and an exact critic on a task too large to key its
prefixes.
"""

from __future__ import annotations

import functools

import torch

from tests._audit import Case, bad, lazy
from trainers.sequence import SequenceDistribution, TinyCausalLM, shortest_paths, tied_digit_sum
from trainers.sequence.direct_advantage import (
    DirectAdvantageConfig,
    direct_advantage_loss,
    exact_state_values,
    train_direct_advantage,
)
from trainers.sequence.veripo import (
    VerIPOConfig,
    inconsistency_rate,
    trace_consistent,
    train_veripo,
    verifier_pairs,
)

NAN, INF = float("nan"), float("inf")
SMALL = {"d_model": 8, "n_layers": 1, "n_heads": 1}


@functools.cache
def _task():
    return tied_digit_sum(n_digits=1, max_digit=1, sums=range(2), outcome_only=True)


@functools.cache
def _paths():
    return shortest_paths()


def _comps():
    return _task().completions()


V1 = VerIPOConfig(
    steps=2, cycles=1, batch_prompts=1, num_generations=2, steps_dpo=1, verifier_prompts=1, **SMALL
)
D1 = DirectAdvantageConfig(steps=1, n_rollouts=1, batch_states=1, candidates=2, **SMALL)
LR = torch.zeros(2, 3)


def _pairs_args(**kw):
    tokens, mask = _comps()
    rewards = torch.zeros(tokens.shape[0], dtype=torch.float64)
    return (_task(), tokens, mask, rewards, 2), kw


def _values_args(**kw):
    policy = TinyCausalLM(_task().vocab_size, max_len=4, seeds=[0], **SMALL)
    L = _task().completion_len
    args = {
        "prompt_ids": torch.zeros(1, 2, dtype=torch.long),
        "tokens": torch.zeros(1, 2, L, dtype=torch.long),
        "lengths": torch.zeros(1, 2, dtype=torch.long),
    }
    args.update(kw)
    return (policy, _task()), args


EXEMPT: dict[str, str] = {}
CASES: list[Case] = [
    # VerIPOConfig
    bad(VerIPOConfig, "steps", "value", steps=2, cycles=2),
    bad(VerIPOConfig, "cycles", "range", cycles=-1),
    bad(VerIPOConfig, "num_generations", "range", num_generations=1),
    bad(VerIPOConfig, "verifier_rules", "option", verifier_rules=("accuracy", "length")),
    bad(VerIPOConfig, "verifier_rules", "type", verifier_rules="accuracy"),
    bad(VerIPOConfig, "verifier_rules", "value", verifier_rules=("no_repeat",)),
    bad(VerIPOConfig, "verifier_rules", "value", verifier_rules=("accuracy", "accuracy")),
    bad(VerIPOConfig, "dpo_beta", "range", dpo_beta=0.0),
    bad(VerIPOConfig, "dpo_lr", "range", dpo_lr=-1e-3),
    bad(VerIPOConfig, "dpo_reference", "option", dpo_reference="sft"),
    bad(VerIPOConfig, "accuracy_threshold", "nan", accuracy_threshold=NAN),
    bad(VerIPOConfig, "pairs_per_prompt", "range", pairs_per_prompt=0),
    bad(VerIPOConfig, "lr", "inf", lr=INF),
    bad(VerIPOConfig, "loss_type", "option", loss_type="token-mean"),
    bad(VerIPOConfig, "dynamic_sampling", "value", dynamic_sampling=True),
    bad(VerIPOConfig, "sample_budget", "value", sample_budget=64),
    bad(VerIPOConfig, "std_eps", "range", std_eps=-1.0),
    # train_veripo
    bad(train_veripo, "cfg", "type", _task(), D1),
    bad(train_veripo, "task_or_tasks", "type", "digits", V1),
    bad(train_veripo, "ref_policy", "type", _task(), V1, ref_policy="ref"),
    bad(train_veripo, "seeds", "empty", _task(), V1, seeds=[]),
    lazy(train_veripo, "task_or_tasks", "value", lambda: ((_paths(), V1), {})),
    # verifier_pairs / trace_consistent / inconsistency_rate
    lazy(verifier_pairs, "rules", "option", lambda: _pairs_args(rules=("accuracy", "judge"))),
    lazy(verifier_pairs, "rules", "value", lambda: _pairs_args(rules=("no_repeat",))),
    lazy(verifier_pairs, "group_size", "value", lambda: ((*_pairs_args()[0][:4], 3), {})),
    lazy(verifier_pairs, "group_size", "range", lambda: ((*_pairs_args()[0][:4], 0), {})),
    lazy(verifier_pairs, "pairs_per_prompt", "range", lambda: _pairs_args(pairs_per_prompt=0)),
    lazy(
        verifier_pairs,
        "accuracy_threshold",
        "nan",
        lambda: _pairs_args(accuracy_threshold=NAN),
    ),
    lazy(
        verifier_pairs,
        "rewards",
        "shape",
        lambda: ((*_pairs_args()[0][:3], torch.zeros(1, dtype=torch.float64), 2), {}),
    ),
    lazy(
        verifier_pairs,
        "rewards",
        "nan",
        lambda: (
            (*_pairs_args()[0][:3], torch.full((_comps()[0].shape[0],), NAN), 2),
            {},
        ),
    ),
    lazy(
        verifier_pairs,
        "tokens",
        "type",
        lambda: ((_task(), _comps()[0].float(), _comps()[1], torch.zeros(2), 2), {}),
    ),
    lazy(verifier_pairs, "generator", "type", lambda: _pairs_args(generator=3)),
    lazy(
        verifier_pairs,
        "task",
        "value",
        lambda: (
            (
                _paths(),
                *_paths().completions(),
                torch.zeros(_paths().completions()[0].shape[0], dtype=torch.float64),
                1,
            ),
            {},
        ),
    ),
    lazy(trace_consistent, "task", "type", lambda: (("digits", *_comps()), {})),
    lazy(
        trace_consistent,
        "tokens",
        "shape",
        lambda: ((_task(), _comps()[0][:, :2], _comps()[1]), {}),
    ),
    lazy(trace_consistent, "mask", "type", lambda: ((_task(), _comps()[0], _comps()[0]), {})),
    lazy(inconsistency_rate, "among", "option", lambda: ((_task(), None), {"among": "wrong"})),
    bad(inconsistency_rate, "policy_or_distribution", "type", _task(), "policy"),
    bad(
        inconsistency_rate,
        "policy_or_distribution",
        "shape",
        _task(),
        SequenceDistribution(torch.zeros(2, 1, dtype=torch.float64)),
    ),
    lazy(
        inconsistency_rate,
        "task",
        "value",
        lambda: ((_paths(), TinyCausalLM(_paths().vocab_size, seed=0, **SMALL)), {}),
    ),
    # DirectAdvantageConfig
    bad(DirectAdvantageConfig, "candidates", "value", candidates=1),
    bad(DirectAdvantageConfig, "steps", "value", steps=2, iterations=3),
    bad(DirectAdvantageConfig, "critic", "option", critic="learned"),
    bad(DirectAdvantageConfig, "beta", "range", beta=0.0),
    bad(DirectAdvantageConfig, "critic_noise", "nan", critic_noise=NAN),
    bad(DirectAdvantageConfig, "critic_noise", "range", critic_noise=-0.1),
    bad(DirectAdvantageConfig, "centred", "type", centred=1),
    bad(DirectAdvantageConfig, "step_tokens", "range", step_tokens=0),
    bad(DirectAdvantageConfig, "n_mc", "type", n_mc=2.5),
    # train_direct_advantage
    bad(train_direct_advantage, "cfg", "type", _task(), V1),
    bad(train_direct_advantage, "task_or_tasks", "type", None, D1),
    bad(train_direct_advantage, "ref_policy", "type", _task(), D1, ref_policy=3),
    bad(train_direct_advantage, "seeds", "seed", _task(), D1, seeds=[-1]),
    lazy(
        train_direct_advantage,
        "critic",
        "value",
        lambda: ((tied_digit_sum(n_digits=12), D1), {}),
    ),
    # direct_advantage_loss
    bad(direct_advantage_loss, "log_ratio", "type", LR.long(), LR, 0.1),
    bad(direct_advantage_loss, "advantages", "shape", LR, LR[:, :2], 0.1),
    bad(direct_advantage_loss, "advantages", "type", LR, [0.0], 0.1),
    bad(direct_advantage_loss, "beta", "range", LR, LR, 0.0),
    bad(direct_advantage_loss, "beta", "nan", LR, LR, NAN),
    bad(direct_advantage_loss, "centred", "type", LR, LR, 0.1, centred="yes"),
    bad(direct_advantage_loss, "log_ratio", "value", LR[:, :1], LR[:, :1], 0.1),
    # exact_state_values
    bad(
        exact_state_values,
        "policy",
        "type",
        lambda ids: ids,
        _task(),
        torch.zeros(1, 1, dtype=torch.long),
        torch.zeros(1, 1, 3, dtype=torch.long),
        torch.zeros(1, 1, dtype=torch.long),
    ),
    lazy(
        exact_state_values,
        "prompt_ids",
        "range",
        lambda: _values_args(prompt_ids=torch.full((1, 2), 9, dtype=torch.long)),
    ),
    lazy(
        exact_state_values,
        "prompt_ids",
        "shape",
        lambda: _values_args(prompt_ids=torch.zeros(2, 2, dtype=torch.long)),
    ),
    lazy(
        exact_state_values,
        "lengths",
        "range",
        lambda: _values_args(lengths=torch.full((1, 2), 9, dtype=torch.long)),
    ),
    lazy(exact_state_values, "lengths", "type", lambda: _values_args(lengths=torch.zeros(1, 2))),
    lazy(
        exact_state_values,
        "tokens",
        "shape",
        lambda: _values_args(tokens=torch.zeros(1, 2, 1, dtype=torch.long)),
    ),
    lazy(
        exact_state_values,
        "tokens",
        "value",
        lambda: _values_args(
            tokens=torch.ones(1, 2, 3, dtype=torch.long),
            lengths=torch.full((1, 2), 2, dtype=torch.long),
        ),
    ),
]
