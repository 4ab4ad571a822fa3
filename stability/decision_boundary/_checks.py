"""Input checks shared by the public functions of :mod:`stability.decision_boundary` (private)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from stability._checks import choice, nonnegative, positive, positive_int  # noqa: F401 (re-exported)


def policy_dtype(policy: Callable) -> torch.dtype:
    """The floating dtype of the policy's parameters (float64 when it has none)."""
    if isinstance(policy, torch.nn.Module):
        for p in policy.parameters():
            if p.is_floating_point():
                return p.dtype
    return torch.float64


def check_policy(policy: object) -> Callable:
    if not callable(policy):
        raise ValueError(f"policy must be a callable torch module; got {type(policy).__name__}")
    return policy  # type: ignore[return-value]


def as_states(name: str, states: object, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``states`` as a finite ``(N, *shape)`` tensor of ``dtype`` (N >= 1, a state has >= 1 entry)."""
    if isinstance(states, torch.Tensor):
        t = states.detach().to(dtype)
    else:
        try:
            t = torch.as_tensor(np.asarray(states, dtype=np.float64), dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name} must be a numeric (N, *shape) array; got {type(states).__name__}"
            ) from exc
    if t.ndim < 2 or t.shape[0] == 0 or t[0].numel() == 0:
        raise ValueError(f"{name} must have shape (N, *shape) with N >= 1; got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite; got a NaN or inf entry")
    return t


def as_array(name: str, value: object, *, min_ndim: int = 1) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; got {type(value).__name__}") from exc
    if arr.ndim < min_ndim or arr.size == 0:
        raise ValueError(f"{name} must have >= {min_ndim} dimension(s); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got a NaN or inf entry")
    return arr


def q_values(policy: Callable, x: torch.Tensor) -> torch.Tensor:
    """``policy(x)`` checked to be ``(B, A)`` with ``A >= 2``."""
    q = policy(x)
    if not isinstance(q, torch.Tensor) or q.ndim != 2 or q.shape[0] != x.shape[0]:
        shape = tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__
        raise ValueError(f"policy must map (B, *shape) to (B, A) Q-values/logits; got {shape}")
    if q.shape[1] < 2:
        raise ValueError(f"policy must have at least 2 actions; got {q.shape[1]}")
    return q
