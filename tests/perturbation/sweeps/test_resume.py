"""Persistence and resume: one atomic JSON record per run; crashes lose or duplicate nothing."""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from perturbation.sweeps import Grid, load, sweep
from perturbation.sweeps import store as store_mod
from perturbation.sweeps.grid import run_key
from perturbation.sweeps.store import read_record, write_json_atomic

GRID = Grid({"eps": [0.0, 1.0, 2.0]}, seeds=4)  # 12 runs


def counted(config, seed, *, marks: str, crash_at=None, how="interrupt", sleep=0.0):
    """Leave one marker file per execution; crash at ``crash_at`` while ``marks/../crash`` exists."""
    key = run_key(config, seed)
    fd = os.open(Path(marks) / f"{key}.{uuid.uuid4().hex}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.close(fd)
    sentinel = Path(marks).parent / "crash"
    if crash_at == (config["eps"], seed) and sentinel.exists():
        sentinel.unlink()
        if how == "kill":
            os._exit(3)  # the worker process dies mid-run
        raise KeyboardInterrupt
    time.sleep(sleep)
    return {"x": config["eps"] + seed}


def executions(marks: Path) -> list[str]:
    """Run keys executed since the markers were last cleared (one entry per execution)."""
    return sorted(p.name.split(".")[0] for p in marks.iterdir())


def clear(marks: Path) -> None:
    for p in marks.iterdir():
        p.unlink()


def persisted(out: Path) -> set[str]:
    return {p.stem for p in (out / "runs").glob("*.json")}


@pytest.fixture
def marks(tmp_path):
    d = tmp_path / "marks"
    d.mkdir()
    return d


def test_records_are_complete_and_checked(tmp_path, marks):
    run = functools.partial(counted, marks=str(marks))
    res = sweep(GRID, run, engine="inprocess", out_dir=tmp_path / "s", progress=False)
    files = sorted((tmp_path / "s" / "runs").glob("*.json"))
    assert len(files) == 12 and persisted(tmp_path / "s") == {s.key for s in GRID}
    rec = read_record(files[0])
    assert {"config", "seed", "code_version", "device", "metrics", "started", "finished"} <= set(
        rec
    )
    assert rec["status"] == "ok" and rec["engine"] == "inprocess"
    manifest = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert manifest["grid"] == GRID.to_dict() and manifest["run"] == "functools.partial"
    assert load(tmp_path / "s").table == res.table


def test_inprocess_interrupt_then_resume_runs_exactly_the_rest(tmp_path, marks):
    out = tmp_path / "s"
    (tmp_path / "crash").touch()
    run = functools.partial(counted, marks=str(marks), crash_at=(1.0, 2))  # the 7th run
    with pytest.raises(KeyboardInterrupt) as info:
        sweep(GRID, run, engine="inprocess", out_dir=out, progress=False)
    assert "6 of 12 runs finished" in "\n".join(info.value.__notes__)
    done = persisted(out)
    assert len(done) == 6
    clear(marks)
    res = sweep(GRID, run, engine="inprocess", out_dir=out, progress=False)
    assert executions(marks) == sorted({s.key for s in GRID} - done)  # each remaining run once
    assert (res.executed, res.reused) == (6, 6) and len(persisted(out)) == 12
    full = sweep(GRID, lambda c, s: {"x": c["eps"] + s}, engine="inprocess", progress=False)
    assert [r["value"] for r in res.table] == [r["value"] for r in full.table]


def test_killed_worker_then_resume_runs_exactly_the_rest(tmp_path, marks):
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    out = tmp_path / "s"
    grid = Grid({"eps": [0.0, 1.0, 2.0, 3.0]}, seeds=4)
    (tmp_path / "crash").touch()
    run = functools.partial(counted, marks=str(marks), crash_at=(2.0, 3), how="kill", sleep=0.05)
    with pytest.raises(TerminatedWorkerError):
        sweep(grid, run, engine="joblib", n_jobs=2, out_dir=out, progress=False)
    done = persisted(out)
    assert 0 < len(done) < 16
    assert not list((out / "runs").glob(".*.tmp"))
    for key in done:  # every file on disk is a complete, valid record
        assert read_record(out / "runs" / f"{key}.json")["status"] == "ok"
    clear(marks)
    res = sweep(grid, run, engine="joblib", n_jobs=2, out_dir=out, progress=False)
    assert executions(marks) == sorted({s.key for s in grid} - done)
    assert res.reused == len(done) and len(persisted(out)) == 16 and not res.failures


def test_corrupt_records_are_detected_and_rerun(tmp_path, marks):
    out = tmp_path / "s"
    run = functools.partial(counted, marks=str(marks))
    sweep(GRID, run, engine="inprocess", out_dir=out, progress=False)
    keys = [s.key for s in GRID]
    runs = out / "runs"
    text = (runs / f"{keys[0]}.json").read_text()
    (runs / f"{keys[0]}.json").write_text(text[: len(text) // 2])  # truncated
    rec = json.loads((runs / f"{keys[1]}.json").read_text())
    rec["metrics"]["x"] = 123.0  # altered: checksum no longer matches
    (runs / f"{keys[1]}.json").write_text(json.dumps(rec))
    (runs / f"{keys[2]}.json").write_text((runs / f"{keys[3]}.json").read_text())  # wrong key
    (runs / f".{keys[4]}.json.abc.tmp").write_text('{"half": ')  # leftover of a killed write
    clear(marks)
    with pytest.warns(RuntimeWarning, match="corrupt run record") as rec_warn:
        res = sweep(GRID, run, engine="inprocess", out_dir=out, progress=False)
    assert len(rec_warn) == 3
    messages = " ".join(str(w.message) for w in rec_warn)
    assert "unreadable" in messages and "checksum" in messages and "does not match" in messages
    assert executions(marks) == sorted(keys[:3])
    assert res.executed == 3 and res.reused == 9
    assert len(list(runs.glob("*.json.corrupt"))) == 3 and not list(runs.glob(".*.tmp"))
    assert [r["value"] for r in res.table] == [s.config["eps"] + s.seed for s in GRID]


def test_atomic_write_never_leaves_a_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    write_json_atomic(target, {"a": 1})

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 1}
    assert list(tmp_path.iterdir()) == [target]  # the temporary file is gone


def test_failed_runs_are_kept_unless_retried(tmp_path):
    out = tmp_path / "s"

    def flaky(config, seed):
        if seed == 0 and not (tmp_path / "fixed").exists():
            raise OSError("disk full")
        return {"x": 1.0}

    with pytest.warns(RuntimeWarning, match="1 of 2 runs failed"):
        sweep(Grid({}, seeds=2), flaky, engine="inprocess", out_dir=out, progress=False)
    (tmp_path / "fixed").touch()
    with pytest.warns(RuntimeWarning, match="1 of 2 runs failed"):
        res = sweep(Grid({}, seeds=2), flaky, engine="inprocess", out_dir=out, progress=False)
    assert res.executed == 0
    res = sweep(
        Grid({}, seeds=2), flaky, engine="inprocess", out_dir=out, retry_failed=True, progress=False
    )
    assert res.executed == 1 and not res.failures


def test_grown_grid_resumes_and_no_resume_reruns(tmp_path, marks):
    out = tmp_path / "s"
    run = functools.partial(counted, marks=str(marks))
    sweep(Grid({"eps": [0.0]}, seeds=2), run, engine="inprocess", out_dir=out, progress=False)
    clear(marks)
    res = sweep(Grid({"eps": [0.0]}, seeds=3), run, engine="inprocess", out_dir=out, progress=False)
    assert executions(marks) == [run_key({"eps": 0.0}, 2)] and res.reused == 2
    clear(marks)
    res = sweep(
        Grid({"eps": [0.0]}, seeds=3),
        run,
        engine="inprocess",
        out_dir=out,
        resume=False,
        progress=False,
    )
    assert len(executions(marks)) == 3 and len(persisted(out)) == 3


def test_other_run_function_in_same_dir_and_missing_manifest_raise(tmp_path):
    out = tmp_path / "s"
    sweep(Grid({}), lambda c, s: {"x": 1.0}, engine="inprocess", out_dir=out, progress=False)

    def other(c, s):
        return {"x": 2.0}

    with pytest.raises(ValueError, match="holds a sweep of run function"):
        sweep(Grid({}), other, engine="inprocess", out_dir=out, progress=False)
    with pytest.raises(ValueError, match=r"no readable sweep\.json"):
        load(tmp_path / "nothing")
