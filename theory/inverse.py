"""Inverse Bellman construction and discontinuity (cliff) witnesses at optimal-action ties.

For any Q of shape (S, A), ``R_Q := Q - gamma P max_a Q`` is the unique reward whose optimal
action values are Q. Xu (2025) uses it to prove that every selection from a tied argmax set
is discontinuous in R: with ``Q_eps = Q* + eps 1{(s0, a2)}`` the reward ``R_eps = R_{Q_eps}``
is within ``(1 + gamma) eps`` of R, yet ``A*(s0; R_eps) = {a2}`` (Prop 2.9), the
uniform-over-argmax policy jumps by ``(m - 1)/m`` in total variation (Prop 2.10), and with
``eps' = eps/(1 + gamma)`` the gap ``Q*(s0, a2) - Q*(s0, a1)`` is exactly ``eps'`` at reward
distance at most ``eps`` (Prop 3.2). In the tabular case the bump of Lemma C.1 is the
indicator ``1{(s0, a2)}``: in a finite MDP no smoothing is needed.

References
----------
.. [1] X. Xu, "The Policy Cliff", arXiv:2507.20150, 2025, Props 2.9, 2.10, 3.2, 4.6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.actions import DEFAULT_TIE_TOL, argmax_mask, uniform_argmax_policy
from theory.checks import as_float_array, check_gamma, check_positive, check_state
from theory.distances import reward_distance, total_variation
from theory.mdp import TabularMDP, check_mdp
from theory.value_iteration import optimal_q

__all__ = ["CliffWitness", "cliff_witness", "inverse_bellman"]


def inverse_bellman(Q: np.ndarray, P: np.ndarray, gamma: float) -> np.ndarray:
    """The reward ``R = Q - gamma P max_a Q`` whose optimal Q is ``Q`` (Xu 2025, Prop 2.9).

    Parameters
    ----------
    Q : array_like, shape (..., S, A)
    P : array_like, shape (S, A, S)
        Transition probabilities (validated through :class:`TabularMDP`).
    gamma : float
        Discount in [0, 1).

    Returns
    -------
    ndarray, shape of ``Q``

    Raises
    ------
    ValueError
        If ``Q`` is not of shape (..., S, A) matching ``P``, ``P`` is not a transition array,
        or ``gamma`` is outside [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> inverse_bellman(np.array([[2.0, 1.0]]), np.ones((1, 2, 1)), 0.5)
    array([[1., 0.]])
    """
    Q = as_float_array("Q", Q)
    gamma = check_gamma(gamma)
    if Q.ndim < 2:
        raise ValueError(f"Q must have shape (..., S, A); got {Q.shape}")
    P = as_float_array("P", P, ndim=3)
    if Q.shape[-2:] != P.shape[:2]:
        raise ValueError(
            f"Q must have shape (..., S, A) = (..., {P.shape[0]}, {P.shape[1]}) to match P; got {Q.shape}"
        )
    mdp = TabularMDP(P, np.zeros(Q.shape[-2:]), gamma)
    return Q - gamma * mdp.expected_next(Q.max(axis=-1))


@dataclass(frozen=True)
class CliffWitness:
    """A reward perturbation that breaks a tie (Props 2.9, 2.10, 3.2), with measured effects.

    Attributes
    ----------
    reward : ndarray, shape (S, A)
        The perturbed reward ``R_eps``.
    state : int
        The tied state ``s0``.
    tied_actions : tuple of int
        ``A*(s0; R)``, of size ``m >= 2``.
    selected_action, target_action : int
        ``a1`` (the deterministic selection at R) and ``a2`` (the action made unique).
    eps : float
        The planted gap in Q.
    reward_distance : float
        Measured ``||R_eps - R||_inf``.
    distance_bound : float
        ``(1 + gamma) eps`` (Prop 2.9).
    gap : float
        Measured ``Q*_{R_eps}(s0, a2) - Q*_{R_eps}(s0, a1)`` (equals ``eps``, Prop 3.2).
    unique : bool
        Whether ``A*(s0; R_eps) == {a2}`` (measured by value iteration on ``R_eps``).
    tv_jump : float
        Measured total variation at ``s0`` between the uniform-over-argmax policies at R and
        at ``R_eps``.
    expected_jump : float
        ``(m - 1)/m`` (Prop 2.10).
    """

    reward: np.ndarray
    state: int
    tied_actions: tuple[int, ...]
    selected_action: int
    target_action: int
    eps: float
    reward_distance: float
    distance_bound: float
    gap: float
    unique: bool
    tv_jump: float
    expected_jump: float

    def summary(self) -> str:
        """One readable line."""
        return (
            f"state {self.state}: tie {self.tied_actions} broken toward a{self.target_action} "
            f"by ||dR||={self.reward_distance:.3g} <= {self.distance_bound:.3g}; "
            f"TV jump {self.tv_jump:.4f} (expected {self.expected_jump:.4f})"
        )


def cliff_witness(
    mdp: TabularMDP,
    state: int,
    eps: float,
    *,
    action: int | None = None,
    tol: float = DEFAULT_TIE_TOL,
) -> CliffWitness:
    """Construct the tie-breaking reward ``R_eps`` of Props 2.9/2.10/3.2 at ``state``.

    Parameters
    ----------
    mdp : TabularMDP
        Must have ``m >= 2`` optimal actions at ``state`` (ties within ``tol``).
    state : int
        The tied state ``s0``.
    eps : float
        Gap planted in Q (> ``tol``). Use ``eps / (1 + gamma)`` for a reward budget ``eps``
        (Prop 3.2).
    action : int, optional
        The tied action ``a2`` to make uniquely optimal; default the second tied action.
    tol : float, default 1e-8
        Tie tolerance.

    Returns
    -------
    CliffWitness
        With the measured distance, gap, uniqueness and total-variation jump.

    Raises
    ------
    ValueError
        If ``state`` has a unique optimal action, ``action`` is not tied, or ``eps <= tol``.
    """
    mdp = check_mdp(mdp)
    state = check_state("state", state, mdp.n_states)
    eps = check_positive("eps", eps)
    tol = check_positive("tol", tol)
    if eps <= tol:
        raise ValueError(f"eps must exceed the tie tolerance tol={tol:g}; got {eps!r}")
    q0 = optimal_q(mdp, tol=tol / 100)
    tied = tuple(int(a) for a in np.flatnonzero(argmax_mask(q0[state], tol)))
    if len(tied) < 2:
        raise ValueError(
            f"state {state} has a unique optimal action {tied[0]}; a cliff witness needs a tie"
        )
    a1 = tied[0]
    a2 = tied[1] if action is None else int(action)
    if a2 not in tied or a2 == a1:
        raise ValueError(
            f"action must be a tied action other than {a1} (tied: {tied}); got {action!r}"
        )
    # Snap the tie to exact equality so that Q_eps's tie structure is exactly the planted one.
    q_tied = q0.copy()
    q_tied[state, list(tied)] = q0[state].max()
    q_eps = q_tied.copy()
    q_eps[state, a2] += eps  # Q_eps = Q0 + eps * 1{(s0, a2)}  (Prop 2.9, Lemma C.1 in tabular form)
    r_eps = inverse_bellman(q_eps, mdp.P, mdp.gamma)
    # Measure, do not assume: solve the perturbed MDP.
    q_meas = optimal_q(mdp.with_reward(r_eps), tol=tol / 100)
    set_eps = np.flatnonzero(argmax_mask(q_meas[state], tol))
    pi0 = uniform_argmax_policy(q0[state], tol)
    pi_eps = uniform_argmax_policy(q_meas[state], tol)
    m = len(tied)
    return CliffWitness(
        reward=r_eps,
        state=state,
        tied_actions=tied,
        selected_action=a1,
        target_action=a2,
        eps=eps,
        reward_distance=reward_distance(r_eps, mdp.R),
        distance_bound=(1.0 + mdp.gamma) * eps,
        gap=float(q_meas[state, a2] - q_meas[state, a1]),
        unique=bool(set_eps.tolist() == [a2]),
        tv_jump=float(total_variation(pi0, pi_eps)),
        expected_jump=(m - 1) / m,
    )
