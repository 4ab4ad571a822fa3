"""Soft actor-critic for continuous actions, with DSAC-T's three refinements as a switch.

Read top to bottom: config, networks, losses, then the loop of CleanRL's
``sac_continuous_action.py``: act, store, sample a minibatch, regress the twin critics on the
soft target, every ``policy_frequency`` steps update the actor and the temperature, then
Polyak-average the targets.

SAC (Haarnoja et al. 2018, arXiv:1801.01290, Eq. 5-7 and 11; temperature loss of
arXiv:1812.05905, Eq. 18, written in ``log alpha`` as SB3 and CleanRL do)::

    y = r + gamma (1 - d) (min_i Q'_i(s', a') - alpha log pi(a'|s')),   a' ~ pi(.|s')
    L_Q = sum_i 1/2 E (Q_i(s, a) - y)^2
    L_pi = E[alpha log pi(a|s) - min_i Q_i(s, a)],   a ~ pi(.|s) (reparameterized)
    L_alpha = E[-log alpha (log pi(a|s) + H_target)],   H_target = -dim(A)

The policy is a Gaussian ``N(mu(s), diag exp(2 log_std(s)))``, by default squashed by ``tanh``
into the action bounds (CleanRL; the log-density gets the change-of-variables term). With
``squash=False`` the Gaussian is used as is (the env clips), which is the family of the
closed-form soft-optimal LQ policy (:func:`theory.continuous.soft_lq_policy`).
``features="quadratic"`` makes both critics linear in the monomials of degree <= 2 of
``(s, a)`` and the actor's mean linear in ``s`` with a state-independent ``log_std``: exactly the
LQ solution's function classes.

DSAC-T (Duan et al., "Distributional Soft Actor-Critic with Three Refinements",
arXiv:2310.05858, Sec. 4; official code Jingliang-Duan/DSAC-v2, ``dsac.py``). Each critic
outputs a Gaussian return distribution ``N(Q, sigma^2)``. With ``a' ~ pi_target(.|s')``:

1. *expected value substitution*: the mean regresses on the expected target
   ``y = r + gamma (1 - d) (Q'_min - alpha log pi(a'|s'))``; the sampled target
   ``y_z = r + gamma (1 - d) (z' - alpha log pi)``, ``z' = Q'_j + sigma'_j clip(eps, -3, 3)``
   from the critic ``j`` with the smaller mean, only enters the variance term, bounded as
   ``y_z^b = Q + clip(y_z - Q, -xi, xi)`` with ``xi = 3 mean(sigma)``;
2. *twin value distribution learning*: two distributional critics, the smaller mean in targets
   and in the actor loss;
3. *variance-based gradient adjustment*: the loss is scaled by the detached
   ``omega = (mean sigma_1^2 + mean sigma_2^2) / 2``::

       L_Q = sum_i omega E[(Q_i - y)^2 / (2 sg(sigma_i)^2)
                           + (sg(Q_i) - y_z^b)^2 / (2 sigma_i^2) + log sigma_i].

The DSAC-v2 repository's later ``dsac_v2.py`` replaces ``omega`` by a clipped ratio to an EMA of
``sigma`` and the squares by Huber losses; this module follows ``dsac.py`` (a best reading of
"the official code"; the variant is not implemented). The target actor (Polyak-averaged like the
critics) is used only when ``dsac_t=True``; SAC samples ``a'`` from the current actor (CleanRL).

References
----------
.. [1] T. Haarnoja, A. Zhou, P. Abbeel, S. Levine, "Soft Actor-Critic: Off-Policy Maximum
   Entropy Deep Reinforcement Learning with a Stochastic Actor", ICML 2018, arXiv:1801.01290.
.. [2] T. Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", arXiv:1812.05905,
   Eq. (18) (automatic temperature).
.. [3] J. Duan, W. Wang, L. Xiao, J. Gao, S. E. Li, C. Liu, Y.-Q. Zhang, B. Cheng, K. Li,
   "Distributional Soft Actor-Critic with Three Refinements", IEEE TPAMI 2025, arXiv:2310.05858.
.. [4] S. Huang et al., "CleanRL: High-quality Single-file Implementations of Deep Reinforcement
   Learning Algorithms", JMLR 2022 (``sac_continuous_action.py``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from theory.checks import ArgumentTypeError, as_float_array
from trainers.runtime import (
    DISCOUNT,
    FLAG,
    NONNEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    UNIT_FRACTION,
    MetricsLog,
    check_config,
    check_instance,
    one_of,
    optional,
    real,
    setup,
)

__all__ = [
    "SACConfig",
    "SACResult",
    "dsac_t_critic_loss",
    "sac_actor_loss",
    "sac_alpha_loss",
    "sac_critic_loss",
    "train_sac",
]

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # CleanRL's range for the actor's log-std
SIGMA_LOG_MIN, SIGMA_LOG_MAX = -5.0, 6.0  # DSAC-T critic log-sigma range [reconstructed]


@dataclass(frozen=True)
class SACConfig:
    """Hyperparameters of SAC / DSAC-T (CleanRL ``sac_continuous_action.py`` names)."""

    dsac_t: bool = False
    """Use DSAC-T's three refinements (distributional twin critics, expected-value
    substitution, variance-based gradient adjustment) instead of SAC's critic loss."""
    squash: bool = True
    """tanh-squash the Gaussian into the action bounds (CleanRL); False: unsquashed Gaussian."""
    features: str = "mlp"
    """'mlp' (ReLU MLPs) or 'quadratic' (critics linear in degree-2 monomials of (s, a), actor
    mean linear in s with a state-independent log-std: the LQ solution's classes)."""
    hidden: int = 64
    """Width of the 2-layer MLPs."""
    gamma: float | None = None
    """Discount; None: the task's for an LQEnv, else 0.99."""
    total_timesteps: int = 3000
    """Environment steps."""
    learning_starts: int = 500
    """Uniformly random actions (and no updates) for this many steps."""
    buffer_size: int = 100_000
    """Replay capacity."""
    batch_size: int = 64
    """Minibatch size."""
    policy_lr: float = 3e-4
    """Adam learning rate of the actor (and of log alpha)."""
    q_lr: float = 1e-3
    """Adam learning rate of the critics."""
    policy_frequency: int = 2
    """Delay of the actor/temperature updates: SAC makes this many every this many critic
    updates (CleanRL), DSAC-T one (its delay_update)."""
    tau: float = 0.005
    """Polyak weight of the target networks."""
    alpha: float = 0.2
    """Entropy temperature (initial value when ``autotune``)."""
    autotune: bool = True
    """Learn alpha towards ``target_entropy``."""
    target_entropy: float | None = None
    """Target entropy; None: -dim(A) (CleanRL)."""
    reward_scale: float = 1.0
    """Multiply rewards by this before learning (DSAC-T's example uses 0.1)."""
    log_every: int = 500
    """Log metrics every this many environment steps."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "dsac_t": FLAG,
                "squash": FLAG,
                "features": one_of("mlp", "quadratic"),
                "hidden": POSITIVE_INT,
                "gamma": optional(DISCOUNT),
                "total_timesteps": POSITIVE_INT,
                "learning_starts": NONNEGATIVE_INT,
                "buffer_size": POSITIVE_INT,
                "batch_size": POSITIVE_INT,
                "policy_lr": POSITIVE,
                "q_lr": POSITIVE,
                "policy_frequency": POSITIVE_INT,
                "tau": UNIT_FRACTION,
                "alpha": POSITIVE,
                "autotune": FLAG,
                "target_entropy": optional(real()),
                "reward_scale": POSITIVE,
                "log_every": POSITIVE_INT,
            },
        )
        if self.learning_starts >= self.total_timesteps:
            raise ValueError(
                f"SACConfig.learning_starts must be below total_timesteps = "
                f"{self.total_timesteps}; got {self.learning_starts}"
            )


# ---------------------------------------------------------------- networks


class _Quadratic(nn.Module):
    """Linear in all monomials of degree <= 2 of the input (with a bias)."""

    def __init__(self, d: int, out: int) -> None:
        super().__init__()
        self.iu = torch.triu_indices(d, d)
        self.lin = nn.Linear(d + self.iu.shape[1], out)
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        outer = (z[:, :, None] * z[:, None, :])[:, self.iu[0], self.iu[1]]
        return self.lin(torch.cat([z, outer], -1))


def _mlp(d: int, out: int, hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, out),
    )


class _Critic(nn.Module):
    """Q(s, a) (and, for DSAC-T, log sigma(s, a)): outputs shape (B, 1) or (B, 2)."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig) -> None:
        super().__init__()
        out = 2 if cfg.dsac_t else 1
        d = obs_dim + act_dim
        self.net = _Quadratic(d, out) if cfg.features == "quadratic" else _mlp(d, out, cfg.hidden)

    def forward(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([s, a], -1))


class GaussianActor(nn.Module):
    """``obs -> (mean, log_std)`` of the pre-squash Gaussian; log_std in [-5, 2] (CleanRL)."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig) -> None:
        super().__init__()
        self.linear = cfg.features == "quadratic"
        if self.linear:
            self.mean = nn.Linear(obs_dim, act_dim)
            nn.init.zeros_(self.mean.weight)
            nn.init.zeros_(self.mean.bias)
            self.log_std = nn.Parameter(torch.zeros(act_dim))
        else:
            self.body = _mlp(obs_dim, 2 * act_dim, cfg.hidden)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.linear:
            mean = self.mean(obs)
            raw = self.log_std.expand_as(mean)
        else:
            mean, raw = self.body(obs).chunk(2, -1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1)
        return mean, log_std

    def mean_network(self) -> nn.Module:
        """``obs -> mean`` as a plain module, for the Lipschitz tools
        (:func:`stability.lipschitz.lipschitz_bound` of it bounds how fast the pre-squash mean
        moves with the state; the squashed action ``tanh(mean) * scale + bias`` moves at most
        ``max(scale)`` times as fast, tanh being 1-Lipschitz).

        The linear actor returns its ``mean`` layer itself; the MLP actor a copy of its body
        with the last layer cut to the mean's rows (a copy: take it again after more training).
        """
        if self.linear:
            return self.mean
        *hidden, last = self.body
        act_dim = last.out_features // 2
        head = nn.Linear(last.in_features, act_dim, dtype=last.weight.dtype)
        with torch.no_grad():
            head.weight.copy_(last.weight[:act_dim])
            head.bias.copy_(last.bias[:act_dim])
        return nn.Sequential(*[copy.deepcopy(m) for m in hidden], head).eval()


def _sample(
    actor: GaussianActor, obs: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, squash: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """A reparameterized action and its log-density (with the tanh correction when squashed)."""
    mean, log_std = actor(obs)
    dist = torch.distributions.Normal(mean, log_std.exp())
    z = dist.rsample()
    logp = dist.log_prob(z)
    if squash:
        y = torch.tanh(z)
        logp = logp - torch.log(scale * (1 - y.pow(2)) + 1e-6)
        return y * scale + bias, logp.sum(-1)
    return z, logp.sum(-1)


# ---------------------------------------------------------------- losses


def _tensor(name: str, v: object) -> torch.Tensor:
    if not isinstance(v, torch.Tensor):
        raise ArgumentTypeError(f"{name} must be a torch.Tensor; got {type(v).__name__}")
    return v


def _same_shape(**tensors: object) -> list[torch.Tensor]:
    names = list(tensors)
    ts = [_tensor(k, v) for k, v in tensors.items()]
    for k, t in zip(names[1:], ts[1:], strict=True):
        if t.shape != ts[0].shape:
            raise ValueError(
                f"{k} must have the shape of {names[0]} {tuple(ts[0].shape)}; got {tuple(t.shape)}"
            )
    return ts


def sac_critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SAC's critic loss for one critic: ``1/2 mean (q - target)^2`` (Haarnoja et al. 2018,
    Eq. 5), ``target`` detached.

    Examples
    --------
    >>> float(sac_critic_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])))
    1.25
    """
    q, target = _same_shape(q=q, target=target)
    return 0.5 * (q - target.detach()).square().mean()


def sac_actor_loss(
    log_pi: torch.Tensor, q_min: torch.Tensor, alpha: float | torch.Tensor
) -> torch.Tensor:
    """``mean(alpha log pi - min_i Q_i)`` (Haarnoja et al. 2018, Eq. 7 reparameterized).

    Examples
    --------
    >>> float(sac_actor_loss(torch.tensor([-1.0, 0.0]), torch.tensor([2.0, 4.0]), 0.5))
    -3.25
    """
    log_pi, q_min = _same_shape(log_pi=log_pi, q_min=q_min)
    alpha = torch.as_tensor(alpha)
    if alpha.numel() != 1 or not bool(alpha > 0):
        raise ValueError(f"alpha must be a positive scalar; got {alpha}")
    return (alpha * log_pi - q_min).mean()


def sac_alpha_loss(
    log_alpha: torch.Tensor, log_pi: torch.Tensor, target_entropy: float
) -> torch.Tensor:
    """``mean(-log alpha (log pi + H_target))`` with ``log pi`` detached (arXiv:1812.05905,
    Eq. 18, in log alpha as SB3/CleanRL).

    Examples
    --------
    >>> float(sac_alpha_loss(torch.tensor(0.5), torch.tensor([-1.0, -3.0]), -1.0))
    1.5
    """
    log_alpha, log_pi = _tensor("log_alpha", log_alpha), _tensor("log_pi", log_pi)
    if log_alpha.numel() != 1:
        raise ValueError(f"log_alpha must be a scalar; got shape {tuple(log_alpha.shape)}")
    if not math.isfinite(target_entropy):
        raise ValueError(f"target_entropy must be finite; got {target_entropy}")
    return (-log_alpha * (log_pi.detach() + target_entropy)).mean()


def dsac_t_critic_loss(
    q: torch.Tensor,
    sigma: torch.Tensor,
    y: torch.Tensor,
    y_z: torch.Tensor,
    omega: float | torch.Tensor,
) -> torch.Tensor:
    """DSAC-T's loss for one distributional critic ``N(q, sigma^2)`` (Duan et al.,
    arXiv:2310.05858, Sec. 4; ``dsac.py``)::

        omega mean[(q - y)^2 / (2 sg(sigma)^2) + (sg(q) - y_z^b)^2 / (2 sigma^2) + log sigma],
        y_z^b = sg(q) + clip(y_z - sg(q), -xi, xi),   xi = 3 mean(sg(sigma)),

    ``y`` the expected target (refinement 1), ``y_z`` the sampled one, ``omega`` the detached
    variance weight (refinement 3).

    Examples
    --------
    >>> q, s = torch.tensor([1.0]), torch.tensor([1.0])
    >>> float(dsac_t_critic_loss(q, s, torch.tensor([0.0]), torch.tensor([2.0]), 2.0))
    2.0
    """
    q, sigma, y, y_z = _same_shape(q=q, sigma=sigma, y=y, y_z=y_z)
    if bool((sigma <= 0).any()):
        raise ValueError("sigma must be positive")
    omega = torch.as_tensor(omega, dtype=q.dtype).detach()
    if omega.numel() != 1 or not bool(omega > 0):
        raise ValueError(f"omega must be a positive scalar; got {omega}")
    sg_q, sg_s = q.detach(), sigma.detach()
    xi = 3.0 * sg_s.mean()
    y_b = sg_q + torch.clamp(y_z.detach() - sg_q, -xi, xi)
    mean_term = (q - y.detach()).square() / (2 * sg_s.square())
    var_term = (sg_q - y_b).square() / (2 * sigma.square()) + sigma.log()
    return omega * (mean_term + var_term).mean()


# ---------------------------------------------------------------- result


@dataclass(frozen=True)
class SACResult:
    """The trained actor (``policy``: obs -> (mean, log_std)), critics, temperature and logs."""

    policy: GaussianActor = field(repr=False)
    critics: tuple[nn.Module, ...] = field(repr=False)
    alpha: float
    config: SACConfig
    action_scale: np.ndarray
    action_bias: np.ndarray
    episode_returns: tuple[float, ...]
    seconds: float
    metrics: list[dict[str, float]] = field(repr=False)

    def act(self, obs: object, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations (B, d) (or one (d,)): the mean (squashed into the
        bounds when ``squash``) or, with ``deterministic=False``, a sample."""
        first = self.policy.mean if self.policy.linear else self.policy.body[0]
        arr = as_float_array("obs", obs)
        one = arr.ndim == 1
        arr = np.atleast_2d(arr)
        if arr.ndim != 2 or arr.shape[1] != first.in_features:
            raise ValueError(f"obs must have shape (B, {first.in_features}); got {arr.shape}")
        p = next(self.policy.parameters())
        x = torch.as_tensor(arr, dtype=p.dtype, device=p.device)
        with torch.no_grad():
            mean, log_std = self.policy(x)
            z = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
            if self.config.squash:
                scale = torch.as_tensor(self.action_scale, dtype=p.dtype)
                z = torch.tanh(z) * scale + torch.as_tensor(self.action_bias, dtype=p.dtype)
        out = z.double().cpu().numpy()
        return out[0] if one else out

    def gaussian(self, obs: object) -> tuple[np.ndarray, np.ndarray]:
        """Pre-squash ``(mean, std)`` at a batch of observations (float64)."""
        arr = np.atleast_2d(as_float_array("obs", obs))
        p = next(self.policy.parameters())
        with torch.no_grad():
            mean, log_std = self.policy(torch.as_tensor(arr, dtype=p.dtype))
        return mean.double().numpy(), log_std.exp().double().numpy()

    def summary(self) -> str:
        last = self.episode_returns[-10:]
        mean = float(np.mean(last)) if last else float("nan")
        name = "DSAC-T" if self.config.dsac_t else "SAC"
        return (
            f"{name}: {self.config.total_timesteps} steps in {self.seconds:.2f} s, alpha "
            f"{self.alpha:.3g}, {len(self.episode_returns)} episodes, last-10 return {mean:.2f}"
        )


def _build_env(env: object) -> gym.Env:
    if isinstance(env, str):
        e = gym.make(env)
    elif callable(env) and not isinstance(env, gym.Env):
        e = env()
    else:
        e = env
    if not isinstance(e, gym.Env):
        raise ArgumentTypeError(
            f"env must be a gymnasium.Env, a factory of one or an id; got {type(e).__name__}"
        )
    space = e.action_space
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"env must have Box actions; got {space}")
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(
            f"env action bounds must be finite; got low={space.low}, high={space.high}"
        )
    if not np.all(space.high > space.low):
        raise ValueError(f"env action bounds must have high > low; got {space.low}, {space.high}")
    return e


# ---------------------------------------------------------------- training loop


def train_sac(
    env: gym.Env | Callable[[], gym.Env] | str,
    config: SACConfig = SACConfig(),
    *,
    seed: int = 0,
    device: str = "cpu",
    progress: bool | None = None,
    log_dir: str | None = None,
) -> SACResult:
    """Train SAC (or DSAC-T with ``config.dsac_t``) on a continuous-action env.

    Parameters
    ----------
    env : gymnasium.Env, callable or str
        ``Box`` actions with finite bounds; observations are flattened.
    config : SACConfig
    seed : int
        Seeds torch, numpy, the env and the replay sampling.
    device : str
    progress, log_dir
        Progress bar and TensorBoard directory (:class:`trainers.runtime.MetricsLog`).

    Raises
    ------
    ValueError
        Action bounds not finite, or a non-finite reward from the env (named ``reward``).
    """
    check_instance("config", config, SACConfig)
    dev = setup(seed, device)
    e = _build_env(env)
    cfg = config
    obs_dim = int(np.prod(e.observation_space.shape))
    act_dim = int(np.prod(e.action_space.shape))
    low, high = e.action_space.low.astype(np.float64), e.action_space.high.astype(np.float64)
    scale_np, bias_np = (high - low) / 2, (high + low) / 2
    scale = torch.as_tensor(scale_np, dtype=torch.float32, device=dev)
    bias = torch.as_tensor(bias_np, dtype=torch.float32, device=dev)
    gamma = cfg.gamma
    if gamma is None:
        task = getattr(e.unwrapped, "task", None)
        gamma = float(task.gamma) if hasattr(task, "gamma") else 0.99
    actor = GaussianActor(obs_dim, act_dim, cfg).to(dev)
    actor_target = copy.deepcopy(actor) if cfg.dsac_t else actor
    critics = [_Critic(obs_dim, act_dim, cfg).to(dev) for _ in range(2)]
    targets = [copy.deepcopy(c) for c in critics]
    q_opt = torch.optim.Adam([p for c in critics for p in c.parameters()], lr=cfg.q_lr)
    pi_opt = torch.optim.Adam(actor.parameters(), lr=cfg.policy_lr)
    target_entropy = -float(act_dim) if cfg.target_entropy is None else cfg.target_entropy
    log_alpha = torch.tensor(math.log(cfg.alpha), device=dev, requires_grad=cfg.autotune)
    a_opt = torch.optim.Adam([log_alpha], lr=cfg.policy_lr) if cfg.autotune else None

    cap = min(cfg.buffer_size, cfg.total_timesteps)
    b_obs = torch.zeros((cap, obs_dim), device=dev)
    b_next = torch.zeros((cap, obs_dim), device=dev)
    b_act = torch.zeros((cap, act_dim), device=dev)
    b_rew, b_term = torch.zeros(cap, device=dev), torch.zeros(cap, device=dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    e.action_space.seed(seed)

    def q_out(c: nn.Module, s: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = c(s, a)
        if not cfg.dsac_t:
            return out[:, 0], torch.ones_like(out[:, 0])
        return out[:, 0], out[:, 1].clamp(SIGMA_LOG_MIN, SIGMA_LOG_MAX).exp()

    def _actor_step(s: torch.Tensor) -> dict[str, torch.Tensor]:
        # --- actor loss [1, Eq. 7] and temperature loss [2, Eq. 18] ---
        a_pi, logp = _sample(actor, s, scale, bias, cfg.squash)
        q_min = torch.minimum(q_out(critics[0], s, a_pi)[0], q_out(critics[1], s, a_pi)[0])
        pi_loss = sac_actor_loss(logp, q_min, log_alpha.exp().detach())
        pi_opt.zero_grad(set_to_none=True)
        pi_loss.backward()
        pi_opt.step()
        out = {"losses/actor": pi_loss.detach()}
        if a_opt is not None:
            a_loss = sac_alpha_loss(log_alpha, logp, target_entropy)
            a_opt.zero_grad(set_to_none=True)
            a_loss.backward()
            a_opt.step()
            out["losses/alpha"] = a_loss.detach()
        return out

    log = MetricsLog(cfg.total_timesteps, progress=progress, log_dir=log_dir)
    obs, _ = e.reset(seed=seed)
    ep_ret, ep_returns, stats, n_updates = 0.0, [], {}, 0
    start = time.perf_counter()
    for step in range(cfg.total_timesteps):
        # --- act: uniform during warm-up, then sample the current policy ---
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(1, -1), device=dev)
        if step < cfg.learning_starts:
            action = e.action_space.sample().astype(np.float32).reshape(-1)
        else:
            with torch.no_grad():
                action = _sample(actor, x, scale, bias, cfg.squash)[0][0].cpu().numpy()
        next_obs, r, term, trunc, _ = e.step(action.reshape(e.action_space.shape))
        if not math.isfinite(float(r)):
            raise ValueError(f"reward must be finite; the env returned {r} at step {step}")
        # --- store (truncation is not termination: the target bootstraps through it) ---
        i = step % cap
        b_obs[i], b_rew[i], b_term[i] = x[0], float(r) * cfg.reward_scale, float(term)
        b_act[i] = torch.as_tensor(action, dtype=torch.float32)
        b_next[i] = torch.as_tensor(np.asarray(next_obs, dtype=np.float32).reshape(-1))
        ep_ret += float(r)
        obs = next_obs
        if term or trunc:
            ep_returns.append(ep_ret)
            ep_ret = 0.0
            obs, _ = e.reset()
        if step >= cfg.learning_starts:
            idx = torch.randint(min(step + 1, cap), (cfg.batch_size,), generator=gen, device=dev)
            s, a, rew, done, s2 = b_obs[idx], b_act[idx], b_rew[idx], b_term[idx], b_next[idx]
            alpha = log_alpha.exp().detach()
            with torch.no_grad():
                a2, logp2 = _sample(actor_target, s2, scale, bias, cfg.squash)
                (m1, s1), (m2, s2_) = (q_out(t, s2, a2) for t in targets)
                q_next = torch.minimum(m1, m2)
                y = rew + gamma * (1 - done) * (q_next - alpha * logp2)
            if not cfg.dsac_t:
                # --- SAC critic loss [1, Eq. 5], twin critics ---
                q_loss = sum(sac_critic_loss(q_out(c, s, a)[0], y) for c in critics)
            else:
                # --- DSAC-T [3]: sampled target from the min-mean critic (refinements 1-2) ---
                with torch.no_grad():
                    sig_next = torch.where(m1 <= m2, s1, s2_)
                    eps = torch.randn(q_next.shape, generator=gen, device=dev).clamp(-3, 3)
                    y_z = rew + gamma * (1 - done) * (q_next + sig_next * eps - alpha * logp2)
                outs = [q_out(c, s, a) for c in critics]
                omega = 0.5 * sum(sg.detach().square().mean() for _, sg in outs)  # refinement 3
                q_loss = sum(dsac_t_critic_loss(q, sg, y, y_z, omega) for q, sg in outs)
            q_opt.zero_grad(set_to_none=True)
            q_loss.backward()
            q_opt.step()
            stats = {"losses/q": q_loss.detach()}
            n_updates += 1
            if n_updates % cfg.policy_frequency == 0:
                # CleanRL compensates the delay with policy_frequency actor updates; DSAC-T
                # (GOPS) makes one update every delay_update steps
                for _ in range(1 if cfg.dsac_t else cfg.policy_frequency):
                    stats.update(_actor_step(s))
            # --- Polyak averaging of the targets ---
            with torch.no_grad():
                pairs = list(zip(critics, targets, strict=True))
                if cfg.dsac_t:
                    pairs.append((actor, actor_target))
                for net, tgt in pairs:
                    for p, pt in zip(net.parameters(), tgt.parameters(), strict=True):
                        pt.lerp_(p, cfg.tau)
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.total_timesteps:
            log.log(
                step + 1,
                {
                    "charts/episodic_return": float(np.mean(ep_returns[-10:])) if ep_returns else 0,
                    "charts/SPS": (step + 1) / (time.perf_counter() - start),
                    "charts/alpha": log_alpha.exp(),
                    **stats,
                },
            )
        log.advance()
    seconds = time.perf_counter() - start
    log.close()
    e.close()
    return SACResult(
        actor,
        tuple(critics),
        float(log_alpha.detach().exp()),
        cfg,
        scale_np,
        bias_np,
        tuple(ep_returns),
        seconds,
        log.rows,
    )
