"""Baselines for transfer under mechanism shifts: pooled OLS, anchor regression, ICP.

- :func:`pooled_ols`: least squares on the pooled training environments (ERM).
- :func:`anchor_regression`: closed form of Rothenhäusler et al. (2021), OLS on
  ``W = I + (√γ - 1) P_A`` applied to ``X`` and ``y``, ``P_A`` the projection onto the anchor
  (environment-indicator) columns; ``γ = 1`` is OLS, ``γ → ∞`` partialling-out.
- :func:`invariant_causal_prediction`: ICP of Peters, Bühlmann & Meinshausen (2016), the
  approximate residual test: for every subset, pooled OLS with intercept, then equal residual
  means across environments (one-way ANOVA F-test) and equal variances (Levene), Bonferroni
  over the two; the output is the intersection of the accepted subsets.

The whole-stable-set baseline is the stable predictor of ``S`` (:mod:`causal.risk`).

References
----------
.. [1] D. Rothenhäusler, N. Meinshausen, P. Bühlmann, J. Peters, "Anchor regression:
   heterogeneous data meet causality", JRSS-B 83 (2021), Eq. (4) / Prop. 1.
.. [2] J. Peters, P. Bühlmann, N. Meinshausen, "Causal inference by using invariant
   prediction", JRSS-B 78 (2016), §3.1 (Method II, approximate).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import stats

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_int,
    check_nonnegative,
    check_open_unit,
)

__all__ = [
    "ICPResult",
    "LinearPredictor",
    "anchor_regression",
    "invariant_causal_prediction",
    "pooled_ols",
]


@dataclass(frozen=True)
class LinearPredictor:
    """``y ≈ X[:, columns] @ coef + intercept``."""

    coef: np.ndarray
    intercept: float
    columns: tuple[int, ...]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for the rows of ``x`` (all columns; unused ones are ignored)."""
        x = np.asarray(x, dtype=np.float64)
        return x[:, list(self.columns)] @ self.coef + self.intercept

    def summary(self) -> str:
        """One line: columns and coefficients."""
        return f"linear on columns {list(self.columns)}: coef {np.round(self.coef, 4).tolist()}"


def _check_xy(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    xa = as_float_array("x", x, ndim=2)
    ya = as_float_array("y", y, ndim=1)
    if xa.shape[0] == 0:
        raise ValueError(f"x must have at least one row; got shape {xa.shape}")
    if ya.shape != (xa.shape[0],):
        raise ValueError(f"y must have shape ({xa.shape[0]},); got {ya.shape}")
    return xa, ya


def _check_env(environments: object, n: int, *, min_per_level: int = 1) -> np.ndarray:
    env = np.asarray(environments)
    if env.shape != (n,):
        raise ValueError(f"environments must have shape ({n},); got {env.shape}")
    if env.dtype.kind == "f" and not np.all(np.isfinite(env)):
        raise ValueError("environments must not contain NaN or inf labels")
    if env.dtype.kind not in "biufUSO":
        raise ArgumentTypeError(f"environments must hold labels; got dtype {env.dtype}")
    if min_per_level > 1:
        levels, counts = np.unique(env, return_counts=True)
        small = levels[counts < min_per_level]
        if small.size:
            raise ValueError(
                f"environments: every environment needs at least {min_per_level} samples for "
                f"the residual tests; environments {small.tolist()} have fewer"
            )
    return env


def _ols(x: np.ndarray, y: np.ndarray, columns: tuple[int, ...]) -> LinearPredictor:
    design = np.column_stack([x[:, list(columns)], np.ones(len(y))])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    return LinearPredictor(beta[:-1], float(beta[-1]), columns)


def pooled_ols(x: object, y: object) -> LinearPredictor:
    """Ordinary least squares with intercept on the pooled data (ERM).

    Raises
    ------
    ValueError
        ``x`` not 2-D or without rows, ``y`` of the wrong length, non-finite values.
    """
    xa, ya = _check_xy(x, y)
    return _ols(xa, ya, tuple(range(xa.shape[1])))


def _one_hot(env: np.ndarray) -> np.ndarray:
    levels = np.unique(env)
    return (env[:, None] == levels[None, :]).astype(np.float64)


def anchor_regression(x: object, y: object, environments: object, gamma: float) -> LinearPredictor:
    """Anchor regression (closed form) with the environment indicators as anchors.

    Parameters
    ----------
    x : array (n, d); y : array (n,)
    environments : array (n,)
        Environment label of each row (one-hot encoded into the anchor matrix ``A``).
    gamma : float
        ``γ >= 0``; ``γ = 1`` is OLS.

    Notes
    -----
    ``min_b ‖(I - P_A)(y - Xb)‖² + γ ‖P_A (y - Xb)‖²`` = OLS of ``W y`` on ``W X`` with
    ``W = I + (√γ - 1) P_A`` (Rothenhäusler et al. 2021, Eq. (4)). The intercept column is
    transformed with the rest (it lies in the span of ``A``).

    Raises
    ------
    ValueError
        Bad shapes, non-finite data, ``gamma < 0``.
    """
    xa, ya = _check_xy(x, y)
    env = _check_env(environments, ya.shape[0])
    gamma = check_nonnegative("gamma", gamma)
    a = _one_hot(env)
    # P_A v = A (A^T A)^{-1} A^T v: group means for one-hot anchors
    counts = a.sum(0)

    def project(v: np.ndarray) -> np.ndarray:
        return a @ ((a.T @ v) / counts[:, None] if v.ndim == 2 else (a.T @ v) / counts)

    design = np.column_stack([xa, np.ones(len(ya))])
    s = np.sqrt(gamma) - 1.0
    wx = design + s * project(design)
    wy = ya + s * project(ya)
    beta, *_ = np.linalg.lstsq(wx, wy, rcond=None)
    return LinearPredictor(beta[:-1], float(beta[-1]), tuple(range(xa.shape[1])))


@dataclass(frozen=True)
class ICPResult:
    """ICP output.

    Attributes
    ----------
    selected : tuple of int
        Intersection of the accepted subsets (empty when none is accepted).
    accepted : tuple of tuple of int
        Subsets whose invariance was not rejected at level ``alpha``.
    pvalues : dict
        Subset -> p-value (Bonferroni-combined).
    predictor : LinearPredictor
        Pooled OLS on ``selected``.
    """

    selected: tuple[int, ...]
    accepted: tuple[tuple[int, ...], ...]
    pvalues: dict
    predictor: LinearPredictor

    def summary(self) -> str:
        """One line: the selected columns and how many sets were accepted."""
        return f"ICP selected {list(self.selected)} ({len(self.accepted)} accepted sets)"


def invariant_causal_prediction(
    x: object, y: object, environments: object, *, alpha: float = 0.05, max_size: int | None = None
) -> ICPResult:
    """Invariant causal prediction with the approximate residual test.

    Parameters
    ----------
    x : array (n, d); y : array (n,); environments : array (n,) of labels (>= 2 levels)
    alpha : float
        Level in (0, 1).
    max_size : int, optional
        Largest subset size tested (default ``d``; cost ``2^d`` regressions).

    Raises
    ------
    ValueError
        Bad shapes, empty or non-finite data, fewer than two environments, an environment
        with fewer than two samples (the F and Levene tests need a within-group variance),
        ``alpha`` outside (0, 1), ``max_size`` not an integer in ``[0, d]``.
    """
    xa, ya = _check_xy(x, y)
    env = _check_env(environments, ya.shape[0], min_per_level=2)
    levels = np.unique(env)
    if len(levels) < 2:
        raise ValueError(f"environments must have at least 2 levels; got {levels.tolist()}")
    alpha = check_open_unit("alpha", alpha)
    d = xa.shape[1]
    top = d if max_size is None else check_int("max_size", max_size, lo=0, hi=d)
    groups = [env == lev for lev in levels]
    pvalues: dict = {}
    accepted = []
    for r in range(top + 1):
        for cols in itertools.combinations(range(d), r):
            res = ya - _ols(xa, ya, cols).predict(xa)
            parts = [res[g] for g in groups]
            p_mean = stats.f_oneway(*parts).pvalue
            p_var = stats.levene(*parts).pvalue
            p = min(1.0, 2.0 * min(float(p_mean), float(p_var)))
            pvalues[cols] = p
            if p > alpha:
                accepted.append(cols)
    if accepted:
        sel = set(accepted[0])
        for a in accepted[1:]:
            sel &= set(a)
        selected = tuple(sorted(sel))
    else:
        selected = ()
    return ICPResult(selected, tuple(accepted), pvalues, _ols(xa, ya, selected))
