"""Tabular FISOR (trainers.fisor): fitted values against exact ones, zero violations inside."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from theory import TabularMDP
from theory.safety import reachability_value, violation_probability
from trainers.fisor import FISORConfig, expectile, fit_feasibility_value, train_fisor
from trainers.safe_tasks import (
    OfflineDataset,
    behaviour_policy,
    collect_dataset,
    hazard_gridworld,
    model_dataset,
)


@pytest.mark.parametrize("tau", [0.05, 0.3, 0.5, 0.9])
def test_expectile_minimises_the_asymmetric_square_loss(tau):
    rng = np.random.default_rng(int(tau * 100))
    x, w = rng.normal(size=5), rng.uniform(0.1, 1, 5)
    loss = lambda v: float(np.sum(w * np.abs(tau - (x < v)) * (x - v) ** 2))  # noqa: E731
    ref = minimize_scalar(
        loss, bounds=(x.min(), x.max()), method="bounded", options={"xatol": 1e-12}
    ).x
    assert abs(expectile(x[None], w[None], tau)[0] - ref) < 1e-6


def test_expectile_limits_are_the_in_sample_min_and_max():
    x, w = np.array([[3.0, -1.0, 2.0]]), np.array([[1.0, 0.0, 2.0]])  # -1 has no weight
    assert expectile(x, w, 0.0)[0] == 2.0 and expectile(x, w, 1.0)[0] == 3.0
    assert 2.0 < expectile(x, w, 1e-3)[0] < 2.01


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["discounted", "worst"])
def test_fitted_value_equals_exact_with_full_coverage_and_deterministic_dynamics(seed, mode):
    rng = np.random.default_rng(seed)
    S, A = 5, 3
    P = np.eye(S)[rng.integers(S, size=(S, A))]
    cost = (rng.random((S, A)) < 0.3).astype(float)
    mdp = TabularMDP(P, np.zeros((S, A)), 0.8)
    s, a = np.divmod(np.arange(S * A), A)
    data = OfflineDataset(s, a, np.zeros(S * A), cost[s, a], P[s, a].argmax(axis=1), S, A)
    q_h, v_h, err = fit_feasibility_value(data, FISORConfig(gamma_h=0.8, feasibility=mode))
    exact = reachability_value(mdp, cost, mode=mode)
    np.testing.assert_allclose(q_h, exact.q, atol=1e-9)
    np.testing.assert_allclose(v_h, exact.v, atol=1e-9)
    assert err <= 1e-9


@pytest.mark.parametrize("slip", [0.1, 0.2])
def test_fitted_value_equals_exact_on_the_model_dataset(slip):
    task = hazard_gridworld(slip=slip)
    q_h, _, _ = fit_feasibility_value(model_dataset(task), FISORConfig(gamma_h=0.9))
    np.testing.assert_allclose(
        q_h, reachability_value(task.mdp, task.cost, mode="discounted", gamma=0.9).q, atol=1e-8
    )


@pytest.mark.parametrize(
    "config",
    [FISORConfig(), FISORConfig(feasibility="worst"), FISORConfig(alpha_r=10.0, alpha_h=0.1)],
)
def test_zero_violations_from_the_feasible_region_on_the_exact_task(config):
    task = hazard_gridworld(slip=0.2)
    res = train_fisor(model_dataset(task), config)
    p = violation_probability(task.mdp, res.policy, task.cost)
    assert res.success and res.feasible.any()
    assert np.all(p[res.feasible] == 0.0)
    np.testing.assert_array_equal(res.feasible, reachability_value(task.mdp, task.cost).feasible)


def test_policy_is_the_weighted_behaviour_policy():
    task = hazard_gridworld()
    data = collect_dataset(task, behaviour_policy(task, 0.5), episodes=30, seed=3)
    res = train_fisor(data)
    seen = res.seen
    target = res.behaviour * res.weights
    target = target[seen] / target[seen].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(res.policy[seen], target, atol=1e-12)
    np.testing.assert_allclose(res.policy.sum(axis=1), 1.0)
    inside = res.feasible & seen
    assert np.all(res.policy[inside][res.q_h[inside] > 0] == 0.0)  # only feasible actions inside
    assert np.all(res.weights <= FISORConfig().max_weight * (1 + 1e-12))


def test_training_is_deterministic_given_the_dataset_seed():
    task = hazard_gridworld()
    a = train_fisor(collect_dataset(task, behaviour_policy(task, 0.5), episodes=20, seed=7))
    b = train_fisor(collect_dataset(task, behaviour_policy(task, 0.5), episodes=20, seed=7))
    np.testing.assert_array_equal(a.policy, b.policy)
