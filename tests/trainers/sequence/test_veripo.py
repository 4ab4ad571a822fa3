"""VerIPO (Li et al. 2025, arXiv:2505.19000): the toolkit's verifier rules on hand-made
completions, the exact inconsistency rate against brute force, the GRPO/DPO schedule and its
sample count, the DPO stage's reference, cycles=0 == GRPO, stacked runs == one by one."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from tests.trainers.sequence.conftest import close
from trainers.sequence import (
    GRPOConfig,
    SequenceDistribution,
    TinyCausalLM,
    exact_distribution,
    tie_break,
    tied_digit_sum,
    train_grpo,
)
from trainers.sequence.veripo import (
    VerIPOConfig,
    inconsistency_rate,
    trace_consistent,
    train_veripo,
    verifier_pairs,
)

torch.set_num_threads(1)

SMALL = {"d_model": 8, "n_layers": 1, "n_heads": 1}


@pytest.fixture(scope="module")
def task():
    """Outcome-only digit sums: two digits in {0, 1, 2}, the answer A=0..4, EOS; the reward
    checks the answer alone (a trace may contradict it)."""
    return tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3), outcome_only=True)


def _encode(task, rows: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Completions written as 'd d A=a <eos>' -> (tokens, mask)."""
    ids = {v: i for i, v in enumerate(task.vocab)}
    tokens = torch.tensor([[ids[w] for w in r.split()] for r in rows])
    return tokens, torch.ones_like(tokens, dtype=torch.bool)


# ---------------------------------------------------------------------------------- verifier


def test_trace_consistency_and_the_verifier_rules(task):
    """Prompt S=3, one group of 6: '1 2 A=3' (correct, consistent, no repeat), '2 1 A=3'
    (same), '0 0 A=3' (correct answer, trace sums to 0: inconsistent), '1 1 A=2' (wrong answer,
    consistent, repeated digit), '2 0 A=3' (trace sums to 2), '0 2 A=2' (wrong)."""
    rows = [
        "1 2 A=3 <eos>",
        "2 1 A=3 <eos>",
        "0 0 A=3 <eos>",
        "1 1 A=2 <eos>",
        "2 0 A=3 <eos>",
        "0 2 A=2 <eos>",
    ]
    tokens, mask = _encode(task, rows)
    assert trace_consistent(task, tokens, mask).tolist() == [True, True, False, True, False, True]
    rewards = task.reward(task.prompts[[1] * 6], tokens, mask)
    assert rewards.tolist() == [1, 1, 1, 0, 1, 0]  # outcome only: the answer alone
    gen = torch.Generator().manual_seed(0)
    c, r = verifier_pairs(task, tokens, mask, rewards, 6, pairs_per_prompt=36, generator=gen)
    # accepted: rows 0, 1 (accurate and consistent); every other row is rejected
    assert sorted(zip(c.tolist(), r.tolist(), strict=True)) == [
        (a, b) for a in (0, 1) for b in (2, 3, 4, 5)
    ]
    # accuracy alone accepts the inconsistent rows 2 and 4 too; the repetition preference
    # keeps only rows without adjacent equal digits as chosen (row 2 repeats "0 0")
    c, r = verifier_pairs(
        task, tokens, mask, rewards, 6, rules=("accuracy", "no_repeat"), pairs_per_prompt=36
    )
    assert set(c.tolist()) == {0, 1, 4} and set(r.tolist()) == {3, 5}
    # consistency alone rejects the inconsistent ones, whatever the reward
    c, r = verifier_pairs(
        task, tokens, mask, rewards, 6, rules=("consistency",), pairs_per_prompt=36
    )
    assert set(c.tolist()) == {0, 1, 3, 5} and set(r.tolist()) == {2, 4}
    # the preference is a tie-break: with only repeated-digit correct samples they are chosen
    t2, m2 = _encode(task, ["1 1 A=2 <eos>", "0 0 A=2 <eos>"])
    c, r = verifier_pairs(
        task,
        t2,
        m2,
        torch.tensor([1.0, 0.0], dtype=torch.float64),
        2,
        rules=("accuracy", "no_repeat"),
    )
    assert c.tolist() == [0] and r.tolist() == [1]


def test_verifier_pairs_stay_within_groups_and_respect_the_cap(task):
    gen = torch.Generator().manual_seed(3)
    tokens, mask = task.completions()
    G, groups = 5, 6
    rows = torch.randint(tokens.shape[0], (G * groups,), generator=gen)
    prompts = task.prompts[torch.arange(groups).repeat_interleave(G) % 2]
    rewards = task.reward(prompts, tokens[rows], mask[rows])
    rewards[:G] = 1.0  # the first group is all correct: no rejected sample, no pair
    c, r = verifier_pairs(
        task,
        tokens[rows],
        mask[rows],
        rewards,
        G,
        rules=("accuracy",),
        pairs_per_prompt=3,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(c // G, r // G)  # a pair compares samples of one prompt
    assert not bool((c < G).any())
    assert torch.all(rewards[c] >= 0.5) and torch.all(rewards[r] < 0.5)
    counts = torch.bincount(c // G, minlength=groups)
    acc = (rewards >= 0.5).view(groups, G).sum(-1)
    assert torch.equal(counts, torch.minimum(acc * (G - acc), torch.tensor(3)))
    pairs = list(zip(c.tolist(), r.tolist(), strict=True))
    assert len(set(pairs)) == len(pairs)  # distinct pairs
    again = verifier_pairs(
        task,
        tokens[rows],
        mask[rows],
        rewards,
        G,
        rules=("accuracy",),
        pairs_per_prompt=3,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(again[0], c) and torch.equal(again[1], r)


def test_inconsistency_rate_is_exact(task):
    """Against brute force over the 45 completions, for a random policy and a hand-made
    distribution; the conditional rate among correct answers too."""
    tokens, mask = task.completions()
    words = [s.split() for s in task.decode(tokens, mask)]
    digit_sum = torch.tensor([int(w[0]) + int(w[1]) for w in words])
    answer = torch.tensor([int(w[2][2:]) for w in words])
    bad = (digit_sum != answer).double()
    policy = TinyCausalLM(task.vocab_size, max_len=5, seeds=[0, 1], **SMALL)
    dist = exact_distribution(policy, task)
    probs = dist.probs  # (2, 2, 45)
    close(inconsistency_rate(task, policy), (probs * bad).sum(-1), 1e-12)
    close(inconsistency_rate(task, dist), (probs * bad).sum(-1), 1e-12)
    correct = (answer[None, :] == torch.tensor([2, 3])[:, None]).double()  # (P, M)
    cond = (probs * correct * bad).sum(-1) / (probs * correct).sum(-1)
    close(inconsistency_rate(task, dist, among="correct_answer"), cond, 1e-12)
    # a point mass on '0 0 A=2' for S=2 and on '1 2 A=3' for S=3: rates 1 and 0
    logp = torch.full((2, 45), -math.inf, dtype=torch.float64)
    logp[0, words.index("0 0 A=2 <eos>".split())] = 0.0
    logp[1, words.index("1 2 A=3 <eos>".split())] = 0.0
    rate = inconsistency_rate(task, SequenceDistribution(logp), among="correct_answer")
    assert rate.tolist() == [1.0, 0.0]


# ---------------------------------------------------------------------------------- trainer


def _cfg(**kw) -> VerIPOConfig:
    base = dict(
        batch_prompts=4,
        num_generations=4,
        verifier_prompts=4,
        steps_dpo=2,
        lr=3e-3,
        dtype="float64",
        **SMALL,
    )
    return VerIPOConfig(**{**base, **kw})


def test_schedule_samples_stages_and_callback(task):
    """steps=5 over cycles + 1 = 3 GRPO stages (2, 2, 1 rounds), two DPO stages of 2 steps:
    9 schedule steps; samples: 16 per round, 16 per verifier batch."""
    cfg = _cfg(steps=5, cycles=2, log_every=2)
    calls = []
    res = train_veripo(task, cfg, seeds=[0, 1], callback=lambda s, p: calls.append(s))
    assert calls == [2, 4, 6, 8, 9]
    rows = res.metrics
    assert [r["step"] for r in rows] == [2.0, 4.0, 6.0, 8.0, 9.0]
    assert [r["stats/stage"] for r in rows] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert [r["stats/cycle"] for r in rows] == [0.0, 0.0, 1.0, 1.0, 2.0]
    # 2: 2 rounds; 4: + a verifier batch; 6: 4 rounds + 1 batch; 8: + a batch; 9: 5 + 2
    assert [r["stats/samples"] for r in rows] == [32.0, 48.0, 80.0, 96.0, 112.0]
    assert "verifier/inconsistent" in rows[1] and "charts/reward" in rows[0]
    assert res.algorithm == "veripo"


def test_dpo_stage_starts_at_its_own_reference(task):
    """The DPO reference is the policy at the start of the DPO stage: the first DPO step has
    margin 0 on every pair, loss log 2; the stage then raises the chosen over the rejected."""
    cfg = _cfg(
        steps=2,
        cycles=1,
        steps_dpo=6,
        verifier_prompts=8,
        num_generations=8,
        verifier_rules=("accuracy",),
        dpo_lr=1e-2,
    )
    res = train_veripo(task, cfg, seeds=[0, 1])
    dpo = [r for r in res.metrics if r["stats/stage"] == 1]
    assert len(dpo) == 6 and dpo[0]["verifier/pairs"] > 0
    assert dpo[0]["losses/loss"] == pytest.approx(math.log(2), abs=1e-12)
    assert dpo[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-12)
    assert dpo[-1]["rewards/margins"] > 0 and dpo[-1]["losses/loss"] < math.log(2)
    # with the run's initial reference the GRPO stage's moves show in the first margin
    initial = train_veripo(task, dataclasses.replace(cfg, dpo_reference="initial"), seeds=[0, 1])
    first = next(r for r in initial.metrics if r["stats/stage"] == 1)
    assert abs(first["rewards/margins"]) > 1e-6


@pytest.mark.parametrize(
    "grpo",
    [
        {},
        # every GRPOConfig field reaches the GRPO stages (VerIPOConfig is a GRPOConfig)
        {"num_iterations": 2, "baseline": "rloo", "epsilon_high": 0.3, "std_eps": 1e-6},
        {"kl_in_reward": 0.1, "entropy_coef": 0.01, "stcr": True, "stcr_base": 1.5},
    ],
)
def test_no_cycle_is_grpo(task, grpo):
    cfg = _cfg(steps=3, cycles=0, beta=0.05, **grpo)
    gcfg = GRPOConfig(
        steps=3,
        batch_prompts=4,
        num_generations=4,
        lr=3e-3,
        beta=0.05,
        dtype="float64",
        **SMALL,
        **grpo,
    )
    a = train_veripo(task, cfg, seeds=[4]).distribution(task).logp
    b = train_grpo(task, gcfg, seeds=[4]).distribution(task).logp
    close(a, b, 1e-12)
    if grpo:  # and changes the result
        plain = train_veripo(task, _cfg(steps=3, cycles=0, beta=0.05), seeds=[4])
        assert not torch.allclose(a, plain.distribution(task).logp)


def test_stacked_runs_equal_runs_one_by_one(task):
    tasks = [task, tie_break(task, 0.3, seed=1)]
    cfg = _cfg(steps=3, cycles=2, verifier_rules=("accuracy", "no_repeat"), beta=0.05)
    both = train_veripo(tasks, cfg, seeds=[3, 5])
    alone = [train_veripo(t, cfg, seeds=[s]) for t, s in zip(tasks, (3, 5), strict=True)]
    got = both.distribution(task).logp
    close(got, torch.cat([a.distribution(task).logp for a in alone]), 1e-9)
    assert not torch.allclose(got[0], got[1])
    pairs = [[r["verifier/pairs"] for r in a.metrics if r["stats/stage"] == 1] for a in alone]
    both_pairs = [r["verifier/pairs"] for r in both.metrics if r["stats/stage"] == 1]
    assert both_pairs == pytest.approx([(x + y) / 2 for x, y in zip(*pairs, strict=True)])


def test_a_single_module_trains_as_the_stacked_run_of_its_seed(task):
    cfg = _cfg(steps=2, cycles=1, verifier_rules=("accuracy",))
    stacked = train_veripo(task, cfg, seeds=[2])
    single = TinyCausalLM(task.vocab_size, max_len=5, seed=2, dtype=torch.float64, **SMALL)
    alone = train_veripo(task, cfg, seeds=[2], policy=single)
    assert alone.policy is single
    close(alone.distribution(task).logp, stacked.distribution(task).logp, 1e-9)
