"""Tests of :mod:`theory.value_iteration`: Q* with a certified error (Xu 2025, §2.1, Prop 2.4).

References are independent: Q* by enumerating all deterministic policies and evaluating each
with a linear solve, and closed forms for bandits (gamma = 0) and one-state MDPs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.theory._reference import PROPERTY, VI_ATOL, brute_force_q
from theory import (
    ConvergenceError,
    TabularMDP,
    ValueIterationResult,
    optimal_q,
    q_lipschitz_bound,
    reward_distance,
    value_iteration,
)
from theory.strategies import mdps, reward_perturbations
from theory.value_iteration import ROUNDING_FACTOR


@st.composite
def mdp_and_perturbation(draw, **mdp_kwargs):
    mdp = draw(mdps(**mdp_kwargs))
    dR = draw(reward_perturbations(shape=(mdp.n_states, mdp.n_actions), max_norm=2.0))
    return mdp, dR


def _one_state(gamma: float, rewards=(1.0,)) -> TabularMDP:
    A = len(rewards)
    return TabularMDP(np.ones((1, A, 1)), np.array([rewards], dtype=float), gamma)


# --- correctness against independent references ---------------------------------------------


@PROPERTY
@given(mdps())
def test_optimal_q_matches_brute_force_over_deterministic_policies(mdp):
    result = value_iteration(mdp)
    assert result.success, result.message
    expected = brute_force_q(np.asarray(mdp.P), np.asarray(mdp.R), mdp.gamma)
    err = np.max(np.abs(result.q - expected))
    assert err <= VI_ATOL
    # the certificate is honest (up to float round-off in the iteration and the solves)
    assert err <= result.error_bound + 1e-11


@PROPERTY
@given(mdps(max_gamma=0.0))
def test_gamma_zero_gives_q_equal_to_reward_in_one_backup(mdp):
    result = value_iteration(mdp)
    assert result.success and result.nit == 1
    # the residual term vanishes; what remains is the floating-point allowance of one backup
    assert result.error_bound == pytest.approx(ROUNDING_FACTOR * np.max(np.abs(mdp.R)), abs=1e-300)
    np.testing.assert_array_equal(result.q, mdp.R)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9])
def test_one_state_closed_form(gamma):
    # Q*(a) = R(a) + gamma * max R / (1 - gamma)
    mdp = _one_state(gamma, (1.0, 0.25, -3.0))
    expected = np.array([[1.0, 0.25, -3.0]]) + gamma * 1.0 / (1.0 - gamma)
    np.testing.assert_allclose(optimal_q(mdp), expected, atol=1e-10)


def test_docstring_example():
    np.testing.assert_allclose(optimal_q(_one_state(0.5, (1.0, 0.0))), [[2.0, 1.0]], atol=1e-10)


def test_batch_rewards_match_individual_solves():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=(4, 3))
    mdp = TabularMDP(P, np.zeros((4, 3)), 0.8)
    batch = rng.normal(size=(2, 5, 4, 3))
    q = optimal_q(mdp, rewards=batch)
    assert q.shape == (2, 5, 4, 3)
    for i in range(2):
        for j in range(5):
            expected = brute_force_q(P, batch[i, j], 0.8)
            np.testing.assert_allclose(q[i, j], expected, atol=VI_ATOL)


def test_result_fields_and_summary():
    result = value_iteration(_one_state(0.5))
    assert isinstance(result, ValueIterationResult)
    assert result.success and result.message == "certified error below tol"
    assert result.tol == 1e-10 and result.error_bound <= 1e-10
    assert result.error_bound == pytest.approx(0.5 / 0.5 * result.residual)
    assert result.summary().startswith(f"converged after {result.nit} backups")


# --- prop-2.4: Prop 2.4 (Q* is 1/(1-gamma)-Lipschitz in R) -------------------------------------


@PROPERTY
@given(mdp_and_perturbation())
def test_prop_2_4_q_lipschitz_random_mdps(case):
    mdp, dR = case
    r0 = value_iteration(mdp)
    r1 = value_iteration(mdp, rewards=mdp.R + dR)
    assert r0.success and r1.success
    dq = np.max(np.abs(r1.q - r0.q))
    bound = q_lipschitz_bound(reward_distance(dR, 0 * dR), mdp.gamma)
    assert dq <= bound + r0.error_bound + r1.error_bound + 1e-12


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("c", [-0.3, 1.0])
def test_prop_2_4_equality_for_constant_shift(gamma, c):
    # Delta R == c shifts every entry of Q* by exactly c/(1-gamma): ratio 1, the bound is attained.
    rng = np.random.default_rng(1)
    mdp = TabularMDP(rng.dirichlet(np.ones(3), size=(3, 2)), rng.uniform(-0.1, 0.1, (3, 2)), gamma)
    # float64 cannot certify 1e-10 at gamma = 0.999 (round-off ~ 4 eps |Q| / (1 - gamma))
    tol = 1e-11 / (1 - gamma)
    dq = optimal_q(mdp, tol, rewards=mdp.R + c) - optimal_q(mdp, tol)
    np.testing.assert_allclose(dq, c / (1 - gamma), atol=3e-8)
    ratio = np.max(np.abs(dq)) / q_lipschitz_bound(abs(c), gamma)
    assert ratio == pytest.approx(1.0, abs=1e-8)


# --- γ → 1 scaling: gamma -> 1 needs an iteration budget ~ log(1/tol)/(1-gamma) ------------------


def _exact_backups(gamma: float, tol: float) -> int:
    # One state, one action, R = 1: Q_k = (1 - gamma^k)/(1 - gamma), residual gamma^(k-1), so the
    # certificate gamma/(1-gamma) * residual <= tol first holds at gamma^k <= tol (1 - gamma).
    return math.ceil(math.log(tol * (1 - gamma)) / math.log(gamma))


@PROPERTY
@given(st.floats(0.3, 0.99))
def test_gamma_to_one_backups_match_the_geometric_count(gamma):
    result = value_iteration(_one_state(gamma))
    assert result.success
    # the certificate must also absorb the floating-point allowance 4 eps |Q| / (1 - gamma)
    allowance = ROUNDING_FACTOR / (1 - gamma) ** 2
    k = _exact_backups(gamma, 1e-10 - allowance)
    assert k - 1 <= result.nit <= k + 1
    # the certificate is tight here (error = gamma/(1-gamma) residual exactly); float round-off
    # adds up to ~ ulp(1/(1-gamma)) / (1-gamma) on top of tol
    assert result.q[0, 0] == pytest.approx(1.0 / (1.0 - gamma), abs=1e-10 + 1e-11)


def test_gamma_to_one_iteration_budget_must_grow_with_gamma():
    nits, tol = [], 1e-8  # 1e-10 is below float64's allowance at gamma = 0.999, |Q| = 1000
    for gamma in (0.9, 0.99, 0.999):
        result = value_iteration(_one_state(gamma), tol=tol)
        assert result.success, result.message
        k = _exact_backups(gamma, tol)
        # never before the exact count; float round-off may only delay the certificate
        assert k - 1 <= result.nit <= 1.5 * k
        # ~ log(1/(tol (1-gamma))) / (1-gamma)
        assert result.nit * (1 - gamma) == pytest.approx(math.log(1 / (tol * (1 - gamma))), rel=0.1)
        nits.append(result.nit)
        # a fixed budget that suffices at gamma = 0.9 fails for larger gamma
        fixed = value_iteration(_one_state(gamma), tol=tol, max_iter=300)
        assert fixed.success is (gamma == 0.9)
    assert nits[0] < nits[1] < nits[2]
    assert nits[2] > 100 * nits[0]


# --- non-convergence is data, and an exception for optimal_q ---------------------------------


def test_value_iteration_reports_failure_when_max_iter_too_small():
    result = value_iteration(_one_state(0.9), max_iter=5)
    assert result.success is False
    assert result.nit == 5
    assert "max_iter=5" in result.message
    assert result.error_bound > result.tol
    # the reported numbers are those of the fifth iterate
    assert result.q[0, 0] == pytest.approx((1 - 0.9**5) / 0.1)
    assert result.residual == pytest.approx(0.9**4)
    assert result.error_bound == pytest.approx(9.0 * 0.9**4)
    assert result.summary().startswith("NOT converged after 5 backups")


def test_optimal_q_raises_convergence_error_when_max_iter_too_small():
    with pytest.raises(ConvergenceError, match="max_iter=3"):
        optimal_q(_one_state(0.9), max_iter=3)


def test_convergence_error_is_a_runtime_and_a_value_error():
    assert issubclass(ConvergenceError, RuntimeError)
    assert issubclass(ConvergenceError, ValueError)


# --- one test per bad input ------------------------------------------------------------------


@pytest.mark.parametrize("tol", [0.0, -1e-3, float("nan")])
def test_non_positive_tol_raises(tol):
    with pytest.raises(ValueError, match="tol"):
        value_iteration(_one_state(0.5), tol=tol)


def test_zero_max_iter_raises():
    with pytest.raises(ValueError, match="max_iter"):
        value_iteration(_one_state(0.5), max_iter=0)


def test_rewards_of_wrong_shape_raise():
    with pytest.raises(ValueError, match="rewards must have shape"):
        optimal_q(_one_state(0.5, (1.0, 0.0)), rewards=np.zeros((3, 1, 3)))


def test_non_finite_rewards_raise():
    with pytest.raises(ValueError, match="rewards must be finite"):
        optimal_q(_one_state(0.5), rewards=np.array([[np.inf]]))


def test_not_an_mdp_raises_type_error():
    with pytest.raises(TypeError, match="mdp must be a TabularMDP"):
        value_iteration((np.ones((1, 1, 1)), np.zeros((1, 1)), 0.5))


def test_tolerance_below_the_rounding_allowance_is_reported_not_claimed():
    # |Q| = 1/(1 - gamma) = 1000: round-off alone is ~ 4 eps 1000 / 0.001 ~ 1e-9 > tol.
    mdp = TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), 0.999)
    res = value_iteration(mdp, tol=1e-12, max_iter=100_000)
    assert not res.success
    assert "floating-point allowance" in res.message
    assert res.error_bound > 1e-12
    with pytest.raises(ConvergenceError):
        optimal_q(mdp, tol=1e-12, max_iter=100_000)
    assert value_iteration(mdp, tol=1e-8).success


# --- an unreachable tolerance is refused at once ---------------------------------------------


@pytest.mark.parametrize("gamma", [0.9999, 0.99999])
def test_unreachable_tol_near_gamma_one_is_refused_at_once(gamma):
    import time

    start = time.perf_counter()
    with pytest.raises(ConvergenceError, match="tol") as info:
        optimal_q(_one_state(gamma))
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    assert "max_iter" in message and "achievable tol" in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(ConvergenceError, match="max_iter"):
        value_iteration(_one_state(gamma))


def test_the_achievable_tol_of_the_refusal_is_accepted():
    # gamma^cap * r_1 / (1 - gamma) with r_1 = 1: the suggested tolerance is certified
    from theory.value_iteration import MAX_ITER_CAP, achievable_tol

    gamma = 0.9999
    tol = 1.01 * achievable_tol(gamma, 1.0, MAX_ITER_CAP)
    result = value_iteration(_one_state(gamma), tol=tol)
    assert result.success and result.status == 0
    assert result.error_bound <= tol
    assert result.nit <= MAX_ITER_CAP


def test_status_codes():
    assert value_iteration(_one_state(0.9)).status == 0
    assert value_iteration(_one_state(0.9), max_iter=5).status == 1
