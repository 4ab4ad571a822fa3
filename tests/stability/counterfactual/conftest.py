"""Shared small instances: a trained MLP on 4-d moons and its rejected queries (immutable)."""

from __future__ import annotations

import pytest
import torch

from stability.counterfactual import moons, predict_proba, train_mlp

torch.set_num_threads(1)


@pytest.fixture(scope="package")
def moons_task():
    data = moons(300, d=4, seed=0)
    model = train_mlp(data.X_train, data.y_train, hidden=(16, 16), epochs=150, lr=0.02, seed=0)
    q = data.X_test[predict_proba(model, data.X_test) < 0.5][:12]
    q.setflags(write=False)
    return data, model, q
