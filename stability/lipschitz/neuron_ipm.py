"""LipSDP-Neuron and -Layer by a structured primal-dual interior-point method, certified.

The LMI of LipSDP (Theorem 2 and Eq. (10) of [1]_) written as ``S(y) ⪰ 0`` with
``S = -H``:

``S(ρ, λ) = ρ E₀E₀ᵀ - P_l W_lᵀW_l P_lᵀ + Σ_i λ_i U_i C_i U_iᵀ``,

where neuron ``i`` (row ``j`` of ``W_k``) has ``U_i = [a_i, e_i]`` (``a_i`` = row ``j`` of
``W_k`` placed in the block of layer ``k-1``, ``e_i`` its own unit vector) and
``C_i = [[2αβ, -(α+β)], [-(α+β), 2]]``: every constraint matrix has rank two. In sector form,
``U_i C_i U_iᵀ = 2 v_i v_iᵀ - δ_i a_i a_iᵀ`` with ``v_i = e_i - s_i a_i``, ``s_i = (α+β)/2``,
``δ_i = (β-α)²/2``. A general-purpose solver (CVXOPT, SDPA) forms its Schur-complement matrix
from the vectorized ``F_i`` at a cost of ``O(m n³)`` or worse; here it is formed from the Gram
blocks of ``[A V]`` with ``X`` and with ``S⁻¹`` (``A``, ``V`` the columns ``a_i``, ``v_i``):

``M_ij = tr(F_i X F_j S⁻¹) = 4 (VᵀXV)_ij (VᵀS⁻¹V)_ij + δ_iδ_j (AᵀXA)_ij (AᵀS⁻¹A)_ij
- 2 δ_i (AᵀXV)_ij (AᵀS⁻¹V)_ij - 2 δ_j (AᵀXV)_ji (AᵀS⁻¹V)_ji``,

so an iteration costs a handful of dense ``n x n`` factorizations and products (``n = n_0 + N``)
plus one Cholesky of the ``(1+N) x (1+N)`` matrix ``M``. For LipSDP-Layer the same ``M`` is
summed over the neurons of each layer.

Algorithm: the HKM direction with Mehrotra's predictor-corrector [2]_ on the pair

``(D)  min ρ  s.t.  S(y) ⪰ 0, λ >= 0``,   ``(P)  max -<F₀, X>  s.t.  F*(X) + (0, x) = e_ρ, X ⪰ 0, x >= 0``,

started **dual feasible** (from the per-layer multipliers that make ``H22 ≺ 0``, with ``ρ``
above its certified value) and primal-infeasible at the perfectly centred ``X = μ S⁻¹``.
Every dual iterate is recomputed from ``y`` and checked by a Cholesky factorization, so it stays
exactly feasible; the ``λ >= 0`` block is carried only when it is not implied by ``S ⪰ 0``
(some ``αβ ≠ 0``); the primal ``X`` is checked by Cholesky too. Step lengths are the largest
``t`` with ``LLᵀ + t D ⪰ 0``, ``-1/λmin(L⁻¹DL⁻ᵀ)`` (``L⁻¹`` from the factorizations): from a
tridiagonal reduction below order ``LANCZOS_FROM``, by Lanczos above (cheaper there: to a
relative ``LANCZOS_RTOL``, warm-started from the previous step's Ritz vector on the same side; a
Ritz value can only overestimate the step, which the Cholesky checks catch). The output layer
is scaled so that the starting ``ρ`` is 1 (the LMI is homogeneous in ``(ρ, λ, W_lᵀW_l)``).

Scale: the method runs on the weights divided by their Frobenius norms (LipSDP is invariant
under this rescaling, a congruence derived in ``_balanced``), so its arithmetic does not depend
on the scale of the given weights.

Certification: the returned multipliers, mapped back to the given weights, are checked by
:func:`stability.lipschitz.certificate.certify_multipliers` (exact backward Schur elimination) and
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

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas, lapack

from stability.lipschitz.certificate import (
    SAFETY,
    _certify,
    _layer_start,
    _widen_linear,
    check_slopes,
)
from stability.lipschitz.dual_bound import _dual_lower_bound
from stability.lipschitz.network import Network, _check_net, merge_linear_layers
from stability.lipschitz.result import STATUS_LIMIT, STATUS_OPTIMAL, LipschitzResult
from theory.checks import check_choice
from theory.checks import check_open_unit as open_unit
from theory.checks import check_positive_int as positive_int

__all__ = ["lipsdp_ipm"]


class _LMI:
    """The structured LMI ``S(ρ, λ) = F₀ + ρ F_ρ + Σ λ_i F_i`` of one network (``S = -H``).

    For the Schur matrix each ``F_i = U_i C_i U_iᵀ`` is split as ``2 v_i v_iᵀ - δ_i a_i a_iᵀ`` with
    ``v_i = e_i - s_i a_i``, ``s_i = (α+β)/2``, ``δ_i = (β-α)²/2`` (the slope condition in sector
    form, ``2(φ - s z)² - δ z²``), so that ``M`` needs the Gram blocks of ``A`` and ``V`` only.
    """

    def __init__(
        self,
        net: Network,
        out_scale: float,
        slopes: list[tuple[np.ndarray, np.ndarray]],
    ):
        ws = net.weights
        self.n0 = ws[0].shape[1]
        sizes = [w.shape[0] for w in ws[:-1]]
        self.m = int(sum(sizes))
        self.n = self.n0 + self.m
        starts = np.cumsum([0, self.n0, *sizes])  # block k occupies starts[k]:starts[k+1]
        self.blocks = [slice(int(starts[k]), int(starts[k + 1])) for k in range(len(sizes) + 1)]
        self.hid = slice(self.n0, self.n)  # the hidden neurons: E = I[:, hid]
        # layer k (1-based hidden): weight W_k maps block k-1 to block k; its neurons are
        # columns `cols` of A; C_i = [[c_aa, c_ae], [c_ae, 2]] with c_aa = 2αβ, c_ae = -(α+β)
        # (per neuron: neuron-wise slopes)
        self.layers = [
            (
                ws[k],
                self.blocks[k],
                self.blocks[k + 1],
                slice(int(starts[k + 1] - self.n0), int(starts[k + 2] - self.n0)),
                2.0 * a * b if np.any(a * b) else None,
                -(a + b),
            )
            for k, (a, b) in enumerate(slopes)
        ]
        # per neuron: the sector form's centre s = (α+β)/2 and δ = (β-α)²/2
        lo, hi = np.concatenate([a for a, _ in slopes]), np.concatenate([b for _, b in slopes])
        self.s = 0.5 * (lo + hi)
        self.delta = 0.5 * (hi - lo) ** 2
        self.delta_outer = np.outer(self.delta, self.delta)
        self.lp = bool(np.any(lo * hi != 0))  # λ >= 0 is implied by S ⪰ 0 when αβ = 0
        w_out = out_scale * ws[-1]
        self.f0_last = -(w_out.T @ w_out)
        self.last = self.blocks[-1]

    def a_t_times(self, z: np.ndarray) -> np.ndarray:
        """``Aᵀ Z`` for ``Z`` of shape ``(n, r)``."""
        out = np.empty((self.m, z.shape[1]))
        for w, prev, _, cols, _, _ in self.layers:
            out[cols] = w @ z[prev]
        return out

    def assemble(self, rho: float, lam: np.ndarray, constant: bool = True) -> np.ndarray:
        """``S(ρ, λ)`` (with ``constant=False``: the linear part only, for directions)."""
        s = np.zeros((self.n, self.n))
        diag = s.reshape(-1)[:: self.n + 1]  # a view
        diag[: self.n0] = rho
        diag[self.hid] = 2.0 * lam  # the e_i e_iᵀ terms
        for w, prev, cur, cols, c_aa, c_ae in self.layers:
            lk = lam[cols]
            if c_aa is not None:
                s[prev, prev] += (w.T * (c_aa * lk)) @ w
            off = w.T * (c_ae * lk)
            s[prev, cur] += off
            s[cur, prev] += off.T
        if constant:
            s[self.last, self.last] += self.f0_last
        return s

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """``F*(Y) = (<F_ρ, Y>, <F_i, Y>)`` for symmetric ``Y``."""
        out = np.empty(self.m + 1)
        out[0] = np.trace(y[: self.n0, : self.n0])
        out[1:] = 2.0 * np.diagonal(y)[self.hid]
        for w, prev, cur, cols, c_aa, c_ae in self.layers:
            if c_aa is not None:
                out[1:][cols] += c_aa * np.einsum("ij,ij->i", w @ y[prev, prev], w)
            out[1:][cols] += 2.0 * c_ae * np.einsum("ij,ij->i", w, y[cur, prev])
        return out

    def gram(self, y: np.ndarray) -> _Gram:
        """The blocks of ``[A V]ᵀ Y [A V]`` (``V = E - A diag(s)``) and ``F_ρ``'s part of ``Y``."""
        s, hid, b0 = self.s, self.hid, slice(0, self.n0)
        aty = self.a_t_times(y)  # Aᵀ Y, and (Y A)ᵀ by symmetry
        aa = self.a_t_times(aty.T)
        p = aty[:, hid]  # Aᵀ Y E
        av = p - aa * s  # Aᵀ Y V = Aᵀ Y E - Aᵀ Y A diag(s)
        vv = y[hid, hid] - s[:, None] * av  # Vᵀ Y V = Eᵀ Y V - diag(s) Aᵀ Y V
        vv -= p.T * s
        ya0 = aty[:, b0].T
        return _Gram(y[b0, b0], ya0, y[b0, hid] - ya0 * s, aa, av, vv)

    def adjoint_gram(self, g: _Gram) -> np.ndarray:
        """:meth:`adjoint` from the Gram blocks: ``<F_i, Y> = 2 v_iᵀYv_i - δ_i a_iᵀYa_i``."""
        out = np.empty(self.m + 1)
        out[0] = np.trace(g.y00)
        out[1:] = 2.0 * np.diagonal(g.vv) - self.delta * np.diagonal(g.aa)
        return out

    def schur(self, gx: _Gram, gr: _Gram) -> np.ndarray:
        """``M_ij = tr(F_i X F_j R)`` over ``(ρ, λ)`` from the Gram blocks of ``X`` and ``R``.

        With ``F_i = Σ_k d_k u_k u_kᵀ`` (``(u, d) = (v_i, 2), (a_i, -δ_i)``),
        ``M_ij = Σ_kl d_k d_l (U_kᵀXU_l)_ij (U_kᵀRU_l)_ij``; the ``F_ρ = E₀E₀ᵀ`` row likewise.
        """
        m = np.empty((self.m + 1, self.m + 1))
        # M[1:, 1:] = 4 vv∘vv + δδᵀ∘aa∘aa - 2 δ1ᵀ∘av∘av - (2 δ1ᵀ∘av∘av)ᵀ (x-blocks ∘ r-blocks),
        # accumulated in place: these (N x N) passes are a good part of an iteration
        mm = m[1:, 1:]
        np.multiply(gx.vv, gr.vv, out=mm)
        mm *= 4.0
        t = gx.aa * gr.aa
        t *= self.delta_outer
        mm += t
        np.multiply(gx.av, gr.av, out=t)
        t *= -2.0 * self.delta[:, None]
        mm += t
        mm += t.T
        m[0, 1:] = 2.0 * np.einsum("tj,tj->j", gx.yv0, gr.yv0)
        m[0, 1:] -= self.delta * np.einsum("tj,tj->j", gx.ya0, gr.ya0)
        m[1:, 0] = m[0, 1:]
        m[0, 0] = np.sum(gx.y00 * gr.y00)
        return m


@dataclass(frozen=True)
class _Gram:
    """Gram data of a symmetric ``Y``: ``Y₀₀``, the input-block rows of ``YA`` and ``YV``, and
    ``AᵀYA``, ``AᵀYV``, ``VᵀYV``."""

    y00: np.ndarray
    ya0: np.ndarray
    yv0: np.ndarray
    aa: np.ndarray
    av: np.ndarray
    vv: np.ndarray


@dataclass(frozen=True)
class _Point:
    """An iterate: dual ``y`` with ``S = S(y) = L_S L_Sᵀ``, ``L_S⁻¹`` and ``R = S⁻¹``; primal
    ``X = L_X L_Xᵀ`` with ``L_X⁻¹``, and ``x``."""

    y: np.ndarray
    s: np.ndarray
    ls_inv: np.ndarray
    r: np.ndarray
    x: np.ndarray
    lx_inv: np.ndarray | None
    xl: np.ndarray


def _step(lmi, expand, pt: _Point, dy, dx, dxl, ap: float, ad: float) -> _Point | None:
    """Take the step; ``S`` is recomputed from ``y``. ``S`` and ``X`` are checked by Cholesky,
    halving ``ad`` or ``ap`` if needed (an ``X`` that fails even then has ``lx_inv = None``)."""
    for _ in range(40):
        y = pt.y + ad * dy
        s = lmi.assemble(*expand(y))
        cs = _chol(s)
        if cs is not None and (not lmi.lp or np.all(y[1:] > 0)):
            break
        ad *= 0.5
    else:
        return None
    for _ in range(40):
        x = pt.x + ap * dx  # exactly symmetric, as dX is
        cx = _chol(x)
        if cx is not None:
            break
        ap *= 0.5
    xl = pt.xl + ap * dxl if lmi.lp else pt.xl
    ls_inv = _tri_inverse(cs)
    lx_inv = None if cx is None else _tri_inverse(cx)
    return _Point(y, s, ls_inv, _inverse(ls_inv), x, lx_inv, xl)


def _chol(a: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor, or ``None`` when ``a`` is not positive definite."""
    c, info = lapack.dpotrf(a, lower=1, clean=1)
    return c if info == 0 else None


def _tri_inverse(c: np.ndarray) -> np.ndarray:
    """``L⁻¹`` of a (clean) lower Cholesky factor ``L = c``; its upper triangle is zero."""
    inv, info = lapack.dtrtri(c, lower=1)
    if info != 0:  # pragma: no cover - c is a valid factor
        raise np.linalg.LinAlgError("dtrtri failed")
    return inv


def _inverse(l_inv: np.ndarray) -> np.ndarray:
    """``(LLᵀ)⁻¹ = L⁻ᵀL⁻¹`` from ``L⁻¹``, exactly symmetric."""
    low, info = lapack.dlauum(l_inv, lower=1)  # lower triangle; the upper one stays zero
    if info != 0:  # pragma: no cover - l_inv is a valid factor
        raise np.linalg.LinAlgError("dlauum failed")
    r = low + low.T
    r.reshape(-1)[:: r.shape[0] + 1] *= 0.5
    return r


#: From this order on the smallest eigenvalue of a step length is found by Lanczos (faster there).
LANCZOS_FROM = 120
#: Lanczos stops once the smallest Ritz value changes by at most this (relative) in one step.
LANCZOS_RTOL = 1e-4


def _max_step(l_inv: np.ndarray, d: np.ndarray, warm: list | None = None) -> float:
    """Largest ``t`` with ``LLᵀ + t D ⪰ 0`` (``D`` symmetric), ``inf`` if none, from ``L⁻¹``.

    ``-1 / λmin(B)``, ``B = L⁻¹ D L⁻ᵀ``: formed by two triangular products, then its smallest
    eigenvalue only; or (order ``LANCZOS_FROM`` and up) :func:`_lanczos_min`, to about
    ``LANCZOS_RTOL``, which can only overestimate the step (the step taken is shortened by the
    fraction ``γ <= 0.99``, and :func:`_step` checks it by Cholesky). ``warm`` (a one-item list,
    one per side of the iteration) carries the last Ritz vector to the next call: the blocking
    direction changes little from one step to the next, so Lanczos, started there, needs fewer
    steps.
    """
    low = None
    if d.shape[0] >= LANCZOS_FROM:
        found = _lanczos_min(l_inv, d, None if warm is None else warm[0])
        if found is not None:
            low, vec = found
            if warm is not None:
                warm[0] = vec
    if low is None:
        b = blas.dtrmm(1.0, l_inv, blas.dtrmm(1.0, l_inv, d.T, lower=1), side=1, lower=1, trans_a=1)
        w, _, _, _, info = lapack.dsyevr(b, compute_v=0, range="I", il=1, iu=1, lower=1)
        if info:  # pragma: no cover - LAPACK argument errors only
            raise np.linalg.LinAlgError("dsyevr failed")
        low = float(w[0])
    return math.inf if low >= 0 else -1.0 / low


@functools.cache
def _lanczos_start(n: int) -> np.ndarray:
    """A fixed pseudo-random unit vector (so that results are reproducible)."""
    v = np.random.default_rng(0).standard_normal(n)
    return v / np.linalg.norm(v)


def _lanczos_min(
    l_inv: np.ndarray,
    d: np.ndarray,
    start: np.ndarray | None = None,
    rtol: float = LANCZOS_RTOL,
    max_iter: int = 80,
) -> tuple[float, np.ndarray] | None:
    """``λmin(L⁻¹ D L⁻ᵀ)`` and its Ritz vector by Lanczos with full reorthogonalization.

    Started from the fixed vector :func:`_lanczos_start` (plus ``10 start`` when a previous Ritz
    vector ``start`` is given), stopped once the smallest Ritz value (which decreases to
    ``λmin``) changes by at most ``rtol`` relative; ``None`` if that takes over ``max_iter``.
    """
    n = d.shape[0]
    q = np.empty((max_iter + 1, n))
    alpha, beta = np.empty(max_iter), np.empty(max_iter)
    q[0] = _lanczos_start(n)
    if start is not None:
        q[0] += 10.0 * start
        q[0] /= np.linalg.norm(q[0])
    theta = math.inf
    for k in range(min(max_iter, n)):
        w = l_inv @ (d @ (l_inv.T @ q[k]))  # B q_k
        alpha[k] = q[k] @ w
        w -= alpha[k] * q[k]
        if k:
            w -= beta[k - 1] * q[k - 1]
        basis = q[: k + 1]
        w -= (basis @ w) @ basis  # full reorthogonalization
        beta[k] = math.sqrt(w @ w)
        if k == 0:
            new = alpha[0]
        else:
            _, w_t, block, split, _ = lapack.dstebz(
                alpha[: k + 1], beta[:k], 2, 0.0, 0.0, 1, 1, 0.0, b"E"
            )
            new = w_t[0]
        if abs(theta - new) <= rtol * abs(new) or beta[k] <= 1e-12 * abs(new):
            if k == 0:
                return float(new), q[0].copy()
            s = lapack.dstein(alpha[: k + 1], beta[:k], w_t[:1], block, split)[0]
            return float(new), s[:, 0] @ basis
        theta = new
        np.divide(w, beta[k], out=q[k + 1])
    return None


def _max_step_lp(v: np.ndarray, dv: np.ndarray) -> float:
    neg = dv < 0
    return float(np.min(-v[neg] / dv[neg])) if np.any(neg) else math.inf


def _box_slopes(net: Network, slopes: list[tuple[np.ndarray, np.ndarray]]):
    """Neuron-wise slopes (checked by :func:`check_slopes`) made fit for the method: ``α = β = 0`` neurons removed (exact: they are
    constant), other ``α = β`` widened to ``[α - 1e-7 max(1, |α|), α]`` (valid).

    Returns the reduced network (``None`` if a whole hidden layer is removed), its slopes, the
    kept neurons per layer and the number widened.
    """
    keep = [~((lo == 0) & (hi == 0)) for lo, hi in slopes]
    if not all(k.any() for k in keep):
        return None, [], keep, 0
    ws, bs = list(net.weights), list(net.biases)
    for k, m in enumerate(keep):
        ws[k], bs[k], ws[k + 1] = ws[k][m], bs[k][m], ws[k + 1][:, m]
    widened = int(sum(np.sum((lo == hi)[m]) for (lo, hi), m in zip(slopes, keep, strict=True)))
    slopes = [(lo[m], hi[m]) for (lo, hi), m in zip(_widen_linear(slopes), keep, strict=True)]
    return Network(tuple(ws), tuple(bs), net.slopes, net.activations), slopes, keep, widened


def _balanced(net: Network) -> tuple[Network, list[float]]:
    """``net`` with every ``W_k`` divided by ``s_k = ||W_k||_F`` and the gains
    ``g_k = ∏_{j>k} s_j`` (``k = 0..l-1``; ``g_0 = σ = ∏_j s_j``).

    LipSDP is invariant under this rescaling [derived]: with ``W_k = s_k W'_k`` and the
    congruence ``D = blkdiag(d_0 I, …, d_{l-1} I)``, ``d_k = s_1 ⋯ s_k``, every block of
    ``D H(λ; W) D`` equals ``σ²`` times the block of ``H(λ'; W')`` for ``λ_k = λ'_k g_k²``
    and ``ρ = σ² ρ'`` (the ``(k-1, k)`` block: ``s_k λ_k d_{k-1} d_k = σ² λ'_k`` since
    ``g_k d_k = σ``; the others alike). So the method runs on unit-scale weights, whatever
    the scale of the given ones (without it, weights of norm ``1e45`` overflow its Gram
    products), and the multipliers are mapped back and certified on the given network.
    """
    scales = [float(np.linalg.norm(w)) for w in net.weights]
    if any(s == 0 for s in scales):  # a zero layer: nothing to balance (f is constant)
        return net, [1.0] * len(scales)
    gains = [float(np.prod(scales[k:])) for k in range(len(scales))]
    ws = tuple(w / s for w, s in zip(net.weights, scales, strict=True))
    return Network(ws, net.biases, net.slopes, net.activations), gains


def _scatter(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = np.zeros(keep.shape)
    out[keep] = values
    return out


def lipsdp_ipm(
    net: Network,
    variant: str = "neuron",
    *,
    tol: float = 1e-6,
    max_iter: int = 60,
    rtol: float | None = None,
    slopes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
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
    rtol : float, optional
        Also stop as soon as the current iterate's certified value is **proven** within
        ``rtol`` (relative, in ``L``) of the SDP's optimum: ``ρ̂(λ) <= (1 + rtol)² ρ_low`` with
        ``ρ_low`` the dual lower bound of the current ``X``
        (:func:`stability.lipschitz.dual_bound.dual_lower_bound`). Checked once the relative
        gap is below ``8 ((1 + rtol)² - 1)``.
    slopes : sequence of (ndarray, ndarray), optional
        Neuron-wise slope bounds per hidden layer (the local bound's; default: the network's).
        Neurons with ``α = β = 0`` are removed (exact: they are constant); other ``α = β``
        (linear) neurons are widened to ``[α - 1e-7 max(1, |α|), α]`` (still valid), since an
        exactly linear neuron's multiplier is unbounded: the method then stops at its iteration
        limit, certified, with ``sdp_lower_bound`` showing how close it got (``details``:
        ``widened``, ``removed``).

    Returns
    -------
    LipschitzResult
        ``method=f"lipsdp-{variant}"``, ``certified=True``, ``message`` ``"optimal"`` (both
        tolerances met; ``status`` 0), ``"optimal (proven within rtol=…)"`` (``status`` 0), or
        why it stopped (``"iteration limit"``, ``"stalled (...)"``; ``status`` 1), ``nit`` the
        interior-point iterations; ``details``: ``solver="ipm"``,
        ``iterations``, ``gap`` (relative duality gap at the end), ``primal_residual``,
        ``solver_value`` (``√ρ`` of the best iterate), ``sdp_lower_bound`` (``√ρ_low`` of the
        last ``X``: the SDP's optimum is at least this), ``multipliers``, ``history``
        (``(ρ, relative gap, primal residual)`` per iteration).

    Raises
    ------
    ValueError
        On a bad ``variant``, ``tol``, ``max_iter``, ``rtol`` or ``slopes`` (as
        :func:`stability.lipschitz.certificate.check_slopes`).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`; numbers of the wrong type.
    """
    _check_net(net)
    check_choice("variant", variant, ("neuron", "layer"))
    if slopes is not None:
        slopes = check_slopes(net, slopes)
    tol, max_iter = open_unit("tol", tol), positive_int("max_iter", max_iter)
    if rtol is not None:
        rtol = open_unit("rtol", rtol)
    name = f"lipsdp-{variant}"
    t0 = time.perf_counter()
    keep, widened = None, 0
    if slopes is None:
        net = merge_linear_layers(net)  # linear activations: exact, and no unbounded λ
        slopes = net.slope_vectors()
    elif net.depth > 1:
        net, slopes, keep, widened = _box_slopes(net, slopes)
        if net is None:  # a hidden layer is constant: so is f
            lam = [np.zeros(len(k)) for k in keep]
            details = {"solver": "ipm", "multipliers": lam, "sdp_lower_bound": 0.0}
            status = "constant (every neuron of a hidden layer has slopes [0, 0])"
            return LipschitzResult(0.0, name, True, status, time.perf_counter() - t0, name, details)
    if net.depth == 1:
        return LipschitzResult.single_layer(net.weights[0], name, t0)
    orig, net, gains = net, *_balanced(net)
    sizes = [w.shape[0] for w in net.weights[:-1]]
    split = np.cumsum(sizes)[:-1]
    start = _layer_start(net, slopes)  # λ_k constant per layer, H22 ≺ 0 strictly
    rho_start = _certify(net, start, slopes)
    # W_l -> c W_l with c² = 1 / (2 ρ_start): the start has ρ = 1 with slack (ρ, λ scale by c²)
    c2 = 1.0 / (2.0 * rho_start) if rho_start > 0 else 1.0
    lmi = _LMI(net, math.sqrt(c2), slopes)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    heads = np.r_[0, 1 + np.r_[0, split]]  # reduceat indices of (ρ, layer 1, layer 2, ...)
    if variant == "neuron":
        y = np.r_[1.0, c2 * np.concatenate(start)]
    else:
        y = np.r_[1.0, c2 * np.array([m[0] for m in start])]

    def expand(v: np.ndarray) -> tuple[float, np.ndarray]:  # variables -> (ρ, λ per neuron)
        return v[0], (v[1:] if variant == "neuron" else v[1:][groups])

    def multipliers(v: np.ndarray) -> list[np.ndarray]:  # variables -> λ_k of the unscaled LMI
        return np.split(np.maximum(expand(v)[1], 0.0) / c2, split)

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
    ls_inv = _tri_inverse(cs)
    r_mat = _inverse(ls_inv)
    mu0 = 1.0 / np.trace(r_mat[lmi.blocks[0], lmi.blocks[0]])  # the ρ row of (P) holds
    x_mat = mu0 * r_mat  # perfectly centred: X S = μ0 I
    lp = lmi.lp
    lx_inv = _tri_inverse(_chol(x_mat))
    pt = _Point(y, s_mat, ls_inv, r_mat, x_mat, lx_inv, mu0 / y[1:] if lp else np.zeros(0))
    cvec = np.zeros(y.size)
    cvec[0] = 1.0
    n_cone = lmi.n + (y.size - 1 if lp else 0)
    best_y = y.copy()
    history: list[tuple[float, float, float]] = []
    status, iters, rp_norm = "iteration limit", 0, math.inf
    rho_low, proven = 0.0, None  # the dual lower bound; certified ρ̂ of the iterate proven close
    warm_x, warm_s = [None], [None]  # the last Ritz vectors of the primal and dual step lengths
    while True:
        sl = pt.y[1:]
        gap = float(np.vdot(pt.x, pt.s)) + (float(pt.xl @ sl) if lp else 0.0)
        gx, gr = lmi.gram(pt.x), lmi.gram(pt.r)
        rp = cvec - reduce(lmi.adjoint_gram(gx))
        if lp:
            rp[1:] -= pt.xl
        rp_norm = float(np.max(np.abs(rp)))
        history.append((pt.y[0] / c2, gap / pt.y[0], rp_norm))
        if gap <= tol * pt.y[0] and rp_norm <= tol:
            status = "optimal"
            break
        if rtol is not None and gap <= 8.0 * ((1 + rtol) ** 2 - 1) * pt.y[0]:
            rho_low = max(rho_low, _dual_lower_bound(net, pt.x, variant, slopes))
            # ρ̂ <= ρ (S ≻ 0 has passed Cholesky), and ρ̂ ≈ ρ once the gap is small: the Schur
            # check runs only where it can succeed
            if pt.y[0] / c2 <= 1.05 * (1 + rtol) ** 2 * rho_low:
                lam_now = multipliers(pt.y)
                rho_now = _certify(net, lam_now, slopes)
                if rho_now <= (1 + rtol) ** 2 * rho_low:
                    status, proven = f"optimal (proven within rtol={rtol:g})", (rho_now, lam_now)
                    break
        if iters == max_iter:
            break
        iters += 1
        m_mat = reduce(lmi.schur(gx, gr))
        if lp:
            m_mat[1:, 1:] += np.diag(pt.xl / sl)
        cm = _chol(m_mat)
        if cm is None or pt.lx_inv is None:
            status = (
                f"stalled (lost positive definiteness) at relative gap {gap / pt.y[0]:.1e}, "
                f"primal residual {rp_norm:.1e}"
            )
            break

        def direction(rhs, sigma_mu=0.0, corr_x=None, corr_l=None, p=pt, cm=cm):
            """HKM: ``M dy = rhs``, ``dS = F(dy)``, ``dX = σμR - X - sym(X dS R) - corr``."""
            dy = lapack.dpotrs(cm, rhs, lower=1)[0]
            ds = lmi.assemble(*expand(dy), constant=False)
            dsr = ds @ p.r
            t = p.x @ dsr
            dx = t + t.T  # exactly symmetric, and so is every X
            dx *= -0.5
            dx -= p.x
            if sigma_mu:
                dx += sigma_mu * p.r
            dxl = None
            if corr_x is not None:
                dx -= corr_x
            if lp:
                dxl = sigma_mu / p.y[1:] - p.xl - p.xl * dy[1:] / p.y[1:]
                if corr_l is not None:
                    dxl -= corr_l
            return dy, ds, dsr, dx, dxl

        def steps(dy, ds, dx, dxl, p=pt):
            ap, ad = _max_step(p.lx_inv, dx, warm_x), _max_step(p.ls_inv, ds, warm_s)
            if lp:
                ap = min(ap, _max_step_lp(p.xl, dxl))
                ad = min(ad, _max_step_lp(p.y[1:], dy[1:]))
            return min(1.0, ap), min(1.0, ad)

        # predictor (σ = 0), then Mehrotra's σ = (gap after the predictor / gap)³
        dy, ds, dsr, dx, dxl = direction(-cvec)
        ap, ad = steps(dy, ds, dx, dxl)
        # <X + ap dX, S + ad dS>, expanded
        gap_aff = gap - (float(pt.xl @ sl) if lp else 0.0)
        gap_aff += ad * float(np.vdot(pt.x, ds)) + ap * float(np.vdot(dx, pt.s))
        gap_aff += ap * ad * float(np.vdot(dx, ds))
        if lp:
            gap_aff += float((pt.xl + ap * dxl) @ (sl + ad * dy[1:]))
        sigma = min(1.0, max(0.0, gap_aff / gap)) ** 3
        gamma = 0.9 + 0.09 * min(ap, ad)  # fraction of the way to the boundary, as in SDPT3
        # corrector with the second-order term sym(dX_a dS_a R)
        t = dx @ dsr
        corr_x = 0.5 * (t + t.T)
        corr_l = dxl * dy[1:] / sl if lp else None
        mu = gap / n_cone
        rhs = sigma * mu * reduce(lmi.adjoint_gram(gr)) - cvec - reduce(lmi.adjoint(corr_x))
        if lp:
            rhs[1:] += sigma * mu / sl - corr_l
        dy, ds, _, dx, dxl = direction(rhs, sigma * mu, corr_x, corr_l)
        ap, ad = steps(dy, ds, dx, dxl)
        new = _step(lmi, expand, pt, dy, dx, dxl, gamma * ap, gamma * ad)
        if new is None:  # pragma: no cover - a tiny dual step keeps strict feasibility
            status = "stalled (no feasible dual step)"
            break
        pt = new
        if pt.y[0] < best_y[0]:
            best_y = pt.y.copy()
    if proven is None:
        lam = multipliers(best_y)
        rho_hat = _certify(net, lam, slopes)
        rho_low = max(rho_low, _dual_lower_bound(net, pt.x, variant, slopes))
    else:
        rho_hat, lam = proven
    if not rho_hat <= rho_start:  # the start was (nearly) optimal already, or rounding
        if not math.isfinite(rho_hat):  # pragma: no cover - best_y is strictly feasible
            status += "; best iterate failed the Schur check, the start is kept"
        rho_hat, lam = rho_start, start
    # back to the given weights: λ_k = λ'_k ∏_{j>k} s_j², ρ = σ² ρ' (see _balanced)
    sigma2 = gains[0] ** 2
    lam = [m * g**2 for m, g in zip(lam, gains[1:], strict=True)]
    rho_orig = _certify(orig, lam, slopes)
    rho_hat = rho_orig if math.isfinite(rho_orig) else sigma2 * rho_hat
    rho_low, best_y = sigma2 * rho_low, np.r_[sigma2 * best_y[0], best_y[1:]]
    history = [(sigma2 * h[0], *h[1:]) for h in history]
    box = {}
    if keep is not None:  # multipliers of the given network: 0 on the removed neurons
        lam = [_scatter(m, k) for m, k in zip(lam, keep, strict=True)]
        box = {"removed": int(sum(np.sum(~k) for k in keep)), "widened": widened}
        if widened:
            status += f"; {widened} linear neurons widened by 1e-7"
    details = {
        "solver": "ipm",
        "iterations": iters,
        "gap": history[-1][1],
        "primal_residual": rp_norm,
        "solver_value": math.sqrt(max(best_y[0] / c2, 0.0)),
        "sdp_lower_bound": math.sqrt(max(rho_low, 0.0)),
        "multipliers": lam,
        "history": history,
        **box,
    }
    value = math.sqrt(max(rho_hat, 0.0)) * (1 + SAFETY)
    code = STATUS_OPTIMAL if status.startswith("optimal") else STATUS_LIMIT  # or stalled
    return LipschitzResult(
        value,
        name,
        True,
        status,
        time.perf_counter() - t0,
        name,
        details,
        code,
    )
