"""LipSDP-Neuron-FO: L-BFGS on the Schur recursion, certified (stability.lipschitz.neuron_fo)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

import stability.lipschitz.neuron_fo as fo_mod
from stability import lipschitz_bound, lipschitz_lower_bound
from stability.lipschitz import as_network
from stability.lipschitz.auto import estimate_cost
from stability.lipschitz.certificate import SAFETY, certify_multipliers
from stability.lipschitz.generators import eclipse_random_net, random_weights
from stability.lipschitz.neuron_fo import neuron_fo, schur_objective
from stability.lipschitz.strategies import weight_lists


def _gauss(seed, dims):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((dims[k + 1], dims[k])) / np.sqrt(dims[k]) for k in range(len(dims) - 1)
    ]


def test_random_weights_reaches_the_exact_value():
    rw = random_weights()
    # = LipSDP-Neuron (tight on random_weights)
    exact = np.linalg.norm(rw[3] @ rw[2] @ rw[1] @ rw[0], 2)
    r = lipschitz_bound(rw, "lipsdp-neuron-fo")
    assert r.certified and r.method == "lipsdp-neuron-fo"
    assert exact <= r.value <= exact * (1 + 1e-6)


def test_value_is_the_certified_value_of_its_multipliers():
    net = as_network(_gauss(3, [3, 7, 5, 2]))
    r = neuron_fo(net)
    rho = certify_multipliers(net, r.details["multipliers"])
    assert r.value == pytest.approx(math.sqrt(rho) * (1 + SAFETY), rel=1e-14)
    assert r.value <= r.details["start"][1] * (1 + 1e-9)


@given(weight_lists(max_depth=3, max_width=5))
@settings(max_examples=12, deadline=None)
def test_between_lower_bound_and_eclipse_fast_and_not_below_neuron(ws):
    r = lipschitz_bound(ws, "lipsdp-neuron-fo")
    neuron = lipschitz_bound(ws, "lipsdp-neuron").value
    fast = lipschitz_bound(ws, "eclipse-fast").value
    lo = lipschitz_lower_bound(ws, n_samples=256, n_ascent=10).value
    assert r.certified
    assert lo <= r.value * (1 + 1e-9)
    assert r.value <= fast * (1 + 1e-9)
    # Sound: never below the SDP optimum. Closeness to it is not guaranteed (see the known
    # boundary stall below); it is asserted on the fixed nets of the other tests.
    assert neuron * (1 - 1e-5) <= r.value


#: A [1, 2, 4, 1] net (found by hypothesis) on which the descent stops at a point where
#: H22(λ) is singular (ρ stays finite there) and every gradient step leaves the feasible set:
#: FO certifies 0.6203 against LipSDP-Neuron's 0.5800 (7% above; still a valid bound).
_BOUNDARY_STALL = [
    np.array([[1.10218936], [0.50697681]]),
    np.array(
        [
            [-0.57774357, -0.16846838],
            [-1.40101399, 0.20164369],
            [-0.7607858, 1.61607187],
            [0.15913963, -0.59101621],
        ]
    ),
    np.array([[0.06166193, 0.26046393, -0.53643271, -0.58028468]]),
]


def test_boundary_stall_is_still_a_certified_upper_bound():
    r = lipschitz_bound(_BOUNDARY_STALL, "lipsdp-neuron-fo")
    neuron = lipschitz_bound(_BOUNDARY_STALL, "lipsdp-neuron").value
    assert r.certified and neuron * (1 - 1e-5) <= r.value


@pytest.mark.xfail(
    strict=True,
    reason="known weakness: the descent stalls on the boundary of H22(λ) ≺ 0 (needs a "
    "barrier or feasible-direction step); strict, so a fix shows up here",
)
def test_boundary_stall_reaches_neuron_within_2_percent():
    r = lipschitz_bound(_BOUNDARY_STALL, "lipsdp-neuron-fo")
    neuron = lipschitz_bound(_BOUNDARY_STALL, "lipsdp-neuron").value
    assert r.value <= neuron * 1.02


@pytest.mark.parametrize("activation", ["leaky_relu:0.1", "sigmoid", "identity", (-0.2, 1.1)])
def test_other_slopes_start_from_the_better_certificate(activation):
    """Every slope interval has both warm starts (ECLipsE-Fast takes any [α, β]); the descent
    starts from the one with the smaller certified value."""
    ws = _gauss(5, [3, 6, 6, 2])
    r = lipschitz_bound(ws, "lipsdp-neuron-fo", activation=activation)
    neuron = lipschitz_bound(ws, "lipsdp-neuron", activation=activation).value
    if activation == "identity":  # linear activations are merged: the exact closed form
        exact = np.linalg.norm(ws[2] @ ws[1] @ ws[0], 2)
        assert r.message == "closed-form (single layer)" and r.value == pytest.approx(exact)
        return
    assert r.certified and r.details["start"][0] in ("backward-layer", "eclipse-fast")
    assert neuron * (1 - 1e-4) <= r.value <= neuron * 1.02


def test_single_layer_is_the_spectral_norm():
    w = _gauss(1, [4, 3])[0]
    assert lipschitz_bound([w], "lipsdp-neuron-fo").value == pytest.approx(np.linalg.norm(w, 2))


def test_objective_matches_certification_and_finite_differences():
    net = as_network(_gauss(2, [3, 5, 4, 2]))
    lam = [m * 1.3 for m in lipschitz_bound(net, "eclipse-fast").details["multipliers"]]
    for tau in (0.0, 1e-2):
        val, rho, g = schur_objective(net, lam, tau)
        assert rho == pytest.approx(certify_multipliers(net, lam), rel=1e-12)
        assert rho <= val <= rho + tau * math.log(net.dims[0]) + 1e-15
        rng = np.random.default_rng(0)
        d = [rng.standard_normal(m.shape) for m in lam]
        eps = 1e-6
        vp = schur_objective(net, [m + eps * x for m, x in zip(lam, d, strict=True)], tau)[0]
        vm = schur_objective(net, [m - eps * x for m, x in zip(lam, d, strict=True)], tau)[0]
        directional = sum(float(a @ b) for a, b in zip(g, d, strict=True))
        assert (vp - vm) / (2 * eps) == pytest.approx(directional, rel=1e-5)


def test_objective_is_none_outside_the_feasible_set():
    net = as_network(_gauss(2, [3, 5, 4, 2]))
    assert schur_objective(net, [np.full(5, 1e-9), np.full(4, 1e-9)]) is None


def test_failed_certification_keeps_the_warm_start(monkeypatch):
    net = as_network(_gauss(4, [3, 6, 5, 2]))
    calls = {"n": 0}
    real = fo_mod.certify_multipliers

    def flaky(n, lam, slopes=None):
        calls["n"] += 1
        return real(n, lam, slopes) if calls["n"] <= 2 else math.inf  # 2 warm starts pass

    monkeypatch.setattr(fo_mod, "certify_multipliers", flaky)
    r = neuron_fo(net)
    assert r.certified and "warm start" in r.message
    assert r.value == pytest.approx(r.details["start"][1] * (1 + SAFETY), rel=1e-12)
    assert r.value >= lipschitz_bound(net, "lipsdp-neuron").value * (1 - 1e-6)


def test_time_budget_stops_the_descent():
    ws = eclipse_random_net(6, 120)
    r = lipschitz_bound(ws, "lipsdp-neuron-fo", time_budget=0.3)
    assert "time budget" in r.message and r.seconds < 2.0
    assert r.value < lipschitz_bound(ws, "eclipse-fast").value


def test_auto_uses_fo_when_lipsdp_neuron_does_not_fit():
    ws = eclipse_random_net(4, 300)  # N = 900: LipSDP-Neuron (structured IPM) estimated above 2 s
    assert estimate_cost(as_network(ws), "lipsdp-neuron").seconds > 2.0
    r = lipschitz_bound(ws, "auto", time_budget=2.0)
    assert r.method == "lipsdp-neuron-fo" and r.requested == "auto"
    assert r.value < r.details["candidates"]["eclipse-fast"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"time_budget": 0.0}, "time_budget"),
        ({"max_iter": -1}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"memory": 0}, "memory"),
        ({"stages": ()}, "stages"),
        ({"stages": ((1e-3, 2.0),)}, "stages"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        neuron_fo(as_network(_gauss(1, [2, 3, 1])), **kwargs)


def test_objective_bad_input():
    net = as_network(_gauss(1, [2, 3, 1]))
    with pytest.raises(ValueError, match="tau"):
        schur_objective(net, [np.ones(3)], -1.0)
    with pytest.raises(ValueError, match="hidden layer"):
        schur_objective(as_network([np.eye(2)]), [])


@pytest.mark.slow
@pytest.mark.parametrize(("layers", "width"), [(2, 50), (5, 20), (2, 100), (10, 20), (5, 50)])
def test_eclipse_random_nets_within_two_percent_of_neuron(layers, width):
    ws = eclipse_random_net(layers, width)
    r = lipschitz_bound(ws, "lipsdp-neuron-fo")
    neuron = lipschitz_bound(ws, "lipsdp-neuron").value
    assert neuron * (1 - 1e-6) <= r.value <= 1.02 * neuron


@pytest.mark.slow
def test_20x256_beats_eclipse_fast_within_its_budget():
    """Behaviour only (the time is measured by ``stability bench lipschitz``): the descent stops
    at the budget, and even a few iterations certify well below ECLipsE-Fast."""
    ws = eclipse_random_net(20, 256)
    fast = lipschitz_bound(ws, "eclipse-fast")
    r = lipschitz_bound(ws, "lipsdp-neuron-fo", time_budget=9.0)
    assert r.certified and ("time budget" in r.message or "converged" in r.message)
    assert r.value < 0.9 * fast.value
