"""Distances used by every bound of :mod:`theory`.

Total variation is half the L1 distance everywhere (Xu 2025, §2.1: ``d_TV = ½||·||_1``).
"""

from __future__ import annotations

import numpy as np

from theory._validation import as_float_array

__all__ = ["max_total_variation", "reward_distance", "reward_span", "total_variation"]


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``½ sum_a |p(a) - q(a)|`` over the last axis; ``p`` and ``q`` broadcast (e.g. a batch
    of policies (N, S, A) against one policy (S, A)).

    Examples
    --------
    >>> float(total_variation([0.5, 0.5], [1.0, 0.0]))
    0.5
    """
    p = as_float_array("p", p)
    q = as_float_array("q", q)
    if p.ndim == 0 or q.ndim == 0 or p.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"p and q must share their last (action) axis; got {p.shape} and {q.shape}"
        )
    try:
        np.broadcast_shapes(p.shape, q.shape)
    except ValueError as exc:
        raise ValueError(f"p and q must broadcast; got {p.shape} and {q.shape}") from exc
    return 0.5 * np.abs(p - q).sum(axis=-1)


def max_total_variation(pi1: np.ndarray, pi2: np.ndarray) -> float:
    """``max_s d_TV(pi1(·|s), pi2(·|s))`` for policies of shape (S, A) (the left side of Prop 4.7)."""
    return float(np.max(total_variation(pi1, pi2)))


def reward_distance(r1: np.ndarray, r2: np.ndarray) -> float:
    """Sup-norm distance ``||r1 - r2||_inf`` (for (K, S, A) stacks: the ``||·||_N`` of Lemma 4.2)."""
    r1 = as_float_array("r1", r1)
    r2 = as_float_array("r2", r2)
    if r1.shape != r2.shape:
        raise ValueError(f"r1 and r2 must have the same shape; got {r1.shape} and {r2.shape}")
    return float(np.max(np.abs(r1 - r2), initial=0.0))


def reward_span(delta: np.ndarray) -> float:
    """Span (oscillation) ``max - min`` of a reward difference; ``sp(dR) <= 2 ||dR||_inf``."""
    d = as_float_array("delta", delta)
    return float(np.max(d) - np.min(d)) if d.size else 0.0
