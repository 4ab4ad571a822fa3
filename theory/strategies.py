"""Hypothesis strategies for property-based tests of reward->policy maps.

Public, so that users' own test suites and notebooks can reuse them::

    from hypothesis import given
    from theory.strategies import mdps, reward_perturbations

    @given(mdps(max_states=4), st.data())
    def test_mine(mdp, data): ...

All strategies are built on ``@st.composite`` with keyword-only size parameters (Hypothesis's
advice: draw related values together, shrink towards small instances). Each factory checks its
arguments when called, before anything is drawn, so a bad size is refused at once with an error
naming the parameter (not deep inside a later draw).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_gamma,
    check_int,
    check_nonnegative,
    check_positive_int,
)
from theory.generators import planted_tie_mdp, random_mdp
from theory.mdp import TabularMDP

__all__ = [
    "discounts",
    "mdps",
    "mdps_with_ties",
    "probability_vectors",
    "reward_perturbations",
    "simplex_weights",
]

_UNIT = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)


def _check_range(lo_name: str, lo: object, hi_name: str, hi: object) -> tuple[int, int]:
    """``lo <= hi``, both integers >= 1."""
    lo_v = check_positive_int(lo_name, lo)
    hi_v = check_int(hi_name, hi, lo=lo_v)
    return lo_v, hi_v


def _rng(draw: st.DrawFn) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def discounts(*, max_gamma: float = 0.95) -> st.SearchStrategy[float]:
    """Discount factors in ``[0, max_gamma]``; ``max_gamma`` in [0, 1)."""
    max_gamma = check_gamma(max_gamma, "max_gamma")
    return st.floats(0.0, max_gamma, allow_nan=False)


def probability_vectors(*, size: int, sparse: bool = True) -> st.SearchStrategy[np.ndarray]:
    """A probability vector of length ``size >= 1`` (with ``sparse``, possibly with exact zeros)."""
    return _probability_vectors(
        size=check_positive_int("size", size), sparse=check_bool("sparse", sparse)
    )


@st.composite
def _probability_vectors(draw: st.DrawFn, *, size: int, sparse: bool) -> np.ndarray:
    rng = _rng(draw)
    p = rng.dirichlet(np.full(size, draw(st.sampled_from([0.3, 1.0, 5.0]))))
    if sparse and size > 1 and draw(st.booleans()):
        p[rng.integers(size)] = 0.0
        if p.sum() == 0.0:
            p[0] = 1.0
    return p / p.sum()


def mdps(
    *,
    min_states: int = 1,
    max_states: int = 6,
    min_actions: int = 1,
    max_actions: int = 4,
    max_gamma: float = 0.95,
    reward_scale: float = 1.0,
) -> st.SearchStrategy[TabularMDP]:
    """Random valid MDPs (S <= 6, A <= 4 by default), rewards in ``[-reward_scale, reward_scale]``.

    ``1 <= min_states <= max_states``, ``1 <= min_actions <= max_actions``, ``max_gamma`` in
    [0, 1) and ``reward_scale >= 0`` (finite), or a ``ValueError``/``TypeError`` naming the
    parameter is raised at once.
    """
    min_states, max_states = _check_range("min_states", min_states, "max_states", max_states)
    min_actions, max_actions = _check_range("min_actions", min_actions, "max_actions", max_actions)
    return _mdps(
        min_states=min_states,
        max_states=max_states,
        min_actions=min_actions,
        max_actions=max_actions,
        max_gamma=check_gamma(max_gamma, "max_gamma"),
        reward_scale=check_nonnegative("reward_scale", reward_scale),
    )


@st.composite
def _mdps(
    draw: st.DrawFn,
    *,
    min_states: int,
    max_states: int,
    min_actions: int,
    max_actions: int,
    max_gamma: float,
    reward_scale: float,
) -> TabularMDP:
    S = draw(st.integers(min_states, max_states))
    A = draw(st.integers(min_actions, max_actions))
    gamma = draw(discounts(max_gamma=max_gamma))
    det = draw(st.sampled_from([0.0, 0.3, 1.0]))  # token MDPs are deterministic
    return random_mdp(
        _rng(draw), S, A, gamma, reward_scale=reward_scale, deterministic_fraction=det
    )


def mdps_with_ties(
    *,
    max_states: int = 6,
    max_actions: int = 4,
    max_gamma: float = 0.95,
    min_tie: int = 2,
) -> st.SearchStrategy[tuple[TabularMDP, int, int]]:
    """MDPs with a planted exact tie: returns ``(mdp, state, m)``.

    A random Q is drawn with ``m >= min_tie`` actions tied for the maximum at ``state`` and a
    strict maximum elsewhere; the reward is its inverse Bellman image, so ``Q*_R = Q`` exactly
    (Xu 2025, Prop 2.9). ``1 <= S <= max_states`` and
    ``max(2, min_tie) <= A <= max(max_actions, min_tie)``; ``min_tie >= 2``, ``max_gamma`` in
    [0, 1), or a ``ValueError``/``TypeError`` naming the parameter is raised at once.
    """
    return _mdps_with_ties(
        max_states=check_positive_int("max_states", max_states),
        max_actions=check_positive_int("max_actions", max_actions),
        max_gamma=check_gamma(max_gamma, "max_gamma"),
        min_tie=check_int("min_tie", min_tie, lo=2),
    )


@st.composite
def _mdps_with_ties(
    draw: st.DrawFn, *, max_states: int, max_actions: int, max_gamma: float, min_tie: int
) -> tuple[TabularMDP, int, int]:
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(max(2, min_tie), max(max_actions, min_tie)))
    m = draw(st.integers(min_tie, A))
    gamma = draw(discounts(max_gamma=max_gamma))
    det = draw(st.sampled_from([0.0, 0.3, 1.0]))
    mdp, state = planted_tie_mdp(_rng(draw), S, A, m, gamma, deterministic_fraction=det)
    return mdp, state, m


def reward_perturbations(
    *, shape: tuple[int, ...], max_norm: float = 1.0, min_norm: float = 0.0
) -> st.SearchStrategy[np.ndarray]:
    """A reward perturbation of ``shape`` with ``min_norm <= ||dR||_inf <= max_norm``.

    Mixes dense noise, single-entry spikes and constant shifts (the Prop 2.4 equality case).
    ``shape`` is a tuple of positive integers and ``0 <= min_norm <= max_norm`` (finite), or a
    ``ValueError``/``TypeError`` naming the parameter is raised at once.
    """
    if isinstance(shape, str | bytes) or not isinstance(shape, tuple | list):
        raise ArgumentTypeError(f"shape must be a tuple of positive integers; got {shape!r}")
    shape = tuple(check_positive_int(f"shape[{i}]", n) for i, n in enumerate(shape))
    min_norm = check_nonnegative("min_norm", min_norm)
    max_norm = check_nonnegative("max_norm", max_norm)
    if max_norm < min_norm:
        raise ValueError(f"max_norm must be >= min_norm = {min_norm!r}; got {max_norm!r}")
    return _reward_perturbations(shape=shape, max_norm=max_norm, min_norm=min_norm)


@st.composite
def _reward_perturbations(
    draw: st.DrawFn, *, shape: tuple[int, ...], max_norm: float, min_norm: float
) -> np.ndarray:
    rng = _rng(draw)
    norm = draw(st.floats(min_norm, max_norm, allow_nan=False))
    kind = draw(st.sampled_from(["dense", "spike", "constant", "signs"]))
    if kind == "constant":
        d = np.full(shape, draw(st.sampled_from([-1.0, 1.0])))
    elif kind == "spike":
        d = np.zeros(shape)
        d[tuple(rng.integers(n) for n in shape)] = 1.0
    elif kind == "signs":
        d = rng.choice([-1.0, 1.0], size=shape)
    else:
        d = rng.uniform(-1.0, 1.0, size=shape)
    peak = np.max(np.abs(d))
    # (d / peak) is exactly +-1 at the peak, so the norm is exactly `norm` (not off by an ulp)
    return (d / peak) * norm if peak > 0 else d


def simplex_weights(*, n_states: int, n_components: int) -> st.SearchStrategy[np.ndarray]:
    """State-dependent mixture weights of shape (S, K), each row on the simplex.

    Some rows are one-hot (a hard router on interior states), others soft (boundary states).
    ``n_states`` and ``n_components`` are positive integers, or a ``ValueError``/``TypeError``
    naming the parameter is raised at once.
    """
    return _simplex_weights(
        n_states=check_positive_int("n_states", n_states),
        n_components=check_positive_int("n_components", n_components),
    )


@st.composite
def _simplex_weights(draw: st.DrawFn, *, n_states: int, n_components: int) -> np.ndarray:
    rng = _rng(draw)
    w = rng.dirichlet(np.ones(n_components), size=n_states)
    hard = rng.random(n_states) < draw(_UNIT)
    w[hard] = np.eye(n_components)[rng.integers(n_components, size=int(hard.sum()))]
    return w
