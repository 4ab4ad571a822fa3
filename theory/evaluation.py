"""Exact policy evaluation: ``Q^pi`` by one linear solve.

``V^pi = (I - gamma P_pi)^{-1} r_pi`` and ``Q^pi = R + gamma P V^pi``. Values are linear in R
for a fixed pi, the fact behind Prop 3.1 of Xu (2025).
"""

from __future__ import annotations

import numpy as np

from theory.checks import as_float_array, check_simplex
from theory.mdp import TabularMDP, check_mdp

__all__ = ["policy_q", "policy_value"]


def policy_value(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """State values ``V^pi`` (shape (S,)) of a stochastic policy of shape (S, A)."""
    mdp = check_mdp(mdp)
    pi = as_float_array("policy", policy, ndim=2)
    if pi.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(
            f"policy must have shape (S, A) = ({mdp.n_states}, {mdp.n_actions}); got {pi.shape}"
        )
    check_simplex("policy", pi, axis=-1)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * P_pi, r_pi)


def policy_q(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """Action values ``Q^pi = R + gamma P V^pi`` (shape (S, A))."""
    mdp = check_mdp(mdp)
    return mdp.R + mdp.gamma * mdp.expected_next(policy_value(mdp, policy))
