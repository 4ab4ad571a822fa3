"""DPO/IPO on completion pairs: the Bradley-Terry oracle, learning, stacked runs == one by one."""

from __future__ import annotations

import pytest
import torch

from tests.trainers.sequence.conftest import close
from trainers.sequence import (
    SequenceDPOConfig,
    bradley_terry_pairs,
    tie_break,
    tied_digit_sum,
    train_sequence_dpo,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def task():
    return tied_digit_sum(n_digits=2, max_digit=2, sums=range(5))


def test_oracle_pairs_follow_bradley_terry(task):
    table = task.reward_table()
    p, w, lo = bradley_terry_pairs(task, 4000, seed=1, scale=1.0)
    assert p.shape == w.shape == lo.shape == (4000,)
    assert torch.all(w != lo)
    gap = table[p, w] - table[p, lo]
    assert torch.all(gap != 0)  # ties are redrawn by default
    # binary rewards: the better completion wins with probability sigmoid(1) = 0.731
    frac = float((gap > 0).double().mean())
    assert abs(frac - torch.sigmoid(torch.tensor(1.0)).item()) < 0.03
    # ties kept: about (1 - 2 v (1 - v)) of the pairs tie, v the valid fraction
    p2, w2, l2 = bradley_terry_pairs(task, 4000, seed=1, drop_ties=False)
    assert float((table[p2, w2] == table[p2, l2]).double().mean()) > 0.8
    # seeded
    again = bradley_terry_pairs(task, 4000, seed=1, scale=1.0)
    assert all(torch.equal(a, b) for a, b in zip((p, w, lo), again, strict=True))


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo"])
def test_dpo_beats_chance(task, loss_type):
    cfg = SequenceDPOConfig(loss_type=loss_type, steps=80, oracle_scale=5.0, lr=2e-3)
    res = train_sequence_dpo(task, cfg, seeds=[0])
    chance = float(task.valid_table().double().mean())
    reward = (res.distribution(task).probs * task.reward_table()).sum(-1).mean(-1)
    assert torch.all(reward > chance + 0.15), (reward, chance)
    assert res.metrics[-1]["rewards/accuracies"] > 0.8


def test_stacked_runs_equal_runs_one_by_one(task):
    tasks = [task, tie_break(task, 0.5, seed=2)]
    cfg = SequenceDPOConfig(steps=4, batch_size=8, n_pairs=64, lr=3e-3, dtype="float64")
    both = train_sequence_dpo(tasks, cfg, seeds=[3, 5]).distribution(task).logp
    alone = [
        train_sequence_dpo(t, cfg, seeds=[s]).distribution(task).logp
        for t, s in zip(tasks, (3, 5), strict=True)
    ]
    torch.testing.assert_close(both, torch.cat(alone), rtol=0, atol=1e-9)
    assert not torch.allclose(both[0], both[1])


def test_given_pairs_are_shared_by_the_runs(task):
    pairs = bradley_terry_pairs(task, 32, seed=0, scale=5.0)
    cfg = SequenceDPOConfig(steps=2, batch_size=4)
    res = train_sequence_dpo(task, cfg, pairs=pairs, seeds=[0, 1])
    assert res.tokens_seen == 2 * 2 * 2 * 4 * task.completion_len  # runs x steps x 2K x L
    assert res.distribution(task).logp.shape[0] == 2
    assert "dpo: 2 run(s)" in res.summary()


def test_pairs_given_per_run(task):
    """A list of N (prompt, chosen, rejected) tuples trains run i on tuple i: stacked equals
    one by one, and a list repeating one tuple equals that tuple shared."""
    a = bradley_terry_pairs(task, 32, seed=0, scale=5.0)
    b = bradley_terry_pairs(task, 16, seed=1, scale=5.0)
    cfg = SequenceDPOConfig(steps=3, batch_size=4, lr=3e-3, dtype="float64", d_model=8, n_layers=1)
    both = train_sequence_dpo(task, cfg, pairs=[a, b], seeds=[3, 5])
    alone = [
        train_sequence_dpo(task, cfg, pairs=pr, seeds=[s]).distribution(task).logp
        for pr, s in ((a, 3), (b, 5))
    ]
    close(both.distribution(task).logp, torch.cat(alone), 1e-9)
    shared = train_sequence_dpo(task, cfg, pairs=a, seeds=[3, 5]).distribution(task).logp
    listed = train_sequence_dpo(task, cfg, pairs=[a, a], seeds=[3, 5]).distribution(task).logp
    close(shared, listed, 0.0)
    assert "stats/entropy" in both.metrics[-1]
