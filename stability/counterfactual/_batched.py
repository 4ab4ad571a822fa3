"""Batched evaluation of Stability R / R-hat and of its gradient (private).

One place for the inner loop of :func:`~stability.counterfactual.counterfactual_stability` and
of T-Rex:I: the k samples of each query go through the model in cache-sized chunks of about
:data:`CHUNK_POINTS` points (on one core a 2x32 MLP runs 2-3x faster on 2^14-point chunks than
on 2^18-point ones, whose activations no longer fit in cache), forward only under
``torch.inference_mode`` or forward + gradient with respect to the queries chunk by chunk (R of a
row depends only on that row, so chunking changes nothing but rounding).

Common random numbers. When the rows share their samples (``xi`` of shape (k, d)) and the model
is a float64 ``nn.Sequential`` whose first layer is ``nn.Linear(W, b)``, the first layer is
applied once to the samples: W(x + sigma xi_j) + b = (W x + b) + sigma (W xi_j), so the
(n k, d) x (d, h) product becomes an (n, d) x (d, h) and a (k, d) x (d, h) one, and no (n, k, d)
array of points is formed. The two expressions agree to rounding (about 1e-16 relative).

Seeds. :func:`row_generators` gives each row its own stream, so that a row's samples depend only
on (seed, row index) and never on which other rows are in the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from stability.counterfactual.models import _layers, _ProbabilityModel

#: Points per model call in the batched paths (k samples of each of CHUNK_POINTS // k rows).
CHUNK_POINTS = 1 << 14


def chunk_rows(k: int, points: int | None = None) -> int:
    """Query rows per chunk: about ``points`` (default :data:`CHUNK_POINTS`) model points."""
    return max(1, (CHUNK_POINTS if points is None else int(points)) // k)


def _stability_core(
    model: _ProbabilityModel,
    X: torch.Tensor,
    xi: torch.Tensor,
    sigma: float,
    gamma: torch.Tensor | None,
    relaxed: bool,
) -> torch.Tensor:
    """R or R-hat of queries X (n, d) with standard normal xi (n, k, d): differentiable in X."""
    n, k, d = xi.shape
    pts = (X[:, None, :] + sigma * xi).reshape(n * k, d)
    ms = model(pts).reshape(n, k)
    mean = ms.mean(dim=1)
    if relaxed:
        return mean - (ms - model(X)[:, None]).abs().mean(dim=1)
    return mean - gamma * sigma * torch.linalg.vector_norm(xi, dim=2).mean(dim=1)


class AffineSplit:
    """m = rest(W x + b) for a float64 ``nn.Sequential`` starting with ``nn.Linear`` (private)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, rest: _ProbabilityModel):
        self.weight, self.bias, self.rest = weight, bias, rest

    @classmethod
    def of(cls, pm: _ProbabilityModel) -> AffineSplit | None:
        """The split of ``pm``'s module, or None when the shortcut does not apply."""
        if not pm.differentiable or pm.dtype != torch.float64:
            return None
        layers = _layers(pm.model)
        if len(layers) < 2 or not isinstance(layers[0], nn.Linear):
            return None
        lin = layers[0]
        if lin.weight.dtype != torch.float64:
            return None
        return cls(lin.weight, lin.bias, _ProbabilityModel(nn.Sequential(*layers[1:]), pm.check))


def stability_values(
    pm: _ProbabilityModel,
    X: torch.Tensor,
    xi: torch.Tensor,
    sigma: float,
    gamma: torch.Tensor | None,
    relaxed: bool,
    split: AffineSplit | None = None,
) -> torch.Tensor:
    """R or R-hat of the rows of X (r, d): xi (r, k, d) per row or (k, d) shared by all rows.

    Differentiable in X. ``split`` (only with shared xi) applies the first layer to the samples
    once (module docstring).
    """
    if xi.ndim == 3:
        return _stability_core(pm, X, xi, sigma, gamma, relaxed)
    k, d = xi.shape
    r = X.shape[0]
    if split is None:
        ms = pm((X[:, None, :] + sigma * xi).reshape(r * k, d)).reshape(r, k)
        m0 = pm(X) if relaxed else None
    else:
        a = nn.functional.linear(X, split.weight, split.bias)
        shift = sigma * nn.functional.linear(xi, split.weight)
        h = a.shape[1]
        ms = split.rest((a[:, None, :] + shift).reshape(r * k, h)).reshape(r, k)
        m0 = split.rest(a) if relaxed else None
    mean = ms.mean(dim=1)
    if relaxed:
        return mean - (ms - m0[:, None]).abs().mean(dim=1)
    return mean - gamma * sigma * torch.linalg.vector_norm(xi, dim=1).mean()


def value_and_grad(
    pm: _ProbabilityModel,
    X: torch.Tensor,
    xi: torch.Tensor | Callable[[int, int], torch.Tensor],
    sigma: float,
    k: int,
    *,
    relaxed: bool = True,
    gamma: torch.Tensor | None = None,
    split: AffineSplit | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """R (or R-hat) of each row of X (n, d) and its gradient in x, chunk by chunk.

    ``xi``: (k, d) shared by all rows, (n, k, d) per row, or a function ``(s, e) -> (e - s, k,
    d)`` giving the samples of rows s..e-1 when the chunk is reached (memory O(chunk)). Returns
    ((n,), (n, d)) detached tensors.
    """
    n = X.shape[0]
    rows = chunk_rows(k)
    vals = torch.empty(n, dtype=torch.float64)
    grads = torch.empty_like(X, dtype=torch.float64)
    with torch.enable_grad():
        for s in range(0, n, rows):
            e = min(n, s + rows)
            xa = X[s:e].detach().clone().requires_grad_(True)
            x_noise = xi(s, e) if callable(xi) else (xi if xi.ndim == 2 else xi[s:e])
            g_rows = None if gamma is None else gamma[s:e]
            r = stability_values(pm, xa, x_noise, sigma, g_rows, relaxed, split)
            (g,) = torch.autograd.grad(r.sum(), xa)
            vals[s:e] = r.detach()
            grads[s:e] = g
    return vals, grads


def per_row_seeds(seed: Any, n: int, who: str = "seed") -> list[Any] | None:
    """The per-row seeds when ``seed`` is a list, tuple or 1-d array (length n), else None."""
    if isinstance(seed, (list, tuple)) or (isinstance(seed, np.ndarray) and seed.ndim == 1):
        if len(seed) != n:
            raise ValueError(
                f"{who} given per row must have one entry per row of X ({n}); got {len(seed)}"
            )
        return list(seed)
    return None


def row_generators(seed: Any, n: int) -> list[np.random.Generator]:
    """One generator per row: ``seed[i]`` for per-row seeds, else child i of ``seed``.

    A scalar seed (int, None, ``SeedSequence``) gives child i of ``SeedSequence(seed)``; a
    ``Generator`` gives its ``spawn(n)`` children. Either way row i's stream depends only on
    (seed, i), not on the other rows.
    """
    rows = per_row_seeds(seed, n)
    if rows is not None:
        return [np.random.default_rng(s) for s in rows]
    if isinstance(seed, np.random.Generator):
        return seed.spawn(n)
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    # the children ss.spawn(n) would give, without advancing ss (same seed, same streams)
    return [
        np.random.default_rng(
            np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, i), pool_size=ss.pool_size)
        )
        for i in range(n)
    ]
