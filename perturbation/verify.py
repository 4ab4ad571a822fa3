"""Run registered claims with progress on the terminal and write the report.

The report is written into a staging folder inside ``out_dir`` and moved into place only when
every claim has run: an interrupted run (Ctrl-C) leaves the previous report, its plots and its
``results.json`` as they were.

With ``jobs > 1`` the claims run in that many processes, this one and ``jobs - 1`` workers (one
torch thread each). The report is the same as a sequential run's: every claim seeds its own generators from
``(seed, claim id)`` (:meth:`perturbation.registry.Claim.run`), cached sweeps depend only on the
run context, and the rows keep the registration order.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from perturbation.registry import CLAIM_MODULES, Claim, ClaimResult, Evidence, RunContext, claims
from perturbation.report import REPORT_FILES, write_report
from theory.checks import check_positive_int

__all__ = ["EXIT_CODES", "VerifyResult", "check_out_dir", "default_jobs", "run_claims", "verify"]

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


def default_jobs() -> int:
    """Processes that run the claims of ``stability verify`` by default (``jobs``: this one and
    ``jobs - 1`` workers): the cores available, at most 2."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


def run_claims(
    selected: Sequence[Claim],
    ctx: RunContext,
    *,
    progress: bool = True,
    jobs: int = 1,
    expected_seconds: Mapping[str, float] | None = None,
) -> list[ClaimResult]:
    """Run each claim's experiment, showing a progress bar; results in the order of ``selected``.

    ``jobs`` > 1 runs the claims in that many processes: this one and ``jobs - 1`` worker
    processes (registered claims only: a worker finds a claim by its id). Each process runs
    whole areas (``policy-cliff``, ``lipschitz``, ...: their claims share cached sweeps), the
    longest first by ``expected_seconds`` (claim id -> seconds: the previous report's, else the
    shipped :data:`EXPECTED_SECONDS`; unknown claims count as longest); an idle process takes
    the next area. This process runs its claims as a sequential run does (in its main thread);
    a thread hands the workers their claims meanwhile. A worker that dies makes its claim an
    ERROR result. Claims registered outside :data:`~perturbation.registry.CLAIM_MODULES` (in a
    notebook, a test) cannot be found by a worker: with any of them selected, everything runs
    in this process.
    """
    jobs = check_positive_int("jobs", jobs)
    pools: list[ProcessPoolExecutor] = []
    try:
        return _run_claims(selected, ctx, progress, jobs, expected_seconds, pools)
    finally:
        for pool in pools:
            _stop_pool(pool)


def _run_claims(
    selected: Sequence[Claim],
    ctx: RunContext,
    progress: bool,
    jobs: int,
    expected_seconds: Mapping[str, float] | None,
    pools: list[ProcessPoolExecutor],
) -> list[ClaimResult]:
    """:func:`run_claims` with already started worker pools (``pools``, used while ``jobs`` >
    1: more are started up to ``jobs - 1``; the caller shuts them down)."""
    show_bar = progress and sys.stderr.isatty()
    bar = tqdm(
        total=len(selected), disable=not show_bar, unit="claim", file=sys.stderr, dynamic_ncols=True
    )
    done = 0
    lock = threading.Lock()  # the progress count, the bar and the queue of areas

    def report(r: ClaimResult) -> None:
        nonlocal done
        with lock:
            done += 1
            bar.update()
            if progress:
                status = r.outcome if r.error is None else f"ERROR {r.error}"
                line = f"[{done}/{len(selected)}] {status:9s} {r.claim.id}  ({r.seconds:.2f} s)"
                bar.write(line, file=sys.stderr)

    if jobs == 1 or len(selected) == 1 or not all(map(_importable, selected)):
        results = []
        for c in selected:
            bar.set_description(c.id)
            results.append(c.run(ctx))
            report(results[-1])
        bar.close()
        return results
    # Whole areas per process, so that the claims of one area (which share cached sweeps) run
    # in the same process: an idle process takes the next area, longest first. Process 0 is
    # this one; 1, 2, ... are single-process pools.
    expected = expected_seconds or {}
    areas: dict[str, list[int]] = {}
    for i, c in enumerate(selected):
        areas.setdefault(c.id.split("/")[0], []).append(i)
    queue = sorted(
        areas.values(), key=lambda ix: -sum(expected.get(selected[i].id, math.inf) for i in ix)
    )
    slots: list[ClaimResult | None] = [None] * len(selected)
    n_workers = min(jobs, len(queue)) - 1
    while len(pools) < n_workers:
        pools.append(_new_pool())
    todo: dict[int, list[int]] = {w: [] for w in range(n_workers + 1)}
    stop = threading.Event()
    failure: list[BaseException] = []

    def take(w: int) -> int | None:
        """The next claim of process ``w`` (its area's, else the next area's), or None."""
        with lock:
            if not todo[w] and queue:
                todo[w] = list(queue.pop(0))
            return todo[w].pop(0) if todo[w] else None

    def hand_out() -> None:
        """The workers' loop (a thread): submit, collect, report, submit their next claim."""
        running: dict[Future, tuple[int, int]] = {}  # future -> (worker, claim index)

        def submit(w: int) -> None:
            i = None if stop.is_set() else take(w)
            if i is None:
                return
            pool = pools[w - 1]
            try:
                fut = pool.submit(_run_in_worker, selected[i].id, ctx)
            except BrokenProcessPool:  # the worker died: a fresh one takes its next claim
                pools[w - 1] = pool = _new_pool()
                fut = pool.submit(_run_in_worker, selected[i].id, ctx)
            running[fut] = (w, i)

        try:
            for w in range(1, n_workers + 1):
                submit(w)
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                if stop.is_set():  # interrupted: the main thread reports, the workers are ended
                    return
                for fut in finished:
                    w, i = running.pop(fut)
                    try:
                        evidence, seconds, error, trace = fut.result()
                    except Exception as exc:  # the worker died (killed, out of memory)
                        evidence, seconds, error = None, 0.0, f"{type(exc).__name__}: {exc}"
                        trace = None
                    slots[i] = ClaimResult(selected[i], evidence, seconds, error, trace)
                    report(slots[i])
                    submit(w)
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)

    for w in todo:  # the first areas, longest first: this process, then the workers in turn
        todo[w] = list(queue.pop(0))
    workers = threading.Thread(target=hand_out, name="verify-workers", daemon=True)
    workers.start()
    try:
        while (i := None if failure else take(0)) is not None:
            slots[i] = selected[i].run(ctx)
            report(slots[i])
        workers.join()
    except BaseException:  # Ctrl-C: the workers get no new claim (the caller stops them)
        stop.set()
        bar.close()
        raise
    bar.close()
    if failure:
        raise failure[0]
    return [r for r in slots if r is not None]


def _new_pool() -> ProcessPoolExecutor:
    """A single-process pool (spawned: no fork of a process that has used torch) whose process
    starts at once and imports the claim modules (:func:`_warm_up`)."""
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    pool.submit(_warm_up)
    return pool


def _warm_up() -> None:
    """Import the claim modules in a worker (as :func:`_run_in_worker` would on its first call)."""
    claims()


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Shut ``pool`` down without waiting for its worker: a worker still busy (importing the
    claim modules, running a claim of an interrupted run) is terminated."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # None after shutdown
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


def _importable(c: Claim) -> bool:
    """Whether a worker process registers ``c`` by importing the claim modules."""
    module = getattr(c.experiment, "__module__", "") or ""
    return any(module == m or module.startswith(f"{m}.") for m in CLAIM_MODULES)


def _run_in_worker(
    claim_id: str, ctx: RunContext
) -> tuple[Evidence | None, float, str | None, str | None]:
    """Run the registered claim ``claim_id`` in a worker; its outcome as picklable parts."""
    (c,) = [c for c in claims() if c.id == claim_id]
    r = c.run(ctx)
    ev = None if r.evidence is None else replace(r.evidence, details=_thawed(r.evidence.details))
    return ev, r.seconds, r.error, r.traceback


def _thawed(obj: Any) -> Any:
    """``obj`` with read-only mapping proxies (``registry.frozen``) as dicts, for pickling."""
    if isinstance(obj, Mapping):
        return {k: _thawed(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_thawed(v) for v in obj)
    return obj


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
    jobs: int = 1,
) -> VerifyResult:
    """Run every registered claim (or those matching ``only``) into one report in ``out_dir``.

    Writes ``report.md``, ``report.html``, ``results.json`` and ``plots/``. Bad arguments (an
    unwritable ``out_dir``, an ``only`` that matches nothing, ``jobs`` < 1) are refused before
    any claim runs. The files are replaced together at the end; an interruption leaves the old
    ones. ``jobs``: processes that run claims, this one and ``jobs - 1`` workers
    (:func:`run_claims`; when this process has not imported the claim modules yet, the workers
    start first, so that their imports overlap); the report does not depend on it.
    """
    RunContext(scale=scale, seed=seed, device=device)  # arguments checked before anything runs
    check_positive_int("jobs", jobs)
    out = check_out_dir(out_dir)
    # Workers start now when this process has the claim modules still to import: their own
    # imports overlap with it (else they start when the selection needs them).
    imported = all(m in sys.modules for m in CLAIM_MODULES)
    pools = [] if imported else [_new_pool() for _ in range(jobs - 1)]
    try:
        selected = claims(only)
        if not selected:
            raise ValueError(f"only={only!r} matches no registered claim")
        stage = Path(tempfile.mkdtemp(dir=out, prefix=f".staging-{os.getpid()}-"))
        try:
            ctx = RunContext(scale=scale, seed=seed, device=device, plot_dir=stage / "plots")
            start = time.perf_counter()
            results = _run_claims(selected, ctx, progress, jobs, _previous_seconds(out), pools)
            seconds = time.perf_counter() - start
            write_report(results, stage, ctx, seconds)
            _publish(stage, out)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    finally:
        for pool in pools:
            _stop_pool(pool)
    return VerifyResult(
        tuple(results), out / "report.md", out / "results.json", out / "report.html", seconds
    )


#: Seconds per claim at the default scale on 2 idle cores (a scheduling hint for a first run;
#: the report already in ``--out``, when there is one, takes its place).
EXPECTED_SECONDS = Path(__file__).with_name("expected_seconds.json")


def _previous_seconds(out: Path) -> dict[str, float]:
    """Claim id -> seconds in the report already in ``out``, else the shipped hint."""
    for path, key in ((out / "results.json", "results"), (EXPECTED_SECONDS, "results")):
        try:
            rows = json.loads(path.read_text())[key]
            return {str(r["claim"]): float(r["seconds"]) for r in rows}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return {}


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
