"""The sweep API: a grid of configurations -> a run function -> a tidy results table.

``sweep(grid, run)`` executes ``run(config, seed) -> {metric: value}`` (or a batched
``run(configs, seeds) -> [{metric: value}, ...]``, see :func:`batched`) for every point of the
grid on an engine (in-process, joblib processes, Ray), persists each finished run as one JSON
file (atomically) when ``out_dir`` is given, and resumes an interrupted sweep by skipping the
runs already on disk. The result's :attr:`SweepResult.table` has one row per run and metric.
Several processes may run the same sweep into one ``out_dir`` at once: each run is claimed
before it executes (:class:`~perturbation.sweeps.store.RunClaims`) and so executes once.
"""

from __future__ import annotations

import csv
import json
import math
import numbers
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perturbation.sweeps.engines import (
    RUNNERS,
    Context,
    check_n_jobs,
    connect_ray,
    resolve_engine,
)
from perturbation.sweeps.grid import RESERVED_COLUMNS, Grid, RunSpec, canonical_json
from perturbation.sweeps.stats import STATISTICS, Interval, bootstrap_ci
from perturbation.sweeps.store import (
    RECORD_FIELDS,
    RunClaims,
    code_version,
    load_records,
    read_record,
    utc_now,
    write_json_atomic,
    write_record,
)
from theory.checks import ArgumentTypeError, check_bool, check_path

__all__ = ["Aggregate", "SweepResult", "aggregate", "load", "sweep", "tidy", "write_csv"]

MANIFEST = "sweep.json"
RUNS = "runs"


def _run_name(run: Callable) -> str:
    module = getattr(run, "__module__", None) or type(run).__module__
    name = getattr(run, "__qualname__", None) or type(run).__qualname__
    return f"{module}.{name}"


def tidy(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tidy table of run records: one row per successful run and metric.

    Columns: the config keys, then ``seed``, ``metric``, ``value``, ``code_version``,
    ``device``, ``timestamp`` (when the run finished, UTC) and ``run`` (the run's key). Failed
    runs have no rows (see :attr:`SweepResult.failures`).

    Raises
    ------
    TypeError
        If ``records`` is not a sequence of mappings.
    ValueError
        If a record lacks a field of :data:`~perturbation.sweeps.store.RECORD_FIELDS`.
    """
    if isinstance(records, str | bytes | Mapping) or not isinstance(records, Sequence):
        raise ArgumentTypeError(
            f"records must be a sequence of run records; got {type(records).__name__}"
        )
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise ArgumentTypeError(
                f"records[{i}] must be a run record (a mapping); got {type(rec).__name__}"
            )
        missing = [f for f in RECORD_FIELDS if f not in rec]
        if missing:
            raise ValueError(f"records[{i}] is not a run record: it lacks {missing}")
    rows = []
    for rec in records:
        if rec["status"] != "ok":
            continue
        for metric in sorted(rec["metrics"]):
            rows.append(
                {
                    **rec["config"],
                    "seed": rec["seed"],
                    "metric": metric,
                    "value": rec["metrics"][metric],
                    "code_version": rec["code_version"],
                    "device": rec["device"],
                    "timestamp": rec["finished"],
                    "run": rec["key"],
                }
            )
    return rows


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write table rows as CSV (non-scalar cells as JSON); returns the path.

    Raises
    ------
    TypeError
        If ``rows`` is not a sequence of mappings or ``path`` is not a path.
    ValueError
        If ``path`` is a directory.
    """
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Sequence):
        raise ArgumentTypeError(f"rows must be a sequence of table rows; got {type(rows).__name__}")
    bad = [i for i, r in enumerate(rows) if not isinstance(r, Mapping)]
    if bad:
        raise ArgumentTypeError(f"rows[{bad[0]}] must be a mapping; got {rows[bad[0]]!r}")
    path = check_path("path", path)
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory; give a file name")
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow(
                {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in r.items()}
            )
    return path


@dataclass(frozen=True)
class Aggregate:
    """An interval estimate of one metric over the seeds (and tasks) of one group of runs."""

    group: dict[str, Any]
    metric: str
    interval: Interval

    @property
    def point(self) -> float:
        return self.interval.point

    @property
    def lower(self) -> float:
        return self.interval.lower

    @property
    def upper(self) -> float:
        return self.interval.upper

    @property
    def label(self) -> str:
        """``"k=v, ..."`` of the group (``"all"`` for the whole table)."""
        return ", ".join(f"{k}={v}" for k, v in self.group.items()) or "all"

    def summary(self) -> str:
        """One line: group, metric and the interval estimate."""
        return f"[{self.label}] {self.metric}: {self.interval.summary()}"


def aggregate(
    rows: SweepResult | Sequence[dict[str, Any]],
    metric: str,
    *,
    by: Sequence[str] | None = None,
    statistic: str | Callable = "iqm",
    reps: int = 2000,
    confidence: float = 0.95,
    method: str = "percentile",
    random_state: int = 0,
) -> list[Aggregate]:
    """Interval estimates of ``metric`` over seeds, per group of configurations.

    Within a group (the runs sharing the values of the ``by`` columns), each combination of the
    remaining config columns is a *task* and its seeds are the *runs*; the estimate is
    ``statistic`` of the ``(runs, tasks)`` scores with a stratified bootstrap interval
    (:func:`~perturbation.sweeps.stats.bootstrap_ci`), as rliable reports them.

    Parameters
    ----------
    rows : SweepResult or sequence of dict
        A sweep result, or rows of its tidy table.
    metric : str
        The metric to aggregate.
    by : sequence of str, optional
        Config columns that define groups. Default: all config columns (one group per
        configuration, the seeds as runs of a single task). ``[]`` pools the whole table.
    statistic, reps, confidence, method, random_state
        As in :func:`~perturbation.sweeps.stats.bootstrap_ci`.

    Returns
    -------
    list of Aggregate
        In the order the groups first appear in ``rows``.

    Raises
    ------
    ValueError
        If ``metric`` does not occur (the message lists the metrics that do), or ``by`` names a
        column that is not a config column.
    TypeError
        If ``rows``, ``metric`` or ``by`` has the wrong type.
    """
    if isinstance(rows, SweepResult):
        rows = rows.table
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Sequence):
        raise ArgumentTypeError(
            f"rows must be a SweepResult or a sequence of table rows; got {type(rows).__name__}"
        )
    if not all(isinstance(r, Mapping) for r in rows):
        raise ArgumentTypeError("rows must be table rows (mappings, as SweepResult.table gives)")
    if not isinstance(metric, str) or not metric:
        raise ArgumentTypeError(f"metric must be a metric name (a string); got {metric!r}")
    if by is not None and (isinstance(by, str | bytes) or not isinstance(by, Sequence)):
        raise ArgumentTypeError(f"by must be a sequence of column names; got {by!r}")
    available = sorted({r.get("metric") for r in rows} - {None})
    rows = [r for r in rows if r.get("metric") == metric]
    if not rows:
        raise ValueError(
            f"metric {metric!r} has no rows (failed runs have none); metrics in the table: "
            f"{available}"
        )
    for i, r in enumerate(rows):
        v = r.get("value")
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(
                f"rows: the value of metric {metric!r} in row {i} is {v!r}; values must be "
                "finite numbers"
            )
    # config columns; ``device`` counts as one only where it varies (runs on several devices)
    config_cols = [c for c in rows[0] if c not in RESERVED_COLUMNS and c != "device"]
    if len({r.get("device") for r in rows}) > 1:
        config_cols.append("device")
    by = list(config_cols if by is None else by)
    unknown = [c for c in by if c not in config_cols]
    if unknown:
        raise ValueError(f"by: {unknown} are not config columns; config columns: {config_cols}")
    task_cols = [c for c in config_cols if c not in by]
    groups: dict[str, tuple[dict[str, Any], dict[str, list[float]]]] = {}
    for r in rows:
        gkey = canonical_json([r[c] for c in by])
        _, tasks = groups.setdefault(gkey, ({c: r[c] for c in by}, {}))
        tasks.setdefault(canonical_json([r.get(c) for c in task_cols]), []).append(r["value"])
    if isinstance(statistic, str) and statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {list(STATISTICS)} or a callable")
    return [
        Aggregate(
            group=group,
            metric=metric,
            interval=bootstrap_ci(
                tasks,
                statistic,
                reps=reps,
                confidence=confidence,
                method=method,
                random_state=random_state,
            ),
        )
        for group, tasks in groups.values()
    ]


@dataclass(frozen=True)
class SweepResult:
    """The records of a sweep, in grid order, with the table and aggregation helpers.

    Attributes
    ----------
    grid : Grid
    records : tuple of dict
        One record per run of the grid (fields of :data:`~perturbation.sweeps.store.RECORD_FIELDS`).
    engine : str
        The engine that executed this call's runs.
    out_dir : Path or None
    executed : int
        Runs executed by this call.
    reused : int
        Runs found finished on disk and skipped (resume), or executed meanwhile by another
        process sweeping into the same ``out_dir``.
    seconds : float
        Wall time of the call.
    """

    grid: Grid
    records: tuple[dict[str, Any], ...]
    engine: str
    out_dir: Path | None
    executed: int
    reused: int
    seconds: float

    @property
    def table(self) -> list[dict[str, Any]]:
        """The tidy table: one row per successful run and metric (see :func:`tidy`)."""
        return tidy(self.records)

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Records of the failed runs (``error`` says why)."""
        return [r for r in self.records if r["status"] != "ok"]

    @property
    def metrics(self) -> list[str]:
        """Names of the metrics reported by successful runs."""
        return sorted({m for r in self.records if r["status"] == "ok" for m in r["metrics"]})

    def aggregate(self, metric: str, **kwargs: Any) -> list[Aggregate]:
        """:func:`aggregate` of this result's table."""
        return aggregate(self.table, metric, **kwargs)

    def to_csv(self, path: str | Path) -> Path:
        """Write the tidy table as CSV."""
        return write_csv(self.table, path)

    def summary(self) -> str:
        """One line: runs ok/failed, executed/reused, engine, time."""
        n_fail = len(self.failures)
        return (
            f"sweep: {len(self.records) - n_fail}/{len(self.records)} runs ok, {n_fail} failed "
            f"({self.executed} executed, {self.reused} resumed) on {self.engine} "
            f"in {self.seconds:.2f} s"
        )


def _check_manifest(out_dir: Path, name: str, grid: Grid) -> None:
    path = out_dir / MANIFEST
    created = utc_now()
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
        if old.get("run") not in (None, name):
            raise ValueError(
                f"out_dir {str(out_dir)!r} holds a sweep of run function {old['run']!r}, not "
                f"{name!r}; use another out_dir"
            )
        created = old.get("created", created)
    write_json_atomic(
        path,
        {
            "schema": 1,
            "run": name,
            "grid": grid.to_dict(),
            "created": created,
            "updated": utc_now(),
        },
    )


def sweep(
    grid: Grid,
    run: Callable,
    *,
    engine: str = "auto",
    out_dir: str | Path | None = None,
    resume: bool = True,
    retry_failed: bool = False,
    n_jobs: int = -1,
    device: str = "cpu",
    progress: bool = True,
) -> SweepResult:
    """Run ``run`` on every configuration and seed of ``grid``; persist and tabulate the results.

    Parameters
    ----------
    grid : Grid
        The configurations and seeds.
    run : callable
        ``run(config: dict, seed: int) -> Mapping[str, float]`` (metric name -> finite value),
        or, declared with :func:`batched`, ``run(configs: list[dict], seeds: list[int]) ->
        list[Mapping[str, float]]``. Runs of the process engines must be picklable (closures
        are fine: joblib and Ray use cloudpickle). An ``Exception`` raised by a run, or a
        result that is not a mapping of finite numbers, is recorded as a failed run with the
        reason (and warned about); ``KeyboardInterrupt``/``SystemExit`` interrupt the sweep.
    engine : {"auto", "inprocess", "joblib", "ray"}, default "auto"
        ``auto``: ``inprocess`` for a batched run function, ``joblib`` otherwise. ``ray`` runs
        on the Ray instance this process is connected to, else ``RAY_ADDRESS``, else a local
        instance kept for the following sweeps (:func:`~perturbation.sweeps.engines.connect_ray`).
    out_dir : str or Path, optional
        Persist each finished run as ``out_dir/runs/<key>.json`` (atomic write) and the grid in
        ``out_dir/sweep.json``. ``None``: keep results in memory only. Several processes may
        sweep into one ``out_dir`` at once: each run is claimed before it executes, so it
        executes once, and a process waits for the runs another one is executing and takes
        their records (a run whose claimant died is executed again).
    resume : bool, default True
        Skip runs whose valid record is already in ``out_dir`` (corrupt records are warned
        about, moved aside and rerun). ``False``: execute every run and replace its record.
    retry_failed : bool, default False
        On resume, execute again the runs recorded as failed.
    n_jobs : int, default -1
        Worker processes of ``joblib`` (negative: ``cpu_count + 1 + n_jobs``) and the CPUs of a
        local Ray instance.
    device : str, default "cpu"
        Recorded in each record (a config key ``device`` takes precedence).
    progress : bool, default True
        Show a tqdm progress bar.

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError
        Unknown engine, ``n_jobs == 0``, ``out_dir`` not a writable directory or holding a
        sweep of another run function.
    TypeError
        If ``grid`` is not a :class:`Grid`, ``run`` is not callable, or ``resume``,
        ``retry_failed``, ``progress``, ``device`` or ``out_dir`` has the wrong type.
    ImportError
        ``engine="ray"`` without Ray installed.
    perturbation.sweeps.engines.EngineStartError
        The engine cannot start (no Ray cluster at ``RAY_ADDRESS``, a local Ray instance
        failing to start); raised before any run executes.

    Notes
    -----
    Runs are identified by a hash of (config, seed), so a resumed sweep may have a larger grid
    than the interrupted one. The code version is recorded, not part of the key: a resumed sweep
    does not rerun runs made with older code.

    Examples
    --------
    >>> res = sweep(Grid({"eps": [0.0, 0.5]}, seeds=2), lambda c, s: {"x": c["eps"] + s},
    ...             engine="inprocess", progress=False)
    >>> [(r["eps"], r["seed"], r["value"]) for r in res.table]
    [(0.0, 0, 0.0), (0.0, 1, 1.0), (0.5, 0, 0.5), (0.5, 1, 1.5)]
    """
    t0 = time.perf_counter()
    if not isinstance(grid, Grid):
        raise ArgumentTypeError(f"grid must be a Grid; got {type(grid).__name__}")
    if not callable(run):
        raise TypeError(f"run must be callable; got {run!r}")
    chosen = resolve_engine(engine, run)
    check_n_jobs(n_jobs)
    for name, flag in (("resume", resume), ("retry_failed", retry_failed), ("progress", progress)):
        check_bool(name, flag)
    if not isinstance(device, str):
        raise ArgumentTypeError(f"device must be a string; got {device!r}")
    if not device.strip():
        raise ValueError(f"device must be a non-empty string; got {device!r}")
    specs = list(grid)
    records: dict[str, dict[str, Any]] = {}
    known: dict[str, str] = {}  # checksums of the records on disk when this call started
    runs_dir = None
    if out_dir is not None:
        out_dir = check_path("out_dir", out_dir)
        runs_dir = out_dir / RUNS
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
            _check_manifest(out_dir, _run_name(run), grid)
        except OSError as exc:
            raise ValueError(
                f"out_dir {str(out_dir)!r} is not a writable directory: {exc}"
            ) from exc
        keys = {s.key for s in specs}
        for key, rec in load_records(runs_dir).items():
            known[key] = rec["sha256"]
            if resume and key in keys and (rec["status"] == "ok" or not retry_failed):
                records[key] = rec
    reused = len(records)
    pending = [s for s in specs if s.key not in records]
    ctx = Context(
        device=device,
        code=code_version(),
        engine=chosen,
        single_thread=chosen != "inprocess",
        parent_pid=os.getpid() if chosen == "joblib" else None,
    )
    if pending and chosen == "ray":
        connect_ray(n_jobs)  # fails here, before any run, as what it is (EngineStartError)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(specs), initial=reused, disable=not progress, desc="sweep", unit="run")
    claims = RunClaims(runs_dir) if runs_dir is not None else None
    found: dict[str, dict[str, Any]] = {}  # records another process wrote during this call
    skipped: list[RunSpec] = []  # runs another process held when this one came to them
    lock = threading.Lock()  # joblib calls ``take`` from its dispatching threads

    def fresh(key: str) -> dict[str, Any] | None:
        """The record of ``key`` written by another process since this call started."""
        try:
            rec = read_record(runs_dir / f"{key}.json")  # type: ignore[operator]
        except ValueError:  # no record (or a corrupt one: execute and replace it)
            return None
        return rec if rec["sha256"] != known.get(key) else None

    def take(chunk: list[RunSpec]) -> list[RunSpec]:
        """The runs of ``chunk`` this process claims and executes."""
        if claims is None:
            return chunk
        out = []
        for spec in chunk:
            if not claims.acquire(spec.key):
                with lock:
                    skipped.append(spec)
                continue
            rec = fresh(spec.key)
            if rec is None:
                out.append(spec)
                continue
            claims.release(spec.key)
            with lock:
                found[spec.key] = rec
        return out

    def merge_found() -> None:
        with lock:
            new = [k for k in found if k not in records]
            records.update((k, found[k]) for k in new)
        bar.update(len(new))

    executed = 0
    todo = pending
    try:
        while todo:
            for recs in RUNNERS[chosen](run, todo, ctx, n_jobs, take):
                for rec in recs:
                    if runs_dir is not None:
                        write_record(runs_dir, rec)
                    if claims is not None:
                        claims.release(rec["key"])
                    records[rec["key"]] = rec
                    executed += 1
                    bar.update(1)
                merge_found()
            merge_found()
            # runs another process was executing: wait until it lets go, then take its record,
            # or, when it ended without writing one (killed), execute the run in the next pass
            # (claims are never held while waiting, so two sweeps cannot wait on each other)
            with lock:
                waiting, skipped[:] = list(skipped), []
            todo = []
            for spec in waiting:
                assert claims is not None
                claims.acquire(spec.key, block=True)
                rec = fresh(spec.key)
                claims.release(spec.key)
                if rec is None:
                    todo.append(spec)
                else:
                    records[spec.key] = rec
                    bar.update(1)
    except BaseException as exc:
        if out_dir is not None:
            exc.add_note(
                f"sweep interrupted: {len(records)} of {len(specs)} runs finished in "
                f"{str(out_dir)!r}; call sweep() again with the same out_dir to run the "
                "remaining ones"
            )
        else:
            exc.add_note(
                f"sweep interrupted: {len(records)} of {len(specs)} runs finished, in memory "
                "only (lost); pass out_dir to make a sweep resumable"
            )
        raise
    finally:
        if claims is not None:
            claims.release_all()
        bar.close()
    result = SweepResult(
        grid=grid,
        records=tuple(records[s.key] for s in specs),
        engine=chosen,
        out_dir=out_dir,
        executed=executed,
        reused=len(specs) - executed,
        seconds=time.perf_counter() - t0,
    )
    failures = result.failures
    if failures:
        first = failures[0]
        warnings.warn(
            f"sweep: {len(failures)} of {len(specs)} runs failed; first: config "
            f"{first['config']}, seed {first['seed']}: {first['error'].splitlines()[0]}",
            RuntimeWarning,
            stacklevel=2,
        )
    return result


def load(out_dir: str | Path) -> SweepResult:
    """The result of the sweep persisted in ``out_dir`` (its grid's runs found on disk).

    Raises
    ------
    ValueError
        If ``out_dir`` has no ``sweep.json``.
    TypeError
        If ``out_dir`` is not a path.
    """
    out_dir = check_path("out_dir", out_dir)
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"out_dir {str(out_dir)!r} holds no readable sweep.json ({exc})") from None
    grid = Grid.from_dict(manifest["grid"])
    found = load_records(out_dir / RUNS, quarantine=False)
    records = tuple(found[s.key] for s in grid if s.key in found)
    return SweepResult(grid, records, "none", out_dir, executed=0, reused=len(records), seconds=0.0)
