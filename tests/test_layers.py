"""The package's layers, checked from its source: a lower layer never imports a higher one.

Ranks (lowest first): core 0, modeling 1, stages 2, io 3, pipeline 4, study and train 5,
``_cli`` and the package's ``__init__`` 6. Peers of one rank do not import each other
(study never imports train, nor train study). Every import counts, also those inside
functions (they are how heavy modules are loaded lazily, and they still tie the layers).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "fervideo"

RANKS = {"core": 0, "modeling": 1, "stages": 2, "io": 3, "pipeline": 4, "study": 5, "train": 5, "_cli": 6}
TOP = 6  # fervideo/__init__.py and fervideo/__main__.py sit on top of everything


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> str | None:
    """The layer a ``fervideo...`` module belongs to (None for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _rank(module: str) -> int:
    layer = _layer(module)
    if layer is None or layer in ("__main__", "__init__"):
        return TOP
    if layer not in RANKS:
        raise AssertionError(f"{module}: module outside the known layers {sorted(RANKS)}; give it a rank here")
    return RANKS[layer]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every fervideo import in ``path``, wherever it sits."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from fervideo.stages import detect`` imports the submodule fervideo.stages.detect
            found += [(node.lineno, f"{mod}.{a.name}" if _is_module(f"{mod}.{a.name}") else mod) for a in node.names]
    return [(line, m) for line, m in found if m == "fervideo" or m.startswith("fervideo.")]


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PKG.parent / rel).with_suffix(".py").exists() or (PKG.parent / rel / "__init__.py").exists()


MODULES = sorted(PKG.rglob("*.py"))


def test_the_walk_sees_the_whole_package():
    names = {_module_name(p) for p in MODULES}
    assert {"fervideo.core.types", "fervideo.stages.classify", "fervideo.pipeline.frame_loop", "fervideo._cli.app"} <= names
    # imports inside functions are found too (the CLI loads the pipeline lazily)
    lazy = _imports(PKG / "_cli" / "explain.py")
    assert any(m == "fervideo.study.explain" for _, m in lazy)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG.parent)))
def test_no_import_goes_up_or_sideways(path):
    me = _module_name(path)
    mine = _rank(me)
    bad = []
    for line, target in _imports(path):
        if _layer(target) == _layer(me):
            continue  # within one layer
        theirs = _rank(target)
        if theirs > mine or (theirs == mine and mine != TOP):
            bad.append(f"line {line}: {me} (rank {mine}) imports {target} (rank {theirs})")
    assert not bad, "\n".join(bad)


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    """A lower layer importing a higher one, inside a function, is reported."""
    fake = tmp_path / "fervideo"
    (fake / "core").mkdir(parents=True)
    (fake / "pipeline").mkdir()
    for p in (fake / "__init__.py", fake / "core" / "__init__.py", fake / "pipeline" / "__init__.py", fake / "pipeline" / "batch.py"):
        p.write_text("")
    bad = fake / "core" / "types.py"
    bad.write_text("def f():\n    from ..pipeline import batch\n    return batch\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    with pytest.raises(AssertionError, match="rank 0.*imports fervideo.pipeline.batch"):
        test_no_import_goes_up_or_sideways(bad)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop in ``graph`` (module -> modules it imports), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m in graph and m not in state and (found := visit(m)):
                return found
        path.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_the_cycle_finder_finds_a_lazy_three_module_loop():
    graph = {"train.card": {"train.evaluate"}, "train.evaluate": {"train.data"}, "train.data": {"train.card"}, "core": set()}
    assert _find_cycle(graph) == ["train.card", "train.evaluate", "train.data", "train.card"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_between_modules():
    """No two modules import each other, directly or round a loop, not even lazily.

    The one exception is a registry package loading its own built-in members
    (``stages.detect`` imports ``stages.detect.centerface``, which registers itself with it).
    """
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        me = _module_name(path)
        own = path.name == "__init__.py"
        graph[me] = {m for _, m in _imports(path) if m != me and not (own and m.startswith(me + "."))}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
