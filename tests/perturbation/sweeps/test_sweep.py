"""sweep(): the tidy table, engines behind one call, batched run functions, failures, errors."""

from __future__ import annotations

import importlib.util
import math
import os

import numpy as np
import pytest

from perturbation.sweeps import Grid, aggregate, batched, sweep
from perturbation.sweeps.sweep import tidy

GRID = Grid({"eps": [0.0, 0.5], "alg": ["a", "b"]}, seeds=3, fixed={"steps": 5})


def quadratic(config, seed):
    """A deterministic toy run: two metrics from the config and a seeded generator."""
    rng = np.random.default_rng(seed)
    noise = float(rng.normal())
    return {"loss": config["eps"] ** 2 + 0.1 * noise, "steps": config["steps"]}


@batched
def quadratic_batched(configs, seeds):
    assert isinstance(configs, list) and isinstance(seeds, list)
    return [quadratic(c, s) for c, s in zip(configs, seeds, strict=True)]


def threads(config, seed):
    import torch

    return {"torch": torch.get_num_threads(), "omp": float(os.environ.get("OMP_NUM_THREADS", -1))}


def test_table_is_tidy_with_provenance():
    res = sweep(GRID, quadratic, engine="inprocess", progress=False)
    rows = res.table
    assert len(rows) == len(GRID) * 2 and res.metrics == ["loss", "steps"]
    assert list(rows[0]) == [
        "steps", "eps", "alg", "seed", "metric", "value", "code_version", "device", "timestamp", "run",
    ]  # fmt: skip
    assert {r["device"] for r in rows} == {"cpu"}
    assert all(r["code_version"] and r["code_version"] != "unknown" for r in rows)
    first = next(r for r in rows if r["metric"] == "loss")
    assert first["value"] == quadratic({"eps": 0.0, "steps": 5}, 0)["loss"]
    assert res.executed == len(GRID) and res.reused == 0 and "12/12 runs ok" in res.summary()


def test_engines_give_identical_tables():
    def strip(rows):
        return [{k: v for k, v in r.items() if k != "timestamp"} for r in rows]

    seq = sweep(GRID, quadratic, engine="inprocess", progress=False)
    job = sweep(GRID, quadratic, engine="joblib", n_jobs=2, progress=False)
    bat = sweep(GRID, quadratic_batched, progress=False)
    assert job.engine == "joblib" and bat.engine == "inprocess"
    assert strip(seq.table) == strip(job.table) == strip(bat.table)
    assert sweep(GRID, quadratic_batched, engine="joblib", n_jobs=2, progress=False).table
    assert sweep(GRID, lambda c, s: {"x": s}, n_jobs=1, progress=False).engine == "joblib"


def test_batched_run_receives_chunks_of_max_batch():
    calls = []

    @batched(max_batch=5)
    def run(configs, seeds):
        calls.append(len(configs))
        return [{"x": float(s)} for s in seeds]

    res = sweep(GRID, run, progress=False)
    assert calls == [5, 5, 2] and len(res.table) == len(GRID)


def test_joblib_workers_use_one_thread():
    pytest.importorskip("torch")
    res = sweep(Grid({}, seeds=2), threads, engine="joblib", n_jobs=2, progress=False)
    assert {r["value"] for r in res.table} == {1.0}


def test_failures_are_recorded_with_reasons_and_warned():
    def run(config, seed):
        if seed == 0:
            raise ArithmeticError("diverged")
        if seed == 1:
            return {"loss": math.nan, "ok": 1.0}
        if seed == 2:
            return 3.0
        return {"loss": 1.0}

    with pytest.warns(RuntimeWarning, match="3 of 4 runs failed"):
        res = sweep(Grid({}, seeds=4), run, engine="inprocess", progress=False)
    errors = [r["error"] for r in res.failures]
    assert errors[0].startswith("ArithmeticError: diverged")
    assert errors[1] == "non-finite metrics: loss=nan"
    assert errors[2].startswith("run returned float, expected a mapping")
    assert [r["seed"] for r in res.table] == [3]  # failed runs have no table rows


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        ({"x": "abc"}, "is not a number"),
        ({}, "no metrics"),
        ({1: 2.0}, "not a non-empty string"),
        ({"x": float("inf")}, "non-finite metrics: x=inf"),
    ],
)
def test_malformed_metrics_fail_the_run(out, reason):
    with pytest.warns(RuntimeWarning, match="1 of 1 runs failed"):
        res = sweep(Grid({}), lambda c, s: out, engine="inprocess", progress=False)
    assert reason in res.failures[0]["error"]


def test_batched_run_with_wrong_length_or_exception_fails_its_chunk():
    @batched
    def short(configs, seeds):
        return [{"x": 1.0}]

    with pytest.warns(RuntimeWarning, match="3 of 3 runs failed"):
        res = sweep(Grid({}, seeds=3), short, progress=False)
    assert res.failures[0]["error"] == "batched run returned 1 results for 3 configurations"

    @batched
    def boom(configs, seeds):
        raise RuntimeError("out of memory")

    with pytest.warns(RuntimeWarning, match="2 of 2 runs failed"):
        res = sweep(Grid({}, seeds=2), boom, progress=False)
    assert all("RuntimeError: out of memory" in r["error"] for r in res.failures)


def test_device_from_config_and_csv(tmp_path):
    res = sweep(
        Grid({"device": ["cpu", "meta"]}),
        lambda c, s: {"x": 1.0},
        engine="inprocess",
        progress=False,
    )
    assert [r["device"] for r in res.table] == ["cpu", "meta"]
    text = res.to_csv(tmp_path / "t.csv").read_text().splitlines()
    assert text[0].startswith("device,seed,metric,value") and len(text) == 3


def test_aggregate_groups_and_tasks():
    res = sweep(GRID, quadratic, engine="inprocess", progress=False)
    per_config = res.aggregate("loss", reps=200)
    assert len(per_config) == 4 and all(a.interval.n_tasks == 1 for a in per_config)
    assert per_config[0].group == {"steps": 5, "eps": 0.0, "alg": "a"}
    by_alg = aggregate(res, "loss", by=["alg"], statistic="mean", reps=200)
    assert [a.group for a in by_alg] == [{"alg": "a"}, {"alg": "b"}]
    assert by_alg[0].interval.n_tasks == 2 and by_alg[0].interval.n_runs == 6  # eps x seeds
    vals = [r["value"] for r in res.table if r["metric"] == "loss" and r["alg"] == "a"]
    assert by_alg[0].point == pytest.approx(np.mean(vals))
    assert by_alg[0].lower <= by_alg[0].point <= by_alg[0].upper
    assert "[alg=a] loss: mean" in by_alg[0].summary()
    assert aggregate(tidy(res.records), "loss", by=[])[0].label == "all"


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"engine": "dask"}, ValueError, "engine must be one of"),
        ({"n_jobs": 0}, ValueError, "n_jobs must be a non-zero integer"),
    ],
)
def test_bad_sweep_arguments_raise(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        sweep(GRID, quadratic, progress=False, **kwargs)


def test_bad_grid_and_run_raise():
    with pytest.raises(ValueError, match="grid must be a Grid"):
        sweep({"eps": [1]}, quadratic, progress=False)
    with pytest.raises(TypeError, match="run must be callable"):
        sweep(GRID, 3, progress=False)
    with pytest.raises(ValueError, match="max_batch must be a positive integer"):
        batched(max_batch=0)


def test_aggregate_bad_input_raises():
    res = sweep(GRID, quadratic, engine="inprocess", progress=False)
    with pytest.raises(ValueError, match="metric 'nope' has no rows"):
        aggregate(res, "nope")
    with pytest.raises(ValueError, match=r"by: \['lr'\] are not config columns"):
        aggregate(res, "loss", by=["lr"])
    with pytest.raises(ValueError, match="statistic must be one of"):
        aggregate(res, "loss", statistic="max")


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="ray is installed")
def test_ray_engine_without_ray_says_how_to_install():
    with pytest.raises(ImportError, match=r"policy-stability\[cluster\]"):
        sweep(GRID, quadratic, engine="ray", progress=False)
