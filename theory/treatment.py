"""A synthetic treatment task: patients as binary symptom vectors, treatments as actions.

A toy stand-in for the septic-treatment task of Sukovic & Radanovic (ICLR 2024,
arXiv:2402.15826, §5), small enough to solve exactly. Every detail below is
[reconstructed]: the paper's MIMIC-III cohort, its 44 patient features and its clinician
preferences are replaced by a seeded generator, and each choice is a parameter.

- **States.** The ``2**d`` binary vectors ``x`` of ``d`` symptoms (``x_j = 1``: symptom ``j``
  present); state ``s`` is the vector of the binary digits of ``s`` (feature ``j`` = bit ``j``).
- **Dynamics.** Symptoms evolve independently given the treatment ``a``:
  ``P(x'_j = 1 | x, a) = sigmoid(persistence * (2 x_j - 1) + effect[a, j])``, where
  ``effect[a, j] ~ N(0, effect_scale^2)`` is treatment ``a``'s effect on symptom ``j``
  (negative: it cures it), so ``P(x' | x, a) = prod_j P(x'_j | x, a)``.
- **Environment reward.** ``r_env(x, a) = 1 - mean_j x_j - cost[a]``: health minus a treatment
  cost ``cost[a] ~ U(0, max_cost)``.
- **Hidden expert.** A clinician's justification score for treatment ``a`` from revealed
  symptom values (the judge the judge proxy imitates, :mod:`theory.judge`):
  ``w*[a, j, v] = scale * (alignment * (-effect[a, j]) * (2 v - 1) + sqrt(1 - alignment^2) z)``
  with ``z ~ N(0, 1)``: revealing that a symptom is present supports the treatments believed to
  cure it, revealing it absent argues against them. ``alignment`` in [-1, 1] is how well the
  expert's beliefs match the true effects (1: perfectly, 0: unrelated).

References
----------
.. [1] A. Sukovic, G. Radanovic, "Reward Design for Justifiable Sequential Decision-Making",
   ICLR 2024, arXiv:2402.15826, §5 (the septic-treatment task this toy replaces).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory.checks import (
    check_gamma,
    check_int,
    check_nonnegative,
    check_positive,
    check_real,
    check_rng,
)
from theory.mdp import TabularMDP

__all__ = ["TreatmentTask", "state_features", "treatment_task"]

#: Most symptoms :func:`treatment_task` builds (``2**12`` states).
MAX_FEATURES = 12


@dataclass(frozen=True, eq=False)
class TreatmentTask:
    """A generated treatment task (see the module docstring); built by :func:`treatment_task`.

    Attributes
    ----------
    mdp : TabularMDP
        ``2**d`` states, ``K`` treatments, reward ``r_env``.
    features : ndarray of int, shape (S, d)
        The symptom vector of each state (0/1).
    expert_weights : ndarray, shape (K, d, 2)
        The hidden expert's justification weights ``w*[a, j, v]``.
    effect : ndarray, shape (K, d)
        The true treatment effects on the symptoms' log-odds.
    start : ndarray, shape (S,)
        The start distribution (uniform over states).
    """

    mdp: TabularMDP
    features: np.ndarray
    expert_weights: np.ndarray
    effect: np.ndarray
    start: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def r_env(self) -> np.ndarray:
        """The environment reward, shape (S, K)."""
        return self.mdp.R

    def summary(self) -> str:
        m = self.mdp
        return (
            f"TreatmentTask(states={m.n_states}, treatments={m.n_actions}, "
            f"symptoms={self.n_features}, gamma={m.gamma})"
        )


def state_features(n_features: int) -> np.ndarray:
    """The ``2**d`` binary vectors, row ``s`` = the bits of ``s`` (shape (2**d, d), int).

    >>> state_features(2).tolist()
    [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    d = check_int("n_features", n_features, lo=1, hi=MAX_FEATURES)
    s = np.arange(2**d)
    return ((s[:, None] >> np.arange(d)[None, :]) & 1).astype(np.int64)


def treatment_task(
    rng: np.random.Generator,
    *,
    n_features: int = 4,
    n_actions: int = 3,
    gamma: float = 0.9,
    effect_scale: float = 1.5,
    persistence: float = 1.0,
    max_cost: float = 0.1,
    alignment: float = 0.7,
    expert_scale: float = 2.0,
) -> TreatmentTask:
    """Draw a treatment task (see the module docstring for the model, all [reconstructed]).

    Parameters
    ----------
    rng : numpy.random.Generator
    n_features : int, default 4
        Symptoms ``d`` (1 to 12); the MDP has ``2**d`` states.
    n_actions : int, default 3
        Treatments ``K`` (at least 2: a debate needs two decisions).
    gamma : float, default 0.9
    effect_scale : float, default 1.5
        Standard deviation of the treatment effects on the symptoms' log-odds.
    persistence : float, default 1.0
        Log-odds that a present symptom stays (and an absent one stays absent).
    max_cost : float, default 0.1
        Treatment costs are uniform on ``[0, max_cost]``.
    alignment : float in [-1, 1], default 0.7
        How well the expert's justification weights follow the true effects.
    expert_scale : float, default 2.0
        Scale of the expert's weights (its Bradley-Terry inverse temperature).

    Returns
    -------
    TreatmentTask

    Examples
    --------
    >>> task = treatment_task(np.random.default_rng(0), n_features=2)
    >>> task.summary()
    'TreatmentTask(states=4, treatments=3, symptoms=2, gamma=0.9)'
    """
    rng = check_rng("rng", rng)
    features = state_features(n_features)
    K = check_int("n_actions", n_actions, lo=2)
    gamma = check_gamma(gamma)
    effect_scale = check_nonnegative("effect_scale", effect_scale)
    persistence = check_real("persistence", persistence)
    max_cost = check_nonnegative("max_cost", max_cost)
    alignment = check_real("alignment", alignment, lo=-1.0, hi=1.0)
    expert_scale = check_positive("expert_scale", expert_scale)
    S, d = features.shape

    effect = rng.normal(0.0, effect_scale, size=(K, d)) if effect_scale > 0 else np.zeros((K, d))
    cost = rng.uniform(0.0, max_cost, size=K)
    # P(x'_j = 1 | x, a), shape (S, K, d), then the product over symptoms
    logits = persistence * (2.0 * features[:, None, :] - 1.0) + effect[None, :, :]
    p1 = 1.0 / (1.0 + np.exp(-logits))
    nxt = features[None, None, :, :]  # (1, 1, S', d)
    P = np.prod(np.where(nxt == 1, p1[:, :, None, :], 1.0 - p1[:, :, None, :]), axis=-1)
    P = P / P.sum(axis=-1, keepdims=True)
    R = 1.0 - features.mean(axis=1)[:, None] - cost[None, :]

    sign = np.array([-1.0, 1.0])  # 2 v - 1
    z = rng.normal(size=(K, d, 2))
    expert = expert_scale * (
        alignment * (-effect)[:, :, None] * sign[None, None, :]
        + math.sqrt(max(0.0, 1.0 - alignment**2)) * z
    )
    for arr in (features, expert, effect):
        arr.setflags(write=False)
    start = np.full(S, 1.0 / S)
    start.setflags(write=False)
    return TreatmentTask(TabularMDP(P, R, gamma), features, expert, effect, start)
