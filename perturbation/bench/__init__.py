"""Benchmarks: ``stability bench AREA`` prints figures and ratios against baselines timed in the same run.

Each area is a module with ``run(repeats: int, scale: str) -> list[BenchRow]``. A benchmark is a
script, never a timed test: the ratios are measured here, now, on this machine.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["AREAS", "BenchRow", "best_time", "format_table", "run_benchmark"]

#: Area name -> module implementing ``run(repeats, scale)`` (each module adds its line).
AREAS: dict[str, str] = {
    "theory": "perturbation.bench.theory",
    "counterfactual": "perturbation.bench.counterfactual",
    "lipschitz": "perturbation.bench.lipschitz",
    "causal": "perturbation.bench.causal",
    "decision-boundary": "perturbation.bench.decision_boundary",
    "sweeps": "perturbation.bench.sweeps",
    "trainers": "perturbation.bench.trainers",
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
    """Optional: the CLI's JSON also carries ``{key: speedup}`` at its top level."""

    @property
    def speedup(self) -> float:
        return self.baseline_seconds / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "speedup": self.speedup}


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run_benchmark(area: str, *, repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Run the benchmark of ``area`` (one of :data:`AREAS`)."""
    if area not in AREAS:
        raise ValueError(f"area must be one of {sorted(AREAS)}; got {area!r}")
    return importlib.import_module(AREAS[area]).run(repeats=repeats, scale=scale)


def format_table(rows: list[BenchRow]) -> str:
    """A plain-text table of the rows."""
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
