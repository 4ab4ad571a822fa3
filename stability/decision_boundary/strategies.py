"""Hypothesis strategies for the decision-boundary tests: linear policies and state sets."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = ["direction_sets", "linear_policies"]


@st.composite
def linear_policies(
    draw,
    *,
    min_d: int = 2,
    max_d: int = 8,
    min_actions: int = 2,
    max_actions: int = 5,
    max_states: int = 12,
    scale: float = 1.0,
):
    """``(W, b, S)``: Gaussian ``W`` (A × d), ``b`` (A,), and states ``S`` (N × d), float64.

    ``scale`` multiplies ``W`` (large scales give saturated softmaxes).
    """
    d = draw(st.integers(min_d, max_d))
    A = draw(st.integers(min_actions, max_actions))
    N = draw(st.integers(1, max_states))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    W = scale * rng.standard_normal((A, d))
    return W, rng.standard_normal(A), rng.standard_normal((N, d))


@st.composite
def direction_sets(draw, *, max_n: int = 12, max_d: int = 8):
    """A non-zero ``(N, d)`` float64 matrix of directions (rows may be zero)."""
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    V = rng.standard_normal((n, d)) * rng.exponential(1.0, (n, 1))
    V[0] += 1e-3  # never all zero
    return V
