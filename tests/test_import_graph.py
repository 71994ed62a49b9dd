"""The import graph of tidings' own modules (functions/, websocket_edge/, local/): no cycle,
and each folder imports only the folders it may (docs/architecture.md, "Folders").

Every import counts, wherever it is written: at the top, inside a function (a lazy import
only hides a cycle) or under ``if TYPE_CHECKING:`` (a type that needs its user is a cycle
in the design). A module imports the modules it names: ``from a.b import c`` imports
``a.b.c`` when that is a module of ours, else ``a.b``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("functions", "websocket_edge", "local")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a package: its nearest module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_the_graph_sees_the_imports_it_should():
    graph = import_graph()
    assert "functions.settings" in graph["local.stack.stack"]
    assert "local.emulators.esm_lanes" in graph["local.emulators.esm"]
    assert "local.stack.browser" in graph["local.stack.components"]     # imported inside a function
    assert "local.stack.kafka" in graph["local.stack.kafka_cluster"]     # from local.stack import kafka


def test_there_is_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# Folder -> the folders its modules may import (besides itself, the standard library and
# third-party packages). The longest matching prefix names a module's folder.
MAY_IMPORT = {
    "functions": set(),                                  # the rules: no sockets, no processes
    "websocket_edge": {"functions"},
    "local.paths": set(),
    "local.stack": {"functions", "local.paths"},         # runs local.emulators by module name only
    "local.emulators": {"functions", "local.paths"},
    "local.loadtest": {"functions", "local.paths", "local.stack"},
    "local.deploy": {"functions", "local.paths"},
    "local.demo": {"functions"},
    "local.docker": {"functions", "local.stack"},
}


def folder_of(module: str) -> str:
    matches = [f for f in MAY_IMPORT if module == f or module.startswith(f + ".")]
    assert matches, f"{module}: in no folder of MAY_IMPORT (add its folder there and to docs/architecture.md)"
    return max(matches, key=len)


def test_each_folder_imports_only_what_it_may():
    wrong = []
    for module, targets in import_graph().items():
        if module == "local":   # local/__init__.py
            continue
        home = folder_of(module)
        for target in targets:
            there = folder_of(target)
            if there != home and there not in MAY_IMPORT[home]:
                wrong.append(f"{module} imports {target} ({home} may import {sorted(MAY_IMPORT[home]) or 'nothing of ours'})")
    assert not wrong, "\n".join(wrong)
