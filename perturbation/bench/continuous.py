"""Benchmark of :mod:`trainers.sac`: SAC throughput, ratios measured in this run.

Rows:

- ``dsac_t_speed_ratio_vs_sac``: DSAC-T's three refinements vs plain SAC, same settings and steps on
  Pendulum-v1 (the distributional critic's extra cost); always run.
- ``sac_batched_speedup``: 8 seeds of SAC on the LQ task (linear-quadratic function classes) as
  one stacked model (:func:`trainers.sac.train_sac_runs`) vs 8 calls of :func:`trainers.sac.train_sac`,
  same steps; always run.
- ``sac_sps_ratio_vs_sb3``: SAC on Pendulum-v1 with CleanRL's ``sac_continuous_action.py``
  settings (batch 256, 256-256 MLPs, autotuned alpha) with SB3's one actor update per step and one learning rate 3e-4, steps per second vs
  Stable-Baselines3's SAC with matched settings, same number of steps, one thread each. Skipped
  with a message when ``stable_baselines3`` is not installed (extra ``bench``).

``STABILITY_BENCH_DEVICE=cuda`` runs the toolkit's side on a GPU.
"""

from __future__ import annotations

import os
import time

import numpy as np

from perturbation.bench import BenchRow
from perturbation.bench._sb3 import sb3_available, timed_learn
from perturbation.registry import SCALES
from trainers.sac import SACConfig, train_sac, train_sac_runs

KEYS = ("dsac_t_speed_ratio_vs_sac", "sac_batched_speedup", "sac_sps_ratio_vs_sb3")


def _steps(scale: str) -> int:
    return max(300, int(1500 * SCALES[scale]))


def _config(total: int, dsac_t: bool = False) -> SACConfig:
    return SACConfig(
        dsac_t=dsac_t,
        hidden=256,
        batch_size=256,
        total_timesteps=total,
        learning_starts=min(100, total // 2),
        policy_frequency=1,
        tau=0.005,
        q_lr=3e-4,
        policy_lr=3e-4,
        gamma=0.99,
    )


def _dsac_row(scale: str, device: str) -> BenchRow:
    total = _steps(scale)
    sac = train_sac("Pendulum-v1", _config(total), seed=0, device=device, progress=False)
    dsac = train_sac("Pendulum-v1", _config(total, True), seed=0, device=device, progress=False)
    return BenchRow(
        "DSAC-T Pendulum-v1",
        dsac.seconds,
        "SAC, same settings",
        sac.seconds,
        f"{total} steps, batch 256, MLP 256-256, 1 thread",
        f"SPS {total / dsac.seconds:.0f} vs {total / sac.seconds:.0f}",
        key="dsac_t_speed_ratio_vs_sac",
    )


def _batched_row(scale: str, device: str) -> BenchRow:
    from theory.continuous import lq_task
    from trainers.continuous_envs import LQEnv

    task = lq_task(1.0, 1.0, 1.0, 0.5, gamma=0.9, noise=0.01)
    total, seeds = max(300, int(600 * SCALES[scale])), list(range(8))
    cfg = SACConfig(
        features="quadratic",
        squash=False,
        total_timesteps=total,
        learning_starts=min(200, total // 2),
        autotune=False,
        alpha=0.1,
    )

    def make():
        return LQEnv(task, horizon=20)

    start = time.perf_counter()
    for s in seeds:
        train_sac(make, cfg, seed=s, device=device, progress=False)
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    batched = train_sac_runs(make, cfg, seeds=seeds, device=device, progress=False)
    seconds = time.perf_counter() - start
    last = [np.mean(r[-5:]) for r in batched.episode_returns]
    return BenchRow(
        "SAC, 8 seeds as one stacked model (LQ)",
        seconds,
        "8 train_sac calls",
        one_by_one,
        f"8 x {total} steps, quadratic features, 1 thread",
        f"median last-5 return {np.median(last):.2f}",
        key="sac_batched_speedup",
    )


def _sb3_sac(total: int, seed: int) -> tuple[float, float]:
    from stable_baselines3 import SAC

    model = SAC(
        "MlpPolicy",
        "Pendulum-v1",
        learning_rate=3e-4,
        buffer_size=total,
        learning_starts=min(100, total // 2),
        batch_size=256,
        tau=0.005,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        policy_kwargs={"net_arch": [256, 256]},
        device="cpu",
        seed=seed,
        verbose=0,
    )
    return timed_learn(model, total, last=5)


def _sb3_row(scale: str, device: str) -> BenchRow | None:
    if not sb3_available("continuous", "SAC-vs-SB3"):
        return None
    total = _steps(scale)
    ours = train_sac("Pendulum-v1", _config(total), seed=0, device=device, progress=False)
    sb3, sb3_return = _sb3_sac(total, 0)
    return BenchRow(
        "SAC Pendulum-v1 (CleanRL settings)",
        ours.seconds,
        "Stable-Baselines3 SAC, matched",
        sb3,
        f"{total} steps, batch 256, MLP 256-256, 1 thread; SPS {total / ours.seconds:.0f} vs "
        f"{total / sb3:.0f}",
        f"last-5 return {np.mean(ours.episode_returns[-5:]):.0f} vs SB3 {sb3_return:.0f}",
        key="sac_sps_ratio_vs_sb3",
    )


def run(repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Run the SAC benchmarks (``repeats`` is unused: each row is one long timing)."""
    device = os.environ.get("STABILITY_BENCH_DEVICE", "cpu")
    rows = [_dsac_row(scale, device), _batched_row(scale, device)]
    sb3 = _sb3_row(scale, device)
    if sb3 is not None:
        rows.append(sb3)
    return rows
