"""Time and memory models of every method, the budget guard, and ``method="auto"``.

**Budgets.** Before it starts, every method's time and memory are estimated
(:func:`estimate_cost`) and :func:`check_budget` refuses the call with a ``ValueError`` that
names the budget parameter, gives the estimate and the tightest method that fits, when the
estimate exceeds ``time_budget`` (default :data:`DEFAULT_SOLVE_BUDGET`, 600 s) or
``max_memory_gb`` (default :data:`DEFAULT_MAX_MEMORY_GB`, 4 GB). The caller raises either to
run the method anyway. ``lipsdp-neuron-fo`` is never refused for time: it stops at its budget
with a certified value (any iterate is a certificate).

**auto.** Order of tightness: LipSDP-Neuron ≲ ECLipsE < LipSDP-Layer ≲ ECLipsE-Fast, LipLT <
naive [derived: Layer's multipliers are a subset of Neuron's (LipSDP, Fazlyab et al. NeurIPS
2019, Theorem 2); ECLipsE's are a Neuron certificate (:mod:`stability.lipschitz.eclipse`); the
ordering of the others is measured, as in Xu & Sivaranjani NeurIPS 2024]. The cheap
closed-form bounds (ECLipsE-Fast where applicable, LipLT, naive) always run (milliseconds);
then the first of LipSDP-Neuron, LipSDP-Neuron-FO (:mod:`stability.lipschitz.neuron_fo`, given
90% of the remaining budget) and ECLipsE whose estimated time fits the remaining budget (and
whose memory fits ``max_memory_gb``) runs. The smallest certified value wins and ``method``
names it.

**The models** are fits [measured on one core of a loaded 2-core machine, then padded]:

- structured interior-point method (:mod:`stability.lipschitz.neuron_ipm`) on an LMI of order
  ``n = n_0 + N``: 1.35 s at ``n = 454``, 0.17 s at 204, doubled for load:
  ``t ≈ 0.03 s + 3 s · (n/454)^3``; memory about 42 dense ``n x n`` float64 matrices at its
  peak (traced at ``n = 204`` and ``404``), budgeted as 45;
- the exact dual of a one-hidden-layer scalar-output network
  (:mod:`stability.lipschitz.one_hidden`; 0.04 s at ``n_0 = 16``, ``N = 256``, 0.5 s at
  ``N = 2000``): ``t ≈ 0.05 s + 0.1 s · (N/1000)^3``;
- a cvxpy solve with ``m`` scalar variables on an LMI of order ``n`` (interior point: the
  ``m x m`` Schur complement, each entry a trace of ``n x n`` products): with the effective
  size ``s = ((m²n² + m n³ + m³)/3)^¼`` (``= n`` when ``m = n``),
  ``t ≈ 2 s · (s/104)^3.5`` for CVXOPT (LipSDP-Neuron: 2.0 s at ``n = 104``, 23 s at 204,
  315 s at 454), 20 times that for another solver; memory: the Schur complement and the
  constraint's nonzeros, three copies (cvxpy's canonicalization);
- LipSDP-Network (``N`` hidden neurons, ``N(N-1)/2`` coupling multipliers) through cvxpy,
  measured on ``4-n-n-2`` networks (``N = 2n``) with Clarabel: 0.16 s at ``N = 16``, 1.2 s at
  32, 5.1 s at 48, 20.5 s at 64; CVXOPT: 0.72, 1.9, 8.7, 50 s. Doubled for load:
  ``t ≈ 0.5 s + 41 s · (N/64)^5`` (Clarabel, the default: it also takes the time limit),
  ``t ≈ 1 s + 100 s · (N/64)^5.5`` (CVXOPT), 20 times Clarabel's for another solver; the
  4-64-64-2 network (``N = 128``) is estimated at 1300 s (Clarabel) and 4500 s (CVXOPT), over
  the default budget, so it is refused (it ran past 20 minutes before). Memory as for the
  other cvxpy solves;
- ECLipsE: the sum over its layer problems of order ``n_{k-1} + n_k``;
- LipSDP-Neuron-FO: one iteration, ``≈ 1 ms + 10⁻⁹ s · Σ_k n_k³`` (it is anytime);
- the closed forms (naive, LipLT, ECLipsE-Fast): their flop counts (``10 n m min(n, m)`` per
  SVD) at ``10^10`` flop/s.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from stability.lipschitz.eclipse import eclipse, eclipse_applicable, eclipse_fast
from stability.lipschitz.liplt import liplt_bound
from stability.lipschitz.lipsdp import LipSDPError, check_cvxpy_solver, lipsdp
from stability.lipschitz.local import LOCAL_SDP_MAX_NEURONS
from stability.lipschitz.naive import naive_bound
from stability.lipschitz.network import Network, _check_net
from stability.lipschitz.neuron_fo import neuron_fo
from stability.lipschitz.one_hidden import one_hidden_applicable
from stability.lipschitz.result import LipschitzResult
from theory.checks import ArgumentTypeError, check_choice

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_MAX_MEMORY_GB",
    "DEFAULT_SOLVE_BUDGET",
    "CostEstimate",
    "auto_bound",
    "check_budget",
    "estimate_cost",
]

#: Time budget (s) of ``auto`` when none is given.
DEFAULT_BUDGET = 10.0
#: Time budget (s) of every other method when none is given: a call estimated to take longer is
#: refused (``lipsdp-neuron-fo`` stops there instead).
DEFAULT_SOLVE_BUDGET = 600.0
#: Memory budget (GB) of every method when none is given.
DEFAULT_MAX_MEMORY_GB = 4.0

#: Float64 rate assumed for the closed forms (flop/s).
_FLOPS = 1e10
#: Methods by tightness, for suggesting one that fits.
_BY_TIGHTNESS = (
    "lipsdp-neuron",
    "eclipse",
    "lipsdp-layer",
    "lipsdp-neuron-fo",
    "eclipse-fast",
    "liplt",
    "naive",
)
#: Every method with a cost model (all of :data:`stability.lipschitz.api.METHODS` but ``auto``).
_COSTED = (*_BY_TIGHTNESS, "lipsdp-network", "local")
#: The methods that take ``solver=``.
SOLVER_METHODS = ("lipsdp-neuron", "lipsdp-layer", "lipsdp-network", "eclipse", "local")


@dataclass(frozen=True)
class CostEstimate:
    """A method's estimated wall time and peak memory on a network.

    Attributes
    ----------
    seconds : float
        Estimated wall time (for ``lipsdp-neuron-fo``: one iteration; it is anytime).
    memory_gb : float
        Estimated peak memory of the method's arrays (GB).
    model : str
        What was modelled (e.g. ``"interior point, LMI of order 4868"``).
    """

    seconds: float
    memory_gb: float
    model: str


def _check_budget_arg(name: str, value: object) -> float | None:
    """``None`` or a real number ``> 0`` (``math.inf``: no limit), else an error naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentTypeError(f"{name} must be a positive number of seconds/GB; got {value!r}")
    v = float(value)
    if math.isnan(v) or v <= 0:
        raise ValueError(f"{name} must be positive (math.inf for no limit); got {value!r}")
    return v


def _ipm(order: int) -> tuple[float, float]:
    """Seconds and GB of the structured interior-point method on an LMI of this order."""
    return 0.03 + 3.0 * (order / 454) ** 3, 45 * 8 * order**2 / 1e9


def _cvxpy(order: int, n_vars: int, nnz: float, solver: str) -> tuple[float, float]:
    """Seconds and GB of a cvxpy interior-point solve (``n_vars`` scalars, LMI of ``order``)."""
    m, n = float(n_vars), float(order)
    size = ((m * m * n * n + m * n**3 + m**3) / 3.0) ** 0.25
    factor = 1.0 if solver.upper() == "CVXOPT" else 20.0
    seconds = factor * 2.0 * (size / 104) ** 3.5 + 0.02
    memory = 3 * (8 * m * m + 16 * nnz + 8 * 10 * n * n) / 1e9
    return seconds, memory


def _default_cvxpy_solver() -> str:
    """The solver :func:`stability.lipschitz.lipsdp.default_solver` picks, without importing it."""
    return "CVXOPT" if importlib.util.find_spec("cvxopt") is not None else "CLARABEL"


def _network_cvxpy_solver() -> str:
    """LipSDP-Network's default solver (:func:`stability.lipschitz.lipsdp._network_solver`),
    without importing cvxpy."""
    return "CLARABEL" if importlib.util.find_spec("clarabel") is not None else "CVXOPT"


def _network_seconds(n_hidden: int, solver: str) -> float:
    """LipSDP-Network's wall time (module docstring: measured, doubled for load)."""
    ratio = n_hidden / 64
    if solver.upper() == "CVXOPT":
        return 1.0 + 100.0 * ratio**5.5
    factor = 1.0 if solver.upper() == "CLARABEL" else 20.0
    return factor * (0.5 + 41.0 * ratio**5)


def _closed_form(net: Network, method: str) -> tuple[float, float]:
    dims = net.dims
    shapes = list(itertools.pairwise(dims))  # (n_{k-1}, n_k)
    svd = [10.0 * a * b * min(a, b) for a, b in shapes]
    if method == "naive":
        flops = sum(svd)
    elif method == "liplt":
        flops = 0.0
        for k in range(len(shapes)):
            for j in range(k):
                n_k, n_j, n_jm = dims[k + 1], dims[j + 1], dims[j]
                flops += 10.0 * n_k * n_j * min(n_k, n_j) + 2.0 * n_k * n_j * n_jm
            flops += svd[k]
    else:  # eclipse-fast: an inverse, a product and an eigendecomposition per layer
        flops = sum(15.0 * b**3 + 4.0 * a * b * b for a, b in shapes)
    memory = 8 * (4 * max(a * b for a, b in shapes) + sum(a * b for a, b in shapes)) / 1e9
    return 1e-3 + flops / _FLOPS, memory


def _lipsdp_cvxpy(net: Network, variant: str, solver: str) -> tuple[float, float, str]:
    dims = net.dims
    n_hidden, order = net.n_hidden, dims[0] + net.n_hidden
    hidden = list(itertools.pairwise(dims[:-1]))  # (n_{k-1}, n_k) per hidden layer
    neuron_nnz = sum(b * (a + 1) ** 2 for a, b in hidden) + order**2
    if variant == "layer":
        n_vars, nnz = len(hidden) + 1, sum((a + b) ** 2 for a, b in hidden) + order**2
    elif variant == "neuron":
        n_vars, nnz = n_hidden + 1, neuron_nnz
    else:  # network: a coupling multiplier per pair of hidden neurons
        pairs = n_hidden * (n_hidden - 1) // 2
        mean_in = sum(a * b for a, b in hidden) / max(n_hidden, 1)
        n_vars, nnz = n_hidden + pairs + 1, neuron_nnz + pairs * (2 * mean_in + 2) ** 2
    seconds, memory = _cvxpy(order, n_vars, nnz, solver)
    return seconds, memory, f"cvxpy/{solver}, {n_vars} variables, LMI of order {order}"


#: Methods that solve LipSDP problems through :func:`stability.lipschitz.lipsdp.lipsdp`, which
#: reduces an input wider than the first hidden layer to that layer's width.
_REDUCED = ("lipsdp-neuron", "lipsdp-layer", "lipsdp-network", "eclipse", "local")


def estimate_cost(net: Network, method: str, solver: str | None = None) -> CostEstimate:
    """Estimated wall time and peak memory of ``method`` on ``net`` [measured fits, see above].

    Parameters
    ----------
    net : Network
    method : str
        A method of :data:`stability.lipschitz.api.METHODS` other than ``"auto"``.
    solver : str, optional
        The ``solver=`` the method will get (``None``/``"ipm"``: the structured methods;
        otherwise an installed cvxpy solver name).

    Raises
    ------
    ValueError
        An unknown ``method`` or ``solver`` (``"ipm"`` with ``lipsdp-network``).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, ``solver`` not a str.
    """
    _check_net(net)
    check_choice("method", method, _COSTED)
    solver = _check_solver(method, solver)
    structured = solver in (None, "ipm")
    if net.depth == 1 or method in ("naive", "liplt", "eclipse-fast"):
        closed = method if method in ("naive", "liplt", "eclipse-fast") else "naive"
        s, m = _closed_form(net, closed)
        return CostEstimate(s, m, f"closed form ({closed})")
    if net.dims[0] > net.dims[1] and method in _REDUCED:
        # lipsdp's input reduction (W_1 = UΣVᵀ -> UΣ): the same SDP on an n_1-dim input
        n1 = net.dims[1]
        net = Network(
            (np.zeros((n1, n1)), *net.weights[1:]), net.biases, net.slopes, net.activations
        )
    order = net.dims[0] + net.n_hidden
    if method == "lipsdp-neuron" and solver is None and one_hidden_applicable(net):
        n = net.n_hidden
        memory = 8 * (20 * n * (net.dims[0] + 1) + 10 * net.dims[0] ** 2) / 1e9
        return CostEstimate(
            0.05 + 0.1 * (n / 1000) ** 3, memory, f"one-hidden-layer dual, {n} neurons"
        )
    if method in ("lipsdp-neuron", "lipsdp-layer") and structured:
        s, m = _ipm(order)
        return CostEstimate(s, m, f"interior point, LMI of order {order}")
    if method == "lipsdp-network":
        name = _network_cvxpy_solver() if solver is None else solver
        _, m, model = _lipsdp_cvxpy(net, "network", name)
        return CostEstimate(_network_seconds(net.n_hidden, name), m, model)
    if method.startswith("lipsdp-") and method != "lipsdp-neuron-fo":
        name = _default_cvxpy_solver() if solver is None else solver
        s, m, model = _lipsdp_cvxpy(net, method.removeprefix("lipsdp-"), name)
        return CostEstimate(s, m, model)
    if method == "eclipse":
        layers = list(itertools.pairwise(net.dims[:-1]))
        if structured:
            costs = [_ipm(a + b) for a, b in layers]
            model = f"{len(layers)} interior-point layer solves"
            return CostEstimate(sum(c[0] for c in costs), max(c[1] for c in costs), model)
        factor = 1.0 if solver.upper() == "CVXOPT" else 20.0
        seconds = factor * sum(2.0 * (2 * n / 104) ** 3.5 + 0.02 for _, n in layers)
        memory = max(_cvxpy(2 * n, n + 1, n * (n + 1) ** 2, solver)[1] for _, n in layers)
        return CostEstimate(seconds, memory, f"{len(layers)} cvxpy/{solver} layer solves")
    if method == "lipsdp-neuron-fo":
        cube = sum(n**3 for n in net.dims[:-1])
        edges = sum(a * b for a, b in itertools.pairwise(net.dims))
        memory = 8 * (12 * edges + 10 * sum(n * n for n in net.dims[:-1]) + 20 * net.n_hidden)
        return CostEstimate(1e-3 + 1e-9 * cube, memory / 1e9, "one L-BFGS iteration (anytime)")
    if method == "local":
        s, m = _closed_form(net, "liplt")
        if net.n_hidden <= LOCAL_SDP_MAX_NEURONS:
            if structured:
                s2, m2 = _ipm(order)
            else:
                s2, m2, _ = _lipsdp_cvxpy(net, "neuron", solver)
            s, m = s + s2, max(m, m2)
        return CostEstimate(s, m, f"local LipLT + LipSDP-Neuron, LMI of order {order}")
    raise ValueError(f"method has no cost model: {method!r}")


def _check_solver(method: str, solver: object) -> str | None:
    """``solver`` as ``method`` will use it: ``None``, ``"ipm"`` (not for ``lipsdp-network``)
    or an installed cvxpy solver that handles SDPs (upper case); else an error naming
    ``solver`` (never a silent fallback). Refused for the methods outside
    :data:`SOLVER_METHODS`."""
    if solver is None:
        return None
    if not isinstance(solver, str):
        raise ArgumentTypeError(
            f"solver must be None, 'ipm' or a cvxpy solver name; got {solver!r}"
        )
    if method not in SOLVER_METHODS:
        raise ValueError(
            f"solver applies to the methods {SOLVER_METHODS}; got solver={solver!r} with "
            f"method {method!r}"
        )
    if solver == "ipm":
        if method == "lipsdp-network":
            raise ValueError("solver 'ipm' handles lipsdp-neuron, lipsdp-layer, eclipse and local")
        return solver
    return check_cvxpy_solver(solver)


def _fits(net: Network, method: str, seconds: float, memory_gb: float) -> CostEstimate | None:
    if method in ("eclipse", "eclipse-fast") and not eclipse_applicable(net):
        return None
    est = estimate_cost(net, method)
    time_ok = method == "lipsdp-neuron-fo" or est.seconds <= seconds
    return est if time_ok and est.memory_gb <= memory_gb else None


def check_budget(
    net: Network,
    method: str,
    *,
    solver: str | None = None,
    time_budget: float | None = None,
    max_memory_gb: float | None = None,
) -> CostEstimate:
    """The estimate of ``method`` on ``net``, or a ``ValueError`` if it exceeds the budgets.

    Parameters
    ----------
    net : Network
    method : str
        Not ``"auto"`` (it fits its own budget).
    solver : str, optional
        As for :func:`estimate_cost`.
    time_budget : float, optional
        Seconds (default :data:`DEFAULT_SOLVE_BUDGET`); never binding for ``lipsdp-neuron-fo``.
    max_memory_gb : float, optional
        GB (default :data:`DEFAULT_MAX_MEMORY_GB`).

    Raises
    ------
    ValueError
        Naming ``time_budget`` and/or ``max_memory_gb``, with the estimate and the tightest
        method that fits both budgets; or a bad argument (as :func:`estimate_cost`; budgets
        must be positive, ``math.inf`` for no limit).
    """
    time_budget = _check_budget_arg("time_budget", time_budget)
    max_memory_gb = _check_budget_arg("max_memory_gb", max_memory_gb)
    seconds = DEFAULT_SOLVE_BUDGET if time_budget is None else time_budget
    memory_gb = DEFAULT_MAX_MEMORY_GB if max_memory_gb is None else max_memory_gb
    est = estimate_cost(net, method, solver)
    over = []
    if method != "lipsdp-neuron-fo" and est.seconds > seconds:
        default = " (the default)" if time_budget is None else ""
        over.append(f"time_budget={seconds:g} s{default}")
    if est.memory_gb > memory_gb:
        default = " (the default)" if max_memory_gb is None else ""
        over.append(f"max_memory_gb={memory_gb:g}{default}")
    if not over:
        return est
    alternative = ""
    for other in _BY_TIGHTNESS:
        if other == method:
            continue
        fit = _fits(net, other, seconds, memory_gb)
        if fit is not None:
            alternative = (
                f", or use the faster method={other!r} (estimated {fit.seconds:.2g} s, "
                f"{fit.memory_gb:.2g} GB)"
            )
            break
    dims = net.dims
    raise ValueError(
        f"method {method!r} on this network (n_0 = {dims[0]}, {net.n_hidden} hidden neurons in "
        f"{net.depth - 1} layers, n_l = {dims[-1]}) is estimated to take {est.seconds:.3g} s "
        f"and {est.memory_gb:.3g} GB ({est.model}), over {' and '.join(over)}; raise "
        f"{' and '.join(o.split('=')[0] for o in over)} to run it anyway{alternative}"
    )


def auto_bound(
    net: Network, time_budget: float | None = None, max_memory_gb: float | None = None
) -> LipschitzResult:
    """The smallest certified bound among the methods that fit ``time_budget`` seconds (default
    :data:`DEFAULT_BUDGET`) and ``max_memory_gb`` (default :data:`DEFAULT_MAX_MEMORY_GB`).

    Raises
    ------
    ValueError
        A budget that is not positive (``math.inf``: no limit).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, a budget not a number.
    """
    _check_net(net)
    time_budget = _check_budget_arg("time_budget", time_budget)
    max_memory_gb = _check_budget_arg("max_memory_gb", max_memory_gb)
    start = time.perf_counter()
    budget = DEFAULT_BUDGET if time_budget is None else float(time_budget)
    memory = DEFAULT_MAX_MEMORY_GB if max_memory_gb is None else float(max_memory_gb)
    cands: dict[str, float] = {"naive": naive_bound(net)}
    closed_limit = max(budget, 1.0)  # the closed forms run unless they would take long
    if estimate_cost(net, "liplt").seconds <= closed_limit:
        cands["liplt"] = liplt_bound(net)
    if eclipse_applicable(net) and estimate_cost(net, "eclipse-fast").seconds <= closed_limit:
        cands["eclipse-fast"] = eclipse_fast(net).value
    tried = []
    status, code, nit = "closed-form", None, 0
    for method in ("lipsdp-neuron", "lipsdp-neuron-fo", "eclipse"):
        if method == "eclipse" and not eclipse_applicable(net):
            continue
        cost = estimate_cost(net, method)
        est = cost.seconds
        left = budget - (time.perf_counter() - start)
        if est <= left and cost.memory_gb <= memory:
            if method == "lipsdp-neuron":
                try:
                    r = lipsdp(net, "neuron")
                except LipSDPError:  # no certified multipliers: the closed forms stand
                    tried.append((method, est, None))
                    break
            elif method == "lipsdp-neuron-fo":
                r = neuron_fo(net, time_budget=0.9 * left)
            else:
                r = eclipse(net)
            tried.append((method, est, r.seconds))
            if r.certified and r.method == method:
                cands[method] = r.value
                status, code, nit = r.message, r.status, r.nit
            break
        tried.append((method, est, None))
    best = min(cands, key=cands.get)
    solved = best in ("lipsdp-neuron", "lipsdp-neuron-fo", "eclipse")
    return LipschitzResult(
        cands[best],
        best,
        True,
        status if solved else "closed-form",
        time.perf_counter() - start,
        "auto",
        {"candidates": cands, "tried": tried, "budget": budget, "max_memory_gb": memory},
        code if solved else None,
        nit if solved else 0,
    )
