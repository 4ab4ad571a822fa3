"""Input checks shared by the public functions of :mod:`stability.counterfactual` (private)."""

from __future__ import annotations

import numpy as np

from theory.checks import as_float_array


def as_queries(
    name: str,
    X: object,
    d: int | None = None,
    *,
    allow_nan: bool = False,
    allow_empty: bool = False,
) -> np.ndarray:
    """``X`` as a float64 ``(n, d)`` array (n >= 1 unless ``allow_empty``), finite unless
    ``allow_nan`` (whole NaN rows only: a generator's "not found" rows). A pandas DataFrame is
    accepted (its values are used)."""
    arr = as_float_array(name, X, allow_empty=True, finite=False)
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, d) with d >= 1; got shape {arr.shape}")
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} must hold at least one row; got shape {arr.shape}")
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name} must have {d} columns; got shape {arr.shape}")
    finite = np.isfinite(arr)
    if allow_nan:
        bad = ~finite & ~np.isnan(arr)
        partial = np.isnan(arr).any(axis=1) & ~np.isnan(arr).all(axis=1)
        if bad.any() or partial.any():
            raise ValueError(f"{name} may hold whole NaN rows only; got inf or a partial NaN row")
    elif not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise ValueError(f"{name} must be finite; entry ({i}, {j}) is {arr[i, j]}")
    return arr


def box_arrays(box: object, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``box`` = None or (lo, hi) with scalars or (d,) arrays, lo <= hi."""
    if box is None:
        return None
    try:
        lo, hi = box  # type: ignore[misc]
        lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (d,)).copy()
        hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (d,)).copy()
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"box must be None or (lo, hi) with scalars or ({d},) arrays; got {box!r}"
        ) from exc
    if np.isnan(lo).any() or np.isnan(hi).any() or np.any(lo > hi):
        raise ValueError(f"box must satisfy lo <= hi everywhere; got lo={lo}, hi={hi}")
    return lo, hi
