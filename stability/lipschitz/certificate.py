"""Certificate primitives of LipSDP: the Schur-complement check shared by every solver.

The LipSDP LMI (Theorem 2 of [1]_, multi-layer form, Eq. (10)) with ``A = [blkdiag(W_1..W_{l-1}) 0]``,
``B = [0 I_N]`` and ``Q(T) = [[-2αβ T, (α+β) T], [(α+β) T, -2T]]`` is

``[A;B]ᵀ Q(T) [A;B] + blkdiag(-ρ I_{n_0}, 0, …, 0, W_lᵀW_l) ⪯ 0``,  ``L = √ρ``.

For given multipliers ``T`` the matrix ``H = [A;B]ᵀQ(T)[A;B] + blkdiag(0, …, W_lᵀW_l)`` is
formed in float64 and partitioned at ``n_0``; if ``H22 ≺ 0`` then
``ρ̂ = λmax(H11 - H12 H22⁻¹ H21)`` is the smallest feasible ``ρ`` for that ``T`` (Schur
complement), so ``√ρ̂`` is a proven Lipschitz bound whatever the accuracy of the solver that
produced ``T``. Every solver of the package (:mod:`~stability.lipschitz.lipsdp`,
:mod:`~stability.lipschitz.neuron_ipm`, :mod:`~stability.lipschitz.one_hidden`,
:mod:`~stability.lipschitz.neuron_fo`, :mod:`~stability.lipschitz.eclipse`) reports
``√ρ̂ (1 + SAFETY)`` computed here, never its own iterate's value.

This module is the bottom of the package's solver layer: it imports only
:mod:`~stability.lipschitz.network`, and the solvers import it.

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.linalg import solve_triangular

from stability.lipschitz.network import Network, _check_net
from theory.checks import ArgumentTypeError, ConvergenceError, as_float_array

__all__ = [
    "SAFETY",
    "LipSDPError",
    "certify_dense",
    "certify_multipliers",
    "check_slopes",
]

#: Relative inflation of a certified value, covering float64 rounding in the Schur check.
SAFETY = 1e-10


class LipSDPError(ConvergenceError):
    """The SDP solver failed, or its multipliers could not be certified.

    A :class:`theory.checks.ConvergenceError` (hence a ``RuntimeError`` and a ``ValueError``),
    the toolkit's one error type for a solver-backed computation that did not succeed.
    """


def check_slopes(net: Network, slopes) -> list[tuple[np.ndarray, np.ndarray]]:
    """Neuron-wise ``slopes`` as float arrays, one ``(lo, hi)`` of shape ``(n_k,)`` per hidden
    layer with ``lo <= hi`` finite, or ``ValueError`` naming ``slopes`` (``TypeError``
    naming ``net`` when ``net`` is not a :class:`Network`)."""
    sizes = _check_net(net).dims[1:-1]
    if isinstance(slopes, str | bytes) or not hasattr(slopes, "__iter__"):
        raise ArgumentTypeError(
            f"slopes must be (lo, hi) array pairs per hidden layer; got {slopes!r}"
        )
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


def _widen_linear(
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
        backward block elimination of ``H22`` is not negative definite, or some multiplier is
        negative or not finite (no certificate: never a NaN).

    Raises
    ------
    ValueError
        ``multipliers`` not one vector of shape ``(n_k,)`` per hidden layer, or bad ``slopes``
        (as :func:`check_slopes`).
    TypeError
        ``net`` not a :class:`Network`, or ``multipliers`` not numeric.

    Notes
    -----
    ``H`` is block tridiagonal in ``(x, y_1, …, y_{l-1})``: diagonal blocks
    ``D_0 = -2 W_1ᵀ diag(αβλ_1) W_1``, ``D_k = -2 diag(λ_k) - 2 W_{k+1}ᵀ diag(αβλ_{k+1}) W_{k+1}``
    (the last one ``-2 diag(λ_{l-1}) + W_lᵀW_l``), off-diagonal ``W_kᵀ diag((α+β)λ_k)``.
    Pivots: ``S_{l-1} = D_{l-1}``, ``S_k = D_k - H_{k,k+1} S_{k+1}⁻¹ H_{k+1,k}``; each must be
    negative definite (checked by Cholesky of ``-S_k``).
    """
    _check_net(net)
    slopes = None if slopes is None else check_slopes(net, slopes)
    return _certify(net, _check_multipliers(net, multipliers), slopes)


def _certify(
    net: Network,
    lam: Sequence[np.ndarray],
    slopes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> float:
    """:func:`certify_multipliers` without the argument checks (for solvers that certify
    their own, already validated, iterates in a loop)."""
    ws = net.weights
    depth = len(ws)
    if slopes is None:
        slopes = net.slope_vectors()
    if depth == 1:
        return float(np.linalg.norm(ws[0], 2) ** 2)
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
        if not np.all(np.isfinite(s)):  # overflow (huge multipliers or weights): no certificate
            return math.inf
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
            return _top_eigenvalue(d0 + correction)
        s = diag_block(k - 1) + correction
    raise AssertionError("unreachable")


def _top_eigenvalue(m: np.ndarray) -> float:
    """``λmax`` of the symmetric part of ``m``; ``inf`` if ``m`` is not finite (an overflow in
    the elimination must never pass for a small, or NaN, certificate)."""
    if not np.all(np.isfinite(m)):
        return math.inf
    top = float(np.linalg.eigvalsh(0.5 * (m + m.T))[-1])
    return top if math.isfinite(top) else math.inf


def _check_multipliers(net: Network, multipliers, name: str = "multipliers") -> list[np.ndarray]:
    """``multipliers`` as float64 vectors, one of shape ``(n_k,)`` per hidden layer (entries may
    be negative or non-finite: :func:`certify_multipliers` answers ``inf`` for those)."""
    sizes = net.dims[1:-1]
    if isinstance(multipliers, str | bytes) or not hasattr(multipliers, "__len__"):
        raise ArgumentTypeError(
            f"{name} must be a sequence of one vector per hidden layer; got {multipliers!r:.80}"
        )
    if len(multipliers) != len(sizes):
        raise ValueError(
            f"{name} must hold {len(sizes)} vectors (one per hidden layer); got {len(multipliers)}"
        )
    return [
        as_float_array(f"{name}[{k}]", m, shape=(n,), allow_empty=True, finite=False)
        for k, (m, n) in enumerate(zip(multipliers, sizes, strict=True))
    ]


def _layer_start(
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


def _selectors(net: Network) -> tuple[np.ndarray, np.ndarray]:
    """LipSDP's ``A`` and ``B`` (Fazlyab et al., NeurIPS 2019, Eq. (10)): with ``x`` the stacked
    ``(x_0, x_1, ..., x_{l-1})``, ``A x`` is every hidden layer's pre-activation (without
    biases) and ``B x`` its post-activation; both ``N x (n_0 + N)`` with ``N`` hidden neurons."""
    ws = net.weights
    n0, n_hidden = ws[0].shape[1], net.n_hidden
    a = np.zeros((n_hidden, n0 + n_hidden))
    r = c = 0
    for w in ws[:-1]:
        a[r : r + w.shape[0], c : c + w.shape[1]] = w
        r += w.shape[0]
        c += w.shape[1]
    b = np.zeros((n_hidden, n0 + n_hidden))
    b[:, n0:] = np.eye(n_hidden)
    return a, b


def _dense_h(net: Network, t: np.ndarray) -> np.ndarray:
    """``H`` of the LMI for a full multiplier matrix ``t`` (N x N), uniform slopes."""
    ws = net.weights
    (alpha, beta) = net.slopes[0]
    a, b = _selectors(net)
    h = -2 * alpha * beta * a.T @ t @ a + (alpha + beta) * (a.T @ t @ b + b.T @ t @ a)
    h -= 2 * b.T @ t @ b
    n_last = ws[-1].shape[1]
    h[-n_last:, -n_last:] += ws[-1].T @ ws[-1]
    return 0.5 * (h + h.T)


def certify_dense(net: Network, t: np.ndarray) -> float:
    """``ρ̂`` for any symmetric multiplier matrix ``t`` (N x N), by a dense Schur complement.

    Requires the same slopes on every hidden layer (at least one hidden layer). Returns ``inf``
    if ``H22 ⊀ 0``.

    Raises
    ------
    ValueError
        ``net`` without a hidden layer or with different slopes per layer; ``t`` not a finite
        symmetric ``N x N`` matrix.
    TypeError
        ``net`` not a :class:`Network`, or ``t`` not numeric.
    """
    _check_net(net)
    if net.depth < 2 or len(set(net.slopes)) != 1:
        raise ValueError(
            f"net: certify_dense needs a hidden layer and uniform slopes; got slopes {net.slopes}"
        )
    n = net.n_hidden
    t = as_float_array("t", t, shape=(n, n))
    if not np.allclose(t, t.T, rtol=1e-12, atol=1e-12 * float(np.max(np.abs(t)))):
        raise ValueError("t must be symmetric (a multiplier matrix T = Tᵀ)")
    n0 = net.dims[0]
    h = _dense_h(net, t)
    if not np.all(np.isfinite(h)):  # overflow: no certificate
        return math.inf
    h11, h12, h22 = h[:n0, :n0], h[:n0, n0:], h[n0:, n0:]
    try:
        chol = np.linalg.cholesky(-h22)
    except np.linalg.LinAlgError:
        return math.inf
    z = np.linalg.solve(chol, h12.T)
    return _top_eigenvalue(h11 + z.T @ z)
