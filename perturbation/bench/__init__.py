"""Benchmarks: ``stability bench AREA`` prints figures and ratios against baselines timed in the same run.

Each area is a module with ``run(repeats: int, scale: str) -> list[BenchRow]``. A benchmark is a
script, never a timed test: the ratios are measured here, now, on this machine. An area may list
in ``KEYS`` the top-level JSON keys it always writes: a key whose row was skipped (an optional
baseline not installed) is written as null.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["AREAS", "BenchRow", "best_time", "format_markdown", "format_table", "run_benchmark"]

#: Area name -> module implementing ``run(repeats, scale)`` (each module adds its line).
AREAS: dict[str, str] = {
    "theory": "perturbation.bench.theory",
    "counterfactual": "perturbation.bench.counterfactual",
    "lipschitz": "perturbation.bench.lipschitz",
    "causal": "perturbation.bench.causal",
    "decision-boundary": "perturbation.bench.decision_boundary",
    "sweeps": "perturbation.bench.sweeps",
    "trainers": "perturbation.bench.trainers",
    "continuous": "perturbation.bench.continuous",
    "sequence": "perturbation.bench.sequence",
    "leaderboard": "perturbation.bench.leaderboard",
}


@dataclass(frozen=True)
class BenchRow:
    """One comparison: the toolkit's way vs a baseline, both timed in this run.

    ``speedup = baseline_seconds / seconds`` (> 1 means the toolkit's way is faster).
    """

    name: str
    seconds: float
    baseline: str
    baseline_seconds: float
    size: str
    check: str
    key: str | None = None
    """Optional: the CLI's JSON also carries ``{key: speedup}`` (or ``{key: value}``) at its top
    level."""
    value: float | None = None
    """Optional: a figure that is not a ratio (a max abs difference, ...), carried under ``key``
    in place of the speedup."""

    def __post_init__(self) -> None:
        from theory.checks import ArgumentTypeError, check_positive, check_real

        for name in ("name", "baseline", "size", "check"):
            if not isinstance(getattr(self, name), str):
                raise ArgumentTypeError(f"{name} must be a string; got {getattr(self, name)!r}")
        if self.key is not None and (not isinstance(self.key, str) or not self.key):
            raise ArgumentTypeError(f"key must be None or a non-empty string; got {self.key!r}")
        if self.value is not None:
            object.__setattr__(self, "value", check_real("value", self.value))
        # a time of 0 would make the speedup infinite or undefined
        object.__setattr__(self, "seconds", check_positive("seconds", self.seconds))
        object.__setattr__(
            self, "baseline_seconds", check_positive("baseline_seconds", self.baseline_seconds)
        )

    @property
    def speedup(self) -> float:
        return self.baseline_seconds / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "speedup": self.speedup}


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls (after one warm-up call).

    Raises
    ------
    TypeError, ValueError
        If ``fn`` is not callable or ``repeats`` is not a positive integer (nothing is run).
    """
    from theory.checks import ArgumentTypeError, check_positive_int

    if not callable(fn):
        raise ArgumentTypeError(f"fn must be callable (no arguments); got {fn!r}")
    repeats = check_positive_int("repeats", repeats)
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run_benchmark(area: str, *, repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Run the benchmark of ``area`` (one of :data:`AREAS`)."""
    from perturbation.registry import SCALES
    from theory.checks import check_choice, check_positive_int

    check_choice("area", area, sorted(AREAS))
    check_positive_int("repeats", repeats)
    check_choice("scale", scale, list(SCALES))
    import torch

    torch.set_num_threads(1)  # every area is timed on one thread (set OMP_NUM_THREADS=1 too)
    return importlib.import_module(AREAS[area]).run(repeats=repeats, scale=scale)


def _json_keys(area: str, rows: list[BenchRow]) -> dict[str, float | None]:
    """The top-level JSON figures of ``area``: its ``KEYS`` (null unless a row carries them),
    then ``{key: value or speedup}`` of every keyed row."""
    keys = getattr(importlib.import_module(AREAS[area]), "KEYS", ())
    out: dict[str, float | None] = dict.fromkeys(keys)
    out.update({r.key: r.speedup if r.value is None else r.value for r in rows if r.key})
    return out


def _check_rows(rows: object) -> list[BenchRow]:
    from theory.checks import ArgumentTypeError

    if isinstance(rows, str | bytes | BenchRow) or not hasattr(rows, "__iter__"):
        raise ArgumentTypeError(f"rows must be a list of BenchRow; got {type(rows).__name__}")
    rows = list(rows)  # type: ignore[call-overload]
    for i, r in enumerate(rows):
        if not isinstance(r, BenchRow):
            raise ArgumentTypeError(f"rows[{i}] must be a BenchRow; got {type(r).__name__}")
    return rows


def format_table(rows: list[BenchRow]) -> str:
    """A plain-text table of the rows."""
    rows = _check_rows(rows)
    head = ("benchmark", "size", "toolkit [s]", "baseline", "baseline [s]", "speedup", "check")
    body = [
        (
            r.name,
            r.size,
            f"{r.seconds:.4g}",
            r.baseline,
            f"{r.baseline_seconds:.4g}",
            f"{r.speedup:.1f}x",
            r.check,
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*b) for b in body]
    )


def format_markdown(rows: list[BenchRow], *, area: str, repeats: int, scale: str) -> str:
    """A generated Markdown page of the rows, with when and where they were measured."""
    import os
    import platform
    from datetime import UTC, datetime

    from perturbation.registry import SCALES
    from theory.checks import check_choice, check_positive_int

    rows = _check_rows(rows)
    check_choice("area", area, sorted(AREAS))
    check_positive_int("repeats", repeats)
    check_choice("scale", scale, list(SCALES))

    lines = [
        f"# Benchmark: {area}",
        "",
        "Generated by `stability bench "
        f"{area} --scale {scale} --repeats {repeats} --markdown PATH`; do not edit by hand.",
        f"Measured {datetime.now(UTC).isoformat(timespec='minutes')} on {platform.machine()} "
        f"with {os.cpu_count()} cores, Python {platform.python_version()}; every ratio is "
        "against a baseline timed in the same run (best of the repeats).",
        "",
        "| benchmark | size | toolkit [s] | baseline | baseline [s] | speedup | check |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = (
            r.name,
            r.size,
            f"{r.seconds:.4g}",
            r.baseline,
            f"{r.baseline_seconds:.4g}",
            f"{r.speedup:.1f}x",
            r.check,
        )
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
