"""Hypothesis strategies for property-based tests of sweeps and their statistics.

Public, so that other packages' test suites can reuse them::

    from hypothesis import given
    from perturbation.sweeps.strategies import score_matrices

    @given(score_matrices(max_runs=6, max_tasks=3))
    def test_mine(scores): ...

The factories check their size and range arguments when called (before anything is drawn), so
a bad argument is refused with its name at the point of the call.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from theory.checks import check_int, check_positive_int, check_real

__all__ = ["grids_axes", "ragged_scores", "score_matrices"]


def _scores(*, low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _check_range(low: object, high: object) -> tuple[float, float]:
    lo = check_real("low", low)
    hi = check_real("high", high, lo=lo)
    return lo, hi


#: The axis names :func:`grids_axes` draws from (distinct names per grid).
_AXIS_NAMES = ("eps", "beta", "lr", "alg", "k")


def score_matrices(
    *,
    min_runs: int = 1,
    max_runs: int = 8,
    min_tasks: int = 1,
    max_tasks: int = 4,
    low: float = -10.0,
    high: float = 10.0,
) -> st.SearchStrategy[np.ndarray]:
    """A finite float64 ``(runs, tasks)`` score matrix (ties and repeated values included).

    Raises
    ------
    ValueError, TypeError
        A count that is not a positive integer, a maximum below its minimum, or a
        non-finite or empty ``[low, high]`` range.
    """
    min_runs = check_positive_int("min_runs", min_runs)
    max_runs = check_int("max_runs", max_runs, lo=min_runs)
    min_tasks = check_positive_int("min_tasks", min_tasks)
    max_tasks = check_int("max_tasks", max_tasks, lo=min_tasks)
    low, high = _check_range(low, high)
    return _score_matrices(
        min_runs=min_runs,
        max_runs=max_runs,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        low=low,
        high=high,
    )


@st.composite
def _score_matrices(
    draw: st.DrawFn,
    *,
    min_runs: int,
    max_runs: int,
    min_tasks: int,
    max_tasks: int,
    low: float,
    high: float,
) -> np.ndarray:
    n = draw(st.integers(min_runs, max_runs))
    t = draw(st.integers(min_tasks, max_tasks))
    values = draw(st.lists(_scores(low=low, high=high), min_size=n * t, max_size=n * t))
    return np.array(values, dtype=np.float64).reshape(n, t)


def ragged_scores(
    *,
    max_runs: int = 6,
    max_tasks: int = 4,
    low: float = -10.0,
    high: float = 10.0,
) -> st.SearchStrategy[dict[str, np.ndarray]]:
    """A mapping task -> 1-D scores, tasks with different numbers of runs (each >= 1).

    Raises
    ------
    ValueError, TypeError
        A count that is not a positive integer, or a non-finite or empty ``[low, high]``.
    """
    max_runs = check_positive_int("max_runs", max_runs)
    max_tasks = check_positive_int("max_tasks", max_tasks)
    low, high = _check_range(low, high)
    return _ragged_scores(max_runs=max_runs, max_tasks=max_tasks, low=low, high=high)


@st.composite
def _ragged_scores(
    draw: st.DrawFn, *, max_runs: int, max_tasks: int, low: float, high: float
) -> dict[str, np.ndarray]:
    t = draw(st.integers(1, max_tasks))
    out = {}
    for k in range(t):
        n = draw(st.integers(1, max_runs))
        out[f"task{k}"] = np.array(
            draw(st.lists(_scores(low=low, high=high), min_size=n, max_size=n))
        )
    return out


def grids_axes(*, max_axes: int = 3, max_values: int = 3) -> st.SearchStrategy[dict[str, list]]:
    """Axes for :class:`~perturbation.sweeps.Grid`: names -> distinct JSON-scalar values.

    ``max_axes`` is at most 5 (the number of distinct axis names drawn from).

    Raises
    ------
    ValueError, TypeError
        ``max_axes`` not an integer in ``[0, 5]`` or ``max_values`` not a positive integer.
    """
    max_axes = check_int("max_axes", max_axes, lo=0, hi=len(_AXIS_NAMES))
    max_values = check_positive_int("max_values", max_values)
    return _grids_axes(max_axes=max_axes, max_values=max_values)


@st.composite
def _grids_axes(draw: st.DrawFn, *, max_axes: int, max_values: int) -> dict[str, list]:
    n_axes = draw(st.integers(0, max_axes))
    names = draw(
        st.lists(
            st.sampled_from(_AXIS_NAMES),
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
