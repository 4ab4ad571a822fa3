"""Benchmark of :mod:`trainers`: batched training and PPO throughput, ratios measured in this run.

Rows:

- ``batched_speedup``: GRPO on the verifiable bandit (:func:`trainers.tasks.verifiable_bandit`:
  8-d contexts, 10 arms; MLP 8-64-10, G = 8, beta = 0.04 with k3, 300 steps): 128 runs as
  one stacked model vs the same runs one by one; per-run throughput (the one-by-one time is
  measured on the first ``n_loop`` runs and is per run). The check column compares the two
  modes' policies.
- ``ppo_sps_ratio_vs_sb3``: PPO on CartPole-v1 with CleanRL's hyperparameters, steps per second
  vs Stable-Baselines3's PPO with matched settings, same number of steps, one thread each.
  Skipped with a message when ``stable_baselines3`` is not installed (extra ``bench``).

``STABILITY_BENCH_DEVICE=cuda`` runs the toolkit's side on a GPU.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from perturbation.bench import BenchRow
from perturbation.bench._sb3 import sb3_available, timed_learn
from perturbation.registry import SCALES
from trainers.policy_gradient import PGConfig, train_bandit_runs
from trainers.ppo import PPOConfig, train_ppo
from trainers.tasks import verifiable_bandit


def _batched_row(scale: str, device: str) -> BenchRow:
    f = SCALES[scale]
    n = 128 if f >= 1 else 32
    n_loop = max(4, int(16 * f))
    task = verifiable_bandit(np.random.default_rng(0), n_contexts=32)
    cfg = PGConfig(
        algorithm="grpo",
        beta=0.04,
        kl_estimator="k3",
        scale_rewards="group",
        steps=300,
        hidden=64,
        lr=0.01,
        group_size=8,
    )
    seeds = list(range(n))
    train_bandit_runs(task, cfg, seeds[:2], device=device)  # warm-up
    t = time.perf_counter()
    batched = train_bandit_runs(task, cfg, seeds, device=device)
    t_batch = (time.perf_counter() - t) / n
    t = time.perf_counter()
    looped = train_bandit_runs(task, cfg, seeds[:n_loop], batched=False, device=device)
    t_loop = (time.perf_counter() - t) / n_loop
    diff = float(np.abs(batched.policies[:n_loop] - looped.policies).max())
    acc = float((batched.policies * task.rewards).sum(-1).mean())
    return BenchRow(
        "GRPO, N runs batched (per run)",
        t_batch,
        "one by one (per run)",
        t_loop,
        f"N={n} (loop: {n_loop}), 32 prompts x G=8, MLP 8-64-10, 300 steps",
        f"max |Δπ| = {diff:.1e}; accuracy {acc:.2f} (chance 0.10)",
        key="batched_speedup",
    )


def _sb3_ppo(total: int, seed: int) -> tuple[float, float]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("CartPole-v1", n_envs=4, seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        learning_rate=lambda p: 2.5e-4 * p,
        n_steps=128,
        batch_size=128,
        n_epochs=4,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        max_grad_norm=0.5,
        policy_kwargs={
            "net_arch": {"pi": [64, 64], "vf": [64, 64]},
            "activation_fn": torch.nn.Tanh,
        },
        device="cpu",
        seed=seed,
        verbose=0,
    )
    return timed_learn(model, total, last=20)


def _ppo_row(scale: str, device: str) -> BenchRow | None:
    if not sb3_available("trainers", "PPO-vs-SB3"):
        return None
    total = 512 * max(8, int(32 * SCALES[scale]))
    ours = train_ppo(
        "CartPole-v1", PPOConfig(total_timesteps=total), seed=0, device=device, progress=False
    )
    sb3_seconds, sb3_ret = _sb3_ppo(total, 0)
    return BenchRow(
        "PPO CartPole-v1 (CleanRL hyperparameters)",
        ours.seconds,
        "Stable-Baselines3 PPO, matched",
        sb3_seconds,
        f"{total} steps, 4 envs x 128, 1 thread; SPS {ours.sps:.0f} vs {total / sb3_seconds:.0f}",
        f"last-20 return {np.mean(ours.episode_returns[-20:]):.0f} vs {sb3_ret:.0f}",
        key="ppo_sps_ratio_vs_sb3",
    )


def run(repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Run the trainers benchmarks (``repeats`` is unused: each row is one long timing)."""
    device = os.environ.get("STABILITY_BENCH_DEVICE", "cpu")
    rows = [_batched_row(scale, device)]
    ppo = _ppo_row(scale, device)
    if ppo is not None:
        rows.append(ppo)
    return rows
