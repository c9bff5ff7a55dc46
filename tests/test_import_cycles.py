"""No import cycles in the `mylivelinks` package.

The graph is built from the source with `ast`: every import of a `mylivelinks` module,
at module level or inside a function, is an edge; imports under `if TYPE_CHECKING:` are
not (they never run). An edge goes to the module named, not to the packages above it:
those `__init__` files run first on any import, and counting them would tie every module
to the app factory.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import mylivelinks

PACKAGE = "mylivelinks"
ROOT = Path(mylivelinks.__file__).parent

# Edges left out on purpose, each with its reason.
ALLOWED_EDGES = {
    # A worker builds the app on its first job: the app factory is the composition root,
    # which imports every blueprint and so every job module; nothing imports it back.
    ("mylivelinks.jobs.context", "mylivelinks"),
}


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    names: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for orelse in child.orelse:
                yield from _imports_in(orelse)
            continue
        yield from _imports_in(child)


def _imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def _resolve(name: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = name.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            source = _resolve(name, path.name == "__init__.py", node)
            # `from package import module` imports the module; `from module import name`
            # the module itself.
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                for alias in node.names
            ]
        found.update(target for target in targets if target in modules)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """{module: the package's modules it imports}, without the allowed edges."""
    modules = module_names()
    return {
        name: {
            target
            for target in imported_modules(name, path, modules)
            if (name, target) not in ALLOWED_EDGES
        }
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        pending = [iter(sorted(graph[start]))]
        while pending:
            following = next(pending[-1], None)
            if following is None:
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                pending.pop()
            elif following in on_path:
                return [*path[path.index(following) :], following]
            elif following not in done:
                path.append(following)
                on_path.add(following)
                pending.append(iter(sorted(graph[following])))
    return None


def test_the_graph_sees_imports():
    graph = import_graph()
    assert "mylivelinks.jobs.context" in graph["mylivelinks.jobs.publishing"]
    assert "mylivelinks.services.rooms.presence" in graph["mylivelinks.services.rooms.state"]


def test_a_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
