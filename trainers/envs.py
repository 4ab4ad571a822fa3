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

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_choice,
    check_int,
    check_positive_int,
    check_simplex,
)
from theory.mdp import TabularMDP

__all__ = ["PixelGridEnv", "TabularMDPEnv", "build_env", "make_env"]


def _check_action(action: object, n_actions: int) -> int:
    """An action of ``Discrete(n_actions)``: an integer (or 0-d integer array) in range.

    Gymnasium's environments refuse an action outside the action space before stepping
    (``action_space.contains``); here the refusal is a ``ValueError`` (``TypeError`` for a
    non-integer) naming ``action``.
    """
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        action = action.item()
    return check_int("action", action, lo=0, hi=n_actions - 1)


class TabularMDPEnv(gym.Env):
    """A gymnasium environment for a finite MDP.

    Parameters
    ----------
    mdp : theory.TabularMDP
    initial : array (S,), optional
        Initial-state distribution (uniform by default).
    max_steps : int
        Truncation horizon (``truncated=True`` after this many steps).
    render_mode : None
        Gymnasium's render mode; the environment declares none (there is nothing to draw), so
        only None is accepted.
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(
        self,
        mdp: TabularMDP,
        initial: np.ndarray | None = None,
        max_steps: int = 50,
        render_mode: str | None = None,
    ):
        self.render_mode = check_choice(
            "render_mode", render_mode, [None, *self.metadata["render_modes"]]
        )
        if not isinstance(mdp, TabularMDP):
            raise ArgumentTypeError(f"mdp must be a theory.TabularMDP; got {type(mdp).__name__}")
        max_steps = check_positive_int("max_steps", max_steps)
        S = mdp.n_states
        if initial is None:
            mu = np.full(S, 1.0 / S)
        else:
            mu = as_float_array("initial", initial, shape=(S,))
            check_simplex("initial", mu, atol=1e-8)
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
        a = _check_action(action, self.mdp.n_actions)
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
    render_mode : {None, "rgb_array"}, default None
        Gymnasium's render mode: ``"rgb_array"`` makes :meth:`render` return the observation
        as a ``(c n, c n, 3)`` uint8 image; None renders nothing.

    Notes
    -----
    Reward (MiniGrid's): ``1 - 0.9 t / max_steps`` when the agent reaches the goal at step ``t``
    (the episode terminates), 0 otherwise; a uniformly random policy scores far below the
    optimum, which is at least ``1 - 0.9 (2 n - 2) / max_steps``. Moves off the grid stay put.
    Agent and goal are drawn (distinct) from the environment's seeded ``np_random`` at reset.
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 4}
    MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left

    def __init__(
        self,
        size: int = 4,
        cell: int = 3,
        max_steps: int | None = None,
        render_mode: str | None = None,
    ):
        self.render_mode = check_choice(
            "render_mode", render_mode, [None, *self.metadata["render_modes"]]
        )
        size = check_int("size", size, lo=2)
        cell = check_positive_int("cell", cell)
        if max_steps is not None:
            max_steps = check_positive_int("max_steps", max_steps)
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

    def render(self) -> np.ndarray | None:
        """The observation as an RGB ``(c n, c n, 3)`` uint8 image (``render_mode``
        ``"rgb_array"``); None, with gymnasium's warning, when no render mode was set."""
        if self.render_mode is None:
            gym.logger.warn(
                "PixelGridEnv.render() was called without a render mode; pass "
                'render_mode="rgb_array" to the constructor (or to gymnasium.make)'
            )
            return None
        frame = np.repeat(self._render(), 3, axis=0).transpose(1, 2, 0)
        return (frame * 255).astype(np.uint8)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        n = self.size
        a, g = self.np_random.choice(n * n, size=2, replace=False)
        self.agent, self.goal, self.t = divmod(int(a), n), divmod(int(g), n), 0
        return self._render(), {"agent": self.agent, "goal": self.goal}

    def step(self, action):
        dr, dc = self.MOVES[_check_action(action, 4)]
        r, c = self.agent[0] + dr, self.agent[1] + dc
        if 0 <= r < self.size and 0 <= c < self.size:
            self.agent = (r, c)
        self.t += 1
        term = self.agent == self.goal
        reward = 1.0 - 0.9 * self.t / self.max_steps if term else 0.0
        trunc = (not term) and self.t >= self.max_steps
        return self._render(), reward, term, trunc, {"agent": self.agent, "goal": self.goal}


def make_env(env: str | gym.Env | TabularMDP, **kwargs) -> gym.Env:
    """A gymnasium id (``"CartPole-v1"``), an env instance, or a TabularMDP -> an env.

    ``kwargs`` go to ``gym.make`` or :class:`TabularMDPEnv`; an env instance takes none.
    """
    if isinstance(env, gym.Env):
        if kwargs:
            raise ValueError(
                f"env is already a gymnasium.Env; keyword arguments {sorted(kwargs)} would be "
                "ignored"
            )
        return env
    if isinstance(env, TabularMDP):
        return TabularMDPEnv(env, **kwargs)
    if isinstance(env, str):
        try:
            return gym.make(env, **kwargs)
        except gym.error.Error as exc:  # unknown id, missing dependency (not a ValueError)
            raise ValueError(f"env {env!r} cannot be made by gymnasium: {exc}") from exc
    raise ArgumentTypeError(
        f"env must be a gymnasium id, a gymnasium.Env or a TabularMDP; got {env!r}"
    )


def build_env(env: object) -> gym.Env:
    """``env()`` for a factory (an env class or a function), else :func:`make_env`; the
    result must be a ``gymnasium.Env`` with ``Discrete`` actions."""
    e = env() if callable(env) and not isinstance(env, gym.Env) else make_env(env)
    if not isinstance(e, gym.Env):
        raise ArgumentTypeError(
            f"env must be a gymnasium.Env, a factory of one, an id or a TabularMDP; the factory "
            f"returned {type(e).__name__}"
        )
    if not isinstance(e.action_space, gym.spaces.Discrete):
        raise ValueError(f"env must have Discrete actions; got {e.action_space}")
    return e
