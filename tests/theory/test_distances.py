"""Tests of :mod:`theory.distances`: d_TV = ½||.||_1, sup-norm distance, span."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.theory._reference import CHEAP_PROPERTY
from theory import max_total_variation, reward_distance, reward_span, total_variation
from theory.strategies import probability_vectors


@st.composite
def three_distributions(draw):
    d = draw(st.integers(1, 7))
    return tuple(draw(probability_vectors(size=d)) for _ in range(3))


def test_hand_computed_values():
    assert float(total_variation([0.5, 0.5], [1.0, 0.0])) == 0.5
    assert float(total_variation([1.0, 0.0], [0.0, 1.0])) == 1.0
    assert max_total_variation([[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.0, 1.0]]) == 1.0
    assert reward_distance([[1.0, -2.0]], [[0.5, 1.0]]) == 3.0
    assert reward_span([[1.0, -2.0], [0.5, 0.0]]) == 3.0


def test_empty_rewards_are_refused():
    with pytest.raises(ValueError, match="r1 must not be empty"):
        reward_distance(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="delta must not be empty"):
        reward_span(np.zeros((0, 2)))


def test_non_distributions_are_refused():
    with pytest.raises(ValueError, match="p must sum to 1"):
        total_variation([0.9, 0.9], [0.5, 0.5])
    with pytest.raises(ValueError, match="q must be non-negative"):
        total_variation([0.5, 0.5], [1.5, -0.5])
    with pytest.raises(ValueError, match="p must not be empty"):
        total_variation([], [])
    with pytest.raises(ValueError, match="pi1 must sum to 1"):
        max_total_variation([[1.0, 0.5]], [[0.5, 0.5]])


@CHEAP_PROPERTY
@given(three_distributions())
def test_total_variation_is_the_largest_event_difference(ps):
    # d_TV(p, q) = max_E |p(E) - q(E)| over all events E (independent definition)
    p, q, r = ps
    events = itertools.product([False, True], repeat=p.size)
    best = max(abs(p[list(e)].sum() - q[list(e)].sum()) for e in events)
    tv = float(total_variation(p, q))
    assert tv == pytest.approx(best, abs=1e-14)
    assert 0.0 <= tv <= 1.0 + 1e-15
    assert tv == pytest.approx(float(total_variation(q, p)), abs=0)
    assert tv <= float(total_variation(p, r) + total_variation(r, q)) + 1e-15


def test_total_variation_broadcasts_a_batch_against_one_policy():
    batch = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[0.5, 0.5]]])  # (3, S=1, A=2)
    tv = total_variation(batch, np.array([[0.5, 0.5]]))
    np.testing.assert_allclose(tv, [[0.5], [0.5], [0.0]])


@CHEAP_PROPERTY
@given(st.integers(0, 2**32 - 1))
def test_span_is_at_most_twice_the_sup_norm(seed):
    d = np.random.default_rng(seed).normal(size=(3, 4))
    assert reward_span(d) <= 2 * reward_distance(d, np.zeros_like(d)) + 1e-15
    assert reward_span(d + 7.0) == pytest.approx(reward_span(d))  # shift invariant


def test_mismatched_action_axes_raise():
    with pytest.raises(ValueError, match="p and q must share their last"):
        total_variation([0.5, 0.5], [1.0, 0.0, 0.0])


def test_non_broadcastable_policies_raise():
    with pytest.raises(ValueError, match="p and q must broadcast"):
        total_variation(np.full((2, 2), 0.5), np.full((3, 2), 0.5))


def test_reward_shapes_must_match():
    with pytest.raises(ValueError, match="r1 and r2 must have the same shape"):
        reward_distance(np.zeros((2, 2)), np.zeros((2, 3)))


def test_non_finite_rewards_raise():
    with pytest.raises(ValueError, match="r1 must be finite"):
        reward_distance([np.nan], [0.0])
