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
   ``y_z^b = Q + clip(y_z - Q, -xi, xi)`` with ``xi = 3 sigma_bar``, ``sigma_bar`` a moving
   average (rate ``dsac_tau_b``) of the critic's mean sigma;
2. *twin value distribution learning*: two distributional critics, the smaller mean in targets
   and in the actor loss;
3. *variance-based gradient adjustment*: critic ``i``'s loss is scaled by the detached
   ``omega_i = sigma_bar_i^2 + b`` (``b = dsac_bias``, 0.1 in ``dsac.py``), so that its
   gradients are::

       dL/dQ_i = omega_i (Q_i - y) / (sg(sigma_i)^2 + b),
       dL/dsigma_i = -omega_i ((sg(Q_i) - y_z^b)^2 - sg(sigma_i)^2) / (sg(sigma_i)^3 + b)

   (the official surrogate loss, :func:`dsac_t_critic_loss`; with ``b = 0`` they are the
   gradients of the Gaussian negative log-likelihood ``(Q - y)^2 / (2 sigma^2) +
   (Q - y_z^b)^2 / (2 sigma^2) + log sigma``). The bias keeps the gradients bounded when sigma
   is small, which is what happens at small reward scales.

The DSAC-v2 repository's later ``dsac_v2.py`` replaces ``omega`` by a clipped ratio to the
moving average and the squares by Huber losses; this module follows ``dsac.py`` (a best reading
of "the official code"; the variant is not implemented). The target actor (Polyak-averaged like the
critics) is used only when ``dsac_t=True``; SAC samples ``a'`` from the current actor (CleanRL).

Many seeds at once: :func:`train_sac_runs` trains ``R`` seeds as one stacked model (every
network's weights carry a leading run axis, ``(R, in, out)``, evaluated by one batched matrix
product per layer; the twin critics are ``2R`` such networks). Each run has its own
environment, replay buffer, temperature and ``torch.Generator``; the per-run losses (the loss
functions below take an ``(R, B)`` minibatch and return ``(R,)``) are summed, so each run's
parameters receive exactly their own gradient, and Adam's elementwise update keeps the runs
independent. :func:`train_sac` is the case ``R = 1`` of the same loop.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_int,
    check_nonnegative,
    check_seed,
    check_seeds,
)
from trainers.batched import StackedMLP
from trainers.continuous_envs import make_continuous_envs
from trainers.runtime import (
    DISCOUNT,
    FLAG,
    NONNEGATIVE,
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
    "SACRunsResult",
    "dsac_t_critic_loss",
    "sac_actor_loss",
    "sac_alpha_loss",
    "sac_critic_loss",
    "train_sac",
    "train_sac_runs",
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
    dsac_bias: float = 0.1
    """DSAC-T's ``bias`` b in ``omega = sigma_bar^2 + b`` and the denominators
    ``sg(sigma)^2 + b``, ``sg(sigma)^3 + b`` (official ``dsac.py``: 0.1; 0 gives the Gaussian
    negative log-likelihood's gradients)."""
    dsac_tau_b: float | None = None
    """Rate of the moving average ``sigma_bar`` of each critic's mean sigma (official
    ``tau_b``); None: ``tau`` [reconstructed default]."""
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
                "dsac_bias": NONNEGATIVE,
                "dsac_tau_b": optional(UNIT_FRACTION),
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


def _log_std(raw: torch.Tensor) -> torch.Tensor:
    """The actor's raw output mapped into [LOG_STD_MIN, LOG_STD_MAX] by tanh (CleanRL)."""
    return LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1)


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
        return mean, _log_std(raw)

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


class _StackedNet(nn.Module):
    """``n`` networks of one kind on :class:`trainers.batched.StackedMLP`: input ``(n, B, d)``.

    ``kind``: ``"mlp"`` (``d -> hidden -> hidden -> out``, ReLU, ``nn.Linear``'s initialization
    drawn for network ``k`` from ``gens[k]``), ``"quadratic"`` (linear in the degree <= 2
    monomials of the input, zeros) or ``"linear"`` (zeros): the stacked versions of ``_mlp``,
    ``_Quadratic`` and the linear actor.
    """

    def __init__(
        self, kind: str, d: int, out: int, hidden: int, gens: list[torch.Generator]
    ) -> None:
        super().__init__()
        self.iu = torch.triu_indices(d, d, device=gens[0].device) if kind == "quadratic" else None
        sizes = {"mlp": (d, hidden, hidden, out), "linear": (d, out)}.get(
            kind, (d + d * (d + 1) // 2, out)
        )
        self.mlp = StackedMLP(sizes, gens, init="uniform" if kind == "mlp" else "zeros")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.iu is not None:
            outer = (z.unsqueeze(-1) * z.unsqueeze(-2))[..., self.iu[0], self.iu[1]]
            z = torch.cat([z, outer], -1)
        return self.mlp(z)


def _linears(m: nn.Module) -> list[nn.Linear]:
    return [x for x in m.modules() if isinstance(x, nn.Linear)]


def _plain_module(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` without drawing from torch's global generator (its weights get overwritten)."""
    with torch.random.fork_rng(devices=[]):
        return build()


class _StackedActor(nn.Module):
    """:class:`GaussianActor` of ``R`` runs: ``obs (R, B, d) -> (mean, log_std)``, each
    ``(R, B, dim A)``; run ``r`` initialized from ``gens[r]``."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig, gens: list[torch.Generator]):
        super().__init__()
        self.obs_dim, self.act_dim, self.cfg = obs_dim, act_dim, cfg
        self.linear = cfg.features == "quadratic"
        if self.linear:
            self.net = _StackedNet("linear", obs_dim, act_dim, cfg.hidden, gens)
            self.log_std = nn.Parameter(torch.zeros(len(gens), 1, act_dim, device=gens[0].device))
        else:
            self.net = _StackedNet("mlp", obs_dim, 2 * act_dim, cfg.hidden, gens)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.linear:
            mean = self.net(obs)
            raw = self.log_std.expand_as(mean)
        else:
            mean, raw = self.net(obs).chunk(2, -1)
        return mean, _log_std(raw)

    def module(self, r: int) -> GaussianActor:
        """Run ``r`` as a (new) :class:`GaussianActor`."""
        actor = _plain_module(lambda: GaussianActor(self.obs_dim, self.act_dim, self.cfg))
        self.net.mlp.load_into(r, _linears(actor))
        if self.linear:
            with torch.no_grad():
                actor.log_std.copy_(self.log_std[r, 0])
        return actor.to(self.net.mlp.weights[0].device)


class _StackedCritics(nn.Module):
    """The twin critics of ``R`` runs as ``2R`` networks (critic ``i`` of run ``r`` at
    ``i R + r``): ``(s, a)``, each ``(R, B, .)``, -> ``(2, R, B, 1 or 2)``."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig, gens: list[torch.Generator]):
        super().__init__()
        self.obs_dim, self.act_dim, self.cfg, self.runs = obs_dim, act_dim, cfg, len(gens)
        kind = "quadratic" if cfg.features == "quadratic" else "mlp"
        out = 2 if cfg.dsac_t else 1
        self.net = _StackedNet(kind, obs_dim + act_dim, out, cfg.hidden, gens + gens)

    def forward(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        z = torch.cat([s, a], -1)
        out = self.net(torch.cat([z, z], 0))
        return out.view(2, self.runs, *out.shape[1:])

    def modules_of(self, r: int) -> tuple[nn.Module, nn.Module]:
        """Run ``r``'s two critics as (new) ``_Critic`` modules."""
        out = []
        for i in range(2):
            c = _plain_module(lambda: _Critic(self.obs_dim, self.act_dim, self.cfg))
            self.net.mlp.load_into(i * self.runs + r, _linears(c))
            out.append(c.to(self.net.mlp.weights[0].device))
        return out[0], out[1]


def _noise(gens: list[torch.Generator], shape: tuple[int, ...]) -> torch.Tensor:
    """Standard normal noise ``(R, *shape)``, run ``r``'s from its own generator ``gens[r]``
    (so that no run's draws depend on another's)."""
    if len(gens) == 1:
        return torch.randn(shape, generator=gens[0], device=gens[0].device).unsqueeze(0)
    return torch.stack([torch.randn(shape, generator=g, device=g.device) for g in gens])


def _sample(
    actor: nn.Module,
    obs: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor,
    squash: bool,
    noise: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A reparameterized action ``z = mean + std * noise`` and its log-density (with the tanh
    correction when squashed); ``noise`` standard normal of the mean's shape (None: drawn from
    torch's global generator)."""
    mean, log_std = actor(obs)
    eps = torch.randn_like(mean) if noise is None else noise
    z = mean + log_std.exp() * eps
    logp = -0.5 * eps.square() - log_std - 0.5 * math.log(2 * math.pi)  # log N(z; mean, std^2)
    if squash:
        y = torch.tanh(z)
        logp = logp - torch.log(scale * (1 - y.pow(2)) + 1e-6)
        return y * scale + bias, logp.sum(-1)
    return z, logp.sum(-1)


# ---------------------------------------------------------------- losses
#
# Every loss takes a minibatch of shape (B,) or, for R stacked runs, (R, B): it averages over
# the last axis and returns a scalar or the (R,) per-run losses (their sum gives each run its
# own gradient).


def _tensor(name: str, v: object) -> torch.Tensor:
    if not isinstance(v, torch.Tensor):
        raise ArgumentTypeError(f"{name} must be a torch.Tensor; got {type(v).__name__}")
    return v


def _same_shape(**tensors: object) -> list[torch.Tensor]:
    names = list(tensors)
    ts = [_tensor(k, v) for k, v in tensors.items()]
    if ts[0].ndim not in (1, 2):
        raise ValueError(
            f"{names[0]} must have shape (B,) or (R, B) (R runs); got {tuple(ts[0].shape)}"
        )
    for k, t in zip(names[1:], ts[1:], strict=True):
        if t.shape != ts[0].shape:
            raise ValueError(
                f"{k} must have the shape of {names[0]} {tuple(ts[0].shape)}; got {tuple(t.shape)}"
            )
    return ts


def _per_run(name: str, v: object, like: torch.Tensor) -> torch.Tensor:
    """A positive scalar or one value per run (shape ``like.shape[:-1]``), detached."""
    v = torch.as_tensor(v, dtype=like.dtype, device=like.device).detach()
    if v.numel() == 1:
        v = v.reshape(())
    elif v.shape != like.shape[:-1]:
        raise ValueError(
            f"{name} must be a scalar or have shape {tuple(like.shape[:-1])} (one per run); "
            f"got shape {tuple(v.shape)}"
        )
    if not bool((v > 0).all()):
        raise ValueError(f"{name} must be positive; got {v}")
    return v


def sac_critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SAC's critic loss for one critic: ``1/2 mean (q - target)^2`` (Haarnoja et al. 2018,
    Eq. 5), ``target`` detached; over the last axis for (R, B) inputs (one loss per run).

    Examples
    --------
    >>> float(sac_critic_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])))
    1.25
    >>> sac_critic_loss(torch.tensor([[1.0, 2.0], [0.0, 2.0]]), torch.zeros(2, 2)).tolist()
    [1.25, 1.0]
    """
    q, target = _same_shape(q=q, target=target)
    return 0.5 * (q - target.detach()).square().mean(-1)


def sac_actor_loss(
    log_pi: torch.Tensor, q_min: torch.Tensor, alpha: float | torch.Tensor
) -> torch.Tensor:
    """``mean(alpha log pi - min_i Q_i)`` (Haarnoja et al. 2018, Eq. 7 reparameterized); over
    the last axis for (R, B) inputs, ``alpha`` then a scalar or one per run (R,).

    Examples
    --------
    >>> float(sac_actor_loss(torch.tensor([-1.0, 0.0]), torch.tensor([2.0, 4.0]), 0.5))
    -3.25
    """
    log_pi, q_min = _same_shape(log_pi=log_pi, q_min=q_min)
    alpha = _per_run("alpha", alpha, log_pi)
    alpha = alpha.unsqueeze(-1) if alpha.ndim else alpha
    return (alpha * log_pi - q_min).mean(-1)


def sac_alpha_loss(
    log_alpha: torch.Tensor, log_pi: torch.Tensor, target_entropy: float
) -> torch.Tensor:
    """``mean(-log alpha (log pi + H_target))`` with ``log pi`` detached (arXiv:1812.05905,
    Eq. 18, in log alpha as SB3/CleanRL); for (R, B) ``log_pi``, ``log_alpha`` has shape (R,)
    and the result is one loss per run.

    Examples
    --------
    >>> float(sac_alpha_loss(torch.tensor(0.5), torch.tensor([-1.0, -3.0]), -1.0))
    1.5
    """
    log_alpha, log_pi = _tensor("log_alpha", log_alpha), _tensor("log_pi", log_pi)
    if log_pi.ndim not in (1, 2):
        raise ValueError(f"log_pi must have shape (B,) or (R, B); got {tuple(log_pi.shape)}")
    if log_pi.ndim == 1 and log_alpha.numel() != 1:
        raise ValueError(f"log_alpha must be a scalar; got shape {tuple(log_alpha.shape)}")
    if log_pi.ndim == 2 and log_alpha.shape != log_pi.shape[:1]:
        raise ValueError(
            f"log_alpha must have shape {tuple(log_pi.shape[:1])} (one per run); "
            f"got {tuple(log_alpha.shape)}"
        )
    if not math.isfinite(target_entropy):
        raise ValueError(f"target_entropy must be finite; got {target_entropy}")
    la = log_alpha.reshape(-1, 1) if log_pi.ndim == 2 else log_alpha.reshape(())
    return (-la * (log_pi.detach() + target_entropy)).mean(-1)


def dsac_t_critic_loss(
    q: torch.Tensor,
    sigma: torch.Tensor,
    y: torch.Tensor,
    y_z: torch.Tensor,
    omega: float | torch.Tensor,
    *,
    xi: float | torch.Tensor | None = None,
    bias: float = 0.1,
) -> torch.Tensor:
    """DSAC-T's surrogate loss for one distributional critic ``N(q, sigma^2)`` (Duan et al.,
    arXiv:2310.05858, Sec. 4; official ``dsac.py``)::

        omega mean[(q - y)^2 / (2 (sg(sigma)^2 + b))
                   - ((sg(q) - y_z^b)^2 - sg(sigma)^2) / (sg(sigma)^3 + b) sigma],
        y_z^b = sg(q) + clip(y_z - sg(q), -xi, xi),

    ``y`` the expected target (refinement 1), ``y_z`` the sampled one, ``omega`` the detached
    variance weight (refinement 3; the trainer passes ``sigma_bar^2 + b``), ``xi`` the clip
    (default ``3 mean(sg(sigma))``; the trainer passes ``3 sigma_bar``), ``b = bias``. Only the
    gradients matter (module docstring); with ``bias = 0`` they equal those of the Gaussian
    negative log-likelihood. For (R, B) inputs the means (and the default ``xi``) are over the
    last axis, ``omega`` and ``xi`` a scalar or one per run (R,), and the result one loss per run.

    Examples
    --------
    >>> q, s = torch.tensor([1.0]), torch.tensor([1.0])
    >>> float(dsac_t_critic_loss(q, s, torch.tensor([0.0]), torch.tensor([2.0]), 2.0, bias=0.0))
    1.0
    """
    q, sigma, y, y_z = _same_shape(q=q, sigma=sigma, y=y, y_z=y_z)
    if bool((sigma <= 0).any()):
        raise ValueError("sigma must be positive")
    omega = _per_run("omega", omega, q)
    bias = check_nonnegative("bias", bias)
    sg_q, sg_s = q.detach(), sigma.detach()
    xi = 3.0 * sg_s.mean(-1) if xi is None else _per_run("xi", xi, q)
    xi = xi.unsqueeze(-1) if xi.ndim else xi
    y_b = sg_q + torch.clamp(y_z.detach() - sg_q, -xi, xi)
    mean_term = (q - y.detach()).square() / (2 * (sg_s.square() + bias))
    var_term = -((sg_q - y_b).square() - sg_s.square()) / (sg_s.pow(3) + bias) * sigma
    return omega * (mean_term + var_term).mean(-1)


# ---------------------------------------------------------------- results


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
                scale = torch.as_tensor(self.action_scale, dtype=p.dtype, device=p.device)
                bias = torch.as_tensor(self.action_bias, dtype=p.dtype, device=p.device)
                z = torch.tanh(z) * scale + bias
        out = z.double().cpu().numpy()
        return out[0] if one else out

    def gaussian(self, obs: object) -> tuple[np.ndarray, np.ndarray]:
        """Pre-squash ``(mean, std)`` at a batch of observations (float64)."""
        arr = np.atleast_2d(as_float_array("obs", obs))
        p = next(self.policy.parameters())
        with torch.no_grad():
            mean, log_std = self.policy(torch.as_tensor(arr, dtype=p.dtype, device=p.device))
        return mean.double().cpu().numpy(), log_std.exp().double().cpu().numpy()

    def summary(self) -> str:
        last = self.episode_returns[-10:]
        mean = float(np.mean(last)) if last else float("nan")
        name = "DSAC-T" if self.config.dsac_t else "SAC"
        return (
            f"{name}: {self.config.total_timesteps} steps in {self.seconds:.2f} s, alpha "
            f"{self.alpha:.3g}, {len(self.episode_returns)} episodes, last-10 return {mean:.2f}"
        )


@dataclass(frozen=True)
class SACRunsResult:
    """``R`` runs of SAC / DSAC-T trained as one stacked model (:func:`train_sac_runs`).

    ``run(i)`` is run ``i`` (seed ``seeds[i]``) as a :class:`SACResult`; ``seconds`` is the
    time of the whole batched training (shared by the runs).
    """

    actor: _StackedActor = field(repr=False)
    critics: _StackedCritics = field(repr=False)
    alphas: tuple[float, ...]
    config: SACConfig
    seeds: tuple[int, ...]
    action_scale: np.ndarray
    action_bias: np.ndarray
    episode_returns: tuple[tuple[float, ...], ...]
    seconds: float
    metrics: tuple[list[dict[str, float]], ...] = field(repr=False)

    @property
    def runs(self) -> int:
        return len(self.seeds)

    def run(self, i: int) -> SACResult:
        """Run ``i`` as a :class:`SACResult` (new modules holding copies of its parameters)."""
        i = check_int("i", i, lo=0, hi=self.runs - 1)
        return SACResult(
            self.actor.module(i),
            self.critics.modules_of(i),
            self.alphas[i],
            self.config,
            self.action_scale,
            self.action_bias,
            self.episode_returns[i],
            self.seconds,
            self.metrics[i],
        )

    def summary(self) -> str:
        last = [float(np.mean(r[-10:])) if r else float("nan") for r in self.episode_returns]
        name = "DSAC-T" if self.config.dsac_t else "SAC"
        return (
            f"{name}: {self.runs} runs x {self.config.total_timesteps} steps in "
            f"{self.seconds:.2f} s, last-10 return per run "
            f"[{', '.join(f'{x:.2f}' for x in last)}]"
        )


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

    This is ``train_sac_runs(env, config, seeds=[seed]).run(0)``: one loop serves one seed and
    many.

    Parameters
    ----------
    env : gymnasium.Env, callable or str
        ``Box`` actions with finite bounds; observations are flattened.
    config : SACConfig
    seed : int
        Seeds the networks' initialization, the env, its warm-up actions, the policy's noise and
        the replay sampling (one ``torch.Generator``).
    device : str
    progress, log_dir
        Progress bar and TensorBoard directory (:class:`trainers.runtime.MetricsLog`).

    Raises
    ------
    ValueError
        Action bounds not finite, or a non-finite reward from the env (named ``reward``).
    """
    seed = check_seed(seed)
    return _train(env, config, [seed], device, progress, log_dir).run(0)


def train_sac_runs(
    env: Callable[[], gym.Env] | str,
    config: SACConfig = SACConfig(),
    *,
    seeds: Sequence[int] = (0, 1, 2),
    device: str = "cpu",
    progress: bool | None = None,
    log_dir: str | None = None,
) -> SACRunsResult:
    """Train SAC / DSAC-T for several seeds at once, as one stacked model.

    Run ``r`` has its own environment (built by ``env``, reset with ``seeds[r]``), its own
    actor, twin critics, targets, replay buffer, temperature and ``torch.Generator`` (seeded
    with ``seeds[r]``: initialization, policy noise, minibatch indices). The networks are
    stacked along a leading run axis and evaluated with one batched matrix product per layer;
    the per-run losses are summed, so each run's parameters receive exactly their own gradient,
    and Adam's elementwise update keeps the runs independent: run ``r``'s trajectory does not
    depend on the other seeds. The loop is :func:`train_sac`'s (which is this with one seed).

    Parameters
    ----------
    env : callable or str
        A factory of, or the id of, a ``gymnasium.Env`` with ``Box`` actions with finite
        bounds (an instance is accepted for a single seed only).
    config : SACConfig
    seeds : sequence of int
        Distinct seeds, one run each (a repeated seed would repeat its run exactly, so it is
        refused).
    device : str
    progress, log_dir
        Progress bar and TensorBoard directory; the logged scalars are the means over runs
        (``metrics`` of the result keeps each run's).

    Returns
    -------
    SACRunsResult

    Raises
    ------
    ValueError
        Empty or repeated ``seeds``, action bounds not finite, an env instance for several
        seeds, or a non-finite reward (named ``reward``, with the run's seed).

    Examples
    --------
    >>> from theory.continuous import lq_task
    >>> from trainers.continuous_envs import LQEnv
    >>> task = lq_task(1.0, 1.0, 1.0, 0.5, gamma=0.9)
    >>> cfg = SACConfig(features="quadratic", total_timesteps=30, learning_starts=20)
    >>> res = train_sac_runs(lambda: LQEnv(task), cfg, seeds=[0, 1], progress=False)
    >>> res.runs, res.run(1).act([0.5]).shape
    (2, (1,))
    """
    seeds = check_seeds(seeds)
    return _train(env, config, seeds, device, progress, log_dir)


def _train(
    env: object,
    config: SACConfig,
    seeds: list[int],
    device: str,
    progress: bool | None,
    log_dir: str | None,
) -> SACRunsResult:
    """The training loop of ``R = len(seeds)`` stacked runs (CleanRL's, batched over runs)."""
    check_instance("config", config, SACConfig)
    dev = setup(seeds[0], device)
    cfg, R = config, len(seeds)
    envs = make_continuous_envs([env] * R)
    e0 = envs[0]
    obs_dim = int(np.prod(e0.observation_space.shape))
    act_dim = int(np.prod(e0.action_space.shape))
    low, high = e0.action_space.low.astype(np.float64), e0.action_space.high.astype(np.float64)
    scale_np, bias_np = (high - low) / 2, (high + low) / 2
    scale = torch.as_tensor(scale_np, dtype=torch.float32, device=dev)
    bias = torch.as_tensor(bias_np, dtype=torch.float32, device=dev)
    gamma = cfg.gamma
    if gamma is None:
        task = getattr(e0.unwrapped, "task", None)
        gamma = float(task.gamma) if hasattr(task, "gamma") else 0.99
    gens = [torch.Generator(device=dev).manual_seed(s) for s in seeds]
    actor = _StackedActor(obs_dim, act_dim, cfg, gens)
    actor_target = copy.deepcopy(actor) if cfg.dsac_t else actor
    critics = _StackedCritics(obs_dim, act_dim, cfg, gens)
    targets = copy.deepcopy(critics)
    q_opt = torch.optim.Adam(critics.parameters(), lr=cfg.q_lr)
    pi_opt = torch.optim.Adam(actor.parameters(), lr=cfg.policy_lr)
    target_entropy = -float(act_dim) if cfg.target_entropy is None else cfg.target_entropy
    log_alpha = torch.full((R,), math.log(cfg.alpha), device=dev, requires_grad=cfg.autotune)
    a_opt = torch.optim.Adam([log_alpha], lr=cfg.policy_lr) if cfg.autotune else None
    polyak = list(zip(critics.parameters(), targets.parameters(), strict=True))
    if cfg.dsac_t:
        polyak += list(zip(actor.parameters(), actor_target.parameters(), strict=True))

    # --- replay buffer with a run axis, flattened to (R cap, .) for one gather per field ---
    cap = min(cfg.buffer_size, cfg.total_timesteps)
    b_obs = torch.zeros((R * cap, obs_dim), device=dev)
    b_next = torch.zeros((R * cap, obs_dim), device=dev)
    b_act = torch.zeros((R * cap, act_dim), device=dev)
    b_rew, b_term = torch.zeros(R * cap, device=dev), torch.zeros(R * cap, device=dev)
    offsets = torch.arange(R, device=dev).unsqueeze(1) * cap  # row r of run r's slot 0
    for e, s in zip(envs, seeds, strict=True):
        e.action_space.seed(s)

    def q_out(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and standard deviations (ones for SAC) of critics' outputs (2, R, B, k)."""
        if not cfg.dsac_t:
            return out[..., 0], torch.ones_like(out[..., 0])
        return out[..., 0], out[..., 1].clamp(SIGMA_LOG_MIN, SIGMA_LOG_MAX).exp()

    def _actor_step(s: torch.Tensor) -> dict[str, torch.Tensor]:
        # --- actor loss [1, Eq. 7] and temperature loss [2, Eq. 18], per run, summed ---
        a_pi, logp = _sample(actor, s, scale, bias, cfg.squash, _noise(gens, (B, act_dim)))
        m = q_out(critics(s, a_pi))[0]
        pi_loss = sac_actor_loss(logp, torch.minimum(m[0], m[1]), log_alpha.exp().detach())
        pi_opt.zero_grad(set_to_none=True)
        pi_loss.sum().backward()
        pi_opt.step()
        out = {"losses/actor": pi_loss.detach()}
        if a_opt is not None:
            a_loss = sac_alpha_loss(log_alpha, logp, target_entropy)
            a_opt.zero_grad(set_to_none=True)
            a_loss.sum().backward()
            a_opt.step()
            out["losses/alpha"] = a_loss.detach()
        return out

    log = MetricsLog(cfg.total_timesteps, progress=progress, log_dir=log_dir)
    obs = [e.reset(seed=s)[0] for e, s in zip(envs, seeds, strict=True)]
    ep_ret = [0.0] * R
    ep_returns: list[list[float]] = [[] for _ in range(R)]
    rows: list[list[dict[str, float]]] = [[] for _ in range(R)]
    stats: dict[str, torch.Tensor] = {}
    n_updates, B = 0, cfg.batch_size
    sigma_bar: torch.Tensor | None = None  # DSAC-T: (2, R) moving average of each critic's sigma
    tau_b = cfg.tau if cfg.dsac_tau_b is None else cfg.dsac_tau_b
    start = time.perf_counter()
    for step in range(cfg.total_timesteps):
        # --- act: uniform during warm-up, then sample the current policy ---
        x_np = np.stack([np.asarray(o, dtype=np.float32).reshape(-1) for o in obs])
        x = torch.as_tensor(x_np, device=dev)
        if step < cfg.learning_starts:
            actions = np.stack(
                [e.action_space.sample().astype(np.float32).reshape(-1) for e in envs]
            )
        else:
            with torch.no_grad():
                a, _ = _sample(
                    actor, x.unsqueeze(1), scale, bias, cfg.squash, _noise(gens, (1, act_dim))
                )
                actions = a[:, 0].cpu().numpy()
        rew, term, nxt = np.zeros(R), np.zeros(R), np.zeros((R, obs_dim), dtype=np.float32)
        for r, e in enumerate(envs):
            next_obs, rr, te, tr, _ = e.step(actions[r].reshape(e.action_space.shape))
            if not math.isfinite(float(rr)):
                raise ValueError(
                    f"reward must be finite; the env of seed {seeds[r]} returned {rr} at step "
                    f"{step}"
                )
            rew[r], term[r] = float(rr), float(te)
            nxt[r] = np.asarray(next_obs, dtype=np.float32).reshape(-1)
            ep_ret[r] += float(rr)
            obs[r] = next_obs
            if te or tr:  # truncation is not termination: the target bootstraps through it
                ep_returns[r].append(ep_ret[r])
                ep_ret[r] = 0.0
                obs[r], _ = e.reset()
        # --- store ---
        i = offsets[:, 0] + step % cap
        b_obs[i], b_next[i] = x, torch.as_tensor(nxt, device=dev)
        b_act[i] = torch.as_tensor(actions, dtype=torch.float32, device=dev)
        b_rew[i] = torch.as_tensor(rew * cfg.reward_scale, dtype=torch.float32, device=dev)
        b_term[i] = torch.as_tensor(term, dtype=torch.float32, device=dev)
        if step >= cfg.learning_starts:
            # --- minibatch: each run's indices from its own generator ---
            n = min(step + 1, cap)
            if R == 1:
                idx = torch.randint(n, (1, B), generator=gens[0], device=dev)
            else:
                idx = torch.stack([torch.randint(n, (B,), generator=g, device=dev) for g in gens])
            flat = (idx + offsets).view(-1)
            s, a = b_obs[flat].view(R, B, obs_dim), b_act[flat].view(R, B, act_dim)
            s2 = b_next[flat].view(R, B, obs_dim)
            rew_b, done = b_rew[flat].view(R, B), b_term[flat].view(R, B)
            alpha = log_alpha.exp().detach().unsqueeze(1)
            with torch.no_grad():
                a2, logp2 = _sample(
                    actor_target, s2, scale, bias, cfg.squash, _noise(gens, (B, act_dim))
                )
                m_next, sig_next2 = q_out(targets(s2, a2))
                q_next = torch.minimum(m_next[0], m_next[1])
                y = rew_b + gamma * (1 - done) * (q_next - alpha * logp2)
            m, sig = q_out(critics(s, a))
            if not cfg.dsac_t:
                # --- SAC critic loss [1, Eq. 5], twin critics ---
                q_loss = sac_critic_loss(m[0], y) + sac_critic_loss(m[1], y)
            else:
                # --- DSAC-T [3]: sampled target from the min-mean critic (refinements 1-2) ---
                with torch.no_grad():
                    sig_next = torch.where(m_next[0] <= m_next[1], sig_next2[0], sig_next2[1])
                    eps = _noise(gens, (B,)).clamp(-3, 3)
                    y_z = rew_b + gamma * (1 - done) * (q_next + sig_next * eps - alpha * logp2)
                # refinement 3: per critic and run, the moving average of the mean sigma
                batch_sigma = sig.detach().mean(-1)  # (2, R)
                sigma_bar = (
                    batch_sigma if sigma_bar is None else torch.lerp(sigma_bar, batch_sigma, tau_b)
                )
                omega = sigma_bar.square() + cfg.dsac_bias
                q_loss = sum(
                    dsac_t_critic_loss(
                        m[i], sig[i], y, y_z, omega[i], xi=3 * sigma_bar[i], bias=cfg.dsac_bias
                    )
                    for i in range(2)
                )
            q_opt.zero_grad(set_to_none=True)
            q_loss.sum().backward()
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
                for p, pt in polyak:
                    pt.lerp_(p, cfg.tau)
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.total_timesteps:
            per_run = {
                "charts/episodic_return": [
                    float(np.mean(er[-10:])) if er else 0.0 for er in ep_returns
                ],
                "charts/SPS": [(step + 1) / (time.perf_counter() - start)] * R,
                "charts/alpha": log_alpha.detach().exp().tolist(),
                **{k: v.tolist() for k, v in stats.items()},
            }
            for r in range(R):
                rows[r].append({"step": float(step + 1), **{k: v[r] for k, v in per_run.items()}})
            log.log(step + 1, {k: float(np.mean(v)) for k, v in per_run.items()})
        log.advance()
    seconds = time.perf_counter() - start
    log.close()
    for e in envs:
        e.close()
    return SACRunsResult(
        actor,
        critics,
        tuple(log_alpha.detach().exp().tolist()),
        cfg,
        tuple(seeds),
        scale_np,
        bias_np,
        tuple(tuple(er) for er in ep_returns),
        seconds,
        tuple(rows),
    )
