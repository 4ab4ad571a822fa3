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
    run_key,
    sweep,
    tidy,
    write_csv,
)
from tests._audit import Case, audit_ids, bad, lazy

EXEMPT = {
    "Aggregate": "result dataclass returned by aggregate(); takes no user input",
    "Interval": "result dataclass returned by bootstrap_ci(); takes no user input",
    "Profile": "result dataclass returned by performance_profile(); takes no user input",
    "RunSpec": "one item of a Grid, built by Grid.__iter__ from checked input",
    "SweepResult": "result dataclass returned by sweep() and load(); its methods are audited",
    "code_version": "takes no arguments",
    "is_batched": "a predicate: every object is a valid argument (False unless declared)",
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
]


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()


def test_the_metric_error_lists_the_metrics_there_are():
    with pytest.raises(ValueError, match=r"metrics in the table: \['x'\]"):
        aggregate(_result(), "nosuch")
