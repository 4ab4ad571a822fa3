"""Slope intervals of elementwise activations (the ``(alpha, beta)`` of LipSDP's Eq. (3)).

:func:`activation_slopes` maps a torch activation module to its name and slope interval, or
``None`` for a module that is not a known activation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["activation_slopes"]


def activation_slopes(
    module: Any, custom: Mapping[str, tuple[float, float]] | None = None
) -> tuple[str, tuple[float, float]] | None:
    """``(name, (alpha, beta))`` of a torch activation module, or ``None`` if unknown.

    ``custom`` maps further activation class names to validated slope intervals.
    """
    from stability.lipschitz.network import _module_slopes

    return _module_slopes(module, dict(custom or {}))
