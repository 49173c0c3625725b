"""The layers a newcomer sees in the folders are the layers the imports follow.

Every module of the package is put in a layer by its name; an import may only
point to a lower layer, or stay inside its own layer. Within a layer, the
module-level imports have no cycle. The journal, the kernel and the table never
import wasmtime (journals are read on machines without a wasm runtime).
These tests read the sources with ``ast``: nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"wasi_rr": REPO / "wasi_rr", "wasi_rr.host": REPO / "host",
            "wasi_rr.journal": REPO / "journal", "wasi_rr.replay": REPO / "replay"}

LAYERS: list[tuple[str, int]] = [
    # (module name prefix, rank); the longest matching prefix wins
    ("wasi_rr.errors", 0), ("wasi_rr.exitcodes", 0), ("wasi_rr._version", 0),
    ("wasi_rr.argtypes", 0),
    ("wasi_rr.host", 0),  # the empty package that holds the host layers
    ("wasi_rr.host.kernel", 1),
    ("wasi_rr.host.table", 2), ("wasi_rr.journal", 2),
    ("wasi_rr.host.boundary", 3),
    ("wasi_rr.host.runtime", 4),
    ("wasi_rr.api", 5),
    ("wasi_rr.snapshots", 6),
    ("wasi_rr.record", 7), ("wasi_rr.replay", 7),
    ("wasi_rr.replay.check", 8), ("wasi_rr.replay.debug", 8),
    ("wasi_rr.replay.pytest_plugin", 8), ("wasi_rr.replay.manifest", 8),
    ("wasi_rr.dump", 9), ("wasi_rr.cli", 9), ("wasi_rr.cmd_", 9), ("wasi_rr.__main__", 9),
]
GROUPS = [("wasi_rr.errors", "wasi_rr.exitcodes", "wasi_rr._version", "wasi_rr.argtypes"),
          ("wasi_rr.dump", "wasi_rr.cli", "wasi_rr.cmd_", "wasi_rr.__main__"),
          ("wasi_rr.replay.pytest_plugin", "wasi_rr.replay.manifest")]
"""Layers made of several top-level prefixes (importing each other is fine)."""
NO_WASMTIME = ("wasi_rr.journal", "wasi_rr.host.kernel", "wasi_rr.host.table")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for prefix, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([prefix, *parts])
            if (
                name.startswith("wasi_rr.host") and prefix == "wasi_rr"
            ) or "__pycache__" in path.parts:
                continue
            found[name] = path
    return found


MODULES = _modules()


def _layer(name: str) -> tuple[str, int] | None:
    best: tuple[str, int] | None = None
    for prefix, rank in LAYERS:
        if (
            name == prefix
            or name.startswith(prefix + ".")
            or (prefix.endswith("_") and name.startswith(prefix))
        ):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, rank)
    return best


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level) for every import of the file."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    out: list[tuple[str, bool]] = []
    top = set(map(id, tree.body))
    typing_only = {
        id(n)
        for blk in ast.walk(tree)
        if isinstance(blk, ast.If)
        and ast.unparse(blk.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for n in ast.walk(blk)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue  # names for annotations only: no dependency at run time
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.append((full if full in MODULES else base, id(node) in top))
    return out


def _import_edges() -> list[tuple[str, str, bool]]:
    edges = []
    for name, path in MODULES.items():
        for target, top in _imports(name, path):
            if target.startswith("wasi_rr"):
                edges.append((name, target, top))
    return edges


EDGES = _import_edges()


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if _layer(m) is None and m != "wasi_rr"] == []


@pytest.mark.parametrize("source", sorted(MODULES))
def test_imports_point_down(source: str) -> None:
    here = _layer(source)
    if here is None:
        return  # the package itself: lazy re-exports of the public API
    bad = []
    for src, target, _top in EDGES:
        if src != source or target == "wasi_rr":
            continue
        there = _layer(target)
        assert there is not None, target
        same_group = any(here[0] in g and there[0] in g for g in GROUPS)
        if there[1] > here[1] or (there[1] == here[1] and there[0] != here[0] and not same_group):
            bad.append(f"{target} ({there[0]}, layer {there[1]})")
    assert bad == [], f"{source} ({here[0]}, layer {here[1]}) imports upward or sideways: {bad}"


def test_no_import_cycles_at_module_level() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for src, target, top in EDGES:
        if top and target in graph and target != src:
            graph[src].add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert cycles == []


@pytest.mark.parametrize("prefix", NO_WASMTIME)
def test_bottom_layers_never_import_wasmtime(prefix: str) -> None:
    offenders = []
    for name, path in MODULES.items():
        if name == prefix or name.startswith(prefix + "."):
            if any(t == "wasmtime" or t.startswith("wasmtime.") for t, _ in _imports(name, path)):
                offenders.append(name)
    assert offenders == []


def test_journal_imports_only_itself_and_the_leaves() -> None:
    bad = [
        (s, t)
        for s, t, _ in EDGES
        if s.startswith("wasi_rr.journal")
        and not t.startswith("wasi_rr.journal")
        and _layer(t) is not None
        and _layer(t)[1] != 0
    ]  # type: ignore[index]
    assert bad == []


def test_every_package_is_installed() -> None:
    """A subpackage missing from pyproject's list works in the editable checkout
    and is missing from every real install."""
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert packages - listed == set()
