"""CHORD (Zhang et al. 2025, arXiv:2508.11408; Trinity-RFT's chord_policy_loss): the mu
schedule, the detached phi weight, the clipped GRPO part, the mixed loss of a step, stacked
runs == one by one."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trainers.sequence.conftest import close
from trainers import losses as L
from trainers.sequence import TinyCausalLM, tie_break, tied_digit_sum
from trainers.sequence import common as C
from trainers.sequence.chord import (
    CHORDConfig,
    _pg_token_loss,
    _sft_token_loss,
    mu_schedule,
    train_chord,
)

SMALL = {"d_model": 8, "n_layers": 1, "n_heads": 1}


@pytest.fixture(scope="module")
def task():
    return tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))


# ------------------------------------------------------------------------------ mu schedule


def test_mu_schedule_at_hand_picked_steps():
    """W = 10, D = 20, peak 0.8, valley 0.2: linear warm-up, cosine decay, then the valley."""
    args = (10, 20, 0.8, 0.2)
    assert mu_schedule(0, *args) == 0.0
    assert mu_schedule(5, *args) == pytest.approx(0.4, abs=1e-15)
    assert mu_schedule(10, *args) == pytest.approx(0.8, abs=1e-15)  # cos(0) = 1: the peak
    assert mu_schedule(15, *args) == pytest.approx(0.6 * (1 + math.cos(math.pi / 4)) / 2 + 0.2)
    assert mu_schedule(20, *args) == pytest.approx(0.5, abs=1e-15)  # half way: the mid-point
    assert mu_schedule(29, *args) == pytest.approx(
        0.6 * (1 + math.cos(math.pi * 19 / 20)) / 2 + 0.2
    )
    assert mu_schedule(30, *args) == 0.2
    assert mu_schedule(10_000, *args) == 0.2
    # W = D = 0: the constant valley (CHORD-phi's mu = 0.1)
    assert [mu_schedule(t, 0, 0, 0.1, 0.1) for t in (0, 1, 500)] == [0.1, 0.1, 0.1]
    # CHORD-mu: 0.9 at step 0, 0.05 from step 200 on
    assert mu_schedule(0, 0, 200, 0.9, 0.05) == pytest.approx(0.9)
    assert mu_schedule(200, 0, 200, 0.9, 0.05) == 0.05


@settings(max_examples=60, deadline=None)
@given(
    w=st.integers(0, 30),
    d=st.integers(0, 30),
    peak=st.floats(0, 1),
    valley=st.floats(0, 1),
)
def test_mu_schedule_stays_between_its_ends_and_decays_monotonically(w, d, peak, valley):
    lo, hi = min(0.0, valley), max(peak, valley)
    mus = [mu_schedule(t, w, d, peak, valley) for t in range(w + d + 3)]
    assert all(lo - 1e-12 <= m <= hi + 1e-12 for m in mus)
    if w > 0:  # the warm-up rises linearly from 0
        assert mus[0] == 0.0 and all(b >= a for a, b in itertools.pairwise(mus[:w]))
    decay = mus[w : w + d]
    step = -1 if peak >= valley else 1  # a "decay" to a higher valley rises
    assert all(step * (b - a) >= -1e-12 for a, b in itertools.pairwise(decay))
    assert mus[w + d :] == [valley] * 3


def test_paper_variants():
    mu = CHORDConfig.chord_mu()
    assert (mu.mu_warmup_steps, mu.mu_decay_steps, mu.mu_peak, mu.mu_valley, mu.phi) == (
        0,
        200,
        0.9,
        0.05,
        False,
    )
    scaled = CHORDConfig.chord_mu(decay_fraction=0.25, steps=80, lr=1e-3)
    assert (scaled.mu_decay_steps, scaled.steps, scaled.lr) == (20, 80, 1e-3)
    assert CHORDConfig.chord_mu(mu_decay_steps=7).mu_decay_steps == 7
    phi = CHORDConfig.chord_phi(steps=3)
    assert (phi.mu_warmup_steps, phi.mu_decay_steps, phi.mu_peak, phi.mu_valley, phi.phi) == (
        0,
        0,
        0.1,
        0.1,
        True,
    )
    assert CHORDConfig.chord_phi() == CHORDConfig()  # the class defaults are CHORD-phi (Trinity)


# ------------------------------------------------------------------------------ the SFT part


def _expert_logp(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Log-probs (1, B, 1) of targets y (B,) under logits z (B, V)."""
    return torch.log_softmax(z, -1).gather(-1, y[:, None]).reshape(1, -1, 1)


def test_phi_weight_is_detached():
    """CHORD-phi's gradient of a token is p (1 - p) times the NLL's (softmax - onehot) / n: the
    weight is not differentiated (with it, the gradient would differ)."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 1])
    mask = torch.ones(1, 5, 1, dtype=torch.bool)
    loss = _sft_token_loss(
        _expert_logp(z, y),
        mask,
        phi=True,
        cutoff_prob=1.0,
        loss_type="bnpo",
        max_completion_length=1,
    )
    (grad,) = torch.autograd.grad(loss.sum(), z)
    with torch.no_grad():
        probs = torch.softmax(z, -1)
        p = probs.gather(-1, y[:, None])
        dnll = (probs - torch.nn.functional.one_hot(y, 4)) / 5  # grad of the token-mean NLL
        expected = p * (1 - p) * dnll
    close(grad, expected, atol=1e-14)
    # the undetached weight's gradient differs: the test can tell
    lp = _expert_logp(z, y)
    (full,) = torch.autograd.grad((-(lp.exp() * (1 - lp.exp())) * lp).mean(), z)
    assert (full - expected).abs().max() > 1e-3
    # CHORD-mu: the plain NLL
    nll = _sft_token_loss(
        _expert_logp(z, y),
        mask,
        phi=False,
        cutoff_prob=1.0,
        loss_type="bnpo",
        max_completion_length=1,
    )
    (grad_mu,) = torch.autograd.grad(nll.sum(), z)
    close(grad_mu, dnll, atol=1e-14)


def test_sft_part_on_a_tiny_batch():
    """Two expert rows of 2 and 1 real tokens with p = 0.5, 0.25 | 0.8 (the pad is masked)."""
    p = torch.tensor([[[0.5, 0.25], [0.8, 0.3]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True], [True, False]]])
    logp = p.log() * mask
    kw = {"cutoff_prob": 1.0, "max_completion_length": 2}
    phi = _sft_token_loss(logp, mask, phi=True, loss_type="bnpo", **kw)
    hand = -(0.25 * math.log(0.5) + 0.1875 * math.log(0.25) + 0.16 * math.log(0.8)) / 3
    assert float(phi) == pytest.approx(hand, rel=1e-12)
    nll = _sft_token_loss(logp, mask, phi=False, loss_type="bnpo", **kw)
    assert float(nll) == pytest.approx(-(math.log(0.5) + math.log(0.25) + math.log(0.8)) / 3)
    seq = _sft_token_loss(logp, mask, phi=False, loss_type="grpo", **kw)  # per-sequence mean
    assert float(seq) == pytest.approx(-((math.log(0.5) + math.log(0.25)) / 2 + math.log(0.8)) / 2)
    # cutoff 0.4 clamps log p <= log 0.4 (the 0.5 and 0.8 tokens); the weights are unchanged
    cut = _sft_token_loss(
        logp, mask, phi=True, loss_type="bnpo", cutoff_prob=0.4, max_completion_length=2
    )
    hand_cut = -(0.25 * math.log(0.4) + 0.1875 * math.log(0.25) + 0.16 * math.log(0.4)) / 3
    assert float(cut) == pytest.approx(hand_cut, rel=1e-12)


# ------------------------------------------------------------------------------ the GRPO part


def _pg(logp, old, adv, mask, **kw):
    args = {
        "loss_type": "bnpo",
        "epsilon": 0.2,
        "epsilon_high": None,
        "dual_clip": 3.0,
        "beta": 0.0,
        "max_completion_length": logp.shape[-1],
    }
    return _pg_token_loss(logp, old, None, adv, mask, **{**args, **kw})


def test_grpo_part_with_one_iteration_is_the_toolkit_grpo_loss():
    """With the old policy = the current one detached, the clips and the clamp never act: the
    value and gradient are trainers.losses.grpo_token_loss's (k3 term included)."""
    g = torch.Generator().manual_seed(1)
    logp = (-torch.rand(2, 6, 3, generator=g, dtype=torch.float64)).requires_grad_()
    ref = -torch.rand(2, 6, 3, generator=g, dtype=torch.float64)
    adv = torch.randn(2, 6, generator=g, dtype=torch.float64)
    mask = torch.rand(2, 6, 3, generator=g) > 0.2
    for beta in (0.0, 0.1):
        ours, _ = _pg_token_loss(
            logp,
            None,
            ref,
            adv,
            mask,
            loss_type="bnpo",
            epsilon=0.2,
            epsilon_high=None,
            dual_clip=3.0,
            beta=beta,
            max_completion_length=3,
        )
        trl, _ = L.grpo_token_loss(logp, None, ref, adv, mask, loss_type="bnpo", beta=beta)
        close(ours, trl, atol=1e-14)
        (g1,) = torch.autograd.grad(ours.sum(), logp)
        (g2,) = torch.autograd.grad(trl.sum(), logp)
        close(g1, g2, atol=1e-14)


def test_grpo_part_clips_on_a_hand_batch():
    """One token per row, log-ratios and advantages picked so that each rule acts once:
    clip 0.2, dual clip c = 3 for A < 0, log-ratio clamp at +-20."""
    log_ratio = torch.tensor(
        [math.log(0.5), math.log(1.5), math.log(0.5), math.log(1.5), math.log(5.0), 25.0, -25.0],
        dtype=torch.float64,
    )
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0], dtype=torch.float64)
    hand = torch.tensor(
        [
            -0.5,  # A > 0, rho 0.5: max(-0.5, -0.8), unclipped
            -1.2,  # A > 0, rho 1.5: clipped at 1.2
            0.8,  # A < 0, rho 0.5: clipped at 0.8
            1.5,  # A < 0, rho 1.5: unclipped (1.5 < 3)
            3.0,  # A < 0, rho 5: dual clip at c = 3
            -1.2,  # A > 0, rho e^20: clipped at 1.2
            -math.exp(-20.0),  # A > 0, log-ratio -25 clamped to -20
        ],
        dtype=torch.float64,
    )
    live = torch.tensor([1, 0, 0, 1, 0, 0, 0], dtype=torch.float64)  # where the gradient flows
    old = torch.zeros(1, 7, 1, dtype=torch.float64)
    logp = log_ratio.reshape(1, 7, 1).clone().requires_grad_()
    mask = torch.ones(1, 7, 1, dtype=torch.bool)
    loss, stats = _pg(logp, old, adv[None], mask)
    assert float(loss.detach()) == pytest.approx(float(hand.mean()), rel=1e-12)
    assert float(stats["clip_ratio"]) == pytest.approx(4 / 7)  # the clamp is not a clip
    (grad,) = torch.autograd.grad(loss.sum(), logp)
    ratio = log_ratio.clamp(-20, 20).exp()
    close(grad.flatten(), -adv * ratio * live / 7, atol=1e-14)
    # without the dual clip the A < 0, rho 5 token costs 5
    loss_nd, _ = _pg(logp, old, adv[None], mask, dual_clip=None)
    assert float(loss_nd.detach()) == pytest.approx(float(hand.mean()) + 2.0 / 7, rel=1e-12)


# ------------------------------------------------------------------------------ the trainer


def test_first_step_loss_is_the_hand_mix(task):
    """Round 1 with one iteration: the GRPO part of fixed-length completions is the token mean
    of -A = 0 (group-centred advantages), so the loss is mu_0 x the phi-weighted NLL of the
    expert rows (the solutions of the run's draws from its 'targets' stream) under the
    initial policy, computed here by hand."""
    cfg = CHORDConfig(
        steps=1,
        batch_prompts=2,
        num_generations=3,
        expert_batch=4,
        mu_warmup_steps=0,
        mu_decay_steps=10,
        mu_peak=0.7,
        mu_valley=0.1,
        dtype="float64",
        **SMALL,
    )
    policy = TinyCausalLM(
        task.vocab_size,
        max_len=task.prompt_len + task.completion_len,
        seeds=[4, 9],
        dtype=torch.float64,
        **SMALL,
    )
    init = copy.deepcopy(policy)
    res = train_chord(task, cfg, seeds=[4, 9], policy=policy)
    idx = C.draw_prompts(task, 4, C.generators([4, 9], "targets", torch.device("cpu")))
    with torch.no_grad():
        logp = C.logprobs_runs(
            init, task.prompts[idx], task.solutions[idx], task.solution_mask[idx], task
        )
    m = task.solution_mask[idx].double()
    p = logp.exp()
    sft = (-(p * (1 - p)) * logp * m).sum((1, 2)) / m.sum((1, 2))
    row = res.metrics[-1]
    assert row["stats/mu"] == pytest.approx(0.7)
    assert abs(row["losses/grpo"]) < 1e-12
    assert row["losses/sft"] == pytest.approx(float(sft.mean()), rel=1e-10)
    assert row["losses/loss"] == pytest.approx(0.7 * float(sft.mean()), rel=1e-10)


def _sgd_step(task, cfg):
    """The parameter change of one round of train_chord from a fixed float64 policy (seed 3)."""
    policy = TinyCausalLM(
        task.vocab_size,
        max_len=task.prompt_len + task.completion_len,
        seeds=[3],
        dtype=torch.float64,
        **SMALL,
    )
    before = [p.detach().clone() for p in policy.parameters()]
    train_chord(task, cfg, seeds=[3], policy=policy)
    return torch.cat(
        [(p.detach() - b).flatten() for p, b in zip(policy.parameters(), before, strict=True)]
    )


def test_grpo_part_reads_grpo_std_eps_and_max_completion_length(task):
    """CHORDConfig is a GRPOConfig: with mu = 0 and plain SGD, one round's step halves when
    max_completion_length doubles L_max of the 'dr_grpo' aggregation, and vanishes when
    std_eps swamps the group std of the advantages."""
    cfg = CHORDConfig(
        steps=1,
        batch_prompts=4,
        num_generations=4,
        expert_batch=2,
        mu_peak=0.0,
        mu_valley=0.0,
        loss_type="dr_grpo",
        optimizer="sgd",
        max_grad_norm=None,
        lr=0.1,
        dtype="float64",
        **SMALL,
    )
    step = _sgd_step(task, cfg)
    assert step.abs().max() > 1e-4
    longer = dataclasses.replace(cfg, max_completion_length=2 * task.completion_len)
    close(_sgd_step(task, longer), step / 2, atol=1e-12)
    assert _sgd_step(task, dataclasses.replace(cfg, std_eps=1e12)).abs().max() < 1e-12


def test_stacked_runs_equal_runs_one_by_one(task):
    """Seeds [a, b] stacked, each with its own task, equal a and b trained alone (float64),
    with the schedule, phi, the cutoff, two iterations and the k3 term on."""
    tasks = [task, tie_break(task, 0.3, seed=1)]
    cfg = CHORDConfig(
        steps=3,
        batch_prompts=3,
        num_generations=3,
        expert_batch=2,
        num_iterations=2,
        mu_warmup_steps=1,
        mu_decay_steps=2,
        mu_peak=0.6,
        mu_valley=0.2,
        cutoff_prob=0.9,
        beta=0.05,
        baseline="rloo",
        lr=1e-2,
        dtype="float64",
        **SMALL,
    )
    both = train_chord(tasks, cfg, seeds=[3, 5]).distribution(task).logp
    alone = [
        train_chord(t, cfg, seeds=[s]).distribution(task).logp
        for t, s in zip(tasks, (3, 5), strict=True)
    ]
    close(both, torch.cat(alone), atol=1e-9)
    assert not torch.allclose(both[0], both[1])


def test_metrics_samples_and_callback(task):
    """Rows at the logged rounds, stats/samples = rounds x Bp x G (expert rows are not
    samples), stats/mu = mu_schedule(round - 1), callback(step, policy) at each logged round;
    a user's stacked policy and reference are used as given."""
    cfg = CHORDConfig(
        steps=3,
        batch_prompts=2,
        num_generations=3,
        expert_batch=5,
        log_every=2,
        beta=0.1,
        mu_decay_steps=3,
        mu_peak=0.9,
        mu_valley=0.05,
        **SMALL,
    )
    kw = {"max_len": task.prompt_len + task.completion_len, **SMALL}
    policy = TinyCausalLM(task.vocab_size, seeds=[0, 1], **kw)
    ref = C.frozen_copy(TinyCausalLM(task.vocab_size, seeds=[7, 8], **kw))
    calls = []
    res = train_chord(
        task,
        cfg,
        seeds=[0, 1],
        policy=policy,
        ref_policy=ref,
        callback=lambda s, p: calls.append((s, p)),
    )
    assert res.policy is policy and res.ref_policy is ref and res.algorithm == "chord"
    assert [r["step"] for r in res.metrics] == [2.0, 3.0]
    assert [r["stats/samples"] for r in res.metrics] == [12.0, 18.0]
    for r in res.metrics:
        assert r["stats/mu"] == pytest.approx(mu_schedule(int(r["step"]) - 1, 0, 3, 0.9, 0.05))
        for key in ("charts/reward", "losses/loss", "stats/entropy", "stats/kl"):
            assert math.isfinite(r[key])
    assert [s for s, _ in calls] == [2, 3] and all(p is policy for _, p in calls)
    L_ = task.completion_len
    assert res.tokens_seen == 3 * 2 * (2 * 3 + 5) * L_  # rounds x runs x rows x tokens


def test_chord_mu_pulls_mass_onto_the_expert_solution(task):
    """A large SFT weight (mu = 0.9, plain NLL) moves each prompt's mass onto its one expert
    solution, far beyond the initial policy's."""
    cfg = CHORDConfig.chord_mu(
        steps=25,
        mu_decay_steps=0,
        mu_valley=0.9,
        batch_prompts=2,
        num_generations=2,
        expert_batch=8,
        lr=1e-2,
        d_model=16,
        n_layers=1,
        n_heads=1,
    )
    res = train_chord(task, cfg, seeds=[0])
    tokens, _ = task.completions()
    match = (tokens[None] == task.solutions[:, None]).all(-1)
    after = res.distribution(task).mass(match)
    before = res.ref_distribution(task).mass(match)
    assert torch.all(after > before + 0.3), (before, after)
