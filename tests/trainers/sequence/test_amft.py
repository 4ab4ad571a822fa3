"""AMFT (He, Feng, Li 2025, arXiv:2508.06944, withdrawn; the TSYJ-He/AMFT controller): the
meta gradient is the look-ahead derivative of the validation loss and its sign, the entropy
term's direction, the clip of mu, the warm-up and target entropy, stacked runs == one by one."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
from torch import nn

from tests.trainers.sequence.conftest import close
from trainers import losses as L
from trainers.sequence import TinyCausalLM, drop_prompts, tie_break, tied_digit_sum
from trainers.sequence import common as C
from trainers.sequence.amft import (
    AMFTConfig,
    AMFTRunResult,
    _meta_gradient,
    _per_run_axis,
    _update_mu,
    train_amft,
)

SMALL = {"d_model": 8, "n_layers": 1, "n_heads": 1}


@pytest.fixture(scope="module")
def task():
    return tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))


def _policy(task, seeds):
    return TinyCausalLM(
        task.vocab_size,
        max_len=task.prompt_len + task.completion_len,
        seeds=seeds,
        dtype=torch.float64,
        **SMALL,
    )


def _losses(policy, task, runs=(0, 1)):
    """(N,) SFT, RL and validation losses of the runs ``runs`` of a policy on fixed tiny
    batches: SFT on the solutions of prompts 0 and 1, RL a REINFORCE-style loss on two fixed
    completions per run with advantages +-1 minus 0.01 x entropy, validation the NLL of every
    solution."""
    n, runs = len(runs), list(runs)
    sol_idx = torch.tensor([[0, 1]] * n)
    sft = L.sequence_nll(
        C.logprobs_runs(
            policy,
            task.prompts[sol_idx],
            task.solutions[sol_idx],
            task.solution_mask[sol_idx],
            task,
        ),
        task.solution_mask[sol_idx],
    )
    tokens, mask = task.completions()
    pick = torch.tensor([[3, 10], [5, 2]])[runs]
    logp, ent = C.logprobs_runs(
        policy, task.prompts[torch.zeros_like(pick)], tokens[pick], mask[pick], task, entropy=True
    )
    adv = torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=torch.float64)[runs]
    rl = -(logp.sum(-1) * adv).mean(-1) - 0.01 * L.aggregate_token_loss(ent, mask[pick], "bnpo")
    all_idx = torch.arange(task.n_prompts).expand(n, -1)
    val = L.sequence_nll(
        C.logprobs_runs(
            policy,
            task.prompts[all_idx],
            task.solutions[all_idx],
            task.solution_mask[all_idx],
            task,
        ),
        task.solution_mask[all_idx],
    )
    return sft, rl, val


def _lookahead_val(policy, task, alpha, mu):
    """Validation loss (N,) after one SGD step of size alpha on (1 - mu) L_RL + mu L_SFT,
    mu (N,) one weight per run."""
    sft, rl, _ = _losses(policy, task)
    params = list(policy.parameters())
    g_sft = torch.autograd.grad(sft.sum(), params, retain_graph=True)
    g_rl = torch.autograd.grad(rl.sum(), params)
    moved = copy.deepcopy(policy)
    with torch.no_grad():
        for p, gs, gr in zip(moved.parameters(), g_sft, g_rl, strict=True):
            m = mu.reshape((-1,) + (1,) * (p.ndim - 1))
            p -= alpha * ((1 - m) * gr + m * gs)
        return _losses(moved, task)[2]


def test_meta_gradient_is_the_lookahead_derivative_and_descent_lowers_val(task):
    """g_meta = -alpha <grad L_val, g_SFT - g_RL> per run equals the finite-difference
    derivative d L_val(theta'(mu)) / d mu of the one-step look-ahead (to O(alpha^2)); a
    'descent' controller step lowers the look-ahead validation loss of every run, an
    'ascent' step (the released code's sign) raises it."""
    policy = _policy(task, [0, 1])
    params = [p for p in policy.parameters() if p.requires_grad]
    alpha = 1e-5  # the relative O(alpha) gap of the first-order formula is ~1e-3 here
    sft, rl, val = _losses(policy, task)
    g_meta = _meta_gradient(policy, params, sft, rl, val, alpha)
    assert g_meta.shape == (2,) and torch.all(g_meta.abs() > 1e-7)
    mu = torch.tensor([0.3, 0.6], dtype=torch.float64)
    h = 1e-2
    fd = _lookahead_val(policy, task, alpha, mu + h) - _lookahead_val(policy, task, alpha, mu - h)
    fd = fd / (2 * h)
    assert torch.all((fd - g_meta).abs() < 1e-2 * g_meta.abs()), (g_meta, fd)
    base = _lookahead_val(policy, task, alpha, mu)
    zero = torch.zeros(2, dtype=torch.float64)
    for sign, direction in (("descent", -1.0), ("ascent", 1.0)):
        cfg = AMFTConfig(
            meta_lr=0.05 / float(g_meta.abs().max()),
            entropy_lr=0.0,
            meta_sign=sign,
            initial_mu=0.5,
            mu_min=0.0,
            mu_max=1.0,
        )
        new = _update_mu(mu, g_meta, zero, zero, cfg)
        assert torch.all(torch.sign(new - mu) == direction * torch.sign(g_meta)), new
        after = _lookahead_val(policy, task, alpha, new)
        assert torch.all(direction * (after - base) > 0), (sign, base, after)


class _Wrapped(nn.Module):
    """A stacked module that is not a TinyCausalLM (its gradients take the per-run path)."""

    def __init__(self, inner: TinyCausalLM):
        super().__init__()
        self.inner = inner
        self.n_runs = inner.n_runs
        self.vocab_size = inner.vocab_size

    def forward(self, ids):
        return self.inner(ids)


def test_meta_gradient_of_another_stacked_module_takes_one_gradient_per_run(task):
    policy = _policy(task, [2, 3])
    wrapped = _Wrapped(policy)
    params = list(policy.parameters())
    assert _per_run_axis(policy, params, 2) and not _per_run_axis(wrapped, params, 2)
    fast = _meta_gradient(policy, params, *_losses(policy, task), 0.1)
    slow = _meta_gradient(wrapped, params, *_losses(wrapped, task), 0.1)
    close(fast, slow, atol=1e-12)
    # and each run's value is that of the run alone (its unstacked single model, N = 1)
    for i in range(2):
        one = policy.unstack(i)
        alone = _meta_gradient(one, list(one.parameters()), *_losses(one, task, (i,)), 0.1)
        close(alone, fast[i : i + 1], atol=1e-12)


def test_controller_entropy_term_and_clip():
    """Entropy below the target raises mu by entropy_lr x the gap, above lowers it; the result
    is clipped to [mu_min, mu_max]; the meta term enters with the chosen sign."""
    cfg = AMFTConfig(meta_lr=0.0, entropy_lr=0.1, initial_mu=0.5, mu_min=0.2, mu_max=0.7)
    mu = torch.tensor([0.5, 0.5, 0.5, 0.5], dtype=torch.float64)
    target = torch.full((4,), 1.0, dtype=torch.float64)
    h = torch.tensor([0.5, 1.5, -10.0, 10.0], dtype=torch.float64)
    new = _update_mu(mu, torch.full((4,), 99.0, dtype=torch.float64), target, h, cfg)
    close(new, torch.tensor([0.55, 0.45, 0.7, 0.2], dtype=torch.float64), atol=1e-15)
    meta = torch.tensor([0.5, -0.5], dtype=torch.float64)
    z = torch.zeros(2, dtype=torch.float64)
    down = AMFTConfig(meta_lr=0.2, entropy_lr=0.0, meta_sign="descent")
    up = AMFTConfig(meta_lr=0.2, entropy_lr=0.0, meta_sign="ascent")
    m0 = torch.full((2,), 0.5, dtype=torch.float64)
    close(_update_mu(m0, meta, z, z, down), torch.tensor([0.4, 0.6], dtype=torch.float64), 1e-15)
    close(_update_mu(m0, meta, z, z, up), torch.tensor([0.6, 0.4], dtype=torch.float64), 1e-15)


def test_trainer_mu_follows_the_entropy_term_and_stays_clipped(task):
    """meta_lr = 0: mu_t = clip(mu_{t-1} + entropy_lr (H_target - H_t)) exactly, per run, from
    initial_mu; a huge entropy_lr pins mu to the clip bounds."""
    cfg = AMFTConfig(
        steps=4,
        warmup_steps=2,
        batch_prompts=2,
        num_generations=2,
        meta_lr=0.0,
        entropy_lr=0.05,
        initial_mu=0.5,
        dtype="float64",
        **SMALL,
    )
    res = train_amft(task, cfg, seeds=[0, 1])
    assert isinstance(res, AMFTRunResult)
    mu = torch.full((2,), 0.5, dtype=torch.float64)
    for t in range(4):
        gap = res.target_entropy - res.entropy_trajectory[t]
        mu = (mu + 0.05 * gap).clamp(0.05, 0.95)
        close(res.mu_trajectory[t], mu, atol=1e-15)
    assert torch.all(res.meta_gradient == 0)
    big = AMFTConfig(
        steps=3,
        warmup_steps=0,
        batch_prompts=2,
        num_generations=2,
        meta_lr=0.0,
        entropy_lr=1e7,
        mu_min=0.1,
        mu_max=0.6,
        initial_mu=0.3,
        **SMALL,
    )
    pinned = train_amft(task, big, seeds=[0, 1])
    gap = pinned.target_entropy - pinned.entropy_trajectory  # (steps, N), |gap| >> 1e-7
    hi, lo = torch.tensor(0.6, dtype=torch.float64), torch.tensor(0.1, dtype=torch.float64)
    expected = torch.where(gap > 0, hi, lo)  # entropy below the target: more imitation
    close(pinned.mu_trajectory, expected, atol=0.0)


def test_rl_part_reads_grpo_std_eps_and_max_completion_length(task):
    """AMFTConfig is a GRPOConfig: with mu held at 0 and plain SGD, one mixed round's step
    (GRPO loss and entropy bonus) halves when max_completion_length doubles L_max of the
    'dr_grpo' aggregation; with std_eps swamping the group std only the entropy bonus moves
    the policy, as with entropy_coef alone and no advantages."""
    cfg = AMFTConfig(
        steps=1,
        warmup_steps=0,
        batch_prompts=4,
        num_generations=4,
        initial_mu=0.0,
        mu_min=0.0,
        mu_max=0.0,
        loss_type="dr_grpo",
        optimizer="sgd",
        max_grad_norm=None,
        lr=0.1,
        dtype="float64",
        **SMALL,
    )

    def step(cfg):
        policy = _policy(task, [3])
        before = [p.detach().clone() for p in policy.parameters()]
        train_amft(task, cfg, seeds=[3], policy=policy)
        return torch.cat(
            [(p.detach() - b).flatten() for p, b in zip(policy.parameters(), before, strict=True)]
        )

    full = step(cfg)
    longer = dataclasses.replace(cfg, max_completion_length=2 * task.completion_len)
    close(step(longer), full / 2, atol=1e-12)
    no_adv = step(dataclasses.replace(cfg, std_eps=1e12))
    entropy_only = step(dataclasses.replace(cfg, std_eps=1e12, entropy_coef=0.0))
    assert (full - no_adv).abs().max() > 1e-4  # the advantages moved it
    assert entropy_only.abs().max() < 1e-12
    assert no_adv.abs().max() > 1e-6  # the entropy bonus alone


def test_stacked_runs_equal_runs_one_by_one(task):
    """Seeds [a, b] stacked, each with its own task, equal a and b trained alone (float64),
    with the warm-up, a meta update every round (large enough to move mu), two iterations and
    the k3 term on; the per-run mu trajectories agree too."""
    tasks = [task, tie_break(task, 0.3, seed=1)]
    cfg = AMFTConfig(
        steps=3,
        warmup_steps=2,
        batch_prompts=3,
        num_generations=3,
        num_iterations=2,
        meta_update_freq=1,
        meta_lr=5.0,
        entropy_lr=0.05,
        beta=0.05,
        lr=1e-2,
        initial_mu=0.5,
        dtype="float64",
        **SMALL,
    )
    both = train_amft(tasks, cfg, seeds=[3, 5])
    alone = [train_amft(t, cfg, seeds=[s]) for t, s in zip(tasks, (3, 5), strict=True)]
    close(both.distribution(task).logp, torch.cat([a.distribution(task).logp for a in alone]))
    close(both.mu_trajectory, torch.cat([a.mu_trajectory for a in alone], 1), atol=1e-12)
    close(both.meta_gradient, torch.cat([a.meta_gradient for a in alone], 1), atol=1e-12)
    assert torch.all(both.meta_gradient.abs() > 0)
    assert not torch.allclose(both.mu_trajectory[:, 0], both.mu_trajectory[:, 1])


def test_warmup_target_entropy_metrics_and_callback(task):
    """Warm-up rows sample nothing (stats/samples 0, stats/mu 1); the target entropy is the
    warmed policy's mean token entropy on the demos of each run's training prompts; mixed rows
    count Bp x G samples per round and log the mean / min / max of the per-run mu."""
    dropped = drop_prompts(task, 0.5, seed=0)
    cfg = AMFTConfig(
        steps=3,
        warmup_steps=2,
        batch_prompts=2,
        num_generations=3,
        meta_lr=0.0,
        entropy_lr=0.05,
        dtype="float64",
        **SMALL,
    )
    calls, warmed = [], {}

    def callback(step, policy):
        calls.append(step)
        if step == 2:
            warmed["policy"] = copy.deepcopy(policy)

    res = train_amft([task, dropped], cfg, seeds=[0, 1], callback=callback)
    assert calls == [1, 2, 3, 4, 5] and res.algorithm == "amft"
    rows = res.metrics
    assert [r["stats/samples"] for r in rows] == [0.0, 0.0, 6.0, 12.0, 18.0]
    assert [r["stats/mu"] for r in rows[:2]] == [1.0, 1.0] and "charts/reward" not in rows[0]
    for r, mu in zip(rows[2:], res.mu_trajectory, strict=True):
        assert r["stats/mu"] == pytest.approx(float(mu.mean()))
        assert (r["stats/mu_min"], r["stats/mu_max"]) == (float(mu.min()), float(mu.max()))
        assert math.isfinite(r["charts/reward"])
    # the target entropy, by hand from the policy after the warm-up
    pol = warmed["policy"]
    for i, t in enumerate((task, dropped)):
        ids = t.train_prompt_ids
        with torch.no_grad():
            _, ent = C.logprobs_runs(
                pol,
                t.prompts[ids].expand(2, -1, -1),
                t.solutions[ids].expand(2, -1, -1),
                t.solution_mask[ids].expand(2, -1, -1),
                t,
                entropy=True,
            )
        m = t.solution_mask[ids].double()
        assert float(res.target_entropy[i]) == pytest.approx(float((ent[i] * m).sum() / m.sum()))
    assert dropped.train_prompt_ids.numel() < task.n_prompts  # the runs' demo sets differed
