"""ECLipsE's layer SDPs solved as one-hidden-layer LipSDP-Neuron problems
(stability.lipschitz.eclipse).

References: the paper's ``2 n x 2 n`` layer LMI through cvxpy and CVXOPT (an independent
formulation and solver), LipSDP-Neuron on one-hidden-layer nets (where ECLipsE is exact), and
sampled lower bounds.
"""

from __future__ import annotations

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
