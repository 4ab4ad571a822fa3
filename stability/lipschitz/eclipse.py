"""ECLipsE and ECLipsE-Fast (Xu & Sivaranjani, NeurIPS 2024 [1]_): LipSDP-Neuron layer by layer.

For activations slope-restricted in ``[0, β_k]`` (write ``φ_k = β_k ψ_k`` and absorb ``β_k`` into
``W_{k+1}``), the LipSDP LMI is block tridiagonal and its forward block elimination gives, with
``m = 1/2`` (Sec. 3 of [1]_):

``X_0 = I``,  ``K_i = m² W_i X_{i-1}⁻¹ W_iᵀ``,  ``X_i = Λ_i - Λ_i K_i Λ_i``,
``L = √λmax(W_lᵀ W_l X_{l-1}⁻¹)``,

valid for any diagonal ``Λ_i >= 0`` with ``X_i ≻ 0``. **ECLipsE-Fast** takes
``Λ_i = ℓ_i I`` with ``ℓ_i = 1 / (2 λmax(K_i))`` (closed form); **ECLipsE** takes the diagonal
``Λ_i`` of the small SDP ``max s  s.t.  [[Λ - s W_{i+1}ᵀW_{i+1}, Λ K_i^{1/2}], [K_i^{1/2} Λ, I]] ⪰ 0``.

The multipliers ``T_k = (L²/2) Λ_k / β_k²`` are a LipSDP-Neuron certificate; the reported value
is recomputed from them by :func:`stability.lipschitz.certificate.certify_multipliers` (so ECLipsE's
per-layer SDP accuracy cannot make the value invalid). Only ``alpha = 0`` is supported (as in
the paper and its code); other slopes raise ``ValueError``.

**The layer SDP is a one-hidden-layer LipSDP-Neuron** (derived in this toolkit): by a Schur
complement it reads ``max s  s.t.  Λ - ΛKΛ ⪰ s W_{i+1}ᵀW_{i+1}``; with ``K = G Gᵀ``,
``G = ½ W_i L⁻ᵀ``, ``X_{i-1} = LLᵀ`` (thin: ``n_i x n_{i-1}``), ``s = 1/ρ`` and
``T = Λ/(2s)`` it is
``2T - T (2G)(2G)ᵀ T / ρ ⪰ W_{i+1}ᵀW_{i+1}``, the LMI of LipSDP-Neuron for the network
``W_{i+1} ψ(2G x)``, ``ψ`` slope-restricted in ``[0, 1]``. So ``s* = 1/ρ*`` and ``Λ = 2T*/ρ*``,
and each layer is solved by :func:`stability.lipschitz.lipsdp.lipsdp` with its structured
solvers (the exact dual of :mod:`~stability.lipschitz.one_hidden` for the last layer of a
scalar-output net with a small input, else the interior-point method) instead of a cvxpy model;
``solver=`` a cvxpy solver name keeps the paper's formulation. On a one-hidden-layer net ECLipsE
is LipSDP-Neuron.

References
----------
.. [1] Y. Xu, S. Sivaranjani, "ECLipsE: Efficient compositional Lipschitz constant estimation
   for deep neural networks", NeurIPS 2024, arXiv:2404.04375.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from stability.lipschitz.certificate import SAFETY, LipSDPError, certify_multipliers
from stability.lipschitz.lipsdp import check_cvxpy_solver, lipsdp
from stability.lipschitz.network import Network, _check_net
from stability.lipschitz.result import (
    STATUS_FALLBACK,
    STATUS_LIMIT,
    STATUS_OPTIMAL,
    LipschitzResult,
)
from theory.checks import as_float_array

__all__ = ["EclipseLayer", "eclipse", "eclipse_applicable", "eclipse_fast", "eclipse_layer"]


def eclipse_applicable(net: Network) -> bool:
    """Whether every activation has slopes ``[0, β]`` with ``β > 0`` (``TypeError`` naming
    ``net`` if it is not a :class:`~stability.lipschitz.network.Network`)."""
    return all(a == 0.0 and b > 0.0 for a, b in _check_net(net).slopes)


def _check(net: Network, name: str) -> None:
    if not eclipse_applicable(net):
        raise ValueError(
            f"net: {name} needs activations with slopes [0, beta], beta > 0; got slopes {net.slopes}"
        )


def _run(net: Network, name: str, choose) -> LipschitzResult:
    start = time.perf_counter()
    ws = net.weights
    if net.depth == 1:
        return LipschitzResult.single_layer(ws[0], name, start)
    # absorb beta_k into the next weight: phi_k = beta_k psi_k, psi_k in [0, 1]
    wp = [ws[0]] + [b * w for (_, b), w in zip(net.slopes, ws[1:], strict=True)]
    x = np.eye(ws[0].shape[1])
    x_inv = x
    lams, status = [], "closed-form"
    for i in range(len(wp) - 1):
        k = 0.25 * wp[i] @ x_inv @ wp[i].T
        k = 0.5 * (k + k.T)
        lam, st = choose(k, wp[i], x, wp[i + 1])  # K = ¼ W_i X⁻¹ W_iᵀ
        if st != "closed-form":
            status = st
        # keep X_i = Λ - ΛKΛ positive definite: λmax(Λ^½ K Λ^½) < 1
        r = float(np.linalg.eigvalsh((np.sqrt(lam)[:, None] * k) * np.sqrt(lam)[None, :])[-1])
        if r >= 1 - 1e-9:
            lam = lam * (1 - 1e-6) / r
        x = np.diag(lam) - (lam[:, None] * k) * lam[None, :]
        x = 0.5 * (x + x.T)
        x_inv = np.linalg.inv(x)
        lams.append(lam)
    final = wp[-1].T @ wp[-1] @ x_inv
    rho = float(np.max(np.linalg.eigvals(final).real))
    # multipliers of the original network: T_k = (rho / 2) Λ_k / β_k²
    mult = [0.5 * rho * lam / b**2 for lam, (_, b) in zip(lams, net.slopes, strict=True)]
    rho_hat = certify_multipliers(net, mult)
    if not math.isfinite(rho_hat):  # rounding at the boundary: inflate rho slightly and retry
        mult = [m * (1 + 1e-8) for m in mult]
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


def _factor(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``G = ½ W L⁻ᵀ`` with ``X = L Lᵀ``: ``G Gᵀ = ¼ W X⁻¹ Wᵀ = K`` (``n_i x n_{i-1}``)."""
    return 0.5 * solve_triangular(np.linalg.cholesky(x), w.T, lower=True).T


def _fast_choice(k: np.ndarray, *_unused) -> tuple[np.ndarray, str]:
    top = float(np.linalg.eigvalsh(k)[-1])
    ell = 1.0 / (2.0 * top) if top > 0 else 1.0
    return np.full(k.shape[0], ell), "closed-form"


def eclipse_fast(net: Network) -> LipschitzResult:
    """ECLipsE-Fast: closed-form ``Λ_i = I / (2 λmax(K_i))`` (Theorem/Algorithm 2 of [1]_).

    Raises
    ------
    ValueError
        If some activation has ``alpha != 0``.
    """
    _check(net, "eclipse-fast")
    return _run(net, "eclipse-fast", _fast_choice)


def eclipse(net: Network, *, solver: str | None = None) -> LipschitzResult:
    """ECLipsE: one small SDP per layer for a diagonal ``Λ_i`` (Algorithm 1 of [1]_).

    Parameters
    ----------
    net : Network
    solver : str, optional
        For the layer SDPs (:func:`eclipse_layer`): ``None`` (default) solves each as the
        one-hidden-layer LipSDP-Neuron it is (module docstring) by the toolkit's structured
        solvers; a cvxpy solver name solves the paper's ``2 n_i x 2 n_i`` LMI through cvxpy
        (slow on wide layers: 40 s for one layer of 200 neurons with CVXOPT on 2 cores).

    A layer SDP that fails falls back to the ECLipsE-Fast choice for that layer (noted in
    ``message``); the value stays certified either way.

    Raises
    ------
    ValueError
        If some activation has ``alpha != 0``, or ``solver`` is not ``"ipm"`` or an installed
        cvxpy solver.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, ``solver`` not a str.
    """
    _check(net, "eclipse")
    if solver is not None and solver != "ipm":
        solver = check_cvxpy_solver(solver)

    def choose(_k: np.ndarray, w: np.ndarray, x: np.ndarray, w_next: np.ndarray):
        layer = eclipse_layer(_factor(w, x), w_next, solver=solver)
        return layer.lam, layer.message

    return _run(net, "eclipse", choose)


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


def eclipse_layer(g: np.ndarray, w_next: np.ndarray, *, solver: str | None = None) -> EclipseLayer:
    """ECLipsE's layer SDP ``max s  s.t.  Λ - ΛKΛ ⪰ s w_nextᵀ w_next``, ``Λ`` diagonal, ``K = G Gᵀ``.

    Parameters
    ----------
    g : ndarray of shape (n, m)
        A factor of ``K = G Gᵀ`` (inside :func:`eclipse`: ``G = ½ W_i L⁻ᵀ``,
        ``X_{i-1} = LLᵀ``).
    w_next : ndarray of shape (p, n)
        The next layer's weights (its slope bound absorbed).
    solver : str, optional
        ``None`` (or ``"ipm"``): as LipSDP-Neuron of ``w_next ψ(2 G x)`` with ``ψ`` in
        ``[0, 1]`` (``s* = 1/ρ*``, ``Λ = 2 T*/ρ*``; module docstring), by
        :func:`stability.lipschitz.lipsdp.lipsdp`. A cvxpy solver name: the paper's LMI
        ``[[Λ - s WᵀW, ΛK^½], [K^½Λ, I]] ⪰ 0``.

    Returns
    -------
    EclipseLayer
        The ECLipsE-Fast choice ``Λ = I / (2 λmax(K))`` when the solve fails (``status`` says
        why).

    Raises
    ------
    ValueError
        ``g`` or ``w_next`` empty, not finite or of non-matching shapes; an unknown ``solver``.
    TypeError
        ``g`` or ``w_next`` not numeric, ``solver`` not a str.
    """
    g = as_float_array("g", g, ndim=2)
    w_next = as_float_array("w_next", w_next, shape=(None, g.shape[0]))
    if solver is not None and solver != "ipm":
        solver = check_cvxpy_solver(solver)
    if solver in (None, "ipm"):
        lam, message, code, nit = _layer_by_lipsdp(g, w_next)
    else:
        lam, message, code, nit = _layer_by_cvxpy(g, w_next, solver)
    x = np.diag(lam) - (lam[:, None] * (g @ g.T)) * lam[None, :]
    try:
        b = np.linalg.solve(np.linalg.cholesky(0.5 * (x + x.T)), w_next.T)
    except np.linalg.LinAlgError:
        return EclipseLayer(lam, -math.inf, message, code, nit)
    return EclipseLayer(lam, 1.0 / float(np.linalg.eigvalsh(b.T @ b)[-1]), message, code, nit)


def _strictly_positive(v: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``Λ`` with its zeros lifted by ``1e-9 max Λ`` (relative: ``Λ`` scales as ``1/‖W‖²``, so
    an absolute floor would swamp it for large weights): ``X_i`` must be invertible. An
    all-zero ``Λ`` becomes the ECLipsE-Fast choice for ``K = k``."""
    v = np.maximum(np.asarray(v, dtype=float), 0.0)
    top = float(np.max(v, initial=0.0))
    return v + 1e-9 * top if top > 0 else _fast_choice(k)[0]


def _layer_by_lipsdp(g: np.ndarray, w_next: np.ndarray) -> tuple[np.ndarray, str, int, int]:
    """The layer SDP as LipSDP-Neuron of ``w_next ψ(2 G x)`` (module docstring)."""
    zeros = (np.zeros(g.shape[0]), np.zeros(w_next.shape[0]))
    layer = Network((2.0 * g, w_next), zeros, ((0.0, 1.0),), ("relu",))
    try:
        r = lipsdp(layer, "neuron")
    except LipSDPError as exc:
        return _fast_choice(g @ g.T)[0], f"layer SDP failed ({exc})", STATUS_FALLBACK, 0
    rho = (r.value / (1 + SAFETY)) ** 2  # the certified ρ̂ of T
    lam = _strictly_positive(2.0 * r.details["multipliers"][0] / rho, g @ g.T)
    return lam, r.message, r.status, r.nit


def _layer_by_cvxpy(
    g: np.ndarray, w_next: np.ndarray, solver: str
) -> tuple[np.ndarray, str, int, int]:
    """The paper's ``2n x 2n`` layer LMI through cvxpy."""
    import cvxpy as cp

    evals, evecs = np.linalg.eigh(g @ g.T)
    k_half = (evecs * np.sqrt(np.clip(evals, 0.0, None))) @ evecs.T
    n = g.shape[0]
    lam = cp.Variable(n, nonneg=True)
    s = cp.Variable()
    big = cp.bmat(
        [
            [cp.diag(lam) - s * (w_next.T @ w_next), cp.diag(lam) @ k_half],
            [k_half @ cp.diag(lam), np.eye(n)],
        ]
    )
    prob = cp.Problem(cp.Maximize(s), [0.5 * (big + big.T) >> 0])
    try:
        prob.solve(solver=solver)
    except Exception as exc:  # a crashed layer solve: Fast choice instead
        why = f"layer SDP failed ({type(exc).__name__})"
        return _fast_choice(g @ g.T)[0], why, STATUS_FALLBACK, 0
    if prob.status not in ("optimal", "optimal_inaccurate") or lam.value is None:
        return _fast_choice(g @ g.T)[0], f"layer SDP {prob.status}", STATUS_FALLBACK, 0
    return _strictly_positive(lam.value, g @ g.T), prob.status, STATUS_OPTIMAL, 0
