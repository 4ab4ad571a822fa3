"""Conversational recommendation on a dynamic weighted graph (UNICORN's environment, toy scale).

Multi-round conversational recommendation (MCR): a simulated user holds a target item; each
turn the system either asks about one attribute (the user answers yes/no, truthfully) or
recommends ``k`` items (the user accepts when the target is among them). UNICORN (Deng et
al. 2021 [1]_, Sec. 3 and 4.1) keeps the conversation as a *dynamic weighted graph* of the
user, the candidate items and the candidate attributes, and shrinks the action space with two
selection strategies (Sec. 4.3):

- **candidates** (Sec. 4.1): ``V_cand`` = items holding every accepted attribute, minus the
  items already rejected; ``P_cand`` = attributes of the candidate items not yet asked;
- **edge weights** (Sec. 4.1; official code ``RL/env_binary_question.py``, ``_item_score``):
  the user-item edge of candidate ``v`` weighs ``σ(w_v)`` with the preference score

      w_v = e_u·e_v + Σ_{p ∈ P_acc} e_p·e_v − Σ_{p ∈ P_rej ∩ P_v} σ(e_p·e_v);

  item-attribute edges (``v``, ``p``) weigh 1 for each non-rejected attribute ``p`` of ``v``;
- **preference-based item selection**: the ``K_v`` candidate items of largest ``w_v``;
- **weighted-entropy attribute selection**: the ``K_p`` candidate attributes of largest

      H(p) = −q_p log2 q_p − (1 − q_p) log2 (1 − q_p),
      q_p = Σ_{v ∈ V_cand, p ∈ P_v} σ(w_v) / Σ_{v ∈ V_cand} σ(w_v)

  (``H = 0`` at ``q_p ∈ {0, 1}``): the attributes that best split the preference-weighted
  candidates. The official code computes this entropy but ranks attributes by an embedding
  score (``_feature_score``); ``attribute_selection="preference"`` reproduces that reading.

Rewards (official code ``reward_dict``): ``+1`` accepted recommendation, ``−0.1`` rejected
recommendation, ``+0.01`` accepted ask, ``−0.1`` rejected ask, ``−0.3`` when the user quits at
the turn limit; a :class:`CRSRewards` makes them parameters. As in the official code the
conversation opens with one attribute of the target accepted, and a rejected recommendation
removes the recommended items from the candidates.

Toy-scale choices [reconstructed]: a seeded synthetic catalogue (:func:`synthetic_catalogue`)
with embeddings built from the attributes instead of the paper's FM-pretrained ones
(Yelp/LastFM); recommending item ``v`` recommends ``v`` and the ``k − 1`` other candidates of
largest ``w_v`` (the paper ranks the list by Q); observations are hand-made
(state summary, candidate) feature pairs (:data:`STATE_FEATURES`, :data:`ACTION_FEATURES`) in
place of the graph network + Transformer encoder, which a catalogue of a few dozen items does
not need.

References
----------
.. [1] Y. Deng, Y. Li, F. Sun, B. Ding, W. Lam, "Unified Conversational Recommendation Policy
   Learning via Graph-based Reinforcement Learning", SIGIR 2021 (arXiv:2105.09710),
   Sec. 3 (problem), 4.1 (dynamic weighted graph), 4.3 (action selection strategies), 5.1
   (rewards); official code github.com/dengyang17/unicorn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import gymnasium as gym
import networkx as nx
import numpy as np

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_bool,
    check_choice,
    check_int,
    check_positive_int,
    check_real,
    check_seed,
)

__all__ = [
    "ACTION_FEATURES",
    "STATE_FEATURES",
    "CRSRewards",
    "Catalogue",
    "ConversationGraph",
    "ConversationalRecEnv",
    "synthetic_catalogue",
    "weighted_entropy",
]

#: Names of the state-summary features repeated in every row of an observation.
STATE_FEATURES = ("turn", "log_candidates", "accepted", "rejected_attributes", "rejected_items")
#: Names of the per-action features (a row per global action: attributes first, then items).
ACTION_FEATURES = ("is_item", "is_attribute", "preference_share", "top_k", "entropy", "q_p")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Catalogue:
    """Users, items and attributes with their embeddings.

    Parameters
    ----------
    item_attributes : bool array (n_items, n_attributes)
        ``P_v``: which attributes each item holds (every item at least one).
    user_embeddings, item_embeddings, attribute_embeddings : arrays (n, d), finite
    user_items : tuple of int arrays
        The items each user may target (non-empty, in range).
    """

    item_attributes: np.ndarray
    user_embeddings: np.ndarray
    item_embeddings: np.ndarray
    attribute_embeddings: np.ndarray
    user_items: tuple[np.ndarray, ...] = field(repr=False)

    def __post_init__(self) -> None:
        ia = np.asarray(self.item_attributes)
        if ia.ndim != 2 or ia.shape[0] < 1 or ia.shape[1] < 1:
            raise ValueError(
                f"item_attributes must be a non-empty (n_items, n_attributes) array; got shape "
                f"{ia.shape}"
            )
        if ia.dtype != bool:
            if not np.isin(ia, (0, 1)).all():
                raise ValueError("item_attributes must be boolean (0/1)")
            ia = ia.astype(bool)
        if not ia.any(axis=1).all():
            raise ValueError(
                f"item_attributes: every item needs an attribute; items "
                f"{np.flatnonzero(~ia.any(axis=1)).tolist()} have none"
            )
        n_items, n_attrs = ia.shape
        ie = as_float_array("item_embeddings", self.item_embeddings, shape=(n_items, None))
        d = ie.shape[1]
        ae = as_float_array("attribute_embeddings", self.attribute_embeddings, shape=(n_attrs, d))
        ue = as_float_array("user_embeddings", self.user_embeddings, shape=(None, d))
        if not isinstance(self.user_items, tuple | list) or len(self.user_items) != ue.shape[0]:
            raise ValueError(
                f"user_items must hold one item array per user ({ue.shape[0]}); got "
                f"{type(self.user_items).__name__} of length {len(self.user_items)}"
                if isinstance(self.user_items, tuple | list)
                else f"user_items must be a tuple of item arrays; got "
                f"{type(self.user_items).__name__}"
            )
        items = []
        for u, its in enumerate(self.user_items):
            arr = np.asarray(its)
            if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
                raise ValueError(f"user_items[{u}] must be a non-empty 1-d integer array")
            if arr.min() < 0 or arr.max() >= n_items:
                raise ValueError(f"user_items[{u}] must hold item ids in [0, {n_items - 1}]")
            items.append(arr.astype(np.int64))
        for name, val in (
            ("item_attributes", ia),
            ("item_embeddings", ie),
            ("attribute_embeddings", ae),
            ("user_embeddings", ue),
            ("user_items", tuple(items)),
        ):
            object.__setattr__(self, name, val)

    @property
    def n_users(self) -> int:
        return self.user_embeddings.shape[0]

    @property
    def n_items(self) -> int:
        return self.item_attributes.shape[0]

    @property
    def n_attributes(self) -> int:
        return self.item_attributes.shape[1]


def synthetic_catalogue(
    n_users: int = 6,
    n_items: int = 30,
    n_attributes: int = 10,
    *,
    attributes_per_item: int = 3,
    items_per_user: int = 4,
    dim: int = 4,
    noise: float = 0.3,
    seed: int = 0,
) -> Catalogue:
    """A seeded random catalogue: attribute sets, embeddings built from them, user histories.

    Each item draws ``attributes_per_item`` distinct attributes; attribute embeddings are
    ``N(0, I/d)``; an item's embedding is the mean of its attributes' plus ``N(0, noise²/d)``; a
    user's items are drawn without replacement and its embedding is their mean plus noise (so
    the preference score ``e_u·e_v`` favours the user's items, as FM embeddings would).

    Examples
    --------
    >>> cat = synthetic_catalogue(seed=0)
    >>> cat.n_items, cat.n_attributes, int(cat.item_attributes.sum(axis=1).max())
    (30, 10, 3)
    """
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    n_attributes = check_int("n_attributes", n_attributes, lo=2)
    k = check_int("attributes_per_item", attributes_per_item, lo=1, hi=n_attributes)
    m = check_int("items_per_user", items_per_user, lo=1, hi=n_items)
    dim = check_positive_int("dim", dim)
    noise = check_real("noise", noise, lo=0.0)
    rng = np.random.default_rng(check_seed(seed))
    ia = np.zeros((n_items, n_attributes), dtype=bool)
    for v in range(n_items):
        ia[v, rng.choice(n_attributes, size=k, replace=False)] = True
    scale = 1.0 / np.sqrt(dim)
    ae = rng.normal(0.0, scale, (n_attributes, dim))
    ie = (ia @ ae) / k + rng.normal(0.0, noise * scale, (n_items, dim))
    user_items = tuple(np.sort(rng.choice(n_items, size=m, replace=False)) for _ in range(n_users))
    ue = np.stack([ie[its].mean(0) for its in user_items])
    ue = ue + rng.normal(0.0, noise * scale, ue.shape)
    return Catalogue(ia, ue, ie, ae, user_items)


def weighted_entropy(member: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """UNICORN's weighted entropy of each attribute over weighted candidate items (Sec. 4.3).

    ``q_p = Σ_v weights[v] member[v, p] / Σ_v weights[v]`` and
    ``H(p) = −q_p log2 q_p − (1 − q_p) log2(1 − q_p)``, with ``H = 0`` at ``q_p ∈ {0, 1}``.

    Parameters
    ----------
    member : bool array (n_candidates, n_attributes)
        ``member[v, p]``: candidate ``v`` holds attribute ``p``.
    weights : array (n_candidates,), > 0
        The candidates' weights ``σ(w_v)``.

    Returns
    -------
    array (n_attributes,)
        Entropies in bits, in ``[0, 1]``.

    Examples
    --------
    >>> weighted_entropy(np.array([[1, 0], [0, 1]], bool), np.array([1.0, 1.0]))
    array([1., 1.])
    """
    member = np.asarray(member)
    if member.ndim != 2 or member.shape[0] == 0:
        raise ValueError(
            f"member must be a non-empty (n_candidates, n_attributes) array; got shape "
            f"{member.shape}"
        )
    if member.dtype != bool and not np.isin(member, (0, 1)).all():
        raise ValueError("member must be boolean (0/1)")
    w = as_float_array("weights", weights, shape=(member.shape[0],))
    if (w <= 0).any():
        raise ValueError("weights must be > 0 (sigmoid edge weights)")
    q = (w @ member.astype(np.float64)) / w.sum()
    q = np.clip(q, 0.0, 1.0)
    out = np.zeros_like(q)
    inner = (q > 0) & (q < 1)
    qi = q[inner]
    out[inner] = -qi * np.log2(qi) - (1 - qi) * np.log2(1 - qi)
    return out


class ConversationGraph:
    """The dynamic weighted graph of one conversation (UNICORN Sec. 4.1).

    Holds the user, the accepted and rejected attributes and the rejected items; candidates,
    preference scores, weighted entropies and the pruned action sets follow from them. Updates
    (:meth:`accept_attribute`, :meth:`reject_attribute`, :meth:`reject_items`) are the
    per-turn graph updates.

    Parameters
    ----------
    catalogue : Catalogue
    user : int
        The conversing user.
    """

    def __init__(self, catalogue: Catalogue, user: int):
        if not isinstance(catalogue, Catalogue):
            raise ArgumentTypeError(
                f"catalogue must be a Catalogue; got {type(catalogue).__name__}"
            )
        self.catalogue = catalogue
        self.user = check_int("user", user, lo=0, hi=catalogue.n_users - 1)
        self.accepted: list[int] = []
        self.rejected: list[int] = []
        self.rejected_items: set[int] = set()

    # --- updates (one per user answer) ---
    def _attribute(self, p: object) -> int:
        return check_int("attribute", p, lo=0, hi=self.catalogue.n_attributes - 1)

    def accept_attribute(self, attribute: int) -> None:
        """The user said yes to ``attribute``: items without it leave ``V_cand``."""
        p = self._attribute(attribute)
        if p in self.accepted or p in self.rejected:
            raise ValueError(f"attribute {p} was already asked")
        self.accepted.append(p)

    def reject_attribute(self, attribute: int) -> None:
        """The user said no: ``attribute`` leaves ``P_cand`` and lowers its items' scores."""
        p = self._attribute(attribute)
        if p in self.accepted or p in self.rejected:
            raise ValueError(f"attribute {p} was already asked")
        self.rejected.append(p)

    def reject_items(self, items) -> None:
        """The user rejected a recommendation: ``items`` leave ``V_cand``."""
        arr = np.asarray(items)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
            raise ValueError(f"items must be a non-empty 1-d integer array; got {items!r}")
        if arr.min() < 0 or arr.max() >= self.catalogue.n_items:
            raise ValueError(f"items must be item ids in [0, {self.catalogue.n_items - 1}]")
        self.rejected_items.update(int(v) for v in arr)

    # --- derived quantities ---
    def candidate_items(self) -> np.ndarray:
        """``V_cand``: items holding every accepted attribute, minus rejected items (sorted)."""
        ia = self.catalogue.item_attributes
        ok = ia[:, self.accepted].all(axis=1) if self.accepted else np.ones(len(ia), bool)
        if self.rejected_items:
            ok[list(self.rejected_items)] = False
        return np.flatnonzero(ok)

    def candidate_attributes(self) -> np.ndarray:
        """``P_cand``: attributes of candidate items, not yet asked (sorted)."""
        held = self.catalogue.item_attributes[self.candidate_items()].any(axis=0)
        held[self.accepted + self.rejected] = False
        return np.flatnonzero(held)

    def item_scores(self, items: np.ndarray | None = None) -> np.ndarray:
        """Preference scores ``w_v`` of ``items`` (default ``V_cand``), see the module doc."""
        c = self.catalogue
        items = self.candidate_items() if items is None else np.asarray(items, dtype=np.int64)
        ev = c.item_embeddings[items]
        score = ev @ c.user_embeddings[self.user]
        if self.accepted:
            score = score + ev @ c.attribute_embeddings[self.accepted].sum(0)
        if self.rejected:
            rej = np.asarray(self.rejected)
            pen = _sigmoid(ev @ c.attribute_embeddings[rej].T)  # (items, rejected)
            score = score - (pen * c.item_attributes[np.ix_(items, rej)]).sum(1)
        return score

    def attribute_entropies(self) -> tuple[np.ndarray, np.ndarray]:
        """``(P_cand, H(P_cand))``: candidate attributes and their weighted entropies."""
        items, attrs = self.candidate_items(), self.candidate_attributes()
        if attrs.size == 0:
            return attrs, np.zeros(0)
        w = _sigmoid(self.item_scores(items))
        return attrs, weighted_entropy(self.catalogue.item_attributes[np.ix_(items, attrs)], w)

    def select_items(self, k: int) -> np.ndarray:
        """Preference-based item selection: the ``k`` candidates of largest ``w_v`` (ties:
        smaller id first), in decreasing order of score."""
        k = check_positive_int("k", k)
        items = self.candidate_items()
        order = np.lexsort((items, -self.item_scores(items)))
        return items[order[:k]]

    def select_attributes(self, k: int, rule: str = "weighted_entropy") -> np.ndarray:
        """Weighted-entropy attribute selection: the ``k`` candidate attributes of largest
        ``H(p)`` (ties: smaller id), or with ``rule="preference"`` of largest
        ``e_u·e_p + Σ_{acc} e_a·e_p`` (the official code's ``_feature_score``)."""
        k = check_positive_int("k", k)
        rule = check_choice("rule", rule, ("weighted_entropy", "preference"))
        attrs, ent = self.attribute_entropies()
        if rule == "preference":
            c = self.catalogue
            ep = c.attribute_embeddings[attrs]
            ent = ep @ (c.user_embeddings[self.user] + c.attribute_embeddings[self.accepted].sum(0))
        order = np.lexsort((attrs, -ent))
        return attrs[order[:k]]

    def to_networkx(self) -> nx.Graph:
        """The weighted graph: nodes ``("user", u)``, ``("item", v)`` for ``v ∈ V_cand`` and
        ``("attribute", p)`` for ``p ∈ P_acc ∪ P_cand``; user-item edges weigh ``σ(w_v)``,
        item-attribute edges 1 (non-rejected attributes of candidate items)."""
        g = nx.Graph()
        u = ("user", self.user)
        g.add_node(u)
        items = self.candidate_items()
        for v, w in zip(items, _sigmoid(self.item_scores(items)), strict=True):
            g.add_edge(u, ("item", int(v)), weight=float(w))
            for p in np.flatnonzero(self.catalogue.item_attributes[v]):
                if int(p) not in self.rejected:
                    g.add_edge(("item", int(v)), ("attribute", int(p)), weight=1.0)
        return g


@dataclass(frozen=True)
class CRSRewards:
    """Per-turn rewards (official UNICORN code's ``reward_dict``; SIGIR 2021 Sec. 5.1)."""

    rec_success: float = 1.0
    """The user accepts a recommendation (ends the conversation)."""
    rec_fail: float = -0.1
    """The user rejects a recommendation."""
    ask_success: float = 0.01
    """The user accepts an asked attribute."""
    ask_fail: float = -0.1
    """The user rejects an asked attribute."""
    quit: float = -0.3
    """The user quits at the turn limit (replaces that turn's reward)."""

    def __post_init__(self) -> None:
        for name in ("rec_success", "rec_fail", "ask_success", "ask_fail", "quit"):
            object.__setattr__(self, name, check_real(f"CRSRewards.{name}", getattr(self, name)))


class ConversationalRecEnv(gym.Env):
    """Multi-round conversational recommendation with a truthful simulated user.

    Actions are global ids ``Discrete(n_attributes + n_items)``: ``a < n_attributes`` asks
    attribute ``a``; ``a = n_attributes + v`` recommends item ``v`` together with the
    ``rec_size − 1`` other candidates of largest preference score. Only the actions in
    ``info["action_mask"]`` are legal: with ``prune`` the ``n_item_candidates`` selected items
    and ``n_attribute_candidates`` selected attributes (UNICORN Sec. 4.3), without it every
    candidate item and attribute. Observations are ``(A, len(STATE_FEATURES) +
    len(ACTION_FEATURES))`` float32 rows, one per action: the state summary followed by that
    action's features (zeros for actions that are not candidates).

    The user (a target item of a uniformly drawn user, drawn uniformly from its items) opens
    with one attribute of the target; each turn is answered truthfully; the episode terminates
    on an accepted recommendation (``rewards.rec_success``) or, at turn ``max_turns``, with
    ``rewards.quit``. ``info`` carries ``action_mask`` (the legal set), ``pruned_mask`` and
    ``candidate_mask`` (both sets), ``target``, ``turn`` and ``success``.

    Parameters
    ----------
    catalogue : Catalogue
    max_turns : int >= 1
    rec_size : int >= 1
        ``k``, items per recommendation.
    n_item_candidates, n_attribute_candidates : int >= 1
        ``K_v`` and ``K_p`` of the pruned action space.
    prune : bool
    rewards : CRSRewards
    attribute_selection : {"weighted_entropy", "preference"}
    illegal : {"raise", "reject"}
        An action outside the current mask: refused (``"raise"``, default), or a wasted turn
        rewarded like a rejected ask or recommendation (``"reject"``: for generic agents and
        gymnasium's environment checker, which sample the whole action space).
    render_mode : None

    Examples
    --------
    >>> env = ConversationalRecEnv(synthetic_catalogue(seed=0))
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, int(info["action_mask"].sum()) <= 8
    ((40, 11), True)
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        max_turns: int = 5,
        rec_size: int = 1,
        n_item_candidates: int = 4,
        n_attribute_candidates: int = 4,
        prune: bool = True,
        rewards: CRSRewards = CRSRewards(),
        attribute_selection: str = "weighted_entropy",
        illegal: str = "raise",
        render_mode: str | None = None,
    ):
        self.render_mode = check_choice("render_mode", render_mode, [None])
        self.illegal = check_choice("illegal", illegal, ("raise", "reject"))
        if not isinstance(catalogue, Catalogue):
            raise ArgumentTypeError(
                f"catalogue must be a Catalogue; got {type(catalogue).__name__}"
            )
        if not isinstance(rewards, CRSRewards):
            raise ArgumentTypeError(f"rewards must be a CRSRewards; got {type(rewards).__name__}")
        self.catalogue, self.rewards = catalogue, rewards
        self.max_turns = check_positive_int("max_turns", max_turns)
        self.rec_size = check_int("rec_size", rec_size, lo=1, hi=catalogue.n_items)
        self.n_item_candidates = check_positive_int("n_item_candidates", n_item_candidates)
        self.n_attribute_candidates = check_positive_int(
            "n_attribute_candidates", n_attribute_candidates
        )
        self.prune = check_bool("prune", prune)
        self.attribute_selection = check_choice(
            "attribute_selection", attribute_selection, ("weighted_entropy", "preference")
        )
        self.n_actions = catalogue.n_attributes + catalogue.n_items
        width = len(STATE_FEATURES) + len(ACTION_FEATURES)
        # every feature lies in [0, 1] except the accepted-attribute count over max_turns (the
        # opening attribute comes on top of at most one per turn): [0, 2] holds them all
        self.observation_space = gym.spaces.Box(0.0, 2.0, (self.n_actions, width), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.n_actions)
        self.graph: ConversationGraph | None = None
        self.target, self.turn = -1, 0

    # --- observation ---
    def _observe(self) -> tuple[np.ndarray, dict]:
        g, c = self.graph, self.catalogue
        na = c.n_attributes
        # one pass over the graph: V_cand, w_v, P_cand, q_p, H(p) (ConversationGraph's rules)
        items = g.candidate_items()
        scores = g.item_scores(items)
        w = _sigmoid(scores)
        held = c.item_attributes[items]
        avail = held.any(axis=0)
        avail[g.accepted + g.rejected] = False
        attrs = np.flatnonzero(avail)
        q = np.clip((w @ held[:, attrs]) / w.sum(), 0.0, 1.0)
        inner = (q > 0) & (q < 1)
        ent = np.zeros_like(q)
        ent[inner] = -q[inner] * np.log2(q[inner]) - (1 - q[inner]) * np.log2(1 - q[inner])
        order = np.lexsort((items, -scores))
        rank = np.empty(items.size, dtype=np.int64)
        rank[order] = np.arange(items.size)
        cand = np.zeros(self.n_actions, bool)
        cand[attrs] = True
        cand[na + items] = True
        pruned = np.zeros(self.n_actions, bool)
        pruned[na + items[order[: self.n_item_candidates]]] = True
        if attrs.size:
            if self.attribute_selection == "weighted_entropy":
                key = ent
            else:
                key = c.attribute_embeddings[attrs] @ (
                    c.user_embeddings[g.user] + c.attribute_embeddings[g.accepted].sum(0)
                )
            pruned[attrs[np.lexsort((attrs, -key))[: self.n_attribute_candidates]]] = True
        mask = pruned if self.prune else cand
        n_state = len(STATE_FEATURES)
        obs = np.zeros((self.n_actions, n_state + len(ACTION_FEATURES)), dtype=np.float32)
        obs[:, :n_state] = (
            self.turn / self.max_turns,
            np.log1p(items.size) / np.log1p(c.n_items),
            len(g.accepted) / self.max_turns,
            len(g.rejected) / self.max_turns,
            len(g.rejected_items) / c.n_items,
        )
        rows = na + items
        obs[rows, n_state + 0] = 1.0
        obs[rows, n_state + 2] = w / w.sum()
        obs[rows, n_state + 3] = rank < self.rec_size
        obs[attrs, n_state + 1] = 1.0
        obs[attrs, n_state + 4] = ent
        obs[attrs, n_state + 5] = q
        self._ranked = items[order]
        self._info = {
            "action_mask": mask,
            "pruned_mask": pruned,
            "candidate_mask": cand,
            "target": self.target,
            "turn": self.turn,
            "candidates": items,
        }
        return obs, dict(self._info)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        c = self.catalogue
        user = int(self.np_random.integers(c.n_users))
        self.target = int(self.np_random.choice(c.user_items[user]))
        self.graph = ConversationGraph(c, user)
        # the user opens with one attribute of the target (official code, reset)
        self.graph.accept_attribute(
            int(self.np_random.choice(np.flatnonzero(c.item_attributes[self.target])))
        )
        self.turn = 0
        obs, info = self._observe()
        return obs, {**info, "success": False}

    def step(self, action):
        if self.graph is None:
            raise RuntimeError("call reset() before step()")
        if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
            action = action.item()
        a = check_int("action", action, lo=0, hi=self.n_actions - 1)
        g, c, r = self.graph, self.catalogue, self.rewards
        legal = bool(self._info["action_mask"][a])
        if not legal and self.illegal == "raise":
            ok = np.flatnonzero(self._info["action_mask"]).tolist()
            raise ValueError(f"action {a} is not legal in this state; legal actions: {ok}")
        self.turn += 1
        success = False
        if (
            not legal
        ):  # illegal="reject": a wasted turn, rejected like a failed ask or recommendation
            reward = r.ask_fail if a < c.n_attributes else r.rec_fail
        elif a < c.n_attributes:  # ask attribute a: truthful yes/no
            if c.item_attributes[self.target, a]:
                g.accept_attribute(a)
                reward = r.ask_success
            else:
                g.reject_attribute(a)
                reward = r.ask_fail
        else:  # recommend v and the next-best candidates
            v = a - c.n_attributes
            ranked = [int(x) for x in self._ranked if int(x) != v]
            rec = np.array([v, *ranked[: self.rec_size - 1]], dtype=np.int64)
            if self.target in rec:
                success, reward = True, r.rec_success
            else:
                g.reject_items(rec)
                reward = r.rec_fail
        terminated = success or self.turn >= self.max_turns
        if terminated and not success:
            reward = r.quit  # the user quits (official code: until_T)
        obs, info = self._observe()
        return obs, float(reward), terminated, False, {**info, "success": success}
