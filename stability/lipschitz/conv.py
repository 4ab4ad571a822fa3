"""Spectral norms of convolutional layers without materialising their matrices.

A convolution ``x -> conv(x)`` (bias left out: it does not change the Lipschitz constant) is a
linear map whose dense matrix has ``(C_out n_out) x (C_in n_in)`` entries: 360 million for the
first layer of an Atari policy. :func:`conv_operator_norm` bounds its ℓ2 operator norm from
above, certified, and from below:

* ``upper``: the exact dense norm (an SVD) when the matrix is small; otherwise the norm of a
  circular convolution that contains the layer as a submatrix, computed by the FFT: the
  singular values of a multi-channel circular convolution are those of the ``C_out x C_in``
  matrices of its kernel's discrete Fourier transform, one per frequency (Sedghi, Gupta, Long,
  "The singular values of convolutional layers", ICLR 2019, Theorem 6). Strides are handled by
  the polyphase (space-to-depth) decomposition, which keeps the bound tight for stride 4.
* ``lower``: power iteration on ``A^T A`` with the layer and its adjoint (transposed
  convolution); ``||A v||`` for the final unit vector ``v`` is a true lower bound.

The embedding [derived]
-----------------------
Write a zero-padded, strided, dilated convolution (PyTorch's cross-correlation) along one axis
as ``y[o, i] = Σ_{c,k} w[o, c, k] x_p[c, s i + d k]``, ``i < n_out``, with ``x_p`` the input
padded with zeros to length ``n_p = n + p_lo + p_hi``. ``x -> x_p`` is an isometric
embedding ``E``. On a periodic grid of ``N = S m`` points (``S`` the stride, ``m`` an integer
with ``N >= n_p``) let ``C`` be the circular convolution ``(C z)[i] = Σ_{c,k} w[o, c, k]
z[c, (s i + d k) mod N]``, ``i < m``. For ``i < n_out`` every index read is
``s i + d k <= s (n_out - 1) + d (K - 1) <= n_p - 1 < N``: nothing wraps, so ``A = P C E`` with
``P`` the restriction to the first ``n_out`` outputs, and ``||A|| <= ||P|| ||C|| ||E|| = ||C||``.
``C`` commutes with shifts by ``S`` input points (one output point); splitting the input into
its ``S`` phases (space to depth: channel ``(c, r)`` holds ``z[c, S u + r]``, a permutation)
makes ``C`` a stride-1 circular convolution on ``Z_m`` from ``C_in S`` to ``C_out`` channels
with kernel ``w'[o, (c, r), q] = w_d[o, c, S q + r]`` (``w_d`` the dilated kernel; taps beyond
``m`` folded mod ``m``). By Theorem 6 of Sedghi et al. ``||C|| = max_ω ||ŵ'(ω)||_2`` over the
``m`` frequencies, ``ŵ'`` the DFT of ``w'`` along the grid. The same holds per axis in 2-D,
and for every larger ``m`` (the smallest two are tried; each gives a valid bound).
The argument extends to a chain of convolutions of which only the first pads (every later one
"valid"): each reads only outputs of the previous one that were computed without wrapping, so
the chain is ``P C_t ⋯ C_1 E``; a chain of valid convolutions commutes with shifts by the
product ``S`` of the strides, hence is one strided convolution whose kernel ``w_eff`` (over the
receptive field) is read off by applying the chain's transpose to the unit impulse at output 0
of each output channel (used by :mod:`stability.lipschitz.operators`).

With ``padding_mode="circular"`` the layer is the circular convolution on the input's own grid
``Z_n`` (stride 1; its outputs are rows of it), so the bound is exact when ``n_out = n``; with
a stride ``s`` the outputs are every ``s``-th row of the stride-1 circular convolution,
repeated at most ``μ = ⌈s n_out / n⌉`` times, and ``||A|| <= sqrt(μ) ||C_1||``.

Floating point [derived]
------------------------
The computed impulse responses and FFT carry rounding errors; the returned ``upper`` adds
``γ · ||(|w|)||`` with ``γ = n_f u / (1 - n_f u)`` (``u = 2^-53``, ``n_f`` the summed fan-ins
plus ``5 (log2 m + 1)`` for the FFT, Higham, *Accuracy and Stability of Numerical Algorithms*,
2002, Eq. (3.13) and Thm. 24.2) and ``||(|w|)||`` bounded by ``sqrt(||·||_1 ||·||_∞)`` of the
convolution with absolute weights, then a relative margin :data:`REL_MARGIN` (1e-9) for the
singular value solver (backward stable: relative error ``O(n u)``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theory.checks import ArgumentTypeError, check_choice, check_int, check_seed

__all__ = ["REL_MARGIN", "OperatorNorm", "conv_operator_norm"]

#: Relative safety margin added to every certified norm for the singular value solvers'
#: rounding (backward-stable SVDs and eigenvalue solvers: relative error ``O(n u)``, far
#: below it for the sizes used here).
REL_MARGIN = 1e-9

_U = 2.0**-53

#: Dense matrices up to this many entries are materialised (``method="auto"``).
DEFAULT_MAX_DENSE = 2_000_000

#: Float64 entries of the impulse batches held at once.
_CHUNK_ENTRIES = 20_000_000


@dataclass(frozen=True)
class OperatorNorm:
    """Bounds on the ℓ2 operator norm of a linear map: ``lower <= ||A||_2 <= upper``.

    Attributes
    ----------
    upper : float
        Certified upper bound (exact dense SVD or the circular-embedding FFT bound, with the
        floating-point margin of the module docstring).
    lower : float
        ``||A v||`` for a unit vector ``v`` from power iteration: a true lower bound.
    method : str
        ``"dense"`` or ``"fft"`` (how ``upper`` was obtained).
    seconds : float
        Wall time.
    details : dict
        ``grid`` (the periodic grid of the FFT bound), ``iterations`` (power iteration).
    """

    upper: float
    lower: float
    method: str
    seconds: float
    details: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def gap(self) -> float:
        """``upper / lower`` (``inf`` when ``lower`` is 0)."""
        return self.upper / self.lower if self.lower > 0 else math.inf

    def summary(self) -> str:
        """One readable line."""
        return (
            f"||A|| in [{self.lower:.6g}, {self.upper:.6g}] (upper by {self.method}, "
            f"ratio {self.gap:.4g}), {self.seconds:.3g} s"
        )


# ------------------------------------------------------------------------------------------
# Convolution specs: a conv-like linear map in float64 (also used by operators.py)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ConvSpec:
    """``x -> conv(pad(x), weight, stride, dilation, groups)``, no bias, float64.

    ``pad`` is ``((lo, hi), ...)`` per spatial axis (zeros, or circular when ``circular``).
    """

    weight: Any  # torch tensor (C_out, C_in / groups, *K)
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    circular: bool = False
    groups: int = 1

    @property
    def dim(self) -> int:
        return self.weight.dim() - 2

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1]) * self.groups

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def padded(self) -> bool:
        return any(lo or hi for lo, hi in self.pad)

    def out_spatial(self, n: tuple[int, ...]) -> tuple[int, ...]:
        out = []
        for i, m in enumerate(n):
            span = self.dilation[i] * (self.weight.shape[2 + i] - 1) + 1
            np_ = m + sum(self.pad[i])
            if np_ < span:
                raise ValueError(
                    f"input_shape: spatial size {m} (padded {np_}) is smaller than the "
                    f"dilated kernel ({span})"
                )
            out.append((np_ - span) // self.stride[i] + 1)
        return tuple(out)

    def abs(self) -> _ConvSpec:
        return _ConvSpec(
            self.weight.abs(), self.stride, self.dilation, self.pad, self.circular, self.groups
        )

    def fan_in(self) -> int:
        return int(np.prod(self.weight.shape[1:]))

    def forward(self, x):
        import torch.nn.functional as F

        pads = [v for lo_hi in reversed(self.pad) for v in lo_hi]
        if any(pads):
            x = F.pad(x, pads, mode="circular" if self.circular else "constant")
        conv = F.conv1d if self.dim == 1 else F.conv2d
        return conv(x, self.weight, None, self.stride, 0, self.dilation, self.groups)

    def adjoint(self, y, in_spatial: tuple[int, ...]):
        """The transpose: transposed convolution, then the adjoint of the padding."""
        import torch.nn.functional as F

        padded = tuple(m + lo + hi for m, (lo, hi) in zip(in_spatial, self.pad, strict=True))
        extra = []
        for i, m in enumerate(padded):
            k = self.weight.shape[2 + i]
            used = (y.shape[2 + i] - 1) * self.stride[i] + self.dilation[i] * (k - 1) + 1
            extra.append(m - used)
        tconv = F.conv_transpose1d if self.dim == 1 else F.conv_transpose2d
        if all(e < max(s, d) for e, s, d in zip(extra, self.stride, self.dilation, strict=True)):
            z = tconv(
                y, self.weight, None, self.stride, 0, tuple(extra), self.groups, self.dilation
            )
        else:  # output_padding would be refused: transpose to the used part, then zero-fill
            z = tconv(y, self.weight, None, self.stride, 0, 0, self.groups, self.dilation)
            z = F.pad(z, [v for e in reversed(extra) for v in (0, e)])
        for i, (lo, hi) in enumerate(self.pad):
            if not (lo or hi):
                continue
            ax = 2 + i
            m = in_spatial[i]
            core = z.narrow(ax, lo, m).clone()
            if self.circular:  # the padded borders are copies of the far ends: fold them back
                core.narrow(ax, m - lo, lo).add_(z.narrow(ax, 0, lo))
                core.narrow(ax, 0, hi).add_(z.narrow(ax, lo + m, hi))
            z = core
        return z


def _pair(v: Any, dim: int) -> tuple[int, ...]:
    return tuple(int(a) for a in v) if isinstance(v, tuple | list) else (int(v),) * dim


def _conv_spec(conv: Any, name: str = "conv") -> _ConvSpec:
    """The spec of an ``nn.Conv1d``/``nn.Conv2d`` (float64 weights); refusals name ``name``."""
    import torch
    from torch import nn

    if not isinstance(conv, nn.Conv1d | nn.Conv2d):
        raise ArgumentTypeError(
            f"{name} must be an nn.Conv1d or nn.Conv2d; got {type(conv).__name__}"
        )
    dim = 1 if isinstance(conv, nn.Conv1d) else 2
    mode = conv.padding_mode
    if mode not in ("zeros", "circular"):
        raise ValueError(
            f"{name}: padding_mode {mode!r} is not supported (only 'zeros' and 'circular')"
        )
    w = conv.weight.detach().to(torch.float64).cpu()
    if not bool(torch.isfinite(w).all()):
        raise ValueError(f"{name}: the weight has non-finite entries")
    stride, dilation = _pair(conv.stride, dim), _pair(conv.dilation, dim)
    k = w.shape[2:]
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            pad = ((0, 0),) * dim
        else:  # 'same' (stride 1): PyTorch pads d (K - 1) in total, the extra one at the end
            total = [dilation[i] * (k[i] - 1) for i in range(dim)]
            pad = tuple((t // 2, t - t // 2) for t in total)
    else:
        p = _pair(conv.padding, dim)
        pad = tuple((v, v) for v in p)
    return _ConvSpec(
        w, stride, dilation, pad, mode == "circular" and any(map(any, pad)), conv.groups
    )


# ------------------------------------------------------------------------------------------
# Bounds
# ------------------------------------------------------------------------------------------


def _gamma(n: float) -> float:
    """Higham's ``γ_n = n u / (1 - n u)``."""
    return n * _U / (1.0 - n * _U)


def _effective_kernel(specs: list[_ConvSpec]):
    """The kernel ``w_eff`` (``C_out x C_in x RF^D``) and stride ``S`` of the chain with its
    first padding removed: a chain of 'valid' convolutions commutes with shifts by ``S`` input
    points, so output ``q`` is ``Σ_{c,t} w_eff[o, c, t] x[c, S q + t]``; ``w_eff[o]`` is the
    chain's transpose applied to the unit impulse at output 0 of channel ``o`` on an input of
    ``RF`` points (the receptive field) per axis."""
    import torch

    dim = specs[0].dim
    specs = [
        _ConvSpec(
            specs[0].weight,
            specs[0].stride,
            specs[0].dilation,
            ((0, 0),) * dim,
            False,
            specs[0].groups,
        ),
        *specs[1:],
    ]
    stride = tuple(int(np.prod([s.stride[i] for s in specs])) for i in range(dim))
    rf = []
    for i in range(dim):
        r, jump = 1, 1
        for s in specs:
            r += s.dilation[i] * (s.weight.shape[2 + i] - 1) * jump
            jump *= s.stride[i]
        rf.append(r)
    shapes = [tuple(rf)]
    for s in specs:
        shapes.append(s.out_spatial(shapes[-1]))
    c_out = specs[-1].out_channels
    y = torch.zeros((c_out, c_out, *shapes[-1]), dtype=torch.float64)
    y[(torch.arange(c_out), torch.arange(c_out), *([0] * dim))] = 1.0
    with torch.no_grad():
        for s, shp in zip(reversed(specs), reversed(shapes[:-1]), strict=True):
            y = s.adjoint(y, shp)
    return y, stride


def _polyphase(w_eff, stride: tuple[int, ...], grid: tuple[int, ...]):
    """The stride-1 kernel on the phase channels, folded onto the periodic ``grid``:
    ``(C_out, C_in * prod(stride), *grid)`` with ``w'[o, (c, r), q] = w_eff[o, c, S q + r]``."""
    import torch.nn.functional as F

    dim = len(stride)
    k = [-(-w_eff.shape[2 + i] // stride[i]) for i in range(dim)]
    pads = [v for i in reversed(range(dim)) for v in (0, k[i] * stride[i] - w_eff.shape[2 + i])]
    w = F.pad(w_eff, pads)
    c_out, c_in = w.shape[:2]
    if dim == 1:
        w = w.reshape(c_out, c_in, k[0], stride[0]).permute(0, 1, 3, 2)
    else:
        w = w.reshape(c_out, c_in, k[0], stride[0], k[1], stride[1]).permute(0, 1, 3, 5, 2, 4)
    w = w.reshape(c_out, c_in * int(np.prod(stride)), *k)
    for i in range(dim):  # fold taps beyond the grid (aliasing: circular wrap)
        ax = 2 + i
        if k[i] > grid[i]:
            reps = -(-k[i] // grid[i])
            w = F.pad(
                w,
                [
                    v
                    for j in reversed(range(dim))
                    for v in (0, reps * grid[j] - k[j] if j == i else 0)
                ],
            )
            w = w.reshape(*w.shape[:ax], reps, grid[i], *w.shape[ax + 1 :]).sum(dim=ax)
            k[i] = grid[i]
    return w


def _symbol_norm(w_pp, grid: tuple[int, ...]) -> float:
    """``max_ω ||ŵ(ω)||_2`` over the ``grid`` frequencies (Sedghi et al., Theorem 6)."""
    import torch

    dims = tuple(range(2, w_pp.dim()))
    hat = torch.fft.fftn(w_pp, s=grid, dim=dims)
    mats = hat.permute(*dims, 0, 1).reshape(-1, w_pp.shape[0], w_pp.shape[1])
    return float(torch.linalg.matrix_norm(mats, ord=2).max())


def _kernel_abs_norm(w_abs, stride) -> float:
    """``sqrt(max row sum · max column sum)`` of the strided convolution with the
    nonnegative kernel ``w_abs``: an upper bound on its ℓ2 norm (on any input size)."""
    row = float(w_abs.sum(dim=tuple(range(1, w_abs.dim()))).max())
    pp = _polyphase(
        w_abs, stride, tuple(-(-w_abs.shape[2 + i] // stride[i]) for i in range(len(stride)))
    )
    col = float(pp.sum(dim=(0, *range(2, pp.dim()))).max())
    return math.sqrt(max(row, 0.0) * max(col, 0.0)) * (1 + 1e-6)


def _fft_error(specs, w_pp, grid) -> float:
    """Rounding terms: the effective kernel's (``γ_f`` times the chain with ``|w|``) and the
    FFT's (``5 (log2 M + 1) u sqrt(M) ||w'||_F``, ``M`` grid points; Higham Thm. 24.2)."""
    w_abs, stride = _effective_kernel([s.abs() for s in specs])
    fan = sum(s.fan_in() for s in specs) + 1
    m = int(np.prod(grid))
    fft = 5 * (math.log2(max(2, m)) + 1) * _U * math.sqrt(m) * float(w_pp.norm())
    return _gamma(fan) * _kernel_abs_norm(w_abs, stride) + fft


def _circulant_bound(
    specs: list[_ConvSpec], in_spatial: tuple[int, ...], extra_grids: int = 1
) -> tuple[float, dict[str, Any]]:
    """Certified ``||conv_t ∘ ⋯ ∘ conv_1||`` by the circular embedding (module docstring).

    Only ``specs[0]`` may pad (zeros). Tries the smallest periodic grid and ``extra_grids``
    larger ones (every one gives a valid bound) and returns the smallest bound.
    """
    if any(s.padded for s in specs[1:]) or any(s.circular for s in specs):
        raise ValueError("the circular embedding needs 'valid' convolutions after the first")
    w_eff, stride = _effective_kernel(specs)
    padded = tuple(m + sum(specs[0].pad[i]) for i, m in enumerate(in_spatial))
    base = tuple(-(-padded[i] // stride[i]) for i in range(len(stride)))
    best, info = math.inf, {}
    for extra in range(extra_grids + 1):
        grid = tuple(b + extra for b in base)
        w_pp = _polyphase(w_eff, stride, grid)
        value = _symbol_norm(w_pp, grid) * (1 + REL_MARGIN) + _fft_error(specs, w_pp, grid)
        if value < best:
            best, info = value, {"grid": tuple(g * t for g, t in zip(grid, stride, strict=True))}
    return best, info


def _circular_bound(spec: _ConvSpec, in_spatial: tuple[int, ...]) -> tuple[float, dict]:
    """A ``padding_mode='circular'`` layer: its rows are rows of the stride-1 circular
    convolution on the input grid, each repeated at most ``μ`` times (module docstring)."""
    one = _ConvSpec(
        spec.weight, (1,) * spec.dim, spec.dilation, ((0, 0),) * spec.dim, False, spec.groups
    )
    grid = tuple(in_spatial)
    w_eff, _ = _effective_kernel([one])
    w_pp = _polyphase(w_eff, (1,) * spec.dim, grid)
    value = _symbol_norm(w_pp, grid) * (1 + REL_MARGIN) + _fft_error([one], w_pp, grid)
    out = spec.out_spatial(in_spatial)
    mu = 1  # rows y[i] = C[(s i - lo) mod n]: the largest number of i sharing a residue
    for i, m in enumerate(in_spatial):
        mu *= int(np.bincount((spec.stride[i] * np.arange(out[i])) % m).max())
    return math.sqrt(mu) * value, {"grid": grid, "multiplicity": mu}


def _dense(forward, in_shape: tuple[int, ...]) -> np.ndarray:
    """The dense matrix of a linear map (columns: images of the basis vectors)."""
    import torch

    n = int(np.prod(in_shape))
    cols = []
    step = max(1, _CHUNK_ENTRIES // (4 * n))
    with torch.no_grad():
        for s in range(0, n, step):
            e = torch.zeros((min(n, s + step) - s, n), dtype=torch.float64)
            e[torch.arange(e.shape[0]), torch.arange(s, s + e.shape[0])] = 1.0
            cols.append(forward(e.reshape(-1, *in_shape)).reshape(e.shape[0], -1))
    return torch.cat(cols).T.numpy()


def power_iteration(forward, adjoint, in_shape, n_iter: int, seed: int, tol: float = 1e-10):
    """``(||A v||, v, iterations)`` for the unit ``v`` after power iteration on ``A^T A``.

    ``||A v|| <= ||A||`` for every unit ``v``; the computed value is shrunk by
    ``1e-12`` relative to stay below it despite rounding.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    v = torch.randn((1, *in_shape), dtype=torch.float64, generator=gen)
    v /= v.norm()
    prev, it = 0.0, 0
    with torch.no_grad():
        for it in range(1, n_iter + 1):
            w = adjoint(forward(v))
            nrm = float(w.norm())
            if nrm == 0.0:
                return 0.0, v, it
            v = w / nrm
            if abs(nrm - prev) <= tol * nrm:
                break
            prev = nrm
        value = float(forward(v).norm()) / max(float(v.norm()), 1e-300)
    return value * (1 - 1e-12), v, it


def _check_input_shape(input_shape: Any, spec: _ConvSpec) -> tuple[int, ...]:
    if isinstance(input_shape, str | bytes) or not hasattr(input_shape, "__len__"):
        raise ArgumentTypeError(
            f"input_shape must be a tuple (C_in, *spatial) without the batch; got {input_shape!r}"
        )
    shape = tuple(check_int("input_shape", v, lo=1) for v in input_shape)
    if len(shape) != spec.dim + 1 or shape[0] != spec.in_channels:
        raise ValueError(
            f"input_shape must be ({spec.in_channels}, {', '.join(['n'] * spec.dim)}) for this "
            f"{spec.dim}-D convolution with {spec.in_channels} input channels; got {shape}"
        )
    if spec.circular and any(
        max(lo, hi) > m for (lo, hi), m in zip(spec.pad, shape[1:], strict=True)
    ):
        raise ValueError(f"input_shape {shape}: circular padding {spec.pad} exceeds the input")
    spec.out_spatial(shape[1:])  # refuses an input smaller than the kernel
    return shape


def conv_operator_norm(
    conv: Any,
    input_shape: Any,
    *,
    method: str = "auto",
    n_iter: int = 200,
    seed: int = 0,
    max_dense: int = DEFAULT_MAX_DENSE,
) -> OperatorNorm:
    """Certified upper and power-iteration lower bounds on the spectral norm of a convolution.

    Parameters
    ----------
    conv : torch.nn.Conv1d or torch.nn.Conv2d
        Any stride, dilation, groups and padding (integers, tuples, ``'same'``, ``'valid'``);
        ``padding_mode`` ``'zeros'`` or ``'circular'``. The bias is ignored (it does not change
        the Lipschitz constant).
    input_shape : tuple of int
        ``(C_in, L)`` or ``(C_in, H, W)``, without the batch dimension.
    method : {"auto", "dense", "fft"}
        ``"dense"``: the exact norm of the materialised matrix (SVD); ``"fft"``: the circular
        embedding bound (module docstring); ``"auto"``: dense when the matrix has at most
        ``max_dense`` entries, else FFT.
    n_iter : int
        Power iterations for ``lower`` (stops earlier at relative change ``1e-10``).
    seed : int
        Seed of the power iteration's start vector.
    max_dense : int
        Entries up to which ``"auto"`` materialises the matrix.

    Returns
    -------
    OperatorNorm
        ``lower <= ||A||_2 <= upper``.

    Raises
    ------
    ValueError
        An unsupported ``padding_mode``, an ``input_shape`` that does not fit the layer, an
        unknown ``method``, bad counts or seed.
    TypeError
        ``conv`` not an ``nn.Conv1d``/``nn.Conv2d``.

    Examples
    --------
    >>> import torch
    >>> conv = torch.nn.Conv1d(1, 1, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(torch.tensor([[[1.0, 1.0]]]))
    >>> r = conv_operator_norm(conv, (1, 64), method="fft")  # sup of |1 + e^{iω}| is 2
    >>> bool(r.lower <= r.upper <= 2.0 + 1e-8), round(r.upper, 6)
    (True, 2.0)
    """
    start = time.perf_counter()
    spec = _conv_spec(conv)
    check_choice("method", method, ("auto", "dense", "fft"))
    n_iter = check_int("n_iter", n_iter, lo=1)
    seed = check_seed(seed)
    max_dense = check_int("max_dense", max_dense, lo=0)
    shape = _check_input_shape(input_shape, spec)
    out = (spec.out_channels, *spec.out_spatial(shape[1:]))
    n_in, n_out = int(np.prod(shape)), int(np.prod(out))

    def fwd(x):
        return spec.forward(x)

    def adj(y):
        return spec.adjoint(y, shape[1:])

    if method == "auto":
        method = "dense" if n_in * n_out <= max_dense else "fft"
    details: dict[str, Any] = {}
    if method == "dense":
        upper = float(np.linalg.norm(_dense(fwd, shape), 2)) * (1 + REL_MARGIN)
    elif spec.circular:
        upper, details = _circular_bound(spec, shape[1:])
    else:
        upper, details = _circulant_bound([spec], shape[1:])
    lower, _, it = power_iteration(fwd, adj, shape, n_iter, seed)
    details["iterations"] = it
    return OperatorNorm(upper, min(lower, upper), method, time.perf_counter() - start, details)
