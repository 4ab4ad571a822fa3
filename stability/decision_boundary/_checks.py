"""Domain-specific input converters of :mod:`stability.decision_boundary` (private).

Generic checks live in :mod:`theory.checks`; the converters here build on them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from theory.checks import ArgumentTypeError, as_float_array, check_real

#: ``clip`` of the attacks: ``None`` or a box ``(lo, hi)`` with ``lo < hi``.
Box = tuple[float, float] | None


def check_box(name: str, value: object) -> Box:
    """``None`` or a pair ``(lo, hi)`` of finite numbers with ``lo < hi``."""
    if value is None:
        return None
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != 2:
        raise ArgumentTypeError(f"{name} must be None or a pair (lo, hi); got {value!r}")
    lo = check_real(f"{name}[0]", value[0])
    hi = check_real(f"{name}[1]", value[1])
    if not lo < hi:
        raise ValueError(f"{name} must be (lo, hi) with lo < hi; got {value!r}")
    return lo, hi


def policy_dtype(policy: Callable) -> torch.dtype:
    """The floating dtype of the policy's parameters (float64 when it has none)."""
    if isinstance(policy, torch.nn.Module):
        for p in policy.parameters():
            if p.is_floating_point():
                return p.dtype
    return torch.float64


def check_policy(policy: object) -> Callable:
    """``policy`` if it is callable (a torch module mapping states to Q-values/logits)."""
    if not callable(policy):
        raise ArgumentTypeError(
            f"policy must be a callable torch module; got {type(policy).__name__}"
        )
    return policy  # type: ignore[return-value]


def as_batch(name: str, value: object, *, min_ndim: int = 2) -> np.ndarray:
    """``value`` as a finite, non-empty float64 array with at least ``min_ndim`` dimensions."""
    arr = as_float_array(name, value)
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have >= {min_ndim} dimension(s); got shape {arr.shape}")
    return arr


def as_states(name: str, states: object, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``states`` as a finite ``(N, *shape)`` tensor of ``dtype`` (N >= 1, a state has >= 1 entry)."""
    if isinstance(states, torch.Tensor):
        t = states.detach().to(dtype)
    else:
        arr = as_float_array(name, states, allow_empty=True, finite=False)
        t = torch.as_tensor(arr, dtype=dtype)
    if t.ndim < 2 or t.shape[0] == 0 or t[0].numel() == 0:
        raise ValueError(f"{name} must have shape (N, *shape) with N >= 1; got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite; got a NaN or inf entry")
    return t


def q_values(policy: Callable, x: torch.Tensor) -> torch.Tensor:
    """``policy(x)`` checked to be ``(B, A)`` with ``A >= 2``.

    A policy whose input layer does not accept the states' shape is reported as a mismatch of
    ``states`` with ``policy`` instead of torch's internal shape error.
    """
    try:
        q = policy(x)
    except RuntimeError as exc:
        raise ValueError(
            f"states of shape {tuple(x.shape[1:])} do not fit the policy's input: {exc}"
        ) from exc
    if not isinstance(q, torch.Tensor) or q.ndim != 2 or q.shape[0] != x.shape[0]:
        shape = tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__
        raise ValueError(f"policy must map (B, *shape) to (B, A) Q-values/logits; got {shape}")
    if q.shape[1] < 2:
        raise ValueError(f"policy must have at least 2 actions; got {q.shape[1]}")
    if not torch.isfinite(q.detach()).all():
        raise ValueError("policy returned a NaN or infinite Q-value/logit on the given states")
    return q
