"""Tests of :mod:`theory.mdp`: the validated (P, R, gamma) container (Xu 2025, §2.1)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from tests.theory._reference import CHEAP_PROPERTY
from theory import TabularMDP
from theory.strategies import mdps


@pytest.fixture
def chain() -> TabularMDP:
    """Two states, two actions: a0 stays, a1 moves to the other state."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[1, 0, 1] = 1.0
    P[0, 1, 1] = P[1, 1, 0] = 1.0
    return TabularMDP(P, np.array([[0.0, 1.0], [2.0, 3.0]]), gamma=0.5)


def test_sizes_and_repr(chain):
    assert (chain.n_states, chain.n_actions, chain.gamma) == (2, 2, 0.5)
    assert repr(chain) == "TabularMDP(n_states=2, n_actions=2, gamma=0.5)"
    assert chain.P.dtype == np.float64 and chain.R.dtype == np.float64


def test_arrays_are_read_only_copies():
    P = np.ones((1, 2, 1))
    R = np.array([[1.0, 0.0]])
    mdp = TabularMDP(P, R, 0.5)
    R[0, 0] = 99.0  # the caller's array is copied
    assert mdp.R[0, 0] == 1.0
    with pytest.raises(ValueError):
        mdp.R[0, 0] = 2.0
    with pytest.raises(ValueError):
        mdp.P[0, 0, 0] = 0.0


def test_is_frozen(chain):
    with pytest.raises(AttributeError):
        chain.gamma = 0.9


def test_gamma_is_a_python_float():
    mdp = TabularMDP(np.ones((1, 1, 1)), np.zeros((1, 1)), np.float32(0.25))
    assert type(mdp.gamma) is float and mdp.gamma == 0.25


def test_with_reward_keeps_dynamics(chain):
    other = chain.with_reward(np.full((2, 2), 7.0))
    np.testing.assert_array_equal(other.P, chain.P)
    assert other.gamma == chain.gamma
    np.testing.assert_array_equal(other.R, np.full((2, 2), 7.0))
    np.testing.assert_array_equal(chain.R, [[0.0, 1.0], [2.0, 3.0]])


def test_expected_next_hand_computed(chain):
    # (P V)(s, a) = V(next state): a0 stays, a1 swaps.
    np.testing.assert_array_equal(chain.expected_next(np.array([10.0, 20.0])), [[10, 20], [20, 10]])
    batch = chain.expected_next(np.array([[10.0, 20.0], [1.0, 2.0]]))
    assert batch.shape == (2, 2, 2)
    np.testing.assert_array_equal(batch[1], [[1, 2], [2, 1]])


def test_tiny_negative_entries_within_tolerance_are_clipped():
    P = np.array([[[1.0 + 5e-10, -5e-10]], [[0.0, 1.0]]])
    mdp = TabularMDP(P, np.zeros((2, 1)), 0.0)
    assert mdp.P.min() == 0.0


@CHEAP_PROPERTY
@given(mdps())
def test_strategy_mdps_are_stochastic(mdp):
    np.testing.assert_allclose(mdp.P.sum(axis=2), 1.0, atol=1e-12)
    assert mdp.P.min() >= 0.0
    # expected_next against an explicit loop
    V = np.arange(mdp.n_states, dtype=float)
    ref = np.array([[mdp.P[s, a] @ V for a in range(mdp.n_actions)] for s in range(mdp.n_states)])
    np.testing.assert_allclose(mdp.expected_next(V), ref, atol=1e-12)


# --- one test per exception -----------------------------------------------------------------


def test_non_stochastic_P_raises():
    P = np.full((2, 1, 2), 0.4)
    with pytest.raises(ValueError, match="P must be row-stochastic"):
        TabularMDP(P, np.zeros((2, 1)), 0.5)


def test_negative_P_raises():
    P = np.array([[[1.5, -0.5]], [[0.0, 1.0]]])
    with pytest.raises(ValueError, match="P must be non-negative"):
        TabularMDP(P, np.zeros((2, 1)), 0.5)


def test_P_with_two_dimensions_raises():
    with pytest.raises(ValueError, match="P must have 3 dimension"):
        TabularMDP(np.eye(2), np.zeros((2, 2)), 0.5)


def test_P_not_square_in_states_raises():
    with pytest.raises(ValueError, match=r"P must have shape \(S, A, S\)"):
        TabularMDP(np.full((2, 1, 3), 1 / 3), np.zeros((2, 1)), 0.5)


def test_empty_P_raises():
    with pytest.raises(ValueError, match="P must not be empty"):
        TabularMDP(np.zeros((0, 1, 0)), np.zeros((0, 1)), 0.5)


def test_R_shape_mismatch_raises():
    with pytest.raises(ValueError, match="R must have shape"):
        TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 3)), 0.5)


def test_R_with_one_dimension_raises():
    with pytest.raises(ValueError, match="R must have 2 dimension"):
        TabularMDP(np.ones((1, 2, 1)), np.zeros(2), 0.5)


def test_nan_reward_raises():
    with pytest.raises(ValueError, match="R must be finite"):
        TabularMDP(np.ones((1, 2, 1)), np.array([[0.0, np.nan]]), 0.5)


def test_infinite_P_raises():
    with pytest.raises(ValueError, match="P must be finite"):
        TabularMDP(np.array([[[np.inf]]]), np.zeros((1, 1)), 0.5)


def test_non_numeric_R_raises():
    with pytest.raises(ValueError, match="R must be a numeric array"):
        TabularMDP(np.ones((1, 1, 1)), [["a"]], 0.5)


@pytest.mark.parametrize("gamma", [1.0, -0.1, 1.5, float("nan")])
def test_gamma_outside_unit_interval_raises(gamma):
    with pytest.raises(ValueError, match="gamma"):
        TabularMDP(np.ones((1, 1, 1)), np.zeros((1, 1)), gamma)


def test_non_numeric_gamma_raises():
    with pytest.raises(ValueError, match="gamma must be a real number"):
        TabularMDP(np.ones((1, 1, 1)), np.zeros((1, 1)), "0.5x")
