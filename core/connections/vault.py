"""Secrets of a connection row, sealed with core/crypto.py (the user id as associated data).

`api_key` and `api_secret` have their own columns (the adapters' builders read them), the
access token too; every other secret (Angel One PIN and TOTP seed, refresh and feed tokens)
is one sealed JSON object in `encrypted_extra`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from core.crypto import SecretBox
from core.db.models import BrokerCredential

_COLUMNS = {"api_key": "encrypted_api_key", "api_secret": "encrypted_api_secret"}


def open_secrets(box: SecretBox, row: BrokerCredential) -> dict[str, str]:
    """The row's secrets except the access token (SecretUnreadable if they do not open)."""
    found: dict[str, str] = {}
    for name, column in _COLUMNS.items():
        blob = getattr(row, column)
        if blob:
            found[name] = box.open(blob, owner=row.user_id)
    if row.encrypted_extra:
        extra = json.loads(box.open(row.encrypted_extra, owner=row.user_id))
        found.update({str(k): str(v) for k, v in extra.items()})
    return found


def open_token(box: SecretBox, row: BrokerCredential) -> str | None:
    """The row's access token, if it has one."""
    if not row.encrypted_access_token:
        return None
    return box.open(row.encrypted_access_token, owner=row.user_id)


def seal(box: SecretBox, row: BrokerCredential, secrets: Mapping[str, str],
         token: str | None) -> None:
    """Store `secrets` and the access token on the row, all sealed with the current key
    for the row's user (so `key_id` names the key of every sealed column)."""
    for name, column in _COLUMNS.items():
        value = secrets.get(name)
        setattr(row, column, box.seal(value, owner=row.user_id) if value else None)
    extra = {k: v for k, v in secrets.items() if k not in _COLUMNS and k != "access_token"}
    row.encrypted_extra = (box.seal(json.dumps(extra, sort_keys=True), owner=row.user_id)
                           if extra else None)
    row.encrypted_access_token = box.seal(token, owner=row.user_id) if token else None
    row.key_id = box.current_key_id


def wipe(row: BrokerCredential) -> None:
    """Forget every secret of the row (a disconnected connection keeps none)."""
    row.encrypted_api_key = row.encrypted_api_secret = None
    row.encrypted_access_token = row.encrypted_extra = None


SEALED_COLUMNS = ("encrypted_api_key", "encrypted_api_secret", "encrypted_access_token",
                  "encrypted_extra")
"""Every column that holds a sealed value (what key rotation re-encrypts)."""
