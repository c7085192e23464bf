"""The folders are the architecture: imports run one way, cli → defs → sync → clients, and the
code location (what Dagster loads) imports nothing of the local tooling or the command line.

Checked on the source (every ``import``, also inside functions) and on a real import of the
definitions, so a layer that reaches up, or a tool that sneaks into a deployment, fails here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sync_pipeline"
# Each layer may import its own and the ones before it; settings is below them all.
LAYERS = ["settings", "clients", "sync", "defs", "definitions", "cli"]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "sync_pipeline" else None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("sync_pipeline.")}


def _modules(layer: str) -> list[Path]:
    folder = PACKAGE / layer
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{layer}.py"]


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1]) | ({"local"} if layer == "cli" else set())
    wrong = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in _modules(layer)
        for name in sorted(_imports(path))
        if _layer(name) not in allowed
    ]
    assert wrong == []


def test_the_local_tooling_is_imported_only_by_itself_and_the_command_line():
    users = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for layer in LAYERS
        if layer != "cli"
        for path in _modules(layer)
        for name in sorted(_imports(path))
        if _layer(name) == "local"
    ]
    assert users == []


def test_loading_the_code_location_loads_no_tooling_and_no_command_line():
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, sync_pipeline.definitions; "
            "print('\\n'.join(m for m in sys.modules if m.startswith('sync_pipeline.')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "sync_pipeline.defs.medusa_assets" in loaded  # it did load the definitions
    assert [m for m in loaded if _layer(m) in ("local", "cli")] == []
