"""Benchmark of the leaderboard: runs per second with every (condition, seed) run of a method
stacked in one model, against the same runs trained one by one.

For each method timed, the leaderboard's protocol at its default ``small`` scale (``tiny`` for
``scale="tiny"``), through the protocol's own training call (the exact evaluations along
training included): ``K`` conditions x ``n`` seeds trained as one stacked model, against the first
``n_loop`` of those runs trained one at a time (each its own one-run model from the same seed's
base model and the same condition): ``speedup = (one-by-one seconds per run) / (stacked seconds
per run)``, i.e. the ratio of runs per second. The check column gives the largest difference of
the final exact log-probabilities between a one-by-one run and its stacked twin. Both train in
float32 and draw the same random numbers, so they agree up to round-off until a sampled token
flips where two logits nearly tie; from there the twins follow different samples and may
drift apart (the trainers' tests show stacked == one by one within 1e-9 in float64).
``leaderboard_runs_per_s_ratio`` is the geometric mean of the methods' speedups.
"""

from __future__ import annotations

import math

from perturbation.bench import BenchRow
from perturbation.leaderboard.methods import METHODS
from perturbation.leaderboard.protocol import (
    LEADERBOARD_SCALES,
    _train,
    _with_logging,
    condition_task,
    conditions,
    leaderboard_task,
)
from perturbation.registry import SCALES
from perturbation.sequence._common import reference
from trainers.sequence import exact_distribution

#: The JSON keys this area always writes.
KEYS = ("leaderboard_runs_per_s_ratio",)
#: Methods timed (the group, critic and preference families).
TIMED = ("grpo", "ppo", "dpo")


def _time_method(key: str, scale_name: str, n_loop: int) -> tuple[BenchRow, float]:
    import time

    method = METHODS[key]
    scale = LEADERBOARD_SCALES[scale_name]
    task = leaderboard_task(scale_name)
    seeds = tuple(range(scale.seeds))
    conds = conditions(scale)
    # one task object per condition, shared by its seeds' runs (scored together)
    cond_tasks = [condition_task(task, c, preference=method.preference) for c in conds]
    run_tasks = [t for t in cond_tasks for _ in seeds]
    cfg = _with_logging(method.config(method.lr, scale.budget), scale.evals)
    ref = reference(task, seeds, "cpu")
    N = len(run_tasks)
    start = time.perf_counter()
    stacked, _ = _train(method, task, run_tasks, seeds, cfg, ref, len(conds), "cpu")
    t_stacked = (time.perf_counter() - start) / N
    final = exact_distribution(stacked.policy, task).logp
    diff, t_loop = 0.0, 0.0
    for j in range(n_loop):  # run j: condition j // n, seed j % n (n seeds)
        i = j % len(seeds)
        one_ref = reference(task, (seeds[i],), "cpu")
        start = time.perf_counter()
        one, _ = _train(method, task, [run_tasks[j]], (seeds[i],), cfg, one_ref, 1, "cpu")
        t_loop += time.perf_counter() - start
        lp = exact_distribution(one.policy, task).logp[0]
        diff = max(diff, float((lp - final[j]).abs().max()))
    t_loop /= n_loop
    row = BenchRow(
        f"{method.label}: {N} runs stacked (per run)",
        t_stacked,
        "one by one (per run)",
        t_loop,
        f"{len(conds)} conditions x {len(seeds)} seeds, budget {scale.budget} samples/run "
        f"(loop: {n_loop} runs)",
        f"max |Δ log π| stacked vs one by one = {diff:.1e}",
    )
    return row, t_loop / t_stacked


def run(repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Time :data:`TIMED` batched and one by one (``repeats`` is unused: each run is long)."""
    lb_scale = "tiny" if SCALES[scale] < 1 else "small"
    n_loop = 2 if SCALES[scale] <= 1 else 4
    rows, speedups = [], []
    for key in TIMED:
        row, s = _time_method(key, lb_scale, n_loop)
        rows.append(row)
        speedups.append(s)
    geo = math.exp(sum(math.log(s) for s in speedups) / len(speedups))
    rows.append(
        BenchRow(
            "geometric mean over the methods",
            1.0,
            "one by one",
            geo,
            ", ".join(TIMED),
            "runs per second, stacked / one by one",
            key="leaderboard_runs_per_s_ratio",
        )
    )
    return rows
