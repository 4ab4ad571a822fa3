"""Bad-input audit of :mod:`stability.counterfactual`: every public name refuses bad input by name.

Each case feeds one kind of bad input (NaN, inf, wrong shape, empty, out of range, wrong type,
bad seed, unknown option, bad value) and asserts a ValueError/TypeError whose message names the
parameter. Among them the silent-wrong results this audit was written against: ``trex`` with
``tau=1.5`` or ``tau=nan``, ``roar_worst_logit(_lp)`` with NaN or infinite weights,
``stability_from_samples`` with negative distances, ``validity`` of zero rows (was NaN),
``train_mlp(epochs=0)``, seeds of the wrong type or out of range (were numpy's SeedSequence
errors), and a query matrix whose width does not fit the model (was torch's "mat1 and mat2
shapes cannot be multiplied"). The last tests check that array-likes (a pandas-style frame
exposing ``__array__``) are accepted wherever arrays are.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stability.counterfactual import (
    CounterfactualResult,
    Dataset,
    ModelFamily,
    SinusoidalFamily,
    as_probability_model,
    breast_cancer,
    changed_models,
    closest_counterfactual,
    cost,
    counterfactual_stability,
    evaluate,
    expected_gaussian_norm,
    guarantee_bound,
    invalidation_rate,
    invalidation_rate_mc,
    linear_expected_stability,
    lipschitz_upper_bound,
    lof_1nn,
    logistic_model,
    moons,
    paper_guarantee_bound,
    predict_proba,
    roar,
    roar_worst_logit,
    roar_worst_logit_lp,
    robust_validity,
    robx,
    robx_score,
    sinusoid_variance,
    sinusoidal_family,
    sns,
    stability_from_samples,
    train_mlp,
    trex,
    trex_nn,
    validity,
    wachter,
)
from stability.counterfactual.strategies import (
    linear_instances,
    logistic_models,
    queries,
    tanh_mlps,
)
from tests._audit import Case, audit_ids, bad, gather

EXEMPT: dict[str, str] = {}

NAN, INF = float("nan"), float("inf")
W = np.array([1.0, -1.0])
M = logistic_model(W, 0.0)  # m(x) = sigmoid(x1 - x2), d = 2
X = np.array([[-0.5, 0.5], [-1.0, 0.2]])  # rejected queries
XT = np.array([[0.5, -0.5], [1.0, 0.0], [0.0, 1.0], [-1.0, -0.5]])  # "training" points
Y = np.array([0.0, 1.0])
Y4 = np.array([0.0, 1.0, 0.0, 1.0])
FAM = ModelFamily("retrain", (M,))
RES = CounterfactualResult(
    "closest",
    np.array([[0.5, -0.5], [np.nan, np.nan]]),
    np.array([True, False]),
    np.array([np.nan, np.nan]),
    np.zeros(2, dtype=np.int64),
    ("found", "not found"),
    0.0,
)


def _factory(X, y, seed):
    return M


def _numpy_model(P):
    return np.full(len(P), 0.7)


SK = {"k": 5, "sigma": 0.1}  # a cheap, valid Stability setting

CASES: list[Case] = [
    # --- measure -------------------------------------------------------------------------
    bad(counterfactual_stability, "X", "nan", M, [[NAN, 0.0]], **SK),
    bad(counterfactual_stability, "X", "empty", M, np.zeros((0, 2)), **SK),
    bad(counterfactual_stability, "X", "shape", M, np.zeros(2), **SK),
    bad(counterfactual_stability, "X", "shape", M, np.zeros((2, 3)), **SK),
    bad(counterfactual_stability, "X", "type", M, "X", **SK),
    bad(counterfactual_stability, "k", "range", M, X, k=0, sigma=0.1),
    bad(counterfactual_stability, "k", "type", M, X, k=2.5, sigma=0.1),
    bad(counterfactual_stability, "sigma", "nan", M, X, k=5, sigma=NAN),
    bad(counterfactual_stability, "sigma", "range", M, X, k=5, sigma=0.0),
    bad(counterfactual_stability, "lipschitz", "nan", M, X, lipschitz=NAN, **SK),
    bad(counterfactual_stability, "lipschitz", "range", M, X, lipschitz=-1.0, **SK),
    bad(counterfactual_stability, "lipschitz", "shape", M, X, lipschitz=np.ones(3), **SK),
    bad(counterfactual_stability, "lipschitz", "option", M, X, lipschitz="sound", **SK),
    bad(counterfactual_stability, "relaxed", "type", M, X, relaxed="no", **SK),
    bad(counterfactual_stability, "common_noise", "type", M, X, common_noise=1, **SK),
    bad(counterfactual_stability, "seed", "seed", M, X, seed=-1, **SK),
    bad(counterfactual_stability, "seed", "seed", M, X, seed=1.5, **SK),
    bad(counterfactual_stability, "seed", "seed", M, X, seed=[0, 1, 2], **SK),
    bad(counterfactual_stability, "seed", "seed", M, X, seed=[0, -1], **SK),
    bad(counterfactual_stability, "model", "type", 5, X, **SK),
    bad(counterfactual_stability, "model", "value", lambda P: np.full(len(P), 2.0), X, **SK),
    bad(stability_from_samples, "distances", "range", [0.5], [[0.5, 0.6]], [[-1.0, 0.1]], 1.0),
    bad(stability_from_samples, "distances", "shape", [0.5], [[0.5, 0.6]], [[0.1]], 1.0),
    bad(stability_from_samples, "m_x", "nan", [NAN], [[0.5]], [[0.1]], 1.0),
    bad(stability_from_samples, "m_x", "empty", [], np.zeros((0, 1)), np.zeros((0, 1)), 1.0),
    bad(stability_from_samples, "m_samples", "inf", [0.5], [[INF]], [[0.1]], 1.0),
    bad(stability_from_samples, "m_samples", "shape", [0.5, 0.5], [[0.5]], [[0.1]], 1.0),
    bad(stability_from_samples, "lipschitz", "range", [0.5], [[0.5]], [[0.1]], -1.0),
    bad(stability_from_samples, "lipschitz", "nan", [0.5], [[0.5]], [[0.1]], NAN),
    bad(stability_from_samples, "lipschitz", "shape", [0.5], [[0.5]], [[0.1]], np.ones(3)),
    bad(stability_from_samples, "lipschitz", "value", [0.5], [[0.5]], [[0.1]]),
    bad(stability_from_samples, "relaxed", "type", [0.5], [[0.5]], [[0.1]], 1.0, relaxed=1),
    bad(lipschitz_upper_bound, "model", "type", _numpy_model),
    bad(lipschitz_upper_bound, "Softplus", "value", torch.nn.Sequential(torch.nn.Softplus())),
    bad(expected_gaussian_norm, "d", "range", 0),
    bad(expected_gaussian_norm, "d", "type", 1.5),
    bad(linear_expected_stability, "m_x", "nan", NAN, 1.0, 0.1, 2),
    bad(linear_expected_stability, "w_norm", "range", 0.5, -1.0, 0.1, 2),
    bad(linear_expected_stability, "sigma", "range", 0.5, 1.0, 0.0, 2),
    bad(linear_expected_stability, "d", "range", 0.5, 1.0, 0.1, 0, relaxed=True),
    bad(linear_expected_stability, "relaxed", "type", 0.5, 1.0, 0.1, 2, relaxed="yes"),
    # --- guarantee -----------------------------------------------------------------------
    bad(guarantee_bound, "epsilon", "nan", NAN, k=10, sigma=0.1, lipschitz_change=1.0),
    bad(guarantee_bound, "epsilon", "range", 0.0, k=10, sigma=0.1, lipschitz_change=1.0),
    bad(guarantee_bound, "k", "range", 0.1, k=0, sigma=0.1, lipschitz_change=1.0),
    bad(guarantee_bound, "sigma", "inf", 0.1, k=10, sigma=INF, lipschitz_change=1.0),
    bad(guarantee_bound, "lipschitz_change", "range", 0.1, k=10, sigma=0.1, lipschitz_change=-1),
    bad(
        guarantee_bound,
        "lipschitz_model",
        "nan",
        0.1,
        k=10,
        sigma=0.1,
        lipschitz_change=1.0,
        lipschitz_model=NAN,
    ),
    bad(guarantee_bound, "nu", "range", 0.1, k=10, sigma=0.1, lipschitz_change=1.0, nu=-1.0),
    bad(guarantee_bound, "s", "range", 0.1, k=10, sigma=0.1, lipschitz_change=1.0, s=0.2),
    bad(guarantee_bound, "s", "value", 0.1, k=10, sigma=0.1, lipschitz_change=1.0, nu=1.0, s=0),
    bad(
        paper_guarantee_bound,
        "k",
        "range",
        0.1,
        k=0,
        sigma=0.1,
        lipschitz_change=1.0,
        lipschitz_x=1.0,
    ),
    bad(
        paper_guarantee_bound,
        "lipschitz_x",
        "nan",
        0.1,
        k=10,
        sigma=0.1,
        lipschitz_change=1.0,
        lipschitz_x=NAN,
    ),
    bad(
        paper_guarantee_bound,
        "constant",
        "range",
        0.1,
        k=10,
        sigma=0.1,
        lipschitz_change=1.0,
        lipschitz_x=1.0,
        constant=0.0,
    ),
    bad(sinusoid_variance, "amplitude", "range", -0.1, 1.0, 0.1),
    bad(sinusoid_variance, "u_norm", "nan", 0.1, NAN, 0.1),
    bad(sinusoid_variance, "sigma", "nan", 0.1, 1.0, NAN),
    bad(sinusoid_variance, "sigma", "range", 0.1, 1.0, -1.0),
    # --- generators ----------------------------------------------------------------------
    bad(closest_counterfactual, "X", "nan", M, [[NAN, 0.0]]),
    bad(closest_counterfactual, "X", "shape", M, np.zeros((2, 3))),
    bad(closest_counterfactual, "norm", "option", M, X, norm=3),
    bad(closest_counterfactual, "norm", "type", M, X, norm=True),
    bad(closest_counterfactual, "box", "value", M, X, box=(1.0, 0.0)),
    bad(closest_counterfactual, "box", "nan", M, X, box=(NAN, 1.0)),
    bad(closest_counterfactual, "box", "type", M, X, box="ab"),
    bad(closest_counterfactual, "confidence", "range", M, X, confidence=-1.0),
    bad(closest_counterfactual, "steps", "range", M, X, steps=0),
    bad(closest_counterfactual, "search_steps", "type", M, X, search_steps=1.5),
    bad(closest_counterfactual, "lr", "inf", M, X, lr=INF),
    bad(closest_counterfactual, "c0", "range", M, X, c0=0.0),
    bad(closest_counterfactual, "gradients", "type", _numpy_model, X),
    bad(closest_counterfactual, "restarts", "range", M, X, restarts=-1),
    bad(closest_counterfactual, "restarts", "type", M, X, restarts=1.5),
    bad(closest_counterfactual, "confidence", "nan", M, X, confidence=NAN),
    # wachter's own ``target`` keyword clashes with bad()'s first parameter: Case directly
    Case(wachter, "target", "range", (M, X), {"target": 0.4}),
    Case(wachter, "target", "nan", (M, X), {"target": NAN}),
    Case(wachter, "target", "type", (M, X), {"target": "a"}),
    Case(wachter, "target", "value", (M, X), {"target": 1.0}),  # logit(1) is infinite
    bad(wachter, "score", "option", M, X, score="odds"),
    bad(wachter, "score", "type", M, X, score=1),
    bad(wachter, "lam", "range", M, X, lam=0.0),
    bad(wachter, "scale", "shape", M, X, scale=np.ones(3)),
    bad(wachter, "scale", "range", M, X, scale=np.array([1.0, 0.0])),
    bad(wachter, "scale", "type", M, X, scale="a"),
    bad(wachter, "rounds", "range", M, X, rounds=0),
    bad(wachter, "X", "empty", M, np.zeros((0, 2))),
    bad(trex, "tau", "range", M, X, tau=1.5),
    bad(trex, "tau", "nan", M, X, tau=NAN),
    bad(trex, "k", "range", M, X, k=0),
    bad(trex, "sigma", "range", M, X, sigma=0.0),
    bad(trex, "step", "nan", M, X, step=NAN),
    bad(trex, "radius", "range", M, X, radius=-1.0),
    bad(trex, "max_iter", "type", M, X, max_iter=1.5),
    bad(trex, "max_iter", "range", M, X, max_iter=-1),
    bad(trex, "norm", "option", M, X, norm=0),
    bad(trex, "common_noise", "type", M, X, common_noise="no"),
    bad(trex, "common_noise", "value", M, X, common_noise=True, seed=[0, 1]),
    bad(trex, "seed", "seed", M, X, seed=1.5),
    bad(trex, "seed", "seed", M, X, seed=-1),
    bad(trex, "seed", "seed", M, X, seed="a"),
    bad(trex, "seed", "seed", M, X, seed=[0]),
    bad(trex, "base", "shape", M, X, base=np.zeros((3, 2))),
    bad(trex, "base", "inf", M, X, base=np.array([[INF, 0.0], [0.0, 0.0]])),
    bad(trex, "X", "shape", M, np.zeros((2, 3))),
    bad(trex_nn, "tau", "nan", M, X, XT, tau=NAN),
    bad(trex_nn, "k", "range", M, X, XT, k=0),
    bad(trex_nn, "sigma", "nan", M, X, XT, sigma=NAN),
    bad(trex_nn, "seed", "seed", M, X, XT, seed=-1),
    bad(trex_nn, "seed", "seed", M, X, XT, seed=[0, 1]),
    bad(trex_nn, "X_train", "shape", M, X, np.zeros((3, 3))),
    bad(trex_nn, "X_train", "empty", M, X, np.zeros((0, 2))),
    bad(trex_nn, "norm", "option", M, X, XT, norm=3),
    # --- baselines -----------------------------------------------------------------------
    bad(sns, "epsilon", "nan", M, X, epsilon=NAN),
    bad(sns, "steps", "range", M, X, steps=0),
    bad(sns, "n_path", "type", M, X, n_path=2.5),
    bad(sns, "base", "shape", M, X, base=np.zeros((1, 2))),
    bad(sns, "X", "shape", M, np.zeros((2, 3))),
    bad(robx_score, "X", "nan", M, np.array([[NAN, 0.0]])),
    bad(robx_score, "k", "range", M, X, k=0),
    bad(robx_score, "sigma", "range", M, X, sigma=-0.1),
    bad(robx_score, "seed", "seed", M, X, seed=-1),
    bad(robx_score, "X", "shape", M, np.zeros((2, 3))),
    bad(robx, "k", "range", M, X, XT, k=0),
    bad(robx, "sigma", "nan", M, X, XT, sigma=NAN),
    bad(robx, "tau", "range", M, X, XT, tau=1.5),
    bad(robx, "n_alpha", "range", M, X, XT, n_alpha=0),
    bad(robx, "seed", "seed", M, X, XT, seed=1.5),
    bad(robx, "X_train", "shape", M, X, np.zeros((3, 3))),
    bad(roar_worst_logit, "w", "nan", [NAN, 1.0], 0.0, X, 0.1),
    bad(roar_worst_logit, "w", "inf", [INF, 1.0], 0.0, X, 0.1),
    bad(roar_worst_logit, "w", "empty", [], 0.0, X, 0.1),
    bad(roar_worst_logit, "b", "inf", W, INF, X, 0.1),
    bad(roar_worst_logit, "X", "shape", W, 0.0, np.zeros((2, 3)), 0.1),
    bad(roar_worst_logit, "delta_max", "range", W, 0.0, X, -0.1),
    bad(roar_worst_logit_lp, "w", "nan", [NAN, 1.0], 0.0, X[0], 0.1),
    bad(roar_worst_logit_lp, "w", "inf", [1.0, -INF], 0.0, X[0], 0.1),
    bad(roar_worst_logit_lp, "b", "nan", W, NAN, X[0], 0.1),
    bad(roar_worst_logit_lp, "x", "shape", W, 0.0, np.zeros(3), 0.1),
    bad(roar_worst_logit_lp, "delta_max", "nan", W, 0.0, X[0], NAN),
    bad(roar, "model", "type", 5, X),
    bad(roar, "model", "type", torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Tanh()), X),
    bad(roar, "model[0]", "nan", (np.array([NAN, 1.0]), 0.0), X),
    bad(roar, "model[1]", "nan", (W, NAN), X),
    bad(roar, "X", "shape", M, np.zeros((2, 3))),
    bad(roar, "delta_max", "nan", M, X, delta_max=NAN),
    bad(roar, "lam", "range", M, X, lam=0.0),
    bad(roar, "steps", "type", M, X, steps=True),
    bad(roar, "norm", "option", M, X, norm=3),
    bad(roar, "solver", "option", M, X, solver="cvxpy"),
    bad(invalidation_rate, "sigma", "range", M, X, sigma=0.0),
    bad(invalidation_rate, "X", "inf", M, np.array([[INF, 0.0]]), sigma=0.1),
    bad(invalidation_rate, "X", "shape", M, np.zeros((2, 3)), sigma=0.1),
    bad(invalidation_rate, "gradients", "type", _numpy_model, X, sigma=0.1),
    bad(invalidation_rate_mc, "n_samples", "range", M, X, sigma=0.1, n_samples=0),
    bad(invalidation_rate_mc, "sigma", "nan", M, X, sigma=NAN),
    bad(invalidation_rate_mc, "seed", "seed", M, X, sigma=0.1, n_samples=5, seed=-1),
    bad(invalidation_rate_mc, "X", "shape", M, np.zeros((2, 3)), sigma=0.1),
    # --- metrics -------------------------------------------------------------------------
    bad(cost, "p", "option", X, X, p=3),
    bad(cost, "p", "type", X, X, p=True),
    bad(cost, "X", "empty", np.zeros((0, 2)), np.zeros((0, 2))),
    bad(cost, "CF", "shape", X, X[:1]),
    bad(cost, "CF", "inf", X, np.array([[INF, 0.0], [0.0, 0.0]])),
    bad(validity, "CF", "empty", M, np.zeros((0, 2))),
    bad(validity, "CF", "value", M, np.array([[NAN, 0.0]])),
    bad(validity, "X", "shape", M, np.zeros((2, 3))),
    bad(validity, "model", "type", None, X),
    bad(robust_validity, "family", "empty", [], X),
    bad(robust_validity, "family", "type", 5, X),
    bad(robust_validity, "CF", "shape", FAM, np.zeros(2)),
    bad(lof_1nn, "X_train", "value", XT[:1], X),
    bad(lof_1nn, "X_train", "nan", np.array([[NAN, 0.0], [0.0, 0.0]]), X),
    bad(lof_1nn, "CF", "shape", XT, np.zeros((2, 3))),
    bad(lof_1nn, "CF", "empty", XT, np.zeros((0, 2))),
    bad(evaluate, "result", "type", 5, X, M, FAM, XT),
    bad(evaluate, "family", "type", RES, X, M, [M], XT),
    bad(evaluate, "X", "shape", RES, X[:1], M, FAM, XT),
    bad(evaluate, "k", "range", RES, X, M, FAM, XT, k=0),
    bad(evaluate, "sigma", "nan", RES, X, M, FAM, XT, sigma=NAN),
    bad(evaluate, "seed", "seed", RES, X, M, FAM, XT, seed=-1),
    bad(evaluate, "X_train", "shape", RES, X, M, FAM, np.zeros((3, 3))),
    # --- model change --------------------------------------------------------------------
    bad(ModelFamily, "kind", "option", "prune", (M,)),
    bad(ModelFamily, "models", "empty", "retrain", ()),
    bad(ModelFamily, "models[0]", "type", "retrain", (5,)),
    # changed_models' own ``kind`` keyword clashes with bad()'s: Case directly
    Case(changed_models, "kind", "option", (_factory, XT, Y4), {"kind": "prune"}),
    bad(changed_models, "factory", "type", 5, XT, Y4),
    bad(changed_models, "n_models", "range", _factory, XT, Y4, n_models=0),
    bad(changed_models, "X", "nan", _factory, np.array([[NAN, 0.0]]), [0]),
    bad(changed_models, "y", "shape", _factory, XT, [0, 1]),
    bad(changed_models, "y", "nan", _factory, XT, [0, 1, NAN, 1]),
    bad(changed_models, "seed", "seed", _factory, XT, Y4, seed=-1),
    bad(changed_models, "seed", "seed", _factory, XT, Y4, seed=1.5),
    Case(
        changed_models,
        "weight_scale",
        "nan",
        (_factory, XT, Y4),
        {"kind": "weights", "weight_scale": NAN},
    ),
    Case(
        changed_models,
        "leave_out",
        "nan",
        (_factory, XT, Y4),
        {"kind": "leave-out", "leave_out": NAN},
    ),
    Case(
        changed_models,
        "leave_out",
        "range",
        (_factory, XT, Y4),
        {"kind": "leave-out", "leave_out": 1.0},
    ),
    Case(
        changed_models,
        "leave_out",
        "value",
        (_factory, X, Y),
        {"kind": "leave-out", "leave_out": 0.9},
    ),
    bad(SinusoidalFamily, "w", "nan", np.array([NAN]), 0.0, np.array([1.0]), 0.1, np.zeros(2)),
    bad(SinusoidalFamily, "u", "shape", np.ones(2), 0.0, np.ones(3), 0.1, np.zeros(2)),
    bad(SinusoidalFamily, "b", "inf", np.ones(1), INF, np.ones(1), 0.1, np.zeros(2)),
    bad(SinusoidalFamily, "amplitude", "range", np.ones(1), 0.0, np.ones(1), -0.1, np.zeros(2)),
    bad(sinusoidal_family, "w", "nan", [NAN], 0.0, [1.0], 0.1, 3),
    bad(sinusoidal_family, "w", "empty", [], 0.0, [], 0.1, 3),
    bad(sinusoidal_family, "u", "inf", [1.0], 0.0, [INF], 0.1, 3),
    bad(sinusoidal_family, "u", "shape", [1.0], 0.0, [1.0, 2.0], 0.1, 3),
    bad(sinusoidal_family, "b", "nan", [1.0], NAN, [1.0], 0.1, 3),
    bad(sinusoidal_family, "amplitude", "range", [1.0], 0.0, [1.0], -0.1, 3),
    bad(sinusoidal_family, "n_models", "range", [1.0], 0.0, [1.0], 0.1, 0),
    bad(sinusoidal_family, "seed", "seed", [1.0], 0.0, [1.0], 0.1, 3, seed=-1),
    # --- models --------------------------------------------------------------------------
    bad(as_probability_model, "model", "type", 5),
    bad(as_probability_model, "check", "type", M, check="no"),
    bad(predict_proba, "X", "shape", M, np.zeros(2)),
    bad(predict_proba, "X", "shape", M, np.zeros((2, 3))),
    bad(predict_proba, "X", "inf", M, np.array([[INF, 0.0]])),
    bad(predict_proba, "X", "nan", M, np.array([[NAN, 0.0]])),
    bad(predict_proba, "X", "type", M, "x"),
    bad(predict_proba, "model", "type", None, X),
    bad(logistic_model, "w", "nan", [NAN], 0.0),
    bad(logistic_model, "w", "empty", [], 0.0),
    bad(logistic_model, "w", "shape", np.ones((2, 2)), 0.0),
    bad(logistic_model, "b", "nan", [1.0], NAN),
    bad(logistic_model, "b", "type", [1.0], "a"),
    bad(train_mlp, "epochs", "range", X, Y, epochs=0),
    bad(train_mlp, "epochs", "type", X, Y, epochs=True),
    bad(train_mlp, "seed", "seed", X, Y, epochs=1, seed=-1),
    bad(train_mlp, "seed", "seed", X, Y, epochs=1, seed=1.5),
    bad(train_mlp, "lr", "nan", X, Y, epochs=1, lr=NAN),
    bad(train_mlp, "weight_decay", "range", X, Y, epochs=1, weight_decay=-1.0),
    bad(train_mlp, "hidden", "type", X, Y, epochs=1, hidden=5),
    bad(train_mlp, "hidden[0]", "range", X, Y, epochs=1, hidden=(0,)),
    bad(train_mlp, "activation", "option", X, Y, epochs=1, activation="gelu"),
    bad(train_mlp, "y", "value", X, [0.0, 2.0], epochs=1),
    bad(train_mlp, "y", "shape", X, [0.0], epochs=1),
    bad(train_mlp, "X", "nan", [[NAN, 0.0], [0.0, 0.0]], Y, epochs=1),
    # --- data ----------------------------------------------------------------------------
    bad(moons, "n", "range", 0),
    bad(moons, "d", "range", 100, d=1),
    bad(moons, "noise", "nan", 100, noise=NAN),
    bad(moons, "noise", "range", 100, noise=-1.0),
    bad(moons, "test_fraction", "range", 100, test_fraction=1.5),
    bad(moons, "test_fraction", "nan", 100, test_fraction=NAN),
    bad(moons, "test_fraction", "value", 2, test_fraction=0.9),
    bad(moons, "seed", "seed", 100, seed=-1),
    bad(moons, "seed", "seed", 100, seed=1.5),
    bad(breast_cancer, "test_fraction", "range", test_fraction=1.5),
    bad(breast_cancer, "seed", "seed", seed=-1),
    bad(Dataset, "y_train", "shape", "x", np.zeros((2, 2)), np.zeros(3), np.zeros((1, 2)), Y[:1]),
    bad(Dataset, "X_test", "shape", "x", np.zeros((2, 2)), Y, np.zeros((1, 3)), Y[:1]),
    bad(Dataset, "X_train", "nan", "x", np.full((2, 2), NAN), Y, np.zeros((1, 2)), Y[:1]),
    bad(Dataset, "y_test", "value", "x", np.zeros((2, 2)), Y, np.zeros((1, 2)), [2.0]),
    bad(Dataset, "name", "type", 5, np.zeros((2, 2)), Y, np.zeros((1, 2)), Y[:1]),
    # --- result --------------------------------------------------------------------------
    bad(
        CounterfactualResult,
        "valid",
        "shape",
        "x",
        np.zeros((2, 2)),
        np.zeros(3, bool),
        np.zeros(2),
        np.zeros(2),
        ("a", "b"),
        0.0,
    ),
    bad(
        CounterfactualResult,
        "status",
        "shape",
        "x",
        np.zeros((2, 2)),
        np.zeros(2, bool),
        np.zeros(2),
        np.zeros(2),
        ("a",),
        0.0,
    ),
    bad(
        CounterfactualResult,
        "seconds",
        "range",
        "x",
        np.zeros((2, 2)),
        np.zeros(2, bool),
        np.zeros(2),
        np.zeros(2),
        ("a", "b"),
        -1.0,
    ),
    bad(
        CounterfactualResult,
        "optimality_gap",
        "shape",
        "x",
        np.zeros((2, 2)),
        np.zeros(2, bool),
        np.zeros(2),
        np.zeros(2),
        ("a", "b"),
        0.0,
        np.zeros(3),
    ),
    bad(
        CounterfactualResult,
        "counterfactuals",
        "shape",
        "x",
        np.zeros(2),
        np.zeros(2, bool),
        np.zeros(2),
        np.zeros(2),
        ("a", "b"),
        0.0,
    ),
    # hypothesis strategies: sizes checked when the strategy is built, before any draw
    bad(logistic_models, "max_dim", "range", max_dim=0),
    bad(logistic_models, "max_dim", "type", max_dim=2.5),
    bad(tanh_mlps, "max_dim", "range", max_dim=-1),
    bad(tanh_mlps, "max_width", "range", max_width=0),
    bad(tanh_mlps, "max_width", "type", max_width=None),
    bad(queries, "d", "range", d=0),
    bad(queries, "d", "type", d=2.0),
    bad(queries, "max_rows", "range", d=2, max_rows=0),
    bad(linear_instances, "max_dim", "range", max_dim=0),
    bad(linear_instances, "max_dim", "type", max_dim=True),
]


_GATHERED = gather(__file__, __package__)  # the cases of every _cases_* module here
CASES += _GATHERED[0]
EXEMPT.update(_GATHERED[1])


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()


# ---------------------------------------------------------------------------------------------
# Array-likes (a pandas DataFrame / Series) are accepted wherever arrays are
# ---------------------------------------------------------------------------------------------


class _Frame:
    """A minimal stand-in for a pandas DataFrame/Series: values through ``__array__`` only."""

    def __init__(self, values):
        self._values = np.asarray(values)

    def __array__(self, dtype=None, copy=None):
        return self._values if dtype is None else self._values.astype(dtype)

    def __len__(self):
        return len(self._values)


def test_array_likes_are_accepted_like_arrays():
    fx, fy = _Frame(XT), _Frame([0.0, 1.0, 0.0, 1.0])
    a = counterfactual_stability(M, _Frame(X), k=5, sigma=0.1, seed=0)
    b = counterfactual_stability(M, X, k=5, sigma=0.1, seed=0)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(predict_proba(M, _Frame(X)), predict_proba(M, X))
    assert validity(M, _Frame(X)) == validity(M, X)
    assert cost(_Frame(X), _Frame(XT[:2])) == cost(X, XT[:2])
    np.testing.assert_array_equal(lof_1nn(fx, _Frame(X)), lof_1nn(XT, X))
    np.testing.assert_array_equal(
        roar_worst_logit(_Frame(W), 0.0, _Frame(X), 0.1), roar_worst_logit(W, 0.0, X, 0.1)
    )
    net = train_mlp(fx, fy, hidden=(4,), epochs=2, seed=0)
    ref = train_mlp(XT, np.array([0.0, 1.0, 0.0, 1.0]), hidden=(4,), epochs=2, seed=0)
    np.testing.assert_array_equal(predict_proba(net, XT), predict_proba(ref, XT))
    fam = changed_models(_factory, fx, fy, n_models=1)
    assert len(fam.models) == 1


def test_predict_proba_keeps_not_found_rows_and_empty_input():
    out = predict_proba(M, np.array([[np.nan, np.nan], [0.0, 0.0]]))
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.5)
    assert predict_proba(M, np.zeros((0, 2))).shape == (0,)
