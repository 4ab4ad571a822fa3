"""GHPO: the hint ladder on too-hard groups, hint tokens out of the loss, samples counted,
stacked runs == one by one."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from tests.trainers.sequence.conftest import close
from trainers.sequence import (
    TinyCausalLM,
    reward_noise,
    shortest_paths,
    tie_break,
    tied_digit_sum,
)
from trainers.sequence import common as C
from trainers.sequence.ghpo import GHPOConfig, _hinted_round, hint_lengths, train_ghpo
from trainers.sequence.grpo import GRPOConfig, _Streams, completion_correct

SMALL = {"d_model": 8, "n_layers": 1, "n_heads": 2}
CPU = torch.device("cpu")


class FixedPolicy(nn.Module):
    """A one-run policy that writes ``prefs[j]`` at completion position j whatever came
    before (logit + 30; a hint only changes the forced positions), with a trainable bias."""

    def __init__(self, vocab: int, prompt_len: int, prefs: list[int]):
        super().__init__()
        table = torch.zeros(prompt_len + len(prefs), vocab, dtype=torch.float64)
        for j, tok in enumerate(prefs):
            table[prompt_len - 1 + j, tok] = 30.0
        self.register_buffer("table", table)
        self.bias = nn.Parameter(torch.zeros(vocab, dtype=torch.float64))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return (self.table[: ids.shape[-1]] + self.bias).expand(*ids.shape, -1)


@pytest.fixture(scope="module")
def task4():
    """Four digits in {0, 1, 2}, S in {3, 4}: solutions ``0 0 1 2 A=3`` and ``0 0 2 2 A=4``
    (6 tokens with EOS), hints of 2, 3, 4 tokens on the ladder 0.25, 0.5, 0.75."""
    return tied_digit_sum(n_digits=4, max_digit=2, sums=(3, 4))


def _writes(task, digit: str, answer: str) -> FixedPolicy:
    v = task.vocab
    prefs = [v.index(digit)] * 4 + [v.index(answer), task.eos_id]
    return FixedPolicy(task.vocab_size, task.prompt_len, prefs)


def _round(policy, task, bp=3, g=4, seed=0, **kw):
    cfg = GHPOConfig(batch_prompts=bp, num_generations=g, **kw)
    return _hinted_round(policy, [task], cfg, _Streams.of([seed], CPU), CPU)


# --------------------------------------------------------------------------------------------
# hint lengths and the ladder
# --------------------------------------------------------------------------------------------


def test_hint_lengths_hand_values(task4):
    assert [hint_lengths(task4, f).tolist() for f in (0.25, 0.5, 0.75)] == [[2, 2], [3, 3], [4, 4]]
    short = tied_digit_sum(n_digits=1, max_digit=2, sums=(1, 2))  # |s| = 3
    # round(0.75) = 1, round(1.5) = 2 (half to even), round(2.25) = 2, round(2.7) = 3 -> |s| - 1
    assert [int(hint_lengths(short, f)[0]) for f in (0.25, 0.5, 0.75, 0.9)] == [1, 2, 2, 2]
    sp = shortest_paths()
    n = sp.solution_mask.sum(-1)
    assert n.unique().numel() > 1  # solutions of several lengths: one hint length each
    expected = [min(round(0.5 * int(x)), int(x) - 1) for x in n]
    assert hint_lengths(sp, 0.5).tolist() == expected


def test_an_always_wrong_policy_climbs_all_three_rungs(task4):
    """Digits 0 and the answer A=0 are wrong even after the 4-token hint: every group is
    regenerated at 2, 3 and 4 hint tokens and keeps the last (G samples per group and rung)."""
    bp, g = 3, 4
    rnd = _round(_writes(task4, "0", "A=0"), task4, bp, g)
    assert rnd.all_wrong.all() and rnd.hinted.all() and not rnd.correct.any()
    assert rnd.hint_len.eq(4).all()
    assert rnd.samples.tolist() == [bp * g * 4]  # the rollout and three rungs
    # the hint is the solution's prefix, the rest the policy's; the hint is out of the loss
    pidx = task4._prompt_index(rnd.prompts[0].reshape(-1, 1))
    sol = task4.solutions[pidx]
    assert torch.equal(rnd.comps.tokens[0, :, :4], sol[:, :4])
    assert (rnd.comps.tokens[0, :, 4] == task4.vocab.index("A=0")).all()
    assert not rnd.loss_mask[..., :4].any() and rnd.loss_mask[..., 4:].all()
    assert rnd.comps.mask.all()
    assert rnd.rewards.eq(0).all()


def test_groups_leave_the_ladder_at_the_rung_that_rescues_them(task4):
    """Digits 2 and A=4: S=4 is solved with the 2-token hint ``0 0`` (0 0 2 2 A=4); S=3 never
    is (its hints 0 0 / 0 0 1 / 0 0 1 2 all end in A=4). One batch, two exits."""
    bp, g = 6, 2
    rnd = _round(_writes(task4, "2", "A=4"), task4, bp, g, seed=1)
    s4 = rnd.prompts[0, :, 0] == task4.vocab.index("S=4")
    assert 0 < int(s4.sum()) < bp * g  # both prompts drawn
    assert torch.equal(rnd.hint_len[0], torch.where(s4, 2, 4))
    assert torch.equal(rnd.correct[0], s4) and torch.equal(rnd.rewards[0], s4.double())
    n4 = int(s4.sum()) // g  # groups of S=4: one rung; groups of S=3: three
    assert rnd.samples.tolist() == [bp * g + n4 * g + (bp - n4) * g * 3]
    assert torch.equal(rnd.loss_mask[0].sum(-1), torch.where(s4, 4, 2))


def test_a_policy_that_solves_everything_gets_no_hint(task4):
    task = tied_digit_sum(n_digits=4, max_digit=2, sums=(4,))
    rnd = _round(_writes(task, "1", "A=4"), task, 2, 3)  # 1 1 1 1 A=4
    assert rnd.correct.all() and not rnd.hinted.any() and rnd.hint_len.eq(0).all()
    assert rnd.samples.tolist() == [6] and torch.equal(rnd.loss_mask, rnd.comps.mask)


def test_hinted_logprobs_equal_teacher_forcing_of_the_full_completion():
    """Sampling after ``prompt + hint`` records the log-probs of the generated tokens that
    teacher forcing of ``hint + generated`` after the bare prompt gives (what the loss uses)."""
    task = tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))
    policy = TinyCausalLM(
        task.vocab_size,
        max_len=task.prompt_len + task.completion_len,
        seeds=[0, 1],
        d_model=8,
        n_layers=1,
        dtype=torch.float64,
    )
    cfg = GHPOConfig(batch_prompts=4, num_generations=4)
    rnd = _hinted_round(policy, [task, task], cfg, _Streams.of([0, 1], CPU), CPU)
    assert rnd.hint_len.gt(0).any()
    lp = C.logprobs_runs(policy, rnd.prompts, rnd.comps.tokens, rnd.comps.mask, task)
    close(lp.detach() * rnd.loss_mask, rnd.comps.logp * rnd.loss_mask)
    # the recorded correctness and rewards are those of the full completions
    assert torch.equal(
        rnd.correct, completion_correct(task, rnd.prompts, rnd.comps.tokens, rnd.comps.mask)
    )
    assert torch.equal(rnd.rewards, task.reward(rnd.prompts, rnd.comps.tokens, rnd.comps.mask))


# --------------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------------


def test_train_ghpo_counts_regenerations_and_trains_only_generated_tokens(task4):
    policy = _writes(task4, "0", "A=0")
    cfg = GHPOConfig(steps=2, batch_prompts=2, num_generations=3, lr=1e-3)
    res = train_ghpo(task4, cfg, seeds=[0], policy=policy)
    last = res.metrics[-1]
    assert res.algorithm == "ghpo"
    assert last["stats/samples"] == 2 * 2 * 3 * 4  # rounds x groups x G x (1 + 3 rungs)
    assert last["stats/hinted_fraction"] == 1 and last["stats/all_wrong_fraction"] == 1
    assert last["stats/still_wrong_fraction"] == 1 and last["stats/hint_tokens"] == 4
    assert last["stats/tokens"] == 2  # A and EOS: the 4 hint tokens are not trained
    assert last["charts/reward"] == 0 and res.tokens_seen == 2 * 2 * 3 * 2


def test_ghpo_stacked_runs_equal_runs_one_by_one():
    """Runs whose groups need different rungs (one has a tie-break task), float64, with the
    k3 term and two optimizer steps per round."""
    task = tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))
    tasks = [task, tie_break(task, 0.3, seed=1)]
    cfg = GHPOConfig(
        steps=3,
        batch_prompts=3,
        num_generations=4,
        num_iterations=2,
        beta=0.05,
        lr=1e-2,
        dtype="float64",
        **SMALL,
    )
    both = train_ghpo(tasks, cfg, seeds=[3, 5])
    alone = [train_ghpo(t, cfg, seeds=[s]) for t, s in zip(tasks, (3, 5), strict=True)]
    close(both.distribution(task).logp, torch.cat([a.distribution(task).logp for a in alone]))
    samples = [[r["stats/samples"] for r in a.metrics] for a in alone]
    assert samples[0] != samples[1], samples  # they regenerated differently
    for key in ("stats/samples", "stats/hinted_fraction", "charts/reward"):
        mean = sum(a.metrics[-1][key] for a in alone) / 2
        assert both.metrics[-1][key] == pytest.approx(mean, abs=1e-12), key


def test_ghpo_on_variable_length_solutions_with_noise():
    sp = shortest_paths()
    res = train_ghpo(
        [sp, reward_noise(sp, 0.1, seed=0)],
        GHPOConfig(steps=2, batch_prompts=3, num_generations=3, **SMALL),
        seeds=[0, 1],
    )
    assert res.metrics[-1]["stats/hinted_fraction"] > 0


# --------------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------------


def test_ghpo_config_defaults():
    cfg = GHPOConfig()
    assert cfg.hint_ladder == (0.25, 0.5, 0.75) and cfg.loss_type == "bnpo" and cfg.beta == 0
    assert cfg.std_eps == 1e-4 and isinstance(cfg, GRPOConfig)
    assert GHPOConfig(hint_ladder=[0.5]).hint_ladder == (0.5,)  # a JSON list


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"hint_ladder": (0.5, 0.25)}, "hint_ladder"),
        ({"hint_ladder": (0.25, 0.25)}, "hint_ladder"),
        ({"hint_ladder": (0.5, 1.0)}, r"hint_ladder\[1\]"),
        ({"hint_ladder": (0.0, 0.5)}, r"hint_ladder\[0\]"),
        ({"hint_ladder": ()}, "hint_ladder"),
        ({"hint_ladder": 0.5}, "hint_ladder"),
        ({"dynamic_sampling": True}, "dynamic_sampling"),
        ({"stcr": True}, "stcr"),
        ({"dads": True, "beta": 0.1}, "dads"),
        ({"overlong_buffer": 2}, "overlong_buffer"),
        ({"max_gen_batches": 0}, "max_gen_batches"),
    ],
)
def test_bad_ghpo_configs_are_refused_by_name(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        GHPOConfig(**kwargs)


def test_train_ghpo_needs_solutions_and_its_config(task4):
    bare = dataclasses.replace(task4, solutions=None, solution_mask=None)
    with pytest.raises(ValueError, match="solutions"):
        train_ghpo(bare, GHPOConfig(steps=1, batch_prompts=1, num_generations=2))
    with pytest.raises(TypeError, match="cfg"):
        train_ghpo(task4, GRPOConfig(steps=1))
