"""Shared instances and helpers of the policy-cliff experiments."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

import theory as T
from perturbation.registry import RunContext, Worst
from theory.generators import random_mdp

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


# ---------------------------------------------------------------------------------------------
# Soft policies at the temperatures ALPHAS: changes, worst ratio to a bound, plot series
# ---------------------------------------------------------------------------------------------


def soft_changes(mdp: T.TabularMDP, rewards: np.ndarray) -> dict[float, np.ndarray]:
    """For each alpha in ALPHAS: ``max_s d_TV`` between the soft policy of ``rewards[0]`` and
    that of each ``rewards[j]``, j >= 1 (one batched soft solve per alpha)."""
    out = {}
    for a in ALPHAS:
        pi = T.soft_optimal_policy(mdp, a, rewards=rewards, tol=SOFT_TOL)
        out[a] = T.total_variation(pi[1:], pi[0]).max(axis=-1)
    return out


def soft_worst(
    rows: list[dict], distance_key: str, bound, gamma: float
) -> tuple[Worst, dict[float, tuple[np.ndarray, np.ndarray]]]:
    """The worst instance over rows and ALPHAS of ``row[f"soft_{a}"]`` against
    ``bound(row[distance_key], a, gamma)`` (scored by :func:`ratios`, so that a positive
    change against a zero bound scores inf), and the per-alpha ``(tv, bounds)`` arrays."""
    worst, per_alpha = Worst("<=", by="score"), {}
    for a in ALPHAS:
        b = np.array([bound(r[distance_key], a, gamma) for r in rows])
        tv = np.array([r[f"soft_{a}"] for r in rows])
        r = ratios(tv, b)
        i = int(np.argmax(r))
        worst.add(tv[i], b[i], score=float(r[i]), alpha=a, distance=float(rows[i][distance_key]))
        per_alpha[a] = (tv, b)
    return worst, per_alpha


def soft_series(rows: list[dict], distance_key: str, gamma: float) -> list[tuple]:
    """Plot series: measured soft changes and the Prop 4.7 line ``min(1, d/(2 alpha (1-gamma)))``."""
    x = np.array([r[distance_key] for r in rows])
    order = np.argsort(x)
    series = []
    for a, color in zip(ALPHAS, ("C0", "C1", "C2"), strict=True):
        tv = np.array([r[f"soft_{a}"] for r in rows])[order]
        dots = {"ls": "none", "marker": "o", "ms": 3, "color": color}
        series.append((f"soft α={a}", x[order], tv, dots))
        line = np.minimum(x[order] / (2 * a * (1 - gamma)), 1.0)
        series.append(
            (f"bound ‖ΔR‖/(2α(1−γ)), α={a}", x[order], line, {"ls": "--", "lw": 1, "color": color})
        )
    return series
