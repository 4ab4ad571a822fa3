"""Bad-input cases of the PPO family of trainers.sequence (PPOSeqConfig and its presets,
train_sequence_ppo, NLPOConfig, top_p_mask, train_nlpo); gathered by test_bad_input.py.

Among them the refusals the PPO-max switches and NLPO were written against: reward
normalisation without reward scaling (MOSS-RLHF normalises only inside scaling), an entropy
target without a weight (or a weight without a target), more minibatches than completions, a
critic initialised from a policy that is not a TinyCausalLM (there is no trunk to copy), an
NLPOConfig given to train_sequence_ppo (its mask would be silently ignored).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from tests._audit import Case, bad, lazy
from trainers.sequence import PPOSeqConfig, tied_digit_sum, train_sequence_ppo
from trainers.sequence.nlpo import NLPOConfig, top_p_mask, train_nlpo

NAN, INF = float("nan"), float("inf")
PROBS = torch.tensor([0.5, 0.3, 0.2])


@functools.cache
def _task():
    return tied_digit_sum(n_digits=1, max_digit=1, sums=range(2))


def _nan_task():
    return _task().with_reward(
        lambda p, t, m: torch.full((t.shape[0],), NAN, dtype=torch.float64), "nan"
    )


class _Bigram(nn.Module):
    """A policy that is not a TinyCausalLM: ids (*, T) -> logits (*, T, V)."""

    def __init__(self, vocab: int):
        super().__init__()
        self.emb = nn.Embedding(vocab, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.emb(ids)


PPO1 = PPOSeqConfig(steps=1, batch_size=2)
NLPO1 = NLPOConfig(steps=1, batch_size=2, num_minibatches=1)

EXEMPT: dict[str, str] = {}
CASES: list[Case] = [
    # PPOSeqConfig: the PPO-max switches
    bad(PPOSeqConfig, "policy_clip", "type", policy_clip=1),
    bad(PPOSeqConfig, "num_minibatches", "range", num_minibatches=0),
    bad(PPOSeqConfig, "num_minibatches", "value", num_minibatches=5, batch_size=4),
    bad(PPOSeqConfig, "vf_coef", "range", vf_coef=-1.0),
    bad(PPOSeqConfig, "critic_lr", "inf", critic_lr=INF),
    bad(PPOSeqConfig, "entropy_target", "nan", entropy_target=NAN, entropy_target_coef=0.1),
    bad(PPOSeqConfig, "entropy_target", "range", entropy_target=-1.0, entropy_target_coef=0.1),
    bad(PPOSeqConfig, "entropy_target_coef", "value", entropy_target_coef=0.1),
    bad(PPOSeqConfig, "entropy_target", "value", entropy_target=1.0),
    bad(PPOSeqConfig, "reward_scaling", "type", reward_scaling="yes"),
    bad(PPOSeqConfig, "reward_norm", "value", reward_norm=True),
    bad(PPOSeqConfig, "reward_clip", "range", reward_clip=0.0),
    bad(PPOSeqConfig, "advantage_clip", "nan", advantage_clip=NAN),
    bad(PPOSeqConfig, "critic_init", "option", critic_init="reward_model"),
    bad(PPOSeqConfig, "grad_clip", "option", grad_clip="global"),
    bad(PPOSeqConfig.ppo_max, "reward_clip", "range", reward_clip=-1.0),
    bad(PPOSeqConfig.ppo_max, "warmup", "value", warmup=100),
    bad(PPOSeqConfig.ppo_max_released, "kl_coef", "range", kl_coef=-0.01),
    bad(PPOSeqConfig.ppo_max, "reward_norm", "value", reward_scaling=False),
    # train_sequence_ppo
    bad(train_sequence_ppo, "cfg", "type", _task(), NLPO1),
    bad(
        train_sequence_ppo,
        "critic_init",
        "value",
        _task(),
        PPOSeqConfig(steps=1, batch_size=2, critic_init="policy"),
        policy=_Bigram(_task().vocab_size),
    ),
    bad(train_sequence_ppo, "seeds", "empty", _task(), PPO1, seeds=[]),
    bad(train_sequence_ppo, "callback", "type", _task(), PPO1, callback=3),
    # NLPOConfig
    bad(NLPOConfig, "top_p", "range", top_p=0.0),
    bad(NLPOConfig, "top_p", "range", top_p=1.5),
    bad(NLPOConfig, "top_p", "nan", top_p=NAN),
    bad(NLPOConfig, "min_tokens_to_keep", "range", min_tokens_to_keep=0),
    bad(NLPOConfig, "min_tokens_to_keep", "type", min_tokens_to_keep=1.5),
    bad(NLPOConfig, "mask_update_every", "range", mask_update_every=0),
    bad(NLPOConfig, "kl_target", "range", kl_target=-0.1),
    bad(NLPOConfig, "kl_target", "inf", kl_target=INF),
    bad(NLPOConfig, "kl_coef", "nan", kl_coef=NAN),
    bad(NLPOConfig, "num_minibatches", "value", batch_size=2),
    # top_p_mask
    bad(top_p_mask, "probs", "type", [0.5, 0.5], 0.9),
    bad(top_p_mask, "probs", "type", torch.ones(3, dtype=torch.long), 0.9),
    bad(top_p_mask, "probs", "shape", torch.tensor(1.0), 0.9),
    bad(top_p_mask, "probs", "empty", torch.zeros(2, 0), 0.9),
    bad(top_p_mask, "probs", "nan", torch.tensor([0.5, NAN]), 0.9),
    bad(top_p_mask, "probs", "range", torch.tensor([1.5, -0.5]), 0.9),
    bad(top_p_mask, "top_p", "range", PROBS, 0.0),
    bad(top_p_mask, "top_p", "nan", PROBS, NAN),
    bad(top_p_mask, "min_tokens_to_keep", "range", PROBS, 0.9, 0),
    bad(top_p_mask, "min_tokens_to_keep", "type", PROBS, 0.9, 2.0),
    # train_nlpo
    bad(train_nlpo, "cfg", "type", _task(), PPO1),
    bad(train_nlpo, "task_or_tasks", "type", "digits", NLPO1),
    bad(train_nlpo, "ref_policy", "type", _task(), NLPO1, ref_policy="ref"),
    bad(train_nlpo, "seeds", "seed", _task(), NLPO1, seeds=[-1]),
    bad(train_nlpo, "task_or_tasks", "shape", [_task()] * 3, NLPO1, seeds=[0, 1]),
    bad(train_nlpo, "critic_init", "value", _task(), NLPO1, policy=_Bigram(_task().vocab_size)),
    bad(train_nlpo, "device", "option", _task(), NLPO1, device="tpu"),
    lazy(train_nlpo, "reward_fn", "nan", lambda: ((_nan_task(), NLPO1), {})),
]
