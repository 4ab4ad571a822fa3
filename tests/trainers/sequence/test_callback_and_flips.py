"""The trainers' callback and the preference oracle's label flips."""

from __future__ import annotations

import pytest
import torch

from trainers.sequence import (
    GRPOConfig,
    SequenceDPOConfig,
    bradley_terry_pairs,
    label_flips,
    tied_digit_sum,
    train_grpo,
    train_sequence_dpo,
)

TASK = tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))
SMALL = {"d_model": 8, "n_layers": 1, "n_heads": 1}


def test_callback_sees_every_logged_step_and_the_policy_being_trained():
    seen = []
    cfg = GRPOConfig(steps=5, batch_prompts=1, num_generations=2, log_every=2, **SMALL)
    res = train_grpo(TASK, cfg, seeds=[0, 1], callback=lambda s, pol: seen.append((s, pol)))
    assert [s for s, _ in seen] == [2, 4, 5]  # every log_every steps and the last one
    assert all(pol is res.policy for _, pol in seen)
    assert [int(r["step"]) for r in res.metrics] == [2, 4, 5]


def test_callback_runs_without_gradients():
    grads = []
    cfg = SequenceDPOConfig(steps=2, batch_size=2, n_pairs=8, **SMALL)
    train_sequence_dpo(TASK, cfg, callback=lambda s, pol: grads.append(torch.is_grad_enabled()))
    assert grads == [False, False]


@pytest.mark.parametrize("q", [0.0, 0.2, 0.4])
def test_flipped_oracle_reports_the_wrong_label_at_rate_q(q):
    """With a steep oracle (scale 50: the better completion wins with probability ~1) on pairs
    of reward 1 vs 0, the worse completion is reported preferred with probability ~q."""
    task = label_flips(TASK, q) if q > 0 else TASK
    n = 4000
    p, w, lo = bradley_terry_pairs(task, n, seed=3, scale=50.0)
    table = task.reward_table()
    wrong = (table[p, w] < table[p, lo]).double().mean().item()
    assert wrong == pytest.approx(q, abs=4 * (q * (1 - q) / n) ** 0.5 + 1e-9)


def test_label_flips_compose_and_keep_the_rewards():
    twice = label_flips(label_flips(TASK, 0.1), 0.2)
    assert twice.label_flip == pytest.approx(0.1 * 0.8 + 0.2 * 0.9)
    assert torch.equal(twice.reward_table(), TASK.reward_table())
    assert torch.equal(twice.valid_table(), TASK.valid_table())


def test_runs_may_train_on_different_prompts():
    """A run of a dropped-prompt task never samples its dropped prompt."""
    from trainers.sequence import drop_prompts

    dropped = drop_prompts(TASK, 0.5, seed=0)
    kept = int(dropped.train_prompt_ids[0])
    seen = []

    def spy(step, pol):
        seen.append(step)

    cfg = GRPOConfig(steps=3, batch_prompts=4, num_generations=2, **SMALL)
    res = train_grpo([TASK, dropped], cfg, seeds=[0, 0], callback=spy)
    assert seen == [1, 2, 3] and res.n_runs == 2
    from trainers.sequence.common import draw_prompts, generators

    idx = draw_prompts([TASK, dropped], 50, generators([0, 0], "prompts", torch.device("cpu")))
    assert set(idx[1].tolist()) == {kept} and len(set(idx[0].tolist())) == 2


def test_sample_budget_stops_training_once_the_mean_run_has_spent_it():
    cfg = GRPOConfig(
        steps=50, batch_prompts=1, num_generations=2, log_every=10, sample_budget=7, **SMALL
    )
    res = train_grpo(TASK, cfg, seeds=[0, 1])
    # 2 completions per round: the budget of 7 is reached after round 4, which is logged
    assert [int(r["step"]) for r in res.metrics] == [4]
    assert res.metrics[-1]["stats/samples"] == 8


def test_rewards_of_runs_sharing_a_noisy_task_equal_their_one_by_one_rewards():
    """rewards_runs scores the runs of one task object together and draws each run's noise
    from its own generator: the same numbers as scoring each run alone."""
    from trainers.sequence import reward_noise, sample, tie_break
    from trainers.sequence.common import generators, rewards_runs
    from trainers.sequence.sampling import Completions

    noisy = reward_noise(TASK, 0.3, seed=1)
    tasks = [noisy, noisy, tie_break(TASK, 0.1), noisy]
    prompts = TASK.prompts[torch.tensor([0, 1, 1, 0, 1, 0])].expand(4, -1, -1)
    g = torch.Generator().manual_seed(0)
    comps = sample(
        lambda ids: torch.zeros(*ids.shape, TASK.vocab_size),
        prompts.reshape(-1, 1),
        max_new_tokens=TASK.completion_len,
        allowed=TASK.allowed,
        eos_id=TASK.eos_id,
        pad_id=TASK.pad_id,
        generator=g,
    )
    comps = Completions(*(x.reshape(4, 6, -1) for x in (comps.tokens, comps.mask, comps.logp)))
    seeds = [3, 4, 5, 6]
    together = rewards_runs(tasks, prompts, comps, generators(seeds, "noise", torch.device("cpu")))
    alone = [
        t.reward(prompts[i], comps.tokens[i], comps.mask[i], generator=gen)
        for i, (t, gen) in enumerate(
            zip(tasks, generators(seeds, "noise", torch.device("cpu")), strict=True)
        )
    ]
    assert torch.equal(together, torch.stack(alone))
    assert not torch.equal(together[0], together[1])  # each run its own noise
