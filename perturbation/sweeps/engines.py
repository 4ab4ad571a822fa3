"""Sweep engines: where runs execute. All yield finished run records, chunk by chunk.

- ``inprocess``: in this process; a batched run function receives whole chunks (``max_batch``
  configurations, default all), a plain one is called run by run.
- ``joblib``: local worker processes (joblib's ``loky`` backend), one torch/OpenMP thread each;
  results stream back as they finish (``return_as="generator_unordered"``). Each worker watches
  the sweep process that started it and exits at once when that process is gone (killed with
  ``kill -9``, say), instead of executing runs whose results nobody will record.
- ``ray``: Ray tasks (``num_cpus=1``) on the Ray instance this process is already connected to
  (an earlier ``ray.init``), else on the cluster named by ``RAY_ADDRESS``, else on a local
  instance started on first use and kept for the following sweeps of this process (Ray stops it
  when the process exits; ``ray.shutdown()`` stops it earlier). An optional dependency (``pip
  install 'policy-stability[cluster]'``), imported only when the engine is used; a failure to
  connect or start is raised as :class:`EngineStartError` before any run executes.

Every engine runs the same worker function :func:`execute`, which never raises for a failing
run: the exception (or a malformed or non-finite metric) is recorded in the run's record. The
engines dispatch runs lazily, through a ``take`` filter that lets the sweep claim each run
just before it is handed to a worker (see :class:`~perturbation.sweeps.store.RunClaims`).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perturbation.sweeps.grid import RunSpec
from perturbation.sweeps.store import make_record, utc_now
from theory.checks import ArgumentTypeError, check_seed

__all__ = [
    "ENGINES",
    "EngineStartError",
    "batched",
    "connect_ray",
    "execute",
    "is_batched",
    "resolve_engine",
]

#: Accepted values of ``engine`` (``auto`` picks ``inprocess`` or ``joblib``).
ENGINES: tuple[str, ...] = ("auto", "inprocess", "joblib", "ray")


def batched(fn: Callable | None = None, *, max_batch: int | None = None) -> Callable:
    """Declare a run function as batched: ``fn(configs, seeds) -> list of metrics mappings``.

    A batched function receives a list of configurations and the matching list of seeds and
    returns one metrics mapping per run, in order (e.g. a trainer that stacks the parameters of
    many runs into one model). The in-process engine then calls it with chunks of at most
    ``max_batch`` runs (all pending runs when ``None``); process engines give each worker a
    chunk. The function object is returned with ``batched = True`` and ``max_batch`` set, so a
    callable class may instead define those two attributes itself.

    Examples
    --------
    >>> @batched(max_batch=64)
    ... def run(configs, seeds):
    ...     return [{"loss": c["eps"] * s} for c, s in zip(configs, seeds)]
    >>> run.batched, run.max_batch
    (True, 64)
    """
    if max_batch is not None and (isinstance(max_batch, bool) or not isinstance(max_batch, int)):
        raise ArgumentTypeError(f"max_batch must be a positive integer or None; got {max_batch!r}")
    if max_batch is not None and max_batch < 1:
        raise ValueError(f"max_batch must be a positive integer or None; got {max_batch!r}")

    def mark(f: Callable) -> Callable:
        if not callable(f):
            raise TypeError(f"fn must be callable (the batched run function); got {f!r}")
        f.batched = True  # type: ignore[attr-defined]
        f.max_batch = max_batch  # type: ignore[attr-defined]
        return f

    return mark if fn is None else mark(fn)


def is_batched(run: Callable) -> bool:
    """Whether ``run`` was declared batched (attribute ``batched is True``)."""
    return getattr(run, "batched", False) is True


def resolve_engine(engine: str, run: Callable) -> str:
    """The concrete engine for ``engine`` (``auto``: batched -> inprocess, else joblib)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}; got {engine!r}")
    if not callable(run):
        raise ArgumentTypeError(f"run must be callable (the run function); got {run!r}")
    if engine == "auto":
        return "inprocess" if is_batched(run) else "joblib"
    return engine


@dataclass(frozen=True)
class Context:
    """What a worker needs besides the run function: provenance and thread policy."""

    device: str
    code: str
    engine: str
    single_thread: bool
    #: The sweep process's id: a worker that is its child exits when it is gone.
    parent_pid: int | None = None


class EngineStartError(RuntimeError):
    """An engine could not start (e.g. no Ray cluster at ``RAY_ADDRESS``); no run executed."""


_WATCHDOG: threading.Thread | None = None


def _watch_parent(parent_pid: int, interval: float = 0.2) -> None:
    """In a worker process: exit at once when the sweep process ``parent_pid`` is gone.

    The worker's parent process id changes (to init or a subreaper) when its parent dies, so
    the check cannot be fooled by process-id reuse. Started once per worker process, only in a
    direct child of the sweep process (``os.getppid() == parent_pid``).
    """
    global _WATCHDOG
    if _WATCHDOG is not None or os.getpid() == parent_pid or os.getppid() != parent_pid:
        return

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(70)  # the parent is gone: nobody will record this worker's results

    _WATCHDOG = threading.Thread(target=watch, name="sweep-parent-watchdog", daemon=True)
    _WATCHDOG.start()


def _single_thread() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _clean_metrics(out: Any) -> tuple[dict[str, float], str | None]:
    """Metrics as ``{name: finite float}``, or an error message saying what is wrong."""
    if not isinstance(out, Mapping):
        return {}, f"run returned {type(out).__name__}, expected a mapping metric name -> number"
    if not out:
        return {}, "run returned no metrics"
    metrics: dict[str, float] = {}
    bad: list[str] = []
    for name, v in out.items():
        if not isinstance(name, str) or not name:
            return {}, f"metric name {name!r} is not a non-empty string"
        try:
            x = float(v)
        except (TypeError, ValueError):
            return {}, f"metric {name!r} = {v!r} is not a number"
        if not math.isfinite(x):
            bad.append(f"{name}={x}")
        metrics[name] = x
    if bad:
        return {}, f"non-finite metrics: {', '.join(bad)}"
    return metrics, None


def execute(
    run: Callable, configs: Sequence[dict], seeds: Sequence[int], ctx: Context
) -> list[dict[str, Any]]:
    """Run ``run`` on each configuration and seed: one record per run, failed runs included.

    ``Exception`` from the run function is recorded as a failed run; ``BaseException``
    (``KeyboardInterrupt``, ``SystemExit``) propagates and interrupts the sweep.

    Raises
    ------
    TypeError, ValueError
        Before any run, if ``run`` is not callable, ``configs`` is not a sequence of mappings,
        ``seeds`` not a sequence of seeds of the same length, or ``ctx`` not a
        :class:`Context`.
    """
    _check_execute_args(run, configs, seeds, ctx)
    if ctx.parent_pid is not None:
        _watch_parent(ctx.parent_pid)
    if ctx.single_thread:
        _single_thread()

    def record(config: dict, seed: int, out: Any, error: str | None, start: str, sec: float):
        metrics, bad = ({}, None) if error else _clean_metrics(out)
        err = error or bad
        return make_record(
            config=dict(config),
            seed=int(seed),
            status="failed" if err else "ok",
            metrics=metrics,
            error=err,
            device=str(config.get("device", ctx.device)),
            engine=ctx.engine,
            started=start,
            finished=utc_now(),
            seconds=sec,
            code=ctx.code,
        )

    def describe(exc: Exception) -> str:
        tb = traceback.format_exception(exc)
        return f"{type(exc).__name__}: {exc}\n{''.join(tb[-3:])}".rstrip()

    if is_batched(run):
        start, t0 = utc_now(), time.perf_counter()
        outs: Any = None
        error = None
        try:
            outs = run(list(configs), list(seeds))
            outs = list(outs) if outs is not None else None
            if outs is None or len(outs) != len(configs):
                got = "None" if outs is None else f"{len(outs)} results"
                error = f"batched run returned {got} for {len(configs)} configurations"
        except Exception as exc:
            error = describe(exc)
        sec = (time.perf_counter() - t0) / max(1, len(configs))
        recs = [
            record(c, s, None if error else outs[i], error, start, sec)
            for i, (c, s) in enumerate(zip(configs, seeds, strict=True))
        ]
    else:
        recs = []
        for c, s in zip(configs, seeds, strict=True):
            start, t0 = utc_now(), time.perf_counter()
            try:
                out, error = run(dict(c), int(s)), None
            except Exception as exc:
                out, error = None, describe(exc)
            recs.append(record(c, s, out, error, start, time.perf_counter() - t0))
    if ctx.single_thread:
        _single_thread()  # torch may have been imported by the run function
    return recs


def _check_execute_args(run: object, configs: object, seeds: object, ctx: object) -> None:
    if not callable(run):
        raise ArgumentTypeError(f"run must be callable (the run function); got {run!r}")
    if isinstance(configs, str | bytes | Mapping) or not isinstance(configs, Sequence):
        raise ArgumentTypeError(f"configs must be a sequence of mappings; got {configs!r}")
    for i, c in enumerate(configs):
        if not isinstance(c, Mapping):
            raise ArgumentTypeError(f"configs[{i}] must be a mapping; got {c!r}")
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence):
        raise ArgumentTypeError(f"seeds must be a sequence of integer seeds; got {seeds!r}")
    for i, seed in enumerate(seeds):
        check_seed(seed, f"seeds[{i}]")
    if len(seeds) != len(configs):
        raise ValueError(
            f"seeds must have one seed per configuration; got {len(seeds)} seeds for "
            f"{len(configs)} configs"
        )
    if not isinstance(ctx, Context):
        raise ArgumentTypeError(f"ctx must be an engines.Context; got {type(ctx).__name__}")


Take = Callable[[list[RunSpec]], list[RunSpec]]


def _all(chunk: list[RunSpec]) -> list[RunSpec]:
    return chunk


def _chunks(pending: Sequence[RunSpec], size: int, take: Take = _all) -> Iterator[list[RunSpec]]:
    """Chunks of ``size`` runs, each filtered by ``take`` just before it is handed out."""
    for i in range(0, len(pending), size):
        chunk = take(list(pending[i : i + size]))
        if chunk:
            yield chunk


def _chunk_size(run: Callable, n_pending: int, n_workers: int) -> int:
    if not is_batched(run):
        return 1
    cap = getattr(run, "max_batch", None) or n_pending
    return max(1, min(cap, math.ceil(n_pending / max(1, n_workers))))


def run_inprocess(
    run: Callable, pending: Sequence[RunSpec], ctx: Context, n_jobs: int, take: Take = _all
) -> Iterator[list[dict]]:
    """Execute in this process (batched functions get chunks of ``max_batch``)."""
    size = _chunk_size(run, len(pending), 1)
    for chunk in _chunks(pending, size, take):
        yield execute(run, [s.config for s in chunk], [s.seed for s in chunk], ctx)


def check_n_jobs(n_jobs: object) -> int:
    """``n_jobs`` if it is a non-zero integer (negative: ``cpu_count + 1 + n_jobs``)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int):
        raise ArgumentTypeError(f"n_jobs must be a non-zero integer; got {n_jobs!r}")
    if n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer; got {n_jobs!r}")
    return n_jobs


def _n_workers(n_jobs: int) -> int:
    cpus = os.cpu_count() or 1
    return cpus + 1 + n_jobs if n_jobs < 0 else n_jobs


def run_joblib(
    run: Callable, pending: Sequence[RunSpec], ctx: Context, n_jobs: int, take: Take = _all
) -> Iterator[list[dict]]:
    """Execute in local ``loky`` worker processes, one thread each; yield as runs finish.

    The workers watch this process (``ctx.parent_pid``) and exit when it is gone.
    """
    from joblib import Parallel, delayed, parallel_config

    size = _chunk_size(run, len(pending), _n_workers(n_jobs))
    tasks = (
        delayed(execute)(run, [s.config for s in c], [s.seed for s in c], ctx)
        for c in _chunks(pending, size, take)
    )
    with parallel_config(backend="loky", n_jobs=n_jobs, inner_max_num_threads=1):
        yield from Parallel(return_as="generator_unordered")(tasks)


def _import_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as exc:
        if exc.name != "ray":
            msg = f"engine='ray': Ray is installed but fails to import: {exc}"
            raise EngineStartError(msg) from exc
        raise ImportError(
            "engine='ray' needs Ray: pip install 'policy-stability[cluster]' (ray>=2.9)"
        ) from None
    except Exception as exc:  # a broken installation
        msg = f"engine='ray': Ray is installed but fails to import: {exc}"
        raise EngineStartError(msg) from exc
    return ray


def connect_ray(n_jobs: int = -1) -> str:
    """Make sure this process is connected to a Ray instance; say which one.

    In order: the instance this process is already connected to (an earlier ``ray.init``,
    kept as it is), the cluster at ``RAY_ADDRESS`` (connected once, kept connected for the
    following sweeps), or a new local instance with ``n_jobs`` CPUs (``cpu_count + 1 +
    n_jobs`` when negative), likewise kept: the start-up cost (seconds) is paid once per
    process, not once per sweep. Ray stops what it started when the process exits.

    Returns
    -------
    str
        ``"existing"``, ``"address"`` or ``"local"``.

    Raises
    ------
    ImportError
        Ray is not installed.
    EngineStartError
        Ray fails to import, to connect to ``RAY_ADDRESS`` or to start a local instance (the
        message says which, with Ray's reason).
    TypeError, ValueError
        If ``n_jobs`` is not a non-zero integer (checked before Ray is imported).
    """
    check_n_jobs(n_jobs)
    ray = _import_ray()
    if ray.is_initialized():
        return "existing"
    opts: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    address = os.environ.get("RAY_ADDRESS")
    try:
        if address:
            ray.init(address=address, **opts)
            return "address"
        ray.init(num_cpus=_n_workers(n_jobs), **opts)
        return "local"
    except Exception as exc:
        where = (
            f"cannot connect to the Ray cluster at RAY_ADDRESS={address!r}"
            if address
            else "cannot start a local Ray instance"
        )
        raise EngineStartError(f"engine='ray': {where}: {type(exc).__name__}: {exc}") from exc


def run_ray(
    run: Callable, pending: Sequence[RunSpec], ctx: Context, n_jobs: int, take: Take = _all
) -> Iterator[list[dict]]:
    """Execute as Ray tasks on the instance of :func:`connect_ray`; yield as runs finish.

    At most twice the cluster's CPUs of chunks are in flight; the next chunk is taken (and
    claimed) when one finishes.
    """
    connect_ray(n_jobs)
    ray = _import_ray()
    task = ray.remote(num_cpus=1)(execute)
    run_ref = ray.put(run)
    cpus = max(1, int(ray.available_resources().get("CPU", 1)))
    chunks = _chunks(pending, _chunk_size(run, len(pending), cpus), take)

    def submit() -> bool:
        c = next(chunks, None)
        if c is not None:
            waiting.append(task.remote(run_ref, [s.config for s in c], [s.seed for s in c], ctx))
        return c is not None

    waiting: list[Any] = []
    while len(waiting) < 2 * cpus and submit():
        pass
    while waiting:
        done, waiting = ray.wait(waiting, num_returns=1)
        yield ray.get(done[0])
        submit()


RUNNERS: dict[str, Callable[..., Iterator[list[dict]]]] = {
    "inprocess": run_inprocess,
    "joblib": run_joblib,
    "ray": run_ray,
}
