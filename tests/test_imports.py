"""The package's shape: no import cycles, and no package reaching into another's private module.

Imports are read from the source (module level and inside functions alike: a function-level import
that closes a cycle is still a cycle); imports under ``if TYPE_CHECKING:`` are for annotations only
and are left out. ``csdesk._x`` modules at the top level (``_model``, ``_checks``, ``_pii``, …) are
shared by every package; ``csdesk.pkg._x`` is private to ``csdesk.pkg``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "csdesk").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skipped:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                submodules = [f"{node.module}.{a.name}" for a in node.names]
                targets = [m for m in submodules if m in modules] or [node.module]
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target.startswith("csdesk") and target != name:
                    graph[name].add(target)
    return graph


def _package(name: str, modules: dict[str, Path]) -> str:
    return name if modules[name].name == "__init__.py" else name.rsplit(".", 1)[0]


def test_no_package_imports_another_packages_private_module() -> None:
    modules = _modules()
    wrong = []
    for name, targets in _imports(modules).items():
        for target in targets:
            parts = target.split(".")
            for depth in range(2, len(parts)):
                if parts[depth].startswith("_"):
                    owner = ".".join(parts[:depth])
                    if not (_package(name, modules) + ".").startswith(owner + "."):
                        wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"f"}, "f": set()}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    cycles = _cycles(_imports(_modules()))
    assert not cycles, f"import cycles: {cycles}"


def test_the_walk_sees_the_packages() -> None:
    modules = _modules()
    graph = _imports(modules)
    assert "csdesk.calendars.business" in modules
    assert "csdesk.errors" in graph["csdesk.money"]
