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
is recomputed from them by :func:`stability.lipschitz.lipsdp.certify_multipliers` (so ECLipsE's
per-layer SDP accuracy cannot make the value invalid). Only ``alpha = 0`` is supported (as in
the paper and its code); other slopes raise ``ValueError``.

References
----------
.. [1] Y. Xu, S. Sivaranjani, "ECLipsE: Efficient compositional Lipschitz constant estimation
   for deep neural networks", NeurIPS 2024, arXiv:2404.04375.
"""

from __future__ import annotations

import math
import time

import numpy as np

from stability.lipschitz.lipsdp import SAFETY, certify_multipliers, default_solver
from stability.lipschitz.network import Network
from stability.lipschitz.result import LipschitzResult

__all__ = ["eclipse", "eclipse_applicable", "eclipse_fast"]


def eclipse_applicable(net: Network) -> bool:
    """Whether every activation has slopes ``[0, β]`` with ``β > 0``."""
    return all(a == 0.0 and b > 0.0 for a, b in net.slopes)


def _check(net: Network, name: str) -> None:
    if not eclipse_applicable(net):
        raise ValueError(
            f"{name} needs activations with slopes [0, beta], beta > 0; got slopes {net.slopes}"
        )


def _run(net: Network, name: str, choose) -> LipschitzResult:
    start = time.perf_counter()
    ws = net.weights
    if net.depth == 1:
        return LipschitzResult.single_layer(ws[0], name, start)
    # absorb beta_k into the next weight: phi_k = beta_k psi_k, psi_k in [0, 1]
    wp = [ws[0]] + [b * w for (_, b), w in zip(net.slopes, ws[1:], strict=True)]
    x_inv = np.eye(ws[0].shape[1])
    lams, status = [], "closed-form"
    for i in range(len(wp) - 1):
        k = 0.25 * wp[i] @ x_inv @ wp[i].T
        k = 0.5 * (k + k.T)
        lam, st = choose(k, wp[i + 1])
        if st != "closed-form":
            status = st
        # keep X_i = Λ - ΛKΛ positive definite: λmax(Λ^½ K Λ^½) < 1
        r = float(np.linalg.eigvalsh((np.sqrt(lam)[:, None] * k) * np.sqrt(lam)[None, :])[-1])
        if r >= 1 - 1e-9:
            lam = lam * (1 - 1e-6) / r
        x = np.diag(lam) - (lam[:, None] * k) * lam[None, :]
        x_inv = np.linalg.inv(0.5 * (x + x.T))
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


def _fast_choice(k: np.ndarray, _w_next: np.ndarray):
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

    A layer SDP that fails falls back to the ECLipsE-Fast choice for that layer (noted in
    ``status``); the value stays certified either way.
    """
    import cvxpy as cp

    _check(net, "eclipse")
    solver = solver or default_solver()

    def choose(k: np.ndarray, w_next: np.ndarray):
        evals, evecs = np.linalg.eigh(k)
        k_half = (evecs * np.sqrt(np.clip(evals, 0.0, None))) @ evecs.T
        n = k.shape[0]
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
            return _fast_choice(k, w_next)[0], f"layer SDP failed ({type(exc).__name__})"
        if prob.status not in ("optimal", "optimal_inaccurate") or lam.value is None:
            return _fast_choice(k, w_next)[0], f"layer SDP {prob.status}"
        v = np.maximum(np.asarray(lam.value, dtype=float), 0.0)
        v = v + 1e-9 * max(float(np.max(v)), 1e-12)  # strictly positive: X_i must be invertible
        return v, prob.status

    return _run(net, "eclipse", choose)
