"""Policy gradient for bandit / prompt-response policies: REINFORCE, PPO-clip, GRPO, exact PG.

A policy maps context features to logits over A responses: a linear map of one-hot contexts
(``hidden=0``: a table of logits) or an MLP. Each step uses every context, draws a group of
``group_size`` responses per context by inverse-CDF sampling from pre-drawn uniforms (so a run
is a deterministic function of its seed, batched or not), scores them with the verifiable
reward, and applies one of

- ``"reinforce"``: ``-A log pi`` with group-centred (or normalized) advantages;
- ``"ppo"`` / ``"grpo"``: the clipped surrogate over ``update_epochs`` passes, GRPO's
  group-normalized advantages (``scale_rewards``), and the PPO-max options (reward
  normalization and clipping, advantage clipping, gradient clipping);
- ``"exact"``: the expected objective ``sum_a pi(a|c) r(c, a)`` (no sampling): deterministic,
  used where the claims need convergence to 1e-6.

The KL term to the reference (weight ``beta``) is estimated by ``kl_estimator``: ``"reward"``
(PPO-max's token-level penalty in the reward: the unbiased gradient of
``E r - beta KL(pi||ref)``), ``"k3"`` (GRPO/TRL's loss term, whose gradient is that of
``KL(ref||pi)``, see :mod:`trainers.losses`) or ``"exact"`` (over actions). ``entropy_coef``
adds the exact entropy bonus. With ``beta > 0`` and an unbiased estimator the runs converge to
``pi_ref exp(r/beta)/Z`` (claim ``trainers/kl-pg-closed-form``).

Every term is averaged over contexts; ``context_weights`` (one row per run, or one for all)
turns that average into a weighted one, so a 0/1 mask drops contexts from training (the
Policy Cliff Model-1 vs Model-3 comparison, claim ``trainers/multi-reward-drop-ambiguous``).
A dropped context still gets a policy: the network's prediction from its features.

:func:`train_bandit` trains one run; :func:`train_bandit_runs` trains N runs (seeds x reward
tables) either as one stacked model (``batched=True``, :mod:`trainers.batched`) or one by one,
with results equal up to floating-point round-off (``tests/trainers/test_policy_gradient.py``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from trainers import losses as L
from trainers.batched import StackedModule, clip_grad_norm_per_run
from trainers.runtime import MetricsLog, check_config, setup
from trainers.tasks import ContextualBandit

__all__ = ["PGConfig", "PGResult", "make_policy", "train_bandit", "train_bandit_runs"]

ALGORITHMS = ("reinforce", "ppo", "grpo", "exact")


@dataclass(frozen=True)
class PGConfig:
    """Hyperparameters of the bandit policy-gradient trainer."""

    algorithm: str = "grpo"
    """'reinforce', 'ppo', 'grpo' (sampled) or 'exact' (expected gradient, no sampling)."""
    steps: int = 300
    """Optimizer steps (each uses every context)."""
    group_size: int = 8
    """Responses sampled per context per step (GRPO's G)."""
    lr: float = 0.05
    """Learning rate."""
    optimizer: str = "adam"
    """'adam' or 'sgd'."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 (CleanRL's default)."""
    beta: float = 0.0
    """KL weight to the reference policy."""
    kl_estimator: str = "reward"
    """'reward' (penalty in the reward, PPO-max), 'k3' (GRPO loss term) or 'exact'."""
    entropy_coef: float = 0.0
    """Weight of the exact entropy bonus."""
    clip_low: float = 0.2
    """PPO/GRPO ratio clip epsilon (low side)."""
    clip_high: float | None = None
    """High-side clip (None: = clip_low; DAPO uses 0.28)."""
    update_epochs: int = 1
    """Passes over each sampled batch (PPO's epochs, GRPO's mu)."""
    scale_rewards: str = "none"
    """Advantage scaling: 'group' (GRPO), 'batch' or 'none' (centring only)."""
    reward_norm: bool = False
    """PPO-max: normalize rewards by running statistics."""
    reward_clip: float | None = None
    """PPO-max: clip (normalized) rewards to [-c, c]."""
    advantage_clip: float | None = None
    """PPO-max: clip advantages to [-c, c]."""
    max_grad_norm: float | None = None
    """Clip each run's gradient norm (None: off)."""
    hidden: int = 0
    """Hidden width of a one-hidden-layer tanh MLP; 0: linear map (a logit table on one-hot)."""
    init_std: float = 0.0
    """Std of the initial weights of the linear policy (0: uniform initial policy)."""
    dtype: str = "float32"
    """'float32' or 'float64'."""
    log_every: int = 50
    """Log metrics every this many steps."""

    def __post_init__(self) -> None:
        pos = (lambda v: v > 0, "> 0")
        check_config(
            self,
            {
                "algorithm": (lambda v: v in ALGORITHMS, f"one of {ALGORITHMS}"),
                "steps": (lambda v: isinstance(v, int) and v >= 1, "an int >= 1"),
                "group_size": (lambda v: isinstance(v, int) and v >= 2, "an int >= 2"),
                "lr": pos,
                "optimizer": (lambda v: v in ("adam", "sgd"), "'adam' or 'sgd'"),
                "beta": (lambda v: v >= 0, ">= 0"),
                "kl_estimator": (lambda v: v in ("reward", "k3", "exact"), "reward, k3 or exact"),
                "entropy_coef": (lambda v: v >= 0, ">= 0"),
                "clip_low": (lambda v: 0 < v < 1, "in (0, 1)"),
                "update_epochs": (lambda v: isinstance(v, int) and v >= 1, "an int >= 1"),
                "scale_rewards": (lambda v: v in ("group", "batch", "none"), "group/batch/none"),
                "reward_clip": (lambda v: v is None or v > 0, "None or > 0"),
                "advantage_clip": (lambda v: v is None or v > 0, "None or > 0"),
                "max_grad_norm": (lambda v: v is None or v > 0, "None or > 0"),
                "hidden": (lambda v: isinstance(v, int) and v >= 0, "an int >= 0"),
                "init_std": (lambda v: v >= 0, ">= 0"),
                "dtype": (lambda v: v in ("float32", "float64"), "'float32' or 'float64'"),
                "log_every": (lambda v: isinstance(v, int) and v >= 1, "an int >= 1"),
            },
        )


@dataclass(frozen=True)
class PGResult:
    """N trained runs: final ``policies`` (N, C, A) float64, per-run ``seeds``, the metrics table
    (averages over runs), the stacked ``state_dict`` (leading run axis) and wall time."""

    policies: np.ndarray
    seeds: tuple[int, ...]
    config: PGConfig
    metrics: list[dict[str, float]] = field(repr=False)
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    seconds: float
    batched: bool

    def max_tv(self, target: np.ndarray) -> np.ndarray:
        """Per run, ``max_c d_TV(pi_run(.|c), target(.|c))``; ``target`` (C, A) or (N, C, A)."""
        return 0.5 * np.abs(self.policies - target).sum(-1).max(-1)

    def summary(self) -> str:
        mode = "batched" if self.batched else "one by one"
        last = self.metrics[-1] if self.metrics else {}
        return (
            f"{self.config.algorithm}: {len(self.seeds)} runs x {self.config.steps} steps "
            f"({mode}) in {self.seconds:.2f} s; expected reward "
            f"{last.get('charts/expected_reward', float('nan')):.4f}"
        )


def make_policy(n_features: int, n_actions: int, config: PGConfig, seed: int) -> nn.Module:
    """The policy network of run ``seed`` (its initialization depends only on ``seed``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if config.hidden == 0:
            net = nn.Linear(n_features, n_actions, bias=False)
            nn.init.normal_(net.weight, std=config.init_std) if config.init_std > 0 else None
            if config.init_std == 0:
                nn.init.zeros_(net.weight)
        else:
            net = nn.Sequential(
                nn.Linear(n_features, config.hidden), nn.Tanh(), nn.Linear(config.hidden, n_actions)
            )
    return net.to(getattr(torch, config.dtype))


def _noise(seed: int, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(seed) * 7919 + 17)
    return torch.rand(shape, generator=g, dtype=torch.float64).to(dtype)


def _sample(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF samples: ``probs`` (..., C, A), ``u`` (..., C, G) -> actions (..., C, G)."""
    cdf = probs.cumsum(-1).contiguous()
    idx = torch.searchsorted(cdf, u.contiguous())  # number of cdf entries < u
    return idx.clamp(max=probs.shape[-1] - 1)


def _context_mean(x: torch.Tensor, cw: torch.Tensor | None) -> torch.Tensor:
    """Mean over the context axis (last); weighted by ``cw`` (rows summing to 1) when given."""
    return x.mean(-1) if cw is None else (x * cw).sum(-1)


def _per_run_loss(
    logits: torch.Tensor,
    logp_all: torch.Tensor,
    actions: torch.Tensor | None,
    adv: torch.Tensor | None,
    old_logp: torch.Tensor | None,
    rewards: torch.Tensor,
    ref_logp: torch.Tensor,
    cfg: PGConfig,
    cw: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss of each run (leading dims kept) and its statistics; ``cw`` weights contexts."""
    stats: dict[str, torch.Tensor] = {}
    if cfg.algorithm == "exact":
        loss = -_context_mean((logp_all.exp() * rewards).sum(-1), cw)
    else:
        logp = logp_all.gather(-1, actions)
        if cfg.algorithm == "reinforce":
            per = L.reinforce_loss(logp, adv)
        else:
            per, stats = L.ppo_clip_loss(
                logp, old_logp, adv, clip_low=cfg.clip_low, clip_high=cfg.clip_high
            )
        if cfg.beta > 0 and cfg.kl_estimator == "k3":
            per = per + cfg.beta * L.k3_kl(logp, ref_logp.gather(-1, actions))
        loss = per.mean((-2, -1)) if cw is None else _context_mean(per.mean(-1), cw)
    if cfg.beta > 0 and (cfg.kl_estimator == "exact" or cfg.algorithm == "exact"):
        loss = loss + cfg.beta * _context_mean(L.categorical_kl(logits, ref_logp), cw)
    if cfg.entropy_coef > 0:
        loss = loss - cfg.entropy_coef * _context_mean(L.categorical_entropy(logits), cw)
    return loss, stats


def _advantages(
    logp_all: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    ref_logp: torch.Tensor,
    cfg: PGConfig,
    rstats: L.RunningMeanStd | None,
) -> torch.Tensor:
    r = rewards.gather(-1, actions)
    if cfg.beta > 0 and cfg.kl_estimator == "reward":
        r = L.kl_penalized_rewards(
            r, logp_all.gather(-1, actions), ref_logp.gather(-1, actions), cfg.beta
        )
    if cfg.reward_norm or cfg.reward_clip is not None:
        r = L.normalize_rewards(r, rstats if cfg.reward_norm else None, clip=cfg.reward_clip)
    adv = L.group_advantages(r, scale=cfg.scale_rewards)
    if cfg.advantage_clip is not None:
        adv = L.clip_advantages(adv, cfg.advantage_clip)
    return adv.detach()


def _train(
    forward,
    params: list[torch.Tensor],
    rewards: torch.Tensor,
    ref_logp: torch.Tensor,
    noise: torch.Tensor | None,
    cfg: PGConfig,
    log: MetricsLog,
    stacked: bool,
    cw: torch.Tensor | None = None,
) -> None:
    """The training loop; ``rewards`` (C, A) or (N, C, A), ``noise`` (steps, [N,] C, G),
    ``cw`` context weights ([N,] C) with rows summing to 1 (None: plain mean)."""
    opt = (torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.SGD)(params, lr=cfg.lr)
    lead = rewards.shape[:-2]
    rstats = (
        L.RunningMeanStd((*lead, 1, 1) if lead else (), device=rewards.device)
        if cfg.reward_norm
        else None
    )
    for t in range(cfg.steps):
        if cfg.anneal_lr:
            for group in opt.param_groups:
                group["lr"] = cfg.lr * (1.0 - t / cfg.steps)
        actions = adv = old_logp = None
        for epoch in range(cfg.update_epochs):
            logits = forward()
            logp_all = L.log_softmax(logits)
            if epoch == 0 and cfg.algorithm != "exact":
                # sample the group from the current policy (one forward pass serves both)
                with torch.no_grad():
                    lp = logp_all.detach()
                    actions = _sample(lp.exp(), noise[t])
                    old_logp = lp.gather(-1, actions)
                    adv = _advantages(lp, actions, rewards, ref_logp, cfg, rstats)
            loss, stats = _per_run_loss(
                logits, logp_all, actions, adv, old_logp, rewards, ref_logp, cfg, cw
            )
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            if cfg.max_grad_norm is not None:
                if stacked:
                    clip_grad_norm_per_run(params, cfg.max_grad_norm)
                else:
                    nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            opt.step()
        if (t + 1) % cfg.log_every == 0 or t + 1 == cfg.steps:
            with torch.no_grad():
                lg = forward()
                p = L.log_softmax(lg).exp()
                log.log(
                    t + 1,
                    {
                        "charts/expected_reward": (p * rewards).sum(-1).mean(),
                        "losses/loss": loss.mean(),
                        "stats/entropy": L.categorical_entropy(lg).mean(),
                        "stats/kl_ref": L.categorical_kl(lg, ref_logp).mean(),
                        **{f"losses/{k}": v for k, v in stats.items()},
                    },
                )
        log.advance()


def train_bandit_runs(
    task: ContextualBandit,
    config: PGConfig,
    seeds: Sequence[int],
    *,
    rewards: np.ndarray | None = None,
    context_weights: np.ndarray | None = None,
    batched: bool = True,
    device: str | torch.device = "cpu",
    progress: bool | None = False,
    log_dir: str | None = None,
) -> PGResult:
    """Train N = len(seeds) independent runs on ``task`` (optionally one reward table each).

    Parameters
    ----------
    task : ContextualBandit
    config : PGConfig
    seeds : sequence of int
        Run ``i`` initializes and samples from ``seeds[i]`` only.
    rewards : array (N, C, A), optional
        Per-run reward tables (perturbation magnitudes); default: ``task.rewards`` for all.
    context_weights : array (C,) or (N, C), optional
        Non-negative weight of each context in each run's training objective (normalized to sum
        to 1 per run; default: uniform, the plain mean). A 0/1 mask drops contexts from
        training; weight-0 contexts are still sampled, so the batch statistics
        ``scale_rewards="batch"`` and ``reward_norm`` are rejected with weights.
    batched : bool
        One stacked model (``torch.func``) or a loop of single runs (same numbers).
    device : str
    progress, log_dir
        Progress bar and TensorBoard directory (see :class:`trainers.runtime.MetricsLog`).
    """
    seeds = [int(s) for s in seeds]
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of ints >= 0; got {seeds!r}")
    C, A = task.rewards.shape
    if rewards is None:
        rewards = np.broadcast_to(task.rewards, (len(seeds), C, A))
    rewards = np.array(rewards, dtype=np.float64)
    if rewards.shape != (len(seeds), C, A) or not np.all(np.isfinite(rewards)):
        raise ValueError(
            f"rewards must be finite with shape {(len(seeds), C, A)}; got {rewards.shape}"
        )
    cw_np = _check_context_weights(context_weights, len(seeds), C, config)
    dev = setup(seeds[0], device)
    dtype = getattr(torch, config.dtype)
    cw = None if cw_np is None else torch.as_tensor(cw_np, dtype=dtype, device=dev)
    x = torch.as_tensor(task.features, dtype=dtype, device=dev)
    r_all = torch.as_tensor(rewards, dtype=dtype, device=dev)
    with np.errstate(divide="ignore"):
        ref = torch.as_tensor(np.log(task.reference), dtype=dtype, device=dev)
    shape = (config.steps, C, config.group_size)
    sampled = config.algorithm != "exact"
    log = MetricsLog(config.steps, progress=progress, log_dir=log_dir)
    start = time.perf_counter()
    nets = [make_policy(x.shape[1], A, config, s).to(dev) for s in seeds]
    if batched:
        model = StackedModule(nets)
        noise = (
            torch.stack([_noise(s, shape, dtype) for s in seeds], 1).to(dev) if sampled else None
        )
        ref_n = ref.expand_as(r_all).contiguous()
        _train(
            lambda: model(x), list(model.parameters()), r_all, ref_n, noise, config, log, True, cw
        )
        with torch.no_grad():
            pol = L.log_softmax(model(x)).exp()
        state = model.state_dict()
    else:
        pols = []
        for i, (s, net) in enumerate(zip(seeds, nets, strict=True)):
            noise = _noise(s, shape, dtype).to(dev) if sampled else None
            _train(
                lambda net=net: net(x),
                list(net.parameters()),
                r_all[i],
                ref,
                noise,
                config,
                log,
                False,
                None if cw is None else cw[i],
            )
            with torch.no_grad():
                pols.append(L.log_softmax(net(x)).exp())
        pol = torch.stack(pols)
        state = {k: torch.stack([n.state_dict()[k] for n in nets]) for k in nets[0].state_dict()}
    seconds = time.perf_counter() - start
    log.close()
    return PGResult(
        pol.detach().cpu().double().numpy(),
        tuple(seeds),
        config,
        log.rows,
        {k: v.detach().cpu() for k, v in state.items()},
        seconds,
        batched,
    )


def _check_context_weights(
    weights: np.ndarray | None, n_runs: int, n_contexts: int, config: PGConfig
) -> np.ndarray | None:
    """Validated per-run context weights (N, C), rows normalized to sum to 1; None stays None."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = np.broadcast_to(w, (n_runs, *w.shape))
    if w.shape != (n_runs, n_contexts) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(
            "context_weights must be finite, >= 0, with shape "
            f"({n_contexts},) or ({n_runs}, {n_contexts}); got shape {np.shape(weights)}"
        )
    totals = w.sum(-1)
    if np.any(totals <= 0):
        bad = np.flatnonzero(totals <= 0).tolist()
        raise ValueError(f"context_weights must give every run a positive total; runs {bad} are 0")
    if config.scale_rewards == "batch" or config.reward_norm:
        raise ValueError(
            "context_weights cannot be combined with scale_rewards='batch' or reward_norm=True "
            "(their batch statistics would include the weight-0 contexts)"
        )
    return w / totals[:, None]


def train_bandit(
    task: ContextualBandit,
    config: PGConfig,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    log_dir: str | None = None,
) -> PGResult:
    """Train one run (see :func:`train_bandit_runs`)."""
    return train_bandit_runs(
        task, config, [seed], batched=False, device=device, progress=progress, log_dir=log_dir
    )


def config_dict(config: PGConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)
