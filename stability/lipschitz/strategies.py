"""Hypothesis strategies for small random networks (for property tests of the bounds)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = ["weight_lists"]


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
