"""Dual lower bounds on LipSDP's optimum (stability.lipschitz.dual_bound).

References: the structured IPM's certified optimum (weak duality: every bound lies below it) and
the exact construction of a rank-one dual point from an activation pattern, whose value is the
squared directional derivative ``‖J u‖²`` of that pattern.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stability.lipschitz import as_network
from stability.lipschitz.dual_bound import dual_lower_bound
from stability.lipschitz.generators import random_weights
from stability.lipschitz.neuron_ipm import lipsdp_ipm
from stability.lipschitz.strategies import weight_lists


@given(
    weight_lists(max_depth=4, max_width=6),
    st.sampled_from(["relu", "tanh", (0.1, 1.0), (-0.5, 1.0)]),
    st.sampled_from(["neuron", "layer"]),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=30, deadline=None)
def test_below_the_optimum(ws, activation, variant, seed):
    net = as_network(ws, activation)
    if net.depth < 2:
        return
    opt = lipsdp_ipm(net, variant).value ** 2
    rng = np.random.default_rng(seed)
    n = net.dims[0] + net.n_hidden
    for _ in range(5):
        a = rng.standard_normal((n, n)) * rng.uniform(0.01, 10)
        assert 0.0 <= dual_lower_bound(net, a @ a.T + 1e-9 * np.eye(n), variant) <= opt


@given(st.integers(0, 2**32 - 1), st.sampled_from(["relu", (-0.5, 1.0)]))
@settings(max_examples=20, deadline=None)
def test_rank_one_pattern_gives_its_directional_derivative(seed, activation):
    """X = vvᵀ with v = [u; D_1 W_1 u; D_2 W_2 D_1 W_1 u; …], d ∈ [α, β]: feasible, value ‖J u‖²."""
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((5, 3)), rng.standard_normal((4, 5)), rng.standard_normal((2, 4))]
    net = as_network(ws, activation)
    (alpha, beta) = net.slopes[0]
    u = rng.standard_normal(3)
    u /= np.linalg.norm(u)
    parts, h = [u], u
    for w in ws[:-1]:
        h = rng.uniform(alpha, beta, w.shape[0]) * (w @ h)
        parts.append(h)
    v = np.concatenate(parts)
    expected = float(np.sum((ws[-1] @ h) ** 2))
    got = dual_lower_bound(net, np.outer(v, v) + 1e-13 * np.eye(v.size))
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_random_weights_tight_direction():
    """On LipSDP's random_weights, LipSDP-Neuron is exact, so a pattern point reaches it."""
    rw = random_weights()
    net = as_network(rw)
    opt = lipsdp_ipm(net).value ** 2
    top = np.linalg.svd(rw[3] @ rw[2] @ rw[1] @ rw[0])[2][0]
    parts, h = [top], top
    for w in rw[:-1]:  # all weights positive: the identity pattern d = 1 is a ReLU pattern
        h = w @ h
        parts.append(h)
    v = np.concatenate(parts)
    lb = dual_lower_bound(net, np.outer(v, v) + 1e-12 * np.eye(v.size))
    assert lb == pytest.approx(opt, rel=1e-6) and lb <= opt


def test_not_positive_definite_gives_zero():
    net = as_network([np.eye(2), np.ones((1, 2))])
    assert dual_lower_bound(net, -np.eye(4)) == 0.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([np.eye(2), np.ones((1, 2))], np.eye(4), "network"), "variant"),
        (([np.eye(2)], np.eye(2), "neuron"), "hidden layer"),
        (([np.eye(2), np.ones((1, 2))], np.eye(3), "neuron"), "shape"),
    ],
)
def test_bad_input(args, match):
    ws, x, variant = args
    with pytest.raises(ValueError, match=match):
        dual_lower_bound(as_network(ws), x, variant)


@given(st.integers(0, 2**32 - 1), st.sampled_from(["relu", (-0.5, 1.0), (0.1, 1.0)]))
@settings(max_examples=20, deadline=None)
def test_one_hidden_scalar_is_the_spectraplex_objective(seed, activation):
    """One hidden layer, one output: the bound is g(Z)² of stability.lipschitz.one_hidden at
    Z = X_00 / tr X_00 (the last layer is chosen optimally), and at most the optimum."""
    rng = np.random.default_rng(seed)
    n0, n1 = int(rng.integers(1, 5)), int(rng.integers(1, 9))
    w_in, w_out = rng.standard_normal((n1, n0)), rng.standard_normal((1, n1))
    net = as_network([w_in, w_out], activation)
    (alpha, beta) = net.slopes[0]
    a = rng.standard_normal((n0 + n1, n0 + n1))
    x = a @ a.T + 1e-6 * np.eye(n0 + n1)
    z = x[:n0, :n0] / np.trace(x[:n0, :n0])
    q = np.einsum("ij,jk,ik->i", w_in, z, w_in)
    v = w_in.T @ w_out[0]
    g = 0.5 * (beta - alpha) * np.abs(w_out[0]) @ np.sqrt(q) + 0.5 * abs(alpha + beta) * np.sqrt(
        v @ z @ v
    )
    lb = dual_lower_bound(net, x)
    assert lb == pytest.approx(g**2, rel=1e-10)
    assert lb <= lipsdp_ipm(net).value ** 2
