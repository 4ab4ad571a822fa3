"""perturbation.retrain: policy distances, the permutation test against seed noise, perturbations.

Reference computations: the exact permutation p-value is recomputed by brute force over all
(2K)! orderings of the runs; the planted effect is measured with soft value iteration on
transition models estimated from sampled data (seed noise = sampling noise); the calibration
runs the whole call on many cheap synthetic null problems; Prop 4.7's bound is compared with
theory.bounds.soft_policy_tv_bound and with exact soft-optimal policies.
"""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from scipy import stats as sps

import theory as T
from perturbation.retrain import (
    as_probabilities,
    drop_data,
    policy_distance,
    retrain_compare,
    reward_perturbation,
    transition_perturbation,
)
from perturbation.retrain.compare import _energy, _permutation_test
from theory.bounds import soft_policy_tv_bound
from theory.generators import random_mdp
from trainers.envs import TabularMDPEnv

# ------------------------------------------------------------------------------------------
# fixtures: a small MDP and cheap trainers
# ------------------------------------------------------------------------------------------

MDP = random_mdp(np.random.default_rng(3), 5, 3, 0.5)
ALPHA = 0.5


def _sampled_model(seed: int, n: int = 30) -> np.ndarray:
    """A transition model estimated from ``n`` samples per (s, a) (the seed's data)."""
    rng = np.random.default_rng(seed)
    S, A = MDP.n_states, MDP.n_actions
    counts = np.stack(
        [rng.multinomial(n, MDP.P[s, a]) for s in range(S) for a in range(A)]
    ).reshape(S, A, S)
    return counts / n


def _planted(delta: float) -> np.ndarray:
    """+delta on action 0 in every state: ||dR||_inf = delta."""
    d = np.zeros((MDP.n_states, MDP.n_actions))
    d[:, 0] = delta
    return d


def _soft_from_data(delta: float, shift: float = 0.0):
    def train(seed: int, perturbed: bool) -> np.ndarray:
        R = MDP.R + (_planted(delta) + shift if perturbed else 0.0)
        return T.soft_optimal_policy(T.TabularMDP(_sampled_model(seed), R, MDP.gamma), ALPHA)

    return train


STATES = np.arange(MDP.n_states)


#: Seed noise of the synthetic trainer, drawn once: run ``seed`` gets ``NOISE[seed]``.
NOISE = np.random.default_rng(7).normal(size=(2000, 4, 3))


def _synthetic(shift: float, sigma: float = 0.5):
    """Policies softmax(theta + sigma * noise(seed) + shift * perturbed): cheap seed noise."""
    theta = np.random.default_rng(99).normal(size=(4, 3))

    def train(seed: int, perturbed: bool) -> np.ndarray:
        z = theta + sigma * NOISE[seed] + (shift * np.eye(3)[0] if perturbed else 0.0)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return train


# ------------------------------------------------------------------------------------------
# policy_distance
# ------------------------------------------------------------------------------------------


def test_policy_distance_hand_computed_and_same_for_every_policy_kind():
    table_a = np.array([[0.9, 0.1], [0.2, 0.8]])
    table_b = np.array([[0.5, 0.5], [0.6, 0.4]])
    d = policy_distance(table_a, table_b, [0, 1, 1])
    np.testing.assert_allclose(d.tv, [0.4, 0.4, 0.4], atol=1e-15)
    assert d.disagreement.tolist() == [False, True, True]
    assert d.disagreement_rate == pytest.approx(2 / 3)
    assert d.max_tv == pytest.approx(0.4) and "mean TV 0.4" in d.summary()
    # one-hot observations (as TabularMDPEnv gives) select the same rows
    d2 = policy_distance(table_a, table_b, np.eye(2)[[0, 1, 1]])
    np.testing.assert_array_equal(d.tv, d2.tv)
    # an nn.Module with logits log(table) gives the same probabilities as the table
    lin = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(np.log(table_a).T, dtype=torch.float32))
    np.testing.assert_allclose(as_probabilities(lin, np.eye(2)), table_a, atol=1e-6)
    # a callable returning probabilities
    d3 = policy_distance(lambda x: table_a[np.argmax(x, 1)], lin, np.eye(2))
    np.testing.assert_allclose(d3.tv, 0.0, atol=1e-6)


def test_policy_distance_refuses_logits_from_a_plain_callable():
    with pytest.raises(ValueError, match="policy_a"):
        policy_distance(lambda x: np.ones((len(x), 2)), np.full((2, 2), 0.5), [0, 1])


# ------------------------------------------------------------------------------------------
# the permutation test
# ------------------------------------------------------------------------------------------


def _brute_force_p(D: np.ndarray, k: int) -> float:
    """Fraction of all (2K)! orderings whose first K runs give T >= T_obs (by loops)."""

    def stat(a, b):
        cross = np.mean([D[i, j] for i in a for j in b])
        wa = np.mean([D[i, j] for i in a for j in a if i != j])
        wb = np.mean([D[i, j] for i in b for j in b if i != j])
        return 2 * cross - wa - wb

    t_obs = stat(range(k), range(k, 2 * k))
    hits = total = 0
    for perm in itertools.permutations(range(2 * k)):
        total += 1
        hits += stat(perm[:k], perm[k:]) >= t_obs - 1e-12
    return hits / total


@pytest.mark.parametrize("seed", range(3))
def test_exact_p_value_equals_brute_force_over_all_orderings(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 2)) + np.r_[np.zeros(3), np.full(3, 0.7 * seed)][:, None]
    D = np.abs(X[:, None, :] - X[None, :, :]).sum(-1)  # an l1 metric between runs
    t_obs, p, exact, n, min_p = _permutation_test(D, 3, 10_000, rng)
    assert exact and n == 20 and min_p == pytest.approx(0.1)
    assert p == pytest.approx(_brute_force_p(D, 3), abs=1e-12)
    assert t_obs == pytest.approx(_energy(D, np.array([[1, 1, 1, 0, 0, 0]], bool), 3)[0])


def test_monte_carlo_p_value_is_close_to_the_exact_one():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3)) + np.r_[np.zeros(5), np.full(5, 0.5)][:, None]
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    _, p_exact, exact, _, _ = _permutation_test(D, 5, 10_000, np.random.default_rng(1))
    _, p_mc, mc_exact, n, _ = _permutation_test(D, 5, 200, np.random.default_rng(1))
    assert exact and not mc_exact and n == 200
    # 200 relabellings: the Monte Carlo p has standard error sqrt(p (1 - p) / 200)
    assert abs(p_mc - p_exact) <= 4 * math.sqrt(p_exact * (1 - p_exact) / 200) + 1 / 201


# ------------------------------------------------------------------------------------------
# retrain_compare: planted effect, null, calibration, the bound
# ------------------------------------------------------------------------------------------


def test_planted_reward_change_is_detected_against_sampling_noise():
    res = retrain_compare(
        _soft_from_data(0.5), seeds=5, states=STATES, progress=False, n_bootstrap=500
    )
    assert res.exact and res.n_permutations == 252
    assert res.distinguishable and res.p_value == pytest.approx(2 / 252)
    assert res.effect.point > res.seed_noise.point > 0
    assert res.difference.lower > 0
    for iv in (res.effect, res.seed_noise, res.difference, res.ratio):
        assert iv.lower <= iv.point <= iv.upper
    s = res.summary()
    assert "effect TV" in s and "vs seed noise" in s and "p = 0.00794" in s
    assert "distinguishable from seed noise" in s and "NOT" not in s


def test_constant_reward_shift_is_a_null_perturbation():
    # R + 5: ||dR||_inf = 5 but the soft-optimal policy is unchanged for every sampled model
    res = retrain_compare(
        _soft_from_data(0.0, shift=5.0),
        seeds=5,
        states=STATES,
        progress=False,
        bound={"alpha": ALPHA, "gamma": MDP.gamma, "reward_distance": 5.0},
    )
    assert not res.distinguishable and res.p_value >= 0.05
    assert res.bound == soft_policy_tv_bound(5.0, ALPHA, MDP.gamma) == 10.0
    assert res.bound_vacuous and "vacuous" in res.summary()
    assert "NOT distinguishable" in res.summary()


def test_null_is_flagged_at_most_at_its_error_rate():
    """Calibration: 200 synthetic null problems (K = 5, exact test); false-positive count within
    the 0.999 binomial quantile of Binomial(200, alpha) (P(p < alpha) <= alpha for an exact
    permutation test; the quantile allows for the 200-sample Monte Carlo error)."""
    alpha, reps = 0.05, 200
    flagged, pvals = 0, []
    for r in range(reps):
        res = retrain_compare(
            _synthetic(0.0),
            seeds=range(10 * r, 10 * r + 5),
            perturbed_seeds=range(10 * r + 5, 10 * r + 10),
            states=np.arange(4),
            alpha=alpha,
            n_bootstrap=20,
            progress=False,
        )
        flagged += res.distinguishable
        pvals.append(res.p_value)
    limit = sps.binom.ppf(0.999, reps, alpha)
    assert flagged <= limit, (flagged, limit)
    # and the test is not trivially conservative: p-values spread over (0, 1]
    assert np.mean(np.array(pvals) <= 0.5) == pytest.approx(0.5, abs=0.15)


def test_synthetic_shift_is_detected_and_seed_noise_is_the_same_group_distance():
    res = retrain_compare(_synthetic(2.0, sigma=0.3), seeds=6, states=np.arange(4), progress=False)
    assert res.distinguishable and res.p_value == pytest.approx(2 / math.comb(12, 6))
    D = res.distances
    assert res.seed_noise.point == pytest.approx((D[:6, :6].sum() + D[6:, 6:].sum()) / (2 * 30))
    assert res.effect.point == pytest.approx(D[:6, 6:].mean())
    assert res.ratio.point == pytest.approx(res.effect.point / res.seed_noise.point)


def test_bound_equals_theory_and_exact_soft_optimal_tv_is_below_it():
    rng = np.random.default_rng(5)
    for _ in range(5):
        dR = rng.uniform(-0.2, 0.2, size=(MDP.n_states, MDP.n_actions))
        alpha = float(rng.uniform(0.5, 2.0))

        def train(seed, perturbed, dR=dR, alpha=alpha):
            return T.soft_optimal_policy(MDP.with_reward(MDP.R + perturbed * dR), alpha)

        res = retrain_compare(
            train,
            seeds=4,
            states=STATES,
            progress=False,
            n_bootstrap=50,
            bound={"alpha": alpha, "gamma": MDP.gamma, "reward_distance": np.abs(dR).max()},
        )
        expected = soft_policy_tv_bound(np.abs(dR).max(), alpha, MDP.gamma)
        assert res.bound == expected
        exact = T.max_total_variation(train(0, False), train(0, True))
        assert res.max_tv == pytest.approx(exact, abs=1e-12)
        assert res.max_tv <= res.bound
        assert not res.bound_vacuous and f"{expected:.4g}" in res.summary()
        # no seed noise: every cross pair is the effect, within pairs are 0
        assert res.seed_noise.point == 0.0 and res.ratio.point == math.inf


def test_too_few_seeds_warn_that_p_cannot_reach_alpha():
    with pytest.warns(RuntimeWarning, match="seeds"):
        res = retrain_compare(_synthetic(3.0), seeds=3, states=np.arange(4), progress=False)
    assert res.min_p_value == pytest.approx(0.1) and not res.distinguishable
    assert "cannot go below" in res.summary()


# ------------------------------------------------------------------------------------------
# environment perturbations and the train(env_factory, seed) form
# ------------------------------------------------------------------------------------------

ENV_MDP = random_mdp(np.random.default_rng(11), 3, 2, 0.5)


def _model_based(env_factory, seed: int, n: int = 40) -> np.ndarray:
    """Estimate P and R from ``n`` sampled steps per (s, a), solve the soft-optimal policy."""
    env = TabularMDPEnv(ENV_MDP) if env_factory is ENV_MDP else env_factory()
    S, A = ENV_MDP.n_states, ENV_MDP.n_actions
    P, R = np.zeros((S, A, S)), np.zeros((S, A))
    env.reset(seed=seed)
    base = env.unwrapped
    for s in range(S):
        for a in range(A):
            for _ in range(n):
                base.state = s
                _, r, _, _, info = env.step(a)
                P[s, a, info["state"]] += 1 / n
                R[s, a] += r / n
    return T.soft_optimal_policy(T.TabularMDP(P, R, ENV_MDP.gamma), 0.5)


def test_reward_perturbation_through_env_factories_is_detected_with_its_bound():
    bonus = reward_perturbation(lambda o, a, r, o2: r + 0.4 * (a == 0), reward_distance=0.4)
    res = retrain_compare(
        _model_based,
        perturbation=bonus,
        env=ENV_MDP,
        seeds=4,
        states=np.arange(3),
        progress=False,
        bound={"alpha": 0.5, "gamma": ENV_MDP.gamma},
    )
    assert res.distinguishable and res.perturbation == "reward change"
    assert res.bound == soft_policy_tv_bound(0.4, 0.5, ENV_MDP.gamma)
    assert res.probabilities.shape == (8, 3, 2)


def test_states_default_to_those_visited_by_the_base_policies():
    def factory():
        return TabularMDPEnv(ENV_MDP, max_steps=5)

    res = retrain_compare(
        lambda seed, perturbed: np.full((3, 2), 0.5) if not perturbed else np.eye(2)[[0, 0, 0]],
        seeds=4,
        env=factory,
        episodes=2,
        progress=False,
    )
    # 4 base policies x 2 episodes x 5 steps, one-hot observations
    assert res.states.shape == (40, 3) and set(res.states.sum(1)) == {1.0}
    assert res.effect.point == pytest.approx(0.5) and res.seed_noise.point == 0.0


def test_transition_perturbation_changes_actions_and_attributes():
    noisy = transition_perturbation(action_noise=1.0)
    env = noisy(lambda: TabularMDPEnv(ENV_MDP))()
    env.reset(seed=0)
    taken = []
    for _ in range(200):  # every action is replaced by a uniform one: both actions occur
        env.unwrapped.state = 0
        before = env.unwrapped._cdf  # dynamics untouched
        _, r, *_ = env.step(0)
        taken.append(r)
        assert before is env.unwrapped._cdf
    assert set(np.round(taken, 12)) == set(np.round(ENV_MDP.R[0], 12))
    weaker = transition_perturbation(attributes={"force_mag": 8.0})
    assert weaker("CartPole-v1")().unwrapped.force_mag == 8.0
    with pytest.raises(ValueError, match="attributes"):
        transition_perturbation(attributes={"no_such_thing": 1})("CartPole-v1")()


def test_reward_perturbation_wraps_every_step():
    env = reward_perturbation(lambda o, a, r, o2: 2 * r)(lambda: TabularMDPEnv(ENV_MDP))()
    assert isinstance(env, gym.Wrapper)
    env.reset(seed=1)
    s = env.unwrapped.state
    assert env.step(1)[1] == 2 * ENV_MDP.R[s, 1]


# ------------------------------------------------------------------------------------------
# drop_data
# ------------------------------------------------------------------------------------------


def test_drop_data_keeps_order_and_is_seeded():
    x = np.arange(20)
    kept = drop_data(x, 0.25, seed=3)
    assert kept.size == 15 and np.all(np.diff(kept) > 0)
    np.testing.assert_array_equal(kept, drop_data(x, 0.25, seed=3))
    assert not np.array_equal(kept, drop_data(x, 0.25, seed=4))
    d = drop_data({"obs": np.arange(10), "act": list(range(10))}, 0.5, seed=0)
    np.testing.assert_array_equal(d["obs"], d["act"])
    assert drop_data(torch.arange(10), 0.1).shape == (9,)
    assert drop_data(list("abcd"), 0.5) in (
        ["a", "b"],
        ["a", "c"],
        ["a", "d"],
        ["b", "c"],
        ["b", "d"],
        ["c", "d"],
    )
    assert len(drop_data(x, 0.0)) == 20


@pytest.mark.slow
def test_joblib_engine_gives_the_inprocess_answer():
    kw = {"seeds": 4, "states": STATES, "progress": False, "n_bootstrap": 100}
    a = retrain_compare(_soft_from_data(0.3), **kw)
    b = retrain_compare(_soft_from_data(0.3), engine="joblib", n_jobs=2, **kw)
    np.testing.assert_array_equal(a.distances, b.distances)
    assert a.p_value == b.p_value


# --- Gaussian (continuous-action) policies -------------------------------------------------


def _tv_by_quadrature(m1, s1, m2, s2, n=200_001):
    """``½ ∫ |p - q|`` by the trapezoid rule on a fine grid over ±12 std (error ~1e-9)."""
    lo, hi = min(m1 - 12 * s1, m2 - 12 * s2), max(m1 + 12 * s1, m2 + 12 * s2)
    x = np.linspace(lo, hi, n)
    f = np.abs(sps.norm.pdf(x, m1, s1) - sps.norm.pdf(x, m2, s2))
    return 0.5 * float(np.sum((f[1:] + f[:-1]) * 0.5 * np.diff(x)))


def test_gaussian_distance_hand_computed_and_exact_tv_for_equal_variances():
    from perturbation.retrain.distance import GaussianPolicyDistance

    x = np.array([[0.0], [1.0], [-2.0]])
    a = lambda s: (s, np.eye(1))  # noqa: E731  N(s, 1)
    b = lambda s: (s + np.array([[1.0], [0.0], [3.0]]), np.eye(1))  # noqa: E731
    d = policy_distance(a, b, x)
    assert isinstance(d, GaussianPolicyDistance) and d.tv_exact.all()
    np.testing.assert_allclose(d.kl_ab, [0.5, 0.0, 4.5], atol=1e-12)  # (delta mu)^2 / 2
    np.testing.assert_allclose(d.kl_ba, d.kl_ab, atol=1e-12)
    exact = [2 * sps.norm.cdf(0.5) - 1, 0.0, 2 * sps.norm.cdf(1.5) - 1]
    np.testing.assert_allclose(d.tv, exact, atol=1e-12)
    quad_tv = [_tv_by_quadrature(0, 1, dm, 1) for dm in (1.0, 0.0, 3.0)]
    np.testing.assert_allclose(d.tv, quad_tv, atol=1e-8)
    np.testing.assert_allclose(d.mean_shift, [1.0, 0.0, 3.0])


def test_gaussian_distance_unequal_variances_kl_and_the_tv_bound():
    # KL(N(0, 1) || N(1, 2^2)) = log 2 + 2/8 - 1/2; KL(N(1, 4) || N(0, 1)) = 2 - log 2
    d = policy_distance(
        lambda s: (np.zeros((len(s), 1)), np.ones((len(s), 1))),
        lambda s: (np.ones((len(s), 1)), np.full((len(s), 1), 4.0)),  # diagonal variances
        np.zeros((1, 2)),
    )
    assert d.kl_ab[0] == pytest.approx(math.log(2) + 0.25 - 0.5, abs=1e-12)
    assert d.kl_ba[0] == pytest.approx(2 - math.log(2), abs=1e-12)
    kl = min(d.kl_ab[0], d.kl_ba[0])
    assert not d.tv_exact[0]
    assert d.tv[0] == pytest.approx(min(math.sqrt(kl / 2), math.sqrt(1 - math.exp(-kl))), 1e-12)
    assert _tv_by_quadrature(0, 1, 1, 2) <= d.tv[0]


def test_gaussian_tv_bound_holds_on_random_one_dimensional_pairs():
    rng = np.random.default_rng(0)
    for _ in range(8):
        m1, m2 = rng.normal(size=2) * 2
        s1, s2 = np.exp(rng.normal(size=2) * 0.7)
        d = policy_distance(
            lambda s, m=m1, v=s1: (np.full((len(s), 1), m), np.full((len(s), 1), v**2)),
            lambda s, m=m2, v=s2: (np.full((len(s), 1), m), np.full((len(s), 1), v**2)),
            np.zeros((1, 1)),
        )
        assert _tv_by_quadrature(m1, s1, m2, s2) <= d.tv[0] + 1e-9


def test_gaussian_kl_and_exact_tv_in_two_dimensions_against_monte_carlo():
    rng = np.random.default_rng(1)
    # 2-D full covariances: the KL against a Monte-Carlo estimate of E_a[log p_a - log p_b]
    A = rng.normal(size=(2, 2))
    ca, cb = A @ A.T + 0.5 * np.eye(2), np.array([[1.0, 0.3], [0.3, 0.5]])
    ma, mb = np.array([0.2, -0.1]), np.array([1.0, 0.5])
    d = policy_distance(lambda s: (ma[None], ca), lambda s: (mb[None], cb), np.zeros((1, 1)))
    z = rng.multivariate_normal(ma, ca, size=40_000)
    mc = np.mean(
        sps.multivariate_normal(ma, ca).logpdf(z) - sps.multivariate_normal(mb, cb).logpdf(z)
    )
    assert d.kl_ab[0] == pytest.approx(mc, abs=0.05)
    # equal full covariances: exact TV via the Mahalanobis distance, vs Monte Carlo
    e = policy_distance(lambda s: (ma[None], ca), lambda s: (mb[None], ca), np.zeros((1, 1)))
    za = rng.multivariate_normal(ma, ca, size=40_000)
    lr = sps.multivariate_normal(ma, ca).logpdf(za) - sps.multivariate_normal(mb, ca).logpdf(za)
    # d_TV = P_a(p_a > p_b) - P_b(p_a > p_b), and by symmetry P_b(p_a > p_b) = P_a(p_a < p_b)
    assert e.tv_exact[0] and e.tv[0] == pytest.approx(np.mean(lr > 0) - np.mean(lr < 0), abs=0.02)


def test_gaussian_module_and_callable_give_the_same_distance():
    """A module returning (mean, log_std) (CleanRL's continuous actor: a linear mean and a
    state-independent log std of shape (d,)) and the callable returning (mean, diag variances)
    of the same Gaussians."""
    from torch import nn

    class Actor(nn.Module):
        def __init__(self, seed):
            super().__init__()
            torch.manual_seed(seed)
            self.mu = nn.Linear(3, 2).double()
            self.log_std = nn.Parameter(torch.randn(2, dtype=torch.float64) * 0.3)

        def forward(self, x):
            return self.mu(x), self.log_std

    a, b = Actor(0), Actor(1)
    x = np.random.default_rng(0).normal(size=(5, 3))
    mod = policy_distance(a, b, x)

    def call(m):
        with torch.no_grad():
            mean = m.mu(torch.as_tensor(x)).numpy()
            var = np.exp(2 * m.log_std.numpy())
        return lambda s: (mean, np.broadcast_to(var, mean.shape))

    ref = policy_distance(call(a), call(b), x)
    np.testing.assert_allclose(mod.kl_ab, ref.kl_ab, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(mod.tv, ref.tv, rtol=1e-10, atol=1e-14)
    same = policy_distance(a, a, x)
    assert same.max_kl < 1e-12 and same.max_tv < 1e-12 and same.tv_exact.all()
    assert "Gaussian policy distance on 5 states" in mod.summary()
