"""Benchmark of :mod:`theory`: batched solves and vectorized kernels vs straightforward baselines.

Rows (each ratio measured in this run):

- soft value iteration for N perturbed rewards at once (``rewards=`` batch) vs N separate calls;
- value iteration with numpy vs a pure-Python reference (the textbook triple loop);
- the local softmax constant by subset sums vs brute force over sign vectors.
"""

from __future__ import annotations

import numpy as np

import theory as T
from perturbation.bench import BenchRow, best_time
from perturbation.registry import SCALES
from theory.generators import random_mdp


def _python_value_iteration(P: np.ndarray, R: np.ndarray, gamma: float, n_iter: int) -> np.ndarray:
    S, A = R.shape
    P_list, R_list = P.tolist(), R.tolist()
    q = [[0.0] * A for _ in range(S)]
    for _ in range(n_iter):
        v = [max(row) for row in q]
        q = [
            [
                R_list[s][a] + gamma * sum(p * vv for p, vv in zip(P_list[s][a], v, strict=True))
                for a in range(A)
            ]
            for s in range(S)
        ]
    return np.array(q)


def run(repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Run the theory benchmarks; sizes grow with ``scale``."""
    f = SCALES[scale]
    rng = np.random.default_rng(0)
    rows = []

    # 1. Batched soft value iteration over N perturbations (the sweeps' speed lever).
    n = max(8, int(128 * f))
    mdp = random_mdp(rng, 10, 4, 0.9)
    batch = mdp.R + rng.uniform(-0.1, 0.1, (n, 10, 4))
    batched = T.soft_optimal_policy(mdp, 0.1, rewards=batch)
    looped = np.stack([T.soft_optimal_policy(mdp.with_reward(r), 0.1) for r in batch])
    t_batch = best_time(lambda: T.soft_optimal_policy(mdp, 0.1, rewards=batch), repeats)
    t_loop = best_time(
        lambda: [T.soft_optimal_policy(mdp.with_reward(r), 0.1) for r in batch], repeats
    )
    rows.append(
        BenchRow(
            "soft VI, batch of rewards",
            t_batch,
            "one call per reward",
            t_loop,
            f"N={n}, S=10, A=4, γ=0.9",
            f"max |Δπ| = {np.max(np.abs(batched - looped)):.1e}",
        )
    )

    # 2. Vectorized value iteration vs the pure-Python triple loop (same number of backups).
    S = max(8, int(20 * f))
    mdp = random_mdp(rng, S, 5, 0.9)
    res = T.value_iteration(mdp, tol=1e-10)
    ref = _python_value_iteration(mdp.P, mdp.R, mdp.gamma, res.nit)
    t_np = best_time(lambda: T.value_iteration(mdp, tol=1e-10), repeats)
    t_py = best_time(lambda: _python_value_iteration(mdp.P, mdp.R, mdp.gamma, res.nit), 1)
    rows.append(
        BenchRow(
            "value iteration (numpy)",
            t_np,
            "pure-Python loops",
            t_py,
            f"S={S}, A=5, {res.nit} backups",
            f"max |ΔQ| = {np.max(np.abs(res.q - ref)):.1e}",
        )
    )

    # 3. Local softmax constant: 2^d subset sums vs 2^d sign vectors times a d x d Jacobian.
    d = 12 if f <= 1 else 16
    x = rng.normal(size=d)
    a, b = T.local_softmax_constant(x, 0.5), T.jacobian_inf_to_one_norm(x, 0.5)
    t_sub = best_time(lambda: T.local_softmax_constant(x, 0.5), repeats)
    t_sign = best_time(lambda: T.jacobian_inf_to_one_norm(x, 0.5), repeats)
    rows.append(
        BenchRow(
            "local softmax constant (subset sums)",
            t_sub,
            "sign-vector brute force",
            t_sign,
            f"d={d}",
            f"|Δ| = {abs(a - b):.1e}",
        )
    )
    return rows
