"""StackedModule's plain-``nn.Linear`` path computes what its vmap path computes, bit for bit
(outputs and per-run gradients), and refuses what the vmap path refuses."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from trainers.batched import StackedMLP, StackedModule

torch.set_num_threads(1)


def _stack(n: int, d: int, a: int, bias: bool, dtype: torch.dtype) -> StackedModule:
    torch.manual_seed(0)
    mods = [nn.Linear(d, a, bias=bias).to(dtype) for _ in range(n)]
    for m in mods:
        nn.init.normal_(m.weight)
    return StackedModule(mods)


@pytest.mark.parametrize(
    "bias,per_run,dtype",
    list(itertools.product((False, True), (False, True), (torch.float32, torch.float64))),
)
def test_linear_path_matches_vmap_bit_for_bit(bias, per_run, dtype):
    n, c, d, a = 6, 12, 9, 3
    model = _stack(n, d, a, bias, dtype)
    assert model._linear
    x = torch.randn((n, c, d) if per_run else (c, d), dtype=dtype)
    weights = torch.randn(n, c, a, dtype=dtype)
    vmapped = model._per_run if per_run else model._shared

    def run(forward):
        for p in model.parameters():
            p.grad = None
        out = forward()
        (torch.log_softmax(out, -1).exp() * weights).sum().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters()]

    fast, fast_grads = run(lambda: model(x, per_run_input=per_run))
    slow, slow_grads = run(lambda: vmapped(model.params, model.buffers, x))
    assert fast.shape == (n, c, a)
    assert torch.equal(fast, slow)
    assert all(torch.equal(g, h) for g, h in zip(fast_grads, slow_grads, strict=True))


def test_other_modules_and_inputs_take_the_vmap_path():
    torch.manual_seed(0)
    mlp = StackedModule([nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))] * 3)
    assert not mlp._linear
    lin = _stack(3, 4, 2, True, torch.float32)
    x = torch.randn(7, 5, 4)  # shared 3-D input: vmap's (N, 7, 5, 2)
    assert torch.equal(lin(x), lin._shared(lin.params, lin.buffers, x))


def test_linear_path_refuses_what_vmap_refuses():
    model = _stack(3, 4, 2, False, torch.float64)
    with pytest.raises(ValueError, match="x of shape"):
        model(torch.randn(5, 4, dtype=torch.float32))  # dtype
    with pytest.raises(ValueError, match="x of shape"):
        model(torch.randn(5, 3, dtype=torch.float64))  # features
    with pytest.raises(ValueError, match="leading run axis"):
        model(torch.randn(2, 5, 4, dtype=torch.float64), per_run_input=True)


@pytest.mark.parametrize("activation", ["relu", "tanh", "mish"])
def test_stacked_mlp_runs_equal_their_plain_copies(activation):
    """Run k of a StackedMLP computes what its layers do as nn.Linear modules; its
    initialization depends on its own generator only; replicated() copies run 0."""

    def gens(*seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    net = StackedMLP((3, 5, 2), gens(1, 2, 3), activation=activation, dtype=torch.float64)
    x = torch.randn(3, 4, 3, dtype=torch.float64)
    act = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "mish": nn.Mish()}[activation]
    for k in range(3):
        plain = nn.Sequential(nn.Linear(3, 5), act, nn.Linear(5, 2)).double()
        net.load_into(k, [plain[0], plain[2]])
        torch.testing.assert_close(net(x)[k], plain(x[k]), rtol=0, atol=1e-12)
        # nn.Linear's bound 1/sqrt(fan_in)
        assert plain[0].weight.abs().max() <= 3**-0.5
    other = StackedMLP((3, 5, 2), gens(9, 2, 7), activation=activation, dtype=torch.float64)
    torch.testing.assert_close(other.weights[0][1], net.weights[0][1], rtol=0, atol=0)
    rep = net.replicated(4)
    assert rep.runs == 4 and torch.equal(rep.weights[1][3], net.weights[1][0])
    assert not torch.equal(net.weights[1][1], net.weights[1][0])
    zero = StackedMLP((3, 2), gens(0), init="zeros")
    assert not zero.weights[0].any() and zero(torch.ones(1, 2, 3)).abs().max() == 0
