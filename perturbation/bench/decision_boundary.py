"""Benchmark of :mod:`stability.decision_boundary`: G_S at scale, and batched attacks.

Rows (each ratio measured in this run, one torch thread):

- G_S of 10,000 states of a ``1 × 36 × 36`` gridworld CNN: streaming (gradients in batches fed
  to a Frequent-Directions sketch; neither V nor L is ever held) vs materialising V (N × d) and
  L = VᵀV (d × d) and calling ``eigh``; peak numpy memory (tracemalloc; torch's own buffers are
  not counted) and agreement of G_S;
- G_S from a materialised V: thin SVD of V, and streaming power iteration over chunks, vs
  ``eigh`` of the d × d matrix;
- DeepFool and PGD on a batch of states vs one call per state.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import torch

from perturbation.bench import BenchRow, best_time
from perturbation.registry import SCALES
from stability.decision_boundary import (
    FrequentDirections,
    deepfool,
    instability_directions,
    pgd,
    principal_direction,
)
from stability.decision_boundary.directions import _gradients
from stability.decision_boundary.gridworld import gridworld_policy


def _states(n: int, seed: int = 0) -> tuple[torch.nn.Module, np.ndarray]:
    env, model, _ = gridworld_policy(12, 0, False)
    obs, _ = env.observations()
    rng = np.random.default_rng(seed)
    X = obs[rng.integers(len(obs), size=n)] + rng.uniform(0.0, 0.05, (n, *obs.shape[1:]))
    return model, X.astype(np.float32)


def _streaming(model, X, batch: int = 1000, ell: int = 32):
    fd = FrequentDirections(X[0].size, ell)
    for i in range(0, len(X), batch):
        g, _ = _gradients(model, torch.as_tensor(X[i : i + batch]))
        fd.update(g.reshape(len(g), -1).to(torch.float64).numpy())
    return fd.result(shape=X.shape[1:]), fd


def _materialised(model, X):
    V = instability_directions(model, X).matrix
    return principal_direction(V, method="eigh")


def _peak(fn) -> tuple[object, float]:
    tracemalloc.start()
    out = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, peak / 2**20


def run(repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Run the decision-boundary benchmarks; sizes grow with ``scale`` (10,000 states at small)."""
    f = SCALES[scale]
    n = max(1000, int(10_000 * f))
    model, X = _states(n)
    rows = []

    # 1. streaming sketch vs materialising V and L
    (res_s, fd), mem_s = _peak(lambda: _streaming(model, X))
    res_m, mem_m = _peak(lambda: _materialised(model, X))
    t_s = best_time(lambda: _streaming(model, X), repeats)
    t_m = best_time(lambda: _materialised(model, X), repeats)
    cos = abs(float(res_s.direction.ravel() @ res_m.direction.ravel()))
    lam_rel = abs(res_s.lambda_max - res_m.lambda_max) / res_m.lambda_max
    rows.append(
        BenchRow(
            "G_S streaming (FD sketch, ell=32)",
            t_s,
            "materialise V and L, eigh",
            t_m,
            f"N={n}, d={X[0].size}",
            f"peak numpy memory {mem_s:.1f} vs {mem_m:.1f} MiB; |cos|={cos:.6f}; "
            f"λ_max rel. diff {lam_rel:.1e} (certified ≤ {fd.shrinkage / res_m.lambda_max:.1e})",
        )
    )

    # 2. from a materialised V: thin SVD and power iteration vs eigh(L)
    V = instability_directions(model, X).matrix
    ref = principal_direction(V, method="eigh")
    chunks = [V[i : i + 1000] for i in range(0, len(V), 1000)]
    for name, fn in (
        ("G_S by thin SVD of V", lambda: principal_direction(V, method="svd")),
        ("G_S by streaming power iteration", lambda: principal_direction(chunks)),
    ):
        r = fn()
        c = abs(float(r.direction.ravel() @ ref.direction.ravel()))
        rows.append(
            BenchRow(
                name,
                best_time(fn, repeats),
                "eigh of the d x d matrix L",
                best_time(lambda: principal_direction(V, method="eigh"), repeats),
                f"N={n}, d={V.shape[1]}",
                f"1-|cos| = {1 - c:.1e}; nit={r.nit}",
            )
        )

    # 3. batched attacks vs per-state loops
    m = max(50, int(200 * f))
    Xa = X[:m]
    for name, fn in (
        ("DeepFool, batched", lambda Z: deepfool(model, Z, max_iter=20)),
        ("PGD-10 ℓ∞ ε=0.05, batched", lambda Z: pgd(model, Z, 0.05, steps=10, random_start=False)),
    ):
        batched = fn(Xa)
        looped = [fn(Xa[i : i + 1]) for i in range(m)]
        same = np.mean(
            [
                bool(lr.flipped[0]) == bool(bf)
                for lr, bf in zip(looped, batched.flipped, strict=True)
            ]
        )
        rows.append(
            BenchRow(
                name,
                best_time(lambda fn=fn: fn(Xa), repeats),
                "one call per state",
                best_time(lambda fn=fn: [fn(Xa[i : i + 1]) for i in range(m)], 1),
                f"N={m}, 1x36x36",
                f"flip rate {batched.flip_rate:.2f}; same verdict on {same:.0%} of states",
            )
        )
    return rows
