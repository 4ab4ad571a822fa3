"""Network parsing, bad input, lower bounds, constrained layers and the control bounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from torch import nn

from stability import lipschitz_bound, lipschitz_lower_bound
from stability.lipschitz import as_network
from stability.lipschitz.control import (
    closed_loop_deviation_bound,
    learning_error_bound,
    linear_system,
    rollout,
    train_policy,
)
from stability.lipschitz.layers import LipschitzPolicy, SLLBlock, aol_rescale, cayley_linear
from stability.lipschitz.lower import angle_sweep
from stability.lipschitz.strategies import weight_lists

torch.set_num_threads(1)


def test_sequential_parsing_matches_forward():
    torch.manual_seed(0)
    seq = nn.Sequential(
        nn.Linear(3, 5),
        nn.LeakyReLU(0.1),
        nn.Linear(5, 4),
        nn.Linear(4, 4),
        nn.Tanh(),
        nn.Linear(4, 2),
        nn.Sigmoid(),
    ).double()
    net = as_network(seq)
    assert net.dims == (3, 5, 4, 2, 2)  # merged linears, identity appended after the sigmoid
    assert net.slopes == ((0.1, 1.0), (0.0, 1.0), (0.0, 0.25))
    x = torch.randn(10, 3, dtype=torch.float64)
    assert np.allclose(net.forward(x.numpy()), seq(x).detach().numpy(), atol=1e-12)
    lo = lipschitz_lower_bound(seq, n_samples=256, n_ascent=10).value
    for m in ("naive", "liplt", "lipsdp-neuron", "lipsdp-layer"):
        assert lo <= lipschitz_bound(seq, m).value


def test_unsupported_layer_is_named():
    seq = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    with pytest.raises(ValueError, match=r"layer '1' \(LayerNorm\)"):
        as_network(seq)
    seq = nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1))  # built in now
    assert as_network(seq).slopes == ((-0.129, 1.129),)
    net = as_network(seq, slopes={"GELU": (-0.17, 1.13)})  # an override wins
    assert net.slopes == ((-0.17, 1.13),) and net.activations == ("custom",)


def test_eclipse_takes_nonzero_alpha():
    """LeakyReLU (slopes [0.1, 1]): ECLipsE's elimination with αβ != 0, certified."""
    r = lipschitz_bound([np.eye(2), np.eye(2)], "eclipse-fast", activation="leaky_relu:0.1")
    assert r.certified and r.value == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"network": [np.eye(2), np.eye(3)]}, "does not chain"),
        ({"network": []}, "non-empty"),
        ({"network": [np.array([[np.nan]])]}, "non-finite"),
        ({"network": [np.eye(2)], "method": "bogus"}, "method must be one of"),
        ({"network": [np.eye(2)], "activation": "swish"}, "activation must be one of"),
        ({"network": [np.eye(2)], "activation": (1.0, 0.0)}, "alpha <= beta"),
        ({"network": [np.eye(2)], "method": "local"}, "needs box"),
        ({"network": [np.eye(2)], "time_budget": -1.0}, "time_budget"),
        ({"network": nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.ReLU())}, "two activations"),
        ({"network": nn.Sequential(nn.Conv1d(1, 1, 1))}, "Conv1d"),
        (
            {"network": nn.Sequential(nn.Linear(2, 2)), "activation": "relu"},
            "only for weight lists",
        ),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lipschitz_bound(**kwargs)


def test_bad_box():
    with pytest.raises(ValueError, match="box"):
        lipschitz_bound([np.eye(2), np.eye(2)], "local", box=(np.ones(2), np.zeros(2)))


def test_time_budget_bounds_every_method():
    """A closed form fits a 1 s budget; an SDP estimated above a tiny budget is refused."""
    assert lipschitz_bound([np.eye(2)], "naive", time_budget=1.0).value == 1.0
    with pytest.raises(ValueError, match="time_budget"):
        lipschitz_bound([np.eye(2), np.eye(2)], "lipsdp-neuron", time_budget=1e-9)


def test_angle_sweep_needs_2d():
    with pytest.raises(ValueError, match="2-D"):
        angle_sweep(as_network([np.eye(3)]))


@given(weight_lists(max_depth=3, max_width=5))
@settings(max_examples=10, deadline=None)
def test_lower_bound_is_a_pair_ratio(ws):
    lo = lipschitz_lower_bound(ws, n_samples=64, n_ascent=5)
    f = as_network(ws).forward
    r = np.linalg.norm(f(lo.x[None]) - f(lo.y[None])) / np.linalg.norm(lo.x - lo.y)
    assert r == pytest.approx(lo.pair_ratio, rel=1e-9)
    assert lo.value >= lo.pair_ratio


@given(weight_lists(max_depth=1, max_width=8, max_in=8))
@settings(max_examples=20, deadline=None)
def test_aol_norm_at_most_one(ws):
    p = torch.as_tensor(ws[0])
    assert torch.linalg.matrix_norm(aol_rescale(p), 2) <= 1 + 1e-12


def test_aol_equality_for_orthogonal():
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    assert float(torch.linalg.matrix_norm(aol_rescale(torch.as_tensor(q)), 2)) == pytest.approx(
        1.0, abs=1e-12
    )


def test_cayley_is_orthogonal():
    lin = cayley_linear(4, 4)
    assert float(torch.linalg.matrix_norm(lin.weight.detach(), 2)) == pytest.approx(1.0, abs=1e-10)


def test_sll_jacobian_norm_at_most_one():
    torch.manual_seed(0)
    blk = SLLBlock(5, 7)
    with torch.no_grad():
        blk.b.normal_()
        blk.log_q.normal_()
    x = torch.randn(200, 5, dtype=torch.float64)
    jac = torch.func.vmap(torch.func.jacrev(lambda z: blk(z[None])[0]))(x).detach()
    assert float(torch.linalg.matrix_norm(jac, 2).max()) <= 1 + 1e-9


@pytest.mark.parametrize("kind", ["aol", "cayley"])
def test_policy_bound_by_construction(kind):
    torch.manual_seed(1)
    pol = LipschitzPolicy(2, 1, (8, 8), lipschitz=2.5, kind=kind)
    seq = pol.to_sequential()
    x = torch.randn(7, 2, dtype=torch.float64)
    assert torch.allclose(seq(x), pol(x))
    assert lipschitz_bound(seq, "lipsdp-neuron").value <= 2.5 * (1 + 1e-9)
    assert lipschitz_lower_bound(seq, n_samples=256, n_ascent=10).value <= 2.5


def test_policy_bad_input():
    with pytest.raises(ValueError, match="lipschitz"):
        LipschitzPolicy(2, 1, lipschitz=0.0)
    with pytest.raises(ValueError, match="kind"):
        LipschitzPolicy(2, 1, kind="spectral")
    with pytest.raises(ValueError, match="residual"):
        LipschitzPolicy(2, 1, kind="sll").to_sequential()


def test_closed_loop_bound_holds_and_learning_error_bound():
    sys = linear_system("double-integrator")
    assert 0 < sys.rho < 1
    pol, xs = train_policy(sys, 2.0, n_data=64, steps=60, hidden=(8, 8))
    lhat = lipschitz_bound(pol.to_sequential(), "lipsdp-neuron").value
    out = rollout(sys, pol, np.array([0.5, -0.5]), 30, eps=0.05)
    b = closed_loop_deviation_bound(sys.b_gain, lhat, 0.05, out["gap"].max(), sys.rho)
    assert out["deviation"].max() <= b
    # learning error bound at fresh points
    with torch.no_grad():
        res = np.linalg.norm(pol(torch.as_tensor(xs)).numpy() + xs @ sys.k.T, axis=1)
        q = np.random.default_rng(0).uniform(-1, 1, (100, 2))
        err = np.linalg.norm(pol(torch.as_tensor(q)).numpy() + q @ sys.k.T, axis=1)
    assert np.all(err <= learning_error_bound(q, xs, res, lhat, np.linalg.norm(sys.k, 2)) + 1e-12)


def test_control_bad_input():
    with pytest.raises(ValueError, match="name"):
        linear_system("pendulum")
    with pytest.raises(ValueError, match="rho"):
        closed_loop_deviation_bound(1.0, 1.0, 0.1, 0.0, 1.0)
    assert linear_system("cartpole").rho < 1
