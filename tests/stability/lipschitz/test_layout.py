"""The import graph of :mod:`stability.lipschitz` has no circle (function-local imports included).

The layers: the certificate primitives (:mod:`stability.lipschitz.certificate`) at the bottom,
the solvers above them, the router :func:`stability.lipschitz.lipsdp.lipsdp`, then the public
API. A function-local import is an edge like any other: hiding a circle inside a function does
not remove it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import stability.lipschitz as package

PACKAGE = "stability.lipschitz"
ROOT = Path(package.__file__).parent


def _module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def _resolve(name: str) -> str | None:
    """The package module that importing the dotted ``name`` loads, or ``None`` if outside."""
    if name == PACKAGE:
        return PACKAGE
    if not name.startswith(PACKAGE + "."):
        return None
    sub = name[len(PACKAGE) + 1 :].split(".")[0]
    return f"{PACKAGE}.{sub}" if (ROOT / f"{sub}.py").exists() else PACKAGE


def _imports(path: Path) -> set[str]:
    """The modules of the package that ``path`` imports, anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [_resolve(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import inside the package
                base = f"{PACKAGE}.{base}" if base else PACKAGE
            # ``from stability.lipschitz import lipsdp`` loads the submodule ``lipsdp``
            targets = [_resolve(base)]
            if base == PACKAGE:
                targets += [_resolve(f"{base}.{a.name}") for a in node.names]
        else:
            continue
        found.update(t for t in targets if t is not None)
    found.discard(_module_name(path))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (statically, function-local ones included)."""
    return {_module_name(p): _imports(p) for p in sorted(ROOT.glob("*.py"))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle ``[a, b, ..., a]`` of ``graph``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_function_local_imports_are_edges(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from stability.lipschitz.eclipse import eclipse\n")
    assert f"{PACKAGE}.eclipse" in _imports(src)


def test_no_import_cycle():
    graph = import_graph()
    assert graph.get(f"{PACKAGE}.lipsdp"), "the graph must see the router's imports"
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_layers():
    graph = import_graph()
    # the certificate primitives are the bottom of the solver layer
    assert graph[f"{PACKAGE}.certificate"] <= {f"{PACKAGE}.network", f"{PACKAGE}.result"}
    # the router only routes: it does not know the fallback methods (the public API's policy)
    assert not graph[f"{PACKAGE}.lipsdp"] & {
        f"{PACKAGE}.eclipse",
        f"{PACKAGE}.liplt",
        f"{PACKAGE}.api",
    }
    # no solver imports the package (whose __init__ imports the public API)
    assert all(PACKAGE not in deps for mod, deps in graph.items() if mod != PACKAGE)
