"""Bad-input cases of the batched neural h* (causal.risk.fit_stable_predictors and
worst_case_risks); gathered by test_bad_input.py (and run by test_batched_risk.py)."""

from __future__ import annotations

import networkx as nx

from causal import DiscreteSCM, NeuralConfig
from causal.generators import bilinear_scm
from causal.risk import fit_stable_predictors, worst_case_risks
from tests._audit import Case, bad

CSCM = bilinear_scm()  # Y -> M (mutable) -> X1 <- Y; stable set {X1}
DSCM = DiscreteSCM(
    nx.DiGraph([("Y", "X1")]), "Y", set(), {"Y": [0.5, 0.5], "X1": [[0.9, 0.1], [0.1, 0.9]]}
)
CFG = NeuralConfig(n_samples=50, n_eval=50, predictor_steps=2, adversary_steps=1)
SUBS = [set(), {"X1"}]
NAN = float("nan")

EXEMPT: dict[str, str] = {}

CASES: list[Case] = [
    bad(fit_stable_predictors, "scm", "type", DSCM, [set()]),
    bad(fit_stable_predictors, "subsets", "type", CSCM, frozenset({"X1"})),
    bad(fit_stable_predictors, "subsets", "type", CSCM, "X1"),
    bad(fit_stable_predictors, "subsets", "type", CSCM, [3]),
    bad(fit_stable_predictors, "subsets", "value", CSCM, [set(), {"M"}]),
    bad(fit_stable_predictors, "subsets", "value", CSCM, [{"Q"}]),
    bad(fit_stable_predictors, "config", "type", CSCM, SUBS, config={"n_samples": 50}),
    bad(fit_stable_predictors, "seed", "shape", CSCM, SUBS, config=CFG, seed=[0]),
    bad(fit_stable_predictors, "seed", "seed", CSCM, SUBS, config=CFG, seed=[0, -1]),
    bad(fit_stable_predictors, "seed", "seed", CSCM, SUBS, config=CFG, seed=1.5),
    bad(fit_stable_predictors, "mutable_values", "value", CSCM, SUBS, mutable_values={"Y": [1, 2]}),
    bad(fit_stable_predictors, "mutable_values", "nan", CSCM, SUBS, mutable_values={"M": [1, NAN]}),
    bad(worst_case_risks, "scm", "type", "scm", SUBS),
    bad(worst_case_risks, "subsets", "type", CSCM, {"X1"}),
    bad(worst_case_risks, "subsets", "value", DSCM, [{"Y"}]),
    bad(worst_case_risks, "seed", "shape", CSCM, SUBS, config=CFG, seed=(1, 2, 3)),
    bad(worst_case_risks, "seed", "seed", CSCM, SUBS, config=CFG, seed=-2),
    bad(worst_case_risks, "max_maps", "range", DSCM, [set()], max_maps=0),
    bad(worst_case_risks, "config", "type", CSCM, SUBS, config=1),
    bad(worst_case_risks, "predictors", "shape", CSCM, SUBS, config=CFG, predictors=[abs]),
    bad(worst_case_risks, "predictors", "type", CSCM, SUBS, config=CFG, predictors=abs),
    bad(worst_case_risks, "predictors", "type", CSCM, SUBS, config=CFG, predictors=[abs, 1]),
    bad(worst_case_risks, "mutable_values", "shape", CSCM, SUBS, mutable_values={"M": [[1, 2]]}),
]
