"""The slope table: every interval contains every chord slope (dense grids, hypothesis) and is
tight to the rounding; modules map to names that evaluate like torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from stability.lipschitz import as_network, lipschitz_bound
from stability.lipschitz.activations import (
    ACTIVATION_SLOPES,
    activation_range,
    activation_slopes,
    evaluate_activation,
    monotone,
    slopes_of_name,
)

torch.set_num_threads(1)

#: Module -> the name it maps to.
MODULES = [
    (nn.ReLU(), "relu"),
    (nn.ReLU6(), "relu6"),
    (nn.LeakyReLU(0.2), "leaky_relu:0.2"),
    (nn.LeakyReLU(-0.5), "leaky_relu:-0.5"),
    (nn.LeakyReLU(3.0), "leaky_relu:3.0"),
    (nn.Tanh(), "tanh"),
    (nn.Sigmoid(), "sigmoid"),
    (nn.Softplus(), "softplus"),
    (nn.Softplus(beta=2.5), "softplus:2.5"),
    (nn.Softsign(), "softsign"),
    (nn.ELU(), "elu:1.0"),
    (nn.ELU(0.3), "elu:0.3"),
    (nn.ELU(2.0), "elu:2.0"),
    (nn.ELU(-0.5), "elu:-0.5"),
    (nn.CELU(0.7), "celu:0.7"),
    (nn.SELU(), "selu"),
    (nn.GELU(), "gelu"),
    (nn.GELU(approximate="tanh"), "gelu_tanh"),
    (nn.SiLU(), "silu"),
    (nn.Mish(), "mish"),
    (nn.Hardtanh(-2.0, 0.5), "hardtanh:-2.0:0.5"),
    (nn.Hardswish(), "hardswish"),
    (nn.Hardsigmoid(), "hardsigmoid"),
    (nn.Identity(), "identity"),
]

GRID = np.linspace(-12.0, 12.0, 240_001)  # step 1e-4


def _torch_eval(mod: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return mod.double()(torch.as_tensor(x)).numpy()


#: Activations whose derivative approaches its infimum only at infinity, slowly (softsign:
#: ``1/(1+|x|)²`` is still 0.006 at ``|x| = 12``).
ASYMPTOTIC = {"softsign"}


@pytest.mark.parametrize(("mod", "name"), MODULES, ids=[n for _, n in MODULES])
def test_module_name_slopes_and_dense_grid(mod, name):
    """Chord slopes of neighbouring grid points (``1e-4`` apart, float64) lie in the interval
    and reach it to within the rounding (4 decimals) plus the grid's resolution; the name
    evaluates like torch's module (to ``1e-8``: torch's Softplus switches to ``x`` above its
    threshold, a jump of at most ``2.1e-9/β``)."""
    got_name, (a, b) = activation_slopes(mod)
    assert got_name == name
    y = evaluate_activation(name, GRID)
    s = np.diff(y) / np.diff(GRID)
    assert a - 1e-9 <= s.min() and s.max() <= b + 1e-9
    assert s.max() >= b - 2e-3  # tight (not just valid)
    assert name in ASYMPTOTIC or s.min() <= a + 2e-3
    assert np.allclose(_torch_eval(mod, GRID), y, rtol=1e-12, atol=1e-8)
    t = evaluate_activation(name, torch.as_tensor(GRID))
    assert np.allclose(t.numpy(), y, rtol=1e-12, atol=1e-8)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(set(ACTIVATION_SLOPES) - {"linear"})),
    a=st.floats(-30.0, 30.0),
    d=st.floats(1e-6, 20.0),
)
def test_every_chord_slope_is_in_the_interval(name, a, d):
    """Any pair ``(a, a + d)``: ``α <= (φ(a+d) - φ(a))/d <= β`` (float64 rounding: ``1e-9``
    relative to the values over ``d``)."""
    lo, hi = slopes_of_name(name)
    y = evaluate_activation(name, np.array([a, a + d]))
    s = (y[1] - y[0]) / d
    tol = 1e-9 + 4e-16 * (abs(y[0]) + abs(y[1])) / d
    assert lo - tol <= s <= hi + tol


def test_derived_extremes():
    """The docstring's closed forms: GELU's ``φ'(±√2)``, and the symmetry ``φ'(-x) = 1 - φ'(x)``
    of GELU, its tanh approximation and SiLU (their intervals are symmetric about 1/2)."""
    from scipy.stats import norm

    top = norm.cdf(math.sqrt(2)) + math.sqrt(2) * norm.pdf(math.sqrt(2))
    assert top == pytest.approx(1.1289041451851548, abs=1e-15)
    lo, hi = ACTIVATION_SLOPES["gelu"]
    assert lo <= 1 - top < lo + 1e-4 and hi - 1e-4 < top <= hi
    for n in ("gelu", "gelu_tanh", "silu"):
        lo, hi = ACTIVATION_SLOPES[n]
        assert lo + hi == pytest.approx(1.0)


def test_parametrised_names():
    assert slopes_of_name("elu:-0.5") == (-0.5, 1.0)
    assert slopes_of_name("elu:3") == (0.0, 3.0)
    assert slopes_of_name("hardtanh:0:6") == (0.0, 1.0)
    assert slopes_of_name("softplus:2") == (0.0, 1.0)
    with pytest.raises(ValueError, match="min < max"):
        slopes_of_name("hardtanh:1:1")
    with pytest.raises(ValueError, match="> 0"):
        slopes_of_name("celu:0")
    with pytest.raises(ValueError, match="finite"):
        slopes_of_name("elu:inf")
    assert monotone("elu:0.5") and not monotone("elu:-0.5") and not monotone("silu")


def test_prelu_dropout_and_custom():
    assert activation_slopes(nn.PReLU(init=0.3))[0].startswith("leaky_relu:0.3")
    name, (a, b) = activation_slopes(nn.PReLU(3, init=-0.2))
    assert name == "custom" and a == pytest.approx(-0.2) and b == 1.0
    assert activation_slopes(nn.Dropout(0.5).eval()) == ("identity", (1.0, 1.0))
    with pytest.raises(ValueError, match=r"\.eval\(\)"):
        activation_slopes(nn.Dropout(0.5))
    assert activation_slopes(nn.GELU(), {"GELU": (-0.2, 1.2)}) == ("custom", (-0.2, 1.2))
    with pytest.raises(ValueError, match="slopes"):
        activation_slopes(nn.GELU(), {"GELU": (1.2, -0.2)})
    assert activation_slopes(nn.Linear(2, 2)) is None


@pytest.mark.parametrize("act", [nn.GELU(), nn.SiLU(), nn.ELU(0.5), nn.Mish()])
def test_builtin_slopes_give_certified_bounds_above_sampled_ratios(act):
    """Typed-in slopes are no longer needed: the bound holds against sampled pair ratios."""
    torch.manual_seed(1)
    seq = nn.Sequential(nn.Linear(3, 6), act, nn.Linear(6, 2)).double()
    net = as_network(seq)
    x = torch.randn(2000, 3, dtype=torch.float64)
    y = x + 1e-3 * torch.randn(2000, 3, dtype=torch.float64)
    with torch.no_grad():
        ratio = float(((seq(x) - seq(y)).norm(dim=1) / (x - y).norm(dim=1)).max())
        assert np.allclose(net.forward(x.numpy()), seq(x).numpy(), atol=1e-12)
    for m in ("naive", "lipsdp-neuron"):
        r = lipschitz_bound(seq, m)
        assert r.certified and ratio <= r.value


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(
        [*sorted(set(ACTIVATION_SLOPES) - {"linear"}), "leaky_relu:-0.5", "elu:-0.7", "elu:2.0"]
    ),
    lo=st.floats(-8.0, 8.0),
    width=st.floats(0.0, 8.0),
)
def test_activation_range_contains_every_value(name, lo, width):
    """Interval propagation: ``φ`` on a grid of ``[lo, hi]`` stays in the range, whose ends are
    attained to the grid's resolution."""
    hi = lo + width
    r_lo, r_hi = activation_range(name, np.array([lo]), np.array([hi]))
    y = evaluate_activation(name, np.linspace(lo, hi, 2001))
    assert r_lo[0] <= y.min() and y.max() <= r_hi[0]
    step = max(width, 1e-12) / 2000 * 1.6  # |φ'| <= 1.6 on every table entry here
    assert y.min() - r_lo[0] <= step + 1e-9 and r_hi[0] - y.max() <= 2e-12 * (1 + abs(y.max()))
