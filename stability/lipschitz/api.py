"""The public entry points: :func:`lipschitz_bound`, :func:`lipschitz_lower_bound` and
:func:`lipschitz_interval` (both, as ``lower <= L <= upper``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from stability.lipschitz.auto import (
    DEFAULT_BUDGET,
    DEFAULT_SOLVE_BUDGET,
    _check_budget_arg,
    _check_solver,
    auto_bound,
    check_budget,
)
from stability.lipschitz.eclipse import eclipse, eclipse_applicable, eclipse_fast
from stability.lipschitz.liplt import liplt_bound
from stability.lipschitz.lipsdp import LipSDPError, lipsdp
from stability.lipschitz.local import local_bound
from stability.lipschitz.lower import lower_bound
from stability.lipschitz.naive import naive_bound
from stability.lipschitz.network import (
    _check_scale,
    _network_or_traced,
    as_network,
    check_box,
)
from stability.lipschitz.neuron_fo import neuron_fo
from stability.lipschitz.patterns import pattern_lower_bound, piecewise_linear
from stability.lipschitz.result import (
    STATUS_FALLBACK,
    STATUS_LIMIT,
    LipschitzInterval,
    LipschitzLowerBound,
    LipschitzResult,
)
from stability.lipschitz.trace import float64_forward, sampled_lower_bound
from theory.checks import check_choice, check_int, check_open_unit, check_positive, check_seed

__all__ = [
    "LOWER_METHODS",
    "METHODS",
    "lipschitz_bound",
    "lipschitz_interval",
    "lipschitz_lower_bound",
]

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

#: Methods of :func:`lipschitz_lower_bound`.
LOWER_METHODS = ("auto", "sampling", "patterns")

#: Default seconds of the activation-pattern search inside :func:`lipschitz_lower_bound`.
DEFAULT_PATTERN_BUDGET = 3.0


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
    max_memory_gb: float | None = None,
    input_shape: Any = None,
    max_dense: int | None = None,
) -> LipschitzResult:
    """An upper bound on the ℓ2 Lipschitz constant of a network.

    Parameters
    ----------
    network : torch.nn.Module or list of array_like
        Any torch module that :func:`stability.lipschitz.trace.trace_network` traces (Linear,
        Conv1d/2d, pooling, BatchNorm in eval mode, reshapes, residual additions, elementwise
        activations as modules or functions), or weight matrices ``[W_1, …, W_l]``. A chain
        whose affine maps fit ``max_dense`` is materialised exactly into a
        :class:`~stability.lipschitz.network.Network` and every method applies; a larger chain
        takes the matrix-free ``"naive"`` and ``"liplt"`` of :mod:`stability.lipschitz.operators`
        (``"auto"``: LipLT); a graph with residual additions or MaxPool is bounded by segments
        (:func:`stability.lipschitz.trace.segments`): each maximal chain by ``method``, then
        products along the graph, ``L(a + b) <= L(a) + L(b)`` at additions (a residual block
        ``x + g(x)``: ``1 + L(g)``) and ``sqrt(m)`` at MaxPool; ``method`` is then
        ``"composed"`` and ``message`` says so.
    method : str
        One of :data:`METHODS` (default ``"auto"``).
    activation : str or (float, float), optional
        For a weight list: the activation between layers (default ``"relu"``).
    time_budget : float, optional
        Seconds the call may take (``math.inf``: no limit). ``"auto"``: picks the tightest
        method whose estimated time fits (default 10 s, :data:`~stability.lipschitz.auto.DEFAULT_BUDGET`);
        ``"lipsdp-neuron-fo"``: stops its descent then, with a certified value (default
        600 s); every other method: refused at once, with the estimate and a faster method,
        when its estimated time exceeds the budget (default 600 s,
        :data:`~stability.lipschitz.auto.DEFAULT_SOLVE_BUDGET`). The estimates are the models of
        :func:`stability.lipschitz.auto.estimate_cost`.
    box : (array_like, array_like), optional
        ``(lo, hi)`` of the state box; required by ``"local"`` (and only for it).
    solver : str, optional
        For ``lipsdp-neuron``/``lipsdp-layer``/``local``: ``None`` (the structured methods: the
        exact dual of :mod:`stability.lipschitz.one_hidden` for one-hidden-layer scalar-output
        networks, else the interior-point method of :mod:`stability.lipschitz.neuron_ipm`),
        ``"ipm"``, or a cvxpy solver that handles SDPs; for ``eclipse``: ``None`` (each layer
        SDP by the structured methods) or a cvxpy solver name; for ``lipsdp-network`` a cvxpy
        solver (default CVXOPT if installed, else Clarabel). Refused for the other methods, and
        when unknown or unable to solve SDPs.
    on_failure : {"fallback", "raise"}
        LipSDP's behaviour when the solver fails or cannot be certified.
    slopes : mapping, optional
        Slopes ``(alpha, beta)`` (finite, ``alpha <= beta``) of further activation classes of
        an ``nn.Sequential``, by class name.
    rtol : float, optional
        For ``lipsdp-neuron``/``lipsdp-layer`` with the structured solvers: stop once the value
        is proven within ``rtol`` (relative) of the SDP's optimum (e.g. ``0.02``: at most 2%
        above LipSDP-Neuron); default: solve to relative gap ``1e-6``.
    max_memory_gb : float, optional
        Memory the method may use (default 4 GB,
        :data:`~stability.lipschitz.auto.DEFAULT_MAX_MEMORY_GB`): a method estimated to need
        more is refused (``"auto"`` skips it).
    input_shape : tuple of int, optional
        For a torch module: one input's shape without the batch dimension (``(C, H, W)`` for
        a Conv2d policy); inferred when the first operation is ``nn.Linear``.
    max_dense : int, optional
        For a torch module: the most float64 entries of a materialised affine map (default
        :data:`stability.lipschitz.trace.MAX_DENSE`).

    Returns
    -------
    LipschitzResult
        ``value``, ``method``, ``certified``, ``message``, ``seconds``, ``success``, ``status``, ``nit``. A NaN or infinite value
        is never ``certified``.

    Raises
    ------
    ValueError
        Unknown method, solver or ``on_failure``, unsupported layer, bad activation or slopes,
        missing or bad box, bad budget, an estimate over ``time_budget``/``max_memory_gb``,
        weights outside :data:`~stability.lipschitz.network.SAFE_SCALE` (float64 overflow);
        for a module: a layer or operation :func:`~stability.lipschitz.trace.trace_network`
        refuses (named), a missing or bad ``input_shape``, a dense-only method on a chain
        over ``max_dense``, ``"local"`` on a module that does not materialise or with a
        non-monotone activation (GELU, SiLU, …: the box propagation assumes monotone ones).
    TypeError
        Arguments of the wrong type (:class:`theory.checks.ArgumentTypeError`, also a
        ``ValueError``).
    LipSDPError
        With ``on_failure="raise"``, when no LipSDP solver's multipliers could be certified
        (a :class:`theory.checks.ConvergenceError`; the default falls back instead).

    Examples
    --------
    >>> import numpy as np
    >>> r = lipschitz_bound([np.eye(2), 2 * np.eye(2)], method="naive")
    >>> (r.value, r.method, r.certified)
    (2.0, 'naive', True)
    """
    check_choice("method", method, METHODS)
    time_budget = _check_budget_arg("time_budget", time_budget)
    max_memory_gb = _check_budget_arg("max_memory_gb", max_memory_gb)
    check_choice("on_failure", on_failure, ("fallback", "raise"))
    solver = _check_solver(method, solver)
    if rtol is not None:
        if method not in ("lipsdp-neuron", "lipsdp-layer"):
            raise ValueError(
                f"rtol applies to lipsdp-neuron and lipsdp-layer; got method {method!r}"
            )
        rtol = check_open_unit("rtol", rtol)
    if method == "local" and box is None:
        raise ValueError("method 'local' needs box=(lo, hi)")
    if method != "local" and box is not None:
        raise ValueError(f"box applies to method 'local' only; got method {method!r}")
    net, traced, why = _parse(network, activation, slopes, input_shape, max_dense)
    if net is None:
        return _traced_bound(
            traced,
            why,
            method,
            time_budget=time_budget,
            solver=solver,
            on_failure=on_failure,
            rtol=rtol,
            max_memory_gb=max_memory_gb,
            max_dense=max_dense,
            slopes=slopes,
        )
    _check_scale(net)  # outside float64's safe range the solvers overflow or underflow
    if method == "auto":
        return auto_bound(net, time_budget, max_memory_gb)
    lo_hi = check_box(box, net.dims[0]) if method == "local" else None
    check_budget(net, method, solver=solver, time_budget=time_budget, max_memory_gb=max_memory_gb)
    start = time.perf_counter()
    if method in ("naive", "liplt"):
        v = naive_bound(net) if method == "naive" else liplt_bound(net)
        return LipschitzResult(v, method, True, "closed-form", time.perf_counter() - start, method)
    if method == "eclipse-fast":
        return eclipse_fast(net)
    if method == "eclipse":
        return eclipse(net, solver=solver)
    if method == "lipsdp-neuron-fo":
        limit = DEFAULT_SOLVE_BUDGET if time_budget is None else time_budget
        return neuron_fo(net, time_budget=limit)
    if method.startswith("lipsdp-"):
        return _lipsdp_or_fallback(
            net,
            method.removeprefix("lipsdp-"),
            solver=solver,
            on_failure=on_failure,
            rtol=rtol,
            time_limit=DEFAULT_SOLVE_BUDGET if time_budget is None else time_budget,
        )
    return local_bound(net, lo_hi[0], lo_hi[1], solver=solver)


def _jacobian_known(name: str) -> bool:
    """Activations whose Jacobians :mod:`stability.lipschitz.lower` computes in closed form."""
    return name in ("relu", "tanh", "sigmoid", "softplus", "identity", "linear") or (
        name.startswith("leaky_relu:")
    )


def _parse(network, activation, slopes, input_shape, max_dense):
    """``(Network, traced, "")`` or, for a module that does not materialise,
    ``(None, TracedNetwork, why)``."""
    from torch import nn

    if isinstance(network, nn.Module):
        if activation is not None:
            raise ValueError(
                f"activation is only for weight lists; got activation={activation!r} with an "
                "nn.Module"
            )
        return _network_or_traced(
            network, slopes=slopes, input_shape=input_shape, max_dense=max_dense
        )
    net = as_network(
        network, activation, slopes=slopes, input_shape=input_shape, max_dense=max_dense
    )
    return net, None, ""


def _operator_bound(
    steps, input_shape, method: str, time_budget, why: str, slopes=None
) -> LipschitzResult:
    """A large chain's bound by the matrix-free methods of :mod:`stability.lipschitz.operators`
    (constant shifts dropped first: a translation leaves the Lipschitz constant unchanged)."""
    from stability.lipschitz.trace import Shift

    steps = [s for s in steps if not isinstance(s, Shift)]
    try:
        from stability.lipschitz import operators

        fn = operators.operator_naive_bound if method == "naive" else operators.operator_liplt_bound
    except (ImportError, AttributeError):
        raise ValueError(
            f"network: {why}; the matrix-free methods (stability.lipschitz.operators) are not "
            "available here: raise max_dense to materialise it"
        ) from None
    return fn(steps, input_shape, slopes=slopes, time_budget=time_budget)


def _traced_bound(
    traced,
    why,
    method,
    *,
    time_budget,
    solver,
    on_failure,
    rtol,
    max_memory_gb,
    max_dense,
    slopes=None,
) -> LipschitzResult:
    """The bound of a traced module that does not materialise (docstring of
    :func:`lipschitz_bound`): a large chain matrix-free; a graph by segments."""
    from stability.lipschitz.trace import MAX_DENSE, TracedNetwork, propagate_bounds, segments

    limit = MAX_DENSE if max_dense is None else max_dense
    if method == "local":
        raise ValueError(f"network: method 'local' needs a chain that materialises; here {why}")
    matrix_free = ("naive", "liplt", "auto")
    if traced.is_chain:
        if method not in matrix_free:
            raise ValueError(
                f"method {method!r} needs the network's dense matrices, but {why}; use "
                f"method 'naive', 'liplt' or 'auto' (matrix-free), or raise max_dense"
            )
        return _operator_bound(traced.steps, traced.input_shape, method, time_budget, why, slopes)
    start = time.perf_counter()
    segs = segments(traced)
    parts: list[LipschitzResult] = []
    for i, seg in enumerate(segs):
        ops = tuple(replace(traced.ops[k], inputs=(j - 1,)) for j, k in enumerate(seg))
        sub = TracedNetwork(traced.module, ops[0].in_shape, ops[-1].out_shape, ops, len(ops) - 1)
        budget = time_budget
        if method == "auto":
            total = DEFAULT_BUDGET if time_budget is None else time_budget
            left = max(total - (time.perf_counter() - start), 1e-3)
            budget = left / (len(segs) - i)
        if sub.dense_size() > limit:
            if method not in matrix_free:
                raise ValueError(
                    f"method {method!r} needs dense matrices, but chain {i} of the network "
                    f"(ops {[traced.ops[k].name for k in seg]}) needs {sub.dense_size()} "
                    f"entries, over max_dense={limit}; use 'naive', 'liplt' or 'auto'"
                )
            parts.append(
                _operator_bound(
                    sub.steps, sub.input_shape, method, budget, f"chain {i} is large", slopes
                )
            )
            continue
        parts.append(
            lipschitz_bound(
                as_network(sub, max_dense=limit),
                method,
                None,
                budget,
                solver=solver,
                on_failure=on_failure,
                rtol=rtol,
                max_memory_gb=max_memory_gb,
            )
        )
    value = propagate_bounds(traced, [p.value for p in parts])
    certified = all(p.certified for p in parts)
    n_add = sum(op.kind == "add" for op in traced.ops)
    n_pool = sum(op.kind == "maxpool" for op in traced.ops)
    methods = sorted({p.method for p in parts})
    message = (
        f"composed bound over {len(segs)} chains, {n_add} residual additions and {n_pool} "
        "MaxPool: products along the graph, L(a + b) <= L(a) + L(b) at additions (x + g(x): "
        "1 + L(g)), sqrt(window multiplicity) at MaxPool; chains bounded by "
        f"{', '.join(methods)}"
    )
    limited = any(p.status in (STATUS_LIMIT, STATUS_FALLBACK) for p in parts)
    return LipschitzResult(
        value,
        "composed",
        certified,
        message,
        time.perf_counter() - start,
        method,
        {"segments": segs, "parts": parts},
        STATUS_LIMIT if certified and limited else None,
        sum(p.nit for p in parts),
    )


def _lipsdp_or_fallback(
    net, variant: str, *, solver, on_failure: str, rtol, time_limit=None
) -> LipschitzResult:
    """LipSDP, and the fallback policy when no solver's multipliers could be certified.

    ``on_failure="raise"`` re-raises :class:`~stability.lipschitz.lipsdp.LipSDPError`;
    ``"fallback"`` returns the tighter of ECLipsE-Fast (when applicable) and LipLT, with
    ``method`` naming it, ``status`` 3 (fallback) and ``message`` saying why LipSDP failed (``requested`` stays
    ``lipsdp-<variant>``).
    """
    start = time.perf_counter()
    try:
        return lipsdp(net, variant, solver=solver, rtol=rtol, time_limit=time_limit)
    except LipSDPError as exc:
        if on_failure == "raise":
            raise
        why = str(exc)
    value, fb = liplt_bound(net), "liplt"
    if eclipse_applicable(net):
        ef = eclipse_fast(net)
        if ef.certified and ef.value < value:
            value, fb = ef.value, "eclipse-fast"
    seconds = time.perf_counter() - start
    name = f"lipsdp-{variant}"
    why = f"fallback to {fb}: {why}"
    return LipschitzResult(value, fb, True, why, seconds, name, status=STATUS_FALLBACK)


def lipschitz_lower_bound(
    network: Any,
    activation: Any = None,
    *,
    method: str = "auto",
    n_samples: int = 2048,
    n_ascent: int = 200,
    n_restarts: int = 16,
    time_budget: float | None = None,
    box: tuple | None = None,
    seed: int = 0,
    slopes: Mapping[str, tuple[float, float]] | None = None,
    input_shape: Any = None,
    max_dense: int | None = None,
) -> LipschitzLowerBound:
    """A lower bound on the ℓ2 Lipschitz constant.

    Parameters
    ----------
    network, activation, slopes, input_shape, max_dense
        As for :func:`lipschitz_bound`. A torch module that does not materialise into a
        :class:`~stability.lipschitz.network.Network` (residual additions, MaxPool, over
        ``max_dense``, activations without a closed-form Jacobian here) is sampled on its own
        forward in float64 (autograd Jacobians and pair ratios,
        :func:`stability.lipschitz.trace.sampled_lower_bound`; ``box`` in flattened input
        coordinates).
    method : {"auto", "sampling", "patterns"}
        ``"sampling"``: Jacobian norms at random points and a pair-ratio ascent
        (:func:`stability.lipschitz.lower.lower_bound`); ``"patterns"``: a search over
        realisable activation patterns, for ReLU/LeakyReLU/identity networks
        (:func:`stability.lipschitz.patterns.pattern_lower_bound`: exact when it enumerates
        them all); ``"auto"`` (default): sampling, then the pattern search from the best
        sampled point when the network is piecewise linear; the larger value.
    n_samples, n_ascent : int
        Sampling: random points and Adam steps of the pair-ratio ascent.
    n_restarts : int
        Pattern search: local-search restarts.
    time_budget : float, optional
        Pattern search: seconds (default :data:`DEFAULT_PATTERN_BUDGET`).
    box : (array_like, array_like), optional
        Restrict to a state box (the local constant there); the pattern search needs
        ``lo < hi`` (with ``"auto"`` it is skipped on a degenerate box).
    seed : int

    Raises
    ------
    ValueError
        Bad network, activation or slopes (as :func:`lipschitz_bound`), an unknown ``method``,
        ``"patterns"`` on a network with other activations, ``n_samples < 1``,
        ``n_ascent < 0``, ``n_restarts < 1``, ``time_budget <= 0``, a bad ``box`` or ``seed``.
    TypeError
        Counts or seed that are not integers.

    Examples
    --------
    >>> import numpy as np
    >>> r = lipschitz_lower_bound([np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])])
    >>> (round(r.value, 12), r.method, r.exact)
    (1.0, 'sampling+patterns', True)
    """
    check_choice("method", method, LOWER_METHODS)
    n_samples = check_int("n_samples", n_samples, lo=1)
    n_ascent = check_int("n_ascent", n_ascent, lo=0)
    n_restarts = check_int("n_restarts", n_restarts, lo=1)
    budget = DEFAULT_PATTERN_BUDGET if time_budget is None else time_budget
    budget = check_positive("time_budget", budget)
    seed = check_seed(seed)
    net, traced, why = _parse(network, activation, slopes, input_shape, max_dense)
    if net is None or not all(_jacobian_known(a) for a in net.activations):
        if method == "patterns":
            raise ValueError(
                "method 'patterns' needs a network that materialises with ReLU, LeakyReLU or "
                f"identity activations; {why or 'its activations have no closed-form Jacobian'}"
                " (use method='sampling')"
            )
        if traced is not None:
            shape = traced.input_shape
            forward = float64_forward(traced.module)
        else:
            shape = (net.dims[0],)
            forward = net.torch_forward
        if box is not None:
            box = check_box(box, int(np.prod(shape)))
        return sampled_lower_bound(
            forward, shape, n_samples=n_samples, n_ascent=n_ascent, box=box, seed=seed
        )
    if box is not None:
        box = check_box(box, net.dims[0])
    if method == "patterns" and not piecewise_linear(net):
        raise ValueError(
            "method 'patterns' needs ReLU, LeakyReLU or identity activations; got "
            f"{net.activations} (use method='sampling')"
        )
    start = time.perf_counter()
    use_patterns = method == "patterns" or (
        method == "auto"
        and piecewise_linear(net)
        and (box is None or bool(np.all(box[0] < box[1])))
    )
    if method == "patterns":
        lo = None
    else:
        lo = lower_bound(net, n_samples=n_samples, n_ascent=n_ascent, box=box, seed=seed)
        if not use_patterns:
            return lo
    starts = None if lo is None else np.stack([lo.x, lo.y])
    pb = pattern_lower_bound(
        net, n_restarts=n_restarts, time_budget=budget, box=box, starts=starts, seed=seed
    )
    seconds = time.perf_counter() - start
    if lo is None:
        x = pb.witness
        return LipschitzLowerBound(
            pb.value,
            0.0,
            0.0,
            x,
            x,
            pb.n_patterns,
            seconds,
            pb.value,
            "patterns",
            pb.exact,
            {"patterns": pb},
        )
    return LipschitzLowerBound(
        max(lo.value, pb.value),
        lo.jacobian,
        lo.pair_ratio,
        lo.x,
        lo.y,
        lo.n_evaluations + pb.n_patterns,
        seconds,
        pb.value,
        "sampling+patterns",
        pb.exact,
        {"patterns": pb},
    )


def lipschitz_interval(
    network: Any,
    method: str = "auto",
    activation: Any = None,
    *,
    lower: str = "auto",
    seed: int = 0,
    slopes: Mapping[str, tuple[float, float]] | None = None,
    time_budget: float | None = None,
    input_shape: Any = None,
    max_dense: int | None = None,
) -> LipschitzInterval:
    """The Lipschitz constant bracketed: ``lower <= L <= upper``, with the interval's width.

    Parameters
    ----------
    network, activation, slopes, input_shape, max_dense
        As for :func:`lipschitz_bound`.
    method : str
        The upper bound's method (:data:`METHODS`, not ``"local"``; default ``"auto"``).
    lower : {"auto", "sampling", "patterns"}
        The lower bound's method (:func:`lipschitz_lower_bound`).
    seed : int
        For the lower bound.
    time_budget : float, optional
        For the upper bound (as in :func:`lipschitz_bound`).

    Returns
    -------
    LipschitzInterval
        ``summary()`` prints ``L in [lo, hi], width ... (...% of the lower end)``.

    Raises
    ------
    ValueError
        As :func:`lipschitz_bound` and :func:`lipschitz_lower_bound`; ``method="local"`` (it
        needs a box: call the two functions).
    TypeError
        Arguments of the wrong type.

    Examples
    --------
    >>> import numpy as np
    >>> r = lipschitz_interval([np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])], "lipsdp-neuron")
    >>> (round(r.lo, 6), round(r.hi, 6), r.width < 1e-6)
    (1.0, 1.0, True)
    """
    check_choice("method", method, tuple(m for m in METHODS if m != "local"))
    check_choice("lower", lower, LOWER_METHODS)
    shape = {"input_shape": input_shape, "max_dense": max_dense}
    upper = lipschitz_bound(network, method, activation, time_budget, slopes=slopes, **shape)
    low = lipschitz_lower_bound(
        network, activation, method=lower, seed=seed, slopes=slopes, **shape
    )
    return LipschitzInterval(low, upper)
