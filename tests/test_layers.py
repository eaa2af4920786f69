"""No import cycle between rewardlab's subpackages and root modules.

The layers (docs/design.md, "Layout") only work if imports run one way. A deferred import (one
inside a function) hides a cycle from the interpreter but not from the design, so every
import counts wherever it stands; only imports under ``if TYPE_CHECKING:`` are exempt (they
never run). The graph is read from the source with ``ast``, so nothing is imported.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import rewardlab

ROOT = Path(rewardlab.__file__).parent
#: The node of the package's own ``__init__.py`` (the front door: it re-exports the API).
FRONT = "rewardlab"

Edges = dict[str, dict[str, list[str]]]


def _unit(module: str) -> str | None:
    """The top-level unit a dotted module belongs to: ``rewardlab.models.seq`` -> ``models``,
    ``rewardlab._io`` -> ``_io``, ``rewardlab`` -> the front door; None outside rewardlab."""
    parts = module.split(".")
    if parts[0] != "rewardlab":
        return None
    return parts[1] if len(parts) > 1 else FRONT


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, package: str) -> list[tuple[str, int]]:
    """Every ``rewardlab`` module this tree imports (with the line), anywhere but under
    ``if TYPE_CHECKING:``. ``package``: the importing module's package, for relative imports."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "rewardlab":  # ``from rewardlab import api``: the submodule itself
                for alias in node.names:
                    name = alias.name
                    sub = ROOT / name
                    is_module = sub.is_dir() or sub.with_suffix(".py").is_file()
                    found.append((f"rewardlab.{name}" if is_module else module, node.lineno))
            else:
                found.append((module, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(root: Path = ROOT) -> Edges:
    """``edges[a][b]``: where (``file:line``) unit ``a`` imports unit ``b``."""
    edges: Edges = defaultdict(lambda: defaultdict(list))
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        is_init = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_init else parts)
        package = module if is_init else ".".join(parts[:-1])
        source = _unit(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target_module, line in _imports(tree, package):
            target = _unit(target_module)
            if target is None or target == source or source is None:
                continue
            edges[source][target].append(f"{rel.as_posix()}.py:{line}")
    return edges


def cycles(edges: Edges) -> list[list[str]]:
    """The strongly connected components of more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, {})):
            if w not in index:
                connect(w)
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

    nodes = sorted(set(edges) | {t for targets in edges.values() for t in targets})
    for v in nodes:
        if v not in index:
            connect(v)
    return found


def describe(edges: Edges, component: list[str]) -> str:
    lines = [f"import cycle between {', '.join(component)}:"]
    for a in component:
        for b in component:
            if b in edges.get(a, {}):
                where = edges[a][b]
                more = f" (+{len(where) - 3} more)" if len(where) > 3 else ""
                lines.append(f"  {a} -> {b}: {', '.join(where[:3])}{more}")
    return "\n".join(lines)


def test_the_graph_sees_deferred_imports_and_skips_type_checking(tmp_path: Path) -> None:
    """Guards the reader: a cycle made only by an import inside a function is found, and one
    made only under ``TYPE_CHECKING`` is not."""
    pkg = tmp_path / "rewardlab"
    for name in ("a", "b", "c"):
        (pkg / name).mkdir(parents=True)
        (pkg / name / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("import rewardlab.b.y\n")
    (pkg / "b" / "y.py").write_text("def f():\n    from rewardlab.a import x\n")
    (pkg / "c" / "z.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rewardlab.a import x\n"
        "import rewardlab.b\n")
    (pkg / "b" / "w.py").write_text("from ..c import z\n")  # relative imports count too
    edges = import_graph(pkg)
    assert cycles(edges) == [["a", "b", "c"]]
    assert "a" not in edges["c"] and "rewardlab/b/y.py:2" in edges["b"]["a"]
    assert edges["b"]["c"] == ["rewardlab/b/w.py:1"]


def test_no_import_cycle_between_subpackages() -> None:
    edges = import_graph()
    assert {"models", "data", "train", "api"} <= set(edges)  # the walk found them
    found = cycles(edges)
    assert not found, "\n".join(describe(edges, c) for c in found)


def test_only_front_doors_import_api() -> None:
    """``api`` is the front door: a consumer that imported it could never be imported by it
    (the audit once did, which kept ``inspect``'s functions out of ``api``)."""
    edges = import_graph()
    importers = {unit for unit, targets in edges.items() if "api" in targets}
    front = {FRONT, "cli"} | {u for u in importers if u.startswith(("_cli", "_api"))}
    assert importers <= front, {u: edges[u]["api"][:3] for u in importers - front}
