"""Plots for the report (matplotlib's object API: no pyplot state, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = ["Series", "save_plot"]

Series = tuple[str, Sequence[float], Sequence[float], dict]


def save_plot(
    path: Path,
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    floor: float = 1e-12,
    yscale: str = "log",
) -> Path:
    """Save a plot (log x axis; ``yscale`` log or linear) of ``(label, x, y, style)`` series.

    Values at or below ``floor`` are drawn at ``floor`` (a log axis has no zero).
    """
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    for label, x, y, style in series:
        ax.plot(np.asarray(x), np.maximum(np.asarray(y, dtype=float), floor), label=label, **style)
    ax.set_xscale("log")
    ax.set_yscale(yscale)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path
