"""Test-suite settings shared by every package's tests.

Hypothesis: no per-example deadline (timings on a loaded 2-core CI machine are not behaviour),
and under CI (``CI`` set) derandomized examples, so a landing never depends on a lucky draw.
Locally the examples stay random, to keep finding new counterexamples.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("local", deadline=None)
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "local")
