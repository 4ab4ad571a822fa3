"""Generator postconditions: validity, box, radius, determinism, NaN rows with reasons."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stability import trex
from stability.counterfactual import (
    closest_counterfactual,
    counterfactual_stability,
    logistic_model,
    predict_proba,
    trex_nn,
    wachter,
)

BOX = (0.0, 1.0)


@pytest.fixture(scope="module")
def base(moons_task):
    _, model, q = moons_task
    return closest_counterfactual(model, q, box=BOX)


def _check_found_rows(res, model):
    found = res.found
    assert found.any()
    assert np.all(predict_proba(model, res.counterfactuals[found]) >= 0.5)
    assert np.array_equal(res.valid, found)
    cf = res.counterfactuals[found]
    assert np.all((cf >= BOX[0] - 1e-12) & (cf <= BOX[1] + 1e-12))


@pytest.mark.parametrize("norm", [1, 2])
def test_closest_counterfactual_postconditions(moons_task, norm):
    _, model, q = moons_task
    res = closest_counterfactual(model, q, box=BOX, norm=norm)
    _check_found_rows(res, model)
    assert set(res.status) <= {"found", "not found", "already valid", "invalid under m"}
    assert res.found.mean() >= 0.9
    assert "closest:" in res.summary()


def test_closest_counterfactual_on_logistic_is_near_the_projection():
    # L2 closest point of {w.x + b >= 0}: x + (-(w.x + b)/||w||^2) w; ours within 5%
    w, b = np.array([1.0, 2.0]), -1.0
    x = np.array([[0.0, 0.0], [-0.5, 0.1]])
    res = closest_counterfactual(logistic_model(w, b), x, norm=2, confidence=0.0, steps=300)
    exact = -(x @ w + b) / np.linalg.norm(w)
    got = np.linalg.norm(res.counterfactuals - x, axis=1)
    assert np.all(got >= exact - 1e-9)
    assert np.all(got <= exact * 1.05)


def test_closest_keeps_already_valid_rows(moons_task):
    data, model, _ = moons_task
    x = data.X_test[predict_proba(model, data.X_test) >= 0.5][:2]
    res = closest_counterfactual(model, x)
    assert res.status == ("already valid", "already valid")
    np.testing.assert_array_equal(res.counterfactuals, x)


def test_trex_postconditions(moons_task, base):
    _, model, q = moons_task
    kw = dict(
        base=base.counterfactuals, k=200, sigma=0.05, tau=0.8, max_iter=15, box=BOX, radius=0.3
    )
    res = trex(model, q, seed=7, **kw)
    _check_found_rows(res, model)
    found = res.found
    off = np.linalg.norm(res.counterfactuals[found] - base.counterfactuals[found], axis=1)
    assert np.all(off <= 0.3 + 1e-9)
    assert np.all(res.steps <= 15)
    for i in np.flatnonzero(found):
        assert res.status[i] in {"tau reached", "max steps", "boundary", "zero gradient"}
        if res.status[i] == "tau reached":
            assert res.stability[i] >= 0.8
        if res.status[i] == "max steps":
            assert res.steps[i] == 15
    again = trex(model, q, seed=7, **kw)  # deterministic given the seed
    np.testing.assert_array_equal(res.counterfactuals, again.counterfactuals)
    # T-Rex raises R-hat over the base (same samples for both)
    r0 = counterfactual_stability(
        model, base.counterfactuals[found], k=500, sigma=0.05, relaxed=True, seed=1
    )
    r1 = counterfactual_stability(
        model, res.counterfactuals[found], k=500, sigma=0.05, relaxed=True, seed=1
    )
    assert r1.mean() >= r0.mean()


def test_trex_nan_base_rows_come_back_nan(moons_task, base):
    _, model, q = moons_task
    b = base.counterfactuals.copy()
    b[0] = np.nan
    b[1] = q[1]  # a rejected point is not a counterfactual
    res = trex(model, q, base=b, k=50, max_iter=2, seed=0)
    assert res.status[0] == "no base" and res.status[1] == "base invalid"
    assert np.isnan(res.counterfactuals[:2]).all() and not res.valid[:2].any()


def test_trex_nn_and_wachter(moons_task):
    data, model, q = moons_task
    res = trex_nn(model, q, data.X_train, k=100, tau=0.7, seed=0)
    _check_found_rows(res, model)
    rows = {tuple(r) for r in data.X_train}
    assert all(tuple(r) in rows for r in res.counterfactuals)
    assert all(s in {"found", "fallback nearest"} for s in res.status)
    assert np.all(res.stability[np.array(res.status) == "found"] > 0.7)
    w = wachter(model, q, box=BOX)
    if w.found.any():
        _check_found_rows(w, model)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, q: closest_counterfactual(m, q, norm=3), r"norm must be one of \(1, 2\)"),
        (lambda m, q: closest_counterfactual(m, q, box=(1.0, 0.0)), "box must satisfy lo <= hi"),
        (lambda m, q: trex(m, q, base=np.zeros((1, 4))), "base must have shape"),
        (lambda m, q: trex(m, q, sigma=0.0), "sigma"),
        (lambda m, q: trex(m, q[:, :2]), r"X must have 4 columns"),
        (lambda m, q: trex(lambda X: np.full(len(X), 0.7), q), "needs gradients"),
        (lambda m, q: wachter(m, q, target=0.4), r"target must be in \(0.5, 1.0\]"),
    ],
)
def test_generator_bad_input(moons_task, call, match):
    _, model, q = moons_task
    with pytest.raises((ValueError, TypeError), match=match):
        call(model, q)


def test_torch_float32_module_is_accepted():
    net = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid())  # float32
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.fill_(0.0)
    res = closest_counterfactual(net, np.array([[-0.5, -0.2]]), c0=10.0)
    assert res.found.all() and res.valid.all()
