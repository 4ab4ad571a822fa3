"""LipSDP-Neuron and -Layer by a structured primal-dual interior-point method, certified.

The LMI of LipSDP (Theorem 2 and Eq. (10) of [1]_) written as ``S(y) ⪰ 0`` with
``S = -H``:

``S(ρ, λ) = ρ E₀E₀ᵀ - P_l W_lᵀW_l P_lᵀ + Σ_i λ_i U_i C_i U_iᵀ``,

where neuron ``i`` (row ``j`` of ``W_k``) has ``U_i = [a_i, e_i]`` (``a_i`` = row ``j`` of
``W_k`` placed in the block of layer ``k-1``, ``e_i`` its own unit vector) and
``C_i = [[2αβ, -(α+β)], [-(α+β), 2]]``: every constraint matrix has rank two. A general-purpose
solver (CVXOPT, SDPA) forms its Schur-complement matrix from the vectorized ``F_i`` at a cost
of ``O(m n³)`` or worse; here it is formed from the four Gram blocks ``UᵀXU`` and ``UᵀS⁻¹U``:

``M_ij = tr(F_i X F_j S⁻¹) = Σ_{pqrs} C_i[p,q] (UᵀXU)_{qr}[i,j] C_j[r,s] (UᵀS⁻¹U)_{ps}[i,j]``,

so an iteration costs a handful of dense ``n x n`` factorizations and products (``n = n_0 + N``)
plus one Cholesky of the ``(1+N) x (1+N)`` matrix ``M``. For LipSDP-Layer the same ``M`` is
summed over the neurons of each layer.

Algorithm: the HKM direction with Mehrotra's predictor-corrector [2]_ on the pair

``(D)  min ρ  s.t.  S(y) ⪰ 0, λ >= 0``,   ``(P)  max -<F₀, X>  s.t.  F*(X) + (0, x) = e_ρ, X ⪰ 0, x >= 0``,

started **dual feasible** (from the per-layer multipliers that make ``H22 ≺ 0``, with ``ρ``
above its certified value) and primal-infeasible at the perfectly centred ``X = μ S⁻¹``.
Every dual iterate is recomputed from ``y`` and checked by a Cholesky factorization, so it stays
exactly feasible; the ``λ >= 0`` block is carried only when it is not implied by ``S ⪰ 0``
(some ``αβ ≠ 0``). The output layer is scaled so that the starting ``ρ`` is 1 (the LMI is
homogeneous in ``(ρ, λ, W_lᵀW_l)``).

Certification: the returned multipliers are checked by
:func:`stability.lipschitz.lipsdp.certify_multipliers` (exact backward Schur elimination) and
the reported value is ``√ρ̂ (1 + SAFETY)``, never the iteration's ``√ρ``.

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
.. [2] C. Helmberg, F. Rendl, R. Vanderbei, H. Wolkowicz, "An interior-point method for
   semidefinite programming", SIAM J. Optim. 6 (1996); S. Mehrotra, "On the implementation of
   a primal-dual interior point method", SIAM J. Optim. 2 (1992); the predictor-corrector as in
   SDPT3 (Toh, Todd, Tütüncü, Optim. Methods Softw. 11 (1999)).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from stability.lipschitz.lipsdp import SAFETY, certify_multipliers, layer_start
from stability.lipschitz.network import Network, merge_linear_layers
from stability.lipschitz.result import LipschitzResult

__all__ = ["lipsdp_ipm"]


class _LMI:
    """The structured LMI ``S(ρ, λ) = F₀ + ρ F_ρ + Σ λ_i F_i`` of one network (``S = -H``)."""

    def __init__(self, net: Network, out_scale: float):
        ws = net.weights
        self.n0 = ws[0].shape[1]
        sizes = [w.shape[0] for w in ws[:-1]]
        self.m = int(sum(sizes))
        self.n = self.n0 + self.m
        starts = np.cumsum([0, self.n0, *sizes])  # block k occupies starts[k]:starts[k+1]
        self.blocks = [slice(int(starts[k]), int(starts[k + 1])) for k in range(len(sizes) + 1)]
        self.cols = [
            slice(int(starts[k] - self.n0), int(starts[k + 1] - self.n0))
            for k in range(1, len(sizes) + 1)
        ]
        # layer k (1-based hidden): weight W_k maps block k-1 to block k
        self.layers = [
            (ws[k], self.blocks[k], self.blocks[k + 1], self.cols[k]) for k in range(len(sizes))
        ]
        self.hid = np.arange(self.n0, self.n)
        ab = np.concatenate(
            [np.full(n, a * b) for n, (a, b) in zip(sizes, net.slopes, strict=True)]
        )
        apb = np.concatenate(
            [np.full(n, a + b) for n, (a, b) in zip(sizes, net.slopes, strict=True)]
        )
        self.c_aa, self.c_ae, self.c_ee = 2.0 * ab, -apb, np.full(self.m, 2.0)
        self.lp = bool(np.any(ab != 0))  # λ >= 0 is implied by S ⪰ 0 when αβ = 0
        w_out = out_scale * ws[-1]
        self.f0_last = -(w_out.T @ w_out)
        self.last = self.blocks[-1]

    def times_a(self, y: np.ndarray) -> np.ndarray:
        """``Y A`` for ``Y`` of shape ``(r, n)``; column ``i`` of ``A`` is ``a_i``."""
        out = np.empty((y.shape[0], self.m))
        for w, prev, _, cols in self.layers:
            out[:, cols] = y[:, prev] @ w.T
        return out

    def a_t_times(self, z: np.ndarray) -> np.ndarray:
        """``Aᵀ Z`` for ``Z`` of shape ``(n, r)``."""
        out = np.empty((self.m, z.shape[1]))
        for w, prev, _, cols in self.layers:
            out[cols] = w @ z[prev]
        return out

    def assemble(self, rho: float, lam: np.ndarray, constant: bool = True) -> np.ndarray:
        """``S(ρ, λ)`` (with ``constant=False``: the linear part only, for directions)."""
        s = np.zeros((self.n, self.n))
        s[self.blocks[0], self.blocks[0]] += rho * np.eye(self.n0)
        for w, prev, cur, cols in self.layers:
            lk = lam[cols]
            s[prev, prev] += (w.T * (lk * self.c_aa[cols])) @ w
            off = w.T * (lk * self.c_ae[cols])
            s[prev, cur] += off
            s[cur, prev] += off.T
            idx = np.arange(cur.start, cur.stop)
            s[idx, idx] += lk * self.c_ee[cols]
        if constant:
            s[self.last, self.last] += self.f0_last
        return s

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """``F*(Y) = (<F_ρ, Y>, <F_i, Y>)`` for symmetric ``Y``."""
        ya = self.times_a(y)
        aya = np.empty(self.m)
        for w, prev, _, cols in self.layers:
            aya[cols] = np.einsum("ij,ji->i", w, ya[prev, cols])
        aye = ya[self.hid, np.arange(self.m)]
        eye = y[self.hid, self.hid]
        out = np.empty(self.m + 1)
        out[0] = np.trace(y[self.blocks[0], self.blocks[0]])
        out[1:] = self.c_aa * aya + 2.0 * self.c_ae * aye + self.c_ee * eye
        return out

    def schur(self, x: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``M_ij = tr(F_i X F_j R)`` over ``(ρ, λ)`` from the Gram blocks of ``X`` and ``R``."""
        hid, b0 = self.hid, self.blocks[0]
        xa, ra = self.times_a(x), self.times_a(r)
        gx = {"aa": self.a_t_times(xa), "ae": xa[hid].T, "ee": x[np.ix_(hid, hid)]}
        gr = {"aa": self.a_t_times(ra), "ae": ra[hid].T, "ee": r[np.ix_(hid, hid)]}
        gx["ea"], gr["ea"] = gx["ae"].T, gr["ae"].T
        c = {"aa": self.c_aa, "ae": self.c_ae, "ea": self.c_ae, "ee": self.c_ee}
        m = np.zeros((self.m + 1, self.m + 1))
        mm = m[1:, 1:]
        for q in "ae":
            for rr in "ae":
                k = np.zeros((self.m, self.m))
                for p in "ae":
                    for s in "ae":
                        cpq, crs = c[p + q], c[rr + s]
                        if np.any(cpq) and np.any(crs):
                            k += cpq[:, None] * gr[p + s] * crs[None, :]
                mm += gx[q + rr] * k
        # ρ row: tr(F_ρ X F_j R) = Σ_rs C_j[r,s] Σ_{t in block 0} (X u_r)_t (R u_s)_t
        xu = {"a": xa[b0], "e": x[b0][:, hid]}
        ru = {"a": ra[b0], "e": r[b0][:, hid]}
        row = np.zeros(self.m)
        for rr in "ae":
            for s in "ae":
                crs = c[rr + s]
                if np.any(crs):
                    row += crs * np.einsum("tj,tj->j", xu[rr], ru[s])
        m[0, 1:] = m[1:, 0] = row
        m[0, 0] = np.sum(x[b0, b0] * r[b0, b0])
        return m


@dataclass(frozen=True)
class _Point:
    """An iterate: dual ``y`` with ``S = S(y)``, its Cholesky factor and inverse; primal ``X, x``."""

    y: np.ndarray
    s: np.ndarray
    cs: np.ndarray
    r: np.ndarray
    x: np.ndarray
    xl: np.ndarray


def _step(lmi, expand, pt: _Point, dy, dx, dxl, ap: float, ad: float) -> _Point | None:
    """Take the step; ``S`` is recomputed from ``y`` and checked (halving ``ad`` if needed)."""
    for _ in range(40):
        y = pt.y + ad * dy
        s = lmi.assemble(*expand(y))
        cs = _chol(s)
        if cs is not None and (not lmi.lp or np.all(y[1:] > 0)):
            x = pt.x + ap * dx
            xl = pt.xl + ap * dxl if lmi.lp else pt.xl
            return _Point(y, s, cs, _inverse(cs), 0.5 * (x + x.T), xl)
        ad *= 0.5
    return None


def _chol(a: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor, or ``None`` when ``a`` is not positive definite."""
    c, info = lapack.dpotrf(a, lower=1, clean=1)
    return c if info == 0 else None


def _inverse(c: np.ndarray) -> np.ndarray:
    inv, info = lapack.dpotri(c, lower=1)
    if info != 0:  # pragma: no cover - c is a valid factor
        raise np.linalg.LinAlgError("dpotri failed")
    return np.tril(inv) + np.tril(inv, -1).T


def _max_step(c: np.ndarray, d: np.ndarray) -> float:
    """Largest ``t`` with ``LLᵀ + t D ⪰ 0`` (``L = c`` lower, ``D`` symmetric); ``inf`` if none.

    ``-1 / λmin(L⁻¹ D L⁻ᵀ)``: one ``dsygst`` reduction and the smallest eigenvalue only.
    """
    b, info = lapack.dsygst(d, c, itype=1, lower=1)
    w, _, _, _, info2 = lapack.dsyevr(b, compute_v=0, range="I", il=1, iu=1, lower=1)
    if info or info2:  # pragma: no cover - LAPACK argument errors only
        raise np.linalg.LinAlgError("dsygst/dsyevr failed")
    low = float(w[0])
    return math.inf if low >= 0 else -1.0 / low


def _max_step_lp(v: np.ndarray, dv: np.ndarray) -> float:
    neg = dv < 0
    return float(np.min(-v[neg] / dv[neg])) if np.any(neg) else math.inf


def lipsdp_ipm(
    net: Network,
    variant: str = "neuron",
    *,
    tol: float = 1e-6,
    max_iter: int = 60,
) -> LipschitzResult:
    """LipSDP-Neuron (or -Layer) by the structured interior-point method, certified.

    Parameters
    ----------
    net : Network
        At least one hidden layer (a single linear layer returns ``||W||_2``).
    variant : {"neuron", "layer"}
        Neuron-wise multipliers ``T = diag(λ)`` or one multiplier per layer.
    tol : float
        Stop when the duality gap ``<X, S> + xᵀλ`` is at most ``tol · ρ`` and the primal residual
        is at most ``tol`` (default ``1e-6``, CVXOPT's default relative tolerance).
    max_iter : int
        Iteration limit. Whatever the stop, the value is certified (from the iterate with the
        smallest ``ρ``; every iterate is dual feasible).

    Returns
    -------
    LipschitzResult
        ``method=f"lipsdp-{variant}"``, ``certified=True``, ``status`` ``"optimal"`` (both
        tolerances met) or why it stopped (``"iteration limit"``, ``"stalled (...)"``); ``details``: ``solver="ipm"``, ``iterations``, ``gap``
        (relative duality gap at the end), ``primal_residual``, ``solver_value`` (``√ρ`` of the
        best iterate), ``multipliers``, ``history`` (``(ρ, relative gap, primal residual)`` per
        iteration).

    Raises
    ------
    ValueError
        On a bad ``variant``, ``tol`` or ``max_iter``.
    """
    if variant not in ("neuron", "layer"):
        raise ValueError(f"variant must be 'neuron' or 'layer'; got {variant!r}")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol must be in (0, 1); got {tol!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer; got {max_iter!r}")
    name = f"lipsdp-{variant}"
    t0 = time.perf_counter()
    net = merge_linear_layers(net)  # linear activations: exact, and no unbounded λ
    if net.depth == 1:
        return LipschitzResult.single_layer(net.weights[0], name, t0)
    sizes = [w.shape[0] for w in net.weights[:-1]]
    split = np.cumsum(sizes)[:-1]
    start = layer_start(net)  # λ_k constant per layer, H22 ≺ 0 strictly
    rho_start = certify_multipliers(net, start)
    # W_l -> c W_l with c² = 1 / (2 ρ_start): the start has ρ = 1 with slack (ρ, λ scale by c²)
    c2 = 1.0 / (2.0 * rho_start) if rho_start > 0 else 1.0
    lmi = _LMI(net, math.sqrt(c2))
    groups = np.repeat(np.arange(len(sizes)), sizes)
    heads = np.r_[0, 1 + np.r_[0, split]]  # reduceat indices of (ρ, layer 1, layer 2, ...)
    if variant == "neuron":
        y = np.r_[1.0, c2 * np.concatenate(start)]
    else:
        y = np.r_[1.0, c2 * np.array([m[0] for m in start])]

    def expand(v: np.ndarray) -> tuple[float, np.ndarray]:  # variables -> (ρ, λ per neuron)
        return v[0], (v[1:] if variant == "neuron" else v[1:][groups])

    def reduce(v: np.ndarray) -> np.ndarray:  # per-neuron vector or matrix -> per variable
        if variant == "neuron":
            return v
        if v.ndim == 1:
            return np.add.reduceat(v, heads)
        return np.add.reduceat(np.add.reduceat(v, heads, axis=0), heads, axis=1)

    s_mat = lmi.assemble(*expand(y))
    cs = _chol(s_mat)
    if cs is None:  # pragma: no cover - the start is strictly feasible by construction
        raise RuntimeError("lipsdp_ipm: the starting multipliers are not strictly feasible")
    r_mat = _inverse(cs)
    mu0 = 1.0 / np.trace(r_mat[lmi.blocks[0], lmi.blocks[0]])  # the ρ row of (P) holds
    x_mat = mu0 * r_mat  # perfectly centred: X S = μ0 I
    lp = lmi.lp
    pt = _Point(y, s_mat, cs, r_mat, x_mat, mu0 / y[1:] if lp else np.zeros(0))
    cvec = np.zeros(y.size)
    cvec[0] = 1.0
    n_cone = lmi.n + (y.size - 1 if lp else 0)
    best_y = y.copy()
    history: list[tuple[float, float, float]] = []
    status, iters, rp_norm = "iteration limit", 0, math.inf
    while True:
        sl = pt.y[1:]
        gap = float(np.sum(pt.x * pt.s)) + (float(pt.xl @ sl) if lp else 0.0)
        rp = cvec - reduce(lmi.adjoint(pt.x))
        if lp:
            rp[1:] -= pt.xl
        rp_norm = float(np.max(np.abs(rp)))
        history.append((pt.y[0] / c2, gap / pt.y[0], rp_norm))
        if gap <= tol * pt.y[0] and rp_norm <= tol:
            status = "optimal"
            break
        if iters == max_iter:
            break
        iters += 1
        m_mat = reduce(lmi.schur(pt.x, pt.r))
        if lp:
            m_mat[1:, 1:] += np.diag(pt.xl / sl)
        cm, cx = _chol(m_mat), _chol(pt.x)
        if cm is None or cx is None:
            status = (
                f"stalled (lost positive definiteness) at relative gap {gap / pt.y[0]:.1e}, "
                f"primal residual {rp_norm:.1e}"
            )
            break

        def direction(rhs, sigma_mu=0.0, corr_x=None, corr_l=None, p=pt, cm=cm):
            """HKM: ``M dy = rhs``, ``dS = F(dy)``, ``dX = σμR - X - sym(X dS R) - corr``."""
            dy = lapack.dpotrs(cm, rhs, lower=1)[0]
            ds = lmi.assemble(*expand(dy), constant=False)
            t = p.x @ ds @ p.r
            dx = sigma_mu * p.r - p.x - 0.5 * (t + t.T)
            dxl = None
            if corr_x is not None:
                dx -= corr_x
            if lp:
                dxl = sigma_mu / p.y[1:] - p.xl - p.xl * dy[1:] / p.y[1:]
                if corr_l is not None:
                    dxl -= corr_l
            return dy, ds, dx, dxl

        def steps(dy, ds, dx, dxl, p=pt, cx=cx):
            ap, ad = _max_step(cx, dx), _max_step(p.cs, ds)
            if lp:
                ap = min(ap, _max_step_lp(p.xl, dxl))
                ad = min(ad, _max_step_lp(p.y[1:], dy[1:]))
            return min(1.0, ap), min(1.0, ad)

        # predictor (σ = 0), then Mehrotra's σ = (gap after the predictor / gap)³
        dy, ds, dx, dxl = direction(-cvec)
        ap, ad = steps(dy, ds, dx, dxl)
        gap_aff = float(np.sum((pt.x + ap * dx) * (pt.s + ad * ds)))
        if lp:
            gap_aff += float((pt.xl + ap * dxl) @ (sl + ad * dy[1:]))
        sigma = min(1.0, max(0.0, gap_aff / gap)) ** 3
        gamma = 0.9 + 0.09 * min(ap, ad)  # fraction of the way to the boundary, as in SDPT3
        # corrector with the second-order term sym(dX_a dS_a R)
        t = dx @ ds @ pt.r
        corr_x = 0.5 * (t + t.T)
        corr_l = dxl * dy[1:] / sl if lp else None
        mu = gap / n_cone
        rhs = sigma * mu * reduce(lmi.adjoint(pt.r)) - cvec - reduce(lmi.adjoint(corr_x))
        if lp:
            rhs[1:] += sigma * mu / sl - corr_l
        dy, ds, dx, dxl = direction(rhs, sigma * mu, corr_x, corr_l)
        ap, ad = steps(dy, ds, dx, dxl)
        new = _step(lmi, expand, pt, dy, dx, dxl, gamma * ap, gamma * ad)
        if new is None:  # pragma: no cover - a tiny dual step keeps strict feasibility
            status = "stalled (no feasible dual step)"
            break
        pt = new
        if pt.y[0] < best_y[0]:
            best_y = pt.y.copy()
    lam = np.split(np.maximum(expand(best_y)[1], 0.0) / c2, split)
    rho_hat = certify_multipliers(net, lam)
    if not rho_hat <= rho_start:  # the start was (nearly) optimal already, or rounding
        if not math.isfinite(rho_hat):  # pragma: no cover - best_y is strictly feasible
            status += "; best iterate failed the Schur check, the start is kept"
        rho_hat, lam = rho_start, start
    details = {
        "solver": "ipm",
        "iterations": iters,
        "gap": history[-1][1],
        "primal_residual": rp_norm,
        "solver_value": math.sqrt(max(best_y[0] / c2, 0.0)),
        "multipliers": lam,
        "history": history,
    }
    value = math.sqrt(max(rho_hat, 0.0)) * (1 + SAFETY)
    return LipschitzResult(
        value,
        name,
        True,
        status,
        time.perf_counter() - t0,
        name,
        details,
    )
