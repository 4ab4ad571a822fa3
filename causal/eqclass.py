"""Equivalence classes of stable subsets (Alg. 2 of Liu et al. 2023), with networkx only.

Two subsets ``S1, S2 ⊆ S`` are equivalent when they give the same stable predictor
``E[Y | X_{S'}, do(X_M)]``. The recursion ``RECOVER(G, L, Sel)`` of the authors' ``eqcls_search``
runs on the stable graph ``G_S`` (the DAG minus ``X_M``)::

    H <- MAG(G, latent=L, selection=Sel); R <- nodes(H) \\ {Y}; N <- Adj_H(Y)
    if N = ∅: return {{Sel ∪ T : T ⊆ R}}                  # one class
    for each A ⊆ N: P <- P ∪ RECOVER(G, L ∪ (N \\ A), Sel ∪ A)

The MAG is never built: ``Z`` is adjacent to ``Y`` in ``MAG(L, Sel)`` iff ``Y`` and ``Z`` are
not d-separated in ``G`` by ``((An({Y, Z} ∪ Sel) ∩ O) \\ {Y, Z}) ∪ Sel`` with
``O = nodes \\ (L ∪ Sel)`` (the ancestral-set criterion; one ``nx.is_d_separator`` call per
pair). A leaf has ``Y ⫫ R | Sel`` in ``G_S``, so every member ``Sel ∪ T`` has the same
predictor and the same worst-case risk. The classes partition the power set of ``S``; each
class is represented by its smallest member ``Sel``.

On the paper's simulation graph (Sec. 6.1, Fig. 4a) this gives 45 classes covering 256
subsets in 57 recursive calls, reproducing the authors' ``eqcls_search/cache/eqclses.json``
(the claim ``causal-minimax/simulation-classes``).

References
----------
.. [1] M. Liu et al., "Which Invariance Should We Transfer? A Causal Minimax Learning
   Approach", ICML 2023 (arXiv:2107.01876), Alg. 2.
.. [2] T. Richardson, P. Spirtes, "Ancestral graph Markov models", Ann. Statist. 30 (2002)
   (adjacency in a MAG: no separating set among the ancestral sets).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass

import networkx as nx

from causal.graph import (
    _node_set,
    graph_components,
    sorted_nodes,
    stable_graph,
    validate_setting,
)
from theory.checks import check_bool

__all__ = ["EquivalenceClass", "EquivalenceClasses", "equivalence_classes", "mag_neighbors"]


@dataclass(frozen=True)
class EquivalenceClass:
    """One class ``{representative ∪ T : T ⊆ free}``.

    Attributes
    ----------
    representative : frozenset
        ``Sel`` at the leaf: the smallest member.
    free : frozenset
        ``R``: nodes that may be added without changing the predictor (``Y ⫫ R | Sel``).
    """

    representative: frozenset
    free: frozenset

    @property
    def size(self) -> int:
        """Number of members, ``2^|free|``."""
        return 2 ** len(self.free)

    def members(self) -> Iterator[frozenset]:
        """Every member ``representative ∪ T``, ``T ⊆ free``, smallest first."""
        free = sorted_nodes(self.free)
        for r in range(len(free) + 1):
            for t in itertools.combinations(free, r):
                yield self.representative | frozenset(t)

    def __contains__(self, subset: object) -> bool:
        s = frozenset(subset)  # type: ignore[arg-type]
        return self.representative <= s and s - self.representative <= self.free


@dataclass(frozen=True)
class EquivalenceClasses:
    """The result of the recursion.

    Attributes
    ----------
    classes : tuple of EquivalenceClass
        Sorted by representative (size, then names); empty in count-only mode.
    n_classes : int
        Number of classes ``N_G``.
    n_subsets : int
        Members over all classes (``2^|S|`` for a partition).
    n_calls : int
        Recursive calls of ``RECOVER``.
    stable : frozenset
        The stable set ``S``.
    """

    classes: tuple[EquivalenceClass, ...]
    n_classes: int
    n_subsets: int
    n_calls: int
    stable: frozenset

    @property
    def representatives(self) -> tuple[frozenset, ...]:
        """The smallest member of each class."""
        return tuple(c.representative for c in self.classes)

    def class_of(self, subset: Iterable[Hashable]) -> EquivalenceClass:
        """The class containing ``subset`` (raises ``ValueError`` if none does)."""
        s = frozenset(subset)
        for c in self.classes:
            if s in c:
                return c
        raise ValueError(f"subset {sorted_nodes(s)} is in no class (count-only result?)")

    def summary(self) -> str:
        """One line: classes, subsets covered, calls."""
        return (
            f"{self.n_classes} classes covering {self.n_subsets} of 2^{len(self.stable)} = "
            f"{2 ** len(self.stable)} subsets ({self.n_calls} recursive calls)"
        )


def _subset_key(s: frozenset) -> tuple:
    return (len(s), [str(x) for x in sorted_nodes(s)])


def mag_neighbors(
    graph: nx.DiGraph,
    target: Hashable,
    latent: Iterable[Hashable],
    selection: Iterable[Hashable],
) -> frozenset:
    """Nodes adjacent to ``target`` in ``MAG(graph, latent, selection)``, without building it.

    ``Z`` is adjacent iff ``target`` and ``Z`` are not d-separated by
    ``((An({Y, Z} ∪ Sel) ∩ O) \\ {Y, Z}) ∪ Sel`` with ``O`` the observed nodes.

    Raises
    ------
    TypeError, ValueError
        ``graph`` not a DAG or ``target`` not in it (see
        :func:`causal.graph.validate_setting`); ``latent`` or ``selection`` not a collection of
        nodes of ``graph``, holding ``target``, or overlapping.
    """
    validate_setting(graph, target, ())
    lat = _node_set("latent", latent, graph, target)
    sel = _node_set("selection", selection, graph, target)
    if lat & sel:
        raise ValueError(
            f"latent and selection must be disjoint; both hold {list(sorted_nodes(lat & sel))}"
        )
    return _mag_neighbors(graph, target, lat, sel)


def _mag_neighbors(
    graph: nx.DiGraph, target: Hashable, latent: frozenset, selection: frozenset
) -> frozenset:
    """:func:`mag_neighbors` without the checks (the hot loop of :func:`equivalence_classes`)."""
    observed = frozenset(graph.nodes) - latent - selection
    anc_sel: set = set(selection)
    for s in selection:
        anc_sel |= nx.ancestors(graph, s)
    anc_y = nx.ancestors(graph, target) | {target}
    out = []
    for z in observed - {target}:
        an = (anc_sel | anc_y | nx.ancestors(graph, z) | {z}) & observed
        cond = (an - {target, z}) | selection
        if not nx.is_d_separator(graph, {target}, {z}, cond):
            out.append(z)
    return frozenset(out)


def equivalence_classes(
    graph: nx.DiGraph,
    target: Hashable,
    mutable: Iterable[Hashable],
    *,
    count_only: bool = False,
) -> EquivalenceClasses:
    """Partition the subsets of the stable set into classes with the same stable predictor.

    Parameters
    ----------
    graph : networkx.DiGraph
        DAG over ``{Y} ∪ X``.
    target : hashable
        ``Y``.
    mutable : iterable of nodes
        ``X_M`` (deleted first: the recursion runs on ``G_S``).
    count_only : bool
        Only count classes, members and calls (no class list kept; for large graphs).

    Returns
    -------
    EquivalenceClasses

    Raises
    ------
    ValueError
        Invalid graph / target / mutable set (see :func:`causal.graph.validate_setting`).

    Notes
    -----
    ``2^|N|`` branches per call, ``N`` the MAG neighbours of ``Y``; the number of classes is
    ``d + 1`` on a chain ``Y → X1 → … → Xd`` and ``2^d`` on a star ``Y → Xi``, so no
    polynomial bound holds without sparsity assumptions. [derived] On the chain, the MAG
    neighbour of ``Y`` is the first observed ``X``: keeping it ends the recursion (``Y ⫫`` the
    rest given it), dropping it moves to the next, so the classes are ``{Xk}`` for each ``k``
    and ``∅`` (``d + 1``). On the star every ``Xi`` is adjacent to ``Y`` in every MAG, so the
    first call branches on all ``2^d`` subsets and each is its own class.

    Examples
    --------
    >>> import networkx as nx
    >>> res = equivalence_classes(nx.DiGraph([("Y", "X1"), ("X1", "X2")]), "Y", set())
    >>> [sorted(c.representative) for c in res.classes]
    [[], ['X1'], ['X2']]
    """
    count_only = check_bool("count_only", count_only)
    comps = graph_components(graph, target, mutable)
    gs = stable_graph(graph, target, comps.mutable)
    gs = nx.freeze(gs)
    calls = 0
    n_classes = 0
    n_subsets = 0
    found: list[EquivalenceClass] = []

    def recover(latent: frozenset, selection: frozenset) -> None:
        nonlocal calls, n_classes, n_subsets
        calls += 1
        neigh = _mag_neighbors(gs, target, latent, selection)
        if not neigh:
            free = frozenset(gs.nodes) - latent - selection - {target}
            n_classes += 1
            n_subsets += 2 ** len(free)
            if not count_only:
                found.append(EquivalenceClass(selection, free))
            return
        ordered = sorted_nodes(neigh)
        for r in range(len(ordered) + 1):
            for kept in itertools.combinations(ordered, r):
                a = frozenset(kept)
                recover(latent | (neigh - a), selection | a)

    recover(frozenset(), frozenset())
    found.sort(key=lambda c: _subset_key(c.representative))
    return EquivalenceClasses(tuple(found), n_classes, n_subsets, calls, comps.stable)
