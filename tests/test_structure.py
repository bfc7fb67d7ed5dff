"""The house's shape: no import circles inside livenessapp/ or training/, and no oversized source module.

Every import statement counts, at module level or inside a function (a lazy import that closes a circle is
still a circle), except those under ``if TYPE_CHECKING:``. ``from pkg import name`` is an edge to
``pkg.name`` when that is a module, else to ``pkg`` (its ``__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folder -> the package name it is installed as (pyproject.toml's package-dir)
PACKAGES = {"livenessapp": "livenessapp", "training": "livenessapp_training"}
MAX_LINES = 600


def _module_files() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [package, *path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, modules: set[str] | None = None) -> set[str]:
    """Names of the modules this module imports (absolute and relative), TYPE_CHECKING blocks skipped.

    ``from pkg import a, b`` names ``pkg.a`` and ``pkg.b`` where those are modules (in ``modules``), and
    ``pkg`` itself only when one of the names is not a module of it.
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = module.split(".") if is_package else module.split(".")[:-1]
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            if modules is None:
                found.add(base)
                found.update(submodules)
            else:
                found.update(submodules & modules)
                if not submodules <= modules:
                    found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _module_files()
    names = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = _imports(tree, name, path.name == "__init__.py", names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
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
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return cycles


def test_cycle_finder_sees_a_circle_and_a_clean_graph():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_relative_and_lazy_imports_are_edges():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from .deep.mod import X\n"
        "def f():\n    import livenessapp.lazy\n"
        "if TYPE_CHECKING:\n    from livenessapp.types_only import T\n"
    )
    found = _imports(tree, "livenessapp.pkg.mod", is_package=False)
    assert {"livenessapp.pkg.sibling", "livenessapp.pkg.deep.mod", "livenessapp.lazy"} <= found
    assert "livenessapp.types_only" not in found


def test_no_import_circles():
    cycles = find_cycles(import_graph())
    assert not cycles, (
        "import circles (each shared name belongs in the lowest module that needs it): "
        + "; ".join(" <-> ".join(c) for c in cycles)
    )


def test_no_source_module_over_600_lines():
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in _module_files().values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines (split them along what they do): {too_long}"


def test_app_core_never_imports_torch():
    offenders = []
    for name, path in _module_files().items():
        if name == "livenessapp" or name.startswith("livenessapp."):
            found = _imports(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py")
            if any(f == "torch" or f.startswith("torch.") for f in found):
                offenders.append(name)
    assert not offenders, f"livenessapp modules importing torch: {offenders}"
