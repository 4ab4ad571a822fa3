"""Bad-input cases of :mod:`theory.robust` and :func:`theory.q_transition_bound`."""

from __future__ import annotations

import numpy as np

from tests._audit import Case, bad
from theory import (
    FiniteModels,
    KLBall,
    L1Ball,
    TabularMDP,
    iwocs,
    q_transition_bound,
    robust_policy_evaluation,
    robust_value_iteration,
    worst_case_model,
)
from theory.robust import kl_worst_row, l1_worst_row

_P = np.full((2, 2, 2), 0.5)
_MDP = TabularMDP(_P, np.zeros((2, 2)), 0.5)
_BALL = L1Ball(_P, 0.1)

EXEMPT = {
    "IWOCSResult": "result dataclass returned by iwocs; takes no user input",
    "RobustResult": "result dataclass returned by the robust solvers; takes no user input",
}

CASES: list[Case] = [
    bad(L1Ball, "nominal", "value", np.full((2, 2, 2), 0.7), 0.1),
    bad(L1Ball, "nominal", "shape", np.full((2, 2, 3), 1 / 3), 0.1),
    bad(L1Ball, "radius", "range", _P, -0.1),
    bad(L1Ball, "radius", "shape", _P, np.zeros(3)),
    bad(L1Ball, "radius", "nan", _P, np.nan),
    bad(L1Ball, "rectangular", "option", _P, 0.1, "state"),
    bad(KLBall, "nominal", "nan", np.full((2, 2, 2), np.nan), 0.1),
    bad(KLBall, "radius", "range", _P, -1.0),
    bad(FiniteModels, "models", "shape", _P),
    bad(FiniteModels, "models", "empty", np.zeros((0, 2, 2, 2))),
    bad(FiniteModels, "models[1]", "value", np.stack([_P, np.full((2, 2, 2), 0.9)])),
    bad(FiniteModels, "rectangular", "type", _P[None], rectangular="yes"),
    bad(l1_worst_row, "radius", "range", np.array([0.5, 0.5]), np.zeros(2), -1.0),
    bad(l1_worst_row, "v", "shape", np.array([0.5, 0.5]), np.zeros(3), 0.1),
    bad(kl_worst_row, "p0", "nan", np.array([np.nan, 0.5]), np.zeros(2), 0.1),
    bad(kl_worst_row, "radius", "inf", np.array([0.5, 0.5]), np.zeros(2), np.inf),
    bad(robust_value_iteration, "mdp", "type", _P, _BALL),
    bad(robust_value_iteration, "uncertainty", "type", _MDP, _P),
    bad(
        robust_value_iteration, "uncertainty", "shape", _MDP, L1Ball(np.full((3, 2, 3), 1 / 3), 0.1)
    ),
    bad(robust_value_iteration, "uncertainty", "value", _MDP, FiniteModels(_P[None])),
    bad(robust_value_iteration, "tol", "range", _MDP, _BALL, tol=0.0),
    bad(robust_policy_evaluation, "policy", "shape", _MDP, _BALL, np.zeros(3)),
    bad(robust_policy_evaluation, "policy", "range", _MDP, _BALL, np.array([0, 2])),
    bad(robust_policy_evaluation, "policy", "value", _MDP, _BALL, np.full((2, 2), 0.7)),
    bad(worst_case_model, "policy", "nan", _MDP, _BALL, np.full((2, 2), np.nan)),
    bad(iwocs, "max_models", "range", _MDP, _BALL, max_models=0),
    bad(iwocs, "candidate", "option", _MDP, _BALL, candidate="optimistic"),
    bad(q_transition_bound, "kernel_distance", "range", 2.5, 1.0, 0.9),
    bad(q_transition_bound, "value_span", "range", 0.1, -1.0, 0.9),
    bad(q_transition_bound, "gamma", "range", 0.1, 1.0, 1.0),
]
