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

from theory.checks import ConvergenceError, as_float_array, check_int, check_positive
from theory.mdp import TabularMDP, check_mdp

__all__ = ["ConvergenceError", "ValueIterationResult", "optimal_q", "value_iteration"]

#: Default sup-norm tolerance on Q.
DEFAULT_TOL = 1e-10

#: Largest number of backups the default ``max_iter`` allows (about a second for a small MDP).
MAX_ITER_CAP = 100_000

#: Round-off allowance per unit of ``max|Q| / (1 - gamma)``: 4 machine epsilons.
ROUNDING_FACTOR = 4.0 * np.finfo(np.float64).eps

#: ``ValueIterationResult.status`` codes.
STATUS_CONVERGED, STATUS_MAX_ITER, STATUS_NON_FINITE = 0, 1, 2


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
    status : int
        0: converged; 1: ``max_iter`` reached; 2: non-finite values.
    """

    q: np.ndarray
    success: bool
    nit: int
    residual: float
    error_bound: float
    tol: float
    message: str
    status: int = STATUS_CONVERGED

    def summary(self) -> str:
        """One readable line."""
        state = "converged" if self.success else "NOT converged"
        return f"{state} after {self.nit} backups: ||Q - Q*||_inf <= {self.error_bound:.3g} (tol {self.tol:.1g})"


def predicted_backups(gamma: float, tol: float, first_residual: float) -> int:
    """Backups after which the certificate is guaranteed to be below ``tol`` (round-off aside).

    Derivation: the backup is a gamma-contraction in the sup norm (Puterman 1994, Thm 6.2.3),
    so the residuals satisfy ``||Q_k - Q_{k-1}|| <= gamma^(k-1) r_1`` with ``r_1`` the first
    residual, and the certificate after ``k`` backups is
    ``gamma/(1-gamma) ||Q_k - Q_{k-1}|| <= gamma^k r_1 / (1-gamma)``. It is below ``tol`` as
    soon as ``k >= log(tol (1-gamma) / r_1) / log(gamma)``.
    """
    if first_residual <= 0.0 or gamma == 0.0:
        return 1
    # in logs, so that a tiny (subnormal) residual or gamma cannot overflow the quotient
    log_ratio = math.log(tol) + math.log1p(-gamma) - math.log(first_residual)
    if log_ratio >= 0.0:
        return 1  # the first certificate is already below tol
    return max(math.ceil(log_ratio / math.log(gamma)), 1)


def achievable_tol(gamma: float, first_residual: float, max_iter: int) -> float:
    """The certificate guaranteed after ``max_iter`` backups: ``gamma^max_iter r_1/(1-gamma)``."""
    return gamma**max_iter * first_residual / (1.0 - gamma)


def default_max_iter(gamma: float, tol: float, first_residual: float) -> int:
    """Twice the predicted backups (plus 100 for round-off), refused beyond :data:`MAX_ITER_CAP`.

    Raises
    ------
    ConvergenceError
        If :func:`predicted_backups` exceeds :data:`MAX_ITER_CAP`: the message names ``tol``,
        ``max_iter`` and the tolerance that is achievable within the cap.
    """
    k = predicted_backups(gamma, tol, first_residual)
    if k > MAX_ITER_CAP:
        reach = achievable_tol(gamma, first_residual, MAX_ITER_CAP)
        raise ConvergenceError(
            f"tol={tol:g} needs about {k} backups at gamma={gamma!r} (contraction bound "
            f"gamma^k * {first_residual:.3g}/(1-gamma) <= tol), more than the default "
            f"max_iter cap {MAX_ITER_CAP}; within max_iter={MAX_ITER_CAP} the achievable "
            f"tol is {reach:.3g}: pass tol >= {reach:.3g} or an explicit max_iter >= {k}"
        )
    return min(2 * k + 100, MAX_ITER_CAP)


def resolve_max_iter(
    max_iter: object, gamma: float, tol: float, q0: np.ndarray, q1: np.ndarray
) -> int:
    """The explicit ``max_iter`` (an int >= 1), or the default predicted from ``||q1 - q0||``."""
    if max_iter is None:
        first = float(np.max(np.abs(q1 - q0))) if q0.size else 0.0
        if not math.isfinite(first):
            return 1  # the iteration reports the non-finite values
        return default_max_iter(gamma, tol, first)
    return check_int("max_iter", max_iter, lo=1)


def iterate_to_fixed_point(
    backup: Callable[[np.ndarray], np.ndarray],
    q0: np.ndarray,
    gamma: float,
    tol: float,
    max_iter: int | None,
) -> ValueIterationResult:
    """Apply a gamma-contraction ``backup`` from ``q0`` until the certified error is <= tol.

    ``max_iter=None`` predicts the budget from the first residual (:func:`default_max_iter`),
    refusing at once a ``tol`` that cannot be certified within :data:`MAX_ITER_CAP` backups.
    """
    q_first = backup(q0)
    max_iter = resolve_max_iter(max_iter, gamma, tol, q0, q_first)
    q = q0
    ratio = gamma / (1.0 - gamma)
    residual = bound = math.inf
    for nit in range(1, max_iter + 1):
        q_next = q_first if nit == 1 else backup(q)
        residual = float(np.max(np.abs(q_next - q))) if q.size else 0.0
        q = q_next
        if not math.isfinite(residual):
            return ValueIterationResult(
                q,
                False,
                nit,
                residual,
                math.inf,
                tol,
                "non-finite values (overflow?)",
                STATUS_NON_FINITE,
            )
        rounding = ROUNDING_FACTOR * float(np.max(np.abs(q), initial=0.0)) / (1.0 - gamma)
        bound = ratio * residual + rounding
        if bound <= tol:
            msg = "certified error below tol"
            return ValueIterationResult(q, True, nit, residual, bound, tol, msg, STATUS_CONVERGED)
    msg = f"max_iter={max_iter} reached before the certified error fell below tol={tol:g}"
    if ratio * residual <= tol:
        msg += " (tol is below the floating-point allowance 4 eps max|Q|/(1-gamma))"
    return ValueIterationResult(q, False, max_iter, residual, bound, tol, msg, STATUS_MAX_ITER)


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
        Cap on backups. By default twice the count :func:`predicted_backups` derives from the
        contraction rate and the first residual, at most :data:`MAX_ITER_CAP`; a ``tol``
        that needs more is refused at once with :class:`ConvergenceError` (e.g. ``tol=1e-10``
        at ``gamma=0.99999``), naming the tolerance achievable within the cap.
    rewards : array_like, shape (..., S, A), optional
        Solve for these rewards (a batch) instead of ``mdp.R``, sharing ``mdp.P`` and
        ``mdp.gamma``. The tolerance then holds for every member of the batch.

    Returns
    -------
    ValueIterationResult
        ``success`` is False (and ``status``, ``message`` say why) when ``tol`` was not
        reached within an explicit ``max_iter``.

    Raises
    ------
    ConvergenceError
        With the default ``max_iter``, if ``tol`` is not reachable within the cap.
    """
    mdp = check_mdp(mdp)
    tol = check_positive("tol", tol)
    R = rewards_for(mdp, rewards)
    if max_iter is not None:
        max_iter = check_int("max_iter", max_iter, lo=1)

    def backup(q: np.ndarray) -> np.ndarray:
        return R + mdp.gamma * mdp.expected_next(q.max(axis=-1))

    return iterate_to_fixed_point(backup, np.zeros_like(R), mdp.gamma, tol, max_iter)


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
        If ``tol`` was not reached within ``max_iter`` backups, or (default ``max_iter``)
        cannot be reached within :data:`MAX_ITER_CAP` backups.

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
