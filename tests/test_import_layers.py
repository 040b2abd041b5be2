"""Imports in ``sam2_enhanced`` run one way: model parts -> builders -> predictor -> command line.

The import graph is read from the source with ``ast``: every import of a ``sam2_enhanced`` module
anywhere in a file (module level or inside a function) is an edge, so a deferred import cannot hide
a circle. The package root (``sam2_enhanced/__init__.py``) imports its public names lazily by
string and is not a node.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "sam2_enhanced"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

# Lowest first. A module may import modules of its own layer and of the layers before it.
# Names are the first component under ``sam2_enhanced`` (a top-level module or a subpackage).
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("foundations", frozenset({"config", "box_ops", "data"})),
    ("model parts", frozenset({"modeling"})),
    ("model builder", frozenset({"build"})),
    ("weights", frozenset({"weights"})),
    ("predictor", frozenset({"enhanced_video_predictor", "predictor", "predictor_build"})),
    ("evaluation", frozenset({"evaluation"})),
    ("training", frozenset({"training"})),
    ("command line", frozenset({"cli", "benchmark", "__main__"})),
)


def module_name(path: Path) -> str:
    """``.../sam2_enhanced/weights/sam2.py`` -> ``sam2_enhanced.weights.sam2``."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every module of the package (root ``__init__`` excluded) -> its file."""
    files = sorted(package_dir.rglob("*.py"))
    modules = {module_name(f): f for f in files}
    modules.pop(PACKAGE, None)
    return modules


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``path`` imports, wherever the import statement is."""
    this = module_name(path)
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = this.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import name`` imports the submodule pkg.name when there is one
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names
            ]
        else:
            continue
        found.update(name for name in names if name in modules)
    found.discard(this)
    return found


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    modules = package_modules(package_dir)
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of ``sam2_enhanced.<first>...``; None when unassigned."""
    first = module.split(".")[1]
    return next((i for i, (_, names) in enumerate(LAYERS) if first in names), None)


def test_the_graph_is_read():
    graph = import_graph()
    assert "sam2_enhanced.build" in graph["sam2_enhanced.weights.checkpoint"]
    assert "sam2_enhanced.modeling.dinov2_weights" in graph["sam2_enhanced.build"]
    assert "sam2_enhanced.predictor.video_state" in graph["sam2_enhanced.enhanced_video_predictor"]
    assert "sam2_enhanced.box_ops" in graph["sam2_enhanced.data.synthetic"]  # from pkg import mod
    assert "sam2_enhanced.cli.track" in graph["sam2_enhanced.cli.track_args"]  # inside a function


@pytest.mark.parametrize(
    ("graph", "has_cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": set(), "b": {"c"}, "c": {"b"}}, True),
    ],
)
def test_find_cycle(graph, has_cycle):
    cycle = find_cycle(graph)
    assert (cycle is not None) == has_cycle
    if cycle:
        assert cycle[0] == cycle[-1]
        assert all(b in graph[a] for a, b in zip(cycle, cycle[1:], strict=False))


def test_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_every_module_has_a_layer():
    unassigned = sorted(m for m in import_graph() if layer_of(m) is None)
    assert not unassigned, f"add these to LAYERS in {Path(__file__).name}: {unassigned}"


def test_imports_point_down_the_layers():
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize(("lower", "upper"), [("build", "weights"), ("evaluation", "training")])
def test_layers_that_once_imported_each_other_now_import_one_way(lower, upper):
    """``build`` <-> ``weights`` and ``training`` <-> ``evaluation`` used to import each other."""
    graph = import_graph()
    back = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.split(".")[1] == lower
        for target in targets
        if target.split(".")[1] == upper
    )
    assert not back, back
    assert layer_of(f"{PACKAGE}.{lower}") < layer_of(f"{PACKAGE}.{upper}")


@pytest.mark.parametrize("layer", ["foundations", "model parts", "model builder", "weights"])
def test_model_and_builders_never_import_the_predictor_or_cli(layer):
    names = dict(LAYERS)[layer]
    above = {"enhanced_video_predictor", "predictor", "predictor_build", "cli", "benchmark"}
    above |= {"training", "evaluation"}
    for module, targets in import_graph().items():
        if module.split(".")[1] in names:
            assert not {t.split(".")[1] for t in targets} & above, (module, sorted(targets))
