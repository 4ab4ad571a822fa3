"""Optimal action values Q* by value iteration, with a certified sup-norm error.

The Bellman optimality operator ``(T_R Q)(s, a) = R(s, a) + gamma * sum_s' P(s'|s, a) max_a' Q(s', a')``
is a gamma-contraction in the sup norm, so its unique fixed point is Q*_R (Xu, 2025, §2.1).
The iteration stops when the a-posteriori bound ``||Q_{k+1} - Q*||_inf <= gamma/(1-gamma) *
||Q_{k+1} - Q_k||_inf`` plus a floating-point allowance ``4 eps_mach max|Q| / (1-gamma)``
(round-off of each backup, accumulated through the contraction) is below ``tol``; the result
reports that bound, never a silent answer. A ``tol`` below the allowance is reported as not
reached rather than claimed.

References
----------
.. [1] X. Xu, "The Policy Cliff: A Theoretical Analysis of Reward-Policy Maps in Large
   Language Models", arXiv:2507.20150, 2025, §2.1.
.. [2] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, Thm 6.3.1 (error bound).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from theory._validation import as_float_array, check_positive
from theory.mdp import TabularMDP

__all__ = ["ConvergenceError", "ValueIterationResult", "optimal_q", "value_iteration"]

#: Default sup-norm tolerance on Q (spec: "VI run to a residual of 1e-12").
DEFAULT_TOL = 1e-10

#: Round-off allowance per unit of ``max|Q| / (1 - gamma)``: 4 machine epsilons.
ROUNDING_FACTOR = 4.0 * np.finfo(np.float64).eps


class ConvergenceError(RuntimeError):
    """Raised by the array-returning solvers when the iteration did not reach ``tol``."""


@dataclass(frozen=True)
class ValueIterationResult:
    """Outcome of a (soft) value iteration.

    Attributes
    ----------
    q : ndarray, shape (..., S, A)
        The last iterate.
    success : bool
        Whether ``error_bound <= tol``.
    nit : int
        Number of Bellman backups applied.
    residual : float
        ``||Q_nit - Q_{nit-1}||_inf``.
    error_bound : float
        Certified ``||q - Q*||_inf <= gamma/(1-gamma) * residual + 4 eps_mach max|q| / (1-gamma)``.
    tol : float
        The requested tolerance.
    message : str
        Why the iteration stopped.
    """

    q: np.ndarray
    success: bool
    nit: int
    residual: float
    error_bound: float
    tol: float
    message: str

    def summary(self) -> str:
        """One readable line."""
        state = "converged" if self.success else "NOT converged"
        return f"{state} after {self.nit} backups: ||Q - Q*||_inf <= {self.error_bound:.3g} (tol {self.tol:.1g})"


def default_max_iter(gamma: float, tol: float, value_scale: float) -> int:
    """Backups needed by the a-priori bound ``gamma^n * value_scale/(1-gamma) <= tol``, doubled."""
    if gamma == 0.0:
        return 2
    scale = max(value_scale, 1.0) / (1.0 - gamma)
    n = math.log(tol * (1.0 - gamma) / scale) / math.log(gamma)
    return 2 * max(math.ceil(n), 1) + 100


def iterate_to_fixed_point(
    backup: Callable[[np.ndarray], np.ndarray],
    q0: np.ndarray,
    gamma: float,
    tol: float,
    max_iter: int,
) -> ValueIterationResult:
    """Apply a gamma-contraction ``backup`` from ``q0`` until the certified error is <= tol."""
    q = q0
    ratio = gamma / (1.0 - gamma)
    residual = bound = math.inf
    for nit in range(1, max_iter + 1):
        q_next = backup(q)
        residual = float(np.max(np.abs(q_next - q))) if q.size else 0.0
        q = q_next
        if not math.isfinite(residual):
            return ValueIterationResult(
                q, False, nit, residual, math.inf, tol, "non-finite values (overflow?)"
            )
        rounding = ROUNDING_FACTOR * float(np.max(np.abs(q), initial=0.0)) / (1.0 - gamma)
        bound = ratio * residual + rounding
        if bound <= tol:
            msg = "certified error below tol"
            return ValueIterationResult(q, True, nit, residual, bound, tol, msg)
    msg = f"max_iter={max_iter} reached before the certified error fell below tol={tol:g}"
    if ratio * residual <= tol:
        msg += " (tol is below the floating-point allowance 4 eps max|Q|/(1-gamma))"
    return ValueIterationResult(q, False, max_iter, residual, bound, tol, msg)


def rewards_for(mdp: TabularMDP, rewards: np.ndarray | None) -> np.ndarray:
    """The MDP's reward, or a validated batch of rewards of shape (..., S, A)."""
    if rewards is None:
        return mdp.R
    R = as_float_array("rewards", rewards)
    if R.ndim < 2 or R.shape[-2:] != (mdp.n_states, mdp.n_actions):
        raise ValueError(
            f"rewards must have shape (..., S, A) = (..., {mdp.n_states}, {mdp.n_actions}); "
            f"got {R.shape}"
        )
    return R


def value_iteration(
    mdp: TabularMDP,
    *,
    tol: float = DEFAULT_TOL,
    max_iter: int | None = None,
    rewards: np.ndarray | None = None,
) -> ValueIterationResult:
    """Value iteration for Q* with a certified sup-norm error.

    Parameters
    ----------
    mdp : TabularMDP
    tol : float, default 1e-10
        Target bound on ``||Q - Q*||_inf``.
    max_iter : int, optional
        Cap on backups; by default twice the a-priori count for ``tol``.
    rewards : array_like, shape (..., S, A), optional
        Solve for these rewards (a batch) instead of ``mdp.R``, sharing ``mdp.P`` and
        ``mdp.gamma``. The tolerance then holds for every member of the batch.

    Returns
    -------
    ValueIterationResult
        ``success`` is False (and ``message`` says why) when ``tol`` was not reached.
    """
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a TabularMDP; got {type(mdp).__name__}")
    tol = check_positive("tol", tol)
    R = rewards_for(mdp, rewards)
    if max_iter is None:
        max_iter = default_max_iter(mdp.gamma, tol, float(np.max(np.abs(R), initial=0.0)))
    elif int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1; got {max_iter!r}")

    def backup(q: np.ndarray) -> np.ndarray:
        return R + mdp.gamma * mdp.expected_next(q.max(axis=-1))

    return iterate_to_fixed_point(backup, np.zeros_like(R), mdp.gamma, tol, int(max_iter))


def optimal_q(
    mdp: TabularMDP,
    tol: float = DEFAULT_TOL,
    *,
    max_iter: int | None = None,
    rewards: np.ndarray | None = None,
) -> np.ndarray:
    """Q* of ``mdp`` (shape (S, A), or (..., S, A) for a batch of ``rewards``).

    The fixed point of the Bellman optimality operator (Xu, 2025, §2.1), to a certified
    sup-norm error ``tol``. See :func:`value_iteration` for the parameters.

    Raises
    ------
    ConvergenceError
        If ``tol`` was not reached within ``max_iter`` backups.

    Examples
    --------
    >>> import numpy as np
    >>> from theory import TabularMDP
    >>> mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), gamma=0.5)
    >>> np.round(optimal_q(mdp), 6)
    array([[2., 1.]])
    """
    result = value_iteration(mdp, tol=tol, max_iter=max_iter, rewards=rewards)
    if not result.success:
        raise ConvergenceError(f"optimal_q: {result.message} ({result.summary()})")
    return result.q
