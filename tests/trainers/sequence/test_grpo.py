"""GRPO on sequence policies: learning, the KL-in-reward optimum, stacked runs == one by one."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.sequence import (
    GRPOConfig,
    SequenceRunResult,
    TinyCausalLM,
    kl_regularized_optimum,
    sample,
    tie_break,
    tied_digit_sum,
    train_grpo,
    tv_distance,
)
from trainers.sequence import common as C

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def task():
    """Two digits in {0, 1, 2} summing to S in 0..4, then the answer: 45 completions per
    prompt, tie sets of sizes 1, 2, 3, 2, 1 (a uniform policy is right 4% of the time)."""
    return tied_digit_sum(n_digits=2, max_digit=2, sums=range(5))


def _expected_reward(res: SequenceRunResult, task) -> torch.Tensor:
    return (res.distribution(task).probs * task.reward_table()).sum(-1).mean(-1)


def test_sample_runs_draws_each_run_as_sampling_sample_with_its_generator(task):
    """Stacked sampling with one generator per run equals ``sampling.sample`` of each unstacked
    run with that run's generator: a run's draws do not depend on the runs beside it."""
    policy = TinyCausalLM(task.vocab_size, max_len=5, seeds=[3, 4])
    prompts = task.prompts[torch.tensor([[0, 2, 4], [1, 1, 3]])]
    comps = C.sample_runs(policy, prompts, task, [torch.Generator().manual_seed(s) for s in (7, 8)])
    for i, s in enumerate((7, 8)):
        one = sample(
            policy.unstack(i),
            prompts[i],
            max_new_tokens=task.completion_len,
            allowed=task.allowed,
            eos_id=task.eos_id,
            pad_id=task.pad_id,
            generator=torch.Generator().manual_seed(s),
        )
        assert torch.equal(comps.tokens[i], one.tokens)
        assert torch.equal(comps.mask[i], one.mask)
        torch.testing.assert_close(comps.logp[i], one.logp, rtol=1e-5, atol=1e-6)


def test_grpo_beats_chance(task):
    cfg = GRPOConfig(steps=60, batch_prompts=8, num_generations=8, lr=2e-3)
    res = train_grpo(task, cfg, seeds=[0])
    chance = float(task.valid_table().double().mean())
    reward = _expected_reward(res, task)
    assert reward.shape == (1,)
    assert torch.all(reward > chance + 0.25), (reward, chance)
    # the sampled reward curve rises too
    assert res.metrics[-1]["charts/reward"] > res.metrics[0]["charts/reward"]


def test_kl_in_reward_moves_towards_the_kl_regularized_optimum():
    """With the sequence KL penalty in the reward and no std scaling, the runs approach
    pi_ref exp(r / c) / Z (a short run on a 9-completion task; the strict convergence check
    is a claim)."""
    task = tied_digit_sum(n_digits=1, max_digit=2, sums=range(3), outcome_only=True)
    c = 0.3
    cfg = GRPOConfig(
        steps=30, batch_prompts=8, num_generations=8, lr=3e-3, kl_in_reward=c, scale_rewards="none"
    )
    res = train_grpo(task, cfg, seeds=[0, 1])
    ref = res.ref_distribution(task).logp
    target = kl_regularized_optimum(ref, task.reward_table(), c)
    before = tv_distance(ref, target).mean(-1)
    after = tv_distance(res.distribution(task).logp, target).mean(-1)
    assert torch.all(after < 0.5 * before), (before, after)
    assert "stats/kl" in res.metrics[-1]


def test_stacked_runs_equal_runs_one_by_one(task):
    """Seeds [a, b] stacked, each with its own task (a reward perturbation), equal a and b
    trained alone, with every loss term on (float64, a few steps)."""
    tasks = [task, tie_break(task, 0.3, seed=1)]
    cfg = GRPOConfig(
        steps=4,
        batch_prompts=4,
        num_generations=4,
        num_iterations=2,
        beta=0.05,
        kl_in_reward=0.1,
        entropy_coef=0.01,
        baseline="rloo",
        loss_type="grpo",
        epsilon_high=0.28,
        lr=3e-3,
        dtype="float64",
    )
    both = train_grpo(tasks, cfg, seeds=[3, 5]).distribution(task).logp
    alone = [
        train_grpo(t, cfg, seeds=[s]).distribution(task).logp
        for t, s in zip(tasks, (3, 5), strict=True)
    ]
    torch.testing.assert_close(both, torch.cat(alone), rtol=0, atol=1e-9)
    assert not torch.allclose(both[0], both[1])  # the runs did differ


def test_a_single_module_trains_as_the_stacked_run_of_its_seed(task):
    """A user's unstacked TinyCausalLM(seed=s) follows the run of seed s of the default stack."""
    cfg = GRPOConfig(steps=3, batch_prompts=4, num_generations=4, dtype="float64", beta=0.1)
    stacked = train_grpo(task, cfg, seeds=[2])
    single = TinyCausalLM(task.vocab_size, max_len=5, seed=2, dtype=torch.float64)
    alone = train_grpo(task, cfg, seeds=[2], policy=single)
    assert alone.policy is single
    torch.testing.assert_close(
        alone.distribution(task).logp, stacked.distribution(task).logp, rtol=0, atol=1e-9
    )


def test_result_metrics_tokens_and_summary(task):
    cfg = GRPOConfig(steps=3, batch_prompts=2, num_generations=3, log_every=2)
    res = train_grpo(task, cfg, seeds=[0, 1, 2])
    assert [row["step"] for row in res.metrics] == [2.0, 3.0]
    for key in ("charts/reward", "losses/loss", "stats/entropy", "stats/tokens"):
        assert math.isfinite(res.metrics[-1][key])
    assert res.metrics[-1]["stats/tokens"] == task.completion_len  # fixed-length completions
    assert res.tokens_seen == 3 * 3 * 2 * 3 * task.completion_len  # runs x steps x B x G x L
    dist = res.distribution(task)
    assert dist.logp.shape == (3, task.n_prompts, task.completions()[0].shape[0])
    assert "grpo: 3 run(s) x 3 steps" in res.summary()
    assert res.ref_policy is not None and res.seeds == (0, 1, 2)
