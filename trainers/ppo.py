"""PPO with a value head for gymnasium environments with discrete actions (CleanRL's ``ppo.py``).

Read top to bottom: config, agent, rollout, GAE, clipped update. Defaults are CleanRL's
published CartPole hyperparameters [2]: 4 envs x 128 steps, 4 epochs of
4 minibatches, lr 2.5e-4 annealed, gamma 0.99, lambda 0.95, clip 0.2 (value loss clipped too),
entropy 0.01, value 0.5, grad norm 0.5, separate 64-64 tanh actor and critic with orthogonal
init. Environments are stepped one by one with manual auto-reset (no vector-env wrapper), one
torch thread.

References
----------
.. [1] J. Schulman et al., "Proximal Policy Optimization Algorithms", arXiv:1707.06347, 2017.
.. [2] S. Huang et al., "The 37 Implementation Details of PPO", ICLR blog track 2022; CleanRL
   ``cleanrl/ppo.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from theory.checks import check_positive_int, check_seed
from trainers import losses as L
from trainers.envs import build_env
from trainers.runtime import (
    FLAG,
    NONNEGATIVE,
    OPEN_UNIT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    MetricsLog,
    check_config,
    check_instance,
    setup,
)

__all__ = ["Agent", "PPOConfig", "PPOResult", "evaluate_policy", "train_ppo"]


@dataclass(frozen=True)
class PPOConfig:
    """Hyperparameters (CleanRL ``ppo.py`` defaults)."""

    total_timesteps: int = 100_000
    """Environment steps in total (at least one rollout, ``num_envs * num_steps``; rounded
    down to a whole number of rollouts, as in CleanRL)."""
    learning_rate: float = 2.5e-4
    """Adam learning rate (eps 1e-5)."""
    num_envs: int = 4
    """Parallel environments (stepped in a loop)."""
    num_steps: int = 128
    """Steps per environment per rollout."""
    anneal_lr: bool = True
    """Linear learning-rate decay to 0."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 4
    """Minibatches per epoch."""
    update_epochs: int = 4
    """Epochs per rollout."""
    norm_adv: bool = True
    """Normalize advantages per minibatch."""
    clip_coef: float = 0.2
    """Ratio clip."""
    clip_vloss: bool = True
    """Clip the value loss (PPO-max value clipping)."""
    ent_coef: float = 0.01
    """Entropy bonus."""
    vf_coef: float = 0.5
    """Value-loss weight."""
    max_grad_norm: float = 0.5
    """Global gradient clipping."""
    hidden: int = 64
    """Width of the two hidden layers."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "total_timesteps": POSITIVE_INT,
                "learning_rate": POSITIVE,
                "num_envs": POSITIVE_INT,
                "num_steps": POSITIVE_INT,
                "anneal_lr": FLAG,
                "gamma": PROBABILITY,
                "gae_lambda": PROBABILITY,
                "num_minibatches": POSITIVE_INT,
                "update_epochs": POSITIVE_INT,
                "norm_adv": FLAG,
                "clip_coef": OPEN_UNIT,
                "clip_vloss": FLAG,
                "ent_coef": NONNEGATIVE,
                "vf_coef": NONNEGATIVE,
                "max_grad_norm": POSITIVE,
                "hidden": POSITIVE_INT,
            },
        )
        if (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ValueError(
                f"PPOConfig.num_minibatches must divide num_envs * num_steps = "
                f"{self.num_envs * self.num_steps}; got {self.num_minibatches}"
            )
        if self.total_timesteps < self.batch_size:
            raise ValueError(
                f"PPOConfig.total_timesteps must be at least one rollout, num_envs * num_steps = "
                f"{self.num_envs} * {self.num_steps} = {self.batch_size}; got "
                f"{self.total_timesteps} (lower num_steps or num_envs)"
            )

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps


def _layer(layer: nn.Linear, std: float = float(np.sqrt(2)), bias: float = 0.0) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class Agent(nn.Module):
    """Separate actor and critic MLPs (64-64 tanh), orthogonal init (CleanRL).

    Parameters
    ----------
    obs_dim, n_actions, hidden : int >= 1
        Flat observation size, number of discrete actions, hidden width.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64):
        obs_dim = check_positive_int("obs_dim", obs_dim)
        n_actions = check_positive_int("n_actions", n_actions)
        hidden = check_positive_int("hidden", hidden)
        super().__init__()
        self.critic = nn.Sequential(
            _layer(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            _layer(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            _layer(nn.Linear(hidden, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            _layer(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            _layer(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            _layer(nn.Linear(hidden, n_actions), std=0.01),
        )

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Action logits."""
        return self.actor(x)


@dataclass(frozen=True)
class PPOResult:
    """The trained agent, completed-episode returns, steps per second and the metrics table."""

    agent: Agent = field(repr=False)
    episode_returns: tuple[float, ...]
    sps: float
    seconds: float
    metrics: list[dict[str, float]] = field(repr=False)

    def summary(self) -> str:
        last = self.episode_returns[-20:]
        mean = float(np.mean(last)) if last else float("nan")
        return f"PPO: {len(self.episode_returns)} episodes, last-20 return {mean:.1f}, {self.sps:.0f} SPS"


def train_ppo(
    env: str | gym.Env | Callable[[], gym.Env],
    config: PPOConfig = PPOConfig(),
    *,
    seed: int = 0,
    device: str = "cpu",
    progress: bool | None = None,
    log_dir: str | None = None,
) -> PPOResult:
    """Train PPO on ``config.num_envs`` copies of ``env`` (gymnasium id, TabularMDP or factory)."""
    check_instance("config", config, PPOConfig)
    dev = setup(seed, device)
    if isinstance(env, gym.Env) and config.num_envs > 1:
        raise ValueError(
            f"env: one gymnasium.Env instance cannot serve num_envs = {config.num_envs} "
            "environments; pass an id, a TabularMDP or a factory (or set num_envs=1)"
        )
    envs = [build_env(env) for _ in range(config.num_envs)]
    obs_dim = int(np.prod(envs[0].observation_space.shape))
    agent = Agent(obs_dim, int(envs[0].action_space.n), config.hidden).to(dev)
    opt = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5)
    T, E = config.num_steps, config.num_envs
    obs_buf = torch.zeros((T, E, obs_dim), device=dev)
    act_buf = torch.zeros((T, E), dtype=torch.long, device=dev)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros((T, E), device=dev) for _ in range(4))
    obs_np = np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]).astype(np.float32)
    next_obs = torch.as_tensor(obs_np, device=dev).reshape(E, obs_dim)
    next_done = torch.zeros(E, device=dev)
    ep_ret, ep_returns = np.zeros(E), []
    iterations = max(1, config.total_timesteps // config.batch_size)
    log = MetricsLog(iterations, progress=progress, log_dir=log_dir)
    gen = torch.Generator(device=dev).manual_seed(seed)
    start = time.perf_counter()
    for it in range(iterations):
        if config.anneal_lr:
            opt.param_groups[0]["lr"] = config.learning_rate * (1.0 - it / iterations)
        # --- rollout ---
        for t in range(T):
            obs_buf[t], done_buf[t] = next_obs, next_done
            with torch.no_grad():
                logits = agent(next_obs)
                val_buf[t] = agent.value(next_obs)
                probs = L.log_softmax(logits).exp()
                action = torch.multinomial(probs, 1, generator=gen).squeeze(-1)
                logp_buf[t] = L.log_softmax(logits).gather(-1, action[:, None]).squeeze(-1)
            act_buf[t] = action
            acts = action.tolist()
            rews, dones = np.zeros(E), np.zeros(E)
            for i, e in enumerate(envs):
                o, r, term, trunc, _ = e.step(acts[i])
                ep_ret[i] += r
                if term or trunc:
                    ep_returns.append(float(ep_ret[i]))
                    ep_ret[i] = 0.0
                    o, _ = e.reset()
                obs_np[i], rews[i], dones[i] = np.asarray(o).reshape(-1), r, float(term or trunc)
            rew_buf[t] = torch.as_tensor(rews, dtype=torch.float32, device=dev)
            next_obs = torch.as_tensor(obs_np, device=dev)
            next_done = torch.as_tensor(dones, dtype=torch.float32, device=dev)
        # --- GAE ---
        with torch.no_grad():
            adv, ret = L.gae(
                rew_buf,
                val_buf,
                done_buf,
                agent.value(next_obs),
                next_done,
                config.gamma,
                config.gae_lambda,
            )
        b_obs, b_act = obs_buf.reshape(-1, obs_dim), act_buf.reshape(-1)
        b_logp, b_adv, b_ret, b_val = (x.reshape(-1) for x in (logp_buf, adv, ret, val_buf))
        # --- clipped update ---
        mb = config.batch_size // config.num_minibatches
        for _ in range(config.update_epochs):
            perm = torch.randperm(config.batch_size, generator=gen, device=dev)
            for k in range(0, config.batch_size, mb):
                idx = perm[k : k + mb]
                logits = agent(b_obs[idx])
                logp = L.log_softmax(logits).gather(-1, b_act[idx, None]).squeeze(-1)
                a = b_adv[idx]
                if config.norm_adv:
                    a = (a - a.mean()) / (a.std() + 1e-8)
                pg, stats = L.ppo_clip_loss(logp, b_logp[idx], a, clip_low=config.clip_coef)
                v_loss = L.clipped_value_loss(
                    agent.value(b_obs[idx]),
                    b_val[idx],
                    b_ret[idx],
                    config.clip_coef if config.clip_vloss else None,
                )
                entropy = L.categorical_entropy(logits).mean()
                loss = pg.mean() - config.ent_coef * entropy + config.vf_coef * v_loss.mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
                opt.step()
        steps = (it + 1) * config.batch_size
        log.log(
            steps,
            {
                "charts/episodic_return": float(np.mean(ep_returns[-20:])) if ep_returns else 0.0,
                "charts/SPS": steps / (time.perf_counter() - start),
                "losses/policy": pg.mean(),
                "losses/value": v_loss.mean(),
                "losses/entropy": entropy,
                "losses/approx_kl": stats["approx_kl"],
                "losses/clipfrac": stats["clipfrac"],
            },
        )
        log.advance()
    seconds = time.perf_counter() - start
    log.close()
    for e in envs:
        e.close()
    return PPOResult(
        agent, tuple(ep_returns), iterations * config.batch_size / seconds, seconds, log.rows
    )


def evaluate_policy(agent: Agent, env, episodes: int = 10, *, seed: int = 0) -> np.ndarray:
    """Greedy returns of ``agent`` over ``episodes`` episodes (episode ``k`` reset with
    ``seed + k``).

    Parameters
    ----------
    agent : nn.Module
        Maps flat observations (1, d) to action logits (1, A) (an :class:`Agent`).
    env : gymnasium.Env, factory, id or TabularMDP
        With ``Discrete(A)`` actions.
    episodes : int >= 1
    seed : int in [0, 2**63)
    """
    check_instance("agent", agent, nn.Module)
    episodes = check_positive_int("episodes", episodes)
    seed = check_seed(seed)
    e = build_env(env)
    n_actions = int(e.action_space.n)
    p = next(agent.parameters(), None)
    out = []
    for k in range(episodes):
        obs, _ = e.reset(seed=seed + k)
        total, done = 0.0, False
        while not done:
            with torch.no_grad():
                x = torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(1, -1))
                if p is not None:
                    x = x.to(p.device)
                try:
                    logits = agent(x)
                except RuntimeError as exc:
                    raise ValueError(
                        f"agent does not take the env's observations of size {x.shape[1]}: {exc}"
                    ) from exc
                if logits.shape[-1] != n_actions:
                    raise ValueError(
                        f"agent must output {n_actions} action logits for env; got shape "
                        f"{tuple(logits.shape)}"
                    )
                a = int(logits.argmax(-1))
            obs, r, term, trunc, _ = e.step(a)
            total, done = total + r, term or trunc
        out.append(total)
    return np.array(out)
