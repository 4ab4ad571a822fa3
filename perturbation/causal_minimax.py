"""Perturbation experiments for the causal minimax subset search: the claims ``causal-minimax/*``.

Liu et al., *Which Invariance Should We Transfer? A Causal Minimax Learning Approach* (ICML
2023); spec ``shared/specs/causal_minimax.md`` §7. Exact checks use random binary SCMs
(``causal.generators.random_binary_scm``: Y and 3-4 X's, edges w.p. 0.5, 1-2 mutable nodes,
CPT entries in [0.05, 0.95]) with the exact ``h*`` (enumeration of deterministic intervention
maps); the neural estimator is checked on the bilinear example against its quadrature value.
Every experiment reports its worst instance.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable

import numpy as np
import torch
from scipy import stats

from causal import (
    NeuralConfig,
    anchor_regression,
    equivalence_classes,
    fit_stable_predictor,
    graph_components,
    invariant_causal_prediction,
    pooled_ols,
    worst_case_risk,
)
from causal.data import load_impc
from causal.fitting import fit_continuous_scm
from causal.generators import (
    SIMULATION_MUTABLE,
    bilinear_scm,
    bilinear_worst_case,
    chain_graph,
    random_binary_scm,
    random_dag,
    simulation_alphas,
    simulation_graph,
    simulation_scm,
    star_graph,
)
from causal.graph import sorted_nodes
from perturbation.registry import SCALES, Evidence, RunContext, claim

PAPER = "Liu et al., ICML 2023 (arXiv:2107.01876)"


def _subsets(s: frozenset) -> list[frozenset]:
    nodes = sorted(s)
    return [frozenset(c) for r in range(len(nodes) + 1) for c in itertools.combinations(nodes, r)]


@functools.lru_cache(maxsize=8)
def _binary_sweep(ctx: RunContext) -> list[dict]:
    """Exact ``h*`` of every subset of random binary SCMs, with their classes (shared)."""
    rng = ctx.rng("binary-sweep")
    out = []
    for _ in range(ctx.n(120, minimum=30)):
        scm = random_binary_scm(rng)
        risks = {s: worst_case_risk(scm, s).value for s in _subsets(scm.stable)}
        classes = equivalence_classes(scm.graph, scm.target, scm.mutable)
        out.append({"scm": scm, "risks": risks, "classes": classes})
    return out


def _one(*_: object) -> float:
    """The identity ratio 1 (equal risks, exact coverage, equal optimum)."""
    return 1.0


# ---------------------------------------------------------------------------------------------
# Equivalence classes
# ---------------------------------------------------------------------------------------------


@claim(
    id="causal-minimax/partition",
    statement="The equivalence-class recursion partitions the power set of the stable set: "
    "classes are disjoint and cover all 2^|S| subsets (N_G = d+1 on chains, 2^d on stars).",
    reference=f"{PAPER}, Alg. 2; spec §7.1, §7.11",
    bound=_one,
)
def partition(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("partition")
    worst = (0.0, 1.0, 1.0)  # (deviation, coverage ratio, bound)
    n = ctx.n(200)
    for _ in range(n):
        d, p = int(rng.integers(1, 9)), float(rng.choice([0.2, 0.35, 0.5]))
        g = random_dag(rng, d, p)
        xs = sorted(v for v in g if v != "Y")
        mut = set(rng.choice(xs, size=int(rng.integers(0, min(2, d) + 1)), replace=False))
        res = equivalence_classes(g, "Y", mut)
        members = [m for c in res.classes for m in c.members()]
        total = 2 ** len(res.stable)
        ratio = min(len(set(members)), len(members)) / total  # duplicates or gaps lower it
        ratio = ratio if len(members) == len(set(members)) else -ratio
        b = bound(total)
        worst = max(worst, (abs(ratio - b), ratio, b))
    chains = all(equivalence_classes(chain_graph(d), "Y", set()).n_classes == d + 1 for d in (3, 6))
    stars = all(equivalence_classes(star_graph(d), "Y", set()).n_classes == 2**d for d in (3, 5))
    return Evidence.equal(
        worst[1],
        worst[2],
        atol=0.0,
        note=f"{n} random DAGs (d ≤ 8, p ∈ {{0.2, 0.35, 0.5}}, 0-2 mutable nodes); measured: "
        "distinct members / 2^|S| (negative if a subset is in two classes) of the worst graph.",
        require={"N_G = d+1 on chains (d = 3, 6)": chains, "N_G = 2^d on stars (d = 3, 5)": stars},
        details={"graphs": n},
    )


@claim(
    id="causal-minimax/simulation-classes",
    statement="On the paper's synthetic graph the recursion finds 45 classes of the 256 subsets "
    "(57 recursive calls), and X_M^0 = {X9}, K = {X1,X2,X3,X4,X10}, X* = {X2,X3,X4,X9,X10}, "
    "condition Ch(Y)∩K = ∅ false.",
    reference=f"{PAPER}, Sec. 6.1, Fig. 4a; authors' cache/eqclses.json; spec §7.2, §7.12",
    bound=lambda d: 2.0**d,
)
def simulation_classes(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    g = simulation_graph()
    res = equivalence_classes(g, "Y", SIMULATION_MUTABLE)
    comps = graph_components(g, "Y", SIMULATION_MUTABLE)
    return Evidence.upper(
        res.n_classes,
        bound(len(res.stable)),
        note="networkx port of RECOVER on G_S (the DAG minus X9, X10); bound: 2^|S|.",
        require={
            "exactly 45 classes": res.n_classes == 45,
            "57 recursive calls": res.n_calls == 57,
            "members cover 256 subsets": res.n_subsets == 256,
            "X_M^0 = {X9}": comps.mutable_children == {"X9"},
            "K = {X1,X2,X3,X4,X10}": comps.k == {"X1", "X2", "X3", "X4", "X10"},
            "X* = {X2,X3,X4,X9,X10}": comps.x_star == {"X2", "X3", "X4", "X9", "X10"},
            "condition false": not comps.condition,
        },
        details={
            "table": [
                {"class": i, "representative": sorted(c.representative), "size": c.size}
                for i, c in enumerate(res.classes)
            ]
        },
    )


# ---------------------------------------------------------------------------------------------
# Exact risks on binary SCMs
# ---------------------------------------------------------------------------------------------


@claim(
    id="causal-minimax/equal-risk",
    statement="Members of an equivalence class share the exact worst-case risk h* (discrete "
    "SCMs): max/min of h* within every class is 1.",
    reference=f"{PAPER}, Alg. 2; spec §7.4",
    bound=_one,
)
def equal_risk(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, n_classes = (0.0, 1.0, 1.0), 0
    for inst in _binary_sweep(ctx):
        for c in inst["classes"].classes:
            vals = [inst["risks"][m] for m in c.members()]
            ratio = max(vals) / min(vals)
            b = bound(len(vals))
            worst = max(worst, (abs(ratio - b), ratio, b))
            n_classes += 1
    return Evidence.equal(
        worst[1],
        worst[2],
        atol=1e-9,
        note=f"{len(_binary_sweep(ctx))} random binary SCMs, {n_classes} classes; exact h* by "
        "enumerating deterministic maps; reported: the class with the largest max/min.",
    )


@claim(
    id="causal-minimax/search-equals-brute-force",
    statement="The minimum of h* over the class representatives equals the minimum over all "
    "2^|S| subsets.",
    reference=f"{PAPER}, Alg. 1-2; spec §7.5",
    bound=_one,
)
def search_equals_brute_force(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, evaluated, total = (0.0, 1.0, 1.0), 0, 0
    for inst in _binary_sweep(ctx):
        risks = inst["risks"]
        reps = inst["classes"].representatives
        ratio = min(risks[r] for r in reps) / min(risks.values())
        b = bound()
        worst = max(worst, (abs(ratio - b), ratio, b))
        evaluated += len(reps)
        total += len(risks)
    return Evidence.equal(
        worst[1],
        worst[2],
        atol=1e-12,
        note=f"{len(_binary_sweep(ctx))} random binary SCMs; measured: min over representatives"
        " / min over all subsets, worst instance.",
        require={"representatives ≤ subsets": evaluated <= total},
        details={"representatives_evaluated": evaluated, "subsets_total": total},
    )


@claim(
    id="causal-minimax/condition-implies-optimal",
    statement="If Ch(Y) ∩ K = ∅, the whole stable set is optimal: h*(S) ≤ h*(S') for every "
    "S' ⊆ S (exact, random binary SCMs); when it fails, strictly better subsets occur.",
    reference=f"{PAPER}, graphical condition (Thm. on Y ↛ K); spec §2.3, §7.6, §7.8",
    bound=_one,
)
def condition_implies_optimal(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, held, violated, better = (0.0, 1.0), 0, 0, 0
    example = None
    for inst in _binary_sweep(ctx):
        scm, risks = inst["scm"], inst["risks"]
        whole, best = risks[scm.stable], min(risks.values())
        if scm.components.condition:
            held += 1
            worst = max(worst, (whole / best, bound()))
        else:
            violated += 1
            if best < whole - 1e-9:
                better += 1
                example = example or {
                    "edges": sorted(scm.graph.edges),
                    "mutable": sorted(scm.mutable),
                    "whole": whole,
                    "best": best,
                    "best_subset": sorted(min(risks, key=risks.get)),
                }
    return Evidence.upper(
        worst[0],
        worst[1],
        rtol=1e-9,
        note=f"{held} instances satisfy the condition (measured: max h*(S)/min h*); "
        f"{better}/{violated} violating ones have a strictly better subset.",
        require={"some instance satisfies the condition": held > 0},
        details={"held": held, "violated": violated, "strictly_better": better, "example": example},
    )


# ---------------------------------------------------------------------------------------------
# The bilinear counterexample: analytic and neural
# ---------------------------------------------------------------------------------------------


def _empty_set_risk() -> float:
    """h*(∅) of the bilinear example: f_∅ = E[Y] = 0, so the risk is Var(Y) = 1 for every g."""
    return 1.0


@claim(
    id="causal-minimax/bilinear-counterexample",
    statement="When Ch(Y) ∩ K ≠ ∅ the whole stable set can be worse than a subset: in "
    "Y ~ N(0,1), M = child of Y, X1 = Y·M + ε, h*({X1}) = 1.0786 > h*(∅) = 1.",
    reference=f"{PAPER}, abstract (counterexample); spec §2.1 [derived]",
    bound=_empty_set_risk,
)
def bilinear_counterexample(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    ref = bilinear_worst_case()["whole"]
    rng = ctx.rng("bilinear-mc")
    n = ctx.n(400_000)
    y = rng.normal(size=n)
    m = np.sqrt(np.maximum(0.0, 1 - 2 * y * y))  # the adversarial g(y)
    x1 = y * m + rng.normal(size=n)
    loss = (y - m * x1 / (m * m + 1)) ** 2
    mc, se = float(loss.mean()), float(loss.std() / math.sqrt(n))
    b = bound()
    return Evidence.lower(
        ref,
        b,
        note="measured: h*({X1}) by quadrature of E[1/(4(1−Y²)); Y²<½] + E[Y²; Y²≥½]; bound: "
        f"h*(∅); Monte Carlo under g(y)=sqrt(max(0,1−2y²)) with n={n}: {mc:.4f} ± {se:.4f}.",
        require={
            "strict gap > 0.05": ref - b > 0.05,
            "Monte Carlo within 4 s.e.": abs(mc - ref) <= 4 * se,
        },
        details={"quadrature": ref, "monte_carlo": mc, "stderr": se},
    )


def _analytic_bilinear(*_: object) -> float:
    """The analytic worst case h*({X1}) = 1.0786 of the bilinear example."""
    return bilinear_worst_case()["whole"]


@claim(
    id="causal-minimax/neural-bilinear",
    statement="The neural h* estimator (fitted stable predictor, bounded adversarial g by "
    "gradient ascent) reaches ≥ 95% of the analytic 1.0786 on the bilinear example and never "
    "exceeds it beyond sampling error (3 s.e.).",
    reference=f"{PAPER}, Alg. 1 (h*); spec §3, §7.13",
    bound=_analytic_bilinear,
)
def neural_bilinear(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    torch.set_num_threads(1)
    scm = bilinear_scm()
    rows = []
    worst = None
    for seed in range(ctx.n(2, minimum=1)):
        r = worst_case_risk(scm, {"X1"}, seed=ctx.seed * 100 + seed)
        b = bound()
        rows.append({"seed": seed, "h*": r.value, "stderr": r.stderr, "train": r.train_value})
        if worst is None or r.value - 3 * r.stderr > worst[0].value - 3 * worst[0].stderr:
            worst = (r, b)
    r, b = worst
    lowest = min(row["h*"] for row in rows)
    return Evidence.upper(
        r.value,
        b,
        atol=3 * r.stderr,
        note=f"{len(rows)} seed(s); default NeuralConfig (8000 samples, output bound 1·std); "
        "reported: the estimate highest above the analytic value.",
        require={"every estimate ≥ 95% of the analytic value": lowest >= 0.95 * b},
        details={"table": rows},
    )


# ---------------------------------------------------------------------------------------------
# The paper's synthetic protocol: chosen subset vs whole stable set vs baselines
# ---------------------------------------------------------------------------------------------


def _scaled_config(ctx: RunContext) -> NeuralConfig:
    """The neural ``h*`` budget for ``ctx``: reduced at tiny/small, the defaults from medium."""
    f = SCALES[ctx.scale]
    if f >= SCALES["medium"]:
        return NeuralConfig()
    return NeuralConfig(
        n_samples=ctx.n(1500, minimum=300),
        n_eval=ctx.n(3000, minimum=600),
        predictor_steps=ctx.n(200, minimum=60),
        adversary_steps=ctx.n(60, minimum=20),
    )


def _env_matrix(data: dict, cols: list[str]) -> np.ndarray:
    return np.column_stack([data[c] for c in cols])


def _mse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean((y - pred) ** 2))


@functools.lru_cache(maxsize=4)
def _simulation_protocol(ctx: RunContext) -> dict:
    """Spec §5 protocol, one random split: h* of the 45 class representatives and test MSEs.

    20 environments ``α_e = e - 10.5``; 10 training environments (100 samples each, the spec's
    size) give the law of ``X_M`` for the stable predictors and the data of the baselines; the
    10 test environments are sampled with ``ctx.n(1000)`` rows each (more than the spec's 100,
    to shrink the sampling error of the max over environments).
    """
    torch.set_num_threads(1)
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
    cfg = _scaled_config(ctx)
    seed = int(rng.integers(2**31))
    rows = []
    for rep in classes.representatives:
        f = fit_stable_predictor(scm, rep, config=cfg, seed=seed, mutable_values=mv)
        h = worst_case_risk(scm, rep, config=cfg, seed=seed, predictor=f, mutable_values=mv)
        mses = [_mse(d["Y"], f.predict(d)) for d in test]
        rows.append({"subset": rep, "h*": h.value, "worst": max(mses), "mean": np.mean(mses)})
    # baselines on all observed X (stable and mutable), pooled over the training environments
    cols = [v for v in sorted_nodes(scm.graph.nodes) if v != scm.target]
    x = np.concatenate([_env_matrix(d, cols) for d in train])
    y = np.concatenate([d["Y"] for d in train])
    env = np.repeat(np.arange(len(train)), 100)
    icp = invariant_causal_prediction(x, y, env, max_size=None if ctx.scale != "tiny" else 2)
    baselines = {
        "pooled ERM (OLS)": pooled_ols(x, y),
        "anchor regression (γ=10)": anchor_regression(x, y, env, 10.0),
        f"ICP (selected {[cols[i] for i in icp.selected]})": icp.predictor,
    }
    base_rows = []
    for name, p in baselines.items():
        mses = [_mse(d["Y"], p.predict(_env_matrix(d, cols))) for d in test]
        base_rows.append({"method": name, "worst": max(mses), "mean": float(np.mean(mses))})
    return {
        "rows": rows,
        "baselines": base_rows,
        "classes": classes,
        "scm": scm,
        "var_y": float(np.var(np.concatenate([d["Y"] for d in test]))),
        "config": cfg,
        "n_test": n_test,
        "test_alphas": alphas[test_ids].tolist(),
    }


def _whole_vs_chosen(*_: object) -> float:
    """Worst test MSE of the whole stable set (as a ratio: 1); S* should be no worse."""
    return 1.0


def _plot_simulation(ctx: RunContext, rows: list[dict], chosen, whole, base_rows) -> object:
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
    for b, style in zip(base_rows, (":", "--", "-."), strict=False):
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
    reference=f"{PAPER}, Sec. 6.1, Alg. 1; spec §5 (protocol), §7.2, §7.12",
    bound=_whole_vs_chosen,
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

    def fmt(s: frozenset) -> str:
        return "{" + ", ".join(sorted_nodes(s)) + "}"

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
        f"signal, every stable predictor's worst MSE is within ~25% of Var(Y)); neural h* with "
        f"{cfg.n_samples} samples, {cfg.predictor_steps}+{cfg.adversary_steps} steps; "
        f"{res['n_test']} rows per test environment.",
        require={
            "45 classes of 256 subsets": classes.n_classes == 45 and classes.n_subsets == 256,
            "X_M^0 = {X9}": comps.mutable_children == {"X9"},
            "K = {X1,X2,X3,X4,X10}": comps.k == {"X1", "X2", "X3", "X4", "X10"},
            "X* = {X2,X3,X4,X9,X10}": comps.x_star == {"X2", "X3", "X4", "X9", "X10"},
            "condition Ch(Y)∩K = ∅ false (search runs)": not comps.condition,
        },
        details={
            "chosen": fmt(chosen["subset"]),
            "whole_stable_class": fmt(whole_rep),
            "best_by_test": fmt(best["subset"]),
            "spearman_hstar_worst_mse": rho,
            "test_alphas": res["test_alphas"],
            "table": table,
        },
        plots=[plot],
    )


# ---------------------------------------------------------------------------------------------
# IMPC: ranking fidelity on real data (spec §7.14)
# ---------------------------------------------------------------------------------------------

_IMPC_FIXED = (0, 2, 4, 7)  # authors' fixed training genotypes (wild type and 3 knock-outs)


@functools.lru_cache(maxsize=4)
def _impc_sweep(ctx: RunContext) -> dict:
    """h* and max held-out-genotype test MSE of the 16 subsets over random authors' splits."""
    torch.set_num_threads(1)
    data = load_impc(standardize="none")
    rest = [k for k in range(1, len(data.genotypes)) if k not in _IMPC_FIXED]
    splits = list(itertools.combinations(rest, 2))  # the authors' 45 splits
    rng = ctx.rng("impc-splits")
    n_splits = min(len(splits), ctx.n(3, minimum=2))
    chosen = [splits[i] for i in rng.choice(len(splits), n_splits, replace=False)]
    subsets = _subsets(frozenset({"X1", "X2", "X3", "X4"}))
    cfg = _scaled_config(ctx)
    seed = int(rng.integers(2**31))
    h = np.zeros((n_splits, len(subsets)))
    w = np.zeros_like(h)
    for si, extra in enumerate(chosen):
        train_envs = [*_IMPC_FIXED, *extra]
        test_envs = [k for k in range(1, len(data.genotypes)) if k not in train_envs]
        mask = np.isin(data.environment, train_envs)
        # standardise with the training split's statistics (test genotypes keep their shifts)
        z = {v: (a - a[mask].mean()) / a[mask].std(ddof=1) for v, a in data.values.items()}
        train = {v: a[mask] for v, a in z.items()}
        scm = fit_continuous_scm(data.graph, data.target, data.mutable, train, seed=seed)
        mv = {"X5": train["X5"]}
        for j, s in enumerate(subsets):
            f = fit_stable_predictor(scm, s, config=cfg, seed=seed, mutable_values=mv)
            h[si, j] = worst_case_risk(
                scm, s, config=cfg, seed=seed, predictor=f, mutable_values=mv
            ).value
            w[si, j] = max(
                _mse(z["Y"][m], f.predict({v: a[m] for v, a in z.items()}))
                for m in (data.environment == k for k in test_envs)
            )
    return {"subsets": subsets, "h": h, "w": w, "splits": chosen, "config": cfg}


def _whole_set_margin(*_: object) -> float:
    """The whole stable set's max test MSE is at least 5% above the best subset's."""
    return 1.05


@claim(
    id="causal-minimax/impc-ranking",
    statement="On IMPC (614 mice, genotype = environment, graph Y→X5 (mutable), {X1,X3,X5,Y}→X2, "
    "X2→X4; Ch(Y)∩K ≠ ∅), the whole stable set {X1..X4} is not the best subset to transfer: its "
    "max test MSE over the 8 held-out genotypes (mean over splits) is ≥ 1.05 × the best subset's (Spearman(h*, max MSE) > 0).",
    reference=f"{PAPER}, App. F.2.1; spec §5 (IMPC), §7.14",
    bound=_whole_set_margin,
)
def impc_ranking(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    res = _impc_sweep(ctx)
    subsets, h, w = res["subsets"], res["h"].mean(0), res["w"].mean(0)
    whole = subsets.index(frozenset({"X1", "X2", "X3", "X4"}))
    best = int(np.argmin(w))
    rho = float(stats.spearmanr(h, w)[0])
    pick = int(np.argmin(h))

    def fmt(s: frozenset) -> str:
        return "{" + ", ".join(sorted_nodes(s)) + "}" if s else "∅"

    table = [
        {
            "subset": fmt(subsets[j]),
            "h*": round(float(h[j]), 4),
            "max test MSE": round(float(w[j]), 4),
        }
        for j in np.argsort(h)
    ]
    cfg = res["config"]
    return Evidence.lower(
        float(w[whole] / w[best]),
        bound(),
        note=f"measured: max test MSE of the whole stable set / the best subset ({fmt(subsets[best])}), "
        f"means over {len(res['splits'])} of the authors' 45 splits (train: wild type and "
        f"knock-outs 2, 4, 7 plus {res['splits']}); data standardised with the training split's "
        f"statistics; h* from an MLP SCM fitted on the training split (causal.fitting) and the "
        f"neural estimator ({cfg.n_samples} samples). Spearman(h*, max MSE) = {rho:.2f} and the "
        f"min-h* subset {fmt(subsets[pick])} are reported, not asserted: the authors' record "
        "(0.93, ∅ best) is not reproduced by this reconstruction.",
        require={"Spearman(h*, max test MSE) > 0": rho > 0},
        details={
            "spearman_hstar_max_mse": rho,
            "min_hstar_subset": fmt(subsets[pick]),
            "best_by_test": fmt(subsets[best]),
            "splits": [list(s) for s in res["splits"]],
            "table": table,
        },
    )
