"""Tasks the trainers ship (no downloads): contextual bandits and the multi-reward task.

- :class:`ContextualBandit`: C contexts (prompts) with features, A arms (responses), a
  verifiable reward table ``r(c, a)`` and a reference policy; its KL-regularized optimum is the
  closed form ``pi_ref exp(r / beta) / Z`` (:meth:`ContextualBandit.closed_form`).
- :func:`multi_reward_bandit`: the stand-in for "prompt classes scored by separate reward
  models" (Xu 2025, §4-§5.6): K reward components, a router ``w_k(c)`` and planted ties at the
  ambiguous (boundary) contexts where two components conflict. It is the one-step (``gamma = 0``)
  case of :func:`theory.generators.conflicting_multi_reward_task`, where ``R_eff = Q*`` and every
  boundary context has an exact tie.
- :func:`verifiable_bandit`: a verifiable-reward task for GRPO-style training (8-d context,
  10 arms, reward 1 iff the arm is ``argmax(W x)``: a rule-based accuracy reward in the sense
  of DeepSeek-AI, "DeepSeek-R1", arXiv:2501.12948, 2025, §2.2.2).

Environments through the gymnasium API live in :mod:`trainers.envs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_int,
    check_positive_int,
    check_real,
    check_rng,
    check_simplex,
)
from theory.effective_reward import effective_reward
from theory.generators import conflicting_multi_reward_task
from theory.soft import kl_regularized_bandit_policy

__all__ = [
    "ContextualBandit",
    "MultiRewardBandit",
    "multi_reward_bandit",
    "verifiable_bandit",
]


@dataclass(frozen=True)
class ContextualBandit:
    """C contexts x A arms: ``rewards`` (C, A), ``reference`` (C, A), ``features`` (C, d).

    ``tie_contexts`` lists contexts whose best arms are tied (exactly, by construction).
    All arrays must be finite, with at least one context, two arms and one feature; every
    reference row is a probability vector.
    """

    rewards: np.ndarray
    reference: np.ndarray
    features: np.ndarray
    tie_contexts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        r = as_float_array("rewards", self.rewards, ndim=2)
        if r.shape[1] < 2:
            raise ValueError(f"rewards must have at least two arms (columns); got shape {r.shape}")
        ref = as_float_array("reference", self.reference)
        if ref.shape != r.shape:
            raise ValueError(f"reference must have the shape of rewards {r.shape}; got {ref.shape}")
        check_simplex("reference", ref, atol=1e-6)
        x = as_float_array("features", self.features, ndim=2)
        if x.shape[0] != r.shape[0] or x.shape[1] < 1:
            raise ValueError(f"features must have shape ({r.shape[0]}, d >= 1); got {x.shape}")
        if isinstance(self.tie_contexts, str | bytes) or not hasattr(self.tie_contexts, "__iter__"):
            raise ArgumentTypeError(
                f"tie_contexts must be a sequence of context indices; got {self.tie_contexts!r}"
            )
        ties = tuple(
            check_int(f"tie_contexts[{i}]", c, lo=0, hi=r.shape[0] - 1)
            for i, c in enumerate(self.tie_contexts)
        )
        object.__setattr__(self, "rewards", r)
        object.__setattr__(self, "reference", ref)
        object.__setattr__(self, "features", x)
        object.__setattr__(self, "tie_contexts", ties)

    @property
    def n_contexts(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_actions(self) -> int:
        return self.rewards.shape[1]

    @classmethod
    def tabular(
        cls, rewards: np.ndarray, reference: np.ndarray | None = None, tie_contexts=()
    ) -> ContextualBandit:
        """One-hot context features; uniform reference by default (one row or one per context)."""
        r = as_float_array("rewards", rewards)
        if r.ndim == 1:
            r = r[None]
        if r.ndim != 2 or r.shape[1] < 2:
            raise ValueError(f"rewards must have shape (C, A >= 2) or (A,); got {r.shape}")
        if reference is None:
            ref = np.full_like(r, 1.0 / r.shape[-1])
        else:
            ref = as_float_array("reference", reference)
            if ref.shape not in (r.shape, r.shape[1:]):
                raise ValueError(
                    f"reference must have shape {r.shape[1:]} or {r.shape}; got {ref.shape}"
                )
            ref = np.broadcast_to(ref, r.shape).copy()
        return cls(r, ref, np.eye(r.shape[0]), tie_contexts)

    def closed_form(self, beta: float, rewards: np.ndarray | None = None) -> np.ndarray:
        """``pi_ref exp(r / beta) / Z`` per context (:func:`theory.kl_regularized_bandit_policy`);
        ``rewards`` (C, A) or a batch (..., C, A) replaces the task's rewards."""
        r = self.rewards if rewards is None else as_float_array("rewards", rewards)
        if r.shape[-2:] != self.rewards.shape:
            raise ValueError(
                f"rewards must have shape (..., {self.n_contexts}, {self.n_actions}); got {r.shape}"
            )
        return kl_regularized_bandit_policy(r, self.reference, beta)


@dataclass(frozen=True)
class MultiRewardBandit:
    """K reward components on a contextual bandit with a router (Xu 2025, §4).

    ``components`` (K, C, A); ``weights`` (C, K) rows on the simplex; ``boundary`` the ambiguous
    contexts (weights ½, ½ on two conflicting components) where the effective reward has an
    exact ``tie_size``-way tie.
    """

    components: np.ndarray
    weights: np.ndarray
    boundary: tuple[int, ...]
    tie_size: int

    def __post_init__(self) -> None:
        comp = as_float_array("components", self.components, ndim=3)
        K, C, A = comp.shape
        if K < 2 or A < 2:
            raise ValueError(f"components must have shape (K >= 2, C, A >= 2); got {comp.shape}")
        w = as_float_array("weights", self.weights, ndim=2)
        if w.shape != (C, K):
            raise ValueError(f"weights must have shape (C, K) = {(C, K)}; got {w.shape}")
        check_simplex("weights", w, atol=1e-6)
        if isinstance(self.boundary, str | bytes) or not hasattr(self.boundary, "__iter__"):
            raise ArgumentTypeError(
                f"boundary must be a sequence of context indices; got {self.boundary!r}"
            )
        boundary = tuple(
            check_int(f"boundary[{i}]", c, lo=0, hi=C - 1) for i, c in enumerate(self.boundary)
        )
        tie = check_int("tie_size", self.tie_size, lo=2, hi=A)
        object.__setattr__(self, "components", comp)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "boundary", boundary)
        object.__setattr__(self, "tie_size", tie)

    def effective(self, components: np.ndarray | None = None) -> np.ndarray:
        """``R_eff(c, a) = sum_k w_k(c) R_k(c, a)`` for one (K, C, A) or a batch (N, K, C, A)."""
        if components is None:
            comp = self.components
        else:
            comp = as_float_array("components", components)
            if comp.shape[-3:] != self.components.shape or comp.ndim not in (3, 4):
                raise ValueError(
                    f"components must have shape {self.components.shape} or (N, "
                    f"{', '.join(map(str, self.components.shape))}); got {comp.shape}"
                )
        if comp.ndim == 4:
            return np.einsum("ck,nkca->nca", self.weights, comp)
        return effective_reward(comp, self.weights)

    def bandit(
        self, components: np.ndarray | None = None, features: np.ndarray | None = None
    ) -> ContextualBandit:
        """The contextual bandit with the effective reward and a uniform reference; one-hot
        contexts (a logit table) unless ``features`` (C, d) are given (see :meth:`features`)."""
        if features is None:
            return ContextualBandit.tabular(self.effective(components), tie_contexts=self.boundary)
        r = self.effective(components)
        return ContextualBandit(r, np.full_like(r, 1.0 / r.shape[1]), features, self.boundary)

    def features(self, rng: np.random.Generator, extra_dims: int) -> np.ndarray:
        """Context features ``[w(c), z(c)]`` for a policy that generalizes across contexts
        [derived]: the router weights (an ambiguous context sits halfway between its two
        domains) and an idiosyncratic part ``z(c) ~ N(0, I / extra_dims)`` (a prompt embedding).

        With ``K + extra_dims >= C`` the (C, K + extra_dims) matrix has full row rank almost
        surely, so a policy linear in these features can represent any logits on the contexts.
        """
        extra_dims = check_int("extra_dims", extra_dims, lo=0)
        check_rng("rng", rng)
        C = self.weights.shape[0]
        z = rng.normal(size=(C, int(extra_dims))) / np.sqrt(max(int(extra_dims), 1))
        return np.hstack([self.weights, z])

    def interior(self) -> tuple[int, ...]:
        """The unambiguous contexts."""
        return tuple(c for c in range(self.weights.shape[0]) if c not in self.boundary)


def multi_reward_bandit(
    rng: np.random.Generator,
    *,
    n_components: int = 3,
    contexts_per_domain: int = 3,
    n_actions: int = 3,
    tie_size: int = 2,
    conflict: float = 0.5,
) -> MultiRewardBandit:
    """The multi-reward task as a contextual bandit [derived]: ``conflicting_multi_reward_task``
    with ``gamma = 0``, so that ``R_eff = Q*`` and each boundary context has an exact tie.

    Interior contexts have a unique best arm (reward 1.5, the others uniform in [-1, 1]).

    Parameters
    ----------
    rng : numpy.random.Generator
    n_components : int, default 3
        Reward components (domains), >= 2.
    contexts_per_domain : int, default 3
        Interior contexts per domain, >= 1.
    n_actions : int, default 3
        Arms, >= 2.
    tie_size : int, default 2
        Tied best arms at each boundary context, in ``[2, n_actions]``.
    conflict : float, default 0.5
        How far the two components at a boundary context pull apart (finite, >= 0).
    """
    check_rng("rng", rng)
    check_int("n_components", n_components, lo=2)
    check_positive_int("contexts_per_domain", contexts_per_domain)
    check_int("n_actions", n_actions, lo=2)
    check_int("tie_size", tie_size, lo=2, hi=int(n_actions))
    check_real("conflict", conflict, lo=0.0)
    t = conflicting_multi_reward_task(
        rng,
        n_components=n_components,
        states_per_domain=contexts_per_domain,
        n_actions=n_actions,
        tie_size=tie_size,
        gamma=0.0,
        conflict=conflict,
    )
    return MultiRewardBandit(t.rewards, t.weights, t.boundary_states, t.tie_size)


def verifiable_bandit(
    rng: np.random.Generator, *, n_contexts: int = 64, dim: int = 8, n_actions: int = 10
) -> ContextualBandit:
    """Contexts ``x ~ N(0, I_dim)``; reward 1 iff the arm is ``argmax(W x)`` for a random
    ``W`` (n_actions, dim): a rule-based accuracy reward (DeepSeek-R1, 2025, §2.2.2)."""
    check_rng("rng", rng)
    check_positive_int("n_contexts", n_contexts)
    check_positive_int("dim", dim)
    check_int("n_actions", n_actions, lo=2)
    x = rng.normal(size=(n_contexts, dim))
    W = rng.normal(size=(n_actions, dim))
    r = np.zeros((n_contexts, n_actions))
    r[np.arange(n_contexts), np.argmax(x @ W.T, axis=1)] = 1.0
    return ContextualBandit(r, np.full_like(r, 1.0 / n_actions), x)
