"""The layering: only :mod:`ness_ros.ros` imports rclpy and ROS messages, importing anything
else of ness_ros (in a fresh interpreter) loads neither them nor ``ness_ros.ros``, and no ness_ros
modules, nor packages, import each other round a loop at module level (imports inside functions
and under ``if TYPE_CHECKING:`` do not count)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import ness_ros

PACKAGE_DIR = Path(ness_ros.__file__).resolve().parent

#: Every package and top-level module of ness_ros but :mod:`ness_ros.ros`: none of them may load
#: rclpy, ROS message packages or ``ness_ros.ros`` when imported (the CLI and the benchmarks
#: import ROS modules inside the functions that need them).
CORE = ["ness_ros.events", "ness_ros.models", "ness_ros.segmentation", "ness_ros.data",
        "ness_ros.training", "ness_ros.bag", "ness_ros.bench", "ness_ros.labels",
        "ness_ros.metrics", "ness_ros.report_tables", "ness_ros.cli_options", "ness_ros.cli",
        "ness_ros.graph", "ness_ros.graph_runner", "ness_ros.domain", "ness_ros.fuzzing",
        "ness_ros.machine_load", "ness_ros.malloc_tuning", "ness_ros.errors"]

#: rclpy and the ROS message packages ness_ros uses.
ROS_PACKAGES = ("rclpy", "sensor_msgs", "dvs_msgs", "event_camera_msgs", "diagnostic_msgs",
                "vision_msgs", "ness_msgs", "std_msgs", "builtin_interfaces")

#: Imports every module of ``name`` (a package: all of its modules), then fails listing what
#: of rclpy, ROS message packages and ``ness_ros.ros`` got loaded.
_IMPORT_ALL = """
import importlib, pkgutil, sys
name = sys.argv[1]
module = importlib.import_module(name)
for info in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
    importlib.import_module(info.name)
ros_packages = sys.argv[2].split(",")
loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in ros_packages or m == "ness_ros.ros"
                or m.startswith("ness_ros.ros."))
if loaded:
    sys.exit("loaded: " + ", ".join(loaded))
"""


def test_core_list_is_complete():
    # A new package or top-level module is not left out of the import test unnoticed.
    found = {f"ness_ros.{p.stem}" for p in PACKAGE_DIR.glob("*.py") if p.stem != "__init__"}
    found |= {f"ness_ros.{p.parent.name}" for p in PACKAGE_DIR.glob("*/__init__.py")}
    assert found - {"ness_ros.ros"} == set(CORE)


@pytest.mark.parametrize("name", CORE)
def test_core_imports_no_ros(name):
    result = subprocess.run([sys.executable, "-c", _IMPORT_ALL, name, ",".join(ROS_PACKAGES)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_ros_imports_rclpy_even_inside_functions():
    # Lazy imports count here: the CLI and the benchmarks reach rclpy through ness_ros.ros.
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if module_name(path).startswith("ness_ros.ros"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            found += [f"{path.relative_to(PACKAGE_DIR.parent)}:{node.lineno} {n}" for n in names
                      if n.split(".")[0] in ROS_PACKAGES]
    assert not found, "ROS imports outside ness_ros/ros:\n" + "\n".join(found)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported: not inside functions or classes'
    methods, not under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, (ast.With, ast.ClassDef)):
                visit(node.body)

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the ness_ros modules it imports at module level."""
    paths = {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))
             if "__pycache__" not in p.parts}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in module_level_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                           for alias in node.names]
            for target in targets:
                # ``import a.b.c`` runs a, a.b and a.b.c: the deepest one known is enough for
                # a cycle through this module's own package (its __init__ is imported too).
                while target and target not in paths:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
                    parent = target.rpartition(".")[0]
                    while parent and parent in paths:
                        if parent != name and not name.startswith(parent + "."):
                            graph[name].add(parent)
                        parent = parent.rpartition(".")[0]
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as one cycle
    through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                components.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(graph):
            if v not in index:
                connect(v)
    finally:
        sys.setrecursionlimit(limit)
    return [_one_cycle(graph, set(c)) for c in components]


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth first)."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    return sorted(component)


def test_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_are_read_at_module_level_only():
    tree = ast.parse("import a\nfrom b import c\nif TYPE_CHECKING:\n    import d\n"
                     "def f():\n    import e\ntry:\n    import g\nexcept ImportError:\n"
                     "    import h\n")
    names = [n.names[0].name if isinstance(n, ast.Import) else n.module
             for n in module_level_imports(tree)]
    assert names == ["a", "b", "g", "h"]


def test_import_graph_sees_known_edges():
    graph = import_graph()
    assert "ness_ros.events.batch" in graph["ness_ros.events"]
    assert all(not target.startswith("ness_ros.ros") for name, targets in graph.items()
               if not name.startswith(("ness_ros.ros", "ness_ros.cli")) for target in targets)


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between ness_ros's packages and top-level modules (``ness_ros.X``)."""
    def top(name: str) -> str:
        return ".".join(name.split(".")[:2])

    packages: dict[str, set[str]] = {top(name): set() for name in graph if name != "ness_ros"}
    for name, targets in graph.items():
        if name != "ness_ros":
            packages[top(name)] |= {top(t) for t in targets if t != "ness_ros"} - {top(name)}
    return packages


def test_no_import_cycles_between_modules():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_import_cycles_between_packages():
    # One package importing another at module level while the other imports it back (through
    # any of their modules) is a cycle of layers even when no module cycle closes.
    found = cycles(package_graph(import_graph()))
    assert not found, "package cycles:\n" + "\n".join(" -> ".join(c) for c in found)


@pytest.mark.parametrize("package", ["bag", "data", "events", "models", "segmentation"])
def test_every_public_name_of_a_core_package_resolves(package):
    """A package's ``__all__`` is its API: every name in it can be imported."""
    module = importlib.import_module(f"ness_ros.{package}")
    assert module.__all__ and all(getattr(module, name) is not None for name in module.__all__)
