"""ECLipsE and ECLipsE-Fast (Xu & Sivaranjani, NeurIPS 2024 [1]_): LipSDP-Neuron layer by layer,
for activations slope-restricted in any interval ``[α_k, β_k]``.

**The elimination.** LipSDP's LMI (Fazlyab et al. [2]_, Theorem 2, with the quadratic
constraint of slope-restricted activations of Sec. 2, ``Q(T) = [[-2αβT, (α+β)T], [(α+β)T, -2T]]``) is block
tridiagonal in ``(x, y_1, …, y_{l-1})`` whatever ``α, β``: writing ``N = -(LMI)``, divided by ``ρ``,
with ``Λ_k = 2T_k/ρ``, ``m_k = (α_k+β_k)/2`` and ``c_k = α_k β_k``, its blocks are

``N_00 = I + c_1 W_1ᵀΛ_1W_1``, ``N_kk = Λ_k + c_{k+1} W_{k+1}ᵀΛ_{k+1}W_{k+1}`` (``1 <= k < l-1``),
``N_{l-1,l-1} = Λ_{l-1} - W_lᵀW_l/ρ``, ``N_{k-1,k} = -m_k W_kᵀΛ_k``.

Forward block elimination (Schur complements from the input side) gives ``N ⪰ 0`` iff, with
``M_0 = I``,

``X_{k-1} = M_{k-1} + c_k W_kᵀΛ_kW_k ≻ 0``,  ``M_k = Λ_k - m_k² Λ_kW_k X_{k-1}⁻¹ W_kᵀΛ_k ≻ 0``,
and ``ρ >= λmax(W_l M_{l-1}⁻¹ W_lᵀ)``.

The term ``c_k W_kᵀΛ_kW_k`` of layer ``k`` lands in the block of layer ``k-1``; it is added when
``Λ_k`` is chosen, so each step still depends only on ``M_{k-1}`` and layer ``k``. With
``α_k = 0`` (``c_k = 0``, ``m_k = β_k/2``) this is the recursion of the paper (Sec. 3 of [1]_,
``K_i = m² W_i X_{i-1}⁻¹ W_iᵀ``, ``X_i = Λ_i - Λ_iK_iΛ_i``), which hard-codes ``α = 0``; the same
elimination with neuron-wise ``[α, β]`` is that of ECLipsE-Gen-Local (Xu & Sivaranjani, TMLR
2026, arXiv:2510.05261). Why not the loop transformation: writing ``φ = α·id + (β-α)ψ`` with
``ψ`` slope-restricted in ``[0, 1]`` (the standard loop transformation) gives
``W_{k+1}φ(z_k) = αW_{k+1}z_k + (β-α)W_{k+1}ψ(z_k)``, a skip connection from ``z_k`` past the
activation, so the network is no longer a chain and the paper's recursion does not apply to it;
the elimination above keeps the chain and the true slopes instead.

The computation is whitened: with ``M_{k-1} = LLᵀ`` and ``G_k = W_k L⁻ᵀ``,
``X̃ = I + c_k G_kᵀΛ_kG_k`` and ``M_k = Λ_k - m_k² Λ_kG_k X̃⁻¹ G_kᵀΛ_k``.

**ECLipsE-Fast** takes ``Λ_k = ℓ_k I``: for ``c_k = 0`` the paper's closed form
``ℓ_k = 1/(2 λmax(K_k))``, ``K_k = m_k² G_kG_kᵀ`` (the maximiser of
``λmin(M_k) = ℓ - ℓ² λmax(K_k)``); for ``c_k != 0``, where ``λmin(M_k(ℓ))`` has no closed form,
the same criterion is maximised by a bounded 1-D search (Brent) over ``log ℓ`` around the
closed form of ``K_k``. **ECLipsE** takes the diagonal ``Λ_k`` of the layer SDP
``max s  s.t.  M_k(Λ) ⪰ s W_{k+1}ᵀW_{k+1}``.

**The layer SDP is a one-hidden-layer LipSDP-Neuron** (derived in this toolkit): by a Schur
complement, ``M_k(Λ) ⪰ s W_{k+1}ᵀW_{k+1}`` reads
``[[I + c GᵀΛG, -m GᵀΛ], [-m ΛG, Λ - s W_{k+1}ᵀW_{k+1}]] ⪰ 0``, which with ``s = 1/ρ`` and
``Λ = 2T/ρ`` is the LMI of LipSDP-Neuron for the network ``W_{k+1} φ(G x)``, ``φ``
slope-restricted in ``[α_k, β_k]``. So ``s* = 1/ρ*`` and ``Λ = 2T*/ρ*``, and each layer is solved by
:func:`stability.lipschitz.lipsdp.lipsdp` with its structured solvers (the exact dual of
:mod:`~stability.lipschitz.one_hidden` for the last layer of a scalar-output net with a small
input, else the interior-point method) instead of a cvxpy model; ``solver=`` a cvxpy solver name
keeps the paper's formulation. On a one-hidden-layer net ECLipsE is LipSDP-Neuron.

The multipliers ``T_k = (ρ/2) Λ_k`` are a LipSDP-Neuron certificate for the network's own slopes;
the reported value is recomputed from them by
:func:`stability.lipschitz.certificate.certify_multipliers` (so neither the per-layer SDP accuracy
nor the 1-D search can make it invalid), hence ECLipsE and ECLipsE-Fast are never below
LipSDP-Neuron's optimum. Linear activations (``α = β``) are first multiplied into their
neighbours (:func:`~stability.lipschitz.network.merge_linear_layers`, exact); the multipliers in
``details`` refer to that merged network.

References
----------
.. [1] Y. Xu, S. Sivaranjani, "ECLipsE: Efficient compositional Lipschitz constant estimation
   for deep neural networks", NeurIPS 2024, arXiv:2404.04375.
.. [2] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import minimize_scalar

from stability.lipschitz.certificate import SAFETY, LipSDPError, certify_multipliers
from stability.lipschitz.lipsdp import check_cvxpy_solver, lipsdp
from stability.lipschitz.network import Network, _check_interval, _check_net, merge_linear_layers
from stability.lipschitz.result import (
    STATUS_FALLBACK,
    STATUS_LIMIT,
    STATUS_OPTIMAL,
    LipschitzResult,
)
from theory.checks import as_float_array

__all__ = ["EclipseLayer", "eclipse", "eclipse_applicable", "eclipse_fast", "eclipse_layer"]


def eclipse_applicable(net: Network) -> bool:
    """Whether ECLipsE applies to ``net``: every activation slope-restricted in a finite
    ``[α, β]``, which every :class:`~stability.lipschitz.network.Network` is (so always
    ``True``; kept for callers that test it). ``TypeError`` naming ``net`` for a non-Network."""
    return all(math.isfinite(a) and math.isfinite(b) for a, b in _check_net(net).slopes)


#: Successive factors that shrink a layer's ``Λ`` off the boundary of ``X̃ ≻ 0`` / ``M ≻ 0``
#: (an SDP solution sits on it): gently first, then by halves.
_SHRINK = (1 - 1e-9, 1 - 1e-6, 1 - 1e-4, 1 - 1e-2, 0.9) + (0.5,) * 100


def _whiten(w: np.ndarray, m_prev: np.ndarray) -> np.ndarray:
    """``G = W L⁻ᵀ`` with ``M_prev = L Lᵀ``."""
    return solve_triangular(np.linalg.cholesky(m_prev), w.T, lower=True).T


def _m_matrix(g: np.ndarray, lam: np.ndarray, m: float, c: float) -> np.ndarray | None:
    """``M = Λ - m² ΛG (I + c GᵀΛG)⁻¹ GᵀΛ`` (symmetrised), or ``None`` when
    ``X̃ = I + c GᵀΛG`` is not positive definite."""
    lg = lam[:, None] * g  # ΛG
    if c == 0.0:
        out = np.diag(lam) - m * m * (lg @ lg.T)
    else:
        xt = np.eye(g.shape[1]) + c * (g.T @ lg)
        try:
            ch = np.linalg.cholesky(0.5 * (xt + xt.T))
        except np.linalg.LinAlgError:
            return None
        z = solve_triangular(ch, lg.T, lower=True)  # L_x⁻¹ GᵀΛ
        out = np.diag(lam) - m * m * (z.T @ z)
    return 0.5 * (out + out.T)


def _next_m(g: np.ndarray, lam: np.ndarray, m: float, c: float) -> np.ndarray | None:
    """:func:`_m_matrix`, or ``None`` unless both ``X̃`` and ``M`` are positive definite."""
    out = _m_matrix(g, lam, m, c)
    if out is None:
        return None
    try:
        np.linalg.cholesky(out)
    except np.linalg.LinAlgError:
        return None
    return out


def _run(net: Network, name: str, choose) -> LipschitzResult:
    start = time.perf_counter()
    net = merge_linear_layers(_check_net(net))
    ws = net.weights
    if net.depth == 1:
        return LipschitzResult.single_layer(ws[0], name, start)
    m_prev = np.eye(ws[0].shape[1])
    lams, status = [], "closed-form"
    for i, (alpha, beta) in enumerate(net.slopes):
        m, c = 0.5 * (alpha + beta), alpha * beta
        g = _whiten(ws[i], m_prev)
        lam, st = choose(g, alpha, beta, ws[i + 1])
        if st != "closed-form":
            status = st
        m_next = _next_m(g, lam, m, c)
        if m_next is None and c == 0.0:  # keep M_i ≻ 0: λmax(m² Λ^½GGᵀΛ^½) < 1
            sq = np.sqrt(lam)
            r = float(np.linalg.eigvalsh(m * m * (sq[:, None] * (g @ g.T)) * sq[None, :])[-1])
            lam = lam * (1 - 1e-6) / r
            m_next = _next_m(g, lam, m, c)
        for shrink in _SHRINK:  # c != 0 (or a rounding miss): shrink Λ until X̃ ≻ 0, M ≻ 0
            if m_next is not None:
                break
            lam = shrink * lam
            m_next = _next_m(g, lam, m, c)
        if m_next is None:
            seconds = time.perf_counter() - start
            msg = f"{status}; no positive definite M_{i + 1} (layer {i + 1})"
            return LipschitzResult(math.inf, name, False, msg, seconds, name, {})
        m_prev = m_next
        lams.append(lam)
    final = ws[-1] @ np.linalg.solve(m_prev, ws[-1].T)
    rho = float(np.linalg.eigvalsh(0.5 * (final + final.T))[-1])
    mult = [0.5 * rho * lam for lam in lams]  # T_k = (ρ/2) Λ_k
    rho_hat = certify_multipliers(net, mult)
    if not math.isfinite(rho_hat):  # rounding at the boundary: inflate rho slightly and retry
        mult = [mu * (1 + 1e-8) for mu in mult]
        rho_hat = certify_multipliers(net, mult)
    seconds = time.perf_counter() - start
    details = {"formula_value": math.sqrt(max(rho, 0.0)), "multipliers": mult}
    if not math.isfinite(rho_hat):
        return LipschitzResult(
            math.inf, name, False, f"{status}; Schur check failed", seconds, name, details
        )
    return LipschitzResult(
        math.sqrt(max(rho_hat, 0.0)) * (1 + SAFETY), name, True, status, seconds, name, details
    )


def _closed_form(g: np.ndarray, m: float) -> float:
    """``1 / (2 λmax(K))``, ``K = m² G Gᵀ`` (1 when ``K = 0``)."""
    top = float(np.linalg.eigvalsh(m * m * (g @ g.T))[-1])
    return 1.0 / (2.0 * top) if top > 0 else 1.0


def _fast_choice(g: np.ndarray, alpha: float, beta: float, *_unused) -> tuple[np.ndarray, str]:
    """ECLipsE-Fast's ``Λ = ℓ I``: the closed form for ``αβ = 0``, else the ``ℓ`` maximising
    ``λmin(M(ℓ I))`` (module docstring)."""
    m, c = 0.5 * (alpha + beta), alpha * beta
    n = g.shape[0]
    ell0 = _closed_form(g, m)
    if c == 0.0:
        return np.full(n, ell0), "closed-form"

    lo, hi = math.log(ell0) - 12.0, math.log(ell0) + 6.0
    if c < 0:  # X̃ = I + c ℓ GᵀG ≻ 0  <=>  ℓ < 1 / (|c| λmax(GᵀG))
        top = float(np.linalg.eigvalsh(g @ g.T)[-1])
        if top > 0:
            hi = min(hi, math.log((1 - 1e-9) / (-c * top)))
            lo = min(lo, hi - 18.0)

    def neg_min_eig(log_ell: float) -> float:
        mm = _m_matrix(g, np.full(n, math.exp(log_ell)), m, c)
        return 1e300 if mm is None else -float(np.linalg.eigvalsh(mm)[0])

    res = minimize_scalar(neg_min_eig, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    cands = [math.log(ell0), float(res.x)] if res.success else [math.log(ell0)]
    best = min(cands, key=neg_min_eig)
    return np.full(n, math.exp(best)), "closed-form and 1-D search (αβ != 0)"


def eclipse_fast(net: Network) -> LipschitzResult:
    """ECLipsE-Fast: ``Λ_i = ℓ_i I`` per layer (Algorithm 2 of [1]_; any slopes ``[α, β]``).

    ``ℓ_i = 1 / (2 λmax(K_i))`` (closed form) when ``α_i β_i = 0``, else the ``ℓ_i`` that
    maximises ``λmin(M_i)``, the criterion the closed form maximises (module docstring).

    Raises
    ------
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`.
    """
    return _run(net, "eclipse-fast", _fast_choice)


def eclipse(net: Network, *, solver: str | None = None) -> LipschitzResult:
    """ECLipsE: one small SDP per layer for a diagonal ``Λ_i`` (Algorithm 1 of [1]_; any slopes).

    Parameters
    ----------
    net : Network
    solver : str, optional
        For the layer SDPs (:func:`eclipse_layer`): ``None`` (default) solves each as the
        one-hidden-layer LipSDP-Neuron it is (module docstring) by the toolkit's structured
        solvers; a cvxpy solver name solves the paper's layer LMI through cvxpy
        (slow on wide layers: 40 s for one layer of 200 neurons with CVXOPT on 2 cores).

    A layer SDP that fails falls back to the ECLipsE-Fast choice for that layer, and a chain
    whose multipliers fail the final Schur check (seen with a sector [-1, 1], where the slope
    midpoint is 0) to the whole ECLipsE-Fast bound (both noted in ``message``, ``status``
    :data:`STATUS_FALLBACK`); the value stays certified either way.

    Raises
    ------
    ValueError
        ``solver`` not ``"ipm"`` or an installed cvxpy solver.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, ``solver`` not a str.
    """
    _check_net(net)
    if solver is not None and solver != "ipm":
        solver = check_cvxpy_solver(solver)

    def choose(g: np.ndarray, alpha: float, beta: float, w_next: np.ndarray):
        layer = eclipse_layer(0.5 * g, w_next, solver=solver, slopes=(alpha, beta))
        return layer.lam, layer.message

    r = _run(net, "eclipse", choose)
    if r.certified:
        return r
    fallback = eclipse_fast(net)  # a LipSDP-Layer certificate of its own (never uncertified inf)
    return replace(
        fallback,
        method="eclipse",
        requested="eclipse",
        status=STATUS_FALLBACK,
        message=f"{r.message}; fell back to ECLipsE-Fast ({fallback.message})",
    )


@dataclass(frozen=True)
class EclipseLayer:
    """A solution of ECLipsE's layer problem.

    Attributes
    ----------
    lam : ndarray
        The diagonal of ``Λ`` (entries ``> 0``).
    s : float
        Its objective: the largest ``s`` with ``Λ - ΛKΛ ⪰ s WᵀW`` (``-inf`` if
        ``Λ - ΛKΛ`` is not positive definite).
    message : str
        The solver's status in words, or why the ECLipsE-Fast choice was taken instead.
    status : int
        The code of :class:`~stability.lipschitz.result.LipschitzResult`: 0 solved, 1 the
        solver stopped at its iteration limit (its certified iterate is used), 3 the solve
        failed and the ECLipsE-Fast choice was taken instead.
    nit : int
        Iterations of the layer solver (0 for cvxpy, whose count is not reported).

    Notes
    -----
    ``success`` (a property) is true when the layer problem was solved (status 0 or 1).
    """

    lam: np.ndarray
    s: float
    message: str
    status: int = STATUS_OPTIMAL
    nit: int = 0

    @property
    def success(self) -> bool:
        """The layer SDP was solved (status 0 or 1), not replaced by the Fast choice."""
        return self.status in (STATUS_OPTIMAL, STATUS_LIMIT)


def eclipse_layer(
    g: np.ndarray,
    w_next: np.ndarray,
    *,
    solver: str | None = None,
    slopes: tuple[float, float] = (0.0, 1.0),
) -> EclipseLayer:
    """ECLipsE's layer SDP ``max s  s.t.  M(Λ) ⪰ s w_nextᵀ w_next``, ``Λ`` diagonal.

    ``M(Λ) = Λ - 4m² ΛG (I + 4c GᵀΛG)⁻¹ GᵀΛ`` with ``G = g``, ``m = (α+β)/2``, ``c = αβ``: for
    ReLU slopes ``[0, 1]`` it is the paper's ``Λ - ΛKΛ``, ``K = G Gᵀ``.

    Parameters
    ----------
    g : ndarray of shape (n, m)
        Half the whitened weight (inside :func:`eclipse`: ``G = ½ W_i L⁻ᵀ``,
        ``M_{i-1} = LLᵀ``; for ReLU ``K = G Gᵀ`` is the paper's ``K_i``).
    w_next : ndarray of shape (p, n)
        The next layer's weights.
    solver : str, optional
        ``None`` (or ``"ipm"``): as LipSDP-Neuron of ``w_next φ(2 G x)`` with ``φ``
        slope-restricted in ``slopes`` (``s* = 1/ρ*``, ``Λ = 2 T*/ρ*``; module docstring), by
        :func:`stability.lipschitz.lipsdp.lipsdp`. A cvxpy solver name: the layer LMI
        ``[[Λ - s WᵀW, 2m ΛG], [2m GᵀΛ, I + 4c GᵀΛG]] ⪰ 0`` (for ``[0, 1]`` the paper's
        ``[[Λ - s WᵀW, ΛK^½], [K^½Λ, I]] ⪰ 0``, the same constraint).
    slopes : (float, float)
        ``(α, β)`` of the layer's activation (default ReLU's ``(0, 1)``).

    Returns
    -------
    EclipseLayer
        The ECLipsE-Fast choice when the solve fails (``status`` says why). A solution on the
        boundary of ``I + 4c GᵀΛG ≻ 0`` or ``M ≻ 0`` (the optimum there, e.g. for ``m = 0``) is
        scaled just inside (by ``1 - 1e-9`` first), so ``s`` is that of the returned ``Λ``.

    Raises
    ------
    ValueError
        ``g`` or ``w_next`` empty, not finite or of non-matching shapes; ``slopes`` not a finite
        ``(α, β)`` with ``α <= β``; an unknown ``solver``.
    TypeError
        ``g`` or ``w_next`` not numeric, ``solver`` not a str.
    """
    g = as_float_array("g", g, ndim=2)
    w_next = as_float_array("w_next", w_next, shape=(None, g.shape[0]))
    alpha, beta = _check_interval("slopes", slopes)
    if solver is not None and solver != "ipm":
        solver = check_cvxpy_solver(solver)
    if solver in (None, "ipm"):
        lam, message, code, nit = _layer_by_lipsdp(g, w_next, alpha, beta)
    else:
        lam, message, code, nit = _layer_by_cvxpy(g, w_next, alpha, beta, solver)
    m, c = 0.5 * (alpha + beta), alpha * beta
    mm = _next_m(2.0 * g, lam, m, c)
    for shrink in _SHRINK:  # an SDP solution on the boundary of X̃ ≻ 0 or M ≻ 0: step inside
        if mm is not None:
            break
        lam = shrink * lam
        mm = _next_m(2.0 * g, lam, m, c)
    if mm is None:
        return EclipseLayer(lam, -math.inf, message, code, nit)
    b = np.linalg.solve(np.linalg.cholesky(mm), w_next.T)
    return EclipseLayer(lam, 1.0 / float(np.linalg.eigvalsh(b.T @ b)[-1]), message, code, nit)


def _strictly_positive(v: np.ndarray, fallback) -> np.ndarray:
    """``Λ`` with its zeros lifted by ``1e-9 max Λ`` (relative: ``Λ`` scales as ``1/‖W‖²``, so
    an absolute floor would swamp it for large weights): ``M_i`` must be invertible. An
    all-zero ``Λ`` becomes ``fallback()`` (the ECLipsE-Fast choice)."""
    v = np.maximum(np.asarray(v, dtype=float), 0.0)
    top = float(np.max(v, initial=0.0))
    return v + 1e-9 * top if top > 0 else fallback()


def _layer_by_lipsdp(
    g: np.ndarray, w_next: np.ndarray, alpha: float, beta: float
) -> tuple[np.ndarray, str, int, int]:
    """The layer SDP as LipSDP-Neuron of ``w_next φ(2 G x)`` (module docstring)."""
    zeros = (np.zeros(g.shape[0]), np.zeros(w_next.shape[0]))
    layer = Network((2.0 * g, w_next), zeros, ((alpha, beta),), ("custom",))

    def fast() -> np.ndarray:
        return _fast_choice(2.0 * g, alpha, beta)[0]

    try:
        r = lipsdp(layer, "neuron")
    except LipSDPError as exc:
        return fast(), f"layer SDP failed ({exc})", STATUS_FALLBACK, 0
    rho = (r.value / (1 + SAFETY)) ** 2  # the certified ρ̂ of T
    lam = _strictly_positive(2.0 * r.details["multipliers"][0] / rho, fast)
    return lam, r.message, r.status, r.nit


def _layer_by_cvxpy(
    g: np.ndarray, w_next: np.ndarray, alpha: float, beta: float, solver: str
) -> tuple[np.ndarray, str, int, int]:
    """The layer LMI through cvxpy (for ``[0, 1]`` the paper's ``2n x 2n`` form)."""
    import cvxpy as cp

    n = g.shape[0]
    m, c = 0.5 * (alpha + beta), alpha * beta
    lam = cp.Variable(n, nonneg=True)
    s = cp.Variable()

    def fast() -> np.ndarray:
        return _fast_choice(2.0 * g, alpha, beta)[0]

    if c == 0.0:  # the paper's form: [[Λ - s WᵀW, 2m ΛK^½], [2m K^½Λ, I]]
        evals, evecs = np.linalg.eigh(g @ g.T)
        off = 2 * m * ((evecs * np.sqrt(np.clip(evals, 0.0, None))) @ evecs.T)
        corner = np.eye(n)
        big = cp.bmat(
            [
                [cp.diag(lam) - s * (w_next.T @ w_next), cp.diag(lam) @ off],
                [off @ cp.diag(lam), corner],
            ]
        )
    else:
        gg = 2.0 * g
        big = cp.bmat(
            [
                [cp.diag(lam) - s * (w_next.T @ w_next), m * cp.diag(lam) @ gg],
                [m * gg.T @ cp.diag(lam), np.eye(g.shape[1]) + c * gg.T @ cp.diag(lam) @ gg],
            ]
        )
    prob = cp.Problem(cp.Maximize(s), [0.5 * (big + big.T) >> 0])
    try:
        prob.solve(solver=solver)
    except Exception as exc:  # a crashed layer solve: Fast choice instead
        why = f"layer SDP failed ({type(exc).__name__})"
        return fast(), why, STATUS_FALLBACK, 0
    if prob.status not in ("optimal", "optimal_inaccurate") or lam.value is None:
        return fast(), f"layer SDP {prob.status}", STATUS_FALLBACK, 0
    return _strictly_positive(lam.value, fast), prob.status, STATUS_OPTIMAL, 0
