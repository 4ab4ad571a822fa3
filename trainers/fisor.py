"""FISOR at toy scale: feasibility-guided safe offline RL on a tabular task, categorical policy.

FISOR (Zheng et al., "Safe Offline Reinforcement Learning with Feasibility-Guided Diffusion
Model", ICLR 2024, arXiv:2401.10700) has three steps; here each is exact on a finite MDP:

1. **Offline feasibility value** (Sec. 3-4): the Hamilton-Jacobi reachability value of the
   constraint ``h = c - cost_threshold`` (violated iff ``h > 0``), learned *in-sample* (only
   dataset actions are ever evaluated, as in IQL):

       Q_h(s, a) <- mean over the dataset's (s, a, c, s') of (1 - g_h) h + g_h max(h, V_h(s'))
       V_h(s)    <- expectile_{tau_h} over the dataset actions at s (weights n(s, a)) of Q_h(s, .)

   with ``tau_h`` small (the expectile tends to the in-sample minimum as ``tau_h -> 0``;
   ``tau_h = 0`` is that minimum). With ``feasibility="worst"`` the backup is the undiscounted
   ``max(h, max over observed s' of V_h(s'))`` with the in-sample minimum (the hard-constraint
   limit). The feasible region is ``{V_h <= 0}``.
2. **Decoupled objective and its closed form** (Sec. 4): inside the feasible region maximise the
   reward advantage while staying feasible (``Q_h(s, a) <= 0``); outside it minimise the
   violation; both regularised by ``KL(pi || mu)`` to the behaviour policy ``mu``. The solution is
   a weighted behaviour policy ``pi*(a|s) ∝ mu(a|s) w(s, a)`` with

       w(s, a) = exp(alpha_r A_r(s, a)) 1[Q_h(s, a) <= 0]   if V_h(s) <= 0,
       w(s, a) = exp(-alpha_h A_h(s, a))                     otherwise,

   ``A_r = Q_r - V_r`` from in-sample IQL (expectile ``tau_r``), ``A_h = Q_h - V_h``, each
   weight clipped at ``max_weight`` [reconstructed: the weight form from recall of the paper].
3. **Policy extraction**: FISOR fits a diffusion model by weighted behaviour cloning; for a
   categorical policy the weighted-BC maximiser of ``E_D[w(s, a) log pi(a|s)]`` is exactly
   ``pi(a|s) ∝ n(s, a) w(s, a)`` (no diffusion model needed).

Both fitted backups are ``gamma``-contractions in the sup norm over the dataset pairs (an
expectile is monotone and shifts with its argument, so it is non-expansive; so is ``max(h, .)``)
and are iterated to a certified error (:func:`theory.value_iteration.iterate_to_fixed_point`).
States never seen as a source in the data get the pessimistic values ``V_h = unseen_violation``
and ``V_r = min r / (1 - gamma)`` [reconstructed]; their policy row is uniform. With a
dataset covering every pair of a deterministic MDP and ``tau_h = 0``, the fitted ``Q_h`` is the
exact value :func:`theory.safety.reachability_value` (tested).

References
----------
.. [1] Y. Zheng, J. Li, D. Yu, Y. Yang, S. E. Li, X. Zhan, J. Liu, ICLR 2024, arXiv:2401.10700.
.. [2] I. Kostrikov, A. Nair, S. Levine, "Offline Reinforcement Learning with Implicit
   Q-Learning", ICLR 2022, arXiv:2110.06169, Eq. (5)-(6) (expectile regression in-sample).
.. [3] J. F. Fisac et al., ICRA 2019, Eq. (5) (discounted safety Bellman equation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.checks import ArgumentTypeError
from theory.value_iteration import iterate_to_fixed_point
from trainers.runtime import DISCOUNT, POSITIVE, check_config, one_of, real
from trainers.safe_tasks import OfflineDataset

__all__ = ["FISORConfig", "FISORResult", "expectile", "fit_feasibility_value", "train_fisor"]


@dataclass(frozen=True)
class FISORConfig:
    """Hyperparameters of tabular FISOR."""

    gamma: float = 0.9
    """Reward discount."""
    gamma_h: float = 0.9
    """Reachability discount of the feasibility backup (``feasibility="discounted"``)."""
    feasibility: str = "discounted"
    """'discounted' (Fisac et al.'s backup, expectile tau_h) or 'worst' (undiscounted, hard)."""
    expectile_h: float = 0.0
    """tau_h in [0, 1): expectile of V_h over dataset actions. 0 (default): the in-sample
    minimum, the tau -> 0 limit that a table allows exactly; FISOR's networks need tau > 0,
    which over-estimates V_h where the data mix safe and unsafe actions [reconstructed]."""
    expectile_r: float = 0.7
    """tau_r in (0, 1]: IQL expectile of V_r (1: the in-sample maximum)."""
    alpha_r: float = 3.0
    """Inverse temperature of the reward-advantage weight inside the feasible region."""
    alpha_h: float = 3.0
    """Inverse temperature of the feasibility-advantage weight outside it."""
    max_weight: float = 100.0
    """Clip of every exponential weight."""
    cost_threshold: float = 0.0
    """h = cost - cost_threshold: a violation is a cost above it."""
    unseen_violation: float = 1.0
    """V_h of states with no data (> 0: treated as infeasible)."""
    tol: float = 1e-10
    """Certified sup-norm error of the fitted values."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "gamma": DISCOUNT,
                "gamma_h": DISCOUNT,
                "feasibility": one_of("discounted", "worst"),
                "expectile_h": real(0.0, 1.0, hi_open=True),
                "expectile_r": real(0.0, 1.0, lo_open=True),
                "alpha_r": real(0.0),
                "alpha_h": real(0.0),
                "max_weight": POSITIVE,
                "cost_threshold": real(),
                "unseen_violation": real(),
                "tol": POSITIVE,
            },
        )


@dataclass(frozen=True)
class FISORResult:
    """The fitted values and the extracted policy.

    Attributes
    ----------
    policy : ndarray (S, A)
        ``pi(a|s) ∝ n(s, a) w(s, a)`` (uniform on unseen states).
    q_h, q_r : ndarray (S, A)
        Fitted ``Q_h``, ``Q_r`` (``nan`` on pairs absent from the data).
    v_h, v_r : ndarray (S,)
        Fitted ``V_h``, ``V_r`` (pessimistic on unseen states).
    feasible : ndarray of bool (S,)
        ``V_h <= 0``.
    weights : ndarray (S, A)
        ``w(s, a)`` (0 on absent pairs).
    behaviour : ndarray (S, A)
        ``mu(a|s) = n(s, a) / n(s)`` (uniform on unseen states).
    seen : ndarray of bool (S,)
        States with at least one transition in the data.
    success : bool
        Both fitted values certified to ``tol``.
    error_bound : float
        The larger certified error of ``Q_h`` and ``Q_r``.
    """

    policy: np.ndarray
    q_h: np.ndarray
    q_r: np.ndarray
    v_h: np.ndarray
    v_r: np.ndarray
    feasible: np.ndarray
    weights: np.ndarray
    behaviour: np.ndarray
    seen: np.ndarray
    success: bool
    error_bound: float

    def summary(self) -> str:
        """One readable line."""
        return (
            f"FISOR: {int(self.feasible.sum())}/{self.seen.sum()} seen states feasible, "
            f"values {'certified' if self.success else 'NOT certified'} to {self.error_bound:.2g}"
        )


def expectile(values: np.ndarray, weights: np.ndarray, tau: float) -> np.ndarray:
    """Row-wise weighted ``tau``-expectile: ``argmin_v sum_i w_i |tau - 1(x_i < v)| (x_i - v)^2``.

    ``tau = 0`` / ``1`` give the minimum / maximum over the entries of positive weight. Exact:
    on the interval between consecutive sorted values the first-order condition is linear;
    the interval whose solution lies inside it is taken. Every row needs a positive weight.

    Parameters
    ----------
    values, weights : array_like, shape (m, k)
        Finite values; non-negative weights (entries of zero weight are ignored).
    tau : float
        In [0, 1].

    Examples
    --------
    >>> expectile(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]), 0.5).tolist()
    [0.5]
    >>> expectile(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]), 0.1).round(6).tolist()
    [0.1]
    """
    x = np.atleast_2d(np.asarray(values, dtype=float))
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    if x.shape != w.shape:
        raise ValueError(f"weights must have the shape of values {x.shape}; got {w.shape}")
    if not np.all(np.isfinite(x[w > 0])):
        raise ValueError("values must be finite where the weight is positive")
    if np.any(w < 0) or not np.all(np.isfinite(w)) or np.any(w.sum(axis=1) <= 0):
        raise ValueError("weights must be finite, >= 0 and positive somewhere in every row")
    tau = float(tau)
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"tau must lie in [0, 1]; got {tau}")
    pos = w > 0
    if tau == 0.0:
        return np.where(pos, x, np.inf).min(axis=1)
    if tau == 1.0:
        return np.where(pos, x, -np.inf).max(axis=1)
    xs = np.where(pos, x, np.inf)
    order = np.argsort(xs, axis=1, kind="stable")
    xs = np.take_along_axis(xs, order, axis=1)
    ws = np.take_along_axis(np.where(pos, w, 0.0), order, axis=1)
    xw = np.where(ws > 0, np.where(np.isfinite(xs), xs, 0.0) * ws, 0.0)
    k = x.shape[1]
    # j entries below v (j = 0..k): v_j = ((1-tau) S_below(wx) + tau S_above(wx)) / (...)
    cw = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(ws, axis=1)], axis=1)
    cx = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(xw, axis=1)], axis=1)
    num = (1 - tau) * cx + tau * (cx[:, -1:] - cx)
    den = (1 - tau) * cw + tau * (cw[:, -1:] - cw)
    v = num / den
    lo = np.concatenate([np.full((x.shape[0], 1), -np.inf), xs], axis=1)[:, : k + 1]
    hi = np.concatenate([xs, np.full((x.shape[0], 1), np.inf)], axis=1)
    miss = np.maximum(np.maximum(lo - v, v - hi), 0.0)
    miss = np.where(np.isfinite(v), miss, np.inf)
    return np.take_along_axis(v, miss.argmin(axis=1)[:, None], axis=1)[:, 0]


def _check_dataset(dataset: object) -> OfflineDataset:
    if not isinstance(dataset, OfflineDataset):
        raise ArgumentTypeError(f"dataset must be an OfflineDataset; got {type(dataset).__name__}")
    return dataset


def _check_config(config: object) -> FISORConfig:
    if config is None:
        return FISORConfig()
    if not isinstance(config, FISORConfig):
        raise ArgumentTypeError(f"config must be a FISORConfig; got {type(config).__name__}")
    return config


def _pairs(data: OfflineDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts (S, A), seen pairs, and each transition's index among the seen pairs."""
    counts = data.counts()
    seen_pairs = counts > 0
    index = -np.ones(counts.shape, dtype=np.int64)
    index[seen_pairs] = np.arange(int(seen_pairs.sum()))
    return counts, seen_pairs, index, index[data.states, data.actions]


def _state_values(
    q_flat: np.ndarray, seen_pairs: np.ndarray, counts: np.ndarray, tau: float, unseen: float
) -> np.ndarray:
    S, A = counts.shape
    q = np.zeros((S, A))
    q[seen_pairs] = q_flat
    v = np.full(S, unseen)
    rows = seen_pairs.any(axis=1)
    if rows.any():
        v[rows] = expectile(q[rows], counts[rows], tau)
    return v


def fit_feasibility_value(dataset: OfflineDataset, config: FISORConfig | None = None):
    """In-sample feasibility values ``(Q_h, V_h, error_bound)`` (see the module docstring).

    Returns
    -------
    q_h : ndarray (S, A)
        ``nan`` on pairs absent from the data.
    v_h : ndarray (S,)
    error_bound : float
        Certified ``||Q_h - fixed point||_inf`` over the dataset pairs (``inf`` if not reached).

    Examples
    --------
    >>> from trainers.safe_tasks import OfflineDataset
    >>> data = OfflineDataset([0, 0, 1], [0, 1, 0], [0, 0, 0], [0.0, 0.0, 1.0], [0, 1, 1], 2, 2)
    >>> q_h, v_h, _ = fit_feasibility_value(data, FISORConfig(expectile_h=0.0))
    >>> q_h.round(6).tolist(), v_h.tolist()
    ([[0.0, 0.9], [1.0, nan]], [0.0, 1.0])
    """
    data = _check_dataset(dataset)
    cfg = _check_config(config)
    counts, seen_pairs, _, flat = _pairs(data)
    h = data.costs - cfg.cost_threshold
    n_flat = counts[seen_pairs]
    unseen = cfg.unseen_violation
    if cfg.feasibility == "worst":
        q_flat, err = _fit_worst(data, h, counts, seen_pairs, flat, unseen), 0.0
    else:
        g = cfg.gamma_h

        def backup(q: np.ndarray) -> np.ndarray:
            v = _state_values(q, seen_pairs, counts, cfg.expectile_h, unseen)
            target = (1 - g) * h + g * np.maximum(h, v[data.next_states])
            return np.bincount(flat, weights=target, minlength=n_flat.size) / n_flat

        h_mean = np.bincount(flat, weights=h, minlength=n_flat.size) / n_flat
        res = iterate_to_fixed_point(backup, h_mean, g, cfg.tol, None)
        q_flat, err = res.q, (res.error_bound if res.success else np.inf)
    q_h = np.full(counts.shape, np.nan)
    q_h[seen_pairs] = q_flat
    tau = 0.0 if cfg.feasibility == "worst" else cfg.expectile_h
    v_h = _state_values(q_flat, seen_pairs, counts, tau, unseen)
    return q_h, v_h, float(err)


def _fit_worst(data, h, counts, seen_pairs, flat, unseen) -> np.ndarray:
    """``Q_h(s, a) = max(h, max over observed s' of V_h(s'))`` with the in-sample minimum."""
    n_pairs = int(seen_pairs.sum())
    h_max = np.full(n_pairs, -np.inf)
    np.maximum.at(h_max, flat, h)
    v = _state_values(h_max, seen_pairs, counts, 0.0, unseen)
    for _ in range(counts.size * (len(h) + 1) + 2):
        succ = np.full(n_pairs, -np.inf)
        np.maximum.at(succ, flat, v[data.next_states])
        q = np.maximum(h_max, succ)
        v_next = _state_values(q, seen_pairs, counts, 0.0, unseen)
        if np.array_equal(v_next, v):
            return q
        v = v_next
    raise AssertionError("the worst-case iteration must stop")  # pragma: no cover


def train_fisor(dataset: OfflineDataset, config: FISORConfig | None = None) -> FISORResult:
    """Tabular FISOR: fitted feasibility and reward values, closed-form weighted policy.

    Deterministic given the dataset (the seed lives in :func:`trainers.safe_tasks.collect_dataset`).

    Parameters
    ----------
    dataset : OfflineDataset
    config : FISORConfig, optional

    Returns
    -------
    FISORResult

    Examples
    --------
    >>> from trainers.safe_tasks import behaviour_policy, collect_dataset, hazard_gridworld
    >>> task = hazard_gridworld()
    >>> data = collect_dataset(task, behaviour_policy(task, 0.5), episodes=60, seed=1)
    >>> res = train_fisor(data)
    >>> bool(res.feasible[12]), int(res.policy[12].argmax())  # the start: feasible, go up
    (True, 0)
    """
    data = _check_dataset(dataset)
    cfg = _check_config(config)
    S, A = data.n_states, data.n_actions
    counts, seen_pairs, _, flat = _pairs(data)
    seen = seen_pairs.any(axis=1)
    q_h, v_h, err_h = fit_feasibility_value(data, cfg)
    # in-sample IQL for the reward (Kostrikov et al. 2022, Eq. 5-6)
    g = cfg.gamma
    n_flat = counts[seen_pairs]
    v_unseen = float(data.rewards.min()) / (1 - g)

    def backup(q: np.ndarray) -> np.ndarray:
        v = _state_values(q, seen_pairs, counts, cfg.expectile_r, v_unseen)
        target = data.rewards + g * v[data.next_states]
        return np.bincount(flat, weights=target, minlength=n_flat.size) / n_flat

    res = iterate_to_fixed_point(backup, np.zeros(n_flat.size), g, cfg.tol, None)
    q_r = np.full((S, A), np.nan)
    q_r[seen_pairs] = res.q
    v_r = _state_values(res.q, seen_pairs, counts, cfg.expectile_r, v_unseen)
    feasible = v_h <= 0.0
    # closed-form weights of the decoupled objective (log-space, clipped at max_weight)
    log_cap = np.log(cfg.max_weight)
    a_r = np.nan_to_num(q_r - v_r[:, None])
    a_h = np.nan_to_num(q_h - v_h[:, None])
    inside = np.where(
        np.nan_to_num(q_h, nan=np.inf) <= 0.0, np.minimum(cfg.alpha_r * a_r, log_cap), -np.inf
    )
    outside = np.minimum(-cfg.alpha_h * a_h, log_cap)
    log_w = np.where(feasible[:, None], inside, outside)
    log_w = np.where(seen_pairs, log_w, -np.inf)
    behaviour = np.full((S, A), 1.0 / A)
    behaviour[seen] = counts[seen] / counts[seen].sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        logits = np.log(behaviour) + log_w
    policy = np.full((S, A), 1.0 / A)
    top = logits[seen].max(axis=1, keepdims=True)
    e = np.exp(logits[seen] - top)
    policy[seen] = e / e.sum(axis=1, keepdims=True)
    weights = np.where(seen_pairs, np.exp(log_w), 0.0)
    err = max(err_h, res.error_bound if res.success else np.inf)
    return FISORResult(
        policy, q_h, q_r, v_h, v_r, feasible, weights, behaviour, seen, bool(np.isfinite(err)), err
    )
