"""LipSDP (Fazlyab et al., NeurIPS 2019 [1]_) with exact Schur-complement certification.

The SDP (Theorem 2 of [1]_, multi-layer form, Eq. (10)): with ``A = [blkdiag(W_1..W_{l-1}) 0]``,
``B = [0 I_N]`` and ``Q(T) = [[-2αβ T, (α+β) T], [(α+β) T, -2T]]``,

``minimize ρ  s.t.  [A;B]ᵀ Q(T) [A;B] + blkdiag(-ρ I_{n_0}, 0, …, 0, W_lᵀW_l) ⪯ 0``,  ``L = √ρ``.

Variants: **Neuron** ``T = diag(λ)``, ``λ >= 0``; **Layer** ``T = blkdiag(λ_k I)``;
**Network** ``T = diag(λ) + Σ_{i<j} ζ_ij (e_i - e_j)(e_i - e_j)ᵀ``, ``ζ >= 0``.

Certification. The solver's ``√ρ`` is never reported. From the returned multipliers ``T`` the
matrix ``H = [A;B]ᵀQ(T)[A;B] + blkdiag(0, …, W_lᵀW_l)`` is formed in float64 and partitioned at
``n_0``; if ``H22 ≺ 0`` then ``ρ̂ = λmax(H11 - H12 H22⁻¹ H21)`` is the smallest feasible ``ρ`` for
that ``T``, so ``√ρ̂`` is a proven bound whatever the solver's accuracy. For diagonal (Neuron,
Layer) multipliers ``H`` is block tridiagonal and the check is a backward block elimination
(:func:`certify_multipliers`, O(Σ n_k³)). The reported value is ``√ρ̂ (1 + 1e-10)`` (the factor
covers float64 rounding in the check). If the multipliers fail the check even after a small
repair (``λ + δ max λ``), the result falls back to a cheaper certified method and says so
(``on_failure="fallback"``) or raises :class:`LipSDPError` (``on_failure="raise"``).

Solvers. Neuron on a one-hidden-layer scalar-output network defaults to its exact spectraplex
dual (:mod:`stability.lipschitz.one_hidden`); other Neuron and Layer problems to the structured
interior-point method of :mod:`stability.lipschitz.neuron_ipm` (same optimum, much faster than
CVXOPT; ``stability bench lipschitz`` measures by how much). Both can stop early once the value
is proven within ``rtol`` of the optimum by a dual lower bound
(:mod:`stability.lipschitz.dual_bound`). Neuron-wise slopes (the local bound) go to the
interior-point method too; Network and ``solver="CVXOPT"`` etc. go through cvxpy.

Validity note on LipSDP-Network: the coupled multipliers ``ζ`` rest on a quadratic constraint
for pairs of neurons that does not hold for the incremental (Lipschitz) setting in general; this
was pointed out after publication (Pauli, Koch, Berberich, Kohler, Allgöwer, "Training robust
neural networks using Lipschitz bounds", IEEE L-CSS 2021). The value is computed and certified
as an LMI solution, but the result is marked ``certified=False``.

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from scipy.linalg import solve_triangular

from stability._checks import open_unit
from stability.lipschitz.network import Network
from stability.lipschitz.result import LipschitzResult

__all__ = [
    "SAFETY",
    "LipSDPError",
    "certify_dense",
    "certify_multipliers",
    "default_solver",
    "layer_start",
    "lipsdp",
    "widen_linear",
]

#: Relative inflation of a certified value, covering float64 rounding in the Schur check.
SAFETY = 1e-10

VARIANTS = ("layer", "neuron", "network")


class LipSDPError(RuntimeError):
    """The SDP solver failed, or its multipliers could not be certified."""


def default_solver() -> str:
    """CVXOPT when installed (interior point, fast on these dense LMIs), else Clarabel."""
    import cvxpy as cp

    return "CVXOPT" if "CVXOPT" in cp.installed_solvers() else "CLARABEL"


def _check_slopes(net: Network, slopes) -> list[tuple[np.ndarray, np.ndarray]]:
    """Neuron-wise ``slopes`` as float arrays, one ``(lo, hi)`` of shape ``(n_k,)`` per hidden
    layer with ``lo <= hi`` finite, or ``ValueError`` naming ``slopes``."""
    sizes = net.dims[1:-1]
    try:
        out = [
            (np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
            for lo, hi in slopes
        ]
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"slopes must be (lo, hi) array pairs per hidden layer; got {slopes!r}"
        ) from exc
    if len(out) != len(sizes) or any(
        lo.shape != (n,) or hi.shape != (n,) for (lo, hi), n in zip(out, sizes, strict=True)
    ):
        shapes = [(np.shape(lo), np.shape(hi)) for lo, hi in out]
        raise ValueError(f"slopes must have shapes {[(n,) for n in sizes]} per layer; got {shapes}")
    if not all(
        np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo <= hi) for lo, hi in out
    ):
        raise ValueError("slopes must be finite with lo <= hi for every neuron")
    return out


def widen_linear(
    slopes: Sequence[tuple[np.ndarray, np.ndarray]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[a, a]`` (a linear neuron) widened to ``[a - 1e-7 max(1, |a|), a]``: still a valid slope
    bound, and one that interior-point methods can approach (an exactly linear neuron's
    multiplier is unbounded)."""
    return [(lo - 1e-7 * np.maximum(1.0, np.abs(lo)) * (lo == hi), hi) for lo, hi in slopes]


def certify_multipliers(
    net: Network,
    multipliers: Sequence[np.ndarray],
    slopes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> float:
    """The exact ``ρ̂`` of diagonal (or per-layer) multipliers, or ``inf`` if ``H22 ⊀ 0``.

    Parameters
    ----------
    net : Network
    multipliers : sequence of ndarray
        ``λ_k`` of shape ``(n_k,)`` per hidden layer (``T_k = diag(λ_k)``), ``λ_k >= 0``.
    slopes : sequence of (ndarray, ndarray), optional
        Neuron-wise slope bounds (default: the network's).

    Returns
    -------
    float
        ``λmax(H11 - H12 H22⁻¹ H21)`` (so ``L <= √ρ̂``), or ``inf`` when some pivot of the
        backward block elimination of ``H22`` is not negative definite.

    Notes
    -----
    ``H`` is block tridiagonal in ``(x, y_1, …, y_{l-1})``: diagonal blocks
    ``D_0 = -2 W_1ᵀ diag(αβλ_1) W_1``, ``D_k = -2 diag(λ_k) - 2 W_{k+1}ᵀ diag(αβλ_{k+1}) W_{k+1}``
    (the last one ``-2 diag(λ_{l-1}) + W_lᵀW_l``), off-diagonal ``W_kᵀ diag((α+β)λ_k)``.
    Pivots: ``S_{l-1} = D_{l-1}``, ``S_k = D_k - H_{k,k+1} S_{k+1}⁻¹ H_{k+1,k}``; each must be
    negative definite (checked by Cholesky of ``-S_k``).
    """
    ws = net.weights
    depth = len(ws)
    if depth == 1:
        return float(np.linalg.norm(ws[0], 2) ** 2)
    if slopes is None:
        slopes = net.slope_vectors()
    lam = [np.asarray(m, dtype=np.float64) for m in multipliers]
    if any(np.any(m < 0) or not np.all(np.isfinite(m)) for m in lam):
        return math.inf
    ab = [lo * hi * m for (lo, hi), m in zip(slopes, lam, strict=True)]
    apb = [(lo + hi) * m for (lo, hi), m in zip(slopes, lam, strict=True)]

    def diag_block(k: int) -> np.ndarray:  # k = 1..l-1 (hidden layer k, 1-based)
        d = np.diag(-2.0 * lam[k - 1])
        if k <= depth - 2:
            w = ws[k]
            d = d - 2.0 * (w.T * ab[k]) @ w
        else:
            d = d + ws[-1].T @ ws[-1]
        return d

    s = diag_block(depth - 1)
    for k in range(depth - 1, 0, -1):
        s = 0.5 * (s + s.T)
        try:
            chol = np.linalg.cholesky(-s)
        except np.linalg.LinAlgError:
            return math.inf
        # off = H_{k-1,k} = W_kᵀ diag((α+β)λ_k), shape (n_{k-1}, n_k)
        off = ws[k - 1].T * apb[k - 1]
        z = np.linalg.solve(chol, off.T)  # chol⁻¹ H_{k,k-1}
        correction = z.T @ z  # = H_{k-1,k} (-S_k)⁻¹ H_{k,k-1}
        if k - 1 == 0:
            d0 = -2.0 * (ws[0].T * ab[0]) @ ws[0]
            m = d0 + correction
            return float(np.linalg.eigvalsh(0.5 * (m + m.T))[-1])
        s = diag_block(k - 1) + correction
    raise AssertionError("unreachable")


def layer_start(
    net: Network, slopes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None
) -> list[np.ndarray]:
    """Strictly feasible per-layer multipliers for any slopes, built backward.

    ``λ_k = λmax(E_k)`` (``E_k`` the accumulated Schur term of the layers after ``k``) makes the
    pivot ``S_k ⪯ -λ_k I``, so ``H22(λ) ≺ 0`` and :func:`certify_multipliers` (with the same
    ``slopes``: neuron-wise, default the network's) is finite. The starting point of
    :mod:`~stability.lipschitz.neuron_fo` and :mod:`~stability.lipschitz.neuron_ipm`.
    """
    ws = net.weights
    depth = len(ws)
    if slopes is None:
        slopes = net.slope_vectors()
    lams: list[np.ndarray] = [np.zeros(0)] * (depth - 1)
    e = ws[-1].T @ ws[-1]
    for k in range(depth - 1, 0, -1):
        top = float(np.linalg.eigvalsh(0.5 * (e + e.T))[-1])
        lam_k = max(top, 1e-6 * float(np.max(np.abs(e), initial=0.0)), 1e-12)
        lams[k - 1] = np.full(ws[k - 1].shape[0], lam_k)
        if k == 1:
            break
        a, b = slopes[k - 1]
        s = e - 2.0 * lam_k * np.eye(e.shape[0])
        off = ((a + b) * lam_k)[:, None] * ws[k - 1]
        c = np.linalg.cholesky(-0.5 * (s + s.T))
        z = solve_triangular(c, off, lower=True)
        e = -2.0 * (ws[k - 1].T * (a * b * lam_k)) @ ws[k - 1] + z.T @ z
    return lams


def _dense_h(net: Network, t: np.ndarray) -> np.ndarray:
    """``H`` of the LMI for a full multiplier matrix ``t`` (N x N), uniform slopes."""
    ws = net.weights
    n0, n_hidden = ws[0].shape[1], net.n_hidden
    (alpha, beta) = net.slopes[0]
    a = np.zeros((n_hidden, n0 + n_hidden))
    r = c = 0
    for w in ws[:-1]:
        a[r : r + w.shape[0], c : c + w.shape[1]] = w
        r += w.shape[0]
        c += w.shape[1]
    b = np.zeros((n_hidden, n0 + n_hidden))
    b[:, n0:] = np.eye(n_hidden)
    h = -2 * alpha * beta * a.T @ t @ a + (alpha + beta) * (a.T @ t @ b + b.T @ t @ a)
    h -= 2 * b.T @ t @ b
    n_last = ws[-1].shape[1]
    h[-n_last:, -n_last:] += ws[-1].T @ ws[-1]
    return 0.5 * (h + h.T)


def certify_dense(net: Network, t: np.ndarray) -> float:
    """``ρ̂`` for any symmetric multiplier matrix ``t`` (N x N), by a dense Schur complement.

    Requires the same slopes on every hidden layer. Returns ``inf`` if ``H22 ⊀ 0``.
    """
    if len(set(net.slopes)) != 1:
        raise ValueError(f"certify_dense needs uniform slopes; got {net.slopes}")
    n0 = net.dims[0]
    h = _dense_h(net, np.asarray(t, dtype=np.float64))
    h11, h12, h22 = h[:n0, :n0], h[:n0, n0:], h[n0:, n0:]
    try:
        chol = np.linalg.cholesky(-h22)
    except np.linalg.LinAlgError:
        return math.inf
    z = np.linalg.solve(chol, h12.T)
    m = h11 + z.T @ z
    return float(np.linalg.eigvalsh(0.5 * (m + m.T))[-1])


def _solve_sdp(net: Network, variant: str, solver: str, slopes=None):
    """Solve the LipSDP variant; return (status, objective, λ, ζ)."""
    import cvxpy as cp

    ws = net.weights
    n0, n_hidden = ws[0].shape[1], net.n_hidden
    sizes = [w.shape[0] for w in ws[:-1]]
    slopes = net.slope_vectors() if slopes is None else slopes
    ab = np.concatenate([lo * hi for lo, hi in slopes])
    apb = np.concatenate([lo + hi for lo, hi in slopes])
    a = np.zeros((n_hidden, n0 + n_hidden))
    r = c = 0
    for w in ws[:-1]:
        a[r : r + w.shape[0], c : c + w.shape[1]] = w
        r += w.shape[0]
        c += w.shape[1]
    bsel = np.zeros((n_hidden, n0 + n_hidden))
    bsel[:, n0:] = np.eye(n_hidden)
    rho = cp.Variable(nonneg=True)
    cons = []
    if variant == "layer":
        mu = cp.Variable(len(sizes), nonneg=True)
        ind = np.zeros((n_hidden, len(sizes)))
        start = 0
        for k, n in enumerate(sizes):
            ind[start : start + n, k] = 1.0
            start += n
        lam = ind @ mu
    else:
        lam = cp.Variable(n_hidden, nonneg=True)
    # Eq. (10) of [1], assembled by parts
    m = (
        -2 * a.T @ cp.diag(cp.multiply(ab, lam)) @ a
        + a.T @ cp.diag(cp.multiply(apb, lam)) @ bsel
        + bsel.T @ cp.diag(cp.multiply(apb, lam)) @ a
        - 2 * bsel.T @ cp.diag(lam) @ bsel
    )
    zeta = None
    if variant == "network":
        (alpha, beta) = net.slopes[0]
        iu, ju = np.triu_indices(n_hidden, 1)
        inc = np.zeros((len(iu), n_hidden))
        inc[np.arange(len(iu)), iu] = 1.0
        inc[np.arange(len(iu)), ju] = -1.0
        zeta = cp.Variable(len(iu), nonneg=True)
        tz = inc.T @ cp.diag(zeta) @ inc
        m = (
            m
            - 2 * alpha * beta * a.T @ tz @ a
            + (alpha + beta) * (a.T @ tz @ bsel + bsel.T @ tz @ a)
            - 2 * bsel.T @ tz @ bsel
        )
    e_last = np.zeros((n0 + n_hidden, n0 + n_hidden))
    n_last = ws[-1].shape[1]
    e_last[-n_last:, -n_last:] = ws[-1].T @ ws[-1]
    e_first = np.zeros((n0 + n_hidden, n0 + n_hidden))
    e_first[:n0, :n0] = np.eye(n0)
    lmi = m + e_last - rho * e_first
    cons.append(0.5 * (lmi + lmi.T) << 0)
    prob = cp.Problem(cp.Minimize(rho), cons)
    prob.solve(solver=solver)
    lam_v = None if lam.value is None else np.maximum(np.asarray(lam.value, dtype=float), 0.0)
    zeta_v = None
    if zeta is not None and zeta.value is not None:
        zeta_v = np.maximum(np.asarray(zeta.value, dtype=float), 0.0)
    return prob.status, prob.value, lam_v, zeta_v


def _split(vec: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    return list(np.split(vec, np.cumsum(sizes)[:-1]))


def lipsdp(
    net: Network,
    variant: str = "neuron",
    *,
    solver: str | None = None,
    on_failure: str = "fallback",
    slopes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    rtol: float | None = None,
) -> LipschitzResult:
    """LipSDP-Layer, -Neuron or -Network, certified by the Schur-complement check.

    Parameters
    ----------
    net : Network
    variant : {"neuron", "layer", "network"}
    solver : str, optional
        Default (``None``) for Neuron and Layer: LipSDP-Neuron of a one-hidden-layer
        scalar-output network (with its own slopes) by its exact spectraplex dual
        (:mod:`stability.lipschitz.one_hidden`), otherwise the structured interior-point method
        of :mod:`stability.lipschitz.neuron_ipm` (``"ipm"`` forces it). Or a cvxpy solver name
        (the default for Network: :func:`default_solver`). A cvxpy solver must be an
        interior-point solver in practice: SCS at default accuracy returns multipliers that
        fail the check. When the structured methods stop before their tolerance, the cvxpy
        solver runs too and the smaller certified value is returned (``status`` says so);
        except with neuron-wise ``slopes``: (nearly) linear neurons (``α ≈ β``, common on small
        boxes) have unbounded multipliers and keep any interior-point method from converging,
        so the structured method's certified iterate is returned whatever its status
        (``details["sdp_lower_bound"]`` shows how close it is).
    on_failure : {"fallback", "raise"}
        What to do when the solver fails or its multipliers do not certify: fall back to the
        tighter of ECLipsE-Fast (when applicable) and LipLT, saying so in ``method`` and
        ``status``; or raise :class:`LipSDPError`.
    slopes : sequence of (ndarray, ndarray), optional
        Neuron-wise slope bounds per hidden layer (the local bound passes them; Neuron and
        Layer only).
    rtol : float, optional
        Structured methods only: stop as soon as the certified value is **proven** within
        ``rtol`` (relative) of the SDP's optimum, by a dual-feasible lower bound
        (``details["sdp_lower_bound"]``). Default: solve to relative gap ``1e-6`` in ``ρ``.

    Returns
    -------
    LipschitzResult
        ``value = √ρ̂ (1 + SAFETY)``; ``details`` holds ``solver_value`` (the solver's ``√ρ``)
        and the multipliers.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; got {variant!r}")
    if on_failure not in ("fallback", "raise"):
        raise ValueError(f"on_failure must be 'fallback' or 'raise'; got {on_failure!r}")
    start = time.perf_counter()
    name = f"lipsdp-{variant}"
    if net.depth == 1:  # no hidden layer: the LMI is empty, L = ||W||_2 (upstream issues #4/#5)
        return LipschitzResult.single_layer(net.weights[0], name, start)
    if variant == "network" and (len(set(net.slopes)) != 1 or slopes is not None):
        raise ValueError(f"lipsdp-network needs the same slopes on every layer; got {net.slopes}")
    if slopes is not None:
        slopes = _check_slopes(net, slopes)
    structured = variant != "network"
    if solver == "ipm" and not structured:
        raise ValueError("solver 'ipm' handles lipsdp-neuron and lipsdp-layer")
    if rtol is not None:
        rtol = open_unit("rtol", rtol)
        if not (solver in (None, "ipm") and structured):
            raise ValueError(
                "rtol needs the structured solvers (lipsdp-neuron/-layer, solver None or 'ipm'); "
                f"got variant {variant!r}, solver {solver!r}"
            )
    note, ipm = "", None
    if solver is None and variant == "neuron" and slopes is None:
        from stability.lipschitz.one_hidden import one_hidden_applicable, one_hidden_dual

        if one_hidden_applicable(net):
            tol = 1e-6 if rtol is None else 1.0 - 1.0 / (1.0 + rtol) ** 2
            dual = one_hidden_dual(net, tol=tol, max_iter=60)
            if dual.status == "optimal":
                return dual
            note = f"; the one-hidden dual stopped early ({dual.status})"
    if solver in (None, "ipm") and structured:
        from stability.lipschitz.neuron_ipm import lipsdp_ipm

        ipm = lipsdp_ipm(net, variant, rtol=rtol, slopes=slopes)
        if solver == "ipm" or slopes is not None or ipm.status.startswith("optimal"):
            return ipm
        note += f"; the structured IPM stopped early ({ipm.status}), cvxpy ran too"
    solvers = [solver] if solver else list(dict.fromkeys([default_solver(), "CLARABEL"]))
    if (slopes is None and any(a == b for a, b in net.slopes)) or (
        slopes is not None and any(np.any(lo == hi) for lo, hi in slopes)
    ):
        slopes = widen_linear(net.slope_vectors() if slopes is None else slopes)
    sizes = [w.shape[0] for w in net.weights[:-1]]
    status, objective, lam, zeta = "error", math.nan, None, None
    message = ""
    for solver in solvers:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # cvxpy's "may be inaccurate"
                status, objective, lam, zeta = _solve_sdp(net, variant, solver, slopes)
        except Exception as exc:  # solver crash -> next solver, then the failure path
            message = f"{type(exc).__name__}: {exc}"
            status = "error"
            continue
        if status in ("optimal", "optimal_inaccurate"):
            break
    rho_hat = math.inf
    if lam is not None and status in ("optimal", "optimal_inaccurate"):
        scale = float(np.max(lam)) if lam.size and np.max(lam) > 0 else 1.0
        for delta in (0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
            lam_try = lam + delta * scale
            if zeta is None:
                rho_try = certify_multipliers(net, _split(lam_try, sizes), slopes)
            else:
                iu, ju = np.triu_indices(net.n_hidden, 1)
                t = np.diag(lam_try)
                np.add.at(t, (iu, iu), zeta)
                np.add.at(t, (ju, ju), zeta)
                np.add.at(t, (iu, ju), -zeta)
                np.add.at(t, (ju, iu), -zeta)
                rho_try = certify_dense(net, t)
            if rho_try < rho_hat:
                rho_hat = rho_try
            if math.isfinite(rho_hat) and delta >= 1e-8:
                break
    details = {
        "solver": solver,
        "solver_value": math.sqrt(objective)
        if objective is not None and objective >= 0
        else math.nan,
        "multipliers": lam,
    }
    if math.isfinite(rho_hat):
        value = math.sqrt(max(rho_hat, 0.0)) * (1 + SAFETY)
        if ipm is not None and ipm.value <= value:  # both certified: keep the smaller
            return replace(ipm, status=f"{ipm.status}; cvxpy ({solver}) certified {value:.6g}")
        certified = variant != "network"
        st = (
            status + note
            if certified
            else f"{status}; LMI certified, but LipSDP-Network's coupling is not a valid relaxation in general"
        )
        return LipschitzResult(
            value, name, certified, st, time.perf_counter() - start, name, details
        )
    why = f"{solver} returned status {status!r}" + (f" ({message})" if message else "") + note
    if lam is not None and status in ("optimal", "optimal_inaccurate"):
        why += "; its multipliers fail the H22 < 0 Schur check"
    if ipm is not None:  # the IPM's best iterate is certified whatever its status
        return replace(ipm, status=f"{ipm.status}; cvxpy failed: {why}")
    if on_failure == "raise":
        raise LipSDPError(f"{name}: {why}")
    from stability.lipschitz.eclipse import eclipse_applicable, eclipse_fast
    from stability.lipschitz.liplt import liplt_bound

    value, fb = liplt_bound(net, None if slopes is None else list(slopes)), "liplt"
    if slopes is None and eclipse_applicable(net):
        ef = eclipse_fast(net)
        if ef.certified and ef.value < value:
            value, fb = ef.value, "eclipse-fast"
    return LipschitzResult(
        value, fb, True, f"fallback to {fb}: {why}", time.perf_counter() - start, name, details
    )
