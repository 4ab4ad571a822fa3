"""Bad-input audit of :mod:`theory`: every public name refuses bad input by name.

Each case feeds one kind of bad input (NaN, inf, wrong shape, empty, out of range, wrong type,
unknown option, bad value) and asserts a ValueError/TypeError whose message names the
parameter. Among them the silent-wrong results this audit was written against:
``total_variation([0.9, 0.9], [0.5, 0.5])`` (not distributions), ``max_total_variation`` of
rows summing to 1.5, ``soft_value`` with a NaN log-reference, and value iteration at
``gamma = 0.99999`` with an unreachable default tolerance (refused at once, naming ``tol``
and ``max_iter``); and among the generators and hypothesis strategies, ``deterministic_fraction=1.5``
or NaN (silently 1 or 0), ``n_states=0`` (an empty MDP), ``conflict=NaN`` (NaN rewards),
``discounts(max_gamma=1.5)`` (draws of invalid discounts) and ``reward_perturbations`` with
negative norms (perturbations of the wrong norm).
"""

from __future__ import annotations

import numpy as np
import pytest

import theory.symbolic as S
from tests._audit import Case, audit_ids, bad, gather
from theory import (
    TabularMDP,
    action_gap,
    argmax_mask,
    cliff_tv_jump,
    cliff_witness,
    effective_reward,
    effective_reward_lipschitz_constant,
    greedy_policy,
    greedy_stability_radius,
    incomplete_reward_regret_lower_bound,
    inverse_bellman,
    jacobian_inf_to_one_norm,
    kl_regularized_bandit_policy,
    local_softmax_constant,
    max_total_variation,
    optimal_actions,
    optimal_q,
    policy_q,
    policy_value,
    potential_shaping,
    q_lipschitz_bound,
    reward_distance,
    reward_span,
    soft_bellman_operator,
    soft_hard_value_gap_bound,
    soft_optimal_policy,
    soft_optimal_q,
    soft_policy_regret_bound,
    soft_policy_tv_bound,
    soft_policy_tv_span_bound,
    soft_value,
    soft_value_iteration,
    softmax,
    softmax_jacobian,
    softmax_tv_bound,
    total_variation,
    uniform_argmax_policy,
    value_iteration,
)
from theory import generators as gen
from theory import strategies as strat

EXEMPT = {
    "CliffWitness": "result dataclass returned by cliff_witness; takes no user input",
    "ConvergenceError": "exception type",
    "ValueIterationResult": "result dataclass returned by value_iteration; takes no user input",
    "symbolic.BOUNDS": "constant table of sympy expressions",
    "symbolic.SYMBOLS": "constant table of sympy symbols",
    "generators.MultiRewardTask": "result dataclass returned by conflicting_multi_reward_task",
}

NAN, INF = float("nan"), float("inf")
P2 = np.full((2, 2, 2), 0.5)  # two states, two actions, uniform transitions
R2 = np.array([[1.0, 0.0], [0.0, 0.5]])
MDP = TabularMDP(P2, R2, 0.9)
MDP_NEAR_ONE = TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), 0.99999)
Q2 = np.array([[1.0, 0.0], [0.5, 0.5]])
PI = np.full((2, 2), 0.5)


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


CASES: list[Case] = [
    # TabularMDP
    bad(TabularMDP, "P", "nan", np.full((1, 1, 1), NAN), np.zeros((1, 1)), 0.5),
    bad(TabularMDP, "P", "empty", np.zeros((0, 1, 0)), np.zeros((0, 0)), 0.5),
    bad(TabularMDP, "P", "shape", np.ones((1, 1)), np.zeros((1, 1)), 0.5),
    bad(TabularMDP, "P", "value", np.full((1, 1, 1), 0.5), np.zeros((1, 1)), 0.5),
    bad(TabularMDP, "R", "inf", P2, np.full((2, 2), INF), 0.5),
    bad(TabularMDP, "R", "shape", P2, np.zeros((3, 2)), 0.5),
    bad(TabularMDP, "gamma", "range", P2, R2, 1.5),
    bad(TabularMDP, "gamma", "range", P2, R2, 1.0),
    bad(TabularMDP, "gamma", "nan", P2, R2, NAN),
    bad(TabularMDP, "gamma", "type", P2, R2, "0.5"),
    bad(TabularMDP, "gamma", "type", P2, R2, True),
    # value iteration
    bad(value_iteration, "mdp", "type", (P2, R2, 0.9)),
    bad(value_iteration, "tol", "range", MDP, tol=0.0),
    bad(value_iteration, "tol", "nan", MDP, tol=NAN),
    bad(value_iteration, "max_iter", "range", MDP, max_iter=0),
    bad(value_iteration, "max_iter", "type", MDP, max_iter=2.5),
    bad(value_iteration, "rewards", "shape", MDP, rewards=np.zeros((3, 2))),
    bad(value_iteration, "rewards", "nan", MDP, rewards=np.full((2, 2), NAN)),
    bad(value_iteration, "max_iter", "value", MDP_NEAR_ONE),
    bad(optimal_q, "tol", "value", MDP_NEAR_ONE),
    bad(optimal_q, "tol", "range", MDP, -1.0),
    bad(optimal_q, "mdp", "type", None),
    # actions
    bad(optimal_actions, "mdp", "type", "mdp"),
    bad(optimal_actions, "tol", "range", MDP, -1.0),
    bad(action_gap, "mdp", "type", R2),
    bad(action_gap, "tol", "nan", MDP, NAN),
    bad(argmax_mask, "q", "nan", [[NAN, 0.0]]),
    bad(argmax_mask, "q", "empty", np.zeros((1, 0))),
    bad(argmax_mask, "tol", "range", Q2, -1.0),
    bad(greedy_policy, "q", "inf", [[INF, 0.0]]),
    bad(greedy_policy, "q", "type", "q"),
    bad(uniform_argmax_policy, "q", "empty", []),
    bad(uniform_argmax_policy, "tol", "type", Q2, "0.1"),
    # bounds
    bad(cliff_tv_jump, "m", "range", 0),
    bad(cliff_tv_jump, "m", "type", 2.5),
    bad(greedy_stability_radius, "gap", "range", -1.0, 0.5),
    bad(greedy_stability_radius, "gamma", "range", 1.0, 1.5),
    bad(incomplete_reward_regret_lower_bound, "advantage", "nan", NAN, 0.5),
    bad(incomplete_reward_regret_lower_bound, "reach_probability", "range", 1.0, 1.5),
    bad(q_lipschitz_bound, "reward_distance", "range", -1.0, 0.5),
    bad(q_lipschitz_bound, "gamma", "type", 1.0, "0.5"),
    bad(soft_hard_value_gap_bound, "alpha", "range", 0.0, 0.5, 2),
    bad(soft_hard_value_gap_bound, "n_actions", "range", 1.0, 0.5, 0),
    bad(soft_policy_regret_bound, "gamma", "inf", 1.0, INF, 2),
    bad(soft_policy_tv_bound, "reward_distance", "nan", NAN, 1.0, 0.5),
    bad(soft_policy_tv_bound, "alpha", "range", 1.0, -1.0, 0.5),
    bad(soft_policy_tv_bound, "gamma", "range", 1.0, 1.0, 1.0),
    bad(soft_policy_tv_span_bound, "reward_span", "inf", INF, 1.0, 0.5),
    bad(softmax_tv_bound, "logit_distance", "range", -1.0, 1.0),
    bad(softmax_tv_bound, "tau", "range", 1.0, 0.0),
    # distances
    bad(total_variation, "p", "value", [0.9, 0.9], [0.5, 0.5]),
    bad(total_variation, "p", "value", [1.5, -0.5], [0.5, 0.5]),
    bad(total_variation, "p", "nan", [NAN, 1.0], [0.5, 0.5]),
    bad(total_variation, "p", "empty", [], []),
    bad(total_variation, "q", "shape", [0.5, 0.5], [1.0, 0.0, 0.0]),
    bad(total_variation, "q", "type", [0.5, 0.5], "q"),
    bad(max_total_variation, "pi1", "value", [[1.0, 0.5]], [[0.5, 0.5]]),
    bad(max_total_variation, "pi2", "inf", PI, [[INF, 0.0], [0.5, 0.5]]),
    bad(max_total_variation, "pi1", "empty", np.zeros((0, 2)), np.zeros((0, 2))),
    bad(reward_distance, "r1", "nan", [NAN], [0.0]),
    bad(reward_distance, "r1", "empty", np.zeros((0, 2)), np.zeros((0, 2))),
    bad(reward_distance, "r2", "shape", np.zeros((2, 2)), np.zeros((2, 3))),
    bad(reward_span, "delta", "empty", []),
    bad(reward_span, "delta", "inf", [INF, 0.0]),
    # effective reward
    bad(effective_reward, "rewards", "nan", np.full((1, 2, 2), NAN), [1.0]),
    bad(effective_reward, "weights", "value", np.zeros((2, 2, 2)), [0.9, 0.9]),
    bad(effective_reward, "weights", "shape", np.zeros((2, 2, 2)), [1.0]),
    bad(effective_reward_lipschitz_constant, "weights", "value", [-0.5, 1.5]),
    bad(effective_reward_lipschitz_constant, "weights", "empty", []),
    # evaluation
    bad(policy_q, "policy", "value", MDP, np.full((2, 2), 0.9)),
    bad(policy_q, "policy", "shape", MDP, np.full((3, 2), 0.5)),
    bad(policy_q, "mdp", "type", None, PI),
    bad(policy_value, "policy", "nan", MDP, np.full((2, 2), NAN)),
    # inverse / witness
    bad(inverse_bellman, "Q", "nan", np.full((2, 2), NAN), P2, 0.9),
    bad(inverse_bellman, "Q", "shape", np.zeros((3, 2)), P2, 0.9),
    bad(inverse_bellman, "gamma", "range", Q2, P2, 1.0),
    bad(inverse_bellman, "P", "value", Q2, np.full((2, 2, 2), 0.9), 0.9),
    bad(cliff_witness, "state", "range", MDP, 5, 0.1),
    bad(cliff_witness, "state", "type", MDP, 0.5, 0.1),
    bad(cliff_witness, "eps", "range", MDP, 0, -0.1),
    bad(cliff_witness, "eps", "nan", MDP, 0, NAN),
    bad(cliff_witness, "mdp", "type", R2, 0, 0.1),
    # shaping
    bad(potential_shaping, "potential", "shape", MDP, np.zeros(3)),
    bad(potential_shaping, "potential", "nan", MDP, np.full(2, NAN)),
    bad(potential_shaping, "mdp", "type", None, np.zeros(2)),
    # soft
    bad(soft_value, "log_reference", "nan", Q2, 1.0, np.full(2, NAN)),
    bad(soft_value, "log_reference", "inf", Q2, 1.0, np.array([INF, 0.0])),
    bad(soft_value, "log_reference", "shape", Q2, 1.0, np.zeros(3)),
    bad(soft_value, "log_reference", "value", Q2, 1.0, np.full(2, -INF)),
    bad(soft_value, "q", "nan", [NAN, 0.0], 1.0),
    bad(soft_value, "q", "empty", [], 1.0),
    bad(soft_value, "alpha", "range", Q2, 0.0),
    bad(soft_bellman_operator, "q", "shape", MDP, np.zeros((3, 2)), 1.0),
    bad(soft_bellman_operator, "q", "nan", MDP, np.full((2, 2), NAN), 1.0),
    bad(soft_bellman_operator, "alpha", "range", MDP, Q2, -1.0),
    bad(soft_bellman_operator, "reference", "value", MDP, Q2, 1.0, [0.9, 0.9]),
    bad(soft_value_iteration, "alpha", "nan", MDP, NAN),
    bad(soft_value_iteration, "tol", "range", MDP, 1.0, tol=0.0),
    bad(soft_value_iteration, "max_iter", "range", MDP, 1.0, max_iter=0),
    bad(soft_value_iteration, "max_iter", "value", MDP_NEAR_ONE, 1.0),
    bad(soft_value_iteration, "reference", "shape", MDP, 1.0, np.full(3, 1 / 3)),
    bad(soft_value_iteration, "available", "shape", MDP, 1.0, available=np.ones(2, bool)),
    bad(soft_value_iteration, "mdp", "type", None, 1.0),
    bad(soft_optimal_q, "alpha", "type", MDP, "1.0"),
    bad(soft_optimal_q, "rewards", "inf", MDP, 1.0, rewards=np.full((2, 2), INF)),
    bad(soft_optimal_policy, "alpha", "range", MDP, 0.0),
    bad(soft_optimal_policy, "reference", "nan", MDP, 1.0, np.full(2, NAN)),
    bad(kl_regularized_bandit_policy, "rewards", "nan", [NAN, 0.0], [0.5, 0.5], 1.0),
    bad(kl_regularized_bandit_policy, "reference", "value", [1.0, 0.0], [0.9, 0.9], 1.0),
    bad(kl_regularized_bandit_policy, "reference", "shape", [1.0, 0.0], [1 / 3] * 3, 1.0),
    bad(kl_regularized_bandit_policy, "beta", "range", [1.0, 0.0], [0.5, 0.5], 0.0),
    # softmax
    bad(softmax, "x", "nan", [NAN, 0.0]),
    bad(softmax, "x", "empty", []),
    bad(softmax, "tau", "range", [1.0, 0.0], 0.0),
    bad(softmax, "x", "type", "x"),
    bad(softmax_jacobian, "x", "inf", [INF, 0.0]),
    bad(softmax_jacobian, "tau", "nan", [1.0, 0.0], NAN),
    bad(local_softmax_constant, "x", "range", np.zeros(23)),
    bad(local_softmax_constant, "x", "empty", []),
    bad(jacobian_inf_to_one_norm, "x", "nan", [NAN, 0.0]),
    bad(jacobian_inf_to_one_norm, "tau", "range", [1.0, 0.0], -1.0),
    # symbolic
    bad(S.softmax_symbolic, "d", "range", 0),
    bad(S.softmax_symbolic, "d", "type", 2.5),
    bad(S.softmax_jacobian_symbolic, "d", "range", -1),
    bad(S.softmax_inf_to_one_norm, "p", "type", "p"),
    # generators
    bad(gen.random_transitions, "rng", "seed", 0, 2, 2),
    bad(gen.random_transitions, "n_states", "range", _rng(), 0, 2),
    bad(gen.random_transitions, "n_actions", "type", _rng(), 2, 2.5),
    bad(gen.random_transitions, "n_actions", "type", _rng(), 2, True),
    bad(
        gen.random_transitions,
        "deterministic_fraction",
        "range",
        _rng(),
        2,
        2,
        deterministic_fraction=1.5,
    ),
    bad(
        gen.random_transitions,
        "deterministic_fraction",
        "nan",
        _rng(),
        2,
        2,
        deterministic_fraction=NAN,
    ),
    bad(gen.random_mdp, "rng", "seed", None, 2, 2, 0.5),
    bad(gen.random_mdp, "n_states", "range", _rng(), -1, 2, 0.5),
    bad(gen.random_mdp, "gamma", "range", _rng(), 2, 2, 1.0),
    bad(gen.random_mdp, "gamma", "nan", _rng(), 2, 2, NAN),
    bad(gen.random_mdp, "reward_scale", "nan", _rng(), 2, 2, 0.5, reward_scale=NAN),
    bad(gen.random_mdp, "reward_scale", "inf", _rng(), 2, 2, 0.5, reward_scale=INF),
    bad(gen.random_mdp, "reward_scale", "range", _rng(), 2, 2, 0.5, reward_scale=-1.0),
    bad(gen.planted_tie_mdp, "m", "range", _rng(), 2, 3, 4, 0.5),
    bad(gen.planted_tie_mdp, "m", "type", _rng(), 2, 3, 2.0, 0.5),
    bad(gen.planted_tie_mdp, "gamma", "range", _rng(), 2, 3, 2, -0.1),
    bad(gen.planted_tie_mdp, "n_states", "range", _rng(), 0, 3, 2, 0.5),
    bad(gen.planted_tie_mdp, "rng", "seed", 7, 2, 3, 2, 0.5),
    bad(gen.bandit, "rewards", "nan", [NAN, 0.0]),
    bad(gen.bandit, "rewards", "inf", [INF, 0.0]),
    bad(gen.bandit, "rewards", "empty", []),
    bad(gen.bandit, "rewards", "shape", [[1.0, 0.0]]),
    bad(gen.bandit, "rewards", "type", "r"),
    bad(gen.tight_soft_construction, "gamma", "range", 1.0, 0.1),
    bad(gen.tight_soft_construction, "delta", "range", 0.5, 0.0),
    bad(gen.tight_soft_construction, "delta", "nan", 0.5, NAN),
    bad(gen.nonuniform_limit_mdp, "gamma", "range", 1.5),
    bad(gen.nonuniform_limit_mdp, "gamma", "type", None),
    bad(gen.conflicting_multi_reward_task, "rng", "seed", 0),
    bad(gen.conflicting_multi_reward_task, "n_components", "range", _rng(), n_components=1),
    bad(gen.conflicting_multi_reward_task, "n_components", "type", _rng(), n_components=2.0),
    bad(
        gen.conflicting_multi_reward_task,
        "states_per_domain",
        "range",
        _rng(),
        states_per_domain=-1,
    ),
    bad(gen.conflicting_multi_reward_task, "n_actions", "range", _rng(), n_actions=1, tie_size=1),
    bad(gen.conflicting_multi_reward_task, "tie_size", "range", _rng(), n_actions=2, tie_size=3),
    bad(gen.conflicting_multi_reward_task, "gamma", "range", _rng(), gamma=1.0),
    bad(gen.conflicting_multi_reward_task, "conflict", "nan", _rng(), conflict=NAN),
    bad(gen.conflicting_multi_reward_task, "conflict", "type", _rng(), conflict="0.5"),
    # hypothesis strategies: refused when the strategy is built, before any draw
    bad(strat.discounts, "max_gamma", "range", max_gamma=1.0),
    bad(strat.discounts, "max_gamma", "nan", max_gamma=NAN),
    bad(strat.discounts, "max_gamma", "type", max_gamma="0.5"),
    bad(strat.probability_vectors, "size", "range", size=0),
    bad(strat.probability_vectors, "size", "type", size=2.0),
    bad(strat.probability_vectors, "sparse", "type", size=2, sparse="yes"),
    bad(strat.mdps, "min_states", "range", min_states=0),
    bad(strat.mdps, "max_states", "range", min_states=3, max_states=2),
    bad(strat.mdps, "max_actions", "type", max_actions=2.5),
    bad(strat.mdps, "min_actions", "type", min_actions=True),
    bad(strat.mdps, "max_gamma", "range", max_gamma=1.0),
    bad(strat.mdps, "reward_scale", "range", reward_scale=-1.0),
    bad(strat.mdps, "reward_scale", "nan", reward_scale=NAN),
    bad(strat.mdps_with_ties, "max_states", "range", max_states=0),
    bad(strat.mdps_with_ties, "max_actions", "type", max_actions=None),
    bad(strat.mdps_with_ties, "min_tie", "range", min_tie=1),
    bad(strat.mdps_with_ties, "max_gamma", "inf", max_gamma=INF),
    bad(strat.reward_perturbations, "shape", "type", shape=3),
    bad(strat.reward_perturbations, "shape", "range", shape=(2, 0)),
    bad(strat.reward_perturbations, "shape", "type", shape=(2.5,)),
    bad(strat.reward_perturbations, "max_norm", "range", shape=(2,), min_norm=1.0, max_norm=0.5),
    bad(strat.reward_perturbations, "max_norm", "inf", shape=(2,), max_norm=INF),
    bad(strat.reward_perturbations, "min_norm", "range", shape=(2,), min_norm=-1.0),
    bad(strat.reward_perturbations, "min_norm", "nan", shape=(2,), min_norm=NAN),
    bad(strat.simplex_weights, "n_states", "range", n_states=0, n_components=2),
    bad(strat.simplex_weights, "n_components", "type", n_states=2, n_components="2"),
]


_GATHERED = gather(__file__, __package__)  # the cases of every _cases_* module here
CASES += _GATHERED[0]
EXEMPT.update(_GATHERED[1])


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()


def test_every_public_name_is_audited_or_exempt():
    targets = {id(c.target) for c in CASES}
    import theory

    for module, prefix in ((theory, ""), (S, "symbolic."), (gen, "generators."), (strat, "")):
        for name in module.__all__:
            key = prefix + name
            assert id(getattr(module, name)) in targets or key in EXEMPT, key
