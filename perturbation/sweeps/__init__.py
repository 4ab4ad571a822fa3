"""Sweeps: a grid of configurations -> a run function -> a tidy, persisted, resumable table.

The toolkit's one way to run many trainings or experiments::

    from perturbation.sweeps import Grid, sweep, aggregate

    grid = Grid({"eps": [0.0, 0.01, 0.1], "beta": [0.1, 1.0]}, seeds=8)
    res = sweep(grid, run, out_dir="runs/cliff")   # run(config, seed) -> {"tv": ...}
    res.table                                     # one row per run and metric
    aggregate(res, "tv", by=["beta"])             # IQM over seeds x eps, stratified bootstrap CI

Engines behind the same call: ``inprocess`` (batched run functions get whole chunks, see
:func:`batched`), ``joblib`` (local processes, one thread each; the default for plain run
functions; its workers end with the sweep process) and ``ray`` (the Ray instance already
connected, ``RAY_ADDRESS``, or a local instance started once and kept; optional). Each finished
run is written atomically to ``out_dir/runs/<key>.json``; an interrupted sweep resumes where it
stopped, and several processes may sweep into one ``out_dir`` at once (each run is claimed, so it
executes once).
Statistics (:mod:`perturbation.sweeps.stats`) follow rliable (Agarwal et al., NeurIPS 2021).
"""

from perturbation.sweeps.engines import ENGINES, batched, is_batched
from perturbation.sweeps.grid import Grid, RunSpec, run_key
from perturbation.sweeps.stats import (
    Interval,
    Profile,
    bootstrap_ci,
    bootstrap_distribution,
    iqm,
    mean,
    mean_interval,
    median,
    optimality_gap,
    performance_profile,
    probability_of_improvement,
    seed_interval,
)
from perturbation.sweeps.store import code_version
from perturbation.sweeps.sweep import (
    Aggregate,
    SweepResult,
    aggregate,
    load,
    sweep,
    tidy,
    write_csv,
)

__all__ = [
    "ENGINES",
    "Aggregate",
    "Grid",
    "Interval",
    "Profile",
    "RunSpec",
    "SweepResult",
    "aggregate",
    "batched",
    "bootstrap_ci",
    "bootstrap_distribution",
    "code_version",
    "iqm",
    "is_batched",
    "load",
    "mean",
    "mean_interval",
    "median",
    "optimality_gap",
    "performance_profile",
    "plot_intervals",
    "plot_profiles",
    "probability_of_improvement",
    "run_key",
    "seed_interval",
    "sweep",
    "tidy",
    "write_csv",
]


def __getattr__(name: str):  # the plots import matplotlib: load them on first use
    if name in ("plot_intervals", "plot_profiles"):
        from perturbation.sweeps import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'perturbation.sweeps' has no attribute {name!r}")
