"""Continuous-action environments: the linear-quadratic task of :mod:`theory.continuous`.

:class:`LQEnv` steps ``x' = A x + B u + w`` with reward ``-(x'Qx + u'Ru)``, the task whose
entropy-regularized optimum :func:`theory.continuous.soft_lq_policy` gives in closed form, so a
trained SAC policy can be compared with it (``perturbation/continuous``). Episodes start at
``x0 ~ N(0, init_std^2 I)`` and are truncated (not terminated) after ``horizon`` steps, so that
bootstrapped targets estimate the infinite-horizon value. Actions are clipped to
``[-action_bound, action_bound]``; a bound well above the soft policy's typical action
(a few ``|Kx| + sqrt(Sigma)``) leaves the closed form unchanged in practice.

``reward_scale`` and ``reward_noise`` perturb the reward the agent sees
(``reward_scale * r + reward_noise * N(0, 1)``) for the reward-scale experiments of DSAC-T
(Duan et al., arXiv:2310.05858, Sec. 6); ``info["raw_reward"]`` keeps the unperturbed reward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from theory.checks import (
    ArgumentTypeError,
    check_choice,
    check_nonnegative,
    check_positive,
    check_positive_int,
)
from theory.continuous import LQTask

__all__ = ["LQEnv", "make_continuous_env", "make_continuous_envs"]


class LQEnv(gym.Env):
    """A gymnasium env with ``Box`` observations (the state) and ``Box`` actions.

    Parameters
    ----------
    task : theory.continuous.LQTask
    horizon : int
        Steps before truncation.
    action_bound : float > 0
        Actions are clipped to ``[-action_bound, action_bound]^m``.
    init_std : float > 0
        Initial states ``x0 ~ N(0, init_std^2 I)``.
    reward_scale : float > 0
        Multiplies the reward the agent sees.
    reward_noise : float >= 0
        Standard deviation of Gaussian noise added to the (scaled) reward.
    state_limit : float > 0
        Observations are clipped to ``[-state_limit, state_limit]`` and the state kept there, so
        that a diverging policy yields large but finite rewards.

    Examples
    --------
    >>> from theory.continuous import lq_task
    >>> env = LQEnv(lq_task(1.0, 1.0, 1.0, 1.0, gamma=0.9), horizon=5)
    >>> obs, _ = env.reset(seed=0)
    >>> obs.shape, env.action_space.shape
    ((1,), (1,))
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(
        self,
        task: LQTask,
        *,
        horizon: int = 50,
        action_bound: float = 5.0,
        init_std: float = 1.0,
        reward_scale: float = 1.0,
        reward_noise: float = 0.0,
        state_limit: float = 100.0,
        render_mode: str | None = None,
    ) -> None:
        self.render_mode = check_choice("render_mode", render_mode, [None])
        if not isinstance(task, LQTask):
            raise ArgumentTypeError(
                f"task must be an LQTask (see theory.continuous.lq_task); got {type(task).__name__}"
            )
        self.task = task
        self.horizon = check_positive_int("horizon", horizon)
        self.action_bound = check_positive("action_bound", action_bound)
        self.init_std = check_positive("init_std", init_std)
        self.reward_scale = check_positive("reward_scale", reward_scale)
        self.reward_noise = check_nonnegative("reward_noise", reward_noise)
        self.state_limit = check_positive("state_limit", state_limit)
        n, m = task.n, task.m
        self.observation_space = gym.spaces.Box(
            -self.state_limit, self.state_limit, (n,), dtype=np.float32
        )
        self.action_space = gym.spaces.Box(-self.action_bound, self.action_bound, (m,), np.float32)
        vals, vecs = np.linalg.eigh(task.noise)
        self._chol = vecs * np.sqrt(np.clip(vals, 0.0, None))  # chol @ chol.T = noise
        self._x = np.zeros(n)
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._x = self.init_std * self.np_random.normal(size=self.task.n)
        self._x = np.clip(self._x, -self.state_limit, self.state_limit)
        self._t = 0
        return self._x.astype(np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        u = np.asarray(action, dtype=np.float64).reshape(-1)
        if u.shape != (self.task.m,):
            raise ValueError(f"action must have shape ({self.task.m},); got {np.shape(action)}")
        if not np.all(np.isfinite(u)):
            raise ValueError(f"action must be finite; got {u.tolist()}")
        u = np.clip(u, -self.action_bound, self.action_bound)
        t, x = self.task, self._x
        raw = -float(x @ t.Q @ x + u @ t.R @ u)
        w = self._chol @ self.np_random.normal(size=t.n)
        self._x = np.clip(t.A @ x + t.B @ u + w, -self.state_limit, self.state_limit)
        self._t += 1
        r = self.reward_scale * raw
        if self.reward_noise > 0:
            r += self.reward_noise * float(self.np_random.normal())
        trunc = self._t >= self.horizon
        return self._x.astype(np.float32), r, False, trunc, {"raw_reward": raw}


def make_continuous_env(env: gym.Env | Callable[[], gym.Env] | str, name: str = "env") -> gym.Env:
    """An env for the continuous-action trainers: ``env`` itself, ``env()`` or ``gym.make(env)``.

    Raises
    ------
    ArgumentTypeError
        ``env`` is none of these.
    ValueError
        The action space is not a ``Box`` with finite bounds and ``high > low``.
    """
    if isinstance(env, str):
        e = gym.make(env)
    elif callable(env) and not isinstance(env, gym.Env):
        e = env()
    else:
        e = env
    if not isinstance(e, gym.Env):
        raise ArgumentTypeError(
            f"{name} must be a gymnasium.Env, a factory of one or an id; got {type(e).__name__}"
        )
    space = e.action_space
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"{name} must have Box actions; got {space}")
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(
            f"{name} action bounds must be finite; got low={space.low}, high={space.high}"
        )
    if not np.all(space.high > space.low):
        raise ValueError(
            f"{name} action bounds must have high > low; got {space.low}, {space.high}"
        )
    return e


def make_continuous_envs(specs: Sequence[object], name: str = "env") -> list[gym.Env]:
    """One env per entry of ``specs`` (:func:`make_continuous_env` each), for trainers that run
    several copies: an env instance is refused when more than one env is needed, observations
    must be a ``Box``, and every env must have the same spaces.

    Examples
    --------
    >>> envs = make_continuous_envs(["Pendulum-v1"] * 2)
    >>> len(envs), envs[0].action_space.shape
    (2, (1,))
    """
    specs = list(specs)
    if not specs:
        raise ValueError(f"{name} must give at least one environment")
    if len(specs) > 1 and any(isinstance(s, gym.Env) for s in specs):
        raise ArgumentTypeError(
            f"{name} must be a factory or an env id to build {len(specs)} environments; got an "
            "env instance: pass `lambda: env_like_this` instead"
        )
    envs = [make_continuous_env(s, name) for s in specs]
    first = envs[0]
    if not isinstance(first.observation_space, gym.spaces.Box):
        raise ValueError(f"{name} must have Box observations; got {first.observation_space}")
    for e in envs[1:]:
        if (
            e.observation_space.shape != first.observation_space.shape
            or e.action_space.shape != first.action_space.shape
            or not np.array_equal(e.action_space.low, first.action_space.low)
            or not np.array_equal(e.action_space.high, first.action_space.high)
        ):
            raise ValueError(f"{name} must build environments with identical spaces")
    return envs
