"""Bad-input cases of :func:`perturbation.sweeps.seed_interval` and ``mean_interval``."""

from __future__ import annotations

import numpy as np

from perturbation.sweeps import mean_interval, seed_interval
from tests._audit import Case, bad

EXEMPT: dict[str, str] = {}

_RNG = np.random.default_rng(0)

CASES: list[Case] = [
    bad(seed_interval, "x", "empty", [], _RNG),
    bad(seed_interval, "x", "nan", [1.0, np.nan], _RNG),
    bad(seed_interval, "rng", "type", [1.0, 2.0], 0),
    bad(seed_interval, "reps", "range", [1.0, 2.0], _RNG, reps=0),
    bad(seed_interval, "confidence", "range", [1.0, 2.0], _RNG, confidence=1.0),
    bad(mean_interval, "x", "empty", []),
    bad(mean_interval, "x", "nan", [1.0, np.nan]),
    bad(mean_interval, "x", "shape", [[1.0, 2.0]]),
    bad(mean_interval, "confidence", "range", [1.0, 2.0], confidence=0.0),
    bad(mean_interval, "method", "option", [1.0, 2.0], method="bootstrap"),
]
