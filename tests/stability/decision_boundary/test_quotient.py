"""Claim 6: the axioms of the [reconstructed] feature correlation quotient Λ."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stability import correlation_quotient, principal_direction
from stability.decision_boundary.strategies import direction_sets


@settings(max_examples=50, deadline=None)
@given(direction_sets(), st.integers(0, 2**31), st.booleans())
def test_lambda_axioms(V, seed, normalize):  # decision-boundary/lambda-axioms
    rng = np.random.default_rng(seed)
    g = principal_direction(V, normalize=normalize)
    assert abs(correlation_quotient(g, V, normalize=normalize).value - 1) < 1e-10
    u = rng.standard_normal(V.shape[1])
    lam = correlation_quotient(u, V, normalize=normalize)
    assert 0 <= lam.value <= 1
    assert correlation_quotient(-u, V, normalize=normalize).value == pytest.approx(
        lam.value, abs=1e-12
    )
    perm = rng.permutation(len(V))
    assert correlation_quotient(u, V[perm], normalize=normalize).value == pytest.approx(
        lam.value, abs=1e-12
    )
    c = correlation_quotient(u, V, definition="cos2")
    assert 0 <= c.value <= 1


@settings(max_examples=30, deadline=None)
@given(direction_sets(), st.integers(0, 2**31))
def test_rescaled_directions_give_one_when_normalized(V, seed):  # decision-boundary/lambda-axioms
    V = V[np.linalg.norm(V, axis=1) > 0]
    scales = np.random.default_rng(seed).uniform(0.1, 10.0, (len(V), 1))
    g = principal_direction(V * scales, normalize=True)
    assert correlation_quotient(g, V, normalize=True).value == pytest.approx(1.0, abs=1e-9)


def test_hand_example_and_summary():
    V = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    r = correlation_quotient(np.array([0.0, 1.0]), V)
    assert r.value == pytest.approx(0.2) and r.lambda_max == pytest.approx(5.0)
    assert float(r) == r.value and "Λ = 0.2000" in r.summary()


def test_bad_inputs():
    V = np.ones((3, 2))
    with pytest.raises(ValueError, match="definition"):
        correlation_quotient(np.ones(2), V, definition="kl")
    with pytest.raises(ValueError, match="entries"):
        correlation_quotient(np.ones(3), V)
    with pytest.raises(ValueError, match="non-zero"):
        correlation_quotient(np.zeros(2), V)
    with pytest.raises(ValueError, match="G_shifted"):
        correlation_quotient(np.array([np.nan, 1.0]), V)
