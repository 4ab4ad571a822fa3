"""Perturbation experiments for *The Policy Cliff* (Xu 2025): the claims ``policy-cliff/*``.

Every claim of the spec's table (``shared/specs/policy_cliff.md``, §5) is measured here on
random small MDPs and on the exact constructions where the bounds are attained. An experiment
reports its worst instance: for an upper bound the instance with the largest measured/bound
ratio, for a tightness claim the smallest, for an identity the largest deviation.

Instances come from :mod:`theory.generators` with generators seeded by ``(seed, claim)``;
counts scale with ``--scale``. Soft solves use value-iteration tolerance ``1e-12`` so that
solver error (at most ``tol/alpha`` in log-probabilities) stays far below every tolerance
stated here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator

import numpy as np

import theory as T
from perturbation.plots import save_plot
from perturbation.registry import Evidence, RunContext, claim
from theory import bounds as B
from theory.generators import (
    bandit,
    conflicting_multi_reward_task,
    nonuniform_limit_mdp,
    planted_tie_mdp,
    random_mdp,
    tight_soft_construction,
)

PAPER = "Xu 2025 (arXiv:2507.20150)"
SOFT_TOL = 1e-12
ALPHAS = (0.01, 0.1, 1.0)


# ---------------------------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------------------------


def _random_mdps(
    ctx: RunContext, key: str, n: int, *, max_gamma: float = 0.95
) -> Iterator[tuple[np.random.Generator, T.TabularMDP]]:
    """``n`` random MDPs with 2-6 states, 2-4 actions, gamma uniform in [0, max_gamma]."""
    rng = ctx.rng(key)
    for _ in range(n):
        S, A = int(rng.integers(2, 7)), int(rng.integers(2, 5))
        det = float(rng.choice([0.0, 0.3, 1.0]))
        yield rng, random_mdp(rng, S, A, rng.uniform(0.0, max_gamma), deterministic_fraction=det)


def _perturbations(
    rng: np.random.Generator, shape: tuple[int, ...], n: int, *, lo: float = 1e-3, hi: float = 1.0
) -> np.ndarray:
    """``n`` perturbations of ``shape``: dense, single-entry, +-1 patterns and constant shifts,
    with sup norms log-uniform in ``[lo, hi]``."""
    out = np.empty((n, *shape))
    for i in range(n):
        kind = i % 4
        if kind == 0:
            d = rng.uniform(-1.0, 1.0, shape)
        elif kind == 1:
            d = np.zeros(shape)
            d[tuple(rng.integers(k) for k in shape)] = rng.choice([-1.0, 1.0])
        elif kind == 2:
            d = rng.choice([-1.0, 1.0], shape)
        else:
            d = np.full(shape, rng.choice([-1.0, 1.0]))
        out[i] = d / np.max(np.abs(d)) * math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return out


def _sup(x: np.ndarray) -> np.ndarray:
    """Sup norm over the last two axes."""
    return np.max(np.abs(x), axis=(-2, -1))


# ---------------------------------------------------------------------------------------------
# Prop 2.4: Q* is Lipschitz in R
# ---------------------------------------------------------------------------------------------


@claim(
    id="policy-cliff/prop-2.4",
    statement="Q* is 1/(1-γ)-Lipschitz in the reward: ‖Q*_{R1} − Q*_{R2}‖∞ ≤ ‖R1 − R2‖∞/(1−γ), "
    "with equality for a constant shift.",
    reference=f"{PAPER}, Prop 2.4 (and Prop 4.3)",
    bound=B.q_lipschitz_bound,
)
def prop_2_4(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, shift_ratios, n = (-1.0, 0.0, 0.0), [], 0
    for rng, mdp in _random_mdps(ctx, "prop-2.4", ctx.n(120)):
        dR = _perturbations(rng, mdp.R.shape, 8)
        q = T.optimal_q(mdp, rewards=np.concatenate([mdp.R[None], mdp.R + dR]))
        dq, dr = _sup(q[1:] - q[0]), _sup(dR)
        for i in range(len(dR)):
            b = bound(dr[i], mdp.gamma)
            worst = max(worst, (dq[i] / b, dq[i], b))
            if i % 4 == 3:  # constant shift: Q moves by exactly c/(1-gamma)
                shift_ratios.append(dq[i] / b)
            n += 1
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-6,
        note=f"{n} perturbations of {ctx.n(120)} random MDPs (S ≤ 6, A ≤ 4, γ ≤ 0.95); value "
        "iteration to 1e-10; reported: the instance with the largest ‖ΔQ*‖/bound.",
        require={
            "constant shifts attain the bound (ratio ≥ 1 − 1e-6)": min(shift_ratios) >= 1 - 1e-6
        },
        details={"max_ratio": worst[0], "min_shift_ratio": min(shift_ratios)},
    )


def _contraction(q_distance: float, gamma: float) -> float:
    """``gamma * ||Q1 - Q2||_inf``: the soft Bellman operator is a gamma-contraction (Geist et al. 2019)."""
    return gamma * q_distance


@claim(
    id="policy-cliff/soft-contraction",
    statement="The soft (entropy- or KL-regularized) Bellman operator is a γ-contraction: "
    "‖TQ1 − TQ2‖∞ ≤ γ‖Q1 − Q2‖∞.",
    reference=f"{PAPER}, proof of Prop 4.7 (ii); Geist, Scherrer & Pietquin, ICML 2019",
    bound=_contraction,
)
def soft_contraction(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst = (-1.0, 0.0, 0.0)
    for rng, mdp in _random_mdps(ctx, "soft-contraction", ctx.n(100)):
        alpha = float(rng.choice(ALPHAS))
        ref = rng.dirichlet(np.ones(mdp.n_actions), mdp.n_states) if rng.random() < 0.5 else None
        q = rng.normal(0.0, rng.choice([0.01, 1.0, 10.0]), (2, mdp.n_states, mdp.n_actions))
        tq = T.soft_bellman_operator(mdp, q, alpha, ref)
        b = bound(float(np.max(np.abs(q[0] - q[1]))), mdp.gamma)
        m = float(np.max(np.abs(tq[0] - tq[1])))
        if b > 0:
            worst = max(worst, (m / b, m, b))
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-9,
        atol=1e-12,
        note=f"random Q pairs on {ctx.n(100)} random MDPs, α ∈ {ALPHAS}, half with a random "
        "reference policy; reported: the pair with the largest ratio.",
        details={"max_ratio": worst[0]},
    )


# ---------------------------------------------------------------------------------------------
# Lemma C.2: softmax is Lipschitz from l_inf to l_1
# ---------------------------------------------------------------------------------------------


@claim(
    id="policy-cliff/lemma-c.2",
    statement="Softmax is Lipschitz from ℓ∞ to total variation: d_TV(softmax(x/τ), softmax(y/τ)) "
    "≤ ‖x − y‖∞/(2τ); the local constant is (4/τ)·max_S p(S)(1 − p(S)).",
    reference=f"{PAPER}, Lemma C.2",
    bound=B.softmax_tv_bound,
)
def lemma_c_2(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("lemma-c.2")
    worst, local_err = (-1.0, 0.0, 0.0), 0.0
    n = ctx.n(4000)
    for i in range(n):
        d, tau = int(rng.integers(2, 9)), float(rng.uniform(0.05, 3.0))
        # near ties the local constant approaches 1/tau: half the draws sit there
        x = rng.normal(0, 3.0, d) if i % 2 else np.zeros(d) + rng.normal(0, 1e-3, d)
        y = x + rng.uniform(-1, 1, d) * rng.choice([1e-4, 1e-2, 1.0]) * tau
        b = bound(float(np.max(np.abs(x - y))), tau)
        m = float(T.total_variation(T.softmax(x, tau), T.softmax(y, tau)))
        worst = max(worst, (m / b, m, b))
        if i < ctx.n(200):
            local_err = max(
                local_err,
                abs(T.local_softmax_constant(x, tau) - T.jacobian_inf_to_one_norm(x, tau)),
            )
    at_tie = T.local_softmax_constant(np.zeros(2), 0.7) * 0.7
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-9,
        note=f"{n} random logit pairs, d ∈ 2..8, τ ∈ [0.05, 3], half near a tie; reported: the "
        "pair with the largest TV/bound.",
        require={
            "local constant = brute force over sign vectors (to 1e-10)": local_err <= 1e-10,
            "local constant = 1/τ at two tied logits": abs(at_tie - 1.0) <= 1e-12,
        },
        details={"max_ratio": worst[0], "local_constant_max_error": local_err},
    )


# ---------------------------------------------------------------------------------------------
# Prop 4.7: soft-optimal policies are Lipschitz in R (entropy and KL), span refinement
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _soft_sweep(ctx: RunContext) -> dict[str, np.ndarray]:
    """TV between soft-optimal policies of R and R + dR on random MDPs, entropy and KL."""
    rows = []
    for rng, mdp in _random_mdps(ctx, "soft-sweep", ctx.n(60)):
        dR = _perturbations(rng, mdp.R.shape, 6)
        batch = np.concatenate([mdp.R[None], mdp.R + dR])
        ref = rng.dirichlet(np.full(mdp.n_actions, 0.5), mdp.n_states)
        for kl in (False, True):
            for alpha in (0.05, 0.3, 1.0):
                pi = T.soft_optimal_policy(
                    mdp, alpha, ref if kl else None, rewards=batch, tol=SOFT_TOL
                )
                tv = T.total_variation(pi[1:], pi[0]).max(axis=-1)
                for i in range(len(dR)):
                    span = float(dR[i].max() - dR[i].min())
                    rows.append((kl, alpha, mdp.gamma, _sup(dR[i]), span, tv[i]))
    arr = np.array(rows, dtype=float)
    keys = ("kl", "alpha", "gamma", "delta", "span", "tv")
    return {k: arr[:, j] for j, k in enumerate(keys)}


def _ratios(measured: np.ndarray, bounds: np.ndarray, atol: float = 1e-10) -> np.ndarray:
    """measured / bound, with 0/0 (a zero bound met to ``atol``) read as 0 and x/0 as inf."""
    safe = np.where(bounds > 0, bounds, 1.0)
    return np.where(bounds > 0, measured / safe, np.where(measured <= atol, 0.0, np.inf))


def _worst_ratio(measured: np.ndarray, bounds: np.ndarray) -> tuple[float, float, float]:
    r = _ratios(measured, bounds)
    i = int(np.argmax(r))
    return float(r[i]), float(measured[i]), float(bounds[i])


def _soft_claim(ctx: RunContext, bound: Callable[..., float], *, kl: bool, span: bool) -> Evidence:
    sw = _soft_sweep(ctx)
    sel = sw["kl"] == float(kl)
    size = sw["span" if span else "delta"][sel]
    b = np.array(
        [bound(d, a, g) for d, a, g in zip(size, sw["alpha"][sel], sw["gamma"][sel], strict=True)]
    )
    ratio, m, bd = _worst_ratio(sw["tv"][sel], b)
    kind = "KL-regularized (random reference, β = α)" if kl else "entropy-regularized"
    return Evidence.upper(
        m,
        bd,
        rtol=1e-6,
        atol=1e-10,
        note=f"{int(sel.sum())} perturbations of {ctx.n(60)} random MDPs, {kind}, α ∈ (0.05, 0.3, 1); "
        "soft value iteration to 1e-12; measured: max_s d_TV; reported: the largest ratio "
        "(the spec observed 0.82 for entropy, 0.79 for KL).",
        details={"max_ratio": ratio, "mean_ratio": float(np.mean(_ratios(sw["tv"][sel], b)))},
    )


@claim(
    id="policy-cliff/prop-4.7",
    statement="Entropy-regularized soft-optimal policies are Lipschitz in the reward: "
    "max_s d_TV(π_{R1,α}, π_{R2,α}) ≤ ‖R1 − R2‖∞ / (2α(1−γ)).",
    reference=f"{PAPER}, Prop 4.7",
    bound=B.soft_policy_tv_bound,
)
def prop_4_7(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    return _soft_claim(ctx, bound, kl=False, span=False)


@claim(
    id="policy-cliff/kl-lipschitz",
    statement="KL-regularized policies π ∝ π_ref·exp(Q/β) obey the same bound with α = β: "
    "max_s d_TV ≤ ‖ΔR‖∞ / (2β(1−γ)).",
    reference=f"{PAPER}, §3.3 (no bound given there) [derived, checked]",
    bound=B.soft_policy_tv_bound,
)
def kl_lipschitz(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    return _soft_claim(ctx, bound, kl=True, span=False)


@claim(
    id="policy-cliff/span-refinement",
    statement="Span refinement of Prop 4.7: max_s d_TV ≤ sp(ΔR) / (4α(1−γ)), never worse "
    "than the paper's bound.",
    reference=f"{PAPER}, Prop 4.7 with softmax shift invariance [derived]",
    bound=B.soft_policy_tv_span_bound,
)
def span_refinement(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    return _soft_claim(ctx, bound, kl=False, span=True)


@claim(
    id="policy-cliff/prop-4.7-tight",
    statement="Prop 4.7 is tight: on the two-absorbing-state construction the ratio "
    "d_TV / bound is ≥ 0.999 for every γ up to 0.999.",
    reference=f"{PAPER}, Prop 4.7; construction of the spec §4d [derived, checked]",
    bound=B.soft_policy_tv_bound,
)
def prop_4_7_tight(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    delta, alpha = 1e-5, 1.0
    table, worst = [], (math.inf, 0.0, 0.0)
    for gamma in (0.0, 0.5, 0.9, 0.99, 0.999):
        mdp, dR = tight_soft_construction(gamma, delta)
        res = T.soft_value_iteration(
            mdp, alpha, rewards=np.stack([mdp.R, mdp.R + dR]), tol=SOFT_TOL
        )
        if not res.success:
            raise RuntimeError(
                f"soft value iteration did not converge at gamma={gamma}: {res.message}"
            )
        pi = T.softmax(res.q, alpha)
        tv = T.max_total_variation(pi[0], pi[1])
        b = bound(T.reward_distance(mdp.R, mdp.R + dR), alpha, gamma)
        table.append(
            {"gamma": gamma, "bound": b, "measured TV": tv, "ratio": tv / b, "VI backups": res.nit}
        )
        worst = min(worst, (tv / b, tv, b))
    return Evidence.lower(
        worst[1],
        worst[2],
        atol=1e-3 * worst[2],
        note=f"δ = {delta}, α = {alpha}; the tolerance is 0.001·bound (ratio ≥ 0.999). The VI "
        "backups grow like log(1/tol)/(1−γ) (spec claim 18).",
        details={"min_ratio": worst[0], "table": table},
    )


# ---------------------------------------------------------------------------------------------
# The cliff: ties make every selection discontinuous (Props 2.9, 2.10, 3.2)
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _cliff_sweep(ctx: RunContext) -> dict[str, object]:
    """Cliff witnesses at m-way ties for eps over decades: hard jumps and soft changes."""
    rng = ctx.rng("cliff")
    decades = 6 if ctx.scale in ("tiny", "small") else 12
    eps_grid = np.logspace(-1, -6, decades)
    gamma = 0.9
    rows = []
    for m in (2, 3, 5):
        for _ in range(ctx.n(3)):
            mdp, s0 = planted_tie_mdp(rng, 4, max(m, 3), m, gamma)
            witnesses = [T.cliff_witness(mdp, s0, float(e)) for e in eps_grid]
            batch = np.stack([mdp.R] + [w.reward for w in witnesses])
            soft = {a: T.soft_optimal_policy(mdp, a, rewards=batch, tol=SOFT_TOL) for a in ALPHAS}
            for j, w in enumerate(witnesses):
                row = {
                    "m": m,
                    "eps": w.eps,
                    "delta": w.reward_distance,
                    "dist_bound": w.distance_bound,
                    "jump": w.tv_jump,
                    "expected": w.expected_jump,
                    "unique": w.unique,
                }
                for a in ALPHAS:
                    row[f"soft_{a}"] = T.max_total_variation(soft[a][0], soft[a][j + 1])
                rows.append(row)
    return {"rows": rows, "gamma": gamma, "eps": eps_grid}


@claim(
    id="policy-cliff/prop-2.10",
    statement="At an m-way tie the uniform-over-argmax policy jumps by (m−1)/m in total "
    "variation under a reward change of size ≤ (1+γ)ε, for every ε > 0 (the cliff).",
    reference=f"{PAPER}, Props 2.9 and 2.10 (inverse Bellman construction)",
    bound=B.cliff_tv_jump,
)
def prop_2_10(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sw = _cliff_sweep(ctx)
    rows = sw["rows"]
    dev = [abs(r["jump"] - bound(r["m"])) for r in rows]
    i = int(np.argmax(dev))
    table = [
        {
            "m": m,
            "expected jump": bound(m),
            **{
                f"ε={e:.0e}": float(
                    np.mean([r["jump"] for r in rows if r["m"] == m and r["eps"] == e])
                )
                for e in sw["eps"][:: max(1, len(sw["eps"]) // 6)]
            },
        }
        for m in (2, 3, 5)
    ]
    return Evidence.equal(
        rows[i]["jump"],
        bound(rows[i]["m"]),
        atol=1e-9,
        note=f"{len(rows)} witnesses: planted m-way ties (m ∈ 2, 3, 5) in random 4-state MDPs, "
        f"γ = {sw['gamma']}, ε from 1e-1 down to 1e-6; reported: the witness whose jump deviates "
        "most from (m−1)/m.",
        require={
            "‖R_ε − R‖∞ ≤ (1+γ)ε for every witness": all(
                r["delta"] <= r["dist_bound"] * (1 + 1e-6) + 1e-9 for r in rows
            ),
            "the tied action a2 becomes the unique optimal action": all(r["unique"] for r in rows),
        },
        details={"table": table},
        plots=[_cliff_plot(ctx, sw)],
    )


def _fit_slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


@claim(
    id="policy-cliff/prop-4.7-cure",
    statement="At the same ties, the entropy-regularized policy changes by at most "
    "‖ΔR‖∞/(2α(1−γ)): it shrinks linearly with ε where the hard policy jumps.",
    reference=f"{PAPER}, Prop 4.7 vs Prop 2.10",
    bound=B.soft_policy_tv_bound,
)
def prop_4_7_cure(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sw = _cliff_sweep(ctx)
    rows, gamma = sw["rows"], sw["gamma"]
    worst, slopes = (-1.0, 0.0, 0.0), {}
    for a in ALPHAS:
        b = np.array([bound(r["delta"], a, gamma) for r in rows])
        tv = np.array([r[f"soft_{a}"] for r in rows])
        worst = max(worst, _worst_ratio(tv, b))
        lin = b <= 0.05  # the linear regime, away from saturation at large eps / small alpha
        if lin.sum() >= 2:
            slopes[a] = _fit_slope(np.array([r["delta"] for r in rows])[lin], tv[lin])
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-6,
        atol=1e-10,
        note=f"the witnesses of policy-cliff/prop-2.10; soft policies at α ∈ {ALPHAS}; reported: "
        "the largest TV/bound. Log-log slope of TV against ‖ΔR‖ in the linear regime "
        f"(bound ≤ 0.05): {', '.join(f'α={a}: {s:.3f}' for a, s in slopes.items())}.",
        require={
            "log-log slope within 0.05 of 1 for every α": all(
                abs(s - 1) < 0.05 for s in slopes.values()
            )
        },
        details={"max_ratio": worst[0], "slopes": {str(a): s for a, s in slopes.items()}},
        plots=[_cliff_plot(ctx, sw)],
    )


def _cliff_plot(ctx: RunContext, sw: dict[str, object]):
    path = ctx.plot_path("policy-cliff-cliff")
    if path is None or path.exists():
        return path
    rows, gamma = sw["rows"], sw["gamma"]
    series = []
    for m, color in ((2, "k"), (3, "0.35"), (5, "0.6")):
        sel = [r for r in rows if r["m"] == m]
        x = sorted({r["delta"] for r in sel})
        series.append(
            (
                f"hard (uniform argmax), m={m}",
                [r["delta"] for r in sel],
                [r["jump"] for r in sel],
                {"ls": "none", "marker": "s", "ms": 4, "color": color},
            )
        )
    sel = [r for r in rows if r["m"] == 2]
    x = np.array([r["delta"] for r in sel])
    order = np.argsort(x)
    for a, color in zip(ALPHAS, ("C0", "C1", "C2"), strict=True):
        series.append(
            (
                f"soft α={a}",
                x[order],
                np.array([r[f"soft_{a}"] for r in sel])[order],
                {"ls": "none", "marker": "o", "ms": 3, "color": color},
            )
        )
        xs = np.logspace(np.log10(x.min()), np.log10(x.max()), 50)
        series.append(
            (
                f"bound ‖ΔR‖/(2α(1−γ)), α={a}",
                xs,
                np.minimum(xs / (2 * a * (1 - gamma)), 1.0),
                {"ls": "--", "color": color, "lw": 1},
            )
        )
    return save_plot(
        path,
        series,
        title=f"The policy cliff and its cure (γ={gamma})",
        xlabel="‖R_ε − R‖∞",
        ylabel="max_s d_TV(π_R, π_{R_ε})",
    )


@claim(
    id="policy-cliff/prop-3.2",
    statement="Tie-breaker: for every ε > 0 some R' with ‖R' − R‖∞ ≤ ε makes a2 strictly better "
    "than a1, with Q*_{R'}(s0,a2) − Q*_{R'}(s0,a1) = ε/(1+γ) exactly.",
    reference=f"{PAPER}, Prop 3.2",
    bound=lambda eps, gamma: eps / (1.0 + gamma),
)
def prop_3_2(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("prop-3.2")
    worst, budget_ok, n = (-1.0, 0.0, 0.0), True, 0
    for _ in range(ctx.n(30)):
        S, A = int(rng.integers(1, 6)), int(rng.integers(2, 5))
        gamma = float(rng.uniform(0, 0.95))
        mdp, s0 = planted_tie_mdp(rng, S, A, int(rng.integers(2, A + 1)), gamma)
        for eps in (1e-1, 1e-3, 1e-6):
            w = T.cliff_witness(mdp, s0, bound(eps, gamma))
            worst = max(worst, (abs(w.gap - w.eps), w.gap, w.eps))
            budget_ok &= w.reward_distance <= eps + 1e-9
            n += 1
    return Evidence.equal(
        worst[1],
        worst[2],
        atol=1e-9,
        note=f"{n} tie-breaking rewards on random MDPs with planted ties, budgets ε ∈ (1e-1, 1e-3, "
        "1e-6); the gap is measured by value iteration on R'; reported: the largest deviation.",
        require={"‖R' − R‖∞ ≤ ε for every budget": bool(budget_ok)},
        details={"max_deviation": worst[0]},
    )


# ---------------------------------------------------------------------------------------------
# Stability radius and upper hemicontinuity
# ---------------------------------------------------------------------------------------------


def _gapped_mdps(
    ctx: RunContext, key: str, n: int
) -> Iterator[tuple[np.random.Generator, T.TabularMDP, np.ndarray, float]]:
    for rng, mdp in _random_mdps(ctx, key, n):
        q = T.optimal_q(mdp, tol=1e-12)
        qs = np.sort(q, axis=-1)
        gap = float(np.min(qs[:, -1] - qs[:, -2]))
        if gap > 1e-3:
            yield rng, mdp, q, gap


@claim(
    id="policy-cliff/greedy-radius",
    statement="Quantitative Thm 2.7: with action gap g > 0 the greedy policy cannot change for "
    "‖ΔR‖∞ < (1−γ)g/2; the smallest flipping perturbation found is never below this radius.",
    reference=f"{PAPER}, Thm 2.7 with Prop 2.4 [derived, checked]",
    bound=B.greedy_stability_radius,
)
def greedy_radius(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    flips_below, tested, worst = 0, 0, (math.inf, 0.0, 0.0)
    scales = np.geomspace(0.01, 100.0, 81)
    for rng, mdp, q, gap in _gapped_mdps(ctx, "greedy-radius", ctx.n(60)):
        radius = bound(gap, mdp.gamma)
        greedy = np.argmax(q, axis=-1)
        # (a) 50 random perturbations at 0.999 of the radius: no flip may occur.
        d = _perturbations(rng, mdp.R.shape, 50, lo=1.0, hi=1.0) * 0.999 * radius
        qd = T.optimal_q(mdp, rewards=mdp.R + d, tol=1e-12)
        flips_below += int(np.sum(np.any(np.argmax(qd, axis=-1) != greedy, axis=-1)))
        tested += len(d)
        # (b) the smallest flip along a targeted direction (lower the best action, raise the
        # second at the state of the smallest gap) and random directions, on a scale grid.
        s = int(np.argmin(np.sort(q, -1)[:, -1] - np.sort(q, -1)[:, -2]))
        target = np.zeros_like(mdp.R)
        target[s, np.argsort(q[s])[-1]], target[s, np.argsort(q[s])[-2]] = -1.0, 1.0
        for direction in [target, *_perturbations(rng, mdp.R.shape, 3, lo=1.0, hi=1.0)]:
            qd = T.optimal_q(
                mdp, rewards=mdp.R + scales[:, None, None] * radius * direction, tol=1e-12
            )
            flipped = np.any(np.argmax(qd, axis=-1) != greedy, axis=-1)
            if flipped.any():
                t = float(scales[np.argmax(flipped)] * radius)
                worst = min(worst, (t / radius, t, radius))
    return Evidence.lower(
        worst[1],
        worst[2],
        note=f"{tested} random perturbations at 0.999·radius on random MDPs with gap > 1e-3; "
        "then a scale grid from 0.01 to 100 radii along targeted and random directions; "
        "measured: the smallest flipping ‖ΔR‖∞ found (grid resolution 12%), reported at the "
        "instance closest to its radius.",
        require={f"0 greedy flips in {tested} perturbations at 0.999·radius": flips_below == 0},
        details={"flips_below_radius": flips_below, "min_flip_over_radius": worst[0]},
    )


@claim(
    id="policy-cliff/uhc",
    statement="Upper hemicontinuity (optimal sets only shrink): for ‖ΔR‖∞ < (1−γ)g'/2, with g' "
    "the gap to the best strictly suboptimal action, A*(s; R+ΔR) ⊆ A*(s; R).",
    reference=f"{PAPER}, Lemma 2.5, Remark 2.6 [derived]",
    bound=B.greedy_stability_radius,
)
def uhc(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("uhc")
    gained, shrunk, n = 0, 0, 0
    for _ in range(ctx.n(40)):
        S, A = int(rng.integers(1, 6)), int(rng.integers(3, 5))
        mdp, _s0 = planted_tie_mdp(rng, S, A, int(rng.integers(2, A)), float(rng.uniform(0, 0.95)))
        q = T.optimal_q(mdp, tol=1e-12)
        sets = T.argmax_mask(q)
        g_prime = float(np.min(np.where(sets, np.inf, q.max(-1, keepdims=True) - q)))
        d = _perturbations(rng, mdp.R.shape, 20, lo=1.0, hi=1.0) * 0.999 * bound(g_prime, mdp.gamma)
        new = T.argmax_mask(T.optimal_q(mdp, rewards=mdp.R + d, tol=1e-12))
        gained += int(np.sum(new & ~sets))
        shrunk += int(np.sum(np.any(sets & ~new, axis=(-2, -1))))
        n += len(d)
    return Evidence.equal(
        gained,
        0,
        atol=0,
        note=f"{n} perturbations at 0.999·(1−γ)g'/2 around planted ties; measured: the number of "
        f"(perturbation, state, action) where an action joined A*; {shrunk} perturbations shrank "
        "some tie (the cliff side).",
        require={"some perturbations did shrink a tie (the test has teeth)": shrunk > 0},
        details={"gained": gained, "shrunk": shrunk, "perturbations": n},
    )


# ---------------------------------------------------------------------------------------------
# Multi-reward RL: effective rewards, the cliff with K reward models, and its cure
# ---------------------------------------------------------------------------------------------


@claim(
    id="policy-cliff/lemma-4.2",
    statement="The effective reward is 1-Lipschitz: ‖R_eff(R) − R_eff(R')‖∞ ≤ max_k ‖R_k − R'_k‖∞, "
    "with equality when every component moves by the same amount.",
    reference=f"{PAPER}, Lemma 4.2",
    bound=lambda distance_n, weights: T.effective_reward_lipschitz_constant(weights) * distance_n,
)
def lemma_4_2(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("lemma-4.2")
    worst, equal_ok = (-1.0, 0.0, 0.0), True
    for i in range(ctx.n(300)):
        K, S, A = (int(v) for v in rng.integers(2, 6, size=3))
        w = rng.dirichlet(np.full(K, rng.choice([0.2, 1.0])), S)
        R = rng.normal(size=(K, S, A))
        same = i % 3 == 0
        d = np.repeat(rng.normal(size=(1, S, A)), K, axis=0) if same else rng.normal(size=(K, S, A))
        m = T.reward_distance(T.effective_reward(R, w), T.effective_reward(R + d, w))
        b = bound(float(np.max(np.abs(d))), w)
        worst = max(worst, (m / b, m, b))
        if same and (i // 3) % 2 == 0:  # constant-over-k shifts of equal size: equality
            d = np.full((K, S, A), 0.3)
            m = T.reward_distance(T.effective_reward(R, w), T.effective_reward(R + d, w))
            equal_ok &= abs(m - 0.3) <= 1e-12
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-12,
        note=f"{ctx.n(300)} random (K, S, A) ≤ 5 instances with simplex weights; reported: the "
        "largest ratio.",
        require={"equality for equal component shifts": bool(equal_ok)},
        details={"max_ratio": worst[0]},
    )


@functools.lru_cache(maxsize=4)
def _multi_reward_sweep(ctx: RunContext) -> dict[str, object]:
    """The small-scale analogue of the paper's multi-reward experiment (spec §3)."""
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
        q0 = T.optimal_q(mdp, tol=1e-12)
        tied = T.argmax_mask(q0)
        sb = task.boundary_states[0]  # boundary of domains 0 and 1: w_0(sb) = 1/2
        a2 = int(np.flatnonzero(tied[sb])[1])
        batch = [task.rewards]
        for d in deltas:  # targeted: only component 0 ("safety") moves, by +d at (sb, a2)
            r = task.rewards.copy()
            r[0, sb, a2] += d
            batch.append(r)
        reff = np.stack([T.effective_reward(r, task.weights) for r in batch])
        hard = T.uniform_argmax_policy(T.optimal_q(mdp, rewards=reff, tol=1e-12))
        soft = {a: T.soft_optimal_policy(mdp, a, rewards=reff, tol=SOFT_TOL) for a in ALPHAS}
        for j, d in enumerate(deltas):
            row = {
                "m": task.tie_size,
                "delta": float(d),
                "distance_n": T.reward_distance(batch[0], batch[j + 1]),
                "hard": T.max_total_variation(hard[0], hard[j + 1]),
            }
            row.update(
                {f"soft_{a}": T.max_total_variation(soft[a][0], soft[a][j + 1]) for a in ALPHAS}
            )
            rows.append(row)
        # random dense perturbations of one random component: how often does greedy flip?
        greedy0 = np.argmax(q0, axis=-1)
        for d in deltas:
            k = rng.integers(task.rewards.shape[0], size=16)
            noise = rng.uniform(-1, 1, (16, *task.rewards.shape[1:])) * d
            rr = np.repeat(task.rewards[None], 16, axis=0)
            rr[np.arange(16), k] += noise
            q = T.optimal_q(mdp, rewards=np.einsum("sk,nksa->nsa", task.weights, rr), tol=1e-12)
            flips.append((float(d), float(np.mean(np.any(np.argmax(q, -1) != greedy0, -1)))))
    return {"rows": rows, "flips": flips, "gamma": 0.9, "deltas": deltas, "n_tasks": len(tasks)}


@claim(
    id="policy-cliff/prop-4.6-multi-reward",
    statement="Multi-reward cliff: where conflicting reward models tie the effective reward, "
    "moving one component by δ flips the uniform-over-argmax policy by (m−1)/m for every δ > 0.",
    reference=f"{PAPER}, Prop 4.6; small-scale analogue of §5.6 (spec §3)",
    bound=B.cliff_tv_jump,
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
        plots=[_multi_reward_plot(ctx, sw)],
    )


@claim(
    id="policy-cliff/prop-4.7-multi-reward",
    statement="Multi-reward cure: with entropy regularization the policy moves by at most "
    "‖ΔR‖_N/(2α(1−γ)) under the same single-component perturbations.",
    reference=f"{PAPER}, Prop 4.7 (with ‖·‖_N of Lemma 4.2)",
    bound=B.soft_policy_tv_bound,
)
def prop_4_7_multi_reward(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sw = _multi_reward_sweep(ctx)
    rows, gamma = sw["rows"], sw["gamma"]
    worst = (-1.0, 0.0, 0.0)
    table = []
    for a in ALPHAS:
        b = np.array([bound(r["distance_n"], a, gamma) for r in rows])
        tv = np.array([r[f"soft_{a}"] for r in rows])
        worst = max(worst, _worst_ratio(tv, b))
        table.append({"α": a, "max TV/bound": float(np.max(tv / b)), "max TV": float(tv.max())})
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-6,
        atol=1e-10,
        note="the perturbations of policy-cliff/prop-4.6-multi-reward; α ∈ (0.01, 0.1, 1); the "
        "effective perturbation is w_0(s)·δ = δ/2 at the boundary state, so ratios ≤ ½ are "
        "expected. Reported: the largest ratio.",
        details={"max_ratio": worst[0], "table": table},
        plots=[_multi_reward_plot(ctx, sw)],
    )


def _multi_reward_plot(ctx: RunContext, sw: dict[str, object]):
    path = ctx.plot_path("policy-cliff-multi-reward")
    if path is None or path.exists():
        return path
    rows, gamma = sw["rows"], sw["gamma"]
    x = np.array([r["distance_n"] for r in rows])
    order = np.argsort(x)
    series = [
        (
            "hard (uniform argmax)",
            x[order],
            np.array([r["hard"] for r in rows])[order],
            {"ls": "none", "marker": "s", "ms": 4, "color": "k"},
        )
    ]
    for a, color in zip(ALPHAS, ("C0", "C1", "C2"), strict=True):
        series.append(
            (
                f"soft α={a}",
                x[order],
                np.array([r[f"soft_{a}"] for r in rows])[order],
                {"ls": "none", "marker": "o", "ms": 3, "color": color},
            )
        )
        series.append(
            (
                f"bound α={a}",
                x[order],
                np.minimum(x[order] / (2 * a * (1 - gamma)), 1.0),
                {"ls": "--", "lw": 1, "color": color},
            )
        )
    return save_plot(
        path,
        series,
        title="Multi-reward RL (K=3): one reward model moves by δ",
        xlabel="‖ΔR‖_N = max_k ‖ΔR_k‖∞",
        ylabel="max_s d_TV",
    )


# ---------------------------------------------------------------------------------------------
# KL regularization, invariances, temperature limits, incomplete rewards, inverse Bellman
# ---------------------------------------------------------------------------------------------


@claim(
    id="policy-cliff/kl-limit",
    statement="KL-regularized bandit: π* ∝ π_ref·exp(r/β); as β → 0 it tends to π_ref conditioned "
    "on the argmax set (not uniform on it): r = (1, 1, .5, 1), π_ref = (.1, .3, .4, .2) gives "
    "(1/6, 1/2, 0, 1/3) at β = 0.01.",
    reference=f"{PAPER}, §3.3 (tie-breaker toward the base model); Rafailov et al. 2023, §4",
    bound=lambda: np.array([1 / 6, 1 / 2, 0.0, 1 / 3]),
)
def kl_limit(ctx: RunContext, bound: Callable[..., np.ndarray]) -> Evidence:
    r, ref = np.array([1.0, 1.0, 0.5, 1.0]), np.array([0.1, 0.3, 0.4, 0.2])
    closed = T.kl_regularized_bandit_policy(r, ref, 0.01)
    solved = T.soft_optimal_policy(bandit(r), 0.01, ref, tol=1e-12)[0]
    expected = bound()
    dev = float(np.max(np.abs(closed - expected)))
    rng = ctx.rng("kl-limit")
    agree = 0.0
    for _ in range(ctx.n(50)):  # the closed form equals soft value iteration on random bandits
        A = int(rng.integers(2, 7))
        rr, pr, beta = rng.normal(size=A), rng.dirichlet(np.ones(A)), float(rng.uniform(0.05, 5))
        agree = max(
            agree,
            float(
                np.max(
                    np.abs(
                        T.kl_regularized_bandit_policy(rr, pr, beta)
                        - T.soft_optimal_policy(bandit(rr), beta, pr, tol=1e-12)[0]
                    )
                )
            ),
        )
    large_beta = float(np.max(np.abs(T.kl_regularized_bandit_policy(r, ref, 1e6) - ref)))
    return Evidence.equal(
        float(closed[1]),
        float(expected[1]),
        atol=1e-12,
        note=f"closed form at β = 0.01: {np.round(closed, 6).tolist()} (max deviation from "
        f"(1/6, 1/2, 0, 1/3): {dev:.1e}); reported: π*(a_2), the heaviest tied arm.",
        require={
            "every arm within 1e-12 of (1/6, 1/2, 0, 1/3)": dev <= 1e-12,
            "soft value iteration on the bandit equals the closed form (1e-9)": float(
                np.max(np.abs(solved - closed))
            )
            <= 1e-9,
            f"closed form = soft VI on {ctx.n(50)} random bandits (1e-9)": agree <= 1e-9,
            "β → ∞ gives π_ref (1e-5 at β = 1e6)": large_beta <= 1e-5,
        },
        details={"closed_form": closed, "max_vi_disagreement": agree},
    )


@claim(
    id="policy-cliff/shaping-invariance",
    statement="Constant shifts and potential shaping R + γPΦ − Φ leave the soft-optimal policy and "
    "the argmax sets unchanged, however large ‖ΔR‖∞ is: the sup-norm bound is loose for them.",
    reference=f"{PAPER}, §6 discussion; Ng, Harada & Russell 1999 [derived, checked]",
    bound=B.soft_policy_tv_bound,
)
def shaping_invariance(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst_tv, sets_equal, loosest = 0.0, True, (0.0, 0.0)
    for rng, mdp in _random_mdps(ctx, "shaping", ctx.n(60)):
        shaped = mdp.R + T.potential_shaping(mdp, rng.normal(0, 5, mdp.n_states)) + rng.normal(0, 5)
        pis = T.soft_optimal_policy(mdp, 0.5, rewards=np.stack([mdp.R, shaped]), tol=SOFT_TOL)
        tv = T.max_total_variation(pis[0], pis[1])
        qs = T.optimal_q(mdp, rewards=np.stack([mdp.R, shaped]), tol=1e-12)
        sets_equal &= bool(np.array_equal(T.argmax_mask(qs[0]), T.argmax_mask(qs[1])))
        d = T.reward_distance(mdp.R, shaped)
        worst_tv = max(worst_tv, tv)
        loosest = max(loosest, (d, bound(d, 0.5, mdp.gamma)))
    return Evidence.upper(
        worst_tv,
        0.0,
        atol=1e-9,
        note=f"{ctx.n(60)} random MDPs, Φ ~ N(0, 5²) per state plus a shift c ~ N(0, 5²), α = 0.5; "
        f"the bound is 0 up to solver tolerance 1e-9, while Prop 4.7's sup-norm bound was as large "
        f"as {loosest[1]:.3g} (‖ΔR‖∞ = {loosest[0]:.3g}).",
        require={"argmax sets equal under every shaping": bool(sets_equal)},
        details={"max_reward_distance": loosest[0]},
    )


@claim(
    id="policy-cliff/soft-hard-gap",
    statement="Soft vs hard values: 0 ≤ Q*_α − Q* ≤ γα log|A| / (1−γ).",
    reference=f"{PAPER}, Prop 4.7 setting; spec §4d [derived, checked]",
    bound=B.soft_hard_value_gap_bound,
)
def soft_hard_gap(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, lowest = (-1.0, 0.0, 0.0), math.inf
    for _, mdp in _random_mdps(ctx, "soft-hard-gap", ctx.n(60)):
        if mdp.gamma == 0:
            continue
        q = T.optimal_q(mdp, tol=1e-12)
        for alpha in (1.0, 0.1, 0.01):
            gap = T.soft_optimal_q(mdp, alpha, tol=SOFT_TOL) - q
            b = bound(alpha, mdp.gamma, mdp.n_actions)
            worst = max(worst, (float(gap.max()) / b, float(gap.max()), b))
            lowest = min(lowest, float(gap.min()))
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-9,
        atol=1e-10,
        note=f"{ctx.n(60)} random MDPs, α ∈ (1, 0.1, 0.01); measured max (Q*_α − Q*); reported: "
        "the largest ratio.",
        require={"Q*_α ≥ Q* everywhere (to 1e-10)": lowest >= -1e-10},
        details={"max_ratio": worst[0], "min_gap": lowest},
    )


@claim(
    id="policy-cliff/soft-regret",
    statement="Cost of stochasticity: the soft-optimal policy loses at most α log|A| / (1−γ) of "
    "unregularized value: 0 ≤ V*(s) − V^{π_α}(s) ≤ α log|A| / (1−γ).",
    reference=f"{PAPER}, §4.6 discussion (cost not quantified there) [derived]",
    bound=B.soft_policy_regret_bound,
)
def soft_regret(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, lowest = (-1.0, 0.0, 0.0), math.inf
    for _, mdp in _random_mdps(ctx, "soft-regret", ctx.n(60)):
        v_star = T.optimal_q(mdp, tol=1e-12).max(axis=-1)
        for alpha in (1.0, 0.1, 0.01):
            loss = v_star - T.policy_value(mdp, T.soft_optimal_policy(mdp, alpha, tol=SOFT_TOL))
            b = bound(alpha, mdp.gamma, mdp.n_actions)
            worst = max(worst, (float(loss.max()) / b, float(loss.max()), b))
            lowest = min(lowest, float(loss.min()))
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-9,
        atol=1e-10,
        note=f"{ctx.n(60)} random MDPs, α ∈ (1, 0.1, 0.01); V^{{π_α}} by exact policy evaluation; "
        "reported: the largest ratio.",
        require={"V* ≥ V^{π_α} everywhere (to 1e-9)": lowest >= -1e-9},
        details={"max_ratio": worst[0]},
    )


def _entropy_tiebreak_ratio(gamma: float) -> float:
    """``2^{gamma/(1-gamma)}``: odds of the branch with twice the future actions (spec claim 17)."""
    return 2.0 ** (gamma / (1.0 - gamma))


@claim(
    id="policy-cliff/temperature-limit",
    statement="As α → 0 the soft policy does not become uniform over tied optimal actions in an "
    "MDP: with R ≡ 0, π(a2|s0)/π(a1|s0) = 2^{γ/(1−γ)} for every α (the branch with more future "
    "actions wins).",
    reference=f"{PAPER}, Prop 4.7 setting; spec §5 claim 17 [derived, checked]",
    bound=_entropy_tiebreak_ratio,
)
def temperature_limit(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    gamma = 0.5
    mdp, available = nonuniform_limit_mdp(gamma)
    table, worst = [], (-1.0, 0.0)
    for alpha in (1.0, 0.1, 0.01):
        pi = T.soft_optimal_policy(mdp, alpha, available=available, tol=SOFT_TOL)
        ratio = float(pi[0, 1] / pi[0, 0])
        table.append({"α": alpha, "π(a2|s0)/π(a1|s0)": ratio})
        worst = max(worst, (abs(ratio - bound(gamma)), ratio))
    return Evidence.equal(
        worst[1],
        bound(gamma),
        atol=1e-6,
        note="state 0 leads to an absorbing state with 1 action (a1) or with 2 actions (a2); "
        "γ = 0.5; reported: the α whose ratio deviates most (solver error ≈ tol/α).",
        details={"table": table},
    )


@claim(
    id="policy-cliff/prop-3.1",
    statement="Clever slacker: if π_train ties a1 with a2 at a reachable s0 and the missing reward "
    "gives a2 advantage A > 0, then π_train is strictly suboptimal for R_true, with regret "
    "≥ μ(s0)·A.",
    reference=f"{PAPER}, Prop 3.1 (the regret bound is [derived] from its proof)",
    bound=B.incomplete_reward_regret_lower_bound,
)
def prop_3_1(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("prop-3.1")
    worst, unreachable_zero = (math.inf, 0.0, 0.0), True
    for _ in range(ctx.n(40)):
        S, A = int(rng.integers(2, 6)), int(rng.integers(2, 5))
        mdp, s0 = planted_tie_mdp(rng, S, A, 2, float(rng.uniform(0, 0.95)))
        q = T.optimal_q(mdp, tol=1e-12)
        # optimal for R_train; picks a1, the first tied action (ties snapped within tolerance)
        pi_train = T.greedy_policy(T.argmax_mask(q).astype(float))
        a2 = np.flatnonzero(T.argmax_mask(q[s0]))[1]
        c = float(rng.uniform(0.1, 1.0))
        missing = np.zeros_like(mdp.R)
        missing[s0, a2] = c  # A^{pi_train}_{R_missing}(s0, a2) = c since pi_train never takes a2
        true = mdp.with_reward(mdp.R + missing)
        mu = rng.dirichlet(np.ones(S))
        regret = float(mu @ (T.optimal_q(true, tol=1e-12).max(-1) - T.policy_value(true, pi_train)))
        b = bound(c, float(mu[s0]))
        worst = min(worst, (regret / b, regret, b))
        # equality case: a start distribution that never reaches s0 (s0 unreachable under pi_train)
        reach = _reachable(mdp.P, pi_train, start=[s for s in range(S) if s != s0])
        if s0 not in reach:
            mu0 = np.zeros(S)
            mu0[sorted(reach)[0]] = 1.0
            r0 = float(
                mu0 @ (T.optimal_q(true, tol=1e-12).max(-1) - T.policy_value(true, pi_train))
            )
            unreachable_zero &= abs(r0) <= 1e-9
    return Evidence.lower(
        worst[1],
        worst[2],
        atol=1e-9,
        note=f"{ctx.n(40)} random MDPs with a planted tie; R_missing = c·1{{(s0, a2)}}, c ∈ [0.1, 1]; "
        "μ random with full support; regret by exact policy evaluation; reported: the smallest "
        "regret/bound.",
        require={"zero regret when μ never reaches s0": bool(unreachable_zero)},
        details={"min_ratio": worst[0]},
    )


def _reachable(P: np.ndarray, policy: np.ndarray, start: list[int]) -> set[int]:
    seen, stack = set(), list(start[:1])
    while stack:
        s = stack.pop()
        if s in seen:
            continue
        seen.add(s)
        nxt = np.einsum("a,at->t", policy[s], P[s])
        stack.extend(int(t) for t in np.flatnonzero(nxt > 0))
    return seen


@claim(
    id="policy-cliff/inverse-bellman",
    statement="Inverse Bellman: R_Q := Q − γP max Q has optimal action values exactly Q.",
    reference=f"{PAPER}, proof of Prop 2.9",
    bound=lambda tol: tol,
)
def inverse_bellman_claim(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst = 0.0
    for rng, mdp in _random_mdps(ctx, "inverse-bellman", ctx.n(100)):
        Q = rng.normal(0, 3, mdp.R.shape)
        recovered = T.optimal_q(mdp, tol=1e-11, rewards=T.inverse_bellman(Q, mdp.P, mdp.gamma))
        worst = max(worst, float(np.max(np.abs(recovered - Q))))
    return Evidence.upper(
        worst,
        bound(1e-11),
        rtol=0.0,
        atol=1e-13,
        note=f"{ctx.n(100)} random MDPs and random Q ~ N(0, 3²); value iteration on R_Q to a "
        "certified 1e-11; measured: max |Q*_{R_Q} − Q|.",
    )
