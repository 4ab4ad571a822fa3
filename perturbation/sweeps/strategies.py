"""Hypothesis strategies for property-based tests of sweeps and their statistics.

Public, so that other packages' test suites can reuse them::

    from hypothesis import given
    from perturbation.sweeps.strategies import score_matrices

    @given(score_matrices(max_runs=6, max_tasks=3))
    def test_mine(scores): ...
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = ["grids_axes", "ragged_scores", "score_matrices"]


def _scores(*, low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def score_matrices(
    draw: st.DrawFn,
    *,
    min_runs: int = 1,
    max_runs: int = 8,
    min_tasks: int = 1,
    max_tasks: int = 4,
    low: float = -10.0,
    high: float = 10.0,
) -> np.ndarray:
    """A finite float64 ``(runs, tasks)`` score matrix (ties and repeated values included)."""
    n = draw(st.integers(min_runs, max_runs))
    t = draw(st.integers(min_tasks, max_tasks))
    values = draw(st.lists(_scores(low=low, high=high), min_size=n * t, max_size=n * t))
    return np.array(values, dtype=np.float64).reshape(n, t)


@st.composite
def ragged_scores(
    draw: st.DrawFn,
    *,
    max_runs: int = 6,
    max_tasks: int = 4,
    low: float = -10.0,
    high: float = 10.0,
) -> dict[str, np.ndarray]:
    """A mapping task -> 1-D scores, tasks with different numbers of runs (each >= 1)."""
    t = draw(st.integers(1, max_tasks))
    out = {}
    for k in range(t):
        n = draw(st.integers(1, max_runs))
        out[f"task{k}"] = np.array(
            draw(st.lists(_scores(low=low, high=high), min_size=n, max_size=n))
        )
    return out


@st.composite
def grids_axes(draw: st.DrawFn, *, max_axes: int = 3, max_values: int = 3) -> dict[str, list]:
    """Axes for :class:`~perturbation.sweeps.Grid`: names -> distinct JSON-scalar values."""
    n_axes = draw(st.integers(0, max_axes))
    names = draw(
        st.lists(
            st.sampled_from(["eps", "beta", "lr", "alg", "k"]),
            min_size=n_axes,
            max_size=n_axes,
            unique=True,
        )
    )
    values = st.one_of(
        st.integers(-5, 5),
        _scores(low=-1.0, high=1.0),
        st.sampled_from(["a", "b", "c"]),
        st.booleans(),
    )
    return {
        name: draw(st.lists(values, min_size=1, max_size=max_values, unique_by=repr))
        for name in names
    }
