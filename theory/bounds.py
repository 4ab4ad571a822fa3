"""The bounds of *The Policy Cliff* as functions of their ingredients.

Each function returns the theoretical right-hand side; :mod:`theory.symbolic` holds the same
formulas as sympy expressions. Total variation is half the L1 distance.

========================================  ==============================================  ==================
function                                  bound                                           source
========================================  ==============================================  ==================
:func:`q_lipschitz_bound`                 ``||dQ*||_inf <= ||dR||_inf / (1-gamma)``         Prop 2.4, 4.3
:func:`soft_policy_tv_bound`              ``max_s d_TV <= ||dR||_inf / (2 alpha (1-gamma))`` Prop 4.7
:func:`soft_policy_tv_span_bound`         ``max_s d_TV <= sp(dR) / (4 alpha (1-gamma))``     [derived]
:func:`softmax_tv_bound`                  ``d_TV <= ||dx||_inf / (2 tau)``                   Lemma C.2
:func:`greedy_stability_radius`           no greedy flip if ``||dR||_inf < (1-gamma) g / 2`` [derived, checked]
:func:`soft_hard_value_gap_bound`         ``0 <= Q*_alpha - Q* <= gamma alpha log|A| / (1-gamma)`` [derived, checked]
:func:`soft_policy_regret_bound`          ``0 <= V* - V^{pi_alpha} <= alpha log|A| / (1-gamma)`` [derived]
:func:`cliff_tv_jump`                     ``d_TV = (m-1)/m`` at an m-way tie               Prop 2.10
:func:`q_transition_bound`                ``||dQ*||_inf <= gamma ||dP||_1 sp(V) / (2(1-gamma))`` Prop 2.4 for ``P`` [derived, checked]
:func:`incomplete_reward_regret_lower_bound` ``regret >= mu(s0) A`` for a clever slacker     Prop 3.1 [derived]
========================================  ==============================================  ==================

References
----------
.. [1] X. Xu, "The Policy Cliff", arXiv:2507.20150, 2025.
"""

from __future__ import annotations

import math
import numbers

from theory.checks import check_gamma, check_nonnegative, check_positive

__all__ = [
    "cliff_tv_jump",
    "greedy_stability_radius",
    "incomplete_reward_regret_lower_bound",
    "q_lipschitz_bound",
    "q_transition_bound",
    "soft_hard_value_gap_bound",
    "soft_policy_regret_bound",
    "soft_policy_tv_bound",
    "soft_policy_tv_span_bound",
    "softmax_tv_bound",
]


def q_lipschitz_bound(reward_distance: float, gamma: float) -> float:
    """Prop 2.4 (and 4.3 with ``||·||_N``): ``||Q*_{R1} - Q*_{R2}||_inf <= ||R1 - R2||_inf / (1 - gamma)``.

    Attained with equality by a constant shift ``dR ≡ c``.

    >>> q_lipschitz_bound(0.1, 0.9)
    1.0000000000000002
    """
    return check_nonnegative("reward_distance", reward_distance) / (1.0 - check_gamma(gamma))


def q_transition_bound(kernel_distance: float, value_span: float, gamma: float) -> float:
    """The transition analogue of Prop 2.4 [derived, checked]:
    ``||Q*_P - Q*_P'||_inf <= gamma ||P - P'||_{1,inf} sp(V*_P) / (2 (1 - gamma))``.

    ``kernel_distance = max_{s,a} ||P(·|s,a) - P'(·|s,a)||_1`` and ``value_span = max V*_P -
    min V*_P`` (at most ``sp(R) / (1 - gamma)``). Derivation: ``Q_P - Q_P' = gamma (P - P') V_P +
    gamma P' (V_P - V_P')`` and ``||V_P - V_P'||_inf <= ||Q_P - Q_P'||_inf`` give
    ``||dQ||_inf <= gamma/(1-gamma) max_{s,a} |(P - P')(·|s,a) · V_P|``; a difference of two
    distributions sums to zero, so ``|(p - p')·V| <= ||p - p'||_1 sp(V) / 2``. The same holds for
    the entropy-regularized ``Q*_alpha`` with ``V`` its soft value (``alpha LSE(·/alpha)`` is
    1-Lipschitz in the sup norm). Attained with equality: a rewarding state that stays put with
    probability ``1 - delta`` under ``P`` and ``1`` under ``P'``, beside an absorbing zero state.

    >>> round(q_transition_bound(0.2, 10.0, 0.9), 12)
    9.0
    """
    d = check_nonnegative("kernel_distance", kernel_distance)
    if d > 2.0:
        raise ValueError(f"kernel_distance is an L1 distance of distributions, at most 2; got {d}")
    span = check_nonnegative("value_span", value_span)
    g = check_gamma(gamma)
    return g * d * span / (2.0 * (1.0 - g))


def soft_policy_tv_bound(reward_distance: float, alpha: float, gamma: float) -> float:
    """Prop 4.7: ``max_s d_TV(pi_{R1,alpha}(·|s), pi_{R2,alpha}(·|s)) <= ||dR|| / (2 alpha (1 - gamma))``.

    ``reward_distance`` is ``||R1 - R2||_inf`` (``||·||_N`` for multi-reward stacks). The same
    constant holds for KL regularization with ``alpha = beta`` [derived, checked]. Tight: the
    two-absorbing-state construction of :func:`theory.generators.tight_soft_construction`
    (s0 chooses between two absorbing states; the reward moves by ``+delta`` on one branch and
    ``-delta`` on the other) attains ratio -> 1 as ``delta -> 0``.

    >>> soft_policy_tv_bound(0.1, alpha=0.5, gamma=0.0)
    0.1
    """
    d = check_nonnegative("reward_distance", reward_distance)
    return d / (2.0 * check_positive("alpha", alpha) * (1.0 - check_gamma(gamma)))


def soft_policy_tv_span_bound(reward_span: float, alpha: float, gamma: float) -> float:
    """Span refinement [derived]: ``max_s d_TV <= sp(dR) / (4 alpha (1 - gamma))``.

    ``sp(dR) = max dR - min dR <= 2 ||dR||_inf``, so this is never worse than Prop 4.7; it follows
    from shift invariance of softmax and ``osc(dQ) <= sp(dR)/(1-gamma)``.
    """
    s = check_nonnegative("reward_span", reward_span)
    return s / (4.0 * check_positive("alpha", alpha) * (1.0 - check_gamma(gamma)))


def softmax_tv_bound(logit_distance: float, tau: float) -> float:
    """Lemma C.2 in total variation: ``d_TV(softmax(x/tau), softmax(y/tau)) <= ||x - y||_inf / (2 tau)``."""
    return check_nonnegative("logit_distance", logit_distance) / (2.0 * check_positive("tau", tau))


def greedy_stability_radius(gap: float, gamma: float) -> float:
    """Quantitative Thm 2.7 [derived, checked]: the greedy policy cannot change if
    ``||dR||_inf < (1 - gamma) g / 2``, with ``g`` the action gap (:func:`theory.action_gap`).

    Each entry of Q* moves by at most ``||dR||/(1-gamma)`` (Prop 2.4), so a gap ``g`` survives
    any perturbation below half of ``(1-gamma) g``. Zero at a tie: no radius.
    """
    return (1.0 - check_gamma(gamma)) * check_nonnegative("gap", gap) / 2.0


def soft_hard_value_gap_bound(alpha: float, gamma: float, n_actions: int) -> float:
    """[derived, checked] ``0 <= Q*_alpha - Q* <= gamma alpha log|A| / (1 - gamma)`` (entropy case).

    From ``max <= alpha LSE(·/alpha) <= max + alpha log|A|``.
    """
    return _log_actions_term(alpha, gamma, n_actions) * check_gamma(gamma)


def soft_policy_regret_bound(alpha: float, gamma: float, n_actions: int) -> float:
    """[derived] Cost of stochasticity: ``0 <= V*(s) - V^{pi_alpha}(s) <= alpha log|A| / (1 - gamma)``.

    ``V^{pi_alpha}`` is the unregularized value of the soft-optimal policy.
    """
    return _log_actions_term(alpha, gamma, n_actions)


def cliff_tv_jump(m: int) -> float:
    """Prop 2.10: the uniform-over-argmax policy jumps by ``(m - 1)/m >= ½`` at an m-way tie."""
    if not isinstance(m, numbers.Integral) or m < 2:
        raise ValueError(f"m must be an integer >= 2 (the size of a tie); got {m!r}")
    return (m - 1) / m


def _log_actions_term(alpha: float, gamma: float, n_actions: int) -> float:
    if not isinstance(n_actions, numbers.Integral) or n_actions < 1:
        raise ValueError(f"n_actions must be a positive integer; got {n_actions!r}")
    return check_positive("alpha", alpha) * math.log(n_actions) / (1.0 - check_gamma(gamma))


def incomplete_reward_regret_lower_bound(advantage: float, reach_probability: float) -> float:
    """Prop 3.1, quantified [derived]: ``V*_true(mu) - V^{pi_train}_true(mu) >= mu(s0) * A``.

    If ``pi_train`` is optimal for ``R_train``, ``a2`` is tied with its choice at ``s0`` and the
    missing reward gives ``a2`` the advantage ``A = A^{pi_train}_{R_missing}(s0, a2) > 0``, policy
    improvement at ``s0`` gains at least ``A`` there; weighting by ``mu(s0)`` (the probability
    that the start distribution is ``s0``) lower-bounds the regret for ``R_true``.
    """
    a = check_nonnegative("advantage", advantage)
    p = check_nonnegative("reach_probability", reach_probability)
    if p > 1.0:
        raise ValueError(f"reach_probability must be in [0, 1]; got {reach_probability!r}")
    return a * p
