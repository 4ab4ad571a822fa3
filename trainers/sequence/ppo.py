"""PPO with a value model on sequence policies (RLHF-style, PPO-max switches), N seeds at once.

Each step samples ``batch_size`` completions per run (one per drawn training prompt) and
builds per-token rewards as in RLHF PPO (Ouyang et al. 2022; Zheng et al. 2023, §5.3):

    r_t = -kl_coef (log pi_old(y_t | s_t) - log pi_ref(y_t | s_t))  +  1[t = last] score

(the token-level KL penalty to the reference, PPO-max's key stabiliser, and the task's reward
at the last real token). The critic is a second :class:`~trainers.sequence.policy.TinyCausalLM`
(stacked like the policy, its own initialisation seed per run) whose output channel 0 is the
value ``V(s_t)`` of the state before token t: a linear value head on its last hidden state.
Advantages are GAE (Schulman et al. 2016, Eq. 16) over the completion with ``gamma = 1``,
``lam = 0.95`` (:func:`trainers.losses.gae`), returns ``A + V``. Then ``update_epochs``
passes minimise, per run,

    PPO-clip (token mean, :func:`trainers.losses.grpo_token_loss` with per-token advantages)
    + value loss (clipped with ``value_clip``, token mean) - entropy_coef * entropy.

PPO-max switches (MOSS-RLHF names): ``reward_norm`` (running mean/std of the scores, one
statistic per run), ``reward_clip``, ``advantage_norm`` (whitening over the run's real tokens),
``advantage_clip``, ``value_clip``; ``max_grad_norm`` clips each run's policy and critic
gradients.

References
----------
J. Schulman et al., "Proximal Policy Optimization Algorithms", arXiv:1707.06347, 2017, Eq. (7).
J. Schulman et al., "High-Dimensional Continuous Control Using Generalized Advantage
Estimation", ICLR 2016, Eq. (16).
L. Ouyang et al., "Training language models to follow instructions with human feedback",
NeurIPS 2022, §3.5 (per-token KL penalty to the SFT model).
R. Zheng et al., "Secrets of RLHF in Large Language Models Part I: PPO" (PPO-max),
arXiv:2307.04964, 2023, §5.3.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from trainers import losses as L
from trainers.runtime import (
    FLAG,
    NONNEGATIVE,
    OPEN_UNIT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    MetricsLog,
    check_config,
    check_instance,
    optional,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.policy import TinyCausalLM, policy_logits
from trainers.sequence.tasks import SequenceTask

__all__ = ["PPOSeqConfig", "train_sequence_ppo"]


@dataclass(frozen=True)
class PPOSeqConfig(C.PolicyOptions):
    """Hyperparameters of :func:`train_sequence_ppo` (MOSS-RLHF's names for PPO-max)."""

    steps: int = 200
    """Rollouts (each followed by ``update_epochs`` optimizer steps)."""
    batch_size: int = 32
    """Completions per run per rollout (one per drawn training prompt)."""
    update_epochs: int = 2
    """Passes over each rollout."""
    clip_eps: float = 0.2
    """Policy ratio clip (MOSS-RLHF ``pg_clip``)."""
    kl_coef: float = 0.05
    """Token-level KL penalty to the reference in the reward (``kl_penalty_weight``)."""
    gamma: float = 1.0
    """Discount over the completion's tokens."""
    lam: float = 0.95
    """GAE lambda."""
    lr: float = 1e-3
    """Policy learning rate."""
    critic_lr: float = 3e-3
    """Critic learning rate."""
    entropy_coef: float = 0.0
    """Weight of the exact per-token entropy bonus (``entropy_loss_weight``)."""
    reward_norm: bool = False
    """PPO-max: normalise scores by running statistics (per run)."""
    reward_clip: float | None = None
    """PPO-max: clip (normalised) scores to [-c, c] (MOSS-RLHF 10)."""
    advantage_norm: bool = True
    """Whiten advantages over each run's real tokens."""
    advantage_clip: float | None = None
    """PPO-max: clip advantages to [-c, c]."""
    value_clip: float | None = 0.2
    """PPO value clipping (None: off)."""
    temperature: float = 1.0
    """Sampling temperature."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "steps": POSITIVE_INT,
                "batch_size": POSITIVE_INT,
                "update_epochs": POSITIVE_INT,
                "clip_eps": OPEN_UNIT,
                "kl_coef": NONNEGATIVE,
                "gamma": PROBABILITY,
                "lam": PROBABILITY,
                "lr": POSITIVE,
                "critic_lr": POSITIVE,
                "entropy_coef": NONNEGATIVE,
                "reward_norm": FLAG,
                "reward_clip": optional(POSITIVE),
                "advantage_norm": FLAG,
                "advantage_clip": optional(POSITIVE),
                "value_clip": optional(POSITIVE),
                "temperature": POSITIVE,
                **C.POLICY_OPTION_RULES,
            },
        )


def _values(
    critic: nn.Module, prompts: torch.Tensor, tokens: torch.Tensor, stacked: bool
) -> torch.Tensor:
    """V(s_t) (N, B, L): the critic's output channel 0 at the positions that predict each
    completion token (after the prompt and the tokens before t)."""
    ids = torch.cat([prompts, tokens[..., :-1]], dim=-1)
    tp = prompts.shape[-1]
    if stacked:
        return policy_logits(critic, ids)[..., tp - 1 :, 0]
    return policy_logits(critic, ids[0])[..., tp - 1 :, 0][None]


def _whiten(adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(A - mean) / (std + 1e-8)`` over each run's real tokens (PPO-max advantage norm)."""
    m = mask.to(adv.dtype)
    n = m.sum((-2, -1), keepdim=True).clamp(min=1.0)
    mean = (adv * m).sum((-2, -1), keepdim=True) / n
    var = (((adv - mean) * m) ** 2).sum((-2, -1), keepdim=True) / n
    return (adv - mean) / (var.sqrt() + 1e-8) * m


def train_sequence_ppo(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: PPOSeqConfig = PPOSeqConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) PPO runs (policy + critic each) as stacked models.

    Parameters are those of :func:`trainers.sequence.grpo.train_grpo`; the critic is always a
    :class:`TinyCausalLM` of the config's size (stacked when the policy is). Metrics per
    rollout: ``charts/reward`` (raw), ``charts/score`` (after normalisation/clipping),
    ``losses/loss``, ``losses/pg``, ``losses/value``, ``stats/kl`` (mean per-token
    ``log pi - log ref`` of the samples), ``stats/entropy``, ``stats/tokens``,
    ``stats/clip_ratio``.
    """
    check_instance("cfg", cfg, PPOSeqConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    if ref_policy is not None and not isinstance(ref_policy, nn.Module):
        raise TypeError(f"ref_policy must be an nn.Module or None; got {type(ref_policy).__name__}")
    task = tasks[0]
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    stacked = C.is_stacked(policy)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    critic_seeds = C.stream_seeds(seeds, "critic")
    critic = TinyCausalLM(
        task.vocab_size,
        max_len=task.prompt_len + task.completion_len,
        d_model=cfg.d_model,
        n_layers=cfg.n_layers,
        n_heads=cfg.n_heads,
        dtype=getattr(torch, cfg.dtype),
        **({"seeds": critic_seeds} if stacked else {"seed": critic_seeds[0]}),
    ).to(dev)
    opt = C.make_optimizer(
        [p for p in policy.parameters() if p.requires_grad], cfg.optimizer, cfg.lr
    )
    critic_opt = C.make_optimizer(list(critic.parameters()), cfg.optimizer, cfg.critic_lr)
    prompt_gens = C.generators(seeds, "prompts", torch.device("cpu"))
    token_gens = C.generators(seeds, "tokens", dev)
    noise_gens = C.generators(seeds, "noise", torch.device("cpu"))
    N = len(seeds)
    rstats = L.RunningMeanStd((N, 1), device=dev) if cfg.reward_norm else None
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    tokens_seen = 0
    start = time.perf_counter()
    for step in range(cfg.steps):
        # --- rollout ---
        prompts = C.as_batch(task, C.draw_prompts(tasks, cfg.batch_size, prompt_gens), dev)
        comps = C.sample_runs(policy, prompts, task, token_gens, temperature=cfg.temperature)
        mask, old_logp = comps.mask, comps.logp
        rewards = C.rewards_runs(tasks, prompts, comps, noise_gens)  # (N, B) float64
        scores = rewards
        if cfg.reward_norm or cfg.reward_clip is not None:  # PPO-max reward norm / clip
            scores = L.normalize_rewards(rewards, rstats, clip=cfg.reward_clip)
        with torch.no_grad():
            ref_logp = C.logprobs_runs(
                ref, prompts, comps.tokens, mask, task, temperature=cfg.temperature
            )
            old_values = _values(critic, prompts, comps.tokens, stacked) * mask
        # --- per-token rewards: token-level KL penalty, the score at the last real token ---
        m = mask.to(old_logp.dtype)
        kl_tok = (old_logp - ref_logp) * m
        last = torch.nn.functional.one_hot(mask.sum(-1) - 1, task.completion_len).to(m.dtype)
        tok_rewards = -cfg.kl_coef * kl_tok + scores.to(m.dtype)[..., None] * last
        # --- GAE over the completion (Schulman et al. 2016, Eq. 16); pads end the episode ---
        adv, returns = L.gae(
            tok_rewards.movedim(-1, 0),
            old_values.movedim(-1, 0),
            (~mask).movedim(-1, 0).to(m.dtype),
            torch.zeros_like(scores, dtype=m.dtype),
            torch.ones_like(scores, dtype=m.dtype),
            cfg.gamma,
            cfg.lam,
        )
        adv, returns = adv.movedim(0, -1) * m, returns.movedim(0, -1) * m
        if cfg.advantage_norm:
            adv = _whiten(adv, mask)
        if cfg.advantage_clip is not None:  # PPO-max
            adv = L.clip_advantages(adv, cfg.advantage_clip)
        for _ in range(cfg.update_epochs):
            logp, entropy = C.logprobs_runs(
                policy, prompts, comps.tokens, mask, task, temperature=cfg.temperature, entropy=True
            )
            # --- PPO-clip per token, token mean per run (Schulman et al. 2017, Eq. 7) ---
            pg_loss, stats = L.grpo_token_loss(
                logp, old_logp, None, adv, mask, loss_type="bnpo", epsilon=cfg.clip_eps
            )
            # --- value loss, clipped around the rollout's values (PPO-max) ---
            values = _values(critic, prompts, comps.tokens, stacked)
            v_tok = L.clipped_value_loss(values, old_values, returns, cfg.value_clip)
            v_loss = L.aggregate_token_loss(v_tok, mask, "bnpo")
            ent = L.aggregate_token_loss(entropy, mask, "bnpo")
            loss = pg_loss + v_loss - cfg.entropy_coef * ent
            opt.zero_grad(set_to_none=True)
            critic_opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            C.clip_gradients(policy, cfg.max_grad_norm)
            C.clip_gradients(critic, cfg.max_grad_norm)
            opt.step()
            critic_opt.step()
        n_tok = int(mask.sum())
        tokens_seen += n_tok
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            log.log(
                step + 1,
                {
                    "charts/reward": rewards.mean(),
                    "charts/score": scores.mean(),
                    "losses/loss": loss.detach().mean(),
                    "losses/pg": pg_loss.detach().mean(),
                    "losses/value": v_loss.detach().mean(),
                    "stats/kl": C.masked_mean(kl_tok, mask),
                    "stats/entropy": C.masked_mean(entropy.detach(), mask),
                    "stats/tokens": n_tok / mask[..., 0].numel(),
                    "stats/clip_ratio": stats["clip_ratio/region_mean"],
                },
            )
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            C.notify(callback, step + 1, policy)
        log.advance()
    log.close()
    return C.SequenceRunResult(
        policy=policy,
        ref_policy=ref,
        config=cfg,
        seeds=tuple(seeds),
        metrics=log.rows,
        tokens_seen=tokens_seen,
        wall_s=time.perf_counter() - start,
        algorithm="ppo",
    )
