"""Tracing any torch module: the traced graph computes the module, chains materialise exactly,
residual graphs are bounded by segments, refusals name the layer, and every upper bound stays
above sampled lower bounds on random conv, residual and batch-normalised networks."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import stability.lipschitz as lip
from stability.decision_boundary.models import GridCNN
from stability.lipschitz import (
    LipschitzResult,
    as_network,
    lipschitz_bound,
    lipschitz_interval,
    lipschitz_lower_bound,
)
from stability.lipschitz.trace import (
    Reshape,
    Scale,
    Shift,
    maxpool_lipschitz,
    segments,
    trace_network,
)
from trainers.ppo import Agent

torch.set_num_threads(1)

QUICK = {"n_samples": 64, "n_ascent": 20}


class Residual(nn.Module):
    """``x + W2 act(W1 x)`` then a head; functional activations, a BatchNorm, a reshape."""

    def __init__(self, n: int = 3, act=F.gelu) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(n, n), nn.Linear(n, n)
        self.bn = nn.BatchNorm1d(n)
        self.head = nn.Linear(n, 2)
        self.act = act

    def forward(self, x):
        h = x + self.b(self.act(self.a(x)))
        h = self.bn(h)
        h = h.view(h.size(0), -1) * 2.0 - 1.0
        return self.head(torch.tanh(h))


class ConvPool(nn.Module):
    """Conv1d - ReLU - AvgPool - MaxPool - Flatten - Linear, with a scalar preprocessing."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 3, padding=1)
        self.avg = nn.AvgPool1d(2)
        self.pool = nn.MaxPool1d(2)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        h = self.avg(F.relu(self.conv(x / 255.0)))
        return self.fc(torch.flatten(self.pool(h), 1))


def _randomise_bn(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.randn(n, generator=g))
                m.bias.copy_(torch.randn(n, generator=g))
    return module.eval()


def _cases():
    torch.manual_seed(0)
    return [
        (GridCNN(9).eval(), (1, 9, 9)),
        (Agent(4, 2), None),
        (_randomise_bn(Residual()).double(), None),
        (_randomise_bn(Residual(act=torch.relu)), None),
        (ConvPool().double(), (2, 8)),
        (
            _randomise_bn(
                nn.Sequential(
                    nn.Conv2d(2, 3, 2, stride=2),
                    nn.BatchNorm2d(3),
                    nn.SiLU(),
                    nn.Dropout(0.3),
                    nn.Flatten(),
                    nn.Linear(12, 4),
                    nn.Mish(),
                    nn.Linear(4, 3),
                )
            ).double(),
            (2, 4, 4),
        ),
    ]


@pytest.mark.parametrize("case", range(6))
def test_traced_forward_equals_module(case):
    """Float32 and float64 modules: the traced operations compute ``module(x)`` (exactly: the
    same kernels), on random inputs."""
    module, shape = _cases()[case]
    t = trace_network(module, shape)
    dtype = next(module.parameters()).dtype
    x = torch.randn(7, *t.input_shape, dtype=dtype)
    with torch.no_grad():
        assert torch.equal(t.forward(x), module(x))
    assert t.output_shape == tuple(module(x).shape[1:])


def test_chains_materialise_exactly():
    """GridCNN (float32, evaluated in float64 on float64 copies) and a BatchNorm chain (float64):
    the materialised Network computes the module; the steps are the leaf modules."""
    for module, shape in (_cases()[0], _cases()[5]):
        t = trace_network(module, shape)
        assert t.is_chain
        net = as_network(t)
        m64 = __import__("copy").deepcopy(module).double()
        x = torch.randn(9, *shape, dtype=torch.float64)
        with torch.no_grad():
            ref = m64(x).numpy()
        assert np.allclose(net.forward(x.reshape(9, -1).numpy()), ref, atol=1e-10)
    t = trace_network(*_cases()[0])
    kinds = [type(s).__name__ for s in t.steps]
    assert kinds == ["Conv2d", "ReLU", "Conv2d", "ReLU", "Flatten", "Linear", "ReLU", "Linear"]
    assert as_network(GridCNN(9), input_shape=(1, 9, 9)).dims == (81, 72, 144, 64, 4)


def test_ppo_agent_and_functional_forms():
    """trainers.ppo.Agent (forward = self.actor(x)) gives the actor's bound; functional calls
    become modules (Scale for ``/ 255``, Shift for ``- 1``, Reshape for a non-flat view)."""
    torch.manual_seed(0)
    agent = Agent(4, 3)
    a = lipschitz_bound(agent, "lipsdp-neuron")
    b = lipschitz_bound(agent.actor, "lipsdp-neuron")
    assert a.certified and a.value == pytest.approx(b.value, rel=1e-9)
    t = trace_network(ConvPool(), (2, 8))
    assert isinstance(t.ops[0].module, Scale) and t.ops[0].module.c == 1 / 255
    assert [op.kind for op in t.ops].count("maxpool") == 1 and not t.is_chain

    class Views(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 6)

        def forward(self, x):
            return F.leaky_relu(self.fc(x) - 1.0, 0.2).view(-1, 2, 3).sigmoid()

    t = trace_network(Views())
    assert [type(op.module) for op in t.ops] == [
        nn.Linear,
        Shift,
        nn.LeakyReLU,
        Reshape,
        nn.Sigmoid,
    ]
    net = as_network(t)
    assert net.activations == ("leaky_relu:0.2", "sigmoid")


def test_residual_bound_is_the_product_of_blocks():
    """``x + W2 relu(W1 x)`` then ``W3``: composed naive bound
    ``||W3|| (1 + ||W2|| ||W1||)`` [hand-derived from the segment rule]."""
    torch.manual_seed(3)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = nn.Linear(3, 5, bias=False)
            self.w2 = nn.Linear(5, 3, bias=False)
            self.w3 = nn.Linear(3, 2, bias=False)

        def forward(self, x):
            return self.w3(x + self.w2(torch.relu(self.w1(x))))

    m = Block().double()
    r = lipschitz_bound(m, "naive")
    n = [np.linalg.norm(w.detach().numpy(), 2) for w in (m.w1.weight, m.w2.weight, m.w3.weight)]
    assert r.method == "composed" and r.requested == "naive" and r.certified
    assert r.value == pytest.approx(n[2] * (1 + n[1] * n[0]), rel=1e-9)
    assert "residual" in r.message and "1 + L(g)" in r.message
    assert segments(trace_network(m)) == [[0, 1, 2], [4]]
    with pytest.raises(ValueError, match="residual additions"):
        as_network(m)
    lo = lipschitz_lower_bound(m, **QUICK)
    assert lo.method == "sampling" and 0 < lo.value <= r.value
    iv = lipschitz_interval(m, "lipsdp-neuron", lower="sampling")
    assert iv.consistent and iv.upper.method == "composed"


def test_maxpool_constant():
    """``sqrt(m)`` with ``m`` the windows sharing an input; brute force: pair ratios of
    MaxPool2d(3, stride 1) reach ``sqrt(9)`` at a spike (one input in nine windows)."""
    assert maxpool_lipschitz(nn.MaxPool2d(2)) == 1.0
    assert maxpool_lipschitz(nn.MaxPool1d(3, stride=2)) == math.sqrt(2)
    assert maxpool_lipschitz(nn.MaxPool2d(3, stride=1)) == 3.0
    assert maxpool_lipschitz(nn.MaxPool1d(2, stride=1, dilation=2)) == math.sqrt(2)
    pool = nn.MaxPool2d(3, stride=1).double()
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    y = x.clone()
    y[0, 0, 2, 2] = 1.0
    assert float((pool(y) - pool(x)).norm()) == pytest.approx(3.0)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2000, 1, 5, 5, generator=g, dtype=torch.float64)
    b = a + 0.1 * torch.randn(2000, 1, 5, 5, generator=g, dtype=torch.float64)
    ratio = (pool(a) - pool(b)).flatten(1).norm(dim=1) / (a - b).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= 3.0


def test_large_chains_go_matrix_free(monkeypatch):
    """Over ``max_dense``: 'naive'/'liplt'/'auto' go to the matrix-free operators (a stub here)
    with the steps and input shape; dense-only methods are refused naming max_dense."""
    calls = []

    def naive(steps, input_shape, *, slopes=None, time_budget=None):
        calls.append(("naive", [type(s).__name__ for s in steps], input_shape))
        return LipschitzResult(1.0, "naive", True, "stub", 0.0, "naive")

    def liplt(steps, input_shape, *, slopes=None, time_budget=None):
        calls.append(("liplt", [type(s).__name__ for s in steps], input_shape))
        return LipschitzResult(0.5, "liplt", True, "stub", 0.0, "liplt")

    stub = types.ModuleType("stability.lipschitz.operators")
    stub.operator_naive_bound, stub.operator_liplt_bound = naive, liplt
    monkeypatch.setitem(sys.modules, "stability.lipschitz.operators", stub)
    monkeypatch.setattr(lip, "operators", stub, raising=False)
    cnn = GridCNN(9)
    assert lipschitz_bound(cnn, "naive", input_shape=(1, 9, 9), max_dense=100).value == 1.0
    assert lipschitz_bound(cnn, "auto", input_shape=(1, 9, 9), max_dense=100).value == 0.5
    assert calls[0][0] == "naive" and calls[1][0] == "liplt"
    assert calls[0][1][:2] == ["Conv2d", "ReLU"] and calls[0][2] == (1, 9, 9)
    with pytest.raises(ValueError, match="max_dense"):
        lipschitz_bound(cnn, "lipsdp-neuron", input_shape=(1, 9, 9), max_dense=100)
    with pytest.raises(ValueError, match="max_dense"):
        as_network(cnn, input_shape=(1, 9, 9), max_dense=100)
    monkeypatch.setitem(sys.modules, "stability.lipschitz.operators", None)
    monkeypatch.delattr(lip, "operators", raising=False)
    with pytest.raises(ValueError, match="matrix-free"):
        lipschitz_bound(cnn, "naive", input_shape=(1, 9, 9), max_dense=100)


def test_refusals_name_the_layer():
    lin = nn.Linear(3, 3)
    with pytest.raises(ValueError, match=r"'1' \(LayerNorm\)"):
        trace_network(nn.Sequential(lin, nn.LayerNorm(3), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match=r"'1' \(BatchNorm1d\).*\.eval\(\)"):
        trace_network(nn.Sequential(lin, nn.BatchNorm1d(3), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match=r"Dropout.*\.eval\(\)"):
        lipschitz_bound(nn.Sequential(lin, nn.Dropout(0.5), nn.Linear(3, 1)), "naive")

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            y = self.fc(x)
            return y, torch.tanh(y)

    with pytest.raises(ValueError, match="tuple of 2 outputs"):
        trace_network(Two())

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else -self.fc(x)

    with pytest.raises(ValueError, match=r"torch\.fx cannot trace"):
        trace_network(Branchy())

    class Slice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4)

        def forward(self, x):
            return self.fc(x)[:, :2]

    with pytest.raises(ValueError, match="node 'getitem'"):
        trace_network(Slice())
    with pytest.raises(ValueError, match="input_shape"):
        trace_network(GridCNN(9))
    with pytest.raises(ValueError, match="input_shape"):
        trace_network(GridCNN(9), (1, 8, 8))


@st.composite
def small_modules(draw):
    """A random small conv, residual or batch-normalised network (float64, eval mode)."""
    kind = draw(st.sampled_from(["conv", "residual", "bn"]))
    seed = draw(st.integers(0, 2**16))
    act = draw(st.sampled_from([nn.ReLU, nn.Tanh, nn.GELU, nn.ELU]))
    c = draw(st.integers(1, 3))
    torch.manual_seed(seed)
    if kind == "conv":
        m = nn.Sequential(
            nn.Conv2d(1, c, 2), act(), nn.Flatten(), nn.Linear(c * 4, 3), act(), nn.Linear(3, 2)
        )
        shape = (1, 3, 3)
    elif kind == "bn":
        m = nn.Sequential(
            nn.Conv1d(1, c, 2, stride=2),
            nn.BatchNorm1d(c),
            act(),
            nn.Flatten(),
            nn.Linear(2 * c, 2),
        )
        shape = (1, 4)
        _randomise_bn(m, seed)
    else:
        m, shape = Residual(3, act=act()), (3,)
        _randomise_bn(m, seed)
    return m.double().eval(), shape


@settings(max_examples=5, deadline=None)
@given(small_modules())
def test_upper_bounds_hold_against_sampled_lower_bounds(case):
    module, shape = case
    lo = lipschitz_lower_bound(
        module, input_shape=shape, method="sampling", n_samples=256, n_ascent=0
    ).value
    for method in ("naive", "liplt", "lipsdp-neuron"):
        r = lipschitz_bound(module, method, input_shape=shape)
        assert r.certified and lo <= r.value * (1 + 1e-9), (method, lo, r.value)
