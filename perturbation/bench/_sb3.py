"""Stable-Baselines3 as a benchmark baseline: whether it is installed, and a timed ``learn``."""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np


def sb3_available(area: str, row: str) -> bool:
    """Whether ``stable_baselines3`` imports; if not, say on stderr that ``row`` is skipped."""
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        print(
            f"stability bench {area}: stable_baselines3 is not installed (pip install "
            f"'policy-stability[bench]'); the {row} row is skipped",
            file=sys.stderr,
        )
        return False
    return True


def timed_learn(model: Any, total: int, last: int) -> tuple[float, float]:
    """Seconds of ``model.learn(total)`` and the mean return of its last ``last`` episodes
    (NaN when no episode finished)."""
    start = time.perf_counter()
    model.learn(total_timesteps=total)
    seconds = time.perf_counter() - start
    returns = [ep["r"] for ep in model.ep_info_buffer][-last:]
    return seconds, float(np.mean(returns)) if returns else float("nan")
