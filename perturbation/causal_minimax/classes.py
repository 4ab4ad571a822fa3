"""Equivalence classes (Alg. 2 of Liu et al. 2023): the partition and the paper's graph."""

from __future__ import annotations

from collections.abc import Callable

from causal import equivalence_classes, graph_components
from causal.generators import (
    SIMULATION_MUTABLE,
    chain_graph,
    random_dag,
    simulation_graph,
    star_graph,
)
from perturbation.references import ref
from perturbation.registry import Evidence, Reference, RunContext, Theorem, Worst, claim


@claim(
    id="causal-minimax/partition",
    statement="The equivalence-class recursion partitions the power set of the stable set: "
    "classes are disjoint and cover all 2^|S| subsets (N_G = d+1 on chains, 2^d on stars).",
    reference=ref(
        "causal-minimax",
        "Alg. 2; class counts on chains and stars [derived in causal.eqclass.equivalence_classes]",
    ),
    bound=Reference(1.0, source="a partition: distinct members / 2^|S| = 1"),
)
def partition(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("partition")
    worst = Worst("==")  # the largest |ratio − bound|
    n = ctx.n(200)
    for _ in range(n):
        d, p = int(rng.integers(1, 9)), float(rng.choice([0.2, 0.35, 0.5]))
        g = random_dag(rng, d, p)
        xs = sorted(v for v in g if v != "Y")
        mut = set(rng.choice(xs, size=int(rng.integers(0, min(2, d) + 1)), replace=False))
        res = equivalence_classes(g, "Y", mut)
        members = [m for c in res.classes for m in c.members()]
        ratio = len(set(members)) / 2 ** len(res.stable)  # gaps lower it
        ratio = ratio if len(members) == len(set(members)) else -ratio  # duplicates: negative
        worst.add(ratio, bound(), d=d, p=p, edges=sorted(g.edges))
    chains = all(equivalence_classes(chain_graph(d), "Y", set()).n_classes == d + 1 for d in (3, 6))
    stars = all(equivalence_classes(star_graph(d), "Y", set()).n_classes == 2**d for d in (3, 5))
    return worst.evidence(
        atol=0.0,
        note=f"{n} random DAGs (d ≤ 8, p ∈ {{0.2, 0.35, 0.5}}, 0-2 mutable nodes); measured: "
        "distinct members / 2^|S| (negative if a subset is in two classes) of the worst graph.",
        require={"N_G = d+1 on chains (d = 3, 6)": chains, "N_G = 2^d on stars (d = 3, 5)": stars},
        details={"graphs": n, "worst": worst.info},
    )


def n_subsets(d: int) -> float:
    """``2^d``: the classes partition the power set of a ``d``-node stable set, so
    ``N_G <= 2^|S|`` (Alg. 2)."""
    return 2.0**d


@claim(
    id="causal-minimax/simulation-classes",
    statement="On the paper's synthetic graph the recursion finds 45 classes of the 256 subsets "
    "(57 recursive calls), and X_M^0 = {X9}, K = {X1,X2,X3,X4,X10}, X* = {X2,X3,X4,X9,X10}, "
    "condition Ch(Y)∩K = ∅ false.",
    reference=ref(
        "causal-minimax", "Sec. 6.1, Fig. 4a, Alg. 2; authors' eqcls_search/cache/eqclses.json"
    ),
    bound=Theorem(n_subsets),
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
