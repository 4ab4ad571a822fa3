"""Hypothesis strategies for small random networks (for property tests of the bounds).

Each factory checks its size parameters when called (before anything is drawn), so a bad
argument raises a ``ValueError``/``TypeError`` naming it at once.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from theory.checks import ArgumentTypeError, check_positive_int

__all__ = ["one_hidden_scalar", "weight_lists"]


def _check_bool(name: str, value: object, *, optional: bool = False) -> bool | None:
    if optional and value is None:
        return None
    if not isinstance(value, bool | np.bool_):
        raise ArgumentTypeError(
            f"{name} must be a bool{' or None' if optional else ''}; got {value!r}"
        )
    return bool(value)


def weight_lists(
    *, max_depth: int = 3, max_width: int = 6, max_in: int = 3, positive: bool | None = None
) -> st.SearchStrategy[list[np.ndarray]]:
    """A list ``[W_1, …, W_l]`` of Gaussian weights (``l`` in 1..max_depth), widths <= max_width.

    ``max_depth``, ``max_width`` and ``max_in`` are positive integers; ``positive`` (all weights
    ``>= 0``) is a bool, or ``None`` to draw it.
    """
    return _weight_lists(
        max_depth=check_positive_int("max_depth", max_depth),
        max_width=check_positive_int("max_width", max_width),
        max_in=check_positive_int("max_in", max_in),
        positive=_check_bool("positive", positive, optional=True),
    )


@st.composite
def _weight_lists(
    draw: st.DrawFn, *, max_depth: int, max_width: int, max_in: int, positive: bool | None
) -> list[np.ndarray]:
    depth = draw(st.integers(1, max_depth))
    dims = [draw(st.integers(1, max_in))] + [draw(st.integers(1, max_width)) for _ in range(depth)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((dims[k + 1], dims[k])) / np.sqrt(dims[k]) for k in range(depth)]
    pos = draw(st.booleans()) if positive is None else positive
    return [np.abs(w) for w in ws] if pos else ws


def one_hidden_scalar(
    *, max_width: int = 12, max_in: int = 5, sparse: bool = True
) -> st.SearchStrategy[list[np.ndarray]]:
    """``[W (n_1 x n_0), w (1 x n_1)]``: one hidden layer, one output; with ``sparse``, some
    rows of ``W`` and entries of ``w`` may be zero (neurons that do not change ``f``).

    ``max_width`` and ``max_in`` are positive integers, ``sparse`` a bool.
    """
    return _one_hidden_scalar(
        max_width=check_positive_int("max_width", max_width),
        max_in=check_positive_int("max_in", max_in),
        sparse=_check_bool("sparse", sparse),
    )


@st.composite
def _one_hidden_scalar(
    draw: st.DrawFn, *, max_width: int, max_in: int, sparse: bool
) -> list[np.ndarray]:
    n0, n1 = draw(st.integers(1, max_in)), draw(st.integers(1, max_width))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w_in = rng.standard_normal((n1, n0)) * draw(st.sampled_from([0.1, 1.0, 10.0])) / np.sqrt(n0)
    w_out = rng.standard_normal((1, n1)) / np.sqrt(n1)
    if sparse and draw(st.booleans()):
        w_in[rng.random(n1) < 0.2] = 0.0
        w_out[:, rng.random(n1) < 0.2] = 0.0
    return [w_in, w_out]
