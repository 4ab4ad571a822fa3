"""``perturbation.verify``: worker processes give the sequential report; run-time ordering hints;
workers are stopped without waiting."""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from perturbation.registry import Claim, RunContext, claims
from perturbation.verify import _previous_seconds, _stop_pool, default_jobs, run_claims, verify

#: Cheap claims of three areas (each worker takes whole areas).
CHEAP = "policy-cliff/inverse-bellman,policy-cliff/kl-limit,lipschitz/ordering,counterfactual/upper-bound"


def _row(r):
    ev = r.evidence
    return (r.claim.id, r.outcome, ev.measured, ev.bound, ev.note)


def test_two_workers_give_the_sequential_results_in_order(monkeypatch):
    selected = claims(CHEAP)
    ctx = RunContext(scale="tiny", seed=3)
    one = run_claims(selected, ctx, progress=False, jobs=1)
    # the longest-expected area first: the order of the results must not follow it
    hint = {"counterfactual/upper-bound": 10.0, "lipschitz/ordering": 5.0}
    here = []  # the claims this process ran (the worker's run in the worker)
    plain_run = Claim.run
    monkeypatch.setattr(Claim, "run", lambda c, ctx: here.append(c.id) or plain_run(c, ctx))
    two = run_claims(selected, ctx, progress=False, jobs=2, expected_seconds=hint)
    assert [_row(r) for r in two] == [_row(r) for r in one]
    assert [r.claim.id for r in two] == [c.id for c in selected]
    # this process is one of the two: it took the first area (unknown claims count as the
    # longest: policy-cliff), the worker the next; areas are never split
    areas = {c.id.split("/")[0] for c in selected}
    by_area = {a: {c.id for c in selected if c.id.startswith(f"{a}/")} for a in areas}
    assert set(here) in (by_area["policy-cliff"], by_area["policy-cliff"] | by_area["lipschitz"])


@pytest.mark.slow
def test_three_processes_give_the_sequential_results():
    selected = claims(CHEAP)
    ctx = RunContext(scale="tiny", seed=4)
    one = run_claims(selected, ctx, progress=False, jobs=1)
    three = run_claims(selected, ctx, progress=False, jobs=3)
    assert [_row(r) for r in three] == [_row(r) for r in one]


def _sleep() -> None:
    time.sleep(60)


def test_stop_pool_ends_a_busy_worker():
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    busy = pool.submit(_sleep)
    while not busy.running():  # the worker has started and took the task
        time.sleep(0.01)
    (process,) = pool._processes.values()
    start = time.perf_counter()
    _stop_pool(pool)
    process.join(10)
    assert not process.is_alive()
    assert time.perf_counter() - start < 10  # terminated, not waited for
    _stop_pool(pool)  # a second call is harmless


def test_jobs_must_be_a_positive_integer(tmp_path):
    with pytest.raises(ValueError, match="jobs"):
        verify(tmp_path, only="policy-cliff/kl-limit", jobs=0)
    with pytest.raises(TypeError, match="jobs"):
        run_claims(claims("policy-cliff/kl-limit"), RunContext(), jobs=1.5)
    assert 1 <= default_jobs() <= 2


def test_previous_seconds_reads_the_last_report_else_the_shipped_hint(tmp_path):
    hint = _previous_seconds(tmp_path)  # no report: the shipped timings of every claim
    assert set(hint) == {c.id for c in claims()}
    assert all(s >= 0 for s in hint.values())
    (tmp_path / "results.json").write_text("{not json")
    assert _previous_seconds(tmp_path) == hint
    rows = {"results": [{"claim": "a/b", "seconds": 1.5}]}
    (tmp_path / "results.json").write_text(json.dumps(rows))
    assert _previous_seconds(tmp_path) == {"a/b": 1.5}
