"""Input checks shared by the public functions of :mod:`theory` (private)."""

from __future__ import annotations

import math

import numpy as np


def as_float_array(name: str, value: object, *, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 array, or raise ``ValueError`` naming ``name``."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; got {type(value).__name__}") from exc
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} must be finite; entry {tuple(bad)} is {arr[tuple(bad)]}")
    return arr


def check_gamma(gamma: float) -> float:
    """Validate a discount factor in [0, 1)."""
    try:
        g = float(gamma)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"gamma must be a number in [0, 1); got {gamma!r}") from exc
    if not (0.0 <= g < 1.0):
        raise ValueError(f"gamma must lie in [0, 1); got {gamma!r}")
    return g


def check_positive(name: str, value: float) -> float:
    """Validate a finite, strictly positive scalar (a temperature, a tolerance)."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a positive number; got {value!r}") from exc
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be finite and > 0; got {value!r}")
    return v


def check_nonnegative(name: str, value: float) -> float:
    """Validate a finite scalar >= 0 (a distance, a gap)."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a non-negative number; got {value!r}") from exc
    if not (math.isfinite(v) and v >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0; got {value!r}")
    return v


def check_simplex(name: str, arr: np.ndarray, *, axis: int = -1, atol: float = 1e-9) -> None:
    """Raise unless every slice of ``arr`` along ``axis`` is a probability vector."""
    if np.any(arr < -atol):
        idx = tuple(np.argwhere(arr < -atol)[0])
        raise ValueError(f"{name} must be non-negative; entry {idx} is {arr[idx]}")
    sums = arr.sum(axis=axis)
    bad = np.abs(sums - 1.0) > atol
    if np.any(bad):
        idx = tuple(np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must sum to 1 along axis {axis}; the slice at {idx} sums to {sums[idx]!r}"
        )


def check_state(name: str, state: int, n_states: int) -> int:
    """Validate a state index."""
    if not isinstance(state, int | np.integer) or not (0 <= int(state) < n_states):
        raise ValueError(f"{name} must be an integer in [0, {n_states}); got {state!r}")
    return int(state)
