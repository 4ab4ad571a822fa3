"""Bad-input cases of the SFT+RL mixing trainers (CHORD, AMFT); gathered by test_bad_input.py.

Among them the refusals the trainers were written against: an SFT weight outside [0, 1], a
clip range of mu with mu_min > mu_max or an initial mu outside it, a cutoff that CHORD-mu
would silently ignore, negative schedule lengths, a task without expert solutions, and the
GRPOConfig switches (DAPO's, View-R1's, the KL in the reward, the sample budget) that the
configs inherit but the trainers do not read.
"""

from __future__ import annotations

import dataclasses
import functools

from tests._audit import Case, bad, lazy
from trainers.sequence import tied_digit_sum
from trainers.sequence.amft import AMFTConfig, AMFTRunResult, train_amft
from trainers.sequence.chord import CHORDConfig, mu_schedule, train_chord

NAN, INF = float("nan"), float("inf")
SMALL = {"d_model": 4, "n_layers": 1, "n_heads": 1}
CHORD1 = CHORDConfig(steps=1, batch_prompts=1, num_generations=2, expert_batch=1, **SMALL)
AMFT1 = AMFTConfig(steps=1, warmup_steps=1, batch_prompts=1, num_generations=2, **SMALL)


@functools.cache
def _task():
    return tied_digit_sum(n_digits=1, max_digit=1, sums=range(2))


def _no_solutions():
    return dataclasses.replace(_task(), solutions=None, solution_mask=None)


def _amft_result_fields():
    res = train_amft(_task(), AMFT1)
    return (), {f.name: getattr(res, f.name) for f in dataclasses.fields(res)}


EXEMPT: dict[str, str] = {}
CASES: list[Case] = [
    # CHORDConfig and its paper variants
    bad(CHORDConfig, "mu_peak", "range", mu_peak=1.5),
    bad(CHORDConfig, "mu_peak", "range", mu_peak=-0.1),
    bad(CHORDConfig, "mu_valley", "nan", mu_valley=NAN),
    bad(CHORDConfig, "mu_warmup_steps", "range", mu_warmup_steps=-1),
    bad(CHORDConfig, "mu_decay_steps", "type", mu_decay_steps=2.5),
    bad(CHORDConfig, "expert_batch", "range", expert_batch=0),
    bad(CHORDConfig, "num_generations", "range", num_generations=1),
    bad(CHORDConfig, "dual_clip", "range", dual_clip=1.0),
    bad(CHORDConfig, "dual_clip", "inf", dual_clip=INF),
    bad(CHORDConfig, "cutoff_prob", "range", cutoff_prob=0.0),
    bad(CHORDConfig, "cutoff_prob", "value", cutoff_prob=0.5, phi=False),
    bad(CHORDConfig, "phi", "type", phi="yes"),
    bad(CHORDConfig, "sft_loss_type", "option", sft_loss_type="token-mean"),
    bad(CHORDConfig, "epsilon", "range", epsilon=1.0),
    bad(CHORDConfig, "steps", "range", steps=0),
    bad(CHORDConfig, "lr", "nan", lr=NAN),
    # GRPOConfig switches CHORD's trainer does not read
    bad(CHORDConfig, "kl_in_reward", "value", kl_in_reward=0.1),
    bad(CHORDConfig, "entropy_coef", "value", entropy_coef=0.01),
    bad(CHORDConfig, "dynamic_sampling", "value", dynamic_sampling=True),
    bad(CHORDConfig, "overlong_buffer", "value", overlong_buffer=2),
    bad(CHORDConfig, "dads", "value", dads=True, beta=0.1),
    bad(CHORDConfig, "stcr", "value", stcr=True),
    bad(CHORDConfig, "sample_budget", "value", sample_budget=64),
    bad(CHORDConfig.dapo, "dynamic_sampling", "value"),
    bad(CHORDConfig, "std_eps", "range", std_eps=-1.0),
    bad(CHORDConfig.chord_mu, "decay_fraction", "range", decay_fraction=0.0),
    bad(CHORDConfig.chord_mu, "decay_fraction", "value", decay_fraction=0.5, mu_decay_steps=3),
    bad(CHORDConfig.chord_mu, "mu_valley", "range", mu_valley=2.0),
    bad(CHORDConfig.chord_phi, "mu_peak", "range", mu_peak=-1.0),
    # mu_schedule
    bad(mu_schedule, "step", "range", -1, 0, 10, 0.9, 0.05),
    bad(mu_schedule, "step", "type", 1.5, 0, 10, 0.9, 0.05),
    bad(mu_schedule, "warmup", "range", 0, -2, 10, 0.9, 0.05),
    bad(mu_schedule, "decay", "type", 0, 0, "10", 0.9, 0.05),
    bad(mu_schedule, "peak", "range", 0, 0, 10, 1.5, 0.05),
    bad(mu_schedule, "valley", "nan", 0, 0, 10, 0.9, NAN),
    # train_chord
    bad(train_chord, "cfg", "type", _task(), AMFT1),
    bad(train_chord, "task_or_tasks", "type", "digits", CHORD1),
    bad(train_chord, "seeds", "empty", _task(), CHORD1, seeds=[]),
    bad(train_chord, "ref_policy", "type", _task(), CHORD1, ref_policy="ref"),
    bad(train_chord, "callback", "type", _task(), CHORD1, callback=3),
    lazy(train_chord, "solutions", "value", lambda: ((_no_solutions(), CHORD1), {})),
    bad(
        train_chord, "max_completion_length", "range", _task(), CHORDConfig(max_completion_length=1)
    ),
    # AMFTConfig
    bad(AMFTConfig, "initial_mu", "range", initial_mu=1.5),
    bad(AMFTConfig, "mu_min", "value", mu_min=0.6, mu_max=0.4, initial_mu=0.5),
    bad(AMFTConfig, "initial_mu", "value", initial_mu=0.99),
    bad(AMFTConfig, "mu_max", "nan", mu_max=NAN),
    bad(AMFTConfig, "meta_sign", "option", meta_sign="up"),
    bad(AMFTConfig, "meta_update_freq", "range", meta_update_freq=0),
    bad(AMFTConfig, "warmup_steps", "range", warmup_steps=-1),
    bad(AMFTConfig, "meta_lr", "range", meta_lr=-1e-4),
    bad(AMFTConfig, "entropy_lr", "inf", entropy_lr=INF),
    bad(AMFTConfig, "entropy_coef", "range", entropy_coef=-0.01),
    bad(AMFTConfig, "num_iterations", "type", num_iterations=True),
    # GRPOConfig switches AMFT's trainer does not read
    bad(AMFTConfig, "kl_in_reward", "value", kl_in_reward=0.1),
    bad(AMFTConfig, "dynamic_sampling", "value", dynamic_sampling=True),
    bad(AMFTConfig, "overlong_buffer", "value", overlong_buffer=2),
    bad(AMFTConfig, "dads", "value", dads=True, beta=0.1),
    bad(AMFTConfig, "stcr", "value", stcr=True),
    bad(AMFTConfig, "sample_budget", "value", sample_budget=64),
    # train_amft
    bad(train_amft, "cfg", "type", _task(), CHORD1),
    bad(train_amft, "seeds", "seed", _task(), AMFT1, seeds=[-1]),
    bad(train_amft, "ref_policy", "type", _task(), AMFT1, ref_policy=1.0),
    bad(train_amft, "callback", "type", _task(), AMFT1, callback="print"),
    bad(train_amft, "device", "option", _task(), AMFT1, device="tpu"),
    lazy(train_amft, "solutions", "value", lambda: ((_no_solutions(), AMFT1), {})),
    bad(train_amft, "max_completion_length", "range", _task(), AMFTConfig(max_completion_length=1)),
    # AMFTRunResult (a SequenceRunResult with the controller's trajectories)
    Case(
        AMFTRunResult,
        "task",
        "type",
        build=_amft_result_fields,
        method="distribution",
        method_args=("digits",),
    ),
]
