"""The toolkit's import graph: no circle anywhere, and the packages stay in their layers.

Layers, bottom up: :mod:`theory` (imports nothing of the project); :mod:`causal`,
:mod:`stability` and :mod:`trainers` (import only :mod:`theory`, for its validation module and
the reward->policy maps); :mod:`perturbation` (the claims, the report and the benchmarks: may
import everything). Function-local imports count like any other: hiding a circle inside a
function does not remove it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "causal", "stability", "trainers", "perturbation")
#: package -> the project packages it may import.
ALLOWED = {
    "theory": set(),
    "causal": {"theory"},
    "stability": {"theory"},
    "trainers": {"theory"},
    "perturbation": {"theory", "causal", "stability", "trainers"},
}


def _modules(root: Path) -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (root / pkg).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports (statically, anywhere in its body)."""
    mods = _modules(root)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for mod, path in mods.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(resolve(a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: up level - 1 packages from this module's package
                    up = pkg
                    for _ in range(node.level - 1):
                        up = up.rpartition(".")[0]
                    base = f"{up}.{base}" if base else up
                # ``from pkg import sub`` loads the submodule ``pkg.sub`` when there is one
                found.update(resolve(f"{base}.{a.name}") for a in node.names)
        found.discard(None)
        found.discard(mod)
        graph[mod] = found
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return [*path[path.index(w) :], w]
            if w not in state and (found := visit(w)):
                return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_the_import_graph_has_no_circle():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()) or [])


def test_find_cycle_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_function_local_imports_are_edges(tmp_path):
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
    (tmp_path / "causal" / "graph.py").write_text("")
    (tmp_path / "theory" / "mod.py").write_text("def f():\n    from causal.graph import x\n")
    assert import_graph(tmp_path)["theory.mod"] == {"causal.graph"}


def test_packages_import_only_the_layers_below_them():
    wrong = sorted(
        f"{mod} imports {dep}"
        for mod, deps in import_graph().items()
        for dep in deps
        if dep.split(".")[0] != mod.split(".")[0]
        and dep.split(".")[0] not in ALLOWED[mod.split(".")[0]]
    )
    assert not wrong, wrong
