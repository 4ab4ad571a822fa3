"""The Ray engine on a local instance (optional dependency: skipped without ray)."""

from __future__ import annotations

import functools

import pytest

from perturbation.sweeps import Grid, batched, sweep

from .test_resume import counted, executions, persisted

ray = pytest.importorskip(
    "ray", reason="ray is not installed (pip install 'policy-stability[cluster]')"
)


def square(config, seed):
    return {"y": config["eps"] ** 2 + seed}


@batched(max_batch=4)
def square_batched(configs, seeds):
    return [square(c, s) for c, s in zip(configs, seeds, strict=True)]


@pytest.mark.slow
def test_ray_sweep_on_a_local_instance_matches_inprocess_and_resumes(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    grid = Grid({"eps": [0.0, 0.5, 1.0]}, seeds=3)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        res = sweep(grid, square, engine="ray", progress=False)
        ref = sweep(grid, square, engine="inprocess", progress=False)
        assert res.engine == "ray" and not res.failures
        assert [r["value"] for r in res.table] == [r["value"] for r in ref.table]
        assert {r["engine"] for r in res.records} == {"ray"}
        bat = sweep(grid, square_batched, engine="ray", progress=False)
        assert [r["value"] for r in bat.table] == [r["value"] for r in ref.table]
        # persisted and resumed like every engine
        marks = tmp_path / "marks"
        marks.mkdir()
        run = functools.partial(counted, marks=str(marks))
        out = tmp_path / "s"
        sweep(Grid({"eps": [0.0]}, seeds=2), run, engine="ray", out_dir=out, progress=False)
        res = sweep(Grid({"eps": [0.0]}, seeds=3), run, engine="ray", out_dir=out, progress=False)
        assert res.reused == 2 and len(executions(marks)) == 3 and len(persisted(out)) == 3
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_engine_starts_one_local_instance_and_keeps_it(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    try:
        res = sweep(Grid({"eps": [1.0]}, seeds=2), square, engine="ray", n_jobs=2, progress=False)
        assert [r["value"] for r in res.table] == [1.0, 2.0]
        assert ray.is_initialized()  # kept for the next sweep of this process
        res = sweep(Grid({"eps": [2.0]}, seeds=1), square, engine="ray", progress=False)
        assert [r["value"] for r in res.table] == [4.0]
    finally:
        ray.shutdown()
