"""Reading iac/ with python-hcl2 for the offline tests (no providers, no terraform init)."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any, Iterator

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
IAC = ROOT / "iac"
MODULES = IAC / "modules"

_OPTS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


def tf_files(directory: Path = IAC, recursive: bool = True) -> list[Path]:
    pattern = "**/*.tf" if recursive else "*.tf"
    return sorted(p for p in directory.glob(pattern) if ".terraform" not in p.parts)


@functools.lru_cache(maxsize=None)
def parse(path: Path) -> dict:
    with open(path) as f:
        return hcl2.load(f, serialization_options=_OPTS)


def module_dir(name: str) -> Path:
    return MODULES / name


def _labelled(directory: Path, kind: str) -> Iterator[tuple[str, str, dict, Path]]:
    for path in tf_files(directory, recursive=False):
        for item in parse(path).get(kind, []):
            for type_, named in item.items():
                for name, body in named.items():
                    yield type_, name, body, path


def resources(directory: Path, type_: str | None = None) -> list[tuple[str, dict]]:
    """[(name, body)] of resources (of one type) declared in directory (not recursive)."""
    return [(n, b) for t, n, b, _ in _labelled(directory, "resource") if type_ in (None, t)]


_EACH_VALUE = re.compile(r"^\$\{each\.value\.(\w+)\}$")


def instances(directory: Path, type_: str) -> list[tuple[str, dict]]:
    """[(name, body)] of the resource instances of one type: a resource with
    ``for_each = local.X`` (a literal map) gives one per key, named by the key, with
    ``each.value.ATTR`` and ``each.key`` resolved; any other resource is itself."""
    out = []
    for name, body in resources(directory, type_):
        each = expr(body.get("for_each", ""))
        if not each.startswith("local."):
            out.append((name, body))
            continue
        for key, values in locals_(directory)[each.removeprefix("local.")].items():
            out.append((key, _resolve_each(body, key, values)))
    return out


def _resolve_each(value: Any, key: str, values: dict) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_each(v, key, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_each(v, key, values) for v in value]
    if value == "${each.key}":
        return key
    m = _EACH_VALUE.match(value) if isinstance(value, str) else None
    return values[m.group(1)] if m else value


def resources_typed(directory: Path) -> list[tuple[str, str, dict]]:
    return [(t, n, b) for t, n, b, _ in _labelled(directory, "resource")]


def data_sources(directory: Path, type_: str | None = None) -> list[tuple[str, dict]]:
    return [(n, b) for t, n, b, _ in _labelled(directory, "data") if type_ in (None, t)]


def resource(directory: Path, type_: str, name: str) -> dict:
    for n, body in resources(directory, type_):
        if n == name:
            return body
    raise AssertionError(f"{type_}.{name} not found in {directory}")


def _named(directory: Path, kind: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for path in tf_files(directory, recursive=False):
        for item in parse(path).get(kind, []):
            out.update(item)
    return out


def variables(directory: Path) -> dict[str, dict]:
    return _named(directory, "variable")


def outputs(directory: Path) -> dict[str, dict]:
    return _named(directory, "output")


def module_calls(directory: Path = IAC) -> dict[str, dict]:
    return _named(directory, "module")


def locals_(directory: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in tf_files(directory, recursive=False):
        for block in parse(path).get("locals", []):
            out.update(block)
    return out


def block(body: dict, name: str) -> dict:
    """The single nested block `name` of a resource body (hcl2 gives a list of one dict)."""
    value = body.get(name)
    assert isinstance(value, list) and len(value) == 1, f"expected one {name} block, got {value!r}"
    return value[0]


def blocks(body: dict, name: str) -> list[dict]:
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def dynamic_blocks(body: dict, name: str) -> list[dict]:
    """`dynamic "name" {}` blocks of a body: [{"for_each": ..., "content": [...]}]."""
    out = []
    for dyn in blocks(body, "dynamic"):
        if name in dyn:
            out.append(dyn[name])
    return out


def is_expr(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def expr(value: Any) -> str:
    """The expression inside ${...} (or the literal as a string)."""
    return value[2:-1] if is_expr(value) else str(value)


def default(directory: Path, variable: str) -> Any:
    return variables(directory)[variable].get("default")


def raw_text(directory: Path, recursive: bool = False) -> str:
    return "\n".join(p.read_text() for p in tf_files(directory, recursive))


_MERGE = re.compile(r"^merge\((local\.\w+(?:\s*,\s*local\.\w+)*)\)$")


def resolve_env_map(directory: Path, local_name: str) -> dict[str, Any]:
    """A locals map, following merge(local.a, local.b, ...) of literal maps."""
    locs = locals_(directory)
    value = locs[local_name]
    if isinstance(value, dict):
        return value
    m = _MERGE.match(expr(value))
    assert m, f"local.{local_name} must be a literal map or merge(local.*): {value!r}"
    merged: dict[str, Any] = {}
    for ref in m.group(1).split(","):
        merged.update(resolve_env_map(directory, ref.strip().removeprefix("local.")))
    return merged


def imports_closure(entry_modules: list[str]) -> set[Path]:
    """The files of functions/ and websocket_edge/ these modules import, transitively."""
    root = ROOT
    todo = list(entry_modules)
    seen: set[Path] = set()
    while todo:
        mod = todo.pop()
        path = root / (mod.replace(".", "/") + ".py")
        if not path.exists() or path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo.append(node.module)
                todo.extend(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                todo.extend(a.name for a in node.names)
    return {p for p in seen if p.relative_to(root).parts[0] in ("functions", "websocket_edge")}


# Each deployed component's source files (what its settings and table grants are checked against).
COMPONENT_SOURCES = {
    "worker": lambda: imports_closure(["functions.chat_worker"]),
    "http": lambda: imports_closure(["functions.http.api"]),
    "edge": lambda: imports_closure([f"websocket_edge.{p.stem}" for p in (ROOT / "websocket_edge").glob("*.py")]),
    "notifier": lambda: imports_closure(["functions.push.notifier"]),
}
