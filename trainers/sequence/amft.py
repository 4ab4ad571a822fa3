"""AMFT: SFT and RL mixed by a meta-learned, entropy-regularised weight per run, N seeds at once.

.. warning::
   The AMFT manuscript (He, Feng, Li 2025 [1]) has been WITHDRAWN: its arXiv v3 comment says
   the paper is under investigation for potential academic misconduct and the authors asked
   to withdraw it. What is implemented here follows the released controller code [2], not
   claims of the paper; treat AMFT as a controller design to measure, not an established
   method.

Two phases, as the released trainer [2] (``AMFTTrainer.train``):

1. **SFT warm-up**, ``warmup_steps`` steps of pure token NLL on expert demonstrations
   (``task.solutions`` of ``batch_prompts`` training prompts per run); then the target entropy
   ``H_target`` of each run: the mean token entropy of the warmed policy on the demonstrations
   of all its training prompts (teacher-forced; the code averages up to 20 SFT batches).
2. **Mixed steps**, ``steps`` rounds of ``L = (1 - mu) L_RL + mu L_SFT`` per run, with

   - ``L_SFT``: the token NLL of the demonstrations of the round's prompts (the code's RL
     rollouts are on the SFT batch's prompts);
   - ``L_RL``: the toolkit's GRPO loss (:func:`trainers.losses.grpo_token_loss`: clipped
     policy gradient on group advantages of ``num_generations`` completions per prompt, with
     the optional k3 term ``beta``) minus ``entropy_coef`` times the exact token entropy of
     the sampled completions (the code's ``compute_ppo_loss`` subtracts ``c_H = 0.01`` times
     the entropy). The RL part is the toolkit's choice: the released code's rollouts are
     placeholders (``_perform_rollouts`` returns random log-probs and advantages) and its
     value head is not used here;
   - the controller, before the round's update (``AdaptiveWeightController.update_mu``)::

         mu <- clip(mu + s eta_meta g_meta + eta_H (H_target - H_t), mu_min, mu_max)

     with ``H_t`` the run's mean token entropy on its sampled completions, and the meta
     gradient ``g_meta = -alpha <grad L_val, g_SFT - g_RL>`` (``compute_meta_gradient``),
     ``alpha = lr``, computed every ``meta_update_freq`` rounds (rounds 0, f, 2f, ...; else 0)
     from the gradients ``g_SFT``, ``g_RL`` of this round's losses at the current parameters
     and the gradient of the validation loss ``L_val``: the token NLL of the expert
     demonstrations of *all* the task's prompts (the validation demos here are the task's
     solutions for every prompt, training prompts dropped by ``drop_prompts`` included: the
     controller sees them through the scalar ``mu`` only).

**The meta gradient and its sign** [derived]. One plain gradient step with the mixed loss
from ``theta`` is ``theta'(mu) = theta - alpha [(1 - mu) g_RL + mu g_SFT]``, so
``d theta' / d mu = -alpha (g_SFT - g_RL)`` and

    d L_val(theta'(mu)) / d mu = <grad L_val(theta'), d theta'/d mu>
                               = -alpha <grad L_val(theta), g_SFT - g_RL> + O(alpha^2)
                               = g_meta + O(alpha^2).

``meta_sign="descent"`` (``s = -1``, the default) moves ``mu`` down the validation loss of the
look-ahead step, ``mu <- mu - eta_meta g_meta``, whose first-order change
``g_meta delta_mu = -eta_meta g_meta^2`` is never positive. The released code adds
``+eta_meta g_meta`` (``meta_sign="ascent"``, ``s = +1``), which is gradient *ascent* on the
validation loss unless the paper's quantity is a utility (minus a loss); the paper body was
not available to decide, so the sign is a parameter. The look-ahead is an SGD step of size
``lr`` although the parameters are updated by Adam (as in the code: ``alpha = policy_lr``).
The entropy term raises ``mu`` (more imitation) when the policy's entropy is below the
post-warm-up target and lowers it when above, whatever the sign.

**Per run.** ``mu`` is a vector of N weights, one per run. The runs of a stacked
:class:`~trainers.sequence.policy.TinyCausalLM` share no parameter (every parameter has the
leading run axis), so one ``autograd.grad`` of the sum of the N losses holds each run's own
gradient in its slice, and run i's inner product is the sum over the non-leading axes of its
slice. Another stacked module (any module with ``n_runs`` that is not a TinyCausalLM, whose
parameters may lack the run axis or be shared) gets one ``autograd.grad`` per run and loss
(exact, N times slower); a single module is one run.

Defaults are the released configuration (``configs/training/amft_params.yaml``):
``initial_mu 0.8`` (the controller class and README say 0.5), ``meta_lr 1e-4``, ``entropy_lr
5e-4``, ``mu_min 0.05``, ``mu_max 0.95``, ``meta_update_freq 20``, ``warmup_steps 50``,
entropy coefficient 0.01, clip 0.2; the learning rate is the toolkit's (the code's 1e-6 is for
billion-parameter models). With these, ``eta_meta g_meta`` is of order ``1e-4 lr`` per update:
the meta term barely moves ``mu``, the entropy term does.

References
----------
.. [1] He, Feng, Li, "AMFT: Aligning LLM Reasoners by Meta-Learning the Optimal
   Imitation-Exploration Balance", arXiv:2508.06944, 2025 (withdrawn, v3: under investigation
   for potential academic misconduct). Equation numbers are not cited: the paper body was not
   available.
.. [2] TSYJ-He/AMFT (the authors' released code): ``src/controller/
   adaptive_weight_controller.py`` (``AdaptiveWeightController.update_mu``,
   ``compute_meta_gradient``), ``src/trainer/amft_trainer.py`` (``AMFTTrainer``),
   ``src/trainer/ppo_loss.py`` (``compute_ppo_loss``), ``configs/training/amft_params.yaml``.
.. [3] Z. Shao et al., "DeepSeekMath", arXiv:2402.03300, 2024, Eq. (3) and §4.1.2 (GRPO).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from trainers import losses as L
from trainers.runtime import (
    NONNEGATIVE,
    NONNEGATIVE_INT,
    POSITIVE_INT,
    PROBABILITY,
    MetricsLog,
    Rule,
    check_instance,
    one_of,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.chord import _UNUSED_GRPO_FIELDS, _check_demos, _demos
from trainers.sequence.grpo import (
    GRPOConfig,
    _advantages,
    _max_length,
    _policy_loss,
    _Streams,
)
from trainers.sequence.policy import TinyCausalLM
from trainers.sequence.tasks import SequenceTask

__all__ = ["AMFTConfig", "AMFTRunResult", "train_amft"]


@dataclass(frozen=True)
class AMFTConfig(GRPOConfig):
    """Hyperparameters of :func:`train_amft`: :class:`~trainers.sequence.grpo.GRPOConfig`'s
    for the RL part and the warm-up, SFT part and controller (the released code's names and
    defaults where they apply).

    ``steps`` counts the mixed rounds after the ``warmup_steps`` SFT steps; ``batch_prompts``
    prompts per run per step give the demos of the warm-up, and the groups and demos of a
    mixed round (whose ``num_iterations`` optimizer steps share one controller update of mu).
    The RL part takes the code's token mean (``loss_type="bnpo"``) and entropy coefficient
    ``c_H = 0.01`` (``entropy_coef``); its clip 0.2 and no KL term are GRPO's defaults. The
    SFT and validation NLL are at temperature 1, the RL log-probs at ``temperature``. GRPO's
    switches the trainer does not read (``kl_in_reward``, ``dynamic_sampling``,
    ``overlong_buffer``, ``dads``, ``stcr``, ``sample_budget``) are refused.

    Each of the ``steps`` mixed rounds samples ``batch_prompts * num_generations``
    completions per run (the sample budget, ``stats/samples``); the ``warmup_steps`` SFT steps
    before them sample nothing. Metrics and callbacks number all ``warmup_steps + steps``
    steps.
    """

    loss_type: str = "bnpo"
    """Token aggregation of the RL part ('bnpo': the code's token mean)."""
    entropy_coef: float = 0.01
    """c_H: the RL part subtracts c_H times the token entropy (the code's 0.01)."""
    warmup_steps: int = 50
    """SFT warm-up steps before the mixed rounds (the code's warmup_steps 50)."""
    sft_loss_type: str = "bnpo"
    """Token aggregation of the SFT NLL ('bnpo': token mean, as cross-entropy)."""
    initial_mu: float = 0.8
    """mu after the warm-up, in [mu_min, mu_max] (amft_params.yaml 0.8; class default 0.5)."""
    mu_min: float = 0.05
    """Lower clip of mu."""
    mu_max: float = 0.95
    """Upper clip of mu."""
    meta_lr: float = 1e-4
    """eta_meta, step size of the meta gradient (0: entropy-only controller)."""
    entropy_lr: float = 5e-4
    """eta_H, step size of the entropy term (0: meta-gradient-only controller)."""
    meta_update_freq: int = 20
    """Compute the meta gradient every this many mixed rounds (rounds 0, f, 2f, ...)."""
    meta_sign: str = "descent"
    """'descent': mu <- mu - eta_meta dL_val/dmu; 'ascent': + (the released code). The
    look-ahead step of the meta gradient has size ``lr`` (alpha)."""

    def _rules(self) -> dict[str, Rule]:
        return {
            **super()._rules(),
            "warmup_steps": NONNEGATIVE_INT,
            "sft_loss_type": one_of(*L.LOSS_TYPES),
            "initial_mu": PROBABILITY,
            "mu_min": PROBABILITY,
            "mu_max": PROBABILITY,
            "meta_lr": NONNEGATIVE,
            "entropy_lr": NONNEGATIVE,
            "meta_update_freq": POSITIVE_INT,
            "meta_sign": one_of("descent", "ascent"),
        }

    def __post_init__(self) -> None:
        super().__post_init__()
        C.refuse_unused(self, "AMFT", _UNUSED_GRPO_FIELDS)
        if self.mu_min > self.mu_max:
            raise ValueError(
                f"AMFTConfig.mu_min must be <= mu_max; got mu_min={self.mu_min}, "
                f"mu_max={self.mu_max}"
            )
        if not self.mu_min <= self.initial_mu <= self.mu_max:
            raise ValueError(
                f"AMFTConfig.initial_mu must lie in [mu_min, mu_max] = [{self.mu_min}, "
                f"{self.mu_max}]; got {self.initial_mu}"
            )


@dataclass(frozen=True)
class AMFTRunResult(C.SequenceRunResult):
    """A :class:`~trainers.sequence.common.SequenceRunResult` with the controller's per-run
    trajectories (float64, CPU; row t = mixed round t, column = run).

    Attributes
    ----------
    mu_trajectory : Tensor (steps, N)
        The weight mu of the SFT part used in round t (after that round's controller update).
    entropy_trajectory : Tensor (steps, N)
        ``H_t``, the mean token entropy of the round's sampled completions.
    meta_gradient : Tensor (steps, N)
        ``g_meta`` of the round (0 in rounds without a meta update).
    target_entropy : Tensor (N,)
        ``H_target`` after the warm-up.
    """

    mu_trajectory: torch.Tensor = field(repr=False)
    entropy_trajectory: torch.Tensor = field(repr=False)
    meta_gradient: torch.Tensor = field(repr=False)
    target_entropy: torch.Tensor = field(repr=False)


# --------------------------------------------------------------------------------------------
# the controller
# --------------------------------------------------------------------------------------------


def _grads(loss: torch.Tensor, params: list[torch.Tensor], retain: bool) -> list[torch.Tensor]:
    gs = torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(gs, params, strict=True)]


def _per_run_axis(policy: nn.Module, params: list[torch.Tensor], n: int) -> bool:
    """Whether each run's gradient is the slice of its run axis: one run, or a stacked
    TinyCausalLM (every parameter carries the run axis)."""
    if n == 1:
        return True
    return isinstance(policy, TinyCausalLM) and all(p.ndim >= 1 and p.shape[0] == n for p in params)


def _meta_gradient(
    policy: nn.Module,
    params: list[torch.Tensor],
    sft: torch.Tensor,
    rl: torch.Tensor,
    val: torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """``g_meta = -alpha <grad L_val, grad L_SFT - grad L_RL>`` per run, (N,) float64 on the
    CPU. ``sft``, ``rl``, ``val``: (N,) losses with graphs (the first two are kept)."""
    n = sft.shape[0]
    if _per_run_axis(policy, params, n):
        g_sft = _grads(sft.sum(), params, True)
        g_rl = _grads(rl.sum(), params, True)
        g_val = _grads(val.sum(), params, False)
        dots = sum(
            (v * (s - r)).reshape(n, -1).sum(1).double()
            for v, s, r in zip(g_val, g_sft, g_rl, strict=True)
        )
    else:  # parameters without the run axis: one gradient per run and loss
        out = []
        for i in range(n):
            g_sft = _grads(sft[i], params, True)
            g_rl = _grads(rl[i], params, True)
            g_val = _grads(val[i], params, True)
            out.append(
                sum(
                    (v * (s - r)).sum().double() for v, s, r in zip(g_val, g_sft, g_rl, strict=True)
                )
            )
        dots = torch.stack(out)  # type: ignore[arg-type]
    return -alpha * dots.detach().cpu()  # type: ignore[union-attr]


def _update_mu(
    mu: torch.Tensor,
    g_meta: torch.Tensor,
    target: torch.Tensor,
    entropy: torch.Tensor,
    cfg: AMFTConfig,
) -> torch.Tensor:
    """``clip(mu + s eta_meta g_meta + eta_H (H_target - H_t), mu_min, mu_max)``, s = -1 for
    'descent' and +1 for 'ascent' (``AdaptiveWeightController.update_mu`` [2])."""
    sign = -1.0 if cfg.meta_sign == "descent" else 1.0
    step = sign * cfg.meta_lr * g_meta + cfg.entropy_lr * (target - entropy)
    return (mu + step).clamp(cfg.mu_min, cfg.mu_max)


def _token_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-run mean of ``x`` (N, B, L) over the real tokens, (N,) float64 on the CPU."""
    m = mask.to(x.dtype)
    return ((x * m).sum((-2, -1)) / m.sum((-2, -1)).clamp(min=1.0)).detach().double().cpu()


# --------------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------------


def train_amft(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: AMFTConfig = AMFTConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> AMFTRunResult:
    """Train N = len(seeds) AMFT runs on a task (or one task per run) as one stacked model.

    ``warmup_steps`` SFT steps, the target entropy, then ``steps`` mixed rounds with one
    controlled weight ``mu`` per run (module notes).

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        As in :func:`trainers.sequence.grpo.train_grpo`; every task needs ``solutions``
        (the demonstrations; run i's training demos are those of its task's training prompts,
        its validation demos those of all prompts).
    cfg : AMFTConfig
    seeds, policy, device, callback
        As in :func:`trainers.sequence.grpo.train_grpo` (``callback(step, policy)`` after every
        logged step, warm-up included).
    ref_policy : nn.Module, optional
        The frozen reference of ``beta`` (default: a copy of the initial policy).

    Returns
    -------
    AMFTRunResult
        ``algorithm="amft"``, with the per-run ``mu_trajectory``, ``entropy_trajectory``,
        ``meta_gradient`` and ``target_entropy``. Metrics (means over the runs): warm-up steps
        ``losses/loss`` (= ``losses/sft``), ``stats/entropy`` (on the demos), ``stats/mu`` = 1,
        ``stats/samples`` = 0; mixed rounds ``charts/reward``, ``losses/loss``, ``losses/rl``,
        ``losses/sft``, ``stats/entropy`` (``H_t``), ``stats/target_entropy``, ``stats/mu``,
        ``stats/mu_min`` and ``stats/mu_max`` (over the runs), ``stats/meta_grad``,
        ``stats/samples`` (completions sampled per run so far), ``stats/tokens``,
        ``stats/clip_ratio``, ``stats/kl`` (with ``beta > 0``).
    """
    check_instance("cfg", cfg, AMFTConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    C.check_ref_policy(ref_policy)
    _check_demos(tasks)
    task = tasks[0]
    lmax = _max_length(cfg, task)
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = C.make_optimizer(params, cfg.optimizer, cfg.lr)
    streams = _Streams.of(seeds, dev)
    N, Bp, G, W = len(seeds), cfg.batch_prompts, cfg.num_generations, cfg.warmup_steps
    total = W + cfg.steps
    # every prompt's demonstration, per run: the validation set, and (masked to the run's
    # training prompts) the set of the target entropy
    all_idx = torch.arange(task.n_prompts).expand(N, -1)
    all_prompts = C.as_batch(task, all_idx, dev)
    all_tokens, all_mask = _demos(tasks, all_idx)
    all_tokens, all_mask = all_tokens.to(dev), all_mask.to(dev)
    train_mask = torch.stack([t.train_mask for t in tasks]).to(dev)[..., None] & all_mask
    log = MetricsLog(total, progress=cfg.progress)
    tokens_seen = 0
    start = time.perf_counter()

    # --- 1. SFT warm-up: token NLL on the demos of Bp training prompts per run ---
    for step in range(W):
        idx = C.draw_prompts(tasks, Bp, streams.prompts)
        d_tokens, d_mask = _demos(tasks, idx)
        d_tokens, d_mask = d_tokens.to(dev), d_mask.to(dev)
        logp, entropy = C.logprobs_runs(
            policy, C.as_batch(task, idx, dev), d_tokens, d_mask, task, entropy=True
        )
        loss = L.sequence_nll(logp, d_mask, loss_type=cfg.sft_loss_type, max_completion_length=lmax)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        C.clip_gradients(policy, cfg.max_grad_norm)
        opt.step()
        tokens_seen += int(d_mask.sum())
        if C.should_log(step + 1, cfg, total):
            log.log(
                step + 1,
                {
                    "losses/loss": loss.detach().mean(),
                    "losses/sft": loss.detach().mean(),
                    "stats/entropy": C.masked_mean(entropy.detach(), d_mask),
                    "stats/mu": 1.0,
                    "stats/samples": 0,
                    "stats/tokens": int(d_mask.sum()) / d_mask[..., 0].numel(),
                },
            )
            C.notify(callback, step + 1, policy)
        log.advance()

    # --- H_target: mean token entropy of the warmed policy on each run's training demos ---
    with torch.no_grad():
        _, entropy = C.logprobs_runs(
            policy, all_prompts, all_tokens, train_mask, task, entropy=True
        )
    target = _token_mean(entropy, train_mask)

    # --- 2. mixed rounds: (1 - mu) L_RL + mu L_SFT, mu per run from the controller ---
    mu = torch.full((N,), cfg.initial_mu, dtype=torch.float64)
    mus, ents, metas = [], [], []
    for t in range(cfg.steps):
        idx = C.draw_prompts(tasks, Bp, streams.prompts)  # (N, Bp), the SFT batch's prompts
        prompts = C.as_batch(task, idx.repeat_interleave(G, dim=1), dev)
        comps = C.sample_runs(policy, prompts, task, streams.tokens, temperature=cfg.temperature)
        rewards = C.rewards_runs(tasks, prompts, comps, streams.noise)
        adv = _advantages(rewards.reshape(N, Bp, G), cfg).reshape(N, Bp * G)
        d_prompts = C.as_batch(task, idx, dev)
        d_tokens, d_mask = _demos(tasks, idx)
        d_tokens, d_mask = d_tokens.to(dev), d_mask.to(dev)
        mask = comps.mask
        ref_logp = None
        if cfg.beta > 0:
            with torch.no_grad():
                ref_logp = C.logprobs_runs(
                    ref, prompts, comps.tokens, mask, task, temperature=cfg.temperature
                )
        old_logp = comps.logp if cfg.num_iterations > 1 else None
        g_meta = torch.zeros(N, dtype=torch.float64)
        for it in range(cfg.num_iterations):
            logp, entropy = C.logprobs_runs(
                policy, prompts, comps.tokens, mask, task, temperature=cfg.temperature, entropy=True
            )
            # --- RL part: the toolkit's GRPO loss minus c_H x entropy ---
            rl, stats = _policy_loss(cfg, logp, old_logp, ref_logp, adv, mask, entropy, lmax)
            # --- SFT part: token NLL of the round's demos ---
            d_logp = C.logprobs_runs(policy, d_prompts, d_tokens, d_mask, task)
            sft = L.sequence_nll(
                d_logp, d_mask, loss_type=cfg.sft_loss_type, max_completion_length=lmax
            )
            if it == 0:
                # --- the controller: meta gradient every meta_update_freq rounds, entropy ---
                h_t = _token_mean(entropy, mask)
                if t % cfg.meta_update_freq == 0 and cfg.meta_lr > 0:
                    v_logp = C.logprobs_runs(policy, all_prompts, all_tokens, all_mask, task)
                    val = L.sequence_nll(v_logp, all_mask, loss_type="bnpo")
                    g_meta = _meta_gradient(policy, params, sft, rl, val, cfg.lr)
                mu = _update_mu(mu, g_meta, target, h_t, cfg)
            w = mu.to(device=dev, dtype=sft.dtype)
            loss = (1.0 - w) * rl + w * sft
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            C.clip_gradients(policy, cfg.max_grad_norm)
            opt.step()
        mus.append(mu)
        ents.append(h_t)
        metas.append(g_meta)
        tokens_seen += int(mask.sum()) + int(d_mask.sum())
        step = W + t + 1
        if C.should_log(step, cfg, total):
            row = {
                "charts/reward": rewards.mean(),
                "losses/loss": loss.detach().mean(),
                "losses/rl": rl.detach().mean(),
                "losses/sft": sft.detach().mean(),
                "stats/entropy": h_t.mean(),
                "stats/target_entropy": target.mean(),
                "stats/mu": mu.mean(),
                "stats/mu_min": mu.min(),
                "stats/mu_max": mu.max(),
                "stats/meta_grad": g_meta.mean(),
                "stats/samples": (t + 1) * Bp * G,
                "stats/tokens": int(mask.sum()) / mask[..., 0].numel(),
                "stats/clip_ratio": stats["clip_ratio/region_mean"],
            }
            if ref_logp is not None:
                row["stats/kl"] = stats["kl"]
            log.log(step, row)
            C.notify(callback, step, policy)
        log.advance()
    log.close()
    return AMFTRunResult(
        policy=policy,
        ref_policy=ref,
        config=cfg,
        seeds=tuple(seeds),
        metrics=log.rows,
        tokens_seen=tokens_seen,
        wall_s=time.perf_counter() - start,
        algorithm="amft",
        mu_trajectory=torch.stack(mus),
        entropy_trajectory=torch.stack(ents),
        meta_gradient=torch.stack(metas),
        target_entropy=target,
    )
