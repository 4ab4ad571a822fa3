"""Tests of :mod:`theory.strategies`: the hypothesis strategies keep their promises."""

from __future__ import annotations

import numpy as np
from hypothesis import find, given
from hypothesis import strategies as st

from tests.theory._reference import CHEAP_PROPERTY, PROPERTY, brute_force_q
from theory import TabularMDP
from theory.strategies import (
    discounts,
    mdps,
    mdps_with_ties,
    probability_vectors,
    reward_perturbations,
    simplex_weights,
)


@CHEAP_PROPERTY
@given(
    mdps(min_states=2, max_states=3, min_actions=2, max_actions=2, max_gamma=0.5, reward_scale=0.1)
)
def test_mdps_respect_their_size_parameters(mdp):
    assert isinstance(mdp, TabularMDP)
    assert 2 <= mdp.n_states <= 3 and mdp.n_actions == 2
    assert 0.0 <= mdp.gamma <= 0.5
    assert np.max(np.abs(mdp.R)) <= 0.1
    np.testing.assert_allclose(mdp.P.sum(axis=2), 1.0, atol=1e-12)


@CHEAP_PROPERTY
@given(discounts(max_gamma=0.3))
def test_discounts_stay_in_range(gamma):
    assert 0.0 <= gamma <= 0.3


@PROPERTY
@given(mdps_with_ties(max_states=4, max_actions=4))
def test_mdps_with_ties_have_exactly_one_planted_tie(case):
    mdp, state, m = case
    assert 0 <= state < mdp.n_states and 2 <= m <= mdp.n_actions
    q = brute_force_q(mdp.P, mdp.R, mdp.gamma)
    top = q.max(axis=1, keepdims=True)
    tied = q >= top - 1e-9
    assert tied[state].sum() == m
    assert np.all(np.delete(tied.sum(axis=1), state) == 1)
    # margins: every non-maximal action is >= 0.5 below the maximum (up to the solve's round-off)
    assert np.all((top - q)[~tied] >= 0.5 - 1e-9)


@CHEAP_PROPERTY
@given(mdps_with_ties(min_tie=3, max_actions=3))
def test_mdps_with_ties_min_tie(case):
    _, _, m = case
    assert m == 3


@CHEAP_PROPERTY
@given(
    st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(
        lambda shape: st.tuples(
            st.just(shape), reward_perturbations(shape=shape, min_norm=0.25, max_norm=0.75)
        )
    )
)
def test_reward_perturbations_have_the_requested_norm(case):
    shape, d = case
    assert d.shape == shape
    assert 0.25 <= np.max(np.abs(d)) <= 0.75


@CHEAP_PROPERTY
@given(reward_perturbations(shape=(3, 2), min_norm=1.0, max_norm=1.0))
def test_reward_perturbations_exact_norm(d):
    assert np.max(np.abs(d)) == 1.0


@CHEAP_PROPERTY
@given(st.integers(1, 6), st.integers(1, 4), st.data())
def test_simplex_weights_rows_are_distributions(S, K, data):
    w = data.draw(simplex_weights(n_states=S, n_components=K))
    assert w.shape == (S, K)
    assert w.min() >= 0.0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)


@CHEAP_PROPERTY
@given(st.integers(1, 8), st.booleans(), st.data())
def test_probability_vectors_are_distributions(size, sparse, data):
    p = data.draw(probability_vectors(size=size, sparse=sparse))
    assert p.shape == (size,)
    assert p.min() >= 0.0
    assert abs(p.sum() - 1.0) <= 1e-12


def test_simplex_weights_mix_hard_and_soft_rows():
    def one_hot_rows(w):
        return np.isclose(w.max(axis=1), 1.0)

    strategy = simplex_weights(n_states=4, n_components=3)
    assert one_hot_rows(find(strategy, lambda w: one_hot_rows(w).any())).any()
    assert not one_hot_rows(find(strategy, lambda w: not one_hot_rows(w).all())).all()
