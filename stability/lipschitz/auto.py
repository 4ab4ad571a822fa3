"""``method="auto"``: the tightest certified method whose estimated time fits a budget.

Order of tightness (spec §9 claim 4 and §5): LipSDP-Neuron ≲ ECLipsE < LipSDP-Layer ≲
ECLipsE-Fast, LipLT < naive. The cheap closed-form bounds (ECLipsE-Fast where applicable,
LipLT, naive) always run (milliseconds); then the first of LipSDP-Neuron, LipSDP-Neuron-FO
(:mod:`stability.lipschitz.neuron_fo`, given 90% of the remaining budget; it runs whenever at
least 10 ms remain) and ECLipsE whose estimated time fits the remaining budget runs. The
smallest certified value wins and ``method`` names it. The time models are [reconstructed]:
LipSDP-Neuron by the structured interior-point method (:mod:`stability.lipschitz.neuron_ipm`),
measured here on one core
(1.35 s at ``n_0 + N = 454``, 0.17 s at 204) and doubled for a loaded machine:
``t_neuron ≈ 0.03 s + 3 s · ((n_0 + N)/454)^3``, and for a one-hidden-layer scalar-output
network (the exact dual of :mod:`stability.lipschitz.one_hidden`; 0.04 s at ``n_0 = 16``,
``N = 256``, 0.5 s at ``N = 2000``, certification dominating) ``≈ 0.05 s + 0.1 s · (N/1000)^3``;
ECLipsE (one structured LipSDP-Neuron solve per layer, :mod:`stability.lipschitz.eclipse`) as
the sum of ``t_neuron`` over its layer problems of order ``n_{k-1} + n_k``; with a cvxpy solver
fitted to the spec's CVXOPT timings on a loaded 2-core machine (§6):
``≈ Σ_k 2 s · (2 n_k / 104)^3.5``, times 20 for another solver.
"""

from __future__ import annotations

import itertools
import time

from stability.lipschitz.eclipse import eclipse, eclipse_applicable, eclipse_fast
from stability.lipschitz.liplt import liplt_bound
from stability.lipschitz.lipsdp import lipsdp
from stability.lipschitz.naive import naive_bound
from stability.lipschitz.network import Network
from stability.lipschitz.neuron_fo import neuron_fo
from stability.lipschitz.one_hidden import one_hidden_applicable
from stability.lipschitz.result import LipschitzResult

__all__ = ["DEFAULT_BUDGET", "auto_bound", "estimated_seconds"]

#: Time budget (s) when none is given.
DEFAULT_BUDGET = 10.0


def _ipm_seconds(order: int) -> float:
    """The interior-point method on an LMI of this order (fitted on 2 cores)."""
    return 0.03 + 3.0 * (order / 454) ** 3


def estimated_seconds(net: Network, method: str, solver: str | None = None) -> float:
    """Rough wall-time estimate of ``lipsdp-neuron`` or ``eclipse`` on ``net`` [reconstructed].

    ``solver``: the cvxpy solver ECLipsE would use, or ``None`` for its structured layer solves
    (each layer an interior-point solve of order ``n_{i-1} + n_i``, an overestimate where the
    one-hidden dual applies).
    """
    if method == "lipsdp-neuron":
        if one_hidden_applicable(net):
            return 0.05 + 0.1 * (net.n_hidden / 1000) ** 3
        return _ipm_seconds(net.dims[0] + net.n_hidden)
    if method == "eclipse":
        if solver is None:
            return sum(_ipm_seconds(a + b) for a, b in itertools.pairwise(net.dims[:-1]))
        factor = 1.0 if solver == "CVXOPT" else 20.0
        return factor * sum(2.0 * (2 * n / 104) ** 3.5 + 0.02 for n in net.dims[1:-1])
    if method == "lipsdp-neuron-fo":  # budgeted: needs only time for a few iterations
        return 0.01
    return 0.0


def auto_bound(net: Network, time_budget: float | None = None) -> LipschitzResult:
    """The smallest certified bound among the methods that fit ``time_budget`` seconds."""
    start = time.perf_counter()
    budget = DEFAULT_BUDGET if time_budget is None else float(time_budget)
    cands: dict[str, float] = {"naive": naive_bound(net), "liplt": liplt_bound(net)}
    if eclipse_applicable(net):
        cands["eclipse-fast"] = eclipse_fast(net).value
    tried = []
    status = "closed-form"
    for method in ("lipsdp-neuron", "lipsdp-neuron-fo", "eclipse"):
        if method == "eclipse" and not eclipse_applicable(net):
            continue
        est = estimated_seconds(net, method)
        left = budget - (time.perf_counter() - start)
        if est <= left:
            if method == "lipsdp-neuron":
                r = lipsdp(net, "neuron")
            elif method == "lipsdp-neuron-fo":
                r = neuron_fo(net, time_budget=0.9 * left)
            else:
                r = eclipse(net)
            tried.append((method, est, r.seconds))
            if r.certified and r.method == method:
                cands[method] = r.value
                status = r.status
            break
        tried.append((method, est, None))
    best = min(cands, key=cands.get)
    return LipschitzResult(
        cands[best],
        best,
        True,
        status if best in ("lipsdp-neuron", "lipsdp-neuron-fo", "eclipse") else "closed-form",
        time.perf_counter() - start,
        "auto",
        {"candidates": cands, "tried": tried, "budget": budget},
    )
