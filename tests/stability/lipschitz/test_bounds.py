"""Upper bounds: reference numbers (LipSDP's ``random_weights`` example, Fazlyab et al. NeurIPS
2019, and CVXOPT-measured values), ordering, homogeneity, certification."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from stability import lipschitz_bound, lipschitz_lower_bound
from stability.lipschitz import as_network
from stability.lipschitz.generators import random_weights
from stability.lipschitz.liplt import liplt_bound
from stability.lipschitz.lower import angle_sweep
from stability.lipschitz.naive import frobenius_bound, naive_bound
from stability.lipschitz.strategies import weight_lists

RW = random_weights()


def _gauss(seed, dims):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((dims[k + 1], dims[k])) / np.sqrt(dims[k]) for k in range(len(dims) - 1)
    ]


def test_random_weights_closed_forms():
    net = as_network(RW)
    assert naive_bound(net) == pytest.approx(43.3056, abs=1e-4)
    assert frobenius_bound(net) == pytest.approx(68.1386, abs=1e-4)
    assert liplt_bound(net) == pytest.approx(39.8609, abs=1e-4)
    assert lipschitz_bound(RW, "eclipse-fast").value == pytest.approx(39.9015, abs=1e-4)


@pytest.mark.parametrize(("method", "value"), [("lipsdp-layer", 39.839), ("lipsdp-neuron", 36.482)])
def test_random_weights_published_lipsdp(method, value):
    r = lipschitz_bound(RW, method)
    assert r.certified and r.message == "optimal"
    assert abs(r.value - value) <= 1e-3


@pytest.mark.slow
def test_random_weights_published_network():
    r = lipschitz_bound(RW, "lipsdp-network")
    assert abs(r.value - 36.482) <= 1e-3
    assert not r.certified  # coupling multipliers are not a valid relaxation in general


def test_neuron_tight_on_random_weights():
    prod = RW[3] @ RW[2] @ RW[1] @ RW[0]
    lo = lipschitz_lower_bound(RW, n_samples=1024, n_ascent=20)
    assert lo.value == pytest.approx(np.linalg.norm(prod, 2), abs=1e-6)
    assert lo.value <= lipschitz_bound(RW, "lipsdp-neuron").value <= lo.value + 1e-4


@pytest.mark.parametrize(
    ("dims", "seed", "exact", "neuron", "layer", "fast", "liplt", "naive"),
    [
        ([2, 16, 1], 1, 0.76810, 0.91072, 1.51319, 1.85085, 1.56725, 2.5652),
        ([2, 16, 16, 1], 2, 1.10132, 2.05601, 2.65600, 3.35678, 3.31745, 5.6238),
    ],
)
def test_table_b(dims, seed, exact, neuron, layer, fast, liplt, naive):
    ws = _gauss(seed, dims)
    assert angle_sweep(as_network(ws)) == pytest.approx(exact, abs=1e-5)
    got = [
        lipschitz_bound(ws, m).value
        for m in ("lipsdp-neuron", "lipsdp-layer", "eclipse-fast", "liplt", "naive")
    ]
    assert got == pytest.approx([neuron, layer, fast, liplt, naive], abs=2e-4)
    assert exact <= min(got)


@given(weight_lists(max_depth=1))
@settings(max_examples=15, deadline=None)
def test_single_layer_all_methods_equal_spectral_norm(ws):
    s = np.linalg.norm(ws[0], 2)
    for m in ("naive", "liplt", "eclipse-fast", "lipsdp-neuron", "lipsdp-layer"):
        assert lipschitz_bound(ws, m).value == pytest.approx(s, rel=1e-9)


@given(weight_lists(max_depth=3, max_width=5))
@settings(max_examples=12, deadline=None)
def test_ordering_and_lower(ws):
    vals = {
        m: lipschitz_bound(ws, m).value
        for m in ("lipsdp-neuron", "lipsdp-layer", "eclipse-fast", "liplt", "naive")
    }
    lo = lipschitz_lower_bound(ws, n_samples=256, n_ascent=10).value
    tol = 1 + 1e-6
    # the SDP's certified values carry the solver's absolute accuracy (~1e-8 in rho): a tiny
    # absolute slack on the comparisons that involve two SDP values (falsified by
    # ws=[[[0.12573022]], [[-0.13210486]]]: Layer 0.01660966 vs ECLipsE-Fast 0.01660957)
    assert lo <= vals["lipsdp-neuron"] * tol
    assert vals["lipsdp-neuron"] <= vals["lipsdp-layer"] * tol + 1e-6
    assert vals["lipsdp-layer"] <= vals["eclipse-fast"] * tol + 1e-6
    assert vals["eclipse-fast"] <= vals["naive"] * tol
    # alpha = 0, beta = 1 (LipLT, Fazlyab et al. NeurIPS 2023)
    assert vals["liplt"] <= vals["naive"] * tol


@given(weight_lists(max_depth=3, max_width=5))
@settings(max_examples=10, deadline=None)
def test_homogeneity(ws):
    scaled = [3.0 * ws[0], *ws[1:]]
    for m in ("naive", "liplt", "eclipse-fast", "lipsdp-neuron"):
        a, b = lipschitz_bound(ws, m).value, lipschitz_bound(scaled, m).value
        assert b == pytest.approx(3.0 * a, rel=1e-4 if m.startswith("lipsdp") else 1e-9)


def test_biases_do_not_change_global_bounds():
    import torch
    from torch import nn

    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2)).double()
    ws = [seq[0].weight.detach().numpy(), seq[2].weight.detach().numpy()]
    for m in ("naive", "liplt", "eclipse-fast", "lipsdp-neuron"):
        assert lipschitz_bound(seq, m).value == pytest.approx(
            lipschitz_bound(ws, m).value, rel=1e-12
        )


def test_identity_activation_liplt_exact_and_lipsdp_close():
    ws = _gauss(5, [3, 5, 6, 2])
    exact = np.linalg.norm(ws[2] @ ws[1] @ ws[0], 2)
    assert lipschitz_bound(ws, "liplt", activation="identity").value == pytest.approx(
        exact, rel=1e-12
    )
    r = lipschitz_bound(ws, "lipsdp-neuron", activation="identity")
    assert r.certified and exact <= r.value <= exact * (1 + 1e-3)


def test_certification_is_exact_for_eclipse_fast_multipliers():
    r = lipschitz_bound(_gauss(3, [3, 7, 5, 2]), "eclipse-fast")
    assert r.value == pytest.approx(r.details["formula_value"], rel=1e-8)


def test_auto_picks_and_says_which():
    r = lipschitz_bound(RW, "auto", time_budget=5.0)
    assert r.method == "lipsdp-neuron" and r.requested == "auto"
    r2 = lipschitz_bound(RW, "auto", time_budget=1e-6)
    assert r2.method in ("eclipse-fast", "liplt", "naive")
    assert r2.value >= r.value


def test_local_bound_box():
    ws = _gauss(2, [2, 8, 8, 1])
    box = (np.array([0.5, 0.5]), np.array([1.0, 1.0]))
    loc = lipschitz_bound(ws, "local", box=box)
    lo = lipschitz_lower_bound(ws, box=box, n_samples=512, n_ascent=20)
    assert loc.certified and lo.value <= loc.value * (1 + 1e-9)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0.5, 1.0, (2000, 2)), rng.uniform(0.5, 1.0, (2000, 2))
    f = as_network(ws).forward
    ratio = np.linalg.norm(f(x) - f(y), axis=1) / np.linalg.norm(x - y, axis=1)
    assert ratio.max() <= loc.value


def test_local_bound_tiny_box_is_jacobian_norm():
    ws = _gauss(2, [2, 8, 1])
    c = np.array([0.3, -0.7])
    net = as_network(ws)
    from stability.lipschitz.lower import jacobian_norms

    loc = lipschitz_bound(ws, "local", box=(c - 1e-9, c + 1e-9)).value
    assert loc == pytest.approx(jacobian_norms(net, c[None])[0], rel=1e-6)
