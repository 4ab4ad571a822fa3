"""Certified robustness radii of a policy's greedy decision from a Lipschitz bound.

If the logits ``f`` are ``L``-Lipschitz in ℓ2 and ``i`` is the argmax at ``x`` with margin
``m(x) = f_i(x) - max_{j != i} f_j(x)``, then for every ``δ``

``f_i(x+δ) - f_j(x+δ) >= m(x) - |(e_i - e_j)ᵀ(f(x+δ) - f(x))| >= m(x) - √2 L ||δ||``

(Cauchy–Schwarz with ``||e_i - e_j|| = √2``), so the decision cannot change while
``||δ|| < m(x) / (√2 L)`` [Tsuzuku, Sato, Sugiyama, "Lipschitz-margin training", NeurIPS 2018,
arXiv:1802.04034, Proposition 1; derived here as above].
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stability.lipschitz.result import LipschitzResult
from theory.checks import ArgumentTypeError, as_float_array

__all__ = ["CertifiedRadius", "certified_radius"]


@dataclass(frozen=True)
class CertifiedRadius:
    """Per-state certified ℓ2 radii of the greedy decision.

    Attributes
    ----------
    radius : ndarray, shape (m,)
        ``margin / (√2 L)``: no perturbation of smaller ℓ2 norm changes the decision
        (``inf`` where ``L = 0`` and the margin is positive; 0 at ties).
    decision : ndarray of int, shape (m,)
        The argmax of the logits.
    margin : ndarray, shape (m,)
        Top logit minus the runner-up.
    lipschitz : float
        The ``L`` used.
    certified : bool
        Whether ``L`` is a proven upper bound (a certified :class:`LipschitzResult`, or a
        number the caller vouches for); when false the radii are estimates only.
    source : str
        Where ``L`` came from (the method, or ``"given"``).
    """

    radius: np.ndarray
    decision: np.ndarray
    margin: np.ndarray
    lipschitz: float
    certified: bool
    source: str
    details: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def summary(self) -> str:
        """One readable line."""
        r = self.radius
        tag = "certified" if self.certified else "NOT certified (estimate)"
        return (
            f"{len(r)} states: certified l2 radius min {np.min(r):.4g}, median "
            f"{np.median(r):.4g}, max {np.max(r):.4g}; L = {self.lipschitz:.6g} by "
            f"{self.source} ({tag})"
        )


def certified_radius(
    network: Any,
    states: Any,
    *,
    bound: Any = None,
    input_shape: Any = None,
    method: str = "auto",
    activation: Any = None,
    slopes: Any = None,
    time_budget: float | None = None,
) -> CertifiedRadius:
    """Certified ℓ2 radius ``margin / (√2 L)`` of the argmax decision at each state.

    Parameters
    ----------
    network : torch.nn.Module, Network or list of array_like
        The policy's logits (or Q-values), as for
        :func:`stability.lipschitz.lipschitz_bound`.
    states : array_like, shape (m, *input_shape) or (m, n_0)
        The states, finite.
    bound : float or LipschitzResult, optional
        ``L``; computed by :func:`~stability.lipschitz.lipschitz_bound` with ``method`` when
        left out. A number is taken as a proven bound supplied by the caller.
    input_shape : tuple of int, optional
        For a torch module whose first operation is not Linear.
    method : str
        The bound's method when ``bound`` is left out (default ``"auto"``).
    activation, slopes, time_budget
        Passed to :func:`~stability.lipschitz.lipschitz_bound`.

    Returns
    -------
    CertifiedRadius

    Raises
    ------
    ValueError
        Non-finite or mis-shaped ``states``; a negative or non-finite ``bound``; fewer than 2
        outputs; as :func:`~stability.lipschitz.lipschitz_bound`.
    TypeError
        ``bound`` neither a number nor a LipschitzResult.

    Examples
    --------
    >>> import numpy as np
    >>> r = certified_radius([np.eye(2)], [[1.0, 0.0]], bound=1.0)
    >>> float(r.radius[0]), int(r.decision[0])
    (0.7071067811865475, 0)
    """
    import torch
    from torch import nn

    from stability.lipschitz.api import lipschitz_bound
    from stability.lipschitz.network import Network, as_network
    from stability.lipschitz.trace import float64_forward, trace_network

    if bound is not None:
        lip, certified, source = _check_bound(bound)
    if isinstance(network, nn.Module):
        if input_shape is None:
            input_shape = trace_network(network, slopes=slopes).input_shape
        shape = tuple(input_shape) if not isinstance(input_shape, int) else (input_shape,)
        x = as_float_array("states", states)
        if x.ndim == len(shape):
            x = x[None]
        if tuple(x.shape[1:]) != shape and x.ndim == 2 and x.shape[1] == math.prod(shape):
            x = x.reshape(len(x), *shape)
        if tuple(x.shape[1:]) != shape or len(x) == 0:
            raise ValueError(
                f"states must have shape (m, *{shape}) with m >= 1; got {np.shape(states)}"
            )
        with torch.no_grad():
            logits = float64_forward(network)(torch.as_tensor(x)).reshape(len(x), -1).numpy()
    else:
        net = network if isinstance(network, Network) else as_network(network, activation)
        x = as_float_array("states", states)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != net.dims[0] or len(x) == 0:
            raise ValueError(
                f"states must have shape (m, {net.dims[0]}) with m >= 1; got {np.shape(states)}"
            )
        logits = net.forward(x)
    if logits.shape[1] < 2:
        raise ValueError(
            f"network: certified radii need at least 2 outputs (a decision); got {logits.shape[1]}"
        )
    if not np.all(np.isfinite(logits)):
        raise ValueError("network: the logits at the states are not finite")
    if bound is None:
        kw = {} if isinstance(network, nn.Module) else {"activation": activation}
        if isinstance(network, nn.Module):
            kw = {"input_shape": input_shape, "slopes": slopes}
        r = lipschitz_bound(network, method, time_budget=time_budget, **kw)
        lip, certified, source = _check_bound(r)
    top2 = np.sort(logits, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    decision = np.argmax(logits, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        radius = np.where(margin > 0, margin / (math.sqrt(2.0) * lip), 0.0)
    return CertifiedRadius(radius, decision, margin, lip, certified, source)


def _check_bound(bound: Any) -> tuple[float, bool, str]:
    if isinstance(bound, LipschitzResult):
        return float(bound.value), bool(bound.success), bound.method
    if isinstance(bound, bool) or not isinstance(bound, numbers.Real):
        raise ArgumentTypeError(
            f"bound must be a number or a LipschitzResult; got {type(bound).__name__}"
        )
    v = float(bound)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"bound must be a finite number >= 0; got {bound!r}")
    return v, True, "given"
