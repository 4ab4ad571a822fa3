"""The debate game, the debate reward and R_J (Sukovic & Radanovic, ICLR 2024, §3-4)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import theory as T
from theory.debate import debate_reward, judge_win_rate, justifiable_reward, minimax_debate
from theory.judge import judge_scores
from theory.treatment import treatment_task


def _brute_force(payoff: np.ndarray, d: int, rounds: int, agent_first: bool) -> float:
    """Minimax over every ordered sequence of distinct reveals (no memo, no shortcut)."""

    def play(mask: int, k: int) -> float:
        if k == rounds:
            return float(payoff[mask])
        agent = (k % 2 == 0) == agent_first
        vals = [play(mask | (1 << j), k + 1) for j in range(d) if not mask & (1 << j)]
        return max(vals) if agent else min(vals)

    return play(0, 0)


@st.composite
def games(draw, *, max_features: int = 4):
    d = draw(st.integers(1, max_features))
    rounds = draw(st.integers(1, d))
    values = st.floats(-3, 3, allow_nan=False) | st.sampled_from([0.0, 1.0, -1.0])
    payoff = np.array(draw(st.lists(values, min_size=2**d, max_size=2**d)))
    return payoff, d, rounds, draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(games())
def test_minimax_debate_equals_brute_force_enumeration(game):
    payoff, d, rounds, agent_first = game
    first = "agent" if agent_first else "baseline"
    got = minimax_debate(payoff, rounds, first=first)
    assert got == _brute_force(payoff, d, rounds, agent_first)


def test_minimax_debate_by_hand_and_batched():
    # features worth 1 and -2 to the agent: one round, the agent reveals feature 0 (+1); two
    # rounds, the advocate then reveals feature 1 (-1); baseline first, one round: -2.
    u = np.array([0.0, 1.0, -2.0, -1.0])
    assert minimax_debate(u, 1) == 1.0
    assert minimax_debate(u, 2) == -1.0
    assert minimax_debate(u, 1, first="baseline") == -2.0
    batch = minimax_debate(np.stack([u, -u]), 1)
    assert batch.tolist() == [1.0, 2.0]


def _random_judge(rng, K, d):
    w = rng.normal(size=(K, d, 2))
    x = rng.integers(0, 2, size=(2**d if d <= 3 else 8, d))
    return w, x


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.sampled_from(["win", "probability"]))
def test_debate_reward_equals_brute_force_over_the_judge(seed, d, outcome):
    """Each (s, a) debate, with the verdict of judge_scores on every evidence set."""
    rng = np.random.default_rng(seed)
    K = 3
    w, x = _random_judge(rng, K, d)
    b = rng.integers(K, size=x.shape[0])
    rounds = int(rng.integers(1, d + 1))
    got = debate_reward(w, x, b, rounds=rounds, outcome=outcome)
    sets = np.array(list(itertools.product([0, 1], repeat=d)))[:, ::-1]  # row m = bits of m
    for s in range(x.shape[0]):
        for a in range(K):
            n = len(sets)
            xs = np.repeat(x[s][None], n, axis=0)
            margin = judge_scores(w, xs, sets, np.full(n, a)) - judge_scores(
                w, xs, sets, np.full(n, b[s])
            )
            if outcome == "win":
                pay = np.where(margin > 0, 1.0, np.where(margin < 0, 0.0, 0.5))
            else:
                pay = 1.0 / (1.0 + np.exp(-margin))
            want = _brute_force(pay, d, rounds, True)
            assert got[s, a] == pytest.approx(want, abs=1e-12)
            # a non-decreasing outcome commutes with max/min [derived]
            m = _brute_force(margin, d, rounds, True)
            assert got[s, a] == pytest.approx(
                (m > 0) + 0.5 * (m == 0) if outcome == "win" else 1 / (1 + np.exp(-m)), abs=1e-12
            )
    assert np.all(got[np.arange(x.shape[0]), b] == 0.5)  # a decision debated against itself


def test_debate_reward_by_hand():
    w = np.zeros((2, 2, 2))
    w[1, 0, 1] = 1.0  # symptom 0 present justifies treatment 1
    w[1, 1, 0] = -3.0  # symptom 1 absent argues strongly against it
    x = np.array([[1, 0]])
    b = np.array([0])
    # one round: the agent for 1 reveals symptom 0 and wins
    assert debate_reward(w, x, b, rounds=1).tolist() == [[0.5, 1.0]]
    # two rounds: the baseline's advocate answers with symptom 1: margin 1 - 3 < 0
    assert debate_reward(w, x, b, rounds=2).tolist() == [[0.5, 0.0]]
    p = debate_reward(w, x, b, rounds=2, outcome="probability")
    assert p[0, 1] == pytest.approx(1 / (1 + np.exp(2.0)), abs=1e-15)


def test_justifiable_reward_endpoints_and_mix():
    re, rd = np.array([[1.0, 0.2]]), np.array([[0.0, 1.0]])
    assert np.array_equal(justifiable_reward(re, rd, 0.0), re)
    assert np.array_equal(justifiable_reward(re, rd, 1.0), rd)
    assert justifiable_reward(re, rd, 0.5).tolist() == [[0.5, 0.6]]


def _setup(seed: int):
    task = treatment_task(np.random.default_rng(seed), n_features=3)
    baseline = T.optimal_q(task.mdp).argmax(axis=1)
    w = np.random.default_rng(seed + 1).normal(size=task.expert_weights.shape)
    rd = debate_reward(w, task.features, baseline, rounds=2)
    return task, baseline, rd


def test_lambda_0_gives_the_env_optimal_policy_and_lambda_1_the_debate_optimal_one():
    task, _, rd = _setup(0)
    for lam, reward in ((0.0, task.r_env), (1.0, rd)):
        got = T.optimal_q(task.mdp, rewards=justifiable_reward(task.r_env, rd, lam))
        want = T.optimal_q(task.mdp.with_reward(reward))
        assert np.array_equal(got, want)
        assert np.array_equal(T.uniform_argmax_policy(got), T.uniform_argmax_policy(want))
    # at lam = 0 the policy is the baseline, so every debate is a tie: win rate 1/2 exactly
    pi0 = T.uniform_argmax_policy(T.optimal_q(task.mdp))
    assert judge_win_rate(task.mdp, pi0, rd, task.start) == pytest.approx(0.5, abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_tradeoff_is_monotone_in_lambda(seed):
    """[derived] For optimal policies of (1-lam) r_env + lam r_d, the debate return is
    non-decreasing and the environment return non-increasing in lam (add the two optimality
    inequalities at lam < lam')."""
    task, _, rd = _setup(seed)
    lams = np.linspace(0, 1, 6)
    R = np.stack([justifiable_reward(task.r_env, rd, lam) for lam in lams])
    pis = T.uniform_argmax_policy(T.optimal_q(task.mdp, rewards=R))
    wins = [judge_win_rate(task.mdp, p, rd, task.start) for p in pis]
    env = [task.start @ T.policy_value(task.mdp, p) for p in pis]
    assert np.all(np.diff(wins) >= -1e-7)
    assert np.all(np.diff(env) <= 1e-7)


def test_judge_win_rate_is_the_occupancy_average():
    mdp = T.TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), gamma=0.9)
    assert judge_win_rate(mdp, [[0.25, 0.75]], [[1.0, 0.0]], [1.0]) == pytest.approx(0.25)
