"""Benchmark of :mod:`perturbation.sweeps`: the cost of the sweep machinery and of each engine.

64 tiny numpy tasks (16 seeds x 4 eps): each
runs ``n_iter`` steps of ``x <- tanh(eps A x) + 0.1`` with a seeded 32 x 32 Gaussian ``A / sqrt(32)``
(``eps <= 0.4``: a contraction, so the batched and looped values agree to rounding).
Every row is timed against the plain Python loop over the same 64 tasks in this run:

- the sweep in-process (sequential), without and with per-run JSON persistence;
- the sweep in-process with the task declared batched (one stacked numpy call for all 64);
- the sweep on joblib (``loky``, 2 processes), warm pool; start-up timed separately;
- the sweep on Ray (local instance, 2 CPUs) when ray is installed; start-up timed separately.

``check`` carries the overhead per run, ``(engine - loop) / 64``, and whether the values agree.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time

import numpy as np

from perturbation.bench import BenchRow, best_time
from perturbation.registry import SCALES
from perturbation.sweeps import Grid, batched, sweep

_N = 32


def _matrix(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(_N, _N)) / np.sqrt(_N)


def task(config: dict, seed: int) -> dict[str, float]:
    """One tiny run: ``n_iter`` steps of ``x <- tanh(eps A x) + 0.1``; returns the final norm."""
    a = config["eps"] * _matrix(seed)
    x = np.ones(_N)
    for _ in range(config["n_iter"]):
        x = np.tanh(a @ x) + 0.1
    return {"norm": float(np.linalg.norm(x))}


@batched
def task_batched(configs: list[dict], seeds: list[int]) -> list[dict[str, float]]:
    """The same runs at once: stacked matrices, one batched matmul per step."""
    a = np.stack([c["eps"] * _matrix(s) for c, s in zip(configs, seeds, strict=True)])
    x = np.ones((len(configs), _N))
    for _ in range(configs[0]["n_iter"]):
        x = np.tanh(np.einsum("bij,bj->bi", a, x)) + 0.1
    return [{"norm": float(v)} for v in np.linalg.norm(x, axis=1)]


def _values(res) -> np.ndarray:
    return np.array([r["value"] for r in res.table])


def run(repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Run the sweep benchmarks (64 runs; the per-run work grows with ``scale``)."""
    n_iter = max(100, int(1000 * SCALES[scale]))  # about 1.5 ms per run at "small"
    grid = Grid({"eps": [0.1, 0.2, 0.3, 0.4]}, seeds=16, fixed={"n_iter": n_iter})
    specs = list(grid)
    n = len(specs)
    size = f"{n} runs (16 seeds x 4 eps), {n_iter} steps of a {_N}x{_N} matvec"

    def loop():
        return [task(s.config, s.seed) for s in specs]

    ref = np.array([m["norm"] for m in loop()])
    t_loop = best_time(loop, repeats)
    rows = []

    def row(name: str, fn, startup: float | None = None) -> None:
        res = fn()
        t = best_time(fn, repeats)
        err = float(np.max(np.abs(_values(res) - ref)))
        extra = f"; start-up {startup:.2f} s" if startup is not None else ""
        check = f"{(t - t_loop) / n * 1e3:+.3f} ms/run overhead; max |Δ| = {err:.1e}{extra}"
        rows.append(BenchRow(name, t, "plain Python loop", t_loop, size, check))

    row("sweep, in-process", lambda: sweep(grid, task, engine="inprocess", progress=False))
    with tempfile.TemporaryDirectory() as tmp:
        row(
            "sweep, in-process + JSON per run",
            lambda: sweep(
                grid, task, engine="inprocess", out_dir=tmp, resume=False, progress=False
            ),
        )
    row("sweep, in-process batched", lambda: sweep(grid, task_batched, progress=False))

    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    t0 = time.perf_counter()
    sweep(
        Grid({}, fixed={"eps": 1.0, "n_iter": 1}), task, engine="joblib", n_jobs=2, progress=False
    )
    startup = time.perf_counter() - t0
    row(
        "sweep, joblib (loky, 2 processes)",
        lambda: sweep(grid, task, engine="joblib", n_jobs=2, progress=False),
        startup,
    )

    if importlib.util.find_spec("ray") is not None:
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - t0
        try:
            row(
                "sweep, ray (local, 2 CPUs)",
                lambda: sweep(grid, task, engine="ray", progress=False),
                startup,
            )
        finally:
            ray.shutdown()
    return rows
