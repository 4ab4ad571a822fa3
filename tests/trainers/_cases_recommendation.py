"""Bad-input cases of trainers.crs_graph and trainers.unicorn; gathered by test_bad_input.py.

Among them: a catalogue item without attributes (it could never be a candidate), an illegal
(pruned-away) action, a negative weight in the weighted entropy, envs of different catalogue
sizes stacked in one model.
"""

from __future__ import annotations

import functools

import numpy as np

from tests._audit import Case, bad, bad_method, lazy
from trainers.crs_graph import (
    Catalogue,
    ConversationalRecEnv,
    ConversationGraph,
    CRSRewards,
    synthetic_catalogue,
    weighted_entropy,
)
from trainers.unicorn import (
    CandidateQNetwork,
    UnicornConfig,
    evaluate_unicorn,
    greedy_actions,
    train_unicorn,
)

NAN, INF = float("nan"), float("inf")
CAT = synthetic_catalogue(n_items=8, n_attributes=4, seed=0)
IA = CAT.item_attributes
E2 = np.zeros((8, 2))
A2 = np.zeros((4, 2))
U2 = np.zeros((1, 2))
UI = (np.array([0, 1]),)
TINY = UnicornConfig(total_steps=4, learning_starts=2, batch_size=2)


@functools.cache
def _res():
    return train_unicorn(ConversationalRecEnv(CAT), TINY, seeds=[0])


def _on(*args):
    return lambda: ((_res(), *args), {})


def _stepped(action):
    env = ConversationalRecEnv(CAT)
    env.reset(seed=0)
    return (env, action)


def _illegal():
    env = ConversationalRecEnv(CAT)
    _, info = env.reset(seed=0)
    return (env, int(np.flatnonzero(~info["action_mask"])[0]))


EXEMPT = {
    "unicorn.UnicornResult": "result dataclass returned by train_unicorn; takes no user input",
}

CASES: list[Case] = [
    # Catalogue (item_attributes, user_embeddings, item_embeddings, attribute_embeddings,
    # user_items)
    bad(Catalogue, "item_attributes", "shape", np.zeros(3, bool), U2, E2, A2, UI),
    bad(Catalogue, "item_attributes", "value", np.full((8, 4), 2), U2, E2, A2, UI),
    bad(Catalogue, "item_attributes", "value", np.zeros((8, 4), bool), U2, E2, A2, UI),
    bad(Catalogue, "item_embeddings", "nan", IA, U2, np.full((8, 2), NAN), A2, UI),
    bad(Catalogue, "attribute_embeddings", "shape", IA, U2, E2, np.zeros((3, 2)), UI),
    bad(Catalogue, "user_embeddings", "inf", IA, np.full((1, 2), INF), E2, A2, UI),
    bad(Catalogue, "user_items", "value", IA, U2, E2, A2, (np.array([0]), np.array([1]))),
    bad(Catalogue, "user_items[0]", "range", IA, U2, E2, A2, (np.array([9]),)),
    bad(Catalogue, "user_items[0]", "empty", IA, U2, E2, A2, (np.array([], dtype=int),)),
    bad(Catalogue, "user_items", "type", IA, U2, E2, A2, "abc"),
    # synthetic_catalogue
    bad(synthetic_catalogue, "n_items", "range", n_items=0),
    bad(synthetic_catalogue, "n_attributes", "range", n_attributes=1),
    bad(synthetic_catalogue, "attributes_per_item", "range", n_attributes=4, attributes_per_item=5),
    bad(synthetic_catalogue, "items_per_user", "range", n_items=3, items_per_user=4),
    bad(synthetic_catalogue, "dim", "type", dim=2.5),
    bad(synthetic_catalogue, "noise", "nan", noise=NAN),
    bad(synthetic_catalogue, "seed", "seed", seed=-1),
    bad(synthetic_catalogue, "n_users", "type", n_users=True),
    # weighted_entropy
    bad(weighted_entropy, "member", "shape", np.zeros(3, bool), np.ones(3)),
    bad(weighted_entropy, "member", "empty", np.zeros((0, 2), bool), np.ones(0)),
    bad(weighted_entropy, "member", "value", np.full((2, 2), 3), np.ones(2)),
    bad(weighted_entropy, "weights", "shape", np.zeros((2, 2), bool), np.ones(3)),
    bad(weighted_entropy, "weights", "range", np.zeros((2, 2), bool), np.array([1.0, -1.0])),
    bad(weighted_entropy, "weights", "nan", np.zeros((2, 2), bool), np.array([1.0, NAN])),
    # ConversationGraph and its updates
    bad(ConversationGraph, "catalogue", "type", "cat", 0),
    bad(ConversationGraph, "user", "range", CAT, 99),
    bad(ConversationGraph, "user", "type", CAT, 0.5),
    bad_method(ConversationGraph, "accept_attribute", "attribute", "range", ((CAT, 0), {}), 9),
    bad_method(ConversationGraph, "reject_attribute", "attribute", "type", ((CAT, 0), {}), "a"),
    bad_method(ConversationGraph, "reject_items", "items", "range", ((CAT, 0), {}), [99]),
    bad_method(ConversationGraph, "reject_items", "items", "empty", ((CAT, 0), {}), []),
    bad_method(ConversationGraph, "select_items", "k", "range", ((CAT, 0), {}), 0),
    bad_method(ConversationGraph, "select_attributes", "k", "type", ((CAT, 0), {}), 1.5),
    bad_method(
        ConversationGraph, "select_attributes", "rule", "option", ((CAT, 0), {}), 2, "entropy"
    ),
    # CRSRewards
    bad(CRSRewards, "CRSRewards.rec_fail", "nan", rec_fail=NAN),
    bad(CRSRewards, "CRSRewards.quit", "inf", quit=-INF),
    bad(CRSRewards, "CRSRewards.rec_success", "type", rec_success="1"),
    # ConversationalRecEnv
    bad(ConversationalRecEnv, "catalogue", "type", "cat"),
    bad(ConversationalRecEnv, "max_turns", "range", CAT, max_turns=0),
    bad(ConversationalRecEnv, "illegal", "option", CAT, illegal="ignore"),
    bad(ConversationalRecEnv, "rec_size", "range", CAT, rec_size=99),
    bad(ConversationalRecEnv, "n_item_candidates", "type", CAT, n_item_candidates=2.0),
    bad(ConversationalRecEnv, "n_attribute_candidates", "range", CAT, n_attribute_candidates=0),
    bad(ConversationalRecEnv, "prune", "type", CAT, prune="yes"),
    bad(ConversationalRecEnv, "rewards", "type", CAT, rewards={"quit": -1}),
    bad(ConversationalRecEnv, "attribute_selection", "option", CAT, attribute_selection="gini"),
    bad(ConversationalRecEnv, "render_mode", "option", CAT, render_mode="human"),
    lazy(ConversationalRecEnv.step, "action", "range", lambda: (_stepped(99), {})),
    lazy(ConversationalRecEnv.step, "action", "type", lambda: (_stepped(1.5), {})),
    lazy(ConversationalRecEnv.step, "action", "value", lambda: (_illegal(), {})),
    # UnicornConfig
    bad(UnicornConfig, "UnicornConfig.total_steps", "range", total_steps=0),
    bad(UnicornConfig, "UnicornConfig.learning_rate", "nan", learning_rate=NAN),
    bad(UnicornConfig, "UnicornConfig.gamma", "range", gamma=1.0),
    bad(UnicornConfig, "UnicornConfig.double", "type", double=1),
    bad(
        UnicornConfig, "UnicornConfig.learning_starts", "value", total_steps=10, learning_starts=10
    ),
    bad(UnicornConfig, "UnicornConfig.max_grad_norm", "range", max_grad_norm=0.0),
    bad(UnicornConfig, "UnicornConfig.end_e", "range", end_e=1.5),
    # CandidateQNetwork
    bad(CandidateQNetwork, "width", "range", 1, 1),
    bad(CandidateQNetwork, "n_state", "range", 5, 5),
    bad(CandidateQNetwork, "hidden", "type", 5, 2, 1.5),
    bad(CandidateQNetwork, "dueling", "type", 5, 2, 4, "no"),
    # train_unicorn
    bad(train_unicorn, "envs", "type", "env", TINY),
    bad(train_unicorn, "envs[0]", "type", [3], TINY, seeds=[0]),
    bad(train_unicorn, "envs", "value", [ConversationalRecEnv(CAT)], TINY, seeds=[0, 1]),
    bad(
        train_unicorn,
        "envs",
        "shape",
        [ConversationalRecEnv(CAT), ConversationalRecEnv(synthetic_catalogue(seed=0))],
        TINY,
        seeds=[0, 1],
    ),
    bad(train_unicorn, "config", "type", ConversationalRecEnv(CAT), {"total_steps": 4}),
    bad(train_unicorn, "seeds", "seed", ConversationalRecEnv(CAT), TINY, seeds=[-1]),
    bad(train_unicorn, "seeds", "empty", ConversationalRecEnv(CAT), TINY, seeds=[]),
    # greedy_actions / evaluate_unicorn
    bad(greedy_actions, "result", "type", "res", np.zeros((1, 12, 11)), np.ones((1, 12), bool)),
    lazy(greedy_actions, "observations", "shape", _on(np.zeros((1, 12, 3)), np.ones((1, 12)))),
    lazy(greedy_actions, "observations", "nan", _on(np.full((1, 12, 11), NAN), np.ones((1, 12)))),
    lazy(greedy_actions, "masks", "shape", _on(np.zeros((1, 12, 11)), np.ones((2, 12), bool))),
    lazy(greedy_actions, "masks", "type", _on(np.zeros((1, 12, 11)), np.ones((1, 12)))),
    lazy(greedy_actions, "masks", "value", _on(np.zeros((1, 12, 11)), np.zeros((1, 12), bool))),
    bad(evaluate_unicorn, "result", "type", "res", ConversationalRecEnv(CAT)),
    lazy(evaluate_unicorn, "episodes", "range", _on(ConversationalRecEnv(CAT), 0)),
    lazy(evaluate_unicorn, "envs", "type", _on(3)),
    lazy(
        evaluate_unicorn,
        "epsilon",
        "nan",
        lambda: ((_res(), ConversationalRecEnv(CAT)), {"epsilon": NAN}),
    ),
    lazy(
        evaluate_unicorn,
        "seed",
        "seed",
        lambda: ((_res(), ConversationalRecEnv(CAT)), {"seed": -1}),
    ),
]
