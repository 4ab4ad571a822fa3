"""ECLipsE's layer SDPs solved as one-hidden-layer LipSDP-Neuron problems
(stability.lipschitz.eclipse).

References: the paper's ``2 n x 2 n`` layer LMI through cvxpy and CVXOPT (an independent
formulation and solver), LipSDP-Neuron on one-hidden-layer nets (where ECLipsE is exact), and
sampled lower bounds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stability.lipschitz import as_network, lipschitz_bound
from stability.lipschitz import eclipse as eclipse_mod
from stability.lipschitz.certificate import LipSDPError
from stability.lipschitz.eclipse import eclipse, eclipse_fast, eclipse_layer
from stability.lipschitz.lower import lower_bound
from stability.lipschitz.strategies import weight_lists


@given(st.integers(1, 6), st.integers(1, 8), st.integers(1, 5), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_a_layer_sdp_is_solved_to_the_papers_optimum(n_prev, n, n_next, seed):
    """The layer problem by LipSDP-Neuron reaches the optimum of the paper's ``2n x 2n`` LMI
    (CVXOPT): the same ``s*`` (its ``Λ`` may differ where the optimum is not unique)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n_prev)) * rng.choice([0.1, 1.0, 3.0])
    w_next = rng.standard_normal((n_next, n))
    fast, ref = eclipse_layer(g, w_next), eclipse_layer(g, w_next, solver="CVXOPT")
    assert fast.message.startswith("optimal") and ref.message.startswith("optimal")
    assert fast.success and ref.success and ref.status == 0 and ref.nit == 0
    assert np.all(fast.lam > 0) and fast.s == pytest.approx(ref.s, rel=1e-5)


def test_layer_objective_is_the_largest_feasible_s():
    rng = np.random.default_rng(0)
    g, w_next = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))
    r = eclipse_layer(g, w_next)
    x = np.diag(r.lam) - (r.lam[:, None] * (g @ g.T)) * r.lam[None, :]
    for factor, feasible in ((0.999, True), (1.001, False)):
        smallest = np.linalg.eigvalsh(x - factor * r.s * w_next.T @ w_next)[0]
        assert (smallest >= 0) == feasible


def test_eclipse_layer_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="w_next"):
        eclipse_layer(np.ones((3, 2)), np.ones((1, 4)))


@given(weight_lists(max_depth=4, max_width=6), st.sampled_from(["relu", "sigmoid", "tanh"]))
@settings(max_examples=20, deadline=None)
def test_lower_le_neuron_le_eclipse(ws, activation):
    """ECLipsE's multipliers are a LipSDP-Neuron certificate: never below Neuron's optimum."""
    net = as_network(ws, activation)
    r = eclipse(net)
    assert r.certified and r.method == "eclipse"
    neuron = lipschitz_bound(net, "lipsdp-neuron").value
    low = lower_bound(net, n_samples=256, n_ascent=0, seed=0).value
    assert low <= neuron * (1 + 1e-9) and neuron <= r.value * (1 + 1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_on_one_hidden_layer_eclipse_is_lipsdp_neuron(seed):
    rng = np.random.default_rng(seed)
    n0, n1, n2 = rng.integers(1, 20, size=3)
    ws = [rng.standard_normal((n1, n0)), rng.standard_normal((n2, n1))]
    ecl, neuron = eclipse(as_network(ws)), lipschitz_bound(ws, "lipsdp-neuron")
    assert ecl.value == pytest.approx(neuron.value, rel=1e-6)


def test_a_failed_layer_solve_falls_back_to_the_fast_choice(monkeypatch):
    net = as_network([np.ones((3, 2)), np.ones((4, 3)), np.ones((1, 4))])

    def fail(*args, **kwargs):
        raise LipSDPError("lipsdp-neuron: solver failed")

    monkeypatch.setattr(eclipse_mod, "lipsdp", fail)
    r = eclipse(net)
    assert r.certified and "layer SDP failed" in r.message
    assert r.value == pytest.approx(eclipse_fast(net).value, rel=1e-9)


# --- general slopes [α, β]: LeakyReLU and sector-bounded activations ------------------------

SLOPED = ["leaky_relu:0.1", "leaky_relu:0.3", "leaky_relu:-0.5", (-1.0, 1.0), (0.2, 0.9)]


@given(weight_lists(max_depth=4, max_width=6), st.sampled_from(SLOPED))
@settings(max_examples=25, deadline=None)
def test_general_slopes_lower_le_neuron_le_eclipse_le_fast(ws, activation):
    """The elimination with ``c = αβ != 0`` (module docstring) yields a LipSDP-Neuron certificate
    for the true slopes: never below Neuron's optimum (solver tolerance 1e-5) nor below a
    sampled lower bound; Fast's ``Λ = ℓI`` is a LipSDP-Layer certificate."""
    net = as_network(ws, activation)
    ecl, fast = eclipse(net), eclipse_fast(net)
    assert ecl.certified and fast.certified
    neuron = lipschitz_bound(net, "lipsdp-neuron").value
    layer = lipschitz_bound(net, "lipsdp-layer").value
    if isinstance(activation, str):  # a real LeakyReLU: evaluable, so a sampled lower bound
        low = lower_bound(net, n_samples=256, n_ascent=0, seed=0).value
        assert low <= neuron * (1 + 1e-9)
        assert low <= ecl.value * (1 + 1e-9) and low <= fast.value * (1 + 1e-9)
    assert neuron <= ecl.value * (1 + 1e-5) and layer <= fast.value * (1 + 1e-5)


@given(weight_lists(max_depth=4, max_width=6))
@settings(max_examples=15, deadline=None)
def test_leaky_relu_with_zero_slope_is_relu(ws):
    relu, leaky0 = as_network(ws), as_network(ws, "leaky_relu:0.0")
    assert eclipse_fast(relu).value == eclipse_fast(leaky0).value
    assert eclipse(relu).value == eclipse(leaky0).value


def test_leaky_relu_is_tighter_than_its_relu_relaxation():
    """[0.1, 1] is inside [0, 1]: the relaxation is valid, and the true slopes do better
    (measured on a Gaussian 4-16-16-16-2 net: Fast 4.446 vs 4.812)."""
    rng = np.random.default_rng(0)
    dims = [4, 16, 16, 16, 2]
    ws = [rng.standard_normal((b, a)) / np.sqrt(a) for a, b in itertools.pairwise(dims)]
    leaky, relaxed = as_network(ws, "leaky_relu:0.1"), as_network(ws, (0.0, 1.0))
    assert eclipse_fast(leaky).value < 0.95 * eclipse_fast(relaxed).value
    assert eclipse(leaky).value < eclipse(relaxed).value


@given(
    st.integers(1, 5),
    st.integers(1, 6),
    st.integers(1, 4),
    st.sampled_from([(0.1, 1.0), (-0.5, 1.0), (-1.0, 1.0), (0.0, 0.25)]),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=10, deadline=None)
def test_general_layer_sdp_matches_the_cvxpy_lmi(n_prev, n, n_next, slopes, seed):
    """The layer problem by LipSDP-Neuron of ``w_next φ(2G x)`` equals the layer LMI
    ``[[Λ - sWᵀW, 2mΛG], [2mGᵀΛ, I + 4c GᵀΛG]] ⪰ 0`` solved by CVXOPT (same ``s*``)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n_prev)) * rng.choice([0.3, 1.0])
    w_next = rng.standard_normal((n_next, n))
    a = eclipse_layer(g, w_next, slopes=slopes)
    b = eclipse_layer(g, w_next, slopes=slopes, solver="CVXOPT")
    assert a.success and b.success
    assert a.s == pytest.approx(b.s, rel=1e-4)


def test_identity_layers_are_merged():
    rng = np.random.default_rng(1)
    ws = [rng.standard_normal((3, 2)), rng.standard_normal((3, 3)), rng.standard_normal((1, 3))]
    lin = as_network(ws, "identity")
    assert eclipse_fast(lin).value == pytest.approx(np.linalg.norm(ws[2] @ ws[1] @ ws[0], 2))


def test_schur_check_failure_falls_back_to_fast_not_to_inf():
    """Sector [-1, 1] (slope midpoint 0) on a scalar chain: the elimination's multipliers fail
    the final Schur check; the result is ECLipsE-Fast's certified bound, flagged as a fallback."""
    ws = [np.array([[0.64767127]]), np.array([[1.59760171]]), np.array([[0.2953063]])]
    ws.append(np.array([[2.15466559]]))
    net = as_network(ws, (-1.0, 1.0))
    r = eclipse(net)
    assert r.certified and np.isfinite(r.value) and "fell back to ECLipsE-Fast" in r.message
    assert r.value == pytest.approx(eclipse_fast(net).value, rel=1e-12)
    assert r.value >= lipschitz_bound(net, "lipsdp-neuron").value * (1 - 1e-5)
