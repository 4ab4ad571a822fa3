"""Hypothesis strategies for property tests of the counterfactual Stability measure.

Public, for reuse in users' test suites::

    from hypothesis import given
    from stability.counterfactual.strategies import logistic_models, tanh_mlps

All take keyword-only size parameters, checked when the strategy is built (before anything is
drawn), so a bad size is refused with its name at the call; models are float64 torch modules.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

from stability.counterfactual.models import logistic_model
from theory.checks import check_positive_int

__all__ = ["linear_instances", "logistic_models", "queries", "tanh_mlps"]


def _rng(draw: st.DrawFn) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def logistic_models(*, max_dim: int = 5) -> st.SearchStrategy[nn.Sequential]:
    """sigmoid(w . x + b) with d in 1..max_dim, ||w|| log-uniform-ish in [0.1, 10]."""
    return _logistic_models(max_dim=check_positive_int("max_dim", max_dim))


@st.composite
def _logistic_models(draw: st.DrawFn, *, max_dim: int) -> nn.Sequential:
    d = draw(st.integers(1, max_dim))
    rng = _rng(draw)
    w = rng.normal(size=d)
    w *= draw(st.sampled_from([0.1, 1.0, 3.0, 10.0])) / max(np.linalg.norm(w), 1e-12)
    return logistic_model(w, float(rng.normal()))


def tanh_mlps(*, max_dim: int = 4, max_width: int = 8) -> st.SearchStrategy[nn.Sequential]:
    """Linear-Tanh-Linear-Sigmoid (or with ReLU), random float64 weights of scale 0.3-3."""
    return _tanh_mlps(
        max_dim=check_positive_int("max_dim", max_dim),
        max_width=check_positive_int("max_width", max_width),
    )


@st.composite
def _tanh_mlps(draw: st.DrawFn, *, max_dim: int, max_width: int) -> nn.Sequential:
    d, h = draw(st.integers(1, max_dim)), draw(st.integers(1, max_width))
    act = draw(st.sampled_from([nn.Tanh, nn.ReLU]))
    scale = draw(st.sampled_from([0.3, 1.0, 3.0]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    net = nn.Sequential(nn.Linear(d, h), act(), nn.Linear(h, 1), nn.Sigmoid()).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return net


def queries(*, d: int, max_rows: int = 4) -> st.SearchStrategy[np.ndarray]:
    """(n, d) query points with entries in [-2, 2], n in 1..max_rows."""
    return _queries(d=check_positive_int("d", d), max_rows=check_positive_int("max_rows", max_rows))


@st.composite
def _queries(draw: st.DrawFn, *, d: int, max_rows: int) -> np.ndarray:
    n = draw(st.integers(1, max_rows))
    return _rng(draw).uniform(-2.0, 2.0, (n, d))


def linear_instances(
    *, max_dim: int = 6
) -> st.SearchStrategy[tuple[np.ndarray, float, np.ndarray]]:
    """(w, b, x) for a linear function m(y) = w . y + b (values not restricted to [0, 1])."""
    return _linear_instances(max_dim=check_positive_int("max_dim", max_dim))


@st.composite
def _linear_instances(draw: st.DrawFn, *, max_dim: int) -> tuple[np.ndarray, float, np.ndarray]:
    d = draw(st.integers(1, max_dim))
    rng = _rng(draw)
    return rng.normal(size=d), float(rng.normal()), rng.normal(size=d)
