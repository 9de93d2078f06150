"""A sealed value naming an encryption key this process lacks (core/crypto.py UnknownKey):
the process is misconfigured (e.g. one replica restarted without the new key of a
rotation), the connection is not at fault. Nothing is marked on the row; the operators are
alerted (a CRITICAL log line becomes an admin alert through the error log) once per key id
and process, and warned on every further value."""

from __future__ import annotations

import logging

log = logging.getLogger("algo.crypto.keys")

_alerted: set[str] = set()


def key_missing(credential_id: str, key_id: str) -> str:
    """Report that `credential_id` is sealed with `key_id`, which is not configured here;
    the reason to record for the probe."""
    extra = {"credential_id": credential_id, "key_id": key_id}
    if key_id in _alerted:
        log.warning("broker credential sealed with an encryption key not configured here",
                    extra=extra)
    else:
        _alerted.add(key_id)
        log.critical("encryption key %s is not configured in this process "
                     "(ALGO_ENCRYPTION_KEYS): its broker connections cannot be checked here; "
                     "nothing was marked invalid", key_id, extra=extra)
    return f"encryption key {key_id} is not configured in this process"
