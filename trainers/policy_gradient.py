"""Policy gradient for bandit (prompt-response) policies: REINFORCE, PPO-clip, GRPO, exact PG.

Read top to bottom: config, result, policy network, sampling, the training loop, the entry
points. A policy maps context features to logits over A responses: a bias-free linear map
(``hidden=0``; on one-hot contexts a table of logits) or a one-hidden-layer tanh MLP. N runs
(seeds x reward tables) are N copies of that network stacked into one
:class:`trainers.batched.StackedModule`: ``batched=True`` trains all N as one stack,
``batched=False`` trains N stacks of one run each, so N = 1 is the unbatched case and both modes
run the same loop (with results equal up to floating-point round-off,
``tests/trainers/test_policy_gradient.py``).

Each step uses every context: it draws a group of ``group_size`` responses per context by
inverse-CDF sampling from pre-drawn uniforms (so a run is a deterministic function of its seed,
batched or not), scores them with the reward table, and minimises one of

- ``"reinforce"``: ``-A log pi(a|c)`` with the group mean as baseline [1];
- ``"ppo"`` / ``"grpo"``: the clipped surrogate [2, Eq. 7] over ``update_epochs`` passes. The two
  names share the loss: GRPO [3, Eq. 3] is the setting ``scale_rewards="group"`` (its
  group-normalised advantage ``(r - mean_G r) / std_G r``, §4.1.2) with ``kl_estimator="k3"``;
- ``"exact"``: minus the expected reward ``sum_a pi(a|c) r(c, a)`` (no sampling): deterministic,
  used where the claims need convergence to 1e-6.

The PPO-max options [5] normalise and clip rewards and clip advantages; ``max_grad_norm`` clips
each run's gradient norm. The KL term to the reference (weight ``beta``) is estimated by
``kl_estimator``: ``"reward"`` (PPO-max's penalty in the reward [5]: the unbiased gradient of
``E r - beta KL(pi||ref)``), ``"k3"`` (GRPO/TRL's loss term [3, Eq. 4; 4], whose gradient is that
of ``KL(ref||pi)``, see :mod:`trainers.losses`) or ``"exact"`` (over actions). ``entropy_coef``
adds the exact entropy bonus. With ``beta > 0`` and an unbiased estimator the runs converge to
``pi_ref exp(r/beta)/Z`` [6, Eq. 4] (claim ``trainers/kl-pg-closed-form``); the result's
``tv_to_optimum`` reports each run's distance to it. The defaults (Adam, peak learning rate 0.2
decayed linearly to 0 over 500 steps) reach it on the toolkit's tasks: max TV below 0.007 at
``beta = 0.1`` with G = 8 sampled responses and below 1e-3 with ``"exact"``, where 300 steps at
0.05 stopped at 0.011-0.020 (``tests/trainers/test_policy_gradient.py``).

Every term is averaged over contexts; ``context_weights`` (one row per run, or one for all)
turns that average into a weighted one, so a 0/1 mask drops contexts from training (the Policy
Cliff Model-1 vs Model-3 comparison [7, §5.6], claim ``trainers/multi-reward-drop-ambiguous``).
A dropped context still gets a policy: the network's prediction from its features.

References
----------
.. [1] R. J. Williams, "Simple Statistical Gradient-Following Algorithms for Connectionist
   Reinforcement Learning", Machine Learning 8, 1992 (REINFORCE with a baseline).
.. [2] J. Schulman et al., "Proximal Policy Optimization Algorithms", arXiv:1707.06347, 2017,
   Eq. (7).
.. [3] Z. Shao et al., "DeepSeekMath", arXiv:2402.03300, 2024, Eq. (3)-(4) and §4.1.2 (GRPO).
.. [4] J. Schulman, "Approximating KL Divergence", 2020 (the k3 estimator).
.. [5] R. Zheng et al., "Secrets of RLHF in Large Language Models Part I: PPO" (PPO-max),
   arXiv:2307.04964, 2023, §5.3.
.. [6] R. Rafailov et al., "Direct Preference Optimization", NeurIPS 2023, Eq. (4).
.. [7] X. Xu, "The Policy Cliff", arXiv:2507.20150, 2025.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from theory.checks import as_float_array, check_positive_int, check_seed, check_seeds
from theory.soft import kl_regularized_bandit_policy
from trainers import losses as L
from trainers.batched import StackedModule, clip_grad_norm_per_run
from trainers.runtime import (
    FLAG,
    NONNEGATIVE,
    NONNEGATIVE_INT,
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
from trainers.tasks import ContextualBandit

__all__ = ["PGConfig", "PGResult", "make_policy", "train_bandit", "train_bandit_runs"]

ALGORITHMS = ("reinforce", "ppo", "grpo", "exact")


@dataclass(frozen=True)
class PGConfig:
    """Hyperparameters of the bandit policy-gradient trainer."""

    algorithm: str = "grpo"
    """'reinforce', 'ppo', 'grpo' (sampled) or 'exact' (expected gradient, no sampling)."""
    steps: int = 500
    """Optimizer steps (each uses every context)."""
    group_size: int = 8
    """Responses sampled per context per step (GRPO's G)."""
    lr: float = 0.2
    """Peak learning rate (see ``anneal_lr``)."""
    optimizer: str = "adam"
    """'adam' or 'sgd'."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 (CleanRL's default); False: constant."""
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
        check_config(
            self,
            {
                "algorithm": one_of(*ALGORITHMS),
                "steps": POSITIVE_INT,
                "group_size": integer(2),
                "lr": POSITIVE,
                "optimizer": one_of("adam", "sgd"),
                "anneal_lr": FLAG,
                "beta": NONNEGATIVE,
                "kl_estimator": one_of("reward", "k3", "exact"),
                "entropy_coef": NONNEGATIVE,
                "clip_low": OPEN_UNIT,
                "clip_high": optional(POSITIVE),
                "update_epochs": POSITIVE_INT,
                "scale_rewards": one_of("group", "batch", "none"),
                "reward_norm": FLAG,
                "reward_clip": optional(POSITIVE),
                "advantage_clip": optional(POSITIVE),
                "max_grad_norm": optional(POSITIVE),
                "hidden": NONNEGATIVE_INT,
                "init_std": NONNEGATIVE,
                "dtype": one_of("float32", "float64"),
                "log_every": POSITIVE_INT,
            },
        )


@dataclass(frozen=True)
class PGResult:
    """N trained runs: final ``policies`` (N, C, A) float64, per-run ``seeds``, the metrics
    table (batched: averages over the runs at each logged step; one by one: each run's rows in
    turn), the stacked ``state_dict`` (leading run axis) and wall time.

    ``tv_to_optimum`` (N,): per run, ``max_c d_TV(pi_run(.|c), pi*(.|c))`` over the contexts
    it trains on (weight > 0), where ``pi* ∝ pi_ref^(beta/(beta+tau)) exp(r / (beta + tau))``
    maximises ``E_pi r - beta KL(pi||pi_ref) + tau H(pi)`` (``tau = entropy_coef``; with
    ``tau = 0`` the closed form ``pi_ref exp(r/beta)/Z`` of [6, Eq. 4]). ``None`` where the
    trained objective has another optimum: ``beta = tau = 0`` (the greedy policy), the k3
    estimator (whose gradient is that of ``KL(ref||pi)``), or reward/advantage scaling,
    normalization or clipping.
    """

    policies: np.ndarray
    seeds: tuple[int, ...]
    config: PGConfig
    metrics: list[dict[str, float]] = field(repr=False)
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    seconds: float
    batched: bool
    tv_to_optimum: np.ndarray | None = None

    def max_tv(self, target: np.ndarray) -> np.ndarray:
        """Per run, ``max_c d_TV(pi_run(.|c), target(.|c))``; ``target`` (C, A) or (N, C, A)."""
        return 0.5 * np.abs(self.policies - target).sum(-1).max(-1)

    def summary(self) -> str:
        mode = "batched" if self.batched else "one by one"
        last = self.metrics[-1] if self.metrics else {}
        tv = self.tv_to_optimum
        opt = "" if tv is None else f"; max TV to the regularized optimum {tv.max():.4g}"
        return (
            f"{self.config.algorithm}: {len(self.seeds)} runs x {self.config.steps} steps "
            f"({mode}) in {self.seconds:.2f} s; expected reward "
            f"{last.get('charts/expected_reward', float('nan')):.4f}{opt}"
        )


def make_policy(n_features: int, n_actions: int, config: PGConfig, seed: int) -> nn.Module:
    """The policy network of run ``seed`` (its initialization depends only on ``seed``).

    ``hidden == 0``: a bias-free linear map with N(0, init_std^2) weights (zero weights, the
    uniform policy, for ``init_std == 0``); else a tanh MLP with torch's default initialization.
    ``n_features`` and ``n_actions`` are integers >= 1, ``seed`` a seed in [0, 2**63).
    """
    n_features = check_positive_int("n_features", n_features)
    n_actions = check_positive_int("n_actions", n_actions)
    check_instance("config", config, PGConfig)
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if config.hidden == 0:
            net = nn.Linear(n_features, n_actions, bias=False)
            if config.init_std > 0:
                nn.init.normal_(net.weight, std=config.init_std)
            else:
                nn.init.zeros_(net.weight)
        else:
            net = nn.Sequential(
                nn.Linear(n_features, config.hidden), nn.Tanh(), nn.Linear(config.hidden, n_actions)
            )
    return net.to(getattr(torch, config.dtype))


def _noise(seed: int, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Run ``seed``'s sampling uniforms, ``shape`` (steps, C, G), from its own generator."""
    g = torch.Generator().manual_seed((int(seed) * 7919 + 17) % 2**63)  # any seed < 2**63
    return torch.rand(shape, generator=g, dtype=torch.float64).to(dtype)


def _sample(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF samples: ``probs`` (..., C, A), ``u`` (..., C, G) -> actions (..., C, G)."""
    cdf = probs.cumsum(-1).contiguous()
    idx = torch.searchsorted(cdf, u.contiguous())  # number of cdf entries < u
    return idx.clamp(max=probs.shape[-1] - 1)


def _context_mean(x: torch.Tensor, cw: torch.Tensor | None) -> torch.Tensor:
    """Mean over the context axis (last); weighted by ``cw`` (rows summing to 1) when given."""
    return x.mean(-1) if cw is None else (x * cw).sum(-1)


def _train(
    model: StackedModule,
    x: torch.Tensor,
    rewards: torch.Tensor,
    ref_logp: torch.Tensor,
    noise: torch.Tensor | None,
    cw: torch.Tensor | None,
    cfg: PGConfig,
    log: MetricsLog,
) -> None:
    """The training loop of one stack of N runs (trained in place).

    ``x`` (C, F) features shared by the runs; ``rewards`` and ``ref_logp`` (N, C, A); ``noise``
    (steps, N, C, G) sampling uniforms (None for ``"exact"``); ``cw`` (N, C) context weights
    with rows summing to 1 (None: plain mean). Every loss is per run, shape (N,): the gradient
    of their sum is each run's own gradient, in its slice of the stacked parameters.
    """
    params = list(model.parameters())
    opt = (torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.SGD)(params, lr=cfg.lr)
    n_runs = rewards.shape[0]
    rstats = L.RunningMeanStd((n_runs, 1, 1), device=rewards.device) if cfg.reward_norm else None
    for t in range(cfg.steps):
        if cfg.anneal_lr:
            opt.param_groups[0]["lr"] = cfg.lr * (1.0 - t / cfg.steps)
        for epoch in range(cfg.update_epochs):
            logits = model(x)  # (N, C, A)
            logp_all = L.log_softmax(logits)
            if cfg.algorithm == "exact":
                # --- exact policy gradient: minus the expected reward sum_a pi(a|c) r(c, a) ---
                loss, stats = -_context_mean((logp_all.exp() * rewards).sum(-1), cw), {}
            else:
                if epoch == 0:
                    # --- sample G responses per context from the current policy, score them ---
                    with torch.no_grad():
                        lp = logp_all.detach()
                        actions = _sample(lp.exp(), noise[t])  # (N, C, G)
                        old_logp = lp.gather(-1, actions)
                        r = rewards.gather(-1, actions)
                        if cfg.beta > 0 and cfg.kl_estimator == "reward":
                            # PPO-max's KL penalty in the reward [5]: r - beta (l - l_ref)
                            ref_a = ref_logp.gather(-1, actions)
                            r = L.kl_penalized_rewards(r, old_logp, ref_a, cfg.beta)
                        if cfg.reward_norm or cfg.reward_clip is not None:  # PPO-max [5]
                            r = L.normalize_rewards(r, rstats, clip=cfg.reward_clip)
                        # --- advantage: group-centred; GRPO's group-normalised advantage
                        #     A = (r - mean_G r) / std_G r with scale_rewards="group" [3, §4.1.2]
                        adv = L.group_advantages(r, scale=cfg.scale_rewards)
                        if cfg.advantage_clip is not None:  # PPO-max [5]
                            adv = L.clip_advantages(adv, cfg.advantage_clip)
                logp = logp_all.gather(-1, actions)
                if cfg.algorithm == "reinforce":
                    # --- REINFORCE (Williams 1992) [1]: -A log pi(a|c) ---
                    per, stats = L.reinforce_loss(logp, adv), {}
                else:
                    # --- PPO-clip (Schulman et al. 2017, Eq. 7) [2], GRPO's surrogate [3, Eq. 3]:
                    #     -min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A), rho = pi / pi_old
                    per, stats = L.ppo_clip_loss(
                        logp, old_logp, adv, clip_low=cfg.clip_low, clip_high=cfg.clip_high
                    )
                if cfg.beta > 0 and cfg.kl_estimator == "k3":
                    # --- k3 KL estimator in the loss (GRPO [3, Eq. 4]; Schulman 2020 [4]):
                    #     exp(l_ref - l) - (l_ref - l) - 1 per sampled response
                    per = per + cfg.beta * L.k3_kl(logp, ref_logp.gather(-1, actions))
                loss = per.mean((-2, -1)) if cw is None else _context_mean(per.mean(-1), cw)
            if cfg.beta > 0 and (cfg.kl_estimator == "exact" or cfg.algorithm == "exact"):
                # --- exact KL(pi || ref) over the actions ---
                loss = loss + cfg.beta * _context_mean(L.categorical_kl(logits, ref_logp), cw)
            if cfg.entropy_coef > 0:
                # --- exact entropy bonus ---
                loss = loss - cfg.entropy_coef * _context_mean(L.categorical_entropy(logits), cw)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            if cfg.max_grad_norm is not None:
                clip_grad_norm_per_run(params, cfg.max_grad_norm)
            opt.step()
        if (t + 1) % cfg.log_every == 0 or t + 1 == cfg.steps:
            with torch.no_grad():
                lg = model(x)
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
        All N runs as one :class:`~trainers.batched.StackedModule`, or N stacks of one run
        trained in turn (the same numbers up to floating-point round-off).
    device : str
    progress, log_dir
        Progress bar and TensorBoard directory (see :class:`trainers.runtime.MetricsLog`).
    """
    check_instance("task", task, ContextualBandit)
    check_instance("config", config, PGConfig)
    seeds = check_seeds(seeds, distinct=False)  # a seed may repeat across reward tables
    C, A = task.rewards.shape
    if rewards is None:
        rewards = np.broadcast_to(task.rewards, (len(seeds), C, A))
    rewards = as_float_array("rewards", rewards, shape=(len(seeds), C, A))
    cw_np = _check_context_weights(context_weights, len(seeds), C, config)
    dev = setup(seeds[0], device)
    dtype = getattr(torch, config.dtype)
    cw = None if cw_np is None else torch.as_tensor(cw_np, dtype=dtype, device=dev)
    x = torch.as_tensor(task.features, dtype=dtype, device=dev)
    r_all = torch.as_tensor(rewards, dtype=dtype, device=dev)
    with np.errstate(divide="ignore"):
        ref = torch.as_tensor(np.log(task.reference), dtype=dtype, device=dev)
    shape = (config.steps, C, config.group_size)
    # one stack of all N runs, or N stacks of one run each: the same loop either way
    N = len(seeds)
    stacks = [slice(0, N)] if batched else [slice(i, i + 1) for i in range(N)]
    log = MetricsLog(config.steps, progress=progress, log_dir=log_dir)
    start = time.perf_counter()
    policies, states = [], []
    for runs in stacks:
        model = StackedModule([make_policy(x.shape[1], A, config, s).to(dev) for s in seeds[runs]])
        noise = None
        if config.algorithm != "exact":
            noise = torch.stack([_noise(s, shape, dtype) for s in seeds[runs]], 1).to(dev)
        n = len(seeds[runs])
        ref_n = ref.expand(n, C, A).contiguous()
        _train(model, x, r_all[runs], ref_n, noise, None if cw is None else cw[runs], config, log)
        with torch.no_grad():
            policies.append(L.log_softmax(model(x)).exp())
        states.append(model.state_dict())
    seconds = time.perf_counter() - start
    log.close()
    pol = torch.cat(policies).cpu().double().numpy()
    target = _regularized_optimum(config, rewards, task.reference)
    tv = None
    if target is not None:
        trained = np.ones((N, C), bool) if cw_np is None else cw_np > 0
        tv = np.where(trained, 0.5 * np.abs(pol - target).sum(-1), 0.0).max(-1)
    return PGResult(
        pol,
        tuple(seeds),
        config,
        log.rows,
        {k: torch.cat([s[k] for s in states]).cpu() for k in states[0]},
        seconds,
        batched,
        tv,
    )


def _regularized_optimum(
    config: PGConfig, rewards: np.ndarray, reference: np.ndarray
) -> np.ndarray | None:
    """The maximiser of ``E_pi r - beta KL(pi||ref) + tau H(pi)`` per run and context (N, C, A),
    ``pi ∝ ref^(beta/(beta+tau)) exp(r/(beta+tau))`` [6, Eq. 4 with the entropy folded in]; None
    when the configured objective is not that one (see :class:`PGResult`)."""
    beta, tau = config.beta, config.entropy_coef
    shaped = (
        config.scale_rewards != "none"
        or config.reward_norm
        or config.reward_clip is not None
        or config.advantage_clip is not None
    )
    biased_kl = beta > 0 and config.kl_estimator == "k3" and config.algorithm != "exact"
    if beta + tau == 0 or biased_kl or (shaped and config.algorithm != "exact"):
        return None
    ref = reference ** (beta / (beta + tau))  # a zero reference probability stays zero
    return kl_regularized_bandit_policy(rewards, ref / ref.sum(-1, keepdims=True), beta + tau)


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
    check_seed(seed)
    return train_bandit_runs(
        task, config, [seed], batched=False, device=device, progress=progress, log_dir=log_dir
    )
