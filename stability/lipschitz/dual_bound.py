"""Lower bounds on LipSDP's optimum from any positive semidefinite matrix: the SDP's dual.

The dual of LipSDP (Theorem 2 and Eq. (10) of [1]_; ``min ρ`` over the multipliers) is

``max <W_lᵀW_l, X_{l-1,l-1}>``  s.t.  ``X ⪰ 0``, ``tr X_{00} = 1``, and for every neuron ``i``
(row ``j`` of ``W_k``): ``<z_i - α p_i, z_i - β p_i> <= 0`` (Neuron; summed over each layer
for Layer),

written with ``X = VVᵀ``: row ``z_i`` of ``V`` belongs to neuron ``i``, ``p_i = W_k[j] V_{k-1}``
is its pre-activation (the input rows ``V_0`` for ``k = 1``). The constraint says ``z_i`` lies in
the ball of centre ``(α+β)/2 · p_i`` and radius ``(β-α)/2 · ‖p_i‖``: a "vector" relaxation of
the slope condition ``z = d p``, ``d ∈ [α, β]``. By weak duality every feasible ``X`` gives
``ρ* >= <W_lᵀW_l, X_{l-1,l-1}>``.

:func:`dual_lower_bound` makes any ``X ≻ 0`` feasible (derived in this toolkit): normalize ``V_0``
to unit Frobenius norm, then layer by layer recompute ``p_i`` from the already projected previous
layer and move ``z_i`` radially onto its ball (Neuron), or shrink the layer's deviations
``z_i - c p_i`` by one common factor (Layer). With one output the last hidden layer is chosen
optimally instead: ``z_i = c p_i + r‖p_i‖ sign(w_i) e`` with ``e`` along ``Σ w_i p_i`` gives
``(|c| ‖Σ_i w_i p_i‖ + r Σ_i |w_i| ‖p_i‖)²`` (Layer: ``r ‖w‖ (Σ_i ‖p_i‖²)^½`` for the second
term), the closed form of :mod:`stability.lipschitz.one_hidden`. With neuron-wise slopes the
centres ``c_i`` and radii ``r_i`` go inside the sums (``e`` along ``Σ w_i c_i p_i``: feasible,
so still a lower bound). Near an interior-point method's solution ``X`` is nearly feasible and
the bound is nearly the optimum; used to stop :func:`stability.lipschitz.neuron_ipm.lipsdp_ipm`
once its certified value is proven within a relative tolerance of the optimum.

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stability.lipschitz.certificate import check_slopes
from stability.lipschitz.network import Network, _check_net
from theory.checks import as_float_array, check_choice

__all__ = ["dual_lower_bound"]

#: Relative rounding allowance: the returned bound is multiplied by ``1 - ROUNDING``.
ROUNDING = 1e-12


def dual_lower_bound(
    net: Network,
    x: np.ndarray,
    variant: str = "neuron",
    slopes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> float:
    """``ρ*`` of LipSDP-``variant`` is at least the returned value (``L_SDP >= √`` of it).

    Parameters
    ----------
    net : Network
        At least one hidden layer; ``x`` is ordered as the LMI: input block, then the hidden
        layers in order.
    x : ndarray of shape (n_0 + N, n_0 + N)
        Symmetric positive definite (any scale); otherwise the trivial bound ``0`` is returned.
    variant : {"neuron", "layer"}
    slopes : sequence of (ndarray, ndarray), optional
        Neuron-wise slope bounds per hidden layer (default: the network's).

    Returns
    -------
    float
        A lower bound on the SDP's optimal ``ρ``, rounded down by ``1 - 1e-12``.

    Raises
    ------
    ValueError
        On a bad ``variant``, a network without a hidden layer, ``x`` of the wrong shape or
        not finite, or bad ``slopes``.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, ``x`` not numeric.
    """
    _check_net(net)
    check_choice("variant", variant, ("neuron", "layer"))
    if net.depth < 2:
        raise ValueError(f"net: dual_lower_bound needs a hidden layer; got depth {net.depth}")
    n = net.dims[0] + net.n_hidden
    x = as_float_array("x", x, shape=(n, n))
    slopes = None if slopes is None else check_slopes(net, slopes)
    return _dual_lower_bound(net, x, variant, slopes)


def _dual_lower_bound(
    net: Network,
    x: np.ndarray,
    variant: str,
    slopes: Sequence[tuple[np.ndarray, np.ndarray]] | None,
) -> float:
    """:func:`dual_lower_bound` without the argument checks (the interior-point loop's)."""
    n0 = net.dims[0]
    try:
        v = np.linalg.cholesky(0.5 * (x + x.T))  # X = V Vᵀ, one row per coordinate
    except np.linalg.LinAlgError:
        return 0.0
    prev = v[:n0] / np.linalg.norm(v[:n0])
    pos = n0
    w_out = net.weights[-1]
    if slopes is None:
        slopes = net.slope_vectors()
    for k, (w, (alpha, beta)) in enumerate(zip(net.weights[:-1], slopes, strict=True)):
        p = w @ prev
        radius = 0.5 * (beta - alpha) * np.linalg.norm(p, axis=1)
        mid = (0.5 * (alpha + beta))[:, None] * p
        if k == net.depth - 2 and w_out.shape[0] == 1:  # best last layer, in closed form
            centre = float(np.linalg.norm(w_out[0] @ mid))
            if variant == "neuron":
                spread = float(np.abs(w_out[0]) @ radius)
            else:
                spread = float(np.linalg.norm(w_out[0]) * np.linalg.norm(radius))
            return (centre + spread) ** 2 * (1 - ROUNDING)
        dev = v[pos : pos + w.shape[0]] - mid
        pos += w.shape[0]
        if variant == "neuron":
            norm = np.linalg.norm(dev, axis=1)
            shrink = np.where(norm > radius, radius / np.maximum(norm, 1e-300), 1.0)
            dev = dev * shrink[:, None]
        else:
            total, allowed = float(np.sum(dev**2)), float(np.sum(radius**2))
            if total > allowed:
                dev = dev * np.sqrt(allowed / total)
        prev = mid + dev
    return float(np.sum((net.weights[-1] @ prev) ** 2)) * (1 - ROUNDING)
