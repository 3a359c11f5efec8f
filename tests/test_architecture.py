"""The shape of the code, kept by tests: no import circles, small files and functions,
packages that say what they hold, no reaching into another package's private modules."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _circles(package: str) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan)."""
    graph = grimp.build_graph(package)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return circles


@pytest.mark.parametrize("package", ["core", "gui"])
def test_no_import_circles(package: str) -> None:
    assert _circles(package) == []


@pytest.mark.parametrize("package", ["core", "gui"])
def test_files_and_functions_stay_small(package: str) -> None:
    long_files, long_functions = [], []
    for path in _sources(package):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_FILE_LINES:
            long_files.append(path.relative_to(ROOT).as_posix())
        for node in ast.walk(ast.parse(text)):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                long_functions.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert long_files == [] and long_functions == []


def test_every_core_package_says_what_it_holds() -> None:
    for init in sorted((ROOT / "core").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and doc.splitlines()[0].rstrip().endswith((".", ")")), init


def test_no_module_imports_another_packages_private_module() -> None:
    offenders = []
    for path in _sources("core") + _sources("gui"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = node.module.split(".")
                if any(part.startswith("_") and part != "__future__" for part in names):
                    offenders.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert offenders == []
