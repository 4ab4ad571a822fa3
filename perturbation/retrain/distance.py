"""How far apart two policies are on a set of states: total variation and argmax disagreement.

A *policy* here is any of

- a ``torch.nn.Module`` mapping a batch of states to action logits (``trainers.ppo.Agent``, a
  plain ``nn.Sequential``); the probabilities are ``softmax(logits)`` in float64;
- a callable ``states -> action probabilities`` (shape ``(n, A)``, rows on the simplex);
- a ``(S, A)`` array: a tabular policy, with states given as integer indices ``(n,)`` or as
  the one-hot rows ``(n, S)`` that :class:`trainers.envs.TabularMDPEnv` observes;
- a training result holding one: ``.agent`` (``trainers.ppo.PPOResult``) or a ``.policy``
  method (``trainers.soft_q.SoftQResult``).

Total variation is half the L1 distance, ``d_TV(p, q) = ½ Σ_a |p(a) - q(a)|`` (the distance of
The Policy Cliff, Xu 2025, arXiv:2507.20150, §2.1, in which Prop 4.7 bounds
``max_s d_TV``); averaged over states it is a pseudo-metric on policies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theory.checks import ArgumentTypeError, as_float_array

__all__ = ["PolicyDistance", "as_probabilities", "policy_distance"]

#: Tolerance on the row sums of probabilities returned by a callable policy (float32 outputs).
SIMPLEX_ATOL = 1e-5


def _unwrap(policy: Any) -> Any:
    """The policy inside a training result (``.agent`` module, or the ``.policy`` method)."""
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a dependency
        nn = None
    if nn is not None and isinstance(policy, nn.Module):
        return policy
    if isinstance(policy, np.ndarray) or callable(policy):
        return policy
    agent = getattr(policy, "agent", None)
    if nn is not None and isinstance(agent, nn.Module):
        return agent
    method = getattr(policy, "policy", None)
    if callable(method):
        return method
    return policy


def _table_probs(name: str, table: np.ndarray, states: np.ndarray) -> np.ndarray:
    pi = as_float_array(name, table, ndim=2)
    from theory.checks import check_simplex

    check_simplex(name, pi, atol=1e-8)
    S = pi.shape[0]
    if states.ndim == 2 and states.shape[1] == S:  # one-hot observations
        if not np.all((states == 0) | (states == 1)) or not np.all(states.sum(axis=1) == 1):
            raise ValueError(
                f"states: a tabular policy ({name} has {S} states) needs state indices (n,) or "
                f"one-hot rows (n, {S}); got rows that are not one-hot"
            )
        idx = np.argmax(states, axis=1)
    elif states.ndim == 1:
        if not np.all(states == np.round(states)) or states.min() < 0 or states.max() >= S:
            raise ValueError(
                f"states must be integer state indices in [0, {S}) for the tabular policy {name}; "
                f"got values in [{states.min()}, {states.max()}]"
            )
        idx = states.astype(np.int64)
    else:
        raise ValueError(
            f"states: a tabular policy ({name} has {S} states) needs state indices (n,) or one-hot "
            f"rows (n, {S}); got shape {states.shape}"
        )
    return pi[idx]


def _module_probs(name: str, module: Any, states: np.ndarray) -> np.ndarray:
    import torch

    p = next(module.parameters(), None)
    dtype = p.dtype if p is not None else torch.float32
    device = p.device if p is not None else "cpu"
    x = torch.as_tensor(states, dtype=dtype, device=device)
    was_training = module.training
    module.eval()  # dropout / batch norm deterministic while probing
    try:
        with torch.no_grad():
            logits = module(x)
    finally:
        module.train(was_training)
    if not isinstance(logits, torch.Tensor):
        raise ArgumentTypeError(
            f"{name} must return a tensor of action logits; got {type(logits).__name__}"
        )
    z = logits.detach().double().cpu().numpy()
    if z.ndim != 2 or z.shape[0] != states.shape[0]:
        raise ValueError(
            f"{name} must map {states.shape[0]} states to logits of shape ({states.shape[0]}, A); "
            f"got shape {z.shape}"
        )
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name} returned non-finite logits")
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _callable_probs(name: str, fn: Callable, states: np.ndarray) -> np.ndarray:
    out = fn(states)
    if hasattr(out, "detach") and hasattr(out, "cpu"):
        out = out.detach().cpu().numpy()
    try:
        pr = np.array(out, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"{name} must return action probabilities (an array (n, A)); got {type(out).__name__}"
        ) from None
    if pr.ndim != 2 or pr.shape[0] != states.shape[0]:
        raise ValueError(
            f"{name} must map {states.shape[0]} states to probabilities of shape "
            f"({states.shape[0]}, A); got shape {pr.shape}"
        )
    if not np.all(np.isfinite(pr)) or np.any(pr < -SIMPLEX_ATOL):
        raise ValueError(f"{name} returned probabilities that are negative or not finite")
    sums = pr.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > SIMPLEX_ATOL):
        i = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(
            f"{name} must return action probabilities (rows summing to 1, to {SIMPLEX_ATOL}); row "
            f"{i} sums to {sums[i]!r} (a module returning logits must be an nn.Module)"
        )
    pr = np.clip(pr, 0.0, None)
    return pr / pr.sum(axis=1, keepdims=True)


def as_probabilities(policy: Any, states: Any, *, name: str = "policy") -> np.ndarray:
    """The action probabilities of ``policy`` on ``states``, float64, shape ``(n, A)``.

    Parameters
    ----------
    policy : nn.Module, callable, array (S, A) or training result
        See the module docstring.
    states : array_like, shape (n, ...) (or (n,) indices for a tabular policy)
        A batch of states, finite.
    name : str
        The name used in error messages.

    Raises
    ------
    TypeError
        ``policy`` is none of the accepted kinds, or returns something that is not an array.
    ValueError
        Empty or non-finite ``states``; output of the wrong shape, non-finite, or rows that are
        not probability vectors.

    Examples
    --------
    >>> as_probabilities(np.array([[0.5, 0.5], [1.0, 0.0]]), np.array([1, 0]))
    array([[1. , 0. ],
           [0.5, 0.5]])
    """
    x = as_float_array("states", states)
    if x.ndim == 0:
        raise ValueError(f"states must be a batch (n, ...); got a scalar {states!r}")
    policy = _unwrap(policy)
    try:
        from torch import nn
    except ImportError:  # pragma: no cover
        nn = None
    if isinstance(policy, np.ndarray):
        return _table_probs(name, policy, x)
    if nn is not None and isinstance(policy, nn.Module):
        return _module_probs(name, policy, x)
    if callable(policy):
        return _callable_probs(name, policy, x)
    raise ArgumentTypeError(
        f"{name} must be an nn.Module (logits), a callable states -> probabilities, an (S, A) "
        f"array or a training result with .agent / .policy; got {type(policy).__name__}"
    )


@dataclass(frozen=True)
class PolicyDistance:
    """Per-state distances between two policies on the same states.

    Attributes
    ----------
    tv : ndarray, shape (n,)
        ``d_TV(pi_a(.|s), pi_b(.|s))`` per state, in [0, 1].
    disagreement : ndarray of bool, shape (n,)
        Whether the greedy actions (first argmax) differ.
    mean_tv, max_tv : float
        Mean and max of ``tv`` over the states.
    disagreement_rate : float
        Fraction of states whose greedy action differs.
    """

    tv: np.ndarray = field(repr=False)
    disagreement: np.ndarray = field(repr=False)
    mean_tv: float = field(init=False)
    max_tv: float = field(init=False)
    disagreement_rate: float = field(init=False)

    def __post_init__(self) -> None:
        tv = as_float_array("tv", self.tv, ndim=1)
        if np.any(tv < 0) or np.any(tv > 1 + 1e-12):
            raise ValueError(f"tv must lie in [0, 1]; got values in [{tv.min()}, {tv.max()}]")
        dis = np.asarray(self.disagreement)
        if dis.dtype != bool or dis.shape != tv.shape:
            raise ValueError(
                f"disagreement must be a boolean array of the shape of tv {tv.shape}; got dtype "
                f"{dis.dtype} and shape {dis.shape}"
            )
        tv = np.clip(tv, 0.0, 1.0)
        tv.setflags(write=False)
        dis = dis.copy()
        dis.setflags(write=False)
        object.__setattr__(self, "tv", tv)
        object.__setattr__(self, "disagreement", dis)
        object.__setattr__(self, "mean_tv", float(tv.mean()))
        object.__setattr__(self, "max_tv", float(tv.max()))
        object.__setattr__(self, "disagreement_rate", float(dis.mean()))

    @property
    def n_states(self) -> int:
        return int(self.tv.size)

    def summary(self) -> str:
        """One line: mean and max TV, greedy disagreement."""
        return (
            f"policy distance on {self.n_states} states: mean TV {self.mean_tv:.4g}, max TV "
            f"{self.max_tv:.4g}, greedy action differs on {self.disagreement_rate:.1%}"
        )


def _tv(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.clip(0.5 * np.abs(p - q).sum(axis=-1), 0.0, 1.0)


def policy_distance(policy_a: Any, policy_b: Any, states: Any) -> PolicyDistance:
    """Total variation and greedy-action disagreement of two policies on ``states``.

    Parameters
    ----------
    policy_a, policy_b : nn.Module, callable, array (S, A) or training result
        Policies over the same actions (see the module docstring).
    states : array_like, shape (n, ...)
        The states (e.g. those visited by one of the policies).

    Returns
    -------
    PolicyDistance
        ``tv[i] = ½ ||pi_a(.|s_i) - pi_b(.|s_i)||_1`` and whether the first argmax differs.

    Raises
    ------
    ValueError
        The policies have different numbers of actions; bad states or outputs (see
        :func:`as_probabilities`).

    Examples
    --------
    >>> a = np.array([[0.9, 0.1], [0.5, 0.5]])
    >>> b = np.array([[0.6, 0.4], [0.5, 0.5]])
    >>> d = policy_distance(a, b, np.array([0, 1]))
    >>> d.tv.round(6).tolist(), d.disagreement_rate
    ([0.3, 0.0], 0.0)
    """
    pa = as_probabilities(policy_a, states, name="policy_a")
    pb = as_probabilities(policy_b, states, name="policy_b")
    if pa.shape != pb.shape:
        raise ValueError(
            f"policy_b has {pb.shape[1]} actions but policy_a has {pa.shape[1]}; the policies "
            "must act in the same action space"
        )
    return PolicyDistance(_tv(pa, pb), np.argmax(pa, axis=1) != np.argmax(pb, axis=1))
