"""State boxes ``(lo, hi)``: the validated input of the local and lower bounds."""

from __future__ import annotations

from typing import Any

import numpy as np

from theory.checks import ArgumentTypeError, as_float_array, check_positive_int

__all__ = ["check_box"]


def check_box(box: Any, n0: int, name: str = "box") -> tuple[np.ndarray, np.ndarray]:
    """``box = (lo, hi)``: two finite vectors of shape ``(n0,)`` with ``lo <= hi``.

    Raises
    ------
    ValueError
        Naming ``name``: wrong shape, non-finite entries, ``lo > hi`` somewhere, or
        ``n0`` not a positive integer (then naming ``n0``).
    TypeError
        Naming ``name``: not a pair of numeric vectors.
    """
    n0 = check_positive_int("n0", n0)
    if isinstance(box, str | bytes) or not hasattr(box, "__len__") or len(box) != 2:
        raise ArgumentTypeError(f"{name} must be a pair (lo, hi) of vectors; got {box!r}")
    lo = as_float_array(f"{name}: lo", box[0]).reshape(-1)
    hi = as_float_array(f"{name}: hi", box[1]).reshape(-1)
    if lo.shape != (n0,) or hi.shape != (n0,):
        raise ValueError(
            f"{name}: lo and hi must have shape ({n0},); got {lo.shape} and {hi.shape}"
        )
    if np.any(lo > hi):
        i = int(np.argmax(lo > hi))
        raise ValueError(f"{name}: need lo <= hi; got lo[{i}] = {lo[i]} > hi[{i}] = {hi[i]}")
    return lo, hi
