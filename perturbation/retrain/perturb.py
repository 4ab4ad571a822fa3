"""Perturbations to retrain under: a reward change, a transition change, dropped data.

The environment perturbations take an *environment factory* and return one: what
:func:`~perturbation.retrain.retrain_compare` hands to a training function
``train(env_factory, seed)``. A factory is a gymnasium id (``"CartPole-v1"``), a
:class:`theory.TabularMDP`, or a function returning a ``gymnasium.Env``
(:func:`trainers.envs.build_env` accepts all three). The perturbed factory builds the same
environment inside a gymnasium wrapper.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from theory.checks import ArgumentTypeError, check_nonnegative, check_probability, check_seed

__all__ = [
    "EnvPerturbation",
    "drop_data",
    "reward_perturbation",
    "transition_perturbation",
]


def _check_factory(env: object) -> object:
    from theory.mdp import TabularMDP

    if isinstance(env, str | TabularMDP) or (callable(env) and not isinstance(env, gym.Env)):
        return env
    raise ArgumentTypeError(
        "env must be an environment factory: a gymnasium id, a TabularMDP or a function returning "
        f"a gymnasium.Env (an Env instance cannot be rebuilt once per run); got {env!r}"
    )


class _Factory:
    """``build_env(env)`` wrapped by ``wrap``; picklable (for process engines)."""

    def __init__(self, env: object, wrap: Callable[[gym.Env], gym.Env]):
        self.env, self.wrap = env, wrap

    def __call__(self) -> gym.Env:
        from trainers.envs import build_env

        return self.wrap(build_env(self.env))

    def __repr__(self) -> str:
        return f"perturbed({self.env!r})"


@dataclass(frozen=True)
class EnvPerturbation:
    """A change of the environment: ``perturbation(env_factory) -> env_factory``.

    Attributes
    ----------
    name : str
        What was changed (shown in summaries).
    wrap : callable
        ``gymnasium.Env -> gymnasium.Env`` (a wrapper).
    reward_distance : float or None
        ``||R' - R||_inf`` when the perturbation declares it (a reward change); the ingredient of
        Prop 4.7's bound (:func:`theory.bounds.soft_policy_tv_bound`).
    """

    name: str
    wrap: Callable[[gym.Env], gym.Env] = field(repr=False)
    reward_distance: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ArgumentTypeError(f"name must be a non-empty string; got {self.name!r}")
        if not callable(self.wrap):
            raise ArgumentTypeError(f"wrap must be callable (Env -> Env); got {self.wrap!r}")
        if self.reward_distance is not None:
            object.__setattr__(
                self, "reward_distance", check_nonnegative("reward_distance", self.reward_distance)
            )

    def __call__(self, env: object) -> _Factory:
        """The factory of the perturbed environment."""
        return _Factory(_check_factory(env), self.wrap)


class _RewardWrapper(gym.Wrapper):
    """``r' = fn(obs, action, r, next_obs)`` on every step."""

    def __init__(self, env: gym.Env, fn: Callable[..., float]):
        super().__init__(env)
        self._fn = fn
        self._obs = None

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._obs = obs
        return obs, info

    def step(self, action):
        obs, r, term, trunc, info = self.env.step(action)
        new = self._fn(self._obs, action, r, obs)
        try:
            new = float(new)
        except (TypeError, ValueError):
            raise ArgumentTypeError(
                f"fn (the reward perturbation) must return a number; got {new!r}"
            ) from None
        if not np.isfinite(new):
            raise ValueError(f"fn (the reward perturbation) returned {new} for reward {r}")
        self._obs = obs
        return obs, new, term, trunc, info


def _n_params(fn: Callable) -> int | None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 4
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def reward_perturbation(
    fn: Callable[[Any, Any, float, Any], float],
    *,
    reward_distance: float | None = None,
    name: str = "reward change",
) -> EnvPerturbation:
    """A reward change as an environment perturbation (a gymnasium wrapper).

    Parameters
    ----------
    fn : callable
        ``fn(obs, action, reward, next_obs) -> new reward`` (a finite number), called on every
        step with the observation before the step.
    reward_distance : float >= 0, optional
        ``||R' - R||_inf``, if known: with it :func:`~perturbation.retrain.retrain_compare`
        prints Prop 4.7's bound (Xu 2025) for entropy- or KL-regularised training.
    name : str
        Shown in summaries.

    Returns
    -------
    EnvPerturbation
        ``perturbation(env_factory)`` is the factory of the wrapped environment.

    Raises
    ------
    TypeError
        ``fn`` is not callable or does not take four arguments.
    ValueError
        ``reward_distance`` negative or not finite.

    Examples
    --------
    >>> bonus = reward_perturbation(lambda o, a, r, o2: r + 0.1 * (a == 0), reward_distance=0.1)
    >>> env = bonus("CartPole-v1")()
    >>> _ = env.reset(seed=0)
    >>> env.step(0)[1], env.step(1)[1]
    (1.1, 1.0)
    """
    if not callable(fn):
        raise ArgumentTypeError(f"fn must be callable (obs, action, reward, next_obs); got {fn!r}")
    n = _n_params(fn)
    if n is not None and n != 4:
        raise ArgumentTypeError(
            f"fn must take four arguments (obs, action, reward, next_obs); it takes {n}"
        )
    if reward_distance is not None:
        reward_distance = check_nonnegative("reward_distance", reward_distance)
    return EnvPerturbation(name, _RewardWrap(fn), reward_distance)


class _RewardWrap:
    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, env: gym.Env) -> gym.Env:
        return _RewardWrapper(env, self.fn)


class _TransitionWrapper(gym.Wrapper):
    """With probability ``p`` the action is replaced by a uniformly random one (seeded by the
    environment's reset seed); ``attributes`` are set on ``env.unwrapped`` at construction."""

    def __init__(self, env: gym.Env, p: float, attributes: Mapping[str, Any]):
        super().__init__(env)
        self._p = p
        self._rng = np.random.default_rng(0)
        for k, v in attributes.items():
            if not hasattr(env.unwrapped, k):
                raise ValueError(
                    f"attributes: the environment {type(env.unwrapped).__name__} has no "
                    f"attribute {k!r} to change"
                )
            setattr(env.unwrapped, k, v)

    def reset(self, *, seed: int | None = None, **kwargs: Any):
        if seed is not None:
            self._rng = np.random.default_rng([seed, 0x5EED])
        return self.env.reset(seed=seed, **kwargs)

    def step(self, action):
        if self._p > 0 and self._rng.random() < self._p:
            action = int(self._rng.integers(self.env.action_space.n))
        return self.env.step(action)


class _TransitionWrap:
    def __init__(self, p: float, attributes: dict[str, Any]):
        self.p, self.attributes = p, attributes

    def __call__(self, env: gym.Env) -> gym.Env:
        if self.p > 0 and not isinstance(env.action_space, gym.spaces.Discrete):
            raise ValueError(f"action_noise needs Discrete actions; got {env.action_space}")
        return _TransitionWrapper(env, self.p, self.attributes)


def transition_perturbation(
    *,
    action_noise: float = 0.0,
    attributes: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> EnvPerturbation:
    """A change of the dynamics as an environment perturbation (a gymnasium wrapper).

    Parameters
    ----------
    action_noise : float in [0, 1], default 0
        Probability that the agent's action is replaced by a uniformly random one ("slippery"
        dynamics: ``P'(.|s, a) = (1 - p) P(.|s, a) + p mean_b P(.|s, b)``); the noise is seeded
        by the seed of each ``reset(seed=...)``.
    attributes : mapping str -> value, optional
        Attributes of ``env.unwrapped`` to set, e.g. CartPole's ``{"force_mag": 8.0}`` (a
        physical parameter). Derived attributes are not recomputed: change the ones the
        environment's ``step`` reads.
    name : str, optional
        Shown in summaries (default: a description of the change).

    Returns
    -------
    EnvPerturbation

    Raises
    ------
    ValueError
        ``action_noise`` outside [0, 1]; neither change given; (when the environment is built)
        an attribute the environment does not have.
    TypeError
        ``attributes`` not a mapping with string keys.

    Examples
    --------
    >>> weaker = transition_perturbation(attributes={"force_mag": 8.0})
    >>> weaker("CartPole-v1")().unwrapped.force_mag
    8.0
    """
    p = check_probability("action_noise", action_noise)
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, Mapping) or not all(isinstance(k, str) for k in attributes):
        raise ArgumentTypeError(
            f"attributes must be a mapping attribute name -> value; got {attributes!r}"
        )
    if p == 0 and not attributes:
        raise ValueError(
            "transition_perturbation: give action_noise > 0 or attributes to change (as called, "
            "it changes nothing)"
        )
    if name is None:
        parts = ([f"action noise {p:g}"] if p else []) + [
            f"{k}={v!r}" for k, v in attributes.items()
        ]
        name = "transition change: " + ", ".join(parts)
    return EnvPerturbation(name, _TransitionWrap(p, dict(attributes)), None)


def drop_data(dataset: Any, fraction: float, seed: int = 0) -> Any:
    """``dataset`` with a random ``fraction`` of its rows removed (order of the rest kept).

    ``round(fraction * n)`` rows are dropped, chosen uniformly without replacement by
    ``numpy.random.default_rng(seed)``: the perturbation "trained on less data".

    Parameters
    ----------
    dataset : array, tensor, list/tuple, pandas DataFrame, or mapping of equal-length arrays
        Rows along the first axis.
    fraction : float in [0, 1)
        Fraction of rows to drop (at least one row is kept).
    seed : int, default 0

    Returns
    -------
    Same kind as ``dataset`` (a mapping: a dict of the same keys).

    Raises
    ------
    ValueError
        ``fraction`` outside [0, 1), an empty dataset, dropping every row, or a mapping whose
        arrays differ in length.
    TypeError
        ``dataset`` of an unsupported kind.

    Examples
    --------
    >>> drop_data(np.arange(10), 0.3, seed=0).size
    7
    """
    frac = check_probability("fraction", fraction)
    if frac >= 1.0:
        raise ValueError(f"fraction must be in [0, 1) (some data must remain); got {fraction!r}")
    seed = check_seed(seed)
    if isinstance(dataset, str | bytes) or dataset is None:
        raise ArgumentTypeError(f"dataset must hold rows; got {type(dataset).__name__}")
    if isinstance(dataset, Mapping):
        lengths = {k: len(v) for k, v in dataset.items()}
        if not lengths:
            raise ValueError("dataset is an empty mapping")
        if len(set(lengths.values())) != 1:
            raise ValueError(f"dataset: the arrays must have one length; got {lengths}")
        n = next(iter(lengths.values()))
    else:
        try:
            n = len(dataset)
        except TypeError:
            raise ArgumentTypeError(
                f"dataset must be an array, tensor, list, DataFrame or mapping of arrays; got "
                f"{type(dataset).__name__}"
            ) from None
    if n == 0:
        raise ValueError("dataset is empty")
    n_drop = round(frac * n)
    if n_drop >= n:
        raise ValueError(f"fraction {frac} would drop all {n} rows of dataset; keep at least one")
    keep = np.sort(np.random.default_rng(seed).permutation(n)[n_drop:])
    return _take(dataset, keep)


def _take(data: Any, keep: np.ndarray) -> Any:
    if isinstance(data, Mapping):
        return {k: _take(v, keep) for k, v in data.items()}
    if hasattr(data, "iloc"):  # pandas
        return data.iloc[keep]
    if isinstance(data, np.ndarray):
        return data[keep]
    if hasattr(data, "detach") and hasattr(data, "index_select"):  # torch
        import torch

        return data[torch.as_tensor(keep, dtype=torch.long, device=data.device)]
    if isinstance(data, list | tuple):
        return type(data)(data[i] for i in keep)
    raise ArgumentTypeError(
        f"dataset must be an array, tensor, list, DataFrame or mapping of arrays; got "
        f"{type(data).__name__}"
    )
