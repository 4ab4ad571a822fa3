"""Shared instances and helpers of the causal-minimax experiments."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping

import numpy as np

from causal import NeuralConfig, equivalence_classes, worst_case_risk
from causal.generators import random_binary_scm
from causal.graph import sorted_nodes
from perturbation.registry import SCALES, RunContext, frozen


def subsets(s: Iterable[str]) -> list[frozenset]:
    """Every subset of ``s``, by size then name (the order of the exact sweeps)."""
    nodes = sorted(s)
    return [frozenset(c) for r in range(len(nodes) + 1) for c in itertools.combinations(nodes, r)]


def fmt(s: frozenset, *, empty: str = "{}") -> str:
    """``{X1, X2}`` in natural node order (``empty`` for the empty set)."""
    return "{" + ", ".join(map(str, sorted_nodes(s))) + "}" if s else empty


@functools.lru_cache(maxsize=8)
def binary_sweep(ctx: RunContext) -> tuple[Mapping, ...]:
    """Exact ``h*`` of every subset of random binary SCMs, with their classes (shared, read-only).

    Each instance is ``{"scm", "risks": {subset: h*}, "classes": EquivalenceClasses}``.
    """
    rng = ctx.rng("binary-sweep")
    out = []
    for _ in range(ctx.n(120, minimum=30)):
        scm = random_binary_scm(rng)
        risks = {s: worst_case_risk(scm, s).value for s in subsets(scm.stable)}
        classes = equivalence_classes(scm.graph, scm.target, scm.mutable)
        out.append({"scm": scm, "risks": risks, "classes": classes})
    return frozen(out)


def scaled_config(ctx: RunContext) -> NeuralConfig:
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


def env_matrix(data: Mapping, cols: list[str]) -> np.ndarray:
    """The ``(n, len(cols))`` matrix of the named columns of one environment's sample."""
    return np.column_stack([data[c] for c in cols])


def mse(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean squared error."""
    return float(np.mean((y - pred) ** 2))
