"""Environments through the gymnasium API: tabular MDPs and a pixel gridworld (CartPole: gymnasium).

:class:`TabularMDPEnv` wraps a :class:`theory.TabularMDP`: one-hot observations of the state,
``Discrete(A)`` actions, rewards ``R[s, a]``, transitions drawn from ``P[s, a]`` with the
environment's seeded ``np_random``, episodes truncated after ``max_steps``. Its exact values
(``theory.policy_value``) are the ground truth the trainers' smoke tests compare against.

:class:`PixelGridEnv` is a tiny procedurally generated pixel task for DQN: every episode draws a
new agent and goal cell on an ``n x n`` grid, rendered as a ``1 x (c n) x (c n)`` float image
(agent 1.0, goal 0.5); four moves; MiniGrid's success reward ``1 - 0.9 t / max_steps`` on reaching
the goal, 0 otherwise. (A fixed maze with exact Q* lives in
:mod:`stability.decision_boundary.gridworld`; the trainers accept either.)
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np

from theory.mdp import TabularMDP

__all__ = ["PixelGridEnv", "TabularMDPEnv", "make_env"]


class TabularMDPEnv(gym.Env):
    """A gymnasium environment for a finite MDP.

    Parameters
    ----------
    mdp : theory.TabularMDP
    initial : array (S,), optional
        Initial-state distribution (uniform by default).
    max_steps : int
        Truncation horizon (``truncated=True`` after this many steps).
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, mdp: TabularMDP, initial: np.ndarray | None = None, max_steps: int = 50):
        if not isinstance(mdp, TabularMDP):
            raise ValueError(f"mdp must be a theory.TabularMDP; got {type(mdp).__name__}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1; got {max_steps!r}")
        S = mdp.n_states
        mu = np.full(S, 1.0 / S) if initial is None else np.asarray(initial, dtype=np.float64)
        if mu.shape != (S,) or np.any(mu < 0) or not np.isclose(mu.sum(), 1.0):
            raise ValueError(f"initial must be a probability vector of length {S}")
        self.mdp, self.initial, self.max_steps = mdp, mu, int(max_steps)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (S,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(mdp.n_actions)
        self._eye = np.eye(S, dtype=np.float32)
        self._cdf = np.cumsum(mdp.P, axis=-1)
        self.state, self.t = 0, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = int(self.np_random.choice(self.mdp.n_states, p=self.initial))
        self.t = 0
        return self._eye[self.state].copy(), {"state": self.state}

    def step(self, action):
        a = int(action)
        r = float(self.mdp.R[self.state, a])
        u = self.np_random.random()
        self.state = int(min(np.searchsorted(self._cdf[self.state, a], u), self.mdp.n_states - 1))
        self.t += 1
        return (
            self._eye[self.state].copy(),
            r,
            False,
            self.t >= self.max_steps,
            {"state": self.state},
        )


class PixelGridEnv(gym.Env):
    """A procedurally generated goal-reaching gridworld with pixel observations.

    Parameters
    ----------
    size : int, default 4
        Grid side ``n`` (>= 2).
    cell : int, default 3
        Pixels per cell side; observations are ``(1, cell * n, cell * n)`` float32.
    max_steps : int, optional
        Truncation horizon (default ``4 n``).

    Notes
    -----
    Reward (MiniGrid's): ``1 - 0.9 t / max_steps`` when the agent reaches the goal at step ``t``
    (the episode terminates), 0 otherwise; a uniformly random policy scores far below the
    optimum, which is at least ``1 - 0.9 (2 n - 2) / max_steps``. Moves off the grid stay put.
    Agent and goal are drawn (distinct) from the environment's seeded ``np_random`` at reset.
    """

    metadata: ClassVar[dict] = {"render_modes": []}
    MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left

    def __init__(self, size: int = 4, cell: int = 3, max_steps: int | None = None):
        if not (isinstance(size, int) and size >= 2):
            raise ValueError(f"size must be an int >= 2; got {size!r}")
        if not (isinstance(cell, int) and cell >= 1):
            raise ValueError(f"cell must be an int >= 1; got {cell!r}")
        if max_steps is not None and not (isinstance(max_steps, int) and max_steps >= 1):
            raise ValueError(f"max_steps must be None or an int >= 1; got {max_steps!r}")
        self.size, self.cell = size, cell
        self.max_steps = 4 * size if max_steps is None else max_steps
        side = size * cell
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1, side, side), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.agent, self.goal, self.t = (0, 0), (0, 1), 0

    def _render(self) -> np.ndarray:
        c = self.cell
        img = np.zeros(self.observation_space.shape, dtype=np.float32)
        (ar, ac), (gr, gc) = self.agent, self.goal
        img[0, gr * c : (gr + 1) * c, gc * c : (gc + 1) * c] = 0.5
        img[0, ar * c : (ar + 1) * c, ac * c : (ac + 1) * c] = 1.0
        return img

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        n = self.size
        a, g = self.np_random.choice(n * n, size=2, replace=False)
        self.agent, self.goal, self.t = divmod(int(a), n), divmod(int(g), n), 0
        return self._render(), {"agent": self.agent, "goal": self.goal}

    def step(self, action):
        dr, dc = self.MOVES[int(action)]
        r, c = self.agent[0] + dr, self.agent[1] + dc
        if 0 <= r < self.size and 0 <= c < self.size:
            self.agent = (r, c)
        self.t += 1
        term = self.agent == self.goal
        reward = 1.0 - 0.9 * self.t / self.max_steps if term else 0.0
        trunc = (not term) and self.t >= self.max_steps
        return self._render(), reward, term, trunc, {"agent": self.agent, "goal": self.goal}


def make_env(env: str | gym.Env | TabularMDP, **kwargs) -> gym.Env:
    """A gymnasium id (``"CartPole-v1"``), an env instance, or a TabularMDP -> an env."""
    if isinstance(env, gym.Env):
        return env
    if isinstance(env, TabularMDP):
        return TabularMDPEnv(env, **kwargs)
    if isinstance(env, str):
        return gym.make(env, **kwargs)
    raise ValueError(f"env must be a gymnasium id, a gymnasium.Env or a TabularMDP; got {env!r}")
