"""FIND (trainers.find): Gaussian log-likelihood, ratio and KL by hand, clipping mechanics, the
reward calibration's loss, the frozen sampler, and the gain over the initial noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trainers import losses as L
from trainers.find import (
    ClusterDiffusion,
    FINDConfig,
    diag_gaussian_kl,
    diag_gaussian_log_prob,
    expected_reward,
    train_find,
)

RING4 = ClusterDiffusion.ring(4)
T64 = torch.float64


def _t(*x):
    return torch.tensor(x, dtype=T64)


def test_log_prob_matches_hand_computed_values():
    # N([1, 0]; 0, I): -1/2 - log(2 pi)
    assert float(diag_gaussian_log_prob(_t(1.0, 0.0), _t(0.0, 0.0), _t(0.0, 0.0))) == (
        pytest.approx(-0.5 - math.log(2 * math.pi), abs=1e-12)
    )
    # N(2; 1, 2^2): -1/2 (1/2)^2 - log 2 - 1/2 log(2 pi) = -1.737086...
    got = float(diag_gaussian_log_prob(_t(2.0), _t(1.0), _t(math.log(2.0))))
    assert got == pytest.approx(-0.125 - math.log(2.0) - 0.5 * math.log(2 * math.pi), abs=1e-12)
    assert got == pytest.approx(-1.7370857137646178, abs=1e-12)


def test_log_prob_agrees_with_torch_distributions_on_a_batch():
    g = torch.Generator().manual_seed(0)
    z, mu, ls = (torch.randn(5, 3, generator=g, dtype=T64) for _ in range(3))
    ref = torch.distributions.Normal(mu, ls.exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(diag_gaussian_log_prob(z, mu, ls), ref, rtol=0, atol=1e-12)


def test_ratio_of_two_gaussians_by_hand():
    # pi_new = N(1, 1), pi_old = N(0, 1) at z = 0: rho = exp(-1/2); at z = 1: rho = exp(1/2)
    z = _t(0.0, 1.0).view(2, 1)
    new = diag_gaussian_log_prob(z, _t(1.0), _t(0.0))
    old = diag_gaussian_log_prob(z, _t(0.0), _t(0.0))
    np.testing.assert_allclose((new - old).exp().numpy(), [math.exp(-0.5), math.exp(0.5)], 1e-12)


def test_kl_matches_hand_computed_values():
    # KL(N(1, 2^2) || N(0, 1)) = (4 + 1 - 1 - 2 log 2) / 2 = 2 - log 2
    assert float(diag_gaussian_kl([1.0], [math.log(2.0)])) == pytest.approx(2 - math.log(2), 1e-12)
    # KL(N(0, 1) || N(1, 2^2)) = log 2 + (1 + 1) / 8 - 1/2
    kl = diag_gaussian_kl([0.0], [0.0], [1.0], [math.log(2.0)])
    assert float(kl) == pytest.approx(math.log(2) + 0.25 - 0.5, 1e-12)
    # dimensions add; zero at equality; batch shape kept
    kl2 = diag_gaussian_kl([[1.0, 0.0], [0.0, 0.0]], [[math.log(2.0), 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(kl2, [2 - math.log(2), 0.0], atol=1e-12)


def test_kl_agrees_with_a_monte_carlo_estimate():
    rng = np.random.default_rng(1)
    mp, lp, mq, lq = rng.normal(size=(4, 2)) * 0.5
    z = mp + np.exp(lp) * rng.normal(size=(200_000, 2))
    to = torch.as_tensor
    logp = diag_gaussian_log_prob(to(z), to(mp), to(lp)) - diag_gaussian_log_prob(
        to(z), to(mq), to(lq)
    )
    assert float(diag_gaussian_kl(mp, lp, mq, lq)) == pytest.approx(float(logp.mean()), abs=0.01)


def test_clipping_stops_the_gradient_outside_the_range():
    """PPO's clipped surrogate (the loss FIND uses): with A > 0 a sample whose ratio already
    exceeds 1 + eps contributes no gradient, one inside the range contributes A grad rho."""
    eps, adv = 0.2, _t(1.0, 1.0, -1.0, -1.0)
    z = _t(0.0, 2.0, 0.0, 2.0).view(4, 1)
    old = diag_gaussian_log_prob(z, _t(0.0), _t(0.0))
    mean = torch.tensor([1.0], dtype=T64, requires_grad=True)  # rho = exp(z - 1/2)
    logp = diag_gaussian_log_prob(z, mean, _t(0.0))
    rho = (logp - old).exp().detach()
    np.testing.assert_allclose(rho.numpy(), np.exp([-0.5, 1.5, -0.5, 1.5]), 1e-12)
    grads = []
    for i in range(4):
        loss, _ = L.ppo_clip_loss(logp[i : i + 1], old[i : i + 1], adv[i : i + 1], clip_low=eps)
        (g,) = torch.autograd.grad(loss.sum(), mean, retain_graph=True)
        grads.append(float(g))
    # d rho / d mean = rho (z - mean): only samples 0 (A > 0, rho < 1 - eps: unclipped side of
    # the min) and 3 (A < 0, rho > 1 + eps) carry a gradient
    assert grads[1] == 0.0 and grads[2] == 0.0
    assert grads[0] == pytest.approx(-1.0 * rho[0].item() * (0.0 - 1.0), abs=1e-12)
    assert grads[3] == pytest.approx(1.0 * rho[3].item() * (2.0 - 1.0), abs=1e-12)


def test_one_epoch_clipped_equals_unclipped():
    """At the first epoch rho = 1, where clipping changes nothing: one epoch of either update
    gives the same policy (up to round-off)."""
    kw = {"steps": 4, "update_epochs": 1}
    a = train_find(RING4, FINDConfig(ratio_clipping=True, **kw), seeds=[3])
    b = train_find(RING4, FINDConfig(ratio_clipping=False, **kw), seeds=[3])
    np.testing.assert_allclose(a.mean, b.mean, atol=1e-12)
    np.testing.assert_allclose(a.log_std, b.log_std, atol=1e-12)


def test_calibration_loss_decreases():
    res = train_find(RING4, FINDConfig(steps=30), seeds=[0, 1])
    loss = res.calibration_loss
    assert np.all(np.isfinite(loss)) and loss.shape == (30, 2)
    assert np.all(loss[-5:].mean(0) < 0.25 * loss[:3].mean(0))
    # the predictor tracks the reward of the moving policy
    assert np.all(np.abs(res.baseline - 1.0) < 0.2)
    assert np.isnan(train_find(RING4, FINDConfig.plain_pg(steps=2)).calibration_loss).all()


def test_find_improves_the_reward_over_the_initial_noise():
    res = train_find(RING4, FINDConfig(steps=25), seeds=[0, 1, 2])
    zeros = np.zeros((4, 2))
    r0 = float(expected_reward(RING4, zeros, zeros, samples=1000, seed=7))
    r1 = expected_reward(RING4, res.mean, res.log_std, samples=1000, seed=7)
    assert abs(r0 - 0.25) < 0.04  # the unconditioned noise hits the prompt's cluster ~1/K
    assert r1.shape == (3,) and np.all(r1 > 0.9)
    assert np.all(res.kl_to_initial() > 0)  # it moved away from N(0, I) to get there


def test_sampler_keeps_the_cluster_weights_and_lands_near_centres():
    """The exact-score DDIM sampler transports N(0, I) to the mixture: each cluster receives
    about 1/K of the noise, and samples end near a centre (for exact N(m_k, 0.2^2 I) samples the
    distance to the centre has median 0.235 and 99% quantile 0.61; ten DDIM steps add a
    discretization error, hence the looser 0.3 and 1.0)."""
    z = torch.randn(4000, 2, generator=torch.Generator().manual_seed(0), dtype=T64)
    x = RING4.generate(z)
    d = torch.cdist(x, torch.tensor(RING4.centers))
    frac = np.bincount(d.argmin(1).numpy(), minlength=4) / 4000
    np.testing.assert_allclose(frac, 0.25, atol=0.03)
    dmin = d.min(1).values
    assert float(dmin.median()) < 0.3 and float(dmin.quantile(0.99)) < 1.0
    torch.testing.assert_close(RING4.generate(z), x)  # deterministic


def test_rewards_by_hand():
    x = _t(2.0, 0.0, 0.0, 1.0).view(2, 2)  # at centre 0; between centres 0 and 1 (nearer 1)
    lab = torch.tensor([0, 0])
    np.testing.assert_allclose(RING4.reward(x, lab, "hit").numpy(), [1.0, 0.0])
    np.testing.assert_allclose(RING4.reward(x, lab, "neg_distance").numpy(), [0.0, -5.0])
    post = RING4.reward(x, lab, "posterior").numpy()
    assert post[0] == pytest.approx(1.0, abs=1e-12) and post[1] < 0.5


def test_runs_do_not_depend_on_the_batch():
    both = train_find(RING4, FINDConfig(steps=5), seeds=[0, 5])
    one = train_find(RING4, FINDConfig(steps=5), seeds=[5])
    np.testing.assert_allclose(both.mean[1], one.mean[0], atol=1e-10)
    np.testing.assert_allclose(both.reward_history[:, 1], one.reward_history[:, 0], atol=1e-12)


def test_plain_pg_config_and_policy_module():
    cfg = FINDConfig.plain_pg(steps=3)
    assert (cfg.ratio_clipping, cfg.calibration, cfg.update_epochs) == (False, False, 1)
    res = train_find(RING4, cfg, seeds=[0, 1])
    mod = res.policy_module(1)
    mean, log_std = mod(torch.eye(4, dtype=T64))
    np.testing.assert_allclose(mean.numpy(), res.mean[1])
    np.testing.assert_allclose(log_std.numpy(), res.log_std[1])
    assert "FIND (no clip, raw reward)" in res.summary()
