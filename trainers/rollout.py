"""Roll out a policy in gymnasium environments: visited states, returns, an interval estimate.

:func:`rollout` runs exactly ``episodes`` episodes of a policy on ``num_envs`` copies of an
environment stepped together (``gymnasium.vector.SyncVectorEnv`` with autoreset disabled;
each finished copy is reset on its own with the next episode's seed). Episode ``k`` is reset
with seed ``seed + k`` and, for a stochastic policy, draws its actions from its own generator
``numpy.random.default_rng([seed, k])``: a rollout depends on ``seed`` only, not on
``num_envs`` or on which copy ran which episode. A policy is

- an ``nn.Module`` mapping a batch of observations to action logits or Q-values: greedy takes
  the ``argmax`` (first index on ties), otherwise an action is drawn from ``softmax`` of the
  outputs (for Q-values: the Boltzmann policy at temperature 1); observations are cast to the
  module's floating dtype and device;
- any other callable mapping a batch of observations (numpy, ``(n, *obs_shape)``) to action
  probabilities ``(n, A)`` (checked: finite, non-negative, rows summing to 1 within 1e-6):
  greedy takes the most probable action, otherwise one is drawn.

:func:`evaluate_returns` adds a percentile-bootstrap interval for the mean return (Efron and
Tibshirani 1993, Ch. 13; the interval rliable reports by default, Agarwal et al. 2021).

References
----------
.. [1] B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall, 1993,
   Ch. 13 (the percentile interval).
.. [2] R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville, M. G. Bellemare, "Deep
   Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021
   (arXiv:2108.13264), Sec. 4.
.. [3] M. Towers et al., "Gymnasium: A Standard Interface for Reinforcement Learning
   Environments", arXiv:2407.17032, 2024 (vector environments, autoreset modes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from torch import nn

from theory.checks import (
    ArgumentTypeError,
    check_open_unit,
    check_positive_int,
    check_seed,
)
from theory.mdp import TabularMDP
from trainers.envs import build_env

__all__ = ["ReturnEstimate", "Rollout", "evaluate_returns", "rollout", "visited_states"]

#: Tolerance on the row sums of a callable policy's action probabilities.
PROB_ATOL = 1e-6


@dataclass(frozen=True)
class Rollout:
    """The steps of ``len(episode_returns)`` episodes, episode by episode in seed order.

    Attributes
    ----------
    states : np.ndarray (N, *obs_shape)
        Every observation at which the policy acted (the final observation of an episode,
        where no action is taken, is not included), in the env's dtype.
    actions : np.ndarray (N,) int64
    rewards : np.ndarray (N,) float64
    episode : np.ndarray (N,) int64
        The episode (0 .. episodes - 1) of each step.
    episode_returns : np.ndarray (episodes,) float64
        Undiscounted sums of rewards.
    episode_lengths : np.ndarray (episodes,) int64
    truncated : np.ndarray (episodes,) bool
        Whether the episode ended by truncation (the env's time limit or ``max_steps``)
        rather than termination.
    seeds : np.ndarray (episodes,) int64
        The env's reset seed of each episode (``seed + k``).
    """

    states: np.ndarray = field(repr=False)
    actions: np.ndarray = field(repr=False)
    rewards: np.ndarray = field(repr=False)
    episode: np.ndarray = field(repr=False)
    episode_returns: np.ndarray
    episode_lengths: np.ndarray
    truncated: np.ndarray = field(repr=False)
    seeds: np.ndarray = field(repr=False)

    def summary(self) -> str:
        r = self.episode_returns
        return (
            f"{r.size} episodes, {self.actions.size} steps, return mean {r.mean():.4g} "
            f"(min {r.min():.4g}, max {r.max():.4g}), length mean "
            f"{self.episode_lengths.mean():.4g}, {int(self.truncated.sum())} truncated"
        )


@dataclass(frozen=True)
class ReturnEstimate:
    """Mean undiscounted return with a percentile-bootstrap interval.

    Attributes
    ----------
    mean, lo, hi : float
        Mean return over the episodes and the ``confidence`` interval ``[lo, hi]``.
    returns : np.ndarray (episodes,)
    confidence : float
    n_resamples : int
    """

    mean: float
    lo: float
    hi: float
    returns: np.ndarray = field(repr=False)
    confidence: float
    n_resamples: int

    def summary(self) -> str:
        return (
            f"return {self.mean:.4g} [{self.lo:.4g}, {self.hi:.4g}] "
            f"({100 * self.confidence:g}% percentile bootstrap, {self.returns.size} episodes)"
        )


def _policy_fn(policy: object, n_actions: int) -> Callable[[np.ndarray], np.ndarray]:
    """``obs batch -> (n, A)`` float64 scores: logits/Q-values (a module, softmaxed for
    sampling) or probabilities (a callable); see :func:`_actions`."""
    if isinstance(policy, nn.Module):
        p = next((q for q in policy.parameters() if q.is_floating_point()), None)
        dtype = p.dtype if p is not None else torch.get_default_dtype()
        device = p.device if p is not None else torch.device("cpu")

        def module_fn(obs: np.ndarray) -> np.ndarray:
            x = torch.as_tensor(np.asarray(obs), dtype=dtype, device=device)
            try:
                with torch.no_grad():
                    out = policy(x)
            except RuntimeError as exc:
                raise ValueError(
                    f"policy does not take the env's observations of shape "
                    f"{tuple(x.shape[1:])}: {exc}"
                ) from None
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (x.shape[0], n_actions):
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(
                    f"policy must output ({x.shape[0]}, {n_actions}) logits or Q-values for a "
                    f"batch of {x.shape[0]} observations; got {shape}"
                )
            out = out.detach().to("cpu", torch.float64).numpy()
            if not np.all(np.isfinite(out)):
                raise ValueError("policy output non-finite logits or Q-values")
            return out

        return module_fn
    if not callable(policy):
        raise ArgumentTypeError(
            "policy must be an nn.Module (obs -> logits/Q-values) or a callable (obs batch -> "
            f"action probabilities); got {type(policy).__name__}"
        )

    def prob_fn(obs: np.ndarray) -> np.ndarray:
        try:
            probs = np.asarray(policy(obs), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"policy must return an array of probabilities: {exc}") from None
        if probs.shape != (len(obs), n_actions):
            raise ValueError(
                f"policy must return ({len(obs)}, {n_actions}) action probabilities for a batch "
                f"of {len(obs)} observations; got shape {probs.shape}"
            )
        if not np.all(np.isfinite(probs)) or np.any(probs < 0):
            raise ValueError("policy returned probabilities that are negative or not finite")
        sums = probs.sum(-1)
        if np.any(np.abs(sums - 1.0) > PROB_ATOL):
            raise ValueError(
                f"policy returned probabilities whose rows sum to {sums[np.argmax(np.abs(sums - 1))]}"
                f", not 1 (tolerance {PROB_ATOL})"
            )
        return probs

    return prob_fn


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def rollout(
    policy: nn.Module | Callable[[np.ndarray], Any],
    env: str | gym.Env | TabularMDP | Callable[[], gym.Env],
    *,
    episodes: int = 10,
    seed: int = 0,
    num_envs: int = 1,
    greedy: bool = True,
    max_steps: int | None = None,
) -> Rollout:
    """Run ``episodes`` episodes of ``policy`` in ``env`` and record every step.

    Parameters
    ----------
    policy : nn.Module or callable
        A module obs -> logits / Q-values, or a callable obs batch -> action probabilities
        (module docstring).
    env : str, gymnasium.Env, TabularMDP or factory
        With ``Discrete(A)`` actions (:func:`trainers.envs.build_env`). An ``Env`` instance
        serves one copy only (``num_envs=1``); it is not closed afterwards.
    episodes : int >= 1
        Exactly this many episodes are recorded.
    seed : int in [0, 2**63)
        Episode ``k`` resets with ``seed + k``; its action draws use
        ``default_rng([seed, k])``.
    num_envs : int >= 1
        Copies stepped together (batched policy calls); the result does not depend on it.
    greedy : bool, default True
        ``argmax`` actions, or draws from the policy's distribution.
    max_steps : int >= 1, optional
        Truncate each episode after this many steps (counted as truncated). With None the
        env's own termination / time limit ends episodes: an env that never ends needs it.

    Returns
    -------
    Rollout

    Examples
    --------
    >>> import theory
    >>> mdp = theory.TabularMDP(np.full((2, 2, 2), 0.5), np.array([[1.0, 0.0], [1.0, 0.0]]), 0.9)
    >>> r = rollout(lambda obs: np.tile([1.0, 0.0], (len(obs), 1)), mdp, episodes=3)
    >>> r.episode_returns, r.episode_lengths  # reward 1 per step for 50 steps (the horizon)
    (array([50., 50., 50.]), array([50, 50, 50]))
    """
    episodes = check_positive_int("episodes", episodes)
    seed = check_seed(seed)
    if seed + episodes - 1 > 2**63 - 1:
        raise ValueError(f"seed + episodes - 1 must stay below 2**63; got seed {seed}")
    num_envs = check_positive_int("num_envs", num_envs)
    if not isinstance(greedy, bool | np.bool_):
        raise ArgumentTypeError(f"greedy must be a bool; got {greedy!r}")
    if max_steps is not None:
        max_steps = check_positive_int("max_steps", max_steps)
    if isinstance(env, gym.Env) and num_envs > 1:
        raise ValueError(
            f"env: one gymnasium.Env instance cannot serve num_envs = {num_envs} copies; pass "
            "an id, a TabularMDP or a factory (or set num_envs=1)"
        )
    if not (isinstance(policy, nn.Module) or callable(policy)):
        raise ArgumentTypeError(
            "policy must be an nn.Module (obs -> logits/Q-values) or a callable (obs batch -> "
            f"action probabilities); got {type(policy).__name__}"
        )
    n_par = min(num_envs, episodes)
    first = build_env(env)
    owned = not isinstance(env, gym.Env)
    made = [first]

    def make() -> gym.Env:  # the first copy is the env already built (and checked)
        return made.pop() if made else build_env(env)

    vec = SyncVectorEnv([make] * n_par, autoreset_mode=AutoresetMode.DISABLED)
    n_actions = int(first.action_space.n)
    scores = _policy_fn(policy, n_actions)
    is_module = isinstance(policy, nn.Module)

    slot_ep = list(range(n_par))  # episode of each copy, -1 when idle
    rngs = {k: np.random.default_rng([seed, k]) for k in range(n_par)} if not greedy else {}
    steps: list[list[tuple[np.ndarray, int, float]]] = [[] for _ in range(episodes)]
    truncated = np.zeros(episodes, dtype=bool)
    next_ep = n_par
    try:
        obs, _ = vec.reset(seed=[seed + k for k in range(n_par)])
        while any(k >= 0 for k in slot_ep):
            s = scores(obs)
            actions = np.zeros(n_par, dtype=np.int64)
            for i, k in enumerate(slot_ep):
                if k < 0:
                    continue
                if greedy:
                    actions[i] = int(np.argmax(s[i]))
                else:
                    p = _softmax(s[i]) if is_module else s[i] / s[i].sum()
                    u = rngs[k].random()
                    actions[i] = min(
                        int(np.searchsorted(np.cumsum(p), u, side="right")), n_actions - 1
                    )
            states = obs  # SyncVectorEnv returns a fresh copy each call
            obs, rewards, terms, truncs, _ = vec.step(actions)
            reset = np.zeros(n_par, dtype=bool)
            reset_seeds: list[int | None] = [None] * n_par
            for i, k in enumerate(slot_ep):
                if k < 0:
                    reset[i] = bool(terms[i] or truncs[i])
                    continue
                steps[k].append((states[i], int(actions[i]), float(rewards[i])))
                cut = max_steps is not None and len(steps[k]) >= max_steps
                if terms[i] or truncs[i] or cut:
                    truncated[k] = bool(not terms[i])
                    reset[i] = True
                    rngs.pop(k, None)
                    if next_ep < episodes:
                        slot_ep[i], reset_seeds[i] = next_ep, seed + next_ep
                        if not greedy:
                            rngs[next_ep] = np.random.default_rng([seed, next_ep])
                        next_ep += 1
                    else:
                        slot_ep[i] = -1
            if reset.any() and any(k >= 0 for k in slot_ep):
                obs, _ = vec.reset(seed=reset_seeds, options={"reset_mask": reset})
    finally:
        if owned:
            vec.close()
    rows = [st for ep in steps for st in ep]
    return Rollout(
        states=np.stack([st[0] for st in rows]),
        actions=np.array([st[1] for st in rows], dtype=np.int64),
        rewards=np.array([st[2] for st in rows], dtype=np.float64),
        episode=np.repeat(np.arange(episodes), [len(ep) for ep in steps]),
        episode_returns=np.array([sum(st[2] for st in ep) for ep in steps], dtype=np.float64),
        episode_lengths=np.array([len(ep) for ep in steps], dtype=np.int64),
        truncated=truncated,
        seeds=seed + np.arange(episodes, dtype=np.int64),
    )


def visited_states(
    policy: nn.Module | Callable[[np.ndarray], Any],
    env: str | gym.Env | TabularMDP | Callable[[], gym.Env],
    **kwargs: Any,
) -> np.ndarray:
    """The observations ``(N, *obs_shape)`` at which ``policy`` acted in a :func:`rollout`
    (keyword arguments are rollout's).

    Examples
    --------
    >>> import theory
    >>> mdp = theory.TabularMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 0.9)
    >>> visited_states(lambda o: np.full((len(o), 2), 0.5), mdp, episodes=2, max_steps=3).shape
    (6, 2)
    """
    return rollout(policy, env, **kwargs).states


def evaluate_returns(
    policy: nn.Module | Callable[[np.ndarray], Any],
    env: str | gym.Env | TabularMDP | Callable[[], gym.Env],
    *,
    episodes: int = 20,
    seed: int = 0,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    **kwargs: Any,
) -> ReturnEstimate:
    """Mean undiscounted return of ``policy`` with a percentile-bootstrap interval.

    Parameters
    ----------
    policy, env
        As in :func:`rollout` (``num_envs``, ``greedy``, ``max_steps`` pass through).
    episodes : int >= 2
    seed : int in [0, 2**63)
        The rollout's seed; the bootstrap resamples with ``default_rng(seed)``.
    confidence : float in (0, 1)
    n_resamples : int >= 1
        Bootstrap resamples.

    Returns
    -------
    ReturnEstimate
        ``[lo, hi]`` are the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles
        (numpy's linear interpolation) of the means of ``n_resamples`` resamples of the
        episode returns drawn with replacement: the percentile interval of Efron and
        Tibshirani (1993), Ch. 13. All returns equal give ``lo = mean = hi``.

    Examples
    --------
    >>> import theory
    >>> mdp = theory.TabularMDP(np.full((2, 2, 2), 0.5), np.array([[1.0, 0.0], [1.0, 0.0]]), 0.9)
    >>> est = evaluate_returns(lambda o: np.tile([0.5, 0.5], (len(o), 1)), mdp, episodes=5,
    ...                        greedy=False, max_steps=4)
    >>> est.lo <= est.mean <= est.hi
    True
    """
    episodes = check_positive_int("episodes", episodes)
    if episodes < 2:
        raise ValueError(f"episodes must be at least 2 for an interval; got {episodes}")
    confidence = check_open_unit("confidence", confidence)
    n_resamples = check_positive_int("n_resamples", n_resamples)
    seed = check_seed(seed)
    returns = rollout(policy, env, episodes=episodes, seed=seed, **kwargs).episode_returns
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, returns.size, size=(n_resamples, returns.size))
    means = returns[idx].mean(axis=1)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return ReturnEstimate(
        mean=float(returns.mean()),
        lo=float(lo),
        hi=float(hi),
        returns=returns,
        confidence=confidence,
        n_resamples=n_resamples,
    )
