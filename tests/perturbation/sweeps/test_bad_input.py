"""Bad-input audit of :mod:`perturbation.sweeps`: every public name refuses bad input by name.

Each case feeds one kind of bad input (NaN, inf, wrong shape, empty, out of range, wrong type,
bad seed, unknown option, bad value) and asserts a ValueError/TypeError whose message names the
parameter. Among them the silent or obscure results this audit was written against:
``optimality_gap(gamma=nan)``, ``bootstrap_ci`` with a statistic returning NaN (on the data or
on some resamples only), ``run_key(config, 1.5)``, negative or huge grid seeds, a config with
non-string keys (hashed as if its keys were strings), ``random_state=-1`` ending in numpy's
SeedSequence, and ``sweep(..., out_dir=<a file>)`` ending in ``NotADirectoryError``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest

from perturbation.sweeps import (
    Grid,
    SweepResult,
    aggregate,
    batched,
    bootstrap_ci,
    bootstrap_distribution,
    iqm,
    load,
    mean,
    median,
    optimality_gap,
    performance_profile,
    plot_intervals,
    plot_profiles,
    probability_of_improvement,
    run_key,
    sweep,
    tidy,
    write_csv,
)
from perturbation.sweeps.cli import add_parser
from perturbation.sweeps.engines import Context, connect_ray, execute, resolve_engine
from perturbation.sweeps.grid import canonical_json
from perturbation.sweeps.store import (
    RunClaims,
    load_records,
    make_record,
    read_record,
    write_json_atomic,
    write_record,
)
from perturbation.sweeps.strategies import grids_axes, ragged_scores, score_matrices
from tests._audit import Case, audit_ids, bad, bad_method, gather, lazy

EXEMPT = {
    "Aggregate": "result dataclass returned by aggregate(); takes no user input",
    "Interval": "result dataclass returned by bootstrap_ci(); takes no user input",
    "Profile": "result dataclass returned by performance_profile(); takes no user input",
    "RunSpec": "one item of a Grid, built by Grid.__iter__ from checked input",
    "SweepResult": "result dataclass returned by sweep() and load(); its methods are audited",
    "code_version": "takes no arguments",
    "is_batched": "a predicate: every object is a valid argument (False unless declared)",
    "engines.EngineStartError": "an exception type",
    "store.utc_now": "takes no arguments",
}

NAN, INF = math.nan, math.inf
SCORES = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


def _run(config, seed):
    return {"x": float(seed)}


def _result() -> SweepResult:
    grid = Grid({"eps": [0.0, 1.0]}, seeds=2)
    return sweep(grid, _run, engine="inprocess", progress=False)


def _nan_on_resamples(x):
    """Finite on the data, NaN on resamples that drew one run twice."""
    return NAN if len(np.unique(x)) < np.size(x) else 1.0


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="sweeps-audit-"))


CTX = Context(device="cpu", code="test", engine="inprocess", single_thread=False)
RECORD = {
    "config": {"eps": 0.1},
    "seed": 0,
    "status": "ok",
    "metrics": {"x": 1.0},
    "error": None,
    "device": "cpu",
    "engine": "inprocess",
    "started": "s",
    "finished": "f",
    "seconds": 0.5,
}


def _record(**change):
    return {**RECORD, **change}


def _a_file() -> Path:
    path = _tmp() / "file"
    path.write_text("not a directory")
    return path


CASES: list[Case] = [
    # statistics: point estimates
    bad(iqm, "scores", "nan", [1.0, NAN]),
    bad(iqm, "scores", "inf", [[1.0], [INF]]),
    bad(iqm, "scores", "empty", []),
    bad(iqm, "scores", "shape", np.zeros((2, 2, 2))),
    bad(iqm, "scores", "type", "abc"),
    bad(iqm, "scores", "type", None),
    bad(mean, "scores", "nan", {"a": [NAN]}),
    bad(mean, "scores", "empty", {}),
    bad(mean, "scores", "shape", {"a": [[1.0]]}),
    bad(median, "scores", "inf", [INF, 1.0]),
    bad(median, "scores", "empty", np.zeros((0, 3))),
    bad(median, "scores", "type", {"a": "xy"}),
    bad(optimality_gap, "gamma", "nan", SCORES, gamma=NAN),
    bad(optimality_gap, "gamma", "inf", SCORES, gamma=INF),
    bad(optimality_gap, "gamma", "type", SCORES, gamma="1"),
    bad(optimality_gap, "scores", "nan", [NAN]),
    # statistics: bootstrap
    bad(bootstrap_ci, "statistic", "value", SCORES, lambda x: NAN),
    bad(probability_of_improvement, "scores", "value", [1.0, NAN], [1.0, 2.0]),
    bad(probability_of_improvement, "x and y", "value", [[1.0, 2.0]], [[1.0, 2.0, 3.0]]),
    bad(probability_of_improvement, "reps", "range", [1.0], [2.0], reps=0),
    bad(probability_of_improvement, "confidence", "range", [1.0], [2.0], confidence=1.5),
    bad(bootstrap_ci, "statistic", "value", [1.0, 2.0, 3.0], _nan_on_resamples, reps=50),
    bad(bootstrap_ci, "statistic", "type", SCORES, lambda x: np.array([1.0, 2.0])),
    bad(bootstrap_ci, "statistic", "type", SCORES, lambda x: "high"),
    bad(bootstrap_ci, "statistic", "option", SCORES, "max"),
    bad(bootstrap_ci, "statistic", "type", SCORES, 3),
    bad(bootstrap_ci, "reps", "range", SCORES, reps=0),
    bad(bootstrap_ci, "reps", "type", SCORES, reps=1.5),
    bad(bootstrap_ci, "confidence", "range", SCORES, confidence=1.0),
    bad(bootstrap_ci, "confidence", "nan", SCORES, confidence=NAN),
    bad(bootstrap_ci, "method", "option", SCORES, method="bca"),
    bad(bootstrap_ci, "random_state", "seed", SCORES, random_state=-1),
    bad(bootstrap_ci, "random_state", "seed", SCORES, random_state=1.5),
    bad(bootstrap_ci, "random_state", "seed", SCORES, random_state="0"),
    bad(bootstrap_ci, "scores", "empty", []),
    bad(bootstrap_ci, "scores", "nan", {"a": [NAN]}),
    bad(bootstrap_distribution, "statistic", "option", SCORES, "max"),
    bad(bootstrap_distribution, "statistic", "value", SCORES, lambda x: NAN, reps=5),
    bad(bootstrap_distribution, "reps", "range", SCORES, reps=-1),
    bad(bootstrap_distribution, "random_state", "seed", SCORES, random_state=-3),
    bad(bootstrap_distribution, "scores", "inf", [INF]),
    bad(performance_profile, "taus", "nan", SCORES, [NAN]),
    bad(performance_profile, "taus", "inf", SCORES, [0.0, INF]),
    bad(performance_profile, "taus", "empty", SCORES, []),
    bad(performance_profile, "taus", "shape", SCORES, [[0.0]]),
    bad(performance_profile, "taus", "type", SCORES, "ab"),
    bad(performance_profile, "taus", "type", SCORES, None),
    bad(performance_profile, "reps", "range", SCORES, [0.0], reps=0),
    bad(performance_profile, "confidence", "range", SCORES, [0.0], confidence=2.0),
    bad(performance_profile, "random_state", "seed", SCORES, [0.0], random_state=-1),
    bad(performance_profile, "scores", "nan", [NAN], [0.0]),
    # grids and keys
    bad(run_key, "seed", "seed", {"a": 1}, 1.5),
    bad(run_key, "seed", "seed", {"a": 1}, -1),
    bad(run_key, "seed", "seed", {"a": 1}, True),
    bad(run_key, "config", "type", [("a", 1)], 0),
    bad(run_key, "config", "nan", {"a": NAN}, 0),
    bad(run_key, "config", "inf", {"a": INF}, 0),
    bad(run_key, "config", "type", {1: 1}, 0),
    bad(run_key, "config", "value", {"a": (1, 2)}, 0),
    bad(Grid, "axes", "type", [("eps", [1])]),
    bad(Grid, "axes", "empty", {"eps": []}),
    bad(Grid, "axes", "nan", {"eps": [NAN]}),
    bad(Grid, "axes", "inf", {"eps": [0.0, INF]}),
    bad(Grid, "axes", "type", {"eps": "abc"}),
    bad(Grid, "axis", "value", {"seed": [1]}),
    bad(Grid, "seeds", "range", {}, seeds=0),
    bad(Grid, "seeds", "seed", {}, seeds=[-1]),
    bad(Grid, "seeds", "seed", {}, seeds=[2**64]),
    bad(Grid, "seeds", "seed", {}, seeds=[1.5]),
    bad(Grid, "seeds", "type", {}, seeds=1.5),
    bad(Grid, "seeds", "type", {}, seeds=None),
    bad(Grid, "seeds", "type", {}, seeds=True),
    bad(Grid, "seeds", "empty", {}, seeds=[]),
    bad(Grid, "seeds", "value", {}, seeds=[1, 1]),
    bad(Grid, "fixed", "type", {}, fixed=[1]),
    bad(Grid, "fixed", "nan", {}, fixed={"lr": NAN}),
    bad(Grid.from_dict, "d", "value", {"x": 1}),
    bad(Grid.from_dict, "d", "type", 3),
    # engines
    bad(batched, "max_batch", "range", max_batch=0),
    bad(batched, "max_batch", "type", max_batch=1.5),
    bad(batched, "fn", "type", 3),
    # sweep
    bad(sweep, "grid", "type", {"eps": [1]}, _run, progress=False),
    bad(sweep, "run", "type", Grid({}), 3, progress=False),
    bad(sweep, "engine", "option", Grid({}), _run, engine="dask", progress=False),
    bad(sweep, "n_jobs", "range", Grid({}), _run, n_jobs=0, progress=False),
    bad(sweep, "n_jobs", "type", Grid({}), _run, n_jobs=1.5, progress=False),
    bad(sweep, "resume", "type", Grid({}), _run, engine="inprocess", resume="no"),
    bad(sweep, "retry_failed", "type", Grid({}), _run, engine="inprocess", retry_failed=None),
    bad(sweep, "progress", "type", Grid({}), _run, engine="inprocess", progress="x"),
    bad(sweep, "device", "type", Grid({}), _run, engine="inprocess", device=3, progress=False),
    bad(sweep, "device", "empty", Grid({}), _run, engine="inprocess", device="", progress=False),
    bad(sweep, "out_dir", "type", Grid({}), _run, engine="inprocess", out_dir=3, progress=False),
    lazy(
        sweep,
        "out_dir",
        "value",
        lambda: ((Grid({}), _run), {"engine": "inprocess", "out_dir": _a_file() / "s"}),
    ),
    # aggregation of results
    lazy(aggregate, "metric", "value", lambda: ((_result(), "nosuch"), {})),
    lazy(aggregate, "metric", "type", lambda: ((_result(), 3), {})),
    lazy(aggregate, "by", "value", lambda: ((_result(), "x"), {"by": ["lr"]})),
    lazy(aggregate, "by", "type", lambda: ((_result(), "x"), {"by": "eps"})),
    lazy(aggregate, "statistic", "option", lambda: ((_result(), "x"), {"statistic": "max"})),
    lazy(aggregate, "reps", "range", lambda: ((_result(), "x"), {"reps": 0})),
    lazy(aggregate, "confidence", "nan", lambda: ((_result(), "x"), {"confidence": NAN})),
    lazy(aggregate, "method", "option", lambda: ((_result(), "x"), {"method": "bca"})),
    lazy(aggregate, "random_state", "seed", lambda: ((_result(), "x"), {"random_state": -1})),
    bad(aggregate, "rows", "type", 3, "x"),
    bad(aggregate, "rows", "type", "abc", "x"),
    bad(aggregate, "rows", "type", [1, 2], "x"),
    bad(aggregate, "rows", "nan", [{"eps": 0.0, "seed": 0, "metric": "x", "value": NAN}], "x"),
    bad(aggregate, "metric", "empty", [], "x"),
    lazy(SweepResult.aggregate, "metric", "value", lambda: ((_result(), "nosuch"), {})),
    lazy(SweepResult.to_csv, "path", "type", lambda: ((_result(), 3), {})),
    bad(load, "out_dir", "type", 3),
    lazy(load, "out_dir", "value", lambda: ((_tmp(),), {})),
    bad(tidy, "records", "type", 3),
    bad(tidy, "records", "type", "abc"),
    bad(tidy, "records", "type", [3]),
    bad(tidy, "records", "value", [{"status": "ok"}]),
    bad(write_csv, "rows", "type", 3, "t.csv"),
    bad(write_csv, "rows", "type", [1], "t.csv"),
    bad(write_csv, "path", "type", [{"a": 1}], 3),
    lazy(write_csv, "path", "value", lambda: (([{"a": 1}], _tmp()), {})),
    # plots
    bad(plot_intervals, "aggregates", "empty", [], "x.png"),
    bad(plot_intervals, "aggregates", "type", [1, 2], "x.png"),
    bad(plot_intervals, "aggregates", "type", 3, "x.png"),
    lazy(plot_intervals, "path", "type", lambda: ((_result().aggregate("x", reps=10), 3), {})),
    bad(plot_profiles, "profiles", "empty", {}, "x.png"),
    bad(plot_profiles, "profiles", "type", {"a": 1}, "x.png"),
    bad(plot_profiles, "profiles", "type", [1], "x.png"),
    lazy(
        plot_profiles,
        "path",
        "type",
        lambda: (({"a": performance_profile(SCORES, [0.0, 1.0], reps=10)}, None), {}),
    ),
    # hypothesis strategies: arguments checked when the strategy is built, before any draw
    bad(score_matrices, "min_runs", "range", min_runs=0),
    bad(score_matrices, "max_runs", "range", min_runs=3, max_runs=2),
    bad(score_matrices, "min_tasks", "type", min_tasks=1.5),
    bad(score_matrices, "max_tasks", "type", max_tasks=None),
    bad(score_matrices, "low", "nan", low=NAN),
    bad(score_matrices, "high", "range", low=1.0, high=0.0),
    bad(score_matrices, "high", "inf", high=INF),
    bad(ragged_scores, "max_runs", "range", max_runs=0),
    bad(ragged_scores, "max_tasks", "type", max_tasks=2.5),
    bad(ragged_scores, "low", "type", low="0"),
    bad(grids_axes, "max_axes", "range", max_axes=6),
    bad(grids_axes, "max_axes", "range", max_axes=-1),
    bad(grids_axes, "max_values", "range", max_values=0),
    bad(grids_axes, "max_values", "type", max_values=True),
    # canonical JSON
    bad(canonical_json, "obj", "nan", {"a": NAN}),
    bad(canonical_json, "obj", "inf", [INF]),
    bad(canonical_json, "obj", "type", {1, 2}),
    bad(canonical_json, "obj", "type", np.zeros(2)),
    # engines, one by one
    bad(resolve_engine, "engine", "option", "dask", _run),
    bad(resolve_engine, "run", "type", "auto", 3),
    bad(connect_ray, "n_jobs", "range", 0),
    bad(connect_ray, "n_jobs", "type", 1.5),
    bad(connect_ray, "n_jobs", "type", True),
    bad(execute, "run", "type", 3, [{}], [0], CTX),
    bad(execute, "configs", "type", _run, {"eps": 1}, [0], CTX),
    bad(execute, "configs", "type", _run, [3], [0], CTX),
    bad(execute, "seeds", "shape", _run, [{}, {}], [0], CTX),
    bad(execute, "seeds", "seed", _run, [{}], [-1], CTX),
    bad(execute, "seeds", "type", _run, [{}], 0, CTX),
    bad(execute, "ctx", "type", _run, [{}], [0], None),
    # the run store
    bad(make_record, "status", "option", **_record(status="done")),
    bad(make_record, "metrics", "nan", **_record(metrics={"x": NAN})),
    bad(make_record, "metrics", "inf", **_record(metrics={"x": -INF})),
    bad(make_record, "metrics", "type", **_record(metrics=[1.0])),
    bad(make_record, "metrics", "type", **_record(metrics={"x": "1"})),
    bad(make_record, "metrics", "type", **_record(metrics={3: 1.0})),
    bad(make_record, "seconds", "range", **_record(seconds=-1.0)),
    bad(make_record, "seconds", "nan", **_record(seconds=NAN)),
    bad(make_record, "config", "type", **_record(config=[("eps", 0.1)])),
    bad(make_record, "config", "nan", **_record(config={"eps": NAN})),
    bad(make_record, "seed", "seed", **_record(seed=-1)),
    bad(make_record, "seed", "seed", **_record(seed=1.5)),
    bad(make_record, "device", "type", **_record(device=None)),
    bad(make_record, "error", "type", **_record(error=3)),
    bad(make_record, "code", "type", **_record(code=1)),
    bad(write_json_atomic, "path", "type", 3, {}),
    bad(write_json_atomic, "path", "empty", "", {}),
    lazy(write_json_atomic, "obj", "nan", lambda: ((_tmp() / "a.json", {"a": NAN}), {})),
    lazy(write_json_atomic, "obj", "type", lambda: ((_tmp() / "a.json", {1, 2}), {})),
    bad(write_record, "runs_dir", "type", None, make_record(**RECORD)),
    lazy(write_record, "record", "type", lambda: ((_tmp(), [1]), {})),
    lazy(write_record, "record", "value", lambda: ((_tmp(), {"status": "ok"}), {})),
    lazy(write_record, "record", "value", lambda: ((_tmp(), {"key": "../escape"}), {})),
    lazy(write_record, "record", "type", lambda: ((_tmp(), {"key": 3}), {})),
    bad(read_record, "path", "type", 3),
    bad(read_record, "path", "type", None),
    bad(load_records, "runs_dir", "type", 3),
    lazy(load_records, "quarantine", "type", lambda: ((_tmp(),), {"quarantine": "no"})),
    bad(RunClaims, "runs_dir", "type", None),
    bad_method(RunClaims, "acquire", "key", "value", (("/tmp",), {}), "../k"),
    bad_method(RunClaims, "acquire", "key", "empty", (("/tmp",), {}), ""),
    bad_method(RunClaims, "acquire", "key", "type", (("/tmp",), {}), 3),
    # the command line
    bad(add_parser, "sub", "type", None),
    bad(add_parser, "sub", "type", argparse.ArgumentParser()),
]


_GATHERED = gather(__file__, __package__)  # the cases of every _cases_* module here
CASES += _GATHERED[0]
EXEMPT.update(_GATHERED[1])


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()


def test_the_metric_error_lists_the_metrics_there_are():
    with pytest.raises(ValueError, match=r"metrics in the table: \['x'\]"):
        aggregate(_result(), "nosuch")
