"""Constrained MDPs solved exactly as a linear program over occupancy measures.

For a finite discounted MDP, an initial distribution ``rho`` and a cost ``c(s, a)``, the
normalised discounted occupancy ``d(s, a) = (1 - gamma) sum_t gamma^t P(s_t = s, a_t = a)`` of
any policy satisfies the flow constraints

    sum_a d(s', a) = (1 - gamma) rho(s') + gamma sum_{s, a} P(s' | s, a) d(s, a),  d >= 0,

and every such ``d`` is the occupancy of the stationary policy ``pi(a|s) ∝ d(s, a)`` (Altman
1999 [1]_, Thm 3.2). The constrained problem ``max_pi V_r(rho)`` subject to ``V_c(rho) <= budget``
(``V_x(rho) = E sum_t gamma^t x(s_t, a_t)``) is therefore the LP

    max_d  <d, R> / (1 - gamma)   s.t. flow,  <d, C> / (1 - gamma) <= budget,
                                        d(s, a) = 0 where (s, a) is not allowed

(Altman 1999, Thm 3.3), solved here with HiGHS. Forbidding pairs is how OGSRL's OOD guardian
enters (Yan et al. 2025 [2]_): a policy restricted to a support region. With one cost constraint
the optimum mixes at most two deterministic policies (a face of dimension <= 1 of the occupancy
polytope, [1]_ Thm 3.8): the brute-force reference of the tests.

References
----------
.. [1] E. Altman, *Constrained Markov Decision Processes*, Chapman & Hall/CRC, 1999, Ch. 3.
.. [2] Y. Yan et al., "Offline Guarded Safe Reinforcement Learning for Medical Treatment
   Optimization Strategies", arXiv:2505.16242, 2025.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory.checks import ArgumentTypeError, as_float_array, check_nonnegative, check_simplex
from theory.mdp import TabularMDP, check_mdp

__all__ = ["CMDPSolution", "constrained_lp"]


@dataclass(frozen=True)
class CMDPSolution:
    """The optimum of a constrained MDP (or why there is none).

    Attributes
    ----------
    policy : ndarray (S, A) or None
        ``d(s, a) / sum_a d(s, a)``; uniform over the allowed actions of unreached states.
        None when ``success`` is False.
    occupancy : ndarray (S, A) or None
        The normalised discounted occupancy ``d``.
    value : float
        ``V_r(rho)`` of the policy (``nan`` without a solution).
    cost_value : float
        ``V_c(rho)`` of the policy (``nan`` without a solution).
    budget : float
    success : bool
    status : int
        HiGHS's status (0 solved, 2 infeasible, ...).
    message : str
    """

    policy: np.ndarray | None
    occupancy: np.ndarray | None
    value: float
    cost_value: float
    budget: float
    success: bool
    status: int
    message: str

    def summary(self) -> str:
        """One readable line."""
        if not self.success:
            return f"no constrained optimum: {self.message}"
        return f"V_r = {self.value:.6g} with V_c = {self.cost_value:.6g} <= budget {self.budget:g}"


def _allowed(name: str, allowed: object, shape: tuple[int, int]) -> np.ndarray:
    if allowed is None:
        return np.ones(shape, dtype=bool)
    arr = np.asarray(allowed)
    if arr.dtype != bool:
        raise ArgumentTypeError(f"{name} must be a boolean array; got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape (S, A) = {shape}; got {arr.shape}")
    return arr


def constrained_lp(
    mdp: TabularMDP,
    cost: object,
    initial: object,
    budget: float,
    *,
    allowed: object = None,
) -> CMDPSolution:
    """``max_pi V_r(rho)`` s.t. ``V_c(rho) <= budget``, over policies using only ``allowed`` pairs.

    Parameters
    ----------
    mdp : TabularMDP
    cost : array_like, shape (S, A)
        Finite costs.
    initial : array_like, shape (S,)
        ``rho``, a probability vector.
    budget : float
        ``>= 0``: bound on the expected discounted cumulative cost.
    allowed : array of bool, shape (S, A), optional
        Pairs the policy may use (all by default).

    Returns
    -------
    CMDPSolution
        ``success`` False (and ``message``) when no allowed policy meets the budget.

    Examples
    --------
    One state, two actions: reward 1 at cost 1, or reward 0 at cost 0, budget 0.5 (gamma 0.5):

    >>> mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), 0.5)
    >>> sol = constrained_lp(mdp, np.array([[1.0, 0.0]]), [1.0], 0.5)
    >>> round(sol.value, 9), round(sol.cost_value, 9), sol.policy.round(9).tolist()
    (0.5, 0.5, [[0.25, 0.75]])
    """
    mdp = check_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    C = as_float_array("cost", cost, shape=(S, A))
    rho = as_float_array("initial", initial, shape=(S,))
    check_simplex("initial", rho)
    budget = check_nonnegative("budget", budget)
    ok = _allowed("allowed", allowed, (S, A))
    g = mdp.gamma
    # flow: sum_a d(s', a) - gamma sum_{s,a} P(s'|s,a) d(s,a) = (1 - gamma) rho(s')
    A_eq = np.repeat(np.eye(S), A, axis=1) - g * mdp.P.reshape(S * A, S).T
    b_eq = (1.0 - g) * rho
    bounds = [(0.0, None if o else 0.0) for o in ok.ravel()]
    from scipy.optimize import linprog  # lazy: scipy.optimize costs ~0.6 s to import

    res = linprog(
        -mdp.R.ravel() / (1.0 - g),
        A_ub=C.reshape(1, -1) / (1.0 - g),
        b_ub=[budget],
        A_eq=A_eq,
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
    )
    if res.status != 0:
        return CMDPSolution(None, None, math.nan, math.nan, budget, False, res.status, res.message)
    d = np.clip(res.x.reshape(S, A), 0.0, None)
    mass = d.sum(axis=1, keepdims=True)
    fallback = np.where(ok.any(axis=1, keepdims=True), ok, True).astype(float)
    fallback /= fallback.sum(axis=1, keepdims=True)
    pi = np.where(mass > 1e-12, d / np.where(mass > 0, mass, 1.0), fallback)
    value = float((d * mdp.R).sum() / (1.0 - g))
    cost_value = float((d * C).sum() / (1.0 - g))
    return CMDPSolution(pi, d, value, cost_value, budget, True, 0, res.message)
