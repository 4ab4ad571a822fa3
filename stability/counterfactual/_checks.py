"""Input checks shared by the public functions of :mod:`stability.counterfactual` (private)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from theory.checks import ArgumentTypeError, as_float_array, check_choice, check_int, check_seed


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


def check_rng_seed(seed: object, n: int | None = None, name: str = "seed") -> Any:
    """``seed`` as the generators accept it: None, an integer in [0, 2**63), a numpy
    ``Generator`` or ``SeedSequence``, or (where ``n`` is given: one seed per row) a
    list/tuple/1-d array of ``n`` such integers. Returns ``seed`` unchanged."""
    if seed is None or isinstance(seed, np.random.Generator | np.random.SeedSequence):
        return seed
    per_row = isinstance(seed, list | tuple) or (isinstance(seed, np.ndarray) and seed.ndim == 1)
    if per_row:
        if n is None:
            raise ArgumentTypeError(
                f"{name} must be an integer, a numpy Generator or None; got {seed!r}"
            )
        if len(seed) != n:  # type: ignore[arg-type]
            got = len(seed)  # type: ignore[arg-type]
            raise ValueError(
                f"{name} given per row must have one entry per row of X ({n}); got {got}"
            )
        for i, s in enumerate(seed):  # type: ignore[arg-type]
            check_seed(s, f"{name}[{i}]")
        return seed
    if isinstance(seed, np.ndarray) and seed.ndim == 0 and seed.dtype.kind in "iu":
        seed = int(seed)
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        what = "an integer, a sequence of n integers" if n is not None else "an integer"
        raise ArgumentTypeError(f"{name} must be {what}, a numpy Generator or None; got {seed!r}")
    check_seed(seed, name)
    return seed


def check_norm(value: object, name: str = "norm") -> int:
    """The order of a norm: 1 or 2 (``True`` refused)."""
    return check_choice(name, check_int(name, value), (1, 2))


def model_input_dim(model: object) -> int | None:
    """The input dimension of a torch model whose first layer is ``nn.Linear`` (else None)."""
    from torch import nn

    first: object = model
    while isinstance(first, nn.Sequential) and len(first) > 0:
        first = first[0]
    return int(first.in_features) if isinstance(first, nn.Linear) else None


def check_model_dim(model: object, name: str, d: int) -> None:
    """Raise when ``model`` is a torch network whose first layer takes other than ``d`` inputs."""
    want = model_input_dim(getattr(model, "model", model))
    if want is not None and want != d:
        raise ValueError(f"{name} must have {want} columns (the model's inputs); got {d}")
