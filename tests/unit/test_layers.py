"""The layers of DESIGN.md hold: import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_nothing_but_the_app_factory_imports_a_blueprint_by_name() -> None:
    """Services, models and Facebook code are checked by contract; this covers the rest."""
    offenders = []
    for path in (ROOT / "webapp").rglob("*.py"):
        relative = path.relative_to(ROOT / "webapp")
        if relative.parts[0] == "blueprints" or relative == Path("__init__.py"):
            continue
        if "webapp.blueprints" in path.read_text():
            offenders.append(str(relative))
    assert offenders == []
