"""Bad-input cases of theory.treatment, theory.judge and theory.debate (the debate-based reward
of Sukovic & Radanovic 2024); gathered by test_bad_input.py.

Among them the refusals the brief asked for: ``lam`` outside [0, 1], NaN rewards, an empty
preference dataset and ``rounds < 1``.
"""

from __future__ import annotations

import numpy as np

from tests._audit import Case, bad
from theory.debate import debate_reward, judge_win_rate, justifiable_reward, minimax_debate
from theory.judge import (
    Preferences,
    fit_bradley_terry_judge,
    judge_scores,
    preference_data,
)
from theory.mdp import TabularMDP
from theory.treatment import state_features, treatment_task

NAN = float("nan")
RNG = np.random.default_rng
W = np.zeros((2, 2, 2))
X = np.array([[0, 1], [1, 1]])
E = np.array([[1, 0], [1, 1]])
A2 = np.array([0, 1])
PREFS = Preferences(X, E, np.array([0, 1]), np.array([1, 0]), [1.0, 0.0])
MDP = TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), gamma=0.5)
U4 = np.zeros(4)

EXEMPT = {
    "JudgeFit": "result dataclass returned by fit_bradley_terry_judge; takes no user input",
    "TreatmentTask": "result dataclass built by treatment_task; takes no user input",
    "judge.JudgeFit": "result dataclass returned by fit_bradley_terry_judge; takes no user input",
    "treatment.TreatmentTask": "result dataclass built by treatment_task; takes no user input",
}

CASES: list[Case] = [
    # theory.treatment
    bad(state_features, "n_features", "range", 0),
    bad(state_features, "n_features", "range", 40),
    bad(treatment_task, "rng", "seed", 0),
    bad(treatment_task, "n_actions", "range", RNG(0), n_actions=1),
    bad(treatment_task, "gamma", "range", RNG(0), gamma=1.0),
    bad(treatment_task, "alignment", "range", RNG(0), alignment=1.5),
    bad(treatment_task, "alignment", "nan", RNG(0), alignment=NAN),
    bad(treatment_task, "expert_scale", "range", RNG(0), expert_scale=0.0),
    bad(treatment_task, "max_cost", "range", RNG(0), max_cost=-0.1),
    bad(treatment_task, "persistence", "inf", RNG(0), persistence=float("inf")),
    # theory.judge
    bad(judge_scores, "weights", "shape", np.zeros((2, 2, 3)), X, E, A2),
    bad(judge_scores, "weights", "nan", np.full((2, 2, 2), NAN), X, E, A2),
    bad(judge_scores, "features", "value", W, [[0, 2], [1, 1]], E, A2),
    bad(judge_scores, "evidence", "shape", W, X, [[1, 0]], A2),
    bad(judge_scores, "actions", "range", W, X, E, np.array([0, 2])),
    bad(judge_scores, "actions", "type", W, X, E, np.array([0.0, 1.0])),
    bad(Preferences, "features", "empty", np.zeros((0, 2)), np.zeros((0, 2)), [], [], []),
    bad(Preferences, "first", "value", X, E, np.array([0, 1]), np.array([0, 0]), [1.0, 0.0]),
    bad(Preferences, "label", "range", X, E, np.array([0, 1]), np.array([1, 0]), [1.5, 0.0]),
    bad(Preferences, "label", "nan", X, E, np.array([0, 1]), np.array([1, 0]), [NAN, 0.0]),
    bad(Preferences, "second", "range", X, E, np.array([0, 1]), np.array([-1, 0]), [1.0, 0.0]),
    bad(preference_data, "n_pairs", "range", W, X, RNG(0), n_pairs=0, evidence_size=1),
    bad(preference_data, "evidence_size", "range", W, X, RNG(0), n_pairs=5, evidence_size=3),
    bad(
        preference_data,
        "label_noise",
        "range",
        W,
        X,
        RNG(0),
        n_pairs=5,
        evidence_size=1,
        label_noise=0.7,
    ),
    bad(
        preference_data, "labels", "option", W, X, RNG(0), n_pairs=5, evidence_size=1, labels="soft"
    ),
    bad(
        preference_data,
        "expert_sees",
        "option",
        W,
        X,
        RNG(0),
        n_pairs=5,
        evidence_size=1,
        expert_sees="all",
    ),
    bad(preference_data, "rng", "seed", W, X, 0, n_pairs=5, evidence_size=1),
    bad(
        preference_data,
        "expert_weights",
        "shape",
        np.zeros((1, 2, 2)),
        X,
        RNG(0),
        n_pairs=5,
        evidence_size=1,
    ),
    bad(fit_bradley_terry_judge, "preferences", "type", [(0, 1, 1.0)], 2),
    bad(fit_bradley_terry_judge, "n_actions", "range", PREFS, 1),
    bad(fit_bradley_terry_judge, "l2", "range", PREFS, 2, l2=-1.0),
    bad(fit_bradley_terry_judge, "l2", "nan", PREFS, 2, l2=NAN),
    bad(fit_bradley_terry_judge, "tol", "range", PREFS, 2, tol=0.0),
    bad(fit_bradley_terry_judge, "max_iter", "range", PREFS, 2, max_iter=0),
    # theory.debate
    bad(minimax_debate, "rounds", "range", U4, 0),
    bad(minimax_debate, "rounds", "range", U4, 3),
    bad(minimax_debate, "rounds", "type", U4, 1.0),
    bad(minimax_debate, "payoff", "nan", np.array([0.0, NAN, 1.0, 1.0]), 1),
    bad(minimax_debate, "payoff", "shape", np.zeros(3), 1),
    bad(minimax_debate, "payoff", "empty", np.zeros(0), 1),
    bad(minimax_debate, "first", "option", U4, 1, first="judge"),
    bad(debate_reward, "rounds", "range", W, X, A2, rounds=0),
    bad(debate_reward, "judge_weights", "nan", np.full((2, 2, 2), NAN), X, A2, rounds=1),
    bad(debate_reward, "features", "shape", W, [[0, 1, 1]], np.array([0]), rounds=1),
    bad(debate_reward, "baseline", "range", W, X, np.array([0, 5]), rounds=1),
    bad(debate_reward, "baseline", "type", W, X, [0.5, 1.0], rounds=1),
    bad(debate_reward, "outcome", "option", W, X, A2, rounds=1, outcome="margin"),
    bad(debate_reward, "first", "option", W, X, A2, rounds=1, first="judge"),
    bad(justifiable_reward, "lam", "range", [1.0], [0.0], 1.5),
    bad(justifiable_reward, "lam", "range", [1.0], [0.0], -0.1),
    bad(justifiable_reward, "lam", "nan", [1.0], [0.0], NAN),
    bad(justifiable_reward, "lam", "type", [1.0], [0.0], True),
    bad(justifiable_reward, "r_env", "nan", [NAN], [0.0], 0.5),
    bad(justifiable_reward, "r_debate", "nan", [1.0], [NAN], 0.5),
    bad(justifiable_reward, "r_debate", "shape", [1.0], [0.0, 1.0], 0.5),
    bad(judge_win_rate, "mdp", "type", "mdp", [[1.0, 0.0]], [[1.0, 0.0]], [1.0]),
    bad(judge_win_rate, "r_debate", "shape", MDP, [[1.0, 0.0]], [1.0, 0.0], [1.0]),
    bad(judge_win_rate, "r_debate", "nan", MDP, [[1.0, 0.0]], [[NAN, 0.0]], [1.0]),
    bad(judge_win_rate, "start", "value", MDP, [[1.0, 0.0]], [[1.0, 0.0]], [0.5]),
    bad(judge_win_rate, "policy", "value", MDP, [[1.0, 1.0]], [[1.0, 0.0]], [1.0]),
]
