"""Reward -> policy maps of finite MDPs (*The Policy Cliff*, Xu 2025, arXiv:2507.20150).

Where optimal actions tie, an arbitrarily small reward change flips the policy (Props 2.9,
2.10, 3.2, 4.6); entropy or KL regularization makes the map Lipschitz (Prop 4.7).

==============================  ================================================  ===========
name                            what                                              paper
==============================  ================================================  ===========
:class:`TabularMDP`             validated (P, R, gamma)                           §2.1
:func:`optimal_q`               Q* by value iteration, certified error            §2.1
:func:`optimal_actions`         argmax sets A*(s) with a tie tolerance            §2.1
:func:`action_gap`              smallest best-vs-second-best gap                  Thm 2.7
:func:`soft_optimal_policy`     entropy / KL-regularized policy                   Prop 4.7, §3.3
:func:`effective_reward`        sum_k w_k(s) R_k(s, a)                            §4, Lemma 4.2
:func:`inverse_bellman`         the reward whose Q* is a given Q                  Prop 2.9
:func:`cliff_witness`           a tie-breaking perturbation and its TV jump       Props 2.9-3.2
:mod:`theory.bounds`            the bounds as functions                           Props 2.4, 4.7
:func:`robust_value_iteration`  robust MDPs: L1/KL balls, finite model sets       Iyengar 2005
:func:`iwocs`                   incremental worst-case search                      Zouitine et al. 2024
:func:`reachability_value`      feasibility value by HJ reachability (safe RL)     FISOR (Zheng et al.)
:func:`constrained_lp`          constrained MDP by an occupancy-measure LP         Altman 1999
:func:`debate_reward`           the debate game's reward for justifiable choices   Sukovic & Radanovic
:func:`soft_lq_policy`          entropy-regularized LQ control in closed form      [derived]
:mod:`theory.symbolic`          the bounds as sympy expressions
:mod:`theory.strategies`        hypothesis strategies for property-based tests
==============================  ================================================  ===========
"""

from theory.actions import (
    action_gap,
    argmax_mask,
    greedy_policy,
    optimal_actions,
    uniform_argmax_policy,
)
from theory.bounds import (
    cliff_tv_jump,
    greedy_stability_radius,
    incomplete_reward_regret_lower_bound,
    q_lipschitz_bound,
    q_transition_bound,
    soft_hard_value_gap_bound,
    soft_policy_regret_bound,
    soft_policy_tv_bound,
    soft_policy_tv_span_bound,
    softmax_tv_bound,
)
from theory.constrained import CMDPSolution, constrained_lp
from theory.continuous import gaussian_kl, lq_task, soft_lq_policy, soft_lq_shift
from theory.debate import debate_reward, judge_win_rate, justifiable_reward, minimax_debate
from theory.distances import max_total_variation, reward_distance, reward_span, total_variation
from theory.effective_reward import effective_reward, effective_reward_lipschitz_constant
from theory.evaluation import policy_q, policy_value
from theory.inverse import CliffWitness, cliff_witness, inverse_bellman
from theory.judge import (
    JudgeFit,
    Preferences,
    fit_bradley_terry_judge,
    judge_scores,
    preference_data,
)
from theory.mdp import TabularMDP
from theory.robust import (
    FiniteModels,
    IWOCSResult,
    KLBall,
    L1Ball,
    RobustResult,
    iwocs,
    robust_policy_evaluation,
    robust_value_iteration,
    worst_case_model,
)
from theory.safety import (
    ReachabilityResult,
    constraint_array,
    reachability_value,
    violation_probability,
)
from theory.shaping import potential_shaping
from theory.soft import (
    kl_regularized_bandit_policy,
    soft_bellman_operator,
    soft_optimal_policy,
    soft_optimal_q,
    soft_value,
    soft_value_iteration,
)
from theory.softmax import (
    jacobian_inf_to_one_norm,
    local_softmax_constant,
    softmax,
    softmax_jacobian,
)
from theory.treatment import TreatmentTask, state_features, treatment_task
from theory.value_iteration import (
    ConvergenceError,
    ValueIterationResult,
    optimal_q,
    value_iteration,
)

__all__ = [
    "CMDPSolution",
    "CliffWitness",
    "ConvergenceError",
    "FiniteModels",
    "IWOCSResult",
    "JudgeFit",
    "KLBall",
    "L1Ball",
    "Preferences",
    "ReachabilityResult",
    "RobustResult",
    "TabularMDP",
    "TreatmentTask",
    "ValueIterationResult",
    "action_gap",
    "argmax_mask",
    "cliff_tv_jump",
    "cliff_witness",
    "constrained_lp",
    "constraint_array",
    "debate_reward",
    "effective_reward",
    "effective_reward_lipschitz_constant",
    "fit_bradley_terry_judge",
    "gaussian_kl",
    "greedy_policy",
    "greedy_stability_radius",
    "incomplete_reward_regret_lower_bound",
    "inverse_bellman",
    "iwocs",
    "jacobian_inf_to_one_norm",
    "judge_scores",
    "judge_win_rate",
    "justifiable_reward",
    "kl_regularized_bandit_policy",
    "local_softmax_constant",
    "lq_task",
    "max_total_variation",
    "minimax_debate",
    "optimal_actions",
    "optimal_q",
    "policy_q",
    "policy_value",
    "potential_shaping",
    "preference_data",
    "q_lipschitz_bound",
    "q_transition_bound",
    "reachability_value",
    "reward_distance",
    "reward_span",
    "robust_policy_evaluation",
    "robust_value_iteration",
    "soft_bellman_operator",
    "soft_hard_value_gap_bound",
    "soft_lq_policy",
    "soft_lq_shift",
    "soft_optimal_policy",
    "soft_optimal_q",
    "soft_policy_regret_bound",
    "soft_policy_tv_bound",
    "soft_policy_tv_span_bound",
    "soft_value",
    "soft_value_iteration",
    "softmax",
    "softmax_jacobian",
    "softmax_tv_bound",
    "state_features",
    "total_variation",
    "treatment_task",
    "uniform_argmax_policy",
    "value_iteration",
    "violation_probability",
    "worst_case_model",
]
