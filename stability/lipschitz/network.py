"""Feed-forward networks as weight lists with slope-restricted activations.

Every Lipschitz method of :mod:`stability.lipschitz` works on a :class:`Network`:
``f(x) = W_l φ_{l-1}(W_{l-1} … φ_1(W_1 x + b_1) … + b_{l-1}) + b_l`` with each activation
``φ_k`` applied elementwise and slope-restricted in ``[alpha_k, beta_k]``
(``alpha_k <= (φ(a) - φ(b)) / (a - b) <= beta_k``), the setting of LipSDP [1]_ (Eq. (3)).

:func:`as_network` builds one from a torch ``nn.Sequential`` (Linear layers and ReLU,
LeakyReLU, Tanh, Sigmoid, Softplus, Identity) or from a list of weight matrices with a named
activation between them. Consecutive Linear layers are merged (their product is exact); a
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

from theory.checks import ArgumentTypeError, as_float_array, check_positive_int

__all__ = ["ACTIVATION_SLOPES", "Network", "as_network", "check_box", "merge_linear_layers"]

#: Activation name -> slope interval ``(alpha, beta)``.
ACTIVATION_SLOPES: dict[str, tuple[float, float]] = {
    "relu": (0.0, 1.0),
    "tanh": (0.0, 1.0),
    "sigmoid": (0.0, 0.25),
    "softplus": (0.0, 1.0),
    "identity": (1.0, 1.0),
    "linear": (1.0, 1.0),
}


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
            if not isinstance(name, str) or not (
                name in ACTIVATION_SLOPES or name == "custom" or name.startswith("leaky_relu:")
            ):
                raise ValueError(
                    f"activations[{k}] must be a name of ACTIVATION_SLOPES, 'custom' or "
                    f"'leaky_relu:<slope>'; got {name!r}"
                )
            if name.startswith("leaky_relu:"):
                _leaky_slope(f"activations[{k}]", name)

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


def _check_interval(name: str, pair: Any) -> tuple[float, float]:
    """A slope interval ``(alpha, beta)``: two finite reals with ``alpha <= beta``."""
    if isinstance(pair, str | bytes) or not hasattr(pair, "__len__") or len(pair) != 2:
        raise ArgumentTypeError(f"{name} must be an (alpha, beta) pair; got {pair!r}")
    try:
        a, b = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"{name} must be a pair of real numbers; got {pair!r}") from None
    if not (np.isfinite(a) and np.isfinite(b) and a <= b):
        raise ValueError(
            f"{name}: the slopes (alpha, beta) must be finite with alpha <= beta; got {pair!r}"
        )
    return a, b


def _leaky_slope(name: str, activation: str) -> float:
    """The finite negative-side slope ``s`` of ``'leaky_relu:<s>'``."""
    text = activation.split(":", 1)[1]
    try:
        s = float(text)
    except ValueError:
        raise ValueError(
            f"{name}: 'leaky_relu:<slope>' needs a number after the colon; got {activation!r}"
        ) from None
    if not np.isfinite(s):
        raise ValueError(f"{name}: the leaky ReLU slope must be finite; got {activation!r}")
    return s


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


def check_box(box: Any, n0: int, name: str = "box") -> tuple[np.ndarray, np.ndarray]:
    """``box = (lo, hi)``: two finite vectors of shape ``(n0,)`` with ``lo <= hi``.

    Raises
    ------
    ValueError
        Naming ``name``: wrong shape, non-finite entries, ``lo > hi`` somewhere, or
        ``n0`` not a positive integer (then naming ``n0``).
    TypeError
        Naming ``name``: not a pair of numeric vectors.
    """
    n0 = check_positive_int("n0", n0)
    if isinstance(box, str | bytes) or not hasattr(box, "__len__") or len(box) != 2:
        raise ArgumentTypeError(f"{name} must be a pair (lo, hi) of vectors; got {box!r}")
    lo = as_float_array(f"{name}: lo", box[0]).reshape(-1)
    hi = as_float_array(f"{name}: hi", box[1]).reshape(-1)
    if lo.shape != (n0,) or hi.shape != (n0,):
        raise ValueError(
            f"{name}: lo and hi must have shape ({n0},); got {lo.shape} and {hi.shape}"
        )
    if np.any(lo > hi):
        i = int(np.argmax(lo > hi))
        raise ValueError(f"{name}: need lo <= hi; got lo[{i}] = {lo[i]} > hi[{i}] = {hi[i]}")
    return lo, hi


def _apply(name: str, h: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(h, 0.0)
    if name.startswith("leaky_relu:"):
        s = float(name.split(":")[1])
        return np.where(h >= 0, h, s * h)
    if name == "tanh":
        return np.tanh(h)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * h))
    if name == "softplus":
        return np.logaddexp(0.0, h)
    if name in ("identity", "linear"):
        return h
    raise ValueError(f"activation {name!r} has slopes only and cannot be evaluated")


def _apply_torch(name: str, h: Any) -> Any:
    import torch

    if name == "relu":
        return torch.relu(h)
    if name.startswith("leaky_relu:"):
        return torch.nn.functional.leaky_relu(h, float(name.split(":")[1]))
    if name == "tanh":
        return torch.tanh(h)
    if name == "sigmoid":
        return torch.sigmoid(h)
    if name == "softplus":
        return torch.nn.functional.softplus(h)
    if name in ("identity", "linear"):
        return h
    raise ValueError(f"activation {name!r} has slopes only and cannot be evaluated")


def _slopes_of(activation: Any) -> tuple[str, tuple[float, float]]:
    """Name and slopes of an activation given as a name or an ``(alpha, beta)`` pair."""
    if isinstance(activation, str):
        head, sep, tail = activation.lower().partition(":")
        key = head.replace("-", "_") + sep + tail
        if key.startswith("leaky_relu:"):
            s = _leaky_slope("activation", key)
            return f"leaky_relu:{s!r}", (min(s, 1.0), max(s, 1.0))
        if key not in ACTIVATION_SLOPES:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATION_SLOPES)}, 'leaky_relu:<slope>' or "
                f"an (alpha, beta) pair; got {activation!r}"
            )
        return key, ACTIVATION_SLOPES[key]
    return "custom", _check_interval("activation", activation)


def _module_slopes(
    mod: Any, custom: Mapping[str, tuple[float, float]]
) -> tuple[str, tuple[float, float]] | None:
    """Slopes of a torch activation module; ``None`` if it is not one we know."""
    from torch import nn

    cls = type(mod).__name__
    if cls in custom:
        return "custom", custom[cls]
    if isinstance(mod, nn.ReLU):
        return "relu", (0.0, 1.0)
    if isinstance(mod, nn.LeakyReLU):
        s = float(mod.negative_slope)
        if not np.isfinite(s):
            raise ValueError(f"network: LeakyReLU negative_slope must be finite; got {s!r}")
        return f"leaky_relu:{s!r}", (min(s, 1.0), max(s, 1.0))
    if isinstance(mod, nn.Tanh):
        return "tanh", (0.0, 1.0)
    if isinstance(mod, nn.Sigmoid):
        return "sigmoid", (0.0, 0.25)
    if isinstance(mod, nn.Softplus):
        beta = float(mod.beta)  # softplus_beta(x) = log(1 + e^{beta x}) / beta has slopes (0, 1)
        return ("softplus" if beta == 1.0 else "custom"), (0.0, 1.0)
    if isinstance(mod, nn.Identity):
        return "identity", (1.0, 1.0)
    return None


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
        if isinstance(mod, nn.Identity):
            continue
        found = _module_slopes(mod, custom)
        if found is None:
            raise ValueError(
                f"network: unsupported layer {i} ({type(mod).__name__}); supported are Linear, "
                "ReLU, LeakyReLU, Tanh, Sigmoid, Softplus and Identity (or pass "
                f"slopes={{{type(mod).__name__!r}: (alpha, beta)}} for a slope-restricted "
                "elementwise activation)"
            )
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
) -> Network:
    """Parse ``network`` into a :class:`Network`.

    Parameters
    ----------
    network : Network, torch.nn.Sequential or sequence of array_like
        A sequential torch model of ``Linear`` layers and slope-restricted activations, or the
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
        For an ``nn.Sequential``: slope intervals of further activation classes by class name.

    Raises
    ------
    ValueError
        On an unsupported layer (named), non-chaining shapes, non-finite weights or biases, a
        bad activation (``'leaky_relu:nan'``, an interval with ``alpha > beta``), or bad
        ``slopes`` (not finite, ``alpha > beta``, or given with a weight list).
    TypeError
        On a ``network`` that is neither an ``nn.Sequential`` nor a list of numeric matrices.
    """
    if isinstance(network, Network):
        if activation is not None or slopes is not None:
            raise ValueError(
                "activation and slopes are for weight lists and nn.Sequential; a Network carries "
                f"its own; got activation={activation!r}, slopes={slopes!r}"
            )
        return network
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a dependency
        nn = None
    if nn is not None and isinstance(network, nn.Module):
        if activation is not None:
            raise ValueError(
                f"activation is only for weight lists; got activation={activation!r} with an nn.Module"
            )
        if isinstance(network, nn.Linear):
            network = nn.Sequential(network)
        if not isinstance(network, nn.Sequential):
            raise ArgumentTypeError(
                f"network must be an nn.Sequential or a list of weights; got {type(network).__name__}"
            )
        custom = _check_custom_slopes(slopes)
        try:
            return _from_sequential(network, custom)
        except ValueError as exc:  # a non-finite weight or bias, named by its field
            msg = str(exc)
            raise type(exc)(msg if msg.startswith("network") else f"network: {msg}") from None
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
    if slopes is None:
        return {}
    if not isinstance(slopes, Mapping):
        raise ArgumentTypeError(
            f"slopes must map activation class names to (alpha, beta) pairs; got {slopes!r}"
        )
    out = {}
    for key, pair in slopes.items():
        if not isinstance(key, str):
            raise ArgumentTypeError(f"slopes: keys must be class names (str); got {key!r}")
        out[key] = _check_interval(f"slopes[{key!r}]", pair)
    return out
