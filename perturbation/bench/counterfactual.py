"""Benchmark of :mod:`stability.counterfactual`: batched over queries vs a per-query loop.

Rows (each ratio measured in this run, one torch thread):

- Stability R-hat of 1,000 queries with k = 1,000 samples each (``small``), batched vs one call
  per query with the same samples;
- T-Rex:I over 100 queries, batched vs one call per query (same base counterfactuals).
"""

from __future__ import annotations

import numpy as np
import torch

from perturbation.bench import BenchRow, best_time
from perturbation.registry import SCALES
from stability.counterfactual import closest_counterfactual, moons, predict_proba, train_mlp, trex
from stability.counterfactual.measure import _stability_core
from stability.counterfactual.models import _ProbabilityModel


def run(repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Run the counterfactual benchmarks; sizes grow with ``scale``."""
    torch.set_num_threads(1)
    f = SCALES[scale]
    data = moons(600, d=10, seed=0)
    model = train_mlp(data.X_train, data.y_train, hidden=(32, 32), epochs=150, lr=0.03, seed=0)
    pm = _ProbabilityModel(model)
    rows = []

    # 1. Stability of n queries, k samples each: one batched pass vs n calls.
    n, k = max(50, int(1000 * f)), 1000
    X = np.random.default_rng(0).uniform(0, 1, (n, 10))
    xi = torch.from_numpy(np.random.default_rng(1).standard_normal((n, k, 10)))
    xt = torch.from_numpy(X)

    def batched() -> np.ndarray:
        with torch.no_grad():
            return np.concatenate(
                [
                    _stability_core(pm, xt[s : s + 256], xi[s : s + 256], 0.05, None, True).numpy()
                    for s in range(0, n, 256)
                ]
            )

    def looped() -> np.ndarray:
        with torch.no_grad():
            return np.array(
                [
                    _stability_core(pm, xt[i : i + 1], xi[i : i + 1], 0.05, None, True).item()
                    for i in range(n)
                ]
            )

    a, b = batched(), looped()
    rows.append(
        BenchRow(
            "Stability R-hat, batched",
            best_time(batched, repeats),
            "one call per query",
            best_time(looped, max(1, repeats - 1)),
            f"n={n}, k={k}, d=10, MLP 2x32",
            f"max |ΔR̂| = {np.max(np.abs(a - b)):.1e}",
        )
    )

    # 2. T-Rex:I over m queries: batched ascent vs one call per query.
    m = max(20, int(100 * f))
    q = data.X_test[predict_proba(model, data.X_test) < 0.5]
    q = np.concatenate([q, data.X_train[predict_proba(model, data.X_train) < 0.5]])[:m]
    base = closest_counterfactual(model, q, box=(0, 1)).counterfactuals
    kw = dict(k=200, sigma=0.05, tau=0.75, max_steps=20, box=(0, 1))

    def t_batched():
        return trex(model, q, base=base, seed=0, **kw)

    def t_looped():
        return [
            trex(model, q[i : i + 1], base=base[i : i + 1], seed=0, **kw) for i in range(len(q))
        ]

    rb = t_batched()
    found = rb.found.mean()
    rows.append(
        BenchRow(
            "T-Rex:I, batched",
            best_time(t_batched, repeats),
            "one call per query",
            best_time(t_looped, 1),
            f"n={len(q)}, k=200, ≤20 steps",
            f"found {found:.0%}, mean R̂ {np.nanmean(rb.stability):.3f}",
        )
    )
    return rows
