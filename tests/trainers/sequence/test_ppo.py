"""PPO with a critic on sequence policies: learning, every PPO-max switch, the presets, stacked
runs == one by one."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from tests.trainers.sequence.conftest import close
from trainers import losses as L
from trainers.sequence import (
    PPOSeqConfig,
    TinyCausalLM,
    tie_break,
    tied_digit_sum,
    train_sequence_ppo,
)
from trainers.sequence import common as C
from trainers.sequence import ppo as P

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def task():
    """Two digits in {0, 1, 2} summing to S in 0..4, then the answer (45 completions each)."""
    return tied_digit_sum(n_digits=2, max_digit=2, sums=range(5))


@pytest.fixture(scope="module")
def small():
    """Two digits in {0, 1, 2} summing to 2 or 3: the cheap task of the mechanics tests."""
    return tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))


TINY = dict(d_model=8, n_layers=1, n_heads=2)


def test_ppo_beats_chance(task):
    res = train_sequence_ppo(task, PPOSeqConfig(steps=50, lr=2e-3), seeds=[0])
    chance = float(task.valid_table().double().mean())
    reward = (res.distribution(task).probs * task.reward_table()).sum(-1).mean(-1)
    assert torch.all(reward > chance + 0.2), (reward, chance)
    for key in ("losses/pg", "losses/value", "stats/kl", "stats/clip_ratio", "stats/samples"):
        assert key in res.metrics[-1]


def test_ppo_max_switches_run_per_run(task):
    """Reward scaling + normalisation (one running statistic per run) and clipping, advantage
    clipping, value clipping, the entropy bonus, on two stacked runs."""
    cfg = PPOSeqConfig(
        steps=3,
        batch_size=8,
        reward_scaling=True,
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


# ------------------------------------------------------------------------ reward processing
def test_running_moments_are_welford_per_run():
    """Each run's running mean and unbiased std equal numpy's over every score it has seen."""
    rng = np.random.default_rng(0)
    mom = P._RunningMoments(2, torch.device("cpu"))
    seen: list[list[float]] = [[], []]
    for b in (3, 1, 5, 2):
        x = rng.normal(size=(2, b)) * np.array([[1.0], [10.0]]) + np.array([[0.0], [-4.0]])
        mom.update(torch.tensor(x))
        for i in range(2):
            seen[i].extend(x[i])
        for i in range(2):
            assert abs(float(mom.mean[i]) - np.mean(seen[i])) < 1e-12
            assert abs(float(mom.std[i]) - np.std(seen[i], ddof=1)) < 1e-12
    assert mom.count == 11


def test_running_std_is_nan_before_two_scores():
    mom = P._RunningMoments(1, torch.device("cpu"))
    mom.update(torch.tensor([[2.0]], dtype=torch.float64))
    assert math.isnan(float(mom.std[0]))


def test_reward_scaling_divides_by_the_running_std_without_the_mean():
    """MOSS-RLHF: R / sigma_run (the std of every score so far, this batch included); with
    reward_norm (R - mu_run) / sigma_run; then the clip."""
    stream = [np.array([[1.0, 3.0], [0.0, 10.0]]), np.array([[5.0, 7.0], [20.0, 30.0]])]
    cfgs = {
        "scale": PPOSeqConfig(reward_scaling=True),
        "norm": PPOSeqConfig(reward_scaling=True, reward_norm=True),
        "clip": PPOSeqConfig(reward_scaling=True, reward_clip=1.5),
    }
    for name, cfg in cfgs.items():
        mom = P._RunningMoments(2, torch.device("cpu"))
        history = np.zeros((2, 0))
        for x in stream:
            out = P._process_scores(torch.tensor(x), mom, cfg).numpy()
            history = np.concatenate([history, x], axis=1)
            mu = history.mean(1, keepdims=True)
            sd = history.std(1, ddof=1, keepdims=True)
            want = {"scale": x / sd, "norm": (x - mu) / sd, "clip": np.clip(x / sd, -1.5, 1.5)}
            np.testing.assert_allclose(out, want[name], rtol=0, atol=1e-12)


def test_reward_scaling_of_a_degenerate_stream_leaves_scores_unscaled():
    """All scores so far equal (std 0) or a single score: the std counts as 1."""
    cfg = PPOSeqConfig(reward_scaling=True)
    mom = P._RunningMoments(2, torch.device("cpu"))
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    assert torch.equal(P._process_scores(x, mom, cfg), x)
    one = P._RunningMoments(1, torch.device("cpu"))
    y = torch.tensor([[4.0]], dtype=torch.float64)
    assert torch.equal(P._process_scores(y, one, cfg), y)


def test_reward_clip_alone_clips_the_raw_scores():
    x = torch.tensor([[-3.0, 0.5, 12.0]], dtype=torch.float64)
    out = P._process_scores(x, None, PPOSeqConfig(reward_clip=2.0))
    assert out.tolist() == [[-2.0, 0.5, 2.0]]


def test_trainer_scales_a_known_reward_stream_by_its_running_std(small):
    """The logged scores of one run are its raw rewards divided by the std of every reward
    the run has drawn so far (the rewards recorded as the task's reward_fn returns them)."""
    base = small.reward_fn
    drawn: list[torch.Tensor] = []

    def reward(prompts, tokens, mask):
        r = base(prompts, tokens, mask) + 0.1 * (tokens[:, 0] % 3).double()
        if tokens.shape[0] == 4:  # the trainer's batches (not a table of every completion)
            drawn.append(r.clone())
        return r

    task = small.with_reward(reward, "shifted")
    cfg = PPOSeqConfig(steps=4, batch_size=4, reward_scaling=True, **TINY)
    res = train_sequence_ppo(task, cfg, seeds=[3])
    assert len(drawn) == 4
    for s, row in enumerate(res.metrics):
        hist = torch.cat(drawn[: s + 1])
        sd = float(hist.std(unbiased=True))
        sd = sd if sd >= 1e-8 else 1.0
        assert abs(row["charts/score"] - float(drawn[s].mean()) / sd) < 1e-9
        assert abs(row["charts/reward"] - float(drawn[s].mean())) < 1e-12


# ------------------------------------------------------------------------ advantages and losses
def test_advantage_whitening_is_per_run_over_real_tokens():
    adv = torch.tensor([[[1.0, 3.0, 9.0]], [[10.0, 20.0, 0.0]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True, False]], [[True, True, False]]])
    out = P._whiten(adv, mask)
    # MOSS-RLHF: (A - mean) / sqrt(var + 1e-6), biased variance over the real tokens
    want = torch.tensor(
        [
            [-1.0 / math.sqrt(1 + 1e-6), 1.0 / math.sqrt(1 + 1e-6)],
            [-5 / math.sqrt(25 + 1e-6), 5 / math.sqrt(25 + 1e-6)],
        ],
        dtype=torch.float64,
    )
    close(out[:, 0, :2], want, atol=1e-15)
    assert torch.all(out[..., 2] == 0)


def test_sb3_whitening_uses_the_unbiased_std():
    adv = torch.tensor([[[1.0, 2.0], [3.0, 0.0]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True], [True, False]]])
    out = P._whiten(adv, mask, "sb3")  # tokens 1, 2, 3: mean 2, unbiased std 1
    close(out, torch.tensor([[[-1.0, 0.0], [1.0, 0.0]]], dtype=torch.float64), atol=1e-7)


def test_policy_loss_clip_switch_on_hand_computed_tokens():
    """rho = 1.5 with A = 1 is clipped to 1.2; rho = 0.5 with A = -2 to 0.8; rho = 1.1 stays."""
    old = torch.zeros(1, 1, 4, dtype=torch.float64)
    logp = torch.log(torch.tensor([[[1.5, 0.5, 1.1, 3.0]]], dtype=torch.float64))
    adv = torch.tensor([[[1.0, -2.0, 1.0, 7.0]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True, True, False]]])
    clipped, frac = P._pg_loss(logp, old, adv, mask, 0.2, clip=True)
    close(clipped, torch.tensor([(-1.2 + 1.6 - 1.1) / 3], dtype=torch.float64), atol=1e-12)
    assert abs(float(frac) - 2 / 3) < 1e-12
    plain, _ = P._pg_loss(logp, old, adv, mask, 0.2, clip=False)
    close(plain, torch.tensor([(-1.5 + 1.0 - 1.1) / 3], dtype=torch.float64), atol=1e-12)
    # the clipped loss is TRL's/GRPO's token loss with per-token advantages (bnpo)
    ref, _ = L.grpo_token_loss(logp, old, None, adv, mask, loss_type="bnpo", epsilon=0.2)
    close(clipped, ref, atol=1e-12)


def test_gae_ends_each_completion_at_its_last_real_token():
    """gamma = 1, lam = 0.5, rewards [0, 0, 1], values [0.5, 0.2, 0.1], then a pad."""
    r = torch.tensor([[[0.0, 0.0, 1.0, 5.0]]], dtype=torch.float64)
    v = torch.tensor([[[0.5, 0.2, 0.1, 9.0]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True, True, False]]])
    adv, ret = P._gae(r, v, mask, 1.0, 0.5)
    d = [0.0 + 0.2 - 0.5, 0.0 + 0.1 - 0.2, 1.0 - 0.1]
    a2 = d[2]
    a1 = d[1] + 0.5 * a2
    a0 = d[0] + 0.5 * a1
    close(adv, torch.tensor([[[a0, a1, a2, 0.0]]], dtype=torch.float64), atol=1e-12)
    close(ret, torch.tensor([[[a0 + 0.5, a1 + 0.2, a2 + 0.1, 0.0]]], dtype=torch.float64), 1e-12)


def test_total_loss_entropy_bonus_and_target_penalty():
    pg, v = torch.tensor([0.3, 0.3]), torch.tensor([2.0, 2.0])
    ent = torch.tensor([1.5, 2.5])
    plain = P._total_loss(pg, v, ent, PPOSeqConfig(vf_coef=0.5))
    close(plain, torch.tensor([1.3, 1.3]), atol=1e-7)
    bonus = P._total_loss(pg, v, ent, PPOSeqConfig(vf_coef=0.5, entropy_coef=0.1))
    close(bonus, torch.tensor([1.3 - 0.15, 1.3 - 0.25]), atol=1e-7)
    target = PPOSeqConfig(vf_coef=0.5, entropy_target=2.0, entropy_target_coef=0.4)
    close(P._total_loss(pg, v, ent, target), torch.tensor([1.5, 1.5]), atol=1e-7)


def test_joint_gradient_clip_takes_one_norm_over_policy_and_critic_per_run():
    a, b = TinyCausalLM(5, max_len=4, seeds=[0, 1]), TinyCausalLM(5, max_len=4, seeds=[2, 3])
    for m, scale in ((a, 3.0), (b, 4.0)):
        for p in m.parameters():
            p.grad = torch.zeros_like(p)
        m.tok_emb.grad[0, 0, 0] = scale  # run 0: norms 3 and 4 -> joint 5
        m.tok_emb.grad[1, 0, 0] = 0.1 * scale  # run 1: joint 0.5, below the clip
    C.clip_gradients(a, 1.0, b)
    assert abs(float(a.tok_emb.grad[0, 0, 0]) - 3.0 / 5.0) < 1e-5
    assert abs(float(b.tok_emb.grad[0, 0, 0]) - 4.0 / 5.0) < 1e-5
    assert abs(float(b.tok_emb.grad[1, 0, 0]) - 0.4) < 1e-7


def test_critic_init_policy_copies_the_trunk_and_keeps_a_fresh_head(small):
    policy = TinyCausalLM(small.vocab_size, max_len=5, d_model=16, n_layers=1, seeds=[4, 5])
    cfg = PPOSeqConfig(critic_init="policy", d_model=8)  # the critic takes the policy's size
    critic = P._build_critic(small, policy, cfg, [4, 5], True, torch.device("cpu"))
    mine = dict(critic.named_parameters())
    for name, p in policy.named_parameters():
        if name == "head_w":
            assert not torch.equal(mine[name], p)
        else:
            assert torch.equal(mine[name], p), name
    assert critic.d_model == 16 and critic.n_runs == 2
    rand = P._build_critic(
        small, policy, PPOSeqConfig(d_model=8), [4, 5], True, torch.device("cpu")
    )
    assert rand.d_model == 8


# ------------------------------------------------------------------------ configs and presets
def test_presets_hold_the_starred_and_the_released_tricks():
    mx = PPOSeqConfig.ppo_max(lr=3e-3)
    assert (mx.reward_scaling, mx.reward_norm, mx.reward_clip) == (True, True, 10.0)
    assert (mx.advantage_norm, mx.advantage_clip) == (False, None)
    assert (mx.value_clip, mx.policy_clip, mx.clip_eps) == (0.2, True, 0.2)
    assert (mx.critic_init, mx.grad_clip, mx.max_grad_norm) == ("policy", "joint", 1.0)
    assert (mx.gamma, mx.lam, mx.kl_coef, mx.lr) == (1.0, 0.95, 0.02, 3e-3)
    assert (mx.update_epochs, mx.num_minibatches) == (1, 4)
    rel = PPOSeqConfig.ppo_max_released(steps=7)
    assert (rel.reward_scaling, rel.reward_norm, rel.reward_clip) == (True, False, None)
    assert (rel.value_clip, rel.policy_clip, rel.advantage_norm) == (0.2, True, False)
    assert (rel.kl_coef, rel.steps, rel.entropy_coef, rel.entropy_target) == (0.01, 7, 0.0, None)
    assert PPOSeqConfig.ppo_max(reward_clip=None).reward_clip is None
    # the released script is PPO-max but for the KL weight and the reward normalisation/clip
    mx = PPOSeqConfig.ppo_max(steps=7)
    differ = {
        f.name for f in dataclasses.fields(rel) if getattr(rel, f.name) != getattr(mx, f.name)
    }
    assert differ == {"kl_coef", "reward_norm", "reward_clip"}


def test_critic_lr_defaults_to_three_times_lr():
    assert PPOSeqConfig(lr=2e-3).critic_learning_rate == pytest.approx(6e-3)
    assert PPOSeqConfig(lr=2e-3, critic_lr=1e-4).critic_learning_rate == 1e-4


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"reward_norm": True}, "reward_norm"),
        ({"entropy_target": 1.0}, "entropy_target"),
        ({"entropy_target_coef": 0.1}, "entropy_target_coef"),
        ({"num_minibatches": 5, "batch_size": 4}, "num_minibatches"),
        ({"critic_init": "reward_model"}, "critic_init"),
        ({"grad_clip": "global"}, "grad_clip"),
    ],
)
def test_bad_combinations_are_refused_by_name(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        PPOSeqConfig(**kwargs)


# ------------------------------------------------------------------------ runs
def test_stacked_runs_equal_runs_one_by_one(small):
    """Seeds [a, b] stacked, each with its own task, every switch on (running reward
    statistics per run, minibatches, joint clip, critic from the policy), equal a and b alone."""
    tasks = [small, tie_break(small, 0.3, seed=1)]
    cfg = PPOSeqConfig.ppo_max(
        steps=3,
        batch_size=6,
        num_minibatches=2,
        update_epochs=2,
        advantage_norm=True,
        advantage_clip=1.0,
        entropy_coef=0.01,
        entropy_target=0.5,
        entropy_target_coef=0.1,
        reward_clip=1.0,
        lr=3e-3,
        dtype="float64",
        **TINY,
    )
    both = train_sequence_ppo(tasks, cfg, seeds=[3, 5])
    alone = [
        train_sequence_ppo(t, cfg, seeds=[s]).distribution(small).logp
        for t, s in zip(tasks, (3, 5), strict=True)
    ]
    close(both.distribution(small).logp, torch.cat(alone), atol=1e-9)
    assert not torch.allclose(alone[0], alone[1])


def test_samples_metric_and_callback_at_each_logged_step(small):
    seen = []
    cfg = PPOSeqConfig(steps=5, batch_size=3, log_every=2, **TINY)
    res = train_sequence_ppo(small, cfg, seeds=[0, 1], callback=lambda s, p: seen.append(s))
    assert seen == [2, 4, 5]
    assert [row["stats/samples"] for row in res.metrics] == [6.0, 12.0, 15.0]
    assert res.algorithm == "ppo"


def test_a_single_module_with_critic_from_the_policy_trains(small):
    single = TinyCausalLM(small.vocab_size, max_len=5, d_model=8, n_layers=1, seed=2)
    cfg = PPOSeqConfig.ppo_max_released(steps=2, batch_size=4, **TINY)
    res = train_sequence_ppo(small, cfg, seeds=[2], policy=single)
    assert res.policy is single
    assert all(math.isfinite(v) for v in res.metrics[-1].values())


def test_the_critic_takes_the_policy_dtype_so_float64_runs_stack_exactly():
    """A float64 policy under the float32 default config: the critic is float64 too, so two
    stacked runs equal the same runs trained one by one to float64 round-off."""
    from trainers.sequence import PPOSeqConfig, TinyCausalLM, tied_digit_sum, train_sequence_ppo

    task = tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))
    cfg = PPOSeqConfig(steps=4, batch_size=4, d_model=8, n_layers=1, n_heads=1)

    def model(seeds):
        return TinyCausalLM(
            task.vocab_size, max_len=task.prompt_len + task.completion_len, d_model=8,
            n_layers=1, n_heads=1, seeds=seeds, dtype=torch.float64,
        )  # fmt: skip

    both = train_sequence_ppo(task, cfg, seeds=[0, 1], policy=model([0, 1]))
    one = train_sequence_ppo(task, cfg, seeds=[1], policy=model([1]))
    a = both.distribution(task).logp[1]
    b = one.distribution(task).logp[0]
    assert float((a - b).abs().max()) < 1e-9
