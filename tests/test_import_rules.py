"""The layout's import rules, read from the source: the bottom package imports nothing of ours,
the library packages never import the app (and the hub never imports inventory or the
archive), nothing in the app imports upward, and no module takes part in an import cycle, not
even one hidden behind ``TYPE_CHECKING`` or inside a function."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "realtime", "inventory", "replay", "live")

#: What each top-level package may import of ours, besides itself.
ALLOWED = {
    "common": set(),
    "realtime": {"common"},
    "inventory": {"common"},
    "replay": {"common"},
    "live": {"common", "realtime", "inventory", "replay"},
}

#: Inside the app, from the bottom up: a group may import its own and the groups before it.
LIVE_LAYERS = (
    ("live.platform", "live.db", "live.auth"),
    (
        "live.sessions",
        "live.commerce",
        "live.guides",
        "live.clips",
        "live.replays",
        "live.webhooks",
        "live.reservations",
        "live.context",
    ),
    ("live.api", "live.node"),
    ("live.app",),
    ("live.cli",),
)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic's scripts, loaded by Alembic, not imported by the app
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every module of ours that ``path`` imports, anywhere in it, with the line."""
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(alias.name):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and _ours(node.module):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield (submodule if submodule in MODULES else node.module), node.lineno


def _graph() -> dict[str, set[str]]:
    return {
        name: {target for target, _ in _imports(path) if target != name}
        for name, path in MODULES.items()
    }


def _layer(module: str) -> int | None:
    for index, group in enumerate(LIVE_LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in group):
            return index
    return None


def test_the_tree_is_found() -> None:
    """The rules below look at every package (a moved tree would pass them vacuously)."""
    assert {name.split(".")[0] for name in MODULES} == set(PACKAGES)
    assert len(MODULES) > 100


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_what_its_role_allows(package: str) -> None:
    """common imports nothing of ours; the hub, inventory and the archive import only common."""
    wrong = [
        f"{MODULES[name].relative_to(ROOT)}:{line} imports {target}"
        for name in MODULES
        if name.split(".")[0] == package
        for target, line in _imports(MODULES[name])
        if target.split(".")[0] not in {package, *ALLOWED[package]}
    ]
    assert not wrong, "\n".join(wrong)


def test_nothing_in_the_app_imports_upward() -> None:
    """Records and use cases never import the API, the node or the CLI; the foundation
    (platform, db, auth) imports no domain."""
    wrong = []
    for name, path in MODULES.items():
        if not name.startswith("live."):
            continue
        mine = _layer(name)
        assert mine is not None, f"{name} belongs to no layer of LIVE_LAYERS"
        for target, line in _imports(path):
            theirs = _layer(target)
            if theirs is not None and theirs > mine:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target} (upward)")
    assert not wrong, "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_module_is_in_an_import_cycle() -> None:
    """The import graph of the product has no cycle, counting every import in a module."""
    assert not _cycles(_graph())


def test_the_cycle_check_sees_a_cycle() -> None:
    """The check is not vacuous: a loop through three modules, beside a chain, is reported."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
