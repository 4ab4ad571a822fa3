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

Continuous (Gaussian) policies are accepted too: a ``torch.nn.Module`` returning a pair
``(mean, log_std)`` (a diagonal Gaussian, CleanRL/SB3 actors; ``log_std`` of shape ``(n, d)`` or
``(d,)``), or a callable returning ``(mean, cov)`` (``cov`` of shape ``(n, d, d)``, ``(d, d)``
shared, or ``(n, d)`` diagonal variances). :func:`policy_distance` then returns a
:class:`GaussianPolicyDistance`: per state the closed-form KL in both directions,

    KL(N_a || N_b) = ½ [tr(Σ_b⁻¹ Σ_a) + δᵀ Σ_b⁻¹ δ − d + ln det Σ_b − ln det Σ_a],  δ = μ_b − μ_a,

and a bound on the total variation: Pinsker's ``sqrt(KL / 2)`` and the Bretagnolle–Huber bound
``sqrt(1 − exp(−KL))`` with the smaller KL of the two directions (Tsybakov 2009, Lemma 2.5 and
Eq. 2.25), and, where the two covariances are equal, the exact value
``d_TV = 2 Φ(Δ / 2) − 1`` with the Mahalanobis distance ``Δ = sqrt(δᵀ Σ⁻¹ δ)`` [derived: the
log-likelihood ratio is affine in the projection ``δᵀ Σ⁻¹ x``, a 1-D Gaussian of variance
``Δ²`` under both, shifted by ``Δ²``; the two densities cross at its midpoint].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr

from theory.checks import ArgumentTypeError, as_float_array

__all__ = [
    "GaussianPolicyDistance",
    "PolicyDistance",
    "as_gaussian",
    "as_probabilities",
    "policy_distance",
]

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


def _check_tv(tv: object) -> np.ndarray:
    """Per-state total variations: a read-only vector in [0, 1] (rounding above 1 clipped)."""
    out = as_float_array("tv", tv, ndim=1)
    if np.any(out < 0) or np.any(out > 1 + 1e-12):
        raise ValueError(f"tv must lie in [0, 1]; got values in [{out.min()}, {out.max()}]")
    out = np.clip(out, 0.0, 1.0)
    out.setflags(write=False)
    return out


def _check_mask(name: str, mask: object, shape: tuple[int, ...]) -> np.ndarray:
    """A read-only boolean copy of ``mask``, of the shape of the per-state ``tv``."""
    arr = np.asarray(mask)
    if arr.dtype != bool or arr.shape != shape:
        raise ValueError(
            f"{name} must be a boolean array of the shape of tv {shape}; got dtype "
            f"{arr.dtype} and shape {arr.shape}"
        )
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


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
        tv = _check_tv(self.tv)
        dis = _check_mask("disagreement", self.disagreement, tv.shape)
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


# ---------------------------------------------------------------------------------------------
# Gaussian (continuous-action) policies
# ---------------------------------------------------------------------------------------------

#: Relative tolerance under which two covariances count as equal (the exact TV applies).
EQUAL_COV_RTOL = 1e-12


def _is_pair(out: Any) -> bool:
    return isinstance(out, tuple | list) and len(out) == 2


def _as_numpy(out: Any) -> Any:
    if hasattr(out, "detach") and hasattr(out, "cpu"):
        return out.detach().double().cpu().numpy()
    return out


def _gaussian_from_pair(name: str, out: Any, n: int, *, log_std: bool) -> tuple[np.ndarray, ...]:
    """Check ``(mean, log_std)`` or ``(mean, cov)`` for ``n`` states: float64 ``(n, d)`` means and
    ``(n, d, d)`` covariances (symmetric positive definite)."""
    what = "log_std" if log_std else "cov"
    try:
        mean = np.array(_as_numpy(out[0]), dtype=np.float64)
        second = np.array(_as_numpy(out[1]), dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"{name} must return (mean, {what}) arrays; got {type(out[0]).__name__}, "
            f"{type(out[1]).__name__}"
        ) from None
    if mean.ndim != 2 or mean.shape[0] != n or mean.shape[1] == 0:
        raise ValueError(f"{name} must return means of shape ({n}, d); got shape {mean.shape}")
    d = mean.shape[1]
    if not np.all(np.isfinite(mean)) or not np.all(np.isfinite(second)):
        raise ValueError(f"{name} returned a mean or {what} that is not finite")
    if log_std:
        if second.shape not in ((d,), (n, d)):
            raise ValueError(
                f"{name} must return log_std of shape ({n}, {d}) or ({d},); got {second.shape}"
            )
        var = np.broadcast_to(np.exp(2.0 * second), (n, d))
        cov = var[:, :, None] * np.eye(d)
    else:
        if second.shape == (n, d):  # diagonal variances
            if np.any(second <= 0):
                raise ValueError(f"{name} returned a non-positive variance (cov given as (n, d))")
            cov = second[:, :, None] * np.eye(d)
        elif second.shape in ((d, d), (n, d, d)):
            cov = np.broadcast_to(second, (n, d, d)).copy()
            if not np.allclose(cov, np.swapaxes(cov, 1, 2), rtol=1e-10, atol=1e-12):
                raise ValueError(f"{name} returned a covariance that is not symmetric")
            if np.any(np.linalg.eigvalsh(cov)[:, 0] <= 0):
                raise ValueError(f"{name} returned a covariance that is not positive definite")
        else:
            raise ValueError(
                f"{name} must return cov of shape ({n}, {d}, {d}), ({d}, {d}) or ({n}, {d}) "
                f"(diagonal); got {second.shape}"
            )
    return mean, np.ascontiguousarray(cov)


def _outputs(policy: Any, x: np.ndarray, name: str) -> tuple[str, Any]:
    """``("categorical", probs)`` or ``("gaussian", (mean, cov))`` for the states ``x``."""
    policy = _unwrap(policy)
    try:
        import torch
        from torch import nn
    except ImportError:  # pragma: no cover
        torch = nn = None
    if isinstance(policy, np.ndarray):
        return "categorical", _table_probs(name, policy, x)
    if nn is not None and isinstance(policy, nn.Module):
        p = next(policy.parameters(), None)
        dtype = p.dtype if p is not None else torch.float32
        device = p.device if p is not None else "cpu"
        was_training = policy.training
        policy.eval()
        try:
            with torch.no_grad():
                out = policy(torch.as_tensor(x, dtype=dtype, device=device))
        finally:
            policy.train(was_training)
        if _is_pair(out):
            return "gaussian", _gaussian_from_pair(name, out, x.shape[0], log_std=True)
        return "categorical", _module_probs(name, _Fixed(out), x)
    if callable(policy):
        out = policy(x)
        if _is_pair(out):
            return "gaussian", _gaussian_from_pair(name, out, x.shape[0], log_std=False)
        return "categorical", _callable_probs(name, lambda _: out, x)
    raise ArgumentTypeError(
        f"{name} must be an nn.Module (logits, or (mean, log_std)), a callable states -> "
        "probabilities or (mean, cov), an (S, A) array or a training result with .agent / "
        f".policy; got {type(policy).__name__}"
    )


class _Fixed:
    """A stand-in module whose output is already computed (reuses ``_module_probs``' checks)."""

    def __init__(self, out: Any):
        self.out, self.training = out, False

    def parameters(self):
        return iter(())

    def eval(self) -> None:
        pass

    def train(self, mode: bool) -> None:
        pass

    def __call__(self, _: Any) -> Any:
        return self.out


def as_gaussian(policy: Any, states: Any, *, name: str = "policy") -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian action distributions of ``policy`` on ``states``: means ``(n, d)`` and
    covariances ``(n, d, d)``, float64.

    ``policy`` is an ``nn.Module`` returning ``(mean, log_std)`` or a callable returning
    ``(mean, cov)`` (see the module docstring).

    Raises
    ------
    TypeError
        ``policy`` is not a Gaussian policy (it returns logits or probabilities, or is a table).
    ValueError
        Bad states; outputs of the wrong shape, non-finite, or a covariance that is not
        symmetric positive definite.

    Examples
    --------
    >>> mean, cov = as_gaussian(lambda s: (s[:, :1], np.eye(1)), np.array([[0.5, 1.0]]))
    >>> mean.tolist(), cov.tolist()
    ([[0.5]], [[[1.0]]])
    """
    x = as_float_array("states", states)
    if x.ndim == 0:
        raise ValueError(f"states must be a batch (n, ...); got a scalar {states!r}")
    kind, out = _outputs(policy, x, name)
    if kind != "gaussian":
        raise ArgumentTypeError(
            f"{name} must be a Gaussian policy (a module returning (mean, log_std) or a callable "
            "returning (mean, cov)); it returns action probabilities"
        )
    return out


def _gaussian_kl(ma, ca, mb, cb) -> np.ndarray:
    """``KL(N(ma, ca) || N(mb, cb))`` per row (float64, clipped at 0 against round-off)."""
    d = ma.shape[1]
    lb = np.linalg.cholesky(cb)
    solve = lambda m: np.linalg.solve(lb, m)  # noqa: E731  L_b^-1 m
    a_half = solve(ca)  # L_b^-1 C_a
    tr = np.trace(np.linalg.solve(np.swapaxes(lb, 1, 2), a_half), axis1=1, axis2=2)
    delta = solve((mb - ma)[:, :, None])[:, :, 0]
    logdet_b = 2.0 * np.log(np.diagonal(lb, axis1=1, axis2=2)).sum(1)
    logdet_a = np.linalg.slogdet(ca)[1]
    return np.maximum(0.5 * (tr + (delta**2).sum(1) - d + logdet_b - logdet_a), 0.0)


@dataclass(frozen=True)
class GaussianPolicyDistance:
    """Per-state distances between two Gaussian policies on the same states.

    Attributes
    ----------
    kl_ab, kl_ba : ndarray, shape (n,)
        ``KL(pi_a(.|s) || pi_b(.|s))`` and ``KL(pi_b || pi_a)``, closed form.
    tv : ndarray, shape (n,)
        An upper bound on ``d_TV(pi_a(.|s), pi_b(.|s))`` in [0, 1]: the exact value where the
        covariances are equal, else the smaller of Pinsker's and Bretagnolle–Huber's bounds.
    tv_exact : ndarray of bool, shape (n,)
        Where ``tv`` is the exact total variation (equal covariances).
    mean_shift : ndarray, shape (n,)
        ``||mu_a(s) - mu_b(s)||_2``.
    mean_tv, max_tv, mean_kl, max_kl : float
        Means and maxima over the states (``mean_kl`` of ``kl_ab``).
    """

    kl_ab: np.ndarray = field(repr=False)
    kl_ba: np.ndarray = field(repr=False)
    tv: np.ndarray = field(repr=False)
    tv_exact: np.ndarray = field(repr=False)
    mean_shift: np.ndarray = field(repr=False)
    mean_tv: float = field(init=False)
    max_tv: float = field(init=False)
    mean_kl: float = field(init=False)
    max_kl: float = field(init=False)

    def __post_init__(self) -> None:
        tv = _check_tv(self.tv)
        arrays = {"kl_ab": self.kl_ab, "kl_ba": self.kl_ba, "mean_shift": self.mean_shift}
        for key, value in arrays.items():
            arr = as_float_array(key, value, shape=tv.shape)
            if np.any(arr < 0):
                raise ValueError(f"{key} must be non-negative; got min {arr.min()}")
            arr.setflags(write=False)
            object.__setattr__(self, key, arr)
        exact = _check_mask("tv_exact", self.tv_exact, tv.shape)
        object.__setattr__(self, "tv", tv)
        object.__setattr__(self, "tv_exact", exact)
        object.__setattr__(self, "mean_tv", float(tv.mean()))
        object.__setattr__(self, "max_tv", float(tv.max()))
        object.__setattr__(self, "mean_kl", float(self.kl_ab.mean()))
        object.__setattr__(self, "max_kl", float(self.kl_ab.max()))

    @property
    def n_states(self) -> int:
        return int(self.tv.size)

    def summary(self) -> str:
        """One line: mean and max KL and TV bound."""
        return (
            f"Gaussian policy distance on {self.n_states} states: mean KL {self.mean_kl:.4g} "
            f"(max {self.max_kl:.4g}), TV <= {self.mean_tv:.4g} on average (max "
            f"{self.max_tv:.4g}; exact on {self.tv_exact.mean():.0%} of states)"
        )


def _gaussian_distance(ma, ca, mb, cb) -> GaussianPolicyDistance:
    kl_ab, kl_ba = _gaussian_kl(ma, ca, mb, cb), _gaussian_kl(mb, cb, ma, ca)
    kl = np.minimum(kl_ab, kl_ba)
    bound = np.minimum(np.sqrt(kl / 2.0), np.sqrt(-np.expm1(-kl)))  # Pinsker, Bretagnolle-Huber
    scale = np.maximum(np.abs(ca).max(axis=(1, 2)), np.abs(cb).max(axis=(1, 2)))
    equal = np.abs(ca - cb).max(axis=(1, 2)) <= EQUAL_COV_RTOL * scale
    tv = np.minimum(bound, 1.0)
    if np.any(equal):
        delta = (mb - ma)[equal][:, :, None]
        maha = np.sqrt(np.maximum((delta * np.linalg.solve(ca[equal], delta)).sum((1, 2)), 0.0))
        tv[equal] = 2.0 * ndtr(maha / 2.0) - 1.0  # exact for equal covariances [derived]
    return GaussianPolicyDistance(kl_ab, kl_ba, tv, equal, np.linalg.norm(ma - mb, axis=1))


def _tv(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.clip(0.5 * np.abs(p - q).sum(axis=-1), 0.0, 1.0)


def policy_distance(
    policy_a: Any, policy_b: Any, states: Any
) -> PolicyDistance | GaussianPolicyDistance:
    """Total variation and greedy-action disagreement of two policies on ``states``; for two
    Gaussian policies, the closed-form KL and a TV bound (exact for equal covariances).

    Parameters
    ----------
    policy_a, policy_b : nn.Module, callable, array (S, A) or training result
        Policies over the same actions (see the module docstring): both categorical or both
        Gaussian.
    states : array_like, shape (n, ...)
        The states (e.g. those visited by one of the policies).

    Returns
    -------
    PolicyDistance or GaussianPolicyDistance
        Categorical: ``tv[i] = ½ ||pi_a(.|s_i) - pi_b(.|s_i)||_1`` and whether the first argmax
        differs. Gaussian: ``kl_ab``, ``kl_ba`` and the TV bound ``tv`` per state.

    Raises
    ------
    ValueError
        The policies have different numbers of actions (or action dimensions), or one is
        Gaussian and the other not; bad states or outputs (see :func:`as_probabilities`,
        :func:`as_gaussian`).

    Examples
    --------
    >>> a = np.array([[0.9, 0.1], [0.5, 0.5]])
    >>> b = np.array([[0.6, 0.4], [0.5, 0.5]])
    >>> d = policy_distance(a, b, np.array([0, 1]))
    >>> d.tv.round(6).tolist(), d.disagreement_rate
    ([0.3, 0.0], 0.0)

    Two 1-D Gaussians of unit variance whose means differ by 1: KL = 1/2 and the exact
    ``d_TV = 2 Phi(1/2) - 1``:

    >>> g = policy_distance(lambda s: (s, np.eye(1)), lambda s: (s + 1, np.eye(1)), np.zeros((1, 1)))
    >>> round(g.mean_kl, 6), round(g.max_tv, 6), bool(g.tv_exact[0])
    (0.5, 0.382925, True)
    """
    x = as_float_array("states", states)
    if x.ndim == 0:
        raise ValueError(f"states must be a batch (n, ...); got a scalar {states!r}")
    kind_a, out_a = _outputs(policy_a, x, "policy_a")
    kind_b, out_b = _outputs(policy_b, x, "policy_b")
    if kind_a != kind_b:
        raise ValueError(
            f"policy_b is {kind_b} but policy_a is {kind_a}; both policies must be categorical "
            "or both Gaussian"
        )
    if kind_a == "gaussian":
        (ma, ca), (mb, cb) = out_a, out_b
        if ma.shape != mb.shape:
            raise ValueError(
                f"policy_b has actions of dimension {mb.shape[1]} but policy_a {ma.shape[1]}; "
                "the policies must act in the same action space"
            )
        return _gaussian_distance(ma, ca, mb, cb)
    pa, pb = out_a, out_b
    if pa.shape != pb.shape:
        raise ValueError(
            f"policy_b has {pb.shape[1]} actions but policy_a has {pa.shape[1]}; the policies "
            "must act in the same action space"
        )
    return PolicyDistance(_tv(pa, pb), np.argmax(pa, axis=1) != np.argmax(pb, axis=1))
