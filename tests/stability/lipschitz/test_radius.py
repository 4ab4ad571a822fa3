"""Certified radii: hand-computed values, and brute force: no sampled perturbation inside the
radius changes the argmax, on random small networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from stability.decision_boundary.models import GridCNN
from stability.lipschitz import LipschitzResult, as_network, lipschitz_bound
from stability.lipschitz.radius import CertifiedRadius, certified_radius

torch.set_num_threads(1)


def test_hand_computed_radius():
    """``f = identity`` on R^2 (L = 1): at (1, 0) the margin is 1 and the nearest tie
    (0.5, 0.5) lies at distance ``1/√2``: the radius is exact here."""
    r = certified_radius([np.eye(2)], [[1.0, 0.0], [0.2, 0.2], [-1.0, 2.0]], bound=1.0)
    assert isinstance(r, CertifiedRadius)
    assert r.radius == pytest.approx([1 / math.sqrt(2), 0.0, 3 / math.sqrt(2)])
    assert list(r.decision) == [0, 0, 1] and r.margin == pytest.approx([1.0, 0.0, 3.0])
    assert r.certified and r.source == "given" and "radius" in r.summary()
    r2 = certified_radius([2 * np.eye(2)], [[1.0, 0.0]], method="naive")
    assert r2.lipschitz == pytest.approx(2.0) and r2.radius[0] == pytest.approx(1 / math.sqrt(2))
    assert r2.source == "naive" and r2.certified
    loose = LipschitzResult(3.0, "lipsdp-network", False, "not certified", 0.0)
    assert not certified_radius([np.eye(2)], [[1.0, 0.0]], bound=loose).certified


def test_modules_and_conv_policies():
    torch.manual_seed(0)
    cnn = GridCNN(6).eval()
    states = torch.rand(5, 1, 6, 6).numpy()
    r = certified_radius(cnn, states, input_shape=(1, 6, 6), method="naive")
    with torch.no_grad():
        logits = cnn(torch.as_tensor(states)).numpy()
    assert list(r.decision) == list(logits.argmax(1))
    assert r.lipschitz == pytest.approx(lipschitz_bound(cnn, "naive", input_shape=(1, 6, 6)).value)
    flat = certified_radius(cnn, states.reshape(5, -1), input_shape=(1, 6, 6), bound=r.lipschitz)
    assert np.allclose(flat.radius, r.radius)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), width=st.integers(2, 6), n_out=st.integers(2, 4))
def test_no_sampled_perturbation_inside_the_radius_flips_the_decision(seed, width, n_out):
    """Brute force: 400 perturbations per state, on the sphere of 0.999 x the radius and
    inside it, never change the argmax."""
    torch.manual_seed(seed)
    mod = nn.Sequential(nn.Linear(3, width), nn.Tanh(), nn.Linear(width, n_out)).double()
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((6, 3))
    r = certified_radius(mod, states, method="lipsdp-neuron")
    assert r.certified
    for x, rad, d in zip(states, r.radius, r.decision, strict=True):
        u = rng.standard_normal((400, 3))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        scale = 0.999 * rad * np.concatenate([np.ones(200), rng.uniform(0, 1, 200)])
        xs = x + scale[:, None] * u
        with torch.no_grad():
            out = mod(torch.as_tensor(xs)).numpy()
        assert np.all(out.argmax(1) == d)


def test_radius_is_not_vacuous_on_a_linear_policy():
    """For a linear policy ``f = W x`` with two outputs the exact radius is
    ``|w_1 - w_2| x / ||w_1 - w_2||``; the certified one is within the factor
    ``√2 ||W|| / ||w_1 - w_2||`` of it [derived] and below it."""
    w = np.array([[1.0, 2.0], [-1.0, 0.5]])
    x = np.array([[0.3, 0.4]])
    net = as_network([w])
    r = certified_radius(net, x, method="naive")
    diff = w[0] - w[1]
    exact = abs(diff @ x[0]) / np.linalg.norm(diff)
    assert r.radius[0] <= exact
    assert r.radius[0] * math.sqrt(2) * np.linalg.norm(w, 2) / np.linalg.norm(
        diff
    ) == pytest.approx(exact)
