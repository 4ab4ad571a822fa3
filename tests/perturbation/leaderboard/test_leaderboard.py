"""The leaderboard: its metrics against hand computations, the protocol's pairing, the table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from perturbation import cli
from perturbation.leaderboard import (
    LEADERBOARD_SCALES,
    METHODS,
    Condition,
    MethodRun,
    aggregate,
    compare,
    conditions,
    leaderboard_task,
    method_metrics,
    run_leaderboard,
    run_method,
)
from perturbation.leaderboard.protocol import condition_task
from trainers.sequence import tie_break

TASK = leaderboard_task("tiny")  # two prompts; tie sets {02, 11, 20} and {12, 21}


def _table(masses: dict[int, dict[int, float]]) -> torch.Tensor:
    """log-probabilities (P, M): per prompt, the given completions' masses, the rest spread."""
    P, M = TASK.n_prompts, TASK.completions()[0].shape[0]
    p = torch.zeros(P, M, dtype=torch.float64)
    for x in range(P):
        given = masses.get(x, {})
        rest = 1.0 - sum(given.values())
        others = [m for m in range(M) if m not in given]
        p[x, others] = rest / len(others)
        for m, v in given.items():
            p[x, m] = v
    return p.log()


def _fake_run(tables: list[list[torch.Tensor]], conds: tuple[Condition, ...]) -> MethodRun:
    logp = torch.stack([torch.stack(row) for row in tables])  # (K, n, P, M)
    return MethodRun(
        method="fake", preference=False, lr=1e-3, lr_scores={}, conditions=conds,
        seeds=tuple(range(logp.shape[1])), logp=logp,
        trajectory={"step": np.array([5, 10]), "samples": np.array([50.0, 100.0]),
                    "logp": torch.stack([logp, logp])},
        samples=100.0, wall_s=0.0, metrics=[],
    )  # fmt: skip


def test_metrics_hand_values():
    valid = TASK.valid_table()
    v0 = valid[0].nonzero().flatten().tolist()  # the three tied answers of prompt 0
    v1 = valid[1].nonzero().flatten().tolist()
    fav = tie_break(TASK, 0.0, seed=0).favoured
    f0 = [m for m in v0 if fav[0, m]]
    # clean: uniform over each tie set with total mass 0.9; perturbed: all tie mass on F
    clean = _table({0: {m: 0.3 for m in v0}, 1: {m: 0.45 for m in v1}})
    pert = _table(
        {0: {m: (0.9 / len(f0) if m in f0 else 0.0) for m in v0}, 1: {m: 0.45 for m in v1}}
    )
    conds = (Condition("clean"), Condition("P1", 0.1))
    run = _fake_run([[clean, clean], [pert, clean]], conds)
    ref = clean.expand(2, -1, -1)
    m = method_metrics(run, TASK, ref)
    assert m["accuracy"][0] == pytest.approx([0.9, 0.9])
    # prompt 0 of seed 0 moves TV 1 - |F|/3 onto F; prompt 1 does not move
    tv0 = 1 - len(f0) / 3
    assert m["change"][1] == pytest.approx([tv0 / 2, 0.0])
    assert m["per_unit"][1] == pytest.approx([tv0 / 2 / 0.1, 0.0])
    assert m["shift"][1] == pytest.approx([tv0 / 2, 0.0])
    assert math.isnan(m["change"][0, 0]) and math.isnan(m["shift"][0, 0])
    assert m["entropy"][0] == pytest.approx([1.0, 1.0])  # uniform over each tie set
    assert m["kl_ref"][0] == pytest.approx([0.0, 0.0], abs=1e-12)
    assert m["dispersion"] == pytest.approx([0.0, 0.0])  # the clean seeds agree
    assert m["collapse"][0] == pytest.approx([1.0, 1.0])  # never below 0.1 log|V|


def test_collapse_is_the_budget_fraction_at_the_first_low_entropy_evaluation():
    valid = TASK.valid_table()
    v0 = valid[0].nonzero().flatten().tolist()
    v1 = valid[1].nonzero().flatten().tolist()
    spread = _table({0: {m: 0.3 for m in v0}, 1: {m: 0.45 for m in v1}})
    one = _table({0: {v0[0]: 0.9}, 1: {v1[0]: 0.9}})
    run = _fake_run([[one, spread]], (Condition("clean"),))
    traj = torch.stack([torch.stack([spread, spread])[None], torch.stack([one, spread])[None]])
    run = MethodRun(**{**run.__dict__, "trajectory": {**run.trajectory, "logp": traj}})
    m = method_metrics(run, TASK, spread.expand(2, -1, -1))
    # seed 0 collapses at the second evaluation (100 of 100 samples), seed 1 never
    assert m["collapse"][0] == pytest.approx([1.0, 1.0])
    traj2 = torch.stack([torch.stack([one, spread])[None]] * 2)
    run2 = MethodRun(**{**run.__dict__, "trajectory": {**run.trajectory, "logp": traj2}})
    assert method_metrics(run2, TASK, spread.expand(2, -1, -1))["collapse"][0] == pytest.approx(
        [0.5, 1.0]
    )


def test_conditions_and_their_tasks():
    scale = LEADERBOARD_SCALES["tiny"]
    conds = conditions(scale)
    assert [c.kind for c in conds] == ["clean", "P1", "P1", "P2", "P3"]
    p2 = next(c for c in conds if c.kind == "P2")
    assert condition_task(TASK, p2, preference=False).noise_sigma == pytest.approx(p2.size)
    flipped = condition_task(TASK, p2, preference=True)
    assert flipped.label_flip == pytest.approx(p2.flip) and flipped.noise_sigma == 0
    p3 = conds[-1]
    assert int(condition_task(TASK, p3, preference=False).train_mask.sum()) == 1
    p1 = conds[2]
    rt = condition_task(TASK, p1, preference=False).reward_table()
    assert float((rt - TASK.reward_table()).max()) == pytest.approx(p1.size)


def test_aggregate_and_compare():
    a = aggregate(np.array([1.0, 2.0, 3.0, 4.0]))
    assert a.point == pytest.approx(2.5) and a.lower <= a.point <= a.upper
    assert math.isnan(aggregate(np.array([math.nan, math.nan])).point)
    better = compare(np.array([0.1, 0.2]), np.array([0.5, 0.6]), higher_is_better=False)
    assert better.point == 1.0


@pytest.fixture(scope="module")
def dpo_run() -> MethodRun:
    return run_method(METHODS["dpo"], "tiny", only=["P1"])


def test_run_method_pairs_runs_by_seed(dpo_run: MethodRun):
    """Each condition holds one run per seed, in the same order; the clean runs of two seeds
    differ (their seeds differ) and every run is a normalised distribution."""
    K, n = dpo_run.logp.shape[:2]
    assert K == 3 and n == LEADERBOARD_SCALES["tiny"].seeds
    assert [c.label for c in dpo_run.conditions] == ["clean", "P1 ε=0.001", "P1 ε=0.1"]
    assert torch.allclose(
        dpo_run.logp.exp().sum(-1), torch.ones(K, n, TASK.n_prompts, dtype=torch.float64)
    )
    assert float((dpo_run.logp[0, 0] - dpo_run.logp[0, 1]).abs().max()) > 1e-3
    assert dpo_run.trajectory["logp"].shape[1:3] == (K, n)


def test_leaderboard_writes_table_and_plots(tmp_path):
    res = run_leaderboard(
        "tiny", methods=["dpo"], perturbations=["P1"], out_dir=tmp_path, progress=False
    )
    assert "DPO" in res.table()
    data = json.loads((tmp_path / "leaderboard.json").read_text())
    assert set(data["methods"]) == {"dpo"}
    for name in ("leaderboard.md", "change_vs_eps.png", "entropy.png", "per_unit.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_cli_refuses_unknown_method_and_perturbation(capsys):
    assert cli.main(["leaderboard", "--methods", "nope", "--scale", "tiny"]) == 2
    assert cli.main(["leaderboard", "--perturbations", "P9", "--scale", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "P9" in err
