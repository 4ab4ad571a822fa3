"""Behavior cloning and seeded MLP classifiers: exact recovery, beats chance, seeds, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainers.runtime import load_checkpoint
from trainers.supervised import (
    SupervisedConfig,
    train_bc,
    train_bc_runs,
    train_classifier,
    train_classifier_runs,
)

LINEAR = SupervisedConfig(hidden=(), steps=300, lr=0.05, dtype="float64")


@pytest.fixture(scope="module")
def expert():
    """A linear expert a = -K s on 200 Gaussian states (noiseless)."""
    rng = np.random.default_rng(0)
    K = rng.normal(size=(2, 4))
    S = rng.normal(size=(200, 4))
    return K, S, -S @ K.T


@pytest.fixture(scope="module")
def three_sectors():
    """Points in the plane labelled by which third of the circle they lie in (chance 1/3)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 2))
    y = (np.floor(np.arctan2(X[:, 1], X[:, 0]) / (2 * np.pi / 3)).astype(int)) % 3
    return X[:300], y[:300], X[300:], y[300:]


def test_bc_recovers_linear_gain(expert):
    K, S, A = expert
    res = train_bc(S, A, LINEAR, progress=False)
    gain = res.state_dict["0.weight"][0].numpy()
    np.testing.assert_allclose(gain, -K, atol=1e-4)  # measured error 1e-6
    assert res.metrics[-1]["charts/mse"] < 1e-8
    np.testing.assert_allclose(res.predict(S, run=0), A, atol=1e-4)


def test_bc_weights_ignore_corrupted_samples(expert):
    K, S, A = expert
    A = A.copy()
    A[:50] += 5.0  # corrupted demonstrations
    w = np.r_[np.zeros(50), np.ones(150)]
    weighted = train_bc(S, A, LINEAR, weights=w, progress=False).state_dict["0.weight"][0]
    plain = train_bc(S, A, LINEAR, progress=False).state_dict["0.weight"][0]
    assert np.abs(weighted.numpy() + K).max() < 1e-4
    assert np.abs(plain.numpy() + K).max() > 0.1


def test_classifier_beats_chance(three_sectors):
    X, y, Xt, yt = three_sectors
    cfg = SupervisedConfig(hidden=(32,), steps=300, lr=0.02, batch_size=64)
    res = train_classifier_runs(X, y, cfg, seeds=range(4))
    p = res.predict_proba(Xt)
    assert p.shape == (4, 300, 3)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-6)
    acc = (p.argmax(-1) == yt).mean(-1)
    assert acc.min() > 1 / 3 + 0.4  # measured 0.96-0.98 held out


def test_binary_classifier_probabilities():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) > 0).astype(int)
    res = train_classifier(X, y, SupervisedConfig(hidden=(16,), steps=200), seed=0, progress=False)
    p = res.predict_proba(X, run=0)
    assert p.shape == (200, 2)
    assert ((p[:, 1] > 0.5) == y).mean() > 0.9


def test_same_seed_identical_weights_different_seeds_differ(three_sectors):
    X, y, _, _ = three_sectors
    cfg = SupervisedConfig(hidden=(8,), steps=50, batch_size=32)
    a = train_classifier(X, y, cfg, seed=5, progress=False).state_dict
    b = train_classifier(X, y, cfg, seed=5, progress=False).state_dict
    c = train_classifier(X, y, cfg, seed=6, progress=False).state_dict
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert any(not torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("kind", ["bc", "classifier"])
def test_batched_equals_one_by_one(three_sectors, kind):
    X, y, _, _ = three_sectors
    cfg = SupervisedConfig(
        hidden=(8, 8), steps=60, batch_size=32, dtype="float64", weight_decay=1e-3
    )
    seeds = [0, 3, 4]
    rng = np.random.default_rng(0)
    w = rng.uniform(0, 1, (3, len(X)))  # one weighting per run
    fit = train_bc_runs if kind == "bc" else train_classifier_runs
    target = X[:, ::-1].copy() if kind == "bc" else y
    a = fit(X, target, cfg, seeds, weights=w, batched=True)
    b = fit(X, target, cfg, seeds, weights=w, batched=False)
    for k in a.state_dict:
        torch.testing.assert_close(a.state_dict[k], b.state_dict[k], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a.predict(X), b.predict(X), atol=1e-10)


def test_checkpoint_roundtrip(expert, tmp_path):
    _, S, A = expert
    cfg = SupervisedConfig(hidden=(4,), steps=20)
    res = train_bc_runs(S, A, cfg, seeds=[0, 1])
    res.save(tmp_path / "bc")
    state, cfg2 = load_checkpoint(tmp_path / "bc", SupervisedConfig)
    assert cfg2 == cfg
    net = res.module(1)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, state[k][1])


@pytest.mark.parametrize(
    "call",
    [
        lambda: SupervisedConfig(hidden=(0,)),
        lambda: SupervisedConfig(activation="gelu"),
        lambda: SupervisedConfig(batch_size=0),
        lambda: train_bc(np.zeros((5, 2)), np.zeros((4, 1))),
        lambda: train_bc(np.full((5, 2), np.nan), np.zeros(5)),
        lambda: train_bc(np.zeros((5, 2)), np.zeros(5), weights=np.zeros(5)),
        lambda: train_classifier(np.zeros((5, 2)), np.zeros(5)),  # float labels
        lambda: train_classifier(np.zeros((5, 2)), np.arange(5), n_classes=3),
        lambda: train_bc_runs(np.zeros((5, 2)), np.zeros(5), seeds=[]),
    ],
    ids=["hidden", "activation", "batch", "shapes", "nan", "weights", "labels", "classes", "seeds"],
)
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_predict_proba_needs_a_classifier(expert):
    _, S, A = expert
    res = train_bc(S, A, SupervisedConfig(hidden=(), steps=2), progress=False)
    with pytest.raises(ValueError, match="classifier"):
        res.predict_proba(S)
