"""The constrained-MDP LP (theory.constrained) against brute force over pairs of policies."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from theory import TabularMDP, policy_value
from theory.constrained import constrained_lp


def _brute(mdp, cost, rho, budget, allowed):
    """Best mixture of two deterministic allowed policies meeting the budget (Altman Thm 3.8)."""
    S, A = cost.shape
    acts = [np.flatnonzero(allowed[s]) for s in range(S)]
    vals = []
    for pol in itertools.product(*acts):
        pi = np.eye(A)[list(pol)]
        vals.append((rho @ policy_value(mdp, pi), rho @ policy_value(mdp.with_reward(cost), pi)))
    best = -np.inf
    for (v1, c1), (v2, c2) in itertools.product(vals, repeat=2):
        for theta in (0.0, 1.0) + (((budget - c2) / (c1 - c2),) if c1 != c2 else ()):
            if 0.0 <= theta <= 1.0 and theta * c1 + (1 - theta) * c2 <= budget + 1e-12:
                best = max(best, theta * v1 + (1 - theta) * v2)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_lp_matches_brute_force_and_keeps_budget_and_support(seed):
    rng = np.random.default_rng(seed)
    S, A = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    mdp = TabularMDP(rng.dirichlet(np.ones(S), (S, A)), rng.uniform(0, 1, (S, A)), 0.7)
    cost = rng.uniform(0, 1, (S, A))
    rho = rng.dirichlet(np.ones(S))
    allowed = rng.random((S, A)) < 0.7
    allowed[np.arange(S), rng.integers(A, size=S)] = True
    lo = _brute(mdp, cost, rho, 1e9, allowed)  # unconstrained, for the range of budgets
    budget = float(rng.uniform(0.3, 2.0))
    sol = constrained_lp(mdp, cost, rho, budget, allowed=allowed)
    ref = _brute(mdp, cost, rho, budget, allowed)
    if not np.isfinite(ref):
        assert not sol.success and sol.policy is None
        return
    assert sol.success
    assert abs(sol.value - ref) <= 1e-7 and sol.value <= lo + 1e-9
    assert sol.cost_value <= budget + 1e-9
    assert np.all(sol.policy[~allowed] == 0.0)
    # the reported values are the policy's own
    assert abs(rho @ policy_value(mdp, sol.policy) - sol.value) <= 1e-7
    assert abs(rho @ policy_value(mdp.with_reward(cost), sol.policy) - sol.cost_value) <= 1e-7


def test_an_unmeetable_budget_is_reported_not_raised():
    mdp = TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), 0.5)
    sol = constrained_lp(mdp, np.ones((1, 1)), [1.0], 1.0)  # the only policy costs 2
    assert not sol.success and sol.policy is None and "no constrained optimum" in sol.summary()
