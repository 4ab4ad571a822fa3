"""The synthetic treatment task (a toy stand-in for Sukovic & Radanovic 2024, §5)."""

from __future__ import annotations

import numpy as np

from theory.treatment import state_features, treatment_task


def test_state_features_are_the_bits():
    X = state_features(3)
    assert X.shape == (8, 3)
    assert np.array_equal(X @ (1 << np.arange(3)), np.arange(8))


def test_task_is_seeded_and_valid():
    a = treatment_task(np.random.default_rng(5), n_features=3, n_actions=4)
    b = treatment_task(np.random.default_rng(5), n_features=3, n_actions=4)
    assert np.array_equal(a.mdp.P, b.mdp.P) and np.array_equal(a.expert_weights, b.expert_weights)
    assert a.mdp.P.shape == (8, 4, 8)
    np.testing.assert_allclose(a.mdp.P.sum(axis=2), 1.0, atol=1e-12)
    # r_env = 1 - mean symptoms - cost: differences between states of one action are health
    np.testing.assert_allclose(a.r_env[0] - a.r_env[7], 1.0, atol=1e-12)


def test_symptoms_evolve_independently_by_hand():
    task = treatment_task(np.random.default_rng(0), n_features=2, persistence=1.0)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    p = sig(1.0 * (2 * np.array([1, 0]) - 1) + task.effect[2])  # state 1 = x (1, 0), action 2
    want = np.array([(1 - p[0]) * (1 - p[1]), p[0] * (1 - p[1]), (1 - p[0]) * p[1], p[0] * p[1]])
    np.testing.assert_allclose(task.mdp.P[1, 2], want, atol=1e-12)


def test_aligned_expert_follows_the_true_effects():
    task = treatment_task(np.random.default_rng(1), alignment=1.0, expert_scale=2.0)
    want = 2.0 * (-task.effect)[:, :, None] * np.array([-1.0, 1.0])
    np.testing.assert_allclose(task.expert_weights, want, atol=1e-12)
