"""SNS, RobX, ROAR and PROBE (claims counterfactual/probe-closed-form and
counterfactual/roar-inner-lp)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stability.counterfactual import (
    closest_counterfactual,
    invalidation_rate,
    invalidation_rate_mc,
    logistic_model,
    predict_proba,
    roar,
    roar_worst_logit,
    roar_worst_logit_lp,
    robx,
    robx_score,
    sns,
)
from stability.counterfactual.strategies import tanh_mlps


# counterfactual/roar-inner-lp: ROAR's inner problem, closed form vs a linear program
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_roar_inner_lp_closed_form_equals_lp(d, delta, seed):
    rng = np.random.default_rng(seed)
    w, b, x = rng.normal(size=d), float(rng.normal()), rng.normal(size=(3, d))
    closed = roar_worst_logit(w, b, x, delta)
    lp = [roar_worst_logit_lp(w, b, xi, delta) for xi in x]
    np.testing.assert_allclose(closed, lp, rtol=0, atol=1e-9)


def test_roar_is_robustly_valid_for_all_vertices():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=4), -1.0
    q = rng.normal(size=(6, 4))
    q = q[predict_proba(logistic_model(w, b), q) < 0.5]
    res = roar(logistic_model(w, b), q, delta_max=0.1, lam=0.05)
    assert res.found.all()
    robust = np.array(res.status) == "robust"
    assert robust.any()
    for x in res.counterfactuals[robust]:  # every corner of the box of (dw, db) keeps it valid
        for _ in range(50):
            s = rng.choice([-0.1, 0.1], size=5)
            assert (w + s[:4]) @ x + b + s[4] >= -1e-12


def test_roar_needs_a_linear_model(moons_task):
    _, model, q = moons_task
    with pytest.raises(ValueError, match="ROAR here needs a logistic model"):
        roar(model, q)


# counterfactual/probe-closed-form: PROBE's closed form vs Monte Carlo for a logistic model,
# within 4 SE
def test_probe_closed_form():
    w, b = np.array([1.0, -2.0, 0.5]), 0.2
    m = logistic_model(w, b)
    X = np.random.default_rng(1).normal(scale=0.3, size=(5, 3))
    exact = 1.0 - np.array(
        [math.erf(z / math.sqrt(2)) / 2 + 0.5 for z in (X @ w + b) / (0.3 * np.linalg.norm(w))]
    )
    np.testing.assert_allclose(invalidation_rate(m, X, sigma=0.3), exact, rtol=1e-9, atol=1e-12)
    mc = invalidation_rate_mc(m, X, sigma=0.3, n_samples=20_000, seed=0)
    se = np.sqrt(exact * (1 - exact) / 20_000)
    assert np.all(np.abs(mc - exact) <= 4 * se + 1e-12)


# RobX (Dutta et al., ICML 2022): CS <= mean, equality iff constant, range [(1 - sqrt 2)/2, 1]
@settings(max_examples=25, deadline=None)
@given(tanh_mlps(), st.integers(0, 10**6))
def test_robx_score_range(model, seed):
    d = model[0].in_features
    X = np.random.default_rng(seed).uniform(-2, 2, (4, d))
    cs = robx_score(model, X, k=64, sigma=0.5, seed=seed)
    assert np.all(cs >= (1 - math.sqrt(2)) / 2 - 1e-12) and np.all(cs <= 1.0)
    const = robx_score(lambda P: np.full(len(P), 0.3), X, k=64, sigma=0.5, seed=seed)
    np.testing.assert_allclose(const, 0.3, atol=1e-15)


def test_sns_and_robx_postconditions(moons_task):
    data, model, q = moons_task
    base = closest_counterfactual(model, q, box=(0, 1)).counterfactuals
    s = sns(model, q, base=base, box=(0, 1), steps=30)
    found = s.found
    assert found.any() and np.all(predict_proba(model, s.counterfactuals[found]) >= 0.5)
    assert np.all(np.linalg.norm(s.counterfactuals[found] - base[found], axis=1) <= 0.2 + 1e-9)
    r = robx(model, q, data.X_train, base=base, k=100, tau=0.6, seed=0)
    ok = r.found
    assert ok.any() and np.all(r.stability[ok] >= 0.6)
    again = robx(model, q, data.X_train, base=base, k=100, tau=0.6, seed=0)
    np.testing.assert_array_equal(r.counterfactuals, again.counterfactuals)


def test_baseline_bad_input(moons_task):
    with pytest.raises(ValueError, match="delta_max"):
        roar_worst_logit(np.ones(2), 0.0, np.zeros((1, 2)), -1.0)
    with pytest.raises(ValueError, match="x must have shape"):
        roar_worst_logit_lp(np.ones(2), 0.0, np.zeros(3), 0.1)
    with pytest.raises(ValueError, match="sigma"):
        invalidation_rate(logistic_model(np.ones(2), 0.0), np.zeros((1, 2)), sigma=0.0)
    _, model, q = moons_task
    with pytest.raises(ValueError, match="epsilon"):
        sns(model, q, epsilon=0.0)
