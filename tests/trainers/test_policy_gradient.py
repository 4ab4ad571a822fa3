"""Bandit policy gradient: batched == one by one, closed-form convergence, smoke, configs, I/O."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from trainers.dpo import DPOConfig, preference_pairs, train_dpo
from trainers.policy_gradient import PGConfig, train_bandit, train_bandit_runs
from trainers.runtime import MetricsLog, load_checkpoint, save_checkpoint
from trainers.tasks import ContextualBandit, multi_reward_bandit, verifiable_bandit


@pytest.fixture(scope="module")
def small_task() -> ContextualBandit:
    rng = np.random.default_rng(0)
    return ContextualBandit.tabular(rng.uniform(0, 1, (4, 5)), rng.dirichlet(np.ones(5), 4))


@pytest.mark.parametrize(
    "cfg",
    [
        PGConfig(
            algorithm="grpo",
            beta=0.04,
            kl_estimator="k3",
            scale_rewards="group",
            update_epochs=2,
            max_grad_norm=0.5,
            hidden=16,
            steps=60,
            dtype="float64",
        ),
        PGConfig(
            algorithm="ppo",
            reward_norm=True,
            reward_clip=3.0,
            advantage_clip=0.5,
            entropy_coef=0.01,
            steps=60,
            init_std=0.3,
            dtype="float64",
            optimizer="sgd",
        ),
        PGConfig(algorithm="exact", beta=0.5, steps=60, hidden=8, dtype="float64"),
    ],
    ids=["grpo-mlp", "ppo-max", "exact"],
)
def test_batched_equals_one_by_one(small_task, cfg):
    rng = np.random.default_rng(3)
    rewards = small_task.rewards + rng.uniform(0, 0.1, (5, *small_task.rewards.shape))
    seeds = [0, 1, 2, 7, 9]
    a = train_bandit_runs(small_task, cfg, seeds, rewards=rewards, batched=True)
    b = train_bandit_runs(small_task, cfg, seeds, rewards=rewards, batched=False)
    np.testing.assert_allclose(a.policies, b.policies, atol=1e-10)
    for k in a.state_dict:
        torch.testing.assert_close(a.state_dict[k], b.state_dict[k], atol=1e-9, rtol=1e-9)
    # runs are independent: different seeds give different runs
    if cfg.algorithm != "exact" or cfg.hidden:
        assert np.abs(a.policies[0] - a.policies[1]).max() > 1e-6


@pytest.mark.parametrize("algorithm,estimator", [("reinforce", "reward"), ("exact", "exact")])
def test_kl_regularized_pg_converges_to_closed_form(small_task, algorithm, estimator):
    cfg = PGConfig(
        algorithm=algorithm,
        beta=0.5,
        kl_estimator=estimator,
        steps=600,
        lr=0.1,
        group_size=16,
        dtype="float64",
        init_std=0.5,
    )
    res = train_bandit_runs(small_task, cfg, range(3))
    assert res.max_tv(small_task.closed_form(0.5)).max() < 1e-3


def test_k3_loss_converges_elsewhere(small_task):
    """[derived] The k3 loss optimizes KL(ref||pi): its fixed point is not the closed form."""
    cfg = PGConfig(
        algorithm="reinforce",
        beta=0.5,
        kl_estimator="k3",
        steps=600,
        lr=0.1,
        group_size=16,
        dtype="float64",
    )
    assert train_bandit(small_task, cfg).max_tv(small_task.closed_form(0.5)).max() > 0.01


def test_grpo_learns_verifiable_bandit():
    task = verifiable_bandit(np.random.default_rng(0), n_contexts=32)
    cfg = PGConfig(
        algorithm="grpo",
        beta=0.04,
        kl_estimator="k3",
        scale_rewards="group",
        hidden=64,
        lr=0.01,
        steps=200,
    )
    res = train_bandit_runs(task, cfg, [0, 1])
    acc = (res.policies * task.rewards).sum(-1).mean(-1)
    assert np.all(acc > 0.1 + 0.5), acc  # chance is 1/10
    assert res.metrics[-1]["charts/expected_reward"] == pytest.approx(acc.mean(), abs=1e-5)
    assert "losses/clipfrac" in res.metrics[-1]


def test_multi_reward_bandit_has_exact_ties():
    mr = multi_reward_bandit(np.random.default_rng(0))
    r = mr.bandit().rewards
    for c in mr.boundary:
        assert np.sum(r[c] == r[c].max()) == mr.tie_size
    for c in mr.interior():
        assert np.sum(r[c] == r[c].max()) == 1


def test_dpo_learns_preferences():
    rng = np.random.default_rng(0)
    task = ContextualBandit.tabular(rng.uniform(0, 2, (6, 4)))
    res = train_dpo(
        task, preference_pairs(task, 4000, rng), DPOConfig(beta=1.0, steps=300), progress=False
    )
    agree = np.mean(res.policy.argmax(-1) == task.rewards.argmax(-1))
    assert agree >= 0.25 + 0.4  # chance 1/4
    assert 0.5 * np.abs(res.policy - task.closed_form(1.0)).sum(-1).max() < 0.15


def test_checkpoint_round_trip(tmp_path, small_task):
    cfg = PGConfig(steps=5, hidden=4)
    res = train_bandit(small_task, cfg, progress=False)
    save_checkpoint(tmp_path / "run", res.state_dict, cfg)
    state, cfg2 = load_checkpoint(tmp_path / "run", PGConfig)
    assert cfg2 == cfg
    for k, v in res.state_dict.items():
        torch.testing.assert_close(state[k], v)
    with pytest.raises(ValueError, match="DPOConfig"):
        load_checkpoint(tmp_path / "run", DPOConfig)
    with pytest.raises(ValueError, match="dataclass"):
        save_checkpoint(tmp_path / "x", res.state_dict, {"a": 1})


def test_metrics_csv(tmp_path):
    log = MetricsLog(2, progress=False)
    log.log(1, {"losses/a": torch.tensor(1.5)})
    log.log(2, {"losses/a": 2.0, "charts/b": 3.0})
    text = log.to_csv(tmp_path / "m.csv").read_text().splitlines()
    assert text[0] == "step,losses/a,charts/b" and len(text) == 3
    assert log.last("charts/b") == 3.0 and np.isnan(log.last("nope"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"algorithm": "sac"},
        {"steps": 0},
        {"group_size": 1},
        {"lr": -1.0},
        {"beta": -0.1},
        {"kl_estimator": "k2"},
        {"clip_low": 1.0},
        {"scale_rewards": "std"},
        {"dtype": "float16"},
        {"max_grad_norm": 0.0},
    ],
)
def test_bad_config_rejected(kwargs):
    with pytest.raises(ValueError, match=re.escape(f"PGConfig.{next(iter(kwargs))}")):
        PGConfig(**kwargs)


def test_bad_inputs_rejected(small_task):
    with pytest.raises(ValueError, match="seeds"):
        train_bandit_runs(small_task, PGConfig(steps=1), [])
    with pytest.raises(ValueError, match="rewards"):
        train_bandit_runs(small_task, PGConfig(steps=1), [0, 1], rewards=np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match="device"):
        train_bandit(small_task, PGConfig(steps=1), device="tpu")
    with pytest.raises(ValueError, match="reference"):
        ContextualBandit(np.zeros((2, 3)), np.ones((2, 3)), np.eye(2))
    with pytest.raises(ValueError, match=r"DPOConfig\.beta"):
        DPOConfig(beta=0.0)
