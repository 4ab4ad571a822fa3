"""CHORD: on-policy GRPO and off-policy expert SFT in one loss, for N seeds at once.

Zhang et al. (2025) [1] train on one mixed loss per step,

    L_CHORD = (1 - mu_t) L_GRPO(on-policy groups) + mu_t L_SFT(expert rows),

as the reference implementation, Trinity-RFT's ``MIXCHORDPolicyLossFn`` [2], computes it:

- ``L_GRPO``: PPO's clipped token loss on group advantages (``PPOPolicyLossFn`` [2]): with
  ``rho = exp(clamp(l - l_old, -20, 20))``, per token ``max(-A rho, -A clip(rho, 1 - eps,
  1 + eps_high))``, and for ``A < 0`` the dual clip ``min(that, -c A)`` with ``c = 3`` (Ye et
  al. 2020 [4]); aggregated as a token mean over the run's on-policy tokens (verl/Trinity's
  ``token-mean``, ``loss_type="bnpo"`` here). With ``num_iterations = 1`` (one optimizer step
  per generation round, the default) the old policy is the current one detached: ``rho = 1``
  in value, the log-ratio is 0, so the ratio clip, the dual clip and the [-20, 20] clamp never
  act, and the loss and its gradient are :func:`trainers.losses.grpo_token_loss`'s. They act
  from the second iteration of a round on (``num_iterations > 1``).
- ``L_SFT`` on expert completions ``y*`` (``task.solutions`` of the run's training prompts),
  ``p_t = pi(y*_t | x, y*_<t)``, token mean over the run's expert tokens:
  CHORD-mu (``phi=False``): ``-mean_t log p_t``; CHORD-phi (``phi=True``):
  ``-mean_t sg(phi(p_t)) log p_t`` with ``phi(p) = p (1 - p)`` detached (a weight, not part of
  the gradient path; Trinity's ``phi_function`` and ``SFTPhiLossFn``), so the gradient of a
  token is ``-p (1 - p) grad log p``: tokens the policy already finds certain (p -> 1) or
  implausible (p -> 0) are down-weighted. ``cutoff_prob < 1`` clamps ``log p <= log cutoff``
  (CHORD-phi only, as Trinity).
- ``mu_t`` (:func:`mu_schedule`, Trinity's ``mu_schedule_function``): linear warm-up
  ``(t / W) mu_peak`` for ``t < W``, cosine decay ``(mu_peak - mu_valley) (1 + cos(pi (t - W)
  / D)) / 2 + mu_valley`` for ``W <= t < W + D``, then ``mu_valley``; indexed by the trainer
  step ``t`` = generation rounds completed before this one (0 at the first).

Each part is a mean over its *own* rows (Trinity rescales per micro-batch so that each is a
mean over its own global batch). The paper's variants, from the comments of Trinity's
``examples/mix_chord/mix_chord.yaml``: CHORD-mu (:meth:`CHORDConfig.chord_mu`: ``W = 0``,
``D = 200``, ``mu_peak = 0.9``, ``mu_valley = 0.05``, plain NLL) and CHORD-phi
(:meth:`CHORDConfig.chord_phi`: constant ``mu = 0.1``, phi weight; also the class defaults of
``MIXCHORDPolicyLossFn``). Trinity mixes the batch as 20% expert rows (``expert_data_ratio``);
here each step draws ``expert_batch`` expert rows per run (default 16 = 64 on-policy rows x
0.2 / 0.8, Trinity's ``train_batch_size_expert / train_batch_size_usual = 64 / 256``),
uniformly with replacement among the run's training prompts (Trinity reads its SFT set in
shuffled order). The toolkit's choices where the paper body was not available: the GRPO
advantages are the toolkit GRPO's (:func:`trainers.losses.group_advantages`, std +
``std_eps`` = 1e-4; ``baseline``), the expert rows are scored at the sampling temperature
(Trinity computes the whole mixed batch's log-probs alike), ``beta > 0`` adds the toolkit
GRPO's k3 term (Trinity's example uses no KL), and ``max_completion_length`` is the ``L_max``
of the 'dr_grpo' aggregation of both parts (default: the task's completion length).

References
----------
.. [1] W. Zhang et al., "On-Policy RL Meets Off-Policy Experts: Harmonizing Supervised
   Fine-Tuning and Reinforcement Learning via Dynamic Weighting", arXiv:2508.11408, 2025
   (CHORD). Equation numbers are not cited: the paper body was not available; the loss follows
   the released code [2].
.. [2] modelscope/Trinity-RFT, ``trinity/algorithm/policy_loss_fn/chord_policy_loss.py``
   (``MIXCHORDPolicyLossFn``, ``mu_schedule_function``, ``phi_function``, ``SFTPhiLossFn``)
   and ``ppo_policy_loss.py`` (``PPOPolicyLossFn``); X. Pan et al., "Trinity-RFT: A
   General-Purpose and Unified Framework for Reinforcement Fine-Tuning of Large Language
   Models", arXiv:2505.17826, 2025.
.. [3] Z. Shao et al., "DeepSeekMath", arXiv:2402.03300, 2024, Eq. (3) and §4.1.2 (GRPO).
.. [4] D. Ye et al., "Mastering Complex Control in MOBA Games with Deep Reinforcement
   Learning", AAAI 2020, arXiv:1912.09729 (dual-clip PPO).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from theory.checks import check_int, check_probability
from trainers import losses as L
from trainers.runtime import (
    FLAG,
    NONNEGATIVE_INT,
    POSITIVE_INT,
    PROBABILITY,
    UNIT_FRACTION,
    MetricsLog,
    Rule,
    check_instance,
    one_of,
    optional,
    real,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.grpo import GRPOConfig, _advantages, _max_length, _Streams
from trainers.sequence.tasks import SequenceTask

__all__ = ["CHORDConfig", "mu_schedule", "train_chord"]

#: Trinity's clamp of the log-ratio before the exponential (``PPOPolicyLossFn``).
LOG_RATIO_CLAMP = 20.0

#: The GRPOConfig switches that neither CHORD's nor AMFT's trainer reads (their configs refuse
#: them): DAPO's and View-R1's, the KL penalty in the reward, the sample budget's early stop.
_UNUSED_GRPO_FIELDS = (
    "kl_in_reward",
    "dynamic_sampling",
    "overlong_buffer",
    "dads",
    "stcr",
    "sample_budget",
)


@dataclass(frozen=True)
class CHORDConfig(GRPOConfig):
    """Hyperparameters of :func:`train_chord`: :class:`~trainers.sequence.grpo.GRPOConfig`'s
    for the on-policy groups and CHORD's own (Trinity-RFT's names and defaults where they
    apply; the defaults are CHORD-phi, :meth:`chord_phi`).

    The GRPO part keeps GRPO's defaults where they are Trinity's (group size 8, its
    ``repeat_times``; ratio clip 0.2, its ``clip_range``; ``beta = 0``, no KL term in its
    example) and takes Trinity's token mean (``loss_type="bnpo"``); ``num_iterations > 1``
    makes the clips act. GRPO's switches the trainer does not read (``kl_in_reward``,
    ``entropy_coef``, ``dynamic_sampling``, ``overlong_buffer``, ``dads``, ``stcr``,
    ``sample_budget``) are refused.

    Each step samples ``batch_prompts * num_generations`` completions per run (the sample
    budget, ``stats/samples``); the ``expert_batch`` expert rows are not samples.
    """

    loss_type: str = "bnpo"
    """Token aggregation of the GRPO part ('bnpo': Trinity's token-mean)."""
    expert_batch: int = 16
    """Expert rows (task.solutions) per run per round (64 x 0.2 / 0.8 by default)."""
    sft_loss_type: str = "bnpo"
    """Token aggregation of the SFT part ('bnpo': token mean, 'grpo': per-sequence mean)."""
    dual_clip: float | None = 3.0
    """Dual clip c > 1 of negative advantages (Trinity's clip_ratio_c 3; None: off)."""
    mu_warmup_steps: int = 0
    """W: linear warm-up of mu from 0 to mu_peak over the first W rounds."""
    mu_decay_steps: int = 0
    """D: cosine decay of mu from mu_peak to mu_valley over the next D rounds."""
    mu_peak: float = 0.1
    """Peak of mu, in [0, 1]."""
    mu_valley: float = 0.1
    """Value of mu after the decay, in [0, 1]."""
    phi: bool = True
    """CHORD-phi: weight expert tokens by sg(p (1 - p)); False: CHORD-mu's plain NLL."""
    cutoff_prob: float = 1.0
    """CHORD-phi only: clamp log p <= log(cutoff_prob) in the SFT part (1: off)."""

    def _rules(self) -> dict[str, Rule]:
        return {
            **super()._rules(),
            "expert_batch": POSITIVE_INT,
            "sft_loss_type": one_of(*L.LOSS_TYPES),
            "dual_clip": optional(real(1.0, lo_open=True)),
            "mu_warmup_steps": NONNEGATIVE_INT,
            "mu_decay_steps": NONNEGATIVE_INT,
            "mu_peak": PROBABILITY,
            "mu_valley": PROBABILITY,
            "phi": FLAG,
            "cutoff_prob": UNIT_FRACTION,
        }

    def __post_init__(self) -> None:
        super().__post_init__()
        C.refuse_unused(self, "CHORD", (*_UNUSED_GRPO_FIELDS, "entropy_coef"))
        if self.cutoff_prob < 1 and not self.phi:
            raise ValueError(
                "CHORDConfig.cutoff_prob applies to CHORD-phi (phi=True) only; got "
                f"cutoff_prob={self.cutoff_prob} with phi=False"
            )

    @classmethod
    def chord_mu(cls, *, decay_fraction: float | None = None, **kw: Any) -> CHORDConfig:
        """CHORD-mu: ``W = 0``, ``D = 200`` rounds, ``mu_peak = 0.9``, ``mu_valley = 0.05``,
        plain NLL on the expert tokens (``phi=False``).

        ``decay_fraction`` in (0, 1] sets ``D = round(decay_fraction * steps)`` instead of the
        absolute 200 (for runs of another length); other fields (``mu_decay_steps`` among
        them, not together with ``decay_fraction``) are keyword overrides.
        """
        fields: dict[str, Any] = {
            "mu_warmup_steps": 0,
            "mu_decay_steps": 200,
            "mu_peak": 0.9,
            "mu_valley": 0.05,
            "phi": False,
        }
        if decay_fraction is not None:
            decay_fraction = UNIT_FRACTION("decay_fraction", decay_fraction)
            if "mu_decay_steps" in kw:
                raise ValueError("give decay_fraction or mu_decay_steps, not both")
            steps = kw.get("steps", cls.steps)
            steps = check_int("steps", steps, lo=1)
            fields["mu_decay_steps"] = round(decay_fraction * steps)
        return cls(**{**fields, **kw})

    @classmethod
    def chord_phi(cls, **kw: Any) -> CHORDConfig:
        """CHORD-phi: constant ``mu = 0.1`` (``W = D = 0``, ``mu_peak = mu_valley = 0.1``) and
        the phi weight ``sg(p (1 - p))`` on the expert tokens; keyword overrides."""
        fields: dict[str, Any] = {
            "mu_warmup_steps": 0,
            "mu_decay_steps": 0,
            "mu_peak": 0.1,
            "mu_valley": 0.1,
            "phi": True,
        }
        return cls(**{**fields, **kw})


def mu_schedule(step: int, warmup: int, decay: int, peak: float, valley: float) -> float:
    """CHORD's weight ``mu_t`` of the SFT part at trainer step ``step`` (Trinity-RFT's
    ``mu_schedule_function`` [2]).

    ``(step / warmup) peak`` for ``step < warmup``; ``(peak - valley) (1 + cos(pi (step -
    warmup) / decay)) / 2 + valley`` for ``warmup <= step < warmup + decay``; ``valley`` from
    ``warmup + decay`` on. ``warmup = decay = 0`` is the constant ``valley``.

    Examples
    --------
    >>> mu_schedule(0, 0, 200, 0.9, 0.05), mu_schedule(100, 0, 200, 0.9, 0.05)
    (0.9, 0.475)
    >>> mu_schedule(5, 10, 0, 0.5, 0.1), mu_schedule(10, 10, 0, 0.5, 0.1)
    (0.25, 0.1)
    """
    step = check_int("step", step, lo=0)
    warmup = check_int("warmup", warmup, lo=0)
    decay = check_int("decay", decay, lo=0)
    peak = check_probability("peak", peak)
    valley = check_probability("valley", valley)
    if step < warmup:
        return step / warmup * peak
    if step >= warmup + decay:
        return valley
    cosine = 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / decay))
    return (peak - valley) * cosine + valley


# --------------------------------------------------------------------------------------------
# pieces shared with trainers.sequence.amft
# --------------------------------------------------------------------------------------------


def _check_demos(tasks: list[SequenceTask]) -> None:
    """Every run's task has expert solutions."""
    for i, t in enumerate(tasks):
        if t.solutions is None:
            raise ValueError(
                f"task {t.name!r} (run {i}) has no solutions: the expert rows are task.solutions"
            )


def _demos(tasks: list[SequenceTask], idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Expert tokens and mask (N, K, L) of the prompt indices ``idx`` (N, K), run i from
    ``tasks[i].solutions``."""
    toks = torch.stack([t.solutions[i] for t, i in zip(tasks, idx, strict=True)])  # type: ignore[index]
    mask = torch.stack([t.solution_mask[i] for t, i in zip(tasks, idx, strict=True)])  # type: ignore[index]
    return toks, mask


def _pg_token_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor | None,
    ref_logp: torch.Tensor | None,
    adv: torch.Tensor,
    mask: torch.Tensor,
    *,
    loss_type: str,
    epsilon: float,
    epsilon_high: float | None,
    dual_clip: float | None,
    beta: float,
    max_completion_length: int,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Trinity's ``PPOPolicyLossFn`` per token (log-ratio clamped to [-20, 20], ratio clip,
    dual clip ``c`` for ``A < 0``) plus ``beta rho k3``, aggregated: one loss per run (*).

    ``logp``, ``old_logp``, ``ref_logp``, ``mask`` (*, B, L); ``adv`` (*, B). ``old_logp =
    None``: the current log-probs detached (ratio 1)."""
    m = mask.to(logp.dtype)
    old = logp.detach() if old_logp is None else old_logp.detach()
    ratio = (logp - old).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP).exp()
    a = adv.detach().to(logp.dtype).unsqueeze(-1)
    eps_high = epsilon if epsilon_high is None else epsilon_high
    pg1 = -a * ratio
    pg2 = -a * ratio.clamp(1.0 - epsilon, 1.0 + eps_high)
    per_token = torch.maximum(pg1, pg2)
    cut = pg2 > pg1
    if dual_clip is not None:
        pg3 = -a * dual_clip
        negative = a < 0
        cut = cut | (negative & (per_token > pg3))
        per_token = torch.where(negative, torch.minimum(per_token, pg3), per_token)
    kl = None
    if ref_logp is not None:
        d = ref_logp.detach() - logp
        kl = d.exp() - d - 1.0  # Schulman's k3
        if beta > 0:
            per_token = per_token + beta * kl * ratio
    loss = L.aggregate_token_loss(
        per_token, mask, loss_type, max_completion_length=max_completion_length
    )
    with torch.no_grad():
        n = m.sum().clamp(min=1.0)
        stats = {"clip_ratio": (cut.to(m.dtype) * m).sum() / n}
        if kl is not None:
            stats["kl"] = (kl * m).sum() / n
    return loss, stats


def _sft_token_loss(
    logp: torch.Tensor,
    mask: torch.Tensor,
    *,
    phi: bool,
    cutoff_prob: float,
    loss_type: str,
    max_completion_length: int,
) -> torch.Tensor:
    """CHORD's SFT part, one loss per run: ``-log p`` (CHORD-mu) or ``-sg(p (1 - p)) log p``
    (CHORD-phi, ``log p`` clamped at ``log cutoff_prob``) per expert token, aggregated."""
    if phi:
        p = logp.detach().exp()
        weight = p * (1.0 - p)  # Trinity's phi_function, detached
        lp = logp.clamp(max=math.log(cutoff_prob)) if cutoff_prob < 1 else logp
        per_token = -weight * lp
    else:
        per_token = -logp
    return L.aggregate_token_loss(
        per_token, mask, loss_type, max_completion_length=max_completion_length
    )


# --------------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------------


def train_chord(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: CHORDConfig = CHORDConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) CHORD runs on a task (or one task per run) as one stacked model.

    Each round per run: ``batch_prompts`` training prompts of the run's task, ``num_generations``
    completions each, scored by the run's task (its reward noise included); ``expert_batch``
    expert rows ``task.solutions`` of uniformly drawn training prompts of the run's task; then
    ``num_iterations`` optimizer steps on ``(1 - mu_t) L_GRPO + mu_t L_SFT`` (module notes).

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        As in :func:`trainers.sequence.grpo.train_grpo`; every task needs ``solutions``.
    cfg : CHORDConfig
    seeds, policy, device, callback
        As in :func:`trainers.sequence.grpo.train_grpo` (run i draws its prompts, tokens,
        reward noise and expert rows from ``seeds[i]`` alone).
    ref_policy : nn.Module, optional
        The frozen reference of ``beta`` (default: a copy of the initial policy).

    Returns
    -------
    SequenceRunResult
        ``algorithm="chord"``. Metrics per round (means over the runs): ``charts/reward``,
        ``losses/loss``, ``losses/grpo``, ``losses/sft``, ``stats/mu``, ``stats/entropy``
        (on-policy tokens), ``stats/samples`` (completions sampled per run so far),
        ``stats/tokens``, ``stats/clip_ratio``, ``stats/kl`` (with ``beta > 0``).
    """
    check_instance("cfg", cfg, CHORDConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    C.check_ref_policy(ref_policy)
    _check_demos(tasks)
    task = tasks[0]
    lmax = _max_length(cfg, task)
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    opt = C.make_optimizer(
        [p for p in policy.parameters() if p.requires_grad], cfg.optimizer, cfg.lr
    )
    streams = _Streams.of(seeds, dev)
    expert_gens = C.generators(seeds, "targets", torch.device("cpu"))
    N, Bp, G, K = len(seeds), cfg.batch_prompts, cfg.num_generations, cfg.expert_batch
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    tokens_seen = 0
    start = time.perf_counter()
    for step in range(cfg.steps):
        mu = mu_schedule(step, cfg.mu_warmup_steps, cfg.mu_decay_steps, cfg.mu_peak, cfg.mu_valley)
        # --- on-policy groups: Bp prompts per run, G completions each, the run's rewards ---
        roll = C.group_rollout(
            policy,
            tasks,
            Bp,
            G,
            streams.prompts,
            streams.tokens,
            streams.noise,
            dev,
            temperature=cfg.temperature,
        )
        comps, rewards = roll.completions, roll.rewards
        adv = _advantages(rewards.reshape(N, Bp, G), cfg).reshape(N, Bp * G)
        # --- expert rows: the solutions of K training prompts of each run ---
        e_idx = C.draw_prompts(tasks, K, expert_gens)
        e_tokens, e_mask = _demos(tasks, e_idx)
        # one teacher-forced pass over the mixed batch (on-policy rows, then expert rows)
        prompts = torch.cat([roll.prompts, C.as_batch(task, e_idx, dev)], dim=1)
        tokens = torch.cat([comps.tokens, e_tokens.to(dev)], dim=1)
        mask = torch.cat([comps.mask, e_mask.to(dev)], dim=1)
        on = slice(0, Bp * G)
        ex = slice(Bp * G, Bp * G + K)
        ref_logp = None
        if cfg.beta > 0:
            with torch.no_grad():
                ref_logp = C.logprobs_runs(
                    ref, roll.prompts, comps.tokens, comps.mask, task, temperature=cfg.temperature
                )
        old_logp = comps.logp if cfg.num_iterations > 1 else None
        for _ in range(cfg.num_iterations):
            logp, entropy = C.logprobs_runs(
                policy, prompts, tokens, mask, task, temperature=cfg.temperature, entropy=True
            )
            # --- GRPO part on the on-policy rows (PPOPolicyLossFn [2]) ---
            grpo, stats = _pg_token_loss(
                logp[:, on],
                old_logp,
                ref_logp,
                adv,
                comps.mask,
                loss_type=cfg.loss_type,
                epsilon=cfg.epsilon,
                epsilon_high=cfg.epsilon_high,
                dual_clip=cfg.dual_clip,
                beta=cfg.beta,
                max_completion_length=lmax,
            )
            # --- SFT part on the expert rows (CHORD-mu NLL or CHORD-phi) ---
            sft = _sft_token_loss(
                logp[:, ex],
                mask[:, ex],
                phi=cfg.phi,
                cutoff_prob=cfg.cutoff_prob,
                loss_type=cfg.sft_loss_type,
                max_completion_length=lmax,
            )
            loss = (1.0 - mu) * grpo + mu * sft
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            C.clip_gradients(policy, cfg.max_grad_norm)
            opt.step()
        n_tok = int(mask.sum())
        tokens_seen += n_tok
        if C.should_log(step + 1, cfg):
            row = {
                "charts/reward": rewards.mean(),
                "losses/loss": loss.detach().mean(),
                "losses/grpo": grpo.detach().mean(),
                "losses/sft": sft.detach().mean(),
                "stats/mu": mu,
                "stats/entropy": C.masked_mean(entropy[:, on].detach(), comps.mask),
                "stats/samples": (step + 1) * Bp * G,
                "stats/tokens": int(comps.mask.sum()) / comps.mask[..., 0].numel(),
                "stats/clip_ratio": stats["clip_ratio"],
            }
            if "kl" in stats:
                row["stats/kl"] = stats["kl"]
            log.log(step + 1, row)
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
        algorithm="chord",
    )
