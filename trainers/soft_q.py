"""Entropy-regularized soft Q-learning and discrete SAC (off-policy, replay buffer, target nets).

Read top to bottom: config, networks, replay buffer, then the loop of CleanRL's ``dqn.py`` /
``sac_atari.py``: act, store, sample a minibatch, regress Q on the soft target, (SAC) update the
actor and the temperature, Polyak-average the targets. With temperature ``alpha`` both learn the
soft-optimal Q of the entropy-regularized objective ``E[sum_t gamma^t (r_t + alpha H(pi(.|s_t)))]``

    Q(s, a) = r(s, a) + gamma E_{s'} V(s'),
    V(s) = alpha log sum_a exp(Q(s, a) / alpha) = sum_a pi(a|s) (Q(s, a) - alpha log pi(a|s)),

whose policy ``pi = softmax(Q / alpha)`` is :func:`theory.soft_optimal_policy` (Xu 2025,
Prop 4.7). Two algorithms:

- ``"soft_q"`` (Haarnoja et al. 2017, Eq. 4-5, discrete actions): one Q network, the policy is
  ``softmax(Q / alpha)`` and the target uses the log-sum-exp value of the target network;
- ``"sac"`` (discrete SAC, Christodoulou 2019, Eq. 10-12): twin Q networks with the minimum in
  the target, a separate actor trained on ``sum_a pi (alpha log pi - min Q)`` and, with
  ``autotune``, the temperature trained on ``-log alpha (log pi + target_entropy)`` (SB3/CleanRL
  write it in log alpha).

Truncation (``TabularMDPEnv``'s horizon) is not termination: targets bootstrap through it, so the
fixed point is the infinite-horizon soft Q that the theory computes. On a ``TabularMDPEnv`` the
discount defaults to the MDP's. ``hidden=0`` makes every network a table (a bias-free linear map
of one-hot observations), the setting where the learned policy must match the theory
(``tests/trainers/test_soft_q.py``, claim ``trainers/soft-q-matches-theory``).

References
----------
.. [1] T. Haarnoja, H. Tang, P. Abbeel, S. Levine, "Reinforcement Learning with Deep
   Energy-Based Policies", ICML 2017, Eq. (4)-(5) (soft Q-learning).
.. [2] P. Christodoulou, "Soft Actor-Critic for Discrete Action Settings", arXiv:1910.07207,
   2019, Eq. (10)-(12).
.. [3] T. Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", arXiv:1812.05905,
   2018, §5 (temperature loss, Eq. 18); CleanRL ``sac_atari.py``.
.. [4] X. Xu, "The Policy Cliff", arXiv:2507.20150, 2025, Prop 4.7.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from theory.checks import as_float_array, check_positive_int
from trainers import losses as L
from trainers.envs import TabularMDPEnv, build_env
from trainers.runtime import (
    DISCOUNT,
    FLAG,
    NONNEGATIVE_INT,
    OPEN_UNIT,
    POSITIVE,
    POSITIVE_INT,
    UNIT_FRACTION,
    MetricsLog,
    check_config,
    check_instance,
    one_of,
    optional,
    save_checkpoint,
    setup,
)

__all__ = ["SoftQConfig", "SoftQResult", "train_soft_q"]

ALGORITHMS = ("soft_q", "sac")


@dataclass(frozen=True)
class SoftQConfig:
    """Hyperparameters of soft Q-learning / discrete SAC."""

    algorithm: str = "soft_q"
    """'soft_q' (one Q net, policy softmax(Q/alpha)) or 'sac' (twin Q nets and an actor)."""
    alpha: float = 0.5
    """Entropy temperature (initial value when ``autotune``)."""
    autotune: bool = False
    """SAC only: learn alpha towards ``target_entropy_scale * log(A)`` (CleanRL sac_atari)."""
    target_entropy_scale: float = 0.89
    """Target entropy as a fraction of the maximum ``log A`` (CleanRL's 0.89)."""
    gamma: float | None = None
    """Discount; None: the MDP's for a TabularMDPEnv, else 0.99."""
    total_timesteps: int = 6000
    """Environment steps."""
    learning_starts: int = 200
    """Uniformly random actions (and no updates) for this many steps (below ``total_timesteps``)."""
    buffer_size: int = 100_000
    """Replay capacity (transitions)."""
    batch_size: int = 64
    """Minibatch size."""
    train_frequency: int = 1
    """One gradient update every this many environment steps."""
    q_lr: float = 0.05
    """Adam learning rate of the Q networks."""
    policy_lr: float = 0.05
    """Adam learning rate of the SAC actor (and of log alpha)."""
    anneal_lr: bool = True
    """Decay the learning rates linearly to 0 (removes the minibatch noise at the end)."""
    tau: float = 0.1
    """Polyak weight of the target networks (1.0: hard copy)."""
    hidden: int = 0
    """0: tables (bias-free linear maps; for one-hot observations); else a 2-layer ReLU MLP."""
    log_every: int = 500
    """Log metrics every this many environment steps."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "algorithm": one_of(*ALGORITHMS),
                "alpha": POSITIVE,
                "autotune": FLAG,
                "target_entropy_scale": OPEN_UNIT,
                "gamma": optional(DISCOUNT),
                "total_timesteps": POSITIVE_INT,
                "learning_starts": NONNEGATIVE_INT,
                "buffer_size": POSITIVE_INT,
                "batch_size": POSITIVE_INT,
                "train_frequency": POSITIVE_INT,
                "q_lr": POSITIVE,
                "policy_lr": POSITIVE,
                "anneal_lr": FLAG,
                "tau": UNIT_FRACTION,
                "hidden": NONNEGATIVE_INT,
                "log_every": POSITIVE_INT,
            },
        )
        if self.autotune and self.algorithm != "sac":
            raise ValueError("SoftQConfig.autotune must be False unless algorithm='sac'; got True")
        if self.learning_starts >= self.total_timesteps:
            raise ValueError(
                f"SoftQConfig.learning_starts must be below total_timesteps = "
                f"{self.total_timesteps} (else no gradient update runs); got {self.learning_starts}"
            )


def _net(obs_dim: int, n_actions: int, hidden: int) -> nn.Module:
    """A table (``hidden=0``: bias-free linear, zero-initialized) or a ReLU MLP."""
    if hidden == 0:
        net = nn.Linear(obs_dim, n_actions, bias=False)
        nn.init.zeros_(net.weight)
        return net
    return nn.Sequential(
        nn.Linear(obs_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_actions),
    )


@dataclass(frozen=True)
class SoftQResult:
    """Trained networks, the final temperature, episode returns and the metrics table."""

    q_nets: tuple[nn.Module, ...] = field(repr=False)
    actor: nn.Module | None = field(repr=False)
    alpha: float
    config: SoftQConfig
    episode_returns: tuple[float, ...]
    seconds: float
    metrics: list[dict[str, float]] = field(repr=False)

    def policy(self, obs: torch.Tensor | np.ndarray) -> np.ndarray:
        """Action probabilities (float64), shape (B, A): the actor's, or ``softmax(Q/alpha)``.

        ``obs`` is a finite (B, d) batch of the env's flat observations (checked).
        """
        net = self.actor if self.actor is not None else self.q_nets[0]
        p = next(net.parameters())
        first = next((m for m in net.modules() if isinstance(m, nn.Linear)), None)
        d = None if first is None else first.in_features
        arr = as_float_array("obs", obs, shape=(None, d))
        x = torch.as_tensor(arr, dtype=p.dtype, device=p.device)
        with torch.no_grad():
            z = net(x) if self.actor is not None else net(x) / self.alpha
            return L.log_softmax(z.double()).exp().cpu().numpy()

    def tabular_policy(self, n_states: int) -> np.ndarray:
        """The policy on the one-hot observations of a ``TabularMDPEnv`` with ``n_states``
        (the networks' input size)."""
        check_positive_int("n_states", n_states)
        return self.policy(np.eye(n_states, dtype=np.float32))

    def state_dict(self) -> dict[str, torch.Tensor]:
        out = {f"q{i}.{k}": v for i, q in enumerate(self.q_nets) for k, v in q.state_dict().items()}
        if self.actor is not None:
            out.update({f"actor.{k}": v for k, v in self.actor.state_dict().items()})
        return out

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Checkpoint: ``path.pt`` (all networks) and ``path.json`` (the config)."""
        return save_checkpoint(path, self.state_dict(), self.config)

    def summary(self) -> str:
        last = self.episode_returns[-20:]
        mean = float(np.mean(last)) if last else float("nan")
        return (
            f"{self.config.algorithm}: {self.config.total_timesteps} steps in {self.seconds:.2f} s, "
            f"alpha {self.alpha:.3g}, {len(self.episode_returns)} episodes, last-20 return {mean:.2f}"
        )


def train_soft_q(
    env: gym.Env | Callable[[], gym.Env] | object,
    config: SoftQConfig = SoftQConfig(),
    *,
    seed: int = 0,
    device: str = "cpu",
    progress: bool | None = None,
    log_dir: str | None = None,
) -> SoftQResult:
    """Train soft Q-learning or discrete SAC on ``env`` (gymnasium env, factory, id or TabularMDP).

    Parameters
    ----------
    env : gymnasium.Env, callable, str or theory.TabularMDP
        Discrete actions; observations are flattened.
    config : SoftQConfig
    seed : int
        Seeds torch, numpy, the environment and the replay sampling.
    device : str
    progress, log_dir
        Progress bar and TensorBoard directory (see :class:`trainers.runtime.MetricsLog`).

    Returns
    -------
    SoftQResult
        ``policy(obs)`` gives the learned soft policy; ``save(path)`` checkpoints it.
    """
    check_instance("config", config, SoftQConfig)
    dev = setup(seed, device)
    e = build_env(env)
    cfg = config
    A = int(e.action_space.n)
    obs_dim = int(np.prod(e.observation_space.shape))
    gamma = cfg.gamma
    if gamma is None:
        gamma = float(e.unwrapped.mdp.gamma) if isinstance(e.unwrapped, TabularMDPEnv) else 0.99
    n_q = 2 if cfg.algorithm == "sac" else 1
    q_nets = [_net(obs_dim, A, cfg.hidden).to(dev) for _ in range(n_q)]
    q_targets = [copy.deepcopy(q) for q in q_nets]
    q_params = [p for q in q_nets for p in q.parameters()]
    q_opt = torch.optim.Adam(q_params, lr=cfg.q_lr)
    actor = _net(obs_dim, A, cfg.hidden).to(dev) if cfg.algorithm == "sac" else None
    pi_opt = torch.optim.Adam(actor.parameters(), lr=cfg.policy_lr) if actor else None
    log_alpha = torch.tensor(math.log(cfg.alpha), device=dev, requires_grad=cfg.autotune)
    a_opt = torch.optim.Adam([log_alpha], lr=cfg.policy_lr) if cfg.autotune else None
    target_entropy = cfg.target_entropy_scale * math.log(A)

    def policy_logits(x: torch.Tensor) -> torch.Tensor:
        return actor(x) if actor is not None else q_nets[0](x) / log_alpha.exp().detach()

    # replay buffer (preallocated tensors)
    cap = min(cfg.buffer_size, cfg.total_timesteps)
    b_obs = torch.zeros((cap, obs_dim), device=dev)
    b_next = torch.zeros((cap, obs_dim), device=dev)
    b_act = torch.zeros(cap, dtype=torch.long, device=dev)
    b_rew, b_term = torch.zeros(cap, device=dev), torch.zeros(cap, device=dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    rng = np.random.default_rng(seed)
    e.action_space.seed(seed)

    log = MetricsLog(cfg.total_timesteps, progress=progress, log_dir=log_dir)
    obs, _ = e.reset(seed=seed)
    ep_ret, ep_returns, stats = 0.0, [], {}
    start = time.perf_counter()
    for step in range(cfg.total_timesteps):
        # --- act: uniform during warm-up, then sample the current soft policy ---
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(1, -1), device=dev)
        if step < cfg.learning_starts:
            action = int(rng.integers(A))
        else:
            with torch.no_grad():
                probs = L.log_softmax(policy_logits(x)).exp()
            action = int(torch.multinomial(probs[0], 1, generator=gen))
        next_obs, r, term, trunc, _ = e.step(action)
        # --- store (truncation is not termination: the target bootstraps through it) ---
        i = step % cap
        b_obs[i], b_act[i], b_rew[i], b_term[i] = x[0], action, float(r), float(term)
        b_next[i] = torch.as_tensor(np.asarray(next_obs, dtype=np.float32).reshape(-1))
        ep_ret += float(r)
        obs = next_obs
        if term or trunc:
            ep_returns.append(ep_ret)
            ep_ret = 0.0
            obs, _ = e.reset()
        if step >= cfg.learning_starts and step % cfg.train_frequency == 0:
            if cfg.anneal_lr:
                frac = 1.0 - (step - cfg.learning_starts) / max(
                    1, cfg.total_timesteps - cfg.learning_starts
                )
                for opt, lr in ((q_opt, cfg.q_lr), (pi_opt, cfg.policy_lr), (a_opt, cfg.policy_lr)):
                    if opt is not None:
                        opt.param_groups[0]["lr"] = lr * frac
            idx = torch.randint(min(step + 1, cap), (cfg.batch_size,), generator=gen, device=dev)
            s, a, rew, done, s2 = b_obs[idx], b_act[idx], b_rew[idx], b_term[idx], b_next[idx]
            alpha = log_alpha.exp().detach()
            # --- soft target: y = r + gamma (1 - done) V(s') ---
            with torch.no_grad():
                if actor is None:  # soft Q-learning [1, Eq. 5]: V = alpha logsumexp(Q / alpha)
                    v_next = alpha * torch.logsumexp(q_targets[0](s2) / alpha, -1)
                else:  # discrete SAC [2, Eq. 10]: V = sum_a pi (min Q' - alpha log pi)
                    logp2 = L.log_softmax(actor(s2))
                    q2 = torch.minimum(q_targets[0](s2), q_targets[1](s2))
                    v_next = (logp2.exp() * (q2 - alpha * logp2)).sum(-1)
                y = rew + gamma * (1.0 - done) * v_next
            # --- Q loss: 1/2 (Q(s, a) - y)^2, summed over the twin critics ---
            q_loss = sum(
                0.5 * (q(s).gather(-1, a[:, None]).squeeze(-1) - y).square().mean() for q in q_nets
            )
            q_opt.zero_grad(set_to_none=True)
            q_loss.backward()
            q_opt.step()
            stats = {"losses/q": q_loss.detach()}
            if actor is not None:
                # --- actor loss [2, Eq. 12]: sum_a pi (alpha log pi - min Q), exact over actions
                logp = L.log_softmax(actor(s))
                with torch.no_grad():
                    q_min = torch.minimum(q_nets[0](s), q_nets[1](s))
                pi_loss = (logp.exp() * (alpha * logp - q_min)).sum(-1).mean()
                pi_opt.zero_grad(set_to_none=True)
                pi_loss.backward()
                pi_opt.step()
                stats["losses/actor"] = pi_loss.detach()
                if a_opt is not None:
                    # --- temperature loss [3, Eq. 18], in log alpha, exact over actions ---
                    p = logp.detach().exp()
                    neg_h = (p * logp.detach()).sum(-1)  # -H(pi(.|s))
                    a_loss = (-log_alpha * (neg_h + target_entropy)).mean()
                    a_opt.zero_grad(set_to_none=True)
                    a_loss.backward()
                    a_opt.step()
                    stats["losses/alpha"] = a_loss.detach()
            # --- Polyak averaging of the target networks ---
            with torch.no_grad():
                for q, qt in zip(q_nets, q_targets, strict=True):
                    for p, pt in zip(q.parameters(), qt.parameters(), strict=True):
                        pt.lerp_(p, cfg.tau)
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.total_timesteps:
            with torch.no_grad():
                ent = L.categorical_entropy(policy_logits(b_obs[: min(step + 1, cap)])).mean()
            log.log(
                step + 1,
                {
                    "charts/episodic_return": float(np.mean(ep_returns[-20:])) if ep_returns else 0,
                    "charts/SPS": (step + 1) / (time.perf_counter() - start),
                    "charts/alpha": log_alpha.exp(),
                    "stats/entropy": ent,
                    **stats,
                },
            )
        log.advance()
    seconds = time.perf_counter() - start
    log.close()
    e.close()
    return SoftQResult(
        tuple(q_nets),
        actor,
        float(log_alpha.detach().exp()),
        cfg,
        tuple(ep_returns),
        seconds,
        log.rows,
    )
