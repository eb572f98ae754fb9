"""Checks anyone can run on the code itself: no import cycle, no overlong function."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"inject": ROOT / "inject", "inject.adapters": ROOT / "adapters"}
MAX_FUNCTION_LINES = 60


def module_names() -> list[str]:
    """Every module of the installed package ``inject`` (``adapters/`` installs as ``inject.adapters``)."""
    names = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if package == "inject" and parts[0] == "adapters":
                continue
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            names.append(".".join((package, *parts)))
    return sorted(names)


def module_imports(name: str, path: Path) -> set[str]:
    """Modules of the package that ``name`` imports at module level (function-local imports excluded)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            # ``from . import x`` names modules of the package (its own ``__init__`` is already running)
            found |= ({target} if node.module else set()) | {f"{target}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def module_paths() -> dict[str, Path]:
    paths = {}
    for name in module_names():
        package, _, rest = next((p, "", name[len(p) + 1 :]) for p in sorted(PACKAGES, key=len, reverse=True)
                                if name == p or name.startswith(p + "."))
        base = PACKAGES[package].joinpath(*rest.split(".")) if rest else PACKAGES[package]
        paths[name] = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    return paths


def test_the_module_import_graph_has_no_cycle():
    paths = module_paths()
    graph = {name: sorted(module_imports(name, path) & paths.keys() - {name}) for name, path in paths.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for imported in graph[name]:
            assert state.get(imported) != "open", "import cycle: " + " -> ".join([*trail, name, imported])
            if imported not in state:
                visit(imported, [*trail, name])
        state[name] = "done"

    for name in graph:
        if name not in state:
            visit(name, [])


def test_every_module_imports_in_sorted_order_in_a_fresh_interpreter():
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    result = subprocess.run([sys.executable, "-c", script, *module_names()], capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stderr[-2000:]


def test_no_function_is_longer_than_sixty_lines():
    too_long = []
    for folder in [ROOT / "inject", ROOT / "adapters", ROOT / "examples", ROOT / "benchmarks", ROOT / "scripts"]:
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not too_long, "functions over 60 lines:\n" + "\n".join(too_long)
