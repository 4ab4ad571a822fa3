"""Causal minimax subset search: which invariance should we transfer?

Implements Liu, Zheng, Sun, Fang, Wang, *Which Invariance Should We Transfer? A Causal Minimax
Learning Approach*, ICML 2023 (arXiv:2107.01876), on ``networkx`` graphs: graph quantities and
the whole-stable-set condition (:mod:`causal.graph`), the equivalence-class recursion with a
networkx-only d-separation port (:mod:`causal.eqclass`), discrete and continuous SCMs
(:mod:`causal.scm`), the worst-case risk ``h*`` (exact or neural, :mod:`causal.risk`), the
search (:mod:`causal.search`), baselines (:mod:`causal.baselines`), the closed-form
linear-Gaussian case (:mod:`causal.linear`), instances (:mod:`causal.generators`) and
hypothesis strategies (:mod:`causal.strategies`).
"""

from causal.baselines import (
    ICPResult,
    IRMResult,
    LinearPredictor,
    anchor_regression,
    invariant_causal_prediction,
    invariant_risk_minimization,
    pooled_ols,
)
from causal.eqclass import EquivalenceClass, EquivalenceClasses, equivalence_classes
from causal.graph import GraphComponents, graph_components, whole_stable_set_optimal
from causal.risk import (
    NeuralConfig,
    WorstCaseRisk,
    discrete_predictor,
    fit_stable_predictor,
    intervened_risk,
    worst_case_risk,
)
from causal.scm import ContinuousSCM, DiscreteSCM, Mechanism
from causal.search import MinimaxResult, minimax_subset

__all__ = [
    "ContinuousSCM",
    "DiscreteSCM",
    "EquivalenceClass",
    "EquivalenceClasses",
    "GraphComponents",
    "ICPResult",
    "IRMResult",
    "LinearPredictor",
    "Mechanism",
    "MinimaxResult",
    "NeuralConfig",
    "WorstCaseRisk",
    "anchor_regression",
    "discrete_predictor",
    "equivalence_classes",
    "fit_stable_predictor",
    "graph_components",
    "intervened_risk",
    "invariant_causal_prediction",
    "invariant_risk_minimization",
    "minimax_subset",
    "pooled_ols",
    "whole_stable_set_optimal",
    "worst_case_risk",
]
