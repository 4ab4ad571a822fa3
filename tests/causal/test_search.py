"""The minimax search (claim ids causal-minimax/search-equals-brute-force, .../skip)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings

from causal import DiscreteSCM, minimax_subset
from causal.generators import random_binary_scm
from causal.strategies import binary_scms


@settings(max_examples=40, deadline=None)
@given(binary_scms(max_x=4))
def test_search_equals_brute_force(scm):
    fast = minimax_subset(scm, skip_if_condition=False)
    brute = minimax_subset(scm, brute_force=True)
    assert fast.risk == pytest.approx(brute.risk, abs=1e-12)
    assert brute.n_evaluated == brute.n_subsets == 2 ** len(scm.stable)
    assert fast.n_evaluated == fast.n_classes <= fast.n_subsets


@settings(max_examples=40, deadline=None)
@given(binary_scms(max_x=4))
def test_condition_skips_the_search(scm):
    res = minimax_subset(scm)
    if scm.components.condition:
        assert res.subset == scm.stable and res.n_evaluated == 1 and res.condition
        assert set(res.risks) == {scm.stable}
    else:
        assert res.n_evaluated == res.n_classes


def test_counterexample_search_beats_the_whole_set():
    rng = np.random.default_rng(0)
    for _ in range(200):
        scm = random_binary_scm(rng)
        res = minimax_subset(scm)
        if not res.condition and res.subset != scm.stable:
            assert res.risk < res.risks.get(scm.stable, np.inf) or scm.stable not in res.risks
            break
    else:
        pytest.fail("no counterexample among 200 random binary SCMs")
    assert "searched" in res.summary()


def test_custom_risk_callable():
    scm = DiscreteSCM(
        nx.DiGraph([("Y", "X1"), ("Y", "X2")]),
        "Y",
        set(),
        {"Y": [0.5, 0.5], "X1": [[0.9, 0.1], [0.1, 0.9]], "X2": [[0.9, 0.1], [0.1, 0.9]]},
    )
    res = minimax_subset(scm, risk=lambda s: float(len(s)), skip_if_condition=False)
    assert res.subset == frozenset() and res.risk == 0.0


def test_risk_and_kwargs_raise():
    scm = random_binary_scm(np.random.default_rng(0))
    with pytest.raises(ValueError, match="not both"):
        minimax_subset(scm, risk=lambda s: 0.0, seed=1)


def test_bad_scm_raises():
    with pytest.raises(ValueError, match="scm must be"):
        minimax_subset("graph")


def test_nan_risk_raises_naming_the_subset():
    scm = DiscreteSCM(
        nx.DiGraph([("Y", "X1")]), "Y", set(), {"Y": [0.5, 0.5], "X1": [[0.9, 0.1], [0.1, 0.9]]}
    )
    with pytest.raises(ValueError, match=r"risk must return a finite real number.*subset"):
        minimax_subset(scm, risk=lambda s: float("nan"), skip_if_condition=False)
