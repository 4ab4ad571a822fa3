"""Slope intervals of elementwise activations (the ``(alpha, beta)`` of LipSDP's Eq. (3)).

An activation ``φ`` is *slope-restricted* in ``[α, β]`` when
``α <= (φ(a) - φ(b)) / (a - b) <= β`` for all ``a != b`` (LipSDP [1]_, Eq. (3)). For a
differentiable ``φ`` (or one differentiable but at finitely many points, continuous there)
the slope of a chord is a mean of ``φ'`` over ``[b, a]``, so
``[inf φ', sup φ']`` is the tightest interval [derived: mean value theorem]. Each interval
below is that range, derived once here and **rounded outward** (to 4 decimals where the
extreme is transcendental), so that a bound built on it stays certified.

**The table** [derived; extremes at the roots of ``φ''``, located to 30 digits with mpmath]:

- ReLU, ReLU6, Hardtanh(min, max) (``min < max``): ``φ' ∈ {0, 1}``: ``[0, 1]``.
- LeakyReLU(s), PReLU with one parameter ``s``: ``φ' ∈ {s, 1}``: ``[min(s, 1), max(s, 1)]``;
  PReLU with one slope per channel: the hull over the channels and 1.
- Tanh: ``φ' = 1 - tanh² ∈ (0, 1]``: ``[0, 1]``. Sigmoid: ``σ(1-σ) ∈ (0, 1/4]``:
  ``[0, 0.25]``. Softsign ``x/(1+|x|)``: ``1/(1+|x|)² ∈ (0, 1]``: ``[0, 1]``.
- Softplus(β) ``= log(1 + e^{βx})/β``: ``φ' = σ(βx) ∈ (0, 1)`` for every ``β > 0``:
  ``[0, 1]``. (torch switches to ``x`` above ``βx > threshold``; the jump there,
  ``log(1 + e^{-threshold})/β <= 2.1e-9/β`` at the default threshold 20, is a float artefact
  of the implementation that the interval, like every bound here, ignores.)
- ELU(a) (``a e^x - a`` for ``x <= 0``): ``φ' ∈ {1} ∪ (0, a]`` (``a > 0``) or ``[a, 0)``
  (``a < 0``): ``[min(0, a), max(1, a)]``. CELU(a), ``a > 0``: ``e^{x/a} ∈ (0, 1]``:
  ``[0, 1]``. SELU: ``λ`` for ``x > 0``, ``λ a e^x ∈ (0, λ a]`` below, with
  ``λ a = 1.7580993…``: ``[0, 1.7581]``.
- GELU ``x Φ(x)``: ``φ' = Φ(x) + x φ_N(x)``, ``φ'' = φ_N(x)(2 - x²)``: extremes at
  ``x = ±√2``, ``φ'(√2) = Φ(√2) + √2 φ_N(√2) = 1.1289041…`` and ``φ'(-x) = 1 - φ'(x)``
  (``Φ(-x) = 1 - Φ(x)``, ``φ_N`` even): ``[-0.1290, 1.1290]``.
- GELU, tanh approximation ``x s(x)``, ``s = (1 + tanh(√(2/π)(x + 0.044715 x³)))/2``: the same
  symmetry (``s(-x) = 1 - s(x)``, ``s'`` even); ``φ''`` vanishes at ``x = ±1.4185040…`` where
  ``φ' = 1.1289931…``, ``-0.1289931…``: ``[-0.1290, 1.1290]``.
- SiLU ``x σ(x)``: the same symmetry; ``φ'' = 0`` at ``±2.3993573…``, ``φ' = 1.0998393…`` and
  ``-0.0998393…``: ``[-0.0999, 1.0999]``.
- Mish ``x tanh(softplus(x))``: ``φ'' = 0`` at ``x = -2.2563764…`` (``φ' = -0.1125261…``)
  and ``x = 1.4905712…`` (``φ' = 1.0884982…``), ``φ' -> 0`` and ``1`` at ``∓∞``:
  ``[-0.1126, 1.0885]``.
- Hardswish ``x relu6(x + 3)/6``: ``φ' = (2x + 3)/6`` on ``(-3, 3)``, 0 below, 1 above:
  ``[-0.5, 1.5]``. Hardsigmoid: ``1/6`` on ``(-3, 3)``, else 0: ``[0, 1/6]`` (rounded up in
  the last bit).
- Identity, and Dropout in evaluation mode: ``[1, 1]``.

The names of :data:`ACTIVATION_SLOPES` and the parametrised names ``leaky_relu:<s>``,
``softplus:<beta>``, ``elu:<a>``, ``celu:<a>`` and ``hardtanh:<min>:<max>`` are the activations
a :class:`~stability.lipschitz.network.Network` evaluates (numpy and torch); ``custom`` marks
one known only by its slopes.

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
.. [2] D. Hendrycks, K. Gimpel, "Gaussian error linear units (GELUs)", arXiv:1606.08415
   (GELU and its tanh approximation, Section 2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from theory.checks import ArgumentTypeError

__all__ = [
    "ACTIVATION_SLOPES",
    "activation_range",
    "activation_slopes",
    "check_activation_name",
    "evaluate_activation",
    "monotone",
    "slopes_of_name",
]

#: Activation name -> slope interval ``(alpha, beta)``, rounded outward (module docstring).
ACTIVATION_SLOPES: dict[str, tuple[float, float]] = {
    "relu": (0.0, 1.0),
    "relu6": (0.0, 1.0),
    "tanh": (0.0, 1.0),
    "sigmoid": (0.0, 0.25),
    "softplus": (0.0, 1.0),
    "softsign": (0.0, 1.0),
    "gelu": (-0.1290, 1.1290),
    "gelu_tanh": (-0.1290, 1.1290),
    "silu": (-0.0999, 1.0999),
    "mish": (-0.1126, 1.0885),
    "selu": (0.0, 1.7581),
    "hardswish": (-0.5, 1.5),
    "hardsigmoid": (0.0, math.nextafter(1.0 / 6.0, math.inf)),
    "identity": (1.0, 1.0),
    "linear": (1.0, 1.0),
}

#: Parametrised families: prefix -> number of parameters after the colons.
_FAMILIES = {"leaky_relu": 1, "softplus": 1, "elu": 1, "celu": 1, "hardtanh": 2}

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
_GELU_C = math.sqrt(2.0 / math.pi)


def _params(name: str, what: str) -> tuple[str, tuple[float, ...]]:
    """``(family, parameters)`` of a parametrised name, or ``(name, ())``."""
    head, _, tail = name.partition(":")
    if head not in _FAMILIES or not _:
        return name, ()
    parts = tail.split(":")
    if len(parts) != _FAMILIES[head]:
        raise ValueError(
            f"{what}: {head!r} takes {_FAMILIES[head]} number(s) after colons; got {name!r}"
        )
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"{what}: '{head}:<number>' needs numbers after the colon; got {name!r}"
        ) from None
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{what}: the parameters of {head!r} must be finite; got {name!r}")
    return head, vals


def slopes_of_name(name: str, what: str = "name") -> tuple[float, float]:
    """The slope interval of an activation name (module docstring), e.g. ``"elu:0.5"``.

    Raises
    ------
    ValueError
        An unknown name, or bad parameters (non-finite; ``softplus``/``celu`` need a
        parameter ``> 0``, ``hardtanh:<min>:<max>`` needs ``min < max``); naming ``what``.
    TypeError
        ``name`` not a str.

    Examples
    --------
    >>> slopes_of_name("leaky_relu:0.1"), slopes_of_name("elu:2"), slopes_of_name("gelu")
    ((0.1, 1.0), (0.0, 2.0), (-0.129, 1.129))
    """
    if not isinstance(name, str):
        raise ArgumentTypeError(f"{what} must be an activation name (str); got {name!r}")
    if name in ACTIVATION_SLOPES:
        return ACTIVATION_SLOPES[name]
    head, vals = _params(name, what)
    if not vals:
        raise ValueError(
            f"{what} must be one of {sorted(ACTIVATION_SLOPES)} or "
            f"{[f'{k}:<number>' for k in _FAMILIES]} ('hardtanh:<min>:<max>'); got {name!r}"
        )
    if head == "leaky_relu":
        s = vals[0]
        return (min(s, 1.0), max(s, 1.0))
    if head in ("softplus", "celu"):
        if vals[0] <= 0:
            raise ValueError(f"{what}: the parameter of {head!r} must be > 0; got {name!r}")
        return (0.0, 1.0)
    if head == "elu":
        a = vals[0]
        return (min(0.0, a), max(1.0, a))
    lo, hi = vals  # hardtanh
    if not lo < hi:
        raise ValueError(f"{what}: 'hardtanh:<min>:<max>' needs min < max; got {name!r}")
    return (0.0, 1.0)


def check_activation_name(name: Any, what: str = "name") -> str:
    """``name`` if it is ``"custom"`` or an activation :func:`slopes_of_name` knows, else a
    ValueError (TypeError for a non-str) naming ``what``."""
    if name == "custom":
        return name
    slopes_of_name(name, what)
    return name


def monotone(name: str) -> bool:
    """Whether the named activation is monotone: its slope interval does not straddle 0
    (``α >= 0``: non-decreasing, ``β <= 0``: non-increasing); ``False`` for ``"custom"``.

    Examples
    --------
    >>> monotone("tanh"), monotone("gelu"), monotone("leaky_relu:-0.5")
    (True, False, False)
    """
    if name == "custom":
        return False
    a, b = slopes_of_name(name)
    return a >= 0 or b <= 0


#: The minimiser of each non-monotone activation, which decreases before it and increases
#: after it [derived: ``φ'`` has one root; located to 30 digits with mpmath].
_VALLEY = {
    "gelu": -0.75179152469356445746,
    "gelu_tanh": -0.75246142207101626049,
    "silu": -1.2784645427610737951,
    "mish": -1.1924312145154952121,
    "hardswish": -1.5,
}


def activation_range(name: str, lo: Any, hi: Any) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise bounds on ``{φ(x): lo <= x <= hi}`` (interval propagation through ``φ``).

    Monotone activations: ``φ`` at the two ends, ordered. The non-monotone ones (GELU, SiLU,
    Mish, Hardswish, LeakyReLU with a negative slope, ELU with a negative parameter) decrease
    and then increase around a minimiser ``x*`` (``0`` for the piecewise ones), so the range is
    ``[φ(clip(x*, lo, hi)), max(φ(lo), φ(hi))]``. Both ends are widened by
    ``1e-12 (1 + |φ|)`` to cover the rounding of the float64 minimiser and evaluations.

    Raises
    ------
    ValueError
        ``"custom"`` or an unknown ``name``; ``lo``/``hi`` of different shapes or ``lo > hi``.

    Examples
    --------
    >>> lo, hi = activation_range("silu", np.array([-3.0]), np.array([1.0]))
    >>> bool(-0.2785 < lo[0] < -0.2784), bool(abs(hi[0] - 0.7310585786) < 1e-9)
    (True, True)
    """
    a = np.asarray(lo, dtype=np.float64)
    b = np.asarray(hi, dtype=np.float64)
    if a.shape != b.shape or np.any(a > b):
        raise ValueError(f"lo and hi must have the same shape with lo <= hi; got {a}, {b}")
    fa, fb = evaluate_activation(name, a), evaluate_activation(name, b)
    top = np.maximum(fa, fb)
    if monotone(name):
        low = np.minimum(fa, fb)
    else:
        x_star = _VALLEY.get(name.partition(":")[0], 0.0)
        low = evaluate_activation(name, np.clip(x_star, a, b))
    return low - 1e-12 * (1.0 + np.abs(low)), top + 1e-12 * (1.0 + np.abs(top))


def evaluate_activation(name: str, h: Any) -> Any:
    """``φ(h)`` for an activation name, on a numpy array (float64) or a torch tensor.

    Raises
    ------
    ValueError
        ``"custom"`` (known only by its slopes) or an unknown name.
    """
    if name == "custom":
        raise ValueError(f"name: activation {name!r} has slopes only and cannot be evaluated")
    slopes_of_name(name)
    head, vals = _params(name, "name")
    if hasattr(h, "detach") and hasattr(h, "dtype"):
        return _torch(head, vals, h)
    try:
        arr = np.asarray(h, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"h must be a numeric array or a torch tensor; got {type(h).__name__}"
        ) from None
    return _numpy(head, vals, arr)


def _numpy(head: str, vals: tuple[float, ...], h: np.ndarray) -> np.ndarray:
    if head == "relu":
        return np.maximum(h, 0.0)
    if head == "relu6":
        return np.clip(h, 0.0, 6.0)
    if head == "leaky_relu":
        return np.where(h >= 0, h, vals[0] * h)
    if head == "tanh":
        return np.tanh(h)
    if head == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * h))
    if head == "softplus":
        beta = vals[0] if vals else 1.0
        return np.logaddexp(0.0, beta * h) / beta
    if head == "softsign":
        return h / (1.0 + np.abs(h))
    if head == "elu":
        return np.where(h > 0, h, vals[0] * np.expm1(np.minimum(h, 0.0)))
    if head == "celu":
        return np.maximum(h, 0.0) + np.minimum(
            0.0, vals[0] * np.expm1(np.minimum(h, 0.0) / vals[0])
        )
    if head == "selu":
        return _SELU_SCALE * np.where(h > 0, h, _SELU_ALPHA * np.expm1(np.minimum(h, 0.0)))
    if head == "gelu":
        from scipy.special import ndtr

        return h * ndtr(h)
    if head == "gelu_tanh":
        return 0.5 * h * (1.0 + np.tanh(_GELU_C * (h + 0.044715 * h**3)))
    if head == "silu":
        return h * 0.5 * (1.0 + np.tanh(0.5 * h))
    if head == "mish":
        return h * np.tanh(np.logaddexp(0.0, h))
    if head == "hardswish":
        return h * np.clip(h + 3.0, 0.0, 6.0) / 6.0
    if head == "hardsigmoid":
        return np.clip(h / 6.0 + 0.5, 0.0, 1.0)
    if head == "hardtanh":
        return np.clip(h, vals[0], vals[1])
    return h  # identity, linear


def _torch(head: str, vals: tuple[float, ...], h: Any) -> Any:
    import torch
    from torch.nn import functional as F

    if head in ("identity", "linear"):
        return h
    if head == "leaky_relu":
        return F.leaky_relu(h, vals[0])
    if head == "softplus":
        return F.softplus(h, vals[0] if vals else 1.0)
    if head == "elu":
        return F.elu(h, vals[0])
    if head == "celu":
        return F.celu(h, vals[0])
    if head == "hardtanh":
        return F.hardtanh(h, vals[0], vals[1])
    if head == "gelu_tanh":
        return F.gelu(h, approximate="tanh")
    fn = {
        "relu": torch.relu,
        "relu6": F.relu6,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "softsign": F.softsign,
        "selu": F.selu,
        "gelu": F.gelu,
        "silu": F.silu,
        "mish": F.mish,
        "hardswish": F.hardswish,
        "hardsigmoid": F.hardsigmoid,
    }[head]
    return fn(h)


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


def _check_custom(custom: Any, name: str = "slopes") -> dict[str, tuple[float, float]]:
    """``custom``: a mapping of activation class names to valid slope intervals (errors name
    ``name``)."""
    if custom is None:
        return {}
    if not isinstance(custom, Mapping):
        raise ArgumentTypeError(
            f"{name} must map activation class names to (alpha, beta) pairs; got {custom!r}"
        )
    out = {}
    for key, pair in custom.items():
        if not isinstance(key, str):
            raise ArgumentTypeError(f"{name}: keys must be class names (str); got {key!r}")
        out[key] = _check_interval(f"{name}[{key!r}]", pair)
    return out


def activation_slopes(
    module: Any, custom: Mapping[str, tuple[float, float]] | None = None
) -> tuple[str, tuple[float, float]] | None:
    """``(name, (alpha, beta))`` of a torch activation module, or ``None`` if it is not one.

    Parameters
    ----------
    module : torch.nn.Module
        ReLU, ReLU6, LeakyReLU, PReLU, Tanh, Sigmoid, Softplus(beta), Softsign, ELU(alpha),
        CELU(alpha), SELU, GELU (``approximate="none"`` or ``"tanh"``), SiLU, Mish, Hardtanh,
        Hardswish, Hardsigmoid, Identity, or Dropout in evaluation mode (the identity).
    custom : mapping of str to (float, float), optional
        Slope intervals by class name; they take precedence over the table (validated: finite,
        ``alpha <= beta``). Such an activation is named ``"custom"``.

    Returns
    -------
    (str, (float, float)) or None
        The name (one a :class:`~stability.lipschitz.network.Network` evaluates, or
        ``"custom"``) and the interval of the module docstring; ``None`` for other modules.

    Raises
    ------
    ValueError
        A Dropout module in training mode (random: call ``.eval()``), a non-finite parameter
        (``LeakyReLU(nan)``), bad ``custom`` intervals.
    TypeError
        ``custom`` not a mapping of class names to pairs.

    Examples
    --------
    >>> from torch import nn
    >>> activation_slopes(nn.SiLU()), activation_slopes(nn.ELU(0.5))
    (('silu', (-0.0999, 1.0999)), ('elu:0.5', (0.0, 1.0)))
    >>> activation_slopes(nn.Linear(2, 2)) is None
    True
    """
    from torch import nn

    custom = _check_custom(custom, "custom")
    cls = type(module).__name__
    if cls in custom:
        return "custom", custom[cls]
    if not isinstance(module, nn.Module):
        return None
    name: str | None = None
    if isinstance(module, nn.ReLU):
        name = "relu"
    elif isinstance(module, nn.ReLU6):
        name = "relu6"
    elif isinstance(module, nn.Hardtanh):
        name = f"hardtanh:{float(module.min_val)!r}:{float(module.max_val)!r}"
    elif isinstance(module, nn.LeakyReLU):
        name = f"leaky_relu:{float(module.negative_slope)!r}"
    elif isinstance(module, nn.PReLU):
        w = module.weight.detach().double().cpu().numpy().reshape(-1)
        if not np.all(np.isfinite(w)):
            raise ValueError(f"network: module PReLU: its weight must be finite; got {w}")
        if w.size == 1:
            name = f"leaky_relu:{float(w[0])!r}"
        else:
            return "custom", (min(float(w.min()), 1.0), max(float(w.max()), 1.0))
    elif isinstance(module, nn.Tanh):
        name = "tanh"
    elif isinstance(module, nn.Sigmoid):
        name = "sigmoid"
    elif isinstance(module, nn.Softplus):
        beta = float(module.beta)
        name = "softplus" if beta == 1.0 else f"softplus:{beta!r}"
    elif isinstance(module, nn.Softsign):
        name = "softsign"
    elif isinstance(module, nn.ELU):
        name = f"elu:{float(module.alpha)!r}"
    elif isinstance(module, nn.CELU):
        name = f"celu:{float(module.alpha)!r}"
    elif isinstance(module, nn.SELU):
        name = "selu"
    elif isinstance(module, nn.GELU):
        name = "gelu_tanh" if module.approximate == "tanh" else "gelu"
    elif isinstance(module, nn.SiLU):
        name = "silu"
    elif isinstance(module, nn.Mish):
        name = "mish"
    elif isinstance(module, nn.Hardswish):
        name = "hardswish"
    elif isinstance(module, nn.Hardsigmoid):
        name = "hardsigmoid"
    elif isinstance(module, nn.Identity):
        name = "identity"
    elif isinstance(module, nn.Dropout | nn.Dropout1d | nn.Dropout2d | nn.AlphaDropout):
        if module.training and module.p > 0:
            raise ValueError(
                f"network: module {cls} is in training mode (random); call .eval() on the network "
                "first (in evaluation mode it is the identity)"
            )
        name = "identity"
    if name is None:
        return None
    return name, slopes_of_name(name, f"network: module {cls}")
