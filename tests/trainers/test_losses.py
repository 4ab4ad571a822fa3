"""trainers.losses against closed forms: GRPO advantages, E[k3] = KL, KL gradients, DPO."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.soft import kl_regularized_bandit_policy
from trainers import losses as L

torch.set_num_threads(1)
D = torch.float64


@st.composite
def logits_pairs(draw, *, max_actions: int = 6):
    A = draw(st.integers(2, max_actions))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.normal(size=A) * 2, dtype=D), torch.tensor(
        rng.normal(size=A) * 2, dtype=D
    )


def test_group_advantages_hand_computed():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]], dtype=D)
    a = L.group_advantages(r, eps=0.0 + 1e-12)
    s = np.sqrt(1 / 3)  # unbiased std of (1, 0, 0, 1)
    np.testing.assert_allclose(a[0].numpy(), np.array([0.5, -0.5, -0.5, 0.5]) / s, rtol=1e-9)
    np.testing.assert_allclose(a[1].numpy(), 0.0)  # a constant group carries no signal
    np.testing.assert_allclose(
        L.group_advantages(r, scale="none")[0].numpy(), [0.5, -0.5, -0.5, 0.5]
    )


def test_group_advantages_of_a_constant_group_are_zero_even_without_eps():
    """With ``eps = 0`` a group of equal rewards gets zero advantages, not 0 / 0 = NaN."""
    r = torch.tensor([[2.0, 2.0, 2.0], [1.0, 0.0, 2.0]], dtype=D)
    for scale in ("group", "batch"):
        a = L.group_advantages(r[:1] if scale == "batch" else r, scale=scale, eps=0.0)
        assert torch.isfinite(a).all()
        np.testing.assert_allclose(a[0].numpy(), 0.0)
    np.testing.assert_allclose(L.group_advantages(r, eps=0.0)[1].numpy(), [0.0, -1.0, 1.0])


@given(st.integers(0, 10**6), st.integers(2, 9))
@settings(max_examples=30, deadline=None)
def test_group_advantages_are_standardized(seed, G):
    r = torch.tensor(np.random.default_rng(seed).normal(size=(3, G)), dtype=D)
    a = L.group_advantages(r, eps=0.0)
    np.testing.assert_allclose(a.mean(-1).numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(a.std(-1).numpy(), 1.0, rtol=1e-9)
    torch.testing.assert_close(torch.tensor(torch.std(r, -1).numpy()), r.std(-1))


@given(logits_pairs())
@settings(max_examples=50, deadline=None)
def test_k3_expectation_is_kl(pair):
    logits, ref_logits = pair
    logp, ref = torch.log_softmax(logits, -1), torch.log_softmax(ref_logits, -1)
    expected_k3 = (logp.exp() * L.k3_kl(logp, ref)).sum()
    kl = (logp.exp() * (logp - ref)).sum()
    assert abs(float(expected_k3 - kl)) <= 1e-10
    assert abs(float(L.categorical_kl(logits, ref) - kl)) <= 1e-12
    assert torch.all(L.k3_kl(logp, ref) >= 0)


@given(logits_pairs())
@settings(max_examples=40, deadline=None)
def test_kl_gradients_derived(pair):
    """[derived] E_pi[grad k3] = grad KL(ref||pi); E_pi[-grad log pi * penalty] = grad KL(pi||ref)."""
    logits, ref_logits = pair
    ref = torch.log_softmax(ref_logits, -1)

    def grad(f):
        x = logits.clone().requires_grad_(True)
        f(x).backward()
        return x.grad

    pi = torch.softmax(logits, -1)
    # sampled k3 loss, expectation by enumeration over actions (weights detached)
    g_k3 = grad(lambda x: (pi * L.k3_kl(torch.log_softmax(x, -1), ref)).sum())
    g_rev = grad(lambda x: (ref.exp() * (ref - torch.log_softmax(x, -1))).sum())
    torch.testing.assert_close(g_k3, g_rev, atol=1e-10, rtol=1e-8)
    # KL-in-reward: reward r = 0, score-function loss with centred penalty advantages
    pen = L.kl_penalized_rewards(torch.zeros_like(ref), torch.log_softmax(logits, -1), ref, 1.0)
    adv = pen - (pi * pen).sum()
    g_rew = grad(lambda x: (pi * L.reinforce_loss(torch.log_softmax(x, -1), adv)).sum())
    g_fwd = grad(lambda x: L.categorical_kl(x, ref))
    torch.testing.assert_close(g_rew, g_fwd, atol=1e-10, rtol=1e-8)


def test_dpo_gradient_sign():
    lw = torch.tensor([-1.0], dtype=D, requires_grad=True)
    ll = torch.tensor([-1.0], dtype=D, requires_grad=True)
    ref = torch.tensor([-1.0], dtype=D)
    loss, stats = L.dpo_loss(lw, ll, ref, ref, beta=0.1)
    loss.sum().backward()
    assert lw.grad.item() < 0 < ll.grad.item()  # descent raises chosen, lowers rejected
    assert abs(loss.item() - np.log(2)) < 1e-12
    assert stats["rewards/accuracies"].item() == 0.0


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_dpo_optimum_is_kl_closed_form(beta):
    """Soft Bradley-Terry labels over all pairs: the minimizer is ref exp(r/beta)/Z."""
    rng = np.random.default_rng(1)
    r, ref = rng.uniform(0, 2, 4), rng.dirichlet(np.ones(4))
    i, j = np.array([(a, b) for a in range(4) for b in range(4) if a != b]).T
    ls = torch.tensor(1 - 1 / (1 + np.exp(-(r[i] - r[j]))), dtype=D)
    ref_t = torch.tensor(np.log(ref), dtype=D)
    x = torch.zeros(4, dtype=D, requires_grad=True)
    opt = torch.optim.LBFGS([x], max_iter=500, tolerance_grad=1e-14, tolerance_change=0)

    def closure():
        opt.zero_grad()
        lp = torch.log_softmax(x, -1)
        loss = L.dpo_loss(lp[i], lp[j], ref_t[i], ref_t[j], beta, label_smoothing=ls)[0].sum()
        loss.backward()
        return loss

    opt.step(closure)
    pi = torch.softmax(x, -1).detach().numpy()
    np.testing.assert_allclose(pi, kl_regularized_bandit_policy(r, ref, beta), atol=1e-7)


def test_ppo_clip_zero_gradient_outside_the_clip():
    logp = torch.tensor([0.5, -0.5], dtype=D, requires_grad=True)
    old = torch.zeros(2, dtype=D)
    loss, stats = L.ppo_clip_loss(logp, old, torch.tensor([1.0, -1.0], dtype=D))
    loss.sum().backward()
    np.testing.assert_allclose(
        logp.grad.numpy(), 0.0
    )  # ratio e^.5 > 1.2 with A>0, e^-.5 < .8 with A<0
    assert stats["clipfrac"].item() == 1.0


def test_clipped_value_loss_and_reward_options():
    v, old, ret = (torch.tensor([x], dtype=D) for x in (1.0, 0.0, 1.0))
    assert L.clipped_value_loss(v, old, ret, 0.2).item() == pytest.approx(0.5 * 0.8**2)
    assert L.clipped_value_loss(v, old, ret, None).item() == 0.0
    assert L.clip_advantages(torch.tensor([-3.0, 0.25, 3.0]), 0.5).tolist() == [-0.5, 0.25, 0.5]
    rng = np.random.default_rng(0)
    xs = [torch.tensor(rng.normal(3, 2, size=(5, 4))) for _ in range(6)]
    stats = L.RunningMeanStd((5, 1))
    for x in xs:
        out = L.normalize_rewards(x, stats, clip=10.0)
    allx = torch.cat(xs, 1).numpy()
    np.testing.assert_allclose(stats.mean.numpy()[:, 0], allx.mean(1), rtol=1e-3)
    np.testing.assert_allclose(stats.var.numpy()[:, 0], allx.var(1), rtol=1e-3)
    assert float(out.abs().max()) <= 10.0


def test_gae_matches_discounted_returns_with_lambda_one():
    r = torch.tensor([[1.0], [1.0], [1.0]], dtype=D)
    z = torch.zeros_like(r)
    _, ret = L.gae(r, z, z, torch.zeros(1, dtype=D), torch.ones(1, dtype=D), 0.5, 1.0)
    np.testing.assert_allclose(ret[:, 0].numpy(), [1.75, 1.5, 1.0])


def test_log_softmax_matches_torch():
    x = torch.randn(7, 5, 3, dtype=D) * 30
    torch.testing.assert_close(L.log_softmax(x), torch.log_softmax(x, -1))


@pytest.mark.parametrize(
    "call",
    [
        lambda: L.group_advantages(torch.zeros(3, 1)),
        lambda: L.group_advantages(torch.zeros(3, 2), scale="std"),
        lambda: L.ppo_clip_loss(torch.zeros(2), torch.zeros(3), torch.zeros(2)),
        lambda: L.ppo_clip_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), clip_low=1.5),
        lambda: L.k3_kl(torch.zeros(2), torch.zeros(3)),
        lambda: L.kl_penalized_rewards(torch.zeros(2), torch.zeros(2), torch.zeros(2), -1.0),
        lambda: L.dpo_loss(*(torch.zeros(2),) * 4, beta=0.0),
        lambda: L.dpo_loss(*(torch.zeros(2),) * 4, beta=0.1, label_smoothing=1.5),
        lambda: L.clip_advantages(torch.zeros(2), 0.0),
        lambda: L.clipped_value_loss(*(torch.zeros(2),) * 3, clip=-1.0),
        lambda: L.normalize_rewards(torch.zeros(2), clip=0.0),
        lambda: L.categorical_kl(torch.zeros(2), torch.zeros(3)),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()
