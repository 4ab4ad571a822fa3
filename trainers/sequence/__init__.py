"""Sequence policies: tiny causal LMs, sampling, exact completion distributions, tasks, trainers.

==========================================  ===================================================
name                                        what
==========================================  ===================================================
:class:`TinyCausalLM`                       pre-LN causal transformer; ``seeds=[...]`` stacks N
                                            runs natively; KV cache for decoding
:func:`policy_logits`                       call any policy (``.logits`` unwrapped), checked
:func:`sample` / :class:`Completions`       temperature, top-k, top-p, allowed masks, EOS
:func:`completion_logprobs`                 teacher-forced per-token log-probs (and entropy)
:func:`enumerate_completions`               every completion of a constrained vocabulary
:func:`exact_logprobs`                      exact sequence log-probs, prefix-shared
:class:`SequenceDistribution`               exact distributions; TV, KL, entropy, restriction
:func:`kl_regularized_optimum`              π_ref·exp(r/β)/Z and its reverse-KL counterpart
:mod:`trainers.sequence.tasks`              tasks with tied answers (digit sums, shortest
                                            paths), exact reward tables, perturbations
:func:`train_grpo`, :func:`train_sequence_ppo`  GRPO (TRL's loss), PPO with a critic and the
:func:`train_sequence_dpo`, :func:`train_sft`  PPO-max switches, DPO/IPO, SFT; N seeds as one
                                            stacked model (:class:`SequenceRunResult`)
==========================================  ===================================================
"""

# policies, sampling, exact distributions
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
from trainers.sequence.policy import KVCache, TinyCausalLM, policy_logits
from trainers.sequence.sampling import Completions, completion_logprobs, sample

# tasks and rewards
from trainers.sequence.tasks import (
    RewardFn,
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

# trainers (imported after the tasks they train on)
# isort: split
from trainers.sequence.common import SequenceRunResult
from trainers.sequence.dpo import (
    ORACLES,
    PreferenceOracle,
    SequenceDPOConfig,
    bradley_terry_pairs,
    on_policy_pairs,
    preference_oracle,
    preference_table,
    train_sequence_dpo,
)
from trainers.sequence.grpo import (
    GRPOConfig,
    completion_correct,
    dads_kl_loss,
    dads_weights,
    overlong_reward,
    stcr_factors,
    train_grpo,
)
from trainers.sequence.ppo import PPOSeqConfig, train_sequence_ppo
from trainers.sequence.sft import SFTConfig, pretrain_reference, train_sft

# objectives of the seed papers (imported after the trainers they build on)
# isort: split
from trainers.sequence.amft import AMFTConfig, AMFTRunResult, train_amft
from trainers.sequence.chord import CHORDConfig, mu_schedule, train_chord
from trainers.sequence.direct_advantage import (
    DirectAdvantageConfig,
    direct_advantage_loss,
    exact_state_values,
    train_direct_advantage,
)
from trainers.sequence.ghpo import GHPOConfig, hint_lengths, train_ghpo
from trainers.sequence.iterative_po import AccPOConfig, DNOConfig, train_accelerated_po, train_dno
from trainers.sequence.nlpo import NLPOConfig, top_p_mask, train_nlpo
from trainers.sequence.veripo import (
    VerIPOConfig,
    inconsistency_rate,
    trace_consistent,
    train_veripo,
    verifier_pairs,
)

__all__ = [
    # policies, sampling, exact distributions
    "Completions",
    "KVCache",
    "SequenceDistribution",
    "TinyCausalLM",
    "completion_logprobs",
    "enumerate_completions",
    "exact_distribution",
    "exact_logprobs",
    "kl_divergence",
    "kl_regularized_optimum",
    "policy_logits",
    "reverse_kl_regularized_optimum",
    "sample",
    "tv_distance",
]

# tasks and rewards
__all__ += [
    "RewardFn",
    "SequenceTask",
    "drop_prompts",
    "format_reward",
    "label_flips",
    "length_penalty",
    "length_reward",
    "reward_noise",
    "routed_rewards",
    "shortest_paths",
    "tie_break",
    "tied_digit_sum",
]

# trainers
__all__ += [
    "GRPOConfig",
    "PPOSeqConfig",
    "SFTConfig",
    "SequenceDPOConfig",
    "SequenceRunResult",
    "bradley_terry_pairs",
    "pretrain_reference",
    "train_grpo",
    "train_sequence_dpo",
    "train_sequence_ppo",
    "train_sft",
]

# objectives of the seed papers
__all__ += [
    "ORACLES",
    "AMFTConfig",
    "AMFTRunResult",
    "AccPOConfig",
    "CHORDConfig",
    "DNOConfig",
    "DirectAdvantageConfig",
    "GHPOConfig",
    "NLPOConfig",
    "PreferenceOracle",
    "VerIPOConfig",
    "completion_correct",
    "dads_kl_loss",
    "dads_weights",
    "direct_advantage_loss",
    "exact_state_values",
    "hint_lengths",
    "inconsistency_rate",
    "mu_schedule",
    "on_policy_pairs",
    "overlong_reward",
    "preference_oracle",
    "preference_table",
    "stcr_factors",
    "top_p_mask",
    "trace_consistent",
    "train_accelerated_po",
    "train_amft",
    "train_chord",
    "train_direct_advantage",
    "train_dno",
    "train_ghpo",
    "train_nlpo",
    "train_veripo",
    "verifier_pairs",
]
