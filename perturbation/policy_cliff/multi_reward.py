"""Multi-reward RL: effective rewards, the cliff with K reward models and its cure (Xu 2025, §4)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

import theory as T
from perturbation.plots import save_plot
from perturbation.policy_cliff._common import (
    ALPHAS,
    VI_TOL,
    ratios,
    soft_changes,
    soft_series,
    soft_worst,
)
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Theorem, Worst, claim, frozen
from theory import bounds as B
from theory.generators import (
    conflicting_multi_reward_task,
)

# ---------------------------------------------------------------------------------------------
# Multi-reward RL: effective rewards, the cliff with K reward models, and its cure
# ---------------------------------------------------------------------------------------------


def _lemma_4_2_bound(distance_n: float, weights: np.ndarray) -> float:
    """Lemma 4.2 (Xu 2025): ``||R_eff(R) - R_eff(R')||_inf <= L(w) ||R - R'||_N`` with the
    library's Lipschitz constant ``L(w)`` (1 for weights on the simplex)."""
    return T.effective_reward_lipschitz_constant(weights) * distance_n


@claim(
    id="policy-cliff/lemma-4.2",
    statement="The effective reward is 1-Lipschitz: ‖R_eff(R) − R_eff(R')‖∞ ≤ max_k ‖R_k − R'_k‖∞, "
    "with equality when every component moves by the same amount.",
    reference=ref("policy-cliff", "Lemma 4.2"),
    bound=Theorem(_lemma_4_2_bound),
)
def lemma_4_2(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("lemma-4.2")
    worst, equal_ok = Worst("<="), True
    for i in range(ctx.n(300)):
        K, S, A = (int(v) for v in rng.integers(2, 6, size=3))
        w = rng.dirichlet(np.full(K, rng.choice([0.2, 1.0])), S)
        R = rng.normal(size=(K, S, A))
        same = i % 3 == 0
        d = np.repeat(rng.normal(size=(1, S, A)), K, axis=0) if same else rng.normal(size=(K, S, A))
        m = T.reward_distance(T.effective_reward(R, w), T.effective_reward(R + d, w))
        b = bound(float(np.max(np.abs(d))), w)
        worst.add(m, b)
        if same and (i // 3) % 2 == 0:  # constant-over-k shifts of equal size: equality
            d = np.full((K, S, A), 0.3)
            m = T.reward_distance(T.effective_reward(R, w), T.effective_reward(R + d, w))
            equal_ok &= abs(m - 0.3) <= 1e-12
    return worst.evidence(
        rtol=1e-12,
        note=f"{ctx.n(300)} random (K, S, A) ≤ 5 instances with simplex weights; reported: the "
        "largest ratio.",
        require={"equality for equal component shifts": bool(equal_ok)},
        details={"max_ratio": worst.score},
    )


@functools.lru_cache(maxsize=4)
def _multi_reward_sweep(ctx: RunContext) -> dict[str, object]:
    """The small-scale analogue of the paper's multi-reward experiment (Xu 2025, §5.6)."""
    rng = ctx.rng("multi-reward")
    decades = 6 if ctx.scale in ("tiny", "small") else 11
    deltas = np.logspace(-6, -1, decades)
    rows, flips = [], []
    tasks = [
        conflicting_multi_reward_task(rng, tie_size=m, gamma=0.9)
        for m in (2, 3)
        for _ in range(ctx.n(2))
    ]
    for task in tasks:
        mdp = task.effective_mdp
        q0 = T.optimal_q(mdp, tol=VI_TOL)
        tied = T.argmax_mask(q0)
        sb = task.boundary_states[0]  # boundary of domains 0 and 1: w_0(sb) = 1/2
        a2 = int(np.flatnonzero(tied[sb])[1])
        batch = [task.rewards]
        for d in deltas:  # targeted: only component 0 ("safety") moves, by +d at (sb, a2)
            r = task.rewards.copy()
            r[0, sb, a2] += d
            batch.append(r)
        reff = np.stack([T.effective_reward(r, task.weights) for r in batch])
        hard = T.uniform_argmax_policy(T.optimal_q(mdp, rewards=reff, tol=VI_TOL))
        soft = soft_changes(mdp, reff)
        for j, d in enumerate(deltas):
            row = {
                "m": task.tie_size,
                "delta": float(d),
                "distance_n": T.reward_distance(batch[0], batch[j + 1]),
                "hard": T.max_total_variation(hard[0], hard[j + 1]),
            }
            row.update({f"soft_{a}": float(soft[a][j]) for a in ALPHAS})
            rows.append(row)
        # random dense perturbations of one random component: how often does greedy flip?
        greedy0 = np.argmax(q0, axis=-1)
        for d in deltas:
            k = rng.integers(task.rewards.shape[0], size=16)
            noise = rng.uniform(-1, 1, (16, *task.rewards.shape[1:])) * d
            rr = np.repeat(task.rewards[None], 16, axis=0)
            rr[np.arange(16), k] += noise
            q = T.optimal_q(mdp, rewards=np.einsum("sk,nksa->nsa", task.weights, rr), tol=VI_TOL)
            flips.append((float(d), float(np.mean(np.any(np.argmax(q, -1) != greedy0, -1)))))
    return frozen(
        {"rows": rows, "flips": flips, "gamma": 0.9, "deltas": deltas, "n_tasks": len(tasks)}
    )


@claim(
    id="policy-cliff/prop-4.6-multi-reward",
    statement="Multi-reward cliff: where conflicting reward models tie the effective reward, "
    "moving one component by δ flips the uniform-over-argmax policy by (m−1)/m for every δ > 0.",
    reference=ref("policy-cliff", "Prop 4.6; small-scale analogue of §5.6"),
    bound=Theorem(B.cliff_tv_jump),
)
def prop_4_6_multi_reward(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sw = _multi_reward_sweep(ctx)
    rows = sw["rows"]
    i = int(np.argmax([abs(r["hard"] - bound(r["m"])) for r in rows]))
    rates = {}
    for d, rate in sw["flips"]:
        rates.setdefault(d, []).append(rate)
    table = [
        {"δ": d, "greedy flip rate (random component noise)": float(np.mean(v))}
        for d, v in rates.items()
    ]
    return Evidence.equal(
        rows[i]["hard"],
        bound(rows[i]["m"]),
        atol=1e-9,
        note=f"{sw['n_tasks']} tasks with K = 3 reward components (one-hot router inside domains, "
        "½/½ at boundary states), ties of size m ∈ (2, 3) at boundary states created by "
        "conflicting components; component 0 moved by δ ∈ [1e-6, 1e-1] at one tied action; "
        "reported: the δ whose jump deviates most from (m−1)/m. The table gives the greedy flip "
        "rate under dense noise of size δ on one random component: flat in δ, the cliff.",
        require={
            "‖ΔR‖_N = δ": all(
                abs(r["distance_n"] - r["delta"]) <= 1e-15 + 1e-12 * r["delta"] for r in rows
            )
        },
        details={"table": table},
        plots=[_multi_reward_plot(ctx)],
    )


@claim(
    id="policy-cliff/prop-4.7-multi-reward",
    statement="Multi-reward cure: with entropy regularization the policy moves by at most "
    "‖ΔR‖_N/(2α(1−γ)) under the same single-component perturbations.",
    reference=ref("policy-cliff", "Prop 4.7 (with ‖·‖_N of Lemma 4.2)"),
    bound=Theorem(B.soft_policy_tv_bound),
)
def prop_4_7_multi_reward(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sw = _multi_reward_sweep(ctx)
    rows, gamma = sw["rows"], sw["gamma"]
    worst, per_alpha = soft_worst(rows, "distance_n", bound, gamma)
    table = [
        {"α": a, "max TV/bound": float(np.max(ratios(tv, b))), "max TV": float(tv.max())}
        for a, (tv, b) in per_alpha.items()
    ]
    return worst.evidence(
        rtol=1e-6,
        atol=1e-10,
        note="the perturbations of policy-cliff/prop-4.6-multi-reward; α ∈ (0.01, 0.1, 1); the "
        "effective perturbation is w_0(s)·δ = δ/2 at the boundary state, so ratios ≤ ½ are "
        "expected. Reported: the largest ratio.",
        details={"max_ratio": worst.score, "table": table},
        plots=[_multi_reward_plot(ctx)],
    )


@functools.lru_cache(maxsize=4)
def _multi_reward_plot(ctx: RunContext):
    """The plot shared by the two multi-reward claims (drawn once per run context)."""
    path = ctx.plot_path("policy-cliff-multi-reward")
    if path is None:
        return None
    sw = _multi_reward_sweep(ctx)
    rows = sw["rows"]
    x = np.array([r["distance_n"] for r in rows])
    order = np.argsort(x)
    hard = np.array([r["hard"] for r in rows])[order]
    style = {"ls": "none", "marker": "s", "ms": 4, "color": "k"}
    series = [("hard (uniform argmax)", x[order], hard, style)]
    series += soft_series(rows, "distance_n", sw["gamma"])
    return save_plot(
        path,
        series,
        title="Multi-reward RL (K=3): one reward model moves by δ",
        xlabel="‖ΔR‖_N = max_k ‖ΔR_k‖∞",
        ylabel="max_s d_TV",
    )
