"""Bad-input audit of :mod:`stability.lipschitz`: every public name refuses bad input by name.

Each case feeds one kind of bad input (NaN, inf, wrong shape, empty, out of range, wrong type,
bad seed, unknown option) and asserts a ValueError/TypeError whose message names the
parameter. Among them the silent wrong answers this audit was written against: an invalid
``slopes=`` interval (``(1, 0)`` gave a "certified" bound below the measured Jacobian norm,
``(nan, 1)`` a certified NaN), ``activation="leaky_relu:nan"``/``"leaky_relu:inf"`` (certified
NaN/inf), an unknown ``solver=`` (silently fell back to LipLT) and an unknown ``on_failure=``.
Then the guards: a certified result is never NaN or infinite, and the unbounded solves
(LipSDP-Neuron on a 20x256 network, LipSDP-Network on 4-64-64-2) are refused at once with
their estimate, unless the caller raises the budget.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from stability.lipschitz import (
    LipschitzLowerBound,
    LipschitzResult,
    Network,
    as_network,
    lipschitz_bound,
    lipschitz_lower_bound,
)
from stability.lipschitz.auto import (
    DEFAULT_MAX_MEMORY_GB,
    DEFAULT_SOLVE_BUDGET,
    check_budget,
    estimate_cost,
)
from stability.lipschitz.control import (
    closed_loop_deviation_bound,
    disturbance_bound,
    learning_error_bound,
    linear_system,
    lqr_gain,
    one_step_deviation_bound,
    quadratic_cost,
    rollout,
    train_policy,
)
from stability.lipschitz.layers import (
    AOLLinear,
    LipschitzPolicy,
    SLLBlock,
    aol_rescale,
    cayley_linear,
)
from tests._audit import Case, audit_ids, bad, bad_method, lazy

EXEMPT: dict[str, str] = {}  # METHODS is a constant tuple (not callable)

NAN, INF = float("nan"), float("inf")
W2 = [np.eye(2), np.eye(2)]  # a 2-2-2 ReLU network
BOX = (np.zeros(2), np.ones(2))


def _gelu_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1)).double()


def _gauss(dims: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((dims[k + 1], dims[k])) / np.sqrt(dims[k]) for k in range(len(dims) - 1)
    ]


def _net_kwargs(**over):
    kw = {
        "weights": (np.eye(2), np.eye(2)),
        "biases": (np.zeros(2), np.zeros(2)),
        "slopes": ((0.0, 1.0),),
        "activations": ("relu",),
    }
    kw.update(over)
    return kw


def _gelu(**kw):
    return lambda: ((_gelu_net(),), kw)


BIG_20x256 = [4] + [256] * 19 + [1]  # ECLipsE's Gaussian 20x256 network: N = 4864
NET_4_64_64_2 = [4, 64, 64, 2]

CASES: list[Case] = [
    # lipschitz_bound: the network
    bad(lipschitz_bound, "network", "nan", [np.array([[NAN]])], "naive"),
    bad(lipschitz_bound, "network", "inf", [np.eye(2), np.full((2, 2), INF)], "naive"),
    bad(lipschitz_bound, "network", "shape", [np.eye(2), np.eye(3)], "naive"),
    bad(lipschitz_bound, "network", "shape", [np.ones(3)], "naive"),
    bad(lipschitz_bound, "network", "empty", [], "naive"),
    bad(lipschitz_bound, "network", "empty", [np.zeros((0, 2))], "naive"),
    bad(lipschitz_bound, "network", "type", "weights", "naive"),
    bad(lipschitz_bound, "network", "type", None, "naive"),
    bad(lipschitz_bound, "network", "type", [["a", "b"]], "naive"),
    bad(lipschitz_bound, "network", "type", nn.ReLU(), "naive"),
    bad(lipschitz_bound, "network", "option", nn.Sequential(nn.Conv1d(1, 1, 1)), "naive"),
    lazy(
        lipschitz_bound,
        "network",
        "nan",
        lambda: (
            (
                (nn.Sequential(nn.Linear(2, 2).double()),),
                {"method": "naive"},
            )
            if False
            else ((_nan_bias_seq(),), {"method": "naive"})
        ),
    ),
    # method
    bad(lipschitz_bound, "method", "option", W2, "bogus"),
    bad(lipschitz_bound, "method", "type", W2, 3),
    # activation: a NaN/inf leaky slope gave a certified NaN/inf
    bad(lipschitz_bound, "activation", "nan", W2, "naive", "leaky_relu:nan"),
    bad(lipschitz_bound, "activation", "inf", W2, "naive", "leaky_relu:inf"),
    bad(lipschitz_bound, "activation", "value", W2, "naive", "leaky_relu:x"),
    bad(lipschitz_bound, "activation", "option", W2, "naive", "swish"),
    bad(lipschitz_bound, "activation", "range", W2, "naive", (1.0, 0.0)),
    bad(lipschitz_bound, "activation", "nan", W2, "naive", (NAN, 1.0)),
    bad(lipschitz_bound, "activation", "type", W2, "naive", 3),
    lazy(
        lipschitz_bound,
        "activation",
        "option",
        lambda: ((_gelu_net(), "naive", "relu"), {"slopes": {"GELU": (0.0, 1.2)}}),
    ),
    # slopes: an invalid interval came back certified
    lazy(lipschitz_bound, "slopes", "range", _gelu(method="naive", slopes={"GELU": (1.0, 0.0)})),
    lazy(lipschitz_bound, "slopes", "nan", _gelu(method="naive", slopes={"GELU": (NAN, 1.0)})),
    lazy(lipschitz_bound, "slopes", "inf", _gelu(method="naive", slopes={"GELU": (0.0, INF)})),
    lazy(lipschitz_bound, "slopes", "type", _gelu(method="naive", slopes={"GELU": "ab"})),
    lazy(lipschitz_bound, "slopes", "shape", _gelu(method="naive", slopes={"GELU": (0, 1, 2)})),
    lazy(lipschitz_bound, "slopes", "type", _gelu(method="naive", slopes=[(0.0, 1.0)])),
    lazy(lipschitz_bound, "slopes", "option", _gelu(method="naive")),  # GELU needs slopes
    bad(lipschitz_bound, "slopes", "value", W2, "naive", slopes={"ReLU": (0.0, 1.0)}),
    # time_budget / max_memory_gb
    bad(lipschitz_bound, "time_budget", "nan", W2, "naive", None, NAN),
    bad(lipschitz_bound, "time_budget", "range", W2, "naive", None, -1.0),
    bad(lipschitz_bound, "time_budget", "range", W2, "auto", None, 0.0),
    bad(lipschitz_bound, "time_budget", "type", W2, "auto", None, "10"),
    bad(lipschitz_bound, "max_memory_gb", "nan", W2, "naive", max_memory_gb=NAN),
    bad(lipschitz_bound, "max_memory_gb", "range", W2, "naive", max_memory_gb=0.0),
    bad(lipschitz_bound, "max_memory_gb", "type", W2, "naive", max_memory_gb=True),
    # box
    bad(lipschitz_bound, "box", "option", W2, "local"),
    bad(lipschitz_bound, "box", "shape", W2, "local", box=(np.zeros(3), np.ones(3))),
    bad(lipschitz_bound, "box", "nan", W2, "local", box=(np.zeros(2), np.array([1.0, NAN]))),
    bad(lipschitz_bound, "box", "inf", W2, "local", box=(np.zeros(2), np.array([1.0, INF]))),
    bad(lipschitz_bound, "box", "range", W2, "local", box=(np.ones(2), np.zeros(2))),
    bad(lipschitz_bound, "box", "empty", W2, "local", box=(np.zeros(0), np.zeros(0))),
    bad(lipschitz_bound, "box", "type", W2, "local", box=5),
    bad(lipschitz_bound, "box", "type", W2, "local", box=("lo", "hi")),
    bad(lipschitz_bound, "box", "option", W2, "naive", box=BOX),  # was silently ignored
    # solver: an unknown name silently fell back to LipLT
    bad(lipschitz_bound, "solver", "option", W2, "lipsdp-neuron", solver="nosuch"),
    bad(lipschitz_bound, "solver", "option", W2, "lipsdp-neuron", solver="GLPK"),  # no SDPs
    bad(lipschitz_bound, "solver", "option", W2, "lipsdp-network", solver="ipm"),
    bad(lipschitz_bound, "solver", "option", W2, "naive", solver="CVXOPT"),
    bad(lipschitz_bound, "solver", "option", W2, "auto", solver="ipm"),
    bad(lipschitz_bound, "solver", "type", W2, "lipsdp-neuron", solver=1),
    # on_failure: an unknown value was accepted
    bad(lipschitz_bound, "on_failure", "option", W2, "lipsdp-neuron", on_failure="ignore"),
    bad(lipschitz_bound, "on_failure", "option", W2, "naive", on_failure="retry"),
    # rtol
    bad(lipschitz_bound, "rtol", "range", W2, "lipsdp-neuron", rtol=1.5),
    bad(lipschitz_bound, "rtol", "nan", W2, "lipsdp-neuron", rtol=NAN),
    bad(lipschitz_bound, "rtol", "type", W2, "lipsdp-neuron", rtol="0.1"),
    bad(lipschitz_bound, "rtol", "option", W2, "naive", rtol=0.1),
    # unbounded solves: refused at once with the estimate
    lazy(
        lipschitz_bound, "time_budget", "range", lambda: ((_gauss(BIG_20x256), "lipsdp-neuron"), {})
    ),
    lazy(
        lipschitz_bound,
        "time_budget",
        "range",
        lambda: ((_gauss(NET_4_64_64_2), "lipsdp-network"), {}),
    ),
    lazy(
        lipschitz_bound,
        "max_memory_gb",
        "range",
        lambda: ((_gauss([4, 50, 50, 1]), "lipsdp-neuron"), {"max_memory_gb": 1e-6}),
    ),
    # lipschitz_lower_bound
    bad(lipschitz_lower_bound, "network", "nan", [np.array([[NAN]])]),
    bad(lipschitz_lower_bound, "network", "empty", []),
    bad(lipschitz_lower_bound, "activation", "nan", W2, "leaky_relu:nan"),
    bad(lipschitz_lower_bound, "n_samples", "range", W2, n_samples=0),
    bad(lipschitz_lower_bound, "n_samples", "type", W2, n_samples=2.5),
    bad(lipschitz_lower_bound, "n_samples", "type", W2, n_samples=True),
    bad(lipschitz_lower_bound, "n_ascent", "range", W2, n_ascent=-1),
    bad(lipschitz_lower_bound, "n_ascent", "type", W2, n_ascent="10"),
    bad(lipschitz_lower_bound, "seed", "seed", W2, seed=-1),
    bad(lipschitz_lower_bound, "seed", "seed", W2, seed=1.5),
    bad(lipschitz_lower_bound, "seed", "seed", W2, seed="0"),
    bad(lipschitz_lower_bound, "box", "shape", W2, box=(np.zeros(3), np.ones(3))),
    bad(lipschitz_lower_bound, "box", "range", W2, box=(np.ones(2), np.zeros(2))),
    bad(lipschitz_lower_bound, "box", "nan", W2, box=(np.zeros(2), np.full(2, NAN))),
    bad(lipschitz_lower_bound, "box", "type", W2, box=1.0),
    lazy(
        lipschitz_lower_bound,
        "slopes",
        "range",
        lambda: ((_gelu_net(),), {"slopes": {"GELU": (1.0, 0.0)}}),
    ),
    # as_network
    bad(as_network, "network", "nan", [np.eye(2), np.full((2, 2), NAN)]),
    bad(as_network, "network", "inf", [np.full((1, 1), -INF)]),
    bad(as_network, "network", "shape", [np.eye(2), np.ones((2, 3))]),
    bad(as_network, "network", "empty", []),
    bad(as_network, "network", "type", "abc"),
    bad(as_network, "network", "type", 3.0),
    bad(as_network, "activation", "option", W2, "gelu"),
    bad(as_network, "activation", "inf", W2, "leaky_relu:-inf"),
    bad(as_network, "activation", "range", W2, (0.5, 0.2)),
    bad(as_network, "slopes", "value", W2, slopes={"GELU": (0.0, 1.0)}),
    lazy(as_network, "slopes", "range", lambda: ((_gelu_net(),), {"slopes": {"GELU": (2, 1)}})),
    lazy(
        as_network,
        "network",
        "nan",
        lambda: ((nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU(NAN), nn.Linear(2, 1)),), {}),
    ),
    bad(as_network, "activation", "value", as_network(W2), "relu"),
    # Network (the dataclass)
    bad(Network, "weights", "nan", **_net_kwargs(weights=(np.eye(2), np.full((2, 2), NAN)))),
    bad(Network, "weights", "shape", **_net_kwargs(weights=(np.eye(2), np.ones((2, 3))))),
    bad(Network, "weights", "type", **_net_kwargs(weights=[np.eye(2), np.eye(2)])),
    bad(Network, "weights", "empty", **_net_kwargs(weights=())),
    bad(Network, "biases", "shape", **_net_kwargs(biases=(np.zeros(3), np.zeros(2)))),
    bad(Network, "biases", "inf", **_net_kwargs(biases=(np.full(2, INF), np.zeros(2)))),
    bad(Network, "slopes", "range", **_net_kwargs(slopes=((1.0, 0.0),))),
    bad(Network, "slopes", "nan", **_net_kwargs(slopes=((NAN, 1.0),))),
    bad(Network, "slopes", "shape", **_net_kwargs(slopes=())),
    bad(Network, "activations", "nan", **_net_kwargs(activations=("leaky_relu:nan",))),
    bad(Network, "activations", "option", **_net_kwargs(activations=("gelu",))),
    bad(Network, "activations", "shape", **_net_kwargs(activations=())),
    bad_method(Network, "forward", "x", "shape", ((), _net_kwargs()), np.ones((4, 3))),
    bad_method(Network, "forward", "x", "nan", ((), _net_kwargs()), np.full((1, 2), NAN)),
    bad_method(Network, "forward", "x", "type", ((), _net_kwargs()), "x"),
    # the result types
    bad(LipschitzResult, "value", "type", "1.0", "naive", True, "closed-form", 0.0),
    bad(LipschitzResult, "value", "range", -1.0, "naive", True, "closed-form", 0.0),
    bad(LipschitzResult, "certified", "type", 1.0, "naive", "yes", "closed-form", 0.0),
    bad(LipschitzLowerBound, "value", "nan", NAN, NAN, 0.0, None, None, 1, 0.0),
    bad(LipschitzLowerBound, "pair_ratio", "range", 1.0, 1.0, -1.0, None, None, 1, 0.0),
    bad(LipschitzLowerBound, "jacobian", "type", 1.0, "1", 1.0, None, None, 1, 0.0),
]

# The public functions of the submodules (control, layers): not in the package's __all__, fed
# the same way.
SYS = linear_system()
CASES += [
    bad(disturbance_bound, "lipschitz", "nan", NAN, 0.1),
    bad(disturbance_bound, "eps", "range", 1.0, -0.1),
    bad(one_step_deviation_bound, "lipschitz", "inf", 1.0, INF, 0.1),
    bad(one_step_deviation_bound, "l_u", "type", "1", 1.0, 0.1),
    bad(closed_loop_deviation_bound, "gap", "nan", 1.0, 1.0, 0.1, NAN, 0.5),
    bad(closed_loop_deviation_bound, "rho", "range", 1.0, 1.0, 0.1, 0.0, 1.0),
    bad(closed_loop_deviation_bound, "rho", "nan", 1.0, 1.0, 0.1, 0.0, NAN),
    bad(learning_error_bound, "data_x", "empty", np.zeros((2, 2)), np.zeros((0, 2)), [], 1, 1),
    bad(learning_error_bound, "x", "shape", np.zeros((2, 2)), np.zeros((3, 3)), np.zeros(3), 1, 1),
    bad(
        learning_error_bound, "residuals", "range", np.zeros((1, 2)), np.zeros((1, 2)), [-1.0], 1, 1
    ),
    bad(learning_error_bound, "l_pi", "nan", np.zeros((1, 2)), np.zeros((1, 2)), [0.0], NAN, 1),
    bad(linear_system, "name", "option", "pendulum"),
    bad(linear_system, "dt", "nan", "double-integrator", NAN),
    bad(linear_system, "dt", "range", "cartpole", 0.0),
    bad(lqr_gain, "b", "shape", np.eye(2), np.ones((3, 1)), np.eye(2), np.eye(1)),
    bad(lqr_gain, "a", "nan", np.full((2, 2), NAN), np.ones((2, 1)), np.eye(2), np.eye(1)),
    bad(lqr_gain, "r", "shape", np.eye(2), np.ones((2, 1)), np.eye(2), np.eye(2)),
    bad(quadratic_cost, "xs", "nan", np.array([[NAN]])),
    bad(quadratic_cost, "xs", "type", "xs"),
    bad(train_policy, "n_data", "range", SYS, 1.0, n_data=0, steps=1),
    bad(train_policy, "seed", "seed", SYS, 1.0, seed=-1, steps=1),
    bad(train_policy, "steps", "type", SYS, 1.0, steps=True),
    bad(train_policy, "lipschitz", "inf", SYS, INF, steps=1),
    bad(train_policy, "sys", "type", "double-integrator", 1.0, steps=1),
    bad(rollout, "x0", "shape", SYS, lambda x: x[:, :1], np.zeros(3), 5),
    bad(rollout, "horizon", "range", SYS, lambda x: x[:, :1], np.zeros(2), -1),
    bad(rollout, "eps", "nan", SYS, lambda x: x[:, :1], np.zeros(2), 5, NAN),
    bad(rollout, "policy", "type", SYS, None, np.zeros(2), 5),
    bad(LipschitzPolicy, "n_in", "range", 0, 1),
    bad(LipschitzPolicy, "lipschitz", "inf", 2, 1, lipschitz=INF),
    bad(LipschitzPolicy, "lipschitz", "range", 2, 1, lipschitz=0.0),
    bad(LipschitzPolicy, "hidden", "range", 2, 1, hidden=(0,)),
    bad(LipschitzPolicy, "hidden", "type", 2, 1, hidden=8),
    Case(LipschitzPolicy, "kind", "option", (2, 1), {"kind": "spectral"}),
    bad(AOLLinear, "n_in", "range", -1, 2),
    bad(AOLLinear, "n_out", "type", 2, 2.5),
    bad(cayley_linear, "n_in", "type", 2.5, 2),
    bad(SLLBlock, "n", "range", 0),
    bad(SLLBlock, "n_inner", "range", 2, 0),
    bad(aol_rescale, "p", "nan", torch.full((2, 2), NAN)),
    bad(aol_rescale, "p", "shape", torch.ones(3)),
]


def _nan_bias_seq() -> nn.Sequential:
    lin = nn.Linear(2, 2).double()
    with torch.no_grad():
        lin.bias[0] = NAN
    return nn.Sequential(lin, nn.ReLU(), nn.Linear(2, 1).double())


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()


# ------------------------------------------------------------------------------------------
# A certified result is never NaN or infinite
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [NAN, INF])
def test_certified_result_is_never_non_finite(value):
    r = LipschitzResult(value, "naive", True, "closed-form", 0.0, "naive")
    assert not r.certified and not r.success
    assert "not certified" in r.status
    assert not LipschitzResult(1.0, "naive", True, "ok", 0.0).details  # finite: unchanged
    assert LipschitzResult(1.0, "naive", True, "ok", 0.0).certified


def test_valid_leaky_relu_and_slopes_still_certify():
    """The refusals above do not reject the valid cases next to them."""
    r = lipschitz_bound(W2, "naive", activation="leaky_relu:-0.5")
    assert r.certified and r.value == 1.0
    seq = _gelu_net()
    r = lipschitz_bound(seq, "lipsdp-neuron", slopes={"GELU": (-0.17, 1.13)})
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 2, dtype=torch.float64, generator=gen)
    y = x + 1e-4 * torch.randn(4096, 2, dtype=torch.float64, generator=gen)
    with torch.no_grad():  # pair ratios: lower bounds on L
        ratio = float(((seq(x) - seq(y)).norm(dim=1) / (x - y).norm(dim=1)).max())
    assert r.certified and math.isfinite(r.value) and ratio <= r.value


def test_solver_names_are_case_insensitive_and_checked():
    a = lipschitz_bound(W2, "lipsdp-neuron", solver="cvxopt")
    assert a.certified and a.details["solver"] == "CVXOPT"


# ------------------------------------------------------------------------------------------
# Unbounded solves: refused at once, with the estimate and a faster method
# ------------------------------------------------------------------------------------------


def test_unbounded_solves_are_refused_at_once():
    big, mid = _gauss(BIG_20x256), _gauss(NET_4_64_64_2)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="time_budget") as neuron:
        lipschitz_bound(big, "lipsdp-neuron")
    with pytest.raises(ValueError, match="time_budget") as network:
        lipschitz_bound(mid, "lipsdp-network")
    assert time.perf_counter() - start < 2.0
    msg = str(neuron.value)
    assert "estimated to take" in msg and "max_memory_gb" in msg and "faster method=" in msg
    assert "faster method='lipsdp-neuron'" in str(network.value)
    # above the defaults by far: LipSDP-Neuron at n_0 + N = 4868 ran past 600 s at 6.2 GB
    est = estimate_cost(as_network(big), "lipsdp-neuron")
    assert est.seconds > 3 * DEFAULT_SOLVE_BUDGET and est.memory_gb > DEFAULT_MAX_MEMORY_GB
    assert estimate_cost(as_network(mid), "lipsdp-network").seconds > DEFAULT_SOLVE_BUDGET


def test_raised_budgets_are_accepted():
    """The same calls pass the guard once the caller raises the budgets (not run here)."""
    big, mid = as_network(_gauss(BIG_20x256)), as_network(_gauss(NET_4_64_64_2))
    est = check_budget(big, "lipsdp-neuron", time_budget=1e5, max_memory_gb=64.0)
    assert est.seconds < 1e5
    check_budget(mid, "lipsdp-network", time_budget=math.inf)
    with pytest.raises(ValueError, match="max_memory_gb"):
        check_budget(big, "lipsdp-neuron", time_budget=1e5)


def test_small_networks_pass_the_guard_and_auto_respects_memory():
    ws = _gauss([2, 5, 5, 1], seed=3)
    net = lipschitz_bound(ws, "lipsdp-network")
    neuron = lipschitz_bound(ws, "lipsdp-neuron")
    assert neuron.certified and net.value <= neuron.value * (1 + 1e-5)
    fo = lipschitz_bound(ws, "lipsdp-neuron-fo")  # default stop: the solve budget
    assert fo.certified and fo.value >= neuron.value * (1 - 1e-6)
    r = lipschitz_bound(ws, "auto", max_memory_gb=1e-9)  # no SDP fits: closed forms only
    assert r.method in ("eclipse-fast", "liplt", "naive") and r.certified
