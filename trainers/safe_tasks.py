"""Safe offline RL at toy scale: a hazard gridworld with costs, behaviour policies and datasets.

A :class:`SafeTask` is a :class:`theory.TabularMDP` with a cost ``c(s, a) >= 0`` (a violation is
``c > 0``) and an initial distribution. :func:`hazard_gridworld` builds one from a text layout:
``S`` start, ``G`` goal (absorbing; reward 1 on arrival), ``#`` hazard (cost 1 while in it), ``I``
ice (a move slips to each perpendicular direction with probability ``slip``), ``.`` floor; four
moves, walls keep the agent in place. The default layout puts the short route on ice between a
row of hazards and a hazard above: the reward-optimal policy risks violations, the safe route is
longer. This is the hard-constraint setting of FISOR (Zheng et al., ICLR 2024, arXiv:2401.10700,
Sec. 3) and the cost-budget setting of OGSRL (Yan et al., arXiv:2505.16242), at a size where
every value is exact.

Offline data (:class:`OfflineDataset`: transitions ``(s, a, r, c, s')``) come from a behaviour
policy ``(1 - epsilon) pi_safe + epsilon * uniform`` (:func:`behaviour_policy`), where
``pi_safe`` is reward-optimal among the least-violating actions of the exact worst-case
feasibility value (:func:`theory.safety.reachability_value`), rolled out in episodes from the
initial distribution (:func:`collect_dataset`, seeded). :func:`drop_transitions` perturbs a
dataset by deleting a random fraction of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_positive_int,
    check_probability,
    check_seed,
    check_simplex,
)
from theory.mdp import TabularMDP
from theory.safety import reachability_value
from theory.value_iteration import DEFAULT_TOL, iterate_to_fixed_point

__all__ = [
    "DEFAULT_LAYOUT",
    "OfflineDataset",
    "SafeTask",
    "behaviour_policy",
    "collect_dataset",
    "drop_transitions",
    "hazard_gridworld",
    "model_dataset",
    "safe_policy",
]

#: The default hazard gridworld (see the module docstring).
DEFAULT_LAYOUT: tuple[str, ...] = (
    "......",
    "...#..",
    "SIIIIG",
    "######",
)

#: up, right, down, left as (row, column) steps.
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


@dataclass(frozen=True, eq=False)
class SafeTask:
    """A finite MDP with a non-negative cost and an initial distribution.

    Parameters
    ----------
    mdp : TabularMDP
    cost : array_like, shape (S, A)
        ``c(s, a) >= 0``; a violation is ``c > 0``.
    initial : array_like, shape (S,)
        Initial-state distribution.
    name : str
    """

    mdp: TabularMDP
    cost: np.ndarray
    initial: np.ndarray
    name: str = "safe-task"
    n_states: int = field(init=False)
    n_actions: int = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.mdp, TabularMDP):
            raise ArgumentTypeError(f"mdp must be a TabularMDP; got {type(self.mdp).__name__}")
        S, A = self.mdp.n_states, self.mdp.n_actions
        cost = as_float_array("cost", self.cost, shape=(S, A))
        if np.any(cost < 0):
            raise ValueError(f"cost must be >= 0; got min {float(cost.min())}")
        initial = as_float_array("initial", self.initial, shape=(S,))
        check_simplex("initial", initial)
        cost.setflags(write=False)
        initial.setflags(write=False)
        object.__setattr__(self, "cost", cost)
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "n_states", S)
        object.__setattr__(self, "n_actions", A)

    def __repr__(self) -> str:
        return f"SafeTask({self.name!r}, n_states={self.n_states}, n_actions={self.n_actions})"


def hazard_gridworld(
    layout: Sequence[str] = DEFAULT_LAYOUT, *, slip: float = 0.1, gamma: float = 0.9
) -> SafeTask:
    """A gridworld :class:`SafeTask` from a text layout (see the module docstring).

    Parameters
    ----------
    layout : sequence of str
        Equal-length rows of ``. S G # I``; at least one ``S``.
    slip : float
        Probability, on ice, of slipping to each perpendicular direction (``<= 0.5``).
    gamma : float

    Examples
    --------
    >>> task = hazard_gridworld()
    >>> task.n_states, task.n_actions, float(task.cost.max())
    (24, 4, 1.0)
    """
    if isinstance(layout, str) or not isinstance(layout, Sequence) or not layout:
        raise ArgumentTypeError(f"layout must be a non-empty sequence of strings; got {layout!r}")
    rows = [str(r) for r in layout]
    width = len(rows[0])
    if width == 0 or any(len(r) != width for r in rows):
        raise ValueError(f"layout must have equal-length, non-empty rows; got {rows!r}")
    bad = {ch for r in rows for ch in r} - set(".SG#I")
    if bad:
        raise ValueError(f"layout may only hold '. S G # I'; got {sorted(bad)}")
    if not any("S" in r for r in rows):
        raise ValueError("layout must hold at least one start cell 'S'")
    slip = check_probability("slip", slip)
    if slip > 0.5:
        raise ValueError(f"slip must be <= 0.5 (two perpendicular directions); got {slip}")
    H, W = len(rows), width
    S, A = H * W, 4
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    cost = np.zeros((S, A))

    def step(r: int, c: int, move: int) -> int:
        dr, dc = MOVES[move]
        r2, c2 = r + dr, c + dc
        return r2 * W + c2 if 0 <= r2 < H and 0 <= c2 < W else r * W + c

    for r in range(H):
        for c in range(W):
            s, cell = r * W + c, rows[r][c]
            if cell == "#":
                cost[s] = 1.0
            for a in range(A):
                if cell == "G":
                    P[s, a, s] = 1.0
                    continue
                p_slip = slip if cell == "I" else 0.0
                P[s, a, step(r, c, a)] += 1.0 - 2.0 * p_slip
                P[s, a, step(r, c, (a + 1) % 4)] += p_slip
                P[s, a, step(r, c, (a + 3) % 4)] += p_slip
    goal = np.array([ch == "G" for r in rows for ch in r])
    R[~goal] = P[~goal][:, :, goal].sum(axis=2)
    start = np.array([ch == "S" for r in rows for ch in r], dtype=float)
    return SafeTask(TabularMDP(P, R, gamma), cost, start / start.sum(), name="hazard-gridworld")


def _check_task(task: object) -> SafeTask:
    if not isinstance(task, SafeTask):
        raise ArgumentTypeError(f"task must be a SafeTask; got {type(task).__name__}")
    return task


def safe_policy(task: SafeTask, *, tol: float = DEFAULT_TOL) -> np.ndarray:
    """The deterministic reward-optimal policy among the least-violating actions, shape (S, A).

    Allowed actions: ``Q_h(s, a) = V_h(s)`` for the exact worst-case feasibility value of the
    cost (:func:`theory.safety.reachability_value`); inside the feasible region these are the
    actions that keep the agent in it with probability one. Value iteration over the allowed
    actions, greedy with ties to the lowest index.

    Examples
    --------
    >>> pi = safe_policy(hazard_gridworld())
    >>> int(pi[12].argmax())  # from the start: up, off the ice
    0
    """
    task = _check_task(task)
    mdp = task.mdp
    reach = reachability_value(mdp, task.cost, mode="worst")
    allowed = reach.q <= reach.v[:, None]

    def backup(q: np.ndarray) -> np.ndarray:
        return mdp.R + mdp.gamma * mdp.expected_next(np.where(allowed, q, -np.inf).max(axis=1))

    res = iterate_to_fixed_point(backup, np.zeros_like(mdp.R), mdp.gamma, tol, None)
    best = np.where(allowed, res.q, -np.inf).argmax(axis=1)
    return np.eye(task.n_actions)[best]


def behaviour_policy(task: SafeTask, epsilon: float) -> np.ndarray:
    """``(1 - epsilon) * safe_policy(task) + epsilon * uniform``, shape (S, A).

    Examples
    --------
    >>> behaviour_policy(hazard_gridworld(), 0.4)[12].round(3).tolist()
    [0.7, 0.1, 0.1, 0.1]
    """
    task = _check_task(task)
    epsilon = check_probability("epsilon", epsilon)
    return (1.0 - epsilon) * safe_policy(task) + epsilon / task.n_actions


@dataclass(frozen=True, eq=False)
class OfflineDataset:
    """Transitions ``(s, a, r, c, s')`` of a finite MDP, validated on construction.

    Parameters
    ----------
    states, actions, next_states : array_like of int, shape (N,)
    rewards : array_like, shape (N,)
    costs : array_like, shape (N,)
        ``>= 0`` and finite; required (a dataset without costs cannot train a safe policy).
    n_states, n_actions : int
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    costs: np.ndarray
    next_states: np.ndarray
    n_states: int
    n_actions: int

    def __post_init__(self) -> None:
        S = check_positive_int("n_states", self.n_states)
        A = check_positive_int("n_actions", self.n_actions)
        if self.costs is None:
            raise ArgumentTypeError("costs must be given: an array of shape (N,); got None")
        ints = {}
        for name, hi in (("states", S), ("actions", A), ("next_states", S)):
            raw = getattr(self, name)
            arr = as_float_array(name, raw, ndim=1)
            if np.any(arr != np.round(arr)):
                raise ValueError(f"{name} must hold integers; got {arr[arr != np.round(arr)][0]}")
            if np.any(arr < 0) or np.any(arr >= hi):
                raise ValueError(
                    f"{name} must lie in [0, {hi - 1}]; got range [{arr.min()}, {arr.max()}]"
                )
            ints[name] = arr.astype(np.int64)
        n = ints["states"].size
        rewards = as_float_array("rewards", self.rewards, shape=(n,))
        costs = as_float_array("costs", self.costs, shape=(n,))
        if np.any(costs < 0):
            raise ValueError(f"costs must be >= 0; got min {float(costs.min())}")
        for name in ("actions", "next_states"):
            if ints[name].size != n:
                raise ValueError(
                    f"{name} must have shape ({n},) like states; got {ints[name].shape}"
                )
        for name, arr in (*ints.items(), ("rewards", rewards), ("costs", costs)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "n_states", S)
        object.__setattr__(self, "n_actions", A)

    def __len__(self) -> int:
        return int(self.states.size)

    def counts(self) -> np.ndarray:
        """``n(s, a)``: transitions per pair, shape (S, A)."""
        n = np.zeros((self.n_states, self.n_actions))
        np.add.at(n, (self.states, self.actions), 1.0)
        return n

    def __repr__(self) -> str:
        return f"OfflineDataset({len(self)} transitions, n_states={self.n_states}, n_actions={self.n_actions})"


def collect_dataset(
    task: SafeTask,
    behaviour: object,
    *,
    episodes: int = 40,
    horizon: int = 20,
    seed: int = 0,
) -> OfflineDataset:
    """Roll the behaviour policy out for ``episodes`` episodes of ``horizon`` steps.

    Each episode starts from ``task.initial``; rewards and costs are ``R[s, a]`` and
    ``cost[s, a]``; next states are drawn from ``P[s, a]``.

    Examples
    --------
    >>> task = hazard_gridworld()
    >>> data = collect_dataset(task, behaviour_policy(task, 0.3), episodes=2, horizon=5)
    >>> len(data), data.n_states
    (10, 24)
    """
    task = _check_task(task)
    S, A = task.n_states, task.n_actions
    pi = as_float_array("behaviour", behaviour, shape=(S, A))
    check_simplex("behaviour", pi)
    episodes = check_positive_int("episodes", episodes)
    horizon = check_positive_int("horizon", horizon)
    rng = np.random.default_rng(check_seed(seed))
    n = episodes * horizon
    s_all, a_all, n_all = (np.empty(n, dtype=np.int64) for _ in range(3))
    cum_pi = np.cumsum(pi, axis=1)
    cum_P = np.cumsum(task.mdp.P, axis=2)
    s = rng.choice(S, size=episodes, p=task.initial)
    for t in range(horizon):
        a = np.minimum((rng.random(episodes)[:, None] > cum_pi[s]).sum(axis=1), A - 1)
        s2 = np.minimum((rng.random(episodes)[:, None] > cum_P[s, a]).sum(axis=1), S - 1)
        s_all[t::horizon], a_all[t::horizon], n_all[t::horizon] = s, a, s2
        s = s2
    return OfflineDataset(
        s_all, a_all, task.mdp.R[s_all, a_all], task.cost[s_all, a_all], n_all, S, A
    )


def drop_transitions(dataset: OfflineDataset, fraction: float, *, seed: int = 0) -> OfflineDataset:
    """The dataset without a uniformly random ``fraction`` of its transitions (at least one kept).

    Examples
    --------
    >>> task = hazard_gridworld()
    >>> data = collect_dataset(task, behaviour_policy(task, 0.3), episodes=4, horizon=5)
    >>> len(drop_transitions(data, 0.5))
    10
    """
    if not isinstance(dataset, OfflineDataset):
        raise ArgumentTypeError(f"dataset must be an OfflineDataset; got {type(dataset).__name__}")
    fraction = check_probability("fraction", fraction)
    rng = np.random.default_rng(check_seed(seed))
    n = len(dataset)
    keep = np.sort(rng.permutation(n)[: max(1, n - round(fraction * n))])
    return OfflineDataset(
        dataset.states[keep],
        dataset.actions[keep],
        dataset.rewards[keep],
        dataset.costs[keep],
        dataset.next_states[keep],
        dataset.n_states,
        dataset.n_actions,
    )


def model_dataset(task: SafeTask, per_pair: int = 10) -> OfflineDataset:
    """The task's own model as a dataset: ``per_pair * P(s'|s, a)`` copies of each transition.

    Every pair appears ``per_pair`` times, so the empirical model of the data is the task's
    exactly; ``per_pair * P`` must be integral (to ``1e-9``).

    Examples
    --------
    >>> data = model_dataset(hazard_gridworld(slip=0.1), 10)
    >>> len(data), bool((data.counts() == 10).all())
    (960, True)
    """
    task = _check_task(task)
    per_pair = check_positive_int("per_pair", per_pair)
    mult = task.mdp.P * per_pair
    if np.any(np.abs(mult - np.round(mult)) > 1e-9):
        raise ValueError(f"per_pair * P must be integral; per_pair={per_pair} is not a multiple")
    reps = np.round(mult).astype(np.int64)
    s, a, s2 = np.nonzero(reps)
    k = reps[s, a, s2]
    s, a, s2 = np.repeat(s, k), np.repeat(a, k), np.repeat(s2, k)
    return OfflineDataset(
        s, a, task.mdp.R[s, a], task.cost[s, a], s2, task.n_states, task.n_actions
    )
