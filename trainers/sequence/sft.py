"""Supervised fine-tuning on expert completions, and a reference that spreads over the tie sets.

:func:`train_sft` minimises the token negative log-likelihood
(:func:`trainers.losses.sequence_nll`, the mean over real tokens by default) of target
completions after training prompts drawn per run:

- ``targets="solutions"``: the task's canonical expert completion of each prompt
  (``task.solutions``) or the ``completions`` given;
- ``targets="valid"``: a uniformly random completion of the prompt's tie set
  (``task.valid_table()``), drawn afresh each time, so the maximum-likelihood policy is uniform
  over each tie set;

and with probability ``uniform_mix`` a target is instead a uniformly random completion of the
grammar (keeping mass on every completion).

:func:`pretrain_reference` is a brief ``targets="valid"`` SFT: a reference policy whose mass
is spread over each tie set, the starting point (and KL anchor) of RL runs whose selection
among tied answers is then measured (Xu 2025, §3: the tie-break among equally rewarded
answers is decided by the reference and the regulariser).

References
----------
L. Ouyang et al., "Training language models to follow instructions with human feedback",
NeurIPS 2022, §3.5 (supervised fine-tuning).
X. Xu, "The Policy Cliff: A Theoretical Analysis of Reward-Policy Maps in Large Language
Models", arXiv:2507.20150, 2025.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from theory.checks import ArgumentTypeError
from trainers import losses as L
from trainers.runtime import (
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    MetricsLog,
    check_config,
    check_instance,
    one_of,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.tasks import SequenceTask

__all__ = ["SFTConfig", "pretrain_reference", "train_sft"]


@dataclass(frozen=True)
class SFTConfig(C.PolicyOptions):
    """Hyperparameters of :func:`train_sft`."""

    steps: int = 200
    """Optimizer steps."""
    batch_size: int = 32
    """Target completions per run per step."""
    targets: str = "solutions"
    """'solutions' (one expert completion per prompt) or 'valid' (uniform over the tie set)."""
    uniform_mix: float = 0.0
    """Probability that a target is a uniformly random completion of the grammar instead."""
    loss_type: str = "bnpo"
    """Token aggregation of the NLL ('bnpo': mean over the batch's real tokens)."""
    lr: float = 1e-3
    """Learning rate."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "steps": POSITIVE_INT,
                "batch_size": POSITIVE_INT,
                "targets": one_of("solutions", "valid"),
                "uniform_mix": PROBABILITY,
                "loss_type": one_of(*L.LOSS_TYPES),
                "lr": POSITIVE,
                **C.POLICY_OPTION_RULES,
            },
        )


def _expert_table(task: SequenceTask, completions: object) -> tuple[torch.Tensor, torch.Tensor]:
    """One target per prompt, (P, L) tokens and mask: ``completions`` or ``task.solutions``."""
    if completions is None:
        if task.solutions is None:
            raise ValueError(
                f"task {task.name!r} has no solutions: pass completions or use targets='valid'"
            )
        return task.solutions, task.solution_mask
    if not isinstance(completions, tuple | list) or len(completions) != 2:
        raise ArgumentTypeError("completions must be a tuple (tokens (P, L), mask (P, L))")
    tokens, mask = completions
    shape = (task.n_prompts, task.completion_len)
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
        raise ArgumentTypeError("completions (tokens) must be a torch.long tensor (P, L)")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ArgumentTypeError("completions (mask) must be a torch.bool tensor (P, L)")
    if tuple(tokens.shape) != shape or tuple(mask.shape) != shape:
        raise ValueError(
            f"completions must be (tokens, mask) of shape {shape}; got {tuple(tokens.shape)} "
            f"and {tuple(mask.shape)}"
        )
    if int(tokens.min()) < 0 or int(tokens.max()) >= task.vocab_size:
        raise ValueError(f"completions (tokens) must be token ids in [0, {task.vocab_size})")
    allowed_ok = task.allowed[torch.arange(task.completion_len), tokens]
    if bool((mask & ~allowed_ok).any()):
        raise ValueError("completions hold a real token that the task's grammar (allowed) forbids")
    return tokens.cpu(), mask.cpu()


def _draw_targets(
    tasks: list[SequenceTask],
    idx: torch.Tensor,
    cfg: SFTConfig,
    experts: tuple[torch.Tensor, torch.Tensor] | None,
    gens: list[torch.Generator],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target tokens and mask (N, K, L) for the prompt indices ``idx`` (N, K)."""
    comp_tokens, comp_mask = tasks[0].completions()
    M = comp_tokens.shape[0]
    toks, masks = [], []
    for i, (task, g) in enumerate(zip(tasks, gens, strict=True)):
        rows = idx[i]
        if cfg.targets == "valid":
            valid = task.valid_table()[rows].to(torch.float64)
            pick = torch.multinomial(valid, 1, generator=g).squeeze(-1)
            t, m = comp_tokens[pick], comp_mask[pick]
        else:
            t, m = experts[0][rows], experts[1][rows]  # type: ignore[index]
        if cfg.uniform_mix > 0:
            swap = torch.rand(rows.numel(), generator=g, dtype=torch.float64) < cfg.uniform_mix
            anyone = torch.randint(M, (rows.numel(),), generator=g)
            t = torch.where(swap[:, None], comp_tokens[anyone], t)
            m = torch.where(swap[:, None], comp_mask[anyone], m)
        toks.append(t)
        masks.append(m)
    return torch.stack(toks), torch.stack(masks)


def train_sft(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: SFTConfig = SFTConfig(),
    *,
    completions: tuple[torch.Tensor, torch.Tensor] | None = None,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) runs by token NLL on target completions, as one stacked model.

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        As in :func:`trainers.sequence.grpo.train_grpo` (``targets="valid"`` uses each run's
        own tie sets).
    cfg : SFTConfig
    completions : (tokens (P, L) long, mask (P, L) bool), optional
        One expert completion per prompt, respecting the grammar (``targets="solutions"``;
        default ``task.solutions``).
    seeds, policy, device, callback
        As in :func:`trainers.sequence.grpo.train_grpo`.

    Returns
    -------
    SequenceRunResult
        ``ref_policy`` is None. Metrics per step: ``losses/loss`` (NLL), ``stats/entropy``,
        ``stats/tokens``.
    """
    check_instance("cfg", cfg, SFTConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    task = tasks[0]
    experts = None
    if cfg.targets == "solutions":
        experts = _expert_table(task, completions)
    elif completions is not None:
        raise ValueError("completions are the targets of targets='solutions'; got targets='valid'")
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    opt = C.make_optimizer(
        [p for p in policy.parameters() if p.requires_grad], cfg.optimizer, cfg.lr
    )
    prompt_gens = C.generators(seeds, "prompts", torch.device("cpu"))
    target_gens = C.generators(seeds, "targets", torch.device("cpu"))
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    tokens_seen = 0
    start = time.perf_counter()
    for step in range(cfg.steps):
        idx = C.draw_prompts(tasks, cfg.batch_size, prompt_gens)  # (N, K)
        tokens, mask = _draw_targets(tasks, idx, cfg, experts, target_gens)
        prompts = C.as_batch(task, idx, dev)
        tokens, mask = tokens.to(dev), mask.to(dev)
        logp, entropy = C.logprobs_runs(policy, prompts, tokens, mask, task, entropy=True)
        # --- token NLL (supervised fine-tuning) ---
        loss = L.sequence_nll(
            logp, mask, loss_type=cfg.loss_type, max_completion_length=task.completion_len
        )
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        C.clip_gradients(policy, cfg.max_grad_norm)
        opt.step()
        n_tok = int(mask.sum())
        tokens_seen += n_tok
        if C.should_log(step + 1, cfg):
            log.log(
                step + 1,
                {
                    "losses/loss": loss.detach().mean(),
                    "stats/entropy": C.masked_mean(entropy.detach(), mask),
                    "stats/tokens": n_tok / mask[..., 0].numel(),
                },
            )
        if C.should_log(step + 1, cfg):
            C.notify(callback, step + 1, policy)
        log.advance()
    log.close()
    return C.SequenceRunResult(
        policy=policy,
        ref_policy=None,
        config=cfg,
        seeds=tuple(seeds),
        metrics=log.rows,
        tokens_seen=tokens_seen,
        wall_s=time.perf_counter() - start,
        algorithm="sft",
    )


def pretrain_reference(
    task: SequenceTask,
    seeds: Sequence[int] = (0,),
    config: SFTConfig | None = None,
    *,
    device: str | torch.device | None = None,
) -> C.SequenceRunResult:
    """A reference policy per seed whose mass spreads over each prompt's tie set.

    A brief :func:`train_sft` with ``targets="valid"`` (uniformly random tied completions;
    default ``SFTConfig(targets="valid", steps=100)``); ``config.uniform_mix`` keeps some mass
    on every completion. Use ``result.policy`` as the reference (and a copy of it as the
    initial policy) of an RL run: ``train_grpo(task, cfg, seeds=seeds,
    policy=copy.deepcopy(ref), ref_policy=ref)``.
    """
    check_instance("task", task, SequenceTask)
    if config is None:
        config = SFTConfig(targets="valid", steps=100)
    check_instance("config", config, SFTConfig)
    if config.targets != "valid":
        raise ValueError(f"config.targets must be 'valid' for a reference; got {config.targets!r}")
    return train_sft(task, config, seeds=seeds, device=device)
