"""Effective reward of multi-reward RL: ``R_eff(s, a) = sum_k w_k(s) R_k(s, a)``.

Xu (2025, §4) models a policy trained on N prompt classes, each scored by its own reward model
``R_k``, as optimal for this effective reward with fixed state-dependent weights ``w_k(s)`` on the
simplex (a frozen router). Lemma 4.2: ``||R_eff(R) - R_eff(R')||_inf <= max_k ||R_k - R'_k||_inf``
(constant 1). With weights that do not sum to 1 (TRL's ``reward_weights`` times domain
indicators) the constant becomes ``sup_s sum_k |w_k(s)|`` [derived].

References
----------
.. [1] X. Xu, "The Policy Cliff", arXiv:2507.20150, 2025, §4, Lemma 4.2, Props 4.3-4.7.
"""

from __future__ import annotations

import numpy as np

from theory.checks import as_float_array, check_simplex

__all__ = ["effective_reward", "effective_reward_lipschitz_constant"]


def effective_reward(
    rewards: np.ndarray, weights: np.ndarray, *, normalized: bool = True
) -> np.ndarray:
    """``R_eff(s, a) = sum_k w_k(s) R_k(s, a)`` (Xu 2025, §4, Lemma 4.2).

    Parameters
    ----------
    rewards : array_like, shape (K, S, A)
        The component rewards ``R_k``.
    weights : array_like, shape (S, K)
        State-dependent weights ``w_k(s)``. With ``normalized=True`` (the paper's setting) each
        row must lie on the simplex (to 1e-9).
    normalized : bool, default True
        Set False for arbitrary real weights (outside Lemma 4.2; see
        :func:`effective_reward_lipschitz_constant`).

    Returns
    -------
    ndarray, shape (S, A)

    Examples
    --------
    >>> import numpy as np
    >>> R = np.stack([np.ones((2, 2)), np.zeros((2, 2))])
    >>> effective_reward(R, np.array([[1.0, 0.0], [0.25, 0.75]]))
    array([[1.  , 1.  ],
           [0.25, 0.25]])
    """
    R = as_float_array("rewards", rewards, ndim=3)
    w = as_float_array("weights", weights, ndim=2)
    K, S, _ = R.shape
    if w.shape != (S, K):
        raise ValueError(
            f"weights must have shape (S, K) = ({S}, {K}) to match rewards; got {w.shape}"
        )
    if normalized:
        check_simplex("weights", w, axis=1)
    return np.einsum("sk,ksa->sa", w, R)


def effective_reward_lipschitz_constant(weights: np.ndarray) -> float:
    """Lipschitz constant of ``R -> R_eff`` from ``||·||_N`` to the sup norm: ``max_s sum_k |w_k(s)|``.

    Equal to 1 for simplex weights (Lemma 4.2) [derived for the general case].
    """
    w = as_float_array("weights", weights, ndim=2)
    return float(np.max(np.abs(w).sum(axis=1)))
