"""DQN with the double and dueling options, for small pixel environments (CleanRL's ``dqn.py``).

Read top to bottom: config, Q-network (a small CNN for image observations, an MLP otherwise;
optionally dueling), replay buffer, then the loop: epsilon-greedy action, store, every
``train_frequency`` steps regress ``Q(s, a)`` on the target

    y = r + gamma (1 - done) Q_target(s', argmax_a' Q(s', a'))      (double DQN [2], Eq. 4)
    y = r + gamma (1 - done) max_a' Q_target(s', a')                 (DQN [1])

and every ``target_network_frequency`` steps move the target network by ``tau`` (1.0: copy).
Dueling [3, Eq. 9]: ``Q = V + A - mean_a A``. Truncation is not termination (targets bootstrap
through it). The default task is :class:`trainers.envs.PixelGridEnv` (1 x 12 x 12 images);
``stability.decision_boundary.PixelGridworld`` and CartPole work unchanged.

References
----------
.. [1] V. Mnih et al., "Human-level control through deep reinforcement learning", Nature 518,
   2015 (Algorithm 1).
.. [2] H. van Hasselt, A. Guez, D. Silver, "Deep Reinforcement Learning with Double
   Q-learning", AAAI 2016, Eq. (4).
.. [3] Z. Wang et al., "Dueling Network Architectures for Deep Reinforcement Learning",
   ICML 2016, Eq. (9).
.. [4] CleanRL ``cleanrl/dqn.py`` and ``dqn_atari.py`` (linear epsilon schedule, target update).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from theory.checks import check_positive_int, check_probability, check_seed
from trainers.envs import build_env
from trainers.runtime import (
    DISCOUNT,
    FLAG,
    NONNEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    UNIT_FRACTION,
    MetricsLog,
    check_config,
    check_instance,
    int_tuple,
    optional,
    save_checkpoint,
    setup,
)

__all__ = ["DQNConfig", "DQNResult", "QNetwork", "evaluate_greedy", "train_dqn"]


@dataclass(frozen=True)
class DQNConfig:
    """Hyperparameters of DQN (CleanRL ``dqn.py`` names; budgets sized for tiny pixel tasks)."""

    double: bool = True
    """Double DQN target (online argmax, target evaluation)."""
    dueling: bool = True
    """Dueling head ``V + A - mean A``."""
    total_timesteps: int = 6000
    """Environment steps."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    buffer_size: int = 10_000
    """Replay capacity."""
    gamma: float = 0.9
    """Discount."""
    tau: float = 1.0
    """Target-network update weight (1.0: hard copy)."""
    target_network_frequency: int = 250
    """Environment steps between target updates."""
    batch_size: int = 32
    """Minibatch size."""
    start_e: float = 1.0
    """Initial exploration epsilon."""
    end_e: float = 0.05
    """Final exploration epsilon."""
    exploration_fraction: float = 0.4
    """Fraction of ``total_timesteps`` over which epsilon decays linearly."""
    learning_starts: int = 500
    """Steps before the first update (below ``total_timesteps``)."""
    train_frequency: int = 4
    """Environment steps per gradient update."""
    channels: tuple[int, int] = (16, 32)
    """Conv channels (image observations)."""
    first_stride: int = 3
    """Stride of the first 3x3 conv (3: one feature per 3x3 cell of the pixel gridworlds)."""
    hidden: int = 64
    """Width of the dense layer(s)."""
    max_grad_norm: float | None = 10.0
    """Global gradient clipping (None: off)."""
    log_every: int = 1000
    """Log metrics every this many environment steps."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "double": FLAG,
                "dueling": FLAG,
                "total_timesteps": POSITIVE_INT,
                "learning_rate": POSITIVE,
                "buffer_size": POSITIVE_INT,
                "gamma": DISCOUNT,
                "tau": UNIT_FRACTION,
                "target_network_frequency": POSITIVE_INT,
                "batch_size": POSITIVE_INT,
                "start_e": PROBABILITY,
                "end_e": PROBABILITY,
                "exploration_fraction": UNIT_FRACTION,
                "learning_starts": NONNEGATIVE_INT,
                "train_frequency": POSITIVE_INT,
                "channels": int_tuple(2),  # a JSON list read back becomes a tuple
                "first_stride": POSITIVE_INT,
                "hidden": POSITIVE_INT,
                "max_grad_norm": optional(POSITIVE),
                "log_every": POSITIVE_INT,
            },
        )
        if self.learning_starts >= self.total_timesteps:
            raise ValueError(
                f"DQNConfig.learning_starts must be below total_timesteps = "
                f"{self.total_timesteps} (else no gradient update runs); got {self.learning_starts}"
            )


class QNetwork(nn.Module):
    """Q-values from image (C, H, W) observations by a 2-layer CNN, or flat ones by an MLP.

    CNN: conv 3x3 (stride ``first_stride``) -> ReLU -> conv 3x3 (same padding) -> ReLU -> dense
    ``hidden`` -> ReLU -> head; the head is ``A`` Q-values, or with ``dueling`` one value and
    ``A`` advantages combined as ``V + A - mean A`` (Wang et al. 2016, Eq. 9).

    Parameters
    ----------
    obs_shape : tuple of int >= 1
        ``(C, H, W)`` images with ``H, W >= 3`` (the first 3x3 convolution needs them) or
        ``(d,)`` flat observations.
    n_actions : int >= 1
    dueling : bool
    channels : (int, int), each >= 1
    first_stride, hidden : int >= 1
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        n_actions: int,
        *,
        dueling: bool = True,
        channels: tuple[int, int] = (16, 32),
        first_stride: int = 3,
        hidden: int = 64,
    ):
        obs_shape = int_tuple()("obs_shape", obs_shape)
        n_actions = check_positive_int("n_actions", n_actions)
        dueling = FLAG("dueling", dueling)
        channels = int_tuple(2)("channels", channels)
        first_stride = check_positive_int("first_stride", first_stride)
        hidden = check_positive_int("hidden", hidden)
        super().__init__()
        self.dueling = dueling
        if len(obs_shape) == 3:
            if min(obs_shape[1:]) < 3:
                raise ValueError(
                    f"obs_shape (C, H, W) needs H, W >= 3 for the 3x3 convolution; got {obs_shape}"
                )
            c1, c2 = channels
            self.body = nn.Sequential(
                nn.Conv2d(obs_shape[0], c1, 3, stride=first_stride),
                nn.ReLU(),
                nn.Conv2d(c1, c2, 3, padding=1),
                nn.ReLU(),
                nn.Flatten(),
            )
        elif len(obs_shape) == 1:
            self.body = nn.Sequential(nn.Linear(obs_shape[0], hidden), nn.ReLU())
        else:
            raise ValueError(f"obs_shape must be (C, H, W) or (d,); got {obs_shape}")
        with torch.no_grad():
            n_flat = self.body(torch.zeros(1, *obs_shape)).shape[-1]
        self.trunk = nn.Sequential(nn.Linear(n_flat, hidden), nn.ReLU())
        self.advantage = nn.Linear(hidden, n_actions)
        self.value = nn.Linear(hidden, 1) if dueling else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(self.body(x))
        adv = self.advantage(h)
        if self.value is None:
            return adv
        return self.value(h) + adv - adv.mean(-1, keepdim=True)


@dataclass(frozen=True)
class DQNResult:
    """The trained Q-network, episode returns, steps per second and the metrics table."""

    q_net: QNetwork = field(repr=False)
    config: DQNConfig
    episode_returns: tuple[float, ...]
    sps: float
    seconds: float
    metrics: list[dict[str, float]] = field(repr=False)

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Checkpoint: ``path.pt`` (Q-network state dict) and ``path.json`` (the config)."""
        return save_checkpoint(path, self.q_net.state_dict(), self.config)

    def summary(self) -> str:
        last = self.episode_returns[-50:]
        mean = float(np.mean(last)) if last else float("nan")
        kind = ("double " if self.config.double else "") + (
            "dueling " if self.config.dueling else ""
        )
        return (
            f"{kind}DQN: {self.config.total_timesteps} steps in {self.seconds:.1f} s "
            f"({self.sps:.0f} SPS), {len(self.episode_returns)} episodes, last-50 return {mean:.3f}"
        )


def train_dqn(
    env: str | gym.Env | Callable[[], gym.Env],
    config: DQNConfig = DQNConfig(),
    *,
    seed: int = 0,
    device: str = "cpu",
    progress: bool | None = None,
    log_dir: str | None = None,
) -> DQNResult:
    """Train DQN on ``env`` (gymnasium env, factory or id; Discrete actions).

    Parameters
    ----------
    env : gymnasium.Env, callable or str
    config : DQNConfig
    seed : int
        Seeds torch, numpy, the environment, exploration and replay sampling.
    device : str
    progress, log_dir
        Progress bar and TensorBoard directory (see :class:`trainers.runtime.MetricsLog`).
    """
    check_instance("config", config, DQNConfig)
    dev = setup(seed, device)
    cfg = config
    e = build_env(env)
    A = int(e.action_space.n)
    shape = tuple(e.observation_space.shape or ())
    if len(shape) not in (1, 3):
        raise ValueError(
            f"env must have (C, H, W) image or flat (d,) observations; got {e.observation_space}"
        )
    kw = {
        "dueling": cfg.dueling,
        "channels": cfg.channels,
        "first_stride": cfg.first_stride,
        "hidden": cfg.hidden,
    }
    q_net = QNetwork(shape, A, **kw).to(dev)
    target = QNetwork(shape, A, **kw).to(dev)
    target.load_state_dict(q_net.state_dict())
    opt = torch.optim.Adam(q_net.parameters(), lr=cfg.learning_rate)

    # replay buffer (preallocated tensors)
    cap = min(cfg.buffer_size, cfg.total_timesteps)
    b_obs = torch.zeros((cap, *shape), device=dev)
    b_next = torch.zeros((cap, *shape), device=dev)
    b_act = torch.zeros(cap, dtype=torch.long, device=dev)
    b_rew, b_term = torch.zeros(cap, device=dev), torch.zeros(cap, device=dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    rng = np.random.default_rng(seed)

    log = MetricsLog(cfg.total_timesteps, progress=progress, log_dir=log_dir)
    obs, _ = e.reset(seed=seed)
    ep_ret, ep_returns, stats = 0.0, [], {}
    decay = cfg.exploration_fraction * cfg.total_timesteps
    start = time.perf_counter()
    for step in range(cfg.total_timesteps):
        # --- act: epsilon-greedy with a linear schedule ---
        epsilon = cfg.start_e + (cfg.end_e - cfg.start_e) * min(1.0, step / decay)
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=dev)
        if rng.random() < epsilon:
            action = int(rng.integers(A))
        else:
            with torch.no_grad():
                action = int(q_net(x[None]).argmax(-1))
        next_obs, r, term, trunc, _ = e.step(action)
        # --- store (truncation is not termination) ---
        i = step % cap
        b_obs[i], b_act[i], b_rew[i], b_term[i] = x, action, float(r), float(term)
        b_next[i] = torch.as_tensor(np.asarray(next_obs, dtype=np.float32))
        ep_ret += float(r)
        obs = next_obs
        if term or trunc:
            ep_returns.append(ep_ret)
            ep_ret = 0.0
            obs, _ = e.reset()
        if step >= cfg.learning_starts:
            if step % cfg.train_frequency == 0:
                idx = torch.randint(min(step + 1, cap), (cfg.batch_size,), generator=gen)
                idx = idx.to(dev)
                s, a, rew, done, s2 = b_obs[idx], b_act[idx], b_rew[idx], b_term[idx], b_next[idx]
                # --- TD target: double DQN [2, Eq. 4] or DQN [1] ---
                with torch.no_grad():
                    q_next = target(s2)
                    if cfg.double:
                        a2 = q_net(s2).argmax(-1, keepdim=True)
                        v_next = q_next.gather(-1, a2).squeeze(-1)
                    else:
                        v_next = q_next.max(-1).values
                    y = rew + cfg.gamma * (1.0 - done) * v_next
                # --- TD loss: mean squared error ---
                q_sa = q_net(s).gather(-1, a[:, None]).squeeze(-1)
                loss = F.mse_loss(q_sa, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(q_net.parameters(), cfg.max_grad_norm)
                opt.step()
                stats = {"losses/td_loss": loss.detach(), "losses/q_values": q_sa.detach().mean()}
            # --- target network: theta' <- tau theta + (1 - tau) theta' ---
            if step % cfg.target_network_frequency == 0:
                with torch.no_grad():
                    for p, pt in zip(q_net.parameters(), target.parameters(), strict=True):
                        pt.lerp_(p, cfg.tau)
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.total_timesteps:
            log.log(
                step + 1,
                {
                    "charts/episodic_return": float(np.mean(ep_returns[-50:])) if ep_returns else 0,
                    "charts/epsilon": epsilon,
                    "charts/SPS": (step + 1) / (time.perf_counter() - start),
                    **stats,
                },
            )
        log.advance()
    seconds = time.perf_counter() - start
    log.close()
    e.close()
    return DQNResult(
        q_net, cfg, tuple(ep_returns), cfg.total_timesteps / seconds, seconds, log.rows
    )


def evaluate_greedy(
    q_net: nn.Module,
    env: str | gym.Env | Callable[[], gym.Env],
    episodes: int = 20,
    *,
    seed: int = 0,
    epsilon: float = 0.0,
) -> np.ndarray:
    """Returns of the (epsilon-)greedy policy of ``q_net`` over ``episodes`` seeded episodes.

    ``epsilon = 1`` gives the uniformly random policy (the chance baseline of the smoke tests).
    Episode ``k`` is reset with ``seed + k``. ``q_net`` must map a batch of the env's
    observations to ``A`` Q-values (checked on the first observation).
    """
    check_instance("q_net", q_net, nn.Module)
    episodes = check_positive_int("episodes", episodes)
    epsilon = check_probability("epsilon", epsilon)
    seed = check_seed(seed)
    p = next(q_net.parameters(), None)
    if p is None:
        raise ValueError("q_net must have parameters (a Q-network); got a module without any")
    e = build_env(env)
    n_actions = int(e.action_space.n)
    checked = False
    rng = np.random.default_rng(seed)
    out = []
    for k in range(episodes):
        obs, _ = e.reset(seed=seed + k)
        total, done = 0.0, False
        while not done:
            if not checked:
                checked = True
                x = torch.as_tensor(np.asarray(obs), dtype=p.dtype, device=p.device)
                try:
                    with torch.no_grad():
                        shape = tuple(q_net(x[None]).shape)
                except RuntimeError as exc:
                    raise ValueError(
                        f"q_net does not take env's observations of shape {tuple(x.shape)}: {exc}"
                    ) from exc
                if shape != (1, n_actions):
                    raise ValueError(
                        f"q_net must output {n_actions} Q-values per observation for env; got "
                        f"shape {shape}"
                    )
            if rng.random() < epsilon:
                a = int(rng.integers(n_actions))
            else:
                with torch.no_grad():
                    x = torch.as_tensor(np.asarray(obs), dtype=p.dtype, device=p.device)
                    a = int(q_net(x[None]).argmax(-1))
            obs, r, term, trunc, _ = e.step(a)
            total, done = total + float(r), term or trunc
        out.append(total)
    return np.array(out)
