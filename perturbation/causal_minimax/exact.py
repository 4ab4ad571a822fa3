"""Exact worst-case risks on random binary SCMs: Alg. 1-2 and the graphical condition."""

from __future__ import annotations

import math
from collections.abc import Callable

from perturbation.causal_minimax._common import binary_sweep
from perturbation.references import ref
from perturbation.registry import Evidence, Reference, RunContext, Worst, claim


@claim(
    id="causal-minimax/equal-risk",
    statement="Members of an equivalence class share the exact worst-case risk h* (discrete "
    "SCMs): max/min of h* within every class is 1.",
    reference=ref("causal-minimax", "Alg. 2 (members of a class share the stable predictor)"),
    bound=Reference(1.0, source="equal risks: max/min of h* within a class = 1"),
)
def equal_risk(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sweep = binary_sweep(ctx)
    worst = Worst("==")  # the largest |max/min − bound|
    for k, inst in enumerate(sweep):
        for c in inst["classes"].classes:
            vals = [inst["risks"][m] for m in c.members()]
            worst.add(max(vals) / min(vals), bound(), instance=k, size=len(vals))
    return worst.evidence(
        atol=1e-9,
        note=f"{len(sweep)} random binary SCMs, {worst.n} classes; exact h* by "
        "enumerating deterministic maps; reported: the class with the largest max/min.",
        details={"worst": worst.info, "classes": worst.n},
    )


@claim(
    id="causal-minimax/search-equals-brute-force",
    statement="The minimum of h* over the class representatives equals the minimum over all "
    "2^|S| subsets.",
    reference=ref("causal-minimax", "Alg. 1 and Alg. 2"),
    bound=Reference(1.0, source="equal optima: min over representatives / min over subsets = 1"),
)
def search_equals_brute_force(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sweep = binary_sweep(ctx)
    worst = Worst("==")  # the largest |ratio − bound|
    evaluated, total = 0, 0
    for k, inst in enumerate(sweep):
        risks = inst["risks"]
        reps = inst["classes"].representatives
        worst.add(min(risks[r] for r in reps) / min(risks.values()), bound(), instance=k)
        evaluated += len(reps)
        total += len(risks)
    return worst.evidence(
        atol=1e-12,
        note=f"{len(sweep)} random binary SCMs; measured: min over representatives"
        " / min over all subsets, worst instance.",
        require={"representatives ≤ subsets": evaluated <= total},
        details={
            "representatives_evaluated": evaluated,
            "subsets_total": total,
            "worst": worst.info,
        },
    )


@claim(
    id="causal-minimax/condition-implies-optimal",
    statement="If Ch(Y) ∩ K = ∅, the whole stable set is optimal: h*(S) ≤ h*(S') for every "
    "S' ⊆ S (exact, random binary SCMs); when it fails, strictly better subsets occur.",
    reference=ref(
        "causal-minimax",
        "abstract and Alg. 1 (graphical condition Ch(Y) ∩ K = ∅ for the whole stable set); "
        "strictly better subsets when it fails [derived: exact enumeration]",
    ),
    bound=Reference(1.0, source="the whole stable set optimal: h*(S) / min h* = 1"),
)
def condition_implies_optimal(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst = Worst("<=")  # the largest h*(S) / min h* among instances satisfying the condition
    violated, better = 0, 0
    example = None
    for k, inst in enumerate(binary_sweep(ctx)):
        scm, risks = inst["scm"], inst["risks"]
        whole, best = risks[scm.stable], min(risks.values())
        if scm.components.condition:
            worst.add(whole / best, bound(), instance=k)
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
    held = worst.n
    note = (
        f"{held} instances satisfy the condition (measured: max h*(S)/min h*); "
        f"{better}/{violated} violating ones have a strictly better subset."
    )
    require = {"some instance satisfies the condition": held > 0}
    details = {"held": held, "violated": violated, "strictly_better": better, "example": example}
    if held == 0:
        return Evidence.upper(math.nan, bound(), note, require=require, details=details)
    return worst.evidence(note, rtol=1e-9, require=require, details=details)
