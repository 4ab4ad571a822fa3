"""Graph quantities and the condition (claim ids causal-minimax/components, .../condition)."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings

from causal import graph_components, whole_stable_set_optimal
from causal.generators import SIMULATION_MUTABLE, bilinear_scm, simulation_graph
from causal.strategies import settings as causal_settings


def test_components_on_the_simulation_graph():
    c = graph_components(simulation_graph(), "Y", SIMULATION_MUTABLE)
    assert c.stable == {f"X{i}" for i in range(1, 9)}
    assert c.children_y == {"X1", "X9"}
    assert c.mutable_children == {"X9"}
    assert c.k == {"X1", "X2", "X3", "X4", "X10"}
    assert c.x_star == {"X2", "X3", "X4", "X9", "X10"}
    assert c.condition is False
    assert "Ch(Y)∩K=∅: False" in c.summary()


def test_bilinear_violates_the_condition():
    scm = bilinear_scm()
    assert scm.components.k == {"X1"}
    assert not whole_stable_set_optimal(scm.graph, "Y", {"M"})


def test_no_mutable_child_of_y_means_condition_holds():
    g = nx.DiGraph([("Y", "X1"), ("X1", "M"), ("M", "X2"), ("Y", "X2")])
    assert whole_stable_set_optimal(g, "Y", {"M"})
    assert graph_components(g, "Y", {"M"}).mutable_children == frozenset()


@settings(max_examples=60, deadline=None)
@given(causal_settings(max_x=6))
def test_condition_matches_definition(setting):
    g, y, mut = setting
    c = graph_components(g, y, mut)
    k = set()
    for m in mut & set(g.successors(y)):
        k |= nx.descendants(g, m)
    k -= mut & set(g.successors(y))
    assert c.k == k
    assert c.condition == (not (k & set(g.successors(y))))
    assert c.stable | c.mutable | {y} == set(g.nodes)


def test_cycle_raises():
    with pytest.raises(ValueError, match="acyclic"):
        graph_components(nx.DiGraph([("Y", "X1"), ("X1", "Y")]), "Y", set())


def test_unknown_target_raises():
    with pytest.raises(ValueError, match="target 'Z' is not a node"):
        graph_components(nx.DiGraph([("Y", "X1")]), "Z", set())


def test_unknown_mutable_raises():
    with pytest.raises(ValueError, match=r"mutable nodes \['Q'\]"):
        graph_components(nx.DiGraph([("Y", "X1")]), "Y", {"Q"})


def test_target_mutable_raises():
    with pytest.raises(ValueError, match="must not be in mutable"):
        graph_components(nx.DiGraph([("Y", "X1")]), "Y", {"Y"})


def test_undirected_graph_raises():
    with pytest.raises(ValueError, match=r"networkx\.DiGraph"):
        graph_components(nx.Graph([("Y", "X1")]), "Y", set())


def test_mutable_as_string_raises():
    with pytest.raises(ValueError, match="collection of nodes"):
        graph_components(nx.DiGraph([("Y", "X1")]), "Y", "X1")
