"""Hypothesis strategies for the decision-boundary tests: linear policies and state sets.

The size arguments are checked when a strategy is built (before anything is drawn), so a bad
one is refused with its name at the call.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from theory.checks import check_int, check_positive, check_positive_int

__all__ = ["direction_sets", "linear_policies"]


def linear_policies(
    *,
    min_d: int = 2,
    max_d: int = 8,
    min_actions: int = 2,
    max_actions: int = 5,
    max_states: int = 12,
    scale: float = 1.0,
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(W, b, S)``: Gaussian ``W`` (A × d), ``b`` (A,), and states ``S`` (N × d), float64.

    ``d`` in ``[min_d, max_d]``, ``A`` in ``[min_actions, max_actions]`` (at least 2: a policy
    with one action has no decision boundary), ``N`` in ``[1, max_states]``; ``scale > 0``
    multiplies ``W`` (large scales give saturated softmaxes).
    """
    min_d = check_positive_int("min_d", min_d)
    max_d = check_int("max_d", max_d, lo=min_d)
    min_actions = check_int("min_actions", min_actions, lo=2)
    max_actions = check_int("max_actions", max_actions, lo=min_actions)
    return _linear_policies(
        min_d=min_d,
        max_d=max_d,
        min_actions=min_actions,
        max_actions=max_actions,
        max_states=check_positive_int("max_states", max_states),
        scale=check_positive("scale", scale),
    )


@st.composite
def _linear_policies(
    draw: st.DrawFn,
    *,
    min_d: int,
    max_d: int,
    min_actions: int,
    max_actions: int,
    max_states: int,
    scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = draw(st.integers(min_d, max_d))
    A = draw(st.integers(min_actions, max_actions))
    N = draw(st.integers(1, max_states))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    W = scale * rng.standard_normal((A, d))
    return W, rng.standard_normal(A), rng.standard_normal((N, d))


def direction_sets(*, max_n: int = 12, max_d: int = 8) -> st.SearchStrategy[np.ndarray]:
    """A non-zero ``(N, d)`` float64 matrix of directions (rows may be zero), ``N <= max_n``,
    ``d <= max_d``."""
    return _direction_sets(
        max_n=check_positive_int("max_n", max_n), max_d=check_positive_int("max_d", max_d)
    )


@st.composite
def _direction_sets(draw: st.DrawFn, *, max_n: int, max_d: int) -> np.ndarray:
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    V = rng.standard_normal((n, d)) * rng.exponential(1.0, (n, 1))
    V[0] += 1e-3  # never all zero
    return V
