"""SFT on expert completions and the tie-spreading reference."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.sequence import SFTConfig, pretrain_reference, tied_digit_sum, train_sft

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def task():
    return tied_digit_sum(n_digits=2, max_digit=2, sums=range(5))


def test_sft_on_solutions_puts_its_mass_on_the_solution(task):
    res = train_sft(task, SFTConfig(steps=60, lr=3e-3), seeds=[0, 1])
    dist = res.distribution(task)
    tokens, _ = task.completions()
    # index of each prompt's canonical solution among the enumerated completions
    match = (tokens[None] == task.solutions[:, None]).all(-1)  # (P, M)
    mass = dist.mass(match)
    assert torch.all(mass > 0.5), mass
    assert res.ref_policy is None
    assert res.metrics[-1]["losses/loss"] < res.metrics[0]["losses/loss"]


def test_pretrained_reference_spreads_over_each_tie_set(task):
    """Targets drawn uniformly from the tie set: most mass on it, spread nearly uniformly
    (restricted entropy close to log |tie set|), unlike SFT on the one canonical solution."""
    valid = task.valid_table()
    ref = pretrain_reference(task, seeds=[0], config=SFTConfig(targets="valid", steps=60, lr=3e-3))
    dist = ref.distribution(task)
    assert torch.all(dist.mass(valid) > 0.5)
    sizes = valid.sum(-1).double()
    spread = dist.restrict(valid).entropy()[0]
    tied = sizes > 1
    assert torch.all(spread[tied] > 0.8 * sizes[tied].log()), (spread, sizes.log())
    assert math.isfinite(ref.metrics[-1]["stats/entropy"])


def test_uniform_mix_keeps_mass_off_the_tie_sets(task):
    cfg = SFTConfig(targets="valid", steps=40, lr=3e-3, uniform_mix=0.5)
    res = train_sft(task, cfg, seeds=[0])
    outside = 1 - res.distribution(task).mass(task.valid_table())
    assert torch.all(outside > 0.2)
