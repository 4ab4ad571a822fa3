"""The paper's synthetic protocol (Sec. 6.1): chosen subset vs whole stable set vs baselines."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats

from causal import (
    anchor_regression,
    equivalence_classes,
    invariant_causal_prediction,
    invariant_risk_minimization,
    pooled_ols,
)
from causal.generators import SIMULATION_MUTABLE, simulation_alphas, simulation_scm
from causal.graph import sorted_nodes
from causal.risk import fit_stable_predictors, worst_case_risks
from perturbation.causal_minimax._common import env_matrix, fmt, mse, scaled_config
from perturbation.references import ref
from perturbation.registry import Evidence, Reference, RunContext, claim, frozen


@functools.lru_cache(maxsize=4)
def _simulation_protocol(ctx: RunContext) -> Mapping:
    """One random split of the Sec. 6.1 protocol: h* of the 45 class representatives and the
    test MSEs of their stable predictors and of the baselines (shared, read-only).

    20 environments ``α_e = e - 10.5`` (authors' ``data/simulation_params.json``); 10 training
    environments (100 samples each, the authors' size) give the law of ``X_M`` for the stable
    predictors and the data of the baselines; the 10 test environments are sampled with
    ``ctx.n(1000)`` rows each (more than the authors' 100, to shrink the sampling error of the
    max over environments).
    """
    rng = ctx.rng("simulation-protocol")
    alphas = simulation_alphas()
    perm = rng.permutation(len(alphas))
    train_ids, test_ids = np.sort(perm[:10]), np.sort(perm[10:])
    base = int(rng.integers(2**31))
    train = [simulation_scm(alphas[i]).sample(100, seed=base + i) for i in train_ids]
    n_test = ctx.n(1000, minimum=400)
    test = [simulation_scm(alphas[i]).sample(n_test, seed=base + 100 + i) for i in test_ids]
    mv = {j: np.concatenate([d[j] for d in train]) for j in SIMULATION_MUTABLE}
    scm = simulation_scm(1.0)  # mechanisms of S and Y; X_M's law comes from mv
    classes = equivalence_classes(scm.graph, scm.target, scm.mutable)
    cfg = scaled_config(ctx)
    seed = int(rng.integers(2**31))
    rows = []
    # all representatives at once: each run equals the one-by-one fit_stable_predictor and
    # worst_case_risk call with this seed up to floating-point summation order
    reps = list(classes.representatives)
    fs = fit_stable_predictors(scm, reps, config=cfg, seed=seed, mutable_values=mv)
    hs = worst_case_risks(scm, reps, config=cfg, seed=seed, predictors=fs, mutable_values=mv)
    for rep, f, h in zip(reps, fs, hs, strict=True):
        mses = [mse(d["Y"], f.predict(d)) for d in test]
        rows.append(
            {
                "subset": rep,
                "h*": h.value,
                "ok": h.success,
                "worst": max(mses),
                "mean": np.mean(mses),
            }
        )
    # baselines on all observed X (stable and mutable), pooled over the training environments
    cols = [v for v in sorted_nodes(scm.graph.nodes) if v != scm.target]
    x = np.concatenate([env_matrix(d, cols) for d in train])
    y = np.concatenate([d["Y"] for d in train])
    env = np.repeat(np.arange(len(train)), 100)
    icp = invariant_causal_prediction(x, y, env, max_size=None if ctx.scale != "tiny" else 2)
    irm = invariant_risk_minimization(x, y, env)
    baselines = {
        "pooled ERM (OLS)": pooled_ols(x, y),
        "anchor regression (γ=10)": anchor_regression(x, y, env, 10.0),
        f"ICP (selected {[cols[i] for i in icp.selected]})": icp.predictor,
        f"IRMv1 (λ={irm.penalty_weight:g}{'' if irm.success else ', not converged'})": irm.predictor,
    }
    base_rows = []
    for name, p in baselines.items():
        mses = [mse(d["Y"], p.predict(env_matrix(d, cols))) for d in test]
        base_rows.append({"method": name, "worst": max(mses), "mean": float(np.mean(mses))})
    return frozen(
        {
            "rows": rows,
            "baselines": base_rows,
            "classes": classes,
            "scm": scm,
            "var_y": float(np.var(np.concatenate([d["Y"] for d in test]))),
            "config": cfg,
            "n_test": n_test,
            "test_alphas": alphas[test_ids].tolist(),
        }
    )


def _plot_simulation(ctx: RunContext, rows, chosen, whole, base_rows) -> object:
    path = ctx.plot_path("causal-minimax-simulation")
    if path is None:
        return None
    from matplotlib.figure import Figure

    ranked = sorted(rows, key=lambda r: r["h*"])
    fig = Figure(figsize=(7.2, 4.4), layout="constrained")
    ax = fig.subplots()
    xs = np.arange(len(ranked))
    ax.plot(
        xs, [r["worst"] for r in ranked], "o-", ms=3, label="stable predictor f_S' (class rep.)"
    )
    for i, r in enumerate(ranked):
        if r["subset"] == chosen:
            ax.plot(i, r["worst"], "r*", ms=14, label="chosen S* (min h*)")
        if r["subset"] == whole:
            ax.plot(i, r["worst"], "ks", ms=9, mfc="none", label="whole stable set S")
    for b, style in zip(base_rows, (":", "--", "-.", (0, (1, 3))), strict=False):
        ax.axhline(b["worst"], ls=style, color="gray", label=b["method"])
    ax.set_xlabel("class representatives ranked by estimated h*")
    ax.set_ylabel("worst test MSE over the 10 test environments")
    ax.set_title("Paper's synthetic graph (Sec. 6.1): worst-case test MSE")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    return path


@claim(
    id="causal-minimax/simulation-protocol",
    statement="On the paper's synthetic graph (45 classes of 256 subsets; X_M^0 = {X9}, "
    "K = {X1,X2,X3,X4,X10}, X* = {X2,X3,X4,X9,X10}), over 20 environments α_e = e − 10.5 "
    "(10 train / 10 test), the subset chosen by min h* over the 45 class representatives has a "
    "worst-case test MSE no larger than the whole stable set's (within 5% sampling error).",
    reference=ref(
        "causal-minimax", "Sec. 6.1 and Alg. 1; authors' data/simulation_params.json (protocol)"
    ),
    bound=Reference(1.0, source="the whole stable set's worst test MSE, as a ratio (1)"),
)
def simulation_protocol(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    res = _simulation_protocol(ctx)
    rows, classes, scm = res["rows"], res["classes"], res["scm"]
    comps = scm.components
    chosen = min(rows, key=lambda r: r["h*"])
    whole_rep = classes.class_of(comps.stable).representative
    whole = next(r for r in rows if r["subset"] == whole_rep)
    ratio = chosen["worst"] / whole["worst"]
    hs = [r["h*"] for r in rows]
    ws = [r["worst"] for r in rows]
    rho = float(stats.spearmanr(hs, ws)[0])
    best = min(rows, key=lambda r: r["worst"])
    plot = _plot_simulation(ctx, rows, chosen["subset"], whole_rep, res["baselines"])

    table = [
        {
            "method": "S* (chosen)" if r is chosen else ("whole S" if r is whole else "f_S'"),
            "subset": fmt(r["subset"]),
            "h*": round(r["h*"], 6),
            "worst test MSE": round(r["worst"], 6),
            "mean test MSE": round(float(r["mean"]), 6),
        }
        for r in sorted(rows, key=lambda r: r["h*"])
    ]
    table += [
        {
            "method": b["method"],
            "subset": "all X (incl. X_M)" if "ICP" not in b["method"] else "",
            "h*": None,
            "worst test MSE": round(b["worst"], 6),
            "mean test MSE": round(b["mean"], 6),
        }
        for b in res["baselines"]
    ]
    cfg = res["config"]
    return Evidence.upper(
        ratio,
        bound(),
        rtol=0.05,
        note=f"measured: worst test MSE of S* = {fmt(chosen['subset'])} / that of the whole "
        f"stable set (class {fmt(whole_rep)}); Var(Y) = {res['var_y']:.4g}; Spearman(h*, worst "
        f"test MSE) over the 45 representatives = {rho:.2f} (not asserted: Y carries little "
        f"signal, the stable predictors' worst MSE / Var(Y) spans {min(ws) / res['var_y']:.2f}"
        f"–{max(ws) / res['var_y']:.2f}); neural h* with "
        f"{cfg.n_samples} samples, {cfg.predictor_steps}+{cfg.adversary_steps} steps; "
        f"{res['n_test']} rows per test environment. Baselines' worst test MSE: "
        + ", ".join(f"{b['method']} {b['worst']:.4g}" for b in res["baselines"])
        + f" (S*: {chosen['worst']:.4g}).",
        require={
            "45 classes of 256 subsets": classes.n_classes == 45 and classes.n_subsets == 256,
            "X_M^0 = {X9}": comps.mutable_children == {"X9"},
            "K = {X1,X2,X3,X4,X10}": comps.k == {"X1", "X2", "X3", "X4", "X10"},
            "X* = {X2,X3,X4,X9,X10}": comps.x_star == {"X2", "X3", "X4", "X9", "X10"},
            "condition Ch(Y)∩K = ∅ false (search runs)": not comps.condition,
            "every h* estimate finite": all(r["ok"] for r in rows),
        },
        details={
            "chosen": fmt(chosen["subset"]),
            "whole_stable_class": fmt(whole_rep),
            "best_by_test": fmt(best["subset"]),
            "spearman_hstar_worst_mse": rho,
            "test_alphas": list(res["test_alphas"]),
            "table": table,
        },
        plots=[plot],
    )
