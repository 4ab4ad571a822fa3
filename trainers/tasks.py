"""Tasks the trainers ship (no downloads): contextual bandits and the multi-reward task.

- :class:`ContextualBandit`: C contexts (prompts) with features, A arms (responses), a
  verifiable reward table ``r(c, a)`` and a reference policy; its KL-regularized optimum is the
  closed form ``pi_ref exp(r / beta) / Z`` (:meth:`ContextualBandit.closed_form`).
- :func:`multi_reward_bandit`: the stand-in for "prompt classes scored by separate reward
  models" (Xu 2025, §4-§5.6): K reward components, a router ``w_k(c)`` and planted ties at the
  ambiguous (boundary) contexts where two components conflict. It is the one-step (``gamma = 0``)
  case of :func:`theory.generators.conflicting_multi_reward_task`, where ``R_eff = Q*`` and every
  boundary context has an exact tie.
- :func:`verifiable_bandit`: the spec's GRPO benchmark task (8-d context, 10 arms, reward 1 iff
  the arm is ``argmax(W x)``).

Environments through the gymnasium API live in :mod:`trainers.envs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    """

    rewards: np.ndarray
    reference: np.ndarray
    features: np.ndarray
    tie_contexts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        r = np.asarray(self.rewards, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] < 2 or not np.all(np.isfinite(r)):
            raise ValueError(f"rewards must be a finite (C, A >= 2) array; got shape {r.shape}")
        ref = np.asarray(self.reference, dtype=np.float64)
        if ref.shape != r.shape or np.any(ref < 0) or not np.allclose(ref.sum(-1), 1.0):
            raise ValueError(f"reference must be (C, A) = {r.shape} probability rows")
        x = np.asarray(self.features, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != r.shape[0]:
            raise ValueError(f"features must have shape ({r.shape[0]}, d); got {x.shape}")
        object.__setattr__(self, "rewards", r)
        object.__setattr__(self, "reference", ref)
        object.__setattr__(self, "features", x)

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
        """One-hot context features; uniform reference by default."""
        r = np.asarray(rewards, dtype=np.float64)
        if r.ndim == 1:
            r = r[None]
        ref = np.full_like(r, 1.0 / r.shape[-1]) if reference is None else reference
        ref = np.broadcast_to(np.asarray(ref, dtype=np.float64), r.shape).copy()
        return cls(r, ref, np.eye(r.shape[0]), tuple(tie_contexts))

    def closed_form(self, beta: float, rewards: np.ndarray | None = None) -> np.ndarray:
        """``pi_ref exp(r / beta) / Z`` per context (:func:`theory.kl_regularized_bandit_policy`)."""
        r = self.rewards if rewards is None else rewards
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

    def effective(self, components: np.ndarray | None = None) -> np.ndarray:
        """``R_eff(c, a) = sum_k w_k(c) R_k(c, a)`` for one (K, C, A) or a batch (N, K, C, A)."""
        comp = self.components if components is None else np.asarray(components)
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
        if not isinstance(extra_dims, int | np.integer) or extra_dims < 0:
            raise ValueError(f"extra_dims must be an int >= 0; got {extra_dims!r}")
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
    """
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
    """Contexts ``x ~ N(0, I_dim)``; reward 1 iff the arm is ``argmax(W x)`` (spec §2 benchmark)."""
    if n_contexts < 1 or dim < 1 or n_actions < 2:
        raise ValueError(f"need n_contexts, dim >= 1, n_actions >= 2; got {n_contexts, dim}")
    x = rng.normal(size=(n_contexts, dim))
    W = rng.normal(size=(n_actions, dim))
    r = np.zeros((n_contexts, n_actions))
    r[np.arange(n_contexts), np.argmax(x @ W.T, axis=1)] = 1.0
    return ContextualBandit(r, np.full_like(r, 1.0 / n_actions), x)
