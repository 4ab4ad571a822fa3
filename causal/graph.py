"""Graph quantities of the causal minimax setting and the whole-stable-set condition.

A DAG over ``{Y} ∪ X`` with a *mutable* set ``X_M`` (the variables whose mechanism
``P(X_j | PA_j)`` shifts across environments; ``X_M = Adj(E)`` for an environment node ``E``).
The derived sets follow the authors' code (``causal_discovery/graphparser.py`` of
``lmz123321/which_invariance``, the implementation of Alg. 1's first step):

- stable set ``S = X \\ X_M``;
- ``Ch(Y)``; ``X_M^0 = X_M ∩ Ch(Y)``; ``K = De(X_M^0) \\ X_M^0``;
- ``X* = X_M^0 ∪ (De(X_M^0) \\ Ch(Y))``.

The whole stable set is optimal when **Y does not point into K**, ``Ch(Y) ∩ K = ∅`` (the
graphical condition of Liu et al. 2023, abstract and Alg. 1; ``graphparser.detect_K``). It is
sufficient, not necessary [derived]: exact enumeration of ``h*`` on random binary SCMs finds
instances that violate it and still have the whole stable set optimal (the claim
``causal-minimax/condition-implies-optimal`` reports the counts).

References
----------
.. [1] M. Liu, X. Zheng, X. Sun, F. Fang, Y. Wang, "Which Invariance Should We Transfer? A
   Causal Minimax Learning Approach", ICML 2023 (arXiv:2107.01876).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import networkx as nx

from theory.checks import ArgumentTypeError

__all__ = [
    "GraphComponents",
    "graph_components",
    "node_key",
    "sorted_nodes",
    "stable_graph",
    "validate_setting",
    "whole_stable_set_optimal",
]


def node_key(node: Hashable) -> tuple:
    """A total order on node names: natural order of their strings (``X2 < X10``)."""
    parts = re.split(r"(\d+)", str(node))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def sorted_nodes(nodes: Iterable[Hashable]) -> tuple:
    """``nodes`` (an iterable of nodes, not a string) in :func:`node_key` order."""
    if isinstance(nodes, str | bytes) or not isinstance(nodes, Iterable):
        raise ArgumentTypeError(f"nodes must be an iterable of nodes; got {nodes!r}")
    return tuple(sorted(nodes, key=node_key))


def validate_setting(graph: object, target: Hashable, mutable: Iterable[Hashable]) -> frozenset:
    """Check ``(graph, target, mutable)`` and return ``mutable`` as a frozenset.

    Raises
    ------
    TypeError
        (:class:`~theory.checks.ArgumentTypeError`, also a ``ValueError``) If ``graph`` is not
        a ``networkx.DiGraph`` or ``mutable`` is not a collection of hashable nodes.
    ValueError
        If ``graph`` has a cycle (named), ``target`` or a mutable node is not in it, or
        ``target`` is mutable.
    """
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise ArgumentTypeError(f"graph must be a networkx.DiGraph; got {type(graph).__name__}")
    if not nx.is_directed_acyclic_graph(graph):
        cycle = [u for u, _ in nx.find_cycle(graph)]
        raise ValueError(f"graph must be acyclic; found the cycle {cycle}")
    try:
        in_graph = target in graph
    except TypeError:
        in_graph = False
    if not in_graph:
        raise ValueError(f"target {target!r} is not a node of graph")
    return _node_set("mutable", mutable, graph, target)


def _node_set(name: str, value: object, graph: nx.DiGraph, target: Hashable) -> frozenset:
    """``value`` as a frozenset of nodes of ``graph`` that does not hold ``target``.

    Raises a TypeError (not a collection of hashable nodes) or a ValueError (unknown nodes, or
    the target among them), naming ``name``.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ArgumentTypeError(f"{name} must be a collection of nodes; got {value!r}")
    try:
        out = frozenset(value)
    except TypeError:
        raise ArgumentTypeError(
            f"{name} must be a collection of hashable nodes; got {value!r}"
        ) from None
    missing = sorted_nodes(v for v in out if v not in graph)
    if missing:
        raise ValueError(f"{name} nodes {list(missing)} are not nodes of graph")
    if target in out:
        raise ValueError(f"target {target!r} must not be in {name} (it is in {name})")
    return out


def stable_graph(graph: nx.DiGraph, target: Hashable, mutable: Iterable[Hashable]) -> nx.DiGraph:
    """The stable graph ``G_S``: the DAG with the mutable nodes deleted (the graph Alg. 2 runs on).

    [derived] In ``G_{do(X_M)}`` the mutable nodes are roots and always conditioned on (the
    stable predictor receives ``x_M``); a path through a conditioned root is blocked there (a
    root is never a collider), and conditioning on a root opens no collider (a root is nobody's
    descendant), so ``A ⫫ B | Z ∪ X_M`` in ``G_{do(X_M)}`` iff ``A ⫫ B | Z`` in ``G_S``.
    """
    mut = validate_setting(graph, target, mutable)
    return nx.DiGraph(graph.subgraph(n for n in graph if n not in mut))


@dataclass(frozen=True)
class GraphComponents:
    """The sets of the setting (authors' ``graphparser``) and the condition ``Ch(Y) ∩ K = ∅``.

    Attributes
    ----------
    target, mutable, stable : the target ``Y``, ``X_M`` and ``S = X \\ X_M``.
    children_y : ``Ch(Y)``.
    mutable_children : ``X_M^0 = X_M ∩ Ch(Y)``.
    k : ``K = De(X_M^0) \\ X_M^0``.
    x_star : ``X* = X_M^0 ∪ (De(X_M^0) \\ Ch(Y))``.
    condition : ``Ch(Y) ∩ K = ∅`` (the whole stable set is then optimal).
    """

    target: Hashable
    mutable: frozenset
    stable: frozenset
    children_y: frozenset
    mutable_children: frozenset
    k: frozenset
    x_star: frozenset
    condition: bool

    def summary(self) -> str:
        """One line: the sets and the condition."""

        def fmt(s: frozenset) -> str:
            return "{" + ", ".join(map(str, sorted_nodes(s))) + "}"

        return (
            f"Y={self.target!s}, X_M={fmt(self.mutable)}, S={fmt(self.stable)}, "
            f"X_M^0={fmt(self.mutable_children)}, K={fmt(self.k)}, X*={fmt(self.x_star)}, "
            f"Ch(Y)∩K=∅: {self.condition}"
        )


def graph_components(
    graph: nx.DiGraph, target: Hashable, mutable: Iterable[Hashable]
) -> GraphComponents:
    """The stable set, ``Ch(Y)``, ``X_M^0``, ``K``, ``X*`` and the condition ``Ch(Y) ∩ K = ∅``.

    Parameters
    ----------
    graph : networkx.DiGraph
        A DAG over ``{Y} ∪ X`` (without the environment node).
    target : hashable
        The node ``Y``.
    mutable : iterable of nodes
        ``X_M``; must not contain ``target``.

    Returns
    -------
    GraphComponents

    Raises
    ------
    ValueError
        See :func:`validate_setting`.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph([("Y", "M"), ("Y", "X1"), ("M", "X1")])
    >>> graph_components(g, "Y", {"M"}).condition
    False
    """
    mut = validate_setting(graph, target, mutable)
    stable = frozenset(graph.nodes) - mut - {target}
    ch_y = frozenset(graph.successors(target))
    m0 = mut & ch_y
    de_m0: set = set()
    for m in m0:
        de_m0 |= nx.descendants(graph, m)
    k = frozenset(de_m0) - m0
    x_star = m0 | (frozenset(de_m0) - ch_y)
    return GraphComponents(
        target=target,
        mutable=mut,
        stable=stable,
        children_y=ch_y,
        mutable_children=m0,
        k=k,
        x_star=x_star,
        condition=not (ch_y & k),
    )


def whole_stable_set_optimal(
    graph: nx.DiGraph, target: Hashable, mutable: Iterable[Hashable]
) -> bool:
    """The graphical condition ``Ch(Y) ∩ K = ∅``: if it holds, the whole stable set is optimal.

    Liu et al. (ICML 2023); the authors' ``graphparser.detect_K`` computes
    ``IsFullSet = not any(node in Ch_Y for node in K)``. A sufficient condition: when it
    fails, a strictly better subset may or may not exist ([derived], see the module
    docstring).

    Raises
    ------
    ValueError
        See :func:`validate_setting`.

    Examples
    --------
    >>> import networkx as nx
    >>> whole_stable_set_optimal(nx.DiGraph([("Y", "X1"), ("X1", "M")]), "Y", {"M"})
    True
    """
    return graph_components(graph, target, mutable).condition
