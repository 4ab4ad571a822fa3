"""Matrix-free Lipschitz bounds of chains of convolutions, linear layers and activations.

The policies of Atari agents have affine maps whose dense matrices do not fit in memory
(the first convolution of a 4x84x84 input is a 12800 x 28224 matrix). Here every affine map is
an *operator*: a chain of primitives (convolution, linear layer, flatten, average pooling,
batch normalisation in eval mode, folded) applied and transposed in float64 with torch, never
materialised unless small. :func:`operator_naive_bound` multiplies certified operator norms;
:func:`operator_liplt_bound` runs the LipLT recursion (Fazlyab, Entesari, Roy, Chellappa,
"Certified robustness via dynamic margin maximization and improved Lipschitz
regularization", NeurIPS 2023, arXiv:2310.00116, Sec. 3; :mod:`stability.lipschitz.liplt`
does it with dense matrices): with each activation ``φ_i = a_i id + b_i ψ_i``,
``a_i = (α_i + β_i) / 2``, ``b_i = (β_i - α_i) / 2``, ``ψ_i`` 1-Lipschitz,

``m_1 = σ(0, 1)``,  ``m_k = |a_1 ⋯ a_{k-1}| σ(0, k) + Σ_{j<k} |b_j| |a_{j+1} ⋯ a_{k-1}| σ(j, k) m_j``

and ``L <= m_l``, where ``σ(j, k)`` is a certified bound on ``||W_k ⋯ W_{j+1}||_2``, the norm
of the product of consecutive operators (scalar slopes: every ``A_i``, ``B_i`` of the paper is
a multiple of the identity). Each ``σ(j, k)`` is the smallest of

* ``dense``: the exact norm of the materialised matrix (an SVD), when it has at most
  ``max_dense`` entries;
* ``gram``: the Gram matrix ``G`` of the smaller side (``M M^T`` or ``M^T M``, built by
  applying the transpose or the operator to batches of basis vectors), when that side has at
  most ``max_gram`` rows; ``λ_max(G) < t`` is certified by a successful Cholesky
  factorisation of ``t I - G - c I`` with Rump's shift ``c = γ_{n+2} tr(t I - G)`` (S. M.
  Rump, "Verification of positive definiteness", BIT 46 (2006), Sec. 2), ``t`` the Lanczos
  estimate raised by ``1e-8`` relative (``1e-6``, ``1e-4``, ... until the factorisation
  succeeds);
* ``fft``: the circular-embedding bound of :mod:`stability.lipschitz.conv` (Sedghi, Gupta,
  Long, ICLR 2019, Theorem 6), for a product of convolutions (pooling, batch norm) of which
  only the first pads;
* ``split``: ``σ(j, i) σ(i, k)`` for ``j < i < k`` (submultiplicativity), or for a single
  operator the product of its primitives' certified norms.

Floating point [derived]: the computed images of basis vectors differ from the exact ones by
at most ``γ_f |W_k| ⋯ |W_1|`` entrywise (``f`` the summed fan-ins; Higham 2002, Eq. (3.13)),
whose norm is at most ``sqrt(||·||_1 ||·||_∞)`` of the chain with absolute weights
(computed on vectors of ones); the computed Gram product differs from the exact one by at
most ``γ_n tr(G)`` in norm. Both are added to ``σ``, and every certified norm is raised by
:data:`stability.lipschitz.conv.REL_MARGIN` for the SVD/eigenvalue solvers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from stability.lipschitz.conv import (
    REL_MARGIN,
    _circulant_bound,
    _circular_bound,
    _conv_spec,
    _ConvSpec,
    _dense,
    _gamma,
)
from stability.lipschitz.result import STATUS_LIMIT, STATUS_OPTIMAL, LipschitzResult
from theory.checks import ArgumentTypeError, check_int, check_positive

__all__ = ["operator_liplt_bound", "operator_naive_bound", "operator_norms"]

#: Defaults: the largest dense matrix (entries) and Gram side materialised.
DEFAULT_MAX_DENSE = 4_000_000
DEFAULT_MAX_GRAM = 2048

#: Float64 entries held at once when applying an operator to basis vectors.
_CHUNK_ENTRIES = 8_000_000

#: Throughput model of the cost estimates (one thread, float64) [measured on a 2-core x86
#: machine: torch convolutions ~1-3 GMAC/s, dgemm ~10 GMAC/s]; deliberately pessimistic.
_CONV_RATE, _GEMM_RATE = 1.0e9, 5.0e9


# ------------------------------------------------------------------------------------------
# Primitives: linear maps on (batch, *shape) float64 tensors
# ------------------------------------------------------------------------------------------


class _Conv:
    """A convolution-like primitive (convolution, average pooling, batch norm on channels)."""

    def __init__(self, spec: _ConvSpec, in_shape: tuple[int, ...]):
        self.spec, self.in_shape = spec, in_shape
        self.out_shape = (spec.out_channels, *spec.out_spatial(in_shape[1:]))

    def forward(self, x):
        return self.spec.forward(x)

    def adjoint(self, y):
        return self.spec.adjoint(y, self.in_shape[1:])

    def abs(self):
        return _Conv(self.spec.abs(), self.in_shape)

    @property
    def macs(self) -> int:
        return int(np.prod(self.out_shape)) * self.spec.fan_in()

    @property
    def fan_in(self) -> int:
        return self.spec.fan_in()


class _Linear:
    """``x -> x W^T`` on flat vectors."""

    def __init__(self, weight, in_shape: tuple[int, ...]):
        self.w, self.in_shape = weight, in_shape
        self.out_shape = (int(weight.shape[0]),)
        self.spec = None

    def forward(self, x):
        return x @ self.w.T

    def adjoint(self, y):
        return y @ self.w

    def abs(self):
        return _Linear(self.w.abs(), self.in_shape)

    @property
    def macs(self) -> int:
        return int(self.w.numel())

    @property
    def fan_in(self) -> int:
        return int(self.w.shape[1])


class _Reshape:
    """A reshape (``Flatten``): an isometry."""

    def __init__(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...]):
        self.in_shape, self.out_shape, self.spec = in_shape, out_shape, None

    def forward(self, x):
        return x.reshape(x.shape[0], *self.out_shape)

    def adjoint(self, y):
        return y.reshape(y.shape[0], *self.in_shape)

    def abs(self):
        return self

    macs = 0
    fan_in = 1


@dataclass
class _Chain:
    """A product of primitives ``P_t ⋯ P_1`` (empty: the identity on ``in_shape``)."""

    prims: list
    in_shape: tuple[int, ...]

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.prims[-1].out_shape if self.prims else self.in_shape

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def macs(self) -> int:
        return sum(p.macs for p in self.prims)

    def forward(self, x):
        for p in self.prims:
            x = p.forward(x)
        return x

    def adjoint(self, y):
        for p in reversed(self.prims):
            y = p.adjoint(y)
        return y

    def abs(self) -> _Chain:
        return _Chain([p.abs() for p in self.prims], self.in_shape)

    def fan_in(self) -> int:
        return sum(p.fan_in for p in self.prims) + 1


# ------------------------------------------------------------------------------------------
# Parsing the steps
# ------------------------------------------------------------------------------------------


def _as_tensor_shape(input_shape: Any) -> tuple[int, ...]:
    if isinstance(input_shape, str | bytes) or not hasattr(input_shape, "__len__"):
        raise ArgumentTypeError(
            f"input_shape must be a tuple of positive ints without the batch; got {input_shape!r}"
        )
    if len(input_shape) == 0:
        raise ValueError("input_shape must not be empty")
    return tuple(check_int("input_shape", v, lo=1) for v in input_shape)


def _parse(
    steps: Any, input_shape: Any, slopes: Mapping[str, tuple[float, float]] | None
) -> tuple[list[_Chain], list[tuple[str, tuple[float, float]]], tuple[int, ...]]:
    """Operators (consecutive affine steps grouped) and the activations between them."""
    import torch
    from torch import nn

    from stability.lipschitz.activations import activation_slopes
    from stability.lipschitz.network import _check_custom_slopes
    from stability.lipschitz.trace import Reshape, Scale

    custom = _check_custom_slopes(slopes)
    shape = _as_tensor_shape(input_shape)
    if isinstance(steps, nn.Sequential):
        steps = list(steps)
    if isinstance(steps, str | bytes) or not isinstance(steps, list | tuple) or not steps:
        raise ArgumentTypeError(
            f"steps must be a non-empty list of nn.Module layers; got {type(steps).__name__}"
        )
    items: list[tuple] = []  # ("prim", prim) or ("act", name, (alpha, beta))
    pending = 1.0  # scalar factors (``x / 255``), folded into a neighbouring linear primitive

    def fold(where: str) -> None:
        """Multiply the pending scalar into the last weighted primitive of the current chain."""
        nonlocal pending
        if pending == 1.0:
            return
        for k in range(len(items) - 1, -1, -1):
            if items[k][0] == "act":
                break
            if isinstance(items[k][1], _Conv | _Linear):
                items[k] = ("prim", _scaled(items[k][1], pending))
                pending = 1.0
                return
        raise ValueError(f"{where}: a scalar factor with no linear layer beside it")

    for i, mod in enumerate(steps):
        where = f"steps[{i}] ({type(mod).__name__})"
        if not isinstance(mod, nn.Module):
            raise ArgumentTypeError(f"steps[{i}] must be an nn.Module; got {type(mod).__name__}")
        prim = None
        if isinstance(mod, Scale):
            if not math.isfinite(mod.c):
                raise ValueError(f"{where}: the factor must be finite; got {mod.c}")
            pending *= mod.c
            continue
        if isinstance(mod, Reshape):
            if math.prod(mod.shape) != math.prod(shape):
                raise ValueError(f"{where}: cannot reshape {shape} to {mod.shape}")
            prim = _Reshape(shape, mod.shape)
        elif isinstance(mod, nn.Conv1d | nn.Conv2d):
            spec = _conv_spec(mod, f"steps[{i}]")
            if len(shape) != spec.dim + 1 or shape[0] != spec.in_channels:
                raise ValueError(
                    f"{where}: expects ({spec.in_channels}, {spec.dim} spatial axes); the "
                    f"input there has shape {shape} (check input_shape)"
                )
            if spec.circular and any(max(p) > m for p, m in zip(spec.pad, shape[1:], strict=True)):
                raise ValueError(f"{where}: circular padding larger than its input {shape}")
            try:
                prim = _Conv(spec, shape)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc} (check input_shape)") from None
        elif isinstance(mod, nn.Linear):
            if len(shape) != 1 or shape[0] != mod.in_features:
                raise ValueError(
                    f"{where}: expects a flat input of {mod.in_features} features; the input "
                    f"there has shape {shape} (add nn.Flatten or check input_shape)"
                )
            w = mod.weight.detach().to(torch.float64).cpu()
            if not bool(torch.isfinite(w).all()):
                raise ValueError(f"{where}: the weight has non-finite entries")
            prim = _Linear(w, shape)
        elif isinstance(mod, nn.Flatten):
            out = tuple(mod(torch.zeros((1, *shape))).shape[1:])
            prim = _Reshape(shape, out)
        elif isinstance(mod, nn.AvgPool1d | nn.AvgPool2d):
            prim = _pool_prim(mod, shape, where)
        elif isinstance(mod, nn.BatchNorm1d | nn.BatchNorm2d):
            prim = _batchnorm_prim(mod, shape, where)
        elif isinstance(mod, nn.Dropout | nn.Dropout1d | nn.Dropout2d):
            if mod.training and mod.p > 0:
                raise ValueError(f"{where}: dropout in training mode is random; call .eval()")
            continue
        elif isinstance(mod, nn.Identity):
            continue
        if prim is not None:
            if pending != 1.0 and isinstance(prim, _Conv | _Linear):
                prim, pending = _scaled(prim, pending), 1.0
            items.append(("prim", prim))
            shape = prim.out_shape
            continue
        found = activation_slopes(mod, custom)
        if found is None:
            raise ValueError(
                f"{where} is not supported: use Linear, Conv1d/Conv2d, Flatten, AvgPool1d/2d, "
                "BatchNorm1d/2d (eval), Dropout (eval), Identity and slope-restricted "
                f"activations (or slopes={{{type(mod).__name__!r}: (alpha, beta)}})"
            )
        if items and items[-1][0] == "act":
            raise ValueError(
                f"{where}: two activations in a row; compose them into one module with known slopes"
            )
        fold(where)
        items.append(("act", found[0], tuple(float(v) for v in found[1])))
    fold("steps[-1]")
    ops, acts = [], []
    current: list = []
    in_shape = _as_tensor_shape(input_shape)
    for it in items:
        if it[0] == "prim":
            current.append(it[1])
        else:
            ops.append(_Chain(current, in_shape))
            in_shape = ops[-1].out_shape
            current = []
            acts.append((it[1], it[2]))
    ops.append(_Chain(current, in_shape))
    return ops, acts, shape


def _scaled(prim: _Conv | _Linear, c: float) -> _Conv | _Linear:
    """``c P``: the primitive with its weight multiplied by ``c``."""
    if isinstance(prim, _Linear):
        return _Linear(prim.w * c, prim.in_shape)
    return _Conv(replace(prim.spec, weight=prim.spec.weight * c), prim.in_shape)


def _pool_prim(mod: Any, shape: tuple[int, ...], where: str) -> _Conv:
    """Average pooling as a depthwise convolution with weights ``1 / divisor``."""
    import torch
    from torch import nn

    dim = 1 if isinstance(mod, nn.AvgPool1d) else 2
    if len(shape) != dim + 1:
        raise ValueError(f"{where}: expects (C, {dim} spatial axes); the input has shape {shape}")
    k = _tuple(mod.kernel_size, dim)
    s = _tuple(mod.stride if mod.stride not in (None, ()) else mod.kernel_size, dim)
    p = _tuple(mod.padding, dim)
    if mod.ceil_mode:
        raise ValueError(f"{where}: ceil_mode=True is not supported (set ceil_mode=False)")
    if any(p) and not mod.count_include_pad:
        raise ValueError(
            f"{where}: count_include_pad=False with padding makes the border weights differ; "
            "not supported"
        )
    div = getattr(mod, "divisor_override", None) or int(np.prod(k))
    c = shape[0]
    w = torch.full((c, 1, *k), 1.0 / div, dtype=torch.float64)
    spec = _ConvSpec(w, s, (1,) * dim, tuple((v, v) for v in p), False, c)
    try:
        return _Conv(spec, shape)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _batchnorm_prim(mod: Any, shape: tuple[int, ...], where: str):
    """Batch norm in eval mode: the channel scaling ``γ / sqrt(var + eps)`` (the shift is
    part of the bias, irrelevant for the Lipschitz constant)."""
    import torch
    from torch import nn

    if mod.training or mod.running_var is None:
        raise ValueError(
            f"{where}: batch norm must be in eval mode with running statistics (call .eval())"
        )
    c = mod.num_features
    if shape[0] != c or len(shape) > (2 if isinstance(mod, nn.BatchNorm1d) else 3):
        raise ValueError(f"{where}: expects {c} channels; the input has shape {shape}")
    scale = 1.0 / torch.sqrt(mod.running_var.detach().to(torch.float64) + mod.eps)
    if mod.weight is not None:
        scale = scale * mod.weight.detach().to(torch.float64)
    if not bool(torch.isfinite(scale).all()):
        raise ValueError(f"{where}: non-finite scale (weight / sqrt(running_var + eps))")
    if len(shape) == 1:
        return _Linear(torch.diag(scale), shape)
    dim = len(shape) - 1
    w = scale.reshape(c, 1, *([1] * dim))
    return _Conv(_ConvSpec(w, (1,) * dim, (1,) * dim, ((0, 0),) * dim, False, c), shape)


def _tuple(v: Any, dim: int) -> tuple[int, ...]:
    return tuple(int(a) for a in v) if isinstance(v, tuple | list) else (int(v),) * dim


# ------------------------------------------------------------------------------------------
# Certified norms of one operator chain
# ------------------------------------------------------------------------------------------


def _abs_norm(chain: _Chain) -> float:
    """``sqrt(max row sum · max column sum)`` of ``|P_t| ⋯ |P_1|`` (entrywise upper bound of
    ``|P_t ⋯ P_1|``): an upper bound on the norm of that nonnegative matrix."""
    import torch

    a = chain.abs()
    with torch.no_grad():
        row = float(a.forward(torch.ones((1, *chain.in_shape), dtype=torch.float64)).max())
        col = float(a.adjoint(torch.ones((1, *chain.out_shape), dtype=torch.float64)).max())
    return math.sqrt(max(row, 0.0) * max(col, 0.0)) * (1 + 1e-6)


def _rounding(chain: _Chain) -> float:
    """The absolute error term ``γ_f · sqrt(||·||_1 ||·||_∞)`` of images of basis vectors."""
    return _gamma(chain.fan_in()) * _abs_norm(chain)


def _dense_norm(chain: _Chain, rows: np.ndarray) -> float:
    """The exact norm of the materialised matrix (``rows``: its smaller side's basis images)."""
    return float(np.linalg.norm(rows, 2)) * (1 + REL_MARGIN) + _rounding(chain)


class _Sweeps:
    """Images of basis vectors under products of consecutive operators, shared along a sweep:
    ``M^T e_i`` for ``M = W_k ⋯ W_{j+1}`` extends the images of ``W_k ⋯ W_{j+2}`` by one
    transpose (side ``"out"``), ``M e_i`` those of ``W_{k-1} ⋯ W_{j+1}`` by one operator
    (side ``"in"``). One sweep per end is kept."""

    def __init__(self, ops: list[_Chain]):
        self.ops, self.cache = ops, {}

    def rows(self, j: int, k: int) -> np.ndarray:
        import torch

        ops = self.ops
        side = "out" if ops[k - 1].n_out <= ops[j].n_in else "in"
        key = (side, k if side == "out" else j)
        if side == "out":
            at, imgs = self.cache.get(key, (k, None))
            if at < j:
                at, imgs = k, None
            if imgs is None:
                imgs = torch.eye(ops[k - 1].n_out, dtype=torch.float64)
                imgs = imgs.reshape(-1, *ops[k - 1].out_shape)
            steps = [ops[i].adjoint for i in range(at - 1, j - 1, -1)]
        else:
            at, imgs = self.cache.get(key, (j, None))
            if at > k:
                at, imgs = j, None
            if imgs is None:
                imgs = torch.eye(ops[j].n_in, dtype=torch.float64).reshape(-1, *ops[j].in_shape)
            steps = [ops[i].forward for i in range(at, k)]
        if steps:
            widest = max(
                [int(np.prod(imgs.shape[1:]))]
                + [int(np.prod(p.out_shape)) for op in ops[j:k] for p in op.prims]
                + [op.n_in for op in ops[j:k]]
            )
            step = max(1, _CHUNK_ENTRIES // widest)
            out = []
            with torch.no_grad():
                for s in range(0, len(imgs), step):
                    x = imgs[s : s + step]
                    for f in steps:
                        x = f(x)
                    out.append(x)
            imgs = torch.cat(out)
        self.cache[key] = (j if side == "out" else k, imgs)
        return imgs.reshape(len(imgs), -1).numpy()


def _top_eigenvalue(g: np.ndarray) -> float:
    if len(g) <= 600:
        return float(np.linalg.eigvalsh(g)[-1])
    from scipy.sparse.linalg import eigsh

    return float(eigsh(g, k=1, which="LA", tol=1e-13, return_eigenvectors=False)[0])


def _cholesky_certificate(g: np.ndarray, lam: float) -> float:
    """The smallest ``t`` tried with ``t I - G`` proven positive definite (Rump's shift)."""
    import scipy.linalg

    k = len(g)
    tr = float(np.trace(g))
    scale = max(lam, tr / k, 1e-300)
    for rel in (1e-8, 1e-6, 1e-4, 1e-2, 1e-1, 1.0):
        t = lam + rel * scale
        shift = 1.01 * _gamma(k + 2) * (k * t - tr) + 1e-300
        a = -g.copy()
        a[np.diag_indices(k)] += t - shift
        try:
            scipy.linalg.cholesky(a, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            continue
        return t
    return math.inf


def _gram_norm(chain: _Chain, v: np.ndarray) -> float:
    """``sqrt(λ_max(G))`` of the smaller side's Gram matrix ``G = V V^T`` (``v``: the basis
    images, ``(k, other)``), certified by Cholesky."""
    g = v @ v.T
    g = 0.5 * (g + g.T)
    lam = _top_eigenvalue(g)
    t = _cholesky_certificate(g, lam)
    if not math.isfinite(t):
        return math.inf
    err = _gamma(v.shape[1]) * float(np.trace(g)) * (1 + 1e-6)
    return math.sqrt(t + err) * (1 + REL_MARGIN) + _rounding(chain)


def _fft_eligible(chain: _Chain) -> bool:
    prims = chain.prims
    if not prims or any(not isinstance(p, _Conv) for p in prims):
        return False
    if len(prims) == 1:
        return True
    return not any(p.spec.circular for p in prims) and not any(p.spec.padded for p in prims[1:])


def _fft_norm(chain: _Chain) -> float:
    specs = [p.spec for p in chain.prims]
    if len(specs) == 1 and specs[0].circular:
        return _circular_bound(specs[0], chain.in_shape[1:])[0]
    return _circulant_bound(specs, chain.in_shape[1:])[0]


def _gram_cost(chain: _Chain) -> tuple[float, float]:
    """Estimated ``(seconds, GB)`` of the Gram method."""
    k = min(chain.n_in, chain.n_out)
    other = max(chain.n_in, chain.n_out)
    secs = k * 2 * chain.macs / _CONV_RATE + (k * k * other + k**3) / _GEMM_RATE + 1e-3
    return secs, 8.0 * (k * other + 2 * k * k) / 1e9


def _prim_bound(p, in_shape) -> tuple[float, str]:
    """A certified bound on one primitive's norm (the fallback of a single operator)."""
    if isinstance(p, _Reshape):
        return 1.0, "exact"
    chain = _Chain([p], in_shape)
    if isinstance(p, _Conv):
        return _fft_norm(chain), "fft"
    rows = _Sweeps([chain])
    if chain.n_in * chain.n_out <= DEFAULT_MAX_DENSE:
        return _dense_norm(chain, rows.rows(0, 1)), "dense"
    if min(chain.n_in, chain.n_out) <= DEFAULT_MAX_GRAM:
        return _gram_norm(chain, rows.rows(0, 1)), "gram"
    return _abs_norm(chain) * (1 + REL_MARGIN), "abs"  # ||M|| <= || |M| ||


# ------------------------------------------------------------------------------------------
# All products of consecutive operators
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Norms:
    sigma: dict[tuple[int, int], float]
    how: dict[tuple[int, int], str]
    complete: bool
    seconds: float


def _product(ops: list[_Chain], j: int, k: int) -> _Chain:
    """``W_k ⋯ W_{j+1}`` (operators 1-based) as one chain."""
    prims = [p for op in ops[j:k] for p in op.prims]
    return _Chain(prims, ops[j].in_shape)


def _norms(
    ops: list[_Chain],
    needed: list[tuple[int, int]],
    *,
    max_dense: int,
    max_gram: int,
    time_budget: float | None,
    max_memory_gb: float,
    progress: bool | None,
) -> _Norms:
    """Certified ``σ(j, k)`` for the ``needed`` intervals (and the single operators)."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    singles = [(k - 1, k) for k in range(1, len(ops) + 1)]
    todo = sorted(set(needed) | set(singles), key=lambda jk: (jk[1] - jk[0], jk))
    direct: dict[tuple[int, int], tuple[float, str]] = {}
    plan: list[tuple[float, tuple[int, int], str]] = []  # (seconds, interval, method)
    for jk in todo:
        chain = _product(ops, *jk)
        if not chain.prims:
            direct[jk] = (1.0, "identity")
            continue
        if chain.n_in * chain.n_out <= max_dense:
            k = min(chain.n_in, chain.n_out)
            secs = k * 2 * chain.macs / _CONV_RATE + 4 * chain.n_in * chain.n_out * k / _GEMM_RATE
            plan.append((secs, jk, "dense"))
            continue
        if _fft_eligible(chain):
            plan.append((0.1, jk, "fft"))
        if min(chain.n_in, chain.n_out) <= max_gram:
            secs, gb = _gram_cost(chain)
            if gb <= max_memory_gb:
                plan.append((secs, jk, "gram"))
        if jk in singles and not any(p[1] == jk for p in plan):
            plan.append((0.05, jk, "factors"))
    # singles first (the naive product needs them), then by cost
    plan.sort(key=lambda p: (p[1] not in singles or p[2] == "gram", p[0]))
    essential = sum(p[0] for p in plan if p[1] in singles and p[2] != "gram")
    if time_budget is not None and essential > time_budget:
        raise ValueError(
            f"time_budget={time_budget:g} s is below the estimated {essential:.3g} s that the "
            "single operators' certified norms take; raise time_budget"
        )
    total = sum(p[0] for p in plan)
    show = total > 10.0 if progress is None else bool(progress)
    complete = True
    sweeps = _Sweeps(ops)
    bar = tqdm(plan, desc="operator norms", unit="norm", disable=not show, leave=False)
    for secs, jk, method in bar:
        spent = time.perf_counter() - start
        optional = not (jk in singles and jk not in direct)
        if time_budget is not None and optional and spent + secs > time_budget:
            complete = False
            continue
        chain = _product(ops, *jk)
        if method == "dense":
            value = _dense_norm(chain, sweeps.rows(*jk))
        elif method == "fft":
            value = _fft_norm(chain)
        elif method == "gram":
            value = _gram_norm(chain, sweeps.rows(*jk))
        else:
            value, shape = 1.0, chain.in_shape
            for p in chain.prims:
                value *= _prim_bound(p, shape)[0]
                shape = p.out_shape
        if jk not in direct or value < direct[jk][0]:
            direct[jk] = (value, method)
    bar.close()
    # submultiplicativity: σ(j, k) <= σ(j, i) σ(i, k), shortest intervals first
    sigma: dict[tuple[int, int], float] = {}
    how: dict[tuple[int, int], str] = {}
    for jk in todo:
        j, k = jk
        best, why = direct.get(jk, (math.inf, "none"))
        for i in range(j + 1, k):
            if (j, i) in sigma and (i, k) in sigma:
                v = sigma[(j, i)] * sigma[(i, k)] * (1 + 4 * 2.0**-53)
                if v < best:
                    best, why = v, f"split at {i}"
        sigma[jk], how[jk] = best, why
    return _Norms(sigma, how, complete, time.perf_counter() - start)


def _check_options(time_budget, max_dense, max_gram, max_memory_gb):
    if time_budget is not None:
        time_budget = check_positive("time_budget", time_budget)
    max_dense = check_int("max_dense", max_dense, lo=0)
    max_gram = check_int("max_gram", max_gram, lo=0)
    max_memory_gb = check_positive("max_memory_gb", max_memory_gb)
    return time_budget, max_dense, max_gram, max_memory_gb


def operator_norms(
    steps: Any,
    input_shape: Any,
    *,
    slopes: Mapping[str, tuple[float, float]] | None = None,
    max_dense: int = DEFAULT_MAX_DENSE,
    max_gram: int = DEFAULT_MAX_GRAM,
    max_memory_gb: float = 4.0,
) -> list[float]:
    """Certified ``||W_k||_2`` of each affine operator of the chain (consecutive affine steps
    grouped; activations separate them).

    Parameters are those of :func:`operator_liplt_bound`.

    Examples
    --------
    >>> import torch
    >>> conv = torch.nn.Conv1d(1, 1, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.fill_(1.0)
    >>> [round(v, 6) for v in operator_norms([conv, torch.nn.ReLU(), conv], (1, 3))]
    [1.732051, 1.414214]
    """
    _, max_dense, max_gram, max_memory_gb = _check_options(None, max_dense, max_gram, max_memory_gb)
    ops, _, _ = _parse(steps, input_shape, slopes)
    norms = _norms(
        ops,
        [],
        max_dense=max_dense,
        max_gram=max_gram,
        time_budget=None,
        max_memory_gb=max_memory_gb,
        progress=False,
    )
    return [norms.sigma[(k - 1, k)] for k in range(1, len(ops) + 1)]


def operator_naive_bound(
    steps: Any,
    input_shape: Any,
    *,
    slopes: Mapping[str, tuple[float, float]] | None = None,
    time_budget: float | None = None,
    progress: bool | None = None,
    max_dense: int = DEFAULT_MAX_DENSE,
    max_gram: int = DEFAULT_MAX_GRAM,
    max_memory_gb: float = 4.0,
) -> LipschitzResult:
    """``∏_k ||W_k||_2 · ∏_i max(|α_i|, |β_i|)`` with certified, matrix-free operator norms.

    Parameters are those of :func:`operator_liplt_bound`.

    Examples
    --------
    >>> import torch
    >>> conv = torch.nn.Conv1d(1, 1, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.fill_(1.0)
    >>> r = operator_naive_bound([conv, torch.nn.ReLU(), torch.nn.Flatten()], (1, 3))
    >>> bool(abs(r.value - 3.0**0.5) < 1e-6), r.certified  # [[1,1,0],[0,1,1]] has norm sqrt 3
    (True, True)
    """
    start = time.perf_counter()
    time_budget, max_dense, max_gram, max_memory_gb = _check_options(
        time_budget, max_dense, max_gram, max_memory_gb
    )
    ops, acts, _ = _parse(steps, input_shape, slopes)
    norms = _norms(
        ops,
        [],
        max_dense=max_dense,
        max_gram=max_gram,
        time_budget=time_budget,
        max_memory_gb=max_memory_gb,
        progress=progress,
    )
    sig = [norms.sigma[(k - 1, k)] for k in range(1, len(ops) + 1)]
    value = math.prod(sig) * math.prod(max(abs(a), abs(b)) for _, (a, b) in acts)
    return _result(value, "naive", norms, start, sig)


def _result(value: float, method: str, norms: _Norms, start: float, sig) -> LipschitzResult:
    value = value * (1 + 1e-12)
    certified = math.isfinite(value)
    how = ", ".join(sorted(set(norms.how.values())))
    message = f"matrix-free ({how})" + ("" if norms.complete else "; time budget reached")
    status = (STATUS_OPTIMAL if norms.complete else STATUS_LIMIT) if certified else None
    details = {
        "operator_norms": list(sig),
        "products": dict(norms.sigma),
        "product_methods": dict(norms.how),
        "norm_seconds": norms.seconds,
    }
    return LipschitzResult(
        value if certified else math.inf,
        method,
        certified,
        message,
        time.perf_counter() - start,
        method,
        details,
        status,
    )


def operator_liplt_bound(
    steps: Any,
    input_shape: Any,
    *,
    slopes: Mapping[str, tuple[float, float]] | None = None,
    time_budget: float | None = None,
    progress: bool | None = None,
    max_dense: int = DEFAULT_MAX_DENSE,
    max_gram: int = DEFAULT_MAX_GRAM,
    max_memory_gb: float = 4.0,
) -> LipschitzResult:
    """The LipLT bound of a chain of layers, matrix-free (module docstring).

    Parameters
    ----------
    steps : list of torch.nn.Module or nn.Sequential
        The chain's leaf layers in order: ``Linear``, ``Conv1d``/``Conv2d`` (any stride,
        padding, dilation, groups; ``padding_mode`` zeros or circular), ``Flatten``,
        ``AvgPool1d``/``AvgPool2d`` (``ceil_mode=False``), ``BatchNorm1d``/``BatchNorm2d`` in
        eval mode (folded), ``Dropout`` in eval mode, ``Identity``, and activations with known
        slopes (:func:`stability.lipschitz.activations.activation_slopes`). Biases are ignored
        (they do not change the Lipschitz constant).
    input_shape : tuple of int
        The input's shape without the batch dimension (``(4, 84, 84)``).
    slopes : mapping, optional
        Slope intervals ``(alpha, beta)`` of further activation classes, by class name.
    time_budget : float, optional
        Seconds: refused at once (a ValueError naming it) when the single operators' norms are
        estimated to take longer; otherwise the products are refined by increasing estimated
        cost while the budget lasts, and the best certified value is returned (``status`` 1
        when a refinement was skipped). Default: no limit.
    progress : bool, optional
        tqdm progress bar over the norms (default: shown when they are estimated to take more
        than 10 s).
    max_dense : int
        Largest matrix (entries) materialised for an exact SVD.
    max_gram : int
        Largest Gram side (``min(n_in, n_out)`` of a product) formed and certified.
    max_memory_gb : float
        Memory a Gram matrix computation may take (estimated; larger ones are skipped).

    Returns
    -------
    LipschitzResult
        ``method="liplt"``; certified (never NaN or infinite when certified);
        ``details["products"]`` holds every certified ``σ(j, k)`` and
        ``details["product_methods"]`` how it was obtained.

    Raises
    ------
    ValueError
        An unsupported layer (named by its index and class), shapes that do not chain with
        ``input_shape``, non-finite weights, a bad option, a ``time_budget`` below the
        estimated essential work.
    TypeError
        ``steps`` not a list of modules, ``input_shape`` not a tuple of ints.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> steps = [nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2)]
    >>> lt = operator_liplt_bound(steps, (1, 4, 4))
    >>> naive = operator_naive_bound(steps, (1, 4, 4))
    >>> lt.certified and lt.value <= naive.value * (1 + 1e-9)
    True
    """
    start = time.perf_counter()
    time_budget, max_dense, max_gram, max_memory_gb = _check_options(
        time_budget, max_dense, max_gram, max_memory_gb
    )
    ops, acts, _ = _parse(steps, input_shape, slopes)
    a = [0.5 * (lo + hi) for _, (lo, hi) in acts]
    b = [0.5 * abs(hi - lo) for _, (lo, hi) in acts]
    n = len(ops)

    def coef(j: int, k: int) -> float:  # |a_{j+1} ⋯ a_{k-1}| (activations 1-based)
        return abs(math.prod(a[j : k - 1]))

    needed = [(0, k) for k in range(1, n + 1) if coef(0, k) != 0.0]
    needed += [
        (j, k)
        for k in range(2, n + 1)
        for j in range(1, k)
        if b[j - 1] != 0.0 and coef(j, k) != 0.0
    ]
    norms = _norms(
        ops,
        needed,
        max_dense=max_dense,
        max_gram=max_gram,
        time_budget=time_budget,
        max_memory_gb=max_memory_gb,
        progress=progress,
    )
    s = norms.sigma
    m: list[float] = []
    for k in range(1, n + 1):
        terms = [coef(0, k) * s[(0, k)]] if coef(0, k) != 0.0 else []
        for j in range(1, k):
            if b[j - 1] != 0.0 and coef(j, k) != 0.0:
                terms.append(b[j - 1] * coef(j, k) * s[(j, k)] * m[j - 1])
        m.append(math.fsum(terms) * (1 + 2 * len(terms) * 2.0**-53))
    sig = [s[(k - 1, k)] for k in range(1, n + 1)]
    return _result(m[-1], "liplt", norms, start, sig)


def _materialise(steps: Any, input_shape: Any, slopes=None):
    """The chain as a dense :class:`~stability.lipschitz.network.Network` (biases zero), for
    small chains: tests and benchmarks compare the matrix-free bounds with the dense ones."""
    from stability.lipschitz.network import Network

    ops, acts, _ = _parse(steps, input_shape, slopes)
    ws = []
    for op in ops:
        ws.append(_dense(op.forward, op.in_shape) if op.prims else np.eye(op.n_in))
    return Network(
        tuple(ws),
        tuple(np.zeros(w.shape[0]) for w in ws),
        tuple(sl for _, sl in acts),
        tuple("custom" for _ in acts),
    )
