"""Advantages and losses of every trainer, in one place (torch, any device, any leading dims).

==================================  =========================================================
function                            formula
==================================  =========================================================
:func:`group_advantages`            GRPO: ``A = (r - mean_G r) / (std_G r + eps)`` [1]
:func:`gae`                         generalized advantage estimation (Schulman et al. 2016)
:func:`reinforce_loss`              ``-mean(A log pi)``
:func:`ppo_clip_loss`               ``-min(rho A, clip(rho, 1-eps_lo, 1+eps_hi) A)`` [1, 2]
:func:`k3_kl`                       ``exp(l_ref - l) - (l_ref - l) - 1`` (Schulman's k3) [1]
:func:`kl_penalized_rewards`        token-level KL in the reward: ``r - c (l - l_ref)`` [3]
:func:`log_softmax`                fast log-softmax over a short last axis
:func:`categorical_entropy`         exact entropy of ``softmax(logits)``
:func:`categorical_kl`              exact ``KL(softmax(logits) || ref)``
:class:`RunningMeanStd`             running reward statistics (PPO-max reward scaling) [3]
:func:`normalize_rewards`           PPO-max reward normalization and clipping [3]
:func:`clip_advantages`             PPO-max advantage clipping [3]
:func:`clipped_value_loss`          PPO value clipping (CleanRL ``clip_vloss``) [2]
:func:`dpo_loss`                    ``-log sigma(beta [(l+ - l+_ref) - (l- - l-_ref)])`` [4]
:func:`ipo_loss`                    ``([(l+ - l+_ref) - (l- - l-_ref)] - 1/(2 beta))^2`` [6]
:func:`aggregate_token_loss`        per-token losses to one loss per run: TRL's ``grpo``,
                                    ``bnpo``, ``dr_grpo`` and ``dapo`` normalisers [1, 5]
:func:`grpo_token_loss`             TRL ``GRPOTrainer._compute_loss`` over completions [1]
:func:`sequence_nll`                token negative log-likelihood (SFT), same normalisers
==================================  =========================================================

Conventions: ``l = log pi(a|x)`` of the sampled action, ``l_ref`` the reference policy's; all
functions broadcast over leading dimensions (a stack of N independent runs works unchanged) and
return per-element losses unless they say ``mean``.

**Input checks, and what they cost.** Every function checks, on every call, what costs no
tensor work: that its tensors are ``torch.Tensor`` of matching shapes (``TypeError`` /
``ValueError`` naming the argument and the shapes) and that its scalar hyperparameters are finite
and in range (``clip_low`` in (0, 1), ``gamma`` and ``lam`` in [0, 1], ``beta > 0``, ...). Values
inside tensors are checked (one reduction, one host sync on a GPU) only where a NaN or a wrong
value would otherwise spread or hide: the rewards of :func:`group_advantages` (one NaN would
turn its whole group into NaN), the rollout of :func:`gae` (once per rollout; NaN would flow
backwards through every earlier step, and ``dones`` must be 0/1), the batches folded into
:class:`RunningMeanStd` (one NaN would poison the running statistics for good) and the
``label_smoothing`` tensor of :func:`dpo_loss`. The elementwise losses on log-probabilities
(:func:`reinforce_loss`, :func:`ppo_clip_loss`, :func:`k3_kl`, :func:`kl_penalized_rewards`,
:func:`clipped_value_loss`, :func:`dpo_loss`, the categorical functions) do not scan their
tensors: they run once per minibatch, and a NaN there stays at its own element and shows in the
loss.

**Which KL does a KL term optimise?** [derived, checked in ``tests/trainers/test_losses.py``]
With actions sampled from ``pi``, ``E_pi[k3] = KL(pi || ref)`` in value, but the gradient of
the sampled k3 loss (GRPO/TRL style, no score-function term) is, in expectation,
``grad KL(ref || pi)`` (the *reverse* KL). Its fixed point is not ``ref exp(r/beta)/Z``. The
unbiased gradient of ``E[r] - beta KL(pi || ref)`` comes from the KL-in-reward penalty
(:func:`kl_penalized_rewards`, PPO-max's token-level KL) or from the exact KL over actions
(:func:`categorical_kl`). Trainers take the estimator as a parameter (``kl_estimator``).

References
----------
.. [1] TRL ``GRPOTrainer._compute_loss`` (huggingface/trl, grpo_trainer.py); Shao et al.,
   "DeepSeekMath", arXiv:2402.03300, 2024, Eq. (3) and §4.1.2.
.. [2] J. Schulman et al., "Proximal Policy Optimization Algorithms", arXiv:1707.06347, Eq. (7);
   CleanRL ``ppo.py``.
.. [3] R. Zheng et al., "Secrets of RLHF in Large Language Models Part I: PPO" (PPO-max),
   arXiv:2307.04964, 2023, §5.3.
.. [4] R. Rafailov et al., "Direct Preference Optimization", NeurIPS 2023, Eq. (7).
.. [5] Z. Liu et al., "Understanding R1-Zero-Like Training: A Critical Perspective" (Dr. GRPO),
   arXiv:2503.20783, 2025, §3.1; Q. Yu et al., "DAPO: An Open-Source LLM Reinforcement
   Learning System at Scale", arXiv:2503.14476, 2025, §3.3 (token-level loss).
.. [6] M. G. Azar et al., "A General Theoretical Paradigm to Understand Learning from Human
   Preferences" (IPO), AISTATS 2024, Eq. (17); TRL ``DPOTrainer`` ``loss_type="ipo"``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from theory.checks import (
    ArgumentTypeError,
    check_choice,
    check_int,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_probability,
)

__all__ = [
    "LOSS_TYPES",
    "RunningMeanStd",
    "aggregate_token_loss",
    "categorical_entropy",
    "categorical_kl",
    "clip_advantages",
    "clipped_value_loss",
    "dpo_loss",
    "gae",
    "group_advantages",
    "grpo_token_loss",
    "ipo_loss",
    "k3_kl",
    "kl_penalized_rewards",
    "log_softmax",
    "normalize_rewards",
    "ppo_clip_loss",
    "reinforce_loss",
    "sequence_nll",
]

#: The token-loss aggregations of :func:`aggregate_token_loss` (TRL's ``loss_type`` names).
LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")


def _check_tensor(name: str, x: object, *, min_ndim: int = 0) -> torch.Tensor:
    """``x`` itself, refused by name unless it is a tensor with at least ``min_ndim`` axes."""
    if not isinstance(x, torch.Tensor):
        raise ArgumentTypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} axes; got shape {tuple(x.shape)}")
    return x


def _check_same_shape(**tensors: object) -> None:
    """Tensors of one shape (no broadcasting: a (B,) against a (B, 1) would silently give
    (B, B))."""
    for name, x in tensors.items():
        _check_tensor(name, x)
    shapes = {k: tuple(v.shape) for k, v in tensors.items()}  # type: ignore[attr-defined]
    if len(set(shapes.values())) > 1:
        got = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(f"{', '.join(shapes)} must have the same shape; got {got}")


def _broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether shapes ``a`` and ``b`` broadcast (plain Python, much cheaper than
    ``torch.broadcast_shapes``)."""
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(a), reversed(b), strict=False))


def _check_finite(name: str, x: torch.Tensor, summary: torch.Tensor | None = None) -> None:
    """Refuse NaN or inf in ``x``: one sum and one host sync.

    The sum of ``x`` is non-finite whenever an entry is; only then are the entries counted
    (a sum that merely overflowed passes). ``summary``, when given, is a reduction of ``x``
    the caller computes anyway (a mean over some axes, non-finite whenever ``x`` is); it is
    summed instead of ``x``, and refused when it overflowed.
    """
    scan = x if summary is None else summary
    if not scan.is_floating_point() or math.isfinite(float(scan.sum())):
        return
    n_bad = int((~torch.isfinite(x)).sum())
    if n_bad:
        raise ValueError(f"{name} must be finite; {n_bad} of {x.numel()} entries are NaN or inf")
    if summary is not None and not bool(torch.isfinite(summary).all()):
        raise ValueError(f"{name} is too large: its statistics overflow to inf")


def group_advantages(
    rewards: torch.Tensor,
    *,
    scale: Literal["group", "batch", "none"] = "group",
    eps: float = 1e-4,
) -> torch.Tensor:
    """GRPO's group-normalized advantages over the last axis (the G samples of one prompt).

    ``A = (r - mean_G r) / (std_G r + eps)`` with the unbiased standard deviation (TRL's
    ``scale_rewards="group"``); ``"batch"`` divides by the std of all rewards of one run (all
    axes but the first when ``rewards`` has three or more dims); ``"none"`` only centres (Dr.
    GRPO). A group whose rewards are all equal gets zero advantages.

    Parameters
    ----------
    rewards : Tensor, shape (..., G), G >= 2
        Finite (checked: a NaN reward would make its whole group NaN).
    scale : {"group", "batch", "none"}
    eps : float >= 0
        Added to the standard deviation. With ``eps = 0`` a group (or batch) of equal rewards
        still gets zero advantages, not ``0 / 0``.

    Examples
    --------
    >>> group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), eps=0.0)
    tensor([[ 0.8660, -0.8660, -0.8660,  0.8660]])
    """
    _check_tensor("rewards", rewards)
    if rewards.ndim < 1 or rewards.shape[-1] < 2:
        raise ValueError(f"rewards must have a group axis of size >= 2; got {tuple(rewards.shape)}")
    if scale not in ("group", "batch", "none"):
        raise ValueError(f"scale must be 'group', 'batch' or 'none'; got {scale!r}")
    eps = check_nonnegative("eps", eps)
    mean = rewards.mean(-1, keepdim=True)
    _check_finite("rewards", rewards, mean)  # a NaN or inf reward makes its group mean so
    centred = rewards - mean
    if scale == "none":
        return centred
    if scale == "group":  # unbiased std, written out (torch.std is slow on short axes)
        std = (centred.square().sum(-1, keepdim=True) / (rewards.shape[-1] - 1)).sqrt()
    else:
        dims = tuple(range(1 if rewards.ndim >= 3 else 0, rewards.ndim))
        std = rewards.std(dim=dims, keepdim=True)
    if eps > 0:
        return centred / (std + eps)
    return torch.where(std > 0, centred / torch.where(std > 0, std, 1.0), 0.0)


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    next_value: torch.Tensor,
    next_done: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation over a rollout of shape (T, n_envs).

    ``A_t = sum_k (gamma lam)^k delta_{t+k}`` with ``delta_t = r_t + gamma V_{t+1} - V_t``
    (Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized Advantage
    Estimation", Eq. 16), cut at episode ends. ``dones[t]`` flags that the observation at step
    ``t`` starts a new episode (CleanRL's convention); returns
    ``(advantages, returns = advantages + values)``.

    Parameters
    ----------
    rewards, values, dones : Tensor, shape (T, ...), T >= 1
        One shape; finite, and ``dones`` 0 or 1 (checked once per call: a NaN would flow back
        through every earlier step, a ``done`` of 2 would silently flip the bootstrap's sign).
    next_value, next_done : Tensor, shape (...)
        The value and done flag after the last step (``rewards.shape[1:]``).
    gamma, lam : float in [0, 1]
    """
    _check_same_shape(rewards=rewards, values=values, dones=dones)
    _check_tensor("next_value", next_value)
    _check_tensor("next_done", next_done)
    if rewards.ndim < 1 or rewards.shape[0] == 0:
        raise ValueError(
            f"rewards must have a time axis of length >= 1; got {tuple(rewards.shape)}"
        )
    for name, x in (("next_value", next_value), ("next_done", next_done)):
        if tuple(x.shape) != tuple(rewards.shape[1:]):
            raise ValueError(
                f"{name} must have shape rewards.shape[1:] = {tuple(rewards.shape[1:])}; got "
                f"{tuple(x.shape)}"
            )
    gamma = check_probability("gamma", gamma)
    lam = check_probability("lam", lam)
    for name, x in (("rewards", rewards), ("values", values), ("next_value", next_value)):
        _check_finite(name, x)
    for name, x in (("dones", dones), ("next_done", next_done)):
        if not bool(((x == 0) | (x == 1)).all()):
            raise ValueError(f"{name} must hold only 0 and 1 (episode-start flags)")
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    T = rewards.shape[0]
    for t in reversed(range(T)):
        nonterminal = 1.0 - (next_done if t == T - 1 else dones[t + 1])
        nv = next_value if t == T - 1 else values[t + 1]
        delta = rewards[t] + gamma * nv * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv, adv + values


def reinforce_loss(logp: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """Per-element REINFORCE loss ``-A log pi(a)`` (advantages are treated as constants).

    Williams (1992), "Simple statistical gradient-following algorithms", Eq. 11. ``logp`` and
    ``advantages`` must have the same shape (checked; their values are not scanned).
    """
    _check_same_shape(logp=logp, advantages=advantages)
    return -advantages.detach() * logp


def ppo_clip_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-element clipped surrogate ``-min(rho A, clip(rho, 1-eps_lo, 1+eps_hi) A)`` (PPO Eq. 7).

    ``clip_high`` defaults to ``clip_low`` (DAPO's asymmetric clip otherwise). Returns the loss
    and the statistics CleanRL logs: ``approx_kl`` (k3 of old vs new) and ``clipfrac``.

    ``logp``, ``old_logp`` and ``advantages`` must have one shape; ``clip_low`` lies in (0, 1)
    and ``clip_high`` is finite and > 0 (checked on every call; tensor values are not scanned).
    """
    _check_same_shape(logp=logp, old_logp=old_logp, advantages=advantages)
    clip_low = check_open_unit("clip_low", clip_low)
    clip_high = clip_low if clip_high is None else check_positive("clip_high", clip_high)
    log_ratio = logp - old_logp.detach()
    ratio = log_ratio.exp()
    adv = advantages.detach()
    loss = -torch.minimum(ratio * adv, ratio.clamp(1 - clip_low, 1 + clip_high) * adv)
    with torch.no_grad():
        stats = {
            "approx_kl": ((ratio - 1) - log_ratio).mean(),
            "clipfrac": ((ratio - 1).abs() > clip_low).float().mean(),
        }
    return loss, stats


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator ``exp(l_ref - l) - (l_ref - l) - 1 >= 0`` per sampled action.

    Unbiased for ``KL(pi || ref)`` when the action is drawn from ``pi``; see the module notes
    for the gradient of the resulting loss. ``logp`` and ``ref_logp`` must have one shape.
    """
    _check_same_shape(logp=logp, ref_logp=ref_logp)
    d = ref_logp - logp
    return d.exp() - d - 1.0


def kl_penalized_rewards(
    rewards: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, coef: float
) -> torch.Tensor:
    """PPO-max's token-level KL penalty folded into the reward: ``r - coef (l - l_ref)``.

    The penalty is detached, so with the score-function loss its expected gradient is exactly
    ``grad (E_pi[r] - coef KL(pi || ref))`` [derived].
    """
    _check_same_shape(rewards=rewards, logp=logp, ref_logp=ref_logp)
    coef = check_nonnegative("coef", coef)
    return rewards - coef * (logp - ref_logp).detach()


def _check_logits(name: str, logits: object) -> torch.Tensor:
    x = _check_tensor(name, logits, min_ndim=1)
    if x.shape[-1] == 0:
        raise ValueError(f"{name} must have a non-empty action axis; got shape {tuple(x.shape)}")
    return x


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """``log_softmax`` over the last axis, with max-subtraction.

    Same values as ``torch.log_softmax`` up to round-off; written out because torch's CPU
    kernel is slow when the last axis is very short (a few arms) and the batch large (for ten
    or more arms torch's own kernel is the faster one).
    ``logits`` needs a non-empty last axis.
    """
    _check_logits("logits", logits)
    z = logits - logits.detach().amax(-1, keepdim=True)
    return z - z.exp().sum(-1, keepdim=True).log()


def categorical_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Exact entropy of ``softmax(logits)`` over the last axis."""
    logp = log_softmax(logits)
    return -(logp.exp() * logp).sum(-1)


def categorical_kl(logits: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Exact ``KL(softmax(logits) || exp(ref_logp))`` over the last axis (``ref_logp`` may be -inf
    only where the policy also has zero mass).

    The leading axes broadcast (one reference for a stack of runs); the action axes must
    match. ``ref_logp`` must be normalized log-probabilities (not scanned: per-step cost).
    """
    _check_logits("logits", logits)
    _check_logits("ref_logp", ref_logp)
    if logits.shape[-1] != ref_logp.shape[-1]:
        raise ValueError(
            f"logits and ref_logp must have the same action axis; got {tuple(logits.shape)} vs "
            f"{tuple(ref_logp.shape)}"
        )
    if not _broadcasts(tuple(logits.shape), tuple(ref_logp.shape)):
        raise ValueError(
            f"logits {tuple(logits.shape)} and ref_logp {tuple(ref_logp.shape)} do not broadcast"
        )
    logp = log_softmax(logits)
    return (logp.exp() * torch.where(logp.exp() > 0, logp - ref_logp, 0.0)).sum(-1)


class RunningMeanStd:
    """Running mean and variance (Chan et al. parallel update), for PPO-max reward scaling.

    ``shape`` is the shape of the statistics; :meth:`update` reduces a batch over the axes
    where ``shape`` has size 1 after right-aligning (``shape=(N, 1, 1)`` keeps one statistic
    per run of a stack of N runs), or over every axis when ``shape == ()``.

    Parameters
    ----------
    shape : tuple of int >= 1
    device : str or torch.device
    """

    def __init__(self, shape: tuple[int, ...] = (), *, device: str | torch.device = "cpu"):
        if not isinstance(shape, tuple | list | torch.Size):
            raise ArgumentTypeError(f"shape must be a tuple of integers; got {shape!r}")
        shape = tuple(check_int(f"shape[{i}]", s, lo=1) for i, s in enumerate(shape))
        try:
            device = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device must be a torch device; got {device!r}") from exc
        self.mean = torch.zeros(shape, dtype=torch.float64, device=device)
        self.var = torch.ones(shape, dtype=torch.float64, device=device)
        self.count = 1e-4

    def update(self, x: torch.Tensor) -> None:
        """Fold a batch into the statistics.

        ``x`` must be non-empty and finite (checked: one NaN would poison the running
        statistics for every later batch) and, for ``shape != ()``, have ``len(shape)`` axes
        whose sizes match ``shape`` wherever ``shape`` is not 1.
        """
        self._fold(x, "x")

    def _fold(self, x: torch.Tensor, name: str) -> None:
        """:meth:`update`, naming ``x`` as ``name`` in its errors."""
        _check_tensor(name, x)
        if x.numel() == 0:
            raise ValueError(f"{name} must be non-empty; got shape {tuple(x.shape)}")
        if self.mean.ndim == 0:
            dims = tuple(range(x.ndim))
        else:
            want = tuple(self.mean.shape)
            if x.ndim != len(want) or any(
                s != 1 and xs != s for xs, s in zip(x.shape, want, strict=True)
            ):
                raise ValueError(
                    f"{name} must have {len(want)} axes matching the statistics' shape {want} where "
                    f"it is not 1; got {tuple(x.shape)}"
                )
            dims = tuple(i for i, s in enumerate(want) if s == 1)
        x = x.detach().to(torch.float64)
        n = math.prod(x.shape[i] for i in dims)
        b_mean = x.mean(dims, keepdim=self.mean.ndim > 0)
        b_var = x.var(dims, unbiased=False, keepdim=self.mean.ndim > 0)
        _check_finite(name, x, b_var)  # NaN or inf anywhere in x makes some variance NaN
        delta, tot = b_mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / tot
        m2 = self.var * self.count + b_var * n + delta**2 * self.count * n / tot
        self.var, self.count = m2 / tot, tot


def normalize_rewards(
    rewards: torch.Tensor,
    stats: RunningMeanStd | None = None,
    *,
    clip: float | None = None,
    eps: float = 1e-8,
) -> torch.Tensor:
    """PPO-max reward normalization (by running statistics, updated here) and clipping.

    With ``stats`` the rewards become ``(r - mean) / sqrt(var + eps)``; with ``clip`` they are
    then clipped to ``[-clip, clip]`` (MOSS-RLHF ``reward_clip``, default 10 there).
    ``rewards`` is scanned for NaN/inf when ``stats`` is given (see :meth:`RunningMeanStd.update`).
    """
    _check_tensor("rewards", rewards)
    if stats is not None and not isinstance(stats, RunningMeanStd):
        raise ArgumentTypeError(f"stats must be a RunningMeanStd or None; got {stats!r}")
    if clip is not None:
        clip = check_positive("clip", clip)
    eps = check_nonnegative("eps", eps)
    out = rewards
    if stats is not None:
        stats._fold(rewards, "rewards")
        out = (rewards - stats.mean.to(rewards)) / torch.sqrt(stats.var.to(rewards) + eps)
    if clip is not None:
        out = out.clamp(-clip, clip)
    return out


def clip_advantages(advantages: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO-max advantage clipping to ``[-clip, clip]`` (MOSS-RLHF ``advantage_clip``);
    ``clip`` finite and > 0 (a NaN advantage stays NaN)."""
    _check_tensor("advantages", advantages)
    clip = check_positive("clip", clip)
    return advantages.clamp(-clip, clip)


def clipped_value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip: float | None
) -> torch.Tensor:
    """Per-element ``½ max((v - R)², (v_old + clip(v - v_old, ±c) - R)²)``; unclipped if ``clip``
    is None (CleanRL ``clip_vloss``; PPO-max ``value_clip``). The three tensors must have one
    shape; ``clip`` is finite and > 0, or None."""
    _check_same_shape(values=values, old_values=old_values, returns=returns)
    if clip is not None:
        clip = check_positive("clip", clip)
    unclipped = (values - returns) ** 2
    if clip is None:
        return 0.5 * unclipped
    v_clipped = old_values + (values - old_values).clamp(-clip, clip)
    return 0.5 * torch.maximum(unclipped, (v_clipped - returns) ** 2)


def dpo_loss(
    chosen_logp: torch.Tensor,
    rejected_logp: torch.Tensor,
    ref_chosen_logp: torch.Tensor,
    ref_rejected_logp: torch.Tensor,
    beta: float,
    *,
    label_smoothing: float | torch.Tensor = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-pair DPO loss ``-(1-ε) log σ(β m) - ε log σ(-β m)`` (Rafailov et al. 2023, Eq. 7).

    ``m = (l+ - l+_ref) - (l- - l-_ref)``. ``label_smoothing`` ε is the probability that the
    label is flipped (conservative DPO), so it doubles as a soft Bradley-Terry label ``1 - ε``;
    with ``ε = 1 - σ(r+ - r-)`` the loss is minimised exactly by ``pi ∝ ref exp(r / β)``.
    Returns the loss and TRL's metrics ``rewards/chosen``, ``rewards/rejected``,
    ``rewards/margins``, ``rewards/accuracies``.

    The four log-probability tensors must have one shape and ``beta`` be finite and > 0
    (checked on every call, not scanned); a tensor ``label_smoothing`` is checked to lie in
    [0, 1] (NaN refused), and must broadcast to the pairs.
    """
    _check_same_shape(
        chosen_logp=chosen_logp,
        rejected_logp=rejected_logp,
        ref_chosen_logp=ref_chosen_logp,
        ref_rejected_logp=ref_rejected_logp,
    )
    beta = check_positive("beta", beta)
    if isinstance(label_smoothing, torch.Tensor):
        ls = label_smoothing.to(dtype=chosen_logp.dtype, device=chosen_logp.device)
        if not bool(((ls >= 0) & (ls <= 1)).all()):  # NaN fails both comparisons
            raise ValueError("label_smoothing must lie in [0, 1] (no NaN)")
        if not _broadcasts(tuple(ls.shape), tuple(chosen_logp.shape)):
            raise ValueError(
                f"label_smoothing of shape {tuple(ls.shape)} does not broadcast to the pairs "
                f"{tuple(chosen_logp.shape)}"
            )
    else:
        ls = check_probability("label_smoothing", label_smoothing)
    chosen = beta * (chosen_logp - ref_chosen_logp.detach())
    rejected = beta * (rejected_logp - ref_rejected_logp.detach())
    margin = chosen - rejected
    loss = -(1 - ls) * F.logsigmoid(margin) - ls * F.logsigmoid(-margin)
    with torch.no_grad():
        stats = {
            "rewards/chosen": chosen.mean(),
            "rewards/rejected": rejected.mean(),
            "rewards/margins": margin.mean(),
            "rewards/accuracies": (margin > 0).float().mean(),
        }
    return loss, stats


# --------------------------------------------------------------------------------------------
# Token-level losses over completions: shapes (*, B, L), mask True on real tokens
# --------------------------------------------------------------------------------------------


def _check_token_tensors(mask: object, **tensors: object) -> torch.Tensor:
    """Per-token tensors of one shape (*, B, L) and a bool (or 0/1) ``mask`` of that shape;
    returns the mask as the first tensor's float dtype."""
    _check_same_shape(**tensors, mask=mask)
    first = next(iter(tensors))
    x = tensors[first]
    if x.ndim < 2:  # type: ignore[attr-defined]
        raise ValueError(
            f"{first} must have shape (*, B, L) with a batch and a token axis; got {tuple(x.shape)}"  # type: ignore[attr-defined]
        )
    if not x.is_floating_point():  # type: ignore[attr-defined]
        raise ArgumentTypeError(f"{first} must be a floating tensor; got {x.dtype}")  # type: ignore[attr-defined]
    if mask.dtype != torch.bool and not mask.is_floating_point():  # type: ignore[attr-defined]
        raise ArgumentTypeError(f"mask must be a bool or float tensor; got {mask.dtype}")  # type: ignore[attr-defined]
    return mask.to(x.dtype)  # type: ignore[attr-defined]


def aggregate_token_loss(
    loss: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str,
    *,
    max_completion_length: int | None = None,
) -> torch.Tensor:
    """Per-token losses ``l`` (*, B, L) to one loss per run (*), as TRL's ``loss_type`` [1, 5].

    ==========  ===============================================================================
    loss_type   aggregate (``m`` the mask, sums over the B completions and L positions)
    ==========  ===============================================================================
    grpo        ``mean_b [sum_t l m / sum_t m]``: each completion's token mean, then the mean
                over completions (DeepSeekMath's ``1/|o_i|``; an empty completion counts 0)
    bnpo        ``sum l m / sum m``: the mean over all real tokens of the batch
    dr_grpo     ``sum l m / (B * max_completion_length)``: a constant normaliser (Dr. GRPO)
    dapo        ``sum l m / (real tokens of the whole generation batch)`` (DAPO's token-level
                loss). TRL counts the tokens over every process and accumulation step; here the
                batch is the whole generation batch of one process, so ``dapo`` equals
                ``bnpo`` (a trainer that splits a batch into minibatches must rescale).
    ==========  ===============================================================================

    Denominators are clamped at 1 token (TRL's ``clamp(min=1)``), so an all-masked batch gives 0.

    Parameters
    ----------
    loss : Tensor, shape (*, B, L), floating
    mask : Tensor, shape (*, B, L), bool or 0/1 float
    loss_type : {"grpo", "bnpo", "dr_grpo", "dapo"}
    max_completion_length : int >= 1
        Required by ``dr_grpo`` (>= L), ignored otherwise.

    Returns
    -------
    Tensor, shape (*)
        One loss per leading index (per run of a stacked model).

    Examples
    --------
    >>> l = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    >>> m = torch.tensor([[True, True, True], [True, False, False]])
    >>> [round(float(aggregate_token_loss(l, m, t, max_completion_length=4)), 4)
    ...  for t in ("grpo", "bnpo", "dr_grpo")]
    [3.0, 2.5, 1.25]
    """
    m = _check_token_tensors(mask, loss=loss)
    loss_type = check_choice("loss_type", loss_type, LOSS_TYPES)
    if loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("max_completion_length is required with loss_type='dr_grpo'")
        max_completion_length = check_int("max_completion_length", max_completion_length, lo=1)
        if max_completion_length < loss.shape[-1]:
            raise ValueError(
                f"max_completion_length must be >= the completion length {loss.shape[-1]}; got "
                f"{max_completion_length}"
            )
    elif max_completion_length is not None:
        check_int("max_completion_length", max_completion_length, lo=1)
    masked = loss * m
    if loss_type == "grpo":
        return (masked.sum(-1) / m.sum(-1).clamp(min=1.0)).mean(-1)
    if loss_type == "dr_grpo":
        return masked.sum((-2, -1)) / (loss.shape[-2] * max_completion_length)
    return masked.sum((-2, -1)) / m.sum((-2, -1)).clamp(min=1.0)  # bnpo, dapo


def grpo_token_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor | None,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    loss_type: str,
    epsilon: float = 0.2,
    epsilon_high: float | None = None,
    beta: float = 0.0,
    max_completion_length: int | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """GRPO's clipped token loss with the k3 KL term, as TRL's ``GRPOTrainer._compute_loss`` [1].

    Per token, with ``rho = exp(l - l_old)`` and ``k3 = exp(l_ref - l) - (l_ref - l) - 1``::

        loss_t = -min(rho A, clip(rho, 1 - epsilon, 1 + epsilon_high) A) + beta * rho * k3

    aggregated by :func:`aggregate_token_loss`. The factor ``rho`` on k3 is TRL's
    ``use_bias_correction_kl``: it makes the expected gradient of the KL term that of
    ``sum_t KL(pi(.|s_t) || ref(.|s_t))`` under the sampling policy, where the bare k3 term's
    gradient is that of the reverse KL (see the module notes) [derived]. With
    ``old_logp = None`` the old policy is ``l.detach()`` (TRL with ``num_iterations=1``): the
    ratio is 1 in value and the gradient of the surrogate is ``-A grad l / normaliser``.

    Parameters
    ----------
    logp : Tensor, shape (*, B, L), floating
        Per-token log-probabilities of the sampled completions under the trained policy (with
        grad), 0 where ``mask`` is False.
    old_logp : Tensor (*, B, L) or None
        The same under the policy that sampled them (detached here).
    ref_logp : Tensor (*, B, L) or None
        The same under the reference policy; required when ``beta > 0``.
    advantages : Tensor, shape (*, B) (one per completion, GRPO) or (*, B, L) (per token)
        Detached here.
    mask : Tensor, shape (*, B, L), bool
    loss_type : {"grpo", "bnpo", "dr_grpo", "dapo"}
    epsilon : float in (0, 1)
        Low-side clip (TRL default 0.2).
    epsilon_high : float > 0 or None
        High-side clip (None: ``epsilon``; DAPO uses 0.28).
    beta : float >= 0
        Weight of the k3 KL term (TRL default 0).
    max_completion_length : int, optional
        For ``dr_grpo``.

    Returns
    -------
    loss : Tensor, shape (*)
        One loss per run.
    stats : dict of 0-d tensors
        TRL's metrics, token means over the mask: ``kl`` (k3; 0 without ``ref_logp``),
        ``clip_ratio/low_mean``, ``clip_ratio/high_mean``, ``clip_ratio/region_mean``.
    """
    m = _check_token_tensors(mask, logp=logp)
    old = logp.detach() if old_logp is None else old_logp
    _check_same_shape(logp=logp, old_logp=old)
    _check_tensor("advantages", advantages)
    if tuple(advantages.shape) == tuple(logp.shape[:-1]):
        adv = advantages.detach().unsqueeze(-1)
    elif tuple(advantages.shape) == tuple(logp.shape):
        adv = advantages.detach()
    else:
        raise ValueError(
            f"advantages must have shape {tuple(logp.shape[:-1])} (one per completion) or "
            f"{tuple(logp.shape)} (one per token); got {tuple(advantages.shape)}"
        )
    epsilon = check_open_unit("epsilon", epsilon)
    eps_high = epsilon if epsilon_high is None else check_positive("epsilon_high", epsilon_high)
    beta = check_nonnegative("beta", beta)
    if beta > 0:
        if ref_logp is None:
            raise ValueError("ref_logp is required when beta > 0")
        _check_same_shape(logp=logp, ref_logp=ref_logp)
    elif ref_logp is not None:
        _check_same_shape(logp=logp, ref_logp=ref_logp)
    loss_type = check_choice("loss_type", loss_type, LOSS_TYPES)

    # --- clipped surrogate (PPO Eq. 7 [2]; GRPO Eq. 3 [1]) ---
    ratio = (logp - old.detach()).exp()
    per_token = -torch.minimum(ratio * adv, ratio.clamp(1 - epsilon, 1 + eps_high) * adv)
    kl = None
    if ref_logp is not None:
        d = ref_logp.detach() - logp
        kl = d.exp() - d - 1.0  # Schulman's k3
    if beta > 0:
        # --- k3 KL to the reference, times the ratio (TRL's use_bias_correction_kl) ---
        per_token = per_token + beta * kl * ratio  # type: ignore[operator]
    loss = aggregate_token_loss(
        per_token, mask, loss_type, max_completion_length=max_completion_length
    )
    with torch.no_grad():
        n = m.sum().clamp(min=1.0)
        low = ((ratio < 1 - epsilon) & (adv < 0)).to(m.dtype)
        high = ((ratio > 1 + eps_high) & (adv > 0)).to(m.dtype)
        stats = {
            "kl": (kl * m).sum() / n if kl is not None else torch.zeros((), dtype=m.dtype),
            "clip_ratio/low_mean": (low * m).sum() / n,
            "clip_ratio/high_mean": (high * m).sum() / n,
            "clip_ratio/region_mean": (torch.maximum(low, high) * m).sum() / n,
        }
    return loss, stats


def sequence_nll(
    logp: torch.Tensor,
    mask: torch.Tensor,
    *,
    loss_type: str = "bnpo",
    max_completion_length: int | None = None,
) -> torch.Tensor:
    """Token negative log-likelihood of (expert) completions, one loss per run (SFT).

    ``aggregate_token_loss(-logp, mask, loss_type)``; the default ``"bnpo"`` is the mean over
    all real tokens of the batch, the cross-entropy of supervised fine-tuning (Ouyang et al.,
    "Training language models to follow instructions with human feedback", NeurIPS 2022, §3.5).
    ``logp`` (*, B, L) are teacher-forced per-token log-probabilities, ``mask`` their real tokens.
    """
    _check_token_tensors(mask, logp=logp)
    return aggregate_token_loss(-logp, mask, loss_type, max_completion_length=max_completion_length)


def ipo_loss(
    chosen_logp: torch.Tensor,
    rejected_logp: torch.Tensor,
    ref_chosen_logp: torch.Tensor,
    ref_rejected_logp: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-pair IPO loss ``(h - 1/(2 beta))^2`` with ``h = (l+ - l+_ref) - (l- - l-_ref)``
    (Azar et al. 2024, Eq. 17, ``tau = beta``) [6].

    TRL's ``loss_type="ipo"`` feeds it log-probabilities averaged over each completion's
    tokens (a sequence trainer divides by the lengths). Returns the loss and the metrics of
    :func:`dpo_loss` (``beta`` times the log-ratios). The four tensors must have one shape and
    ``beta`` be finite and > 0.
    """
    _check_same_shape(
        chosen_logp=chosen_logp,
        rejected_logp=rejected_logp,
        ref_chosen_logp=ref_chosen_logp,
        ref_rejected_logp=ref_rejected_logp,
    )
    beta = check_positive("beta", beta)
    chosen = chosen_logp - ref_chosen_logp.detach()
    rejected = rejected_logp - ref_rejected_logp.detach()
    h = chosen - rejected
    loss = (h - 1.0 / (2.0 * beta)) ** 2
    with torch.no_grad():
        stats = {
            "rewards/chosen": beta * chosen.mean(),
            "rewards/rejected": beta * rejected.mean(),
            "rewards/margins": beta * h.mean(),
            "rewards/accuracies": (h > 0).float().mean(),
        }
    return loss, stats
