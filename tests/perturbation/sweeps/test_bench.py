"""The sweeps benchmark runs at the tiny scale and its engines agree on the values."""

from __future__ import annotations

import re

from perturbation.bench import run_benchmark


def test_sweeps_benchmark_tiny():
    rows = run_benchmark("sweeps", repeats=1, scale="tiny")
    names = [r.name for r in rows]
    assert names[:4] == [
        "sweep, in-process",
        "sweep, in-process + JSON per run",
        "sweep, in-process batched",
        "sweep, joblib (loky, 2 processes)",
    ]
    for r in rows:
        assert r.seconds > 0 and r.baseline_seconds > 0 and r.size.startswith("64 runs")
        err = float(re.search(r"max \|Δ\| = (\S+?)(;|$)", r.check).group(1))
        assert err < 1e-9, r.check
