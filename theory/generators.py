"""Seeded generators of MDPs: random instances, planted ties, and the exact constructions.

Experiments, benchmarks, notebooks and :mod:`theory.strategies` all draw their instances here,
from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.checks import (
    as_float_array,
    check_gamma,
    check_int,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_probability,
    check_real,
    check_rng,
)
from theory.effective_reward import effective_reward
from theory.inverse import inverse_bellman
from theory.mdp import TabularMDP

__all__ = [
    "MultiRewardTask",
    "bandit",
    "conflicting_multi_reward_task",
    "nonuniform_limit_mdp",
    "planted_tie_mdp",
    "random_mdp",
    "random_transitions",
    "tight_soft_construction",
]


def random_transitions(
    rng: np.random.Generator, n_states: int, n_actions: int, *, deterministic_fraction: float = 0.0
) -> np.ndarray:
    """Dirichlet(1) rows; a fraction of (s, a) pairs made deterministic (as in token MDPs).

    Raises
    ------
    TypeError
        ``rng`` not a ``numpy.random.Generator``; a size not an integer.
    ValueError
        ``n_states`` or ``n_actions`` < 1; ``deterministic_fraction`` outside [0, 1].
    """
    rng = check_rng("rng", rng)
    n_states = check_positive_int("n_states", n_states)
    n_actions = check_positive_int("n_actions", n_actions)
    deterministic_fraction = check_probability("deterministic_fraction", deterministic_fraction)
    P = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions))
    det = rng.random((n_states, n_actions)) < deterministic_fraction
    P[det] = np.eye(n_states)[rng.integers(n_states, size=int(det.sum()))]
    return P


def random_mdp(
    rng: np.random.Generator,
    n_states: int,
    n_actions: int,
    gamma: float,
    *,
    reward_scale: float = 1.0,
    deterministic_fraction: float = 0.0,
) -> TabularMDP:
    """A random MDP with rewards uniform in ``[-reward_scale, reward_scale]`` (generically no ties).

    Raises
    ------
    TypeError, ValueError
        As :func:`random_transitions`; ``gamma`` outside [0, 1); ``reward_scale`` negative or
        not finite.
    """
    gamma = check_gamma(gamma)
    reward_scale = check_nonnegative("reward_scale", reward_scale)
    P = random_transitions(rng, n_states, n_actions, deterministic_fraction=deterministic_fraction)
    return TabularMDP(P, rng.uniform(-reward_scale, reward_scale, (n_states, n_actions)), gamma)


def planted_tie_mdp(
    rng: np.random.Generator,
    n_states: int,
    n_actions: int,
    m: int,
    gamma: float,
    *,
    deterministic_fraction: float = 0.0,
) -> tuple[TabularMDP, int]:
    """An MDP whose Q* has an exact ``m``-way tie at one state; returns ``(mdp, state)``.

    A Q with strict maxima (margin >= 0.5) everywhere except ``m`` actions tied at ``state`` is
    drawn, and the reward is its inverse Bellman image, so ``Q*_R = Q`` (Xu 2025, Prop 2.9).
    """
    n_actions = check_positive_int("n_actions", n_actions)
    m = check_int("m", m)
    if not (2 <= m <= n_actions):
        raise ValueError(f"m must be in [2, n_actions={n_actions}]; got {m!r}")
    gamma = check_gamma(gamma)
    P = random_transitions(rng, n_states, n_actions, deterministic_fraction=deterministic_fraction)
    Q = rng.uniform(-1.0, 1.0, size=(n_states, n_actions))
    Q[np.arange(n_states), rng.integers(n_actions, size=n_states)] = 1.5
    state = int(rng.integers(n_states))
    Q[state] = rng.uniform(-1.0, 1.0, size=n_actions)
    Q[state, rng.choice(n_actions, size=m, replace=False)] = 1.5
    return TabularMDP(P, inverse_bellman(Q, P, gamma), gamma), state


def bandit(rewards: np.ndarray) -> TabularMDP:
    """A one-state, one-step MDP (``gamma = 0``) with the given arm rewards of shape (A,)."""
    r = as_float_array("rewards", rewards)
    if r.ndim != 1:
        raise ValueError(f"rewards must have shape (A,); got {r.shape}")
    return TabularMDP(np.ones((1, r.size, 1)), r[None, :], 0.0)


def tight_soft_construction(gamma: float, delta: float) -> tuple[TabularMDP, np.ndarray]:
    """The construction attaining Prop 4.7 [derived, checked]: ``(mdp, dR)``.

    State 0 has two actions leading to the absorbing states 1 and 2; ``R ≡ 0``;
    ``dR = +delta`` on ``(0, a_0)`` and all of state 1, ``-delta`` on ``(0, a_1)`` and state 2.
    The soft policy at state 0 moves by ``|sigma(2 delta / (alpha (1-gamma))) - ½|``, which over
    the bound ``delta / (2 alpha (1-gamma))`` tends to 1 as ``delta -> 0``.
    """
    gamma = check_gamma(gamma)
    delta = check_positive("delta", delta)
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[0, 1, 2] = 1.0
    P[1, :, 1] = P[2, :, 2] = 1.0
    dR = np.array([[delta, -delta], [delta, delta], [-delta, -delta]])
    return TabularMDP(P, np.zeros((3, 2)), gamma), dR


def nonuniform_limit_mdp(gamma: float) -> tuple[TabularMDP, np.ndarray]:
    """The MDP of claim policy-cliff/temperature-limit [derived, checked]: the soft policy's ``alpha -> 0`` limit is not uniform.

    Returns ``(mdp, available)``. State 0 has action 0 to the absorbing state 1, which has a
    single available action, and action 1 to the absorbing state 2, which has two. With
    ``R ≡ 0`` the entropy bonus gives ``V(1) = 0`` and ``V(2) = alpha log 2 / (1 - gamma)``, so
    ``pi(a_1|s_0) / pi(a_0|s_0) = 2^{gamma/(1-gamma)}`` for every temperature: the tie at state 0
    is broken by future entropy, not uniformly, however small alpha is. Pass ``available`` to
    :func:`theory.soft_optimal_policy`.
    """
    gamma = check_gamma(gamma)
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[0, 1, 2] = 1.0
    P[1, :, 1] = P[2, :, 2] = 1.0
    available = np.ones((3, 2), dtype=bool)
    available[1, 1] = False
    return TabularMDP(P, np.zeros((3, 2)), gamma), available


@dataclass(frozen=True)
class MultiRewardTask:
    """A multi-reward MDP (Xu 2025, §4): components ``rewards`` (K, S, A), router ``weights`` (S, K).

    ``boundary_states`` are the states where the router mixes components and the effective
    reward has an exact ``tie_size``-way tie among optimal actions.
    """

    P: np.ndarray
    rewards: np.ndarray
    weights: np.ndarray
    gamma: float
    boundary_states: tuple[int, ...]
    tie_size: int

    @property
    def effective_mdp(self) -> TabularMDP:
        """The MDP with ``R_eff = sum_k w_k(s) R_k`` (Lemma 4.2)."""
        return TabularMDP(self.P, effective_reward(self.rewards, self.weights), self.gamma)


def conflicting_multi_reward_task(
    rng: np.random.Generator,
    *,
    n_components: int = 3,
    states_per_domain: int = 3,
    n_actions: int = 3,
    tie_size: int = 2,
    gamma: float = 0.9,
    conflict: float = 0.5,
) -> MultiRewardTask:
    """K domains with their own reward models and boundary states where conflicts create ties.

    The analogue of Xu (2025, §5.6) at small scale [derived]: each domain ``k`` owns
    ``states_per_domain`` interior states routed to component ``k`` (one-hot weights), and one
    boundary state between domains ``k`` and ``k+1`` with weights ½, ½ (an ambiguous prompt).
    A Q with strict maxima elsewhere and a ``tie_size``-way tie at every boundary state is drawn,
    ``R_eff`` is its inverse Bellman image, and the components disagree at boundary states:
    ``R_k = R_eff + conflict * c`` and ``R_{k+1} = R_eff - conflict * c`` with ``c`` favouring
    one tied action, so the tie is the balance of two conflicting reward models.
    """
    rng = check_rng("rng", rng)
    K = check_int("n_components", n_components, lo=2)
    states_per_domain = check_int("states_per_domain", states_per_domain, lo=0)
    A = check_int("n_actions", n_actions, lo=2)
    tie_size = check_int("tie_size", tie_size, lo=2, hi=A)
    gamma = check_gamma(gamma)
    conflict = check_real("conflict", conflict)
    n_interior = K * states_per_domain
    S = n_interior + K
    boundary = tuple(range(n_interior, S))
    w = np.zeros((S, K))
    for k in range(K):
        w[k * states_per_domain : (k + 1) * states_per_domain, k] = 1.0
        w[n_interior + k, [k, (k + 1) % K]] = 0.5
    P = random_transitions(rng, S, A, deterministic_fraction=0.5)
    Q = rng.uniform(-1.0, 1.0, size=(S, A))
    Q[np.arange(S), rng.integers(A, size=S)] = 1.5
    for s in boundary:
        Q[s] = rng.uniform(-1.0, 1.0, size=A)
        Q[s, rng.choice(A, size=tie_size, replace=False)] = 1.5
    r_eff = inverse_bellman(Q, P, gamma)
    rewards = np.repeat(r_eff[None], K, axis=0) + rng.uniform(-0.1, 0.1, size=(K, S, A))
    for k in range(K):  # restore R_eff exactly where a component is the only one routed
        rewards[k, w[:, k] == 1.0] = r_eff[w[:, k] == 1.0]
    for k, s in enumerate(boundary):
        tied = np.flatnonzero(Q[s] == Q[s].max())
        c = np.zeros(A)
        c[tied[0]] = conflict
        j = (k + 1) % K
        rewards[k, s] = r_eff[s] + c
        rewards[j, s] = r_eff[s] - c
    return MultiRewardTask(P, rewards, w, gamma, boundary, tie_size)
