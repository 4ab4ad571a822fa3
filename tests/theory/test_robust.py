"""Tests of :mod:`theory.robust` against independent references.

- the inner problems against linear programming (L1) and a brute-force tilt search (KL);
- robust value iteration on finite rectangular sets against enumeration of every deterministic
  policy and every static kernel built from the models' rows (static = dynamic);
- the ``s``-rectangular saddle point: the randomized policy's worst case equals the robust value
  and no deterministic policy does better;
- IWOCS never reports a worst-case value above the robust value, and reaches it on
  ``(s,a)``-rectangular sets of random small MDPs;
- the transition analogue of Prop 2.4 (:func:`theory.bounds.q_transition_bound`) holds on random
  pairs of kernels and is attained by its construction.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from tests.theory._reference import CHEAP_PROPERTY, deterministic_policies, evaluate
from theory import (
    FiniteModels,
    KLBall,
    L1Ball,
    TabularMDP,
    iwocs,
    optimal_q,
    q_transition_bound,
    robust_policy_evaluation,
    robust_value_iteration,
    soft_optimal_policy,
    soft_optimal_q,
    worst_case_model,
)
from theory.robust import kl_worst_row, l1_worst_row

SEEDS = st.integers(0, 2**31 - 1)
#: Robust value iterations are a few hundred backups each: fewer examples.
FEW = settings(max_examples=12, deadline=None)


def _mdp(seed: int, S: int = 3, A: int = 2, gamma: float = 0.8) -> TabularMDP:
    rng = np.random.default_rng(seed)
    return TabularMDP(rng.dirichlet(np.ones(S), size=(S, A)), rng.uniform(size=(S, A)), gamma)


def _l1_lp(p0: np.ndarray, v: np.ndarray, radius: float) -> float:
    """min p·v over the L1 ball by an LP in (p, t): |p - p0| <= t, sum t <= radius."""
    n = len(p0)
    c = np.concatenate([v, np.zeros(n)])
    eye = np.eye(n)
    a_ub = np.vstack([np.hstack([eye, -eye]), np.hstack([-eye, -eye]), [[0] * n + [1] * n]])
    b_ub = np.concatenate([p0, -p0, [radius]])
    a_eq = np.concatenate([np.ones(n), np.zeros(n)])[None]
    res = linprog(c, a_ub, b_ub, a_eq, [1.0], [(0, None)] * (2 * n), method="highs")
    assert res.status == 0
    return float(res.fun)


@CHEAP_PROPERTY
@given(SEEDS, st.integers(2, 6), st.floats(0.0, 2.5))
def test_l1_row_is_the_lp_optimum(seed, n, radius):
    rng = np.random.default_rng(seed)
    p0, v = rng.dirichlet(np.ones(n)), rng.normal(size=n)
    p = l1_worst_row(p0, v, radius)
    assert np.all(p >= -1e-15) and abs(p.sum() - 1) < 1e-12
    assert np.abs(p - p0).sum() <= radius + 1e-12
    assert p @ v == pytest.approx(_l1_lp(p0, v, radius), abs=1e-7)  # HiGHS' tolerance


@CHEAP_PROPERTY
@given(SEEDS, st.integers(2, 5), st.floats(1e-3, 3.0))
def test_kl_row_is_feasible_and_optimal(seed, n, radius):
    rng = np.random.default_rng(seed)
    p0, v = rng.dirichlet(np.ones(n)), rng.normal(size=n)
    p = kl_worst_row(p0, v, radius)
    nz = p > 0
    kl = float(np.sum(p[nz] * np.log(p[nz] / p0[nz])))
    assert kl <= radius + 1e-9
    # every distribution of the ball is no better: random feasible points and exponential tilts
    for beta in np.geomspace(1e-3, 1e3, 200):
        q = p0 * np.exp(-(v - v.min()) / beta)
        q /= q.sum()
        nz = q > 0
        if float(np.sum(q[nz] * np.log(q[nz] / p0[nz]))) <= radius:
            assert p @ v <= q @ v + 1e-9


def _all_static_kernels(models: np.ndarray) -> list[np.ndarray]:
    K, S, A, _ = models.shape
    out = []
    for choice in itertools.product(range(K), repeat=S * A):
        k = np.array(choice).reshape(S, A)
        out.append(models[k, np.arange(S)[:, None], np.arange(A)[None, :]])
    return out


@FEW
@given(SEEDS)
def test_rectangular_robust_value_equals_static_enumeration(seed):
    """``max_pi min_P V^pi_P`` over every deterministic policy and every static kernel."""
    rng = np.random.default_rng(seed)
    mdp = _mdp(seed, S=2, A=2)
    models = np.stack([mdp.P, rng.dirichlet(np.ones(2), size=(2, 2))])
    uset = FiniteModels(models, rectangular=True)
    res = robust_value_iteration(mdp, uset)
    kernels = _all_static_kernels(models)
    best = -np.inf * np.ones(2)
    for acts in deterministic_policies(2, 2):
        pi = np.eye(2)[acts]
        worst = np.min([evaluate(P, mdp.R, mdp.gamma, pi) for P in kernels], axis=0)
        best = np.maximum(best, worst)
    np.testing.assert_allclose(res.v, best, atol=1e-8)
    assert uset.contains(res.worst_model)


@FEW
@given(SEEDS, st.floats(0.0, 1.0))
def test_l1_robust_value_is_a_saddle_point(seed, radius):
    mdp = _mdp(seed)
    uset = L1Ball(mdp.P, radius)
    res = robust_value_iteration(mdp, uset)
    assert uset.contains(res.worst_model)
    # the worst case of the robust policy attains the robust value (static-dynamic equivalence)
    ev = robust_policy_evaluation(mdp, uset, res.policy)
    np.testing.assert_allclose(ev.v, res.v, atol=1e-8)
    np.testing.assert_allclose(
        evaluate(ev.worst_model, mdp.R, mdp.gamma, res.policy), res.v, atol=1e-8
    )
    # no deterministic policy has a better worst case
    for acts in deterministic_policies(mdp.n_states, mdp.n_actions):
        assert np.all(robust_policy_evaluation(mdp, uset, acts).v <= res.v + 1e-8)
    # the robust value is below the nominal optimum, equal at radius 0
    v_nom = optimal_q(mdp).max(axis=1)
    assert np.all(res.v <= v_nom + 1e-8)
    if radius == 0.0:
        np.testing.assert_allclose(res.v, v_nom, atol=1e-8)


def test_kl_robust_value_lies_between_l1_sets():
    """Pinsker: KL <= k implies ||p - p0||_1 <= sqrt(2k), so the KL ball's value is at least the
    L1 ball's of radius sqrt(2k)."""
    mdp = _mdp(7, S=4, A=3)
    k = 0.05
    v_kl = robust_value_iteration(mdp, KLBall(mdp.P, k)).v
    v_l1 = robust_value_iteration(mdp, L1Ball(mdp.P, np.sqrt(2 * k))).v
    assert np.all(v_l1 <= v_kl + 1e-8)
    assert np.all(v_kl <= optimal_q(mdp).max(axis=1) + 1e-8)


def test_s_rectangular_randomized_saddle_point():
    mdp = _mdp(3, S=3, A=2, gamma=0.5)
    uset = L1Ball(mdp.P, 0.8, rectangular="s")
    res = robust_value_iteration(mdp, uset, tol=1e-8)
    np.testing.assert_allclose(res.policy.sum(axis=1), 1.0)
    ev = robust_policy_evaluation(mdp, uset, res.policy, tol=1e-8)
    np.testing.assert_allclose(ev.v, res.v, atol=1e-6)
    assert uset.contains(ev.worst_model)
    for acts in deterministic_policies(3, 2):
        assert np.all(robust_policy_evaluation(mdp, uset, acts, tol=1e-8).v <= res.v + 1e-6)
    # the s-set with budget k lies between the (s,a)-sets with radius k/A and k per row
    v_wide = robust_value_iteration(mdp, L1Ball(mdp.P, 0.8)).v
    v_narrow = robust_value_iteration(mdp, L1Ball(mdp.P, 0.4)).v
    assert np.all(v_wide <= res.v + 1e-6) and np.all(res.v <= v_narrow + 1e-6)


def test_finite_static_worst_case_is_enumerated():
    mdp = _mdp(11)
    rng = np.random.default_rng(1)
    models = np.stack([mdp.P, *(rng.dirichlet(np.ones(3), size=(3, 2)) for _ in range(3))])
    pi = np.array([0, 1, 0])
    P = worst_case_model(mdp, FiniteModels(models), pi)
    means = [evaluate(m, mdp.R, mdp.gamma, np.eye(2)[pi]).mean() for m in models]
    np.testing.assert_array_equal(P, models[int(np.argmin(means))])
    with pytest.raises(ValueError, match="rectangular"):
        robust_value_iteration(mdp, FiniteModels(models))


@FEW
@given(SEEDS, st.sampled_from(["l1", "kl", "hull"]))
def test_iwocs_reaches_the_robust_value_on_sa_rectangular_sets(seed, kind):
    mdp = _mdp(seed, gamma=0.6)
    rng = np.random.default_rng(seed + 1)
    uset = {
        "l1": L1Ball(mdp.P, 0.5),
        "kl": KLBall(mdp.P, 0.2),
        "hull": FiniteModels(
            np.stack([mdp.P, rng.dirichlet(np.ones(3), size=(3, 2))]), rectangular=True
        ),
    }[kind]
    res = iwocs(mdp, uset, max_models=30)
    assert res.gap >= -1e-8  # never above the robust value
    assert res.gap <= 1e-7, res.summary()
    assert res.converged


def test_iwocs_on_s_rectangular_sets_stays_below_the_randomized_robust_value():
    """Deterministic candidates cannot reach an s-rectangular robust value that needs
    randomization: the gap is positive and reported, never negative."""
    mdp = _mdp(3, S=3, A=2, gamma=0.5)
    res = iwocs(mdp, L1Ball(mdp.P, 0.8, rectangular="s"), tol=1e-8)
    assert res.gap >= -1e-6


@CHEAP_PROPERTY
@given(SEEDS, st.floats(0.0, 0.99), st.floats(0.0, 1.0))
def test_transition_bound_holds(seed, gamma, mix):
    rng = np.random.default_rng(seed)
    S, A = 3, 2
    P1 = rng.dirichlet(np.ones(S), size=(S, A))
    P2 = (1 - mix) * P1 + mix * rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.uniform(-1, 1, size=(S, A))
    q1 = optimal_q(TabularMDP(P1, R, gamma))
    q2 = optimal_q(TabularMDP(P2, R, gamma))
    v1 = q1.max(axis=1)
    d = float(np.abs(P1 - P2).sum(axis=2).max())
    bound = q_transition_bound(min(d, 2.0), float(np.ptp(v1)), gamma)
    assert np.abs(q1 - q2).max() <= bound + 1e-8
    # the entropy-regularized Q moves within the same bound with its soft value's span
    alpha = 0.3
    s1 = soft_optimal_q(TabularMDP(P1, R, gamma), alpha)
    s2 = soft_optimal_q(TabularMDP(P2, R, gamma), alpha)
    vs = alpha * np.log(np.exp(s1 / alpha).sum(axis=1))
    assert np.abs(s1 - s2).max() <= q_transition_bound(min(d, 2.0), float(np.ptp(vs)), gamma) + 1e-8


@pytest.mark.parametrize("delta", [0.5, 0.1, 1e-3])
def test_transition_bound_is_attained(delta):
    """A rewarding state kept with probability 1 - delta (P) or 1 (P'), beside an absorbing
    zero state: equality."""
    gamma = 0.9
    P1 = np.array([[[1 - delta, delta]], [[0.0, 1.0]]])
    P2 = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    R = np.array([[1.0], [0.0]])
    q1, q2 = optimal_q(TabularMDP(P1, R, gamma)), optimal_q(TabularMDP(P2, R, gamma))
    bound = q_transition_bound(2 * delta, float(np.ptp(q1.max(axis=1))), gamma)
    assert np.abs(q1 - q2).max() == pytest.approx(bound, rel=1e-8)


def test_transition_cliff_and_its_cure():
    """At a tie, moving one transition row by eps flips the greedy policy (TV jump 1/2 with
    uniform tie-breaking); the soft policy moves by at most the bound, which -> 0 with eps."""
    gamma, alpha = 0.9, 0.5
    # state 0: two actions leading to identical futures; state 1, 2 absorbing with rewards 1, 0
    P = np.zeros((3, 2, 3))
    P[0, :, 1] = P[0, :, 2] = 0.5
    P[1, :, 1] = P[2, :, 2] = 1.0
    R = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    for eps in (1e-2, 1e-4, 1e-6):
        P2 = P.copy()
        P2[0, 1] = [0.0, 0.5 + eps, 0.5 - eps]
        q1, q2 = optimal_q(TabularMDP(P, R, gamma)), optimal_q(TabularMDP(P2, R, gamma))
        assert q1[0, 0] == q1[0, 1] and q2[0, 1] > q2[0, 0]  # the tie, then the flip
        m1, m2 = TabularMDP(P, R, gamma), TabularMDP(P2, R, gamma)
        tv = 0.5 * np.abs(soft_optimal_policy(m1, alpha) - soft_optimal_policy(m2, alpha)).sum(1)
        s1 = soft_optimal_q(m1, alpha)
        vs = alpha * np.log(np.exp(s1 / alpha).sum(axis=1))
        bound = q_transition_bound(2 * eps, float(np.ptp(vs)), gamma) / (2 * alpha)
        assert tv.max() <= bound + 1e-12
