"""ReinFlow (Zhang et al., NeurIPS 2025, arXiv:2505.22094): the noisy flow chain, its exact
likelihood, flow-matching pretraining, the PPO loss and the batched fine-tuning loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from trainers.reinflow import (
    FlowPolicy,
    ReinFlowConfig,
    chain_log_prob,
    finetune_reinflow,
    flow_matching_loss,
    mean_actions,
    point_reach_task,
    pretrain_flow,
    reinflow_ppo_loss,
    sample_chain,
)

F64 = torch.float64
TINY = dict(hidden=8, bc_demos=64, bc_steps=20, bc_batch_size=32, iterations=3, batch_size=8)


def _policy(K: int, d: int = 2, **kw) -> FlowPolicy:
    cfg = ReinFlowConfig(denoising_steps=K, sigma_min=0.05, sigma_max=0.5, hidden=8, **kw)
    return FlowPolicy(d, d, cfg, [3, 4])


def _reference_log_prob(policy: FlowPolicy, obs, chain, include_initial: bool) -> np.ndarray:
    """log of the product of the transitions' densities, each evaluated on its own by scipy."""
    R, B, K1, d = chain.shape
    out = np.zeros((R, B))
    with torch.no_grad():
        for r in range(R):
            for b in range(B):
                dens = multivariate_normal(np.zeros(d), np.eye(d)).pdf(chain[r, b, 0].numpy())
                prod = dens if include_initial else 1.0
                for k in range(K1 - 1):
                    mean, std = policy.transition(k, chain[:, b : b + 1, k], obs[:, b : b + 1])
                    cov = np.diag(std[r, 0].numpy() ** 2)
                    prod *= multivariate_normal(mean[r, 0].numpy(), cov).pdf(
                        chain[r, b, k + 1].numpy()
                    )
                out[r, b] = math.log(prod)
    return out


@pytest.mark.parametrize("K", [1, 2, 4])
@pytest.mark.parametrize("include_initial", [True, False])
@pytest.mark.parametrize(
    "options", [{}, {"noise_inputs": "t_s", "time_grid": "linspace", "mean_clip": 0.5}]
)
def test_chain_likelihood_is_the_product_of_its_gaussian_transitions(K, include_initial, options):
    policy = _policy(K, **options)
    g = torch.Generator().manual_seed(K)
    obs = 2 * torch.rand(2, 4, 2, generator=g, dtype=F64) - 1
    with torch.no_grad():
        chain = sample_chain(policy, obs, generator=g)
        logp, _ = chain_log_prob(policy, obs, chain, include_initial=include_initial)
    assert chain.shape == (2, 4, K + 1, 2)
    ref = _reference_log_prob(policy, obs, chain, include_initial)
    np.testing.assert_allclose(logp.numpy(), ref, rtol=1e-10, atol=1e-10)


def test_chain_likelihood_is_differentiable_and_a_density_over_one_step():
    # K = 1, d = 1, constant sigma: integrating exp(log pi(a_1 | a_0)) over a_1 gives 1
    cfg = ReinFlowConfig(denoising_steps=1, sigma_min=0.3, sigma_max=0.3, hidden=4)
    policy = FlowPolicy(1, 1, cfg, [0])
    obs = torch.full((1, 1, 1), 0.2, dtype=F64)
    grid = torch.linspace(-6, 6, 4001, dtype=F64)
    a0 = torch.full((1, grid.numel(), 1), 0.4, dtype=F64)
    chain = torch.stack([a0, grid.reshape(1, -1, 1)], dim=2)
    logp, _ = chain_log_prob(policy, obs.expand(1, grid.numel(), 1), chain, include_initial=False)
    mass = torch.trapezoid(logp[0].detach().exp(), grid)
    assert abs(mass.item() - 1.0) < 1e-8
    logp.sum().backward()
    assert all(p.grad is not None for p in policy.velocity.parameters())


def test_entropy_estimate_with_constant_noise_is_hand_computed():
    K, d, s = 2, 3, 0.2
    cfg = ReinFlowConfig(denoising_steps=K, sigma_min=s, sigma_max=s, hidden=4)
    policy = FlowPolicy(d, d, cfg, [0])
    obs = torch.zeros(1, 2, d, dtype=F64)
    with torch.no_grad():
        chain = sample_chain(policy, obs, generator=torch.Generator().manual_seed(0))
        _, ent = chain_log_prob(policy, obs, chain, include_initial=True)
    h0 = 0.5 * d * (1 + math.log(2 * math.pi))
    ht = d * (math.log(s) + 0.5 * (1 + math.log(2 * math.pi)))
    np.testing.assert_allclose(ent.numpy(), (h0 + K * ht) / (K + 1), rtol=1e-13)


def test_sigma_stays_within_its_bounds_for_any_input_and_weights():
    policy = _policy(2)
    with torch.no_grad():
        for p in policy.noise.parameters():
            p.mul_(50.0)  # saturate the tanh on both sides
    g = torch.Generator().manual_seed(0)
    a = 100 * torch.randn(2, 500, 2, generator=g, dtype=F64)
    obs = 100 * torch.randn(2, 500, 2, generator=g, dtype=F64)
    std = policy.noise_std(0.5, a, obs).detach()
    assert float(std.min()) >= 0.05 * (1 - 1e-12) and float(std.max()) <= 0.5 * (1 + 1e-12)
    assert float(std.min()) < 0.051 and float(std.max()) > 0.49  # both ends reached
    # equal bounds: the noise is that constant
    flat = FlowPolicy(2, 2, ReinFlowConfig(sigma_min=0.1, sigma_max=0.1, hidden=8), [0, 1])
    np.testing.assert_allclose(flat.noise_std(0.0, a, obs).detach().numpy(), 0.1, rtol=1e-14)


def test_flow_matching_pretraining_reduces_the_loss_and_approaches_the_expert():
    task = point_reach_task(1, expert_gain=0.8, expert_std=0.1)
    cfg = ReinFlowConfig(
        denoising_steps=2, hidden=16, bc_demos=128, bc_steps=80, bc_batch_size=64, bc_lr=1e-2
    )
    g = torch.Generator().manual_seed(1)
    obs = task.sample_states(64, g)
    expert_mean = 0.8 * obs.numpy()
    untrained = FlowPolicy(1, 1, cfg, [0])
    before = np.abs(mean_actions(untrained, obs[None], deterministic=True)[0] - expert_mean).mean()
    pre = pretrain_flow(task, cfg, seed=0)
    after = np.abs(mean_actions(pre.policy, obs[None], deterministic=True)[0] - expert_mean).mean()
    first, last = np.mean(pre.losses[:10]), np.mean(pre.losses[-10:])
    assert last < 0.6 * first
    assert after < 0.1 and after < 0.3 * before
    # the loss the curve reports is the conditional flow-matching loss
    loss = flow_matching_loss(pre.policy, obs[None], task.expert_actions(obs, g)[None], g)
    assert loss.shape == (1,) and loss.detach().item() < first


def test_ppo_loss_against_hand_computed_values():
    new = torch.tensor([[math.log(1.5), math.log(0.5), 0.0]], dtype=F64)
    old = torch.zeros(1, 3, dtype=F64)
    returns = torch.tensor([[2.0, 1.0, 0.0]], dtype=F64)
    old_v = torch.tensor([[1.0, 2.0, 0.0]], dtype=F64)
    new_v = torch.tensor([[1.5, 1.0, 1.0]], dtype=F64)
    ent = torch.tensor([[0.3, 0.6, 0.9]], dtype=F64)
    out = reinflow_ppo_loss(
        new,
        old,
        returns,
        old_v,
        new_v,
        ent,
        clip_coef=0.2,
        ent_coef=0.1,
        vf_coef=0.5,
        normalize_advantages=False,
    )
    # advantages (1, -1, 0); ratios (1.5, 0.5, 1): max(-1.5, -1.2) = -1.2, max(0.5, 0.8) = 0.8, 0
    assert float(out.pg[0]) == pytest.approx((-1.2 + 0.8 + 0.0) / 3, abs=1e-14)
    assert float(out.value[0]) == pytest.approx(0.5 * (0.25 + 0.0 + 1.0) / 3, abs=1e-14)
    assert float(out.entropy[0]) == pytest.approx(0.6, abs=1e-14)
    kl = ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5)) + 0.0) / 3
    assert float(out.approx_kl[0]) == pytest.approx(kl, abs=1e-14)
    assert float(out.clipfrac[0]) == pytest.approx(2 / 3, abs=1e-14)
    total = (-1.2 + 0.8) / 3 - 0.1 * 0.6 + 0.5 * float(out.value[0])
    assert float(out.total) == pytest.approx(total, abs=1e-14)
    # normalized advantages (1, -1, 0) / std 1; log-likelihood clamp at [-0.1, 0.1]
    clamped = reinflow_ppo_loss(new, old, returns, old_v, new_v, ent, log_prob_bounds=(-0.1, 0.1))
    r = math.exp(0.1)  # both clamped ratios are within 1 +- 0.2 here: (e^0.1, e^-0.1, 1)
    assert float(clamped.pg[0]) == pytest.approx((-r + math.exp(-0.1)) / 3, abs=1e-8)


def test_runs_train_independently_and_paired_runs_share_their_draws():
    task = point_reach_task(1)
    cfg = ReinFlowConfig(denoising_steps=2, **TINY)
    pre = pretrain_flow(task, cfg, seed=0)
    both = finetune_reinflow(
        task, pre.policy, cfg, seeds=[5, 7, 7], reward_shifts=[[0.0], [0.0], [0.0]]
    )
    alone = finetune_reinflow(task, pre.policy, cfg, seeds=[7])
    assert both.returns.shape == (3, 3)
    np.testing.assert_allclose(both.returns[:, 1], alone.returns[:, 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(both.returns[:, 1], both.returns[:, 2])
    assert not np.allclose(both.returns[:, 0], both.returns[:, 1])
    shifted = finetune_reinflow(task, pre.policy, cfg, seeds=[7, 7], reward_shifts=[[0.0], [0.1]])
    # same draws, different reward: same first batch of actions, different rewards
    assert shifted.returns[0, 0] != shifted.returns[0, 1]


def test_finetuning_improves_the_reward_of_a_suboptimal_expert():
    task = point_reach_task(1, expert_gain=0.3)
    cfg = ReinFlowConfig(
        denoising_steps=1, hidden=8, bc_steps=100, bc_lr=1e-2, iterations=25, batch_size=32, lr=3e-3
    )
    pre = pretrain_flow(task, cfg, seed=0)
    res = finetune_reinflow(task, pre.policy, cfg, seeds=[0, 1])
    assert (res.returns[-5:].mean(0) > res.returns[:3].mean(0) + 0.02).all()
    assert "ReinFlow K=1" in res.summary()


def test_non_finite_rewards_are_refused_by_name():
    task = point_reach_task(1)
    cfg = ReinFlowConfig(**TINY)
    pre = pretrain_flow(task, cfg)
    with pytest.raises(ValueError, match="reward_fn"):
        finetune_reinflow(
            task, pre.policy, cfg, reward_fn=lambda s, a: torch.full(a.shape[:2], math.nan)
        )
    z = torch.zeros(1, 2, dtype=F64)
    with pytest.raises(ValueError, match="returns"):
        reinflow_ppo_loss(z, z, torch.tensor([[1.0, math.inf]], dtype=F64), z, z, z)


def test_config_refuses_bad_steps_and_noise_bounds():
    with pytest.raises(ValueError, match="denoising_steps"):
        ReinFlowConfig(denoising_steps=0)
    with pytest.raises(ValueError, match="sigma_min"):
        ReinFlowConfig(sigma_min=0.3, sigma_max=0.2)
