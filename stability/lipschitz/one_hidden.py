"""LipSDP-Neuron of a one-hidden-layer, scalar-output network, exactly, through its dual.

For ``f(x) = wᵀφ(Wx + b) + b'`` with ``W`` of shape ``(n_1, n_0)`` and ``φ`` slope-restricted in
``[α, β]``, ``α < β``, LipSDP-Neuron (Theorem 2 of [1]_ with ``T = diag(t)``) is

``ρ* = min_{t >= 0} ρ  s.t.  [[-2αβ WᵀTW - ρI, (α+β)WᵀT], [(α+β)TW, -2T + wwᵀ]] ⪯ 0``.

Derived here (this toolkit's reduction, not a statement of [1]_). The Schur complement of the
``-2T + wwᵀ ≺ 0`` block and Sherman–Morrison give ``ρ* = min_t λmax(G(t))`` with

``G(t) = κ WᵀTW + γ vvᵀ / (1 - s(t))``,  ``s(t) = Σ_i w_i² / (2 t_i) < 1``,

``κ = (β-α)²/2``, ``γ = (α+β)²/4``, ``v = Wᵀw``. ``G`` is matrix-convex in ``t``, so minimax
duality over the spectraplex ``Δ = {Z ⪰ 0, tr Z = 1}`` (``n_0 x n_0``) gives
``ρ* = max_{Z ∈ Δ} inf_t <Z, G(t)>``. For fixed ``Z`` the inner problem is solved in closed form
(Cauchy–Schwarz in ``t`` for fixed ``s``, then ``min_s A/s + B/(1-s) = (√A + √B)²``):

``ρ* = max_{Z ∈ Δ} g(Z)²``,  ``g(Z) = (β-α)/2 · Σ_i |w_i| √(a_iᵀZa_i) + |α+β|/2 · √(vᵀZv)``

(``a_i`` = row ``i`` of ``W``), with the minimizing multipliers

``t_i(Z) = √(c_i / q_i) · K / s``,  ``c_i = w_i²/2``, ``q_i = a_iᵀZa_i``, ``K = Σ √(c_i q_i)``,
``s = √A / (√A + √B)``, ``A = κK²``, ``B = γ vᵀZv``.

So the SDP with ``n_1 + 1`` variables and an ``(n_0 + n_1)``-sized LMI becomes the maximization
of a concave function over ``n_0 x n_0`` matrices. On a rank-one ``Z = uuᵀ`` the objective is
``max_{d ∈ [α, β]^{n_1}} |wᵀ diag(d) W u|``, the exact Jacobian bound along ``u`` over all
slope patterns; LipSDP-Neuron relaxes ``uuᵀ`` to ``Z``.

Algorithm: a primal barrier method on ``max g(Z) + μ log det Z`` s.t. ``tr Z = 1`` (Newton steps
in the scaled variable ``D = Z^½ D̃ Z^½``, where the barrier's Hessian is ``μ I``; backtracking
that keeps ``Z ≻ 0``; ``μ`` divided by 10 once the Newton decrement is below ``4μ``). Every ``Z`` gives a **lower** bound ``g(Z)²`` on ``ρ*`` (weak duality) and multipliers
``t(Z)`` whose ``λmax(G(t))`` is an **upper** bound; the method stops when the two are within
``tol`` (relative), so the distance to LipSDP-Neuron's optimum is proven, not estimated. The
reported value is certified independently by :func:`stability.lipschitz.certificate.certify_multipliers`
(the backward Schur check on the original LMI).

Limitation: a primal barrier method. When the optimal ``Z`` has rank one and ``μ`` has been
decreased before the top eigenvector has turned to its final direction, the damped Newton steps
gain only ``O(μ)`` each (measured: a 2-2-1 network with slopes ``[-0.5, 1]`` stays at a gap of
``3e-4`` after 100 steps). The method then stops at ``max_iter`` with a certified but looser
value, and :func:`stability.lipschitz.lipsdp.lipsdp` solves the problem by the interior-point
method instead. A primal-dual method on the same reduced problem would not crawl (not
implemented).

Neurons with ``w_i = 0`` or ``a_i = 0`` do not change ``f`` and are removed first. Cost per
Newton step ``O(n_1 n_0⁴ + n_0⁶)``: the method is used for ``n_0 <=`` :data:`MAX_INPUT`.

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.linalg import lapack

from stability.lipschitz.certificate import SAFETY, certify_multipliers
from stability.lipschitz.network import Network, _check_net, merge_linear_layers
from stability.lipschitz.result import STATUS_LIMIT, STATUS_OPTIMAL, LipschitzResult
from theory.checks import check_open_unit as open_unit
from theory.checks import check_positive_int as positive_int

__all__ = ["MAX_INPUT", "one_hidden_applicable", "one_hidden_dual"]

#: Largest input dimension handled (a Newton step solves an ``n_0² x n_0²`` system).
MAX_INPUT = 16

#: ``1 - s`` is kept at least this large (``s → 1`` only when ``B = 0``, e.g. ``α = -β``).
_S_MARGIN = 1e-9


def one_hidden_applicable(net: Network) -> bool:
    """Whether ``net`` (linear activations merged) has one hidden layer, one output, ``n_0 <= 16``.

    ``TypeError`` naming ``net`` if it is not a :class:`~stability.lipschitz.network.Network`.
    """
    net = merge_linear_layers(_check_net(net))
    return net.depth == 2 and net.weights[1].shape[0] == 1 and net.weights[0].shape[1] <= MAX_INPUT


class _Dual:
    """``g(Z)``, its derivatives and the multipliers ``t(Z)`` of one reduced network."""

    def __init__(self, w_in: np.ndarray, w_out: np.ndarray, alpha: float, beta: float):
        self.w_in, self.w_out = w_in, w_out
        self.kappa, self.gamma = 0.5 * (beta - alpha) ** 2, 0.25 * (alpha + beta) ** 2
        self.v = w_in.T @ w_out
        self.c = 0.5 * w_out**2
        # g(Z) = Σ_j coef_j √(u_jᵀ Z u_j) over the rows of W and v
        self.u = np.vstack([w_in, self.v[None, :]])
        self.coef = np.r_[0.5 * (beta - alpha) * np.abs(w_out), 0.5 * abs(alpha + beta)]

    def quad(self, z: np.ndarray) -> np.ndarray:
        return np.sum((self.u @ z) * self.u, axis=1)

    def value(self, z: np.ndarray) -> float:
        return float(self.coef @ np.sqrt(np.maximum(self.quad(z), 0.0)))

    def multipliers(self, z: np.ndarray) -> np.ndarray:
        """``t(Z)``, the minimizer of ``<Z, G(t)>`` (closed form of the module docstring)."""
        q = self.quad(z)
        qa = np.maximum(q[:-1], 1e-14 * max(float(np.max(q[:-1])), 1e-300))
        k = float(np.sum(np.sqrt(self.c * qa)))
        sa, sb = math.sqrt(self.kappa) * k, math.sqrt(self.gamma * max(float(q[-1]), 0.0))
        s = min(sa / (sa + sb), 1.0 - _S_MARGIN)
        return np.sqrt(self.c / qa) * k / s

    def upper(self, t: np.ndarray) -> float:
        """``λmax(G(t))`` (``inf`` outside ``s(t) < 1``)."""
        s = float(np.sum(self.c / t))
        if not s < 1.0:
            return math.inf
        g = self.kappa * (self.w_in.T * t) @ self.w_in + self.gamma * np.outer(self.v, self.v) / (
            1.0 - s
        )
        return float(np.linalg.eigvalsh(0.5 * (g + g.T))[-1])


def _barrier(dual: _Dual, z: np.ndarray, mu: float) -> float:
    c, info = lapack.dpotrf(z, lower=1)
    if info != 0:
        return -math.inf
    return dual.value(z) + 2.0 * mu * float(np.sum(np.log(np.diag(c))))


def one_hidden_dual(net: Network, *, tol: float = 1e-6, max_iter: int = 100) -> LipschitzResult:
    """LipSDP-Neuron of a one-hidden-layer scalar-output network by its spectraplex dual.

    Parameters
    ----------
    net : Network
        One hidden layer (after merging linear activations), one output, ``n_0 <= 16``.
    tol : float
        Stop when ``(ρ_upper - ρ_lower) <= tol · ρ_upper`` for the upper bound ``λmax(G(t(Z)))``
        and the lower bound ``g(Z)²`` of the current ``Z`` (default ``1e-6``).
    max_iter : int
        Newton steps. Whatever the stop, the value is certified.

    Returns
    -------
    LipschitzResult
        ``method="lipsdp-neuron"``, ``certified=True`` (``False`` with value ``inf`` should the
        multipliers fail the Schur check), ``message`` ``"optimal"`` (``status`` 0) or ``"iteration limit"`` (``status`` 1); ``details``: ``solver="one-hidden dual"``, ``iterations``,
        ``sdp_lower_bound`` (``√`` of the best ``g(Z)²``: LipSDP-Neuron's optimum is at least
        this), ``gap`` (relative, in ``ρ``), ``multipliers`` (per hidden neuron, ``inf``-free;
        removed neurons get ``0``), ``dual_matrix`` (``Z``).

    Raises
    ------
    ValueError
        If ``net`` is not one-hidden-layer scalar-output with ``n_0 <= 16``, or on a bad ``tol``
        or ``max_iter``.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`; ``tol`` not a number,
        ``max_iter`` not an integer.
    """
    if not one_hidden_applicable(net):
        raise ValueError(
            "net: one_hidden_dual needs one hidden layer, one output and at most "
            f"{MAX_INPUT} inputs; got dims {merge_linear_layers(net).dims}"
        )
    tol, max_iter = open_unit("tol", tol), positive_int("max_iter", max_iter)
    name = "lipsdp-neuron"
    t0 = time.perf_counter()
    net = merge_linear_layers(net)
    w_in, w_out = net.weights[0], net.weights[1][0]
    (alpha, beta) = net.slopes[0]
    keep = (w_out != 0) & np.any(w_in != 0, axis=1)
    n0, n1 = w_in.shape[1], w_in.shape[0]
    if not np.any(keep):  # f is constant
        details = {"solver": "one-hidden dual", "iterations": 0, "sdp_lower_bound": 0.0}
        details |= {"gap": 0.0, "multipliers": [np.zeros(n1)], "dual_matrix": np.eye(n0) / n0}
        return LipschitzResult(0.0, name, True, "optimal", time.perf_counter() - t0, name, details)
    dual = _Dual(w_in[keep], w_out[keep], alpha, beta)
    z = np.eye(n0) / n0
    mu = dual.value(z) / n0
    best_up, best_t, best_low, best_z = math.inf, None, 0.0, z
    status, iters = "iteration limit", 0
    f_z = _barrier(dual, z, mu)
    while True:
        g_z = dual.value(z)
        if g_z**2 > best_low:
            best_low, best_z = g_z**2, z
        # the central point for μ is within n_0 μ of max g; check t(Z) only once that is small
        if best_t is None or n0 * mu <= 10.0 * tol * g_z or iters == max_iter:
            t = dual.multipliers(z)
            up = dual.upper(t)
            if up < best_up:
                best_up, best_t = up, t
            if best_up - best_low <= tol * best_up:
                status = "optimal"
                break
        if iters == max_iter:
            break
        iters += 1
        # Newton step for max g(Z) + μ log det Z, tr Z = 1, in the scaled variable
        # D = Z^½ D̃ Z^½ (the barrier's Hessian becomes μ I, so the system stays well
        # conditioned as Z nears rank deficiency); tr D = <Z, D̃> = 0 by the multiplier ν
        evals, evecs = np.linalg.eigh(z)
        root = (evecs * np.sqrt(np.maximum(evals, 0.0))) @ evecs.T
        q = dual.quad(z)
        q = np.maximum(q, 1e-14 * float(np.max(q)))
        w = dual.u @ root  # rows Z^½ u_j
        grad = (w.T * (dual.coef / (2.0 * np.sqrt(q)))) @ w + mu * np.eye(n0)
        kron = np.einsum("ji,jk->jik", w, w).reshape(len(w), -1)
        p = kron.T @ ((dual.coef / (4.0 * q**1.5))[:, None] * kron)
        p.reshape(-1)[:: n0 * n0 + 1] += mu
        c = z.ravel()
        sol = np.linalg.solve(p, np.column_stack([grad.ravel(), c]))
        d = sol[:, 0] - (float(c @ sol[:, 0]) / float(c @ sol[:, 1])) * sol[:, 1]
        decrement = float(grad.ravel() @ d)  # = d̃ᵀ P̃ d̃: the squared Newton decrement
        d = root @ d.reshape(n0, n0) @ root
        d = 0.5 * (d + d.T)
        step = 1.0
        while step > 1e-10:
            cand = z + step * d
            f_c = _barrier(dual, cand, mu)
            if f_c >= f_z + 0.25 * step * decrement:
                z, f_z = cand / np.trace(cand), f_c
                break
            step *= 0.5
        if decrement <= 4.0 * mu or step <= 1e-10:  # near the central point: follow the path
            mu = max(0.1 * mu, 1e-3 * tol * g_z / n0)  # no need to go further
            f_z = _barrier(dual, z, mu)
    lam = np.zeros(n1)
    lam[keep] = best_t
    rho_hat = certify_multipliers(_reduced(net, keep), [best_t])
    certified = math.isfinite(rho_hat)
    if not certified:  # pragma: no cover - t(Z) keeps s(t) <= 1 - 1e-9; rounding only
        status = f"{status}; the multipliers failed the Schur check"
    value = math.sqrt(max(rho_hat, 0.0)) * (1 + SAFETY)
    details = {
        "solver": "one-hidden dual",
        "iterations": iters,
        "sdp_lower_bound": math.sqrt(best_low),
        "gap": (best_up - best_low) / best_up,
        "multipliers": [lam],
        "dual_matrix": best_z,
    }
    code = STATUS_OPTIMAL if status == "optimal" else STATUS_LIMIT
    seconds = time.perf_counter() - t0
    return LipschitzResult(value, name, certified, status, seconds, name, details, code)


def _reduced(net: Network, keep: np.ndarray) -> Network:
    """``net`` without the hidden neurons that do not change ``f``."""
    w_in, w_out = net.weights
    b_in, b_out = net.biases
    return Network((w_in[keep], w_out[:, keep]), (b_in[keep], b_out), net.slopes, net.activations)
