"""NLPO (Natural Language Policy Optimization) on sequence policies, N seeds at once.

NLPO (Ramamurthy et al. 2023, §3 and Algorithm 1) is PPO with invalid-action masking
(Huang & Ontañón 2020) where the valid set comes from a delayed copy ``pi_psi`` of the policy,
the *mask model*. At every state ``s_t`` of a rollout the mask is the top-p nucleus of
``pi_psi(. | s_t)`` (:func:`top_p_mask`), and the policy samples from, and is trained on, the
masked distribution

    pi_theta^M(a | s) = pi_theta(a | s) 1[a in M_psi(s)] / sum_{a' in M_psi(s)} pi_theta(a' | s).

The masks are stored with the rollout: the ratio ``pi_theta^M / pi_old^M`` of the update
re-applies the same mask to both. Every ``mask_update_every`` iterations ``psi <- theta``.
The reward of each token is the task's score at the last token minus
``beta_t (log pi_theta(a_t | s_t) - log pi_0(a_t | s_t))``, the KL to the frozen reference
with the *unmasked* policy's log-probability, and ``beta`` follows the adaptive controller of
Ziegler et al. (2019, §2.2) after every rollout:
``e = clip((KL - kl_target) / kl_target, -0.2, 0.2)``, ``beta <- beta (1 + 0.1 e)``,
with ``KL`` the run's mean per-token ``log pi_theta - log pi_0`` of the rollout (one ``beta``
per run). The update is the PPO of :func:`trainers.sequence.ppo.train_sequence_ppo` (GAE,
clipped surrogate, value loss), with stable-baselines3's advantage whitening per minibatch.

As in the reference code (allenai/RL4LMs: ``rl4lms/algorithms/nlpo/nlpo.py``,
``rl4lms/algorithms/common/maskable/logits_processor.py``,
``rl4lms/envs/text_generation/kl_controllers.py``):

- the mask is ``learned_top_p`` of the causal-LM processor: sort ``pi_psi`` in decreasing
  order and keep a token iff the mass ranked strictly above it is at most ``top_p`` (the
  smallest prefix whose mass exceeds ``top_p``), the first token always, and at least the
  ``min_tokens_to_keep`` most likely ones (the causal processor keeps exactly that many; the
  seq2seq one keeps one more). RL4LMs' ``min_tokens_to_keep = 100`` would keep every token of
  a vocabulary this small (no masking at all): the default here is 2. The task's grammar
  (``task.allowed``) applies first (``pi_psi`` is renormalised over the allowed tokens) and
  last (the mask is intersected with it), and EOS is always kept where the grammar allows it
  (RL4LMs keeps every special token);
- the mask model starts as a copy of the initial policy, and at the end of rollout k
  (k = 1, 2, ...), if ``k % mask_update_every == 0``, it becomes a copy of the policy that
  sampled that rollout (before the rollout's update);
- the KL controller steps after the rollout's rewards are computed, so rollout k is scored
  with the coefficient of k - 1 steps;
- the critic starts as the policy's trunk with a fresh value head (``critic_init="policy"``:
  RL4LMs loads the value model from the same pretrained model), one clip of the joint gradient
  norm of policy and critic (``grad_clip="joint"``, max 0.5), value loss unclipped with weight
  ``vf_coef = 1`` on ``1/2 (V - R)^2`` (stable-baselines3's ``vf_coef = 0.5`` on the MSE).

Not reproduced: stable-baselines3 shuffles individual tokens into minibatches, here a
minibatch is a contiguous block of completions; its optional early stop on the approximate KL
between updates is not implemented (the IMDB configuration does not set it).

References
----------
R. Ramamurthy, P. Ammanabrolu, K. Brantley, J. Hessel, R. Sifa, C. Bauckhage, H. Hajishirzi,
Y. Choi, "Is Reinforcement Learning (Not) for Natural Language Processing: Benchmarks,
Baselines, and Building Blocks for Natural Language Policy Optimization", ICLR 2023,
arXiv:2210.01241, §3 and Algorithm 1; code: allenai/RL4LMs.
S. Huang, S. Ontañón, "A Closer Look at Invalid Action Masking in Policy Gradient
Algorithms", arXiv:2006.14171, 2020.
D. M. Ziegler et al., "Fine-Tuning Language Models from Human Preferences",
arXiv:1909.08593, 2019, §2.2 (the adaptive KL coefficient).
J. Schulman et al., "Proximal Policy Optimization Algorithms", arXiv:1707.06347, 2017.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from theory.checks import ArgumentTypeError, check_int, check_real
from trainers.runtime import POSITIVE, POSITIVE_INT, check_instance, optional, real
from trainers.sequence import common as C
from trainers.sequence.policy import policy_logits
from trainers.sequence.ppo import PPOSeqConfig, _Rollouts, _Sampled, _train_loop
from trainers.sequence.sampling import Completions
from trainers.sequence.tasks import SequenceTask

__all__ = ["NLPOConfig", "top_p_mask", "train_nlpo"]


@dataclass(frozen=True)
class NLPOConfig(PPOSeqConfig):
    """Hyperparameters of :func:`train_nlpo`: those of :class:`PPOSeqConfig` (with the
    defaults of RL4LMs' NLPO where they are scale-free) and the mask and KL controller.

    A step samples ``batch_size`` completions per run (one per drawn training prompt) and
    makes ``update_epochs * num_minibatches`` optimizer steps on them.
    """

    _CRITIC_LR_RATIO: ClassVar[float] = 1.0
    _TRAINER: ClassVar[str] = "train_nlpo"

    update_epochs: int = 5
    """Passes over each rollout (RL4LMs IMDB ``n_epochs`` 5)."""
    num_minibatches: int = 4
    """Minibatches per pass (RL4LMs: minibatches of 64 of 1280 token transitions; here blocks
    of completions)."""
    kl_coef: float = 0.1
    """Initial KL coefficient beta of the reward (RL4LMs ``kl_div.coeff`` 0.1)."""
    kl_target: float | None = 0.1
    """Target of the adaptive KL controller (mean per-token KL of a rollout; RL4LMs IMDB
    ``target_kl`` 0.1, 1.0 in an earlier revision of that config); None: beta stays
    ``kl_coef``."""
    gamma: float = 0.99
    """Discount (stable-baselines3 default)."""
    critic_lr: float | None = None
    """Critic learning rate (None: lr, RL4LMs' one optimizer)."""
    value_clip: float | None = None
    """Value loss clip (stable-baselines3 ``clip_range_vf``, off); when set, the clipped loss
    of :class:`PPOSeqConfig`."""
    max_grad_norm: float | None = 0.5
    """Gradient norm clip (stable-baselines3 0.5), joint over policy and critic."""
    grad_clip: str = "joint"
    """'joint' (stable-baselines3 clips the policy's parameters, which hold the value model)
    or 'separate'."""
    critic_init: str = "policy"
    """'policy' (RL4LMs' value model is the pretrained model plus a linear value head) or
    'random'."""
    top_p: float = 0.9
    """Nucleus of the mask model kept at every step (RL4LMs ``top_mask`` 0.9); 1: no mask."""
    min_tokens_to_keep: int = 2
    """The mask keeps at least this many most likely tokens (RL4LMs 100, which on a toy
    vocabulary keeps every token)."""
    mask_update_every: int = 5
    """Copy the policy into the mask model every this many iterations (RL4LMs
    ``target_update_iterations`` mu = 5)."""

    def _rules(self) -> dict[str, Any]:
        return {
            **super()._rules(),
            "kl_target": optional(POSITIVE),
            "top_p": real(0.0, 1.0, lo_open=True),
            "min_tokens_to_keep": POSITIVE_INT,
            "mask_update_every": POSITIVE_INT,
        }


# --------------------------------------------------------------------------------------------
# the mask
# --------------------------------------------------------------------------------------------


def top_p_mask(probs: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """The learned top-p action mask of NLPO (RL4LMs ``MaskLogitsProcessorCasualLM``,
    ``mask_type="learned_top_p"``) of distributions ``probs`` (*, V).

    Sort each distribution in decreasing order (ties in index order); the token of rank i is
    kept iff ``i < min_tokens_to_keep``, or ``i = 0``, or the mass of ranks ``0..i-1`` is at
    most ``top_p``: the smallest prefix whose mass exceeds ``top_p`` (all tokens if none), at
    least ``min_tokens_to_keep`` tokens. ``top_p = 1`` keeps every token.

    Parameters
    ----------
    probs : Tensor (*, V), floating
        Probabilities (non-negative, finite; each row sums to 1 up to round-off).
    top_p : float in (0, 1]
    min_tokens_to_keep : int >= 1

    Returns
    -------
    Tensor (*, V) bool
        True where a token is kept.

    Examples
    --------
    >>> top_p_mask(torch.tensor([0.125, 0.5, 0.25, 0.125]), 0.6).tolist()
    [False, True, True, False]
    """
    if not isinstance(probs, torch.Tensor) or not probs.is_floating_point():
        raise ArgumentTypeError(f"probs must be a floating torch.Tensor; got {probs!r:.60}")
    if probs.ndim < 1 or probs.shape[-1] == 0:
        raise ValueError(f"probs must have shape (*, V) with V >= 1; got {tuple(probs.shape)}")
    if probs.numel() and not bool((torch.isfinite(probs) & (probs >= 0)).all()):
        raise ValueError("probs must be finite and non-negative")
    top_p = check_real("top_p", top_p, lo=0.0, hi=1.0, lo_open=True)
    k = check_int("min_tokens_to_keep", min_tokens_to_keep, lo=1)
    return _top_p_keep(probs, top_p, k)


def _top_p_keep(probs: torch.Tensor, top_p: float, k: int) -> torch.Tensor:
    """:func:`top_p_mask` without the checks (the trainer's own probabilities)."""
    if top_p >= 1.0:
        return torch.ones_like(probs, dtype=torch.bool)
    sorted_p, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    # RL4LMs: remove = cumsum > p, keep the first k - 1, shift right by one, keep rank 0
    remove = sorted_p.cumsum(-1) > top_p
    remove[..., : k - 1] = False
    remove = torch.cat([torch.zeros_like(remove[..., :1]), remove[..., :-1]], dim=-1)
    keep_sorted = ~remove
    return torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)


def _masked_probs_of(logits: torch.Tensor, allowed_t: torch.Tensor) -> torch.Tensor:
    """softmax of ``logits`` (*, V) over the ``allowed_t`` (V,) tokens (0 elsewhere)."""
    z = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    return torch.softmax(z.masked_fill(~allowed_t, float("-inf")), dim=-1)


def _step_mask(
    mask_logits: torch.Tensor, allowed_t: torch.Tensor, eos_id: int | None, cfg: NLPOConfig
) -> torch.Tensor:
    """The action mask (*, V) of one step: the top-p nucleus of the mask model over the allowed
    tokens, EOS added, intersected with the allowed tokens (never empty)."""
    keep = _top_p_keep(_masked_probs_of(mask_logits, allowed_t), cfg.top_p, cfg.min_tokens_to_keep)
    if eos_id is not None:
        keep[..., eos_id] = True
    return keep & allowed_t


# --------------------------------------------------------------------------------------------
# masked sampling and log-probs
# --------------------------------------------------------------------------------------------


def _next_logits(model: nn.Module, cache: Any, prompts: torch.Tensor, tokens: torch.Tensor, t: int):
    """Logits (*, V) of the next token after ``prompts`` and ``tokens[..., :t]``: with the
    model's KV cache if it has one, else a forward over the whole prefix."""
    if cache is None:
        ids = torch.cat([prompts, tokens[..., :t]], dim=-1)
        return policy_logits(model, ids)[..., -1, :]
    step = prompts if t == 0 else tokens[..., t - 1 : t]
    return policy_logits(lambda x: model(x, cache=cache), step)[..., -1, :]


def _uniforms(
    shape: tuple[int, ...], gens: list[torch.Generator], stacked: bool, device: torch.device
) -> torch.Tensor:
    """U(0, 1) float64 of ``shape``, run i's slice from ``gens[i]`` (as
    :func:`trainers.sequence.sampling.sample` draws them)."""
    if not stacked:
        return torch.rand(shape, generator=gens[0], device=device, dtype=torch.float64)
    return torch.stack(
        [torch.rand(shape[1:], generator=g, device=device, dtype=torch.float64) for g in gens]
    )


@torch.no_grad()
def _sample_masked(
    policy: nn.Module,
    mask_model: nn.Module,
    prompts: torch.Tensor,
    task: SequenceTask,
    gens: list[torch.Generator],
    cfg: NLPOConfig,
) -> _Sampled:
    """One completion per prompt row of every run (prompts (N, B, Tp)) from the masked policy
    ``pi_theta^M``, the masks from ``mask_model``: the Gumbel-max draw of
    :func:`trainers.sequence.sampling.sample` (one ``torch.rand((B, V))`` per position from
    each run's generator, every position drawn), on the masked logits. Returns the masked
    log-probs (``completions.logp``), the grammar-only ones (``raw_logp``) and the masks."""
    stacked = C.is_stacked(policy)
    p = prompts if stacked else prompts[0]
    dev, batch, length = p.device, p.shape[:-1], task.completion_len
    allowed = task.allowed.to(dev)
    eos, pad = task.eos_id, task.pad_id
    caches = [
        m.init_cache(batch) if hasattr(m, "init_cache") else None for m in (policy, mask_model)
    ]
    tokens = torch.full((*batch, length), pad, dtype=torch.long, device=dev)
    mask = torch.zeros((*batch, length), dtype=torch.bool, device=dev)
    ended = torch.zeros(batch, dtype=torch.bool, device=dev)
    logp = raw = action = None
    for t in range(length):
        z = _next_logits(policy, caches[0], p, tokens, t)
        zm = _next_logits(mask_model, caches[1], p, tokens, t)
        if z.dtype in (torch.float16, torch.bfloat16):
            z = z.float()
        if cfg.temperature != 1.0:
            z = z / cfg.temperature
        keep = _step_mask(zm, allowed[t], eos, cfg)
        z_masked = z.masked_fill(~keep, float("-inf"))
        logp_m = torch.log_softmax(z_masked, dim=-1)
        logp_raw = torch.log_softmax(z.masked_fill(~allowed[t], float("-inf")), dim=-1)
        if logp is None:
            logp = torch.zeros((*batch, length), dtype=logp_m.dtype, device=dev)
            raw = torch.zeros_like(logp)
            action = torch.zeros((*batch, length, z.shape[-1]), dtype=torch.bool, device=dev)
        u = _uniforms(tuple(z.shape), gens, stacked, dev)
        gumbel = -torch.log(-torch.log(u.clamp(min=1e-300)))
        choice = torch.argmax(z_masked.double() + gumbel, dim=-1)
        alive = ~ended
        tokens[..., t] = torch.where(alive, choice, pad)
        mask[..., t] = alive
        idx = choice.unsqueeze(-1)
        logp[..., t] = torch.where(alive, logp_m.gather(-1, idx).squeeze(-1), 0.0)
        raw[..., t] = torch.where(alive, logp_raw.gather(-1, idx).squeeze(-1), 0.0)
        # pads get the grammar's row (never empty, so the update's softmax stays finite)
        action[..., t, :] = torch.where(alive.unsqueeze(-1), keep, allowed[t])
        if eos is not None:
            ended = ended | (alive & (choice == eos))
    if not stacked:
        tokens, mask, logp, raw, action = (x[None] for x in (tokens, mask, logp, raw, action))
    return _Sampled(Completions(tokens, mask, logp), raw, action)


def _masked_logprobs(
    policy: nn.Module,
    prompts: torch.Tensor,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    action_mask: torch.Tensor,
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced log-probs and exact entropies (N, B, L) of ``pi_theta^M``: the policy's
    tempered logits renormalised over the stored ``action_mask`` (N, B, L, V), with grad."""
    stacked = C.is_stacked(policy)
    ids = torch.cat([prompts, tokens[..., :-1]], dim=-1)
    tp = prompts.shape[-1]
    logits = policy_logits(policy, ids if stacked else ids[0])[..., tp - 1 :, :]
    if not stacked:
        logits = logits[None]
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    logp_all = torch.log_softmax(logits.masked_fill(~action_mask, float("-inf")), dim=-1)
    lp = logp_all.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    ent = -(logp_all.exp() * logp_all.masked_fill(~action_mask, 0.0)).sum(-1)
    zero = torch.zeros_like(lp)
    return torch.where(mask, lp, zero), torch.where(mask, ent, zero)


# --------------------------------------------------------------------------------------------
# the KL controller and the NLPO hooks of the PPO loop
# --------------------------------------------------------------------------------------------


class _AdaptiveKL:
    """One KL coefficient per run, adapted after each rollout (Ziegler et al. 2019, §2.2;
    RL4LMs ``KLController.step``): ``beta <- beta (1 + 0.1 clip((KL - target) / target,
    -0.2, 0.2))``; fixed when ``target`` is None."""

    def __init__(self, beta: float, target: float | None, n_runs: int, device: torch.device):
        self.beta = torch.full((n_runs,), float(beta), dtype=torch.float64, device=device)
        self.target = target

    def step(self, kl: torch.Tensor) -> None:
        """Adapt to each run's measured KL (N,)."""
        if self.target is None:
            return
        e = ((kl.detach().to(self.beta) - self.target) / self.target).clamp(-0.2, 0.2)
        self.beta = self.beta * (1.0 + 0.1 * e)


def _copy_weights(dst: nn.Module, src: nn.Module) -> None:
    """``dst <- src`` (parameters and buffers), in place."""
    with torch.no_grad():
        dst.load_state_dict(src.state_dict())


class _NLPORollouts(_Rollouts):
    """NLPO's hooks of the PPO loop: masked sampling from a delayed mask model, masked
    log-probs in the update, an adaptive KL coefficient per run."""

    whiten_style = "sb3"

    def __init__(
        self,
        cfg: NLPOConfig,
        policy: nn.Module,
        task: SequenceTask,
        seeds: list[int],
        device: torch.device,
    ):
        super().__init__(cfg, policy, task, seeds, device)
        self.mask_model = C.frozen_copy(policy)
        self.kl = _AdaptiveKL(cfg.kl_coef, cfg.kl_target, len(seeds), device)
        self.mask_updates = 0
        self.mask_tokens = float("nan")

    def sample(
        self, policy: nn.Module, prompts: torch.Tensor, gens: list[torch.Generator]
    ) -> _Sampled:
        out = _sample_masked(policy, self.mask_model, prompts, self.task, gens, self.cfg)
        sizes = out.action_mask.sum(-1).to(torch.float64)  # type: ignore[union-attr]
        self.mask_tokens = float(C.masked_mean(sizes, out.completions.mask))
        return out

    def kl_coef(self) -> torch.Tensor:
        return self.kl.beta

    def after_rollout(
        self, step: int, kl_tok: torch.Tensor, mask: torch.Tensor, policy: nn.Module
    ) -> dict[str, Any]:
        beta = float(self.kl.beta.mean())  # the coefficient this rollout was scored with
        m = mask.to(kl_tok.dtype)
        self.kl.step((kl_tok * m).sum((-2, -1)) / m.sum((-2, -1)).clamp(min=1.0))
        if (step + 1) % self.cfg.mask_update_every == 0:  # RL4LMs: iteration % mu == 0
            _copy_weights(self.mask_model, policy)
            self.mask_updates += 1
        return {
            "stats/kl_coef": beta,
            "stats/mask_updates": self.mask_updates,
            "stats/mask_tokens": self.mask_tokens,
        }

    def logprobs(
        self,
        policy: nn.Module,
        prompts: torch.Tensor,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        action_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return _masked_logprobs(
            policy,
            prompts,
            tokens,
            mask,
            action_mask,  # type: ignore[arg-type]
            self.cfg.temperature,
        )


def train_nlpo(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: NLPOConfig = NLPOConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) NLPO runs (policy, critic and mask model each) as stacked models.

    Parameters are those of :func:`trainers.sequence.ppo.train_sequence_ppo`; ``ref_policy``
    is ``pi_0`` of the KL reward (default: a copy of the initial policy). The mask model of
    run i is a delayed copy of run i's policy (stacked like it). The trained ``policy`` of the
    result (and the one ``callback`` sees) is ``pi_theta`` without the mask.

    Returns
    -------
    SequenceRunResult
        The metrics of :func:`train_sequence_ppo` (``stats/kl``: the mean per-token
        ``log pi_theta - log pi_0`` of the samples, unmasked policy; ``stats/entropy``: of the
        masked policy), and ``stats/kl_coef`` (the mean beta the rollout was scored with),
        ``stats/mask_updates`` (mask model copies so far), ``stats/mask_tokens`` (mean size
        of the action mask over the rollout's real tokens).
    """
    check_instance("cfg", cfg, NLPOConfig)
    return _train_loop(
        task_or_tasks,
        cfg,
        seeds=seeds,
        policy=policy,
        ref_policy=ref_policy,
        device=device,
        callback=callback,
        algorithm="nlpo",
        rollouts=_NLPORollouts,
    )
