"""Run registered claims with progress on the terminal and write the report.

The report is written into a staging folder inside ``out_dir`` and moved into place only when
every claim has run: an interrupted run (Ctrl-C) leaves the previous report, its plots and its
``results.json`` as they were.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from perturbation.registry import Claim, ClaimResult, RunContext, claims
from perturbation.report import REPORT_FILES, write_report

__all__ = ["EXIT_CODES", "VerifyResult", "check_out_dir", "run_claims", "verify"]

#: Exit status of ``stability verify``: what went wrong, distinguishable by scripts.
EXIT_CODES = {
    "ok": 0,  # every claim passed (or was reported as empirical)
    "failed": 1,  # a claim's relation did not hold
    "usage": 2,  # bad arguments: nothing ran
    "error": 3,  # a claim's experiment could not run (crashed)
    "interrupted": 130,  # Ctrl-C: the previous report is left intact
}


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`."""

    results: tuple[ClaimResult, ...]
    report: Path
    json: Path
    html: Path
    seconds: float

    @property
    def passed(self) -> bool:
        """Every claim passed or was reported as empirical."""
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        outcomes = {r.outcome for r in self.results}
        if "ERROR" in outcomes:
            return EXIT_CODES["error"]
        return EXIT_CODES["failed"] if "FAIL" in outcomes else EXIT_CODES["ok"]

    def summary(self) -> str:
        counts = {k: sum(r.outcome == k for r in self.results) for k in _OUTCOMES}
        parts = ", ".join(f"{v} {k.lower()}" for k, v in counts.items() if v)
        return f"{len(self.results)} claims: {parts} in {self.seconds:.1f} s; report: {self.report}"


_OUTCOMES = ("PASS", "EMPIRICAL", "FAIL", "ERROR")


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
            status = r.outcome if r.error is None else f"ERROR {r.error}"
            line = f"[{len(results)}/{len(selected)}] {status:9s} {c.id}  ({r.seconds:.2f} s)"
            bar.write(line, file=sys.stderr)
    return results


def check_out_dir(out_dir: Path | str) -> Path:
    """``out_dir`` created if needed and proven writable, or ``ValueError`` naming it."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ValueError(f"out_dir {str(out)!r} is not a writable directory: {exc}") from exc
    return out


def verify(
    out_dir: Path | str = "stability-report",
    *,
    only: str | None = None,
    scale: str = "small",
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
) -> VerifyResult:
    """Run every registered claim (or those matching ``only``) into one report in ``out_dir``.

    Writes ``report.md``, ``report.html``, ``results.json`` and ``plots/``. Bad arguments (an
    unwritable ``out_dir``, an ``only`` that matches nothing) are refused before any claim
    runs. The files are replaced together at the end; an interruption leaves the old ones.
    """
    RunContext(scale=scale, seed=seed, device=device)  # arguments checked before anything runs
    selected = claims(only)
    if not selected:
        raise ValueError(f"only={only!r} matches no registered claim")
    out = check_out_dir(out_dir)
    stage = Path(tempfile.mkdtemp(dir=out, prefix=f".staging-{os.getpid()}-"))
    try:
        ctx = RunContext(scale=scale, seed=seed, device=device, plot_dir=stage / "plots")
        start = time.perf_counter()
        results = run_claims(selected, ctx, progress=progress)
        seconds = time.perf_counter() - start
        write_report(results, stage, ctx, seconds)
        _publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return VerifyResult(
        tuple(results), out / "report.md", out / "results.json", out / "report.html", seconds
    )


def _publish(stage: Path, out: Path) -> None:
    """Move the staged report into ``out``: old plots out of the way first, then each file."""
    old_plots = out / "plots"
    if old_plots.exists():
        trash = Path(tempfile.mkdtemp(dir=out, prefix=".old-"))
        old_plots.rename(trash / "plots")
        shutil.rmtree(trash, ignore_errors=True)
    if (stage / "plots").exists():
        (stage / "plots").rename(old_plots)
    for name in REPORT_FILES:
        os.replace(stage / name, out / name)
