"""Distances used by every bound of :mod:`theory`.

Total variation is half the L1 distance everywhere (Xu 2025, §2.1: ``d_TV = ½||·||_1``).
"""

from __future__ import annotations

import numpy as np

from theory.checks import as_float_array, check_simplex

__all__ = ["max_total_variation", "reward_distance", "reward_span", "total_variation"]


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``½ sum_a |p(a) - q(a)|`` over the last axis; ``p`` and ``q`` broadcast (e.g. a batch
    of policies (N, S, A) against one policy (S, A)).

    Both arguments must hold probability vectors along the last axis (non-negative, summing
    to 1 within ``1e-9``): the identity ``d_TV = ½||p - q||_1 = max_E |p(E) - q(E)|`` of
    Xu (2025, §2.1) holds only for distributions, so ``[0.9, 0.9]`` is refused rather than
    given a meaningless distance.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is empty, non-finite or not a distribution, or their shapes differ
        in the action axis or do not broadcast.

    Examples
    --------
    >>> float(total_variation([0.5, 0.5], [1.0, 0.0]))
    0.5
    """
    p = as_float_array("p", p)
    q = as_float_array("q", q)
    if p.ndim == 0 or q.ndim == 0:
        raise ValueError(
            f"p and q must be probability vectors (at least 1-D); got shapes {p.shape} and {q.shape}"
        )
    check_simplex("p", p)
    check_simplex("q", q)
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
    """``max_s d_TV(pi1(·|s), pi2(·|s))`` for policies of shape (S, A) (the left side of Prop 4.7).

    Every row of ``pi1`` and ``pi2`` must be a distribution over actions (see
    :func:`total_variation`); a row summing to 1.5 is refused.
    """
    pi1 = as_float_array("pi1", pi1)
    pi2 = as_float_array("pi2", pi2)
    if pi1.ndim == 0 or pi2.ndim == 0:
        raise ValueError(
            f"pi1 and pi2 must be policies of shape (S, A); got {pi1.shape} and {pi2.shape}"
        )
    check_simplex("pi1", pi1)
    check_simplex("pi2", pi2)
    return float(np.max(total_variation(pi1, pi2)))


def reward_distance(r1: np.ndarray, r2: np.ndarray) -> float:
    """Sup-norm distance ``||r1 - r2||_inf`` (for (K, S, A) stacks: the ``||·||_N`` of Lemma 4.2).

    Empty rewards are refused (an MDP has at least one state and one action).
    """
    r1 = as_float_array("r1", r1)
    r2 = as_float_array("r2", r2)
    if r1.shape != r2.shape:
        raise ValueError(f"r1 and r2 must have the same shape; got {r1.shape} and {r2.shape}")
    return float(np.max(np.abs(r1 - r2)))


def reward_span(delta: np.ndarray) -> float:
    """Span (oscillation) ``max - min`` of a reward difference; ``sp(dR) <= 2 ||dR||_inf``.

    An empty ``delta`` is refused: the span of no entries is undefined.
    """
    d = as_float_array("delta", delta)
    return float(np.max(d) - np.min(d))
