"""Bad input to the leaderboard is refused by name."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from perturbation.leaderboard import (
    LEADERBOARD_SCALES,
    METHODS,
    Condition,
    LeaderboardScale,
    Method,
    aggregate,
    compare,
    conditions,
    leaderboard_task,
    method_metrics,
    run_leaderboard,
    run_method,
)
from perturbation.leaderboard.protocol import base_logp, condition_task
from tests._audit import Case, audit_ids, bad

EXEMPT: dict[str, str] = {
    "LeaderboardResult": "result dataclass returned by run_leaderboard(); takes no user input",
    "MethodRun": "result dataclass returned by run_method(); takes no user input",
    "Aggregate": "result dataclass returned by aggregate(); takes no user input",
}

TINY = LEADERBOARD_SCALES["tiny"]
TASK = leaderboard_task("tiny")
_M = METHODS["dpo"]
_METHOD = {f.name: getattr(_M, f.name) for f in dataclasses.fields(_M)}

CASES: list[Case] = [
    bad(LeaderboardScale, "seeds", "range", **{**TINY.__dict__, "seeds": 1}),
    bad(LeaderboardScale, "budget", "range", **{**TINY.__dict__, "budget": 0}),
    bad(LeaderboardScale, "eps", "range", **{**TINY.__dict__, "eps": (0.0,)}),
    bad(LeaderboardScale, "flips", "range", **{**TINY.__dict__, "flips": (0.5,)}),
    bad(LeaderboardScale, "flips", "shape", **{**TINY.__dict__, "flips": (0.1, 0.2)}),
    bad(LeaderboardScale, "drops", "range", **{**TINY.__dict__, "drops": (1.0,)}),
    bad(LeaderboardScale, "lrs", "range", **{**TINY.__dict__, "lrs": (-1e-3,)}),
    bad(LeaderboardScale, "name", "type", **{**TINY.__dict__, "name": ""}),
    bad(Condition, "kind", "option", "P4"),
    bad(Condition, "size", "range", "P1", -0.1),
    bad(Condition, "size", "nan", "P1", math.nan),
    bad(Method, "lr", "range", **{**_METHOD, "lr": 0.0}),
    bad(Method, "train", "type", **{**_METHOD, "train": None}),
    bad(Method, "key", "type", **{**_METHOD, "key": ""}),
    bad(Method, "kl_beta", "range", **{**_METHOD, "kl_beta": -1.0}),
    bad(conditions, "scale", "type", "tiny"),
    bad(base_logp, "task", "type", None, (0, 1)),
    bad(condition_task, "task", "type", None, Condition("clean"), preference=False),
    bad(condition_task, "cond", "type", TASK, "P1", preference=False),
    bad(leaderboard_task, "scale", "option", "huge"),
    bad(run_method, "method", "type", "grpo"),
    bad(run_method, "scale", "option", _M, "huge"),
    bad(run_method, "seed", "seed", _M, "tiny", seed=-1),
    bad(run_method, "only", "option", _M, "tiny", only=["P7"]),
    bad(method_metrics, "run", "type", None, TASK, None),
    bad(aggregate, "values", "shape", np.zeros((2, 2, 2))),
    bad(compare, "compare", "value", np.array([math.nan]), np.array([1.0]), higher_is_better=True),
    bad(run_leaderboard, "scale", "option", "huge"),
    bad(run_leaderboard, "methods", "option", "tiny", methods=["nope"]),
    bad(run_leaderboard, "methods", "type", "tiny", methods="grpo"),
    bad(run_leaderboard, "perturbations", "type", "tiny", perturbations="P1"),
    bad(run_leaderboard, "progress", "type", "tiny", progress="yes"),
    bad(run_leaderboard, "seed", "seed", "tiny", seed=1.5),
]


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()
