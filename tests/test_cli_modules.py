"""The command line is one module per command: ``cli.py`` registers them, and no command module
imports ``cli.py`` back (STYLE.md: no import runs back up)."""

from __future__ import annotations

import ast
from pathlib import Path

import fleetstream

PACKAGE = Path(fleetstream.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_command_modules_never_import_the_cli_module() -> None:
    commands = sorted(PACKAGE.glob("_cli_*.py"))
    assert any(p.name == "_cli_payments.py" for p in commands)
    for path in commands:
        assert "fleetstream.cli" not in imported_modules(path), f"{path.name} imports fleetstream.cli"
