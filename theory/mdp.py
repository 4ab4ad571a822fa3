"""Finite discounted MDPs: the validated container every function of :mod:`theory` takes.

The setting is that of *The Policy Cliff* (Xu, 2025, arXiv:2507.20150, §2.1) restricted to
finite state and action sets: transitions ``P[s, a, s']``, rewards ``R[s, a]`` and a discount
``gamma`` in [0, 1) (Asm 2.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from theory.checks import ArgumentTypeError, as_float_array, check_gamma

__all__ = ["TabularMDP"]

#: Tolerance on the row sums of ``P`` (and on negative entries).
STOCHASTIC_ATOL = 1e-9


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite MDP (S, A, P, R, gamma), validated on construction.

    Parameters
    ----------
    P : array_like, shape (S, A, S)
        Transition probabilities ``P[s, a, s']``; each ``P[s, a]`` must be a probability
        vector (to ``1e-9``).
    R : array_like, shape (S, A)
        Finite rewards.
    gamma : float
        Discount factor in [0, 1).

    Raises
    ------
    ValueError
        Naming the argument: wrong shape, non-finite entries, rows of ``P`` that are not
        probability vectors, or ``gamma`` outside [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), gamma=0.5)
    >>> mdp.n_states, mdp.n_actions
    (1, 2)
    """

    P: np.ndarray
    R: np.ndarray
    gamma: float
    n_states: int = field(init=False)
    n_actions: int = field(init=False)

    def __post_init__(self) -> None:
        P = as_float_array("P", self.P, ndim=3)
        R = as_float_array("R", self.R, ndim=2)
        gamma = check_gamma(self.gamma)
        S, A, S2 = P.shape
        if S == 0 or A == 0:
            raise ValueError(f"P must have at least one state and one action; got {P.shape}")
        if S2 != S:
            raise ValueError(f"P must have shape (S, A, S); got {P.shape}")
        if R.shape != (S, A):
            raise ValueError(f"R must have shape (S, A) = {(S, A)} to match P; got {R.shape}")
        if np.any(P < -STOCHASTIC_ATOL):
            idx = tuple(np.argwhere(P < -STOCHASTIC_ATOL)[0])
            raise ValueError(f"P must be non-negative; P{idx} = {P[idx]}")
        sums = P.sum(axis=2)
        if np.any(np.abs(sums - 1.0) > STOCHASTIC_ATOL):
            s, a = np.argwhere(np.abs(sums - 1.0) > STOCHASTIC_ATOL)[0]
            raise ValueError(f"P must be row-stochastic; P[{s}, {a}, :] sums to {sums[s, a]!r}")
        P = np.clip(P, 0.0, None)
        P.setflags(write=False)
        R.setflags(write=False)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "n_states", S)
        object.__setattr__(self, "n_actions", A)

    def with_reward(self, R: np.ndarray) -> TabularMDP:
        """The same dynamics and discount with another reward of shape (S, A)."""
        return TabularMDP(self.P, R, self.gamma)

    def expected_next(self, values: np.ndarray) -> np.ndarray:
        """``(P V)(s, a) = sum_s' P[s, a, s'] V[..., s']`` for values of shape (..., S)."""
        return np.einsum("sat,...t->...sa", self.P, values)

    def __repr__(self) -> str:
        return (
            f"TabularMDP(n_states={self.n_states}, n_actions={self.n_actions}, gamma={self.gamma})"
        )


def check_mdp(mdp: object, name: str = "mdp") -> TabularMDP:
    """``mdp`` itself if it is a :class:`TabularMDP`; else ArgumentTypeError naming ``name``."""
    if not isinstance(mdp, TabularMDP):
        raise ArgumentTypeError(f"{name} must be a TabularMDP; got {type(mdp).__name__}")
    return mdp
