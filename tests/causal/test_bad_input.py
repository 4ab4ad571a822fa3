"""Bad-input audit of :mod:`causal`: every public name refuses bad input by name.

Each case feeds one kind of bad input (NaN, inf, wrong shape, empty, out of range, wrong type,
bad seed, bad value) and asserts a ValueError/TypeError whose message names the parameter.
Among them the silent-wrong results this audit was written against: ``minimax_subset`` with a
risk returning NaN (the argmin would pick or lose the NaN subset), ``pooled_ols`` on empty
data, ``invariant_causal_prediction`` with ``max_size=-1`` or one-sample environments,
intervention tables holding NaN (accepted by a sum-to-one test that NaN passes), float and
negative seeds (truncated or wrapped), and ``True`` taken as the count 1; and among the
generators and helpers, ``random_binary_scm(edge_prob=0)`` (a draw that never ended),
``simulation_scm(alpha=NaN)`` (NaN samples), ``star_graph(into_target="no")`` (taken as true),
``sorted_nodes("X12")`` (sorted characters) and ``mag_neighbors`` with latent nodes outside the
graph or shared with the selection set (answered as if valid).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from causal import (
    ContinuousSCM,
    DiscreteSCM,
    LinearPredictor,
    Mechanism,
    NeuralConfig,
    anchor_regression,
    discrete_predictor,
    equivalence_classes,
    fit_stable_predictor,
    graph_components,
    intervened_risk,
    invariant_causal_prediction,
    invariant_risk_minimization,
    minimax_subset,
    pooled_ols,
    whole_stable_set_optimal,
    worst_case_risk,
)
from causal import generators as gen
from causal import strategies as strat
from causal.data import impc_split, load_impc
from causal.eqclass import mag_neighbors
from causal.fitting import fit_continuous_scm
from causal.generators import bilinear_scm
from causal.graph import sorted_nodes, stable_graph, validate_setting
from causal.linear import LinearGaussianSEM, random_linear_gaussian_sem
from causal.scm import zero_mechanism
from tests._audit import Case, audit_ids, bad, bad_method, gather

EXEMPT = {
    "EquivalenceClass": "result dataclass returned by equivalence_classes",
    "EquivalenceClasses": "result dataclass returned by equivalence_classes",
    "GraphComponents": "result dataclass returned by graph_components",
    "ICPResult": "result dataclass returned by invariant_causal_prediction",
    "IRMResult": "result dataclass returned by invariant_risk_minimization",
    "linear.LinearGaussianRisk": "result dataclass returned by LinearGaussianSEM.worst_case_risk",
    "data.IMPCSplit": "result dataclass returned by impc_split",
    "data.impc_train_splits": "takes no arguments",
    "MinimaxResult": "result dataclass returned by minimax_subset",
    "WorstCaseRisk": "result dataclass returned by worst_case_risk",
    "data.IMPCData": "result dataclass returned by load_impc",
    "generators.bilinear_scm": "takes no arguments",
    "generators.bilinear_worst_case": "takes no arguments",
    "generators.simulation_alphas": "takes no arguments",
    "generators.simulation_graph": "takes no arguments",
    "graph.node_key": "accepts any value (orders nodes by their string)",
}

NAN, INF = float("nan"), float("inf")

#: Y -> M (mutable) -> X1 <- Y: the smallest setting with a mutable child of Y.
G = nx.DiGraph([("Y", "M"), ("Y", "X1"), ("M", "X1")])
CYCLE = nx.DiGraph([("Y", "X1"), ("X1", "Y")])
CPTS = {
    "Y": [0.5, 0.5],
    "M": [[0.8, 0.2], [0.3, 0.7]],
    "X1": [[[0.9, 0.1], [0.6, 0.4]], [[0.4, 0.6], [0.1, 0.9]]],  # parents (M, Y)
}
DSCM = DiscreteSCM(G, "Y", {"M"}, CPTS)
CSCM = bilinear_scm()  # same graph, continuous
MECH = dict(CSCM.mechanisms)
DET_M = np.array([[1.0, 0.0], [0.0, 1.0]])  # g(Y) = Y as a 0/1 CPT

RNG_X = np.random.default_rng(0)
X = RNG_X.normal(size=(12, 2))
Y = X @ np.array([1.0, -0.5]) + RNG_X.normal(size=12)
ENV = np.repeat([0, 1, 2], 4)

LP = ((np.array([1.0, 2.0]), 0.5, (0, 1)), {})
LIN_W = {("Y", "M"): 0.7, ("Y", "X1"): 2.0, ("M", "X1"): -1.5}
LIN_CTOR = ((G, "Y", {"M"}, LIN_W, 1.0), {})
SCM_CTOR = ((G, "Y", {"M"}, MECH), {})
DSCM_CTOR = ((G, "Y", {"M"}, CPTS), {})


def _with(key, value, table=CPTS):
    return {**table, key: value}


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


#: One observation per node of G (fit_continuous_scm).
DATA = {v: np.random.default_rng(1).normal(size=8) for v in G}


CASES: list[Case] = [
    # --- graphs: cyclic, unknown nodes, wrong types (every entry taking a graph) ---
    bad(graph_components, "graph", "value", CYCLE, "Y", set()),
    bad(graph_components, "graph", "type", {"Y": ["X1"]}, "Y", set()),
    bad(graph_components, "graph", "type", nx.Graph([("Y", "X1")]), "Y", set()),
    bad(graph_components, "target", "value", G, "Z", set()),
    bad(graph_components, "target", "type", G, ["Y"], set()),
    bad(graph_components, "mutable", "value", G, "Y", {"Q"}),
    bad(graph_components, "mutable", "value", G, "Y", {"Y"}),
    bad(graph_components, "mutable", "type", G, "Y", "M"),
    bad(graph_components, "mutable", "type", G, "Y", [["M"]]),
    bad(whole_stable_set_optimal, "graph", "value", CYCLE, "Y", set()),
    bad(whole_stable_set_optimal, "target", "value", G, "X9", set()),
    bad(whole_stable_set_optimal, "mutable", "value", G, "Y", {"X9"}),
    bad(equivalence_classes, "graph", "value", CYCLE, "Y", set()),
    bad(equivalence_classes, "graph", "type", None, "Y", set()),
    bad(equivalence_classes, "target", "value", G, "Z", set()),
    bad(equivalence_classes, "mutable", "value", G, "Y", {"Q"}),
    bad(equivalence_classes, "count_only", "type", G, "Y", set(), count_only="yes"),
    # --- DiscreteSCM ---
    bad(DiscreteSCM, "graph", "value", CYCLE, "Y", set(), {"Y": [1.0], "X1": [[1.0]]}),
    bad(DiscreteSCM, "target", "value", G, "Z", {"M"}, CPTS),
    bad(DiscreteSCM, "mutable", "value", G, "Y", {"Q"}, CPTS),
    bad(DiscreteSCM, "cpts", "type", G, "Y", {"M"}, [0.5, 0.5]),
    bad(DiscreteSCM, "cpts", "value", G, "Y", {"M"}, {"Y": [0.5, 0.5]}),
    bad(DiscreteSCM, "cpts", "nan", G, "Y", {"M"}, _with("Y", [NAN, 0.5])),
    bad(DiscreteSCM, "cpts", "inf", G, "Y", {"M"}, _with("Y", [INF, 0.5])),
    bad(DiscreteSCM, "cpts", "shape", G, "Y", {"M"}, _with("M", [0.5, 0.5])),
    bad(DiscreteSCM, "cpts", "value", G, "Y", {"M"}, _with("Y", [0.9, 0.9])),
    bad(DiscreteSCM, "cpts", "value", G, "Y", {"M"}, _with("Y", [1.5, -0.5])),
    bad(DiscreteSCM, "cpts", "empty", G, "Y", {"M"}, _with("Y", [])),
    bad(DiscreteSCM, "cpts", "type", G, "Y", {"M"}, _with("Y", "p")),
    bad(DiscreteSCM, "target_values", "nan", G, "Y", {"M"}, CPTS, target_values=[0.0, NAN]),
    bad(DiscreteSCM, "target_values", "shape", G, "Y", {"M"}, CPTS, target_values=[0.0]),
    bad(DiscreteSCM, "parents", "value", G, "Y", {"M"}, CPTS, parents={"Q": ()}),
    bad(DiscreteSCM, "parents", "value", G, "Y", {"M"}, CPTS, parents={"X1": ("Y",)}),
    bad_method(DiscreteSCM, "sample", "n", "range", DSCM_CTOR, 0, np.random.default_rng(0)),
    bad_method(DiscreteSCM, "sample", "n", "type", DSCM_CTOR, True, np.random.default_rng(0)),
    bad_method(DiscreteSCM, "sample", "rng", "seed", DSCM_CTOR, 5, 0),
    bad(
        DSCM.sample,
        "interventions",
        "nan",
        5,
        np.random.default_rng(0),
        interventions={"M": np.full((2, 2), NAN)},
    ),
    bad(
        DSCM.sample,
        "interventions",
        "value",
        5,
        np.random.default_rng(0),
        interventions={"X1": CPTS["X1"]},
    ),
    bad(DSCM.sample, "interventions", "type", 5, np.random.default_rng(0), interventions=[1]),
    # --- Mechanism / ContinuousSCM ---
    bad(Mechanism, "noise_std", "nan", (), zero_mechanism, NAN),
    bad(Mechanism, "noise_std", "inf", (), zero_mechanism, INF),
    bad(Mechanism, "noise_std", "range", (), zero_mechanism, -1.0),
    bad(Mechanism, "noise_std", "type", (), zero_mechanism, "1"),
    bad(Mechanism, "fn", "type", (), "f"),
    bad(Mechanism, "parents", "type", "X1", zero_mechanism),
    bad(ContinuousSCM, "graph", "value", CYCLE, "Y", set(), {}),
    bad(ContinuousSCM, "graph", "type", nx.Graph([("Y", "X1")]), "Y", set(), {}),
    bad(ContinuousSCM, "target", "value", G, "Z", {"M"}, MECH),
    bad(ContinuousSCM, "mutable", "value", G, "Y", {"Q"}, MECH),
    bad(ContinuousSCM, "mechanisms", "type", G, "Y", {"M"}, [MECH["Y"]]),
    bad(ContinuousSCM, "mechanisms", "value", G, "Y", {"M"}, {"Y": MECH["Y"]}),
    bad(ContinuousSCM, "mechanisms", "type", G, "Y", {"M"}, {**MECH, "Y": zero_mechanism}),
    bad(ContinuousSCM, "mechanisms", "value", G, "Y", {"M"}, {**MECH, "Q": MECH["Y"]}),
    bad_method(ContinuousSCM, "sample", "n", "range", SCM_CTOR, 0),
    bad_method(ContinuousSCM, "sample", "n", "type", SCM_CTOR, 2.5),
    bad_method(ContinuousSCM, "sample", "seed", "seed", SCM_CTOR, 10, -1),
    bad_method(ContinuousSCM, "sample", "seed", "type", SCM_CTOR, 10, 1.5),
    bad(CSCM.sample, "do", "nan", 10, do={"M": NAN}),
    bad(CSCM.sample, "do", "shape", 10, do={"M": np.zeros(3)}),
    bad(CSCM.sample, "do", "value", 10, do={"Q": 0.0}),
    bad(CSCM.sample, "do", "value", 10, do={"Y": 0.0}),
    bad(CSCM.sample, "interventions", "type", 10, interventions={"M": 1.0}),
    # --- worst-case risk ---
    bad(discrete_predictor, "scm", "type", CSCM, {"X1"}),
    bad(discrete_predictor, "subset", "value", DSCM, {"M"}),
    bad(discrete_predictor, "subset", "type", DSCM, "X1"),
    bad(discrete_predictor, "subset", "type", DSCM, 3),
    bad(intervened_risk, "scm", "type", CSCM, {"X1"}, {}),
    bad(intervened_risk, "subset", "value", DSCM, {"Q"}, {}),
    bad(intervened_risk, "interventions", "nan", DSCM, {"X1"}, {"M": np.full((2, 2), NAN)}),
    bad(intervened_risk, "interventions", "shape", DSCM, {"X1"}, {"M": np.eye(3)}),
    bad(intervened_risk, "interventions", "value", DSCM, {"X1"}, {"M": np.full((2, 2), 0.9)}),
    bad(intervened_risk, "interventions", "value", DSCM, {"X1"}, {"X1": CPTS["X1"]}),
    bad(intervened_risk, "interventions", "type", DSCM, {"X1"}, [DET_M]),
    bad(worst_case_risk, "scm", "type", G, {"X1"}),
    bad(worst_case_risk, "subset", "value", DSCM, {"M"}),
    bad(worst_case_risk, "subset", "type", DSCM, None),
    bad(worst_case_risk, "max_maps", "range", DSCM, {"X1"}, max_maps=0),
    bad(worst_case_risk, "max_maps", "type", DSCM, {"X1"}, max_maps=True),
    bad(worst_case_risk, "max_maps", "type", DSCM, {"X1"}, max_maps=2.0**10),
    bad(worst_case_risk, "seed", "seed", DSCM, {"X1"}, seed=-1),
    bad(worst_case_risk, "seed", "seed", CSCM, {"X1"}, seed=-1),
    bad(worst_case_risk, "seed", "type", CSCM, {"X1"}, seed=2.5),
    bad(worst_case_risk, "seed", "type", CSCM, {"X1"}, seed="0"),
    bad(worst_case_risk, "config", "type", CSCM, {"X1"}, config={"n_samples": 10}),
    bad(worst_case_risk, "predictor", "type", CSCM, {"X1"}, predictor="f"),
    bad(worst_case_risk, "mutable_values", "nan", CSCM, {"X1"}, mutable_values={"M": [0, NAN]}),
    bad(worst_case_risk, "mutable_values", "value", CSCM, {"X1"}, mutable_values={"Q": [0, 1]}),
    bad(worst_case_risk, "mutable_values", "type", CSCM, {"X1"}, mutable_values=[0.0, 1.0]),
    bad(fit_stable_predictor, "scm", "type", DSCM, {"X1"}),
    bad(fit_stable_predictor, "subset", "value", CSCM, {"M"}),
    bad(fit_stable_predictor, "config", "type", CSCM, {"X1"}, config=3),
    bad(fit_stable_predictor, "seed", "seed", CSCM, {"X1"}, seed=-5),
    bad(fit_stable_predictor, "seed", "type", CSCM, {"X1"}, seed=0.5),
    bad(
        fit_stable_predictor, "mutable_values", "inf", CSCM, {"X1"}, mutable_values={"M": [INF, 0]}
    ),
    bad(fit_stable_predictor, "mutable_values", "empty", CSCM, {"X1"}, mutable_values={"M": []}),
    bad(NeuralConfig, "n_samples", "range", n_samples=0),
    bad(NeuralConfig, "n_samples", "type", n_samples=True),
    bad(NeuralConfig, "hidden", "type", hidden=2.5),
    bad(NeuralConfig, "adversary_steps", "range", adversary_steps=-1),
    bad(NeuralConfig, "restarts", "type", restarts=None),
    bad(NeuralConfig, "output_bound", "nan", output_bound=NAN),
    bad(NeuralConfig, "output_bound", "range", output_bound=0.0),
    bad(NeuralConfig, "lr_predictor", "inf", lr_predictor=INF),
    bad(NeuralConfig, "lr_adversary", "type", lr_adversary="0.1"),
    # --- search ---
    bad(minimax_subset, "risk", "nan", DSCM, risk=lambda s: NAN, skip_if_condition=False),
    bad(minimax_subset, "risk", "nan", DSCM, risk=lambda s: NAN if s else 1.0),
    bad(minimax_subset, "risk", "inf", DSCM, risk=lambda s: -INF, skip_if_condition=False),
    bad(minimax_subset, "risk", "type", DSCM, risk=lambda s: "low"),
    bad(minimax_subset, "risk", "type", DSCM, risk=lambda s: True),
    bad(minimax_subset, "risk", "type", DSCM, risk=0.5),
    bad(minimax_subset, "risk", "value", DSCM, risk=len, seed=1),
    bad(minimax_subset, "scm", "type", G),
    bad(minimax_subset, "brute_force", "type", DSCM, brute_force="yes"),
    bad(minimax_subset, "skip_if_condition", "type", DSCM, skip_if_condition=1),
    bad(minimax_subset, "seed", "seed", DSCM, seed=-1),
    # --- baselines ---
    bad(pooled_ols, "x", "empty", np.zeros((0, 2)), np.zeros(0)),
    bad(pooled_ols, "x", "empty", [], []),
    bad(pooled_ols, "x", "nan", np.full((3, 2), NAN), np.zeros(3)),
    bad(pooled_ols, "x", "shape", np.zeros(3), np.zeros(3)),
    bad(pooled_ols, "x", "type", "x", np.zeros(3)),
    bad(pooled_ols, "y", "inf", X, np.full(12, INF)),
    bad(pooled_ols, "y", "shape", X, np.zeros(11)),
    bad(anchor_regression, "x", "nan", np.full((12, 2), NAN), Y, ENV, 2.0),
    bad(anchor_regression, "y", "shape", X, Y[:5], ENV, 2.0),
    bad(anchor_regression, "environments", "shape", X, Y, ENV[:5], 2.0),
    bad(anchor_regression, "environments", "nan", X, Y, np.full(12, NAN), 2.0),
    bad(anchor_regression, "environments", "type", X, Y, [None] * 12, 2.0),
    bad(anchor_regression, "gamma", "range", X, Y, ENV, -1.0),
    bad(anchor_regression, "gamma", "nan", X, Y, ENV, NAN),
    bad(anchor_regression, "gamma", "inf", X, Y, ENV, INF),
    bad(anchor_regression, "gamma", "type", X, Y, ENV, "10"),
    bad(invariant_causal_prediction, "max_size", "range", X, Y, ENV, max_size=-1),
    bad(invariant_causal_prediction, "max_size", "range", X, Y, ENV, max_size=3),
    bad(invariant_causal_prediction, "max_size", "type", X, Y, ENV, max_size=1.5),
    bad(invariant_causal_prediction, "environments", "value", X, Y, np.arange(12)),
    bad(invariant_causal_prediction, "environments", "value", X, Y, np.r_[np.zeros(11), 1]),
    bad(invariant_causal_prediction, "environments", "value", X, Y, np.zeros(12)),
    bad(invariant_causal_prediction, "alpha", "range", X, Y, ENV, alpha=0.0),
    bad(invariant_causal_prediction, "alpha", "nan", X, Y, ENV, alpha=NAN),
    bad(invariant_causal_prediction, "x", "empty", np.zeros((0, 2)), np.zeros(0), []),
    bad(invariant_causal_prediction, "y", "nan", X, np.full(12, NAN), ENV),
    bad(LinearPredictor, "coef", "nan", np.array([NAN]), 0.0, (0,)),
    bad(LinearPredictor, "coef", "shape", np.zeros((2, 2)), 0.0, (0, 1)),
    bad(LinearPredictor, "intercept", "inf", np.array([1.0]), INF, (0,)),
    bad(LinearPredictor, "intercept", "type", np.array([1.0]), "0", (0,)),
    bad(LinearPredictor, "columns", "shape", np.array([1.0, 2.0]), 0.0, (0,)),
    bad(LinearPredictor, "columns", "range", np.array([1.0]), 0.0, (-1,)),
    bad(LinearPredictor, "columns", "type", np.array([1.0]), 0.0, (0.5,)),
    bad_method(LinearPredictor, "predict", "x", "shape", LP, np.zeros(3)),
    bad_method(LinearPredictor, "predict", "x", "shape", LP, np.zeros((3, 1))),
    bad_method(LinearPredictor, "predict", "x", "nan", LP, np.full((3, 2), NAN)),
    bad_method(LinearPredictor, "predict", "x", "type", LP, "x"),
    bad(invariant_risk_minimization, "x", "nan", np.full((12, 2), NAN), Y, ENV),
    bad(invariant_risk_minimization, "y", "shape", X, Y[:5], ENV),
    bad(invariant_risk_minimization, "environments", "value", X, Y, np.zeros(12)),
    bad(invariant_risk_minimization, "environments", "shape", X, Y, ENV[:4]),
    bad(invariant_risk_minimization, "penalty_weight", "range", X, Y, ENV, penalty_weight=0.0),
    bad(invariant_risk_minimization, "penalty_weight", "inf", X, Y, ENV, penalty_weight=INF),
    bad(invariant_risk_minimization, "penalty_weight", "type", X, Y, ENV, penalty_weight="1"),
    bad(invariant_risk_minimization, "max_iter", "range", X, Y, ENV, max_iter=0),
    bad(invariant_risk_minimization, "max_iter", "type", X, Y, ENV, max_iter=10.5),
    # --- linear-Gaussian SEMs ---
    bad(LinearGaussianSEM, "graph", "value", CYCLE, "Y", set(), {}, 1.0),
    bad(LinearGaussianSEM, "mutable", "value", G, "Y", {"Q"}, LIN_W, 1.0),
    bad(LinearGaussianSEM, "weights", "type", G, "Y", {"M"}, [1.0, 2.0, 3.0], 1.0),
    bad(LinearGaussianSEM, "weights", "value", G, "Y", {"M"}, {("Y", "M"): 1.0}, 1.0),
    bad(LinearGaussianSEM, "weights", "nan", G, "Y", {"M"}, {**LIN_W, ("Y", "M"): NAN}, 1.0),
    bad(LinearGaussianSEM, "weights", "type", G, "Y", {"M"}, {**LIN_W, ("Y", "M"): "1"}, 1.0),
    bad(LinearGaussianSEM, "noise_std", "range", G, "Y", {"M"}, LIN_W, 0.0),
    bad(LinearGaussianSEM, "noise_std", "inf", G, "Y", {"M"}, LIN_W, INF),
    bad(LinearGaussianSEM, "noise_std", "value", G, "Y", {"M"}, LIN_W, {"Y": 1.0}),
    bad(LinearGaussianSEM, "noise_std", "nan", G, "Y", {"M"}, LIN_W, {v: NAN for v in G}),
    bad_method(LinearGaussianSEM, "worst_case_risk", "subset", "value", LIN_CTOR, {"M"}),
    bad_method(LinearGaussianSEM, "worst_case_risk", "subset", "type", LIN_CTOR, "X1"),
    bad(random_linear_gaussian_sem, "rng", "seed", 0),
    bad(random_linear_gaussian_sem, "n_x", "range", _rng(), n_x=1),
    bad(random_linear_gaussian_sem, "n_x", "type", _rng(), n_x=3.0),
    bad(random_linear_gaussian_sem, "edge_prob", "range", _rng(), edge_prob=0.0),
    bad(random_linear_gaussian_sem, "edge_prob", "nan", _rng(), edge_prob=NAN),
    bad(random_linear_gaussian_sem, "weight_range", "range", _rng(), weight_range=(2.0, 1.0)),
    bad(random_linear_gaussian_sem, "weight_range", "range", _rng(), weight_range=(0.0, 1.0)),
    bad(random_linear_gaussian_sem, "weight_range", "type", _rng(), weight_range=1.0),
    bad(random_linear_gaussian_sem, "weight_range", "shape", _rng(), weight_range=(1.0,)),
    bad(random_linear_gaussian_sem, "violate_condition", "type", _rng(), violate_condition=1),
    bad(random_linear_gaussian_sem, "max_tries", "range", _rng(), max_tries=0),
    bad(random_linear_gaussian_sem, "max_tries", "value", _rng(), n_x=2, edge_prob=1e-12),
    # --- graph helpers ---
    bad(validate_setting, "graph", "value", CYCLE, "Y", set()),
    bad(validate_setting, "graph", "type", "G", "Y", set()),
    bad(validate_setting, "target", "value", G, "Z", set()),
    bad(validate_setting, "mutable", "type", G, "Y", 3),
    bad(validate_setting, "mutable", "value", G, "Y", {"Y"}),
    bad(stable_graph, "graph", "value", CYCLE, "Y", set()),
    bad(stable_graph, "mutable", "value", G, "Y", {"Q"}),
    bad(stable_graph, "target", "value", G, None, set()),
    bad(sorted_nodes, "nodes", "type", 3),
    bad(sorted_nodes, "nodes", "type", "X12"),
    bad(mag_neighbors, "graph", "value", CYCLE, "Y", frozenset(), frozenset()),
    bad(mag_neighbors, "target", "value", G, "Z", frozenset(), frozenset()),
    bad(mag_neighbors, "latent", "value", G, "Y", {"Q"}, frozenset()),
    bad(mag_neighbors, "latent", "type", G, "Y", "M", frozenset()),
    bad(mag_neighbors, "selection", "value", G, "Y", frozenset(), {"Y"}),
    bad(mag_neighbors, "selection", "type", G, "Y", frozenset(), [["M"]]),
    bad(mag_neighbors, "selection", "value", G, "Y", {"M"}, {"M"}),
    bad(zero_mechanism, "pa", "type", np.zeros((3, 0))),
    bad(zero_mechanism, "pa", "shape", torch.zeros(3)),
    # --- data ---
    bad(load_impc, "standardize", "option", standardize="zscore"),
    bad(load_impc, "standardize", "type", standardize=None),
    bad_method(load_impc, "matrix", "columns", "type", ((), {}), "Y"),
    bad_method(load_impc, "matrix", "columns", "value", ((), {}), ["Y", "Q"]),
    bad(impc_split, "train_genotypes", "type", "0247"),
    bad(impc_split, "train_genotypes", "type", (0, 2.0)),
    bad(impc_split, "train_genotypes[1]", "range", (0, 14)),
    bad(impc_split, "train_genotypes", "value", (0, 0, 2)),
    bad(impc_split, "train_genotypes", "empty", ()),
    bad(impc_split, "train_genotypes", "value", tuple(range(14))),
    bad(impc_split, "standardize", "option", (0, 2), standardize="per-environment"),
    bad(impc_split, "standardize", "type", (0, 2), standardize=None),
    bad(impc_split, "data", "type", (0, 2), data={"Y": np.zeros(3)}),
    bad(impc_split, "data", "value", (0, 2), data=load_impc()),
    # --- fitting ---
    bad(fit_continuous_scm, "graph", "value", CYCLE, "Y", set(), DATA),
    bad(fit_continuous_scm, "mutable", "value", G, "Y", {"Q"}, DATA),
    bad(fit_continuous_scm, "data", "type", G, "Y", {"M"}, [DATA["Y"]]),
    bad(fit_continuous_scm, "data", "value", G, "Y", {"M"}, {"Y": DATA["Y"]}),
    bad(fit_continuous_scm, "data", "nan", G, "Y", {"M"}, {**DATA, "M": np.full(8, NAN)}),
    bad(fit_continuous_scm, "data", "inf", G, "Y", {"M"}, {**DATA, "M": np.full(8, INF)}),
    bad(fit_continuous_scm, "data", "shape", G, "Y", {"M"}, {**DATA, "M": np.zeros(7)}),
    bad(fit_continuous_scm, "data", "empty", G, "Y", {"M"}, {v: np.zeros(0) for v in G}),
    bad(fit_continuous_scm, "data", "type", G, "Y", {"M"}, {**DATA, "M": "m"}),
    bad(fit_continuous_scm, "hidden", "range", G, "Y", {"M"}, DATA, hidden=0),
    bad(fit_continuous_scm, "steps", "type", G, "Y", {"M"}, DATA, steps=2.5),
    bad(fit_continuous_scm, "lr", "nan", G, "Y", {"M"}, DATA, lr=NAN),
    bad(fit_continuous_scm, "lr", "range", G, "Y", {"M"}, DATA, lr=0.0),
    bad(fit_continuous_scm, "seed", "seed", G, "Y", {"M"}, DATA, seed=-1),
    bad(fit_continuous_scm, "seed", "type", G, "Y", {"M"}, DATA, seed=1.5),
    # --- generators ---
    bad(gen.chain_graph, "d", "range", -1),
    bad(gen.chain_graph, "d", "type", 2.0),
    bad(gen.star_graph, "d", "type", True),
    bad(gen.star_graph, "d", "range", -2),
    bad(gen.star_graph, "into_target", "type", 2, into_target="yes"),
    bad(gen.random_dag, "rng", "seed", 0, 3, 0.5),
    bad(gen.random_dag, "d", "range", _rng(), -1, 0.5),
    bad(gen.random_dag, "p", "range", _rng(), 3, 1.5),
    bad(gen.random_dag, "p", "nan", _rng(), 3, NAN),
    bad(gen.random_binary_scm, "rng", "seed", 0),
    bad(gen.random_binary_scm, "n_x", "range", _rng(), n_x=(0, 0)),
    bad(gen.random_binary_scm, "n_x", "range", _rng(), n_x=(4, 3)),
    bad(gen.random_binary_scm, "n_x", "type", _rng(), n_x=3),
    bad(gen.random_binary_scm, "edge_prob", "range", _rng(), edge_prob=0.0),
    bad(gen.random_binary_scm, "edge_prob", "nan", _rng(), edge_prob=NAN),
    bad(gen.random_binary_scm, "n_mutable", "range", _rng(), n_mutable=(-1, 1)),
    bad(gen.random_binary_scm, "n_mutable", "type", _rng(), n_mutable=(1.0, 2)),
    bad(gen.random_binary_scm, "max_mutable_parents", "range", _rng(), max_mutable_parents=0),
    bad(gen.simulation_scm, "alpha", "nan", NAN),
    bad(gen.simulation_scm, "alpha", "inf", INF),
    bad(gen.simulation_scm, "alpha", "type", "1.0"),
    # --- hypothesis strategies: refused when the strategy is built, before any draw ---
    bad(strat.dags, "min_x", "range", min_x=-1),
    bad(strat.dags, "max_x", "range", min_x=3, max_x=2),
    bad(strat.dags, "max_x", "type", max_x=2.5),
    bad(strat.settings, "min_x", "type", min_x=None),
    bad(strat.settings, "max_x", "range", min_x=2, max_x=1),
    bad(strat.settings, "max_mutable", "range", max_mutable=-1),
    bad(strat.binary_scms, "max_x", "range", max_x=0),
    bad(strat.binary_scms, "max_mutable", "type", max_mutable=True),
    bad(strat.binary_scms, "max_mutable_parents", "range", max_mutable_parents=-1),
]


_GATHERED = gather(__file__, __package__)  # the cases of every _cases_* module here
CASES += _GATHERED[0]
EXEMPT.update(_GATHERED[1])


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()


def test_nan_risk_is_never_chosen():
    """The silent wrong answer: a NaN risk once won the argmin of Alg. 1 (``min`` keeps the
    first element when comparisons with NaN are all false)."""
    with pytest.raises(ValueError, match=r"risk must return a finite real number.*subset"):
        minimax_subset(DSCM, risk=lambda s: NAN if not s else 0.5, skip_if_condition=False)
