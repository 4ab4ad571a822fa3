"""GRPO on sequence policies, as TRL's ``GRPOTrainer`` computes it, for N seeds at once.

Each step draws ``batch_prompts`` training prompts per run, samples ``num_generations``
completions of each (a group), scores them with the run's task, and minimises
:func:`trainers.losses.grpo_token_loss` (TRL's ``_compute_loss``) ``num_iterations`` times:

- advantage of completion i of a group: ``A_i = r_i - mean_G r`` (``baseline="group"``, GRPO
  [1, §4.1.2]) or the leave-one-out ``r_i - mean_{j != i} r_j = G/(G-1) (r_i - mean_G r)``
  (``baseline="rloo"``, [4]), divided by the group's std + 1e-4 (``scale_rewards="group"``),
  the run's batch std + 1e-4 (``"batch"``) or not at all (``"none"``, Dr. GRPO [2]);
- per token ``-min(rho A, clip(rho, 1 - epsilon, 1 + epsilon_high) A) + beta rho k3`` with the
  token aggregation ``loss_type`` (grpo / bnpo / dr_grpo / dapo, [1, 2, 3]);
- ``kl_in_reward = c > 0`` replaces the reward by ``r - c sum_t (log pi_old - log pi_ref)``
  (the sequence log-ratio of the sampled completion, detached): the KL penalty in the reward
  of PPO-max [5, §5.3], whose score-function gradient is unbiased for
  ``grad (E r - c KL(pi || pi_ref))`` at the sequence level [derived], so with
  ``scale_rewards="none"`` the runs tend to ``pi_ref exp(r / c) / Z`` (Rafailov et al. 2023,
  Eq. 4), where the k3 loss term (``beta``) does not (see :mod:`trainers.losses`);
- ``entropy_coef`` subtracts the exact per-token entropy, aggregated as the loss.

``steps`` counts generation rounds; each gives ``num_iterations`` optimizer steps (TRL's mu).
With ``num_iterations = 1`` the old policy is the current one detached (TRL): the ratio is 1.

References
----------
.. [1] Z. Shao et al., "DeepSeekMath", arXiv:2402.03300, 2024, Eq. (3) and §4.1.2; TRL
   ``GRPOTrainer`` (huggingface/trl, grpo_trainer.py).
.. [2] Z. Liu et al., "Understanding R1-Zero-Like Training: A Critical Perspective",
   arXiv:2503.20783, 2025, §3.1 (Dr. GRPO).
.. [3] Q. Yu et al., "DAPO", arXiv:2503.14476, 2025, §3.1 and §3.3 (clip-higher, token-level
   loss).
.. [4] W. Kool, H. van Hoof, M. Welling, "Buy 4 REINFORCE Samples, Get a Baseline for Free!",
   ICLR 2019 workshop; A. Ahmadian et al., "Back to Basics: Revisiting REINFORCE Style
   Optimization for Learning from Human Feedback in LLMs", ACL 2024 (RLOO).
.. [5] R. Zheng et al., "Secrets of RLHF in Large Language Models Part I: PPO",
   arXiv:2307.04964, 2023.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from trainers import losses as L
from trainers.runtime import (
    NONNEGATIVE,
    OPEN_UNIT,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    check_config,
    check_instance,
    integer,
    one_of,
    optional,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.tasks import SequenceTask

__all__ = ["GRPOConfig", "train_grpo"]


@dataclass(frozen=True)
class GRPOConfig(C.PolicyOptions):
    """Hyperparameters of :func:`train_grpo` (TRL's names and defaults where they apply)."""

    steps: int = 200
    """Generation rounds (each gives ``num_iterations`` optimizer steps)."""
    batch_prompts: int = 8
    """Training prompts per run per round."""
    num_generations: int = 8
    """Completions per prompt (the group size G, >= 2; TRL default 8)."""
    num_iterations: int = 1
    """Optimizer steps per generation round (TRL's mu)."""
    loss_type: str = "dapo"
    """Token aggregation: 'grpo', 'bnpo', 'dr_grpo' or 'dapo' (TRL default)."""
    scale_rewards: str = "group"
    """Advantage scaling: 'group', 'batch' or 'none' (TRL)."""
    baseline: str = "group"
    """'group' (group mean, TRL) or 'rloo' (leave-one-out mean)."""
    epsilon: float = 0.2
    """Low-side ratio clip (TRL default 0.2)."""
    epsilon_high: float | None = None
    """High-side ratio clip (None: epsilon; DAPO 0.28)."""
    beta: float = 0.0
    """Weight of the k3 KL loss term to the reference (TRL default 0)."""
    kl_in_reward: float = 0.0
    """Coefficient c of the sequence KL penalty in the reward, r - c sum_t (log pi - log ref)."""
    entropy_coef: float = 0.0
    """Weight of the exact per-token entropy bonus."""
    temperature: float = 1.0
    """Sampling temperature (the log-probs of the loss use the same, as TRL)."""
    max_completion_length: int | None = None
    """Normaliser of 'dr_grpo' (None: the task's completion length L)."""
    lr: float = 3e-3
    """Learning rate."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "steps": POSITIVE_INT,
                "batch_prompts": POSITIVE_INT,
                "num_generations": integer(2),
                "num_iterations": POSITIVE_INT,
                "loss_type": one_of(*L.LOSS_TYPES),
                "scale_rewards": one_of("group", "batch", "none"),
                "baseline": one_of("group", "rloo"),
                "epsilon": OPEN_UNIT,
                "epsilon_high": optional(POSITIVE),
                "beta": NONNEGATIVE,
                "kl_in_reward": NONNEGATIVE,
                "entropy_coef": NONNEGATIVE,
                "temperature": POSITIVE,
                "max_completion_length": optional(POSITIVE_INT),
                "lr": POSITIVE,
                **C.POLICY_OPTION_RULES,
            },
        )


def _advantages(scores: torch.Tensor, cfg: GRPOConfig) -> torch.Tensor:
    """Advantages (N, Bp, G) of the scores (N, Bp, G): group baseline, optional scaling."""
    adv = L.group_advantages(scores, scale=cfg.scale_rewards)
    if cfg.baseline == "rloo":  # r_i - mean_{j != i} r_j = G/(G-1) (r_i - mean_G r)
        g = scores.shape[-1]
        adv = adv * (g / (g - 1))
    return adv


def train_grpo(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: GRPOConfig = GRPOConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) GRPO runs on a task (or one task per run) as one stacked model.

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        One task for all runs, or one per run with the same prompts, vocabulary and grammar
        (a reward perturbation per run, e.g. an epsilon sweep, in one call).
    cfg : GRPOConfig
    seeds : sequence of int
        Run i initialises (default policy) and draws its prompts, tokens and reward noise from
        ``seeds[i]`` alone.
    policy : nn.Module, optional
        Trained in place. Default: ``TinyCausalLM(seeds=seeds)`` of the config's size. A module
        with ``n_runs`` is a stack of that many runs; any other module is one run (then
        ``seeds`` holds one seed).
    ref_policy : nn.Module, optional
        The frozen reference of ``beta`` and ``kl_in_reward`` (default: a copy of the initial
        policy).
    device : str or torch.device, optional
        Default: CUDA where present.
    callback : callable, optional
        ``callback(step, policy)`` after every logged round (:data:`trainers.sequence.common.Callback`).

    Returns
    -------
    SequenceRunResult
        Metrics per round: ``charts/reward`` (mean raw reward), ``charts/score`` (the reward
        after the KL penalty), ``losses/loss``, ``stats/kl`` (k3 to the reference, when it is
        computed), ``stats/entropy``, ``stats/tokens`` (mean completion length), clip ratios.
    """
    check_instance("cfg", cfg, GRPOConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    if ref_policy is not None and not isinstance(ref_policy, nn.Module):
        raise TypeError(f"ref_policy must be an nn.Module or None; got {type(ref_policy).__name__}")
    task = tasks[0]
    lmax = cfg.max_completion_length
    if lmax is not None and lmax < task.completion_len:
        raise ValueError(
            f"GRPOConfig.max_completion_length must be >= the task's completion length "
            f"{task.completion_len}; got {lmax}"
        )
    lmax = task.completion_len if lmax is None else lmax
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    need_ref = cfg.beta > 0 or cfg.kl_in_reward > 0
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = C.make_optimizer(params, cfg.optimizer, cfg.lr)
    prompt_gens = C.generators(seeds, "prompts", torch.device("cpu"))
    token_gens = C.generators(seeds, "tokens", dev)
    noise_gens = C.generators(seeds, "noise", torch.device("cpu"))
    N, Bp, G = len(seeds), cfg.batch_prompts, cfg.num_generations
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    tokens_seen = 0
    start = time.perf_counter()
    for step in range(cfg.steps):
        # --- rollout: Bp prompts per run, G completions each, scored by the run's task ---
        roll = C.group_rollout(
            policy,
            tasks,
            Bp,
            G,
            prompt_gens,
            token_gens,
            noise_gens,
            dev,
            temperature=cfg.temperature,
        )
        prompts, comps, rewards = roll.prompts, roll.completions, roll.rewards  # (N, Bp*G, ...)
        mask = comps.mask
        ref_logp = None
        if need_ref:
            with torch.no_grad():
                ref_logp = C.logprobs_runs(
                    ref, prompts, comps.tokens, mask, task, temperature=cfg.temperature
                )
        scores = rewards
        if cfg.kl_in_reward > 0:
            # --- sequence KL penalty in the reward: r - c sum_t (log pi_old - log pi_ref) ---
            log_ratio = ((comps.logp - ref_logp) * mask).sum(-1)  # type: ignore[operator]
            scores = rewards - cfg.kl_in_reward * log_ratio.to(rewards.dtype)
        # --- group advantages (GRPO [1, §4.1.2]; RLOO [4]; Dr. GRPO's "none" [2]) ---
        adv = _advantages(scores.reshape(N, Bp, G), cfg).reshape(N, Bp * G)
        old_logp = comps.logp if cfg.num_iterations > 1 else None
        for _ in range(cfg.num_iterations):
            logp, entropy = C.logprobs_runs(
                policy, prompts, comps.tokens, mask, task, temperature=cfg.temperature, entropy=True
            )
            # --- TRL's clipped token loss with k3 x ratio (use_bias_correction_kl) [1] ---
            loss, stats = L.grpo_token_loss(
                logp,
                old_logp,
                ref_logp,
                adv.to(logp.dtype),
                mask,
                loss_type=cfg.loss_type,
                epsilon=cfg.epsilon,
                epsilon_high=cfg.epsilon_high,
                beta=cfg.beta,
                max_completion_length=lmax,
            )
            if cfg.entropy_coef > 0:
                ent = L.aggregate_token_loss(
                    entropy, mask, cfg.loss_type, max_completion_length=lmax
                )
                loss = loss - cfg.entropy_coef * ent
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            C.clip_gradients(policy, cfg.max_grad_norm)
            opt.step()
        n_tok = int(mask.sum())
        tokens_seen += n_tok
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            row = {
                "charts/reward": rewards.mean(),
                "charts/score": scores.mean(),
                "losses/loss": loss.detach().mean(),
                "stats/entropy": C.masked_mean(entropy.detach(), mask),
                "stats/tokens": n_tok / mask[..., 0].numel(),
                "stats/clip_ratio": stats["clip_ratio/region_mean"],
            }
            if ref_logp is not None:
                row["stats/kl"] = stats["kl"]
            log.log(step + 1, row)
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
        algorithm="grpo",
    )
