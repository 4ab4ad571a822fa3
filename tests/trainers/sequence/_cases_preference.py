"""Bad-input cases of the preference oracles and the iterative preference trainers
(trainers.sequence.dpo and trainers.sequence.iterative_po); gathered by test_bad_input.py.

Among them the refusals the iterative trainers were written against: a momentum of 1 (the
Nesterov extrapolation diverges), the unimplemented logit-space extrapolation, DNO's teacher
and margin with the soft variant (they belong to Algorithm 2), a teacher on a task without
expert solutions, exact enumeration of an oracle with too many classes.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from tests._audit import Case, bad, lazy
from trainers.sequence import TinyCausalLM, tied_digit_sum
from trainers.sequence.dpo import (
    SequenceDPOConfig,
    on_policy_pairs,
    preference_oracle,
    preference_table,
    train_sequence_dpo,
)
from trainers.sequence.iterative_po import (
    AccPOConfig,
    DNOConfig,
    train_accelerated_po,
    train_dno,
)

NAN, INF = float("nan"), float("inf")


@functools.cache
def _task():
    return tied_digit_sum(n_digits=1, max_digit=1, sums=range(2))


def _policy():
    t = _task()
    return TinyCausalLM(
        t.vocab_size, max_len=t.prompt_len + t.completion_len, d_model=8, n_layers=1, seeds=[0]
    )


def _no_solutions():
    return dataclasses.replace(_task(), solutions=None, solution_mask=None)


@functools.cache
def _many_rewards():
    """A task whose 10625 completions each have their own reward: more oracle classes than a
    class matrix is built for."""
    t = tied_digit_sum(n_digits=4, max_digit=4, sums=(4,))
    weights = 30.0 ** torch.arange(t.completion_len, dtype=torch.float64)
    return t.with_reward(lambda p, tok, m: (tok.double() * weights).sum(-1))


DPO1 = SequenceDPOConfig(steps=1, batch_size=2, n_pairs=4, d_model=8)


def _pairs(p=(0, 1), w=(0, 1), lo=(1, 0)):
    return (np.array(p), np.array(w), np.array(lo))


ACC1 = AccPOConfig(steps=1, inner_steps=1, prompts_per_iteration=2, batch_size=2, d_model=8)
DNO1 = DNOConfig(steps=1, inner_steps=1, prompts_per_iteration=2, batch_size=2, d_model=8)


def _oracle_ctor():
    return (_task(),), {}


_ORACLE_WHY = (
    "built by preference_oracle, which validates its input; its methods are audited below "
    "through preference_oracle(...).method cases"
)
EXEMPT: dict[str, str] = {"dpo.PreferenceOracle": _ORACLE_WHY, "PreferenceOracle": _ORACLE_WHY}
CASES: list[Case] = [
    # preference_oracle / preference_table / PreferenceOracle methods
    bad(preference_oracle, "task", "type", "digits"),
    bad(preference_oracle, "kind", "option", _task(), "condorcet"),
    bad(preference_oracle, "scale", "range", _task(), scale=0.0),
    bad(preference_oracle, "scale", "nan", _task(), scale=NAN),
    bad(preference_oracle, "strength", "range", _task(), "intransitive", strength=1.5),
    bad(preference_table, "max_entries", "range", _task(), max_entries=0),
    bad(preference_table, "max_entries", "value", _task(), max_entries=3),
    bad(preference_table, "flips", "type", _task(), flips="yes"),
    Case(
        preference_oracle,
        "a",
        "range",
        build=_oracle_ctor,
        method="prob",
        method_args=(np.array([0]), np.array([99]), np.array([0])),
    ),
    Case(
        preference_oracle,
        "prompts",
        "type",
        build=_oracle_ctor,
        method="prob",
        method_args=(np.array([0.0]), np.array([0]), np.array([1])),
    ),
    Case(
        preference_oracle,
        "prompts",
        "shape",
        build=_oracle_ctor,
        method="prob",
        method_args=(np.array([0, 1]), np.array([0, 1, 0]), np.array([1])),
    ),
    Case(
        preference_oracle,
        "logp",
        "shape",
        build=_oracle_ctor,
        method="expected_win",
        method_args=(torch.zeros(2, 5),),
    ),
    Case(
        preference_oracle,
        "logp",
        "nan",
        build=_oracle_ctor,
        method="class_masses",
        method_args=(torch.full((2, 4), NAN),),
    ),
    Case(
        preference_oracle,
        "other_logp",
        "type",
        build=_oracle_ctor,
        method="win_rate",
        method_args=(torch.zeros(2, 4), np.zeros((2, 4))),
    ),
    Case(
        preference_oracle,
        "classes",
        "value",
        build=lambda: ((_many_rewards(),), {}),
        method="matrix",
        method_args=(),
    ),
    # on_policy_pairs
    bad(on_policy_pairs, "policy", "type", lambda ids: ids, _task(), 2),
    lazy(on_policy_pairs, "n_prompts", "range", lambda: ((_policy(), _task(), 0), {})),
    lazy(on_policy_pairs, "oracle", "option", lambda: ((_policy(), _task(), 2), {"oracle": "x"})),
    lazy(on_policy_pairs, "drop_ties", "type", lambda: ((_policy(), _task(), 2), {"drop_ties": 1})),
    lazy(on_policy_pairs, "seeds", "value", lambda: ((_policy(), _task(), 2), {"seeds": [0, 1]})),
    lazy(on_policy_pairs, "scale", "inf", lambda: ((_policy(), _task(), 2), {"scale": INF})),
    # train_sequence_dpo with pairs given per run
    bad(train_sequence_dpo, "pairs", "shape", _task(), DPO1, pairs=[_pairs()] * 3, seeds=[0, 1]),
    bad(
        train_sequence_dpo,
        "pairs[1]",
        "empty",
        _task(),
        DPO1,
        pairs=[_pairs(), (np.array([], dtype=int),) * 3],
        seeds=[0, 1],
    ),
    bad(
        train_sequence_dpo,
        "pairs[0]",
        "value",
        _task(),
        DPO1,
        pairs=[_pairs(w=(0, 1), lo=(0, 0)), _pairs()],
        seeds=[0, 1],
    ),
    # AccPOConfig / train_accelerated_po
    bad(AccPOConfig, "alpha", "range", alpha=1.0),
    bad(AccPOConfig, "alpha", "range", alpha=-0.1),
    bad(AccPOConfig, "alpha", "nan", alpha=NAN),
    bad(AccPOConfig, "extrapolation", "option", extrapolation="logits"),
    bad(AccPOConfig, "inner_steps", "range", inner_steps=0),
    bad(AccPOConfig, "prompts_per_iteration", "type", prompts_per_iteration=2.5),
    bad(AccPOConfig, "drop_ties", "type", drop_ties="no"),
    bad(AccPOConfig, "oracle", "option", oracle="condorcet"),
    bad(AccPOConfig, "oracle_strength", "range", oracle_strength=2.0),
    bad(AccPOConfig, "win_rate", "option", win_rate="always"),
    bad(AccPOConfig, "exact_max", "range", exact_max=0),
    bad(AccPOConfig, "reset_optimizer", "type", reset_optimizer=1),
    bad(AccPOConfig, "beta", "range", beta=0.0),
    bad(train_accelerated_po, "cfg", "type", _task(), DNO1),
    bad(train_accelerated_po, "cfg", "type", _task(), SequenceDPOConfig()),
    bad(train_accelerated_po, "task_or_tasks", "type", "digits", ACC1),
    bad(train_accelerated_po, "seeds", "empty", _task(), ACC1, seeds=[]),
    bad(train_accelerated_po, "ref_policy", "type", _task(), ACC1, ref_policy="ref"),
    bad(train_accelerated_po, "callback", "type", _task(), ACC1, callback=3),
    lazy(
        train_accelerated_po,
        "win_rate",
        "value",
        lambda: ((_many_rewards(), dataclasses.replace(ACC1, win_rate="exact")), {}),
    ),
    # DNOConfig / train_dno
    bad(DNOConfig, "variant", "option", variant="hard"),
    bad(DNOConfig, "n_samples", "range", n_samples=1),
    bad(DNOConfig, "target_scale", "range", target_scale=-1.0),
    bad(DNOConfig, "reward_estimate", "option", reward_estimate="mc"),
    bad(DNOConfig, "verdicts", "option", verdicts="soft"),
    bad(DNOConfig, "margin", "range", variant="prct", margin=-0.1),
    bad(DNOConfig, "margin", "value", variant="soft", margin=0.2),
    bad(DNOConfig, "teacher", "value", variant="soft", teacher=True),
    bad(DNOConfig, "win_rate_samples", "range", win_rate_samples=0),
    bad(train_dno, "cfg", "type", _task(), ACC1),
    bad(train_dno, "seeds", "seed", _task(), DNO1, seeds=[-1]),
    lazy(
        train_dno,
        "solutions",
        "value",
        lambda: ((_no_solutions(), DNOConfig(variant="prct", teacher=True, steps=1)), {}),
    ),
    lazy(
        train_dno,
        "reward_estimate",
        "value",
        lambda: ((_many_rewards(), dataclasses.replace(DNO1, reward_estimate="exact")), {}),
    ),
]
