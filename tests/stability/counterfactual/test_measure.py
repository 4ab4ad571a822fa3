"""Stability R, the relaxation R-hat and the certified variant (claims counterfactual/upper-bound,
relaxation-optimistic, linear-closed-form, relaxed-closed-form; the rest [derived])."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stability.counterfactual import (
    counterfactual_stability,
    expected_gaussian_norm,
    linear_expected_stability,
    lipschitz_upper_bound,
    logistic_model,
    predict_proba,
    stability_from_samples,
)
from stability.counterfactual.strategies import (
    linear_instances,
    logistic_models,
    queries,
    tanh_mlps,
)

FAST = settings(max_examples=25, deadline=None)


def _grad_norms(model, X):
    x = torch.from_numpy(X).clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).sum(), x)
    return torch.linalg.vector_norm(g, dim=1).numpy()


# counterfactual/upper-bound: R <= m(x) when gamma_x >= Lip(m) (certified gamma: spectral norms)
@FAST
@given(st.one_of(logistic_models(), tanh_mlps()), st.data())
def test_upper_bound_certified_stability_below_prediction(model, data):
    d = model[0].in_features
    X = data.draw(queries(d=d))
    r = counterfactual_stability(model, X, k=64, sigma=0.3, seed=0)
    assert np.all(r <= predict_proba(model, X) + 1e-12)


@FAST
@given(st.one_of(logistic_models(), tanh_mlps()), st.data())
def test_lipschitz_upper_bound_dominates_gradient_norms(model, data):
    X = data.draw(queries(d=model[0].in_features, max_rows=16))
    assert np.all(_grad_norms(model, X) <= lipschitz_upper_bound(model) * (1 + 1e-12))


def test_lipschitz_upper_bound_exact_for_logistic():
    w = np.array([3.0, 4.0])
    assert lipschitz_upper_bound(logistic_model(w, 0.3)) == pytest.approx(5.0 / 4.0)
    # attained at the decision boundary: sigmoid'(0) = 1/4
    assert _grad_norms(logistic_model(w, 0.0), np.zeros((1, 2)))[0] == pytest.approx(1.25)


# counterfactual/relaxation-optimistic: R-hat >= R on the same samples when gamma_x >= Lip(m)
@FAST
@given(st.one_of(logistic_models(), tanh_mlps()), st.data())
def test_relaxation_optimistic(model, data):
    X = data.draw(queries(d=model[0].in_features))
    r = counterfactual_stability(model, X, k=50, sigma=0.5, seed=3)
    rh = counterfactual_stability(model, X, k=50, sigma=0.5, relaxed=True, seed=3)
    assert np.all(rh >= r - 1e-12)


# counterfactual/linear-closed-form and relaxed-closed-form: closed forms for a linear m,
# Monte Carlo within 4 standard errors
@pytest.mark.parametrize("d", [1, 3, 8])
def test_claims_3_4_linear_closed_forms(d):
    rng = np.random.default_rng(d)
    w, b, x, sigma, k, reps = rng.normal(size=d), 0.2, rng.normal(size=d), 0.1, 200, 400
    xi = rng.standard_normal((reps, k, d))
    m_s = (x + sigma * xi) @ w + b
    m_x = np.full(reps, x @ w + b)
    dist = sigma * np.linalg.norm(xi, axis=2)
    for relaxed in (False, True):
        r = stability_from_samples(m_x, m_s, dist, np.linalg.norm(w), relaxed=relaxed)
        expect = linear_expected_stability(x @ w + b, np.linalg.norm(w), sigma, d, relaxed=relaxed)
        assert abs(r.mean() - expect) <= 4 * r.std(ddof=1) / math.sqrt(reps) + 1e-12


def test_expected_norm_values():
    assert expected_gaussian_norm(1) == pytest.approx(math.sqrt(2 / math.pi))
    assert expected_gaussian_norm(2) == pytest.approx(math.sqrt(math.pi / 2))
    # E[R] = E[R-hat] at d = 1
    a = linear_expected_stability(0.3, 2.0, 0.1, 1)
    assert a == pytest.approx(linear_expected_stability(0.3, 2.0, 0.1, 1, relaxed=True))


# [derived] dR/dgamma_x = -mean ||Z_i||, exactly; monotone in m and shift-equivariant
@FAST
@given(linear_instances(), st.floats(0.0, 5.0), st.floats(0.01, 2.0), st.floats(-1.0, 1.0))
def test_claims_6_7_linearity_in_gamma_and_model(inst, gamma, dg, c):
    w, b, x = inst
    rng = np.random.default_rng(0)
    xi = rng.standard_normal((1, 30, len(w)))
    m_s = (x + 0.2 * xi[0]) @ w + b
    dist = 0.2 * np.linalg.norm(xi[0], axis=1)
    r = lambda g, shift=0.0, bump=0.0: stability_from_samples(  # noqa: E731
        np.array([x @ w + b + shift]), (m_s + shift + bump * np.abs(m_s))[None], dist[None], g
    )[0]
    assert r(gamma + dg) - r(gamma) == pytest.approx(-dg * dist.mean(), abs=1e-9)
    assert r(gamma, shift=c) == pytest.approx(r(gamma) + c, abs=1e-9)
    assert r(gamma, bump=0.1) >= r(gamma) - 1e-12  # m1 >= m2 pointwise => R(m1) >= R(m2)


# [derived] sigma -> 0 with xi fixed: |R - m(x)| <= (Lip(m) + gamma_x) sigma mean ||xi||
@FAST
@given(tanh_mlps(), st.sampled_from([1e-1, 1e-2, 1e-4]), st.data())
def test_small_sigma_limit(model, sigma, data):
    X = data.draw(queries(d=model[0].in_features, max_rows=2))
    lip = lipschitz_upper_bound(model)
    rng = np.random.default_rng(1)
    xi = rng.standard_normal((len(X), 40, X.shape[1]))
    r = counterfactual_stability(model, X, k=40, sigma=sigma, lipschitz=lip, seed=1)
    gap = 2 * lip * sigma * np.linalg.norm(xi, axis=2).mean(1)
    assert np.all(np.abs(r - predict_proba(model, X)) <= gap * (1 + 1e-9) + 1e-12)


# [derived] concentration: the empirical lower tail is under exp(-k t^2 / (8 gamma^2 sigma^2)),
# and Var_k / Var_4k ~ 4
def test_concentration():
    model = logistic_model(np.array([2.0, -1.0, 0.5]), 0.1)
    lip = lipschitz_upper_bound(model)
    x = np.zeros((400, 3))
    r1 = counterfactual_stability(model, x, k=25, sigma=0.5, lipschitz=lip, seed=0)
    r4 = counterfactual_stability(model, x, k=100, sigma=0.5, lipschitz=lip, seed=1)
    assert 4 * 0.8 <= r1.var() / r4.var() <= 4 * 1.2
    for t in (0.01, 0.03, 0.05):
        tail = np.mean(r1 - r1.mean() <= -t)
        assert tail <= math.exp(-25 * t**2 / (8 * lip**2 * 0.25)) + 4 * 0.025


def test_same_seed_same_samples_and_chunking(monkeypatch):
    model = logistic_model(np.array([1.0, 1.0]), 0.0)
    X = np.random.default_rng(0).normal(size=(7, 2))
    a = counterfactual_stability(model, X, k=100, sigma=0.2, seed=5, lipschitz=0.5)
    monkeypatch.setattr("stability.counterfactual.measure.CHUNK_SAMPLES", 150)
    b = counterfactual_stability(model, X, k=100, sigma=0.2, seed=5, lipschitz=0.5)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_numpy_callable_model_and_per_row_lipschitz():
    f = lambda X: 1 / (1 + np.exp(-X.sum(1)))  # noqa: E731
    X = np.zeros((3, 2))
    r = counterfactual_stability(f, X, k=10, sigma=0.1, lipschitz=np.array([0.0, 1.0, 2.0]), seed=0)
    assert r[0] > r[1] > r[2]


# bad input: one test per exception
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"X": np.zeros(3)}, "X must have shape"),
        ({"X": np.array([[np.nan, 0.0]])}, "X must be finite"),
        ({"k": 0}, "k"),
        ({"sigma": -0.1}, "sigma"),
        ({"lipschitz": -1.0}, "lipschitz"),
        ({"lipschitz": np.ones(5)}, r"lipschitz must be .* shape \(1,\)"),
        ({"lipschitz": "loose"}, "lipschitz must be a number"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"X": np.zeros((1, 2)), "k": 10, "sigma": 0.1, "lipschitz": None} | kwargs
    model = logistic_model(np.ones(2), 0.0)
    with pytest.raises(ValueError, match=match):
        counterfactual_stability(model, args.pop("X"), **args)


def test_model_not_a_probability():
    with pytest.raises(ValueError, match="model must return probabilities"):
        counterfactual_stability(
            lambda X: X.sum(1) + 5, np.zeros((1, 2)), k=5, sigma=0.1, lipschitz=1.0
        )
    with pytest.raises(ValueError, match=r"model must return shape \(N,\)"):
        counterfactual_stability(
            lambda X: np.zeros((len(X), 2)), np.zeros((1, 2)), k=5, sigma=0.1, lipschitz=1.0
        )


def test_unknown_layer_and_callable_without_lipschitz():
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 1), torch.nn.Softplus(), torch.nn.Sigmoid()
    ).double()
    with pytest.raises(ValueError, match="Softplus"):
        counterfactual_stability(net, np.zeros((1, 2)), k=5, sigma=0.1)
    with pytest.raises(ValueError, match=r"model must be a torch nn\.Module"):
        counterfactual_stability(lambda X: np.full(len(X), 0.5), np.zeros((1, 2)), k=5, sigma=0.1)


def test_relaxed_warns_about_ignored_lipschitz():
    with pytest.warns(RuntimeWarning, match="ignores lipschitz"):
        counterfactual_stability(
            logistic_model(np.ones(2), 0.0),
            np.zeros((1, 2)),
            k=5,
            sigma=0.1,
            lipschitz=1.0,
            relaxed=True,
        )
