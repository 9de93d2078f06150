"""The README documents every setting."""

from __future__ import annotations

from pathlib import Path

from core.rbac import matrix_markdown
from core.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_in_the_configuration_table() -> None:
    text = README.read_text()
    missing = [f"ALGO_{name.upper()}" for name in Settings.model_fields
               if f"`ALGO_{name.upper()}`" not in text]
    assert missing == [], f"README configuration table lacks {missing}"


def test_permission_matrix_is_documented() -> None:
    assert matrix_markdown() in README.read_text()
