"""Lower bounds on the Lipschitz constant: batched Jacobian norms and pair-ratio ascent.

``L >= ||J_f(x)||_2`` at every point where ``f`` is differentiable, and
``L >= ||f(x) - f(y)|| / ||x - y||`` for every pair. Jacobians are propagated in forward mode
(numpy, float64) for a batch of points; then the best points seed an Adam ascent of the pair
ratio (for ReLU nets ``∇_x ||J(x)||`` is zero almost everywhere, so ascending ``||J||`` stalls; the
ratio keeps a gradient). On a bias-free positively homogeneous network with 2-D input the linear
regions are cones, so :func:`angle_sweep` over the unit circle gives the exact constant up to the
angular resolution.
"""

from __future__ import annotations

import math
import time

import numpy as np

from stability.lipschitz.network import Network, _check_net, check_box
from stability.lipschitz.result import LipschitzLowerBound
from theory.checks import as_float_array, check_int, check_seed

#: Float64 entries of the batched Jacobians held at once (about 0.4 GB).
_JACOBIAN_ENTRIES = 50_000_000

__all__ = ["angle_sweep", "jacobian_norms", "lower_bound"]


def _derivative(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name.startswith("leaky_relu:"):
        return np.where(z >= 0, 1.0, float(name.split(":")[1]))
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "sigmoid":
        s = 0.5 * (1.0 + np.tanh(0.5 * z))
        return s * (1.0 - s)
    if name == "softplus":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name in ("identity", "linear"):
        return np.ones_like(z)
    raise ValueError(f"activation {name!r} has slopes only: no Jacobian")


def jacobian_norms(net: Network, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``||J_f(x_i)||_2`` for a batch ``x`` of shape ``(m, n_0)`` (forward mode, float64).

    At most ``chunk`` points at a time, fewer when the Jacobians of a chunk would exceed about
    0.4 GB (``chunk * max_k n_k * n_0`` float64 entries).

    Raises
    ------
    ValueError
        ``x`` not finite or not of shape ``(m, n_0)``; ``chunk < 1``; an activation known only
        by its slopes (no Jacobian).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, ``x`` not numeric,
        ``chunk`` not an integer.
    """
    from stability.lipschitz.network import _apply

    _check_net(net)
    chunk = check_int("chunk", chunk, lo=1)
    x = as_float_array("x", x, shape=(None, net.dims[0]), allow_empty=True)
    chunk = max(1, min(chunk, _JACOBIAN_ENTRIES // (max(net.dims) * net.dims[0])))
    out = np.empty(len(x))
    for s in range(0, len(x), chunk):
        h = x[s : s + chunk]
        jac = np.broadcast_to(net.weights[0], (len(h), *net.weights[0].shape))
        h = h @ net.weights[0].T + net.biases[0]
        for k in range(1, net.depth):
            name = net.activations[k - 1]
            jac = _derivative(name, h)[:, :, None] * jac
            h = _apply(name, h)
            w = net.weights[k]
            jac = np.einsum("ij,mjk->mik", w, jac)
            h = h @ w.T + net.biases[k]
        out[s : s + chunk] = np.linalg.norm(jac, 2, axis=(1, 2))
    return out


def angle_sweep(net: Network, n_angles: int = 200_000) -> float:
    """``max ||J_f||_2`` over ``n_angles`` points of the unit circle (2-D inputs).

    Exact (up to the resolution) for bias-free ReLU/LeakyReLU/identity networks, whose linear
    regions are cones; a lower bound for any network.

    Raises
    ------
    ValueError
        ``net`` without a 2-D input; ``n_angles < 1``.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, ``n_angles`` not an integer.
    """
    if _check_net(net).dims[0] != 2:
        raise ValueError(f"net: angle_sweep needs a 2-D input; got input dimension {net.dims[0]}")
    n_angles = check_int("n_angles", n_angles, lo=1)
    t = (np.arange(n_angles) + 0.5) * (2 * np.pi / n_angles)
    return float(np.max(jacobian_norms(net, np.stack([np.cos(t), np.sin(t)], axis=1))))


def lower_bound(
    net: Network,
    *,
    n_samples: int = 2048,
    n_ascent: int = 200,
    n_starts: int = 8,
    box: tuple | None = None,
    seed: int = 0,
) -> LipschitzLowerBound:
    """Best of sampled Jacobian norms and an Adam ascent of the pair ratio.

    Parameters
    ----------
    net : Network
    n_samples : int
        Random points (standard normal, or uniform in ``box``).
    n_ascent : int
        Adam steps of the pair-ratio ascent (0 to skip it).
    n_starts : int
        Pairs ascended in parallel, seeded at the points with the largest Jacobian norms.
    box : (array_like, array_like), optional
        Restrict points to ``[lo, hi]`` (a lower bound of the local constant there).
    seed : int

    Raises
    ------
    ValueError
        Counts out of range, a bad ``seed`` or ``box`` (as
        :func:`~stability.lipschitz.network.check_box`).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`; counts or ``seed`` not
        integers.
    """
    _check_net(net)
    n_samples = check_int("n_samples", n_samples, lo=1)
    n_ascent = check_int("n_ascent", n_ascent, lo=0)
    n_starts = check_int("n_starts", n_starts, lo=1)
    seed = check_seed(seed)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    n0 = net.dims[0]
    if box is None:
        x = rng.standard_normal((n_samples, n0))
        lo = hi = None
    else:
        lo, hi = check_box(box, n0)
        x = rng.uniform(lo, hi, (n_samples, n0))
    jn = jacobian_norms(net, x)
    order = np.argsort(-jn)[: max(1, min(n_starts, n_samples))]
    best_j = float(jn[order[0]])
    # pair seeds: x and x + small step along a random direction
    xs = x[order]
    step = 1e-3 * (1.0 if box is None else float(np.max(hi - lo)) + 1e-12)
    ys = xs + step * rng.standard_normal(xs.shape)
    if box is not None:
        ys = np.clip(ys, lo, hi)
    ratio, bx, by = _ratios(net, xs, ys)
    evals = n_samples + len(xs)
    if n_ascent > 0:
        import torch

        tx = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
        ty = torch.tensor(ys, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([tx, ty], lr=1e-2 * (1.0 if box is None else float(np.max(hi - lo))))
        for _ in range(n_ascent):
            opt.zero_grad()
            diff = (net.torch_forward(tx) - net.torch_forward(ty)).norm(dim=1)
            r = diff / ((tx - ty).norm(dim=1) + 1e-300)
            (-r.sum()).backward()
            opt.step()
            with torch.no_grad():
                if box is not None:
                    tx.clamp_(torch.as_tensor(lo), torch.as_tensor(hi))
                    ty.clamp_(torch.as_tensor(lo), torch.as_tensor(hi))
            evals += len(xs)
        r2, bx2, by2 = _ratios(net, tx.detach().numpy(), ty.detach().numpy())
        if r2 > ratio:
            ratio, bx, by = r2, bx2, by2
    return LipschitzLowerBound(
        max(best_j, ratio), best_j, ratio, bx, by, evals, time.perf_counter() - start
    )


def _ratios(net: Network, xs: np.ndarray, ys: np.ndarray):
    d = np.linalg.norm(xs - ys, axis=1)
    keep = d > 0
    if not np.any(keep):
        return 0.0, xs[0], ys[0]
    r = np.linalg.norm(net.forward(xs) - net.forward(ys), axis=1)
    r = np.where(keep, r / np.where(keep, d, 1.0), -math.inf)
    i = int(np.argmax(r))
    return float(r[i]), xs[i], ys[i]
