"""Faults: concurrent sweeps into one directory, claims of killed processes, orphaned workers.

Two processes running the same sweep into one ``out_dir`` must neither delete each other's
in-flight temporary files nor execute a run twice; the claim of a process killed mid-run must
not block the run forever; and the joblib workers of a sweep killed with ``kill -9`` must end
with it instead of executing runs whose results nobody records.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from perturbation.sweeps import Grid, sweep
from perturbation.sweeps import store as store_mod
from perturbation.sweeps.store import RunClaims, load_records, make_record, write_record

from .test_resume import counted, executions, persisted

ROOT = Path(__file__).resolve().parents[3]

posix_only = pytest.mark.skipif(store_mod.fcntl is None, reason="claims need fcntl (POSIX)")

CHILD = textwrap.dedent(
    """
    import functools, os, sys, time
    _replace = os.replace

    def slow_replace(src, dst):  # a slowed write: each record's temporary file lives 50 ms
        if os.path.basename(os.path.dirname(dst)) == "runs":
            time.sleep(0.05)
        _replace(src, dst)

    os.replace = slow_replace
    from pathlib import Path
    from perturbation.sweeps import Grid, sweep
    from tests.perturbation.sweeps.test_resume import counted

    out, marks, go, second = sys.argv[1:5]
    while not os.path.exists(go):
        time.sleep(0.002)
    # the second process starts while the first one is writing a record
    while second == "1" and not list(Path(out, "runs").glob(".*.tmp")):
        time.sleep(0.001)
    run = functools.partial(counted, marks=marks, sleep=0.01)
    grid = Grid({"eps": [0.0, 1.0, 2.0]}, seeds=8)
    res = sweep(grid, run, engine="inprocess", out_dir=out, progress=False)
    print(res.executed, res.reused, sum(r["value"] for r in res.table), flush=True)
    """
)


def _spawn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )


@posix_only
def test_two_processes_share_one_out_dir_and_run_each_run_once(tmp_path):
    out, marks, go = tmp_path / "s", tmp_path / "marks", tmp_path / "go"
    marks.mkdir()
    procs = [_spawn(CHILD, str(out), str(marks), str(go), str(i)) for i in range(2)]
    time.sleep(0.5)  # let both import; they then wait for the go file
    go.touch()
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    grid = Grid({"eps": [0.0, 1.0, 2.0]}, seeds=8)
    keys = sorted(s.key for s in grid)
    assert executions(marks) == keys  # every run executed exactly once, over both processes
    stats = [tuple(float(x) for x in o.split()) for o in outputs]
    assert sum(s[0] for s in stats) == len(grid)  # executed here + executed there
    assert all(s[0] + s[1] == len(grid) for s in stats)  # each result is complete
    total = sum(s.config["eps"] + s.seed for s in grid)
    assert all(s[2] == total for s in stats)
    runs = out / "runs"
    assert persisted(out) == set(keys)
    assert not list(runs.glob(".*.tmp")) and not list(runs.glob(".*.claim"))


@posix_only
def test_claims_exclude_each_other_and_the_kernel_drops_them(tmp_path):
    a, b = RunClaims(tmp_path), RunClaims(tmp_path)
    assert a.acquire("k") and not b.acquire("k")
    a.release("k")
    assert b.acquire("k") and b.held == {"k"}
    b.release_all()
    assert not b.held and not list(tmp_path.iterdir())
    # a claim file left by a killed process is unlocked: the next claimant takes it over
    (tmp_path / ".k.claim").touch()
    assert a.acquire("k")
    a.release("k")


@posix_only
def test_a_run_held_by_another_process_is_waited_for_and_its_record_taken(tmp_path):
    out, marks = tmp_path / "s", tmp_path / "marks"
    marks.mkdir()
    grid = Grid({"eps": [0.0, 1.0]}, seeds=2)
    specs = list(grid)
    first, last = specs[0], specs[-1]
    (out / "runs").mkdir(parents=True)
    other = RunClaims(out / "runs")  # stands for a second sweep process
    assert other.acquire(first.key) and other.acquire(last.key)

    def finish_elsewhere():
        time.sleep(0.3)
        rec = make_record(
            config=first.config,
            seed=first.seed,
            status="ok",
            metrics={"x": 99.0},
            error=None,
            device="cpu",
            engine="inprocess",
            started="s",
            finished="f",
            seconds=0.0,
        )
        write_record(out / "runs", rec)
        other.release(first.key)
        other.release(last.key)  # "killed" before writing this one's record

    t = threading.Thread(target=finish_elsewhere)
    t.start()
    run = functools.partial(counted, marks=str(marks))
    res = sweep(grid, run, engine="inprocess", out_dir=out, progress=False)
    t.join()
    assert first.key not in executions(marks)  # taken from the other process's record
    assert executions(marks).count(last.key) == 1  # abandoned by it: executed here
    assert (res.executed, res.reused) == (3, 1)
    assert res.records[0]["metrics"] == {"x": 99.0} and len(persisted(out)) == 4


@posix_only
def test_the_claim_of_a_killed_process_does_not_block_its_run(tmp_path):
    out, marks = tmp_path / "s", tmp_path / "marks"
    marks.mkdir()
    code = textwrap.dedent(
        """
        import functools, sys
        from perturbation.sweeps import Grid, sweep
        from tests.perturbation.sweeps.test_resume import counted
        run = functools.partial(counted, marks=sys.argv[2], sleep=60.0)
        sweep(Grid({"eps": [0.0]}, seeds=2), run, engine="inprocess", out_dir=sys.argv[1],
              progress=False)
        """
    )
    proc = _spawn(code, str(out), str(marks))
    try:
        deadline = time.monotonic() + 30
        while not executions(marks) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert executions(marks), "the child sweep did not start"
    finally:
        proc.kill()  # SIGKILL, mid-run, holding its claim
        proc.wait()
    assert list((out / "runs").glob(".*.claim"))  # left behind, no longer locked
    run = functools.partial(counted, marks=str(marks))
    t0 = time.monotonic()
    res = sweep(Grid({"eps": [0.0]}, seeds=2), run, engine="inprocess", out_dir=out, progress=False)
    assert time.monotonic() - t0 < 5 and res.executed == 2 and not res.failures


def test_leftover_temporary_files_are_removed_only_when_their_writer_is_gone(tmp_path):
    host = store_mod._HOST
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    dead = int(child.stdout)
    live = tmp_path / f".k.json.tmp-{host}-{os.getppid()}-abc123.tmp"  # in flight elsewhere
    mine = tmp_path / f".k.json.tmp-{host}-{os.getpid()}-abc123.tmp"  # in flight here
    gone = tmp_path / f".k.json.tmp-{host}-{dead}-abc123.tmp"  # its writer was killed
    far = tmp_path / ".k.json.tmp-otherhost-1-abc123.tmp"  # another host's, recent
    old = tmp_path / ".q.json.tmp-otherhost-1-def456.tmp"  # another host's, a day old
    legacy = tmp_path / ".k.json.abc.tmp"  # an older version's name
    for p in (live, mine, gone, far, old, legacy):
        p.write_text("{")
    stale = time.time() - store_mod.STALE_TMP_SECONDS - 60
    os.utime(old, (stale, stale))
    load_records(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, mine.name, far.name])


WORKERS = textwrap.dedent(
    """
    import functools, os, sys, time
    from perturbation.sweeps import Grid, sweep

    def slow(config, seed, marks):
        open(os.path.join(marks, f"{os.getpid()}.{seed}"), "w").close()
        time.sleep(0.4)
        return {"x": 1.0}

    run = functools.partial(slow, marks=sys.argv[1])
    sweep(Grid({}, seeds=60), run, engine="joblib", n_jobs=2, progress=False)
    """
)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@pytest.mark.skipif(sys.platform != "linux", reason="kill -9 semantics checked on Linux")
def test_joblib_workers_end_with_their_killed_parent(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = _spawn(WORKERS, str(marks))
    try:
        deadline = time.monotonic() + 60
        while len({p.name.split(".")[0] for p in marks.iterdir()}) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    workers = {int(p.name.split(".")[0]) for p in marks.iterdir()}
    assert proc.pid not in workers
    deadline = time.monotonic() + 3.0
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "workers outlived their parent"
    n = len(list(marks.iterdir()))
    time.sleep(0.5)
    assert len(list(marks.iterdir())) == n < 60  # nothing executed after they ended
