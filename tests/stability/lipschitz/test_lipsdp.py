"""LipSDP (:mod:`stability.lipschitz.lipsdp`): the router, the cvxpy formulation, and the
fallback policy of the public API when no solver's multipliers certify."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import stability.lipschitz.lipsdp as mod
from stability import lipschitz_bound, lipschitz_lower_bound
from stability.lipschitz import as_network
from stability.lipschitz.generators import gaussian_net, random_weights
from stability.lipschitz.lipsdp import LipSDPError, lipsdp, lipsdp_cvxpy
from stability.lipschitz.neuron_ipm import lipsdp_ipm

RW = random_weights()


def _gauss(seed, dims):
    return gaussian_net(np.random.default_rng(seed), dims)


def _boom(*_a, **_k):
    raise RuntimeError("solver crashed")


def test_scs_default_is_repaired_never_below_truth():
    # SCS at default accuracy returns sqrt(rho) = 36.227 < 36.4822 [measured]; the certified
    # value recomputed from its multipliers is above the truth (or LipSDP falls back).
    r = lipschitz_bound(RW, "lipsdp-neuron", solver="SCS")
    truth = np.linalg.norm(RW[3] @ RW[2] @ RW[1] @ RW[0], 2)
    if r.method == "lipsdp-neuron":
        assert r.details["solver_value"] < truth
    assert r.value >= truth


def test_cvxpy_and_structured_solvers_agree():
    net = as_network(_gauss(2, [3, 6, 5, 2]))
    a = lipsdp_cvxpy(net, "neuron", solver="CVXOPT")
    b = lipsdp(net, "neuron")
    assert a.certified and b.certified
    assert a.value == pytest.approx(b.value, rel=1e-5)


def test_lipsdp_network_can_fall_below_a_proven_lower_bound():
    # Found by the lipschitz/ordering claim: LipSDP-Network's coupled multipliers are not a
    # valid relaxation; hence certified=False for that variant.
    ws = _gauss(11, [3, 8, 2])
    net_val = lipschitz_bound(ws, "lipsdp-network")
    assert not net_val.certified
    neuron = lipschitz_bound(ws, "lipsdp-neuron").value
    assert net_val.value <= neuron * (1 + 1e-6)


# --- the router ---------------------------------------------------------------------------


def test_one_hidden_scalar_output_goes_to_the_dual(monkeypatch):
    monkeypatch.setattr(mod, "lipsdp_ipm", _boom)
    monkeypatch.setattr(mod, "lipsdp_cvxpy", _boom)
    r = lipsdp(as_network(_gauss(3, [4, 9, 1])), "neuron")
    assert r.certified and r.message == "optimal"


@pytest.mark.parametrize("variant", ["neuron", "layer"])
def test_deeper_nets_go_to_the_structured_ipm(monkeypatch, variant):
    monkeypatch.setattr(mod, "lipsdp_cvxpy", _boom)
    r = lipsdp(as_network(_gauss(3, [3, 6, 5, 2])), variant)
    assert r.certified and r.message.startswith("optimal") and r.details["solver"] == "ipm"


def test_an_early_stopped_ipm_is_completed_by_cvxpy(monkeypatch):
    net = as_network(_gauss(4, [3, 6, 5, 2]))
    real = lipsdp_ipm(net, "neuron")
    loose = replace(real, value=1.5 * real.value, message="iteration limit", status=1)
    monkeypatch.setattr(mod, "lipsdp_ipm", lambda *a, **k: loose)
    r = lipsdp(net, "neuron")
    assert r.value == pytest.approx(real.value, rel=1e-5)
    assert "structured IPM stopped early" in r.message
    assert r.details["solver"] != "ipm"  # CVXOPT's certified value is the smaller one here
    # cvxpy failing too: the IPM's certified iterate is returned, saying so
    monkeypatch.setattr(mod, "_solve_sdp", _boom)
    r = lipsdp(net, "neuron")
    assert r.value == loose.value and "cvxpy failed" in r.message


def test_single_layer_is_the_spectral_norm():
    w = np.random.default_rng(0).standard_normal((3, 4))
    for variant in ("neuron", "layer", "network"):
        r = lipsdp(as_network([w]), variant)
        assert r.value == pytest.approx(np.linalg.norm(w, 2), rel=1e-12) and r.certified


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"variant": "diagonal"}, "variant"),
        ({"variant": "network", "solver": "ipm"}, "ipm"),
        ({"solver": "NO_SUCH_SOLVER"}, "solver"),
        ({"solver": "CVXOPT", "rtol": 0.02}, "rtol"),
        ({"rtol": 1.5}, "rtol"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    net = as_network(_gauss(1, [2, 4, 3, 1]))
    with pytest.raises(ValueError, match=match):
        lipsdp(net, **kwargs)


def test_solver_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="solver"):
        lipsdp(as_network(_gauss(1, [2, 4, 3, 1])), solver=3)


# --- failures: LipSDPError from the router, the fallback policy in the public API -----------


def test_solver_failure_raises_in_lipsdp_and_falls_back_in_the_api(monkeypatch):
    monkeypatch.setattr(mod, "_solve_sdp", _boom)
    ws = _gauss(1, [2, 5, 1])
    net = as_network(ws)
    with pytest.raises(LipSDPError, match="crashed"):
        lipsdp(net, "neuron", solver="CVXOPT")
    r = lipschitz_bound(ws, "lipsdp-neuron", solver="CVXOPT")
    assert r.certified and r.method in ("eclipse-fast", "liplt") and "fallback" in r.message
    assert r.status == 3 and r.success  # STATUS_FALLBACK
    assert r.requested == "lipsdp-neuron"
    assert r.value >= lipschitz_lower_bound(ws).value
    with pytest.raises(LipSDPError, match="crashed"):
        lipschitz_bound(ws, "lipsdp-neuron", solver="CVXOPT", on_failure="raise")


def test_solver_user_limit_is_not_reported(monkeypatch):
    monkeypatch.setattr(mod, "_solve_sdp", lambda *a, **k: ("user_limit", 0.01, None, None))
    r = lipschitz_bound(_gauss(1, [2, 5, 1]), "lipsdp-neuron", solver="CVXOPT")
    assert r.method != "lipsdp-neuron" and "user_limit" in r.message


def test_auto_keeps_the_closed_forms_when_lipsdp_fails(monkeypatch):
    import stability.lipschitz.auto as auto

    def fail(*_a, **_k):
        raise LipSDPError("lipsdp-neuron: no certificate")

    monkeypatch.setattr(auto, "lipsdp", fail)
    ws = _gauss(2, [3, 6, 5, 2])
    r = lipschitz_bound(ws, "auto")
    assert r.certified and r.method != "lipsdp-neuron" and math.isfinite(r.value)
    assert r.value >= lipschitz_bound(ws, "lipsdp-neuron").value * (1 - 1e-6)


def test_local_keeps_liplt_when_lipsdp_fails(monkeypatch):
    monkeypatch.setattr(mod, "_solve_sdp", _boom)
    ws = _gauss(2, [3, 6, 5, 2])
    box = (-np.ones(3), np.ones(3))
    r = lipschitz_bound(ws, "local", box=box, solver="CVXOPT")
    assert r.certified and r.details["via"] == "liplt" and math.isfinite(r.value)


@pytest.mark.parametrize("variant", ["neuron", "layer"])
@pytest.mark.parametrize(("dims", "seed"), [([12, 4, 2], 0), ([9, 3, 5, 1], 1)])
def test_wide_input_is_reduced_to_the_first_layer_same_sdp(variant, dims, seed):
    """``n_0 > n_1``: the SDP on ``W_1 = UΣVᵀ -> UΣ`` has the optimum of the full LMI (solved
    without reduction by cvxpy/CVXOPT), and its multipliers certify the original network."""
    net = as_network(_gauss(seed, dims))
    r = lipsdp(net, variant)
    assert r.details["input_reduction"] == (dims[0], dims[1])
    full = lipsdp_cvxpy(net, variant, solver="CVXOPT")
    assert "input_reduction" not in full.details
    assert r.value == pytest.approx(full.value, rel=1e-5)
    rho = mod._certify(net, r.details["multipliers"])
    assert math.sqrt(rho) == pytest.approx(r.value, rel=1e-9)


def test_mnist_lipsdp_neuron_in_a_fraction_of_a_second():
    """LipSDP's 784-50-10 MNIST net: the reduced LMI has order 100 instead of 834."""
    from stability.lipschitz.generators import mnist_weights

    r = lipschitz_bound(mnist_weights(), "lipsdp-neuron")
    assert r.certified and r.value == pytest.approx(24.3663, abs=1e-4)
    assert r.seconds < 5.0
