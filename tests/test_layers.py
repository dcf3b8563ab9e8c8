"""The layer rules of the package (docs/architecture.md), checked on the source: data flows one way, files → text →
index → reader → pipeline → edges, and importing the settings stays cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import askidcpc

PACKAGE = Path(askidcpc.__file__).resolve().parent
CORE_MODULES = ("types", "errors", "config", "metrics")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every askidcpc module ``path`` imports, at module level or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("askidcpc"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("askidcpc"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


MODULES = {module_name(path): imported(path) for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    """``askidcpc.reader.rank`` → ``reader``; a top-level module is its own layer."""
    return module.split(".")[1] if module.count(".") >= 1 else module


# (layer of the importing module, layers it must never import)
FORBIDDEN = [
    ("types", {"text", "index", "reader", "pipeline", "edges", "config"}),
    ("errors", {"text", "index", "reader", "pipeline", "edges", "config"}),
    ("config", {"text", "index", "reader", "pipeline", "edges"}),
    ("metrics", {"index", "reader", "pipeline", "edges"}),
    ("text", {"index", "reader", "pipeline", "edges"}),
    ("index", {"reader", "pipeline", "edges"}),
    ("reader", {"pipeline", "edges"}),
    ("pipeline", {"edges"}),
]


def test_every_module_is_in_a_known_layer() -> None:
    known = {rule for rule, _ in FORBIDDEN} | {"edges", "askidcpc", "__main__"}
    assert {layer(module) for module in MODULES} <= known


@pytest.mark.parametrize(("importer", "forbidden"), FORBIDDEN, ids=[rule for rule, _ in FORBIDDEN])
def test_no_layer_imports_one_above_it(importer: str, forbidden: set[str]) -> None:
    breaches = [
        f"{module} imports {target}"
        for module, targets in MODULES.items()
        if layer(module) == importer
        for target in targets
        if target.count(".") >= 1 and layer(target) in forbidden
    ]
    assert breaches == []


def test_the_rule_finds_a_breach(tmp_path: Path) -> None:
    """The checker itself: a function-level import of an edge is seen."""
    source = tmp_path / "module.py"
    source.write_text("def f():\n    from askidcpc.edges.cli import main\n    return main\n")
    assert "askidcpc.edges.cli" in imported(source)


HEAVY = ("numba", "scipy", "numpy", "fastapi", "prompt_toolkit", "uvicorn", "rich", "trafilatura")


@pytest.mark.slow
@pytest.mark.parametrize("module", ["askidcpc.config", "askidcpc.errors", "askidcpc.types"])
def test_importing_the_settings_loads_nothing_heavy(module: str) -> None:
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
