"""Direct Advantage Policy Optimization (Liu et al. 2024, arXiv:2412.18279): the loss against
hand values, the population minimiser of the centred loss, the exact critic against brute
force, the Monte-Carlo critic against the exact one, stacked runs == one by one, the sample
count and the schedule."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from tests.trainers.sequence.conftest import close
from trainers.sequence import (
    TinyCausalLM,
    reward_noise,
    shortest_paths,
    tie_break,
    tied_digit_sum,
)
from trainers.sequence import common as C
from trainers.sequence.direct_advantage import (
    DirectAdvantageConfig,
    _mc_values,
    direct_advantage_loss,
    exact_state_values,
    train_direct_advantage,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def task():
    """Two digits in {0, 1, 2} summing to S in {2, 3}, the answer, EOS: 45 completions."""
    return tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))


SMALL = {"d_model": 8, "n_layers": 1, "n_heads": 1}


# ---------------------------------------------------------------------------------- the loss


def test_loss_matches_hand_values_and_its_gradient():
    """l = (0.1, -0.2, 0.4), A = (0.5, 0, -0.5), beta = 0.5: f = l - A/beta = (-0.9, -0.2, 1.4),
    mean 0.1; centred (1/3)(1.0^2 + 0.3^2 + 1.3^2) = 2.78/3, uncentred (0.81 + 0.04 + 1.96)/3."""
    lr = torch.tensor([[0.1, -0.2, 0.4], [0.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    adv = torch.tensor([[0.5, 0.0, -0.5], [0.2, 0.2, 0.2]], dtype=torch.float64)
    centred = direct_advantage_loss(lr, adv, 0.5)
    close(centred, torch.tensor([2.78 / 3, 0.0], dtype=torch.float64), 1e-12)
    uncentred = direct_advantage_loss(lr, adv, 0.5, centred=False)
    close(uncentred, torch.tensor([2.81 / 3, 0.4**2], dtype=torch.float64), 1e-12)
    # d/dl_j of the centred loss is (2/M)(f_j - mean f): (2/3)(-1.0, -0.3, 1.3)
    (grad,) = torch.autograd.grad(centred.sum(), lr)
    close(grad[0], torch.tensor([-1.0, -0.3, 1.3], dtype=torch.float64) * 2 / 3, 1e-12)
    # a constant shift of the advantages or of the log-ratios leaves the centred loss unchanged
    close(direct_advantage_loss(lr + 3.0, adv - 1.0, 0.5), centred, 1e-12)


def test_expected_centred_loss_is_a_variance_under_the_reference():
    """With a_1, a_2 i.i.d. pi_ref (all V^2 pairs, weighted exactly), the centred loss has
    expectation (M - 1)/M Var_{pi_ref}(l - A/beta) [derived]."""
    g = torch.Generator().manual_seed(0)
    V, beta = 4, 0.3
    ref = torch.softmax(torch.randn(V, generator=g, dtype=torch.float64), -1)
    lr = torch.randn(V, generator=g, dtype=torch.float64)
    adv = torch.randn(V, generator=g, dtype=torch.float64)
    pairs = torch.tensor(list(itertools.product(range(V), repeat=2)))
    weight = ref[pairs].prod(-1)
    expected = (weight * direct_advantage_loss(lr[pairs], adv[pairs], beta)).sum()
    f = lr - adv / beta
    var = (ref * (f - (ref * f).sum()) ** 2).sum()
    close(expected, 0.5 * var, 1e-12)


def test_centred_loss_is_minimised_by_the_kl_regularised_target():
    """A tabular toy (2 states x 5 actions, pi = softmax(theta) per state): the centred loss
    over M = 400 candidates drawn from pi_ref is quadratic in theta (log Z cancels), so one
    Newton step from pi_ref reaches its minimiser, which is pi_ref exp(A/beta)/Z on every
    state; there the uncentred loss is not stationary (it also asks log Z = 0)."""
    g = torch.Generator().manual_seed(1)
    S, V, M, beta = 2, 5, 400, 0.5
    ref_logp = torch.log_softmax(torch.randn(S, V, generator=g, dtype=torch.float64), -1)
    adv = torch.rand(S, V, generator=g, dtype=torch.float64) - 0.5
    target = torch.log_softmax(ref_logp + adv / beta, -1)
    draws = torch.multinomial(ref_logp.exp(), M, replacement=True, generator=g)  # (S, M)
    assert all(len(set(row.tolist())) == V for row in draws)  # every action drawn

    def loss(theta: torch.Tensor, centred: bool = True) -> torch.Tensor:
        logp = torch.log_softmax(theta.view(S, V), -1)
        lr = logp.gather(-1, draws) - ref_logp.gather(-1, draws)
        return direct_advantage_loss(lr, adv.gather(-1, draws), beta, centred=centred).sum()

    def grad(theta: torch.Tensor, centred: bool = True, graph: bool = False) -> torch.Tensor:
        theta = theta if theta.requires_grad else theta.clone().requires_grad_(True)
        return torch.autograd.grad(loss(theta, centred), theta, create_graph=graph)[0]

    theta0 = ref_logp.flatten().clone().requires_grad_(True)
    g0 = grad(theta0, graph=True)
    hess = torch.stack(
        [torch.autograd.grad(g0[i], theta0, retain_graph=True)[0] for i in range(S * V)]
    )
    theta = theta0.detach() - torch.linalg.pinv(hess, hermitian=True) @ g0.detach()
    close(torch.log_softmax(theta.view(S, V), -1).exp(), target.exp(), 1e-10)
    assert float(loss(theta)) < 1e-20
    assert float(loss(target.flatten())) < 1e-20
    uncentred_grad = grad(target.flatten(), centred=False)
    assert float(uncentred_grad.abs().max()) > 1e-3


# ---------------------------------------------------------------------------------- critics


def test_exact_critic_matches_brute_force(task):
    """V(x, y_<t) = sum over the completions y extending y_<t of prod_{i >= t} pi(y_i | ...)
    r(y), from teacher-forced per-token log-probs, for every prefix of every completion; run
    1's reward is a tie-break of run 0's."""
    tasks = [task, tie_break(task, 0.5, seed=1)]
    policy = TinyCausalLM(
        task.vocab_size,
        max_len=5,
        seeds=[0, 1],
        d_model=8,
        n_layers=1,
        n_heads=1,
        dtype=torch.float64,
    )
    tokens, mask = task.completions()
    M, L, P = tokens.shape[0], task.completion_len, task.n_prompts
    rows = [(p, m, t) for p in range(P) for m in range(M) for t in range(int(mask[m].sum()) + 1)]
    pid = torch.tensor([r[0] for r in rows])
    cid = torch.tensor([r[1] for r in rows])
    tlen = torch.tensor([r[2] for r in rows])
    got = exact_state_values(
        policy, tasks, pid.expand(2, -1), tokens[cid].expand(2, -1, -1), tlen.expand(2, -1)
    )
    # brute force
    prompts = task.prompts[torch.arange(P).repeat_interleave(M)].expand(2, -1, -1)
    with torch.no_grad():
        lp = C.logprobs_runs(
            policy,
            prompts,
            tokens.repeat(P, 1).expand(2, -1, -1),
            mask.repeat(P, 1).expand(2, -1, -1),
            task,
        ).reshape(2, P, M, L)
    table = torch.stack([t.reward_table() for t in tasks])
    want = torch.empty(2, len(rows), dtype=torch.float64)
    for j, (p, m, t) in enumerate(rows):
        ext = ((tokens[:, :t] == tokens[m, :t]) & (mask[:, :t] == mask[m, :t])).all(-1)
        if t == int(mask[m].sum()):  # a complete completion: its reward
            ext = torch.arange(M) == m
        cont = lp[:, p, ext, t:].sum(-1).exp()  # pi(rest | prefix)
        want[:, j] = (cont * table[:, p, ext]).sum(-1)
    close(got, want, 1e-10)
    assert float(got.max()) > 1.0  # the favoured completions of run 1 (1 + 0.5) show up


def test_monte_carlo_critic_estimates_the_exact_values(task):
    policy = TinyCausalLM(task.vocab_size, max_len=5, seeds=[0], d_model=8, n_layers=1, n_heads=1)
    tokens, _ = task.completions()
    pid = torch.tensor([[0, 0, 1, 1, 1]])
    toks = tokens[torch.tensor([[0, 7, 0, 12, 30]])]
    lens = torch.tensor([[0, 1, 1, 2, 3]])
    exact = exact_state_values(policy, task, pid, toks, lens)
    n = 3000
    gens = [torch.Generator().manual_seed(5)]
    mc = _mc_values(policy, [task], task.prompts[pid], toks, lens, n, gens, gens)
    sd = (exact * (1 - exact) / n).sqrt()
    assert torch.all((mc - exact).abs() <= 4 * sd + 1e-12), (mc, exact)


# ---------------------------------------------------------------------------------- trainer


def test_policy_moves_to_the_target_at_the_first_step():
    """After training, the first-token (digit) distribution of each prompt is close to
    pi_ref(d | x) exp(A(x, d)/beta) / Z with the exact A = V(x d) - V(x) of the reference."""
    task = tied_digit_sum(n_digits=1, max_digit=2, sums=(0, 1, 2))
    beta = 0.1
    cfg = DirectAdvantageConfig(
        steps=60, n_rollouts=16, batch_states=8, lr=1e-2, beta=beta, dtype="float64", **SMALL
    )
    res = train_direct_advantage(task, cfg, seeds=[0])
    P, L = task.n_prompts, task.completion_len
    digits = task.allowed[0].nonzero().flatten()
    D = len(digits)
    pid = torch.arange(P)[None]
    v0 = exact_state_values(
        res.ref_policy,
        task,
        pid,
        torch.zeros(1, P, L, dtype=torch.long),
        torch.zeros(1, P, dtype=torch.long),
    )
    first = torch.zeros(1, P * D, L, dtype=torch.long)
    first[0, :, 0] = digits.repeat(P)
    v1 = exact_state_values(
        res.ref_policy,
        task,
        pid.repeat_interleave(D, 1),
        first,
        torch.ones(1, P * D, dtype=torch.long),
    ).view(1, P, D)
    adv = v1 - v0[..., None]
    with torch.no_grad():
        ids = task.prompts[None]
        ref = F.log_softmax(res.ref_policy(ids)[..., -1, :].double()[..., digits], -1)
        pol = F.log_softmax(res.policy(ids)[..., -1, :].double()[..., digits], -1)
    target = torch.log_softmax(ref + adv / beta, -1)
    before = 0.5 * (ref.exp() - target.exp()).abs().sum(-1)
    after = 0.5 * (pol.exp() - target.exp()).abs().sum(-1)
    assert torch.all(before > 0.3), before
    assert torch.all(after < 0.3 * before), (before, after)


@pytest.mark.parametrize(
    "extra",
    [
        {"critic": "exact", "critic_noise": 0.2, "iterations": 2},
        {"critic": "mc", "critic_noise": 0.1, "step_tokens": 2, "centred": False, "candidates": 3},
    ],
)
def test_stacked_runs_equal_runs_one_by_one(task, extra):
    tasks = [reward_noise(task, 0.2, seed=3), tie_break(task, 0.3, seed=1)]
    cfg = DirectAdvantageConfig(
        steps=4, n_rollouts=4, batch_states=4, n_mc=3, lr=3e-3, dtype="float64", **SMALL, **extra
    )
    both = train_direct_advantage(tasks, cfg, seeds=[3, 5])
    alone = [train_direct_advantage(t, cfg, seeds=[s]) for t, s in zip(tasks, (3, 5), strict=True)]
    got = both.distribution(task).logp
    close(got, torch.cat([a.distribution(task).logp for a in alone]), 1e-9)
    assert not torch.allclose(got[0], got[1])
    samples = [a.metrics[-1]["stats/samples"] for a in alone]
    assert both.metrics[-1]["stats/samples"] == pytest.approx(sum(samples) / 2)


@pytest.mark.parametrize("critic", ["exact", "mc"])
def test_samples_schedule_and_callback(task, critic):
    """Two iterations of 3 + 2 optimizer steps; the rollouts have the fixed length L = 4, so
    every rollout gives 4 one-token states; the state before EOS has only EOS as candidate
    (terminal), the others are not terminal."""
    R, M, n_mc = 3, 2, 2
    cfg = DirectAdvantageConfig(
        steps=5,
        iterations=2,
        n_rollouts=R,
        candidates=M,
        n_mc=n_mc,
        batch_states=2,
        critic=critic,
        log_every=2,
        **SMALL,
    )
    calls = []
    res = train_direct_advantage(
        task, cfg, seeds=[0, 1], callback=lambda s, p: calls.append((s, p.n_runs))
    )
    assert calls == [(2, 2), (4, 2), (5, 2)]
    assert [r["step"] for r in res.metrics] == [2.0, 4.0, 5.0]
    assert [r["stats/iteration"] for r in res.metrics] == [0.0, 1.0, 1.0]
    per_iter = R + 4 * R * M
    if critic == "mc":
        per_iter += n_mc * (4 * R + 3 * R * M)
    assert [r["stats/samples"] for r in res.metrics] == [per_iter, 2 * per_iter, 2 * per_iter]
    for key in ("losses/loss", "charts/reward", "stats/entropy", "stats/log_ratio"):
        assert math.isfinite(res.metrics[-1][key])
    assert res.algorithm == "direct_advantage"


def test_first_step_log_ratio_is_zero_and_later_iterations_use_the_new_policy(task):
    """The ratio's reference is pi_ref in the first iteration (policy = pi_ref at the start,
    so l = 0 at the first step) and the policy at the start of the next one."""
    cfg = DirectAdvantageConfig(
        steps=4, iterations=2, n_rollouts=4, batch_states=4, lr=1e-2, dtype="float64", **SMALL
    )
    res = train_direct_advantage(task, cfg, seeds=[0])
    rows = res.metrics
    assert abs(rows[0]["stats/log_ratio"]) < 1e-12 and abs(rows[2]["stats/log_ratio"]) < 1e-12
    assert abs(rows[1]["stats/log_ratio"]) > 1e-6


@pytest.mark.parametrize("critic", ["exact", "mc"])
def test_variable_length_completions(critic):
    """Shortest paths end at EOS at different lengths: step boundaries past a rollout's end
    are not states; stacked runs still equal runs one by one."""
    task = shortest_paths(n_nodes=4, n_edges=5)
    cfg = DirectAdvantageConfig(
        steps=3, n_rollouts=6, batch_states=4, n_mc=2, critic=critic, dtype="float64", **SMALL
    )
    both = train_direct_advantage(task, cfg, seeds=[0, 1])
    alone = [train_direct_advantage(task, cfg, seeds=[s]) for s in (0, 1)]
    close(
        both.distribution(task).logp,
        torch.cat([a.distribution(task).logp for a in alone]),
        1e-9,
    )
    L = task.completion_len
    for a in alone:  # 6 rollouts, then at most L states each with 4 candidates
        assert 6 + 6 * 4 <= a.metrics[-1]["stats/samples"]
        if critic == "exact":  # one state per token of each rollout
            n_states = (a.metrics[-1]["stats/samples"] - 6) / 4
            assert n_states == int(n_states) and n_states <= 6 * L


def test_a_single_module_trains_as_the_stacked_run_of_its_seed(task):
    cfg = DirectAdvantageConfig(
        steps=3, n_rollouts=4, batch_states=4, n_mc=2, critic="mc", dtype="float64", **SMALL
    )
    stacked = train_direct_advantage(task, cfg, seeds=[2])
    single = TinyCausalLM(task.vocab_size, max_len=5, seed=2, dtype=torch.float64, **SMALL)
    alone = train_direct_advantage(task, cfg, seeds=[2], policy=single)
    assert alone.policy is single
    close(alone.distribution(task).logp, stacked.distribution(task).logp, 1e-9)
