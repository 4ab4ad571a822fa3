"""Dr. GRPO, DAPO (ByteDance) and View-R1's APO as GRPOConfig switches: the pure functions
against hand values, dynamic sampling's mechanics, presets, stacked runs == one by one."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from tests.trainers.sequence.conftest import close
from trainers import losses as L
from trainers.sequence import (
    TinyCausalLM,
    grpo,
    reward_noise,
    shortest_paths,
    tie_break,
    tied_digit_sum,
)
from trainers.sequence import common as C
from trainers.sequence.grpo import (
    GRPOConfig,
    _policy_loss,
    _round,
    _Streams,
    completion_correct,
    dads_kl_loss,
    dads_weights,
    overlong_reward,
    stcr_factors,
    train_grpo,
)

SMALL = {"d_model": 8, "n_layers": 1, "n_heads": 2}


def f64(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


@pytest.fixture(scope="module")
def task():
    """Two digits in {0, 1, 2} summing to S in {2, 3}, then the answer: 45 completions per
    prompt, 3 and 2 of them correct (a uniform policy is right about 6% of the time)."""
    return tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))


class FixedPolicy(nn.Module):
    """A one-run policy that writes ``prefs[j]`` at completion position j (logit + 30), with a
    trainable bias (the optimizer needs a parameter)."""

    def __init__(self, vocab: int, prompt_len: int, prefs: list[int]):
        super().__init__()
        table = torch.zeros(prompt_len + len(prefs), vocab, dtype=torch.float64)
        for j, tok in enumerate(prefs):
            table[prompt_len - 1 + j, tok] = 30.0
        self.register_buffer("table", table)
        self.bias = nn.Parameter(torch.zeros(vocab, dtype=torch.float64))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return (self.table[: ids.shape[-1]] + self.bias).expand(*ids.shape, -1)


def _always_wrong(task) -> FixedPolicy:
    """Digits 0 and the answer A=0: wrong for every S > 0."""
    v = task.vocab
    prefs = [v.index("0")] * task.meta["n_digits"] + [v.index("A=0"), task.eos_id]
    return FixedPolicy(task.vocab_size, task.prompt_len, prefs)


# --------------------------------------------------------------------------------------------
# pure functions against hand values
# --------------------------------------------------------------------------------------------


def test_overlong_reward_hand_values():
    lengths = torch.tensor([1, 3, 4, 5, 6])
    # L_max = 6, L_buf = 2: 0 up to 4 tokens, -1/2 per token after
    assert overlong_reward(lengths, 6, 2).tolist() == [0.0, 0.0, 0.0, -0.5, -1.0]
    assert overlong_reward(lengths, 6, 2, penalty=3.0).tolist() == [0.0, 0.0, 0.0, -1.5, -3.0]
    # the whole length as buffer: -|y| / L_max
    close(overlong_reward(lengths, 6, 6), -lengths.double() / 6)
    assert overlong_reward(lengths, 6, 2).dtype == torch.float64


def test_dads_weights_hand_values_and_the_jump_at_zero_difficulty():
    e = math.e
    # d = 3/4: the one positive sample gets f = 1 - exp(-e/4), the negatives 1
    a = torch.tensor([[1.5, -0.5, -0.5, -0.5]])
    c = torch.tensor([[True, False, False, False]])
    close(dads_weights(a, c), f64([[1 - math.exp(-e / 4), 1.0, 1.0, 1.0]]))
    # d = 1/4: positives get 1 - exp(-3e/4); a zero advantage is not positive
    a = torch.tensor([[0.5, 0.5, 0.0, -1.5]])
    c = torch.tensor([[True, True, True, False]])
    f = 1 - math.exp(-3 * e / 4)
    close(dads_weights(a, c), f64([[f, f, 1.0, 1.0]]))
    # d = 0 (all correct, a tie-break makes some advantages positive): f(0) = 1
    a = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    assert dads_weights(a, torch.ones(1, 4, dtype=torch.bool)).tolist() == [[1.0] * 4]
    # d = 1 (all wrong, noise makes some advantages positive): f(1) = 1
    assert dads_weights(a, torch.zeros(1, 4, dtype=torch.bool)).tolist() == [[1.0] * 4]
    # the discontinuity: d -> 0+ gives 1 - e^-e ~ 0.934, not f(0) = 1
    g = 1000
    c = torch.ones(1, g, dtype=torch.bool)
    c[0, -1] = False  # d = 1/1000
    a = torch.ones(1, g)
    w = dads_weights(a, c)[0, 0].item()
    assert abs(w - (1 - math.exp(-e))) < 1e-2 and 1 - w > 0.06


def test_stcr_factors_hand_values():
    # correct lengths 2 and 4: mean 3; wrong ones of length 3 and 6: Delta = 0 and 3
    ln = torch.tensor([[2, 4, 3, 6]])
    c = torch.tensor([[True, True, False, False]])
    close(stcr_factors(ln, c, base=2.0), f64([[1.0, 1.0, 1.0, 2 - 2.0**-3]]))
    # the published base: w = 1 - 1.00001^-3 ~ 3e-5, a no-op at toy lengths
    w = stcr_factors(ln, c)[0, 3].item() - 1
    close(f64(w), f64(1 - 1.00001**-3), atol=1e-15)
    assert w < 4e-5
    # a shorter wrong answer (Delta < 0) is not touched; a group without a correct one neither
    ln = torch.tensor([[5, 1, 9, 9], [1, 2, 3, 4]])
    c = torch.tensor([[True, False, False, True], [False] * 4])
    out = stcr_factors(ln, c, base=3.0)
    close(out, f64([[1.0, 1.0, 1 - 3.0**-2 + 1, 1.0], [1.0] * 4]))
    # equal lengths (the fixed-length digit-sum task): all 1
    assert stcr_factors(torch.full((2, 4), 4), c, base=3.0).tolist() == [[1.0] * 4] * 2


def test_dads_kl_loss_is_a_weighted_mean_over_sequences_of_token_means():
    logp = torch.tensor([[[-1.0, -2.0, 0.0], [-0.5, 0.0, 0.0]]], dtype=torch.float64)
    ref = torch.tensor([[[-1.5, -1.0, -3.0], [-0.2, -9.0, -9.0]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True, False], [True, False, False]]])
    w = torch.tensor([[0.5, 2.0]], dtype=torch.float64)

    def k3(lp: float, lr: float) -> float:
        return math.exp(lr - lp) - (lr - lp) - 1

    seq0 = (k3(-1.0, -1.5) + k3(-2.0, -1.0)) / 2
    seq1 = k3(-0.5, -0.2)
    expected = (0.5 * seq0 + 2.0 * seq1) / 2
    close(dads_kl_loss(logp, ref, mask, w), f64([expected]), atol=1e-12)
    # a completion with no real token is left out of the mean over sequences
    mask2 = mask.clone()
    mask2[0, 1] = False
    close(dads_kl_loss(logp, ref, mask2, w), f64([0.5 * seq0]), atol=1e-12)


def test_dads_kl_term_has_no_ratio_and_the_trl_path_is_unchanged():
    """With ``dads`` the loss is the clipped surrogate plus ``beta * dads_kl_loss`` (no ratio:
    same value as TRL's ``k3 * rho`` at rho = 1 under 'grpo' aggregation, another gradient);
    without it, exactly :func:`trainers.losses.grpo_token_loss` with ``beta``."""
    g = torch.Generator().manual_seed(0)
    ref = -torch.rand(2, 3, 4, generator=g, dtype=torch.float64)
    base = -torch.rand(2, 3, 4, generator=g, dtype=torch.float64)
    adv = torch.randn(2, 3, generator=g, dtype=torch.float64)
    mask = torch.ones(2, 3, 4, dtype=torch.bool)
    mask[:, 1, 2:] = False
    ent = torch.zeros(2, 3, 4, dtype=torch.float64)
    ones = torch.ones(2, 3, dtype=torch.float64)

    def run(cfg, weights):
        logp = base.clone().requires_grad_(True)
        loss, _ = _policy_loss(cfg, logp, None, ref, adv, mask, ent, 4, weights)
        loss.sum().backward()
        return loss.detach(), logp.grad

    trl = GRPOConfig(beta=0.1, loss_type="grpo")
    apo = GRPOConfig(beta=0.1, loss_type="grpo", dads=True)
    l_trl, g_trl = run(trl, None)
    l_apo, g_apo = run(apo, ones)
    logp = base.clone().requires_grad_(True)
    ref_loss, _ = L.grpo_token_loss(logp, None, ref, adv, mask, loss_type="grpo", beta=0.1)
    close(l_trl, ref_loss.detach(), atol=1e-12)  # TRL's path, untouched
    close(l_apo, l_trl, atol=1e-12)  # equal values at rho = 1 ...
    assert (g_apo - g_trl).abs().max() > 1e-4  # ... but not the ratio's gradient
    pg, _ = L.grpo_token_loss(logp, None, ref, adv, mask, loss_type="grpo", beta=0.0)
    w = torch.rand(2, 3, generator=g, dtype=torch.float64)
    l_w, _ = run(apo, w)
    close(l_w, (pg + 0.1 * dads_kl_loss(logp, ref, mask, w)).detach(), atol=1e-12)


def test_completion_correct_reads_the_tie_sets_not_the_noisy_reward(task):
    tokens, mask = task.completions()
    valid = task.valid_table()  # (P, M)
    P, M = valid.shape
    prompts = task.prompts.repeat_interleave(M, 0).reshape(1, P * M, -1)
    t = tokens.repeat(P, 1)[None]
    m = mask.repeat(P, 1)[None]
    noisy = reward_noise(tie_break(task, 0.5, seed=0), 0.3, seed=1)
    for tk in (task, noisy):
        assert torch.equal(completion_correct(tk, prompts, t, m), valid.reshape(1, -1))
    # per-run tasks in a stack
    both = completion_correct(
        [task, noisy], prompts.expand(2, -1, -1), t.expand(2, -1, -1), m.expand(2, -1, -1)
    )
    assert torch.equal(both, valid.reshape(1, -1).expand(2, -1))


# --------------------------------------------------------------------------------------------
# presets and configs
# --------------------------------------------------------------------------------------------


def test_presets():
    dr = GRPOConfig.dr_grpo(steps=3)
    assert (dr.scale_rewards, dr.loss_type, dr.beta, dr.steps) == ("none", "dr_grpo", 0.0, 3)
    d = GRPOConfig.dapo(lr=1e-3)
    assert (d.epsilon, d.epsilon_high, d.loss_type, d.beta) == (0.2, 0.28, "dapo", 0.0)
    assert d.dynamic_sampling and d.max_gen_batches == 10 and d.filter_metric == "accuracy"
    assert d.std_eps == 1e-6 and d.overlong_buffer is None and d.lr == 1e-3
    a = GRPOConfig.apo_view_r1(stcr_base=1.5)
    assert (a.beta, a.dads, a.stcr, a.std_eps, a.loss_type) == (1e-3, True, True, 1e-9, "bnpo")
    assert a.stcr_base == 1.5 and GRPOConfig.apo_view_r1().stcr_base == 1.00001
    assert GRPOConfig().std_eps == 1e-4 and not GRPOConfig().dynamic_sampling


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"stcr_base": 1.0}, "stcr_base"),
        ({"stcr_base": 0.5}, "stcr_base"),
        ({"max_gen_batches": 0}, "max_gen_batches"),
        ({"filter_metric": "score"}, "filter_metric"),
        ({"overlong_buffer": 0}, "overlong_buffer"),
        ({"overlong_penalty": 0.0}, "overlong_penalty"),
        ({"dads": True}, "beta"),
        ({"dynamic_sampling": 1}, "dynamic_sampling"),
        ({"std_eps": -1e-4}, "std_eps"),
        ({"overlong_buffer": 5, "max_completion_length": 4}, "overlong_buffer"),
    ],
)
def test_bad_configs_are_refused_by_name(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        GRPOConfig(**kwargs)


def test_overlong_buffer_longer_than_the_task_is_refused(task):
    with pytest.raises(ValueError, match="overlong_buffer"):
        train_grpo(task, GRPOConfig(steps=1, overlong_buffer=task.completion_len + 1, **SMALL))


# --------------------------------------------------------------------------------------------
# mechanics: overlong shaping, dynamic sampling, sample counts
# --------------------------------------------------------------------------------------------


def test_overlong_shaping_is_added_to_the_reward_of_variable_length_completions():
    sp = shortest_paths()
    cfg = GRPOConfig(batch_prompts=4, num_generations=4, overlong_buffer=2, **SMALL)
    policy = TinyCausalLM(
        sp.vocab_size,
        max_len=sp.prompt_len + sp.completion_len,
        seeds=[0, 1],
        d_model=8,
        n_layers=1,
    )
    rnd = _round(
        policy,
        [sp, sp],
        cfg,
        _Streams.of([0, 1], torch.device("cpu")),
        torch.device("cpu"),
        sp.completion_len,
    )
    lengths = rnd.comps.mask.sum(-1)
    assert lengths.unique().numel() > 1  # the shaping is not a constant here
    close(rnd.scores, rnd.rewards + overlong_reward(lengths, sp.completion_len, 2))


def test_overlong_shaping_is_a_no_op_on_a_fixed_length_task(task):
    """Every digit-sum completion has L tokens: r_len = -1 for all, the advantages do not move."""
    base = GRPOConfig(steps=2, batch_prompts=2, num_generations=4, dtype="float64", **SMALL)
    shaped = dataclasses.replace(base, overlong_buffer=1)
    a, b = train_grpo(task, base, seeds=[1]), train_grpo(task, shaped, seeds=[1])
    close(a.distribution(task).logp, b.distribution(task).logp)
    assert b.metrics[-1]["charts/score"] == pytest.approx(a.metrics[-1]["charts/score"] - 1.0)


def test_dynamic_sampling_keeps_only_mixed_groups_and_counts_every_draw(task):
    cfg = GRPOConfig.dapo(batch_prompts=3, num_generations=4, max_gen_batches=40, **SMALL)
    policy = TinyCausalLM(
        task.vocab_size,
        max_len=task.prompt_len + task.completion_len,
        seeds=[0, 1],
        d_model=8,
        n_layers=1,
    )
    dev = torch.device("cpu")
    rnd = _round(policy, [task, task], cfg, _Streams.of([0, 1], dev), dev, task.completion_len)
    assert rnd.keep.all()  # filled within 40 batches
    c = rnd.correct.reshape(2, 3, 4)
    assert (c.any(-1) & ~c.all(-1)).all()  # every kept group is mixed
    assert torch.equal(
        rnd.correct, completion_correct(task, rnd.prompts, rnd.comps.tokens, rnd.comps.mask)
    )
    assert (rnd.gen_batches > 1).any()  # some groups were dropped and re-drawn
    assert torch.equal(rnd.samples, rnd.gen_batches * 3 * 4)


def test_dynamic_sampling_that_cannot_fill_pads_with_zero_advantage_groups(task):
    """An always-wrong policy never yields a mixed group: each round draws max_gen_batches
    batches, keeps none, and the update changes nothing (no loss token)."""
    policy = _always_wrong(task)
    cfg = GRPOConfig.dapo(
        steps=2, batch_prompts=2, num_generations=3, max_gen_batches=3, dtype="float64"
    )
    res = train_grpo(task, cfg, seeds=[0], policy=policy)
    assert res.algorithm == "dapo"
    assert policy.bias.abs().max() == 0
    last = res.metrics[-1]
    assert last["stats/samples"] == 2 * 3 * 2 * 3  # rounds x batches x groups x G
    assert last["stats/redraws"] == 2 and last["stats/kept_fraction"] == 0
    assert last["losses/loss"] == 0 and last["charts/reward"] == 0


def test_reward_filter_keeps_noisy_groups(task):
    noisy = reward_noise(task, 0.1, seed=0)
    cfg = GRPOConfig.dapo(
        steps=1, batch_prompts=3, num_generations=4, filter_metric="reward", **SMALL
    )
    res = train_grpo(noisy, cfg, seeds=[0])
    assert res.metrics[-1]["stats/redraws"] == 0 and res.metrics[-1]["stats/kept_fraction"] == 1


def test_plain_grpo_counts_its_samples(task):
    cfg = GRPOConfig(steps=3, batch_prompts=2, num_generations=3, log_every=2, **SMALL)
    res = train_grpo(task, cfg, seeds=[0, 1])
    assert [r["stats/samples"] for r in res.metrics] == [2 * 6.0, 3 * 6.0]
    assert res.metrics[-1]["stats/samples_max"] == 18


# --------------------------------------------------------------------------------------------
# stacked == one by one
# --------------------------------------------------------------------------------------------


def _stacked_vs_alone(tasks, cfg, seeds, eval_task):
    both = train_grpo(tasks, cfg, seeds=seeds)
    alone = [train_grpo(t, cfg, seeds=[s]) for t, s in zip(tasks, seeds, strict=True)]
    close(
        both.distribution(eval_task).logp,
        torch.cat([a.distribution(eval_task).logp for a in alone]),
    )
    for key in ("stats/samples", "charts/reward", "stats/redraws"):
        if key in both.metrics[-1]:
            mean = sum(a.metrics[-1][key] for a in alone) / len(alone)
            assert both.metrics[-1][key] == pytest.approx(mean, abs=1e-9), key
    return both, alone


def test_dapo_stacked_runs_equal_runs_one_by_one(task):
    """Runs that fill their batch after different numbers of re-draws: a full run's streams
    stop while the other draws on (float64, with overlong shaping and a tie-break task)."""
    tasks = [task, tie_break(task, 0.3, seed=1)]
    cfg = GRPOConfig.dapo(
        steps=3,
        batch_prompts=3,
        num_generations=4,
        max_gen_batches=4,
        overlong_buffer=1,
        num_iterations=2,
        lr=1e-2,
        dtype="float64",
        **SMALL,
    )
    both, alone = _stacked_vs_alone(tasks, cfg, [3, 5], task)
    redraws = [[r["stats/redraws"] for r in a.metrics] for a in alone]
    assert redraws[0] != redraws[1], redraws  # the runs re-drew differently
    assert all(r["stats/kept_fraction"] > 0 for r in both.metrics)  # groups were trained
    assert not torch.allclose(both.distribution(task).logp[0], both.distribution(task).logp[1])


def test_apo_stacked_runs_equal_runs_one_by_one(monkeypatch):
    """DADS and STCR (a base that acts) on variable-length paths of a 4-node graph, where
    some groups hold a correct path and a longer wrong walk (checked by spying on the
    factors the trainer computes)."""
    seen: dict[str, list[torch.Tensor]] = {"stcr": [], "dads": []}

    def spy(name, fn):
        def wrapped(*args, **kwargs):
            out = fn(*args, **kwargs)
            seen[name].append(out)
            return out

        return wrapped

    monkeypatch.setattr(grpo, "stcr_factors", spy("stcr", stcr_factors))
    monkeypatch.setattr(grpo, "dads_weights", spy("dads", dads_weights))
    sp = shortest_paths(n_nodes=4, n_edges=4)
    tasks = [sp, reward_noise(sp, 0.1, seed=2)]
    cfg = GRPOConfig.apo_view_r1(
        steps=3,
        batch_prompts=3,
        num_generations=4,
        stcr_base=1.5,
        beta=0.05,
        lr=1e-2,
        dtype="float64",
        **SMALL,
    )
    both, _ = _stacked_vs_alone(tasks, cfg, [0, 4], sp)
    assert both.algorithm == "apo_view_r1" and "stats/kl" in both.metrics[-1]
    assert any((s > 1).any() for s in seen["stcr"])  # STCR pushed a longer wrong walk
    assert any((w < 1).any() for w in seen["dads"])  # DADS relaxed a positive's KL


def test_dr_grpo_preset_trains(task):
    res = train_grpo(
        task, GRPOConfig.dr_grpo(steps=2, batch_prompts=2, num_generations=3, **SMALL), seeds=[0, 1]
    )
    assert res.algorithm == "grpo" and math.isfinite(res.metrics[-1]["losses/loss"])
    assert C.is_stacked(res.policy)
