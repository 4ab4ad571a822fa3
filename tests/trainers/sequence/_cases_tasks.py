"""Bad-input cases of trainers.sequence (tasks); gathered by test_bad_input.py."""

from __future__ import annotations

import math

import torch

from tests._audit import Case, bad, bad_method
from trainers.sequence.tasks import (
    SequenceTask,
    drop_prompts,
    format_reward,
    label_flips,
    length_penalty,
    length_reward,
    reward_noise,
    routed_rewards,
    shortest_paths,
    tie_break,
    tied_digit_sum,
)

EXEMPT: dict[str, str] = {
    "RewardFn": "a type alias (typing.Callable) naming the reward function signature",
}

_TINY = tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))
_FIELDS = dict(
    name="tiny",
    vocab=_TINY.vocab,
    prompts=_TINY.prompts,
    allowed=_TINY.allowed,
    eos_id=_TINY.eos_id,
    pad_id=_TINY.pad_id,
    reward_fn=_TINY.reward_fn,
)
_SOL, _SOL_MASK = _TINY.solutions, _TINY.solution_mask
_EMPTY_ROW = _TINY.allowed.clone()
_EMPTY_ROW[0] = False


def _task(**over) -> dict:
    return {**_FIELDS, **over}


def _ctor(**over) -> tuple[tuple, dict]:
    return (), _task(**over)


def _nan_reward(prompts, tokens, mask):
    return torch.full((tokens.shape[0],), math.nan)


def _one(prompts, tokens, mask):
    return torch.ones(tokens.shape[0])


CASES: list[Case] = [
    # SequenceTask
    bad(SequenceTask, "name", "type", **_task(name=3)),
    bad(SequenceTask, "vocab", "type", **_task(vocab="abc")),
    bad(SequenceTask, "vocab", "value", **_task(vocab=("a",) * len(_TINY.vocab))),
    bad(SequenceTask, "prompts", "type", **_task(prompts=_TINY.prompts.double())),
    bad(SequenceTask, "prompts", "shape", **_task(prompts=_TINY.prompts.flatten())),
    bad(SequenceTask, "prompts", "empty", **_task(prompts=torch.zeros(0, 1, dtype=torch.long))),
    bad(SequenceTask, "prompts", "range", **_task(prompts=_TINY.prompts + 100)),
    bad(SequenceTask, "allowed", "type", **_task(allowed=_TINY.allowed.long())),
    bad(SequenceTask, "allowed", "shape", **_task(allowed=_TINY.allowed[:, :3])),
    bad(SequenceTask, "allowed", "value", **_task(allowed=_EMPTY_ROW)),
    bad(SequenceTask, "eos_id", "range", **_task(eos_id=99)),
    bad(SequenceTask, "eos_id", "type", **_task(eos_id=1.5)),
    bad(SequenceTask, "pad_id", "range", **_task(pad_id=-1)),
    bad(SequenceTask, "reward_fn", "type", **_task(reward_fn=1.0)),
    bad(SequenceTask, "verifier", "type", **_task(verifier="x")),
    bad(SequenceTask, "prompt_class", "shape", **_task(prompt_class=torch.zeros(5).long())),
    bad(SequenceTask, "prompt_class", "range", **_task(prompt_class=torch.tensor([0, -1]))),
    bad(SequenceTask, "solutions", "shape", **_task(solutions=_SOL[:, :2])),
    bad(SequenceTask, "solutions", "value", **_task(solutions=_SOL.flip(0))),
    bad(SequenceTask, "solutions", "value", **_task(solutions=_SOL.flip(1))),
    bad(SequenceTask, "solution_mask", "value", **_task(solution_mask=_SOL_MASK)),
    bad(SequenceTask, "reward_fn", "nan", **_task(reward_fn=_nan_reward, solutions=_SOL)),
    bad(SequenceTask, "train_mask", "value", **_task(train_mask=torch.zeros(2, dtype=bool))),
    bad(SequenceTask, "train_mask", "shape", **_task(train_mask=torch.ones(3, dtype=bool))),
    bad(SequenceTask, "favoured", "shape", **_task(favoured=torch.ones(2, 3, dtype=bool))),
    bad(SequenceTask, "favoured", "value", **_task(favoured=~_TINY.valid_table())),
    bad(SequenceTask, "noise_sigma", "nan", **_task(noise_sigma=math.nan)),
    bad(SequenceTask, "noise_sigma", "range", **_task(noise_sigma=-0.1)),
    bad(SequenceTask, "noise_seed", "seed", **_task(noise_seed=-1)),
    bad(SequenceTask, "meta", "type", **_task(meta=[1])),
    # SequenceTask methods
    bad_method(
        SequenceTask,
        "reward",
        "reward_fn",
        "nan",
        _ctor(reward_fn=_nan_reward),
        _TINY.prompts,
        _SOL,
        _SOL_MASK,
    ),
    bad_method(
        SequenceTask,
        "reward",
        "reward_fn",
        "shape",
        _ctor(reward_fn=lambda p, t, m: torch.ones(1 + t.shape[0])),
        _TINY.prompts,
        _SOL,
        _SOL_MASK,
    ),
    bad_method(
        SequenceTask,
        "reward",
        "reward_fn",
        "type",
        _ctor(reward_fn=lambda p, t, m: 1.0),
        _TINY.prompts,
        _SOL,
        _SOL_MASK,
    ),
    bad_method(
        SequenceTask,
        "reward",
        "tokens",
        "shape",
        _ctor(),
        _TINY.prompts,
        _SOL[:, :2],
        _SOL_MASK[:, :2],
    ),
    bad_method(
        SequenceTask, "reward", "tokens", "type", _ctor(), _TINY.prompts, _SOL.double(), _SOL_MASK
    ),
    bad_method(
        SequenceTask, "reward", "mask", "type", _ctor(), _TINY.prompts, _SOL, _SOL_MASK.long()
    ),
    bad_method(
        SequenceTask, "reward", "mask", "shape", _ctor(), _TINY.prompts, _SOL, _SOL_MASK[:1]
    ),
    bad_method(
        SequenceTask, "reward", "prompts", "shape", _ctor(), _TINY.prompts[:1], _SOL, _SOL_MASK
    ),
    bad_method(
        SequenceTask,
        "reward",
        "tokens",
        "empty",
        _ctor(),
        _TINY.prompts[:0],
        _SOL[:0],
        _SOL_MASK[:0],
    ),
    bad_method(SequenceTask, "decode", "tokens", "range", _ctor(), torch.tensor([[99]])),
    bad_method(SequenceTask, "decode", "tokens", "shape", _ctor(), torch.zeros(1, 1, 1).long()),
    bad_method(SequenceTask, "decode", "mask", "shape", _ctor(), _SOL, _SOL_MASK[:1]),
    bad_method(SequenceTask, "with_reward", "reward_fn", "type", _ctor(), None),
    bad_method(SequenceTask, "with_reward", "name", "type", _ctor(), _one, 7),
    # tied_digit_sum
    bad(tied_digit_sum, "n_digits", "range", 0),
    bad(tied_digit_sum, "n_digits", "type", 1.5),
    bad(tied_digit_sum, "max_digit", "range", 2, 0),
    bad(tied_digit_sum, "sums", "empty", 2, 2, ()),
    bad(tied_digit_sum, "sums", "value", 2, 2, (2, 2)),
    bad(tied_digit_sum, "sums[1]", "range", 2, 2, (2, 5)),
    bad(tied_digit_sum, "sums[0]", "nan", 2, 2, (math.nan,)),
    bad(tied_digit_sum, "sums", "type", 2, 2, "23"),
    bad(tied_digit_sum, "outcome_only", "type", outcome_only=1),
    # shortest_paths
    bad(shortest_paths, "n_nodes", "range", 3),
    bad(shortest_paths, "n_edges", "range", 6, 5),  # a tree: unique paths
    bad(shortest_paths, "n_edges", "range", 6, 15),  # complete: no pair at distance 2
    bad(shortest_paths, "max_len", "range", max_len=2),
    bad(shortest_paths, "seed", "seed", seed=-1),
    bad(shortest_paths, "outcome_only", "type", outcome_only="yes"),
    # reward components
    bad(format_reward, "task", "type", "tiny"),
    bad(length_reward, "task", "type", None),
    # perturbations
    bad(length_penalty, "alpha", "nan", _TINY, math.nan),
    bad(length_penalty, "alpha", "inf", _TINY, math.inf),
    bad(length_penalty, "task", "type", None, 0.1),
    bad(tie_break, "eps", "nan", _TINY, math.nan),
    bad(tie_break, "eps", "range", _TINY, -1e-3),
    bad(tie_break, "fraction", "range", _TINY, 0.1, fraction=1.0),
    bad(tie_break, "fraction", "range", _TINY, 0.1, fraction=0.0),
    bad(tie_break, "seed", "seed", _TINY, 0.1, seed=-3),
    bad(tie_break, "task", "type", {}, 0.1),
    bad(reward_noise, "sigma", "nan", _TINY, math.nan, seed=0),
    bad(reward_noise, "sigma", "range", _TINY, -0.5, seed=0),
    bad(reward_noise, "seed", "seed", _TINY, 0.5, seed=1.5),
    bad(reward_noise, "task", "type", None, 0.5, seed=0),
    bad(label_flips, "q", "nan", _TINY, math.nan),
    bad(label_flips, "q", "range", _TINY, 0.5),
    bad(label_flips, "q", "range", _TINY, -0.1),
    bad(label_flips, "task", "type", None, 0.1),
    bad(drop_prompts, "fraction", "range", _TINY, 1.5, seed=0),
    bad(drop_prompts, "fraction", "value", _TINY, 0.9, seed=0),  # would drop both prompts
    bad(drop_prompts, "seed", "seed", _TINY, 0.5, seed=-1),
    bad(drop_prompts, "among", "range", _TINY, 0.5, seed=0, among=[5]),
    bad(drop_prompts, "among", "empty", _TINY, 0.5, seed=0, among=[]),
    bad(drop_prompts, "task", "type", "tiny", 0.5, seed=0),
    bad(routed_rewards, "reward_fns", "empty", _TINY, []),
    bad(routed_rewards, "reward_fns", "type", _TINY, _one),
    bad(routed_rewards, "reward_fns[1]", "type", _TINY, [_one, 2.0]),
    bad(routed_rewards, "router", "range", _TINY, [_one], lambda c: c + 3),
    bad(routed_rewards, "router", "range", _TINY, [_one], [0], prompt_class=[0, 1]),
    bad(routed_rewards, "router", "value", _TINY, [_one, _one], torch.tensor([[0.5, 0.6]])),
    bad(routed_rewards, "router", "shape", _TINY, [_one, _one], lambda c: c[:1]),
    bad(routed_rewards, "router", "type", _TINY, [_one], lambda c: "model"),
    bad(routed_rewards, "router", "nan", _TINY, [_one, _one], torch.tensor([[math.nan, 1.0]])),
    bad(routed_rewards, "prompt_class", "shape", _TINY, [_one], prompt_class=[0]),
    bad(routed_rewards, "prompt_class", "range", _TINY, [_one], prompt_class=[0, -1]),
    bad(routed_rewards, "task", "type", None, [_one]),
    bad(routed_rewards, "name", "type", _TINY, [_one], name=3),
]
