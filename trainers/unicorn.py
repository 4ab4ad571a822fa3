"""UNICORN's value-based policy over pruned candidate actions, many seeds as one stacked model.

Read top to bottom: config, the candidate Q-network, then the loop. UNICORN (Deng et al.
2021 [1]_, Sec. 4.4) scores each candidate action ``a`` of state ``s`` with a dueling head
``Q(s, a) = f_V(s) + f_A(s, a)`` and learns it by double DQN with a target network and
(prioritized) replay:

    y = r + γ (1 − done) Q_target(s', argmax_{a' ∈ A(s')} Q(s', a'))       ([2], Eq. 4)

where ``A(s')`` is the pruned candidate set of the next state (preference-based items and
weighted-entropy attributes, :mod:`trainers.crs_graph`) or, without pruning, every candidate.

Toy-scale choices [reconstructed] (parameters of :class:`UnicornConfig`): the state and action
representations are the hand-made feature rows of :class:`trainers.crs_graph.ConversationalRecEnv`
(no graph network + Transformer: a catalogue of a few dozen items does not need them);
``f_V`` and ``f_A`` are one-hidden-layer MLPs; replay is uniform (the paper's prioritized
replay is not reproduced); ``γ``, the learning rate, the buffer, the exploration schedule
and the target period are chosen for the toy. N seeds (and N environments, which may differ in
their rewards or pruning) train in lockstep as one :class:`trainers.batched.StackedModule`.

References
----------
.. [1] Y. Deng, Y. Li, F. Sun, B. Ding, W. Lam, "Unified Conversational Recommendation Policy
   Learning via Graph-based Reinforcement Learning", SIGIR 2021 (arXiv:2105.09710), Sec. 4.4.
.. [2] H. van Hasselt, A. Guez, D. Silver, "Deep Reinforcement Learning with Double
   Q-learning", AAAI 2016, Eq. (4).
.. [3] Z. Wang et al., "Dueling Network Architectures for Deep Reinforcement Learning",
   ICML 2016.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_int,
    check_positive_int,
    check_probability,
    check_seed,
    check_seeds,
)
from trainers.batched import StackedModule, clip_grad_norm_per_run
from trainers.crs_graph import STATE_FEATURES, ConversationalRecEnv
from trainers.runtime import (
    DISCOUNT,
    FLAG,
    NONNEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    UNIT_FRACTION,
    check_config,
    optional,
)

__all__ = [
    "CandidateQNetwork",
    "UnicornConfig",
    "UnicornResult",
    "evaluate_unicorn",
    "greedy_actions",
    "train_unicorn",
]


@dataclass(frozen=True)
class UnicornConfig:
    """Hyperparameters of UNICORN's double DQN (toy-scale values [reconstructed])."""

    total_steps: int = 1500
    """Environment steps per run."""
    double: bool = True
    """Double DQN target (online argmax over the next candidates, target evaluation)."""
    dueling: bool = True
    """``Q = f_V(s) + f_A(s, a)`` (UNICORN Sec. 4.4); False: ``Q = f_A(s, a)``."""
    learning_rate: float = 3e-3
    """Adam learning rate."""
    buffer_size: int = 2000
    """Replay capacity per run."""
    gamma: float = 0.9
    """Discount."""
    tau: float = 1.0
    """Target-network update weight (1.0: hard copy)."""
    target_network_frequency: int = 50
    """Steps between target updates."""
    batch_size: int = 32
    """Minibatch size per run."""
    start_e: float = 1.0
    """Initial exploration epsilon (uniform over the legal candidates)."""
    end_e: float = 0.05
    """Final exploration epsilon."""
    exploration_fraction: float = 0.5
    """Fraction of ``total_steps`` over which epsilon decays linearly."""
    learning_starts: int = 100
    """Steps before the first update (below ``total_steps``)."""
    train_frequency: int = 1
    """Steps per gradient update."""
    hidden: int = 32
    """Width of the hidden layer of ``f_V`` and ``f_A``."""
    max_grad_norm: float | None = 10.0
    """Per-run gradient clipping (None: off)."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "total_steps": POSITIVE_INT,
                "double": FLAG,
                "dueling": FLAG,
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
                "hidden": POSITIVE_INT,
                "max_grad_norm": optional(POSITIVE),
            },
        )
        if self.learning_starts >= self.total_steps:
            raise ValueError(
                f"UnicornConfig.learning_starts must be below total_steps = {self.total_steps} "
                f"(else no update runs); got {self.learning_starts}"
            )


class CandidateQNetwork(nn.Module):
    """Q-values of every (state, action) row: ``f_V(s) + f_A(s, a)`` (UNICORN Sec. 4.4).

    Input ``(B, A, D)``: row ``a`` holds the state summary (the first ``n_state`` entries, the
    same in every row) and the action's features. ``f_A`` is an MLP on each row, ``f_V`` an MLP
    on the state summary of row 0. Output ``(B, A)``; illegal actions are masked by the caller.

    Parameters
    ----------
    width : int >= 2
        ``D``, entries per row.
    n_state : int in [1, width - 1]
    hidden : int >= 1
    dueling : bool
    """

    def __init__(self, width: int, n_state: int, hidden: int = 32, dueling: bool = True):
        width = check_int("width", width, lo=2)
        n_state = check_int("n_state", n_state, lo=1, hi=width - 1)
        hidden = check_positive_int("hidden", hidden)
        dueling = FLAG("dueling", dueling)
        super().__init__()
        self.n_state = n_state
        self.advantage = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.value = (
            nn.Sequential(nn.Linear(n_state, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            if dueling
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        adv = self.advantage(x).squeeze(-1)
        if self.value is None:
            return adv
        return self.value(x[..., 0, : self.n_state]) + adv


@dataclass(frozen=True)
class UnicornResult:
    """N trained runs: the stacked Q-networks, their seeds, episode returns and successes."""

    q_net: StackedModule = field(repr=False)
    config: UnicornConfig
    seeds: tuple[int, ...]
    episode_returns: tuple[tuple[float, ...], ...] = field(repr=False)
    episode_success: tuple[tuple[bool, ...], ...] = field(repr=False)
    seconds: float

    def summary(self) -> str:
        last = [np.mean(s[-50:]) if s else float("nan") for s in self.episode_success]
        return (
            f"UNICORN double DQN: {len(self.seeds)} runs x {self.config.total_steps} steps in "
            f"{self.seconds:.1f} s; last-50 success rate {np.mean(last):.3f} "
            f"(runs {np.min(last):.3f}-{np.max(last):.3f})"
        )


def _check_envs(envs, n: int) -> list[ConversationalRecEnv]:
    if isinstance(envs, ConversationalRecEnv):
        return [copy.deepcopy(envs) for _ in range(n)]
    if not isinstance(envs, Sequence) or isinstance(envs, str):
        raise ArgumentTypeError(
            f"envs must be a ConversationalRecEnv or a sequence of them; got {type(envs).__name__}"
        )
    if len(envs) != n:
        raise ValueError(f"envs must hold one environment per seed ({n}); got {len(envs)}")
    for i, e in enumerate(envs):
        if not isinstance(e, ConversationalRecEnv):
            raise ArgumentTypeError(
                f"envs[{i}] must be a ConversationalRecEnv; got {type(e).__name__}"
            )
    shapes = {e.observation_space.shape for e in envs}
    if len(shapes) != 1:
        raise ValueError(f"envs must share one catalogue size (observation shape); got {shapes}")
    return [copy.deepcopy(e) for e in envs]


def _masked_argmax(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return q.masked_fill(~mask, -torch.inf).argmax(-1)


def train_unicorn(
    envs: ConversationalRecEnv | Sequence[ConversationalRecEnv],
    config: UnicornConfig = UnicornConfig(),
    *,
    seeds: Sequence[int] = (0,),
) -> UnicornResult:
    """Train one UNICORN policy per seed (double DQN over the legal candidate actions).

    Parameters
    ----------
    envs : ConversationalRecEnv or sequence of them
        One environment (copied for every seed) or one per seed (same catalogue size; rewards,
        pruning and turn limits may differ, so that perturbed runs share one stacked model).
    config : UnicornConfig
    seeds : sequence of int
        Run ``i`` initialises its network with ``torch.manual_seed(seeds[i])`` and seeds its
        environment, exploration and replay sampling with it. A seed may repeat (paired runs
        that differ only in their environment's rewards or pruning).

    Returns
    -------
    UnicornResult

    Examples
    --------
    >>> from trainers.crs_graph import synthetic_catalogue
    >>> env = ConversationalRecEnv(synthetic_catalogue(seed=0))
    >>> res = train_unicorn(env, UnicornConfig(total_steps=40, learning_starts=20), seeds=[0, 1])
    >>> len(res.episode_returns)
    2
    """
    seeds = check_seeds(seeds, distinct=False)
    if not isinstance(config, UnicornConfig):
        raise ArgumentTypeError(f"config must be a UnicornConfig; got {type(config).__name__}")
    cfg, n = config, len(seeds)
    envs = _check_envs(envs, n)
    n_actions, width = envs[0].observation_space.shape
    modules = []
    for s in seeds:
        torch.manual_seed(s)
        modules.append(CandidateQNetwork(width, len(STATE_FEATURES), cfg.hidden, cfg.dueling))
    online = StackedModule(modules)
    target = StackedModule([copy.deepcopy(m) for m in modules])
    opt = torch.optim.Adam(online.parameters(), lr=cfg.learning_rate)

    # replay buffers, one slice per run
    cap = min(cfg.buffer_size, cfg.total_steps)
    b_obs = torch.zeros((n, cap, n_actions, width))
    b_next = torch.zeros((n, cap, n_actions, width))
    b_next_mask = torch.zeros((n, cap, n_actions), dtype=torch.bool)
    b_act = torch.zeros((n, cap), dtype=torch.long)
    b_rew, b_done = torch.zeros((n, cap)), torch.zeros((n, cap))
    rngs = [np.random.default_rng(s) for s in seeds]
    replay_rngs = [np.random.default_rng([s, 1]) for s in seeds]
    runs = torch.arange(n)[:, None]

    obs, masks = [], []
    for e, s in zip(envs, seeds, strict=True):
        o, info = e.reset(seed=s)
        obs.append(o)
        masks.append(info["action_mask"])
    ep_ret = [0.0] * n
    returns: list[list[float]] = [[] for _ in range(n)]
    success: list[list[bool]] = [[] for _ in range(n)]
    decay = cfg.exploration_fraction * cfg.total_steps
    start = time.perf_counter()
    for step in range(cfg.total_steps):
        # --- act: epsilon-greedy over the legal candidates ---
        epsilon = cfg.start_e + (cfg.end_e - cfg.start_e) * min(1.0, step / decay)
        x = torch.from_numpy(np.stack(obs))
        with torch.no_grad():
            greedy = _masked_argmax(
                online(x[:, None], per_run_input=True)[:, 0], torch.from_numpy(np.stack(masks))
            )
        i_slot = step % cap
        for i, e in enumerate(envs):
            if rngs[i].random() < epsilon:
                a = int(rngs[i].choice(np.flatnonzero(masks[i])))
            else:
                a = int(greedy[i])
            o2, r, term, trunc, info = e.step(a)
            b_obs[i, i_slot], b_act[i, i_slot], b_rew[i, i_slot] = x[i], a, float(r)
            b_done[i, i_slot] = float(term)
            b_next[i, i_slot] = torch.from_numpy(o2)
            b_next_mask[i, i_slot] = torch.from_numpy(info["action_mask"])
            ep_ret[i] += float(r)
            if term or trunc:
                returns[i].append(ep_ret[i])
                success[i].append(bool(info["success"]))
                ep_ret[i] = 0.0
                o2, info = e.reset()
            obs[i], masks[i] = o2, info["action_mask"]
        if step >= cfg.learning_starts and step % cfg.train_frequency == 0:
            size = min(step + 1, cap)
            idx = torch.from_numpy(
                np.stack([g.integers(size, size=cfg.batch_size) for g in replay_rngs])
            )
            s, a, rew = b_obs[runs, idx], b_act[runs, idx], b_rew[runs, idx]
            done, s2, m2 = b_done[runs, idx], b_next[runs, idx], b_next_mask[runs, idx]
            # --- TD target: double DQN over the next legal candidates [2, Eq. 4] ---
            with torch.no_grad():
                q_next = target(s2, per_run_input=True)
                if cfg.double:
                    a2 = _masked_argmax(online(s2, per_run_input=True), m2)
                else:
                    a2 = _masked_argmax(q_next, m2)
                v_next = q_next.gather(-1, a2[..., None]).squeeze(-1)
                y = rew + cfg.gamma * (1.0 - done) * v_next
            # --- TD loss: per-run mean squared error, summed over runs ---
            q_sa = online(s, per_run_input=True).gather(-1, a[..., None]).squeeze(-1)
            loss = (q_sa - y).pow(2).mean(-1).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm is not None:
                clip_grad_norm_per_run(online.parameters(), cfg.max_grad_norm)
            opt.step()
        if step % cfg.target_network_frequency == 0:
            with torch.no_grad():
                for k, p in online.params.items():
                    target.params[k].lerp_(p, cfg.tau)
    return UnicornResult(
        online,
        cfg,
        tuple(seeds),
        tuple(tuple(r) for r in returns),
        tuple(tuple(s) for s in success),
        time.perf_counter() - start,
    )


def _check_result(result: object) -> UnicornResult:
    if not isinstance(result, UnicornResult):
        raise ArgumentTypeError(f"result must be a UnicornResult; got {type(result).__name__}")
    return result


def greedy_actions(result: UnicornResult, observations, masks) -> np.ndarray:
    """Each run's greedy action on fixed states: ``(N, M)`` global action ids.

    Parameters
    ----------
    result : UnicornResult
    observations : array (M, A, D)
        Observations of :class:`~trainers.crs_graph.ConversationalRecEnv` (finite).
    masks : bool array (M, A)
        Legal actions per state (each row at least one).
    """
    result = _check_result(result)
    shape = result.q_net._base.advantage[0].in_features
    obs = as_float_array("observations", observations, shape=(None, None, shape))
    m = np.asarray(masks)
    if m.shape != obs.shape[:2]:
        raise ValueError(f"masks must have shape {obs.shape[:2]}; got {m.shape}")
    if m.dtype != bool:
        raise ArgumentTypeError(f"masks must be a boolean array; got dtype {m.dtype}")
    if not m.any(axis=1).all():
        raise ValueError("masks must allow at least one action in every state")
    with torch.no_grad():
        q = result.q_net(torch.as_tensor(obs, dtype=torch.float32))
    return _masked_argmax(q, torch.from_numpy(m)[None]).numpy()


def evaluate_unicorn(
    result: UnicornResult,
    envs: ConversationalRecEnv | Sequence[ConversationalRecEnv],
    episodes: int = 50,
    *,
    seed: int = 0,
    epsilon: float = 0.0,
) -> dict[str, np.ndarray]:
    """Success rate, mean return and mean turns of each run's (epsilon-)greedy policy.

    Every run plays the same ``episodes`` conversations (episode ``k`` reset with
    ``seed + k``) in its environment (``envs`` as for :func:`train_unicorn`). ``epsilon = 1``
    is the uniformly random policy over the legal candidates (the chance baseline).

    Returns
    -------
    dict with ``"success"``, ``"return"``, ``"turns"``: arrays (N,).
    """
    result = _check_result(result)
    n = len(result.seeds)
    envs = _check_envs(envs, n)
    episodes = check_positive_int("episodes", episodes)
    seed = check_seed(seed)
    epsilon = check_probability("epsilon", epsilon)
    rng = np.random.default_rng(seed)
    succ, ret, turns = np.zeros(n), np.zeros(n), np.zeros(n)
    for k in range(episodes):
        states = [e.reset(seed=seed + k) for e in envs]
        obs = [s[0] for s in states]
        masks = [s[1]["action_mask"] for s in states]
        live = np.ones(n, bool)
        while live.any():
            with torch.no_grad():
                q = result.q_net(torch.from_numpy(np.stack(obs))[:, None], per_run_input=True)
            greedy = _masked_argmax(q[:, 0], torch.from_numpy(np.stack(masks)))
            for i in np.flatnonzero(live):
                if rng.random() < epsilon:
                    a = int(rng.choice(np.flatnonzero(masks[i])))
                else:
                    a = int(greedy[i])
                obs[i], r, term, trunc, info = envs[i].step(a)
                masks[i] = info["action_mask"]
                ret[i] += r
                turns[i] += 1
                if term or trunc:
                    live[i] = False
                    succ[i] += info["success"]
    return {"success": succ / episodes, "return": ret / episodes, "turns": turns / episodes}
