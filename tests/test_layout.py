"""The package's shape: which group may import which, no import cycles, a light CLI.

ARCHITECTURE.md states these rules; this test holds the code to them, so a new module that
reaches "up" (colour maths opening files, the files group loading the model) fails here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "colorize_cli"

# group -> the groups it may import from (besides itself). Top-level modules are groups of
# their own name. Lower layers never import higher ones.
ALLOWED = {
    "config": set(),
    "results": set(),
    "numba_cache": set(),
    "colour": {"numba_cache"},
    "files": {"colour", "results"},
    "model": {"colour", "config", "files"},
    "running": {"colour", "config", "files", "model", "results"},
    "api": {"config", "files", "model", "results", "running"},
    "cli": {"api", "config", "files", "model", "results", "serve"},
    "serve": {"colour", "config", "files", "model", "results", "running"},
    "training": {"cli", "colour", "config", "files", "model"},
    "__init__": set(),
    "__main__": {"cli"},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["colorize_cli", *parts])


def _imports(path: Path) -> set[str]:
    """Package modules imported by ``path``, anywhere in it (lazy imports included)."""
    name = _module_name(path)
    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("colorize_cli"):
                continue
            for alias in node.names:  # "from .colour import bins" imports a module
                sub = f"{target}.{alias.name}"
                found.add(sub if _exists(sub) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("colorize_cli")}
    return found


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_group_imports_only_from_the_groups_below_it():
    graph = _graph()
    assert set(map(_group, graph)) <= set(ALLOWED), "a new group: give it a row in ALLOWED"
    wrong = [
        f"{mod} imports {dep}"
        for mod, deps in graph.items()
        for dep in deps
        if _group(dep) != _group(mod) and _group(dep) not in ALLOWED[_group(mod)]
    ]
    assert wrong == []


def test_the_import_graph_has_no_cycles():
    graph = _graph()
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(mod: str, path: list[str]) -> None:
        state[mod] = 1
        for dep in sorted(graph.get(mod, ())):
            if dep.split(".")[-1] == "colorize_cli":
                continue  # the package root re-exports lazily and is imported by no module
            assert state.get(dep) != 1, "import cycle: " + " -> ".join([*path, mod, dep])
            if dep not in state:
                visit(dep, [*path, mod])
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [])


def test_the_public_api_imports_from_the_package_root():
    code = (
        "from colorize_cli import Colorizer, Options, colorize_dir, colorize_paths, Job, "
        "Result, Summary; print(Colorizer.__module__, colorize_dir.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["colorize_cli.model.colorizer", "colorize_cli.api"]


def test_the_command_line_answers_help_without_loading_torch():
    code = (
        "import sys; from colorize_cli.cli.colorize import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")
