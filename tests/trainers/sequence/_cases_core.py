"""Bad-input cases of trainers.sequence (core: policies, sampling, exact distributions);
gathered by test_bad_input.py."""

from __future__ import annotations

import math

import torch

from tests._audit import Case, bad, bad_method
from trainers.sequence.exact import (
    SequenceDistribution,
    enumerate_completions,
    exact_distribution,
    exact_logprobs,
    kl_divergence,
    kl_regularized_optimum,
    reverse_kl_regularized_optimum,
    tv_distance,
)
from trainers.sequence.policy import TinyCausalLM, policy_logits
from trainers.sequence.sampling import Completions, completion_logprobs, sample

EXEMPT: dict[str, str] = {
    "KVCache": "a plain container built by TinyCausalLM.init_cache (audited through it)",
}

V = 4
_CFG = {"max_len": 8, "d_model": 8, "n_layers": 1, "n_heads": 2}
_M = TinyCausalLM(V, seed=0, **_CFG)
_STACKED = TinyCausalLM(V, seeds=[0, 1], **_CFG)
_IDS = torch.zeros(2, 3, dtype=torch.long)
_PROMPTS = torch.zeros(2, 1, dtype=torch.long)
_TOK = torch.zeros(2, 3, dtype=torch.long)
_MASK = torch.ones(2, 3, dtype=torch.bool)
_ALLOWED = torch.ones(3, V, dtype=torch.bool)
_NO_ROW = _ALLOWED.clone()
_NO_ROW[1] = False
_LP = torch.log(torch.full((2, 4), 0.25, dtype=torch.float64))
_R = torch.zeros(2, 4, dtype=torch.float64)
_G = torch.Generator().manual_seed(0)


def _cfg(**over) -> tuple[tuple, dict]:
    return (V,), {**_CFG, "seed": 0, **over}


CASES: list[Case] = [
    # TinyCausalLM: constructor
    bad(TinyCausalLM, "vocab_size", "range", 1),
    bad(TinyCausalLM, "vocab_size", "type", 4.0),
    bad(TinyCausalLM, "max_len", "range", V, max_len=0),
    bad(TinyCausalLM, "d_model", "value", V, d_model=10, n_heads=3),
    bad(TinyCausalLM, "n_layers", "type", V, n_layers=True),
    bad(TinyCausalLM, "seed", "seed", V, seed=-1),
    bad(TinyCausalLM, "seeds", "type", V, seeds="01"),
    bad(TinyCausalLM, "seeds", "empty", V, seeds=[]),
    bad(TinyCausalLM, "seeds[1]", "seed", V, seeds=[0, 1.5]),
    bad(TinyCausalLM, "seeds", "value", V, seed=0, seeds=[1]),
    bad(TinyCausalLM, "tied", "type", V, tied="yes"),
    bad(TinyCausalLM, "dtype", "type", V, dtype=torch.long),
    # TinyCausalLM: forward, init_cache, unstack
    bad_method(TinyCausalLM, "forward", "ids", "type", _cfg(), [[0, 1]]),
    bad_method(TinyCausalLM, "forward", "ids", "type", _cfg(), _IDS.float()),
    bad_method(TinyCausalLM, "forward", "ids", "range", _cfg(), torch.tensor([[0, V]])),
    bad_method(TinyCausalLM, "forward", "ids", "range", _cfg(), torch.tensor([[-1, 0]])),
    bad_method(
        TinyCausalLM, "forward", "ids", "shape", _cfg(), torch.zeros(2, 0, dtype=torch.long)
    ),
    bad_method(TinyCausalLM, "forward", "ids", "shape", _cfg(), torch.zeros((), dtype=torch.long)),
    bad_method(
        TinyCausalLM, "forward", "max_len", "range", _cfg(), torch.zeros(1, 9, dtype=torch.long)
    ),
    bad_method(
        TinyCausalLM, "forward", "ids", "shape", _cfg(seed=None, seeds=[0, 1]), _IDS.T.contiguous()
    ),
    bad_method(TinyCausalLM, "forward", "cache", "type", _cfg(), _IDS, {"length": 0}),
    bad_method(TinyCausalLM, "init_cache", "batch_shape", "type", _cfg(), 3),
    bad_method(TinyCausalLM, "init_cache", "batch_shape[0]", "range", _cfg(), (0,)),
    bad_method(
        TinyCausalLM, "init_cache", "batch_shape", "shape", _cfg(seed=None, seeds=[0, 1]), (3,)
    ),
    bad_method(TinyCausalLM, "unstack", "i", "range", _cfg(seed=None, seeds=[0, 1]), 2),
    bad_method(TinyCausalLM, "unstack", "unstack", "value", _cfg(), 0),
    # policy_logits
    bad(policy_logits, "policy", "type", "not a policy", _IDS),
    bad(policy_logits, "policy", "type", lambda ids: ids, _IDS),
    bad(policy_logits, "policy", "shape", lambda ids: torch.zeros(2, 2, V), _IDS),
    bad(policy_logits, "ids", "type", _M, _IDS.float()),
    # Completions
    bad(Completions, "tokens", "type", _TOK.float(), _MASK, torch.zeros(2, 3)),
    bad(Completions, "mask", "shape", _TOK, _MASK[:, :2], torch.zeros(2, 3)),
    bad(Completions, "logp", "shape", _TOK, _MASK, torch.zeros(2, 2)),
    bad(Completions, "logp", "type", _TOK, _MASK, _TOK),
    # sample
    bad(sample, "policy", "type", None, _PROMPTS, max_new_tokens=3),
    bad(sample, "prompts", "type", _M, _PROMPTS.float(), max_new_tokens=3),
    bad(sample, "prompts", "shape", _M, torch.zeros(3, dtype=torch.long), max_new_tokens=3),
    bad(sample, "prompts", "range", _M, -_PROMPTS - 1, max_new_tokens=3),
    bad(sample, "ids", "range", _M, _PROMPTS + V, max_new_tokens=3),
    bad(sample, "max_new_tokens", "range", _M, _PROMPTS, max_new_tokens=0),
    bad(sample, "max_new_tokens", "type", _M, _PROMPTS, max_new_tokens=2.5),
    bad(sample, "max_len", "range", _M, _PROMPTS, max_new_tokens=9),
    bad(sample, "allowed", "shape", _M, _PROMPTS, max_new_tokens=2, allowed=_ALLOWED),
    bad(sample, "allowed", "type", _M, _PROMPTS, max_new_tokens=3, allowed=_ALLOWED.int()),
    bad(sample, "allowed", "value", _M, _PROMPTS, max_new_tokens=3, allowed=_NO_ROW),
    bad(sample, "allowed", "shape", _M, _PROMPTS, max_new_tokens=3, allowed=_ALLOWED[:, :3]),
    bad(sample, "eos_id", "range", _M, _PROMPTS, max_new_tokens=3, eos_id=V),
    bad(sample, "eos_id", "type", _M, _PROMPTS, max_new_tokens=3, eos_id=1.0),
    bad(sample, "pad_id", "range", _M, _PROMPTS, max_new_tokens=3, pad_id=-1),
    bad(sample, "pad_id", "range", _M, _PROMPTS, max_new_tokens=3, pad_id=V),
    bad(sample, "temperature", "range", _M, _PROMPTS, max_new_tokens=3, temperature=0.0),
    bad(sample, "temperature", "nan", _M, _PROMPTS, max_new_tokens=3, temperature=math.nan),
    bad(sample, "top_k", "range", _M, _PROMPTS, max_new_tokens=3, top_k=0),
    bad(sample, "top_p", "range", _M, _PROMPTS, max_new_tokens=3, top_p=0.0),
    bad(sample, "top_p", "range", _M, _PROMPTS, max_new_tokens=3, top_p=1.5),
    bad(sample, "generator", "type", _M, _PROMPTS, max_new_tokens=3, generator=0),
    bad(sample, "generator", "type", _M, _PROMPTS, max_new_tokens=3, generator="g"),
    bad(sample, "generator[1]", "type", _STACKED, _PROMPTS, max_new_tokens=3, generator=[_G, 0]),
    # one generator per run: a stacked policy of 2 runs needs 2, a single policy 1
    bad(sample, "generator", "shape", _STACKED, _PROMPTS, max_new_tokens=3, generator=[_G]),
    bad(sample, "generator", "shape", _M, _PROMPTS, max_new_tokens=3, generator=[_G, _G]),
    bad(
        sample,
        "prompts",
        "shape",
        _STACKED,
        torch.zeros(3, 2, 1, dtype=torch.long),
        max_new_tokens=3,
    ),
    # completion_logprobs
    bad(completion_logprobs, "policy", "type", 3, _PROMPTS, _TOK, _MASK),
    bad(completion_logprobs, "prompts", "shape", _M, _PROMPTS[0], _TOK, _MASK),
    bad(completion_logprobs, "tokens", "type", _M, _PROMPTS, _TOK.float(), _MASK),
    bad(completion_logprobs, "tokens", "shape", _M, _PROMPTS, _TOK[:1], _MASK[:1]),
    bad(completion_logprobs, "tokens", "range", _M, _PROMPTS, _TOK + V, _MASK),
    bad(completion_logprobs, "tokens", "range", _M, _PROMPTS, _TOK - 1, _MASK),
    bad(completion_logprobs, "mask", "type", _M, _PROMPTS, _TOK, _MASK.int()),
    bad(completion_logprobs, "mask", "shape", _M, _PROMPTS, _TOK, _MASK[:, :2]),
    bad(completion_logprobs, "allowed", "shape", _M, _PROMPTS, _TOK, _MASK, allowed=_ALLOWED[:2]),
    bad(completion_logprobs, "allowed", "value", _M, _PROMPTS, _TOK, _MASK, allowed=_NO_ROW),
    bad(completion_logprobs, "temperature", "inf", _M, _PROMPTS, _TOK, _MASK, temperature=math.inf),
    bad(completion_logprobs, "return_entropy", "type", _M, _PROMPTS, _TOK, _MASK, return_entropy=1),
    # enumerate_completions
    bad(enumerate_completions, "allowed", "type", _ALLOWED.int()),
    bad(enumerate_completions, "allowed", "shape", _ALLOWED[0]),
    bad(enumerate_completions, "allowed", "empty", torch.ones(0, V, dtype=torch.bool)),
    bad(enumerate_completions, "allowed", "value", _NO_ROW),
    bad(enumerate_completions, "eos_id", "range", _ALLOWED, eos_id=V),
    bad(enumerate_completions, "pad_id", "range", _ALLOWED, pad_id=-1),
    bad(enumerate_completions, "max_completions", "range", _ALLOWED, max_completions=0),
    bad(enumerate_completions, "max_completions", "value", _ALLOWED, max_completions=63),
    # exact_logprobs
    bad(exact_logprobs, "policy", "type", "m", _PROMPTS, _TOK, _MASK),
    bad(exact_logprobs, "prompts", "type", _M, [[0]], _TOK, _MASK),
    bad(exact_logprobs, "tokens", "shape", _M, _PROMPTS, _TOK[None], _MASK[None]),
    bad(exact_logprobs, "tokens", "empty", _M, _PROMPTS, _TOK[:0], _MASK[:0]),
    bad(exact_logprobs, "tokens", "range", _M, _PROMPTS, _TOK + V, _MASK),
    bad(exact_logprobs, "tokens", "range", _M, _PROMPTS, _TOK - 1, _MASK),
    bad(exact_logprobs, "mask", "shape", _M, _PROMPTS, _TOK, _MASK[:1]),
    bad(exact_logprobs, "allowed", "shape", _M, _PROMPTS, _TOK, _MASK, allowed=_ALLOWED[:, :2]),
    bad(exact_logprobs, "batch_size", "range", _M, _PROMPTS, _TOK, _MASK, batch_size=0),
    # exact_distribution
    bad(exact_distribution, "task_or_prompts", "type", _M, "task"),
    bad(exact_distribution, "allowed", "value", _M, _PROMPTS),
    bad(
        exact_distribution,
        "max_completions",
        "range",
        _M,
        _PROMPTS,
        allowed=_ALLOWED,
        max_completions=2,
    ),
    # SequenceDistribution and its methods
    bad(SequenceDistribution, "logp", "type", _TOK),
    bad(SequenceDistribution, "logp", "nan", torch.full((2, 3), math.nan)),
    bad(SequenceDistribution, "logp", "inf", torch.full((2, 3), math.inf)),
    bad(SequenceDistribution, "logp", "value", torch.zeros(2, 3)),
    bad(SequenceDistribution, "logp", "empty", torch.zeros(2, 0)),
    bad_method(SequenceDistribution, "restrict", "valid", "type", ((_LP,), {}), _R),
    bad_method(SequenceDistribution, "restrict", "valid", "shape", ((_LP,), {}), _MASK),
    bad_method(SequenceDistribution, "restrict", "valid", "value", ((_LP,), {}), _R > 0),
    bad_method(SequenceDistribution, "mass", "subset", "shape", ((_LP,), {}), _MASK),
    bad_method(SequenceDistribution, "kl", "other", "type", ((_LP,), {}), _LP),
    bad_method(SequenceDistribution, "tv", "other", "type", ((_LP,), {}), _LP),
    # free functions
    bad(tv_distance, "p_logp", "nan", torch.full((4,), math.nan), _LP),
    bad(tv_distance, "q_logp", "shape", _LP, _LP[:, :3]),
    bad(kl_divergence, "p_logp", "type", _LP.numpy(), _LP),
    bad(kl_divergence, "q_logp", "inf", _LP, torch.full((4,), math.inf)),
    bad(kl_regularized_optimum, "ref_logp", "value", torch.zeros(2, 4), _R, 1.0),
    bad(kl_regularized_optimum, "rewards", "nan", _LP, torch.full((2, 4), math.nan), 1.0),
    bad(kl_regularized_optimum, "rewards", "shape", _LP, _R[:, :3], 1.0),
    bad(kl_regularized_optimum, "beta", "range", _LP, _R, 0.0),
    bad(reverse_kl_regularized_optimum, "ref_logp", "nan", torch.full((4,), math.nan), _R, 1.0),
    bad(reverse_kl_regularized_optimum, "rewards", "type", _LP, _R.long(), 1.0),
    bad(reverse_kl_regularized_optimum, "rewards", "inf", _LP, _R + math.inf, 1.0),
    bad(reverse_kl_regularized_optimum, "beta", "nan", _LP, _R, math.nan),
]
