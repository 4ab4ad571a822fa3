"""A procedurally generated pixel gridworld (gymnasium API) with exact Q* by value iteration.

An ``n × n`` maze (random walls at a given density, kept connected to the goal) rendered to a
``1 × 3n × 3n`` float image: each cell is a 3 × 3 block, empty 0, wall 0.5, goal a ring of 0.8,
agent 1.0. Four actions (up, right, down, left); moving into a wall or off the grid stays put.
Reward -1 per step until the goal (absorbing, reward 0); ``γ = 0.99`` by default, so Q* is
close to minus the shortest-path length and the action gaps are about 1.

It is the middle rung between exact linear policies and Atari-scale agents (which Korkmaz 2024
uses): a policy fitted to Q* has real nonlinear decision boundaries without RL noise.
"""

from __future__ import annotations

import functools
from collections import deque
from typing import ClassVar

import gymnasium as gym
import numpy as np
import torch

import theory as T
from stability.decision_boundary.models import FitReport, GridCNN, fit_q_policy
from theory.checks import (
    check_bool,
    check_choice,
    check_gamma,
    check_int,
    check_positive_int,
    check_real,
    check_seed,
)

__all__ = ["ACTIONS", "PixelGridworld", "gridworld_policy", "rollout_states"]

#: (drow, dcol) of up, right, down, left.
ACTIONS = ((-1, 0), (0, 1), (1, 0), (0, -1))
CELL = 3
WALL, GOAL, AGENT = 0.5, 0.8, 1.0


class PixelGridworld(gym.Env):
    """A seeded maze with rendered observations of shape ``(1, 3n, 3n)`` (float32 in [0, 1]).

    Parameters
    ----------
    size : int, default 12
        Grid side ``n`` (observations ``1 × 36 × 36`` at 12).
    wall_density : float, default 0.25
        Probability of a wall per cell before the connectivity repair.
    seed : int, default 0
        Maze seed (starts are drawn from ``reset(seed=...)``).
    gamma : float, default 0.99
    max_steps : int, optional
        Truncation horizon (default ``4 n²``).
    render_mode : {None, "rgb_array"}, default None
        Gymnasium's render mode: ``"rgb_array"`` makes :meth:`render` return the observation
        as a ``(3n, 3n, 3)`` uint8 image; None renders nothing (gymnasium's convention).

    Examples
    --------
    >>> env = PixelGridworld(size=6, seed=1)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    (1, 18, 18)
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        size: int = 12,
        wall_density: float = 0.25,
        seed: int = 0,
        gamma: float = 0.99,
        max_steps: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.render_mode = check_choice(
            "render_mode", render_mode, [None, *self.metadata["render_modes"]]
        )
        self.size = check_int("size", size, lo=3)
        wall_density = check_real("wall_density", wall_density, lo=0.0, hi=0.6, hi_open=True)
        self.gamma = check_gamma(gamma)
        seed = check_seed(seed)
        self.max_steps = (
            4 * self.size**2 if max_steps is None else check_positive_int("max_steps", max_steps)
        )
        rng = np.random.default_rng(seed)
        n = self.size
        walls = rng.random((n, n)) < wall_density
        self.goal = (int(rng.integers(n)), int(rng.integers(n)))
        walls[self.goal] = False
        reach = self._reachable(walls, self.goal)
        self.walls = ~reach  # cells cut off from the goal become walls
        self.cells = [(r, c) for r in range(n) for c in range(n) if reach[r, c]]
        self.index = {c: i for i, c in enumerate(self.cells)}
        side = CELL * n
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1, side, side), np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self._background = self._render_background()
        self.agent = self.cells[0]
        self._t = 0

    # -- maze --------------------------------------------------------------------------------
    @staticmethod
    def _reachable(walls: np.ndarray, start: tuple[int, int]) -> np.ndarray:
        n = len(walls)
        seen = np.zeros_like(walls)
        seen[start] = True
        queue = deque([start])
        while queue:
            r, c = queue.popleft()
            for dr, dc in ACTIONS:
                rr, cc = r + dr, c + dc
                if 0 <= rr < n and 0 <= cc < n and not walls[rr, cc] and not seen[rr, cc]:
                    seen[rr, cc] = True
                    queue.append((rr, cc))
        return seen

    def move(self, cell: tuple[int, int], action: int) -> tuple[int, int]:
        """The deterministic successor of ``cell`` under ``action``."""
        action = self._action(action)
        try:
            free = tuple(cell) in self.index  # type: ignore[arg-type]
        except TypeError:  # not iterable, or unhashable entries
            free = False
        if not free:
            raise ValueError(f"cell must be a free cell (row, col) of the maze; got {cell!r}")
        cell = (int(cell[0]), int(cell[1]))
        if cell == self.goal:
            return cell
        r, c = cell[0] + ACTIONS[action][0], cell[1] + ACTIONS[action][1]
        if 0 <= r < self.size and 0 <= c < self.size and not self.walls[r, c]:
            return (r, c)
        return cell

    def tabular(self) -> T.TabularMDP:
        """The MDP over the free cells (order :attr:`cells`), goal absorbing with reward 0."""
        S = len(self.cells)
        P = np.zeros((S, 4, S))
        R = np.full((S, 4), -1.0)
        g = self.index[self.goal]
        for i, cell in enumerate(self.cells):
            for a in range(4):
                P[i, a, self.index[self.move(cell, a)]] = 1.0
        R[g] = 0.0
        return T.TabularMDP(P, R, self.gamma)

    def optimal_q(self) -> np.ndarray:
        """Q* over :attr:`cells` by value iteration (certified sup-norm error 1e-10)."""
        return T.optimal_q(self.tabular())

    # -- rendering ---------------------------------------------------------------------------
    def _render_background(self) -> np.ndarray:
        n = self.size
        img = np.kron(self.walls.astype(np.float32) * WALL, np.ones((CELL, CELL), np.float32))
        r, c = self.goal
        block = np.full((CELL, CELL), GOAL, np.float32)
        block[1, 1] = 0.0
        img[CELL * r : CELL * r + CELL, CELL * c : CELL * c + CELL] = block
        return img.reshape(1, CELL * n, CELL * n)

    def render_cell(self, cell: tuple[int, int]) -> np.ndarray:
        """The observation with the agent at ``cell``."""
        img = self._background.copy()
        r, c = cell
        img[0, CELL * r : CELL * r + CELL, CELL * c : CELL * c + CELL] = AGENT
        return img

    def observations(self, non_goal: bool = True) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Observations of every free cell (without the goal by default) and the cells."""
        cells = [c for c in self.cells if not (non_goal and c == self.goal)]
        return np.stack([self.render_cell(c) for c in cells]), cells

    def render(self) -> np.ndarray | None:
        """The current observation as an RGB ``(3n, 3n, 3)`` uint8 image (``render_mode``
        ``"rgb_array"``); None, with gymnasium's warning, when no render mode was set."""
        if self.render_mode is None:
            gym.logger.warn(
                "PixelGridworld.render() was called without a render mode; pass "
                'render_mode="rgb_array" to the constructor (or to gymnasium.make)'
            )
            return None
        frame = np.repeat(self.render_cell(self.agent), 3, axis=0).transpose(1, 2, 0)
        return (frame * 255).astype(np.uint8)

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        starts = [c for c in self.cells if c != self.goal] or [self.goal]
        if options and "start" in options:
            start = options["start"]
            try:
                start = tuple(int(v) for v in start)
            except (TypeError, ValueError):
                start = None
            if start not in self.index:
                raise ValueError(f"options['start'] must be a free cell; got {start}")
            self.agent = start  # type: ignore[assignment]
        else:
            self.agent = starts[int(self.np_random.integers(len(starts)))]
        self._t = 0
        return self.render_cell(self.agent), {"cell": self.agent}

    @staticmethod
    def _action(action: object) -> int:
        """``action`` as an int in ``0..3`` (a bool, float or out-of-range value is refused)."""
        if isinstance(action, np.ndarray) and action.ndim == 0:
            action = action.item()
        return check_int("action", action, lo=0, hi=len(ACTIONS) - 1)

    def step(self, action: int):
        """One move; an invalid ``action`` raises ValueError/TypeError naming it (not IndexError)."""
        self.agent = self.move(self.agent, self._action(action))
        self._t += 1
        terminated = self.agent == self.goal
        truncated = self._t >= self.max_steps and not terminated
        return self.render_cell(self.agent), -1.0, terminated, truncated, {"cell": self.agent}


def rollout_states(
    policy: torch.nn.Module, env: PixelGridworld, n_episodes: int, seed: int
) -> tuple[np.ndarray, list[np.ndarray], list[list[tuple[int, int]]]]:
    """Greedy rollouts of ``policy`` from ``n_episodes`` seeded random starts.

    Returns the stacked observations of every visited non-terminal state (the set ``S`` of
    Korkmaz 2024, §3, "states visited by the policy"), the per-episode observation arrays
    (for oscillation statistics) and the per-episode cell paths.
    """
    if not isinstance(policy, torch.nn.Module):
        raise TypeError(f"policy must be a torch module; got {type(policy).__name__}")
    if not isinstance(env, PixelGridworld):
        raise TypeError(f"env must be a PixelGridworld; got {type(env).__name__}")
    n_episodes = check_positive_int("n_episodes", n_episodes)
    seed = check_seed(seed)
    dtype = next(policy.parameters()).dtype
    episodes, paths = [], []
    for i in range(n_episodes):
        obs, info = env.reset(seed=seed * 100_003 + i)
        frames, cells = [obs], [info["cell"]]
        done = info["cell"] == env.goal
        while not done:
            with torch.no_grad():
                a = int(policy(torch.as_tensor(obs[None], dtype=dtype)).argmax())
            obs, _, term, trunc, info = env.step(a)
            done = term or trunc
            if not term:
                frames.append(obs)
                cells.append(info["cell"])
        episodes.append(np.stack(frames))
        paths.append(cells)
    return np.concatenate(episodes), episodes, paths


def gridworld_policy(
    size: int = 12, seed: int = 0, robust: bool = False, *, maze_seed: int | None = None
) -> tuple[PixelGridworld, GridCNN, FitReport]:
    """A maze and a CNN fitted to its Q* (cached): the "vanilla" policy or its robust twin.

    ``maze_seed`` (default ``seed``) picks the maze, ``seed`` the network initialisation; the
    fit uses every non-goal cell. Cached per arguments: do not modify the returned model.

    Raises
    ------
    TypeError, ValueError
        Before anything is built or looked up in the cache, if ``size`` is not an integer
        >= 3, ``seed`` or ``maze_seed`` not a seed, or ``robust`` not a bool.
    """
    size = check_int("size", size, lo=3)
    seed = check_seed(seed)
    maze_seed = seed if maze_seed is None else check_seed(maze_seed, "maze_seed")
    robust = check_bool("robust", robust)
    return _gridworld_policy(size, seed, robust, maze_seed)


@functools.lru_cache(maxsize=16)
def _gridworld_policy(
    size: int, seed: int, robust: bool, maze_seed: int
) -> tuple[PixelGridworld, GridCNN, FitReport]:
    env = PixelGridworld(size, seed=maze_seed)
    obs, cells = env.observations()
    q = env.optimal_q()[[env.index[c] for c in cells]]
    model, report = fit_q_policy(obs, q, robust=robust, seed=seed)
    for p in model.parameters():
        p.requires_grad_(False)
    return env, model, report
