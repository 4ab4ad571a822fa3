"""The objectives on the leaderboard: each paper's trainer with its published defaults, sized for
the toy task, and the sample budget mapped to its steps.

Each entry's configuration keeps the paper's (or its official code's) scale-free settings (clip
ranges, group size, loss aggregation, schedules) and the leaderboard's common ones (the model of
:data:`perturbation.sequence._common.MODEL`, 2 prompts per step, ``G = 8``); the learning rate
comes from the protocol (a grid on the clean task, or the entry's default). The step count is
the sample budget over the completions a step samples per run.

Choices of the leaderboard (each a field of the trainer's config, so a user can change it):

- ``grpo`` is DeepSeekMath's form (std-scaled group advantages, TRL's ``loss_type="grpo"``);
  ``grpo_kl`` is the KL-regularized reference: the sequence KL in the reward with weight
  :data:`KL_BETA` and Dr. GRPO's normaliser, the objective whose optimum the Policy Cliff's
  bound ε/(2β) covers.
- The GRPO family (DAPO, View-R1's APO, GHPO) stops once its mean run has sampled the budget,
  DAPO's re-draws and GHPO's regenerations included. View-R1's STCR uses the base 1.5 (the
  published 1.00001 is a no-op at toy lengths; on the fixed-length digit-sum task every
  completion has one length, so STCR does nothing either way).
- NLPO runs with the PPO entry's update schedule (2 passes, one minibatch), so that its
  comparison with PPO isolates the mask and the adaptive KL (RL4LMs' 5 epochs x 4 minibatches
  are ``NLPOConfig``'s defaults).
- The iterative preference methods sample 16 prompts x 2 completions per round and take 4
  optimizer steps per round (the per-round win rate against the previous iterate, exact by
  enumeration, is measured for DNO's claim only); VerIPO runs one GRPO -> verifier -> DPO ->
  GRPO cycle.
- Direct Advantage Policy Optimization uses the exact critic (the data policy's values by
  enumeration): it spends no samples on the critic, and it reads the noiseless reward table, so
  reward noise (P2) cannot move it by construction.
"""

from __future__ import annotations

from typing import Any

from perturbation.leaderboard.protocol import Method
from perturbation.sequence._common import MODEL
from trainers.sequence import (
    AccPOConfig,
    AMFTConfig,
    CHORDConfig,
    DirectAdvantageConfig,
    DNOConfig,
    GHPOConfig,
    GRPOConfig,
    NLPOConfig,
    PPOSeqConfig,
    SequenceDPOConfig,
    VerIPOConfig,
    train_accelerated_po,
    train_amft,
    train_chord,
    train_direct_advantage,
    train_dno,
    train_ghpo,
    train_grpo,
    train_nlpo,
    train_sequence_dpo,
    train_sequence_ppo,
    train_veripo,
)

__all__ = ["KL_BETA", "METHODS"]

#: Prompts per step and completions per prompt of the group methods (16 samples per step).
PROMPTS, G = 2, 8
#: KL coefficient of the KL-regularized reference entry (the Policy Cliff's bound applies).
KL_BETA = 0.5
_COMMON: dict[str, Any] = {**MODEL, "max_grad_norm": 1.0}


def _grpo(preset: str | None = None, cls: type = GRPOConfig, **kw: Any) -> Any:
    """A GRPO-family config (``preset``: a classmethod of the config) that stops once the
    sample budget is spent (re-draws and regenerations count)."""

    def make(lr: float, budget: int) -> GRPOConfig:
        fields = dict(
            lr=lr, steps=max(1, budget // (PROMPTS * G)), batch_prompts=PROMPTS,
            num_generations=G, sample_budget=budget, **_COMMON, **kw,
        )  # fmt: skip
        return getattr(cls, preset)(**fields) if preset else cls(**fields)

    return make


def _ppo(preset: str | None = None, cls: type = PPOSeqConfig, **kw: Any) -> Any:
    """A PPO-family config: one completion per drawn prompt, 16 per step."""

    def make(lr: float, budget: int) -> PPOSeqConfig:
        batch = PROMPTS * G
        fields = dict(lr=lr, steps=max(1, budget // batch), batch_size=batch, **_COMMON, **kw)
        return getattr(cls, preset)(**fields) if preset else cls(**fields)

    return make


def _dpo(lr: float, budget: int) -> SequenceDPOConfig:
    # an offline method: every oracle-labelled pair costs two completions of the budget
    batch = PROMPTS * G // 2
    return SequenceDPOConfig(
        lr=lr, steps=max(1, budget // (2 * batch)), batch_size=batch, n_pairs=budget // 2,
        oracle_scale=20.0, **_COMMON,
    )  # fmt: skip


def _chord(variant: str):
    def make(lr: float, budget: int) -> CHORDConfig:
        steps = max(1, budget // (PROMPTS * G))
        kw = dict(lr=lr, steps=steps, batch_prompts=PROMPTS, num_generations=G, **_COMMON)
        if variant == "mu":  # the paper's decay over 200 of its steps: here half the run
            return CHORDConfig.chord_mu(decay_fraction=0.5, **kw)
        return CHORDConfig.chord_phi(**kw)

    return make


def _amft(lr: float, budget: int) -> AMFTConfig:
    # the released config warms up on demonstrations for 50 of 500 steps: 10% of the run
    steps = max(1, budget // (PROMPTS * G))
    return AMFTConfig(
        lr=lr, steps=steps, warmup_steps=max(1, steps // 10), batch_prompts=PROMPTS,
        num_generations=G, **_COMMON,
    )  # fmt: skip


#: Prompts per round of the iterative preference methods, and optimizer steps per round.
ROUND_PROMPTS, INNER = 16, 4


def _iterative(cls: type, **kw: Any) -> Any:
    """An iterative preference config: rounds of on-policy pairs (two completions per prompt,
    DNO's soft variant too), ``INNER`` DPO-style steps each, until the budget is spent."""

    def make(lr: float, budget: int) -> Any:
        rounds = max(1, budget // (2 * ROUND_PROMPTS))
        return cls(
            lr=lr, steps=rounds * INNER, inner_steps=INNER, prompts_per_iteration=ROUND_PROMPTS,
            batch_size=PROMPTS * G // 2, **_COMMON, **kw,
        )  # fmt: skip

    return make


def _veripo(lr: float, budget: int) -> VerIPOConfig:
    # one GRPO -> verifier -> DPO -> GRPO cycle; the verifier's samples count in the budget
    verifier_prompts = PROMPTS * 2
    rounds = max(2, (budget - verifier_prompts * G) // (PROMPTS * G))
    return VerIPOConfig(
        lr=lr, steps=rounds, cycles=1, batch_prompts=PROMPTS, num_generations=G,
        verifier_prompts=verifier_prompts, steps_dpo=max(1, rounds // 4),
        dpo_batch_size=PROMPTS * G // 2, **_COMMON,
    )  # fmt: skip


def _direct_advantage(lr: float, budget: int) -> DirectAdvantageConfig:
    # offline, two iterations; the critic is exact (enumerated V of the data policy on the
    # task's noiseless reward table: no samples, a privileged critic, and one that averages
    # P2's reward noise away by construction), so the budget buys rollouts and M = 4 candidate
    # tokens per state
    from perturbation.leaderboard.protocol import LEADERBOARD_SCALES

    length = max(s.n_digits for s in LEADERBOARD_SCALES.values()) + 2
    per_rollout = 1 + 4 * length
    return DirectAdvantageConfig(
        lr=lr, steps=max(1, budget // (PROMPTS * G)), iterations=2, candidates=4,
        n_rollouts=max(1, budget // (2 * per_rollout)), critic="exact", **_COMMON,
    )  # fmt: skip


_ENTRIES = [
    Method(
        "grpo", "GRPO", "deepseekmath", train_grpo,
        _grpo(loss_type="grpo", scale_rewards="group"), lr=3e-3,
    ),
    Method(
        "dr_grpo", "Dr. GRPO", "dr-grpo", train_grpo,
        _grpo(loss_type="dr_grpo", scale_rewards="none"), lr=3e-3,
    ),
    Method(
        "grpo_kl", f"GRPO, KL in reward (β={KL_BETA:g})", "policy-cliff", train_grpo,
        _grpo(loss_type="dr_grpo", scale_rewards="none", kl_in_reward=KL_BETA), lr=3e-3,
        kl_beta=KL_BETA,
    ),
    Method("ppo", "PPO (critic, token KL 0.05)", "ppo-max", train_sequence_ppo, _ppo(), lr=3e-3),
    Method("ppo_max", "PPO-max", "ppo-max", train_sequence_ppo, _ppo("ppo_max"), lr=3e-3),
    Method(
        "nlpo", "NLPO (top-p mask, delayed copy)", "nlpo", train_nlpo,
        _ppo(cls=NLPOConfig, update_epochs=2, num_minibatches=1), lr=1e-3,
    ),
    Method(
        "dpo", "DPO (offline Bradley-Terry pairs)", "dpo", train_sequence_dpo, _dpo, lr=3e-3,
        preference=True,
    ),
    Method("dapo", "DAPO (ByteDance)", "dapo", train_grpo, _grpo("dapo"), lr=3e-3),
    Method(
        "apo_view_r1", "APO of View-R1 (DADS, STCR)", "view-r1", train_grpo,
        _grpo("apo_view_r1", stcr_base=1.5), lr=3e-3,
    ),
    Method("ghpo", "GHPO (hint ladder)", "ghpo", train_ghpo, _grpo(cls=GHPOConfig), lr=3e-3),
    Method("chord_phi", "CHORD-φ", "chord", train_chord, _chord("phi"), lr=3e-3),
    Method("chord_mu", "CHORD-μ", "chord", train_chord, _chord("mu"), lr=3e-3),
    Method("amft", "AMFT (meta-learned μ)", "amft", train_amft, _amft, lr=3e-3),
    Method(
        "iterative_dpo", "iterative DPO (π_t as reference)", "accelerated-po",
        train_accelerated_po, _iterative(AccPOConfig, alpha=0.0, win_rate="off"), lr=1e-3,
        preference=True,
    ),
    Method(
        "accelerated_po", "Accelerated PO (Nesterov α=0.3)", "accelerated-po",
        train_accelerated_po, _iterative(AccPOConfig, alpha=0.3, win_rate="off"), lr=1e-3,
        preference=True,
    ),
    Method("dno", "DNO (soft)", "dno", train_dno, _iterative(DNOConfig), lr=1e-3, preference=True),
    Method("veripo", "VerIPO (GRPO, verifier, DPO)", "veripo", train_veripo, _veripo, lr=3e-3),
    Method(
        "direct_advantage", "Direct Advantage PO (offline, exact critic)",
        "direct-advantage-po", train_direct_advantage, _direct_advantage, lr=1e-3,
    ),
]  # fmt: skip

#: key -> :class:`~perturbation.leaderboard.protocol.Method`, in the leaderboard's order.
METHODS: dict[str, Method] = {m.key: m for m in _ENTRIES}
