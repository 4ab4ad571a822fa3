"""Shared instances and helpers of the policy-cliff experiments."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

import theory as T
from perturbation.registry import RunContext
from theory.generators import random_mdp

PAPER = "Xu 2025 (arXiv:2507.20150)"
#: Value-iteration tolerances of the experiments: far below every tolerance stated in a claim,
#: and above float64's round-off allowance (4 eps max|Q| / (1 - gamma)) for gamma <= 0.95.
VI_TOL = 1e-11
SOFT_TOL = 1e-11
ALPHAS = (0.01, 0.1, 1.0)


# ---------------------------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------------------------


def random_mdps(
    ctx: RunContext, key: str, n: int, *, max_gamma: float = 0.95
) -> Iterator[tuple[np.random.Generator, T.TabularMDP]]:
    """``n`` random MDPs with 2-6 states, 2-4 actions, gamma uniform in [0, max_gamma]."""
    rng = ctx.rng(key)
    for _ in range(n):
        S, A = int(rng.integers(2, 7)), int(rng.integers(2, 5))
        det = float(rng.choice([0.0, 0.3, 1.0]))
        yield rng, random_mdp(rng, S, A, rng.uniform(0.0, max_gamma), deterministic_fraction=det)


def perturbations(
    rng: np.random.Generator, shape: tuple[int, ...], n: int, *, lo: float = 1e-3, hi: float = 1.0
) -> np.ndarray:
    """``n`` perturbations of ``shape``: dense, single-entry, +-1 patterns and constant shifts,
    with sup norms log-uniform in ``[lo, hi]``."""
    out = np.empty((n, *shape))
    for i in range(n):
        kind = i % 4
        if kind == 0:
            d = rng.uniform(-1.0, 1.0, shape)
        elif kind == 1:
            d = np.zeros(shape)
            d[tuple(rng.integers(k) for k in shape)] = rng.choice([-1.0, 1.0])
        elif kind == 2:
            d = rng.choice([-1.0, 1.0], shape)
        else:
            d = np.full(shape, rng.choice([-1.0, 1.0]))
        out[i] = d / np.max(np.abs(d)) * math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return out


def sup(x: np.ndarray) -> np.ndarray:
    """Sup norm over the last two axes."""
    return np.max(np.abs(x), axis=(-2, -1))


def ratios(measured: np.ndarray, bounds: np.ndarray, atol: float = 1e-10) -> np.ndarray:
    """measured / bound, with 0/0 (a zero bound met to ``atol``) read as 0 and x/0 as inf."""
    safe = np.where(bounds > 0, bounds, 1.0)
    return np.where(bounds > 0, measured / safe, np.where(measured <= atol, 0.0, np.inf))


def worst_ratio(measured: np.ndarray, bounds: np.ndarray) -> tuple[float, float, float]:
    r = ratios(measured, bounds)
    i = int(np.argmax(r))
    return float(r[i]), float(measured[i]), float(bounds[i])


def fit_slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
