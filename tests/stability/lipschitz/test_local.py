"""Neuron-wise slopes (the local bound over a box) in the structured interior-point method.

References: CVXOPT through cvxpy on the same SDP, the explicitly reduced network, sampled pair
ratios inside the box, and the global bound.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from stability.lipschitz import as_network, lipschitz_bound
from stability.lipschitz.certificate import SAFETY, certify_multipliers
from stability.lipschitz.lipsdp import LipSDPError, lipsdp
from stability.lipschitz.local import interval_slopes, local_bound
from stability.lipschitz.network import Network
from stability.lipschitz.strategies import weight_lists


def _random_slopes(rng, net, degenerate: float = 0.0):
    """Intervals inside [-0.5, 1.5], of width >= 0.05 (or [a, a] with probability degenerate)."""
    out = []
    for w in net.weights[:-1]:
        lo = rng.uniform(-0.5, 1.0, w.shape[0])
        hi = lo + rng.uniform(0.05, 0.5, w.shape[0])
        flat = rng.random(w.shape[0]) < degenerate
        out.append((lo, np.where(flat, lo, hi)))
    return out


@given(
    weight_lists(max_depth=3, max_width=6), st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.3])
)
@settings(max_examples=25, deadline=None)
def test_neuronwise_slopes_match_cvxopt(ws, seed, degenerate):
    """Against CVXOPT on the same SDP. With linear neurons (``α = β``, widened) the method cannot
    converge, but its certified iterate is proven close by its own dual bound (CVXOPT often fails
    there: ``LipSDPError``, and nothing to compare with)."""
    net = as_network(ws)
    if net.depth < 2:
        return
    slopes = _random_slopes(np.random.default_rng(seed), net, degenerate)
    r = lipsdp(net, slopes=slopes)
    try:
        ref = lipsdp(net, slopes=slopes, solver="CVXOPT")
    except LipSDPError:
        ref = None
    assert r.certified and r.details["solver"] == "ipm"
    assert ref is None or r.value <= ref.value * (1 + 1e-5)
    low = r.details["sdp_lower_bound"]
    assert low <= r.value and (low >= 0.995 * r.value)
    if not degenerate:
        assert r.message.startswith("optimal") and ref is not None
        assert low <= ref.value * (1 + 1e-9)
    lam = r.details["multipliers"]
    assert np.sqrt(certify_multipliers(net, lam, slopes)) * (1 + SAFETY) == pytest.approx(r.value)


def test_constant_neurons_are_removed_exactly():
    rng = np.random.default_rng(3)
    ws = [rng.standard_normal((5, 3)), rng.standard_normal((4, 5)), rng.standard_normal((2, 4))]
    net = as_network(ws)
    slopes = _random_slopes(rng, net)
    dead = [np.array([1, 0, 0, 1, 0], bool), np.array([0, 0, 1, 0], bool)]
    slopes = [
        (np.where(d, 0.0, lo), np.where(d, 0.0, hi))
        for (lo, hi), d in zip(slopes, dead, strict=True)
    ]
    r = lipsdp(net, slopes=slopes)
    keep = [~d for d in dead]
    reduced = as_network([ws[0][keep[0]], ws[1][keep[1]][:, keep[0]], ws[2][:, keep[1]]])
    ref = lipsdp(reduced, slopes=[(lo[k], hi[k]) for (lo, hi), k in zip(slopes, keep, strict=True)])
    assert r.value == pytest.approx(ref.value, rel=1e-9) and r.details["removed"] == 3
    assert all(np.all(m[d] == 0) for m, d in zip(r.details["multipliers"], dead, strict=True))


def test_a_constant_layer_makes_the_network_constant():
    net = as_network([np.ones((3, 2)), np.ones((2, 3)), np.ones((1, 2))])
    slopes = [(np.zeros(3), np.ones(3)), (np.zeros(2), np.zeros(2))]
    r = lipsdp(net, slopes=slopes)
    assert r.value == 0.0 and r.certified and r.message.startswith("constant")


def _relu_policy(seed: int, dims: list[int]) -> Network:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for k in range(len(dims) - 1):
        layers.append(nn.Linear(dims[k], dims[k + 1]).double())
        if k < len(dims) - 2:
            layers.append(nn.ReLU())
    return as_network(nn.Sequential(*layers))


@given(st.integers(0, 10_000), st.sampled_from([0.02, 0.2, 1.0]))
@settings(max_examples=10, deadline=None)
def test_local_bound_with_stable_relus_holds_on_the_box(seed, radius):
    """Stable ReLUs on the box: dead ones removed, active ones linear (widened); the value is
    certified, holds for sampled pairs in the box and is proven close to the SDP's optimum."""
    net = _relu_policy(seed, [3, 16, 16, 2])
    rng = np.random.default_rng(seed)
    c = rng.standard_normal(3)
    lo, hi = c - radius, c + radius
    r = local_bound(net, lo, hi)
    sdp = lipsdp(net, slopes=interval_slopes(net, lo, hi))
    assert r.certified and r.value <= sdp.value
    assert sdp.details["sdp_lower_bound"] <= sdp.value <= sdp.details["sdp_lower_bound"] * 1.01
    x, y = rng.uniform(lo, hi, (4000, 3)), rng.uniform(lo, hi, (4000, 3))
    ratio = np.linalg.norm(net.forward(x) - net.forward(y), axis=1) / np.linalg.norm(x - y, axis=1)
    assert ratio.max() <= r.value
    assert r.value <= lipschitz_bound(net, "lipsdp-neuron").value * (1 + 1e-3)


@pytest.mark.parametrize(
    ("slopes", "match"),
    [
        ([(np.zeros(3), np.ones(3))], "shapes"),
        ([(np.zeros(3), np.ones(3)), (np.zeros(3), np.ones(3))], "shapes"),
        ([(np.zeros(3), np.ones(3)), (np.ones(2), np.zeros(2))], "lo <= hi"),
        ([(np.zeros(3), np.ones(3)), (np.zeros(2), np.array([1.0, np.nan]))], "finite"),
        ([None, None], "pairs"),
    ],
)
def test_bad_slopes_are_refused(slopes, match):
    net = as_network([np.ones((3, 2)), np.ones((2, 3)), np.ones((1, 2))])
    with pytest.raises(ValueError, match=match):
        lipsdp(net, slopes=slopes)


def test_weight_pairs_carry_the_biases_into_the_local_bound():
    """f(x) = relu(x - 5): near 0 it is flat, so the local constant is 0 with the bias; the
    bare weight list describes relu(x), whose local constant there is 1."""
    box = (np.array([-0.5]), np.array([0.5]))
    pairs = [(np.array([[1.0]]), np.array([-5.0])), (np.array([[1.0]]), np.array([0.0]))]
    module = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.ReLU(), torch.nn.Linear(1, 1))
    with torch.no_grad():
        module[0].weight.fill_(1.0), module[0].bias.fill_(-5.0)
        module[2].weight.fill_(1.0), module[2].bias.fill_(0.0)
    with_bias = lipschitz_bound(pairs, method="local", box=box).value
    assert with_bias == pytest.approx(lipschitz_bound(module, method="local", box=box).value)
    assert with_bias == pytest.approx(0.0, abs=1e-9)
    bare = lipschitz_bound([w for w, _ in pairs], method="local", box=box).value
    assert bare == pytest.approx(1.0)


@settings(max_examples=15, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.sampled_from(["GELU", "SiLU", "Mish", "LeakyReLU", "ELU", "Hardswish"]),
)
def test_local_bound_is_sound_for_non_monotone_activations(seed, act_name):
    """The box is propagated through the activation's range, not its end values: a GELU or a
    LeakyReLU with a negative slope maps [lo, hi] beyond [phi(lo), phi(hi)]."""
    from stability.lipschitz import lipschitz_lower_bound

    act = {"LeakyReLU": nn.LeakyReLU(-0.5), "ELU": nn.ELU(-0.5)}.get(act_name) or getattr(
        nn, act_name
    )()
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(3, 12), act, nn.Linear(12, 12), act, nn.Linear(12, 1)).double()
    box = (-0.5 * np.ones(3), 0.5 * np.ones(3))
    up = lipschitz_bound(m, "local", box=box).value
    low = lipschitz_lower_bound(m, box=box, seed=seed, n_samples=256, n_ascent=50).value
    assert up >= low - 1e-9
