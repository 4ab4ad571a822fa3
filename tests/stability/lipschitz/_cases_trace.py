"""Bad-input cases of the tracer, the activation table and the certified radii."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from stability.lipschitz import lipschitz_bound, lipschitz_lower_bound
from stability.lipschitz.activations import (
    activation_range,
    activation_slopes,
    check_activation_name,
    evaluate_activation,
    monotone,
    slopes_of_name,
)
from stability.lipschitz.radius import certified_radius
from stability.lipschitz.trace import (
    maxpool_lipschitz,
    propagate_bounds,
    sampled_lower_bound,
    segments,
    trace_network,
)
from tests._audit import Case, bad, lazy

NAN, INF = float("nan"), float("inf")
W2 = [np.eye(2), np.eye(2)]

EXEMPT: dict[str, str] = {
    "trace.TracedNetwork": "a result dataclass that trace_network builds",
    "trace.TracedOp": "a record of one traced operation, built by trace_network",
    "trace.Reshape": "an nn.Module helper that trace_network builds from a view/reshape",
    "trace.Scale": "an nn.Module helper that trace_network builds from x * c",
    "trace.Shift": "an nn.Module helper that trace_network builds from x + c",
    "radius.CertifiedRadius": "a result dataclass that certified_radius builds",
    "TracedNetwork": "a result dataclass that trace_network builds (re-exported)",
    "CertifiedRadius": "a result dataclass that certified_radius builds (re-exported)",
}


def _conv() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(1, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2)).double()


CASES: list[Case] = [
    # activations
    bad(slopes_of_name, "name", "option", "swish"),
    bad(slopes_of_name, "name", "type", 3),
    bad(slopes_of_name, "name", "nan", "elu:nan"),
    bad(slopes_of_name, "name", "inf", "leaky_relu:inf"),
    bad(slopes_of_name, "name", "range", "hardtanh:1:0"),
    bad(slopes_of_name, "name", "range", "softplus:-1"),
    bad(slopes_of_name, "name", "value", "elu:x"),
    bad(slopes_of_name, "name", "shape", "hardtanh:1"),
    bad(check_activation_name, "name", "option", "bogus"),
    bad(check_activation_name, "name", "type", None),
    bad(evaluate_activation, "name", "option", "custom", np.zeros(2)),
    bad(evaluate_activation, "name", "option", "bogus", np.zeros(2)),
    bad(evaluate_activation, "h", "type", "relu", "abc"),
    bad(monotone, "name", "option", "bogus"),
    bad(activation_range, "name", "option", "custom", [0.0], [1.0]),
    bad(activation_range, "lo", "range", "relu", [1.0], [0.0]),
    bad(activation_range, "hi", "shape", "relu", [0.0], [1.0, 2.0]),
    bad(activation_slopes, "custom", "range", nn.GELU(), {"GELU": (1.0, 0.0)}),
    bad(activation_slopes, "custom", "nan", nn.GELU(), {"GELU": (NAN, 1.0)}),
    bad(activation_slopes, "custom", "type", nn.GELU(), [(0.0, 1.0)]),
    bad(activation_slopes, "module", "nan", nn.LeakyReLU(NAN)),
    bad(activation_slopes, "module", "option", nn.Dropout(0.5)),  # training mode
    # trace_network
    bad(trace_network, "module", "type", "net"),
    bad(trace_network, "module", "type", [np.eye(2)]),
    lazy(trace_network, "input_shape", "option", lambda: ((_conv(),), {})),
    lazy(trace_network, "input_shape", "shape", lambda: ((_conv(), (1, 7)), {})),
    lazy(trace_network, "input_shape", "type", lambda: ((_conv(), "1x3"), {})),
    lazy(trace_network, "input_shape", "range", lambda: ((_conv(), (1, 0)), {})),
    lazy(trace_network, "input_shape", "empty", lambda: ((_conv(), ()), {})),
    lazy(trace_network, "slopes", "range", lambda: ((_conv(), (1, 3)), {"slopes": {"X": (1, 0)}})),
    lazy(
        trace_network,
        "network",
        "option",
        lambda: ((nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2)),), {}),
    ),
    bad(maxpool_lipschitz, "pool", "type", nn.AvgPool2d(2)),
    bad(segments, "traced", "type", _mlp),
    bad(propagate_bounds, "traced", "type", _mlp, [1.0]),
    lazy(propagate_bounds, "segment_bounds", "shape", lambda: ((trace_network(_mlp()), []), {})),
    lazy(propagate_bounds, "segment_bounds", "nan", lambda: ((trace_network(_mlp()), [NAN]), {})),
    lazy(propagate_bounds, "segment_bounds", "range", lambda: ((trace_network(_mlp()), [-1]), {})),
    bad(sampled_lower_bound, "forward", "type", 3.0, (2,)),
    bad(sampled_lower_bound, "input_shape", "type", torch.tanh, "2"),
    bad(sampled_lower_bound, "n_samples", "range", torch.tanh, (2,), n_samples=0),
    bad(sampled_lower_bound, "n_ascent", "type", torch.tanh, (2,), n_ascent=1.5),
    bad(sampled_lower_bound, "seed", "seed", torch.tanh, (2,), seed=-1),
    bad(sampled_lower_bound, "box", "shape", torch.tanh, (2,), box=(np.zeros(3), np.ones(3))),
    # the new keywords of the entry points
    lazy(
        lipschitz_bound, "input_shape", "type", lambda: ((_conv(), "naive"), {"input_shape": 3.5})
    ),
    lazy(
        lipschitz_bound,
        "input_shape",
        "shape",
        lambda: ((_conv(), "naive"), {"input_shape": (2, 3)}),
    ),
    lazy(
        lipschitz_bound,
        "max_dense",
        "range",
        lambda: ((_conv(), "naive"), {"input_shape": (1, 3), "max_dense": 0}),
    ),
    bad(lipschitz_bound, "input_shape", "option", W2, "naive", input_shape=(2,)),
    lazy(
        lipschitz_bound,
        "max_dense",
        "value",
        lambda: ((_conv(), "lipsdp-neuron"), {"input_shape": (1, 3), "max_dense": 2}),
    ),
    lazy(
        lipschitz_lower_bound,
        "input_shape",
        "shape",
        lambda: ((_conv(),), {"input_shape": (1, 9, 9)}),
    ),
    # certified_radius
    bad(certified_radius, "states", "nan", W2, [[NAN, 0.0]], bound=1.0),
    bad(certified_radius, "states", "shape", W2, [[1.0, 0.0, 0.0]], bound=1.0),
    bad(certified_radius, "states", "empty", W2, np.zeros((0, 2)), bound=1.0),
    bad(certified_radius, "states", "type", W2, "states", bound=1.0),
    bad(certified_radius, "bound", "range", W2, [[1.0, 0.0]], bound=-1.0),
    bad(certified_radius, "bound", "inf", W2, [[1.0, 0.0]], bound=INF),
    bad(certified_radius, "bound", "nan", W2, [[1.0, 0.0]], bound=NAN),
    bad(certified_radius, "bound", "type", W2, [[1.0, 0.0]], bound="1"),
    bad(certified_radius, "network", "shape", [np.ones((1, 2))], [[1.0, 0.0]], bound=1.0),
    bad(certified_radius, "method", "option", W2, [[1.0, 0.0]], method="bogus"),
    lazy(
        certified_radius,
        "states",
        "shape",
        lambda: ((_conv(), np.zeros((2, 5))), {"input_shape": (1, 3), "bound": 1.0}),
    ),
]
