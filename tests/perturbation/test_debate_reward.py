"""The debate-reward claims run at a tiny scale, and their verdicts depend on their bounds.

(tests/perturbation/test_claims.py does the same for every registered claim once the module
is in CLAIM_MODULES; this file checks the module on its own.)
"""

from __future__ import annotations

import numpy as np
import pytest

import perturbation.debate_reward as D
import theory as T
from perturbation.registry import RunContext, Theorem, Tolerance

CTX = RunContext(scale="tiny", seed=0)


def test_tradeoff_claim_reports_empirically_and_depends_on_its_threshold():
    ev = D.justifiable_tradeoff(CTX, Tolerance(D.MIN_GAIN))
    assert ev.outcome == "EMPIRICAL" and isinstance(ev.passed, bool)
    curve = ev.details["curve"]
    assert curve[0]["lam"] == 0.0
    assert curve[0]["gain"] == pytest.approx(0.0, abs=1e-12)
    assert curve[0]["loss"] == pytest.approx(0.0, abs=1e-12)
    # the exact optima trade off monotonically [derived]: gain up, loss up with lam
    assert np.all(np.diff([p["gain"] for p in curve]) >= -1e-9)
    assert np.all(np.diff([p["loss"] for p in curve]) >= -1e-9)
    # a threshold above the measurement is not supported
    assert not D.justifiable_tradeoff(CTX, Tolerance(2 * ev.measured + 1e-3)).passed


def test_cliff_claim_passes_and_fails_with_a_halved_bound():
    bound = Theorem(T.soft_policy_tv_bound)
    ev = D.judge_perturbation_cliff(CTX, bound)
    assert ev.outcome == "PASS", ev.details
    assert min(ev.details["greedy_jumps"]) >= 0.5
    factor = 0.5 * ev.measured / ev.bound
    assert not D.judge_perturbation_cliff(CTX, bound.map(lambda v: v * factor)).passed


def test_tie_lambda_is_an_exact_tie_of_R_J():
    rng = np.random.default_rng(0)
    for _ in range(5):
        task, baseline, _, _, rd = D._replicate(rng, "probability")
        lam = D._tie_lambda(task, baseline, rd)
        if lam is None:
            continue
        R = D.justifiable_reward(task.r_env, rd, lam)
        q = T.optimal_q(task.mdp, rewards=R, tol=1e-12)
        assert T.uniform_argmax_policy(q).max(axis=1).min() < 1.0  # some state has a tie
        below = D.justifiable_reward(task.r_env, rd, lam * (1 - 1e-6))
        qb = T.optimal_q(task.mdp, rewards=below, tol=1e-12)
        assert np.array_equal(qb.argmax(axis=1), baseline)  # still the baseline just below
        return
    raise AssertionError("no replicate with a tie")
