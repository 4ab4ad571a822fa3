"""Behaviour cloning of an LQR expert with a Lipschitz-constrained policy, closed-loop tests.

Setting (seed: Al Makdah, Krishnan, Pasqualetti, arXiv:2103.16629): a linear system
``x_{t+1} = A x_t + B u_t``, an LQR expert ``π*(x) = -K x``, demonstrations ``(x_i, π*(x_i))``,
a policy ``π = L·g`` with ``lip(π) <= L`` trained by least squares, and closed-loop runs where
the policy sees ``x_t + δ_t``, ``||δ_t|| <= ε`` (adversarial measurement disturbances).

The bounds here are elementary facts in the setting of Al Makdah et al. (2021), each
labelled **[derived]** and proved in its docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import torch

from stability.lipschitz.layers import LipschitzPolicy
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_real,
    check_seed,
)

__all__ = [
    "LinearSystem",
    "closed_loop_deviation_bound",
    "disturbance_bound",
    "learning_error_bound",
    "linear_system",
    "lqr_gain",
    "one_step_deviation_bound",
    "quadratic_cost",
    "rollout",
    "train_policy",
]


@dataclass(frozen=True)
class LinearSystem:
    """``x_{t+1} = A x + B u`` with an LQR expert gain ``K`` (``u = -K x``) and its P-norm data.

    ``P`` solves ``A_clᵀ P A_cl - P = -I`` for ``A_cl = A - B K``; ``rho = ||P^½ A_cl P^-½||_2 < 1``
    is the contraction rate of the expert loop in the norm ``||v||_P = √(vᵀPv)``, and
    ``b_gain = ||P^½ B||_2``.
    """

    name: str
    a: np.ndarray
    b: np.ndarray
    k: np.ndarray
    p: np.ndarray
    rho: float
    b_gain: float

    def __post_init__(self) -> None:
        """Refuse inconsistent parts: ``a`` (n, n), ``b`` (n, m), ``k`` (m, n), ``p`` (n, n)
        symmetric positive definite, all finite; ``rho`` in [0, 1), ``b_gain >= 0``."""
        if not isinstance(self.name, str):
            raise ArgumentTypeError(f"name must be a str; got {self.name!r}")
        a = as_float_array("a", self.a, ndim=2)
        n = a.shape[0]
        a = as_float_array("a", a, shape=(n, n))
        b = as_float_array("b", self.b, shape=(n, None))
        k = as_float_array("k", self.k, shape=(b.shape[1], n))
        p = as_float_array("p", self.p, shape=(n, n))
        if not np.allclose(p, p.T, rtol=1e-9, atol=1e-12) or np.linalg.eigvalsh(p)[0] <= 0:
            raise ValueError("p must be symmetric positive definite (the Lyapunov matrix)")
        rho = check_real("rho", self.rho, lo=0.0, hi=1.0, hi_open=True)
        b_gain = check_nonnegative("b_gain", self.b_gain)
        for field, value in (("a", a), ("b", b), ("k", k), ("p", p), ("rho", rho)):
            object.__setattr__(self, field, value)
        object.__setattr__(self, "b_gain", b_gain)

    def p_norm(self, v: np.ndarray) -> np.ndarray:
        """``||v||_P`` along the last axis."""
        return np.sqrt(np.einsum("...i,ij,...j->...", v, self.p, v))


def lqr_gain(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Discrete-time LQR gain ``K = (R + BᵀSB)⁻¹ BᵀSA`` from the Riccati solution ``S``."""
    a = as_float_array("a", a, ndim=2)
    n = a.shape[0]
    a = as_float_array("a", a, shape=(n, n))
    b = as_float_array("b", b, shape=(n, None))
    q = as_float_array("q", q, shape=(n, n))
    r = as_float_array("r", r, shape=(b.shape[1], b.shape[1]))
    s = sla.solve_discrete_are(a, b, q, r)
    return np.linalg.solve(r + b.T @ s @ b, b.T @ s @ a)


def linear_system(name: str = "double-integrator", dt: float = 0.1) -> LinearSystem:
    """``"double-integrator"`` (2 states) or ``"cartpole"`` (linearised at the top, 4 states)."""
    check_choice("name", name, ("double-integrator", "cartpole"))
    dt = check_positive("dt", dt)
    if name == "double-integrator":
        a = np.array([[1.0, dt], [0.0, 1.0]])
        b = np.array([[0.5 * dt**2], [dt]])
    elif name == "cartpole":
        g, mc, mp, ell = 9.81, 1.0, 0.1, 0.5  # linearised about the upright equilibrium
        ac = np.array(
            [
                [0, 1, 0, 0],
                [0, 0, -mp * g / mc, 0],
                [0, 0, 0, 1],
                [0, 0, (mc + mp) * g / (mc * ell), 0],
            ]
        )
        bc = np.array([[0], [1 / mc], [0], [-1 / (mc * ell)]])
        a, b = np.eye(4) + dt * ac, dt * bc  # forward Euler
    else:
        raise ValueError(f"name must be 'double-integrator' or 'cartpole'; got {name!r}")
    k = lqr_gain(a, b, np.eye(a.shape[0]), np.eye(b.shape[1]))
    acl = a - b @ k
    p = sla.solve_discrete_lyapunov(acl.T, np.eye(a.shape[0]))
    ph = sla.sqrtm(p).real
    rho = float(np.linalg.norm(ph @ acl @ np.linalg.inv(ph), 2))
    return LinearSystem(name, a, b, k, p, rho, float(np.linalg.norm(ph @ b, 2)))


# --------------------------------------------------------------------------------------------
# Elementary bounds [derived] (setting of Al Makdah et al. 2021)
# --------------------------------------------------------------------------------------------


def disturbance_bound(lipschitz: float, eps: float) -> float:
    """[derived] ``||π(x+δ) - π(x)|| <= L ||δ|| <= L ε`` (definition of the Lipschitz constant)."""
    return check_nonnegative("lipschitz", lipschitz) * check_nonnegative("eps", eps)


def one_step_deviation_bound(l_u: float, lipschitz: float, eps: float) -> float:
    """[derived] With ``f`` ``L_u``-Lipschitz in ``u``: ``||f(x, π(x+δ)) - f(x, π(x))|| <= L_u L ε``."""
    l_u = check_nonnegative("l_u", l_u)
    return l_u * check_nonnegative("lipschitz", lipschitz) * check_nonnegative("eps", eps)


def learning_error_bound(x, data_x, residuals, l_pi: float, l_expert: float) -> np.ndarray:
    """[derived] ``||π(x) - π*(x)|| <= min_i [ ||π(x_i) - u_i|| + (L_π + L_π*) ||x - x_i|| ]``.

    Proof: ``π - π*`` is ``(L_π + L_π*)``-Lipschitz and ``u_i = π*(x_i)``.
    ``x``: (m, n) query states; ``data_x``: (N, n); ``residuals``: (N,) training residual norms.
    """
    data_x = as_float_array("data_x", data_x, ndim=2)
    x = as_float_array("x", x, shape=(None, data_x.shape[1]), allow_empty=True)
    residuals = as_float_array("residuals", residuals, shape=(len(data_x),))
    if np.any(residuals < 0):
        raise ValueError(f"residuals must be norms (>= 0); got min {residuals.min()!r}")
    l_pi, l_expert = check_nonnegative("l_pi", l_pi), check_nonnegative("l_expert", l_expert)
    d = np.linalg.norm(x[:, None, :] - data_x[None, :, :], axis=2)
    return np.min(residuals[None, :] + (l_pi + l_expert) * d, axis=1)


def closed_loop_deviation_bound(
    b_gain: float, lipschitz: float, eps: float, gap: float, rho: float
) -> float:
    """[derived] ``sup_t ||x_t - x*_t||_P <= ||P^½B|| (L ε + gap) / (1 - ρ)`` from ``x_0 = x*_0``.

    Proof: ``e_{t+1} = A_cl e_t + B (π(x_t + δ_t) - π*(x_t))`` with ``A_cl = A - BK`` a
    ``ρ``-contraction in ``||·||_P``, and ``||π(x_t+δ_t) - π*(x_t)|| <= L ε + ||π(x_t) - π*(x_t)||
    <= L ε + gap`` (gap: the largest policy error along the visited states), so
    ``||e_t||_P <= Σ_k ρ^k ||P^½B|| (L ε + gap)``. With ``eps = 0`` it is the nominal deviation
    (``L_u sup||π - π*|| / (1 - ρ)`` with ``L_u = ||P^½B||``).
    """
    rho = check_real("rho", rho, lo=0.0, hi=1.0, hi_open=True)
    b_gain, lipschitz = (
        check_nonnegative("b_gain", b_gain),
        check_nonnegative("lipschitz", lipschitz),
    )
    eps, gap = check_nonnegative("eps", eps), check_nonnegative("gap", gap)
    return b_gain * (lipschitz * eps + gap) / (1.0 - rho)


# --------------------------------------------------------------------------------------------
# Learning and simulation
# --------------------------------------------------------------------------------------------


def train_policy(
    sys: LinearSystem,
    lipschitz: float,
    *,
    n_data: int = 512,
    radius: float = 1.0,
    hidden=(32, 32),
    steps: int = 400,
    kind: str = "aol",
    seed: int = 0,
) -> tuple[LipschitzPolicy, np.ndarray]:
    """Behaviour cloning: least squares on expert pairs from the box ``[-radius, radius]^n``.

    Returns the policy and the demonstration states.
    """
    _check_system(sys)
    n_data, steps = check_positive_int("n_data", n_data), check_positive_int("steps", steps)
    radius, seed = check_positive("radius", radius), check_seed(seed)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n, m = sys.b.shape
    xs = rng.uniform(-radius, radius, (n_data, n))
    us = -xs @ sys.k.T
    pol = LipschitzPolicy(n, m, hidden, lipschitz, kind=kind)
    opt = torch.optim.Adam(pol.parameters(), lr=1e-2)
    tx, tu = torch.as_tensor(xs), torch.as_tensor(us)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((pol(tx) - tu) ** 2).sum(dim=1).mean()
        loss.backward()
        opt.step()
    return pol, xs


def rollout(
    sys: LinearSystem,
    policy,
    x0: np.ndarray,
    horizon: int,
    eps: float = 0.0,
    *,
    adversarial: bool = True,
) -> dict[str, np.ndarray]:
    """Run ``x_{t+1} = A x + B π(x + δ)`` and the expert loop from ``x0``.

    ``δ_t`` (``||δ_t|| = ε``) is chosen greedily: along ± the top right singular vector of the
    policy's Jacobian, with the sign that pushes the next state farther (in ``||·||_P``) from
    the expert's next state. Returns the states ``x``, expert states ``x_star``, the per-step
    policy error ``gap`` ``||π(x_t) - π*(x_t)||`` and the deviation ``||x_t - x*_t||_P``.
    """
    _check_system(sys)
    if not callable(policy):
        raise ArgumentTypeError(f"policy must be callable on a state batch; got {policy!r}")
    x0 = as_float_array("x0", x0, shape=(sys.a.shape[0],))
    horizon, eps = check_int("horizon", horizon, lo=0), check_nonnegative("eps", eps)
    x, xe = np.array(x0, dtype=np.float64), np.array(x0, dtype=np.float64)
    xs, xes, gaps = [x.copy()], [xe.copy()], []
    for _ in range(horizon):
        tx = torch.as_tensor(x)
        with torch.no_grad():
            u_clean = policy(tx[None])[0].numpy()
        gaps.append(float(np.linalg.norm(u_clean + sys.k @ x)))
        delta = np.zeros_like(x)
        if eps > 0:
            if adversarial:
                jac = torch.func.jacrev(lambda z: policy(z[None])[0])(tx).detach().numpy()
                v = np.linalg.svd(jac)[2][0]
            else:
                v = np.random.default_rng(len(xs)).standard_normal(x.shape)
                v /= np.linalg.norm(v)
            best = None
            for sgn in (1.0, -1.0):
                d = sgn * eps * v
                with torch.no_grad():
                    u = policy(torch.as_tensor(x + d)[None])[0].numpy()
                nxt = sys.a @ x + sys.b @ u
                dev = float(sys.p_norm(nxt - (sys.a - sys.b @ sys.k) @ xe))
                if best is None or dev > best[0]:
                    best = (dev, d)
            delta = best[1]
        with torch.no_grad():
            u = policy(torch.as_tensor(x + delta)[None])[0].numpy()
        x = sys.a @ x + sys.b @ u
        xe = (sys.a - sys.b @ sys.k) @ xe
        xs.append(x.copy())
        xes.append(xe.copy())
    xs, xes = np.array(xs), np.array(xes)
    return {"x": xs, "x_star": xes, "gap": np.array(gaps), "deviation": sys.p_norm(xs - xes)}


def quadratic_cost(xs: np.ndarray) -> float:
    """``Σ_t ||x_t||²`` of a trajectory (the nominal performance measure)."""
    return float(np.sum(as_float_array("xs", xs) ** 2))


def _check_system(sys: object) -> None:
    if not isinstance(sys, LinearSystem):
        raise ArgumentTypeError(
            f"sys must be a LinearSystem (see linear_system); got {type(sys).__name__}"
        )
