"""Robust MDPs: uncertainty sets over transitions, robust value iteration and IWOCS.

A robust MDP replaces the transition kernel ``P`` by a set ``𝒰`` of kernels and asks for
``max_π min_{P ∈ 𝒰} V^π_P`` (Iyengar 2005 [1]_; Nilim & El Ghaoui 2005 [2]_). Sets here:

- :class:`L1Ball` ``(s,a)``-rectangular: ``||P(·|s,a) - P0(·|s,a)||_1 <= κ(s,a)``, each row on its
  own; ``s``-rectangular (``rectangular="s"``): ``Σ_a ||P(·|s,a) - P0(·|s,a)||_1 <= κ(s)``, the rows
  of one state share a budget (Wiesemann, Kuhn, Rustem 2013 [3]_; Ho, Petrik, Wiesemann 2018 [4]_);
- :class:`KLBall` ``(s,a)``-rectangular: ``KL(P(·|s,a) || P0(·|s,a)) <= κ(s,a)`` [1]_ [2]_;
- :class:`FiniteModels`: finitely many kernels ``{P_1, …, P_K}`` (the *static* set, not rectangular),
  or with ``rectangular=True`` its ``(s,a)``-rectangular hull (each row from any of the models).

On rectangular sets the dynamic robust Bellman operator is a ``γ``-contraction, deterministic
(``(s,a)``-rectangular) or randomized (``s``-rectangular) stationary policies are optimal, and
the static and dynamic problems coincide for stationary policies [1]_ [3]_: the worst case of a
fixed policy is one static kernel (:func:`worst_case_model`). IWOCS (Zouitine, Geist, Rachelson,
arXiv:2410.06212 [5]_) uses this: it grows a set of worst-case models, solves the ordinary MDP in
each, acts pessimistically over them, and searches the next worst case for that candidate
(:func:`iwocs`).

The inner problems are solved exactly: the ``L1`` ball in closed form (mass moved from the highest
values to the lowest [1]_ [4]_), the ``KL`` ball through its one-dimensional dual (Nilim & El
Ghaoui, Sec. 6), the ``s``-rectangular ball as a linear program (HiGHS), and finite sets by
enumeration.

References
----------
.. [1] G. N. Iyengar, "Robust dynamic programming", Mathematics of Operations Research 30(2), 2005.
.. [2] A. Nilim, L. El Ghaoui, "Robust control of Markov decision processes with uncertain
   transition matrices", Operations Research 53(5), 2005.
.. [3] W. Wiesemann, D. Kuhn, B. Rustem, "Robust Markov decision processes", Mathematics of
   Operations Research 38(1), 2013.
.. [4] C. P. Ho, M. Petrik, W. Wiesemann, "Fast Bellman updates for robust MDPs", ICML 2018.
.. [5] A. Zouitine, M. Geist, E. Rachelson, "Solving robust MDPs as a sequence of static RL
   problems", arXiv:2410.06212, 2024.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from theory.checks import (
    ArgumentTypeError,
    ConvergenceError,
    as_float_array,
    check_bool,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
)
from theory.mdp import STOCHASTIC_ATOL, TabularMDP, check_mdp
from theory.value_iteration import DEFAULT_TOL, iterate_to_fixed_point, optimal_q

__all__ = [
    "FiniteModels",
    "IWOCSResult",
    "KLBall",
    "L1Ball",
    "RobustResult",
    "iwocs",
    "kl_worst_row",
    "l1_worst_row",
    "robust_policy_evaluation",
    "robust_value_iteration",
    "worst_case_model",
]


def l1_worst_row(p0: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """``argmin { p·v : p ∈ Δ, ||p - p0||_1 <= radius }`` in closed form.

    Moving mass ``m`` from one state to another changes ``||p - p0||_1`` by ``2m``, so the
    minimiser adds ``min(radius/2, 1 - p0[j])`` to a lowest-value state ``j`` and removes the same
    mass from the highest-value states first (Iyengar 2005, Sec. 4; Ho, Petrik, Wiesemann 2018,
    Alg. 1). Exact.

    Examples
    --------
    >>> l1_worst_row(np.array([0.5, 0.5]), np.array([0.0, 1.0]), 0.4)
    array([0.7, 0.3])
    """
    p0 = as_float_array("p0", p0, ndim=1)
    v = as_float_array("v", v, shape=p0.shape)
    return _l1_rows(p0[None], v, np.array([_check_radius_value("radius", radius)]))[0]


def _l1_rows(p0: np.ndarray, v: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """:func:`l1_worst_row` for every row of ``p0`` (shape (..., n)) at once (same ``v``)."""
    j = int(np.argmin(v))
    move = np.minimum(radius / 2.0, 1.0 - p0[..., j])
    order = np.array([i for i in np.argsort(-v, kind="stable") if i != j], dtype=int)
    sorted_p = p0[..., order]
    before = np.cumsum(sorted_p, axis=-1) - sorted_p  # mass of higher-value states
    take = np.clip(move[..., None] - before, 0.0, sorted_p)
    p = p0.copy()
    p[..., order] -= take
    p[..., j] += take.sum(axis=-1)
    return p


def kl_worst_row(p0: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """``argmin { p·v : KL(p || p0) <= radius }`` (Nilim & El Ghaoui 2005, Sec. 6).

    The minimiser is ``p_β ∝ p0 e^{-v/β}`` with ``β > 0`` solving ``KL(p_β || p0) = radius``
    (``KL`` decreases in ``β``), found by bisection on ``log β`` to ``1e-13`` and taken on the
    feasible side; when even the point mass on the lowest values reachable under ``p0``
    (``p0`` restricted to ``argmin v`` on its support) is within the radius, that is the answer.
    Computed with log-sum-exp.

    Examples
    --------
    >>> p = kl_worst_row(np.array([0.5, 0.5]), np.array([0.0, 1.0]), 0.1)
    >>> bool(p[0] > 0.5) and abs(float(np.sum(p * np.log(p / 0.5))) - 0.1) < 1e-9
    True
    """
    p0 = as_float_array("p0", p0, ndim=1)
    v = as_float_array("v", v, shape=p0.shape)
    return _kl_rows(p0[None], v, np.array([_check_radius_value("radius", radius)]))[0]


#: Bisection steps on ``log(beta / span(v))`` over ``[-40, 40]``: an interval below ``1e-15``.
_KL_BISECTIONS = 56


def _kl_rows(p0: np.ndarray, v: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """:func:`kl_worst_row` for every row of ``p0`` (shape (m, n)) at once: a vectorised
    bisection on ``log β`` (``KL(p_β || p0)`` is decreasing in ``β``), ending on the feasible side."""
    support = p0 > 0
    big = np.max(np.abs(v)) + 1.0
    v_in = np.where(support, v[None, :], np.inf)
    vmin = v_in.min(axis=1, keepdims=True)
    v_out = np.where(support, v[None, :], -np.inf)
    span = v_out.max(axis=1, keepdims=True) - vmin
    low = support & (v[None, :] <= vmin + 1e-12 * np.maximum(1.0, np.abs(vmin)))
    mass_low = np.where(low, p0, 0.0).sum(axis=1)
    with np.errstate(divide="ignore"):
        logp0 = np.where(support, np.log(np.where(support, p0, 1.0)), -np.inf)
    centred = np.where(support, v[None, :] - vmin, big)
    scale = np.where(span[:, 0] > 0, span[:, 0], 1.0)

    def tilt(log_beta: np.ndarray) -> np.ndarray:
        z = logp0 - centred / (scale * np.exp(log_beta))[:, None]
        z -= z.max(axis=1, keepdims=True)
        w = np.exp(z)
        return w / w.sum(axis=1, keepdims=True)

    def kl(q: np.ndarray) -> np.ndarray:
        safe = np.where(q > 0, q, 1.0)
        return np.where(q > 0, q * (np.log(safe) - np.where(support, logp0, 0.0)), 0.0).sum(1)

    lo, hi = np.full(len(p0), -40.0), np.full(len(p0), 40.0)
    for _ in range(_KL_BISECTIONS):
        mid = 0.5 * (lo + hi)
        over = kl(tilt(mid)) > radius
        lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
    out = tilt(hi)  # the feasible side: KL <= radius
    point = np.where(low, p0, 0.0) / np.where(mass_low > 0, mass_low, 1.0)[:, None]
    reach = -np.log(np.maximum(mass_low, 1e-300)) <= radius
    out = np.where(reach[:, None], point, out)
    flat = (radius == 0.0) | (span[:, 0] == 0.0)
    return np.where(flat[:, None], p0, out)


def _check_radius_value(name: str, radius: object) -> float:
    return check_nonnegative(name, radius)


def _check_radii(name: str, radius: object, shape: tuple[int, ...]) -> np.ndarray:
    r = as_float_array(name, radius)
    if r.ndim == 0:
        r = np.full(shape, float(r))
    if r.shape != shape:
        raise ValueError(f"{name} must be a number or an array of shape {shape}; got {r.shape}")
    if np.any(r < 0):
        raise ValueError(f"{name} must be >= 0 everywhere; got min {float(r.min())}")
    return r


def _check_kernel(name: str, P: object) -> np.ndarray:
    P = as_float_array(name, P, ndim=3)
    S, A, S2 = P.shape
    if S == 0 or A == 0 or S2 != S:
        raise ValueError(f"{name} must have shape (S, A, S) with S, A >= 1; got {P.shape}")
    if np.any(P < -STOCHASTIC_ATOL) or np.any(np.abs(P.sum(axis=2) - 1) > STOCHASTIC_ATOL):
        raise ValueError(f"{name} must be a row-stochastic kernel (non-negative rows summing to 1)")
    return np.clip(P, 0.0, None)


@dataclass(frozen=True)
class L1Ball:
    """``{P : ||P(·|s,a) - P0(·|s,a)||_1 <= κ(s,a)}`` or, with ``rectangular="s"``,
    ``{P : Σ_a ||P(·|s,a) - P0(·|s,a)||_1 <= κ(s)}``.

    Parameters
    ----------
    nominal : array_like, shape (S, A, S)
        The centre ``P0`` (row-stochastic).
    radius : float or array_like
        ``κ >= 0``: a number, or shape ``(S, A)`` (``"sa"``) / ``(S,)`` (``"s"``). A radius of 2 or
        more allows every distribution.
    rectangular : {"sa", "s"}
    """

    nominal: np.ndarray
    radius: np.ndarray
    rectangular: str = "sa"

    def __post_init__(self) -> None:
        P = _check_kernel("nominal", self.nominal)
        check_choice("rectangular", self.rectangular, ("sa", "s"))
        shape = P.shape[:2] if self.rectangular == "sa" else P.shape[:1]
        object.__setattr__(self, "nominal", P)
        object.__setattr__(self, "radius", _check_radii("radius", self.radius, shape))

    def contains(self, P: np.ndarray, atol: float = 1e-9) -> bool:
        """Whether the kernel ``P`` lies in the set (to ``atol``)."""
        d = np.abs(np.asarray(P) - self.nominal).sum(axis=2)
        if self.rectangular == "s":
            d = d.sum(axis=1)
        return bool(np.all(d <= self.radius + atol))


@dataclass(frozen=True)
class KLBall:
    """``{P : KL(P(·|s,a) || P0(·|s,a)) <= κ(s,a)}`` (``(s,a)``-rectangular; ``P`` stays on the
    support of ``P0``)."""

    nominal: np.ndarray
    radius: np.ndarray
    rectangular: str = field(default="sa", init=False)

    def __post_init__(self) -> None:
        P = _check_kernel("nominal", self.nominal)
        object.__setattr__(self, "nominal", P)
        object.__setattr__(self, "radius", _check_radii("radius", self.radius, P.shape[:2]))

    def contains(self, P: np.ndarray, atol: float = 1e-9) -> bool:
        """Whether the kernel ``P`` lies in the set (to ``atol``)."""
        P = np.asarray(P)
        if np.any((self.nominal == 0) & (P > atol)):
            return False
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(P > 0, P * (np.log(P) - np.log(self.nominal)), 0.0)
        return bool(np.all(terms.sum(axis=2) <= self.radius + atol))


@dataclass(frozen=True)
class FiniteModels:
    """Finitely many kernels ``{P_1, …, P_K}``; ``rectangular=True`` takes their
    ``(s,a)``-rectangular hull (each ``P(·|s,a)`` from any model) instead."""

    models: np.ndarray
    rectangular: bool = False

    def __post_init__(self) -> None:
        M = as_float_array("models", self.models)
        if M.ndim != 4 or M.shape[0] == 0:
            raise ValueError(
                f"models must have shape (K, S, A, S) with K >= 1; got {np.shape(self.models)}"
            )
        for k in range(M.shape[0]):
            _check_kernel(f"models[{k}]", M[k])
        object.__setattr__(self, "models", np.clip(M, 0.0, None))
        object.__setattr__(self, "rectangular", check_bool("rectangular", self.rectangular))

    @property
    def nominal(self) -> np.ndarray:
        """The first model (IWOCS starts there)."""
        return self.models[0]

    def contains(self, P: np.ndarray, atol: float = 1e-9) -> bool:
        """Whether ``P`` is one of the models (or, rectangular, made of their rows)."""
        close = np.all(np.abs(self.models - np.asarray(P)[None]) <= atol, axis=3)  # (K, S, A)
        return (
            bool(np.all(close.any(axis=0))) if self.rectangular else bool(close.all((1, 2)).any())
        )


UncertaintySet = L1Ball | KLBall | FiniteModels


def _check_set(mdp: TabularMDP, uset: object) -> UncertaintySet:
    if not isinstance(uset, L1Ball | KLBall | FiniteModels):
        raise ArgumentTypeError(
            f"uncertainty must be an L1Ball, KLBall or FiniteModels; got {type(uset).__name__}"
        )
    if uset.nominal.shape != mdp.P.shape:
        raise ValueError(
            f"uncertainty: its kernels have shape {uset.nominal.shape}, the MDP's {mdp.P.shape}"
        )
    return uset


def _rectangular(uset: UncertaintySet) -> bool:
    return not isinstance(uset, FiniteModels) or uset.rectangular


def _worst_rows(uset: UncertaintySet, v: np.ndarray) -> np.ndarray:
    """The ``(s,a)``-rectangular inner minimisers: ``P_w(·|s,a) = argmin_p p·v``, shape (S, A, S)."""
    if isinstance(uset, FiniteModels):
        vals = uset.models @ v  # (K, S, A)
        k = np.argmin(vals, axis=0)
        S, A = k.shape
        return uset.models[k, np.arange(S)[:, None], np.arange(A)[None, :]]
    if isinstance(uset, L1Ball):
        return _l1_rows(uset.nominal, v, uset.radius)
    S, A, n = uset.nominal.shape
    return _kl_rows(uset.nominal.reshape(S * A, n), v, uset.radius.ravel()).reshape(S, A, n)


def _s_rect_state(
    uset: L1Ball, s: int, r: np.ndarray, v: np.ndarray, gamma: float, pi: np.ndarray | None
) -> tuple[float, np.ndarray, np.ndarray]:
    """One state of the ``s``-rectangular ``L1`` backup, as a linear program (HiGHS).

    With ``pi=None``: ``min_{P_s} max_a [r_a + γ p_a·v]`` (by the minimax theorem, equal to
    ``max_{π_s} min_{P_s} Σ_a π_a (r_a + γ p_a·v)``; Wiesemann et al. 2013, Thm 4), the maximising
    randomized action distribution read from the duals of the epigraph constraints. With a policy:
    ``min_{P_s} Σ_a π_a (r_a + γ p_a·v)``. Variables ``(z, p (A·S), t (A·S))``,
    ``|p - p0| <= t``, ``Σ t <= κ(s)``. Returns the value, the rows ``P(·|s,·)`` and ``π_s``.
    """
    p0 = uset.nominal[s]
    A, S = p0.shape
    n = A * S
    c = np.zeros(1 + 2 * n)
    a_ub, b_ub = [], []
    if pi is None:
        c[0] = 1.0
        for a in range(A):  # r_a + γ p_a·v - z <= 0
            row = np.zeros_like(c)
            row[0] = -1.0
            row[1 + a * S : 1 + (a + 1) * S] = gamma * v
            a_ub.append(row)
            b_ub.append(-r[a])
    else:
        for a in range(A):
            c[1 + a * S : 1 + (a + 1) * S] = gamma * pi[a] * v
    eye = np.eye(n)
    a_ub += list(np.hstack([np.zeros((n, 1)), eye, -eye]))  # p - t <= p0
    b_ub += list(p0.ravel())
    a_ub += list(np.hstack([np.zeros((n, 1)), -eye, -eye]))  # -p - t <= -p0
    b_ub += list(-p0.ravel())
    budget = np.zeros_like(c)
    budget[1 + n :] = 1.0
    a_ub.append(budget)
    b_ub.append(float(uset.radius[s]))
    a_eq = np.zeros((A, 1 + 2 * n))
    for a in range(A):
        a_eq[a, 1 + a * S : 1 + (a + 1) * S] = 1.0
    bounds = [(None, None)] + [(0.0, None)] * (2 * n)
    from scipy.optimize import linprog  # lazy: scipy.optimize costs ~0.6 s to import

    res = linprog(c, np.array(a_ub), np.array(b_ub), a_eq, np.ones(A), bounds, method="highs")
    if res.status != 0:
        raise ConvergenceError(f"s-rectangular backup at state {s}: LP failed ({res.message})")
    rows = np.clip(res.x[1 : 1 + n].reshape(A, S), 0.0, None)
    rows /= rows.sum(axis=1, keepdims=True)
    if pi is None:
        w = -np.asarray(res.ineqlin.marginals[:A])
        w = np.clip(w, 0.0, None)
        policy = w / w.sum() if w.sum() > 0 else np.full(A, 1.0 / A)
        return float(res.fun), rows, policy
    return float(res.fun + pi @ r), rows, pi


@dataclass(frozen=True)
class RobustResult:
    """Robust value of a rectangular robust MDP (or of a fixed policy), with its certificate.

    Attributes
    ----------
    v : ndarray, shape (S,)
        The robust value ``max_π min_P V^π_P`` (or ``min_P V^π_P`` of the evaluated policy).
    policy : ndarray, shape (S, A)
        The robust policy (greedy; randomized on ``s``-rectangular sets) or the evaluated one.
    worst_model : ndarray, shape (S, A, S)
        A static kernel of the set attaining ``v`` for ``policy`` (static-dynamic equivalence).
    error_bound : float
        Certified ``||v - v_true||_inf`` (``γ/(1-γ)`` times the last residual, plus rounding).
    nit : int
    success : bool
    message : str
    """

    v: np.ndarray
    policy: np.ndarray
    worst_model: np.ndarray
    error_bound: float
    nit: int
    success: bool
    message: str

    def summary(self) -> str:
        state = "converged" if self.success else "NOT converged"
        return (
            f"robust value {state} after {self.nit} backups: ||v - v*||_inf <= "
            f"{self.error_bound:.2g}; mean v = {float(self.v.mean()):.6g}"
        )


def _needs_rectangular(uset: UncertaintySet, what: str) -> None:
    if not _rectangular(uset):
        raise ValueError(
            f"uncertainty: {what} needs a rectangular set; FiniteModels(rectangular=False) is not "
            "(its rectangular hull, rectangular=True, gives a lower bound; use iwocs or "
            "robust_policy_evaluation for the static set)"
        )


def robust_value_iteration(
    mdp: TabularMDP, uncertainty: UncertaintySet, *, tol: float = DEFAULT_TOL, max_iter=None
) -> RobustResult:
    """Robust value iteration ``v <- max_π min_{P ∈ 𝒰} Σ_a π_a (R + γ P v)`` with a certified error.

    The robust Bellman operator of a rectangular set is a ``γ``-contraction in the sup norm
    (Iyengar 2005, Thm 3.2; Wiesemann et al. 2013, Thm 5), so ``||v_k - v*||_inf <= γ/(1-γ)
    ||v_k - v_{k-1}||_inf``. Deterministic greedy policies are optimal on ``(s,a)``-rectangular
    sets; the ``s``-rectangular policy is randomized.

    Raises
    ------
    ValueError
        A non-rectangular set (``FiniteModels(rectangular=False)``), a set whose shape does not
        match ``mdp``, ``tol <= 0``.
    ConvergenceError
        When ``tol`` was not reached (see :func:`theory.value_iteration.value_iteration`).

    Examples
    --------
    >>> from theory import TabularMDP
    >>> P = np.full((2, 1, 2), 0.5); R = np.array([[1.0], [0.0]])
    >>> res = robust_value_iteration(TabularMDP(P, R, 0.5), L1Ball(P, 0.0))
    >>> np.round(res.v, 6)
    array([1.5, 0.5])
    """
    mdp = check_mdp(mdp)
    uset = _check_set(mdp, uncertainty)
    _needs_rectangular(uset, "robust value iteration")
    tol = check_positive("tol", tol)
    if max_iter is not None:
        max_iter = check_int("max_iter", max_iter, lo=1)
    g = mdp.gamma
    if isinstance(uset, L1Ball) and uset.rectangular == "s":

        def backup(v: np.ndarray) -> np.ndarray:
            return np.array(
                [_s_rect_state(uset, s, mdp.R[s], v, g, None)[0] for s in range(mdp.n_states)]
            )

    else:

        def backup(v: np.ndarray) -> np.ndarray:
            q = mdp.R + g * np.einsum("sat,t->sa", _worst_rows(uset, v), v)
            return q.max(axis=1)

    res = iterate_to_fixed_point(backup, np.zeros(mdp.n_states), g, tol, max_iter)
    if not res.success:
        raise ConvergenceError(f"robust value iteration: {res.message}")
    v = res.q
    policy, model = _greedy(mdp, uset, v)
    return RobustResult(v, policy, model, res.error_bound, res.nit, True, res.message)


def _greedy(mdp: TabularMDP, uset: UncertaintySet, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The robust greedy policy at ``v`` and the kernel attaining the inner minimum."""
    S, A = mdp.n_states, mdp.n_actions
    if isinstance(uset, L1Ball) and uset.rectangular == "s":
        policy, model = np.empty((S, A)), np.empty_like(mdp.P)
        for s in range(S):
            _, model[s], policy[s] = _s_rect_state(uset, s, mdp.R[s], v, mdp.gamma, None)
        return policy, model
    model = _worst_rows(uset, v)
    q = mdp.R + mdp.gamma * np.einsum("sat,t->sa", model, v)
    policy = np.zeros((S, A))
    policy[np.arange(S), np.argmax(q, axis=1)] = 1.0
    return policy, model


def _check_policy(policy: object, mdp: TabularMDP) -> np.ndarray:
    pi = as_float_array("policy", policy)
    if pi.ndim == 1:  # actions
        if pi.shape != (mdp.n_states,) or np.any(pi != np.round(pi)):
            raise ValueError(
                f"policy must be integer actions of shape ({mdp.n_states},) or probabilities "
                f"of shape ({mdp.n_states}, {mdp.n_actions}); got {pi.shape}"
            )
        a = pi.astype(int)
        if np.any((a < 0) | (a >= mdp.n_actions)):
            raise ValueError(f"policy: actions must lie in [0, {mdp.n_actions}); got {a.tolist()}")
        out = np.zeros((mdp.n_states, mdp.n_actions))
        out[np.arange(mdp.n_states), a] = 1.0
        return out
    if pi.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(
            f"policy must have shape ({mdp.n_states}, {mdp.n_actions}); got {pi.shape}"
        )
    if np.any(pi < -1e-12) or np.any(np.abs(pi.sum(axis=1) - 1) > 1e-9):
        raise ValueError("policy: each row must be a probability vector")
    return np.clip(pi, 0.0, None)


def _evaluate(mdp: TabularMDP, P: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """``V^π_P`` by a linear solve."""
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * P_pi, r_pi)


def robust_policy_evaluation(
    mdp: TabularMDP, uncertainty: UncertaintySet, policy: object, *, tol: float = DEFAULT_TOL
) -> RobustResult:
    """``min_{P ∈ 𝒰} V^π_P`` of a fixed stationary policy and a static kernel attaining it.

    Rectangular sets: the fixed point of ``v <- min_P Σ_a π_a (R + γ P v)``, a ``γ``-contraction;
    the inner minimisers at the fixed point form one static kernel whose value equals it
    (static-dynamic equivalence for stationary policies; Iyengar 2005, Lemma 3.3 and Thm 3.1),
    re-evaluated exactly by a linear solve. Finite (non-rectangular) sets: the minimum over the
    models, each evaluated exactly (``min`` taken for the mean over states; the returned ``v``
    is that model's value).

    Parameters
    ----------
    policy : array_like
        Actions of shape ``(S,)`` or probabilities of shape ``(S, A)``.
    """
    mdp = check_mdp(mdp)
    uset = _check_set(mdp, uncertainty)
    pi = _check_policy(policy, mdp)
    tol = check_positive("tol", tol)
    if not _rectangular(uset):
        vals = [_evaluate(mdp, P, pi) for P in uset.models]
        k = int(np.argmin([v.mean() for v in vals]))
        msg = f"exact: the worst of {len(vals)} models (by the mean over states) is model {k}"
        return RobustResult(vals[k], pi, uset.models[k], 0.0, len(vals), True, msg)
    g = mdp.gamma
    s_rect = isinstance(uset, L1Ball) and uset.rectangular == "s"

    def rows(v: np.ndarray) -> np.ndarray:
        if s_rect:
            return np.stack(
                [_s_rect_state(uset, s, mdp.R[s], v, g, pi[s])[1] for s in range(mdp.n_states)]
            )
        return _worst_rows(uset, v)

    def backup(v: np.ndarray) -> np.ndarray:
        P = rows(v)
        return np.einsum("sa,sa->s", pi, mdp.R + g * np.einsum("sat,t->sa", P, v))

    res = iterate_to_fixed_point(backup, np.zeros(mdp.n_states), g, tol, None)
    if not res.success:
        raise ConvergenceError(f"robust policy evaluation: {res.message}")
    model = rows(res.q)
    v = _evaluate(mdp, model, pi)
    return RobustResult(v, pi, model, res.error_bound, res.nit, True, res.message)


def worst_case_model(mdp: TabularMDP, uncertainty: UncertaintySet, policy: object) -> np.ndarray:
    """A static kernel of the set minimising the value of ``policy``
    (:func:`robust_policy_evaluation`'s ``worst_model``)."""
    return robust_policy_evaluation(mdp, uncertainty, policy).worst_model


@dataclass(frozen=True)
class IWOCSResult:
    """The run of :func:`iwocs`.

    Attributes
    ----------
    policy : ndarray, shape (S, A)
        The best candidate found (highest worst-case mean value).
    worst_values : tuple of float
        The worst-case mean value ``mean_s min_P V^{π_i}_P(s)`` of each iteration's candidate.
    models : tuple of ndarray
        The worst-case models found, ``T_0 = P0`` first.
    converged : bool
        Whether the search stopped because the new worst case was already in the set.
    robust_value : float or None
        ``mean_s`` of the robust value (:func:`robust_value_iteration`) on a rectangular set,
        for comparison; ``None`` otherwise.
    """

    policy: np.ndarray
    worst_values: tuple[float, ...]
    models: tuple[np.ndarray, ...] = field(repr=False)
    converged: bool
    robust_value: float | None

    @property
    def gap(self) -> float | None:
        """``robust_value - max(worst_values)`` (``>= 0`` up to the tolerance; ``None`` when
        the robust value is not known)."""
        if self.robust_value is None:
            return None
        return self.robust_value - max(self.worst_values)

    def summary(self) -> str:
        best = max(self.worst_values)
        tail = "" if self.robust_value is None else f"; robust value {self.robust_value:.6g}"
        return (
            f"IWOCS: {len(self.models)} models, best worst-case value {best:.6g}"
            f"{tail}; {'converged' if self.converged else 'stopped at max_models'}"
        )


def iwocs(
    mdp: TabularMDP,
    uncertainty: UncertaintySet,
    *,
    max_models: int = 20,
    candidate: str = "pessimistic",
    tol: float = DEFAULT_TOL,
) -> IWOCSResult:
    """Incremental Worst-Case Search (Zouitine, Geist, Rachelson, arXiv:2410.06212, Alg. 1).

    From ``T_0 = P0``: solve the ordinary MDP in the newest model ``T_i`` (``Q_i = Q*_{T_i}``), form
    the robust candidate ``π_i``, and add its worst case ``T_{i+1} = argmin_{T ∈ 𝒰} V^{π_i}_T``
    (:func:`robust_policy_evaluation`; exact here where the paper searches with CMA-ES). Stops
    when ``T_{i+1}`` is already in the set or after ``max_models`` models.

    The candidate rule is a best reading of the paper's "pessimistic" policy over the found
    models [reconstructed]: ``candidate="pessimistic"`` (default) acts greedily on
    ``min_j Q_j(s, a)``; ``"latest"`` on ``Q_i`` alone.

    On a rectangular set the static and dynamic problems coincide, so the robust value
    ``max_π min_T V^π_T`` is what the search aims at; :attr:`IWOCSResult.gap` measures how far it
    got.
    """
    mdp = check_mdp(mdp)
    uset = _check_set(mdp, uncertainty)
    max_models = check_int("max_models", max_models, lo=1)
    check_choice("candidate", candidate, ("pessimistic", "latest"))
    tol = check_positive("tol", tol)
    models = [uset.nominal]
    qs: list[np.ndarray] = []
    values: list[float] = []
    best_pi, best = None, -math.inf
    converged = False
    for _ in range(max_models):
        qs.append(optimal_q(TabularMDP(models[-1], mdp.R, mdp.gamma), tol))
        q = np.min(qs, axis=0) if candidate == "pessimistic" else qs[-1]
        pi = np.zeros_like(q)
        pi[np.arange(mdp.n_states), np.argmax(q, axis=1)] = 1.0
        worst = robust_policy_evaluation(mdp, uset, pi, tol=tol)
        value = float(worst.v.mean())
        values.append(value)
        if value > best:
            best, best_pi = value, pi
        if any(np.max(np.abs(worst.worst_model - m)) <= 1e-9 for m in models):
            converged = True
            break
        models.append(worst.worst_model)
    robust = (
        float(robust_value_iteration(mdp, uset, tol=tol).v.mean()) if _rectangular(uset) else None
    )
    return IWOCSResult(best_pi, tuple(values), tuple(models), converged, robust)
