"""Run registered claims with progress on the terminal and write the report."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from perturbation.registry import Claim, ClaimResult, RunContext, claims
from perturbation.report import write_report

__all__ = ["VerifyResult", "run_claims", "verify"]


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`."""

    results: tuple[ClaimResult, ...]
    report: Path
    json: Path
    seconds: float

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def summary(self) -> str:
        n = sum(r.passed for r in self.results)
        return (
            f"{n}/{len(self.results)} claims passed in {self.seconds:.1f} s; report: {self.report}"
        )


def run_claims(
    selected: Sequence[Claim], ctx: RunContext, *, progress: bool = True
) -> list[ClaimResult]:
    """Run each claim's experiment in order, showing a progress bar."""
    results: list[ClaimResult] = []
    show_bar = progress and sys.stderr.isatty()
    bar = tqdm(selected, disable=not show_bar, unit="claim", file=sys.stderr, dynamic_ncols=True)
    for c in bar:
        bar.set_description(c.id)
        r = c.run(ctx)
        results.append(r)
        if progress:
            status = "PASS" if r.passed else f"FAIL {r.error or ''}".rstrip()
            line = f"[{len(results)}/{len(selected)}] {status:5s} {c.id}  ({r.seconds:.2f} s)"
            bar.write(line, file=sys.stderr)
    return results


def verify(
    out_dir: Path | str = "stability-report",
    *,
    only: str | None = None,
    scale: str = "small",
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
) -> VerifyResult:
    """Run every registered claim (or those matching ``only``) into one report in ``out_dir``."""
    out = Path(out_dir)
    ctx = RunContext(scale=scale, seed=seed, device=device, plot_dir=out / "plots")
    selected = claims(only)
    if not selected:
        raise ValueError(f"only={only!r} matches no registered claim")
    start = time.perf_counter()
    results = run_claims(selected, ctx, progress=progress)
    seconds = time.perf_counter() - start
    md, js = write_report(results, out, ctx, seconds)
    return VerifyResult(tuple(results), md, js, seconds)
