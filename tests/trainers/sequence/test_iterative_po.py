"""Iterative preference optimisation: the general preference oracle, on-policy pairs,
Accelerated Preference Optimization (He, Yuan & Gu 2024, arXiv:2410.06293) and DNO (Rosset et
al. 2024, arXiv:2404.03715, Algorithms 1 and 2).

The tiny task has two prompts (sums 2 and 3 of two digits in {0, 1, 2}) and 45 completions
each; the tie set of sum 2 holds three answers, so the intransitive oracle has a cycle there.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trainers.sequence.conftest import close
from trainers.sequence import (
    SequenceDPOConfig,
    TinyCausalLM,
    drop_prompts,
    exact_logprobs,
    label_flips,
    tie_break,
    tied_digit_sum,
    train_sequence_dpo,
)
from trainers.sequence import common as C
from trainers.sequence import dpo as D
from trainers.sequence import iterative_po as I
from trainers.sequence.dpo import on_policy_pairs, preference_oracle, preference_table
from trainers.sequence.iterative_po import (
    AccPOConfig,
    DNOConfig,
    train_accelerated_po,
    train_dno,
)

TASK = tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))
SMALL = {"d_model": 8, "n_layers": 1, "n_heads": 2, "dtype": "float64"}


def _policy(seeds, dtype=torch.float64):
    return TinyCausalLM(
        TASK.vocab_size,
        max_len=TASK.prompt_len + TASK.completion_len,
        d_model=8,
        n_layers=1,
        n_heads=2,
        seeds=seeds,
        dtype=dtype,
    )


def _logp(policy, task=TASK):
    tokens, mask = task.completions()
    with torch.no_grad():
        return exact_logprobs(policy, task.prompts, tokens, mask, allowed=task.allowed)


def _params(policy):
    return [p.detach().clone() for p in policy.parameters()]


# ------------------------------------------------------------------------------- the oracle
def test_bradley_terry_table_is_the_sigmoid_of_the_reward_gap_with_label_flips():
    r = TASK.reward_table()
    expected = torch.sigmoid(3.0 * (r[:, :, None] - r[:, None, :]))
    close(preference_table(TASK, scale=3.0), expected, 1e-15)
    noisy = label_flips(TASK, 0.2)
    close(preference_table(noisy, scale=3.0), 0.8 * expected + 0.2 * (1 - expected), 1e-15)
    close(preference_table(noisy, scale=3.0, flips=False), expected, 1e-15)
    # a valid answer beats an invalid one with probability sigmoid(3)
    p, a, b = 0, int(TASK.valid_table()[0].nonzero()[0]), 0
    assert TASK.reward_table()[p, b] == 0
    assert math.isclose(
        float(preference_oracle(TASK, scale=3.0).prob(p, a, b)), 1 / (1 + math.exp(-3))
    )


def test_intransitive_table_has_a_rock_paper_scissors_cycle_among_tied_answers():
    tab = preference_table(TASK, "intransitive", scale=3.0, strength=1.0)
    valid = TASK.valid_table()
    a, b, c = valid[0].nonzero().flatten().tolist()  # the three answers of sum 2: classes 0, 1, 2
    assert tab[0, a, b] == 1 and tab[0, b, c] == 1 and tab[0, c, a] == 1  # a > b > c > a
    assert tab[0, b, a] == 0 and tab[0, a, a] == 0.5
    # every tied answer loses to another one: no Condorcet winner
    tied = valid[0].nonzero().flatten()
    assert all(bool((tab[0, tied, y] == 1).any()) for y in tied.tolist())
    # two tied answers only (sum 3): class 0 beats class 1, no cycle
    d, e = valid[1].nonzero().flatten().tolist()
    assert tab[1, d, e] == 1
    # outside the tie sets it is Bradley-Terry; strength 0 is Bradley-Terry everywhere
    bt = preference_table(TASK, scale=3.0)
    both = valid[:, :, None] & valid[:, None, :]
    assert torch.equal(tab[~both], bt[~both])
    close(preference_table(TASK, "intransitive", scale=3.0, strength=0.0), bt, 1e-15)
    half = preference_table(TASK, "intransitive", scale=3.0, strength=0.5)
    assert half[0, a, b] == 0.75


@settings(max_examples=15, deadline=None)
@given(
    kind=st.sampled_from(D.ORACLES),
    scale=st.floats(0.05, 50.0),
    strength=st.floats(0.0, 1.0),
    q=st.floats(0.0, 0.49),
)
def test_every_oracle_table_is_a_preference(kind, scale, strength, q):
    """P(y > y') + P(y' > y) = 1, P(y > y) = 1/2, values in [0, 1], with or without flips."""
    task = label_flips(TASK, q)
    for flips in (True, False):
        tab = preference_table(task, kind, scale=scale, strength=strength, flips=flips)
        close(tab + tab.transpose(-1, -2), torch.ones_like(tab), 1e-12)
        close(torch.diagonal(tab, dim1=-2, dim2=-1), torch.full((2, 45), 0.5), 0.0)
        assert bool(((tab >= 0) & (tab <= 1)).all())


def test_exact_win_rates_match_the_dense_table():
    oracle = preference_oracle(label_flips(TASK, 0.1), "intransitive", scale=2.0, strength=0.7)
    g = torch.Generator().manual_seed(0)
    lp1 = torch.log_softmax(torch.randn(3, 2, 45, generator=g, dtype=torch.float64), -1)
    lp2 = torch.log_softmax(torch.randn(3, 2, 45, generator=g, dtype=torch.float64), -1)
    dense, clean = oracle.dense(), oracle.dense(flips=False)
    p1, p2 = lp1.exp(), lp2.exp()
    close(oracle.expected_win(lp2), torch.einsum("pab,npb->npa", dense, p2), 1e-12)
    close(oracle.win_rate(lp1, lp2), torch.einsum("npa,pab,npb->np", p1, clean, p2), 1e-12)
    close(oracle.win_rate(lp1, lp1), torch.full((3, 2), 0.5), 1e-12)
    close(oracle.win_rate(lp1, lp2) + oracle.win_rate(lp2, lp1), torch.ones(3, 2), 1e-12)


def test_on_policy_pairs_follow_the_oracle():
    policy = _policy([0, 1], torch.float32)
    r = TASK.reward_table()
    pairs = on_policy_pairs(policy, TASK, 300, seeds=[0, 1], scale=50.0)
    for p, w, lo in pairs:
        assert p.numel() > 0 and bool((w != lo).all())
        assert bool((r[p, w] > r[p, lo]).all())  # no ties kept; sigmoid(50) never loses
    again = on_policy_pairs(policy, TASK, 300, seeds=[0, 1], scale=50.0)
    assert all(
        torch.equal(x, y)
        for a, b in zip(pairs, again, strict=True)
        for x, y in zip(a, b, strict=True)
    )
    # ties kept: equal rewards appear, identical completions never
    tied = on_policy_pairs(policy, TASK, 300, seeds=[0, 1], scale=50.0, drop_ties=False)
    p, w, lo = tied[0]
    assert bool((r[p, w] == r[p, lo]).any()) and bool((w != lo).all())
    # label flips: about q of the informative pairs come out reversed
    flipped = on_policy_pairs(policy, label_flips(TASK, 0.3), 3000, seeds=[0, 1], scale=50.0)
    p, w, lo = flipped[0]
    assert p.numel() > 150
    assert abs(float((r[p, w] < r[p, lo]).double().mean()) - 0.3) < 0.1


# ------------------------------------------------------------------------------- the losses
def test_dpo_step_with_soft_labels_matches_hand_computation_and_empty_runs_stay_put():
    policy, ref = _policy([1, 2]), _policy([3, 4])
    tokens, mask = TASK.completions()
    lp, lp_ref = _logp(policy), _logp(ref)
    beta = 0.5
    # run 0: one pair with soft label-flip probability 0.2; run 1: one pair, 0.9
    cases = [(0, 5, 7, 0.2), (1, 10, 3, 0.9)]
    pairs = [(torch.tensor([p]), torch.tensor([a]), torch.tensor([b])) for p, a, b, _ in cases]
    soft = [torch.tensor([s], dtype=torch.float64) for *_, s in cases]
    expected = []
    for i, (p, a, b, s) in enumerate(cases):
        m = (lp[i, p, a] - lp_ref[i, p, a]) - (lp[i, p, b] - lp_ref[i, p, b])
        sig = torch.sigmoid(beta * m)
        expected.append(-(1 - s) * torch.log(sig) - s * torch.log(1 - sig))
    opt = torch.optim.SGD(policy.parameters(), lr=0.1)
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    loss, _stats, entropy, n_tok = D._dpo_step(
        policy,
        ref,
        TASK,
        tokens,
        mask,
        pairs,
        gens,
        opt,
        batch_size=3,
        beta=beta,
        loss_type="sigmoid",
        label_smoothing=0.0,
        max_grad_norm=None,
        device=torch.device("cpu"),
        soft=soft,
    )
    close(loss, torch.stack(expected), 1e-12)
    assert n_tok == 2 * 2 * 3 * TASK.completion_len and 0 < float(entropy)
    # a run without pairs: loss 0, no gradient, its parameters do not move
    before = _params(policy)
    empty = (torch.zeros(0, dtype=torch.long),) * 3
    loss, *_ = D._dpo_step(
        policy,
        ref,
        TASK,
        tokens,
        mask,
        [pairs[0], empty],
        gens,
        opt,
        batch_size=3,
        beta=beta,
        loss_type="sigmoid",
        label_smoothing=0.0,
        max_grad_norm=None,
        device=torch.device("cpu"),
        soft=[soft[0], torch.zeros(0, dtype=torch.float64)],
    )
    assert float(loss[1]) == 0.0 and float(loss[0]) > 0
    after = _params(policy)
    assert all(torch.equal(x[1], y[1]) for x, y in zip(before, after, strict=True))
    assert not all(torch.equal(x[0], y[0]) for x, y in zip(before, after, strict=True))


def test_dno_batch_scores_are_leave_one_out_win_rates():
    oracle = preference_oracle(TASK, scale=2.0)
    valid = TASK.valid_table()[0].nonzero().flatten().tolist()
    a, c, b = valid[0], valid[1], 0  # two valid answers and an invalid one
    cand = D._Candidates(torch.tensor([[0]]), torch.tensor([[[a, b, c]]]), None, None)
    P = oracle.dense()[0]
    g = [torch.Generator().manual_seed(0)]
    _, s = I._dno_scores([oracle], cand, None, g, DNOConfig(verdicts="probability"), None)
    expected = [(P[a, b] + P[a, c]) / 2, (P[b, a] + P[b, c]) / 2, (P[c, a] + P[c, b]) / 2]
    close(s[0, 0], torch.stack(expected), 1e-15)
    assert math.isclose(float(s[0, 0, 0]), (1 / (1 + math.exp(-2)) + 0.5) / 2)
    # a teacher answer is compared with all three samples
    teacher = torch.tensor([[valid[2]]])
    comp, s = I._dno_scores(
        [oracle], cand, teacher, g, DNOConfig(variant="prct", verdicts="probability"), None
    )
    assert comp[0, 0].tolist() == [a, b, c, valid[2]]
    t = valid[2]
    close(s[0, 0, 3], (P[t, a] + P[t, b] + P[t, c]) / 3, 1e-15)
    # sampled verdicts: 0/1, and each pair of samples gives exactly one win
    K = 5
    cand5 = D._Candidates(
        torch.tensor([[0, 1]]), torch.randint(45, (1, 2, K), generator=g[0]), None, None
    )
    _, s = I._dno_scores([oracle], cand5, None, g, DNOConfig(variant="prct"), None)
    wins = s * (K - 1)
    close(wins, wins.round(), 1e-12)
    close(wins.sum(-1), torch.full((1, 2), K * (K - 1) / 2, dtype=torch.float64), 1e-12)
    # exact: r_t(x, y) = E_{y' ~ pi_t} P(y > y' | x)
    lp = torch.log_softmax(torch.randn(1, 2, 45, generator=g[0], dtype=torch.float64), -1)
    _, s = I._dno_scores([oracle], cand, None, g, DNOConfig(reward_estimate="exact"), lp)
    close(s[0, 0], (P[[a, b, c]] * lp[0, 0].exp()).sum(-1), 1e-12)


def test_dno_soft_and_prct_pairs():
    p = torch.tensor([0, 1])
    comp = torch.tensor([[4, 9, 4], [1, 2, 3]])
    scores = torch.tensor([[0.2, 0.7, 0.2], [0.5, 0.5, 0.5]], dtype=torch.float64)
    (pp, w, lo), flip = I._soft_pairs(p, comp, scores, 3, 2.0)
    # pairs i < j: (4, 9), (4, 4) dropped, (9, 4); then (1, 2), (1, 3), (2, 3)
    assert pp.tolist() == [0, 0, 1, 1, 1]
    assert w.tolist() == [4, 9, 1, 1, 2] and lo.tolist() == [9, 4, 2, 3, 3]
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = [sig(-2 * -0.5), sig(-2 * 0.5), 0.5, 0.5, 0.5]
    close(flip, torch.tensor(expected, dtype=torch.float64), 1e-15)
    # prct: best vs worst, kept above the margin (prompt 1 has no preference)
    pp, w, lo = I._prct_pairs(p, comp, scores, 0.3)
    assert (pp.tolist(), w.tolist(), lo.tolist()) == ([0], [9], [4])
    assert I._prct_pairs(p, comp, scores, 0.6)[0].numel() == 0


# ----------------------------------------------------------------- Accelerated PO mechanics
ACC = AccPOConfig(
    steps=4,
    inner_steps=2,
    prompts_per_iteration=8,
    batch_size=4,
    lr=3e-2,
    win_rate="off",
    drop_ties=False,
    oracle_scale=5.0,
    **SMALL,
)


def test_alpha_zero_is_iterative_dpo():
    """AccPO with alpha = 0 equals, round after round, on_policy_pairs from the current policy
    then train_sequence_dpo with a frozen copy of it as the reference."""
    cfg = replace(ACC, alpha=0.0)
    start = _policy([3, 5])
    res = train_accelerated_po(TASK, cfg, seeds=[3, 5], policy=copy.deepcopy(start))
    pol = copy.deepcopy(start)
    dpo = SequenceDPOConfig(steps=2, batch_size=4, beta=cfg.beta, lr=cfg.lr, **SMALL)
    for t in range(2):
        it = I._iteration_seeds([3, 5], t)
        pairs = on_policy_pairs(pol, TASK, 8, seeds=it, scale=5.0, drop_ties=False)
        train_sequence_dpo(
            TASK, dpo, pairs=pairs, seeds=it, policy=pol, ref_policy=C.frozen_copy(pol)
        )
    for x, y in zip(res.policy.parameters(), pol.parameters(), strict=True):
        close(x, y, 0.0)
    # momentum changes the second round
    moved = train_accelerated_po(
        TASK, replace(ACC, alpha=0.5), seeds=[3, 5], policy=copy.deepcopy(start)
    )
    assert not torch.allclose(next(moved.policy.parameters()), next(pol.parameters()))


def test_extrapolation_arithmetic_on_parameters(monkeypatch):
    start = _policy([7])
    one_round = replace(ACC, steps=2)
    theta0 = _params(start)
    hat1 = _params(
        train_accelerated_po(
            TASK, replace(one_round, alpha=0.0), seeds=[7], policy=copy.deepcopy(start)
        ).policy
    )
    theta1 = _params(
        train_accelerated_po(
            TASK, replace(one_round, alpha=0.4), seeds=[7], policy=copy.deepcopy(start)
        ).policy
    )
    for t0, h1, t1 in zip(theta0, hat1, theta1, strict=True):
        close(t1, h1 + 0.4 * (h1 - t0), 1e-12)
    assert any(not torch.equal(h, t) for h, t in zip(hat1, theta1, strict=True))
    # over three rounds the trainer passes hat theta_t (not the extrapolated theta_t) on
    calls = []
    real = I._extrapolate

    def spy(params, hat_prev, alpha):
        hats = [p.detach().clone() for p in params]
        out = real(params, hat_prev, alpha)
        calls.append(([h.clone() for h in hat_prev], hats, _params_of(params)))
        return out

    def _params_of(params):
        return [p.detach().clone() for p in params]

    monkeypatch.setattr(I, "_extrapolate", spy)
    cfg = replace(ACC, steps=6, alpha=0.4)
    train_accelerated_po(TASK, cfg, seeds=[7], policy=copy.deepcopy(start))
    assert len(calls) == 3
    for x, y in zip(calls[0][0], theta0, strict=True):
        close(x, y, 0.0)  # hat theta_0 = theta_0
    for t in range(3):
        prev, hats, after = calls[t]
        if t > 0:
            for x, y in zip(prev, calls[t - 1][1], strict=True):
                close(x, y, 0.0)  # hat theta_t, not theta_t
        for a, h, p in zip(after, hats, prev, strict=True):
            close(a, h + 0.4 * (h - p), 1e-12)


def test_extrapolate_helper():
    p = [torch.tensor([1.0, 2.0])]
    hats = I._extrapolate(p, [torch.tensor([0.0, 4.0])], 0.5)
    assert p[0].tolist() == [1.5, 1.0] and hats[0].tolist() == [1.0, 2.0]
    hats = I._extrapolate(p, hats, 0.0)  # alpha 0: the parameters stay
    assert p[0].tolist() == [1.5, 1.0] and hats[0].tolist() == [1.5, 1.0]


# ------------------------------------------------------------------- stacked == one by one
STACK_CASES = {
    "accpo": (train_accelerated_po, replace(ACC, alpha=0.5)),
    "dno-soft": (
        train_dno,
        DNOConfig(
            steps=4,
            inner_steps=2,
            prompts_per_iteration=6,
            batch_size=4,
            lr=3e-2,
            n_samples=3,
            **SMALL,
        ),
    ),
    "dno-soft-exact": (
        train_dno,
        DNOConfig(
            steps=4,
            inner_steps=2,
            prompts_per_iteration=6,
            batch_size=4,
            lr=3e-2,
            reward_estimate="exact",
            win_rate="sampled",
            win_rate_samples=8,
            **SMALL,
        ),
    ),
    "dno-prct": (
        train_dno,
        DNOConfig(
            variant="prct",
            teacher=True,
            oracle="intransitive",
            steps=4,
            inner_steps=2,
            prompts_per_iteration=6,
            batch_size=4,
            lr=3e-2,
            **SMALL,
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(STACK_CASES))
def test_stacked_runs_equal_runs_one_by_one(name):
    train, cfg = STACK_CASES[name]
    tasks = [label_flips(TASK, 0.2), drop_prompts(tie_break(TASK, 0.5, seed=1), 0.5, seed=0)]
    both = train(tasks, cfg, seeds=[3, 5])
    alone = [train(t, cfg, seeds=[s]) for t, s in zip(tasks, (3, 5), strict=True)]
    lp = both.distribution(TASK).logp
    close(lp, torch.cat([r.distribution(TASK).logp for r in alone]), 1e-9)
    assert not torch.allclose(lp[0], lp[1])
    assert both.tokens_seen == sum(r.tokens_seen for r in alone)


# ------------------------------------------------------------------------ logs and budgets
def test_logged_steps_samples_and_exact_win_rates():
    start = _policy([0])
    lp0 = _logp(start)
    seen = {}
    cfg = replace(ACC, steps=7, inner_steps=3, log_every=2, win_rate="exact", alpha=0.3)
    res = train_accelerated_po(
        TASK, cfg, seeds=[0], policy=start, callback=lambda s, p: seen.setdefault(s, _logp(p))
    )
    steps = [int(r["step"]) for r in res.metrics]
    assert steps == [2, 3, 4, 6, 7] and sorted(seen) == steps  # every 2, each round's end
    assert [r["stats/samples"] for r in res.metrics] == [16, 16, 32, 32, 48]
    assert [r["stats/iteration"] for r in res.metrics] == [1, 1, 2, 2, 3]
    oracle = preference_oracle(TASK, scale=cfg.oracle_scale)
    for step, prev in ((3, lp0), (6, seen[3]), (7, seen[6])):
        row = res.metrics[steps.index(step)]
        w = oracle.win_rate(seen[step], prev).mean()
        assert math.isclose(row["stats/win_rate_vs_previous"], float(w), abs_tol=1e-12)
        w0 = oracle.win_rate(seen[step], lp0).mean()
        assert math.isclose(row["stats/win_rate_vs_initial"], float(w0), abs_tol=1e-12)
        assert abs(float(w) - 0.5) > 1e-4  # the iterate moved
    assert "stats/win_rate_vs_previous" not in res.metrics[0]
    assert res.algorithm == "accpo" and "charts/reward" in res.metrics[0]


def test_dno_sample_budget_and_sampled_win_rate():
    cfg = DNOConfig(
        variant="prct",
        steps=5,
        inner_steps=2,
        prompts_per_iteration=4,
        batch_size=2,
        win_rate="sampled",
        win_rate_samples=16,
        **SMALL,
    )
    res = train_dno(TASK, cfg, seeds=[0])
    assert [r["stats/samples"] for r in res.metrics] == [20, 20, 40, 40, 60]  # 5 per prompt
    ends = [r for r in res.metrics if "stats/win_rate_vs_previous" in r]
    assert [int(r["step"]) for r in ends] == [2, 4, 5]
    assert all(0 <= r["stats/win_rate_vs_previous"] <= 1 for r in ends)
    off = train_dno(TASK, replace(cfg, win_rate="off"), seeds=[0])
    assert not any("stats/win_rate_vs_previous" in r for r in off.metrics)
    assert off.algorithm == "dno"


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="alpha"):
        AccPOConfig(alpha=1.0)
    with pytest.raises(ValueError, match="extrapolation"):
        AccPOConfig(extrapolation="logits")
    with pytest.raises(ValueError, match="teacher"):
        DNOConfig(teacher=True)
    with pytest.raises(ValueError, match="n_samples"):
        DNOConfig(n_samples=1)
    assert DNOConfig().samples_per_prompt == 2 and DNOConfig(variant="prct").samples_per_prompt == 5
    assert not DNOConfig().sampled_verdicts and DNOConfig(variant="prct").sampled_verdicts


# ---------------------------------------------------------------------------------- learning
@pytest.mark.slow
@pytest.mark.parametrize(
    "train, cfg",
    [
        (train_accelerated_po, AccPOConfig(steps=100, lr=3e-3)),
        (train_dno, DNOConfig(steps=100, lr=3e-3, n_samples=4)),
        (train_dno, DNOConfig(steps=100, lr=3e-3, n_samples=4, oracle="intransitive")),
        (train_dno, DNOConfig(variant="prct", steps=100, lr=3e-3)),
    ],
)
def test_iterative_methods_beat_chance(train, cfg):
    task = tied_digit_sum(n_digits=2, max_digit=2, sums=range(5))
    res = train(task, cfg, seeds=[0])
    chance = float(task.valid_table().double().mean())
    reward = (res.distribution(task).probs * task.reward_table()).sum(-1).mean(-1)
    assert torch.all(reward > chance + 0.08), (reward, chance)
    assert res.metrics[-1]["stats/win_rate_vs_initial"] > 0.5
