"""Matrix-free LipLT and naive bounds of conv chains (Fazlyab, Entesari, Roy, Chellappa,
NeurIPS 2023, arXiv:2310.00116): equal to the dense bounds of the materialised network on
small nets, above sampled Jacobian norms on random ones, whichever way each product's norm is
certified (dense SVD, Gram + Cholesky, FFT, products of factors)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from stability.decision_boundary.models import GridCNN
from stability.lipschitz.liplt import liplt_bound
from stability.lipschitz.naive import naive_bound
from stability.lipschitz.operators import (
    _materialise,
    operator_liplt_bound,
    operator_naive_bound,
    operator_norms,
)

#: Options forcing each certification route (dense off, so Gram / FFT / factors are used).
ROUTES = {
    "dense": {},
    "gram": {"max_dense": 0, "max_gram": 10_000},
    "fft-or-factors": {"max_dense": 0, "max_gram": 0},
}


def _jacobian_lower(module: nn.Module, shape, n: int = 8, seed: int = 0) -> float:
    """max ||J(x)||_2 over random inputs (autograd, float64): a lower bound on L."""
    gen = torch.Generator().manual_seed(seed)
    best = 0.0
    for _ in range(n):
        x = torch.randn(shape, dtype=torch.float64, generator=gen)
        jac = torch.autograd.functional.jacobian(lambda v: module(v[None])[0], x)
        best = max(best, float(torch.linalg.matrix_norm(jac.reshape(jac.shape[0], -1), 2)))
    return best


def test_gridcnn_equals_the_dense_bounds():
    torch.manual_seed(0)
    model = GridCNN(6)
    steps, shape = list(model.net), (1, 6, 6)
    net = _materialise(steps, shape)
    for kw in ROUTES.values():
        lt = operator_liplt_bound(steps, shape, **kw)
        nv = operator_naive_bound(steps, shape, **kw)
        assert lt.certified and nv.certified and lt.method == "liplt"
        assert lt.value >= liplt_bound(net) and nv.value >= naive_bound(net)
        if kw.get("max_gram", 1) != 0:  # dense and Gram: exact norms of every product
            assert lt.value == pytest.approx(liplt_bound(net), rel=1e-7)
            assert nv.value == pytest.approx(naive_bound(net), rel=1e-7)
    exact = [float(torch.linalg.matrix_norm(torch.as_tensor(w), 2)) for w in net.weights]
    assert operator_norms(steps, shape) == pytest.approx(exact, rel=1e-7)


@st.composite
def conv_nets(draw):
    """A random small conv chain: strides, padding, dilation, BN (eval), pooling, activations."""
    torch.manual_seed(draw(st.integers(0, 10_000)))
    c, n = draw(st.integers(1, 2)), draw(st.integers(9, 11))
    act = draw(st.sampled_from([nn.ReLU, nn.Tanh, lambda: nn.LeakyReLU(0.1)]))
    c1 = draw(st.integers(1, 3))
    s1 = draw(st.integers(1, 2))
    layers = [nn.Conv2d(c, c1, 3, stride=s1, padding=draw(st.integers(0, 1))), act()]
    if draw(st.booleans()):
        bn = nn.BatchNorm2d(c1)
        with torch.no_grad():
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(-1.5, 1.5)
        layers.append(bn.eval())
    layers.append(nn.Conv2d(c1, 2, 2, dilation=draw(st.integers(1, 2))))
    if draw(st.booleans()):
        layers.append(nn.AvgPool2d(2, stride=1))
    layers.append(act())
    model = nn.Sequential(*layers).double().eval()
    with torch.no_grad():
        out = model(torch.zeros(1, c, n, n, dtype=torch.float64)).numel()
    model.append(nn.Flatten())
    model.append(nn.Linear(out, 2).double())
    return model, (c, n, n)


@settings(max_examples=8, deadline=None)
@given(conv_nets(), st.sampled_from(sorted(ROUTES)))
def test_random_conv_nets_bound_sampled_jacobians(case, route):
    model, shape = case
    steps = list(model)
    lt = operator_liplt_bound(steps, shape, **ROUTES[route])
    nv = operator_naive_bound(steps, shape, **ROUTES[route])
    dense = liplt_bound(_materialise(steps, shape))
    assert lt.certified and math.isfinite(lt.value)
    assert lt.value >= dense * (1 - 1e-12)
    assert lt.value <= nv.value * (1 + 1e-9)  # LipLT never exceeds the naive product
    assert lt.value >= _jacobian_lower(model, shape, n=4)


def test_materialised_chain_is_the_linear_part():
    """For an activation-free chain, W x = f(x) - f(0): checks pooling, batch norm, circular
    and 'same' padding, dilation, groups."""
    torch.manual_seed(3)
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_var.uniform_(0.5, 2.0)
        bn.running_mean.uniform_(-1, 1)
    model = (
        nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular"),
            bn,
            nn.AvgPool2d(3, stride=2, padding=1),
            nn.Conv2d(4, 4, 3, padding="same", dilation=2, groups=2),
            nn.Flatten(),
            nn.Linear(64, 3),
        )
        .double()
        .eval()
    )
    net = _materialise(list(model), (2, 7, 8))
    assert len(net.weights) == 1
    x = torch.randn(5, 2, 7, 8, dtype=torch.float64)
    with torch.no_grad():
        ref = (model(x) - model(torch.zeros_like(x))).numpy()
    assert ref == pytest.approx(x.reshape(5, -1).numpy() @ net.weights[0].T, abs=1e-10)


class Squash(nn.Module):
    """An activation the toolkit does not know: x / (1 + |x|), slopes in [0, 1]."""

    def forward(self, x):
        return x / (1 + x.abs())


def test_leading_and_trailing_activations_and_slopes():
    """Activations at either end are wrapped by identities; custom slopes are used."""
    steps = [nn.Tanh(), nn.Flatten(), nn.Linear(4, 3), Squash()]
    with pytest.raises(ValueError, match="Squash"):
        operator_liplt_bound(steps, (1, 2, 2))
    r = operator_liplt_bound(steps, (1, 2, 2), slopes={"Squash": (0.0, 1.0)})
    dense = liplt_bound(_materialise(steps, (1, 2, 2), {"Squash": (0.0, 1.0)}))
    assert r.value == pytest.approx(dense, rel=1e-8) and r.value >= dense


def test_time_budget_refuses_at_once_and_limits_refinements():
    torch.manual_seed(0)
    steps = list(GridCNN(6).net)
    with pytest.raises(ValueError, match="time_budget"):
        operator_liplt_bound(steps, (1, 6, 6), time_budget=1e-9, max_dense=0)
    r = operator_liplt_bound(steps, (1, 6, 6), time_budget=60.0)
    assert r.certified and r.status == 0
