"""Independent references for the tests of :mod:`theory`: brute force and closed forms.

Nothing here imports :mod:`theory`, so a bug there cannot hide in the reference as well.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import settings
from scipy.special import logsumexp

#: Default hypothesis budget of a property test (seconds stay small: S <= 6, A <= 4).
PROPERTY = settings(max_examples=40, deadline=None)
#: Budget for cheap properties (no value iteration).
CHEAP_PROPERTY = settings(max_examples=60, deadline=None)

#: Value iteration certifies ||Q - Q*||_inf <= 1e-10 by default; two such errors, compared
#: at a margin of 50x, give the comparison tolerance for values and value differences.
VI_ATOL = 1e-8


def deterministic_policies(n_states: int, n_actions: int) -> np.ndarray:
    """All ``A^S`` deterministic policies as action indices, shape (A^S, S)."""
    return np.array(list(itertools.product(range(n_actions), repeat=n_states)), dtype=int)


def evaluate(P: np.ndarray, R: np.ndarray, gamma: float, pi: np.ndarray) -> np.ndarray:
    """``V^pi`` (shape (S,)) of a stochastic policy ``pi`` (S, A) by one linear solve."""
    S = R.shape[0]
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = np.einsum("sa,sa->s", pi, R)
    return np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi)


def brute_force_q(P: np.ndarray, R: np.ndarray, gamma: float) -> np.ndarray:
    """``Q*(s, a) = max_pi Q^pi(s, a)`` over all deterministic policies (each a linear solve)."""
    S, _ = R.shape
    pols = deterministic_policies(*R.shape)
    rows = np.arange(S)
    P_pi = P[rows, pols]  # (N, S, S)
    r_pi = R[rows, pols]  # (N, S)
    V = np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi[..., None])[..., 0]
    Q = R + gamma * np.einsum("sat,nt->nsa", P, V)
    return Q.max(axis=0)


def soft_backup(
    P: np.ndarray, R: np.ndarray, gamma: float, Q: np.ndarray, alpha: float, ref=None
) -> np.ndarray:
    """``R + gamma P [alpha log sum_a ref exp(Q/alpha)]`` with scipy's logsumexp."""
    b = None if ref is None else np.broadcast_to(ref, Q.shape)
    V = alpha * logsumexp(Q / alpha, axis=-1, b=b)
    return R + gamma * np.einsum("sat,t->sa", P, V)


def sigmoid(z: float) -> float:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-z))


def tied_mdp_arrays(
    rng: np.random.Generator, S: int, A: int, gamma: float, state: int, tied: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(P, R, Q)`` with ``Q*_R = Q``: the actions ``tied`` share the maximum 1 at ``state``.

    Every other state has a unique best action with margin >= 0.5. The reward is the inverse
    Bellman image ``Q - gamma P max Q``, written out here independently of :mod:`theory`.
    """
    P = rng.dirichlet(np.ones(S), size=(S, A))
    Q = rng.uniform(-1.0, 0.5, size=(S, A))
    Q[np.arange(S), rng.integers(A, size=S)] = 1.0
    Q[state] = rng.uniform(-1.0, 0.5, size=A)
    Q[state, tied] = 1.0
    R = Q - gamma * np.einsum("sat,t->sa", P, Q.max(axis=1))
    return P, R, Q
