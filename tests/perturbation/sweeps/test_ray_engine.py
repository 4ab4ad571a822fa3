"""The Ray engine's connection logic, on a fake ``ray`` module (Ray itself is optional).

A sweep reuses the Ray instance the process is connected to, connects once to ``RAY_ADDRESS``
or starts one local instance and keeps it for the following sweeps (never one per call), and
reports a failure to connect or start as what it is, before any run executes.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from perturbation.sweeps import Grid, sweep
from perturbation.sweeps.engines import EngineStartError, connect_ray

GRID = Grid({"eps": [0.0, 1.0]}, seeds=3)


def square(config, seed):
    return {"y": config["eps"] ** 2 + seed}


class _Ref:
    def __init__(self, value: Any) -> None:
        self.value = value


class FakeRay(types.ModuleType):
    """The parts of Ray's API the engine uses; tasks run at once, in this process."""

    def __init__(self, fail: Exception | None = None, initialized: bool = False) -> None:
        super().__init__("ray")
        self.fail, self.initialized = fail, initialized
        self.inits: list[dict[str, Any]] = []
        self.shutdowns = 0
        self.submitted = 0

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **kwargs: Any) -> None:
        self.inits.append(kwargs)
        if self.fail is not None:
            raise self.fail
        self.initialized = True

    def shutdown(self) -> None:
        self.shutdowns += 1
        self.initialized = False

    def available_resources(self) -> dict[str, float]:
        assert self.initialized, "used before ray.init"
        return {"CPU": 2.0}

    def put(self, obj: Any) -> _Ref:
        return _Ref(obj)

    def remote(self, **options: Any):
        fake = self

        def wrap(fn):
            class Task:
                @staticmethod
                def remote(run_ref, configs, seeds, ctx):
                    fake.submitted += 1
                    return _Ref(fn(run_ref.value, configs, seeds, ctx))

            return Task

        return wrap

    def wait(self, refs: list, num_returns: int = 1) -> tuple[list, list]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: _Ref) -> Any:
        return ref.value


@pytest.fixture
def fake_ray(monkeypatch):
    def install(**kwargs: Any) -> FakeRay:
        fake = FakeRay(**kwargs)
        monkeypatch.setitem(sys.modules, "ray", fake)
        return fake

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return install


def _values(res) -> list[float]:
    return [r["value"] for r in res.table]


EXPECTED = [0.0, 1.0, 2.0, 1.0, 2.0, 3.0]


def test_an_initialised_instance_is_used_as_it_is(fake_ray):
    ray = fake_ray(initialized=True)
    res = sweep(GRID, square, engine="ray", progress=False)
    assert _values(res) == EXPECTED and {r["engine"] for r in res.records} == {"ray"}
    assert ray.inits == [] and ray.shutdowns == 0 and ray.is_initialized()
    assert connect_ray() == "existing"


def test_ray_address_is_connected_once_and_kept(fake_ray, monkeypatch):
    ray = fake_ray()
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    for _ in range(3):
        assert _values(sweep(GRID, square, engine="ray", progress=False)) == EXPECTED
    assert [i.get("address") for i in ray.inits] == ["ray://head:10001"]
    assert ray.shutdowns == 0


def test_a_local_instance_is_started_once_and_kept(fake_ray):
    ray = fake_ray()
    sweep(GRID, square, engine="ray", n_jobs=2, progress=False)
    sweep(GRID, square, engine="ray", n_jobs=2, progress=False)
    assert len(ray.inits) == 1 and ray.inits[0]["num_cpus"] == 2 and ray.shutdowns == 0


def test_tasks_are_submitted_as_runs_finish(fake_ray):
    ray = fake_ray(initialized=True)
    grid = Grid({"eps": [float(i) for i in range(10)]}, seeds=2)
    res = sweep(grid, square, engine="ray", progress=False)
    assert ray.submitted == 20 and len(res.table) == 20 and not res.failures


def test_nothing_to_run_connects_to_nothing(fake_ray, tmp_path):
    sweep(GRID, square, engine="inprocess", out_dir=tmp_path / "s", progress=False)
    ray = fake_ray(fail=ConnectionError("unreachable"))
    res = sweep(GRID, square, engine="ray", out_dir=tmp_path / "s", progress=False)
    assert res.reused == len(GRID) and ray.inits == []


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (
            "ray://head:10001",
            r"cannot connect to the Ray cluster at RAY_ADDRESS='ray://head:10001'",
        ),
        (None, "cannot start a local Ray instance"),
    ],
)
def test_start_up_failures_are_reported_as_such(fake_ray, monkeypatch, tmp_path, address, message):
    fake_ray(fail=ConnectionError("no cluster there"))
    if address:
        monkeypatch.setenv("RAY_ADDRESS", address)
    for out_dir in (None, tmp_path / "s"):
        with pytest.raises(EngineStartError, match=message) as info:
            sweep(GRID, square, engine="ray", out_dir=out_dir, progress=False)
        assert "ConnectionError: no cluster there" in str(info.value)
        notes = "\n".join(getattr(info.value, "__notes__", []))
        assert "call sweep() again" not in notes and "interrupted" not in notes
    assert not list((tmp_path / "s" / "runs").iterdir())  # no run started


def test_an_interrupted_sweep_without_out_dir_does_not_suggest_resuming():
    def stop(config, seed):
        if seed == 1:
            raise KeyboardInterrupt
        return {"y": 1.0}

    with pytest.raises(KeyboardInterrupt) as info:
        sweep(GRID, stop, engine="inprocess", progress=False)
    notes = "\n".join(info.value.__notes__)
    assert "1 of 6 runs finished, in memory only (lost)" in notes
    assert "same out_dir" not in notes
