"""SNS, RobX, ROAR and PROBE (claims counterfactual/probe-closed-form and
counterfactual/roar-inner-lp)."""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stability.counterfactual import (
    breast_cancer,
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
    train_mlp,
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


def _roar_objective(w, b, dm, lam, norm, x, y):
    """ROAR's outer objective, softplus(-worst-case logit) + lam ||y - x||_p, written out."""
    worst = w @ y + b - dm * (np.abs(y).sum() + 1.0)
    return float(np.logaddexp(0.0, -worst) + lam * np.linalg.norm(y - x, ord=norm))


def _roar_cvxpy(w, b, dm, lam, norm, x, box):
    """The same convex problem by cvxpy (exponential cone, CLARABEL): (value, minimiser)."""
    y = cp.Variable(len(w))
    worst = w @ y + b - dm * (cp.norm1(y) + 1.0)
    cons = [] if box is None else [y >= box[0], y <= box[1]]
    prob = cp.Problem(cp.Minimize(cp.logistic(-worst) + lam * cp.norm(y - x, norm)), cons)
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal", prob.status
    return min(prob.value, _roar_objective(w, b, dm, lam, norm, x, y.value)), y.value


# ROAR's outer problem (Upadhyay et al., NeurIPS 2021, Eq. (4)-(6)) against an independent
# convex solver: the exact solve is at least as good as cvxpy's (tolerance 1e-7, CLARABEL's
# accuracy), its certified gap is <= 1e-9 and bounds the measured gap; Adam's certified gap
# bounds its own measured gap.
@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1, 2]),
    st.sampled_from([0.0, 0.05, 0.3]),
    st.sampled_from([0.01, 0.1, 1.0]),
    st.booleans(),
)
def test_roar_outer_problem_is_solved_exactly(d, seed, norm, dm, lam, boxed):
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=d) * rng.choice([0.5, 2.0, 5.0]), 2.0 * float(rng.normal())
    X = 1.5 * rng.normal(size=(3, d))
    box = (-1.0, 1.0) if boxed else None
    kw = dict(delta_max=dm, lam=lam, norm=norm, box=box)
    res, adam = roar((w, b), X, **kw), roar((w, b), X, solver="adam", steps=50, **kw)
    for i, x in enumerate(X):
        best, y_ref = _roar_cvxpy(w, b, dm, lam, norm, x, box)
        if not res.found[i]:  # the optimum does not flip the decision
            assert res.status[i] == "invalid under m" and w @ y_ref + b <= 1e-6
            continue
        f = _roar_objective(w, b, dm, lam, norm, x, res.counterfactuals[i])
        assert f <= best + 1e-7
        assert 0 <= res.optimality_gap[i] <= 1e-9
        assert f - best <= res.optimality_gap[i] + 1e-7
        if adam.found[i]:
            f_adam = _roar_objective(w, b, dm, lam, norm, x, adam.counterfactuals[i])
            assert f_adam - best <= adam.optimality_gap[i] + 1e-7


def test_roar_adam_stops_short_of_the_optimum():
    # breast-cancer logistic model, 20 rejected test points: Adam (500 steps, the old solver)
    # ends ~5e-3 above the optimum of the L1 problem; the exact solve within 1e-9
    data = breast_cancer(seed=0)
    net = train_mlp(data.X_train, data.y_train, hidden=(), epochs=300, lr=0.05, seed=0)
    q = data.X_test[predict_proba(net, data.X_test) < 0.5][:20]
    exact = roar(net, q, box=(0, 1))
    adam = roar(net, q, box=(0, 1), solver="adam")
    assert exact.found.all() and np.all(exact.optimality_gap <= 1e-9)
    assert np.median(adam.optimality_gap) >= 1e-3


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
