"""The public entry points: :func:`lipschitz_bound` and :func:`lipschitz_lower_bound`."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

from stability.lipschitz.auto import auto_bound
from stability.lipschitz.eclipse import eclipse, eclipse_fast
from stability.lipschitz.liplt import liplt_bound
from stability.lipschitz.lipsdp import lipsdp
from stability.lipschitz.local import local_bound
from stability.lipschitz.lower import lower_bound
from stability.lipschitz.naive import naive_bound
from stability.lipschitz.network import as_network
from stability.lipschitz.neuron_fo import neuron_fo
from stability.lipschitz.result import LipschitzLowerBound, LipschitzResult

__all__ = ["METHODS", "lipschitz_bound", "lipschitz_lower_bound"]

METHODS = (
    "naive",
    "liplt",
    "eclipse-fast",
    "eclipse",
    "lipsdp-layer",
    "lipsdp-neuron",
    "lipsdp-network",
    "lipsdp-neuron-fo",
    "local",
    "auto",
)


def lipschitz_bound(
    network: Any,
    method: str = "auto",
    activation: Any = None,
    time_budget: float | None = None,
    *,
    box: tuple | None = None,
    solver: str | None = None,
    on_failure: str = "fallback",
    slopes: Mapping[str, tuple[float, float]] | None = None,
    rtol: float | None = None,
) -> LipschitzResult:
    """An upper bound on the ℓ2 Lipschitz constant of a network.

    Parameters
    ----------
    network : torch.nn.Sequential or list of array_like
        Linear layers and slope-restricted activations, or weight matrices ``[W_1, …, W_l]``.
    method : str
        One of :data:`METHODS` (default ``"auto"``).
    activation : str or (float, float), optional
        For a weight list: the activation between layers (default ``"relu"``).
    time_budget : float, optional
        Seconds for ``"auto"`` (default 10 s) and for ``"lipsdp-neuron-fo"`` (default: its
        iteration limit); ignored (with a warning) by other methods.
    box : (array_like, array_like), optional
        ``(lo, hi)`` of the state box; required by ``"local"``.
    solver : str, optional
        For ``lipsdp-neuron``/``lipsdp-layer``: ``None`` (the structured methods: the exact dual
        of :mod:`stability.lipschitz.one_hidden` for one-hidden-layer scalar-output networks,
        else the interior-point method of :mod:`stability.lipschitz.neuron_ipm`), ``"ipm"``, or
        a cvxpy solver name; for ``eclipse``: ``None`` (each layer SDP by the structured
        methods) or a cvxpy solver name; for the other SDP methods a cvxpy solver (default
        CVXOPT if installed, else Clarabel).
    on_failure : {"fallback", "raise"}
        LipSDP's behaviour when the solver fails or cannot be certified.
    slopes : mapping, optional
        Slopes of further activation classes of an ``nn.Sequential``, by class name.
    rtol : float, optional
        For ``lipsdp-neuron``/``lipsdp-layer`` with the structured solvers: stop once the value
        is proven within ``rtol`` (relative) of the SDP's optimum (e.g. ``0.02``: at most 2%
        above LipSDP-Neuron); default: solve to relative gap ``1e-6``.

    Returns
    -------
    LipschitzResult
        ``value``, ``method``, ``certified``, ``status``, ``seconds``.

    Raises
    ------
    ValueError
        Unknown method, unsupported layer, bad activation, missing box, negative budget.

    Examples
    --------
    >>> import numpy as np
    >>> r = lipschitz_bound([np.eye(2), 2 * np.eye(2)], method="naive")
    >>> (r.value, r.method, r.certified)
    (2.0, 'naive', True)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if time_budget is not None and not time_budget > 0:
        raise ValueError(f"time_budget must be positive; got {time_budget!r}")
    if time_budget is not None and method not in ("auto", "lipsdp-neuron-fo"):
        warnings.warn(f"method {method!r} does not use time_budget", RuntimeWarning, stacklevel=2)
    if rtol is not None and method not in ("lipsdp-neuron", "lipsdp-layer"):
        raise ValueError(f"rtol applies to lipsdp-neuron and lipsdp-layer; got method {method!r}")
    if method == "local" and box is None:
        raise ValueError("method 'local' needs box=(lo, hi)")
    net = as_network(network, activation, slopes=slopes)
    start = time.perf_counter()
    if method in ("naive", "liplt"):
        v = naive_bound(net) if method == "naive" else liplt_bound(net)
        return LipschitzResult(v, method, True, "closed-form", time.perf_counter() - start, method)
    if method == "eclipse-fast":
        return eclipse_fast(net)
    if method == "eclipse":
        return eclipse(net, solver=solver)
    if method == "lipsdp-neuron-fo":
        return neuron_fo(net, time_budget=time_budget)
    if method.startswith("lipsdp-"):
        return lipsdp(
            net, method.removeprefix("lipsdp-"), solver=solver, on_failure=on_failure, rtol=rtol
        )
    if method == "local":
        return local_bound(net, box[0], box[1], solver=solver)
    return auto_bound(net, time_budget)


def lipschitz_lower_bound(
    network: Any,
    activation: Any = None,
    *,
    n_samples: int = 2048,
    n_ascent: int = 200,
    box: tuple | None = None,
    seed: int = 0,
    slopes: Mapping[str, tuple[float, float]] | None = None,
) -> LipschitzLowerBound:
    """A lower bound on the Lipschitz constant (Jacobian norms at samples + pair-ratio ascent).

    See :func:`stability.lipschitz.lower.lower_bound`; ``box`` restricts to a state box.
    """
    net = as_network(network, activation, slopes=slopes)
    return lower_bound(net, n_samples=n_samples, n_ascent=n_ascent, box=box, seed=seed)
