"""PPO with a critic on sequence policies."""

from __future__ import annotations

import math

import torch

from trainers.sequence import PPOSeqConfig, tied_digit_sum, train_sequence_ppo
from trainers.sequence.ppo import _whiten

torch.set_num_threads(1)


def test_ppo_beats_chance():
    task = tied_digit_sum(n_digits=2, max_digit=2, sums=range(5))
    res = train_sequence_ppo(task, PPOSeqConfig(steps=50, lr=2e-3), seeds=[0])
    chance = float(task.valid_table().double().mean())
    reward = (res.distribution(task).probs * task.reward_table()).sum(-1).mean(-1)
    assert torch.all(reward > chance + 0.2), (reward, chance)
    for key in ("losses/pg", "losses/value", "stats/kl", "stats/clip_ratio"):
        assert key in res.metrics[-1]


def test_ppo_max_switches_run_per_run():
    """Reward normalisation (one running statistic per run) and clipping, advantage clipping,
    value clipping, the entropy bonus, on two stacked runs."""
    task = tied_digit_sum(n_digits=2, max_digit=2, sums=range(5))
    cfg = PPOSeqConfig(
        steps=3,
        batch_size=8,
        reward_norm=True,
        reward_clip=5.0,
        advantage_clip=0.5,
        value_clip=0.2,
        entropy_coef=0.01,
        kl_coef=0.1,
    )
    res = train_sequence_ppo(task, cfg, seeds=[0, 1])
    assert len(res.metrics) == 3
    assert all(math.isfinite(v) for row in res.metrics for v in row.values())
    assert abs(res.metrics[-1]["charts/score"]) <= 5.0


def test_advantage_whitening_is_per_run_over_real_tokens():
    adv = torch.tensor([[[1.0, 3.0, 9.0]], [[10.0, 20.0, 0.0]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True, False]], [[True, True, False]]])
    out = _whiten(adv, mask)
    torch.testing.assert_close(
        out[:, 0, :2],
        torch.tensor([[-1.0, 1.0], [-1.0, 1.0]], dtype=torch.float64),
        atol=1e-6,
        rtol=0,
    )
    assert torch.all(out[..., 2] == 0)
