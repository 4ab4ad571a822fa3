"""Tabular OGSRL (trainers.ogsrl): estimated CMDP, guardian, budget."""

from __future__ import annotations

import numpy as np
import pytest

from theory import policy_value
from trainers.ogsrl import OGSRLConfig, empirical_cmdp, support_mask, train_ogsrl
from trainers.safe_tasks import behaviour_policy, collect_dataset, hazard_gridworld, model_dataset


def test_empirical_model_of_the_model_dataset_is_the_task():
    task = hazard_gridworld(slip=0.2)
    mdp, cost = empirical_cmdp(model_dataset(task), 0.9)
    np.testing.assert_allclose(mdp.P, task.mdp.P, atol=1e-12)
    np.testing.assert_allclose(mdp.R, task.mdp.R, atol=1e-12)
    np.testing.assert_allclose(cost, task.cost, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("budget", [0.0, 0.05, 0.5])
def test_solution_meets_the_budget_and_uses_supported_actions_only(seed, budget):
    task = hazard_gridworld()
    data = collect_dataset(task, behaviour_policy(task, 0.6), episodes=30, seed=seed)
    res = train_ogsrl(data, task.initial, budget, OGSRLConfig(min_count=2))
    assert res.success
    np.testing.assert_array_equal(res.support, data.counts() >= 2)
    assert res.solution.cost_value <= budget + 1e-9
    occ = res.solution.occupancy
    assert np.all(occ[~res.support] <= 1e-12)
    reached = occ.sum(axis=1) > 1e-12
    assert np.all(res.policy[reached][~res.support[reached]] == 0.0)
    # the estimated cost is the policy's own in the estimated CMDP
    est = task.initial @ policy_value(res.model.with_reward(res.cost), res.policy)
    assert abs(est - res.solution.cost_value) <= 1e-7


def test_zero_budget_on_the_exact_model_never_violates():
    task = hazard_gridworld()
    res = train_ogsrl(model_dataset(task), task.initial, 0.0)
    true_cost = task.initial @ policy_value(task.mdp.with_reward(task.cost), res.policy)
    assert res.success and abs(true_cost) <= 1e-9


def test_ood_budget_relaxes_the_guardian_monotonically():
    task = hazard_gridworld()
    data = collect_dataset(task, behaviour_policy(task, 0.3), episodes=20, seed=0)
    values = [
        train_ogsrl(data, task.initial, 0.1, OGSRLConfig(min_count=3, ood_budget=b)).solution
        for b in (0.0, 0.2, 1.0)
    ]
    assert all(v.success for v in values)
    assert values[0].value <= values[1].value + 1e-9 <= values[2].value + 2e-9
    off = ~support_mask(data, 3)
    assert (values[1].occupancy * off).sum() <= 0.2 + 1e-9
