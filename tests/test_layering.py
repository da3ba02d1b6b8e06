"""The import layering the README's architecture section states, enforced by parsing every import.

Every ``import`` and ``from ... import`` of the four packages is read with ``ast`` (also the
ones inside functions: a lazy import is still a dependency), resolved to the module it names,
and checked against :data:`LAYERS`: a module may import its own group and the groups of lower
layers only (two groups of one layer are siblings and may not import each other), and no
modules may import each other, directly or around a longer cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("disdepth_core", "disdepth_cli", "disdepth_ros", "training")

# Lowest layer first; each layer holds groups (module-name prefixes). Keep in step with README.md.
LAYERS: list[dict[str, tuple[str, ...]]] = [
    {"foundation": ("disdepth_core",)},  # the core's top-level modules: errors, config parsing, geometry, metrics, ...
    {"models": ("disdepth_core.models",)},
    {"runtime": ("disdepth_core.runtime",)},
    {"pipeline": ("disdepth_core.pipeline", "disdepth_core.evaluation"), "synthetic": ("disdepth_core.synthetic",)},
    {"bags": ("disdepth_core.bags",), "export": ("disdepth_core.export",)},
    {"data": ("disdepth_core.data",)},
    {"training": ("training",), "node": ("disdepth_ros",)},
    {"cli": ("disdepth_cli",)},
]


def all_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in its body (``from pkg import sub`` counts as ``pkg.sub``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a module: the longest project module named
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] in PACKAGES:
                found.add(target)
    found.discard(name)
    return found


def group_of(module: str) -> tuple[int, str]:
    best = (-1, "", "")
    for level, groups in enumerate(LAYERS):
        for group, prefixes in groups.items():
            for prefix in prefixes:
                if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best[2]):
                    best = (level, group, prefix)
    assert best[0] >= 0, f"{module} is in no layer; add it to LAYERS (and the README)"
    return best[0], best[1]


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def test_every_import_goes_down_the_layers():
    wrong = []
    for module, targets in sorted(import_graph().items()):
        level, group = group_of(module)
        for target in sorted(targets):
            t_level, t_group = group_of(target)
            if t_level > level or (t_level == level and t_group != group):
                wrong.append(f"{module} ({group}, layer {level}) imports {target} ({t_group}, layer {t_level})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_import_cycles():
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert not cycles, "modules that import each other (directly or around a cycle): " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_lazy_relative_and_package_imports(tmp_path):
    """The parser resolves the import forms the code base uses (a checker that misses them proves nothing)."""
    modules = {"disdepth_core.runtime": Path(), "disdepth_core.runtime.base": Path(), "disdepth_core.models.checkpoint": Path(),
               "training": Path(), "training.trainer": Path(), "disdepth_core": Path()}
    source = tmp_path / "loader.py"
    source.write_text("from .base import X\nfrom . import base\ndef f():\n    from disdepth_core.models.checkpoint import load_model\n"
                      "    import training.trainer\n    from disdepth_core import __version__\n")
    assert imported_modules("disdepth_core.runtime.loader", source, modules) == {
        "disdepth_core.runtime.base", "disdepth_core.models.checkpoint", "training.trainer", "disdepth_core"}
    assert group_of("disdepth_core.runtime.loader") == (2, "runtime") and group_of("disdepth_core.data.io") == (5, "data") and group_of("disdepth_core.geometry") == (0, "foundation")
    assert group_of("training.trainer") == (6, "training") and group_of("disdepth_ros.depth_node") == (6, "node")
