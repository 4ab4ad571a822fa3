"""LipLT: Lipschitz bounds by loop transformation (Fazlyab et al., NeurIPS 2023 [1]_).

Write each activation as ``φ = a·id + b·ψ`` with ``a = (alpha+beta)/2``, ``b = (beta-alpha)/2``
and ``ψ`` 1-Lipschitz; unrolling gives the recursion (Sec. 3 of [1]_)

``m_1 = ||W_1||``,  ``m_k = ||W_k A_{k-1} W_{k-1} ⋯ A_1 W_1|| + Σ_{j<k} ||W_k A_{k-1} ⋯ W_{j+1} B_j|| m_j``

with ``A_j = diag(a_j)``, ``B_j = diag(|b_j|)``, and ``L(f) <= m_l``. With scalar slopes this is
the formula of [1]_; the diagonal form allows neuron-wise slopes (used by the local bound).
It equals CPLip (½-averaged hidden layers, identity output) for ReLU networks.

References
----------
.. [1] M. Fazlyab, T. Entesari, A. Roy, R. Chellappa, "Certified robustness via dynamic margin
   maximization and improved Lipschitz regularization", NeurIPS 2023, arXiv:2310.00116.
"""

from __future__ import annotations

import numpy as np

from stability.lipschitz.certificate import check_slopes
from stability.lipschitz.network import Network, _check_net

__all__ = ["liplt_bound"]


def liplt_bound(net: Network, slopes: list[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """The LipLT bound ``m_l`` (O(l²) matrix products, exact spectral norms).

    Parameters
    ----------
    net : Network
    slopes : list of (ndarray, ndarray), optional
        Neuron-wise slope bounds ``(alpha_k, beta_k)`` per hidden layer (default: the
        network's scalar slopes); finite, ``alpha <= beta``.

    Raises
    ------
    ValueError
        Bad ``slopes`` (not one finite ``(lo, hi)`` pair of shape ``(n_k,)`` per hidden layer
        with ``lo <= hi``).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`.
    """
    ws = _check_net(net).weights
    depth = len(ws)
    slopes = net.slope_vectors() if slopes is None else check_slopes(net, slopes)
    a = [0.5 * (lo + hi) for lo, hi in slopes]
    b = [0.5 * np.abs(hi - lo) for lo, hi in slopes]
    m = []
    for k in range(depth):
        # P = W_k A_{k-1} W_{k-1} ⋯ W_{j+1}, built from the left for j = k-1 down to 0
        p = ws[k]
        terms = 0.0
        for j in range(k - 1, -1, -1):
            # layer j (0-based hidden index j) sits between W_j and W_{j+1}
            terms += float(np.linalg.norm(p * b[j][None, :], 2)) * m[j] if np.any(b[j]) else 0.0
            p = (p * a[j][None, :]) @ ws[j]
        m.append(float(np.linalg.norm(p, 2)) + terms)
    return m[-1]
