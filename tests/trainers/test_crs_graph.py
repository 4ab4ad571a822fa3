"""Tests of trainers.crs_graph: the dynamic graph's updates against hand-computed cases,
weighted-entropy selection against brute force, and the episode mechanics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.crs_graph import (
    Catalogue,
    ConversationalRecEnv,
    ConversationGraph,
    CRSRewards,
    synthetic_catalogue,
    weighted_entropy,
)


def _sig(x):
    return 1.0 / (1.0 + math.exp(-x))


@pytest.fixture
def tiny() -> Catalogue:
    """3 items x 2 attributes, 1-d embeddings: item 0 {a0}, item 1 {a0, a1}, item 2 {a1}."""
    ia = np.array([[1, 0], [1, 1], [0, 1]], dtype=bool)
    return Catalogue(
        ia,
        user_embeddings=np.array([[1.0]]),
        item_embeddings=np.array([[0.5], [1.0], [-1.0]]),
        attribute_embeddings=np.array([[2.0], [-0.5]]),
        user_items=(np.array([0, 1, 2]),),
    )


def test_graph_updates_by_hand(tiny):
    g = ConversationGraph(tiny, 0)
    # no answers yet: w_v = e_u e_v
    np.testing.assert_allclose(g.item_scores(), [0.5, 1.0, -1.0], atol=1e-15)
    g.accept_attribute(0)  # items with a0: {0, 1}; w_v += e_a0 e_v
    assert g.candidate_items().tolist() == [0, 1]
    assert g.candidate_attributes().tolist() == [1]
    np.testing.assert_allclose(g.item_scores(), [0.5 + 1.0, 1.0 + 2.0], atol=1e-15)
    g.reject_attribute(1)  # item 1 holds a1: w_1 -= sigmoid(e_a1 e_1) = sigmoid(-0.5)
    np.testing.assert_allclose(g.item_scores(), [1.5, 3.0 - _sig(-0.5)], atol=1e-14)
    assert g.candidate_attributes().tolist() == []
    g.reject_items(np.array([1]))
    assert g.candidate_items().tolist() == [0]
    nxg = g.to_networkx()
    assert nxg[("user", 0)][("item", 0)]["weight"] == pytest.approx(_sig(1.5), abs=1e-14)
    assert nxg.has_edge(("item", 0), ("attribute", 0)) and nxg.number_of_edges() == 2


def test_selection_by_hand(tiny):
    g = ConversationGraph(tiny, 0)
    # w = (0.5, 1, -1): items ranked 1, 0, 2
    assert g.select_items(2).tolist() == [1, 0]
    # q_a0 = (s(0.5) + s(1)) / S, q_a1 = (s(1) + s(-1)) / S with S = s(.5) + s(1) + s(-1)
    s = [_sig(0.5), _sig(1.0), _sig(-1.0)]
    q0, q1 = (s[0] + s[1]) / sum(s), (s[1] + s[2]) / sum(s)
    h = [-q * math.log2(q) - (1 - q) * math.log2(1 - q) for q in (q0, q1)]
    attrs, ent = g.attribute_entropies()
    assert attrs.tolist() == [0, 1]
    np.testing.assert_allclose(ent, h, atol=1e-14)
    assert g.select_attributes(1).tolist() == [int(np.argmax(h))]


@st.composite
def weighted_members(draw, *, max_items=6, max_attrs=5):
    n = draw(st.integers(1, max_items))
    m = draw(st.integers(1, max_attrs))
    member = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    w = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n)))
    return member, w


@settings(max_examples=60, deadline=None)
@given(weighted_members())
def test_weighted_entropy_matches_brute_force(case):
    member, w = case
    got = weighted_entropy(member, w)
    for p in range(member.shape[1]):
        num = sum(w[v] for v in range(len(w)) if member[v, p])
        q = num / sum(w)
        want = (
            0.0 if q <= 1e-15 or q >= 1 - 1e-15 else -q * math.log2(q) - (1 - q) * math.log2(1 - q)
        )
        assert abs(got[p] - want) <= 1e-9


def test_select_attributes_matches_brute_force():
    cat = synthetic_catalogue(n_items=12, n_attributes=6, seed=3)
    g = ConversationGraph(cat, 1)
    g.accept_attribute(int(np.flatnonzero(cat.item_attributes[cat.user_items[1][0]])[0]))
    items, attrs = g.candidate_items(), g.candidate_attributes()
    w = 1 / (1 + np.exp(-g.item_scores(items)))
    brute = {}
    for p in attrs:  # entropy by explicit sums
        q = sum(w[i] for i, v in enumerate(items) if cat.item_attributes[v, p]) / w.sum()
        brute[int(p)] = 0.0 if q in (0.0, 1.0) else -q * np.log2(q) - (1 - q) * np.log2(1 - q)
    for k in (1, 2, 3):
        best = sorted(brute, key=lambda p: (-brute[p], p))[:k]
        assert g.select_attributes(k).tolist() == best


def test_env_success_quit_and_max_turns(tiny):
    r = CRSRewards()
    env = ConversationalRecEnv(tiny, max_turns=2, n_item_candidates=3, rec_size=1)
    _, info = env.reset(seed=0)
    target = info["target"]
    # recommending the target succeeds at once
    _, rew, term, trunc, info = env.step(tiny.n_attributes + target)
    assert (rew, term, trunc, info["success"]) == (r.rec_success, True, False, True)
    # a wrong recommendation costs rec_fail and removes the item; at max_turns the user quits
    for seed in range(20):
        _, info = env.reset(seed=seed)
        wrong = [v for v in info["candidates"] if v != info["target"]]
        if wrong and env._info["action_mask"][tiny.n_attributes + wrong[0]]:
            break
    _, rew, term, _, info = env.step(tiny.n_attributes + wrong[0])
    assert (rew, term) == (r.rec_fail, False) and wrong[0] not in info["candidates"]
    legal = np.flatnonzero(info["action_mask"])
    bad = [a for a in legal if a >= tiny.n_attributes and a - tiny.n_attributes != info["target"]]
    bad += [a for a in legal if a < tiny.n_attributes]
    if bad:
        _, rew, term, _, info = env.step(int(bad[0]))
        if not info["success"]:
            assert (rew, term, info["turn"]) == (r.quit, True, 2)


def test_env_refuses_illegal_actions_and_counts_turns():
    env = ConversationalRecEnv(synthetic_catalogue(seed=1), max_turns=3)
    _, info = env.reset(seed=0)
    illegal = int(np.flatnonzero(~info["action_mask"])[0])
    with pytest.raises(ValueError, match="action"):
        env.step(illegal)
    rng = np.random.default_rng(0)
    turns, done = 0, False
    while not done:
        _, _, done, _, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
        turns += 1
    assert turns <= 3 and (info["success"] or turns == 3)


def test_pruned_mask_sizes_and_asks_follow_the_user():
    cat = synthetic_catalogue(seed=2)
    env = ConversationalRecEnv(cat, n_item_candidates=2, n_attribute_candidates=3)
    _, info = env.reset(seed=5)
    na = cat.n_attributes
    assert info["action_mask"][na:].sum() == min(2, info["candidates"].size)
    assert info["action_mask"][:na].sum() <= 3
    assert not (info["action_mask"] & ~info["candidate_mask"]).any()
    a = int(np.flatnonzero(info["action_mask"][:na])[0])
    _, rew, _, _, _ = env.step(a)
    held = cat.item_attributes[info["target"], a]
    assert rew == (0.01 if held else -0.1) or rew == -0.3
    assert (a in env.graph.accepted) == bool(held)


def test_target_always_a_candidate_under_truthful_answers():
    cat = synthetic_catalogue(seed=4)
    for prune in (True, False):
        env = ConversationalRecEnv(cat, prune=prune, max_turns=8)
        rng = np.random.default_rng(1)
        for ep in range(15):
            _, info = env.reset(seed=ep)
            done = False
            while not done:
                assert info["target"] in info["candidates"]
                _, _, done, _, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))


def test_catalogue_is_seeded():
    a, b = synthetic_catalogue(seed=7), synthetic_catalogue(seed=7)
    np.testing.assert_array_equal(a.item_embeddings, b.item_embeddings)
    assert all(itertools.starmap(np.array_equal, zip(a.user_items, b.user_items, strict=True)))


def test_an_illegal_action_is_a_rejected_turn_when_asked():
    """``illegal="reject"``: an action outside the mask costs a turn and the rejection reward,
    and leaves the graph unchanged (the default refuses it)."""
    env = ConversationalRecEnv(synthetic_catalogue(seed=0), illegal="reject")
    _, info = env.reset(seed=0)
    bad = int(np.flatnonzero(~info["action_mask"])[0])
    cands = info["candidates"].copy()
    _, reward, terminated, _, info2 = env.step(bad)
    expected = env.rewards.ask_fail if bad < env.catalogue.n_attributes else env.rewards.rec_fail
    assert reward == (env.rewards.quit if terminated else expected)
    assert env.turn == 1 and np.array_equal(info2["candidates"], cands)
