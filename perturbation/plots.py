"""Plots for the report (matplotlib's object API: no pyplot state, no display needed)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from theory.checks import ArgumentTypeError, as_float_array, check_choice, check_positive

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

    On a log y axis, values at or below ``floor`` are drawn at ``floor`` (a log axis has no
    zero), and the floor is then drawn as a labelled dotted line, so that a point on it reads
    as "at most ``floor``", not as a measured value. On a linear y axis the values are drawn
    as they are.

    Parameters
    ----------
    path : str or os.PathLike
        The image file to write (its folder must exist).
    series : sequence of (label, x, y, style)
        ``x`` and ``y`` 1-D, finite, of one length, ``x > 0`` (the x axis is logarithmic);
        ``style`` the keyword arguments of ``Axes.plot``.
    title, xlabel, ylabel : str
        Non-empty (every plot has a title and labelled axes).
    floor : float, default 1e-12
        Positive: the lowest value drawn on a log y axis.
    yscale : {"log", "linear"}

    Raises
    ------
    TypeError, ValueError
        Naming the argument: an empty or malformed ``series``, non-finite values or
        ``x <= 0`` (matplotlib would drop those points without a word), an empty label, a
        ``floor`` that is not positive, an unknown ``yscale``.
    """
    path = _check_args(path, series, title, xlabel, ylabel, floor, yscale)
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    clamped = False
    for label, x, y, style in series:
        y = np.asarray(y, dtype=float)
        if yscale == "log":
            clamped |= bool(np.any(y <= floor))
            y = np.maximum(y, floor)
        ax.plot(np.asarray(x, dtype=float), y, label=label, **style)
    if clamped:
        ax.axhline(
            floor, ls=":", lw=1, color="0.5", label=f"floor: values ≤ {floor:g} are drawn here"
        )
    ax.set_xscale("log")
    ax.set_yscale(yscale)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def _check_args(
    path: object,
    series: object,
    title: object,
    xlabel: object,
    ylabel: object,
    floor: object,
    yscale: object,
) -> Path:
    """The checks of :func:`save_plot`; returns ``path`` as a :class:`~pathlib.Path`."""
    if not isinstance(path, str | os.PathLike) or str(path) == "":
        raise ArgumentTypeError(f"path must be a file path (str or os.PathLike); got {path!r}")
    for name, text in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        if not isinstance(text, str) or not text.strip():
            raise ArgumentTypeError(f"{name} must be a non-empty string; got {text!r}")
    check_positive("floor", floor)
    check_choice("yscale", yscale, ("log", "linear"))
    if isinstance(series, str | bytes | Mapping) or not isinstance(series, Sequence):
        raise ArgumentTypeError(
            f"series must be a sequence of (label, x, y, style); got {type(series).__name__}"
        )
    if not series:
        raise ValueError("series must hold at least one (label, x, y, style); got none")
    for i, item in enumerate(series):
        if not isinstance(item, tuple | list) or len(item) != 4:
            raise ArgumentTypeError(f"series[{i}] must be (label, x, y, style); got {item!r}")
        label, x, y, style = item
        if not isinstance(label, str):
            raise ArgumentTypeError(f"series[{i}] label must be a string; got {label!r}")
        if not isinstance(style, Mapping):
            raise ArgumentTypeError(f"series[{i}] style must be a dict; got {style!r}")
        xs = as_float_array(f"series[{i}] x", x, ndim=1)
        ys = as_float_array(f"series[{i}] y", y, ndim=1)
        if xs.shape != ys.shape:
            raise ValueError(
                f"series[{i}] x and y must have one length; got {xs.size} and {ys.size}"
            )
        if np.any(xs <= 0):
            raise ValueError(
                f"series[{i}] x must be > 0 (the x axis is logarithmic); got {xs.min()!r}"
            )
    return Path(path)
