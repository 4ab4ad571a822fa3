"""Spectral norms of convolutions: the circular-embedding FFT bound (Sedghi, Gupta, Long,
ICLR 2019, Theorem 6) with the polyphase decomposition for strides, checked against the exact
norm of the materialised matrix and the power-iteration lower bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from stability.lipschitz.conv import _conv_spec, _dense, conv_operator_norm


@st.composite
def small_convs(draw):
    """A random small Conv1d/Conv2d with its input shape (stride, padding, dilation, groups)."""
    dim = draw(st.sampled_from([1, 2]))
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 3))
    k = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 2))
    mode = draw(st.sampled_from(["zeros", "zeros", "circular"]))
    pad = draw(st.sampled_from(["int", "same", "valid"])) if stride == 1 else "int"
    padding = draw(st.integers(0, 2)) if pad == "int" else pad
    span = dilation * (k - 1) + 1
    n = draw(st.integers(max(span, 3), 9 if dim == 2 else 14))
    conv_cls = nn.Conv1d if dim == 1 else nn.Conv2d
    torch.manual_seed(draw(st.integers(0, 1000)))
    conv = conv_cls(c_in, c_out, k, stride, padding, dilation, groups, padding_mode=mode)
    return conv, (c_in, *([n] * dim))


def _exact(conv, shape) -> float:
    spec = _conv_spec(conv)
    return float(np.linalg.norm(_dense(spec.forward, shape), 2))


@settings(max_examples=25, deadline=None)
@given(small_convs())
def test_fft_upper_dense_exact_and_lower_bracket(case):
    conv, shape = case
    exact = _exact(conv, shape)
    fft = conv_operator_norm(conv, shape, method="fft", n_iter=60)
    dense = conv_operator_norm(conv, shape, method="dense", n_iter=60)
    assert fft.method == "fft" and dense.method == "dense"
    assert fft.upper >= exact * (1 - 1e-12)
    assert dense.upper == pytest.approx(exact, rel=1e-8) and dense.upper >= exact
    assert 0 <= fft.lower <= exact * (1 + 1e-12)
    assert math.isfinite(fft.upper) and fft.summary().startswith("||A|| in")


def test_forward_is_the_layer_and_adjoint_is_its_transpose():
    """The spec reproduces the module (bias removed) and ``<A x, y> = <x, A^T y>``."""
    torch.manual_seed(0)
    layers = [
        (nn.Conv2d(2, 3, 3, stride=2, padding=1, dilation=2), (2, 9, 8)),
        (nn.Conv2d(2, 3, 4, padding="same"), (2, 7, 7)),
        (nn.Conv2d(4, 6, 3, padding=2, groups=2, padding_mode="circular"), (4, 6, 7)),
        (nn.Conv1d(2, 3, 3, stride=3, padding=2), (2, 11)),
    ]
    for conv, shape in layers:
        conv = conv.double()
        spec = _conv_spec(conv)
        x = torch.randn(3, *shape, dtype=torch.float64)
        with torch.no_grad():
            ref = conv(x) - conv.bias.reshape(1, -1, *([1] * (len(shape) - 1)))
        y = spec.forward(x)
        assert torch.allclose(y, ref, atol=1e-12)
        z = torch.randn_like(y)
        lhs, rhs = float((y * z).sum()), float((x * spec.adjoint(z, shape[1:])).sum())
        assert lhs == pytest.approx(rhs, rel=1e-12)


def test_upper_is_within_a_few_percent_on_typical_layers():
    """The embedding's slack is a boundary effect: small on images of typical size."""
    torch.manual_seed(1)
    cases = [
        (nn.Conv2d(3, 8, 3, padding=1), (3, 12, 12), 1.04),
        (nn.Conv2d(4, 8, 8, stride=4), (4, 24, 24), 1.03),  # Atari-like stride 4
        (nn.Conv2d(8, 8, 4, stride=2), (8, 10, 10), 1.05),
    ]
    for conv, shape, tol in cases:
        exact = _exact(conv, shape)
        r = conv_operator_norm(conv, shape, method="fft", n_iter=5)
        assert exact <= r.upper <= tol * exact, (conv, r.upper / exact)


def test_circular_same_padding_is_exact():
    """With circular padding and n_out = n the layer is the circular convolution itself."""
    torch.manual_seed(2)
    for conv, shape in [
        (nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"), (3, 6, 5)),
        (nn.Conv1d(2, 3, 5, padding=4, dilation=2, padding_mode="circular"), (2, 12)),
    ]:
        exact = _exact(conv, shape)
        r = conv_operator_norm(conv, shape, method="fft")
        assert r.upper == pytest.approx(exact, rel=1e-8) and r.upper >= exact
        assert r.details["multiplicity"] == 1


def test_hand_computed_symbol():
    """Kernel [1, -1], padding 1, n = 10: the zero-padded difference matrix (11 x 10) has
    norm 2 cos(π / 22); it embeds in the circulants on 12 and 13 points, with symbol norms
    max |1 - e^{2πij/N}| = 2 (N = 12) and 2 sin(6π/13) = 2 cos(π/26) (N = 13): the smaller."""
    conv = nn.Conv1d(1, 1, 2, bias=False, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[1.0, -1.0]]]))
    n = 10
    r = conv_operator_norm(conv, (1, n), method="fft")
    assert r.upper == pytest.approx(2 * math.cos(math.pi / 26), rel=1e-8)
    assert r.details["grid"] == (13,)
    exact = conv_operator_norm(conv, (1, n), method="dense").upper
    assert exact == pytest.approx(2 * math.cos(math.pi / (2 * (n + 1))), rel=1e-8)


def test_auto_picks_dense_when_small_and_fft_otherwise():
    conv = nn.Conv2d(2, 2, 3)
    assert conv_operator_norm(conv, (2, 6, 6)).method == "dense"
    assert conv_operator_norm(conv, (2, 6, 6), max_dense=10).method == "fft"
