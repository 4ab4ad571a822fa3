"""The pixel gridworld: gymnasium API, exact Q*, fitted CNN policies (small and seeded)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from stability.decision_boundary import deepfool
from stability.decision_boundary.gridworld import PixelGridworld, gridworld_policy, rollout_states


def test_env_api_and_rendering():
    env = PixelGridworld(6, seed=1, render_mode="rgb_array")
    check_env(env)  # renders in the declared mode (tests/test_envs_check.py: through its spec)
    assert env.render().shape == (18, 18, 3)
    obs, info = env.reset(seed=0)
    assert obs.shape == (1, 18, 18) and obs.dtype == np.float32
    assert env.observation_space.contains(obs)
    r, c = info["cell"]
    assert np.all(obs[0, 3 * r : 3 * r + 3, 3 * c : 3 * c + 3] == 1.0)


def test_q_star_is_shortest_path():
    env = PixelGridworld(7, seed=3, gamma=0.9)
    q = env.optimal_q()
    v = q.max(1)
    # BFS distances from the goal
    dist = {env.goal: 0}
    frontier = [env.goal]
    while frontier:
        nxt = []
        for cell in frontier:
            for other in env.cells:
                if other not in dist and any(env.move(other, a) == cell for a in range(4)):
                    dist[other] = dist[cell] + 1
                    nxt.append(other)
        frontier = nxt
    for cell, i in env.index.items():
        k = dist[cell]
        assert v[i] == pytest.approx(-(1 - 0.9**k) / (1 - 0.9), abs=1e-8)


def test_episode_reaches_goal_along_optimal_actions():
    env = PixelGridworld(6, seed=2)
    q = env.optimal_q()
    _, info = env.reset(seed=5)
    steps, done = 0, False
    while not done:
        _, rew, term, trunc, info = env.step(int(q[env.index[info["cell"]]].argmax()))
        assert rew == -1.0
        done, steps = term or trunc, steps + 1
    assert info["cell"] == env.goal and steps <= len(env.cells)


def test_fitted_policies_are_optimal_and_robust_twin_is_more_robust():
    env, van, rep_v = gridworld_policy(8, 0, False)
    _, rob, rep_r = gridworld_policy(8, 0, True)
    assert rep_v.agreement == 1.0 and rep_r.agreement >= 0.95
    S, episodes, paths = rollout_states(van, env, 5, seed=0)
    assert all(p[-1] != env.goal for p in paths) and len(S) == sum(len(e) for e in episodes)
    dv = np.median(deepfool(van, S).l2)
    dr = np.median(deepfool(rob, S).l2)
    assert dr > dv


def test_bad_inputs():
    with pytest.raises(ValueError, match="size"):
        PixelGridworld(2)
    with pytest.raises(ValueError, match="wall_density"):
        PixelGridworld(6, wall_density=0.9)
    env = PixelGridworld(6, seed=0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(7)
    with pytest.raises(ValueError, match="start"):
        env.reset(options={"start": (-1, -1)})
