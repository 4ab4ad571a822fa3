"""Hypothesis strategies for causal graphs and discrete SCMs (public, for users' test suites).

::

    from hypothesis import given
    from causal.strategies import binary_scms, settings

    @given(settings(max_x=6))
    def test_mine(setting):
        graph, target, mutable = setting

All strategies are built on ``@st.composite`` with keyword-only size parameters; instances
shrink towards few nodes and few edges. Each factory checks its arguments when called, before
anything is drawn, so a bad size is refused at once with an error naming the parameter.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import strategies as st

from causal.scm import DiscreteSCM
from theory.checks import check_int

__all__ = ["binary_scms", "dags", "settings"]


def _sizes(min_x: object, max_x: object) -> tuple[int, int]:
    lo = check_int("min_x", min_x, lo=0)
    return lo, check_int("max_x", max_x, lo=lo)


def dags(*, min_x: int = 0, max_x: int = 6) -> st.SearchStrategy[nx.DiGraph]:
    """DAGs over ``Y, X1..Xd``, ``0 <= min_x <= d <= max_x`` (``Y`` at a random position of a
    random topological order)."""
    min_x, max_x = _sizes(min_x, max_x)
    return _dags(min_x=min_x, max_x=max_x)


@st.composite
def _dags(draw: st.DrawFn, *, min_x: int, max_x: int) -> nx.DiGraph:
    d = draw(st.integers(min_x, max_x))
    names = ["Y"] + [f"X{i}" for i in range(1, d + 1)]
    order = draw(st.permutations(names))
    g = nx.DiGraph()
    g.add_nodes_from(names)
    for i in range(len(order)):
        for j in range(i + 1, len(order)):
            if draw(st.booleans()):
                g.add_edge(order[i], order[j])
    return g


def settings(
    *, min_x: int = 1, max_x: int = 6, max_mutable: int = 2
) -> st.SearchStrategy[tuple[nx.DiGraph, str, frozenset]]:
    """``(graph, "Y", mutable)`` with ``0..max_mutable`` mutable X's (``max_mutable >= 0``)."""
    min_x, max_x = _sizes(min_x, max_x)
    max_mutable = check_int("max_mutable", max_mutable, lo=0)
    return _settings(min_x=min_x, max_x=max_x, max_mutable=max_mutable)


@st.composite
def _settings(
    draw: st.DrawFn, *, min_x: int, max_x: int, max_mutable: int
) -> tuple[nx.DiGraph, str, frozenset]:
    g = draw(dags(min_x=min_x, max_x=max_x))
    xs = sorted(n for n in g if n != "Y")
    k = draw(st.integers(0, min(max_mutable, len(xs))))
    mut = frozenset(draw(st.lists(st.sampled_from(xs), min_size=k, max_size=k, unique=True)))
    return g, "Y", mut


def binary_scms(
    *, max_x: int = 4, max_mutable: int = 2, max_mutable_parents: int = 2
) -> st.SearchStrategy[DiscreteSCM]:
    """Binary SCMs with CPT entries ``P(v=1|pa)`` in [0.05, 0.95] (exact ``h*`` checks).

    ``1..max_x`` X's (``max_x >= 1``); ``0..max_mutable`` mutable nodes, each with at most
    ``max_mutable_parents >= 0`` parents (exact enumeration stays cheap).
    """
    return _binary_scms(
        max_x=check_int("max_x", max_x, lo=1),
        max_mutable=check_int("max_mutable", max_mutable, lo=0),
        max_mutable_parents=check_int("max_mutable_parents", max_mutable_parents, lo=0),
    )


@st.composite
def _binary_scms(
    draw: st.DrawFn, *, max_x: int, max_mutable: int, max_mutable_parents: int
) -> DiscreteSCM:
    g = draw(dags(min_x=1, max_x=max_x))
    xs = sorted(n for n in g if n != "Y" and g.in_degree(n) <= max_mutable_parents)
    k = draw(st.integers(0, min(max_mutable, len(xs))))
    mut = draw(st.lists(st.sampled_from(xs), min_size=k, max_size=k, unique=True)) if xs else []
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cpts, parents = {}, {}
    for v in g:
        pa = sorted(g.predecessors(v))
        parents[v] = pa
        p1 = rng.uniform(0.05, 0.95, size=(2,) * len(pa))
        cpts[v] = np.stack([1 - p1, p1], axis=-1)
    return DiscreteSCM(g, "Y", frozenset(mut), cpts, parents=parents)
