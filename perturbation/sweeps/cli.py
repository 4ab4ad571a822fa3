"""``stability sweep MODULE:FUNCTION --axis NAME=V1,V2 --seeds N --out DIR``: a sweep from the shell.

Axis and fixed values are parsed as JSON where they parse (``0.1``, ``true``, ``"a"``) and taken as
strings otherwise. The tidy table is written to ``DIR/results.csv``. Exit status: 0 every run
succeeded, 1 a run failed, 2 bad arguments (refused before any run, except ``--aggregate METRIC``
naming a metric no run reported, which is known only once the runs are done: they are saved,
and the same command with a reported metric resumes them without executing them again), 3 the
engine could not start, 130 interrupted (the finished runs are saved; the same command resumes).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pair(text: str, what: str) -> tuple[str, str]:
    name, sep, rest = text.partition("=")
    if not sep or not name:
        raise ValueError(f"{what} must be NAME=VALUE; got {text!r}")
    return name, rest


def _load_run(spec: str) -> Any:
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"run must be MODULE:FUNCTION; got {spec!r}")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"run {spec!r} cannot be loaded ({exc})") from None
    return fn


def _sweep(args: argparse.Namespace) -> int:
    from perturbation.sweeps import Grid, sweep
    from perturbation.sweeps.engines import EngineStartError

    try:
        if args.aggregate is not None and not args.aggregate.strip():
            raise ValueError("--aggregate must name a metric; got an empty string")
        run = _load_run(args.run)
        axes = {}
        for text in args.axis:
            name, values = _pair(text, "--axis")
            axes[name] = [_value(v) for v in values.split(",")]
        fixed = dict(_pair(t, "--fixed") for t in args.fixed)
        grid = Grid(axes, seeds=args.seeds, fixed={k: _value(v) for k, v in fixed.items()})
        res = sweep(
            grid,
            run,
            engine=args.engine,
            out_dir=args.out,
            resume=not args.no_resume,
            retry_failed=args.retry_failed,
            n_jobs=args.n_jobs,
            device=args.device,
            progress=not args.quiet,
        )
    except (ValueError, TypeError, ImportError) as exc:
        print(f"stability sweep: {exc}", file=sys.stderr)
        return 2
    except EngineStartError as exc:
        print(f"stability sweep: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt as exc:
        notes = "; ".join(getattr(exc, "__notes__", [])) or "interrupted"
        print(f"stability sweep: {notes}", file=sys.stderr)
        return 130
    res.to_csv(Path(args.out) / "results.csv")
    print(res.summary())
    for rec in res.failures:
        print(f"  FAILED {rec['config']} seed {rec['seed']}: {rec['error']}", file=sys.stderr)
    if args.aggregate:
        if args.aggregate not in res.metrics:
            print(
                f"stability sweep: --aggregate {args.aggregate!r}: no run reported this metric; "
                f"the runs report {res.metrics}. The runs are saved in {args.out!r}: run the "
                "same command with one of those to aggregate them (nothing is executed again)",
                file=sys.stderr,
            )
            return 2
        for agg in res.aggregate(args.aggregate):
            print(f"  {agg.summary()}")
    return 1 if res.failures else 0


def add_parser(sub: Any) -> None:
    """Add the ``sweep`` subcommand to the ``stability`` command's subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        What :meth:`argparse.ArgumentParser.add_subparsers` returned.

    Raises
    ------
    TypeError
        If ``sub`` is not such an object (e.g. the parser itself).
    """
    from perturbation.sweeps.engines import ENGINES
    from theory.checks import ArgumentTypeError

    if not isinstance(sub, argparse._SubParsersAction):
        raise ArgumentTypeError(
            "sub must be the subparsers object of parser.add_subparsers(); "
            f"got {type(sub).__name__}"
        )

    p = sub.add_parser("sweep", help="run MODULE:FUNCTION over a grid of configs x seeds")
    p.add_argument("run", help="run function MODULE:FUNCTION, run(config, seed) -> {metric: value}")
    p.add_argument("--axis", action="append", default=[], metavar="NAME=V1,V2,...")
    p.add_argument("--fixed", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds (0..N-1)")
    p.add_argument("--engine", default="auto", choices=list(ENGINES))
    p.add_argument("--out", required=True, help="sweep directory (runs/, sweep.json, results.csv)")
    p.add_argument("--n-jobs", type=int, default=-1, help="worker processes (joblib, local ray)")
    p.add_argument("--no-resume", action="store_true", help="rerun runs already on disk")
    p.add_argument("--retry-failed", action="store_true", help="rerun runs recorded as failed")
    p.add_argument("--device", default="cpu", help="recorded in each run's record")
    p.add_argument("--aggregate", metavar="METRIC", help="print IQM [95%% CI] per configuration")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_sweep)
