"""Claims 13 (Fourier bookkeeping) and 14 (oscillation metric), and the overlap measure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stability.decision_boundary import bootstrap_interval, fourier_spread, oscillation, top_overlap


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.integers(2, 12), st.integers(0, 2**31))
def test_parseval_and_range(H, W, seed):  # decision-boundary/fourier-parseval
    G = np.random.default_rng(seed).standard_normal((H, W))
    G /= np.linalg.norm(G)
    f = fourier_spread(G)
    P = np.abs(np.fft.fft2(G)) ** 2
    assert abs(P.sum() / (H * W) - 1) < 1e-12 and f.parseval_error < 1e-12
    for v in (f.entropy, f.high_share, f.dc_share):
        assert 0 <= v <= 1


def test_constant_and_checkerboard():  # decision-boundary/fourier-parseval
    c = fourier_spread(np.ones((8, 8)))
    assert c.dc_share == pytest.approx(1.0) and c.entropy == pytest.approx(0.0, abs=1e-12)
    board = (-1.0) ** np.add.outer(np.arange(8), np.arange(8))
    f = fourier_spread(board)
    P = np.abs(np.fft.fft2(board)) ** 2
    assert P[4, 4] / P.sum() == pytest.approx(1.0) and f.high_share == pytest.approx(1.0)
    flat = np.zeros((8, 8))
    flat[0, 0] = 1.0  # a delta has a flat spectrum
    assert fourier_spread(flat).entropy == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.floats(1e-3, 1e3))
def test_cv_is_scale_invariant(seed, c):  # decision-boundary/oscillation-cv
    x = np.random.default_rng(seed).exponential(1.0, 30)
    a, b = oscillation(x), oscillation(c * x)
    assert abs(a.cv - b.cv) < 1e-12 and abs(a.mean_step - b.mean_step) < 1e-12


def test_overlap():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((6, 6))
    assert top_overlap(G, G, 0.1) == 1.0
    assert top_overlap(G, -2 * G, 0.1) == 1.0
    A, B = np.zeros(10), np.zeros(10)
    A[:2], B[5:7] = 1.0, 1.0
    assert top_overlap(A, B, 0.2) == 0.0


def test_bootstrap_interval_contains_point():
    p, lo, hi = bootstrap_interval(np.arange(20.0), n_boot=200)
    assert lo <= p <= hi


def test_bad_inputs():
    with pytest.raises(ValueError, match="norms"):
        oscillation([1.0])
    with pytest.raises(ValueError, match="norms"):
        oscillation([0.0, 0.0])
    with pytest.raises(ValueError, match="G"):
        fourier_spread(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="low"):
        fourier_spread(np.ones((3, 3)), low=0)
    with pytest.raises(ValueError, match="q"):
        top_overlap(np.ones(4), np.ones(4), q=2)
    with pytest.raises(ValueError, match="same size"):
        top_overlap(np.ones(4), np.ones(5))
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval(np.ones(3), level=1.5)
