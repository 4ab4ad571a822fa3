"""Feed-forward networks as weight lists with slope-restricted activations.

Every Lipschitz method of :mod:`stability.lipschitz` works on a :class:`Network`:
``f(x) = W_l φ_{l-1}(W_{l-1} … φ_1(W_1 x + b_1) … + b_{l-1}) + b_l`` with each activation
``φ_k`` applied elementwise and slope-restricted in ``[alpha_k, beta_k]``
(``alpha_k <= (φ(a) - φ(b)) / (a - b) <= beta_k``), the setting of LipSDP [1]_ (Eq. (3)).

:func:`as_network` builds one from a torch module (an ``nn.Sequential`` of Linear layers and
the activations of :mod:`stability.lipschitz.activations` directly; any other module through
:func:`stability.lipschitz.trace.trace_network`, which materialises a chain of Linear, Conv,
pooling, BatchNorm, reshapes and activations exactly) or from a list of weight matrices with a
named activation between them. Consecutive Linear layers are merged (their product is exact); a
leading or trailing activation is wrapped with an identity weight matrix, which leaves ``f``
unchanged. Anything else is rejected with a ``ValueError`` naming the layer.

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stability.lipschitz.activations import (
    ACTIVATION_SLOPES,
    _check_custom,
    _check_interval,
    activation_slopes,
    check_activation_name,
    evaluate_activation,
    slopes_of_name,
)
from stability.lipschitz.box import check_box
from theory.checks import ArgumentTypeError, as_float_array, check_positive_int

__all__ = ["ACTIVATION_SLOPES", "Network", "as_network", "check_box", "merge_linear_layers"]


@dataclass(frozen=True)
class Network:
    """A feed-forward network ``W_l φ(… φ(W_1 x + b_1) …) + b_l`` in float64.

    Attributes
    ----------
    weights : tuple of ndarray
        ``W_k`` of shape ``(n_k, n_{k-1})``, ``k = 1..l``.
    biases : tuple of ndarray
        ``b_k`` of shape ``(n_k,)`` (zeros when absent).
    slopes : tuple of (float, float)
        ``(alpha_k, beta_k)`` of the activation after layer ``k``, ``k = 1..l-1``.
    activations : tuple of str
        The activation names (for evaluation: ``relu``, ``leaky_relu:<s>``, ``tanh``,
        ``sigmoid``, ``softplus``, ``identity``, or ``custom`` when only slopes are known).
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    slopes: tuple[tuple[float, float], ...]
    activations: tuple[str, ...]

    def __post_init__(self) -> None:
        """Refuse inconsistent or non-finite parts (a ValueError naming the field)."""
        ws, bs = self.weights, self.biases
        if not isinstance(ws, tuple) or not ws:
            raise ArgumentTypeError(f"weights must be a non-empty tuple of matrices; got {ws!r}")
        for k, w in enumerate(ws):
            if not isinstance(w, np.ndarray) or w.ndim != 2:
                raise ArgumentTypeError(
                    f"weights[{k}] must be a 2-D ndarray; got {type(w).__name__} "
                    f"of shape {np.shape(w)}"
                )
            if k and w.shape[1] != ws[k - 1].shape[0]:
                raise ValueError(
                    f"weights[{k}] of shape {w.shape} does not chain with shape {ws[k - 1].shape}"
                )
            if not np.all(np.isfinite(w)):
                raise ValueError(f"weights[{k}] has non-finite entries")
        if not isinstance(bs, tuple) or len(bs) != len(ws):
            raise ValueError(f"biases must be a tuple of {len(ws)} vectors; got {bs!r}")
        for k, (w, b) in enumerate(zip(ws, bs, strict=True)):
            if np.shape(b) != (w.shape[0],):
                raise ValueError(f"biases[{k}] must have shape ({w.shape[0]},); got {np.shape(b)}")
            if not np.all(np.isfinite(b)):
                raise ValueError(f"biases[{k}] has non-finite entries")
        if len(self.slopes) != len(ws) - 1:
            raise ValueError(
                f"slopes must hold one (alpha, beta) per hidden layer ({len(ws) - 1}); "
                f"got {self.slopes!r}"
            )
        for k, s in enumerate(self.slopes):
            _check_interval(f"slopes[{k}]", s)
        if len(self.activations) != len(ws) - 1:
            raise ValueError(
                f"activations must hold one name per hidden layer ({len(ws) - 1}); "
                f"got {self.activations!r}"
            )
        for k, name in enumerate(self.activations):
            check_activation_name(name, f"activations[{k}]")

    @property
    def dims(self) -> tuple[int, ...]:
        """``(n_0, n_1, …, n_l)``."""
        return (self.weights[0].shape[1], *(w.shape[0] for w in self.weights))

    @property
    def depth(self) -> int:
        """Number of weight matrices ``l``."""
        return len(self.weights)

    @property
    def n_hidden(self) -> int:
        """Number of hidden neurons ``N = n_1 + … + n_{l-1}``."""
        return int(sum(self.dims[1:-1]))

    def slope_vectors(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The slopes as neuron-wise ``(alpha_k, beta_k)`` arrays, one pair per hidden layer
        (the form the bounds take for local, neuron-wise slopes)."""
        return [
            (np.full(w.shape[0], a), np.full(w.shape[0], b))
            for w, (a, b) in zip(self.weights[:-1], self.slopes, strict=True)
        ]

    def scaled(self, c: float) -> Network:
        """The same network with ``W_1`` multiplied by ``c``."""
        return Network(
            (self.weights[0] * c, *self.weights[1:]), self.biases, self.slopes, self.activations
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Evaluate ``f`` on a batch ``x`` of shape ``(m, n_0)`` (numpy, float64)."""
        h = as_float_array("x", x, shape=(None, self.dims[0]))
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w.T + b
            if k < self.depth - 1:
                h = _apply(self.activations[k], h)
        return h

    def torch_forward(self, x: Any) -> Any:
        """Evaluate ``f`` on a torch tensor (float64, differentiable)."""
        import torch

        h = x
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ torch.as_tensor(w, dtype=h.dtype).T + torch.as_tensor(b, dtype=h.dtype)
            if k < self.depth - 1:
                h = _apply_torch(self.activations[k], h)
        return h


def merge_linear_layers(net: Network) -> Network:
    """``net`` with every linear activation (slopes ``[a, a]``) multiplied into its neighbours.

    ``W_{k+1} φ_k(W_k x + b_k)`` with ``φ_k(v) = a v`` is the affine map
    ``(a W_{k+1} W_k) x + a W_{k+1} b_k``, so the merged network has the same Lipschitz
    constant, and every bound gets exact where LipSDP's multipliers would have to grow without
    bound (with ``α = β`` the LipSDP constraint of neuron ``i`` reads ``-λ_i (φ(a) - α a)² >= 0``,
    informative only as ``λ_i → ∞``, where interior-point solvers fail or lose accuracy) [derived]. For bounds only: an affine
    activation's offset is not known from its slopes and is dropped from the biases.
    """
    net = _check_net(net)
    if all(a != b for a, b in net.slopes):
        return net
    ws, bs = list(net.weights), list(net.biases)
    slopes, acts = list(net.slopes), list(net.activations)
    k = 0
    while k < len(slopes):
        a, b = slopes[k]
        if a != b:
            k += 1
            continue
        w_next, b_next = ws[k + 1], bs[k + 1]
        ws[k : k + 2] = [a * w_next @ ws[k]]
        bs[k : k + 2] = [a * w_next @ bs[k] + b_next]
        del slopes[k], acts[k]
    return Network(tuple(ws), tuple(bs), tuple(slopes), tuple(acts))


def _check_net(net: Any, name: str = "net") -> Network:
    """``net`` itself if it is a :class:`Network` (validated when built), else a TypeError
    naming ``name`` (the solver entry points take a parsed network; :func:`as_network` builds
    one from a weight list or an ``nn.Sequential``)."""
    if not isinstance(net, Network):
        raise ArgumentTypeError(
            f"{name} must be a stability.lipschitz.network.Network (build one with as_network); "
            f"got {type(net).__name__}"
        )
    return net


#: The range of each ``||W_k||_2`` and of the naive bound ``∏_k ||W_k||_2 · max(|α_k|, |β_k|)``
#: that the bounds handle: the SDPs form ``ρ = L²`` and products of squared weights, which
#: overflow or underflow float64 (max ``1.8e308``) outside it [measured: LipSDP-Neuron's
#: interior-point method overflows on a 2-2-1 network with a naive bound of ``1e141``].
SAFE_SCALE = (1e-100, 1e100)


def _log_norm(w: np.ndarray, ord: Any = None) -> float:
    """``log ||w||`` without overflow or underflow (``w`` scaled by its largest entry first)."""
    top = float(np.max(np.abs(w)))
    return math.log(top) + math.log(float(np.linalg.norm(w / top, ord)))


def _check_scale(net: Network, name: str = "network") -> None:
    """Refuse a network outside :data:`SAFE_SCALE` (a ValueError naming ``name``): a weight
    matrix whose spectral norm, or a naive bound, outside it, where the solvers' float64
    products overflow (``LinAlgError``, ``inf``) or underflow (a "certified" ``0`` below the
    true constant). A network with a zero layer or a zero slope bound (``f`` constant) passes.
    ``L`` is homogeneous in ``W_1`` (``L(cW_1) = |c| L``), so rescaling ``W_1`` is exact
    [derived].

    Cheap screens first: a Frobenius norm bounds the spectral norm above, the largest absolute
    entry below; the spectral norms are computed only when a screen fails.
    """
    slope = [max(abs(a), abs(b)) for a, b in net.slopes]
    if min(slope, default=1.0) == 0.0 or any(not np.any(w) for w in net.weights):
        return
    lo, hi = (math.log(v) for v in SAFE_SCALE)
    log_slope = sum(math.log(v) for v in slope)
    upper = [_log_norm(w) for w in net.weights]
    lower = [math.log(float(np.max(np.abs(w)))) for w in net.weights]
    if lo <= min(lower) and max(upper) <= hi and lo <= log_slope + sum(lower):
        if log_slope + sum(upper) <= hi:
            return
    exact = [_log_norm(w, 2) for w in net.weights]
    total = log_slope + sum(exact)
    bad = [k for k, v in enumerate(exact) if not lo <= v <= hi]
    if not bad and lo <= total <= hi:
        return
    what = (
        f"weights[{bad[0]}] has spectral norm about 1e{exact[bad[0]] / math.log(10):.0f}"
        if bad
        else f"the naive bound (product of spectral norms and slopes) is about "
        f"1e{total / math.log(10):.0f}"
    )
    raise ValueError(
        f"{name}: {what}, outside the range [{SAFE_SCALE[0]:g}, {SAFE_SCALE[1]:g}] where the "
        "bounds' float64 arithmetic is reliable; rescale the weights (the Lipschitz constant "
        "of x -> f(c x) is |c| L)"
    )


def _apply(name: str, h: np.ndarray) -> np.ndarray:
    """``φ(h)`` on a numpy array (:func:`~stability.lipschitz.activations.evaluate_activation`)."""
    return evaluate_activation(name, h)


def _apply_torch(name: str, h: Any) -> Any:
    """``φ(h)`` on a torch tensor (:func:`~stability.lipschitz.activations.evaluate_activation`)."""
    return evaluate_activation(name, h)


def _canonical(activation: str) -> str:
    """``"Leaky-ReLU:0.10"`` -> ``"leaky_relu:0.1"`` (lower case, ``_``, numbers by ``repr``)."""
    head, *params = activation.lower().split(":")
    head = head.replace("-", "_")
    out = []
    for p in params:
        try:
            out.append(repr(float(p)))
        except ValueError:
            out.append(p)  # refused, by name, in slopes_of_name
    return ":".join([head, *out])


def _slopes_of(activation: Any) -> tuple[str, tuple[float, float]]:
    """Name and slopes of an activation given as a name or an ``(alpha, beta)`` pair."""
    if isinstance(activation, str):
        key = _canonical(activation)
        return key, slopes_of_name(key, "activation")
    return "custom", _check_interval("activation", activation)


def _module_slopes(
    mod: Any, custom: Mapping[str, tuple[float, float]]
) -> tuple[str, tuple[float, float]] | None:
    """Slopes of a torch activation module; ``None`` if it is not one we know (the table of
    :func:`stability.lipschitz.activations.activation_slopes`)."""
    return activation_slopes(mod, custom)


def _from_sequential(seq: Any, custom: Mapping[str, tuple[float, float]]) -> Network:
    import torch
    from torch import nn

    # A sequence of items: ("lin", W, b) or ("act", name, slopes)
    items: list[tuple] = []
    for i, mod in enumerate(seq):
        if isinstance(mod, nn.Linear):
            w = mod.weight.detach().to(torch.float64).cpu().numpy().copy()
            b = (
                mod.bias.detach().to(torch.float64).cpu().numpy().copy()
                if mod.bias is not None
                else np.zeros(w.shape[0])
            )
            items.append(("lin", w, b))
            continue
        found = _module_slopes(mod, custom)
        if found is None:
            raise ValueError(
                f"network: unsupported layer {i} ({type(mod).__name__}); supported are Linear "
                "and the activations of stability.lipschitz.activations (or pass "
                f"slopes={{{type(mod).__name__!r}: (alpha, beta)}} for a slope-restricted "
                "elementwise activation)"
            )
        if found[0] == "identity":
            continue
        items.append(("act", *found))
    if not any(it[0] == "lin" for it in items):
        raise ValueError("network: the nn.Sequential has no Linear layer")
    return _assemble(items)


def _assemble(items: list[tuple]) -> Network:
    """Merge consecutive Linear layers; wrap a leading/trailing activation with identities."""
    if items[0][0] == "act":
        n = None
        for it in items:
            if it[0] == "lin":
                n = it[1].shape[1]
                break
        items = [("lin", np.eye(n), np.zeros(n)), *items]
    if items[-1][0] == "act":
        n = next(it[1].shape[0] for it in reversed(items) if it[0] == "lin")
        items = [*items, ("lin", np.eye(n), np.zeros(n))]
    weights, biases, slopes, names = [], [], [], []
    prev = None
    for it in items:
        if it[0] == "lin":
            _, w, b = it
            if weights and w.shape[1] != weights[-1].shape[0]:
                raise ValueError(
                    f"network: Linear layers of shapes {weights[-1].shape} and {w.shape} "
                    "do not chain"
                )
            if prev == "lin":  # merge: W' (W x + b) + b' = (W'W) x + (W'b + b')
                biases[-1] = w @ biases[-1] + b
                weights[-1] = w @ weights[-1]
            else:
                weights.append(w)
                biases.append(b)
        else:
            if prev == "act":
                raise ValueError(
                    f"network: two activations in a row ({names[-1]}, {it[1]}); compose them "
                    "into one module with known slopes"
                )
            names.append(it[1])
            slopes.append(tuple(float(v) for v in it[2]))
        prev = it[0]
    return Network(tuple(weights), tuple(biases), tuple(slopes), tuple(names))


def as_network(
    network: Any,
    activation: Any = None,
    *,
    slopes: Mapping[str, tuple[float, float]] | None = None,
    input_shape: Any = None,
    max_dense: int | None = None,
) -> Network:
    """Parse ``network`` into a :class:`Network`.

    Parameters
    ----------
    network : Network, TracedNetwork, torch.nn.Module or sequence of array_like
        A traced chain (:func:`stability.lipschitz.trace.trace_network`); a torch module: an ``nn.Sequential`` of ``Linear`` layers and slope-restricted
        activations, or any module that :func:`stability.lipschitz.trace.trace_network`
        traces into a chain (Conv, pooling, BatchNorm in eval mode, reshapes, functional
        activations; materialised exactly, BatchNorm folded); or the
        layers as a list: the weight matrices ``[W_1, …, W_l]`` (``W_k`` of shape
        ``(n_k, n_{k-1})``, numpy or torch) describe a network **without biases**, and pairs
        ``[(W_1, b_1), …, (W_l, b_l)]`` one with biases. Global upper bounds do not depend on
        the biases, but local bounds (``box=``) and lower bounds do: give the pairs (or the
        module) for a network that has biases.
    activation : str or (float, float), optional
        For a weight list: the activation between the layers, a name of
        :data:`ACTIVATION_SLOPES` (default ``"relu"``), ``"leaky_relu:<slope>"`` or a slope
        interval ``(alpha, beta)``. Ignored (must be ``None``) for an ``nn.Sequential``.
    slopes : mapping of str to (float, float), optional
        For a torch module: slope intervals of further activation classes by class name.
    input_shape : tuple of int, optional
        For a torch module that is not a plain ``nn.Sequential`` of Linear layers and
        activations: one input's shape without the batch dimension (e.g. ``(C, H, W)``);
        inferred when the first operation is ``nn.Linear``.
    max_dense : int, optional
        For a traced module: the most float64 entries a materialised affine map may have
        (default :data:`stability.lipschitz.trace.MAX_DENSE`).

    Raises
    ------
    ValueError
        On an unsupported layer (named), a module with residual additions or MaxPool (not a
        chain: :func:`~stability.lipschitz.api.lipschitz_bound` bounds it by segments), a chain
        over ``max_dense``, a bad ``input_shape``, non-chaining shapes, non-finite weights or biases, a
        bad activation (``'leaky_relu:nan'``, an interval with ``alpha > beta``), or bad
        ``slopes`` (not finite, ``alpha > beta``, or given with a weight list).
    TypeError
        On a ``network`` that is neither a torch module nor a list of numeric matrices.
    """
    if isinstance(network, Network):
        if input_shape is not None or max_dense is not None:
            raise ValueError(
                "input_shape and max_dense are for torch modules; a Network is already "
                f"materialised; got input_shape={input_shape!r}, max_dense={max_dense!r}"
            )
        if activation is not None or slopes is not None:
            raise ValueError(
                "activation and slopes are for weight lists and nn.Sequential; a Network carries "
                f"its own; got activation={activation!r}, slopes={slopes!r}"
            )
        return network
    from stability.lipschitz.trace import MAX_DENSE, TracedNetwork

    if isinstance(network, TracedNetwork):
        if activation is not None or slopes is not None or input_shape is not None:
            raise ValueError(
                "activation, slopes and input_shape are fixed when tracing; a TracedNetwork "
                f"carries its own; got activation={activation!r}, slopes={slopes!r}, "
                f"input_shape={input_shape!r}"
            )
        limit = MAX_DENSE if max_dense is None else check_positive_int("max_dense", max_dense)
        try:
            return _assemble(network.dense_layers(limit))
        except ValueError as exc:
            msg = str(exc)
            raise type(exc)(msg if msg.startswith("network") else f"network: {msg}") from None
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a dependency
        nn = None
    if nn is not None and isinstance(network, nn.Module):
        if activation is not None:
            raise ValueError(
                f"activation is only for weight lists; got activation={activation!r} with an nn.Module"
            )
        net, _, why = _network_or_traced(
            network, slopes=slopes, input_shape=input_shape, max_dense=max_dense
        )
        if net is None:
            raise ValueError(f"network: {why}")
        return net
    if input_shape is not None or max_dense is not None:
        raise ValueError(
            "input_shape and max_dense are for torch modules; got "
            f"input_shape={input_shape!r}, max_dense={max_dense!r} with {type(network).__name__}"
        )
    if slopes is not None:
        raise ValueError(
            "slopes (slope intervals by activation class name) is only for an nn.Sequential; "
            f"for a weight list pass activation=(alpha, beta); got slopes={slopes!r}"
        )
    if isinstance(network, np.ndarray) and network.ndim == 2:
        network = [network]
    if isinstance(network, str | bytes) or not isinstance(network, Sequence) or len(network) == 0:
        raise ArgumentTypeError(
            "network must be an nn.Sequential or a non-empty list of weight matrices; got "
            f"{type(network).__name__} {network!r:.80}"
        )
    name, sl = _slopes_of("relu" if activation is None else activation)
    pairs = [_is_pair(item) for item in network]
    if any(pairs) and not all(pairs):
        raise ValueError(
            "network: give every layer as a matrix W_k (a bias-free network) or every layer as "
            "a pair (W_k, b_k); got a mix"
        )
    ws, bs = [], []
    for k, item in enumerate(network):
        w = _numeric(item[0] if pairs[k] else item, f"weight {k}", 2)
        ws.append(w)
        bs.append(_numeric(item[1], f"bias {k}", 1) if pairs[k] else np.zeros(w.shape[0]))
    try:  # Network refuses non-chaining shapes and non-finite entries, naming weights[k]
        return Network(
            tuple(ws),
            tuple(bs),
            tuple(sl for _ in ws[:-1]),
            tuple(name for _ in ws[:-1]),
        )
    except ValueError as exc:
        raise type(exc)(f"network: {exc}") from None


def _plain_sequential(module: Any, custom: Mapping[str, tuple[float, float]]) -> bool:
    """An ``nn.Sequential`` (or a single ``nn.Linear``) of Linear layers and known activations."""
    from torch import nn

    if isinstance(module, nn.Linear):
        return True
    if type(module) is not nn.Sequential:
        return False
    for mod in module:
        if isinstance(mod, nn.Linear):
            continue
        try:
            if activation_slopes(mod, custom) is None:
                return False
        except ValueError:
            return False  # Dropout in training mode: refused, by name, by the tracer
    return True


def _network_or_traced(
    module: Any, *, slopes: Any, input_shape: Any, max_dense: Any
) -> tuple[Network | None, Any, str]:
    """``(Network, None, "")`` when ``module`` materialises (a plain Sequential directly, else
    a traced chain within ``max_dense``); else ``(None, TracedNetwork, why)``."""
    from torch import nn

    from stability.lipschitz.trace import MAX_DENSE, trace_network

    custom = _check_custom_slopes(slopes)
    limit = MAX_DENSE if max_dense is None else check_positive_int("max_dense", max_dense)
    if input_shape is None and _plain_sequential(module, custom):
        seq = nn.Sequential(module) if isinstance(module, nn.Linear) else module
        try:
            return _from_sequential(seq, custom), None, ""
        except ValueError as exc:  # a non-finite weight or bias, named by its field
            msg = str(exc)
            raise type(exc)(msg if msg.startswith("network") else f"network: {msg}") from None
    traced = trace_network(module, input_shape, slopes=custom)
    if not traced.is_chain:
        why = (
            "it has residual additions or MaxPool, not a chain of affine maps and activations "
            "(lipschitz_bound bounds it by segments: stability.lipschitz.trace.segments)"
        )
        return None, traced, why
    size = traced.dense_size()
    if size > limit:
        why = (
            f"materialising its affine maps needs {size} float64 entries, over "
            f"max_dense={limit} (the matrix-free methods 'naive' and 'liplt' of "
            "lipschitz_bound take it; or raise max_dense)"
        )
        return None, traced, why
    try:
        return _assemble(traced.dense_layers(limit)), traced, ""
    except ValueError as exc:
        msg = str(exc)
        raise type(exc)(msg if msg.startswith("network") else f"network: {msg}") from None


def _is_pair(item: Any) -> bool:
    """Whether a weight-list entry is a ``(W, b)`` pair: a tuple of a matrix and a vector."""
    if not isinstance(item, tuple) or len(item) != 2:
        return False
    try:
        return np.ndim(_as_array(item[0])) == 2 and np.ndim(_as_array(item[1])) == 1
    except (TypeError, ValueError):
        return False


def _as_array(x: Any) -> Any:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


def _numeric(x: Any, what: str, ndim: int) -> np.ndarray:
    """``x`` as a non-empty float64 array of ``ndim`` dimensions (errors name ``what``)."""
    x = _as_array(x)
    kind = "matrix" if ndim == 2 else "vector"
    if isinstance(x, str | bytes):
        raise ArgumentTypeError(f"network: {what} must be a numeric {kind}; got {x!r:.80}")
    try:
        x = np.array(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"network: {what} must be a numeric {kind}; got {type(x).__name__}"
        ) from None
    if x.ndim != ndim or 0 in x.shape:
        raise ValueError(f"network: {what} must be a non-empty {kind}; got shape {x.shape}")
    return x


def _check_custom_slopes(slopes: Any) -> dict[str, tuple[float, float]]:
    """``slopes``: a mapping of activation class names to valid slope intervals."""
    return _check_custom(slopes)
