"""Bad-input cases of :mod:`theory.safety` and :mod:`theory.constrained`."""

from __future__ import annotations

import numpy as np

from tests._audit import Case, bad
from theory import TabularMDP
from theory.constrained import constrained_lp
from theory.safety import constraint_array, reachability_value, violation_probability

_MDP = TabularMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 0.5)
_H = np.array([0.0, 1.0])
_PI = np.full((2, 2), 0.5)
_C = np.zeros((2, 2))
_RHO = np.array([0.5, 0.5])

EXEMPT = {
    "ReachabilityResult": "result dataclass returned by reachability_value",
    "CMDPSolution": "result dataclass returned by constrained_lp",
    "safety.ReachabilityResult": "result dataclass returned by reachability_value; takes no user input",
    "constrained.CMDPSolution": "result dataclass returned by constrained_lp; takes no user input",
}

CASES: list[Case] = [
    bad(constraint_array, "mdp", "type", None, _H),
    bad(constraint_array, "constraint", "shape", _MDP, np.zeros(3)),
    bad(constraint_array, "constraint", "nan", _MDP, [np.nan, 0.0]),
    bad(reachability_value, "mdp", "type", "mdp", _H),
    bad(reachability_value, "constraint", "inf", _MDP, [np.inf, 0.0]),
    bad(reachability_value, "constraint", "empty", _MDP, []),
    bad(reachability_value, "mode", "option", _MDP, _H, mode="average"),
    bad(reachability_value, "gamma", "range", _MDP, _H, mode="discounted", gamma=1.0),
    bad(reachability_value, "tol", "range", _MDP, _H, tol=0.0),
    bad(reachability_value, "max_iter", "range", _MDP, _H, max_iter=0),
    bad(violation_probability, "policy", "value", _MDP, np.full((2, 2), 0.9), _H),
    bad(violation_probability, "policy", "shape", _MDP, np.full((3, 2), 0.5), _H),
    bad(violation_probability, "constraint", "nan", _MDP, _PI, [np.nan, 0.0]),
    bad(violation_probability, "horizon", "range", _MDP, _PI, _H, horizon=-1),
    bad(violation_probability, "horizon", "type", _MDP, _PI, _H, horizon=2.5),
    bad(constrained_lp, "budget", "range", _MDP, _C, _RHO, -0.1),
    bad(constrained_lp, "budget", "nan", _MDP, _C, _RHO, np.nan),
    bad(constrained_lp, "cost", "nan", _MDP, np.full((2, 2), np.nan), _RHO, 1.0),
    bad(constrained_lp, "cost", "shape", _MDP, np.zeros(2), _RHO, 1.0),
    bad(constrained_lp, "initial", "value", _MDP, _C, [0.9, 0.9], 1.0),
    bad(constrained_lp, "allowed", "type", _MDP, _C, _RHO, 1.0, allowed=np.ones((2, 2))),
    bad(constrained_lp, "allowed", "shape", _MDP, _C, _RHO, 1.0, allowed=np.ones(2, bool)),
    bad(constrained_lp, "mdp", "type", None, _C, _RHO, 1.0),
]
