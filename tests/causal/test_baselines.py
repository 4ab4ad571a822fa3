"""Baselines: pooled OLS, anchor regression, ICP."""

from __future__ import annotations

import numpy as np
import pytest

from causal import anchor_regression, invariant_causal_prediction, pooled_ols


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
