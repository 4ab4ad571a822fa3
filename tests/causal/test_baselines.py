"""Baselines: pooled OLS, anchor regression, ICP, IRMv1."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from causal import (
    anchor_regression,
    invariant_causal_prediction,
    invariant_risk_minimization,
    pooled_ols,
)
from causal.baselines import _irm_objective


def _shifted_linear(seed=0, n_env=4, n=300):
    """X1 -> Y -> X2, environments shift X1 and X2 (not Y's mechanism)."""
    rng = np.random.default_rng(seed)
    xs, ys, es = [], [], []
    for e in range(n_env):
        x1 = rng.normal(e, 1 + e / 2, n)
        y = 1.5 * x1 + rng.normal(0, 1, n)
        x2 = -y + rng.normal(2 * e, 1, n)
        xs.append(np.column_stack([x1, x2]))
        ys.append(y)
        es.append(np.full(n, e))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(es)


def test_ols_recovers_noise_free_coefficients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    y = x @ [1.0, -2.0, 0.5] + 3.0
    p = pooled_ols(x, y)
    assert np.allclose(p.coef, [1.0, -2.0, 0.5]) and p.intercept == pytest.approx(3.0)


def test_anchor_gamma_one_is_ols_and_matches_the_objective():
    x, y, e = _shifted_linear()
    assert np.allclose(anchor_regression(x, y, e, 1.0).coef, pooled_ols(x, y).coef)
    gamma = 7.0
    a = (e[:, None] == np.unique(e)[None]).astype(float)
    pa = a @ np.linalg.pinv(a)
    d = np.column_stack([x, np.ones(len(y))])
    w = np.eye(len(y)) + (np.sqrt(gamma) - 1) * pa
    # minimiser of ||(I-P)(y-Db)||^2 + gamma ||P(y-Db)||^2 from the normal equations
    m = d.T @ (np.eye(len(y)) - pa + gamma * pa)
    beta = np.linalg.solve(m @ d, m @ y)
    got = anchor_regression(x, y, e, gamma)
    assert np.allclose(got.coef, beta[:-1]) and got.intercept == pytest.approx(beta[-1])
    assert np.allclose(w @ w, np.eye(len(y)) - pa + gamma * pa)


def test_icp_selects_the_causal_parent():
    x, y, e = _shifted_linear()
    res = invariant_causal_prediction(x, y, e, alpha=0.05)
    assert res.selected == (0,)
    assert res.predictor.coef[0] == pytest.approx(1.5, abs=0.1)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="x must have 2 dimension"):
        pooled_ols(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="y must have shape"):
        pooled_ols(np.ones((3, 2)), np.ones(4))


def test_negative_gamma_raises():
    x, y, e = _shifted_linear()
    with pytest.raises(ValueError, match="gamma"):
        anchor_regression(x, y, e, -1.0)


def test_icp_needs_two_environments():
    x, y, _ = _shifted_linear()
    with pytest.raises(ValueError, match="at least 2 levels"):
        invariant_causal_prediction(x, y, np.zeros(len(y)))


def test_empty_data_one_sample_environment_and_bad_max_size_raise():
    x, y, e = _shifted_linear()
    with pytest.raises(ValueError, match="x must not be empty"):
        pooled_ols(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="max_size"):
        invariant_causal_prediction(x, y, e, max_size=-1)
    e1 = np.asarray(e).copy()
    e1[0] = 99  # a one-sample environment
    with pytest.raises(ValueError, match="environments"):
        invariant_causal_prediction(x, y, e1)


def test_icp_degenerate_residuals_are_not_silently_rejected():
    # y constant: the empty set's residuals are one constant, scipy's tests give NaN; the
    # empty set must be accepted (p = 1), not dropped by min(nan, p) = nan
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 2))
    res = invariant_causal_prediction(x, np.full(12, 3.0), np.repeat([0, 1, 2], 4))
    assert res.pvalues[()] == 1.0
    assert () in res.accepted and res.selected == ()


# --- IRMv1 (Arjovsky et al. 2019) ---


def _anti_causal(seed=0, n=1000, sigmas=(0.1, 1.0, 2.0)):
    """X1 -> Y -> X2 with the noise of X2 changing across environments (the paper's §5.1
    example): the invariant predictor is Y ≈ X1 (coefficients (1, 0)), OLS leans on X2."""
    rng = np.random.default_rng(seed)
    xs, ys, es = [], [], []
    for e, s in enumerate(sigmas):
        x1 = rng.normal(0, 1, n)
        y = x1 + rng.normal(0, 1, n)
        xs.append(np.column_stack([x1, y + rng.normal(0, s, n)]))
        ys.append(y)
        es.append(np.full(n, e))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(es)


def test_irm_moves_from_the_spurious_feature_to_the_invariant_one():
    x, y, e = _anti_causal()
    ols = pooled_ols(x, y)
    res = invariant_risk_minimization(x, y, e, penalty_weight=100.0)
    assert res.success, res.message
    assert abs(ols.coef[1]) > 0.3  # ERM uses the spurious child of Y
    assert abs(res.predictor.coef[1]) < abs(ols.coef[1]) / 4
    assert res.predictor.coef[0] == pytest.approx(1.0, abs=0.1)
    assert res.penalty < res.erm_penalty / 10


def test_irm_penalty_is_zero_at_the_invariant_predictor():
    # population check of the penalty formula: at Φ = X1 the residual is -N_Y, uncorrelated
    # with X1, so p^e = 2 E[r Φ] = 0 in every environment (up to sampling error)
    x, y, e = _anti_causal(n=20000)
    z = np.column_stack([(x - x.mean(0)) / x.std(0), np.ones(len(y))])
    ys = (y - y.mean()) / y.std()
    parts = [(z[e == k], ys[e == k]) for k in range(3)]
    theta = np.array([x[:, 0].std() / y.std(), 0.0, 0.0])  # Φ = X1 on the standardised scale
    spurious = np.array([0.0, x[:, 1].std() / y.std() * 0.5, 0.0])
    assert _irm_objective(theta, parts, 1.0)[3] < 1e-3
    assert _irm_objective(spurious, parts, 1.0)[3] > 1e-2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), lam=st.floats(1e-3, 1e3))
def test_irm_gradient_matches_finite_differences(seed, lam):
    rng = np.random.default_rng(seed)
    parts = [
        (np.column_stack([rng.normal(size=(7, 2)), np.ones(7)]), rng.normal(size=7))
        for _ in range(3)
    ]
    theta = rng.normal(size=3)
    _, grad, _, _ = _irm_objective(theta, parts, lam)
    h = 1e-6
    fd = [
        (
            _irm_objective(theta + h * np.eye(3)[i], parts, lam)[0]
            - _irm_objective(theta - h * np.eye(3)[i], parts, lam)[0]
        )
        / (2 * h)
        for i in range(3)
    ]
    assert np.allclose(grad, fd, rtol=1e-5, atol=1e-6 * (1 + lam))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), lam=st.floats(1e-2, 1e3))
def test_irm_never_ends_above_its_erm_start(seed, lam):
    """The solver starts at pooled OLS, so its objective can only decrease from there."""
    rng = np.random.default_rng(seed)
    n = 30
    x = rng.normal(size=(3 * n, 2))
    env = np.repeat([0, 1, 2], n)
    y = x @ rng.normal(size=2) + rng.normal(size=3 * n) * (1 + env)
    res = invariant_risk_minimization(x, y, env, penalty_weight=lam)
    assert res.success, res.message
    assert res.risk + lam * res.penalty <= _erm_objective(x, y, env, lam, res) * (1 + 1e-9) + 1e-12


def _erm_objective(x, y, env, lam, res) -> float:
    """The IRM objective at the pooled-OLS start (standardised risk + λ penalty)."""
    ols = pooled_ols(x, y)
    risks = [np.mean((ols.predict(x[env == k]) - y[env == k]) ** 2) for k in np.unique(env)]
    return float(np.mean(risks) / y.std() ** 2 + lam * res.erm_penalty)


def test_irm_tiny_penalty_is_ols():
    x, y, e = _shifted_linear()
    res = invariant_risk_minimization(x, y, e, penalty_weight=1e-9)
    ols = pooled_ols(x, y)
    assert np.allclose(res.predictor.coef, ols.coef, atol=1e-5)
    assert res.predictor.intercept == pytest.approx(ols.intercept, abs=1e-4)


def test_irm_bad_input_raises():
    x, y, e = _shifted_linear()
    with pytest.raises(ValueError, match="at least 2 levels"):
        invariant_risk_minimization(x, y, np.zeros(len(y)))
    with pytest.raises(ValueError, match="penalty_weight"):
        invariant_risk_minimization(x, y, e, penalty_weight=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        invariant_risk_minimization(x, y, e, max_iter=0)


def test_irm_stalled_line_search_at_a_stationary_point_is_success():
    """A case where L-BFGS-B's line search stalls ("ABNORMAL") at a point that is stationary to
    rounding (found by the property test above): reported as converged, and the objective is
    no worse than at the pooled-OLS start."""
    rng = np.random.default_rng(2212)
    x = rng.normal(size=(90, 2))
    env = np.repeat([0, 1, 2], 30)
    y = x @ rng.normal(size=2) + rng.normal(size=90) * (1 + env)
    lam = 220.13329645917537
    res = invariant_risk_minimization(x, y, env, penalty_weight=lam)
    assert res.success and res.status == 0, res.message
    assert res.risk + lam * res.penalty <= _erm_objective(x, y, env, lam, res) * (1 + 1e-9)
