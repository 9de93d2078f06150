"""Field types shared by several schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field

from core.repos.users import normalize_email
from core.security.passwords import MAX_PASSWORD_BYTES

MIN_PASSWORD_CHARS = 6


def _password_rules(value: str) -> str:
    if len(value) < MIN_PASSWORD_CHARS:
        raise ValueError(f"must be at least {MIN_PASSWORD_CHARS} characters")
    if len(value.encode()) > MAX_PASSWORD_BYTES:
        raise ValueError(f"must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(normalize_email)]
"""A syntactically valid address, stored lower-cased (unique case-insensitively)."""

NewPassword = Annotated[str, Field(max_length=300), AfterValidator(_password_rules)]
"""6 characters or more, at most 72 bytes (bcrypt's limit; longer is refused, not cut)."""

Password = Annotated[str, Field(min_length=1, max_length=300)]
"""A password being checked (rules are applied when one is chosen)."""
