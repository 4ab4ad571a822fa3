"""LipSDP-Neuron of one-hidden-layer scalar-output networks by the spectraplex dual
(stability.lipschitz.one_hidden).

References: CVXOPT through cvxpy and the structured IPM (independent solvers of the same SDP),
a CVXOPT-measured reference value, and the closed form at ``n_0 = 1`` (then ``Z = [1]`` and LipSDP-Neuron is
exact: ``max(Σ (w_i a_i)⁺, Σ (w_i a_i)⁻)`` for ReLU).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stability import lipschitz_bound
from stability.lipschitz import as_network
from stability.lipschitz.auto import estimate_cost
from stability.lipschitz.certificate import SAFETY, certify_multipliers
from stability.lipschitz.lipsdp import LipSDPError, lipsdp
from stability.lipschitz.neuron_ipm import lipsdp_ipm
from stability.lipschitz.one_hidden import MAX_INPUT, one_hidden_applicable, one_hidden_dual
from stability.lipschitz.strategies import one_hidden_scalar

ACTIVATIONS = ["relu", "tanh", (0.1, 1.0), (-0.5, 1.0), (-1.0, 1.0), "leaky_relu:0.01"]


@given(one_hidden_scalar(), st.sampled_from(ACTIVATIONS))
@settings(max_examples=30, deadline=None)
def test_matches_cvxopt_between_its_own_bounds(ws, activation):
    """lower <= LipSDP-Neuron (CVXOPT, certified) and value within the tolerance of it."""
    net = as_network(ws, activation)
    r = one_hidden_dual(net)
    assert r.certified and r.details["solver"] == "one-hidden dual"
    assert r.message in ("optimal", "iteration limit")  # the latter: the rank-one kink below
    try:
        ref = lipsdp(net, "neuron", solver="CVXOPT")
    except LipSDPError:  # CVXOPT failed or did not certify: nothing to compare with
        ref = None
    low = r.details["sdp_lower_bound"]
    assert low <= r.value
    if ref is not None:  # both certified, both >= the optimum >= low
        assert low <= ref.value * (1 + 1e-9)
    if r.message == "optimal":
        assert r.value**2 - low**2 <= 1.01e-6 * r.value**2 + 1e-300
        if ref is not None:
            assert r.value <= ref.value * (1 + 1e-6) + 1e-12
    lam = r.details["multipliers"][0]
    keep = lam > 0
    if np.any(keep):
        reduced = as_network([ws[0][keep], ws[1][:, keep]], activation)
        rho = certify_multipliers(reduced, [lam[keep]])
        assert r.value == pytest.approx(math.sqrt(max(rho, 0.0)) * (1 + SAFETY), rel=1e-12)


@given(one_hidden_scalar(sparse=False), st.sampled_from(["relu", (-0.5, 1.0)]))
@settings(max_examples=15, deadline=None)
def test_default_route_agrees_with_the_structured_ipm(ws, activation):
    """lipsdp-neuron's default (the dual, or the IPM when the dual stops early) = the IPM."""
    r = lipschitz_bound(ws, "lipsdp-neuron", activation)
    b = lipsdp_ipm(as_network(ws, activation))
    assert r.value == pytest.approx(b.value, rel=2e-6)


def test_rank_one_kink_falls_back_to_the_ipm():
    """A rank-one optimum with a neuron orthogonal to it: the barrier crawls (the module's
    limitation), stays certified and bracketed, and the default route returns the IPM's value."""
    ws = [
        np.array([[-0.17431352, 0.10794906], [0.07063819, 0.12792574]]),
        np.array([[-0.61970701, -0.22001646]]),
    ]
    net = as_network(ws, (-0.5, 1.0))
    ipm = lipsdp_ipm(net)
    dual = one_hidden_dual(net)
    assert dual.message == "iteration limit" and dual.certified and dual.status == 1
    assert dual.details["sdp_lower_bound"] <= ipm.value <= dual.value * (1 + 1e-9)
    routed = lipschitz_bound(ws, "lipsdp-neuron", (-0.5, 1.0))
    assert routed.details["solver"] == "ipm"
    assert routed.value == pytest.approx(ipm.value, rel=1e-9)


@given(st.integers(0, 2**32 - 1), st.integers(1, 12))
@settings(max_examples=20, deadline=None)
def test_one_input_is_exact(seed, n1):
    """n_0 = 1: LipSDP-Neuron is the exact Lipschitz constant max(Σ(w_i a_i)⁺, Σ(w_i a_i)⁻)."""
    rng = np.random.default_rng(seed)
    a, w = rng.standard_normal((n1, 1)), rng.standard_normal((1, n1))
    p = w[0] * a[:, 0]
    exact = max(np.sum(np.maximum(p, 0)), np.sum(np.maximum(-p, 0)))
    r = one_hidden_dual(as_network([a, w]))
    assert r.value == pytest.approx(exact, rel=1e-6)
    assert r.value >= exact


def test_reference_value_2_16_1():
    """[2,16,1], seed 1 (CVXOPT reference, [measured]): LipSDP-Neuron 0.91072 (exact L 0.76810)."""
    rng = np.random.default_rng(1)
    ws = [rng.standard_normal((16, 2)) / np.sqrt(2), rng.standard_normal((1, 16)) / 4.0]
    r = lipschitz_bound(ws, "lipsdp-neuron")
    assert r.details["solver"] == "one-hidden dual"
    assert r.value == pytest.approx(0.91072, abs=1e-5)


def test_rtol_is_proven_and_routing():
    rng = np.random.default_rng(3)
    ws = [rng.standard_normal((40, 4)) / 2, rng.standard_normal((1, 40)) / 6]
    exact = lipschitz_bound(ws, "lipsdp-neuron")
    loose = lipschitz_bound(ws, "lipsdp-neuron", rtol=0.02)
    assert loose.details["solver"] == "one-hidden dual" and loose.certified
    assert exact.value <= loose.value * (1 + 1e-6)
    assert loose.value <= 1.02 * loose.details["sdp_lower_bound"] * (1 + 1e-12)
    assert loose.value <= 1.02 * exact.value
    assert loose.details["iterations"] < exact.details["iterations"]
    assert lipschitz_bound(ws, "lipsdp-neuron", solver="ipm").details["solver"] == "ipm"
    assert lipschitz_bound(ws, "lipsdp-layer").details["solver"] == "ipm"


def test_removed_neurons_and_constant_network():
    rng = np.random.default_rng(4)
    w_in, w_out = rng.standard_normal((6, 3)), rng.standard_normal((1, 6))
    base = one_hidden_dual(as_network([w_in, w_out])).value
    w_in2 = np.vstack([w_in, np.zeros((1, 3)), rng.standard_normal((1, 3))])
    w_out2 = np.hstack([w_out, rng.standard_normal((1, 1)), np.zeros((1, 1))])
    assert one_hidden_dual(as_network([w_in2, w_out2])).value == pytest.approx(base, rel=1e-6)
    const = one_hidden_dual(as_network([w_in, np.zeros((1, 6))]))
    assert const.value == 0.0 and const.certified


def test_iteration_limit_is_still_certified():
    rng = np.random.default_rng(5)
    net = as_network([rng.standard_normal((30, 4)), rng.standard_normal((1, 30))])
    r = one_hidden_dual(net, max_iter=1)
    assert r.message == "iteration limit" and r.certified
    assert r.value >= one_hidden_dual(net).value * (1 - 1e-6)
    assert r.details["sdp_lower_bound"] <= r.value


def test_applicability():
    rng = np.random.default_rng(6)
    ok = as_network([rng.standard_normal((5, MAX_INPUT)), rng.standard_normal((1, 5))])
    wide = as_network([rng.standard_normal((5, MAX_INPUT + 1)), rng.standard_normal((1, 5))])
    deep = as_network([rng.standard_normal((5, 2)), np.eye(5), rng.standard_normal((1, 5))])
    two_out = as_network([rng.standard_normal((5, 2)), rng.standard_normal((2, 5))])
    assert one_hidden_applicable(ok)
    assert not any(one_hidden_applicable(n) for n in (wide, deep, two_out))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"tol": 0.0}, "tol"), ({"tol": 1.5}, "tol"), ({"max_iter": 0}, "max_iter")],
)
def test_bad_arguments(kwargs, match):
    rng = np.random.default_rng(7)
    net = as_network([rng.standard_normal((5, 2)), rng.standard_normal((1, 5))])
    with pytest.raises(ValueError, match=match):
        one_hidden_dual(net, **kwargs)


def test_rejects_networks_it_does_not_handle():
    rng = np.random.default_rng(8)
    deep = as_network([rng.standard_normal((5, 2)), np.eye(5), rng.standard_normal((1, 5))])
    with pytest.raises(ValueError, match="one hidden layer"):
        one_hidden_dual(deep)


@pytest.mark.parametrize(
    ("method", "kwargs", "match"),
    [
        ("naive", {"rtol": 0.02}, "rtol applies"),
        ("lipsdp-neuron", {"rtol": 0.0}, "rtol must be"),
        ("lipsdp-neuron", {"rtol": 0.02, "solver": "CVXOPT"}, "structured"),
    ],
)
def test_rtol_bad_input(method, kwargs, match):
    rng = np.random.default_rng(9)
    ws = [rng.standard_normal((5, 2)), rng.standard_normal((1, 5))]
    with pytest.raises(ValueError, match=match):
        lipschitz_bound(ws, method, **kwargs)


def test_auto_uses_the_dual_on_wide_one_hidden_networks():
    """The time model knows the dual's cost: a 4-800-1 net (IPM estimate 17 s) gets LipSDP."""
    rng = np.random.default_rng(10)
    ws = [rng.standard_normal((800, 4)) / 2, rng.standard_normal((1, 800)) / 30]
    assert estimate_cost(as_network(ws), "lipsdp-neuron").seconds < 1.0
    r = lipschitz_bound(ws, "auto", time_budget=5.0)
    assert r.method == "lipsdp-neuron"
    assert r.value <= lipschitz_bound(ws, "eclipse-fast").value
