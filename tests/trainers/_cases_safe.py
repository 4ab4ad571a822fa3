"""Bad-input cases of the safe offline RL modules: safe_tasks, fisor, ogsrl."""

from __future__ import annotations

import numpy as np

from tests._audit import Case, bad
from theory import TabularMDP
from trainers.fisor import FISORConfig, expectile, fit_feasibility_value, train_fisor
from trainers.ogsrl import OGSRLConfig, empirical_cmdp, support_mask, train_ogsrl
from trainers.safe_tasks import (
    OfflineDataset,
    SafeTask,
    behaviour_policy,
    collect_dataset,
    drop_transitions,
    hazard_gridworld,
    model_dataset,
    safe_policy,
)

NAN = float("nan")
_MDP = TabularMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), 0.5)
_TASK = SafeTask(_MDP, np.zeros((2, 2)), np.array([1.0, 0.0]))
_D = ([0, 1], [1, 0], [0.0, 1.0], [0.0, 1.0], [1, 1], 2, 2)  # a valid dataset's arguments
_DATA = OfflineDataset(*_D)
_PI = np.full((2, 2), 0.5)


def _with(i: int, value):
    args = list(_D)
    args[i] = value
    return tuple(args)


EXEMPT = {
    "FISORResult": "result dataclass returned by train_fisor",
    "OGSRLResult": "result dataclass returned by train_ogsrl",
    "fisor.FISORResult": "result dataclass returned by train_fisor; takes no user input",
    "ogsrl.OGSRLResult": "result dataclass returned by train_ogsrl; takes no user input",
}

CASES: list[Case] = [
    # SafeTask / hazard_gridworld
    bad(SafeTask, "mdp", "type", "mdp", np.zeros((2, 2)), [1.0, 0.0]),
    bad(SafeTask, "cost", "range", _MDP, -np.ones((2, 2)), [1.0, 0.0]),
    bad(SafeTask, "cost", "nan", _MDP, np.full((2, 2), NAN), [1.0, 0.0]),
    bad(SafeTask, "cost", "shape", _MDP, np.zeros(2), [1.0, 0.0]),
    bad(SafeTask, "initial", "value", _MDP, np.zeros((2, 2)), [0.9, 0.9]),
    bad(hazard_gridworld, "layout", "type", "S.G"),
    bad(hazard_gridworld, "layout", "empty", ()),
    bad(hazard_gridworld, "layout", "shape", ("S.", "G")),
    bad(hazard_gridworld, "layout", "value", ("SX",)),
    bad(hazard_gridworld, "layout", "value", ("..G",)),
    bad(hazard_gridworld, "slip", "range", slip=0.7),
    bad(hazard_gridworld, "slip", "nan", slip=NAN),
    bad(hazard_gridworld, "gamma", "range", gamma=1.0),
    bad(safe_policy, "task", "type", _MDP),
    bad(behaviour_policy, "epsilon", "range", _TASK, 1.5),
    bad(behaviour_policy, "task", "type", None, 0.1),
    # OfflineDataset: missing, NaN, negative costs; empty; out-of-range indices
    bad(OfflineDataset, "costs", "type", *_with(3, None)),
    bad(OfflineDataset, "costs", "nan", *_with(3, [NAN, 0.0])),
    bad(OfflineDataset, "costs", "range", *_with(3, [-1.0, 0.0])),
    bad(OfflineDataset, "costs", "shape", *_with(3, [0.0])),
    bad(OfflineDataset, "states", "empty", [], [], [], [], [], 2, 2),
    bad(OfflineDataset, "states", "range", *_with(0, [0, 2])),
    bad(OfflineDataset, "actions", "value", *_with(1, [0.5, 0])),
    bad(OfflineDataset, "next_states", "shape", *_with(4, [1])),
    bad(OfflineDataset, "rewards", "inf", *_with(2, [np.inf, 0.0])),
    bad(OfflineDataset, "n_states", "range", *_with(5, 0)),
    bad(collect_dataset, "behaviour", "value", _TASK, np.full((2, 2), 0.9)),
    bad(collect_dataset, "episodes", "range", _TASK, _PI, episodes=0),
    bad(collect_dataset, "seed", "seed", _TASK, _PI, seed=-1),
    bad(collect_dataset, "task", "type", _MDP, _PI),
    bad(drop_transitions, "fraction", "range", _DATA, 1.5),
    bad(drop_transitions, "dataset", "type", _D, 0.5),
    bad(model_dataset, "per_pair", "value", hazard_gridworld(slip=0.1), 3),
    bad(model_dataset, "per_pair", "range", _TASK, 0),
    # FISOR
    bad(FISORConfig, "FISORConfig.expectile_h", "range", expectile_h=1.0),
    bad(FISORConfig, "FISORConfig.expectile_r", "range", expectile_r=0.0),
    bad(FISORConfig, "FISORConfig.feasibility", "option", feasibility="soft"),
    bad(FISORConfig, "FISORConfig.gamma_h", "range", gamma_h=1.0),
    bad(FISORConfig, "FISORConfig.alpha_r", "nan", alpha_r=NAN),
    bad(FISORConfig, "FISORConfig.max_weight", "range", max_weight=0.0),
    bad(expectile, "weights", "shape", np.zeros((1, 2)), np.ones((1, 3)), 0.5),
    bad(expectile, "weights", "value", np.zeros((1, 2)), np.zeros((1, 2)), 0.5),
    bad(expectile, "values", "nan", np.array([[NAN, 0.0]]), np.ones((1, 2)), 0.5),
    bad(expectile, "tau", "range", np.zeros((1, 2)), np.ones((1, 2)), 1.5),
    bad(fit_feasibility_value, "dataset", "type", _D),
    bad(fit_feasibility_value, "config", "type", _DATA, {"gamma": 0.9}),
    bad(train_fisor, "dataset", "type", None),
    bad(train_fisor, "config", "type", _DATA, OGSRLConfig()),
    # OGSRL
    bad(OGSRLConfig, "OGSRLConfig.min_count", "range", min_count=-1),
    bad(OGSRLConfig, "OGSRLConfig.ood_budget", "range", ood_budget=1.5),
    bad(OGSRLConfig, "OGSRLConfig.gamma", "range", gamma=1.0),
    bad(support_mask, "min_count", "type", _DATA, 1.5),
    bad(support_mask, "dataset", "type", None),
    bad(empirical_cmdp, "gamma", "range", _DATA, 1.0),
    bad(empirical_cmdp, "dataset", "type", _D),
    bad(train_ogsrl, "budget", "range", _DATA, [1.0, 0.0], -0.1),
    bad(train_ogsrl, "budget", "nan", _DATA, [1.0, 0.0], NAN),
    bad(train_ogsrl, "initial", "value", _DATA, [0.9, 0.9], 0.1),
    bad(train_ogsrl, "initial", "shape", _DATA, [1.0], 0.1),
    bad(train_ogsrl, "config", "type", _DATA, [1.0, 0.0], 0.1, FISORConfig()),
]
