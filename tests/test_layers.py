"""Imports point down (DESIGN §2): web → brokers → core, pipeline → brokers → core,
console → core; core imports none of the others; web and pipeline never meet in code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "core": {"core"},
    "brokers": {"brokers", "core"},
    "pipeline": {"pipeline", "brokers", "core"},
    "web": {"web", "brokers", "core"},
    "console": {"console", "core"},
}
PACKAGES = frozenset(ALLOWED) | {"tests", "bench", "migrations"}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PACKAGES


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package: str) -> None:
    wrong = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_packages(path) - ALLOWED[package]
        if bad:
            wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert wrong == {}
