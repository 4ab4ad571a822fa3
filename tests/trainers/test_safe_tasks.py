"""The hazard gridworld, its safe and behaviour policies, and offline datasets."""

from __future__ import annotations

import numpy as np

from theory import policy_value
from theory.safety import violation_probability
from trainers.safe_tasks import (
    behaviour_policy,
    collect_dataset,
    drop_transitions,
    hazard_gridworld,
    safe_policy,
)


def test_safe_policy_never_violates_and_the_shortcut_is_risky():
    task = hazard_gridworld()
    start = int(task.initial.argmax())
    p = violation_probability(task.mdp, safe_policy(task), task.cost)
    assert p[start] == 0.0
    right = np.zeros_like(task.cost)
    right[:, 1] = 1.0  # straight along the ice
    assert violation_probability(task.mdp, right, task.cost)[start] > 0.3
    # the safe route is 9 steps: reward 0.9^8 on arrival
    assert abs(policy_value(task.mdp, safe_policy(task))[start] - 0.9**8) < 1e-12


def test_dataset_is_seeded_and_consistent_with_the_task():
    task = hazard_gridworld()
    mu = behaviour_policy(task, 0.5)
    a, b = collect_dataset(task, mu, seed=4), collect_dataset(task, mu, seed=4)
    np.testing.assert_array_equal(a.next_states, b.next_states)
    assert not np.array_equal(a.actions, collect_dataset(task, mu, seed=5).actions)
    assert np.all(task.mdp.P[a.states, a.actions, a.next_states] > 0)
    np.testing.assert_array_equal(a.costs, task.cost[a.states, a.actions])
    assert len(drop_transitions(a, 0.25, seed=1)) == len(a) - round(0.25 * len(a))
