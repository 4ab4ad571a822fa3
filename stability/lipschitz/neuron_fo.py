"""LipSDP-Neuron without an SDP solver: quasi-Newton descent on the multipliers, then certification.

For fixed diagonal multipliers ``T = diag(λ)``, ``λ >= 0``, the LipSDP-Neuron LMI (Theorem 2 and
Eq. (10) of [1]_) is feasible for ``ρ`` iff ``H22(λ) ≺ 0`` and ``ρ >= ρ(λ)`` with

``ρ(λ) = λmax(M(λ))``,  ``M(λ) = H11 - H12 H22⁻¹ H21``,

computed by the block-tridiagonal backward elimination that ECLipsE [2]_ uses
(:func:`stability.lipschitz.certificate.certify_multipliers`). LipSDP-Neuron is ``min_{λ >= 0} ρ(λ)``,
a convex problem (``uᵀM(λ)u = max_y [u; y]ᵀ H(λ) [u; y]`` is a maximum of affine functions of λ),
and **every** ``λ`` with ``H22(λ) ≺ 0`` gives a proven bound ``L <= √ρ(λ)``. This module
minimizes ``ρ`` directly:

* variables ``λ = λ⁰ ∘ exp(θ)`` (log scale, so ``λ > 0`` and layers of very different scale are
  balanced), warm-started from ECLipsE-Fast's multipliers (or, when ECLipsE-Fast does not apply,
  a per-layer feasible start built backward, whichever certifies smaller);
* a smoothed objective ``f_τ(λ) = τ log tr exp(M(λ)/τ)`` (``λmax <= f_τ <= λmax + τ log n_0``),
  with the exact gradient from the same recursion (Danskin: ``∂(uᵀMu)/∂λ_i = wᵀ F_i w`` with
  ``w = [u; -H22⁻¹H21 u]`` and ``F_i = ∂H/∂λ_i``, weighted by the softmax of the eigenvalues
  of ``M``), in two temperature
  stages ``τ = 10⁻³ ρ₀`` and ``10⁻⁴ ρ₀`` [reconstructed: the schedule is a parameter];
* limited-memory BFGS with Armijo backtracking; a trial point whose ``H22`` is not negative
  definite is rejected (the objective is ``+∞`` there), so all iterates are feasible;
* the best iterate by the **exact** ``λmax`` is certified again by
  :func:`certify_multipliers`; the reported value is ``√ρ̂ (1 + SAFETY)``, never larger than the
  warm start's certified value. Should certification fail, the warm start's certified value is
  returned and ``message`` says so (``status`` 1 when the iteration or time limit stopped it).

The value is a valid upper bound at any iteration count; more iterations only tighten it
towards LipSDP-Neuron's optimum. Cost per iteration ``O(Σ_k n_k³)`` (one Cholesky per layer).

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
.. [2] Y. Xu, S. Sivaranjani, "ECLipsE: Efficient compositional Lipschitz constant estimation
   for deep neural networks", NeurIPS 2024, arXiv:2404.04375.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from scipy.linalg import cho_solve, solve_triangular

from stability.lipschitz.certificate import (
    SAFETY,
    _check_multipliers,
    _layer_start,
    certify_multipliers,
)
from stability.lipschitz.eclipse import eclipse_applicable, eclipse_fast
from stability.lipschitz.network import Network, _check_net, merge_linear_layers
from stability.lipschitz.result import STATUS_LIMIT, STATUS_OPTIMAL, LipschitzResult
from theory.checks import (
    ArgumentTypeError,
    check_int,
    check_nonnegative,
    check_positive_int,
    check_real,
)

__all__ = ["DEFAULT_STAGES", "neuron_fo", "schur_objective"]

#: (temperature relative to the starting ρ, share of the iterations) per stage [reconstructed].
DEFAULT_STAGES: tuple[tuple[float, float], ...] = ((1e-3, 0.7), (1e-4, 0.3))


def schur_objective(
    net: Network, lam: Sequence[np.ndarray], tau: float = 0.0, *, grad: bool = True
) -> tuple[float, float, list[np.ndarray] | None] | None:
    """Smoothed ``f_τ(λ)``, exact ``ρ(λ) = λmax(M(λ))`` and the gradient of ``f_τ``.

    Parameters
    ----------
    net : Network
        At least one hidden layer.
    lam : sequence of ndarray
        ``λ_k`` of shape ``(n_k,)`` per hidden layer, ``λ_k >= 0``.
    tau : float
        Temperature ``τ >= 0`` (``0``: ``f = ρ``, the gradient of ``λmax`` for a simple top
        eigenvalue).
    grad : bool
        Whether to compute the gradient.

    Returns
    -------
    (float, float, list of ndarray or None) or None
        ``(f_τ, ρ, ∂f_τ/∂λ)``, or ``None`` when ``H22(λ)`` is not negative definite (or the
        elimination overflows float64, e.g. for multipliers near ``1e308``).

    Raises
    ------
    ValueError
        ``net`` without a hidden layer; ``lam`` not one finite, non-negative vector of shape
        ``(n_k,)`` per hidden layer; ``tau`` negative or not finite.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`; ``tau`` not a number,
        ``grad`` not a bool.
    """
    depth = _check_net(net).depth
    if depth < 2:
        raise ValueError(f"net: schur_objective needs a hidden layer; got depth {depth}")
    lam = _check_multipliers(net, lam, "lam")
    for k, m in enumerate(lam):
        if not np.all(np.isfinite(m)) or np.any(m < 0):
            raise ValueError(f"lam[{k}] must be finite and >= 0; got {m!r}")
    tau = check_nonnegative("tau", tau)
    if not isinstance(grad, bool | np.bool_):
        raise ArgumentTypeError(f"grad must be a bool; got {grad!r}")
    return _schur_objective(net, lam, tau, grad=bool(grad))


def _schur_objective(
    net: Network, lam: Sequence[np.ndarray], tau: float, *, grad: bool = True
) -> tuple[float, float, list[np.ndarray] | None] | None:
    """:func:`schur_objective` without the argument checks (the descent's inner loop)."""
    ws = net.weights
    depth = len(ws)
    ab = [a * b for a, b in net.slopes]
    apb = [a + b for a, b in net.slopes]
    chols: list[np.ndarray | None] = [None] * depth
    k = depth - 1
    s = -2.0 * np.diag(lam[k - 1]) + ws[-1].T @ ws[-1]
    while True:
        if not np.all(np.isfinite(s)):  # overflow: treated as infeasible, never as a small ρ
            return None
        try:
            c = np.linalg.cholesky(-s)
        except np.linalg.LinAlgError:
            return None
        chols[k] = c
        off = (apb[k - 1] * lam[k - 1])[:, None] * ws[k - 1]  # H_{k,k-1}
        z = solve_triangular(c, off, lower=True, check_finite=False)
        d = -2.0 * (ws[k - 1].T * (ab[k - 1] * lam[k - 1])) @ ws[k - 1]
        if k == 1:
            m = d + z.T @ z
            if not np.all(np.isfinite(m)):
                return None
            break
        s = -2.0 * np.diag(lam[k - 2]) + d + z.T @ z
        k -= 1
    mu, u = np.linalg.eigh(0.5 * (m + m.T))
    top = float(mu[-1])
    if not math.isfinite(top):
        return None
    if tau > 0:
        e = np.exp((mu - top) / tau)
        p = e / e.sum()
        val = top + tau * float(np.log(e.sum()))
    else:
        p = np.zeros_like(mu)
        p[-1] = 1.0
        val = top
    if not grad:
        return val, top, None
    zprev = u * np.sqrt(p)
    g = []
    for k in range(1, depth):
        pre = ws[k - 1] @ zprev
        zk = cho_solve((chols[k], True), (apb[k - 1] * lam[k - 1])[:, None] * pre)
        g.append(
            -2.0 * ab[k - 1] * np.sum(pre**2, 1)
            + 2.0 * apb[k - 1] * np.sum(pre * zk, 1)
            - 2.0 * np.sum(zk**2, 1)
        )
        zprev = zk
    return val, top, g


def neuron_fo(
    net: Network,
    *,
    time_budget: float | None = None,
    max_iter: int = 2000,
    stages: Sequence[tuple[float, float]] = DEFAULT_STAGES,
    memory: int = 20,
    rtol: float = 1e-7,
) -> LipschitzResult:
    """LipSDP-Neuron's multipliers by L-BFGS on the Schur recursion, certified.

    Parameters
    ----------
    net : Network
    time_budget : float, optional
        Seconds for the descent (checked once per iteration; the certification after it is
        ``O(Σ n_k³)``). Default: no limit, ``max_iter`` stops.
    max_iter : int
        Total L-BFGS iterations over all stages.
    stages : sequence of (float, float)
        ``(τ / ρ₀, share of max_iter)`` per smoothing stage [reconstructed].
    memory : int
        L-BFGS memory.
    rtol : float
        A stage ends early when the best exact ``ρ`` improved by less than ``rtol`` (relative)
        over the last 25 iterations.

    Returns
    -------
    LipschitzResult
        ``method="lipsdp-neuron-fo"``, ``certified=True``; ``details``: ``start`` (the warm
        start's method and value), ``iterations``, ``evaluations``, ``multipliers``,
        ``descent_value`` (``√ρ`` of the best iterate before the independent check).

    Raises
    ------
    ValueError
        On a bad ``time_budget`` (not positive; ``math.inf``: no limit), ``max_iter`` (< 0),
        ``memory`` (< 1), ``stages`` (empty, or not ``(tau >= 0, share in [0, 1])`` pairs,
        finite) or ``rtol`` (negative or not finite).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`; numbers of the wrong type.
    """
    _check_net(net)
    if time_budget is not None:
        if isinstance(time_budget, bool) or not isinstance(time_budget, int | float):
            raise ArgumentTypeError(f"time_budget must be a number of seconds; got {time_budget!r}")
        if not time_budget > 0:  # NaN too
            raise ValueError(f"time_budget must be positive (math.inf: none); got {time_budget!r}")
    max_iter = check_int("max_iter", max_iter, lo=0)
    memory = check_positive_int("memory", memory)
    stages = _check_stages(stages)
    rtol = check_nonnegative("rtol", rtol)
    name = "lipsdp-neuron-fo"
    start = time.perf_counter()
    net = merge_linear_layers(net)  # linear activations: exact, and no unbounded λ
    if net.depth == 1:
        return LipschitzResult.single_layer(net.weights[0], name, start)
    starts = [("backward-layer", _layer_start(net))]
    if eclipse_applicable(net):
        ef = eclipse_fast(net)
        if ef.certified:
            starts.append(
                ("eclipse-fast", [np.asarray(m, float) for m in ef.details["multipliers"]])
            )
    start_rho, start_name, lam0 = math.inf, "", None
    for nm, lam in starts:
        r = certify_multipliers(net, lam)
        if r < start_rho:
            start_rho, start_name, lam0 = r, nm, lam
    if lam0 is None:  # pragma: no cover - the backward start is feasible by construction
        raise RuntimeError("no feasible warm start")
    sizes = [len(m) for m in lam0]
    cuts = np.cumsum(sizes)[:-1]
    base = np.maximum(np.concatenate(lam0), 1e-300)

    def lam_of(theta: np.ndarray) -> list[np.ndarray]:
        return np.split(base * np.exp(theta), cuts)

    def f(theta: np.ndarray, tau: float):
        with np.errstate(over="ignore"):  # a trial step so long that λ overflows ...
            lam = lam_of(theta)
        if not all(np.all(np.isfinite(x)) for x in lam):
            return None  # ... is rejected like an infeasible one
        out = _schur_objective(net, lam, tau)
        if out is None:
            return None
        val, top, g = out
        return val, top, np.concatenate(g) * base * np.exp(theta)

    theta = np.zeros(base.size)
    best_rho, best_theta = start_rho, theta.copy()
    iters = evals = 0
    stop = "iteration limit"
    for tau_rel, share in stages:
        n_stage = round(share * max_iter)
        tau = tau_rel * max(start_rho, 1e-300)
        cur = f(theta, tau)
        evals += 1
        if cur is None:  # pragma: no cover - theta is feasible (best or start)
            break
        v, top, g = cur
        s_hist: list[np.ndarray] = []
        y_hist: list[np.ndarray] = []
        history = [best_rho]
        for _ in range(n_stage):
            d = _lbfgs_direction(g, s_hist, y_hist)
            slope = float(g @ d)
            step, new = 1.0, None
            while step > 1e-12:
                new = f(theta + step * d, tau)
                evals += 1
                if new is not None and new[0] <= v + 1e-4 * step * slope:
                    break
                new = None
                step *= 0.3
            iters += 1
            if new is None:  # no decrease along d: restart from the gradient, or stop the stage
                if not s_hist:
                    break
                s_hist.clear()
                y_hist.clear()
                continue
            s_vec = step * d
            y_vec = new[2] - g
            if s_vec @ y_vec > 1e-12 * np.linalg.norm(s_vec) * np.linalg.norm(y_vec):
                s_hist.append(s_vec)
                y_hist.append(y_vec)
                if len(s_hist) > memory:
                    s_hist.pop(0)
                    y_hist.pop(0)
            theta = theta + s_vec
            v, top, g = new
            if top < best_rho:
                best_rho, best_theta = top, theta.copy()
            history.append(best_rho)
            if len(history) > 25 and history[-26] - best_rho <= rtol * abs(best_rho):
                break
            if time_budget is not None and time.perf_counter() - start > time_budget:
                stop = "time budget"
                break
        if stop == "time budget":
            break
        theta = best_theta.copy()
    else:
        stop = "converged" if iters < max_iter else "iteration limit"
    best = lam_of(best_theta)
    rho_hat = certify_multipliers(net, best)
    details = {
        "start": (start_name, math.sqrt(start_rho)),
        "iterations": iters,
        "evaluations": evals,
        "descent_value": math.sqrt(max(best_rho, 0.0)),
        "multipliers": best,
    }
    status = f"{stop} after {iters} iterations"
    if not math.isfinite(rho_hat) or rho_hat > start_rho:
        status = f"{status}; best iterate failed the Schur check, warm start ({start_name}) kept"
        rho_hat, details["multipliers"] = start_rho, lam0
    value = math.sqrt(max(rho_hat, 0.0)) * (1 + SAFETY)
    code = STATUS_OPTIMAL if stop == "converged" else STATUS_LIMIT
    seconds = time.perf_counter() - start
    return LipschitzResult(value, name, True, status, seconds, name, details, code)


def _check_stages(stages: object) -> list[tuple[float, float]]:
    """``stages``: a non-empty sequence of ``(tau >= 0, share in [0, 1])`` pairs."""
    if isinstance(stages, str | bytes) or not isinstance(stages, Sequence) or not stages:
        raise ArgumentTypeError(
            f"stages must be a non-empty sequence of (tau, share) pairs; got {stages!r}"
        )
    out = []
    for k, pair in enumerate(stages):
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ArgumentTypeError(f"stages[{k}] must be a (tau, share) pair; got {pair!r}")
        out.append(
            (
                check_nonnegative(f"stages[{k}]: tau", pair[0]),
                check_real(f"stages[{k}]: share", pair[1], lo=0.0, hi=1.0),
            )
        )
    return out


def _lbfgs_direction(g: np.ndarray, s_hist: list, y_hist: list) -> np.ndarray:
    """``-H g`` by the L-BFGS two-loop recursion; a scaled gradient step without history."""
    q = g.copy()
    alphas = []
    for s, y in zip(reversed(s_hist), reversed(y_hist), strict=True):
        a = (s @ q) / (y @ s)
        alphas.append(a)
        q -= a * y
    if s_hist:
        q *= (s_hist[-1] @ y_hist[-1]) / (y_hist[-1] @ y_hist[-1])
    else:  # first step: change log-multipliers by at most 0.1
        q *= 0.1 / max(float(np.max(np.abs(g))), 1e-300)
    for (s, y), a in zip(zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True):
        q += s * (a - (y @ q) / (y @ s))
    d = -q
    if g @ d >= 0:  # not a descent direction: fall back to the scaled gradient
        d = -g * (0.1 / max(float(np.max(np.abs(g))), 1e-300))
    return d
