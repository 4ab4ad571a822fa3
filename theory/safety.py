"""Hamilton-Jacobi reachability on finite MDPs: the feasibility value, the feasible region, and
the exact probability of a constraint violation.

A constraint ``h(s, a)`` (violated iff ``h > 0``; a state constraint ``h(s)`` is broadcast over
actions) defines the *feasibility value* ``V_h(s) = min_pi max_t h(s_t, a_t)``: the largest
violation along the future under the least-violating policy, and the *feasible region*
``{s : V_h(s) <= 0}`` (Fisac et al. 2019 [1]_; used for safe offline RL by FISOR, Zheng et al.
2024 [2]_, Sec. 3). Two semantics are computed exactly on a :class:`~theory.TabularMDP`:

``mode="worst"`` (undiscounted max-min fixed point, hard constraint)
    ``Q(s, a) = max(h(s, a), max_{s' in supp P(.|s, a)} V(s'))``, ``V(s) = min_a Q(s, a)``:
    the minimum over policies of the largest violation on *any* possible trajectory. The
    iteration ``V_{k+1} = T V_k`` from ``V_1 = min_a h`` gives the ``k``-step values, which only
    increase and take values in the finite set of entries of ``h``; it stops at the first
    repeated iterate (at most ``S * S * A + 1`` backups), which is the fixed point. ``{V <= 0}`` is
    the largest set from which some policy keeps ``h <= 0`` with probability one (the maximal
    controlled-invariant set of safety games; Bertsekas & Rhodes 1971 [3]_).

``mode="discounted"`` (Fisac et al. 2019, Eq. (5), sign-flipped; FISOR's backup [2]_)
    ``Q(s, a) = (1 - gamma) h(s, a) + gamma E_{s'}[max(h(s, a), V(s'))]``, ``V(s) = min_a Q(s, a)``.
    The operator is a ``gamma``-contraction in the sup norm (``max(h, .)`` and ``min_a`` are
    non-expansive, the expectation averages), so :func:`theory.value_iteration.iterate_to_fixed_point`
    certifies it. The expectation sits outside the ``max`` because the sample backup
    ``max(h, V(s'))`` of in-sample learning estimates exactly that [reconstructed]. Relation to
    the worst-case value [derived]: a policy keeping ``h <= 0`` a.s. has discounted value
    ``<= 0`` (the backup maps non-positive values on its invariant set to non-positive values),
    so ``{V_worst <= 0} ⊆ {V_disc <= 0}``. When ``h >= 0`` everywhere the two regions are equal:
    ``V_disc >= 0``, and ``V_disc(s) = 0`` forces ``h(s, a) = 0`` and ``V_disc(s') = 0`` on the
    support of a minimising action, so ``{V_disc = 0}`` is controlled-invariant inside
    ``{h = 0}``. With negative margins the discounted region can be strictly larger (a very
    negative ``h(s)`` offsets a violation next step): it is then not a hard-safety certificate.

:func:`violation_probability` gives ``P(exists t: h(s_t, a_t) > 0 | s_0 = s)`` under a
stationary policy exactly (the minimal solution of the reachability equations: zero on the
states that cannot reach a violating pair, a linear solve on the rest; Puterman 1994 [4]_).

References
----------
.. [1] J. F. Fisac, N. F. Lugovoy, V. Rubies-Royo, S. Ghosh, C. J. Tomlin, "Bridging
   Hamilton-Jacobi Safety Analysis and Reinforcement Learning", ICRA 2019, Eq. (5)
   (discounted safety Bellman equation).
.. [2] Y. Zheng, J. Li, D. Yu, Y. Yang, S. E. Li, X. Zhan, J. Liu, "Safe Offline Reinforcement
   Learning with Feasibility-Guided Diffusion Model", ICLR 2024, arXiv:2401.10700, Sec. 3
   (feasibility value and feasible region).
.. [3] D. P. Bertsekas, I. B. Rhodes, "On the minimax reachability of target sets and target
   tubes", Automatica 7(2), 1971.
.. [4] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, Sec. 7.2 (reachability).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory.checks import (
    as_float_array,
    check_choice,
    check_gamma,
    check_int,
    check_positive,
    check_simplex,
)
from theory.mdp import TabularMDP, check_mdp
from theory.value_iteration import DEFAULT_TOL, iterate_to_fixed_point

__all__ = [
    "ReachabilityResult",
    "constraint_array",
    "reachability_value",
    "violation_probability",
]

MODES = ("worst", "discounted")


@dataclass(frozen=True)
class ReachabilityResult:
    """The feasibility value of a constraint on a finite MDP.

    Attributes
    ----------
    q : ndarray, shape (S, A)
        ``Q_h(s, a)``.
    v : ndarray, shape (S,)
        ``V_h(s) = min_a Q_h(s, a)``.
    feasible : ndarray of bool, shape (S,)
        ``V_h <= 0``: the feasible region.
    mode : str
        ``"worst"`` or ``"discounted"``.
    gamma : float
        The reachability discount (``nan`` for ``"worst"``).
    success : bool
        Whether the value is certified (always True for ``"worst"``: exact).
    nit : int
        Backups applied.
    error_bound : float
        Certified ``||q - Q_h||_inf`` (0 for ``"worst"``).
    message : str
    """

    q: np.ndarray
    v: np.ndarray
    feasible: np.ndarray
    mode: str
    gamma: float
    success: bool
    nit: int
    error_bound: float
    message: str

    def summary(self) -> str:
        """One readable line."""
        return (
            f"{self.mode} reachability: {int(self.feasible.sum())}/{self.v.size} states feasible, "
            f"{self.nit} backups, error <= {self.error_bound:.2g} ({self.message})"
        )


def constraint_array(mdp: TabularMDP, constraint: object, name: str = "constraint") -> np.ndarray:
    """``constraint`` as an (S, A) array: a state constraint of shape (S,) is broadcast.

    Examples
    --------
    >>> mdp = TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), 0.5)
    >>> constraint_array(mdp, [1.0])
    array([[1., 1.]])
    """
    mdp = check_mdp(mdp)
    h = as_float_array(name, constraint)
    S, A = mdp.n_states, mdp.n_actions
    if h.shape == (S,):
        return np.repeat(h[:, None], A, axis=1)
    if h.shape != (S, A):
        raise ValueError(
            f"{name} must have shape (S,) = ({S},) or (S, A) = {(S, A)}; got {h.shape}"
        )
    return h


def reachability_value(
    mdp: TabularMDP,
    constraint: object,
    *,
    mode: str = "worst",
    gamma: float | None = None,
    tol: float = DEFAULT_TOL,
    max_iter: int | None = None,
) -> ReachabilityResult:
    """The Hamilton-Jacobi feasibility value ``V_h`` and the feasible region ``{V_h <= 0}``.

    Parameters
    ----------
    mdp : TabularMDP
        Only ``mdp.P`` is used.
    constraint : array_like, shape (S,) or (S, A)
        ``h``; violated iff ``h > 0``.
    mode : {"worst", "discounted"}
        The undiscounted worst-case fixed point (exact) or Fisac et al.'s discounted backup
        (see the module docstring for both and how their regions relate).
    gamma : float, optional
        Reachability discount of ``"discounted"`` (default ``mdp.gamma``); ignored by ``"worst"``.
    tol, max_iter
        As :func:`theory.value_iteration` (``"discounted"`` only).

    Returns
    -------
    ReachabilityResult

    Examples
    --------
    Two states; state 1 violates; from state 0 action 0 stays, action 1 moves to state 1:

    >>> P = np.zeros((2, 2, 2)); P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    >>> mdp = TabularMDP(P, np.zeros((2, 2)), 0.9)
    >>> res = reachability_value(mdp, [0.0, 1.0])
    >>> res.q.tolist(), res.feasible.tolist()
    ([[0.0, 1.0], [1.0, 1.0]], [True, False])
    """
    mdp = check_mdp(mdp)
    h = constraint_array(mdp, constraint)
    mode = check_choice("mode", mode, MODES)
    tol = check_positive("tol", tol)
    if max_iter is not None:
        max_iter = check_int("max_iter", max_iter, lo=1)
    if mode == "worst":
        return _worst(mdp, h)
    g = mdp.gamma if gamma is None else check_gamma(gamma)
    return _discounted(mdp.P, h, g, tol, max_iter)


def _worst(mdp: TabularMDP, h: np.ndarray) -> ReachabilityResult:
    support = mdp.P > 0.0
    v = h.min(axis=1)
    for nit in range(1, mdp.n_states * h.size + 3):
        succ = np.where(support, v[None, None, :], -np.inf).max(axis=2)  # Q = max(h, max_supp V)
        q = np.maximum(h, succ)
        v_next = q.min(axis=1)
        if np.array_equal(v_next, v):
            return ReachabilityResult(q, v, v <= 0.0, "worst", math.nan, True, nit, 0.0, "exact")
        v = v_next
    raise AssertionError("the worst-case reachability iteration must stop")  # pragma: no cover


def discounted_backup(P: np.ndarray, h: np.ndarray, gamma: float, v: np.ndarray) -> np.ndarray:
    """``(1 - gamma) h + gamma E_{s'} max(h, V(s'))`` for every (s, a) (shape (S, A))."""
    return (1.0 - gamma) * h + gamma * np.einsum(
        "sat,sat->sa", P, np.maximum(h[:, :, None], v[None, None, :])
    )


def _discounted(
    P: np.ndarray, h: np.ndarray, gamma: float, tol: float, max_iter: int | None
) -> ReachabilityResult:
    res = iterate_to_fixed_point(
        lambda q: discounted_backup(P, h, gamma, q.min(axis=1)), h.copy(), gamma, tol, max_iter
    )
    v = res.q.min(axis=1)
    return ReachabilityResult(
        res.q, v, v <= 0.0, "discounted", gamma, res.success, res.nit, res.error_bound, res.message
    )


def violation_probability(
    mdp: TabularMDP, policy: object, constraint: object, *, horizon: int | None = None
) -> np.ndarray:
    """``P(exists t < horizon: h(s_t, a_t) > 0 | s_0 = s)`` under a stationary policy, exactly.

    Parameters
    ----------
    mdp : TabularMDP
    policy : array_like, shape (S, A)
        Rows are probability vectors.
    constraint : array_like, shape (S,) or (S, A)
        ``h``; a violation is ``h > 0``.
    horizon : int, optional
        Steps counted (``None``: the infinite horizon, by a linear solve on the states that can
        reach a violation; else ``horizon`` backward steps).

    Returns
    -------
    ndarray, shape (S,)

    Examples
    --------
    From state 0 a fair coin chooses between staying and moving to the violating state 1:

    >>> P = np.zeros((2, 2, 2)); P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    >>> mdp = TabularMDP(P, np.zeros((2, 2)), 0.9)
    >>> violation_probability(mdp, np.full((2, 2), 0.5), [0.0, 1.0], horizon=3).tolist()
    [0.75, 1.0]
    >>> violation_probability(mdp, np.full((2, 2), 0.5), [0.0, 1.0]).round(12).tolist()
    [1.0, 1.0]
    """
    mdp = check_mdp(mdp)
    pi = as_float_array("policy", policy, shape=(mdp.n_states, mdp.n_actions))
    check_simplex("policy", pi)
    bad = constraint_array(mdp, constraint) > 0.0
    if horizon is not None:
        horizon = check_int("horizon", horizon, lo=0)
    p_viol = (pi * bad).sum(axis=1)  # violate now
    cont = np.einsum("sa,sat->st", pi * ~bad, mdp.P)  # no violation now, move on
    if horizon is not None:
        x = np.zeros(mdp.n_states)
        for _ in range(horizon):
            x = p_viol + cont @ x
        return np.clip(x, 0.0, 1.0)
    # states from which a violation is reachable in the graph of pairs taken with positive prob.
    reach = p_viol > 0.0
    edges = cont > 0.0
    while True:
        grown = reach | (edges & reach[None, :]).any(axis=1)
        if np.array_equal(grown, reach):
            break
        reach = grown
    x = np.zeros(mdp.n_states)
    idx = np.flatnonzero(reach)
    if idx.size:
        M = np.eye(idx.size) - cont[np.ix_(idx, idx)]
        x[idx] = np.linalg.solve(M, p_viol[idx])
    return np.clip(x, 0.0, 1.0)
