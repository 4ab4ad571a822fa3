"""Optimal-action sets, ties, action gaps and the policies selected from them.

``A*(s; R) = argmax_a Q*_R(s, a)`` (Xu 2025, §2.1). Ties are detected with a tolerance above
the value-iteration error: ``A*(s) = {a : Q(s, a) >= max_a' Q(s, a') - tol}`` (the toolkit's choice: the default
``tol`` exceeds the certified value-iteration error, so computed ties are not split by it). Where the sets are singletons the greedy policy is continuous in R
(Thm 2.7); where they are not, any selection is discontinuous (Props 2.9, 2.10).
"""

from __future__ import annotations

import numpy as np

from theory.checks import as_float_array, check_positive
from theory.mdp import TabularMDP, check_mdp
from theory.value_iteration import optimal_q

__all__ = [
    "DEFAULT_TIE_TOL",
    "action_gap",
    "argmax_mask",
    "greedy_policy",
    "optimal_actions",
    "uniform_argmax_policy",
]

#: Tie tolerance: 100x the default value-iteration tolerance.
DEFAULT_TIE_TOL = 1e-8


def argmax_mask(q: np.ndarray, tol: float = DEFAULT_TIE_TOL) -> np.ndarray:
    """Boolean mask of ``{a : q[..., a] >= max q[...] - tol}`` over the last axis."""
    q = as_float_array("q", q)
    tol = check_positive("tol", tol)
    return q >= np.max(q, axis=-1, keepdims=True) - tol


def optimal_actions(mdp: TabularMDP, tol: float = DEFAULT_TIE_TOL) -> np.ndarray:
    """The optimal-action sets ``A*(s)`` as a boolean array of shape (S, A).

    Parameters
    ----------
    mdp : TabularMDP
    tol : float, default 1e-8
        Tie tolerance. Q* is computed to ``tol / 100`` so that the tolerance exceeds the
        solver error.

    Examples
    --------
    >>> import numpy as np
    >>> from theory import TabularMDP
    >>> bandit = TabularMDP(np.ones((1, 3, 1)), np.array([[1.0, 1.0, 0.0]]), gamma=0.0)
    >>> optimal_actions(bandit)
    array([[ True,  True, False]])
    """
    mdp = check_mdp(mdp)
    tol = check_positive("tol", tol)
    return argmax_mask(optimal_q(mdp, tol=tol / 100), tol)


def action_gap(mdp: TabularMDP, tol: float = DEFAULT_TIE_TOL) -> float:
    """Smallest gap ``min_s (max_a Q*(s, a) - second-best Q*(s, ·))`` over states.

    ``0.0`` when some state has a tie (two actions within ``tol``); ``inf`` when the MDP has a
    single action. A positive gap ``g`` gives the greedy stability radius ``(1 - gamma) g / 2``
    (:func:`theory.bounds.greedy_stability_radius`).
    """
    mdp = check_mdp(mdp)
    tol = check_positive("tol", tol)
    if mdp.n_actions < 2:
        return float("inf")
    q = np.sort(optimal_q(mdp, tol=tol / 100), axis=-1)
    gaps = q[:, -1] - q[:, -2]
    gaps = np.where(gaps <= tol, 0.0, gaps)
    return float(np.min(gaps))


def uniform_argmax_policy(q: np.ndarray, tol: float = DEFAULT_TIE_TOL) -> np.ndarray:
    """The selection of Prop 2.10: uniform over ``argmax_a q[..., a]`` (ties within ``tol``)."""
    mask = argmax_mask(q, tol).astype(np.float64)
    return mask / mask.sum(axis=-1, keepdims=True)


def greedy_policy(q: np.ndarray) -> np.ndarray:
    """Deterministic selection (first maximizer) as a one-hot policy of the shape of ``q``."""
    q = as_float_array("q", q)
    pi = np.zeros_like(q)
    np.put_along_axis(pi, np.argmax(q, axis=-1)[..., None], 1.0, axis=-1)
    return pi
