"""Per-state instability ("non-Lipschitz") directions of a discrete-action policy (RA-NLD, step 1).

For a policy with Q-values or logits ``Q(s, ·)`` and greedy action ``a*(s) = argmax_a Q(s, a)``
(held fixed), the direction of largest first-order change of the policy at ``s`` is taken as the
gradient of the softmax cross-entropy between the softmax policy and the argmax policy
(Korkmaz 2024, Definition / "Eqn 5", approximated as in its §3 [reconstructed]):

    J(s) = -log softmax(Q(s, ·))_{a*(s)},        v(s) = ∇_s J(s).

For a linear policy ``Q(s) = W s + b`` this is ``v(s) = Wᵀ (softmax(W s + b) - e_{a*})``
(:func:`linear_direction`), which lies in ``span{w_k - w_j}`` (the row-space restriction).

Public: :func:`instability_loss`, :func:`instability_directions`, :func:`linear_direction`,
:class:`InstabilityDirections`.

References
----------
.. [1] E. Korkmaz, "Understanding and Diagnosing Deep Reinforcement Learning", ICML 2024
   (PMLR v235, arXiv:2406.16979), §3 (RA-NLD).
.. [2] S. Huang et al., "Adversarial Attacks on Neural Network Policies", 2017 (the same loss).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from stability.decision_boundary._checks import (
    as_batch,
    as_states,
    check_policy,
    policy_dtype,
    q_values,
)
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_bool,
    check_nonnegative,
    check_positive_int,
)

__all__ = [
    "InstabilityDirections",
    "instability_directions",
    "instability_loss",
    "linear_direction",
]


def instability_loss(q: torch.Tensor, actions: torch.Tensor | None = None) -> torch.Tensor:
    """Per-state loss ``J = -log softmax(q)_{a*}`` (shape ``(B,)``), ``a* = argmax q`` by default.

    Computed as ``softplus(logsumexp_{k≠a*}(q_k - q_{a*}))``, so that ``∇J`` is accurate to relative round-off
    even where the softmax saturates.

    The greedy action is taken without gradient: it is the label, as in SA-DQN's attacks.

    Parameters
    ----------
    q : Tensor, shape (B, A)
        Finite Q-values or logits, ``A >= 2``.
    actions : Tensor of int, shape (B,), optional
        The labels, each in ``[0, A)``.

    Raises
    ------
    TypeError
        If ``q`` is not a floating tensor or ``actions`` not an integer tensor.
    ValueError
        If ``q`` is not finite ``(B, A)`` with ``A >= 2``, or ``actions`` has the wrong shape
        or an entry outside ``[0, A)``.
    """
    if not isinstance(q, torch.Tensor) or not q.is_floating_point():
        raise ArgumentTypeError(f"q must be a floating torch tensor (B, A); got {type(q).__name__}")
    if q.ndim != 2 or q.shape[0] == 0 or q.shape[1] < 2:
        raise ValueError(f"q must have shape (B, A) with B >= 1, A >= 2; got {tuple(q.shape)}")
    if not torch.isfinite(q.detach()).all():
        raise ValueError("q must be finite; got a NaN or inf entry")
    if actions is None:
        actions = q.detach().argmax(dim=1)
    else:
        if not isinstance(actions, torch.Tensor) or actions.is_floating_point():
            raise ArgumentTypeError(
                f"actions must be an integer torch tensor (B,); got {actions!r:.60}"
            )
        if actions.shape != (q.shape[0],):
            raise ValueError(f"actions must have shape ({q.shape[0]},); got {tuple(actions.shape)}")
        if ((actions < 0) | (actions >= q.shape[1])).any():
            raise ValueError(f"actions must lie in [0, {q.shape[1]}); got {actions.tolist()[:8]}")
        actions = actions.long()
    # = log(1 + Σ_{k≠a*} exp(q_k - q_{a*})): the cross-entropy's value, but its gradient
    # Σ_{k≠a*} p_k (∇q_k - ∇q_{a*}) is formed from differences only (no 1 - p_{a*}), so it
    # stays in span{w_k - w_j} to relative round-off when the softmax saturates [derived]:
    # the textbook form (1 - p_{a*}) ∇q_{a*} - ... cancels catastrophically once p_{a*}
    # rounds to 1 and leaves rounding noise outside the span.
    z = q - q.gather(1, actions[:, None])
    mask = torch.nn.functional.one_hot(actions, q.shape[1]).bool()
    return torch.nn.functional.softplus(torch.logsumexp(z.masked_fill(mask, -torch.inf), dim=1))


@dataclass(frozen=True)
class InstabilityDirections:
    """One instability direction per state.

    Attributes
    ----------
    directions : ndarray, shape (N, *state_shape), float64
        ``v(s)`` (unit vectors when ``normalize``); zero for dropped states.
    norms : ndarray, shape (N,)
        ``‖∇_s J(s)‖₂`` before normalisation (the oscillation statistic of Korkmaz 2024, §5).
    actions : ndarray, shape (N,), int
        The greedy actions ``a*(s)``.
    kept : ndarray, shape (N,), bool
        ``norms > tol``: states whose gradient is above the rounding floor (where the softmax
        saturates, ``∇J`` is rounding noise); the others carry a zero direction.
    normalized : bool
    tol : float
    """

    directions: np.ndarray
    norms: np.ndarray
    actions: np.ndarray
    kept: np.ndarray
    normalized: bool
    tol: float

    @property
    def n_kept(self) -> int:
        """Number of states kept (``norms > tol``)."""
        return int(self.kept.sum())

    @property
    def n_dropped(self) -> int:
        """Number of saturated states dropped (``norms <= tol``)."""
        return len(self.kept) - self.n_kept

    @property
    def matrix(self) -> np.ndarray:
        """The kept directions flattened, shape ``(n_kept, d)``."""
        return self.directions.reshape(len(self.norms), -1)[self.kept]

    def summary(self) -> str:
        n, k = len(self.norms), int(self.kept.sum())
        med = float(np.median(self.norms)) if n else float("nan")
        return (
            f"{n} directions of shape {self.directions.shape[1:]} ({k} kept, tol {self.tol:g}), "
            f"median ‖∇J‖ = {med:.3g}, normalized={self.normalized}"
        )


def _gradients(
    policy: Callable, x: torch.Tensor, actions: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched ``∇_s J(s)`` and the greedy actions (states are independent: one backward)."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        q = q_values(policy, x)
        a = q.detach().argmax(dim=1) if actions is None else actions
        (g,) = torch.autograd.grad(instability_loss(q, a).sum(), x)
    return g.detach(), a


def instability_directions(
    policy: Callable,
    states: object,
    normalize: bool = False,
    *,
    tol: float = 1e-8,
    batch_size: int = 1024,
) -> InstabilityDirections:
    """The per-state instability directions ``v(s) = ∇_s J(s)`` (Korkmaz 2024, Eqn 5).

    Parameters
    ----------
    policy : torch.nn.Module or callable
        Maps a batch ``(B, *state_shape)`` to Q-values or logits ``(B, A)``, ``A >= 2``. It must
        treat states independently (no batch-norm in training mode).
    states : array_like or Tensor, shape (N, *state_shape)
        Evaluated in the policy's parameter dtype (use a float64 policy for exact tests).
    normalize : bool, default False
        [reconstructed] Whether each ``v(s)`` is scaled to unit norm before aggregation; the
        paper (§3) does not say. Unnormalised, states with large gradients dominate ``G_S``.
    tol : float, default 1e-8
        States with ``‖v(s)‖ <= tol`` are dropped (zero direction, ``kept = False``): there the
        softmax is saturated and the gradient is rounding noise that, normalised, would inject a
        spurious direction [derived]: with ``p_{a*}`` within round-off of 1, ``‖∇J‖`` is of the
        order of ``(1 - p_{a*}) max_k ‖∇q_k‖``, so a float64 policy reaches about 1e-16 and a
        float32 one about 1e-7 relative to its gradient scale. A ``RuntimeWarning`` reports
        how many states were dropped; the result keeps the count (:attr:`~InstabilityDirections.n_kept`).
    batch_size : int, default 1024
        States per backward pass.

    Returns
    -------
    InstabilityDirections

    Raises
    ------
    TypeError
        If ``policy`` is not callable, or an argument has the wrong type.
    ValueError
        If ``policy`` does not return finite ``(B, A)`` with ``A >= 2``, ``states`` is not a
        finite ``(N, *shape)`` array, or ``tol``/``batch_size`` are invalid.

    Warns
    -----
    RuntimeWarning
        When states are dropped (``norms <= tol``), with the counts kept and dropped.

    Examples
    --------
    >>> import torch
    >>> pol = torch.nn.Linear(3, 2).double()
    >>> r = instability_directions(pol, torch.zeros(5, 3, dtype=torch.float64), normalize=True)
    >>> r.directions.shape
    (5, 3)

    References
    ----------
    Korkmaz, ICML 2024, §3, Definition ("Eqn 5") and its cross-entropy approximation.
    """
    check_policy(policy)
    normalize = check_bool("normalize", normalize)
    tol = check_nonnegative("tol", tol)
    batch_size = check_positive_int("batch_size", batch_size)
    x = as_states("states", states, policy_dtype(policy))
    grads, acts = [], []
    for i in range(0, x.shape[0], batch_size):
        g, a = _gradients(policy, x[i : i + batch_size])
        grads.append(g.to(torch.float64))
        acts.append(a)
    g = torch.cat(grads).numpy()
    flat = g.reshape(len(g), -1)
    norms = np.linalg.norm(flat, axis=1)
    kept = norms > tol
    if not kept.all():
        warnings.warn(
            f"instability_directions: {int((~kept).sum())} of {len(kept)} states dropped "
            f"(saturated softmax, ‖∇J‖ <= tol = {tol:g}); {int(kept.sum())} kept. Their "
            "directions are zero and G_S uses the kept states only; lower tol or use a "
            "float64 policy to keep more.",
            RuntimeWarning,
            stacklevel=2,
        )
    flat = np.where(kept[:, None], flat, 0.0)
    if normalize:
        flat = flat / np.where(kept, norms, 1.0)[:, None]
    return InstabilityDirections(
        directions=flat.reshape(g.shape),
        norms=norms,
        actions=torch.cat(acts).numpy().astype(int),
        kept=kept,
        normalized=bool(normalize),
        tol=tol,
    )


def linear_direction(W: object, b: object, states: object) -> np.ndarray:
    """Closed form of ``v(s)`` for a linear policy ``Q(s) = W s + b``: ``Wᵀ(softmax(Ws+b) - e_{a*})``.

    Parameters
    ----------
    W : array_like, shape (A, d)
    b : array_like, shape (A,)
    states : array_like, shape (N, d)

    Returns
    -------
    ndarray, shape (N, d), float64

    Raises
    ------
    ValueError
        On shape mismatch or non-finite input.

    References
    ----------
    [derived] With ``p = softmax(q)``, ``q = W s + b`` and ``J = -log p_{a*}``,
    ``∂J/∂q = p - e_{a*}`` and ``∂q/∂s = W``, so ``∇_s J = Wᵀ(p - e_{a*})``; the
    ``a*`` component ``p_{a*} - 1 = -Σ_{k≠a*} p_k`` puts ``v(s)`` in ``span{w_k - w_{a*}}``.
    """
    W = as_batch("W", W, min_ndim=2)
    b = as_float_array("b", b)
    S = as_batch("states", states, min_ndim=2)
    if W.ndim != 2 or b.shape != (W.shape[0],) or S.ndim != 2 or S.shape[1] != W.shape[1]:
        raise ValueError(
            f"W (A, d), b (A,), states (N, d) must agree; got {W.shape}, {b.shape}, {S.shape}"
        )
    q = S @ W.T + b
    p = np.exp(q - q.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(S)), q.argmax(axis=1)] -= 1.0
    return p @ W
