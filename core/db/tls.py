"""libpq's TLS options in a database URL, mapped onto asyncpg's `ssl` argument.

Operators write the URL their provider documents (`?sslmode=verify-full&sslrootcert=…`), as
psql and pg_dump take it. asyncpg takes none of those query keys: SQLAlchemy would pass them
on as unknown keyword arguments. So they are taken out of the URL here and become one `ssl`
value: `disable` → False, `allow`/`prefer`/`require` → the mode string (asyncpg's own
meaning: `require` encrypts without verifying), `verify-ca`/`verify-full` → an SSLContext that
verifies the chain against `sslrootcert` (or the system store), and for `verify-full` the
host name too. `sslcert`/`sslkey` add a client certificate. TLS 1.2 is the floor.
"""

from __future__ import annotations

import ssl
from typing import Final

from sqlalchemy.engine import URL, make_url

SSL_KEYS: Final = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "ssl")
_MODES: Final = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def split_tls(url: str | URL) -> tuple[URL, bool | str | ssl.SSLContext | None]:
    """The URL without libpq TLS keys, and the `ssl` argument for asyncpg (None: default)."""
    parsed = make_url(url)
    query = dict(parsed.query)
    options = {key: query.pop(key) for key in SSL_KEYS if key in query}
    clean = parsed.set(query=query)
    values = {k: v if isinstance(v, str) else v[-1] for k, v in options.items()}
    mode = values.get("sslmode") or values.get("ssl")
    if mode is None and not ({"sslrootcert", "sslcert"} & values.keys()):
        return clean, None
    mode = (mode or "verify-full").lower()
    if mode not in _MODES:
        raise ValueError(f"sslmode must be one of {', '.join(_MODES)}, not {mode!r}")
    if mode == "disable":
        return clean, False
    if mode in ("allow", "prefer", "require") and "sslcert" not in values:
        return clean, mode
    context = ssl.create_default_context(cafile=values.get("sslrootcert"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode in ("allow", "prefer", "require"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif mode == "verify-ca":
        context.check_hostname = False
    if "sslcert" in values:
        context.load_cert_chain(values["sslcert"], values.get("sslkey"),
                                values.get("sslpassword"))
    return clean, context
