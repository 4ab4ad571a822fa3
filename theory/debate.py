"""The debate game and the debate-based reward of Sukovic & Radanovic (ICLR 2024).

In state ``x`` the agent's decision ``a`` is debated against a baseline decision ``b``: two
argumentative agents take turns revealing state features (evidence), the first arguing for
``a``, the second for ``b``, ``L`` features in all; then a judge ``J`` (:mod:`theory.judge`)
decides which decision the revealed evidence ``E`` justifies better. The game is zero-sum;
its value under optimal play is the debate reward ``r_d(x, a, b)``, and the justifiable
reward mixes it with the environment's (Sukovic & Radanovic 2024, §3-4):

    R_J = sum_t gamma^t [(1 - lam) r_env(s_t, a_t) + lam r_d(s_t, a_t, a^B_t)].     (R_J)

Details [reconstructed] (the paper's debaters are learned policies, solved here exactly):

- evidence is revealed truthfully (a revealed feature shows its value in ``x``), without
  repetition; the agent for ``a`` moves first (``first="baseline"``: the other one);
- ``rounds = L`` counts revealed features, both sides together (the paper uses ``L = 6``);
- the outcome is the judge's verdict ``1[J(E,x,a) > J(E,x,b)]`` with ``1/2`` at a tie
  (``outcome="win"``; so ``r_d = 1/2`` when ``a = b``), or the judge's Bradley-Terry probability
  ``sigmoid(J(E,x,a) - J(E,x,b))`` (``outcome="probability"``);
- the game is solved by backward induction over evidence sets (:func:`minimax_debate`):
  ``O(2^d d)`` per debate, exact. Both outcomes are non-decreasing in the judge's margin, so the
  value is the outcome of the minimax margin [derived: a non-decreasing ``g`` commutes with
  max and min].

References
----------
.. [1] A. Sukovic, G. Radanovic, "Reward Design for Justifiable Sequential Decision-Making",
   ICLR 2024, arXiv:2402.15826, §3 (the debate game), §4 (the reward R_J and the judge).
.. [2] G. Irving, P. Christiano, D. Amodei, "AI safety via debate", arXiv:1805.00899, 2018.
"""

from __future__ import annotations

import numpy as np

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_choice,
    check_int,
    check_probability,
    check_simplex,
)
from theory.evaluation import policy_value
from theory.judge import _check_binary, _check_weights
from theory.mdp import TabularMDP, check_mdp

__all__ = [
    "debate_reward",
    "judge_win_rate",
    "justifiable_reward",
    "minimax_debate",
]

OUTCOMES = ("win", "probability")
FIRST = ("agent", "baseline")
#: Most features a debate is solved over exactly (tables of ``2**d`` evidence sets).
MAX_FEATURES = 16


def minimax_debate(payoff: np.ndarray, rounds: int, *, first: str = "agent") -> np.ndarray:
    """The value of the evidence-revealing game under optimal (minimax) play.

    Two players alternately reveal one unrevealed feature each, ``rounds`` features in all;
    the game then pays ``payoff[..., E]`` to the agent (maximiser) and its negative to the
    baseline's advocate (minimiser), with ``E`` the set of revealed features as a bitmask
    (feature ``j`` = bit ``j``). Backward induction over sets: at ``k`` revealed features the
    player to move is the first mover if ``k`` is even, and

        V(E) = max_{j not in E} V(E + j)  (agent)   or   min_{j not in E} V(E + j),
        V(E) = payoff(E) for |E| = rounds.

    Parameters
    ----------
    payoff : array_like, shape (..., 2**d)
        Terminal payoffs, one per evidence set (only sets of size ``rounds`` are read).
    rounds : int
        Features revealed in all, in [1, d].
    first : {"agent", "baseline"}, default "agent"
        Who reveals first.

    Returns
    -------
    ndarray, shape (...)
        ``V(empty set)``.

    Examples
    --------
    Two features worth 1 and -2 to the agent, one round each: the agent reveals feature 0,
    the baseline's advocate feature 1.

    >>> minimax_debate(np.array([0.0, 1.0, -2.0, -1.0]), 2).item()
    -1.0
    >>> minimax_debate(np.array([0.0, 1.0, -2.0, -1.0]), 1).item()
    1.0
    """
    u = as_float_array("payoff", payoff, finite=False)
    if np.any(np.isnan(u)):
        bad = tuple(np.argwhere(np.isnan(u))[0])
        raise ValueError(f"payoff must not hold NaN; entry {bad} is NaN")
    if u.ndim < 1:
        raise ValueError(f"payoff must have an evidence-set axis; got shape {u.shape}")
    m = u.shape[-1]
    d = m.bit_length() - 1
    if m < 2 or m != 2**d or d > MAX_FEATURES:
        raise ValueError(
            f"payoff's last axis must have 2**d entries (one per evidence set, "
            f"1 <= d <= {MAX_FEATURES}); got {m}"
        )
    L = check_int("rounds", rounds, lo=1, hi=d)
    check_choice("first", first, FIRST)
    return _solve(u, d, L, first == "agent")


def _solve(u: np.ndarray, d: int, L: int, agent_first: bool) -> np.ndarray:
    masks = np.arange(2**d)
    bits = 1 << np.arange(d)
    children = masks[:, None] | bits[None, :]  # (2**d, d)
    open_ = (masks[:, None] & bits[None, :]) == 0
    pop = np.array([bin(int(x)).count("1") for x in masks])
    V = u
    for k in range(L - 1, -1, -1):
        agent_moves = (k % 2 == 0) == agent_first
        fill = -np.inf if agent_moves else np.inf
        cand = np.where(open_, V[..., children], fill)
        best = cand.max(axis=-1) if agent_moves else cand.min(axis=-1)
        V = np.where(pop == k, best, V)
    return V[..., 0]


def _outcome(margin: np.ndarray, outcome: str) -> np.ndarray:
    if outcome == "win":
        return np.where(margin > 0, 1.0, np.where(margin < 0, 0.0, 0.5))
    return 0.5 * (1.0 + np.tanh(0.5 * margin))  # the logistic sigmoid, without overflow


def debate_reward(
    judge_weights: np.ndarray,
    features: np.ndarray,
    baseline: np.ndarray,
    *,
    rounds: int,
    outcome: str = "win",
    first: str = "agent",
) -> np.ndarray:
    """The debate reward ``r_d(s, a, a^B(s))`` of every state and decision, solved exactly.

    Each decision ``a`` of state ``s`` is debated against ``baseline[s]`` before the linear
    judge ``J(E, x, a) = sum_{j in E} w[a, j, x_j]`` (:func:`theory.judge.judge_scores`); the
    reward is the value of the game (:func:`minimax_debate`) whose payoff is the judge's
    verdict (see the module docstring).

    Parameters
    ----------
    judge_weights : array_like, shape (K, d, 2)
    features : array_like of 0/1, shape (S, d)
        The state features (evidence that can be revealed).
    baseline : int array, shape (S,)
        The baseline decision ``a^B(s)`` of each state.
    rounds : int
        Features revealed in all, in [1, d].
    outcome : {"win", "probability"}, default "win"
    first : {"agent", "baseline"}, default "agent"

    Returns
    -------
    ndarray, shape (S, K), in [0, 1]

    Examples
    --------
    One feature, present; the judge justifies treatment 1 by it:

    >>> w = np.zeros((2, 1, 2)); w[1, 0, 1] = 1.0
    >>> debate_reward(w, [[1]], np.array([0]), rounds=1).tolist()
    [[0.5, 1.0]]
    """
    w = _check_weights(judge_weights, "judge_weights")
    K, d, _ = w.shape
    x = _check_binary("features", features, d)
    if d > MAX_FEATURES:
        raise ValueError(f"features must have at most {MAX_FEATURES} columns; got {d}")
    b = np.asarray(baseline)
    if b.dtype.kind not in "iu" or b.shape != (x.shape[0],):
        raise ArgumentTypeError(
            f"baseline must be an integer array of shape ({x.shape[0]},); got {b.dtype} {b.shape}"
        )
    if b.size and (b.min() < 0 or b.max() >= K):
        raise ValueError(f"baseline must hold actions in [0, {K}); got {b.min()}..{b.max()}")
    L = check_int("rounds", rounds, lo=1, hi=d)
    check_choice("outcome", outcome, OUTCOMES)
    check_choice("first", first, FIRST)
    j = np.arange(d)
    sw = w[:, j[None, :], x]  # (K, S, d): w[a, j, x_sj]
    delta = sw.transpose(1, 0, 2) - sw[b, np.arange(x.shape[0])][:, None, :]  # (S, K, d)
    bitmat = ((np.arange(2**d)[:, None] >> j[None, :]) & 1).astype(np.float64)
    margin = delta @ bitmat.T  # (S, K, 2**d)
    return _solve(_outcome(margin, outcome), d, L, first == "agent")


def justifiable_reward(r_env: np.ndarray, r_debate: np.ndarray, lam: float) -> np.ndarray:
    """``(1 - lam) r_env + lam r_debate``, the per-step reward of (R_J) (Sukovic & Radanovic
    2024, §4).

    Parameters
    ----------
    r_env, r_debate : array_like, same shape (e.g. (S, A))
        Finite rewards.
    lam : float in [0, 1]
        Weight of the debate reward.

    Examples
    --------
    >>> justifiable_reward([1.0, 0.0], [0.0, 1.0], 0.25).tolist()
    [0.75, 0.25]
    """
    lam = check_probability("lam", lam)
    re = as_float_array("r_env", r_env)
    rd = as_float_array("r_debate", r_debate)
    if re.shape != rd.shape:
        raise ValueError(f"r_debate must have the shape of r_env {re.shape}; got {rd.shape}")
    return (1.0 - lam) * re + lam * rd


def judge_win_rate(
    mdp: TabularMDP, policy: np.ndarray, r_debate: np.ndarray, start: np.ndarray
) -> float:
    """The debate reward averaged over the policy's discounted occupancy:
    ``(1 - gamma) mu^T V^pi_{r_d}`` (with ``outcome="win"``: how often the judge prefers the
    policy's decision to the baseline's, ties counting 1/2, along the policy's trajectories).

    Parameters
    ----------
    mdp : TabularMDP
    policy : array_like, shape (S, A)
    r_debate : array_like, shape (S, A)
    start : array_like, shape (S,)
        Start distribution ``mu``.

    Examples
    --------
    >>> bandit = TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), gamma=0.5)
    >>> judge_win_rate(bandit, [[0.5, 0.5]], [[1.0, 0.0]], [1.0])
    0.5
    """
    mdp = check_mdp(mdp)
    rd = as_float_array("r_debate", r_debate, shape=(mdp.n_states, mdp.n_actions))
    mu = as_float_array("start", start, shape=(mdp.n_states,))
    check_simplex("start", mu)
    v = policy_value(mdp.with_reward(rd), policy)
    return float((1.0 - mdp.gamma) * mu @ v)
