"""Metrics (LOF against scikit-learn), model-change families and data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import LocalOutlierFactor

from stability.counterfactual import (
    breast_cancer,
    changed_models,
    cost,
    evaluate,
    lof_1nn,
    logistic_model,
    moons,
    robust_validity,
    train_mlp,
    trex_nn,
    validity,
)


def test_lof_matches_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    Q = np.vstack([rng.normal(size=(30, 3)), rng.normal(scale=4, size=(10, 3))])
    ref = LocalOutlierFactor(n_neighbors=1, novelty=True).fit(X).predict(Q)
    np.testing.assert_array_equal(lof_1nn(X, Q), ref)
    Q[0] = np.nan
    assert lof_1nn(X, Q)[0] == 0


def test_cost_and_validity_hand_computed():
    X = np.zeros((3, 2))
    CF = np.array([[1.0, 2.0], [3.0, 4.0], [np.nan, np.nan]])
    assert cost(X, CF, p=1) == pytest.approx((3 + 7) / 2)
    assert cost(X, CF, p=2) == pytest.approx((np.sqrt(5) + 5) / 2)
    m = logistic_model(np.array([1.0, -1.0]), 0.0)  # m >= 0.5 iff x0 >= x1
    assert validity(m, CF) == pytest.approx(0.0)
    assert validity(m, np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(0.5)
    flip = logistic_model(np.array([-1.0, 1.0]), 0.0)
    assert robust_validity([m, flip], np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"p must be one of \(1, 2\)"):
        cost(X, CF, p=3)
    with pytest.raises(ValueError, match="at least one model"):
        robust_validity([], CF)


def _factory(X, y, seed):
    return train_mlp(X, y, hidden=(8,), epochs=60, lr=0.05, seed=seed)


def test_changed_model_families():
    data = moons(120, d=3, seed=1)
    X, y = data.X_train, data.y_train
    re = changed_models(_factory, X, y, kind="retrain", n_models=3, seed=0)
    p = re.predict(data.X_test)
    assert p.shape == (3, len(data.X_test)) and np.ptp(p, axis=0).max() > 0  # seeds differ
    again = changed_models(_factory, X, y, kind="retrain", n_models=3, seed=0)
    np.testing.assert_array_equal(p, again.predict(data.X_test))
    base = _factory(X, y, 0)
    w0 = changed_models(_factory, X, y, kind="weights", n_models=2, weight_scale=0.0, base=base)
    np.testing.assert_array_equal(w0.predict(X)[0], w0.models[0](torch.from_numpy(X))[:, 0].numpy())
    wp = changed_models(_factory, X, y, kind="weights", n_models=2, weight_scale=0.1, base=base)
    diff = [
        (a - b).abs().max().item()
        for a, b in zip(wp.models[0].parameters(), base.parameters(), strict=True)
    ]
    assert 0 < max(diff) < 1.0
    lo = changed_models(_factory, X, y, kind="leave-out", n_models=2, leave_out=0.2)
    assert lo.settings["rows_kept"] == len(X) - round(0.2 * len(X))
    assert "leave-out" in lo.summary()
    with pytest.raises(ValueError, match="kind must be one of"):
        changed_models(_factory, X, y, kind="prune")
    with pytest.raises(ValueError, match="leave_out must be in"):
        changed_models(_factory, X, y, kind="leave-out", leave_out=1.0)


def test_datasets():
    bc = breast_cancer(seed=0)
    assert bc.X_train.shape[1] == 30 and len(bc.X_train) + len(bc.X_test) == 569
    assert bc.X_train.min() == 0.0 and bc.X_train.max() == 1.0
    assert set(np.unique(bc.y_train)) == {0.0, 1.0}
    assert "breast-cancer" in bc.summary()
    with pytest.raises(ValueError, match="test_fraction must be in"):
        breast_cancer(test_fraction=1.5)
    with pytest.raises(ValueError, match="d must be >= 2"):
        moons(d=1)


def test_evaluate_row(moons_task):
    data, model, q = moons_task
    fam = changed_models(_factory, data.X_train, data.y_train, n_models=2)
    res = trex_nn(model, q, data.X_train, k=50, seed=0)
    row = evaluate(res, q, model, fam, data.X_train, k=50)
    assert row["method"] == "trex-nn" and row["validity"] == 1.0
    assert 0 <= row["robust_validity"] <= 1 and -1 <= row["lof"] <= 1
