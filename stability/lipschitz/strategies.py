"""Hypothesis strategies for small random networks (for property tests of the bounds)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = ["one_hidden_scalar", "weight_lists"]


@st.composite
def weight_lists(
    draw, *, max_depth: int = 3, max_width: int = 6, max_in: int = 3, positive: bool | None = None
):
    """A list ``[W_1, …, W_l]`` of Gaussian weights (``l`` in 1..max_depth), widths <= max_width."""
    depth = draw(st.integers(1, max_depth))
    dims = [draw(st.integers(1, max_in))] + [draw(st.integers(1, max_width)) for _ in range(depth)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((dims[k + 1], dims[k])) / np.sqrt(dims[k]) for k in range(depth)]
    pos = draw(st.booleans()) if positive is None else positive
    return [np.abs(w) for w in ws] if pos else ws


@st.composite
def one_hidden_scalar(draw, *, max_width: int = 12, max_in: int = 5, sparse: bool = True):
    """``[W (n_1 x n_0), w (1 x n_1)]``: one hidden layer, one output; with ``sparse``, some
    rows of ``W`` and entries of ``w`` may be zero (neurons that do not change ``f``)."""
    n0, n1 = draw(st.integers(1, max_in)), draw(st.integers(1, max_width))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w_in = rng.standard_normal((n1, n0)) * draw(st.sampled_from([0.1, 1.0, 10.0])) / np.sqrt(n0)
    w_out = rng.standard_normal((1, n1)) / np.sqrt(n1)
    if sparse and draw(st.booleans()):
        w_in[rng.random(n1) < 0.2] = 0.0
        w_out[:, rng.random(n1) < 0.2] = 0.0
    return [w_in, w_out]
