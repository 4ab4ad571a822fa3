"""Baselines for transfer under mechanism shifts: pooled OLS, anchor regression, ICP, IRM.

- :func:`pooled_ols`: least squares on the pooled training environments (ERM).
- :func:`anchor_regression`: closed form of Rothenhäusler et al. (2021), OLS on
  ``W = I + (√γ - 1) P_A`` applied to ``X`` and ``y``, ``P_A`` the projection onto the anchor
  (environment-indicator) columns; ``γ = 1`` is OLS, ``γ → ∞`` partialling-out.
- :func:`invariant_causal_prediction`: ICP of Peters, Bühlmann & Meinshausen (2016), the
  approximate residual test: for every subset, pooled OLS with intercept, then equal residual
  means across environments (one-way ANOVA F-test) and equal variances (Levene), Bonferroni
  over the two; the output is the intersection of the accepted subsets.
- :func:`invariant_risk_minimization`: IRMv1 of Arjovsky, Bottou, Gulrajani & Lopez-Paz
  (2019) with a linear predictor as the representation and the fixed scalar classifier
  ``w = 1``: the mean environment risk plus ``λ`` times the mean squared gradient of each
  environment's risk with respect to ``w`` (their Eq. IRMv1, squared loss).

The whole-stable-set baseline is the stable predictor of ``S`` (:mod:`causal.risk`).

References
----------
.. [1] D. Rothenhäusler, N. Meinshausen, P. Bühlmann, J. Peters, "Anchor regression:
   heterogeneous data meet causality", JRSS-B 83 (2021), Eq. (4) / Prop. 1.
.. [2] J. Peters, P. Bühlmann, N. Meinshausen, "Causal inference by using invariant
   prediction", JRSS-B 78 (2016), §3.1 (Method II, approximate).
.. [3] M. Arjovsky, L. Bottou, I. Gulrajani, D. Lopez-Paz, "Invariant Risk Minimization",
   arXiv:1907.02893 (2019), §3.1, Eq. (IRMv1).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_int,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_real,
)

__all__ = [
    "ICPResult",
    "IRMResult",
    "LinearPredictor",
    "anchor_regression",
    "invariant_causal_prediction",
    "invariant_risk_minimization",
    "pooled_ols",
]


@dataclass(frozen=True)
class LinearPredictor:
    """``y ≈ X[:, columns] @ coef + intercept``.

    Raises
    ------
    ValueError
        ``coef`` not a finite 1-D array, ``intercept`` not a finite number, ``columns`` not
        distinct non-negative integers, one per coefficient.
    """

    coef: np.ndarray
    intercept: float
    columns: tuple[int, ...]

    def __post_init__(self) -> None:
        coef = as_float_array("coef", self.coef, ndim=1, allow_empty=True)
        coef.setflags(write=False)
        object.__setattr__(self, "coef", coef)
        object.__setattr__(self, "intercept", check_real("intercept", self.intercept))
        if isinstance(self.columns, str | bytes) or not isinstance(self.columns, Iterable):
            raise ArgumentTypeError(f"columns must be a sequence of integers; got {self.columns!r}")
        cols = tuple(check_int(f"columns[{i}]", c, lo=0) for i, c in enumerate(self.columns))
        if len(cols) != coef.shape[0] or len(set(cols)) != len(cols):
            raise ValueError(
                f"columns must be {coef.shape[0]} distinct column indices, one per coefficient; "
                f"got {list(cols)}"
            )
        object.__setattr__(self, "columns", cols)

    def predict(self, x: object) -> np.ndarray:
        """Predictions for the rows of ``x`` (all columns; unused ones are ignored).

        Raises
        ------
        ValueError
            ``x`` not a finite 2-D array with more than ``max(columns)`` columns.
        """
        xa = as_float_array("x", x, ndim=2, allow_empty=True)
        need = max(self.columns, default=-1) + 1
        if xa.shape[1] < need:
            raise ValueError(f"x must have at least {need} columns; got shape {xa.shape}")
        return xa[:, list(self.columns)] @ self.coef + self.intercept

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
    if isinstance(environments, str | bytes | dict | set) or environments is None:
        raise ArgumentTypeError(
            f"environments must be an array of labels; got {type(environments).__name__}"
        )
    env = np.asarray(environments)
    if env.shape != (n,):
        raise ValueError(f"environments must have shape ({n},); got {env.shape}")
    if env.dtype.kind == "f" and not np.all(np.isfinite(env)):
        raise ValueError("environments must not contain NaN or inf labels")
    if env.dtype.kind not in "biufUS":
        raise ArgumentTypeError(
            f"environments must hold integer, float or string labels; got dtype {env.dtype}"
        )
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


def _pvalues(test, parts: list[np.ndarray]) -> np.ndarray:
    """The test's p-values of many subsets at once; 1 where scipy gives NaN.

    ``parts`` are finite ``(B, n_e)`` arrays (row ``b``: the residuals of subset ``b`` in each
    environment, >= 2 each); the test runs along the last axis, without scipy's axis and
    NaN-policy wrapper (``__wrapped__``, when scipy provides it): per row the computation of
    ``test(*[p[b] for p in parts])``, equal to it up to the last bits (numpy's SIMD sums depend
    on the memory alignment of each row), without the wrapper's per-call overhead.

    [derived] Both are one-way ANOVA F statistics, NaN only when the within-group and the
    between-group sums of squares are both zero: for ``f_oneway`` the residuals are one
    constant in every environment, for ``levene`` the absolute deviations from the group
    medians are. Either is no evidence against invariance (equal means, equal spreads), so the
    p-value is 1; without this, ``min(nan, p)`` is ``nan`` and the subset would be silently
    rejected.
    """
    raw = getattr(test, "__wrapped__", None)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = np.asarray((test(*parts, axis=-1) if raw is None else raw(*parts, axis=-1)).pvalue)
    return np.where(np.isnan(p), 1.0, p).reshape(len(parts[0]))


#: Subsets whose residuals are tested in one batch by :func:`invariant_causal_prediction`.
ICP_BATCH = 256


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
    subsets = [c for r in range(top + 1) for c in itertools.combinations(range(d), r)]
    for at in range(0, len(subsets), ICP_BATCH):
        batch = subsets[at : at + ICP_BATCH]
        res = np.stack([ya - _ols(xa, ya, cols).predict(xa) for cols in batch])
        parts = [res[:, g] for g in groups]
        both = np.minimum(_pvalues(stats.f_oneway, parts), _pvalues(stats.levene, parts))
        for cols, p_min in zip(batch, both.tolist(), strict=True):
            p = min(1.0, 2.0 * p_min)
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


# ---------------------------------------------------------------------------------------------
# Invariant risk minimisation (IRMv1)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IRMResult:
    """IRMv1 output (a linear predictor and the solver's report).

    Attributes
    ----------
    predictor : LinearPredictor
        On the original scale of ``x`` and ``y``.
    risk : float
        Mean over environments of the squared-error risk ``R^e`` (standardised scale).
    penalty : float
        Mean over environments of ``(∂R^e(w·Φ)/∂w at w = 1)²`` (standardised scale).
    penalty_weight : float
        ``λ``.
    erm_penalty : float
        The same penalty at the warm start (pooled OLS), for comparison.
    success : bool
        The L-BFGS solver converged.
    status : int
        0 converged, 1 iteration limit, 2 another solver failure (its message).
    message : str
    nit : int
        Solver iterations.
    """

    predictor: LinearPredictor
    risk: float
    penalty: float
    penalty_weight: float
    erm_penalty: float
    success: bool
    status: int
    message: str
    nit: int

    def summary(self) -> str:
        """One line: coefficients, risk, penalty and solver status."""
        return (
            f"IRMv1 (λ = {self.penalty_weight:g}): {self.predictor.summary()}; risk "
            f"{self.risk:.4g}, penalty {self.penalty:.3g} (ERM {self.erm_penalty:.3g}); "
            f"{self.message}"
        )


def _irm_objective(
    theta: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]], lam: float
) -> tuple[float, np.ndarray, float, float]:
    """IRMv1 objective and gradient in ``theta = (β, b)``; also the mean risk and penalty.

    With ``Φ(x) = xβ + b``, residual ``r = Φ - y`` and ``Z = [x, 1]``:
    ``R^e = mean(r²)``, ``p^e = ∂R^e(wΦ)/∂w |_{w=1} = 2 mean(r Φ)``,
    ``∇R^e = 2 mean(r Z)``, ``∇p^e = 2 mean((Φ + r) Z)``; objective
    ``mean_e R^e + λ mean_e (p^e)²``.
    """
    risk, pen = 0.0, 0.0
    grad = np.zeros_like(theta)
    for z, y in parts:
        phi = z @ theta
        r = phi - y
        p = 2.0 * np.mean(r * phi)
        risk += np.mean(r * r)
        pen += p * p
        grad += 2.0 * (z.T @ r) / len(y) + lam * 2.0 * p * (2.0 * (z.T @ (phi + r)) / len(y))
    k = len(parts)
    return (risk + lam * pen) / k, grad / k, risk / k, pen / k


def invariant_risk_minimization(
    x: object,
    y: object,
    environments: object,
    *,
    penalty_weight: float = 100.0,
    max_iter: int = 2000,
) -> IRMResult:
    """IRMv1 with a linear predictor (Arjovsky et al. 2019, Eq. IRMv1, squared loss).

    Parameters
    ----------
    x : array (n, d); y : array (n,)
    environments : array (n,)
        Environment label of each row (at least two environments).
    penalty_weight : float
        ``λ > 0`` in ``min_Φ mean_e R^e(Φ) + λ mean_e ‖∇_{w|w=1} R^e(w·Φ)‖²``.
    max_iter : int
        L-BFGS iteration limit.

    Returns
    -------
    IRMResult
        A solver that stops early is reported (``success=False``), not raised. A line search
        that stalls at a point whose gradient is below ``1e-6 (1 + λ)`` in every coordinate
        (rounding, not a failure) counts as converged, with the gradient in the message.

    Notes
    -----
    ``Φ(x) = xβ + b`` is the whole predictor and ``w = 1.0`` the fixed dummy classifier of the
    paper's §3.1. The objective is computed on ``x`` and ``y`` standardised with their pooled
    mean and standard deviation (so that ``λ`` does not depend on the units) and minimised by
    L-BFGS with the analytic gradient, started from pooled OLS: the objective is non-convex
    (quartic) and ``Φ = 0`` is a trivial invariant point, so the warm start plays the role of
    the paper's penalty annealing (ERM first, then the penalty). The coefficients are mapped
    back to the original scale. Means over environments replace the paper's sums (``λ``
    rescaled by the number of environments). Very large ``λ`` drifts towards the trivial
    point ``Φ ≈ 0`` (the penalty vanishes there too), a known property of IRMv1; the default
    ``λ = 100`` [reconstructed choice] keeps the risk term in play on standardised data.

    Raises
    ------
    ValueError
        Bad shapes, empty or non-finite data, fewer than two environments, ``penalty_weight``
        not a positive finite number, ``max_iter`` not a positive integer.
    """
    xa, ya = _check_xy(x, y)
    env = _check_env(environments, ya.shape[0])
    levels = np.unique(env)
    if len(levels) < 2:
        raise ValueError(f"environments must have at least 2 levels; got {levels.tolist()}")
    lam = check_positive("penalty_weight", penalty_weight)
    max_iter = check_positive_int("max_iter", max_iter)
    mx, sx = xa.mean(0), xa.std(0)
    sx = np.where(sx > 0, sx, 1.0)
    my, sy = float(ya.mean()), float(ya.std()) or 1.0
    z = np.column_stack([(xa - mx) / sx, np.ones(len(ya))])
    ys = (ya - my) / sy
    parts = [(z[env == lev], ys[env == lev]) for lev in levels]
    start, *_ = np.linalg.lstsq(z, ys, rcond=None)
    erm_penalty = _irm_objective(start, parts, lam)[3]
    res = optimize.minimize(
        lambda t: _irm_objective(t, parts, lam)[:2],
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "ftol": 1e-14, "gtol": 1e-10},
    )
    theta = res.x
    _, grad, risk, pen = _irm_objective(theta, parts, lam)
    finite = bool(np.all(np.isfinite(theta)))
    message = str(res.message)
    # L-BFGS-B's line search fails ("ABNORMAL") once rounding hides any decrease; the point is
    # then stationary to the gradient's own accuracy, whose terms scale with 1 + λ.
    stalled_at_precision = res.status == 2 and float(np.max(np.abs(grad))) <= 1e-6 * (1 + lam)
    if stalled_at_precision and finite:
        message = f"stationary to rounding (line search stalled; max |gradient| {np.max(np.abs(grad)):.1e})"
    status = (
        0 if (res.success or stalled_at_precision) and finite else (1 if res.status == 1 else 2)
    )
    beta = theta[:-1] * sy / sx if finite else np.zeros(xa.shape[1])
    intercept = float(my + sy * theta[-1] - beta @ mx) if finite else my
    return IRMResult(
        LinearPredictor(beta, intercept, tuple(range(xa.shape[1]))),
        float(risk),
        float(pen),
        lam,
        float(erm_penalty),
        status == 0,
        status,
        message if finite else "non-finite coefficients (returned the mean)",
        int(res.nit),
    )
