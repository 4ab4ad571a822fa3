"""Claims verified by training (``trainers/*``): the analytical claims, checked on trained policies.

- ``trainers/kl-pg-closed-form``: KL-regularized policy gradient (sampled REINFORCE with the
  PPO-max KL-in-reward penalty) converges to ``pi_ref exp(r/beta)/Z`` across seeds.
- ``trainers/multi-reward-regularized``: the small analogue of the Policy Cliff perturbation
  experiment (Xu 2025, §5.6) on trained policies: K = 3 reward components on a contextual bandit
  with planted ties; one component moves by delta over several decades; every (seed, delta)
  is retrained from scratch with an independent seed (batched); the change of the learned
  policy is compared with the bandit bound ``||dR||_N / (2 beta)`` (Prop 4.7 with gamma = 0).
- ``trainers/multi-reward-drop-ambiguous``: the Model-1 vs Model-3 half of that experiment:
  the same task and initializations, trained with and without the ambiguous (tie) contexts
  (a per-context training mask), with a policy linear in context features so that the dropped
  contexts still get a policy (the features' extrapolation); the change at retained contexts
  is compared with its theoretical value 0 (stated tolerance), at the dropped ones reported.
- ``trainers/soft-q-matches-theory``: soft Q-learning and discrete SAC, trained from sampled
  transitions of a ``TabularMDPEnv``, learn the entropy-regularized optimum
  ``theory.soft_optimal_policy(mdp, alpha)`` to a stated TV tolerance.

All runs of one claim train as one stacked model (:mod:`trainers.batched`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from perturbation.plots import save_plot
from perturbation.registry import Evidence, RunContext, claim
from theory import bounds as B
from theory.generators import random_mdp
from theory.soft import soft_optimal_policy
from trainers.envs import TabularMDPEnv
from trainers.policy_gradient import PGConfig, train_bandit_runs
from trainers.soft_q import SoftQConfig, train_soft_q
from trainers.tasks import ContextualBandit, multi_reward_bandit

PAPER = "Xu 2025 (arXiv:2507.20150)"
#: Stated tolerance of the closed-form claim (max TV over seeds, contexts and betas).
KL_PG_TOL = 1e-3
BETAS = (0.5, 1.0)
REG_BETAS = (0.5, 2.0)


def _kl_pg_tolerance() -> float:
    return KL_PG_TOL


@claim(
    id="trainers/kl-pg-closed-form",
    statement="KL-regularized policy gradient on a bandit converges to the closed form "
    "π_ref·exp(r/β)/Z: max d_TV to it, over seeds and contexts, is below the stated tolerance.",
    reference="Rafailov et al. 2023, §4; Xu 2025, §3.3; spec trainers_tooling §2",
    bound=_kl_pg_tolerance,
)
def kl_pg_closed_form(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("kl-pg")
    C, A = ctx.n(8, minimum=2), 5
    task = ContextualBandit.tabular(rng.uniform(0, 1, (C, A)), rng.dirichlet(np.ones(A), C))
    seeds = list(range(ctx.n(8, minimum=3)))
    table, worst = [], 0.0
    for beta in BETAS:
        target = task.closed_form(beta)
        for name, est, algo in (
            ("REINFORCE, KL in reward (PPO-max)", "reward", "reinforce"),
            ("GRPO loss, k3 KL term (TRL)", "k3", "reinforce"),
        ):
            cfg = PGConfig(
                algorithm=algo,
                beta=beta,
                kl_estimator=est,
                steps=800,
                lr=0.1,
                group_size=16,
                dtype="float64",
                init_std=0.5,
            )
            res = train_bandit_runs(task, cfg, seeds, device=ctx.device)
            tv = res.max_tv(target)
            table.append(
                {"β": beta, "estimator": name, "max TV": float(tv.max()), "mean TV": tv.mean()}
            )
            if est == "reward":
                worst = max(worst, float(tv.max()))
    return Evidence.upper(
        worst,
        bound(),
        note=f"{C} contexts x {A} arms (rewards U[0,1], random references), {len(seeds)} seeds, "
        f"β ∈ {BETAS}; 800 steps, G = 16 samples per context, Adam lr 0.1 annealed; measured: "
        "max over seeds, contexts and β of d_TV(π_trained, π_ref e^(r/β)/Z) for the unbiased "
        "estimator. The k3 loss row is for information [derived]: its gradient is that of "
        "KL(π_ref‖π), so it converges elsewhere.",
        details={"table": table},
    )


@functools.lru_cache(maxsize=4)
def _multi_reward_training(ctx: RunContext) -> dict[str, object]:
    """Retrain on K = 3 components with component 0 moved by delta (spec §3 analogue)."""
    rng = ctx.rng("trainers-multi-reward")
    mr = multi_reward_bandit(rng)
    b0 = mr.boundary[0]  # the boundary of domains 0 and 1: w_0(b0) = 1/2
    base = mr.bandit()
    a2 = int(np.flatnonzero(np.isclose(base.rewards[b0], base.rewards[b0].max()))[1])
    deltas = np.logspace(-4, -1, 4 if ctx.scale == "tiny" else 7)
    n_seeds = ctx.n(6, minimum=3)
    comps = [mr.components]
    for d in deltas:
        c = mr.components.copy()
        c[0, b0, a2] += d
        comps.append(c)
    dist = [float(np.max(np.abs(c - mr.components))) for c in comps[1:]]
    # run (i, j): seed i on reward table j; perturbed runs use independent seeds
    seeds = [1000 * j + i for j in range(len(comps)) for i in range(n_seeds)]
    rewards = np.repeat(mr.effective(np.stack(comps)), n_seeds, axis=0)
    tie = list(mr.boundary)
    non_tie = list(mr.interior())
    out: dict[str, object] = {"deltas": deltas, "dist": dist, "n_seeds": n_seeds, "rows": []}
    for label, beta in [("hard", 0.0)] + [(f"β={b}", b) for b in REG_BETAS]:
        cfg = PGConfig(
            algorithm="exact",
            beta=beta,
            kl_estimator="exact",
            steps=1500,
            lr=0.3,
            dtype="float64",
            init_std=1.0,
        )
        res = train_bandit_runs(base, cfg, seeds, rewards=rewards, device=ctx.device)
        pol = res.policies.reshape(len(comps), n_seeds, *base.rewards.shape)
        ref = pol[0]
        for j, d in enumerate(deltas):
            # all pairs (seed i on R, seed i' on R + dR): independent retraining
            tv = 0.5 * np.abs(pol[j + 1][:, None] - ref[None, :]).sum(-1)  # (n, n, C)
            out["rows"].append(
                {
                    "regularization": label,
                    "β": beta,
                    "δ": float(d),
                    "‖ΔR‖_N": dist[j],
                    "max TV at ties": float(tv[..., tie].max()),
                    "max TV elsewhere": float(tv[..., non_tie].max()),
                    "bound ‖ΔR‖_N/(2β)": dist[j] / (2 * beta) if beta > 0 else float("inf"),
                }
            )
        if beta > 0:
            err = float(res.max_tv(base.closed_form(beta, rewards)).max())
            out[f"convergence {label}"] = err
    return out


@claim(
    id="trainers/multi-reward-regularized",
    statement="Multi-reward training (K=3 reward models, planted ties): with entropy/KL "
    "regularization β the retrained policy moves by at most ‖ΔR‖_N/(2β) and the change shrinks "
    "with δ; unregularized training at the ties changes by O(1) for every δ.",
    reference=f"{PAPER}, Prop 4.7 (bandit form), Prop 4.6, §5.6 (spec §3 analogue)",
    bound=lambda distance_n, beta: B.soft_policy_tv_bound(distance_n, beta, 0.0),
)
def multi_reward_regularized(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sw = _multi_reward_training(ctx)
    rows = sw["rows"]
    reg = [r for r in rows if r["β"] > 0]
    ratios = [
        max(r["max TV at ties"], r["max TV elsewhere"]) / bound(r["‖ΔR‖_N"], r["β"]) for r in reg
    ]
    i = int(np.argmax(ratios))
    worst = reg[i]
    measured = max(worst["max TV at ties"], worst["max TV elsewhere"])
    slopes = {}
    for b in REG_BETAS:
        sub = [r for r in reg if r["β"] == b]
        x = np.log([r["δ"] for r in sub])
        y = np.log([max(r["max TV at ties"], 1e-300) for r in sub])
        slopes[b] = float(np.polyfit(x, y, 1)[0])
    hard = [r["max TV at ties"] for r in rows if r["β"] == 0]
    return Evidence.upper(
        measured,
        bound(worst["‖ΔR‖_N"], worst["β"]),
        rtol=1e-6,
        atol=1e-9,
        note=f"multi-reward bandit: K = 3 components, 12 contexts (3 ambiguous, w = ½/½, exact "
        f"2-way ties), 3 arms; component 0 moved by δ ∈ [1e-4, 1e-1] at one tied arm; "
        f"{sw['n_seeds']} seeds per reward table, every pair (seed on R, independent seed on "
        "R+ΔR) compared; exact policy gradient (expected reward, Adam, 1500 steps). Reported: the "
        "(β, δ) with the largest TV/bound. Hard = β 0: the tie is broken by the initialization.",
        require={
            "regularized change shrinks with δ (log-log slope ≥ 0.9)": all(
                s >= 0.9 for s in slopes.values()
            ),
            "unregularized change at ties does not shrink (≥ 0.1 at every δ)": min(hard) >= 0.1,
        },
        details={
            "slopes": slopes,
            "table": rows,
            **{k: v for k, v in sw.items() if k.startswith("convergence")},
        },
        plots=[_plot(ctx, sw)],
    )


def _plot(ctx: RunContext, sw: dict[str, object]):
    path = ctx.plot_path("trainers-multi-reward")
    if path is None:
        return None
    rows = sw["rows"]
    series = []
    for (label, beta), color in zip(
        [("hard", 0.0)] + [(f"β={b}", b) for b in REG_BETAS], ("k", "C0", "C1"), strict=True
    ):
        sub = [r for r in rows if r["β"] == beta]
        x = np.array([r["‖ΔR‖_N"] for r in sub])
        y = np.array([r["max TV at ties"] for r in sub])
        series.append((f"trained, {label} (ties)", x, y, {"marker": "o", "color": color}))
        if beta > 0:
            series.append(
                (f"bound ‖ΔR‖_N/(2β), {label}", x, x / (2 * beta), {"ls": "--", "color": color})
            )
    return save_plot(
        path,
        series,
        title="Trained policies, K=3 reward models: one model moves by δ",
        xlabel="‖ΔR‖_N",
        ylabel="max d_TV between retrained policies",
    )


#: Stated tolerance of ``trainers/multi-reward-drop-ambiguous``: max TV at retained contexts
#: between the policies trained with and without the ambiguous contexts (theory: 0; measured
#: about 1e-7 at β = 0.5 and 1e-15 at β >= 1 after 1500 steps).
DROP_TOL = 1e-4
DROP_BETAS = (0.5, 1.0, 2.0)
#: Idiosyncratic feature dimensions: with K + 29 = 32 >= 12 contexts the class is realizable.
DROP_EXTRA_DIMS = 29


def _drop_tolerance() -> float:
    return DROP_TOL


@functools.lru_cache(maxsize=4)
def _drop_ambiguous_training(ctx: RunContext) -> dict[str, object]:
    """Model-1 (all contexts) vs Model-3 (ambiguous contexts dropped), paired by seed."""
    rng = ctx.rng("trainers-drop-ambiguous")
    mr = multi_reward_bandit(rng)
    task = mr.bandit(features=mr.features(rng, DROP_EXTRA_DIMS))
    C = task.n_contexts
    tie, kept = list(mr.boundary), list(mr.interior())
    n = ctx.n(6, minimum=3)
    keep = np.ones(C)
    keep[tie] = 0.0
    # runs 0..n-1: Model 1 (seed i, every context); runs n..2n-1: Model 3 (same seed i, same
    # initialization, ambiguous contexts masked out of the objective)
    weights = np.vstack([np.ones((n, C)), np.tile(keep, (n, 1))])
    seeds = list(range(n)) * 2
    rows, conv = [], {}
    for label, beta in [("hard", 0.0)] + [(f"β={b}", b) for b in DROP_BETAS]:
        cfg = PGConfig(
            algorithm="exact",
            beta=beta,
            kl_estimator="exact",
            steps=1500,
            lr=0.1,
            dtype="float64",
            init_std=0.3,
        )
        res = train_bandit_runs(task, cfg, seeds, context_weights=weights, device=ctx.device)
        m1, m3 = res.policies[:n], res.policies[n:]
        tv = 0.5 * np.abs(m1 - m3).sum(-1)  # (n, C), seed i's Model 1 vs its Model 3
        if beta > 0:
            target = task.closed_form(beta)
            err = max(
                float(0.5 * np.abs(m1 - target).sum(-1).max()),
                float(0.5 * np.abs(m3[:, kept] - target[kept]).sum(-1).max()),
            )
            conv[label] = err
        for i in range(n):
            rows.append(
                {
                    "regularization": label,
                    "β": beta,
                    "seed": i,
                    "max TV at retained (non-tie) contexts": float(tv[i, kept].max()),
                    "max TV at dropped (tie) contexts": float(tv[i, tie].max()),
                    "min TV at dropped (tie) contexts": float(tv[i, tie].min()),
                }
            )
    return {"rows": rows, "convergence": conv, "n_seeds": n, "dims": task.features.shape[1]}


@claim(
    id="trainers/multi-reward-drop-ambiguous",
    statement="Dropping the ambiguous (tie) contexts from multi-reward training (Policy Cliff "
    "Model-1 vs Model-3), policy linear in context features: with entropy/KL regularization β "
    "the policy at the retained contexts does not move (theory 0; below the stated tolerance), "
    "while at the dropped contexts, which the objective no longer constrains, it moves by O(1) "
    "with or without regularization.",
    reference=f"{PAPER}, Prop 4.7 (bandit form: per-context optimum), §4.5, §5.6 Model-1 vs "
    "Model-3 (spec §3 analogue)",
    bound=_drop_tolerance,
)
def multi_reward_drop_ambiguous(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sw = _drop_ambiguous_training(ctx)
    rows = sw["rows"]
    reg = [r for r in rows if r["β"] > 0]
    hard = [r for r in rows if r["β"] == 0]
    retained = "max TV at retained (non-tie) contexts"
    dropped = "max TV at dropped (tie) contexts"
    worst = max(reg, key=lambda r: r[retained])
    moved = {
        label: max(r[dropped] for r in rows if r["regularization"] == label)
        for label in dict.fromkeys(r["regularization"] for r in rows)
    }
    return Evidence.upper(
        worst[retained],
        bound(),
        note=f"multi-reward bandit (K = 3 components, 12 contexts of which 3 ambiguous with "
        f"exact 2-way ties, 3 arms); features [w(c), z(c)] ({sw['dims']} dims, "
        f"z ~ N(0, I/{DROP_EXTRA_DIMS})), "
        "a linear softmax policy (realizable: full-row-rank features); Model 1 trains on every "
        f"context, Model 3 with the ambiguous ones masked out, paired by seed ({sw['n_seeds']} "
        "seeds, same initialization, std 0.3); exact policy gradient (Adam lr 0.1 annealed, 1500 "
        f"steps), β ∈ {DROP_BETAS} (KL to the uniform reference = entropy bonus). Measured: max "
        "over seeds, β and retained contexts of d_TV(Model 1, Model 3). [derived] With "
        "γ = 0 the regularized optimum at a context depends only on its own reward row "
        "(π_ref e^(r/β)/Z), and with full-row-rank features gradient descent has no other "
        "stationary point, so the retained contexts' limit is the same for both data sets. "
        "Hard (β = 0) rows are for information: plateaus of unregularized softmax PG can leave "
        "a retained context on a different arm.",
        require={
            "dropped (tie) contexts move by ≥ 0.1 at every β, regularized included "
            "(max TV over seeds)": min(moved.values()) >= 0.1,
            "unregularized: dropped (tie) contexts move by ≥ 0.25": moved["hard"] >= 0.25,
        },
        details={
            "table": rows,
            "max TV at dropped contexts per regularization": moved,
            "max TV to the closed form at trained contexts": sw["convergence"],
            "hard: max TV at retained contexts": max(r[retained] for r in hard),
        },
        plots=[_drop_plot(ctx, sw)],
    )


def _drop_plot(ctx: RunContext, sw: dict[str, object]):
    path = ctx.plot_path("trainers-drop-ambiguous")
    if path is None:
        return None
    rows = sw["rows"]
    betas = np.array(DROP_BETAS)

    def worst(key: str, beta: float) -> float:
        return max(r[key] for r in rows if r["β"] == beta)

    kept, tie = "max TV at retained (non-tie) contexts", "max TV at dropped (tie) contexts"
    ones = np.ones_like(betas)
    series = [
        (
            "regularized, dropped (tie) contexts",
            betas,
            [worst(tie, b) for b in betas],
            {"marker": "o", "color": "C1"},
        ),
        (
            "regularized, retained contexts",
            betas,
            [worst(kept, b) for b in betas],
            {"marker": "o", "color": "C0"},
        ),
        (
            "unregularized, dropped (tie) contexts",
            betas,
            worst(tie, 0.0) * ones,
            {"ls": ":", "color": "C1"},
        ),
        (
            "unregularized, retained contexts",
            betas,
            worst(kept, 0.0) * ones,
            {"ls": ":", "color": "C0"},
        ),
        ("stated tolerance (theory: 0)", betas, DROP_TOL * ones, {"ls": "--", "color": "k"}),
    ]
    return save_plot(
        path,
        series,
        title="Trained with vs without the ambiguous contexts (Model 1 vs Model 3)",
        xlabel="regularization β (KL to uniform = entropy bonus)",
        ylabel="max over seeds of d_TV(Model 1, Model 3)",
        floor=1e-17,
    )


#: Stated tolerance of ``trainers/soft-q-matches-theory`` (max TV over states, seeds, MDPs,
#: algorithms); measured about 0.01 at 1500 environment steps.
SOFT_Q_TOL = 0.03
SOFT_Q_ALPHA = 0.5


def _soft_q_tolerance() -> float:
    return SOFT_Q_TOL


@claim(
    id="trainers/soft-q-matches-theory",
    statement="Soft Q-learning and discrete SAC trained from sampled transitions of a tabular MDP "
    "learn the entropy-regularized optimum softmax(Q_α/α) of the soft Bellman equation: max d_TV "
    "to theory.soft_optimal_policy, over states, seeds and MDPs, is below the stated tolerance.",
    reference="Haarnoja et al. 2017, Eq. (4)-(5); Christodoulou 2019, Eq. (10)-(12); "
    f"{PAPER}, Prop 4.7",
    bound=_soft_q_tolerance,
)
def soft_q_matches_theory(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("soft-q")
    alpha, steps = SOFT_Q_ALPHA, 1500
    mdps = [random_mdp(rng, 3, 3, 0.5) for _ in range(ctx.n(2, minimum=1))]
    seeds = list(range(ctx.n(2, minimum=1)))
    table, worst, separated = [], 0.0, True
    for m, mdp in enumerate(mdps):
        target = soft_optimal_policy(mdp, alpha)
        other = soft_optimal_policy(mdp, 4 * alpha)  # another temperature's optimum
        for algorithm in ("soft_q", "sac"):
            for seed in seeds:
                cfg = SoftQConfig(algorithm=algorithm, alpha=alpha, total_timesteps=steps)
                res = train_soft_q(
                    lambda mdp=mdp: TabularMDPEnv(mdp, max_steps=20),
                    cfg,
                    seed=seed,
                    device=ctx.device,
                    progress=False,
                )
                pi = res.tabular_policy(mdp.n_states)
                tv = float(0.5 * np.abs(pi - target).sum(-1).max())
                tv_other = float(0.5 * np.abs(pi - other).sum(-1).max())
                worst = max(worst, tv)
                separated &= tv_other > 3 * tv
                table.append(
                    {
                        "MDP": m,
                        "algorithm": algorithm,
                        "seed": seed,
                        "max TV to theory (α)": tv,
                        "max TV to theory (4α)": tv_other,
                        "max TV theory to uniform": float(
                            0.5 * np.abs(target - 1 / mdp.n_actions).sum(-1).max()
                        ),
                        "seconds": res.seconds,
                    }
                )
    return Evidence.upper(
        worst,
        bound(),
        note=f"{len(mdps)} random MDPs (3 states, 3 actions, γ = 0.5, rewards U[-1, 1]), "
        f"α = {alpha}, {len(seeds)} seeds x {{soft Q-learning, discrete SAC}}; tabular networks, "
        f"{steps} environment steps (episodes truncated at 20 steps, bootstrapped), Adam lr 0.05 "
        "annealed, batch 64, Polyak 0.1; measured: max over states, seeds, MDPs and algorithms "
        "of d_TV(π_trained, theory.soft_optimal_policy(mdp, α)).",
        require={
            "trained policy is >3x closer to its own α's optimum than to 4α's": separated,
        },
        details={"table": table},
    )
