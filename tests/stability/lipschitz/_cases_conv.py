"""Bad-input cases of stability.lipschitz.conv and stability.lipschitz.operators; gathered by
test_bad_input.py. Among them: padding modes other than zeros/circular (refused by name, not
bounded as if zero-padded), an input shape that does not chain, a Linear without Flatten in
front, batch norm and dropout in training mode (random or batch-dependent maps)."""

from __future__ import annotations

from torch import nn

from stability.lipschitz.conv import conv_operator_norm
from stability.lipschitz.operators import (
    operator_liplt_bound,
    operator_naive_bound,
    operator_norms,
)
from tests._audit import Case, bad, lazy

NAN = float("nan")
STEPS = [nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2)]
SHAPE = (1, 4, 4)


def _train_bn():
    return (([nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()], SHAPE), {})


EXEMPT: dict[str, str] = {
    "OperatorNorm": "a result dataclass that conv_operator_norm builds",
    "conv.OperatorNorm": "a result dataclass that conv_operator_norm builds",
}

CASES: list[Case] = [
    bad(conv_operator_norm, "conv", "type", nn.Linear(2, 2), (2,)),
    bad(conv_operator_norm, "conv", "type", nn.Conv3d(1, 1, 2), (1, 4, 4, 4)),
    bad(
        conv_operator_norm,
        "conv",
        "option",
        nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"),
        SHAPE,
    ),
    bad(conv_operator_norm, "input_shape", "shape", nn.Conv2d(1, 1, 3), (2, 4, 4)),
    bad(conv_operator_norm, "input_shape", "shape", nn.Conv2d(1, 1, 3), (1, 4)),
    bad(conv_operator_norm, "input_shape", "range", nn.Conv2d(1, 1, 3), (1, 2, 2)),
    bad(conv_operator_norm, "input_shape", "range", nn.Conv2d(1, 1, 3), (1, 0, 4)),
    bad(conv_operator_norm, "input_shape", "type", nn.Conv2d(1, 1, 3), "1x4x4"),
    bad(conv_operator_norm, "method", "option", nn.Conv2d(1, 1, 3), SHAPE, method="svd"),
    bad(conv_operator_norm, "n_iter", "range", nn.Conv2d(1, 1, 3), SHAPE, n_iter=0),
    bad(conv_operator_norm, "n_iter", "type", nn.Conv2d(1, 1, 3), SHAPE, n_iter=2.5),
    bad(conv_operator_norm, "seed", "seed", nn.Conv2d(1, 1, 3), SHAPE, seed=-1),
    bad(conv_operator_norm, "max_dense", "range", nn.Conv2d(1, 1, 3), SHAPE, max_dense=-1),
    bad(operator_liplt_bound, "steps", "empty", [], SHAPE),
    bad(operator_liplt_bound, "steps", "type", "conv", SHAPE),
    bad(operator_liplt_bound, "steps", "type", [nn.ReLU(), "relu"], SHAPE),
    bad(operator_liplt_bound, "steps", "option", [nn.Conv2d(1, 1, 2), nn.MaxPool2d(2)], SHAPE),
    bad(operator_liplt_bound, "steps", "option", [nn.Conv2d(1, 1, 2), nn.LayerNorm(3)], SHAPE),
    bad(operator_liplt_bound, "steps", "shape", [nn.Conv2d(1, 1, 2), nn.Linear(9, 2)], SHAPE),
    bad(operator_liplt_bound, "steps", "value", [nn.Conv2d(1, 1, 2), nn.ReLU(), nn.Tanh()], SHAPE),
    bad(operator_liplt_bound, "steps", "value", [nn.Linear(16, 2), nn.Dropout(0.5)], (16,)),
    bad(operator_liplt_bound, "steps", "option", [nn.AvgPool2d(2, ceil_mode=True)], SHAPE),
    lazy(operator_liplt_bound, "steps", "value", _train_bn),
    bad(operator_liplt_bound, "input_shape", "shape", STEPS, (2, 4, 4)),
    bad(operator_liplt_bound, "input_shape", "empty", STEPS, ()),
    bad(operator_liplt_bound, "input_shape", "range", STEPS, (1, -4, 4)),
    bad(operator_liplt_bound, "input_shape", "type", STEPS, 16),
    bad(operator_liplt_bound, "time_budget", "range", STEPS, SHAPE, time_budget=0.0),
    bad(operator_liplt_bound, "time_budget", "nan", STEPS, SHAPE, time_budget=NAN),
    bad(operator_liplt_bound, "time_budget", "range", STEPS, SHAPE, time_budget=1e-12, max_dense=0),
    bad(operator_liplt_bound, "max_gram", "range", STEPS, SHAPE, max_gram=-1),
    bad(operator_liplt_bound, "max_dense", "type", STEPS, SHAPE, max_dense=1.5),
    bad(operator_liplt_bound, "max_memory_gb", "range", STEPS, SHAPE, max_memory_gb=0.0),
    bad(operator_liplt_bound, "slopes", "range", [nn.GELU()], (2,), slopes={"GELU": (1.0, 0.0)}),
    bad(operator_naive_bound, "steps", "empty", [], SHAPE),
    bad(operator_naive_bound, "input_shape", "shape", STEPS, (1, 5, 5)),
    bad(operator_naive_bound, "time_budget", "nan", STEPS, SHAPE, time_budget=NAN),
    bad(operator_norms, "steps", "type", None, SHAPE),
    bad(operator_norms, "input_shape", "type", STEPS, None),
    bad(operator_norms, "max_gram", "type", STEPS, SHAPE, max_gram="big"),
]
