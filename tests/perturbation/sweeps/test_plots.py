"""Plots of interval estimates and performance profiles (files written, bad input rejected)."""

from __future__ import annotations

import numpy as np
import pytest

from perturbation.sweeps import Grid, performance_profile, plot_intervals, plot_profiles, sweep


def test_plots_are_written(tmp_path):
    res = sweep(
        Grid({"beta": [0.1, 1.0], "eps": [0.0, 0.1]}, seeds=4),
        lambda c, s: {"tv": c["eps"] / (2 * c["beta"]) + 0.01 * s},
        engine="inprocess",
        progress=False,
    )
    aggs = res.aggregate("tv", by=["beta"], reps=200)
    p = plot_intervals(aggs, tmp_path / "iqm.png")
    assert p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG"
    rng = np.random.default_rng(0)
    profiles = {
        "a": performance_profile(rng.normal(size=(5, 3)), np.linspace(-2, 2, 9), reps=100),
        "b": performance_profile(rng.normal(1, size=(5, 3)), np.linspace(-2, 2, 9), reps=100),
    }
    q = plot_profiles(profiles, tmp_path / "profiles.png")
    assert q.stat().st_size > 1000


def test_empty_plots_raise(tmp_path):
    with pytest.raises(ValueError, match="aggregates is empty"):
        plot_intervals([], tmp_path / "a.png")
    with pytest.raises(ValueError, match="profiles is empty"):
        plot_profiles({}, tmp_path / "b.png")
