"""Shared instances of the counterfactual experiments: random models, the retrained-MLP sweep."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import torch

from perturbation.registry import SCALES, RunContext, frozen
from stability.counterfactual import (
    breast_cancer,
    changed_models,
    closest_counterfactual,
    evaluate,
    logistic_model,
    moons,
    predict_proba,
    robx,
    sns,
    train_mlp,
    trex,
    trex_nn,
    wachter,
)

#: Standard deviation of the Stability samples in the sweep (the authors' ``--sig 0.05``).
SIGMA = 0.05
#: T-Rex:I's target Stability (the authors' ``--tau 0.75``).
TAU = 0.75


def random_models(
    ctx: RunContext, key: str, n: int
) -> Iterator[tuple[np.random.Generator, torch.nn.Sequential, np.ndarray]]:
    """``n`` random float64 models (logistic models and 1-hidden-layer tanh/ReLU MLPs,
    alternately) with 64 queries each, uniform in [-2, 2]^d."""
    rng = ctx.rng(key)
    for i in range(n):
        if i % 2 == 0:
            d = int(rng.integers(1, 6))
            w = rng.normal(size=d)
            model = logistic_model(w * rng.choice([0.3, 1.0, 3.0]) / np.linalg.norm(w), 0.0)
        else:
            model = _mlp(rng)
        d = model[0].in_features
        X = rng.uniform(-2, 2, (64, d))
        yield rng, model, X


def _mlp(rng: np.random.Generator) -> torch.nn.Sequential:
    d, h = int(rng.integers(1, 5)), int(rng.integers(2, 9))
    act = torch.nn.Tanh if rng.random() < 0.5 else torch.nn.ReLU
    net = torch.nn.Sequential(
        torch.nn.Linear(d, h), act(), torch.nn.Linear(h, 1), torch.nn.Sigmoid()
    ).double()
    scale = float(rng.choice([0.3, 1.0]))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.from_numpy(scale * rng.normal(size=tuple(p.shape))))
    return net


def _factory(hidden: tuple[int, ...], epochs: int):
    def make(X: np.ndarray, y: np.ndarray, seed: int) -> torch.nn.Sequential:
        return train_mlp(X, y, hidden=hidden, epochs=epochs, lr=0.03, seed=seed)

    return make


@functools.lru_cache(maxsize=4)
def sweep(ctx: RunContext, name: str):
    """Base MLP, >= 10 retrained MLPs, and every generator's counterfactuals for the first
    rejected test points of the dataset ``name`` ("breast-cancer" or "moons"): 20 at the
    default scale, 40 per unit of scale above it (160 at medium); read-only (shared by claims)."""
    data = (
        breast_cancer(seed=ctx.seed) if name == "breast-cancer" else moons(600, d=10, seed=ctx.seed)
    )
    factory = _factory((16, 16), 150)
    model = factory(data.X_train, data.y_train, 1000 + ctx.seed)
    fam = changed_models(
        factory,
        data.X_train,
        data.y_train,
        kind="retrain",
        n_models=max(10, ctx.n(10)),
        seed=ctx.seed,
    )
    n_queries = ctx.n(40) if SCALES[ctx.scale] > 1 else ctx.n(20, minimum=10)
    q = data.X_test[predict_proba(model, data.X_test) < 0.5][:n_queries]
    box = (0.0, 1.0)
    k = max(200, ctx.n(500))
    base = closest_counterfactual(model, q, norm=1, box=box)
    results = {
        "closest": base,
        "wachter": wachter(model, q, box=box),
        "trex": trex(
            model, q, base=base.counterfactuals, k=k, sigma=SIGMA, tau=TAU, box=box, seed=ctx.seed
        ),
        "trex-nn": trex_nn(model, q, data.X_train, k=k, sigma=SIGMA, tau=TAU, seed=ctx.seed),
        "sns": sns(model, q, base=base.counterfactuals, box=box),
        "robx": robx(
            model,
            q,
            data.X_train,
            base=base.counterfactuals,
            k=k,
            sigma=SIGMA,
            tau=0.6,
            seed=ctx.seed,
        ),
    }
    table = [
        evaluate(res, q, model, fam, data.X_train, k=k, sigma=SIGMA, seed=ctx.seed)
        for res in results.values()
    ]
    return frozen(
        {
            "data": data,
            "model": model,
            "family": fam,
            "queries": q,
            "results": results,
            "table": table,
        }
    )
