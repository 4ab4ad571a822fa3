"""Any torch module as a graph of Lipschitz-bounded operations (``torch.fx``).

:func:`trace_network` traces ``module.forward`` with ``torch.fx`` and evaluates the graph once
on a random batch to learn every shape. Each tensor operation becomes a :class:`TracedOp`:

- ``affine``: ``nn.Linear``, ``nn.Conv1d``/``nn.Conv2d`` (any stride, padding, dilation,
  groups, padding mode), ``nn.AvgPool1d``/``nn.AvgPool2d``, ``nn.BatchNorm1d``/``nn.BatchNorm2d``
  in evaluation mode (an affine map of fixed running statistics), ``nn.Flatten``, ``view`` /
  ``reshape`` / ``flatten`` / ``squeeze`` / ``unsqueeze`` that keep the batch dimension
  (:class:`Reshape`), multiplication or division by a number (:class:`Scale`) and addition of
  a number (:class:`Shift`);
- ``activation``: the elementwise activations of :mod:`stability.lipschitz.activations`, as
  modules or in functional form (``F.relu``, ``torch.tanh``, ``x.sigmoid()``, ``F.gelu``, …),
  converted to modules;
- ``add``: ``a + b`` or ``a - b`` of two traced tensors of the same shape (residual
  connections): ``L(a ± b) <= L(a) + L(b)`` (triangle inequality);
- ``maxpool``: ``nn.MaxPool1d``/``nn.MaxPool2d``, Lipschitz in ℓ2 with constant
  ``sqrt(m)``, ``m`` the largest number of pooling windows that share an input [derived:
  ``|max_i a_i - max_i b_i| <= max_i |a_i - b_i|`` on each window ``W_o``, so
  ``Σ_o (max a - max b)² <= Σ_o ||a - b||²_{W_o} = Σ_i m_i (a_i - b_i)² <= m ||a - b||²``;
  per dimension a position lies in at most ``min(k, ⌊d(k-1)/s⌋ + 1)`` windows of kernel
  ``k``, stride ``s``, dilation ``d``; ``m`` is the product, 1 when ``s >= k`` and ``d = 1``]
  (see :func:`maxpool_lipschitz`).

Identity and Dropout (evaluation mode) vanish. Everything else is refused with a
``ValueError`` naming the node or layer: LayerNorm and the other normalisations that divide by
the input's own spread (not globally Lipschitz: near a constant input their gain grows without
bound), BatchNorm or Dropout in training mode (call ``.eval()``), slicing, concatenation,
products of tensors, a forward with several inputs or several outputs, and data-dependent
control flow that ``torch.fx`` cannot trace.

A **chain** (every operation feeds the next) is what the existing methods take: each run of
affine operations is one affine map ``x -> A x + b``; :meth:`TracedNetwork.dense_layers`
materialises it exactly by applying the run, in float64 with its biases removed, to the
identity's columns (``A``), and to zero with biases (``b``), then alternates these maps with
the activations into a :class:`~stability.lipschitz.network.Network` (BatchNorm folded,
consecutive affine maps merged, an identity map between two activations). ``max_dense``
(default :data:`MAX_DENSE` entries) limits the size of these matrices. A graph with residual
additions or MaxPool is bounded piece by piece: the maximal chains between them
(:func:`segments`) are bounded by any method, and the constants propagate through the graph:
``K(chain end) = L(chain) K(chain input)``, ``K(a ± b) = K(a) + K(b)``,
``K(maxpool) = sqrt(m) K(input)``, so ``x + g(x)`` gets ``(1 + L(g)) K(x)`` [derived:
composition multiplies Lipschitz constants, sums add them].

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893
   (the network class ``W_l φ(… φ(W_1 x + b_1) …) + b_l`` of Eq. (3)).
.. [2] J. Reed et al., "torch.fx: Practical program capture and transformation for deep
   learning in Python", MLSys 2022, arXiv:2112.08429.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from stability.lipschitz.activations import _check_custom, activation_slopes
from theory.checks import ArgumentTypeError, check_positive_int

__all__ = [
    "MAX_DENSE",
    "Reshape",
    "Scale",
    "Shift",
    "TracedNetwork",
    "TracedOp",
    "maxpool_lipschitz",
    "propagate_bounds",
    "sampled_lower_bound",
    "segments",
    "trace_network",
]

#: Default limit on the entries of a materialised affine map (and of the identity batch pushed
#: through it): 4e6 float64 entries, 32 MB.
MAX_DENSE = 4_000_000


def _nn():
    return nn


class Reshape(nn.Module):
    """``x -> x.reshape(len(x), *shape)`` (row-major: an isometry of the flat vector)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Scale(nn.Module):
    """``x -> c x`` (a number ``c``)."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = float(c)

    def forward(self, x):
        return x * self.c

    def extra_repr(self) -> str:
        return f"c={self.c}"


class Shift(nn.Module):
    """``x -> x + c`` (a number ``c``)."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = float(c)

    def forward(self, x):
        return x + self.c

    def extra_repr(self) -> str:
        return f"c={self.c}"


@dataclass(frozen=True)
class TracedOp:
    """One operation of a traced network.

    Attributes
    ----------
    name : str
        The ``torch.fx`` node (for a module call, the module's qualified name).
    kind : {"affine", "activation", "add", "maxpool"}
    module : torch.nn.Module or None
        The leaf module (functional calls converted to modules); ``None`` for ``add``.
    inputs : tuple of int
        Indices of the operations it reads (``-1``: the network's input).
    coefficients : tuple of float
        For ``add``: the signs of its terms (``a - b``: ``(1, -1)``); else ``()``.
    in_shape, out_shape : tuple of int
        Shapes without the batch dimension.
    activation : str or None
        The activation's name (:mod:`stability.lipschitz.activations`) or ``"custom"``.
    slopes : (float, float) or None
        The activation's slope interval.
    """

    name: str
    kind: str
    module: Any
    inputs: tuple[int, ...]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    coefficients: tuple[float, ...] = ()
    activation: str | None = None
    slopes: tuple[float, float] | None = None


@dataclass(frozen=True)
class TracedNetwork:
    """A module traced into :class:`TracedOp` s in topological order.

    Attributes
    ----------
    module : torch.nn.Module
        The traced module.
    input_shape, output_shape : tuple of int
        Without the batch dimension.
    ops : tuple of TracedOp
    output : int
        Index of the operation whose value the network returns (``-1``: its input).
    """

    module: Any
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    ops: tuple[TracedOp, ...]
    output: int
    details: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_inputs(self) -> int:
        """``prod(input_shape)``."""
        return math.prod(self.input_shape)

    @property
    def n_outputs(self) -> int:
        """``prod(output_shape)``."""
        return math.prod(self.output_shape)

    @property
    def is_chain(self) -> bool:
        """Every operation reads the previous one (no residual addition), and none is MaxPool."""
        return (
            all(
                op.kind in ("affine", "activation") and op.inputs == (k - 1,)
                for k, op in enumerate(self.ops)
            )
            and self.output == len(self.ops) - 1
        )

    @property
    def steps(self) -> list[Any]:
        """The chain's leaf modules in order (functional calls converted to modules).

        Raises
        ------
        ValueError
            The network is not a chain (residual additions or MaxPool).
        """
        if not self.is_chain:
            raise ValueError(
                "network: not a chain (it has residual additions or MaxPool); bound it by "
                "segments (stability.lipschitz.trace.segments)"
            )
        return [op.module for op in self.ops]

    def forward(self, x: Any) -> Any:
        """Evaluate the traced operations on a batch ``x`` of shape ``(m, *input_shape)``
        (a torch tensor; the result equals ``module(x)``)."""
        import torch

        if not isinstance(x, torch.Tensor):
            raise ArgumentTypeError(f"x must be a torch tensor; got {type(x).__name__}")
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"x must have shape (m, *{self.input_shape}); got {tuple(x.shape)}")
        vals = {-1: x}
        for k, op in enumerate(self.ops):
            if op.kind == "add":
                vals[k] = sum(c * vals[j] for c, j in zip(op.coefficients, op.inputs, strict=True))
            else:
                vals[k] = op.module(vals[op.inputs[0]])
        return vals[self.output]

    def dense_size(self) -> int:
        """The largest entry count of the float64 arrays :meth:`dense_layers` would build (an
        affine run's identity batch pushed through it: inputs times its widest shape)."""
        best = 0
        for run in _affine_runs(self.ops):
            n_in = math.prod(self.ops[run[0]].in_shape)
            widest = max(math.prod(self.ops[k].out_shape) for k in run)
            best = max(best, n_in * max(widest, n_in))
        return best

    def dense_layers(self, max_dense: int | None = None) -> list[tuple]:
        """The chain as exact float64 layers ``("lin", W, b)`` and ``("act", name, slopes)``,
        affine runs merged (:func:`stability.lipschitz.as_network` of a :class:`TracedNetwork`
        assembles them into a :class:`~stability.lipschitz.network.Network`).

        Raises
        ------
        ValueError
            Not a chain; an affine run larger than ``max_dense`` entries (naming it).
        """
        limit = MAX_DENSE if max_dense is None else check_positive_int("max_dense", max_dense)
        if not self.is_chain:
            raise ValueError(
                "network: has residual additions or MaxPool, not a chain of affine maps and "
                "activations; as_network needs a chain (lipschitz_bound bounds it by segments)"
            )
        size = self.dense_size()
        if size > limit:
            raise ValueError(
                f"network: materialising its affine maps needs {size} float64 entries, over "
                f"max_dense={limit}; use a matrix-free method or raise max_dense"
            )
        if not self.ops:
            n = self.n_inputs
            return [("lin", np.eye(n), np.zeros(n))]
        items: list[tuple] = []
        k = 0
        while k < len(self.ops):
            op = self.ops[k]
            if op.kind == "activation":
                if items and items[-1][0] == "act":  # two activations: an identity between
                    n = math.prod(op.in_shape)
                    items.append(("lin", np.eye(n), np.zeros(n)))
                items.append(("act", op.activation, op.slopes))
                k += 1
                continue
            run = [k]
            while k + 1 < len(self.ops) and self.ops[k + 1].kind == "affine":
                k += 1
                run.append(k)
            items.append(("lin", *_materialise([self.ops[j] for j in run])))
            k += 1
        if not any(it[0] == "lin" for it in items):  # activations only
            n = self.n_inputs
            items.insert(0, ("lin", np.eye(n), np.zeros(n)))
        return items


def _affine_runs(ops) -> list[list[int]]:
    runs, cur = [], []
    for k, op in enumerate(ops):
        if op.kind == "affine" and (not cur or op.inputs == (cur[-1],)):
            cur.append(k)
        else:
            if cur:
                runs.append(cur)
            cur = [k] if op.kind == "affine" else []
    if cur:
        runs.append(cur)
    return runs


def _linear_part(module: Any) -> Any:
    """A float64 copy of an affine module with its offset removed (``x -> A x``)."""
    import torch

    nn = _nn()
    m = copy.deepcopy(module).to(torch.float64)
    for sub in m.modules():
        if isinstance(sub, nn.Linear | nn.Conv1d | nn.Conv2d):
            sub.bias = None
        elif isinstance(sub, nn.BatchNorm1d | nn.BatchNorm2d):
            sub.running_mean.zero_()
            if sub.bias is not None:
                with torch.no_grad():
                    sub.bias.zero_()
        elif isinstance(sub, Shift):
            sub.c = 0.0
    return m


def _materialise(run: list[TracedOp]) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` of an affine run: ``A`` from the identity's columns, ``b`` from zero."""
    import torch

    in_shape = run[0].in_shape
    n = math.prod(in_shape)
    lin = [_linear_part(op.module) for op in run]
    full = [copy.deepcopy(op.module).to(torch.float64) for op in run]
    with torch.no_grad():
        h = torch.eye(n, dtype=torch.float64).reshape(n, *in_shape)
        z = torch.zeros((1, *in_shape), dtype=torch.float64)
        for m, f in zip(lin, full, strict=True):
            h, z = m(h), f(z)
    a = h.reshape(n, -1).T.contiguous().numpy().copy()
    b = z.reshape(-1).numpy().copy()
    return a, b


def maxpool_lipschitz(pool: Any) -> float:
    """``sqrt(m)``: the ℓ2 Lipschitz constant bound of a MaxPool layer (module docstring).

    ``m = prod_d min(k_d, ⌊d_d (k_d - 1)/s_d⌋ + 1)`` bounds how many windows share an input.

    Raises
    ------
    TypeError
        ``pool`` not an ``nn.MaxPool1d``/``nn.MaxPool2d``.

    Examples
    --------
    >>> from torch import nn
    >>> maxpool_lipschitz(nn.MaxPool2d(2)), maxpool_lipschitz(nn.MaxPool2d(3, stride=1))
    (1.0, 3.0)
    """
    nn = _nn()
    if isinstance(pool, nn.MaxPool1d):
        dims = 1
    elif isinstance(pool, nn.MaxPool2d):
        dims = 2
    else:
        raise ArgumentTypeError(
            f"pool must be an nn.MaxPool1d or nn.MaxPool2d; got {type(pool).__name__}"
        )

    def per_dim(v):
        return tuple(v) if isinstance(v, tuple | list) else (v,) * dims

    ks = per_dim(pool.kernel_size)
    ss = per_dim(pool.stride if pool.stride is not None else pool.kernel_size)
    ds = per_dim(pool.dilation)
    m = 1
    for k, s, d in zip(ks, ss, ds, strict=True):
        m *= min(int(k), (int(d) * (int(k) - 1)) // int(s) + 1)
    return math.sqrt(m)


def segments(traced: TracedNetwork) -> list[list[int]]:
    """The maximal chains of affine operations and activations of a traced graph (lists of
    operation indices): each starts at the input, after an addition or MaxPool, or after an
    operation read by several others, and ends where the next operation does not read it
    alone. Additions and MaxPool are not in any segment.

    Raises
    ------
    TypeError
        ``traced`` not a :class:`TracedNetwork`.
    """
    if not isinstance(traced, TracedNetwork):
        raise ArgumentTypeError(
            f"traced must be a TracedNetwork (from trace_network); got {type(traced).__name__}"
        )
    consumers = {k: 0 for k in range(-1, len(traced.ops))}
    for op in traced.ops:
        for j in op.inputs:
            consumers[j] += 1
    consumers[traced.output] += 1
    out: list[list[int]] = []
    last: dict[int, int] = {}  # op index -> its segment
    for k, op in enumerate(traced.ops):
        if op.kind not in ("affine", "activation"):
            continue
        j = op.inputs[0]
        if j >= 0 and j in last and consumers[j] == 1 and out[last[j]][-1] == j:
            out[last[j]].append(k)
            last[k] = last[j]
        else:
            last[k] = len(out)
            out.append([k])
    return out


def propagate_bounds(traced: TracedNetwork, segment_bounds: list[float]) -> float:
    """The network's Lipschitz bound from bounds on its :func:`segments` (module docstring):
    products along chains, sums at additions, ``sqrt(m)`` at MaxPool.

    Raises
    ------
    ValueError
        ``segment_bounds`` not one finite number ``>= 0`` per segment.
    TypeError
        ``traced`` not a :class:`TracedNetwork`.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> class Block(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.g = nn.Linear(2, 2)
    ...     def forward(self, x):
    ...         return x + self.g(x)
    >>> propagate_bounds(trace_network(Block()), [0.5])  # (1 + 0.5) * 1
    1.5
    """
    segs = segments(traced)
    vals = (
        np.asarray(segment_bounds, dtype=np.float64)
        if not isinstance(segment_bounds, str | bytes)
        else np.array([np.nan])
    )
    if vals.shape != (len(segs),) or not np.all(np.isfinite(vals)) or np.any(vals < 0):
        raise ValueError(
            f"segment_bounds must hold one finite number >= 0 per segment ({len(segs)}); got "
            f"{segment_bounds!r}"
        )
    segment_bounds = [float(v) for v in vals]
    first = {s[0]: i for i, s in enumerate(segs)}
    ends = {s[-1]: i for i, s in enumerate(segs)}
    k_of = {-1: 1.0}
    for k, op in enumerate(traced.ops):
        if op.kind == "add":
            k_of[k] = sum(abs(c) * k_of[j] for c, j in zip(op.coefficients, op.inputs, strict=True))
        elif op.kind == "maxpool":
            k_of[k] = maxpool_lipschitz(op.module) * k_of[op.inputs[0]]
        elif k in first:
            start_in = op.inputs[0]
            seg = segs[first[k]]
            k_of[seg[-1]] = segment_bounds[first[k]] * k_of[start_in]
        elif k not in ends and k not in k_of:
            pass  # inside a segment: its end carries the value
    return k_of[traced.output]


# ------------------------------------------------------------------------------------------
# Tracing
# ------------------------------------------------------------------------------------------


def _functional_table() -> dict[Any, Any]:
    """torch functions and Tensor method names -> a builder ``(*args, **kwargs) -> module``."""
    import torch
    from torch.nn import functional as F

    nn = _nn()

    def act(cls, **fixed):
        def build(*args, **kwargs):
            kwargs.pop("inplace", None)
            return cls(*args, **{**fixed, **kwargs})

        return build

    def gelu(approximate="none"):
        return nn.GELU(approximate=approximate)

    def leaky(negative_slope=0.01, inplace=False):
        return nn.LeakyReLU(negative_slope)

    def elu(alpha=1.0, inplace=False):
        return nn.ELU(alpha)

    def celu(alpha=1.0, inplace=False):
        return nn.CELU(alpha)

    def softplus(beta=1.0, threshold=20.0):
        return nn.Softplus(beta, threshold)

    def hardtanh(min_val=-1.0, max_val=1.0, inplace=False):
        return nn.Hardtanh(min_val, max_val)

    table = {
        torch.relu: act(nn.ReLU),
        F.relu: act(nn.ReLU),
        "relu": act(nn.ReLU),
        torch.tanh: act(nn.Tanh),
        F.tanh: act(nn.Tanh),
        "tanh": act(nn.Tanh),
        torch.sigmoid: act(nn.Sigmoid),
        F.sigmoid: act(nn.Sigmoid),
        "sigmoid": act(nn.Sigmoid),
        F.gelu: gelu,
        F.silu: act(nn.SiLU),
        F.mish: act(nn.Mish),
        F.leaky_relu: leaky,
        F.elu: elu,
        F.celu: celu,
        F.selu: act(nn.SELU),
        F.softplus: softplus,
        F.softsign: act(nn.Softsign),
        F.hardtanh: hardtanh,
        F.relu6: act(nn.ReLU6),
        F.hardswish: act(nn.Hardswish),
        F.hardsigmoid: act(nn.Hardsigmoid),
    }
    return table


_RESHAPES = ("view", "reshape", "flatten", "squeeze", "unsqueeze", "contiguous")
_NORMS = (
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "LocalResponseNorm",
    "RMSNorm",
)


def _describe(node) -> str:
    t = node.target
    what = t if isinstance(t, str) else getattr(t, "__name__", repr(t))
    return f"node {node.name!r} ({node.op} {what})"


def _check_modes(module: Any) -> None:
    """BatchNorm and Dropout must be in evaluation mode (a ValueError naming the layer)."""
    nn = _nn()
    for qual, sub in module.named_modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            if sub.training:
                raise ValueError(
                    f"network: layer {qual!r} ({type(sub).__name__}) is in training mode (it "
                    "normalises by batch statistics); call .eval() on the network first"
                )
            if sub.running_mean is None:
                raise ValueError(
                    f"network: layer {qual!r} ({type(sub).__name__}) has no running "
                    "statistics (track_running_stats=False: it normalises by batch statistics "
                    "even in evaluation mode), so it is not a fixed function"
                )
        if isinstance(sub, nn.modules.dropout._DropoutNd) and sub.training and sub.p > 0:
            raise ValueError(
                f"network: layer {qual!r} ({type(sub).__name__}) is in training mode "
                "(random); call .eval() on the network first"
            )


def _check_shape(input_shape: Any) -> tuple[int, ...]:
    if isinstance(input_shape, int | np.integer) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    if isinstance(input_shape, str | bytes) or not isinstance(input_shape, tuple | list):
        raise ArgumentTypeError(
            f"input_shape must be a tuple of positive ints (without the batch dimension); got "
            f"{input_shape!r}"
        )
    if not input_shape:
        raise ValueError("input_shape must be non-empty (without the batch dimension); got ()")
    return tuple(check_positive_int("input_shape", s) for s in input_shape)


def _dtype(module: Any) -> Any:
    import torch

    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    for b in module.buffers():
        if b.is_floating_point():
            return b.dtype
    return torch.get_default_dtype()


def trace_network(
    module: Any,
    input_shape: Any = None,
    *,
    slopes: Mapping[str, tuple[float, float]] | None = None,
) -> TracedNetwork:
    """Trace ``module`` into Lipschitz-bounded operations (module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        Any module whose forward takes one tensor and returns one tensor, built from the
        supported operations (module docstring). Its own mode is kept: BatchNorm and Dropout
        must already be in evaluation mode.
    input_shape : tuple of int, optional
        One input's shape without the batch dimension; inferred when the first operation is
        ``nn.Linear`` (``(in_features,)``), required otherwise.
    slopes : mapping of str to (float, float), optional
        Slope intervals of further activation classes by class name (treated as leaves).

    Returns
    -------
    TracedNetwork

    Raises
    ------
    ValueError
        An unsupported operation or layer (named), a layer in training mode (use
        ``.eval()``), several inputs or outputs, a forward that ``torch.fx`` cannot trace, a
        missing ``input_shape`` (first operation not Linear) or one the forward rejects.
    TypeError
        ``module`` not an ``nn.Module``; ``input_shape`` not a tuple of ints; bad ``slopes``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> t = trace_network(nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Flatten(),
    ...                                 nn.Linear(4, 1)), (1, 4))
    >>> [op.kind for op in t.ops], t.is_chain
    (['affine', 'activation', 'affine', 'affine'], True)
    """
    import torch
    from torch import fx

    nn = _nn()
    if not isinstance(module, nn.Module):
        raise ArgumentTypeError(
            f"network (module) must be a torch nn.Module; got {type(module).__name__}"
        )
    custom = _check_custom(slopes)
    if input_shape is not None:
        input_shape = _check_shape(input_shape)
    _check_modes(module)

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            if type(m).__name__ in custom:
                return True
            return super().is_leaf_module(m, qualname)

    tracer = _Tracer()
    try:
        graph = tracer.trace(module)
    except Exception as exc:
        raise ValueError(
            f"network: torch.fx cannot trace {type(module).__name__} ({type(exc).__name__}: "
            f"{str(exc)[:200]}); its forward must be a fixed graph of tensor operations (no "
            "control flow on tensor values)"
        ) from None
    gm = fx.GraphModule(tracer.root, graph)
    nodes = list(graph.nodes)
    holders = [n for n in nodes if n.op == "placeholder"]
    if len(holders) != 1:
        raise ValueError(
            f"network: its forward takes {len(holders)} inputs ({[n.name for n in holders]}); "
            "a policy of one tensor input is needed (wrap it)"
        )
    if input_shape is None:
        input_shape = _infer_shape(gm, holders[0])
    dtype = _dtype(module)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((2, *input_shape), generator=gen, dtype=torch.float64).to(dtype)
    table = _functional_table()
    env: dict[Any, Any] = {}
    index: dict[Any, Any] = {}  # node -> op index, -1 (input) or "const"
    ops: list[TracedOp] = []
    output = None
    with torch.no_grad():
        for n in nodes:
            if n.op == "placeholder":
                env[n], index[n] = x, -1
                continue
            if n.op == "output":
                output = _output_index(n, index)
                break
            args = fx.node.map_arg(n.args, lambda a: env[a])
            kwargs = fx.node.map_arg(n.kwargs, lambda a: env[a])
            try:
                if n.op == "get_attr":
                    val = _fetch(gm, n.target)
                elif n.op == "call_module":
                    val = gm.get_submodule(n.target)(*args, **kwargs)
                elif n.op == "call_function":
                    val = n.target(*args, **kwargs)
                else:
                    val = getattr(args[0], n.target)(*args[1:], **kwargs)
            except Exception as exc:
                raise ValueError(
                    f"input_shape: the forward fails on inputs of shape {input_shape} at "
                    f"{_describe(n)}: {type(exc).__name__}: {str(exc)[:200]}"
                ) from None
            env[n] = val
            if n.op == "get_attr":
                index[n] = "const"
                continue
            tensors = [a for a in _flat_nodes(n.args, n.kwargs) if a in index]
            if any(index[a] == "const" for a in tensors):
                raise ValueError(
                    f"network: {_describe(n)} reads a parameter tensor directly (functional "
                    "layers such as F.linear(x, self.weight)); use nn.Linear / nn.Conv2d modules"
                )
            if not isinstance(val, torch.Tensor):
                if isinstance(val, tuple | list) and any(isinstance(v, torch.Tensor) for v in val):
                    raise ValueError(
                        f"network: {_describe(n)} returns several tensors; unsupported (a "
                        "chain of single-tensor operations is needed)"
                    )
                continue  # sizes and shapes
            if not tensors:
                raise ValueError(
                    f"network: {_describe(n)} creates a tensor that does not depend on the "
                    "input (a constant); unsupported"
                )
            if val.ndim == 0 or val.shape[0] != 2:
                raise ValueError(
                    f"network: {_describe(n)} mixes the batch dimension (output shape "
                    f"{tuple(val.shape)} for a batch of 2); operations must act per sample"
                )
            made = _classify(gm, n, args, kwargs, val, tensors, env, index, ops, table, custom)
            if isinstance(made, int):  # an identity: the node is its input
                index[n] = made
            else:
                ops.append(made)
                index[n] = len(ops) - 1
    ops_t, out = _prune(ops, output)
    out_shape = input_shape if out == -1 else ops_t[out].out_shape
    return TracedNetwork(module, input_shape, out_shape, ops_t, out)


def _fetch(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _flat_nodes(args, kwargs) -> list[Any]:
    from torch import fx

    out: list[Any] = []
    fx.node.map_arg((args, kwargs), lambda a: out.append(a) or a)
    return out


def _output_index(node, index) -> int:
    from torch import fx

    val = node.args[0]
    if not isinstance(val, fx.Node):
        n = len(val) if isinstance(val, tuple | list | dict) else 1
        raise ValueError(
            f"network: its forward returns {type(val).__name__} of {n} outputs; a policy "
            "returning one tensor is needed (wrap it to return the logits)"
        )
    if val not in index or index[val] == "const":
        raise ValueError(f"network: its output {val.name!r} is not a traced tensor of the input")
    return index[val]


def _infer_shape(gm, holder) -> tuple[int, ...]:
    nn = _nn()
    users = list(holder.users)
    for user in users:
        if user.op == "call_module" and isinstance(gm.get_submodule(user.target), nn.Linear):
            return (int(gm.get_submodule(user.target).in_features),)
    first = "none"
    if users:
        u = users[0]
        kind = type(gm.get_submodule(u.target)).__name__ if u.op == "call_module" else u.op
        first = f"{u.target if u.op == 'call_module' else u.name!r} ({kind})"
    raise ValueError(
        f"input_shape is needed (one input's shape without the batch dimension, e.g. "
        f"(C, H, W)): network's first operation ({first}) is not an nn.Linear"
    )


def _shape(t) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape[1:])


def _classify(gm, n, args, kwargs, val, tensors, env, index, ops, table, custom):
    """A :class:`TracedOp` for node ``n``, or the index it aliases (identities)."""
    import torch
    from torch.nn import functional as F

    nn = _nn()
    out_shape = _shape(val)
    first = tensors[0]
    in_shape = _shape(env[first])

    def op(kind, module, **kw):
        return TracedOp(n.name, kind, module, (index[first],), in_shape, out_shape, **kw)

    def act(module):
        found = activation_slopes(module, custom)
        if found is None:  # pragma: no cover - the table's builders make known modules
            raise ValueError(f"network: {_describe(n)}: unknown activation")
        name, sl = found
        if name == "identity":
            return index[first]
        return op("activation", module, activation=name, slopes=sl)

    if n.op == "call_module":
        mod = gm.get_submodule(n.target)
        cls = type(mod).__name__
        if len(tensors) != 1:
            raise ValueError(f"network: layer {n.target!r} ({cls}) takes several tensors")
        if cls in custom:
            return act(mod)
        if isinstance(mod, nn.Linear | nn.Conv1d | nn.Conv2d | nn.AvgPool1d | nn.AvgPool2d):
            return op("affine", mod)
        if isinstance(mod, nn.BatchNorm1d | nn.BatchNorm2d):
            return op("affine", mod)
        if isinstance(mod, nn.Flatten | nn.Unflatten):
            return op("affine", mod) if out_shape != in_shape else index[first]
        if isinstance(mod, nn.MaxPool1d | nn.MaxPool2d):
            if mod.return_indices:
                raise ValueError(f"network: layer {n.target!r} ({cls}) returns indices")
            return op("maxpool", mod)
        if cls in _NORMS:
            raise ValueError(
                f"network: layer {n.target!r} ({cls}) is not supported: it divides by the "
                "input's own spread, so its Lipschitz constant is unbounded near constant "
                "inputs (no global bound exists)"
            )
        found = activation_slopes(mod, custom)
        if found is not None:
            return act(mod)
        raise ValueError(
            f"network: unsupported layer {n.target!r} ({cls}); supported are Linear, Conv1d, "
            "Conv2d, AvgPool, MaxPool, BatchNorm (eval), Flatten, Dropout (eval) and the "
            "activations of stability.lipschitz.activations (or pass "
            f"slopes={{{cls!r}: (alpha, beta)}} for an elementwise activation)"
        )
    target = n.target
    if (n.op == "call_method" and target in _RESHAPES) or target in (
        torch.flatten,
        torch.reshape,
        torch.squeeze,
        torch.unsqueeze,
    ):
        if out_shape == in_shape:
            return index[first]
        module = nn.Flatten() if len(out_shape) == 1 else Reshape(out_shape)
        return op("affine", module)
    if target in ("relu", "tanh", "sigmoid") or (not isinstance(target, str) and target in table):
        extra = list(args[1:])  # after the tensor (the function's x, or the method's self)
        return act(table[target](*extra, **dict(kwargs)))
    if target in (F.dropout, F.dropout1d, F.dropout2d, F.alpha_dropout):
        training = kwargs.get("training", args[2] if len(args) > 2 else True)
        p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
        if training and p > 0:
            raise ValueError(
                f"network: {_describe(n)} is dropout in training mode (random); pass "
                "training=self.training and call .eval()"
            )
        return index[first]
    adds = (operator.add, operator.iadd, torch.add, "add", "add_")
    subs = (operator.sub, operator.isub, torch.sub, "sub", "sub_")
    if target in adds or target in subs:
        sign = -1.0 if target in subs else 1.0
        alpha = kwargs.get("alpha", 1)
        operands = args
        is_t = [isinstance(a, torch.Tensor) for a in operands[:2]]
        if all(is_t):
            nodes_ = [a for a in n.args[:2]]
            if len(tensors) != 2 or any(a not in index for a in nodes_):
                raise ValueError(f"network: {_describe(n)} adds a tensor that is not traced")
            for a in operands[:2]:
                if _shape(a) != out_shape:
                    raise ValueError(
                        f"network: {_describe(n)} adds tensors of shapes {_shape(operands[0])} "
                        f"and {_shape(operands[1])} (broadcasting); unsupported"
                    )
            return TracedOp(
                n.name,
                "add",
                None,
                (index[nodes_[0]], index[nodes_[1]]),
                out_shape,
                out_shape,
                coefficients=(1.0, sign * float(alpha)),
            )
        num = [isinstance(a, int | float) and not isinstance(a, bool) for a in operands[:2]]
        if is_t[0] and num[1]:
            return op("affine", Shift(sign * float(alpha) * operands[1]))
        if num[0] and is_t[1] and target in adds and float(alpha) == 1.0:
            return op("affine", Shift(float(operands[0])))
        raise ValueError(
            f"network: {_describe(n)} is not 'tensor ± tensor' or 'tensor ± number'; unsupported"
        )
    muls = (operator.mul, operator.imul, torch.mul, "mul", "mul_")
    divs = (operator.truediv, operator.itruediv, torch.div, "div", "div_")
    if target in muls or target in divs:
        operands = list(args[:2])
        nums = [a for a in operands if isinstance(a, int | float) and not isinstance(a, bool)]
        if len(tensors) == 1 and len(nums) == 1 and (target in muls or operands[1] is nums[0]):
            c = float(nums[0])
            if target in divs:
                if c == 0 or kwargs.get("rounding_mode") is not None:
                    raise ValueError(f"network: {_describe(n)} divides by zero or rounds")
                c = 1.0 / c
            return op("affine", Scale(c))
        raise ValueError(
            f"network: {_describe(n)}{_inside(n)} is not a tensor times a number; products of "
            "tensors are unsupported"
        )
    if target in (operator.neg, torch.neg, "neg"):
        return op("affine", Scale(-1.0))
    raise ValueError(
        f"network: unsupported operation at {_describe(n)}{_inside(n)}; supported are Linear, "
        "Conv, pooling, BatchNorm (eval), reshapes, residual additions, scalar scaling/shifts "
        "and elementwise activations"
    )


def _inside(n) -> str:
    """``" inside layer 'q' (Cls): ... pass slopes=..."`` when ``n`` runs inside a user module."""
    stack = n.meta.get("nn_module_stack") or {}
    for qual, (_, cls) in reversed(list(stack.items())):
        cls = cls if isinstance(cls, type) else None
        if cls is not None and not cls.__module__.startswith("torch.nn") and qual:
            name = cls.__name__
            return (
                f" inside layer {qual!r} ({name}); if {name} is an elementwise activation, pass "
                f"slopes={{{name!r}: (alpha, beta)}}"
            )
    return ""


def _prune(ops: list[TracedOp], output: int) -> tuple[tuple[TracedOp, ...], int]:
    """Drop the operations the output does not read; renumber."""
    need = set()
    stack = [output]
    while stack:
        k = stack.pop()
        if k < 0 or k in need:
            continue
        need.add(k)
        stack.extend(ops[k].inputs)
    keep = sorted(need)
    new = {-1: -1, **{k: i for i, k in enumerate(keep)}}
    out = []
    for k in keep:
        op = ops[k]
        out.append(
            TracedOp(
                op.name,
                op.kind,
                op.module,
                tuple(new[j] for j in op.inputs),
                op.in_shape,
                op.out_shape,
                op.coefficients,
                op.activation,
                op.slopes,
            )
        )
    return tuple(out), new[output]


# ------------------------------------------------------------------------------------------
# Sampled lower bounds on any module (autograd Jacobians and pair ratios)
# ------------------------------------------------------------------------------------------

#: Float64 entries of the Jacobians held at once.
_JACOBIAN_ENTRIES = 20_000_000


def sampled_lower_bound(
    forward: Any,
    input_shape: tuple[int, ...],
    *,
    n_samples: int = 2048,
    n_ascent: int = 200,
    n_starts: int = 8,
    box: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
):
    """``max(||J_f(x)||_2, ||f(x) - f(y)||/||x - y||)`` over sampled points of any torch
    function ``forward`` (float64 batch ``(m, *input_shape)`` -> ``(m, …)``): autograd
    Jacobians at standard normal points (uniform in ``box``, flat coordinates), then an Adam
    ascent of the pair ratio from the best points (as
    :func:`stability.lipschitz.lower.lower_bound`). Every value is a true lower bound (a
    Jacobian norm where ``f`` is differentiable, a ratio everywhere).

    Raises
    ------
    ValueError
        Counts out of range (``n_samples, n_starts >= 1``, ``n_ascent >= 0``), a bad ``seed``,
        ``box`` or ``input_shape``.
    TypeError
        ``forward`` not callable; counts not integers.

    Examples
    --------
    >>> import torch
    >>> r = sampled_lower_bound(lambda x: 3.0 * torch.tanh(x), (2,), n_samples=64, n_ascent=0)
    >>> 2.9 < r.value <= 3.0
    True
    """
    import time

    import torch

    from stability.lipschitz.box import check_box
    from stability.lipschitz.result import LipschitzLowerBound
    from theory.checks import check_int, check_seed

    if not callable(forward):
        raise ArgumentTypeError(f"forward must be a callable on torch tensors; got {forward!r}")
    input_shape = _check_shape(input_shape)
    n_samples = check_int("n_samples", n_samples, lo=1)
    n_ascent = check_int("n_ascent", n_ascent, lo=0)
    n_starts = check_int("n_starts", n_starts, lo=1)
    seed = check_seed(seed)
    if box is not None:
        box = check_box(box, math.prod(input_shape))
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    n_in = math.prod(input_shape)

    def f(flat):
        return forward(flat.reshape(len(flat), *input_shape)).reshape(len(flat), -1)

    if box is None:
        x = rng.standard_normal((n_samples, n_in))
        lo = hi = None
    else:
        lo, hi = box
        x = rng.uniform(lo, hi, (n_samples, n_in))
    with torch.no_grad():
        n_out = f(torch.as_tensor(x[:1])).shape[1]
    chunk = max(1, min(n_samples, _JACOBIAN_ENTRIES // max(1, n_out * n_in)))
    norms = np.empty(n_samples)
    for s in range(0, n_samples, chunk):
        tx = torch.tensor(x[s : s + chunk], dtype=torch.float64, requires_grad=True)
        y = f(tx)
        rows = [
            torch.autograd.grad(y[:, i].sum(), tx, retain_graph=i + 1 < n_out)[0]
            for i in range(n_out)
        ]
        jac = torch.stack(rows, dim=1)
        norms[s : s + chunk] = torch.linalg.matrix_norm(jac, ord=2).detach().numpy()
    norms = np.nan_to_num(norms, nan=0.0)
    order = np.argsort(-norms)[: max(1, min(n_starts, n_samples))]
    best_j = float(norms[order[0]])
    xs = x[order]
    scale = 1.0 if box is None else float(np.max(hi - lo)) + 1e-12
    ys = xs + 1e-3 * scale * rng.standard_normal(xs.shape)
    if box is not None:
        ys = np.clip(ys, lo, hi)

    def ratios(a, b):
        with torch.no_grad():
            ta, tb = torch.as_tensor(a), torch.as_tensor(b)
            num = (f(ta) - f(tb)).norm(dim=1).numpy()
        den = np.linalg.norm(a - b, axis=1)
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), -np.inf)
        i = int(np.argmax(r))
        return max(float(r[i]), 0.0), a[i], b[i]

    ratio, bx, by = ratios(xs, ys)
    evals = n_samples + len(xs)
    if n_ascent > 0:
        tx = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
        ty = torch.tensor(ys, dtype=torch.float64, requires_grad=True)
        # Adam (Kingma & Ba, ICLR 2015, Algorithm 1) by hand: torch.optim's first use imports
        # torch._dynamo (seconds)
        lr, b1, b2, eps = 1e-2 * scale, 0.9, 0.999, 1e-8
        moments = [(torch.zeros_like(tx), torch.zeros_like(tx)) for _ in range(2)]
        for it in range(1, n_ascent + 1):
            r = (f(tx) - f(ty)).norm(dim=1) / ((tx - ty).norm(dim=1) + 1e-300)
            grads = torch.autograd.grad(-r.sum(), [tx, ty])
            with torch.no_grad():
                for p, g, (m1, m2) in zip((tx, ty), grads, moments, strict=True):
                    m1.mul_(b1).add_(g, alpha=1 - b1)
                    m2.mul_(b2).addcmul_(g, g, value=1 - b2)
                    step = lr / (1 - b1**it)
                    p.sub_(step * m1 / ((m2 / (1 - b2**it)).sqrt() + eps))
            if box is not None:
                with torch.no_grad():
                    tx.clamp_(torch.as_tensor(lo), torch.as_tensor(hi))
                    ty.clamp_(torch.as_tensor(lo), torch.as_tensor(hi))
            evals += len(xs)
        r2, bx2, by2 = ratios(tx.detach().numpy(), ty.detach().numpy())
        if r2 > ratio:
            ratio, bx, by = r2, bx2, by2
    shape = tuple(input_shape)
    return LipschitzLowerBound(
        max(best_j, ratio),
        best_j,
        ratio,
        bx.reshape(shape),
        by.reshape(shape),
        evals,
        time.perf_counter() - start,
    )


def float64_forward(module: Any) -> Any:
    """A float64 copy of ``module`` (evaluation mode kept) for exact-enough sampling."""
    import torch

    return copy.deepcopy(module).to(torch.float64)
