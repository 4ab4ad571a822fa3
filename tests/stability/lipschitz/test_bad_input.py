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
    LipschitzInterval,
    LipschitzLowerBound,
    LipschitzResult,
    Network,
    as_network,
    lipschitz_bound,
    lipschitz_interval,
    lipschitz_lower_bound,
)
from stability.lipschitz.auto import (
    DEFAULT_MAX_MEMORY_GB,
    DEFAULT_SOLVE_BUDGET,
    auto_bound,
    check_budget,
    estimate_cost,
)
from stability.lipschitz.certificate import certify_dense, certify_multipliers, check_slopes
from stability.lipschitz.control import (
    LinearSystem,
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
from stability.lipschitz.dual_bound import dual_lower_bound
from stability.lipschitz.eclipse import eclipse, eclipse_applicable, eclipse_fast, eclipse_layer
from stability.lipschitz.generators import eclipse_random_net, exact_2d_net, gaussian_net
from stability.lipschitz.layers import (
    AOLLinear,
    LipschitzPolicy,
    SLLBlock,
    aol_rescale,
    cayley_linear,
)
from stability.lipschitz.liplt import liplt_bound
from stability.lipschitz.lipsdp import check_cvxpy_solver, lipsdp, lipsdp_cvxpy
from stability.lipschitz.local import interval_slopes, local_bound
from stability.lipschitz.lower import angle_sweep, jacobian_norms, lower_bound
from stability.lipschitz.naive import frobenius_bound, naive_bound
from stability.lipschitz.network import check_box, merge_linear_layers
from stability.lipschitz.neuron_fo import neuron_fo, schur_objective
from stability.lipschitz.neuron_ipm import lipsdp_ipm
from stability.lipschitz.one_hidden import one_hidden_applicable, one_hidden_dual
from stability.lipschitz.patterns import (
    pattern_jacobian,
    pattern_lower_bound,
    pattern_witness,
    piecewise_linear,
)
from stability.lipschitz.strategies import one_hidden_scalar, weight_lists
from tests._audit import Case, audit_ids, bad, bad_method, gather, lazy

# METHODS and the modules' other constants are not callable.
EXEMPT: dict[str, str] = {
    "auto.CostEstimate": "a result dataclass that estimate_cost builds",
    "certificate.LipSDPError": "an exception type (also re-exported by lipsdp)",
    "eclipse.EclipseLayer": "a result dataclass that eclipse_layer builds",
    "generators.random_weights": "takes no arguments (a shipped data file)",
    "generators.mnist_weights": "takes no arguments (a shipped data file)",
    "patterns.PatternBound": "a result dataclass that pattern_lower_bound builds",
    "lipsdp.default_solver": "takes no arguments",
}

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


class _Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def _swish_net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 3), _Swish(), nn.Linear(3, 1))


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
    lazy(  # a formula-defined activation module: traced into, refused with the slopes= hint
        lipschitz_bound, "slopes", "option", lambda: ((_swish_net(), "naive"), {})
    ),
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
    bad(lipschitz_lower_bound, "method", "option", W2, method="exact"),
    bad(lipschitz_lower_bound, "method", "option", W2, "tanh", method="patterns"),
    bad(lipschitz_lower_bound, "n_restarts", "range", W2, n_restarts=0),
    bad(lipschitz_lower_bound, "n_restarts", "type", W2, n_restarts=1.5),
    bad(lipschitz_lower_bound, "time_budget", "range", W2, time_budget=0.0),
    bad(lipschitz_lower_bound, "time_budget", "nan", W2, time_budget=NAN),
    bad(lipschitz_lower_bound, "time_budget", "type", W2, time_budget="1"),
    # lipschitz_interval
    bad(lipschitz_interval, "network", "nan", [np.array([[NAN]])], "naive"),
    bad(lipschitz_interval, "network", "empty", [], "naive"),
    bad(lipschitz_interval, "method", "option", W2, "local"),
    bad(lipschitz_interval, "method", "option", W2, "nosuch"),
    bad(lipschitz_interval, "lower", "option", W2, "naive", lower="nosuch"),
    bad(lipschitz_interval, "activation", "nan", W2, "naive", "leaky_relu:nan"),
    bad(lipschitz_interval, "seed", "seed", W2, "naive", seed=-1),
    bad(lipschitz_interval, "time_budget", "range", W2, "naive", time_budget=-1.0),
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
    bad(as_network, "network", "value", [(np.eye(2), np.zeros(2)), np.eye(2)]),
    bad(as_network, "network", "shape", [(np.eye(2), np.zeros(3))]),
    bad(as_network, "network", "nan", [(np.eye(2), np.array([0.0, NAN]))]),
    bad(as_network, "network", "empty", []),
    bad(as_network, "network", "type", "abc"),
    bad(as_network, "network", "type", 3.0),
    bad(as_network, "activation", "option", W2, "bogus"),
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
    bad(Network, "activations", "option", **_net_kwargs(activations=("bogus",))),
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
    bad(LipschitzLowerBound, "pattern", "nan", 1.0, 1.0, 1.0, None, None, 1, 0.0, NAN),
    bad(LipschitzLowerBound, "pattern", "range", 1.0, 1.0, 1.0, None, None, 1, 0.0, -1.0),
    bad(LipschitzInterval, "lower", "type", 1.0, LipschitzResult(1.0, "naive", True, "", 0.0)),
    bad(
        LipschitzInterval,
        "upper",
        "type",
        LipschitzLowerBound(1.0, 1.0, 1.0, None, None, 1, 0.0),
        2.0,
    ),
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

# The solver layer: every entry point takes a parsed Network (``net``, refused by name when it is
# anything else, e.g. the weight list it would be built from) and checks its other parameters.
NET = as_network(W2)  # 2-2-2 ReLU, slopes (0, 1)
NET1 = as_network([np.eye(2)])  # no hidden layer
TANH = as_network(W2, "tanh")  # not piecewise linear: no activation patterns
TRUE_FALSE = [np.array([True, False])]
SCALAR = as_network([np.eye(2), np.ones((1, 2))])  # one hidden layer, one output
CUSTOM = as_network(W2, (0.0, 1.0))  # known by its slopes only
SLOPES = [(np.zeros(2), np.ones(2))]  # valid neuron-wise slopes of NET
BAD_SLOPES = [(np.ones(2), np.zeros(2))]  # lo > hi
NAN_SLOPES = [(np.zeros(2), np.array([1.0, NAN]))]
LAM = [np.ones(2)]
SYS_KW = {
    "name": "double-integrator",
    "a": SYS.a,
    "b": SYS.b,
    "k": SYS.k,
    "p": SYS.p,
    "rho": SYS.rho,
    "b_gain": SYS.b_gain,
}


def _sys(**over):
    return {**SYS_KW, **over}


CASES += [
    # auto
    bad(auto_bound, "net", "type", W2),
    bad(auto_bound, "time_budget", "nan", NET, NAN),
    bad(auto_bound, "time_budget", "type", NET, "10"),
    bad(auto_bound, "max_memory_gb", "range", NET, None, 0.0),
    bad(check_budget, "net", "type", W2, "naive"),
    bad(check_budget, "method", "option", NET, "bogus"),
    bad(check_budget, "method", "option", NET, "auto"),
    bad(check_budget, "solver", "option", NET, "lipsdp-neuron", solver="nosuch"),
    bad(check_budget, "solver", "type", NET, "lipsdp-neuron", solver=1),
    bad(check_budget, "time_budget", "range", NET, "naive", time_budget=-1.0),
    bad(check_budget, "max_memory_gb", "nan", NET, "naive", max_memory_gb=NAN),
    bad(estimate_cost, "net", "type", None, "naive"),
    bad(estimate_cost, "method", "option", NET, "lipsdp"),
    bad(estimate_cost, "method", "type", NET, 3),
    bad(estimate_cost, "solver", "option", NET, "lipsdp-network", "ipm"),
    bad(estimate_cost, "solver", "option", NET, "naive", "CVXOPT"),  # naive takes no solver
    bad(estimate_cost, "solver", "type", NET, "eclipse", 2.0),
    # certificate
    bad(certify_dense, "net", "type", W2, np.eye(2)),
    bad(certify_dense, "net", "option", NET1, np.eye(2)),
    bad(certify_dense, "t", "shape", NET, np.eye(3)),
    bad(certify_dense, "t", "nan", NET, np.full((2, 2), NAN)),
    bad(certify_dense, "t", "inf", NET, np.diag([1.0, INF])),
    bad(certify_dense, "t", "type", NET, "t"),
    bad(certify_dense, "t", "value", NET, np.array([[1.0, 0.5], [0.0, 1.0]])),
    bad(certify_multipliers, "net", "type", W2, LAM),
    bad(certify_multipliers, "multipliers", "shape", NET, [np.ones(3)]),
    bad(certify_multipliers, "multipliers", "empty", NET, []),
    bad(certify_multipliers, "multipliers", "type", NET, "lam"),
    bad(certify_multipliers, "multipliers", "type", NET, 1.0),
    bad(certify_multipliers, "slopes", "range", NET, LAM, BAD_SLOPES),
    bad(certify_multipliers, "slopes", "nan", NET, LAM, NAN_SLOPES),
    bad(check_slopes, "net", "type", W2, SLOPES),
    bad(check_slopes, "slopes", "range", NET, BAD_SLOPES),
    bad(check_slopes, "slopes", "nan", NET, NAN_SLOPES),
    bad(check_slopes, "slopes", "inf", NET, [(np.zeros(2), np.full(2, INF))]),
    bad(check_slopes, "slopes", "shape", NET, [(np.zeros(3), np.ones(3))]),
    bad(check_slopes, "slopes", "empty", NET, []),
    bad(check_slopes, "slopes", "type", NET, "ab"),
    bad(check_slopes, "slopes", "type", NET, 3),
    # control.LinearSystem (built by linear_system; checked when built by hand)
    bad(LinearSystem, "a", "nan", **_sys(a=np.full((2, 2), NAN))),
    bad(LinearSystem, "a", "shape", **_sys(a=np.ones((2, 3)))),
    bad(LinearSystem, "b", "shape", **_sys(b=np.ones((3, 1)))),
    bad(LinearSystem, "k", "shape", **_sys(k=np.ones((2, 2)))),
    bad(LinearSystem, "p", "range", **_sys(p=-np.eye(2))),
    bad(LinearSystem, "p", "inf", **_sys(p=np.full((2, 2), INF))),
    bad(LinearSystem, "rho", "range", **_sys(rho=1.0)),
    bad(LinearSystem, "rho", "nan", **_sys(rho=NAN)),
    bad(LinearSystem, "b_gain", "range", **_sys(b_gain=-1.0)),
    bad(LinearSystem, "name", "type", **_sys(name=None)),
    # dual_bound
    bad(dual_lower_bound, "net", "type", W2, np.eye(4)),
    bad(dual_lower_bound, "net", "option", NET1, np.eye(2)),
    bad(dual_lower_bound, "x", "shape", NET, np.eye(3)),
    bad(dual_lower_bound, "x", "nan", NET, np.full((4, 4), NAN)),
    bad(dual_lower_bound, "x", "type", NET, "x"),
    bad(dual_lower_bound, "variant", "option", NET, np.eye(4), "network"),
    bad(dual_lower_bound, "slopes", "range", NET, np.eye(4), "neuron", BAD_SLOPES),
    # eclipse
    bad(eclipse, "net", "type", W2),
    bad(eclipse, "solver", "option", NET, solver="nosuch"),
    bad(eclipse, "solver", "type", NET, solver=1),
    bad(eclipse_applicable, "net", "type", "net"),
    bad(eclipse_fast, "net", "type", W2),
    bad(eclipse_layer, "g", "nan", np.full((2, 2), NAN), np.eye(2)),
    bad(eclipse_layer, "g", "shape", np.ones(2), np.eye(2)),
    bad(eclipse_layer, "g", "empty", np.zeros((0, 2)), np.eye(2)),
    bad(eclipse_layer, "g", "type", "g", np.eye(2)),
    bad(eclipse_layer, "w_next", "shape", np.eye(2), np.eye(3)),
    bad(eclipse_layer, "w_next", "inf", np.eye(2), np.full((1, 2), INF)),
    bad(eclipse_layer, "solver", "option", np.eye(2), np.eye(2), solver="nosuch"),
    bad(eclipse_layer, "solver", "type", np.eye(2), np.eye(2), solver=0),
    bad(eclipse_layer, "slopes", "range", np.eye(2), np.eye(2), slopes=(1.0, 0.0)),
    bad(eclipse_layer, "slopes", "nan", np.eye(2), np.eye(2), slopes=(NAN, 1.0)),
    bad(eclipse_layer, "slopes", "type", np.eye(2), np.eye(2), slopes=0.5),
    # patterns
    bad(piecewise_linear, "net", "type", W2),
    bad(pattern_jacobian, "net", "type", W2, TRUE_FALSE),
    bad(pattern_jacobian, "net", "option", TANH, TRUE_FALSE),
    bad(pattern_jacobian, "patterns", "shape", NET, [np.array([True])]),
    bad(pattern_jacobian, "patterns", "shape", NET, TRUE_FALSE * 2),
    bad(pattern_jacobian, "patterns", "type", NET, [np.array([0.5, 1.0])]),
    bad(pattern_jacobian, "patterns", "type", NET, "TF"),
    bad(pattern_witness, "net", "type", W2, TRUE_FALSE),
    bad(pattern_witness, "net", "option", TANH, TRUE_FALSE),
    bad(pattern_witness, "patterns", "shape", NET, []),
    bad(pattern_witness, "box", "range", NET, TRUE_FALSE, box=(np.zeros(2), np.zeros(2))),
    bad(pattern_witness, "box", "shape", NET, TRUE_FALSE, box=(np.zeros(3), np.ones(3))),
    bad(pattern_lower_bound, "net", "type", W2),
    bad(pattern_lower_bound, "net", "option", TANH),
    bad(pattern_lower_bound, "n_restarts", "range", NET, n_restarts=0),
    bad(pattern_lower_bound, "n_restarts", "type", NET, n_restarts=2.5),
    bad(pattern_lower_bound, "time_budget", "range", NET, time_budget=0.0),
    bad(pattern_lower_bound, "time_budget", "inf", NET, time_budget=INF),
    bad(pattern_lower_bound, "exhaustive", "type", NET, exhaustive="yes"),
    bad(pattern_lower_bound, "box", "range", NET, box=(np.zeros(2), np.array([0.0, 1.0]))),
    bad(pattern_lower_bound, "box", "nan", NET, box=(np.zeros(2), np.full(2, NAN))),
    bad(pattern_lower_bound, "starts", "shape", NET, starts=np.ones((2, 3))),
    bad(pattern_lower_bound, "starts", "nan", NET, starts=np.full((1, 2), NAN)),
    bad(pattern_lower_bound, "seed", "seed", NET, seed=-1),
    # generators
    bad(eclipse_random_net, "layers", "range", 0, 10),
    bad(eclipse_random_net, "layers", "type", True, 10),
    bad(eclipse_random_net, "width", "type", 2, 2.5),
    bad(exact_2d_net, "dims", "type", 5, 0),
    bad(exact_2d_net, "dims", "range", [2, 0, 1], 0),
    bad(exact_2d_net, "dims", "shape", [2], 0),
    bad(exact_2d_net, "seed", "seed", [2, 3, 1], -1),
    bad(exact_2d_net, "seed", "seed", [2, 3, 1], 1.5),
    bad(gaussian_net, "rng", "type", 0, [2, 3, 1]),
    bad(gaussian_net, "dims", "type", np.random.default_rng(0), "dims"),
    bad(gaussian_net, "dims", "range", np.random.default_rng(0), [2, -3, 1]),
    bad(gaussian_net, "dims", "empty", np.random.default_rng(0), []),
    # liplt
    bad(liplt_bound, "net", "type", W2),
    bad(liplt_bound, "slopes", "range", NET, BAD_SLOPES),
    bad(liplt_bound, "slopes", "nan", NET, NAN_SLOPES),
    bad(liplt_bound, "slopes", "shape", NET, [(0.0, 1.0)]),
    # lipsdp
    bad(check_cvxpy_solver, "solver", "option", "nosuch"),
    bad(check_cvxpy_solver, "solver", "option", "GLPK"),  # installed, but no SDPs
    bad(check_cvxpy_solver, "solver", "type", None),
    bad(lipsdp, "net", "type", W2),
    bad(lipsdp, "variant", "option", NET, "bogus"),
    bad(lipsdp, "variant", "type", NET, 1),
    bad(lipsdp, "solver", "option", NET, solver="nosuch"),
    bad(lipsdp, "solver", "option", NET, "network", solver="ipm"),
    bad(lipsdp, "solver", "type", NET, solver=1),
    bad(lipsdp, "slopes", "range", NET, slopes=BAD_SLOPES),
    bad(lipsdp, "slopes", "value", NET, "network", slopes=SLOPES),
    bad(lipsdp, "rtol", "range", NET, rtol=1.0),
    bad(lipsdp, "rtol", "nan", NET, rtol=NAN),
    bad(lipsdp, "rtol", "option", NET, "network", rtol=0.1),
    bad(lipsdp_cvxpy, "net", "type", W2),
    bad(lipsdp_cvxpy, "variant", "option", NET, "neuron-fo"),
    bad(lipsdp_cvxpy, "solver", "option", NET, solver="nosuch"),
    bad(lipsdp_cvxpy, "slopes", "shape", NET, slopes=[(np.zeros(3), np.ones(3))]),
    # local
    bad(interval_slopes, "net", "type", W2, np.zeros(2), np.ones(2)),
    bad(interval_slopes, "net", "option", CUSTOM, np.zeros(2), np.ones(2)),
    bad(interval_slopes, "lo", "nan", NET, np.array([0.0, NAN]), np.ones(2)),
    bad(interval_slopes, "hi", "shape", NET, np.zeros(2), np.ones(3)),
    bad(interval_slopes, "lo", "range", NET, np.ones(2), np.zeros(2)),
    bad(interval_slopes, "lo", "type", NET, "lo", np.ones(2)),
    bad(local_bound, "net", "type", W2, np.zeros(2), np.ones(2)),
    bad(local_bound, "hi", "inf", NET, np.zeros(2), np.array([1.0, INF])),
    bad(local_bound, "lo", "empty", NET, np.zeros(0), np.ones(2)),
    bad(local_bound, "solver", "option", NET, np.zeros(2), np.ones(2), solver="nosuch"),
    bad(local_bound, "solver", "type", NET, np.zeros(2), np.ones(2), solver=1),
    # lower
    bad(angle_sweep, "net", "type", W2),
    bad(angle_sweep, "net", "shape", as_network([np.ones((2, 3)), np.ones((1, 2))])),
    bad(angle_sweep, "n_angles", "range", NET, 0),
    bad(angle_sweep, "n_angles", "type", NET, 10.0),
    bad(jacobian_norms, "net", "type", W2, np.zeros((1, 2))),
    bad(jacobian_norms, "x", "shape", NET, np.zeros((1, 3))),
    bad(jacobian_norms, "x", "nan", NET, np.full((1, 2), NAN)),
    bad(jacobian_norms, "x", "type", NET, "x"),
    bad(jacobian_norms, "chunk", "range", NET, np.zeros((1, 2)), 0),
    bad(lower_bound, "net", "type", W2),
    bad(lower_bound, "n_samples", "range", NET, n_samples=0),
    bad(lower_bound, "n_starts", "type", NET, n_starts=2.5),
    bad(lower_bound, "seed", "seed", NET, seed=-1),
    bad(lower_bound, "box", "shape", NET, box=(np.zeros(3), np.ones(3))),
    bad(lower_bound, "box", "nan", NET, box=(np.zeros(2), np.full(2, NAN))),
    # naive
    bad(naive_bound, "net", "type", W2),
    bad(naive_bound, "net", "type", None),
    bad(frobenius_bound, "net", "type", W2),
    # network
    bad(check_box, "box", "shape", (np.zeros(3), np.ones(3)), 2),
    bad(check_box, "box", "nan", (np.zeros(2), np.full(2, NAN)), 2),
    bad(check_box, "box", "range", (np.ones(2), np.zeros(2)), 2),
    bad(check_box, "box", "type", "box", 2),
    bad(check_box, "box", "empty", (np.zeros(0), np.zeros(0)), 0 + 1),
    bad(check_box, "n0", "range", BOX, 0),
    bad(check_box, "n0", "type", BOX, 2.0),
    bad(merge_linear_layers, "net", "type", W2),
    # neuron_fo
    bad(neuron_fo, "net", "type", W2),
    bad(neuron_fo, "time_budget", "nan", NET, time_budget=NAN),
    bad(neuron_fo, "time_budget", "range", NET, time_budget=0.0),
    bad(neuron_fo, "time_budget", "type", NET, time_budget="10"),
    bad(neuron_fo, "max_iter", "range", NET, max_iter=-1),
    bad(neuron_fo, "max_iter", "type", NET, max_iter=2.5),
    bad(neuron_fo, "max_iter", "type", NET, max_iter=True),
    bad(neuron_fo, "memory", "range", NET, memory=0),
    bad(neuron_fo, "stages", "empty", NET, stages=()),
    bad(neuron_fo, "stages", "range", NET, stages=((1e-3, 2.0),)),
    bad(neuron_fo, "stages", "nan", NET, stages=((NAN, 1.0),)),
    bad(neuron_fo, "stages", "type", NET, stages="ab"),
    bad(neuron_fo, "stages", "shape", NET, stages=((1e-3,),)),
    bad(neuron_fo, "rtol", "nan", NET, rtol=NAN),
    bad(neuron_fo, "rtol", "range", NET, rtol=-1.0),
    bad(schur_objective, "net", "type", W2, LAM),
    bad(schur_objective, "net", "option", NET1, []),
    bad(schur_objective, "lam", "shape", NET, [np.ones(3)]),
    bad(schur_objective, "lam", "nan", NET, [np.array([1.0, NAN])]),
    bad(schur_objective, "lam", "range", NET, [np.array([1.0, -1.0])]),
    bad(schur_objective, "lam", "type", NET, "lam"),
    bad(schur_objective, "tau", "nan", NET, LAM, NAN),
    bad(schur_objective, "tau", "range", NET, LAM, -1.0),
    bad(schur_objective, "grad", "type", NET, LAM, 0.0, grad="yes"),
    # neuron_ipm
    bad(lipsdp_ipm, "net", "type", W2),
    bad(lipsdp_ipm, "variant", "option", NET, "network"),
    bad(lipsdp_ipm, "tol", "range", NET, tol=0.0),
    bad(lipsdp_ipm, "tol", "nan", NET, tol=NAN),
    bad(lipsdp_ipm, "max_iter", "range", NET, max_iter=0),
    bad(lipsdp_ipm, "max_iter", "type", NET, max_iter=1.5),
    bad(lipsdp_ipm, "rtol", "range", NET, rtol=2.0),
    bad(lipsdp_ipm, "slopes", "range", NET, slopes=BAD_SLOPES),
    bad(lipsdp_ipm, "slopes", "type", NET, slopes="slopes"),
    # one_hidden
    bad(one_hidden_applicable, "net", "type", [np.eye(2), np.ones((1, 2))]),
    bad(one_hidden_dual, "net", "type", W2),
    bad(one_hidden_dual, "net", "option", NET),  # two outputs
    bad(one_hidden_dual, "tol", "range", SCALAR, tol=1.0),
    bad(one_hidden_dual, "tol", "nan", SCALAR, tol=NAN),
    bad(one_hidden_dual, "max_iter", "range", SCALAR, max_iter=0),
    bad(one_hidden_dual, "max_iter", "type", SCALAR, max_iter="10"),
    # strategies: checked when the strategy is built, before anything is drawn
    bad(weight_lists, "max_depth", "range", max_depth=0),
    bad(weight_lists, "max_width", "type", max_width=2.5),
    bad(weight_lists, "max_in", "type", max_in=True),
    bad(weight_lists, "positive", "type", positive="yes"),
    bad(one_hidden_scalar, "max_width", "range", max_width=-1),
    bad(one_hidden_scalar, "max_in", "type", max_in=NAN),
    bad(one_hidden_scalar, "sparse", "type", sparse=1),
    # weights outside float64's safe range: LinAlgError or a "certified" 0 before
    bad(lipschitz_bound, "network", "range", [1e160 * np.eye(2), np.eye(2)], "naive"),
    bad(lipschitz_bound, "network", "range", [1e-170 * np.eye(2), np.eye(2)], "lipsdp-neuron"),
    bad(lipschitz_bound, "network", "range", [1e70 * np.eye(2), 1e70 * np.eye(2)], "liplt"),
]


def _nan_bias_seq() -> nn.Sequential:
    lin = nn.Linear(2, 2).double()
    with torch.no_grad():
        lin.bias[0] = NAN
    return nn.Sequential(lin, nn.ReLU(), nn.Linear(2, 1).double())


_GATHERED = gather(__file__, __package__)  # the cases of every _cases_* module here
CASES += _GATHERED[0]
EXEMPT.update(_GATHERED[1])


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
    assert "not certified" in r.message and r.status == 2  # STATUS_NOT_CERTIFIED
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


def test_lipsdp_network_refuses_a_small_budget_at_once():
    """LipSDP-Network is never started when its estimate (measured: 1.2 s with Clarabel at
    4-16-16-2) exceeds time_budget: refused in well under a second, naming time_budget; the
    estimate grows like ``N^5`` (4-64-64-2: over 600 s)."""
    ws = _gauss([4, 16, 16, 2])
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"time_budget=0\.01") as info:
        lipschitz_bound(ws, "lipsdp-network", time_budget=0.01)
    assert time.perf_counter() - start < 1.0
    assert "estimated to take" in str(info.value)
    small = estimate_cost(as_network(ws), "lipsdp-network").seconds
    big = estimate_cost(as_network(_gauss(NET_4_64_64_2)), "lipsdp-network").seconds
    assert 0.5 < small < 10.0 and big > DEFAULT_SOLVE_BUDGET


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


# ------------------------------------------------------------------------------------------
# Overflow never passes for a certificate; the interior-point method is scale-invariant
# ------------------------------------------------------------------------------------------


def test_overflowing_multipliers_certify_nothing():
    """Multipliers near 1e308 overflow the Schur elimination: before, ρ̂ came out 0.0 (a
    "certified" L <= 0 for a network of constant 1) or NaN; now ``inf`` (no certificate)."""
    for v in (1e308, 1.7e308):
        with np.errstate(over="ignore", invalid="ignore"):
            assert certify_multipliers(NET, [np.full(2, v)]) == math.inf
            assert certify_dense(NET, v * np.eye(2)) == math.inf
            assert schur_objective(NET, [np.full(2, v)], grad=False) is None
    assert certify_multipliers(NET, [np.full(2, 1e300)]) == pytest.approx(5e299)


def test_ipm_is_invariant_to_the_weights_scale():
    """LipSDP's value is homogeneous in each layer's scale; the IPM (which overflowed on
    weights of norm 1e45) gives the same certified value on rescaled weights."""
    base = _gauss([3, 6, 6, 1], seed=1)
    ref = lipsdp_ipm(as_network(base)).value
    for e in (45.0, -45.0):
        c = 10.0**e
        r = lipsdp_ipm(as_network([base[0] * c, base[1] / c, base[2]]))
        assert r.certified and r.value == pytest.approx(ref, rel=1e-8)
    r = lipsdp_ipm(as_network([base[0] * 10.0**40, base[1] * 10.0**40, base[2]]))
    assert r.certified and r.value == pytest.approx(ref * 1e80, rel=1e-8)
    assert r.details["sdp_lower_bound"] <= r.value


def test_eclipse_is_invariant_to_the_weights_scale():
    """ECLipsE's layer multipliers were floored at an absolute 1e-21, which swamped them
    (``Λ`` scales as ``1/‖W‖²``) and made the value 1.5e5 times looser at weights of 1e15."""
    base = _gauss([3, 8, 8, 1])
    ref = eclipse(as_network(base)).value
    for c in (1e15, 1e-25):
        r = eclipse(as_network([base[0] * c, *base[1:]]))
        assert r.certified and r.value == pytest.approx(ref * c, rel=1e-6)
