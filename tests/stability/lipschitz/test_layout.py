"""The layers of :mod:`stability.lipschitz` (no circle anywhere: ``tests/test_layout.py``).

Bottom up: the certificate primitives (:mod:`stability.lipschitz.certificate`), the solvers,
the router :func:`stability.lipschitz.lipsdp.lipsdp`, then the public API, which alone holds the
fallback policy.
"""

from __future__ import annotations

from tests.test_layout import import_graph

PACKAGE = "stability.lipschitz"


def test_layers():
    graph = {m: d for m, d in import_graph().items() if m.startswith(PACKAGE)}
    assert graph[f"{PACKAGE}.lipsdp"], "the graph must see the router's imports"
    # the certificate primitives are the bottom of the solver layer
    assert graph[f"{PACKAGE}.certificate"] <= {
        f"{PACKAGE}.network",
        f"{PACKAGE}.result",
        "theory.checks",  # ConvergenceError, the base of LipSDPError
    }
    # the router only routes: it does not know the fallback methods (the public API's policy)
    assert not graph[f"{PACKAGE}.lipsdp"] & {
        f"{PACKAGE}.eclipse",
        f"{PACKAGE}.liplt",
        f"{PACKAGE}.api",
    }
    # no solver imports the package (whose __init__ imports the public API)
    assert all(PACKAGE not in deps for mod, deps in graph.items() if mod != PACKAGE)
