"""Plots of sweep aggregates (matplotlib's object API: no pyplot state, no display needed).

- :func:`plot_intervals`: point estimates with their confidence intervals, one row per group
  (rliable's ``plot_interval_estimates``);
- :func:`plot_profiles`: performance profiles with pointwise interval bands (rliable's
  ``plot_performance_profiles``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from perturbation.sweeps.stats import Profile
from perturbation.sweeps.sweep import Aggregate
from theory.checks import ArgumentTypeError, check_path

__all__ = ["plot_intervals", "plot_profiles"]


def plot_intervals(
    aggregates: Sequence[Aggregate], path: str | Path, *, title: str | None = None
) -> Path:
    """Save horizontal interval bars (lower..upper) with the point estimate, one row per group.

    Raises
    ------
    ValueError
        If ``aggregates`` is empty.
    TypeError
        If ``aggregates`` does not hold :class:`~perturbation.sweeps.Aggregate` objects, or
        ``path`` is not a path.
    """
    if isinstance(aggregates, str | bytes) or not isinstance(aggregates, Sequence):
        raise ArgumentTypeError(
            f"aggregates must be a sequence of Aggregate; got {type(aggregates).__name__}"
        )
    if not aggregates:
        raise ValueError("aggregates is empty: nothing to plot")
    wrong = [a for a in aggregates if not isinstance(a, Aggregate)]
    if wrong:
        raise ArgumentTypeError(f"aggregates must hold Aggregate objects; got {wrong[0]!r}")
    path = check_path("path", path)
    fig = Figure(figsize=(6.4, 0.6 + 0.35 * len(aggregates)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(aggregates))[::-1]
    for yi, a in zip(y, aggregates, strict=True):
        ax.plot([a.lower, a.upper], [yi, yi], color="C0", lw=6, alpha=0.45, solid_capstyle="butt")
        ax.plot([a.point], [yi], "k|", ms=12, mew=2)
    ax.set_yticks(y, [a.label for a in aggregates], fontsize=8)
    first = aggregates[0].interval
    ax.set_xlabel(f"{aggregates[0].metric}: {first.statistic} ({first.confidence:.0%} CI)")
    ax.set_title(title or f"{first.statistic} of {aggregates[0].metric} over seeds")
    ax.grid(True, axis="x", alpha=0.3)
    fig.savefig(path, dpi=110)
    return path


def plot_profiles(
    profiles: Mapping[str, Profile],
    path: str | Path,
    *,
    title: str = "performance profiles",
    xlabel: str = "score threshold τ",
) -> Path:
    """Save performance profiles (fraction of runs with score > τ) with interval bands.

    Raises
    ------
    ValueError
        If ``profiles`` is empty.
    TypeError
        If ``profiles`` is not a mapping label -> :class:`~perturbation.sweeps.Profile`, or
        ``path`` is not a path.
    """
    if not isinstance(profiles, Mapping):
        raise ArgumentTypeError(
            f"profiles must be a mapping label -> Profile; got {type(profiles).__name__}"
        )
    if not profiles:
        raise ValueError("profiles is empty: nothing to plot")
    wrong = {k: p for k, p in profiles.items() if not isinstance(p, Profile)}
    if wrong:
        raise ArgumentTypeError(f"profiles must map labels to Profile objects; got {wrong!r}")
    path = check_path("path", path)
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    for i, (label, p) in enumerate(profiles.items()):
        ax.plot(p.taus, p.values, color=f"C{i}", label=label)
        ax.fill_between(p.taus, p.lower, p.upper, color=f"C{i}", alpha=0.2, lw=0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path
