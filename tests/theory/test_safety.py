"""Hamilton-Jacobi feasibility values (theory.safety) against enumeration of policies."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import TabularMDP
from theory.safety import reachability_value, violation_probability


@st.composite
def _instances(draw, *, deterministic: bool):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    S, A = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    if deterministic:
        P = np.eye(S)[rng.integers(S, size=(S, A))]
    else:
        P = rng.dirichlet(np.ones(S), size=(S, A)) * (rng.random((S, A, S)) < 0.6)
        P[P.sum(axis=2) == 0, 0] = 1.0
        P /= P.sum(axis=2, keepdims=True)
    h = rng.integers(-2, 3, size=(S, A)).astype(float)
    return TabularMDP(P, np.zeros((S, A)), float(draw(st.sampled_from([0.3, 0.6, 0.8])))), h


def _policies(S: int, A: int):
    return itertools.product(range(A), repeat=S)


def _path_max(mdp: TabularMDP, h: np.ndarray, pol, s: int) -> float:
    """Largest h along the deterministic trajectory of a deterministic policy (until a cycle)."""
    seen, best = set(), -np.inf
    while s not in seen:
        seen.add(s)
        best = max(best, h[s, pol[s]])
        s = int(mdp.P[s, pol[s]].argmax())
    return best


def _unrolled(mdp: TabularMDP, h: np.ndarray, pol, s: int, steps: int = 150) -> float:
    """Fisac's recursion unrolled backwards along one trajectory (error gamma^steps)."""
    path = [s]
    for _ in range(steps):
        path.append(int(mdp.P[path[-1], pol[path[-1]]].argmax()))
    v = 0.0  # any start: the error is gamma^steps * range(h)
    for s_t in reversed(path[:-1]):
        hh = h[s_t, pol[s_t]]
        v = (1 - mdp.gamma) * hh + mdp.gamma * max(hh, v)
    return v


@settings(max_examples=40, deadline=None)
@given(_instances(deterministic=True))
def test_worst_value_is_the_best_policy_path_maximum(inst):
    mdp, h = inst
    res = reachability_value(mdp, h, mode="worst")
    S, A = h.shape
    brute = [min(_path_max(mdp, h, p, s) for p in _policies(S, A)) for s in range(S)]
    np.testing.assert_array_equal(res.v, brute)
    assert res.success and res.error_bound == 0.0


@settings(max_examples=25, deadline=None)
@given(_instances(deterministic=True))
def test_discounted_value_is_the_best_unrolled_policy(inst):
    mdp, h = inst
    res = reachability_value(mdp, h, mode="discounted")
    S, A = h.shape
    brute = [min(_unrolled(mdp, h, p, s) for p in _policies(S, A)) for s in range(S)]
    assert res.success
    np.testing.assert_allclose(res.v, brute, atol=1e-9)


def _reachable_max(mdp: TabularMDP, h: np.ndarray, pol, s: int) -> float:
    """Largest h over every pair reachable in the support graph of a deterministic policy."""
    todo, seen = [s], {s}
    while todo:
        u = todo.pop()
        for t in np.flatnonzero(mdp.P[u, pol[u]] > 0):
            if int(t) not in seen:
                seen.add(int(t))
                todo.append(int(t))
    return max(h[u, pol[u]] for u in seen)


@settings(max_examples=40, deadline=None)
@given(_instances(deterministic=False))
def test_stochastic_worst_value_is_the_best_worst_case_over_the_support(inst):
    mdp, h = inst
    res = reachability_value(mdp, h, mode="worst")
    S, A = h.shape
    brute = [min(_reachable_max(mdp, h, p, s) for p in _policies(S, A)) for s in range(S)]
    np.testing.assert_array_equal(res.v, brute)


@settings(max_examples=40, deadline=None)
@given(_instances(deterministic=False))
def test_regions_nest_and_coincide_for_nonnegative_constraints(inst):
    mdp, h = inst
    worst = reachability_value(mdp, h, mode="worst").feasible
    disc = reachability_value(mdp, h, mode="discounted").feasible
    assert np.all(disc[worst])  # {V_worst <= 0} ⊆ {V_disc <= 0}
    hp = np.maximum(h, 0.0)
    np.testing.assert_array_equal(
        reachability_value(mdp, hp, mode="worst").feasible,
        reachability_value(mdp, hp, mode="discounted").feasible,
    )


def test_discounted_region_can_be_strictly_larger_with_negative_margins():
    """h(0) = -10 offsets the violation at the absorbing state 1 one step later (gamma 0.5):
    Q(0) = 0.5 (-10) + 0.5 max(-10, 1) = -4.5 <= 0, while the worst-case value is 1."""
    P = np.zeros((2, 1, 2))
    P[0, 0, 1] = P[1, 0, 1] = 1.0
    mdp = TabularMDP(P, np.zeros((2, 1)), 0.5)
    disc = reachability_value(mdp, [-10.0, 1.0], mode="discounted")
    assert abs(disc.v[0] + 4.5) < 1e-9 and disc.feasible.tolist() == [True, False]
    assert reachability_value(mdp, [-10.0, 1.0]).feasible.tolist() == [False, False]


@settings(max_examples=30, deadline=None)
@given(_instances(deterministic=False))
def test_violation_probability_is_the_long_horizon_limit(inst):
    mdp, h = inst
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(h.shape[1]), size=h.shape[0])
    exact = violation_probability(mdp, pi, h)
    # the finite horizons increase towards it (slowly where a violation is reached with a tiny
    # probability per step: a chain that stays put with probability 0.99 needs ~1e4 steps) ...
    p = [violation_probability(mdp, pi, h, horizon=n) for n in (1, 10, 100, 3000)]
    for a, b in itertools.pairwise(p):
        assert np.all(a <= b + 1e-12)
    assert np.all(p[-1] <= exact + 1e-9)
    # ... and the limit is the least fixed point of x = p_now + C x, reached by doubling
    bad = np.broadcast_to(np.asarray(h, dtype=float), pi.shape) > 0
    now = (pi * bad).sum(axis=1)
    cont = np.einsum("sa,sat->st", pi * ~bad, mdp.P)
    x, power = now.copy(), cont.copy()
    for _ in range(60):  # horizon 2^60: x_{2n} = x_n + C^n x_n
        x, power = x + power @ x, power @ power
    np.testing.assert_allclose(exact, x, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(_instances(deterministic=False))
def test_a_policy_on_safe_actions_never_violates_from_the_feasible_region(inst):
    mdp, h = inst
    res = reachability_value(mdp, h, mode="worst")
    safe = res.q <= 0.0
    ok = safe.any(axis=1)
    pi = np.where(ok[:, None], safe, True).astype(float)
    pi /= pi.sum(axis=1, keepdims=True)
    p = violation_probability(mdp, pi, h)
    assert np.all(p[res.feasible] == 0.0)
    assert np.all(p[~res.feasible] > 0.0)  # violations are unavoidable outside
