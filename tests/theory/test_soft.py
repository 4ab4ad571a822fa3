"""Tests of :mod:`theory.soft`: entropy- and KL-regularized policies (Xu 2025, Prop 4.7, §3.3).

Claims policy-cliff/soft-contraction, prop-4.7, prop-4.7-tight, soft-hard-gap, soft-regret,
temperature-limit, kl-limit and kl-lipschitz, with closed forms as references: bandits
(gamma = 0), the two-absorbing-state construction attaining Prop 4.7 (d_TV = tanh(delta/(alpha(1-gamma)))/2)
and the uneven-branching MDP of temperature-limit (ratio 2^(gamma/(1-gamma))).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logsumexp

from tests.theory._reference import (
    CHEAP_PROPERTY,
    PROPERTY,
    VI_ATOL,
    evaluate,
    sigmoid,
    soft_backup,
)
from theory import (
    ConvergenceError,
    TabularMDP,
    kl_regularized_bandit_policy,
    max_total_variation,
    optimal_q,
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
    total_variation,
    uniform_argmax_policy,
)
from theory.strategies import mdps, probability_vectors, reward_perturbations

ALPHAS = st.sampled_from([0.05, 0.1, 0.3, 1.0, 3.0])


@st.composite
def soft_case(draw, *, with_reference: bool = False):
    """(mdp, dR, alpha, reference) with ||dR||_inf <= 1."""
    mdp = draw(mdps())
    dR = draw(reward_perturbations(shape=(mdp.n_states, mdp.n_actions)))
    alpha = draw(ALPHAS)
    reference = None
    if with_reference:
        rows = [draw(probability_vectors(size=mdp.n_actions)) for _ in range(mdp.n_states)]
        reference = np.array(rows)
    return mdp, dR, alpha, reference


def _bandit(rewards) -> TabularMDP:
    r = np.atleast_2d(np.asarray(rewards, dtype=float))
    return TabularMDP(np.ones((1, r.shape[1], 1)), r, 0.0)


def _two_branches(gamma: float) -> TabularMDP:
    """s0: a0 -> s1, a1 -> s2; s1 and s2 absorbing (both actions self-loop); R = 0 (attains Prop 4.7)."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[0, 1, 2] = 1.0
    P[1, :, 1] = P[2, :, 2] = 1.0
    return TabularMDP(P, np.zeros((3, 2)), gamma)


def _tight_perturbation(delta: float) -> np.ndarray:
    """+delta on (s0, a0) and on s1, -delta on (s0, a1) and on s2 (attains Prop 4.7)."""
    return np.array([[delta, -delta], [delta, delta], [-delta, -delta]])


# --- the soft policy itself ------------------------------------------------------------------


@CHEAP_PROPERTY
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=6), ALPHAS)
def test_soft_value_matches_scipy_logsumexp(q, alpha):
    q = np.array(q)
    assert soft_value(q, alpha) == pytest.approx(alpha * logsumexp(q / alpha), rel=1e-12, abs=1e-12)


def test_soft_value_is_stable_for_large_logits():
    assert soft_value(np.array([1000.0, 1000.0]), 0.01) == pytest.approx(1000.0 + 0.01 * np.log(2))


@PROPERTY
@given(soft_case(with_reference=True), st.booleans())
def test_soft_q_is_the_fixed_point_of_the_soft_bellman_operator(case, use_reference):
    mdp, _, alpha, ref = case
    ref = ref if use_reference else None
    result = soft_value_iteration(mdp, alpha, ref)
    assert result.success, result.message
    residual = soft_backup(mdp.P, mdp.R, mdp.gamma, result.q, alpha, ref) - result.q
    assert np.max(np.abs(residual)) <= 2 * result.error_bound + 1e-12
    residual = soft_bellman_operator(mdp, result.q, alpha, ref) - result.q
    assert np.max(np.abs(residual)) <= 2 * result.error_bound + 1e-12


@PROPERTY
@given(soft_case(with_reference=True), st.booleans())
def test_soft_policy_value_with_entropy_reward_equals_soft_value(case, use_reference):
    # Independent check: evaluate pi with the regularized reward R - alpha log(pi / pi_ref) by one
    # linear solve; the result must be the soft value alpha log sum_a pi_ref exp(Q / alpha).
    mdp, _, alpha, ref = case
    ref = ref if use_reference else None
    q = soft_optimal_q(mdp, alpha, ref)
    pi = soft_optimal_policy(mdp, alpha, ref)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, atol=1e-12)
    ref_full = np.ones_like(pi) if ref is None else ref
    support = pi > 0
    assert np.array_equal(support, ref_full > 0)  # KL keeps pi inside the reference's support
    log_ratio = np.zeros_like(pi)
    log_ratio[support] = np.log(pi[support] / ref_full[support])
    v = evaluate(mdp.P, mdp.R - alpha * log_ratio, mdp.gamma, pi)
    b = None if ref is None else ref_full
    np.testing.assert_allclose(v, alpha * logsumexp(q / alpha, axis=1, b=b), atol=1e-7)


@PROPERTY
@given(soft_case(), st.integers(0, 2**32 - 1))
def test_soft_policy_maximizes_the_regularized_objective(case, seed):
    mdp, _, alpha, _ = case
    pi = soft_optimal_policy(mdp, alpha)

    def regularized_value(policy):
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.where(policy > 0, policy * np.log(policy), 0.0).sum(axis=1)
        # entropy bonus folded into the reward of every action of the state
        return evaluate(mdp.P, mdp.R + alpha * ent[:, None], mdp.gamma, policy)

    best = regularized_value(pi)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        other = rng.dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)
        assert np.all(regularized_value(other) <= best + 1e-7)


@pytest.mark.parametrize("alpha", [0.1, 1.0])
def test_bandit_soft_policy_is_softmax_of_rewards(alpha):
    r = np.array([1.0, 0.0, -0.5])
    expected = np.exp(r / alpha) / np.exp(r / alpha).sum()
    np.testing.assert_allclose(soft_optimal_policy(_bandit(r), alpha)[0], expected, atol=1e-14)


def test_docstring_example_bandit():
    pi = soft_optimal_policy(_bandit([1.0, 0.0]), alpha=1.0)
    np.testing.assert_allclose(pi, [[sigmoid(1.0), sigmoid(-1.0)]], atol=1e-14)


def test_batch_rewards_match_individual_policies():
    mdp = _two_branches(0.7)
    batch = np.random.default_rng(3).normal(size=(4, 3, 2))
    pis = soft_optimal_policy(mdp, 0.5, rewards=batch)
    assert pis.shape == (4, 3, 2)
    for i in range(4):
        np.testing.assert_allclose(
            pis[i], soft_optimal_policy(mdp.with_reward(batch[i]), 0.5), atol=1e-9
        )


# --- soft-contraction: the soft Bellman operator is a gamma-contraction --------------------------------


@PROPERTY
@given(soft_case(with_reference=True), st.integers(0, 2**32 - 1), st.booleans())
def test_soft_contraction_soft_operator_contracts_random_q_pairs(case, seed, use_reference):
    mdp, _, alpha, ref = case
    ref = ref if use_reference else None
    rng = np.random.default_rng(seed)
    q1 = rng.normal(scale=3.0, size=(mdp.n_states, mdp.n_actions))
    q2 = q1 + rng.normal(scale=rng.choice([1e-3, 1.0, 10.0]), size=q1.shape)
    t1 = soft_bellman_operator(mdp, q1, alpha, ref)
    t2 = soft_bellman_operator(mdp, q2, alpha, ref)
    # the operator agrees with an implementation on scipy's logsumexp
    np.testing.assert_allclose(t1, soft_backup(mdp.P, mdp.R, mdp.gamma, q1, alpha, ref), atol=1e-10)
    lhs = np.max(np.abs(t1 - t2))
    assert lhs <= mdp.gamma * np.max(np.abs(q1 - q2)) * (1 + 1e-12) + 1e-12


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9])
def test_soft_contraction_contraction_is_attained_by_a_constant_shift(gamma):
    # T(Q + c) = T(Q) + gamma c exactly: the contraction factor gamma cannot be improved.
    mdp = _two_branches(gamma)
    q = np.array([[0.3, -1.0], [2.0, 0.5], [0.0, 0.0]])
    c = 0.7
    diff = soft_bellman_operator(mdp, q + c, 0.5) - soft_bellman_operator(mdp, q, 0.5)
    np.testing.assert_allclose(diff, gamma * c, atol=1e-14)


def test_soft_contraction_soft_operator_accepts_a_batch_of_q():
    mdp = _two_branches(0.5)
    qs = np.random.default_rng(0).normal(size=(4, 3, 2))
    out = soft_bellman_operator(mdp, qs, 0.3)
    assert out.shape == (4, 3, 2)
    np.testing.assert_allclose(out[2], soft_bellman_operator(mdp, qs[2], 0.3), atol=1e-15)


# --- prop-4.7: Prop 4.7, d_TV <= ||dR|| / (2 alpha (1 - gamma)) --------------------------------


@PROPERTY
@given(soft_case())
def test_prop_4_7_soft_policy_tv_bound_random_mdps(case):
    mdp, dR, alpha, _ = case
    r0 = soft_value_iteration(mdp, alpha)
    r1 = soft_value_iteration(mdp, alpha, rewards=mdp.R + dR)
    assert r0.success and r1.success
    tv = max_total_variation(
        soft_optimal_policy(mdp, alpha), soft_optimal_policy(mdp, alpha, rewards=mdp.R + dR)
    )
    dist = reward_distance(mdp.R + dR, mdp.R)
    # solver slack: each policy's logits are off by <= tol/alpha
    assert tv <= soft_policy_tv_bound(dist, alpha, mdp.gamma) + 2e-10 / alpha
    # span refinement [derived]: never worse, and also valid
    span_bound = soft_policy_tv_span_bound(reward_span(dR), alpha, mdp.gamma)
    assert span_bound <= soft_policy_tv_bound(dist, alpha, mdp.gamma) + 1e-15
    assert tv <= span_bound + 2e-10 / alpha


@pytest.mark.parametrize("alpha", [0.1, 1.0])
def test_prop_4_7_bandit_closed_form(alpha):
    # gamma = 0, R = (0, 0), dR = (d, -d): d_TV = tanh(d/alpha)/2 <= d/(2 alpha).
    d = 0.05
    pi0 = soft_optimal_policy(_bandit([0.0, 0.0]), alpha)
    pi1 = soft_optimal_policy(_bandit([d, -d]), alpha)
    tv = max_total_variation(pi0, pi1)
    assert tv == pytest.approx(np.tanh(d / alpha) / 2, abs=1e-15)
    assert tv <= soft_policy_tv_bound(d, alpha, 0.0)


# --- prop-4.7-tight: Prop 4.7 is tight ----------------------------------------------------


@PROPERTY
@given(st.floats(0.0, 0.95), st.floats(0.05, 3.0), st.floats(1e-4, 1.0))
def test_prop_4_7_tight_tight_construction_matches_tanh_closed_form(gamma, alpha, x):
    # With u = delta / (alpha (1 - gamma)) the soft Q at s0 moves by +-alpha u, so
    # d_TV = tanh(u)/2 and the ratio to the bound u/2 is tanh(u)/u -> 1 as u -> 0.
    delta = x * alpha * (1 - gamma)
    mdp = _two_branches(gamma)
    pi0 = soft_optimal_policy(mdp, alpha)
    pi1 = soft_optimal_policy(mdp, alpha, rewards=_tight_perturbation(delta))
    tv = total_variation(pi0, pi1)
    assert tv[1] == pytest.approx(0.0, abs=1e-12) and tv[2] == pytest.approx(0.0, abs=1e-12)
    assert tv[0] == pytest.approx(np.tanh(x) / 2, abs=1e-9 / alpha)
    ratio = tv[0] / soft_policy_tv_bound(delta, alpha, gamma)
    assert ratio <= 1 + 1e-8
    assert ratio == pytest.approx(np.tanh(x) / x, abs=1e-8 / (alpha * x))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
def test_prop_4_7_tight_construction_ratio(gamma):
    delta, alpha = 1e-4, 1.0
    mdp = _two_branches(gamma)
    assert reward_distance(_tight_perturbation(delta), mdp.R) == delta
    tv = max_total_variation(
        soft_optimal_policy(mdp, alpha),
        soft_optimal_policy(mdp, alpha, rewards=_tight_perturbation(delta)),
    )
    ratio = tv / soft_policy_tv_bound(delta, alpha, gamma)
    assert (
        0.9999 <= ratio <= 1 + 1e-9
    )  # closed form tanh(x)/x -> 1: 1.0000, 1.0000, 0.9999997, 0.99997


# --- γ → 1 scaling: gamma -> 1, the 1/(1-gamma) sensitivity is attained ----------------------------


@PROPERTY
@given(st.floats(0.9, 0.995))
def test_gamma_to_one_soft_sensitivity_scales_as_one_over_one_minus_gamma(gamma):
    # A fixed reward budget delta moves the policy by ~ delta / (2 alpha (1 - gamma)).
    delta, alpha = 1e-5, 1.0
    mdp = _two_branches(gamma)
    tv = max_total_variation(
        soft_optimal_policy(mdp, alpha),
        soft_optimal_policy(mdp, alpha, rewards=_tight_perturbation(delta)),
    )
    assert tv * (1 - gamma) == pytest.approx(delta / (2 * alpha), rel=1e-3)


@pytest.mark.parametrize("gamma", [0.9, 0.99, 0.999])
def test_gamma_to_one_bound_attained_as_gamma_tends_to_one(gamma):
    alpha = 1.0
    delta = 1e-3 * alpha * (1 - gamma)  # u = 1e-3: ratio tanh(u)/u = 1 - 3e-7
    mdp = _two_branches(gamma)
    tol = 1e-11 / (1 - gamma)  # |Q| ~ alpha log 2 / (1 - gamma): float64 cannot certify less
    r0 = soft_value_iteration(mdp, alpha, tol=tol)
    assert r0.success
    tv = max_total_variation(
        soft_optimal_policy(mdp, alpha, tol=tol),
        soft_optimal_policy(mdp, alpha, rewards=_tight_perturbation(delta), tol=tol),
    )
    assert tv / soft_policy_tv_bound(delta, alpha, gamma) >= 0.9999
    # and the solver needed ~ log(1/tol)/(1 - gamma) backups
    assert r0.nit >= 10 / (1 - gamma)


# --- soft-hard-gap / soft-regret: tau -> 0, soft values approach hard ones, the cliff reappears -------------------


@PROPERTY
@given(mdps(), st.sampled_from([1.0, 0.1, 0.01]))
def test_soft_hard_gap_soft_hard_value_gap_random_mdps(mdp, tau):
    gap = soft_optimal_q(mdp, tau) - optimal_q(mdp)
    assert gap.min() >= -VI_ATOL
    assert gap.max() <= soft_hard_value_gap_bound(tau, mdp.gamma, mdp.n_actions) + VI_ATOL


@PROPERTY
@given(mdps(), st.sampled_from([1.0, 0.1, 0.01]))
def test_soft_hard_gap_soft_policy_regret_random_mdps(mdp, tau):
    # [derived] 0 <= V* - V^{pi_tau} <= tau log|A| / (1 - gamma), unregularized values.
    v_star = optimal_q(mdp).max(axis=1)
    v_soft = evaluate(mdp.P, mdp.R, mdp.gamma, soft_optimal_policy(mdp, tau))
    regret = v_star - v_soft
    assert regret.min() >= -VI_ATOL
    assert regret.max() <= soft_policy_regret_bound(tau, mdp.gamma, mdp.n_actions) + VI_ATOL


def test_soft_hard_gap_gap_bound_attained_on_identical_actions():
    # Every action identical: Q*_tau - Q* = gamma tau log|A| / (1 - gamma) exactly.
    mdp = TabularMDP(np.ones((1, 3, 1)), np.zeros((1, 3)), 0.5)
    gap = soft_optimal_q(mdp, 0.1) - optimal_q(mdp)
    np.testing.assert_allclose(gap, soft_hard_value_gap_bound(0.1, 0.5, 3), atol=1e-9)


@pytest.mark.parametrize("tau", [1.0, 0.1, 0.01])
@pytest.mark.parametrize("eps", [0.1, 0.01])
def test_soft_hard_gap_bandit_cliff_reappears_as_tau_tends_to_zero(tau, eps):
    tv = max_total_variation(
        soft_optimal_policy(_bandit([0.0, 0.0]), tau), soft_optimal_policy(_bandit([0.0, eps]), tau)
    )
    assert tv == pytest.approx(abs(sigmoid(eps / tau) - 0.5), abs=1e-14)
    assert tv <= soft_policy_tv_bound(eps, tau, 0.0)


def test_soft_hard_gap_bandit_cliff_limit_is_one_half():
    tvs = [
        max_total_variation(
            soft_optimal_policy(_bandit([0.0, 0.0]), tau),
            soft_optimal_policy(_bandit([0.0, 0.1]), tau),
        )
        for tau in (1.0, 0.1, 0.01)
    ]
    assert tvs[0] < tvs[1] < tvs[2]
    assert tvs[0] == pytest.approx(0.02498, abs=1e-5)
    assert tvs[2] == pytest.approx(0.5, abs=1e-4)


# --- temperature-limit: tau -> 0 is not uniform over the argmax in MDPs --------------------------------


def _uneven_branches(gamma: float, tau: float) -> TabularMDP:
    """s0: a0 -> s1, a1 -> s2. s1 has one usable action (a1 costs 60 tau, so its weight
    e^-60 ~ 1e-26 is invisible), s2 has two self-loop actions. R = 0 otherwise."""
    mdp = _two_branches(gamma)
    R = np.zeros((3, 2))
    R[1, 1] = -60.0 * tau
    return mdp.with_reward(R)


@PROPERTY
@given(st.floats(0.0, 0.9), st.sampled_from([1.0, 0.1, 0.01]))
def test_temperature_limit_soft_policy_ratio_is_two_to_gamma_over_one_minus_gamma(gamma, tau):
    # V(s1) = 0, V(s2) = tau log 2 / (1 - gamma), so pi(a1)/pi(a0) = exp(gamma V(s2)/tau).
    mdp = _uneven_branches(gamma, tau)
    pi = soft_optimal_policy(mdp, tau, tol=1e-12)
    expected = 2.0 ** (gamma / (1 - gamma))
    assert pi[0, 1] / pi[0, 0] == pytest.approx(expected, rel=1e-8)


@PROPERTY
@given(st.floats(0.0, 0.9), st.sampled_from([1.0, 0.1, 0.01]))
def test_temperature_limit_with_state_dependent_action_sets(gamma, tau):
    # The same MDP with s1's second action removed by `available` instead of a penalty.
    mdp = _two_branches(gamma)
    available = np.array([[True, True], [True, False], [True, True]])
    pi = soft_optimal_policy(mdp, tau, available=available, tol=1e-12)
    assert pi[1].tolist() == [1.0, 0.0]
    assert pi[0, 1] / pi[0, 0] == pytest.approx(2.0 ** (gamma / (1 - gamma)), rel=1e-8)
    q = soft_optimal_q(mdp, tau, available=available, tol=1e-12)
    # V(s1) = 0 and V(s2) = tau log 2 / (1 - gamma)
    assert q[0, 0] == pytest.approx(0.0, abs=1e-10)
    assert q[0, 1] == pytest.approx(gamma * tau * np.log(2) / (1 - gamma), abs=1e-10)


@pytest.mark.parametrize("tau", [1.0, 0.1, 0.01])
def test_temperature_limit_ratio_two_at_gamma_one_half_for_every_tau(tau):
    mdp = _uneven_branches(0.5, tau)
    pi = soft_optimal_policy(mdp, tau, tol=1e-12)
    assert round(pi[0, 1] / pi[0, 0], 3) == 2.000
    # the hard problem ties at s0; its uniform-argmax policy has ratio 1, not 2
    q_hard = optimal_q(mdp)
    np.testing.assert_array_equal(uniform_argmax_policy(q_hard)[0], [0.5, 0.5])
    assert pi[0, 1] == pytest.approx(2 / 3, abs=1e-8)


# --- kl-limit / kl-lipschitz: KL-regularized policies (closed form, limits, Lipschitz) -----------------------


def test_kl_bandit_closed_form_example():
    pi = kl_regularized_bandit_policy([1, 1, 0.5, 1], [0.1, 0.3, 0.4, 0.2], 0.01)
    np.testing.assert_allclose(pi, [1 / 6, 1 / 2, 0, 1 / 3], atol=1e-15)
    # beta -> 0 gives the reference conditioned on the argmax, not the uniform argmax policy
    uniform = uniform_argmax_policy(np.array([1, 1, 0.5, 1.0]))
    assert total_variation(pi, uniform) == pytest.approx(1 / 6, abs=1e-12)


def test_kl_bandit_large_beta_returns_the_reference():
    ref = np.array([0.1, 0.3, 0.4, 0.2])
    pi = kl_regularized_bandit_policy([1, 1, 0.5, 1], ref, 1e6)
    np.testing.assert_allclose(pi, ref, atol=1e-6)


def test_kl_mdp_at_gamma_zero_equals_bandit_closed_form():
    ref = np.array([0.1, 0.3, 0.4, 0.2])
    r = np.array([1.0, 1.0, 0.5, 1.0])
    for beta in (0.01, 0.3, 2.0):
        np.testing.assert_allclose(
            soft_optimal_policy(_bandit(r), beta, ref)[0],
            kl_regularized_bandit_policy(r, ref, beta),
            atol=1e-14,
        )


@st.composite
def bandit_case(draw):
    A = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    r = rng.uniform(-1, 1, size=A)
    return r, draw(probability_vectors(size=A)), draw(ALPHAS), rng


@CHEAP_PROPERTY
@given(
    st.integers(1, 6).flatmap(
        lambda A: st.tuples(st.just(A), probability_vectors(size=A, sparse=False))
    ),
    st.integers(0, 2**32 - 1),
)
def test_kl_bandit_small_beta_is_reference_conditioned_on_argmax(case, seed):
    # rewards on a grid of step 1/2 (ties likely, gaps >= 1/2); beta = 0.01 leaves e^-50 ~ 2e-22
    A, ref = case
    r = np.random.default_rng(seed).integers(0, 3, size=A) / 2
    top = r == r.max()
    expected = np.where(top, ref, 0.0) / ref[top].sum()
    # off-argmax mass <= e^{-gap/β} max(ref) / ref(argmax): tiny unless ref(argmax) is tiny
    atol = np.exp(-0.5 / 0.01) * ref.max() / ref[top].sum() + 1e-15
    np.testing.assert_allclose(kl_regularized_bandit_policy(r, ref, 0.01), expected, atol=atol)


@CHEAP_PROPERTY
@given(bandit_case())
def test_kl_bandit_closed_form_maximizes_objective(case):
    r, ref, beta, rng = case
    pi = kl_regularized_bandit_policy(r, ref, beta)

    def objective(p):
        s = p > 0
        return float(p @ r - beta * np.sum(p[s] * np.log(p[s] / ref[s])))

    # the optimum value is beta log sum ref exp(r / beta) (Donsker-Varadhan)
    assert objective(pi) == pytest.approx(beta * logsumexp(r / beta, b=ref), abs=1e-10)
    for _ in range(5):
        other = rng.dirichlet(np.ones(r.size)) * (ref > 0)
        other /= other.sum()
        assert objective(other) <= objective(pi) + 1e-12


@CHEAP_PROPERTY
@given(bandit_case(), st.integers(0, 2**32 - 1))
def test_kl_bandit_tv_bound(case, seed):
    r, ref, beta, _ = case
    dr = np.random.default_rng(seed).uniform(-1, 1, size=r.size)
    tv = total_variation(
        kl_regularized_bandit_policy(r, ref, beta), kl_regularized_bandit_policy(r + dr, ref, beta)
    )
    assert tv <= soft_policy_tv_bound(np.max(np.abs(dr)), beta, 0.0) + 1e-15


@PROPERTY
@given(soft_case(with_reference=True))
def test_kl_mdp_tv_bound_random_mdps(case):
    mdp, dR, beta, ref = case
    tv = max_total_variation(
        soft_optimal_policy(mdp, beta, ref),
        soft_optimal_policy(mdp, beta, ref, rewards=mdp.R + dR),
    )
    assert (
        tv
        <= soft_policy_tv_bound(reward_distance(mdp.R + dR, mdp.R), beta, mdp.gamma) + 2e-10 / beta
    )


def test_kl_mdp_tight_construction():
    # With a uniform reference the KL problem is the entropy problem shifted by beta log|A|,
    # so the two-absorbing-state construction is tight for it too.
    gamma, beta, delta = 0.9, 0.5, 1e-5
    mdp = _two_branches(gamma)
    ref = np.array([0.5, 0.5])
    tv = max_total_variation(
        soft_optimal_policy(mdp, beta, ref),
        soft_optimal_policy(mdp, beta, ref, rewards=_tight_perturbation(delta)),
    )
    assert tv / soft_policy_tv_bound(delta, beta, gamma) == pytest.approx(1.0, abs=1e-4)


# --- non-convergence -------------------------------------------------------------------------


def test_soft_value_iteration_reports_failure_when_max_iter_too_small():
    result = soft_value_iteration(_two_branches(0.9), 1.0, max_iter=4)
    assert result.success is False and result.nit == 4
    assert "max_iter=4" in result.message


def test_soft_optimal_policy_raises_convergence_error_when_max_iter_too_small():
    with pytest.raises(ConvergenceError, match="soft_optimal_q"):
        soft_optimal_policy(_two_branches(0.9), 1.0, max_iter=4)


# --- one test per bad input ------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_alpha_raises(alpha):
    with pytest.raises(ValueError, match="alpha"):
        soft_optimal_policy(_bandit([1.0, 0.0]), alpha)


def test_reference_of_wrong_shape_raises():
    with pytest.raises(ValueError, match="reference must have shape"):
        soft_optimal_policy(_bandit([1.0, 0.0]), 1.0, reference=[1 / 3, 1 / 3, 1 / 3])


def test_reference_off_the_simplex_raises():
    with pytest.raises(ValueError, match="reference must sum to 1"):
        soft_optimal_policy(_bandit([1.0, 0.0]), 1.0, reference=[0.5, 0.4])


def test_negative_reference_raises():
    with pytest.raises(ValueError, match="reference must be non-negative"):
        soft_optimal_policy(_bandit([1.0, 0.0]), 1.0, reference=[1.5, -0.5])


def test_soft_zero_max_iter_raises():
    with pytest.raises(ValueError, match="max_iter"):
        soft_value_iteration(_bandit([1.0, 0.0]), 1.0, max_iter=0)


def test_soft_not_an_mdp_raises_type_error():
    with pytest.raises(TypeError, match="mdp"):
        soft_optimal_policy(np.zeros((1, 2)), 1.0)


@pytest.mark.parametrize("beta", [0.0, -0.5])
def test_kl_bandit_non_positive_beta_raises(beta):
    with pytest.raises(ValueError, match="beta"):
        kl_regularized_bandit_policy([1.0, 0.0], [0.5, 0.5], beta)


def test_kl_bandit_mismatched_reference_raises():
    with pytest.raises(ValueError, match="reference must have 2 actions"):
        kl_regularized_bandit_policy([1.0, 0.0], [0.2, 0.3, 0.5], 1.0)


def test_kl_bandit_reference_off_simplex_raises():
    with pytest.raises(ValueError, match="reference must sum to 1"):
        kl_regularized_bandit_policy([1.0, 0.0], [0.2, 0.3], 1.0)


def test_kl_bandit_scalar_rewards_raise():
    with pytest.raises(ValueError, match="rewards must have at least one dimension"):
        kl_regularized_bandit_policy(1.0, [1.0], 1.0)


def test_kl_bandit_scalar_reference_raises():
    with pytest.raises(ValueError, match="reference"):
        kl_regularized_bandit_policy([1.0], 1.0, 1.0)


def test_available_mask_of_wrong_shape_raises():
    with pytest.raises(ValueError, match="available must be a boolean array"):
        soft_optimal_policy(_bandit([1.0, 0.0]), 1.0, available=np.ones((1, 3), dtype=bool))


def test_available_mask_not_boolean_raises():
    with pytest.raises(ValueError, match="available must be a boolean array"):
        soft_optimal_policy(_bandit([1.0, 0.0]), 1.0, available=np.ones((1, 2)))


def test_state_without_available_action_raises():
    with pytest.raises(ValueError, match="state 0 has no action"):
        soft_optimal_policy(_bandit([1.0, 0.0]), 1.0, available=np.zeros((1, 2), dtype=bool))


def test_available_and_reference_disjoint_raises():
    with pytest.raises(ValueError, match="state 0 has no action"):
        soft_optimal_policy(
            _bandit([1.0, 0.0]), 1.0, [1.0, 0.0], available=np.array([[False, True]])
        )


def test_soft_bellman_operator_q_of_wrong_shape_raises():
    with pytest.raises(ValueError, match="q must have shape"):
        soft_bellman_operator(_two_branches(0.5), np.zeros((2, 2)), 1.0)


def test_soft_bellman_operator_bad_alpha_raises():
    with pytest.raises(ValueError, match="alpha"):
        soft_bellman_operator(_two_branches(0.5), np.zeros((3, 2)), 0.0)


@st.composite
def masked_case(draw):
    mdp = draw(mdps(min_actions=2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mask = rng.random((mdp.n_states, mdp.n_actions)) < 0.6
    mask[np.arange(mdp.n_states), rng.integers(mdp.n_actions, size=mdp.n_states)] = True
    return mdp, mask, draw(ALPHAS)


@PROPERTY
@given(masked_case())
def test_available_actions_restrict_the_log_sum_exp(case):
    # With 0/1 weights, scipy's logsumexp(b=mask) is the soft value over the available actions.
    mdp, mask, alpha = case
    result = soft_value_iteration(mdp, alpha, available=mask)
    assert result.success
    ref_backup = soft_backup(mdp.P, mdp.R, mdp.gamma, result.q, alpha, mask.astype(float))
    assert np.max(np.abs(ref_backup - result.q)) <= 2 * result.error_bound + 1e-12
    pi = soft_optimal_policy(mdp, alpha, available=mask)
    assert np.all(pi[~mask] == 0.0)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, atol=1e-12)


def test_soft_value_rejects_nonpositive_alpha():
    with pytest.raises(ValueError, match="alpha"):
        soft_value(np.zeros((2, 3)), 0.0)
