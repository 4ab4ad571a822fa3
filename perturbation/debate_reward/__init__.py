"""Claims of the debate-based reward (Sukovic & Radanovic, ICLR 2024), on a toy treatment task.

Each replicate draws a treatment task (:func:`theory.treatment.treatment_task`) and a judge
proxy's training data (:func:`theory.judge.preference_data`, label noise 0.1), fits the judge
with Bradley-Terry (:func:`theory.judge.fit_bradley_terry_judge`), solves every debate exactly
(:func:`theory.debate.debate_reward`, ``L = 2`` rounds, baseline = the environment-optimal
decision) and solves the MDP for ``R_J`` (:func:`theory.debate.justifiable_reward`) over a
grid of ``lam``.

- ``debate-reward/justifiable-tradeoff`` (EMPIRICAL, the paper's statement): as ``lam`` grows
  the judge prefers the policy's decisions to the baseline's while the environment return
  barely drops, with t-intervals over replicates;
- ``debate-reward/judge-perturbation-cliff``: the reward-perturbation lens of *The Policy
  Cliff* (Xu 2025): a small change of the judge (weights moved by ``eps``, or retrained on
  preferences with a few labels flipped) moves ``R_J`` by ``lam ||d r_d||_inf``; at a tie of
  ``R_J`` the greedy policy jumps, the entropy-regularized one stays within Prop 4.7.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import theory as T
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Theorem, Worst, claim
from perturbation.sweeps.stats import mean_interval
from theory import bounds as B
from theory.debate import debate_reward, judge_win_rate, justifiable_reward
from theory.judge import fit_bradley_terry_judge, preference_data
from theory.treatment import TreatmentTask, treatment_task

#: The debate's rounds, the judge's data and its label noise (fixed before any run).
ROUNDS, N_PAIRS, LABEL_NOISE = 2, 300, 0.1
#: The ``lam`` grid of the trade-off claim.
LAMS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
#: "The judge prefers the policy": win-rate gain over 1/2 (lower 95% limit) at least this ...
MIN_GAIN = 0.05
#: ... while "barely drops": the normalized environment-return loss (upper 95% limit) at most.
MAX_LOSS = 0.10
SOFT_TOL = 1e-11


def _replicate(rng: np.random.Generator, outcome: str):
    """A task, its environment-optimal baseline, a fitted judge, and the debate rewards."""
    task = treatment_task(rng)
    baseline = T.optimal_q(task.mdp).argmax(axis=1)
    prefs = preference_data(
        task.expert_weights,
        task.features,
        rng,
        n_pairs=N_PAIRS,
        evidence_size=ROUNDS,
        label_noise=LABEL_NOISE,
    )
    fit = fit_bradley_terry_judge(prefs, task.mdp.n_actions)
    rd = debate_reward(fit.weights, task.features, baseline, rounds=ROUNDS, outcome=outcome)
    return task, baseline, prefs, fit, rd


def _env_return(task: TreatmentTask, policy: np.ndarray) -> float:
    return float(task.start @ T.policy_value(task.mdp, policy))


@claim(
    id="debate-reward/justifiable-tradeoff",
    statement="Training on R_J = (1 − λ) r_env + λ r_debate makes the judge prefer the policy's "
    f"decisions to the baseline's (win rate − 1/2 ≥ {MIN_GAIN}, lower 95% limit) at some λ > 0 "
    f"while the environment return barely drops (normalized loss ≤ {MAX_LOSS}, upper 95% "
    "limit); toy treatment task, judge proxy fitted by Bradley-Terry, debates solved exactly.",
    reference=ref("debate-reward", "§5, Fig. 2 (judge preference vs performance over λ)"),
    bound=MIN_GAIN,
)
def justifiable_tradeoff(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    n = ctx.n(12, minimum=4)
    rng = ctx.rng("justifiable-tradeoff")
    gains, losses, expert_gains, hacked = [], [], [], 0
    for _ in range(n):
        task, baseline, _, _, rd = _replicate(rng, "win")
        r_expert = debate_reward(task.expert_weights, task.features, baseline, rounds=ROUNDS)
        R = np.stack([justifiable_reward(task.r_env, rd, lam) for lam in LAMS])
        policies = T.uniform_argmax_policy(T.optimal_q(task.mdp, rewards=R))
        j0 = _env_return(task, policies[0])
        span = j0 - _env_return(task, np.full_like(task.r_env, 1.0 / task.mdp.n_actions))
        gains.append([judge_win_rate(task.mdp, p, rd, task.start) - 0.5 for p in policies])
        expert_gains.append(
            [judge_win_rate(task.mdp, p, r_expert, task.start) - 0.5 for p in policies]
        )
        losses.append([(j0 - _env_return(task, p)) / span for p in policies])
        hacked += int(expert_gains[-1][-1] < 0)
    G, Lo, E = np.array(gains), np.array(losses), np.array(expert_gains)
    curve = []
    for i, lam in enumerate(LAMS):
        g, lo_ = mean_interval(G[:, i]), mean_interval(Lo[:, i])
        curve.append(
            {
                "lam": lam,
                "gain": g[0],
                "gain_ci": g[1:],
                "loss": lo_[0],
                "loss_ci": lo_[1:],
                "expert_gain": float(E[:, i].mean()),
            }
        )
    ok = [c for c in curve if c["lam"] > 0 and c["loss_ci"][1] <= MAX_LOSS]
    best = max(ok, key=lambda c: c["gain_ci"][0]) if ok else None
    measured = max(0.0, best["gain_ci"][0]) if best else 0.0
    text = ", ".join(
        f"λ={c['lam']:g}: +{c['gain']:.3f} / −{c['loss']:.3f}" for c in curve if c["lam"] > 0
    )
    return Evidence.lower(
        measured,
        bound(),
        f"{n} replicates (task + judge data each; 16 states, 3 treatments, L = {ROUNDS}, "
        f"{N_PAIRS} preferences, label noise {LABEL_NOISE}); mean judge win-rate gain over 1/2 / "
        f"normalized env-return loss: {text}. Measured: the best lower 95% limit of the gain "
        f"among λ whose loss stays ≤ {MAX_LOSS} (upper limit)"
        + (f" (λ = {best['lam']:g})" if best else " (no λ > 0 qualifies)")
        + f". The hidden expert, judging the same debates, sees a gain of "
        f"{curve[-1]['expert_gain']:+.3f} at λ = 1 ({hacked}/{n} replicates below 0: the proxy "
        "judge exploited).",
        details={"curve": curve, "replicates": n, "proxy_exploited_at_lam_1": hacked},
        empirical=True,
    )


def _tie_lambda(task: TreatmentTask, policy: np.ndarray, rd: np.ndarray) -> float | None:
    """The first ``lam`` at which the environment-optimal deterministic ``policy`` stops being
    the unique optimum of ``R_J`` [derived]: its advantages are linear in ``lam``,
    ``A_lam = (1 - lam) A_env + lam A_d``, and it stays optimal while all are <= 0 (policy
    improvement), so the tie is at ``min -A_env / (A_d - A_env)`` over ``A_d > A_env``."""
    pi = np.eye(task.mdp.n_actions)[policy]

    def advantage(r: np.ndarray) -> np.ndarray:
        q = T.policy_q(task.mdp.with_reward(r), pi)
        return q - (q * pi).sum(axis=1, keepdims=True)

    a_env, a_d = advantage(task.r_env), advantage(rd)
    rising = a_d - a_env > 1e-12
    if not np.any(rising):
        return None
    lam = float(np.min(-a_env[rising] / (a_d - a_env)[rising]))
    return lam if 0.0 < lam <= 1.0 else None


@claim(
    id="debate-reward/judge-perturbation-cliff",
    statement="A small change of the judge (weights moved by ε, or retrained with a few "
    "preference labels flipped) changes R_J by ‖ΔR‖∞ = λ‖Δr_debate‖∞; at a tie of R_J the greedy "
    "policy jumps (TV ≥ 1/2) however small the change, while the entropy-regularized policy "
    "moves by at most ‖ΔR‖∞ / (2α(1 − γ)).",
    reference=ref("policy-cliff", "Props 2.10 and 4.7")
    + "; "
    + ref("debate-reward", "§4 (R_J) [reconstructed judge]"),
    bound=Theorem(B.soft_policy_tv_bound),
)
def judge_perturbation_cliff(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("judge-perturbation-cliff")
    worst, jumps, used, tries, identity = Worst("<="), [], 0, 0, True
    want = ctx.n(3, minimum=1)
    while used < want and tries < 10 * want:
        tries += 1
        task, baseline, prefs, fit, rd = _replicate(rng, "probability")
        lam = _tie_lambda(task, baseline, rd)
        if lam is None:
            continue
        used += 1
        mdp, gamma = task.mdp, task.mdp.gamma
        judges, kinds = [], []
        # a Gaussian direction of sup norm 1 (sign vectors can cancel exactly in a margin)
        direction = rng.normal(size=fit.weights.shape)
        direction[0] = 0.0  # the gauge w[0] = 0
        direction /= np.abs(direction).max()
        for eps in (1e-3, 1e-2, 1e-1):
            judges.append(fit.weights + eps * direction)
            kinds.append(f"weights+{eps:g}")
        for k in (1, 5):
            flip = rng.choice(len(prefs), size=k, replace=False)
            label = prefs.label.copy()
            label[flip] = 1.0 - label[flip]
            judges.append(fit_bradley_terry_judge(prefs.with_labels(label), mdp.n_actions).weights)
            kinds.append(f"{k} labels flipped")
        rds = np.stack(
            [
                debate_reward(w, task.features, baseline, rounds=ROUNDS, outcome="probability")
                for w in judges
            ]
        )
        R0 = justifiable_reward(task.r_env, rd, lam)
        R1 = np.stack([justifiable_reward(task.r_env, r, lam) for r in rds])
        dR = np.abs(R1 - R0).max(axis=(1, 2))
        d_rd = np.abs(rds - rd).max(axis=(1, 2))
        # greedy: exact Q* at the tie (the baseline policy is optimal there), VI after the change
        q0 = T.policy_q(mdp.with_reward(R0), np.eye(mdp.n_actions)[baseline])
        g0 = T.uniform_argmax_policy(q0)
        g1 = T.uniform_argmax_policy(T.optimal_q(mdp, rewards=R1))
        jumps += [float(T.max_total_variation(g0, g)) for g in g1]
        for alpha in (0.05, 0.2, 1.0):
            p0 = T.soft_optimal_policy(mdp, alpha, tol=SOFT_TOL, rewards=R0)
            p1 = T.soft_optimal_policy(mdp, alpha, tol=SOFT_TOL, rewards=R1)
            for i, kind in enumerate(kinds):
                tv = float(T.max_total_variation(p0, p1[i]))
                worst.add(
                    tv, bound(float(lam * d_rd[i]), alpha, gamma), alpha=alpha, lam=lam, kind=kind
                )
        identity &= bool(np.allclose(dR, lam * d_rd, rtol=1e-9, atol=1e-15))
    return worst.evidence(
        rtol=1e-6,
        atol=1e-9,
        note=f"{used} replicates (of {tries} drawn; those without a tie for λ ≤ 1 are skipped): λ at "
        "the first tie of R_J (the baseline's advantages cross 0, in closed form), judge outcome "
        "= Bradley-Terry probability; 5 judge changes each (ε ∈ {1e-3, 1e-2, 0.1}; 1 or 5 of "
        f"{N_PAIRS} labels flipped and refit). Greedy (uniform over ties) TV jump: min "
        f"{min(jumps, default=float('nan')):.3f}; soft policies (α ∈ {{0.05, 0.2, 1}}) within "
        "Prop 4.7 with ‖ΔR‖∞ = λ‖Δr_d‖∞.",
        require={
            "a tie was found": used > 0,
            "‖ΔR‖∞ = λ‖Δr_d‖∞ (r_env unchanged)": identity,
            "the greedy policy jumps by ≥ 1/2 at every change": bool(jumps)
            and min(jumps) >= 0.5 - 1e-12,
        },
        details={"greedy_jumps": jumps, "replicates": used, "drawn": tries},
    )
