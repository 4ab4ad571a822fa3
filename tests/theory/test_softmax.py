"""Tests of :mod:`theory.softmax`: Lemma C.2 and the local constant (claims 3, 4, 5).

References: scipy's softmax, central finite differences, and a brute-force maximum of
``||J v||_1`` over all ``2^d`` sign vectors written here.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import softmax as scipy_softmax

from tests.theory._reference import CHEAP_PROPERTY
from theory import (
    jacobian_inf_to_one_norm,
    local_softmax_constant,
    softmax,
    softmax_jacobian,
    softmax_tv_bound,
    total_variation,
)
from theory.strategies import probability_vectors

TAUS = st.floats(0.05, 3.0)


@st.composite
def logits(draw, *, min_size: int = 2, max_size: int = 8, scale: float = 5.0):
    d = draw(st.integers(min_size, max_size))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-scale, scale, size=d)
    if d > 1 and draw(st.booleans()):  # exact ties, where the bound is nearly attained
        x[1] = x[0]
    return x, rng


def _brute_force_inf_to_one(x: np.ndarray, tau: float) -> float:
    p = scipy_softmax(x / tau)
    J = (np.diag(p) - np.outer(p, p)) / tau
    return max(
        float(np.abs(J @ np.array(v)).sum()) for v in itertools.product([-1.0, 1.0], repeat=x.size)
    )


# --- softmax and its Jacobian ----------------------------------------------------------------------


@CHEAP_PROPERTY
@given(logits(min_size=1, scale=50.0), TAUS)
def test_softmax_matches_scipy(case, tau):
    x, _ = case
    np.testing.assert_allclose(softmax(x, tau), scipy_softmax(x / tau), rtol=1e-12, atol=1e-300)


def test_softmax_docstring_and_extreme_logits():
    np.testing.assert_array_equal(softmax([0.0, 0.0]), [0.5, 0.5])
    np.testing.assert_array_equal(softmax([1000.0, 0.0]), [1.0, 0.0])  # no overflow
    np.testing.assert_allclose(softmax([[0.0, np.log(3.0)]]), [[0.25, 0.75]])


@CHEAP_PROPERTY
@given(logits(), TAUS, st.floats(-100, 100))
def test_softmax_is_shift_invariant(case, tau, c):
    x, _ = case
    np.testing.assert_allclose(softmax(x + c, tau), softmax(x, tau), atol=1e-14)


@CHEAP_PROPERTY
@given(logits(), TAUS)
def test_softmax_jacobian_matches_finite_differences(case, tau):
    x, _ = case
    h = 1e-6 * tau
    fd = np.column_stack(
        [(softmax(x + h * e, tau) - softmax(x - h * e, tau)) / (2 * h) for e in np.eye(x.size)]
    )
    np.testing.assert_allclose(softmax_jacobian(x, tau), fd, atol=1e-7 / tau)


# --- lemma-c.2: Lemma C.2 ------------------------------------------------------------------------


@CHEAP_PROPERTY
@given(logits(), TAUS, st.sampled_from([1e-6, 1e-2, 1.0, 10.0]))
def test_lemma_c_2_softmax_l_inf_to_l1_random(case, tau, scale):
    x, rng = case
    y = x + scale * rng.uniform(-1, 1, size=x.size)
    l1 = np.abs(softmax(x, tau) - softmax(y, tau)).sum()
    dx = np.max(np.abs(x - y))
    assert l1 <= dx / tau * (1 + 1e-9) + 1e-15
    assert (
        total_variation(softmax(x, tau), softmax(y, tau))
        <= softmax_tv_bound(dx, tau) * (1 + 1e-9) + 1e-15
    )


@pytest.mark.parametrize("tau", [0.05, 1.0, 3.0])
def test_lemma_c_2_nearly_attained_at_a_tie(tau):
    # x = (0, 0), y = (h, -h): ||dp||_1 = tanh(h/tau), so the ratio is tanh(u)/u -> 1.
    h = 1e-3 * tau
    l1 = np.abs(softmax([0.0, 0.0], tau) - softmax([h, -h], tau)).sum()
    assert l1 == pytest.approx(np.tanh(h / tau), rel=1e-9)
    ratio = l1 / (h / tau)
    assert 0.9999 <= ratio <= 1.0


def test_lemma_c_2_ratio_is_strictly_below_one_away_from_balanced_subsets():
    # p = softmax(0, 3) has no subset of probability 1/2: the local constant is < 1/tau.
    x = np.array([0.0, 3.0])
    p = softmax(x)
    assert local_softmax_constant(x) == pytest.approx(4 * p[0] * p[1])
    assert local_softmax_constant(x) < 0.2


# --- lemma-c.2 (local constant): the local constant (4/tau) max_S p(S)(1 - p(S)) ----------------------------------


@CHEAP_PROPERTY
@given(logits(min_size=1, max_size=10), TAUS)
def test_lemma_c_2_local_local_constant_equals_brute_force_over_sign_vectors(case, tau):
    x, _ = case
    expected = _brute_force_inf_to_one(x, tau)
    assert local_softmax_constant(x, tau) == pytest.approx(expected, abs=1e-10)
    assert jacobian_inf_to_one_norm(x, tau) == pytest.approx(expected, abs=1e-10)
    assert local_softmax_constant(x, tau) <= 1 / tau * (1 + 1e-12)


@CHEAP_PROPERTY
@given(logits(min_size=2, max_size=6), TAUS)
def test_lemma_c_2_local_local_constant_is_a_directional_derivative(case, tau):
    # along the maximizing sign vector, ||softmax(x + h v) - softmax(x)||_1 / h -> the constant
    x, _ = case
    p = softmax(x, tau)
    J = softmax_jacobian(x, tau)
    v = max(itertools.product([-1.0, 1.0], repeat=x.size), key=lambda v: np.abs(J @ v).sum())
    h = 1e-7 * tau
    fd = np.abs(softmax(x + h * np.array(v), tau) - p).sum() / h
    assert fd == pytest.approx(local_softmax_constant(x, tau), abs=1e-5 / tau)


@pytest.mark.parametrize("tau", [0.05, 0.5, 1.0, 3.0])
def test_lemma_c_2_local_local_constant_is_one_over_tau_at_a_tie(tau):
    assert local_softmax_constant([0.0, 0.0], tau) == pytest.approx(1 / tau, rel=1e-15)
    assert _brute_force_inf_to_one(np.zeros(2), tau) == pytest.approx(1 / tau, rel=1e-15)


def test_lemma_c_2_local_docstring_example_and_balanced_subset():
    assert local_softmax_constant([0.0, 0.0], tau=0.5) == 2.0
    # p = (1/4, 1/4, 1/2): the subset {2} has probability 1/2, so the constant is 1/tau
    x = np.log([1.0, 1.0, 2.0])
    assert local_softmax_constant(x) == pytest.approx(1.0, abs=1e-15)
    # p = (1/6, 1/3, 1/2) too; p = (0.1, 0.2, 0.7) not: 4 * 0.3 * 0.7 = 0.84
    assert local_softmax_constant(np.log([1.0, 2.0, 3.0])) == pytest.approx(1.0, abs=1e-15)
    assert local_softmax_constant(np.log([0.1, 0.2, 0.7])) == pytest.approx(0.84, abs=1e-14)


# --- softmax Jacobian ℓ2 bound: the l2 Jacobian bound ------------------------------------------------------------


@CHEAP_PROPERTY
@given(st.integers(1, 8).flatmap(lambda d: probability_vectors(size=d)))
def test_softmax_jacobian_l2_jacobian_spectral_norm_at_most_one_half(p):
    eig = np.linalg.eigvalsh(np.diag(p) - np.outer(p, p))
    assert eig.min() >= -1e-15  # positive semi-definite
    assert eig.max() <= 0.5 + 1e-15


@CHEAP_PROPERTY
@given(logits(min_size=1), TAUS)
def test_softmax_jacobian_l2_norm_at_most_one_over_two_tau(case, tau):
    x, _ = case
    assert np.linalg.norm(softmax_jacobian(x, tau), 2) <= 1 / (2 * tau) * (1 + 1e-12)


def test_softmax_jacobian_l2_one_half_attained_at_uniform_pair():
    eig = np.linalg.eigvalsh(softmax_jacobian([0.0, 0.0]))
    np.testing.assert_allclose(eig, [0.0, 0.5], atol=1e-16)


# --- one test per bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.0, -1.0, float("inf")])
def test_non_positive_tau_raises(tau):
    with pytest.raises(ValueError, match="tau"):
        softmax([0.0, 1.0], tau)
    with pytest.raises(ValueError, match="tau"):
        local_softmax_constant([0.0, 1.0], tau)


def test_nan_logits_raise():
    with pytest.raises(ValueError, match="x must be finite"):
        softmax([0.0, np.nan])


def test_jacobian_of_a_matrix_raises():
    with pytest.raises(ValueError, match="x must have 1 dimension"):
        softmax_jacobian(np.zeros((2, 2)))


@pytest.mark.parametrize(
    ("d", "match"), [(0, "x must not be empty"), (23, "x must have 1 to 22 entries")]
)
def test_local_constant_size_out_of_range_raises(d, match):
    with pytest.raises(ValueError, match=match):
        local_softmax_constant(np.zeros(d))
    with pytest.raises(ValueError, match=match):
        jacobian_inf_to_one_norm(np.zeros(d))
