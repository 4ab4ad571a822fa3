"""Local Lipschitz bounds over a box of states: interval propagation plus neuron-wise slopes.

Over a box ``X = [lo, hi]`` (convex, so segments between its points stay in it), interval
bound propagation gives every pre-activation ``z_i ∈ [l_i, u_i]``; by the mean value theorem the
activation's slope between two points of ``[l_i, u_i]`` lies in ``[min φ', max φ']`` over that
interval (for ReLU: ``[1, 1]`` when stably on, ``[0, 0]`` when stably off, ``[0, 1]`` otherwise).
These neuron-wise slopes replace the global ``[α, β]`` in LipLT and in LipSDP-Neuron (the idea
of the local methods ECLipsE-Gen-Local, Xu & Sivaranjani, arXiv:2510.05261, and
Local-LipSDP, Hashemi, Ruths, Fazlyab, L4DC 2021); the bound holds for all
``x, y ∈ X``. The reported value is the smaller of the two certified values; ``details`` hold
both, and for LipSDP the proven lower bound on its optimum (``lipsdp_lower_bound``).
"""

from __future__ import annotations

import math
import time

import numpy as np

from stability.lipschitz.activations import activation_range
from stability.lipschitz.liplt import liplt_bound
from stability.lipschitz.network import Network, _check_net, check_box
from stability.lipschitz.result import LipschitzResult

__all__ = ["interval_slopes", "local_bound"]

#: Hidden-neuron count up to which the local bound also solves LipSDP-Neuron (by the structured
#: interior-point method [measured, one thread on a loaded 2-core machine, random ReLU networks
#: 4-h-h-1 on the box [-1, 1]^4: 0.3 s at 200 hidden neurons, 3.5 s at 600]).
LOCAL_SDP_MAX_NEURONS = 500


def _derivative_range(name: str, lo: np.ndarray, hi: np.ndarray, glob: tuple[float, float]):
    if name == "relu" or name.startswith("leaky_relu:"):
        s = 0.0 if name == "relu" else float(name.split(":")[1])
        dlo = np.where(lo >= 0, 1.0, s)
        dhi = np.where(hi <= 0, s, 1.0)
        return np.minimum(dlo, dhi), np.maximum(dlo, dhi)
    if name in ("tanh", "sigmoid"):

        def d(x):
            if name == "tanh":
                return 1.0 - np.tanh(x) ** 2
            sg = 0.5 * (1.0 + np.tanh(0.5 * x))
            return sg * (1.0 - sg)

        nearest = np.clip(0.0, lo, hi)  # the derivative decreases in |x|
        far = np.where(np.abs(lo) > np.abs(hi), lo, hi)
        return d(far), d(nearest)
    if name == "softplus":
        return 0.5 * (1 + np.tanh(0.5 * lo)), 0.5 * (1 + np.tanh(0.5 * hi))
    if name in ("identity", "linear"):
        return np.ones_like(lo), np.ones_like(lo)
    return np.full_like(lo, glob[0]), np.full_like(lo, glob[1])


def interval_slopes(
    net: Network, lo: np.ndarray, hi: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Neuron-wise slope bounds ``(alpha_k, beta_k)`` valid on the box ``[lo, hi]``.

    Raises
    ------
    ValueError
        ``lo``/``hi`` not finite vectors of shape ``(n_0,)`` with ``lo <= hi``; an activation
        known only by its slopes (``custom``: no values to propagate the box through).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`.
    """
    lo, hi = check_box((lo, hi), _check_net(net).dims[0], name="(lo, hi)")
    if "custom" in net.activations:
        raise ValueError(
            "local bound: net has an activation known only by its slopes ('custom'), with no "
            "values to propagate a box through; use a named activation"
        )
    mid, rad = 0.5 * (lo + hi), 0.5 * (hi - lo)
    out = []
    for k in range(net.depth - 1):
        w, b = net.weights[k], net.biases[k]
        zm, zr = w @ mid + b, np.abs(w) @ rad
        zl, zu = zm - zr, zm + zr
        a_k, b_k = _derivative_range(net.activations[k], zl, zu, net.slopes[k])
        # never looser than the global slopes
        a_k = np.maximum(a_k, net.slopes[k][0])
        b_k = np.minimum(b_k, net.slopes[k][1])
        out.append((a_k, b_k))
        # propagate the box through the activation (its range on [zl, zu], monotone or not)
        lo_n, hi_n = activation_range(net.activations[k], zl, zu)
        mid, rad = 0.5 * (lo_n + hi_n), 0.5 * (hi_n - lo_n)
    return out


def local_bound(net: Network, lo, hi, *, solver: str | None = None) -> LipschitzResult:
    """A Lipschitz bound valid on the box ``[lo, hi]``.

    Parameters
    ----------
    net : Network
    lo, hi : array_like, shape (n_0,)
        The box corners, ``lo <= hi``, finite.
    solver : str, optional
        For the LipSDP-Neuron part (run when ``N <= LOCAL_SDP_MAX_NEURONS``): ``None`` for the
        structured interior-point method (:func:`stability.lipschitz.neuron_ipm.lipsdp_ipm`
        with neuron-wise slopes: neurons constant on the box removed, linear ones widened), or
        a cvxpy solver name.

    Raises
    ------
    ValueError
        On a box of the wrong shape, with ``lo > hi``, or non-finite; an unknown ``solver``.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, ``solver`` not a str.
    """
    start = time.perf_counter()
    lo, hi = check_box((lo, hi), _check_net(net).dims[0], name="(lo, hi)")
    if solver is not None and solver != "ipm":
        from stability.lipschitz.lipsdp import check_cvxpy_solver

        solver = check_cvxpy_solver(solver)
    if net.depth == 1:
        return LipschitzResult.single_layer(net.weights[0], "local", start)
    slopes = interval_slopes(net, lo, hi)
    value, via, status, code, nit = liplt_bound(net, slopes), "liplt", "closed-form", None, 0
    details = {"liplt_local": value}
    if net.n_hidden <= LOCAL_SDP_MAX_NEURONS:
        from stability.lipschitz.lipsdp import LipSDPError, lipsdp

        try:
            r = lipsdp(net, "neuron", solver=solver, slopes=slopes)
        except LipSDPError as exc:  # no certified multipliers: LipLT over the box stands
            r = LipschitzResult(math.inf, "liplt", True, str(exc), 0.0, "lipsdp-neuron")
        details["lipsdp_neuron_local"] = r.value
        details["lipsdp_lower_bound"] = r.details.get("sdp_lower_bound", 0.0)
        if r.certified and r.method == "lipsdp-neuron" and r.value < value:
            value, via, status, code, nit = r.value, "lipsdp-neuron", r.message, r.status, r.nit
    stable = sum(int(np.sum(a == b)) for a, b in slopes)
    details.update({"via": via, "stable_neurons": stable, "n_hidden": net.n_hidden})
    return LipschitzResult(
        value if math.isfinite(value) else math.inf,
        "local",
        True,
        f"{status} (local {via} over the box)",
        time.perf_counter() - start,
        "local",
        details,
        code,
        nit,
    )
