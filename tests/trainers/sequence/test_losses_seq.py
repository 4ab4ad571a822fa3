"""Token-level losses of trainers.losses against hand values and TRL's formulas written out.

The references below are TRL's ``GRPOTrainer._compute_loss`` re-derived element by element in
plain Python (no TRL import): ratio, clip, k3 times the ratio, and the four normalisers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers import losses as L

torch.set_num_threads(1)
D = torch.float64

# Two completions of maximal length 3: the first has 3 real tokens, the second 1.
LOSS = torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]], dtype=D)
MASK = torch.tensor([[True, True, True], [True, False, False]])


def test_aggregate_token_loss_hand_values():
    # grpo: mean of per-completion token means = (2 + 4) / 2
    assert float(L.aggregate_token_loss(LOSS, MASK, "grpo")) == pytest.approx(3.0)
    # bnpo / dapo: (1 + 2 + 3 + 4) / 4 real tokens
    assert float(L.aggregate_token_loss(LOSS, MASK, "bnpo")) == pytest.approx(2.5)
    assert float(L.aggregate_token_loss(LOSS, MASK, "dapo")) == pytest.approx(2.5)
    # dr_grpo: 10 / (B * max_completion_length) = 10 / (2 * 5)
    out = L.aggregate_token_loss(LOSS, MASK, "dr_grpo", max_completion_length=5)
    assert float(out) == pytest.approx(1.0)


def test_aggregate_token_loss_is_per_run_on_stacked_inputs():
    """A leading run axis gives one loss per run, each equal to that run's own aggregate."""
    g = torch.Generator().manual_seed(0)
    loss = torch.randn(3, 4, 5, generator=g, dtype=D)
    mask = torch.rand(3, 4, 5, generator=g) > 0.3
    for lt in L.LOSS_TYPES:
        out = L.aggregate_token_loss(loss, mask, lt, max_completion_length=7)
        assert out.shape == (3,)
        for i in range(3):
            one = L.aggregate_token_loss(loss[i], mask[i], lt, max_completion_length=7)
            torch.testing.assert_close(out[i], one)


def test_an_empty_completion_counts_zero_in_grpo():
    mask = torch.tensor([[True, True, True], [False, False, False]])
    # TRL clamps each completion's token count at 1: (2 + 0) / 2
    assert float(L.aggregate_token_loss(LOSS, mask, "grpo")) == pytest.approx(1.0)
    none = torch.zeros_like(mask)
    for lt in ("grpo", "bnpo", "dapo"):
        assert float(L.aggregate_token_loss(LOSS, none, lt)) == 0.0


def _trl_reference(logp, old, ref, adv, mask, loss_type, eps, eps_high, beta, lmax):
    """TRL's loss written element by element in plain Python floats."""
    B, T = len(logp), len(logp[0])
    per = [[0.0] * T for _ in range(B)]
    for b in range(B):
        for t in range(T):
            rho = math.exp(logp[b][t] - old[b][t])
            clipped = min(max(rho, 1 - eps), 1 + eps_high)
            x = -min(rho * adv[b], clipped * adv[b])
            if beta > 0:
                d = ref[b][t] - logp[b][t]
                x += beta * rho * (math.exp(d) - d - 1)
            per[b][t] = x * mask[b][t]
    n_tok = [sum(mask[b]) for b in range(B)]
    if loss_type == "grpo":
        return sum(sum(per[b]) / max(n_tok[b], 1) for b in range(B)) / B
    if loss_type == "dr_grpo":
        return sum(map(sum, per)) / (B * lmax)
    return sum(map(sum, per)) / max(sum(n_tok), 1)


@given(
    seed=st.integers(0, 10**6),
    loss_type=st.sampled_from(L.LOSS_TYPES),
    beta=st.sampled_from([0.0, 0.04, 0.5]),
    eps_high=st.sampled_from([None, 0.28]),
)
@settings(max_examples=40, deadline=None)
def test_grpo_token_loss_equals_trl_formula(seed, loss_type, beta, eps_high):
    rng = np.random.default_rng(seed)
    B, T = 3, 4
    logp = -rng.exponential(size=(B, T))
    old = logp + rng.normal(scale=0.3, size=(B, T))  # ratios on both sides of the clip
    ref = -rng.exponential(size=(B, T))
    adv = rng.normal(size=B)
    mask = np.ones((B, T), dtype=bool)
    for b, n in enumerate(rng.integers(1, T + 1, size=B)):
        mask[b, n:] = False
    logp[~mask] = 0.0
    loss, stats = L.grpo_token_loss(
        torch.tensor(logp),
        torch.tensor(old),
        torch.tensor(ref),
        torch.tensor(adv),
        torch.tensor(mask),
        loss_type=loss_type,
        epsilon=0.2,
        epsilon_high=eps_high,
        beta=beta,
        max_completion_length=6,
    )
    want = _trl_reference(
        logp.tolist(),
        old.tolist(),
        ref.tolist(),
        adv.tolist(),
        mask.astype(float).tolist(),
        loss_type,
        0.2,
        0.2 if eps_high is None else eps_high,
        beta,
        6,
    )
    assert float(loss) == pytest.approx(want, rel=1e-12, abs=1e-14)
    d = ref - logp
    k3 = (np.exp(d) - d - 1)[mask].mean()
    assert float(stats["kl"]) == pytest.approx(k3, rel=1e-12)


def test_grpo_token_loss_hand_values_and_clip_statistics():
    """One completion, two tokens: ratio 1.5 (clipped at 1.2 for A > 0) and ratio 1."""
    logp = torch.tensor([[math.log(0.6), math.log(0.5)]], dtype=D)
    old = torch.tensor([[math.log(0.4), math.log(0.5)]], dtype=D)
    mask = torch.tensor([[True, True]])
    loss, stats = L.grpo_token_loss(
        logp, old, None, torch.tensor([2.0], dtype=D), mask, loss_type="grpo"
    )
    # tokens: -min(1.5 * 2, 1.2 * 2) = -2.4 and -2; token mean -2.2
    assert float(loss) == pytest.approx(-2.2)
    assert float(stats["clip_ratio/high_mean"]) == pytest.approx(0.5)
    assert float(stats["clip_ratio/low_mean"]) == 0.0
    assert float(stats["clip_ratio/region_mean"]) == pytest.approx(0.5)
    # A < 0: the ratio 1.5 is not clipped: -min(1.5 * -2, 1.2 * -2) = 3, and 2 for ratio 1
    loss, stats = L.grpo_token_loss(
        logp, old, None, torch.tensor([-2.0], dtype=D), mask, loss_type="grpo"
    )
    assert float(loss) == pytest.approx((3.0 + 2.0) / 2)
    assert float(stats["clip_ratio/region_mean"]) == 0.0


@pytest.mark.parametrize("loss_type", L.LOSS_TYPES)
def test_gradient_with_ratio_one_is_minus_advantage_over_the_normaliser(loss_type):
    """With ``old_logp = logp.detach()`` (ratio 1): d loss / d l_bt = -A_b m_bt / normaliser."""
    g = torch.Generator().manual_seed(1)
    logp = (-torch.rand(3, 4, generator=g, dtype=D)).requires_grad_(True)
    adv = torch.randn(3, generator=g, dtype=D)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    loss, _ = L.grpo_token_loss(
        logp, None, None, adv, mask, loss_type=loss_type, max_completion_length=5
    )
    (grad,) = torch.autograd.grad(loss, logp)
    m = mask.to(D)
    norm = {
        "grpo": 3 * m.sum(-1, keepdim=True),
        "bnpo": m.sum(),
        "dapo": m.sum(),
        "dr_grpo": torch.tensor(3 * 5.0, dtype=D),
    }[loss_type]
    torch.testing.assert_close(grad, -adv[:, None] * m / norm)


def test_k3_times_ratio_has_the_score_function_gradient():
    """[derived] At ratio 1, d(rho k3)/d l = l - l_ref: the per-token gradient of KL(pi||ref)."""
    logp = torch.tensor([[-0.3, -1.2, -2.0]], dtype=D, requires_grad=True)
    ref = torch.tensor([[-0.9, -0.4, -2.5]], dtype=D)
    mask = torch.ones(1, 3, dtype=torch.bool)
    loss, _ = L.grpo_token_loss(
        logp, None, ref, torch.zeros(1, dtype=D), mask, loss_type="bnpo", beta=0.5
    )
    (grad,) = torch.autograd.grad(loss, logp)
    torch.testing.assert_close(grad, 0.5 * (logp.detach() - ref) / 3)
    assert float(loss.detach()) == pytest.approx(float(0.5 * L.k3_kl(logp.detach(), ref).mean()))


def test_per_token_advantages_equal_broadcast_sequence_advantages():
    g = torch.Generator().manual_seed(2)
    logp, old = -torch.rand(2, 3, 4, generator=g, dtype=D), -torch.rand(2, 3, 4, generator=g)
    adv = torch.randn(2, 3, generator=g, dtype=D)
    mask = torch.rand(2, 3, 4, generator=g) > 0.2
    a, _ = L.grpo_token_loss(logp, old.to(D), None, adv, mask, loss_type="grpo")
    b, _ = L.grpo_token_loss(
        logp, old.to(D), None, adv[..., None].expand(2, 3, 4), mask, loss_type="grpo"
    )
    assert a.shape == (2,)
    torch.testing.assert_close(a, b)


def test_sequence_nll_hand_values():
    logp = torch.tensor([[math.log(0.5), math.log(0.25)], [math.log(0.5), 0.0]], dtype=D)
    mask = torch.tensor([[True, True], [True, False]])
    want = (math.log(2) + math.log(4) + math.log(2)) / 3
    assert float(L.sequence_nll(logp, mask)) == pytest.approx(want)
    want_grpo = ((math.log(2) + math.log(4)) / 2 + math.log(2)) / 2
    assert float(L.sequence_nll(logp, mask, loss_type="grpo")) == pytest.approx(want_grpo)


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_advantages_match_trl_scale_rewards(scale):
    """TRL: ``(r - group mean) / (std + 1e-4)``, Bessel std over the group ("group") or over all
    rewards of the batch ("batch"); "none" only centres. Per run on a stack."""
    g = torch.Generator().manual_seed(3)
    r = (torch.rand(2, 4, 3, generator=g) > 0.5).to(D)  # (runs, prompts, G), binary rewards
    r[0, 1] = 1.0  # one degenerate group
    out = L.group_advantages(r, scale=scale)
    for i in range(2):
        centred = r[i] - r[i].mean(-1, keepdim=True)
        if scale == "group":
            want = centred / (torch.std(r[i], -1, keepdim=True) + 1e-4)
        elif scale == "batch":
            want = centred / (torch.std(r[i]) + 1e-4)
        else:
            want = centred
        torch.testing.assert_close(out[i], want)
    assert torch.all(out[0, 1] == 0)


def test_ipo_loss_hand_value():
    """h = (l+ - l+_ref) - (l- - l-_ref) = (-1 + 2) - (-3 + 2.5) = 1.5; (1.5 - 1/(2*0.25))^2."""
    loss, stats = L.ipo_loss(
        torch.tensor([-1.0], dtype=D),
        torch.tensor([-3.0], dtype=D),
        torch.tensor([-2.0], dtype=D),
        torch.tensor([-2.5], dtype=D),
        0.25,
    )
    assert float(loss) == pytest.approx(0.25)
    assert float(stats["rewards/margins"]) == pytest.approx(0.25 * 1.5)
    assert float(stats["rewards/accuracies"]) == 1.0
