"""Entropy- and KL-regularized (soft) optimal policies of finite MDPs.

With temperature ``alpha > 0`` and an optional reference policy ``pi_ref`` the soft Bellman
operator is

    (T Q)(s, a) = R(s, a) + gamma * sum_s' P(s'|s, a) V(s'),
    V(s) = alpha * log sum_a pi_ref(a|s) exp(Q(s, a) / alpha),

and the soft-optimal policy is ``pi(a|s) = pi_ref(a|s) exp((Q(s, a) - V(s)) / alpha)``.
Without a reference the weights ``pi_ref`` are all 1 (entropy regularization,
Xu 2025, Prop 4.7); with one it is the KL-regularized objective of RLHF
``E[sum_t gamma^t (R - beta KL(pi || pi_ref))]`` (Xu 2025, §3.3), whose bandit case has the closed
form ``pi ∝ pi_ref exp(r / beta)`` (Rafailov et al. 2023, §4). Either operator is a
gamma-contraction in the sup norm (Geist, Scherrer & Pietquin 2019), so the certified error of
:mod:`theory.value_iteration` applies. Log-sum-exp is evaluated with max-subtraction.

References
----------
.. [1] X. Xu, "The Policy Cliff", arXiv:2507.20150, 2025, Prop 4.7, Lemma C.2, §3.3.
.. [2] M. Geist, B. Scherrer, O. Pietquin, "A Theory of Regularized Markov Decision
   Processes", ICML 2019.
.. [3] R. Rafailov et al., "Direct Preference Optimization", NeurIPS 2023, §4.
"""

from __future__ import annotations

import numpy as np

from theory.checks import as_float_array, check_int, check_positive, check_simplex
from theory.mdp import TabularMDP, check_mdp
from theory.value_iteration import (
    DEFAULT_TOL,
    ConvergenceError,
    ValueIterationResult,
    iterate_to_fixed_point,
    rewards_for,
)

__all__ = [
    "kl_regularized_bandit_policy",
    "soft_bellman_operator",
    "soft_optimal_policy",
    "soft_optimal_q",
    "soft_value",
    "soft_value_iteration",
]


def _log_weights(
    reference: np.ndarray | None, available: np.ndarray | None, n_states: int, n_actions: int
) -> np.ndarray:
    """log of the base weights: pi_ref (KL case) or 1 (entropy case), -inf where excluded."""
    if reference is None:
        log_w = np.zeros((n_states, n_actions))
    else:
        ref = as_float_array("reference", reference)
        if ref.shape == (n_actions,):
            ref = np.broadcast_to(ref, (n_states, n_actions))
        if ref.shape != (n_states, n_actions):
            raise ValueError(
                f"reference must have shape (A,) or (S, A) = ({n_states}, {n_actions}); "
                f"got {ref.shape}"
            )
        check_simplex("reference", ref, axis=-1)
        with np.errstate(divide="ignore"):
            log_w = np.log(np.clip(ref, 0.0, None))
    if available is not None:
        mask = np.asarray(available)
        if mask.dtype != bool or mask.shape != (n_states, n_actions):
            raise ValueError(
                f"available must be a boolean array of shape (S, A) = ({n_states}, {n_actions}); "
                f"got dtype {mask.dtype} and shape {mask.shape}"
            )
        log_w = np.where(mask, log_w, -np.inf)
    if np.any(np.all(np.isneginf(log_w), axis=-1)):
        s = int(np.flatnonzero(np.all(np.isneginf(log_w), axis=-1))[0])
        raise ValueError(f"state {s} has no action with positive reference weight / available")
    return log_w


def soft_value(q: np.ndarray, alpha: float, log_reference: np.ndarray | float = 0.0) -> np.ndarray:
    """``alpha * log sum_a exp(q/alpha + log_reference)`` over the last axis, computed stably.

    ``log_reference`` (the log of the reference weights, broadcasting against ``q``) may hold
    ``-inf`` (excluded actions) but not everywhere in a row; NaN and ``+inf`` are refused.

    Raises
    ------
    ValueError
        If ``q`` is empty or non-finite, ``alpha <= 0``, or ``log_reference`` holds NaN or
        ``+inf``, does not broadcast against ``q``, or excludes every action of a row.
    """
    q = as_float_array("q", q)
    alpha = check_positive("alpha", alpha)
    if q.ndim == 0:
        raise ValueError(f"q must have an action axis (at least 1-D); got shape {q.shape}")
    log_ref = as_float_array("log_reference", log_reference, allow_empty=True, finite=False)
    if np.any(np.isnan(log_ref)) or np.any(np.isposinf(log_ref)):
        bad = tuple(np.argwhere(np.isnan(log_ref) | np.isposinf(log_ref))[0])
        raise ValueError(
            f"log_reference must be finite or -inf (an excluded action); entry {bad} is "
            f"{log_ref[bad]}"
        )
    try:
        shape = np.broadcast_shapes(q.shape, log_ref.shape)
    except ValueError as exc:
        raise ValueError(
            f"log_reference must broadcast against q; got shapes {log_ref.shape} and {q.shape}"
        ) from exc
    if shape != q.shape:
        raise ValueError(
            f"log_reference must broadcast to the shape of q {q.shape}; got {log_ref.shape}"
        )
    if np.any(np.all(np.isneginf(np.broadcast_to(log_ref, q.shape)), axis=-1)):
        raise ValueError("log_reference must not be -inf for every action of a row")
    return _soft_value(q, alpha, log_ref)


def _soft_value(q: np.ndarray, alpha: float, log_reference: np.ndarray | float) -> np.ndarray:
    z = q / alpha + log_reference
    m = np.max(z, axis=-1, keepdims=True)
    return alpha * (m[..., 0] + np.log(np.sum(np.exp(z - m), axis=-1)))


def soft_value_iteration(
    mdp: TabularMDP,
    alpha: float,
    reference: np.ndarray | None = None,
    *,
    available: np.ndarray | None = None,
    tol: float = DEFAULT_TOL,
    max_iter: int | None = None,
    rewards: np.ndarray | None = None,
) -> ValueIterationResult:
    """Soft value iteration for the regularized optimal Q (see the module docstring).

    Parameters
    ----------
    mdp : TabularMDP
    alpha : float
        Temperature (entropy weight; the KL weight ``beta`` when ``reference`` is given), > 0.
    reference : array_like, shape (A,) or (S, A), optional
        Reference policy for KL regularization (rows on the simplex; zeros allowed).
    available : bool array, shape (S, A), optional
        State-dependent action sets (e.g. a vocabulary mask): unavailable actions get
        probability 0 and do not count in the entropy. Default: all actions.
    tol, max_iter, rewards
        As in :func:`theory.value_iteration.value_iteration`.

    Returns
    -------
    ValueIterationResult
        ``q`` is the soft Q; ``success`` and ``error_bound`` certify it.
    """
    mdp = check_mdp(mdp)
    alpha = check_positive("alpha", alpha)
    tol = check_positive("tol", tol)
    R = rewards_for(mdp, rewards)
    log_w = _log_weights(reference, available, mdp.n_states, mdp.n_actions)
    if max_iter is not None:
        max_iter = check_int("max_iter", max_iter, lo=1)

    def backup(q: np.ndarray) -> np.ndarray:
        return _soft_backup(mdp, R, q, alpha, log_w)

    return iterate_to_fixed_point(backup, np.zeros_like(R), mdp.gamma, tol, max_iter)


def _soft_backup(
    mdp: TabularMDP, R: np.ndarray, q: np.ndarray, alpha: float, log_w: np.ndarray
) -> np.ndarray:
    return R + mdp.gamma * mdp.expected_next(_soft_value(q, alpha, log_w))


def soft_bellman_operator(
    mdp: TabularMDP,
    q: np.ndarray,
    alpha: float,
    reference: np.ndarray | None = None,
    *,
    available: np.ndarray | None = None,
) -> np.ndarray:
    """One application of the soft Bellman operator ``T Q`` (a gamma-contraction, Geist et al. 2019).

    Parameters as in :func:`soft_value_iteration`; ``q`` has shape (..., S, A).
    """
    mdp = check_mdp(mdp)
    alpha = check_positive("alpha", alpha)
    q = as_float_array("q", q)
    if q.shape[-2:] != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"q must have shape (..., {mdp.n_states}, {mdp.n_actions}); got {q.shape}")
    log_w = _log_weights(reference, available, mdp.n_states, mdp.n_actions)
    return _soft_backup(mdp, mdp.R, q, alpha, log_w)


def soft_optimal_q(
    mdp: TabularMDP,
    alpha: float,
    reference: np.ndarray | None = None,
    *,
    available: np.ndarray | None = None,
    tol: float = DEFAULT_TOL,
    max_iter: int | None = None,
    rewards: np.ndarray | None = None,
) -> np.ndarray:
    """The soft-optimal Q (shape (..., S, A)); raises :class:`ConvergenceError` if not reached."""
    result = soft_value_iteration(
        mdp, alpha, reference, available=available, tol=tol, max_iter=max_iter, rewards=rewards
    )
    if not result.success:
        raise ConvergenceError(f"soft_optimal_q: {result.message} ({result.summary()})")
    return result.q


def soft_optimal_policy(
    mdp: TabularMDP,
    alpha: float,
    reference: np.ndarray | None = None,
    *,
    available: np.ndarray | None = None,
    tol: float = DEFAULT_TOL,
    max_iter: int | None = None,
    rewards: np.ndarray | None = None,
) -> np.ndarray:
    """The entropy- or KL-regularized soft-optimal policy ``pi(a|s)``, shape (..., S, A).

    ``pi = softmax(Q_alpha / alpha)`` without ``reference`` (Xu 2025, Prop 4.7) and
    ``pi ∝ reference * exp(Q_beta / beta)`` with one (the KL-regularized case, §3.3).
    Each row is a probability vector. By Prop 4.7 the map from rewards to this policy is
    Lipschitz: ``d_TV <= ||dR||_inf / (2 alpha (1 - gamma))``
    (:func:`theory.bounds.soft_policy_tv_bound`).

    Parameters
    ----------
    mdp : TabularMDP
    alpha : float
        Temperature > 0.
    reference : array_like, shape (A,) or (S, A), optional
        Reference policy (KL regularization).
    available : bool array, shape (S, A), optional
        State-dependent action sets; see :func:`soft_value_iteration`.
    tol : float, default 1e-10
        Certified sup-norm error of the soft Q; the policy's error is at most ``2 tol/alpha`` in
        the sup norm of its log (``tol/alpha`` from Q, ``tol/alpha`` from the soft value).
    max_iter : int, optional
    rewards : array_like, shape (..., S, A), optional
        A batch of rewards solved at once with ``mdp.P`` and ``mdp.gamma``.

    Raises
    ------
    ConvergenceError
        If the soft value iteration did not reach ``tol``.

    Examples
    --------
    >>> import numpy as np
    >>> from theory import TabularMDP
    >>> bandit = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), gamma=0.0)
    >>> np.round(soft_optimal_policy(bandit, alpha=1.0), 4)
    array([[0.7311, 0.2689]])
    """
    q = soft_optimal_q(
        mdp, alpha, reference, available=available, tol=tol, max_iter=max_iter, rewards=rewards
    )
    z = q / alpha + _log_weights(reference, available, mdp.n_states, mdp.n_actions)
    z = z - np.max(z, axis=-1, keepdims=True)
    pi = np.exp(z)
    return pi / pi.sum(axis=-1, keepdims=True)


def kl_regularized_bandit_policy(
    rewards: np.ndarray, reference: np.ndarray, beta: float
) -> np.ndarray:
    """Closed form ``pi ∝ reference * exp(rewards / beta)`` of ``max E_pi[r] - beta KL(pi||ref)``.

    The bandit (one-step) case of KL-regularized RLHF (Rafailov et al. 2023, §4; Xu 2025,
    §3.3). As ``beta -> 0`` it tends to ``reference`` conditioned on the argmax set (not the
    uniform distribution on it); as ``beta -> inf`` to ``reference``.

    Parameters
    ----------
    rewards : array_like, shape (..., A)
    reference : array_like, shape (A,) or (..., A)
        Probability vector(s).
    beta : float
        KL weight > 0.

    Returns
    -------
    ndarray, shape (..., A)

    Examples
    --------
    >>> np.round(kl_regularized_bandit_policy([1, 1, .5, 1], [.1, .3, .4, .2], 0.01), 4)
    array([0.1667, 0.5   , 0.    , 0.3333])
    """
    r = as_float_array("rewards", rewards)
    ref = as_float_array("reference", reference)
    if r.ndim < 1:
        raise ValueError(f"rewards must have at least one dimension; got shape {r.shape}")
    if ref.ndim < 1 or ref.shape[-1] != r.shape[-1]:
        raise ValueError(
            f"reference must have {r.shape[-1]} actions to match rewards; got shape {ref.shape}"
        )
    check_simplex("reference", ref, axis=-1)
    beta = check_positive("beta", beta)
    with np.errstate(divide="ignore"):
        z = r / beta + np.log(np.clip(ref, 0.0, None))
    z = z - np.max(z, axis=-1, keepdims=True)
    pi = np.exp(z)
    return pi / pi.sum(axis=-1, keepdims=True)
