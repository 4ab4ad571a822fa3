"""Soft Q-learning and discrete SAC: the learned policy matches theory.soft_optimal_policy."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import theory as T
from theory.generators import random_mdp
from trainers.envs import TabularMDPEnv
from trainers.runtime import load_checkpoint
from trainers.soft_q import SoftQConfig, train_soft_q

#: Measured max TV at 2000 steps: 0.010 (soft_q) and 0.010 (sac) over 3 MDPs x 2 seeds.
TV_TOL = 0.03
ALPHA = 0.5


@pytest.fixture(scope="module")
def mdp() -> T.TabularMDP:
    return random_mdp(np.random.default_rng(0), 3, 3, 0.5)


@pytest.mark.parametrize("algorithm", ["soft_q", "sac"])
def test_soft_policy_matches_theory(mdp, algorithm):
    cfg = SoftQConfig(algorithm=algorithm, alpha=ALPHA, total_timesteps=2000)
    res = train_soft_q(lambda: TabularMDPEnv(mdp, max_steps=20), cfg, seed=0, progress=False)
    pi = res.tabular_policy(mdp.n_states)
    target = T.soft_optimal_policy(mdp, ALPHA)
    assert T.max_total_variation(pi, target) < TV_TOL
    # the tolerance is meaningful: uniform and the policy of another temperature are far away
    assert T.max_total_variation(np.full_like(pi, 1 / 3), target) > 10 * TV_TOL
    assert T.max_total_variation(pi, T.soft_optimal_policy(mdp, 4 * ALPHA)) > 3 * TV_TOL
    assert res.metrics[-1]["charts/SPS"] > 0 and "losses/q" in res.metrics[-1]


def test_sac_autotune_lowers_alpha_from_uniform(mdp):
    # the initial uniform policy has entropy log A > 0.89 log A, so alpha must decrease
    cfg = SoftQConfig(algorithm="sac", alpha=1.0, autotune=True, total_timesteps=500)
    res = train_soft_q(TabularMDPEnv(mdp, max_steps=20), cfg, seed=1, progress=False)
    assert res.alpha < 1.0
    assert "losses/alpha" in res.metrics[-1]


def test_checkpoint_roundtrip(mdp, tmp_path):
    cfg = SoftQConfig(algorithm="sac", total_timesteps=300, learning_starts=100)
    res = train_soft_q(TabularMDPEnv(mdp), cfg, seed=0, progress=False)
    res.save(tmp_path / "sac")
    state, cfg2 = load_checkpoint(tmp_path / "sac", SoftQConfig)
    assert cfg2 == cfg
    assert set(state) == {"q0.weight", "q1.weight", "actor.weight"}
    np.testing.assert_array_equal(state["actor.weight"], res.actor.weight.detach())
    assert res.summary().startswith("sac:")


def test_same_seed_same_run(mdp):
    cfg = SoftQConfig(total_timesteps=400, learning_starts=100)
    a = train_soft_q(TabularMDPEnv(mdp), cfg, seed=3, progress=False)
    b = train_soft_q(TabularMDPEnv(mdp), cfg, seed=3, progress=False)
    np.testing.assert_array_equal(a.tabular_policy(3), b.tabular_policy(3))


@pytest.mark.parametrize(
    "call",
    [
        lambda: SoftQConfig(algorithm="dqn"),
        lambda: SoftQConfig(alpha=0.0),
        lambda: SoftQConfig(gamma=1.0),
        lambda: SoftQConfig(tau=0.0),
        lambda: SoftQConfig(autotune=True),
        lambda: train_soft_q(
            gym.make("Pendulum-v1"), SoftQConfig(total_timesteps=10, learning_starts=5)
        ),
    ],
    ids=["algorithm", "alpha", "gamma", "tau", "autotune-needs-sac", "continuous-actions"],
)
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()
