"""OGSRL at toy scale: offline guarded safe RL in the estimated constrained MDP, solved by an LP.

OGSRL (Yan et al., "Offline Guarded Safe Reinforcement Learning for Medical Treatment
Optimization Strategies", arXiv:2505.16242, 2025) optimises in a constrained MDP estimated from
the data under two constraints: an **OOD guardian** (the policy must stay in the data's support
region) and a **safety-cost budget**. Tabular reading, each step exact:

1. **Estimated CMDP**: ``P^(s'|s, a) = n(s, a, s') / n(s, a)``, ``R^``, ``C^`` the sample means.
   Pairs absent from the data get a pessimistic self-loop with the smallest reward and the
   largest cost seen [reconstructed].
2. **Guardian**: the paper's region is a polynomial sublevel set (PSoS) of the state-action
   features with high-probability containment. Documented stand-in: the count-based support
   ``{(s, a) : n(s, a) >= min_count}``. [derived] On one-hot features of ``(s, a)`` this *is* the
   sublevel set of the degree-1 empirical Christoffel polynomial: the moment matrix
   ``M = sum_i e_i e_i^T / N`` is diagonal with entries ``p^(s, a)``, so
   ``q(s, a) = e^T (M + lam I)^{-1} e = 1 / (p^(s, a) + lam)`` and ``{q <= t}`` is
   ``{n(s, a) >= N (1/t - lam)}``.
3. **Guarded constrained optimisation**: ``max V_r`` s.t. ``V_c <= budget`` and at most
   ``ood_budget`` of the normalised discounted occupancy outside the support (``ood_budget = 0``:
   unsupported pairs forbidden), an LP over occupancy measures
   (:func:`theory.constrained.constrained_lp`) instead of the paper's CPO-style solver
   ("GMB-CPO"): exact where the paper's solver is approximate [reconstructed].

The policy is deterministic given the dataset (the seed lives in
:func:`trainers.safe_tasks.collect_dataset`).

References
----------
.. [1] Y. Yan et al., arXiv:2505.16242, 2025 (dual constraints, guardian, GMB-CPO).
.. [2] E. Altman, *Constrained Markov Decision Processes*, 1999, Thm 3.3 (LP).
.. [3] J. B. Lasserre, E. Pauwels, "The empirical Christoffel function with applications in
   data analysis", Advances in Computational Mathematics 45, 2019 (Christoffel sublevel sets).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_gamma,
    check_int,
    check_nonnegative,
    check_simplex,
)
from theory.constrained import CMDPSolution, constrained_lp
from theory.mdp import TabularMDP
from trainers.runtime import DISCOUNT, check_config, integer, real
from trainers.safe_tasks import OfflineDataset

__all__ = ["OGSRLConfig", "OGSRLResult", "empirical_cmdp", "support_mask", "train_ogsrl"]


@dataclass(frozen=True)
class OGSRLConfig:
    """Hyperparameters of tabular OGSRL."""

    gamma: float = 0.9
    """Discount of the estimated CMDP."""
    min_count: int = 1
    """Guardian: a pair is supported iff it has at least this many transitions (0: all)."""
    ood_budget: float = 0.0
    """Largest normalised discounted occupancy allowed outside the support (0: forbidden)."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {"gamma": DISCOUNT, "min_count": integer(0), "ood_budget": real(0.0, 1.0)},
        )


@dataclass(frozen=True)
class OGSRLResult:
    """The guarded constrained optimum in the estimated CMDP.

    Attributes
    ----------
    policy : ndarray (S, A) or None
        None when the estimated problem has no feasible policy (``success`` False).
    support : ndarray of bool (S, A)
        The guardian's region.
    model : TabularMDP
        The estimated MDP.
    cost : ndarray (S, A)
        The estimated cost.
    solution : CMDPSolution
        The LP's result (estimated values, occupancy, status).
    success : bool
    """

    policy: np.ndarray | None
    support: np.ndarray
    model: TabularMDP
    cost: np.ndarray
    solution: CMDPSolution
    success: bool

    def summary(self) -> str:
        """One readable line."""
        return f"OGSRL ({int(self.support.sum())} supported pairs): {self.solution.summary()}"


def _check_dataset(dataset: object) -> OfflineDataset:
    if not isinstance(dataset, OfflineDataset):
        raise ArgumentTypeError(f"dataset must be an OfflineDataset; got {type(dataset).__name__}")
    return dataset


def _check_config(config: object) -> OGSRLConfig:
    if config is None:
        return OGSRLConfig()
    if not isinstance(config, OGSRLConfig):
        raise ArgumentTypeError(f"config must be an OGSRLConfig; got {type(config).__name__}")
    return config


def support_mask(dataset: OfflineDataset, min_count: int = 1) -> np.ndarray:
    """The guardian's region ``n(s, a) >= min_count`` (shape (S, A), bool).

    Examples
    --------
    >>> data = OfflineDataset([0, 0, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0], [1, 1, 0], 2, 2)
    >>> support_mask(data, 2).tolist()
    [[True, False], [False, False]]
    """
    data = _check_dataset(dataset)
    min_count = check_int("min_count", min_count, lo=0)
    return data.counts() >= min_count


def empirical_cmdp(dataset: OfflineDataset, gamma: float = 0.9) -> tuple[TabularMDP, np.ndarray]:
    """The estimated MDP and cost (pessimistic self-loops on absent pairs).

    Examples
    --------
    >>> data = OfflineDataset([0, 0], [0, 0], [1.0, 1.0], [0.0, 0.5], [0, 1], 2, 1)
    >>> mdp, cost = empirical_cmdp(data)
    >>> mdp.P[0, 0].tolist(), cost[:, 0].tolist(), mdp.R[:, 0].tolist()
    ([0.5, 0.5], [0.25, 0.5], [1.0, 1.0])
    """
    data = _check_dataset(dataset)
    gamma = check_gamma(gamma)
    S, A = data.n_states, data.n_actions
    counts = data.counts()
    trans = np.zeros((S, A, S))
    np.add.at(trans, (data.states, data.actions, data.next_states), 1.0)
    r_sum, c_sum = np.zeros((S, A)), np.zeros((S, A))
    np.add.at(r_sum, (data.states, data.actions), data.rewards)
    np.add.at(c_sum, (data.states, data.actions), data.costs)
    seen = counts > 0
    n = np.where(seen, counts, 1.0)
    P = trans / n[:, :, None]
    P[~seen] = np.eye(S)[np.nonzero(~seen)[0]]
    R = np.where(seen, r_sum / n, data.rewards.min())
    C = np.where(seen, c_sum / n, data.costs.max())
    return TabularMDP(P, R, gamma), C


def train_ogsrl(
    dataset: OfflineDataset,
    initial: object,
    budget: float,
    config: OGSRLConfig | None = None,
) -> OGSRLResult:
    """Guarded constrained optimum of the estimated CMDP (see the module docstring).

    Parameters
    ----------
    dataset : OfflineDataset
    initial : array_like, shape (S,)
        Initial-state distribution of the objective.
    budget : float
        ``>= 0``: bound on the estimated discounted cumulative cost ``V_c(initial)``.
    config : OGSRLConfig, optional

    Returns
    -------
    OGSRLResult
        ``success`` False when no guarded policy meets the budget in the estimated CMDP.

    Examples
    --------
    >>> from trainers.safe_tasks import behaviour_policy, collect_dataset, hazard_gridworld
    >>> task = hazard_gridworld()
    >>> data = collect_dataset(task, behaviour_policy(task, 0.5), episodes=60, seed=1)
    >>> res = train_ogsrl(data, task.initial, 0.05)
    >>> res.success, bool(res.solution.cost_value <= 0.05 + 1e-9)
    (True, True)
    """
    data = _check_dataset(dataset)
    cfg = _check_config(config)
    rho = as_float_array("initial", initial, shape=(data.n_states,))
    check_simplex("initial", rho)
    budget = check_nonnegative("budget", budget)
    mdp, cost = empirical_cmdp(data, cfg.gamma)
    support = support_mask(data, cfg.min_count)
    if cfg.ood_budget == 0.0:
        sol = constrained_lp(mdp, cost, rho, budget, allowed=support)
    else:
        sol = _lp_with_ood(mdp, cost, rho, budget, support, cfg.ood_budget)
    return OGSRLResult(sol.policy, support, mdp, cost, sol, sol.success)


def _lp_with_ood(mdp, cost, rho, budget, support, ood_budget) -> CMDPSolution:
    """:func:`constrained_lp` with a second inequality: occupancy off the support <= ood_budget."""
    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma
    A_eq = np.repeat(np.eye(S), A, axis=1) - g * mdp.P.reshape(S * A, S).T
    A_ub = np.stack([cost.ravel() / (1 - g), (~support).ravel().astype(float)])
    res = linprog(
        -mdp.R.ravel() / (1 - g),
        A_ub=A_ub,
        b_ub=[budget, ood_budget],
        A_eq=A_eq,
        b_eq=(1 - g) * rho,
        bounds=[(0.0, None)] * (S * A),
        method="highs",
    )
    if res.status != 0:
        return CMDPSolution(None, None, math.nan, math.nan, budget, False, res.status, res.message)
    d = np.clip(res.x.reshape(S, A), 0.0, None)
    mass = d.sum(axis=1, keepdims=True)
    pi = np.where(mass > 1e-12, d / np.where(mass > 0, mass, 1.0), 1.0 / A)
    value = float((d * mdp.R).sum() / (1 - g))
    return CMDPSolution(
        pi, d, value, float((d * cost).sum() / (1 - g)), budget, True, 0, res.message
    )
