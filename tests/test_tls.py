"""HTTPS of the web process (SEC-005): the real Hypercorn config with a certificate made here."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypercorn.asyncio import serve
from sqlalchemy import text

from core import error_codes
from core.db.engine import create_engine
from core.db.tls import split_tls
from core.embedded.nats_server import nats_server_binary
from core.embedded.process import pick_port, spawn, tcp_open, terminate
from core.embedded.stack import Endpoints
from core.nats import connect_nats
from core.settings import Settings
from tests.conftest import make_settings
from tests.stubs import eventually
from web.server import asgi_app, hypercorn_config
from web.transport import TransportPolicy, forwarded_scope, harden_cookie


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[int]:
    """`algo web`'s app and Hypercorn config on a free loopback port; yields the port."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(asgi_app(settings), hypercorn_config(settings),
                                     shutdown_trigger=stop.wait))
    await eventually(lambda: tcp_open("127.0.0.1", settings.web_port), timeout=15,
                     message="web serving")
    try:
        yield settings.web_port
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


@pytest.fixture
def tls_settings(endpoints: Endpoints, tmp_path: Path,
                 certificate: tuple[Path, Path]) -> Settings:
    """Production settings serving HTTPS with the test certificate."""
    return make_settings(endpoints, tmp_path, env="prod", bcrypt_rounds=12,
                         web_port=pick_port(0), tls_cert=certificate[0], tls_key=certificate[1])


def _client_context(version: ssl.TLSVersion, cafile: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile)
    # Let this client offer old versions at all (OpenSSL's default security level would
    # refuse TLS 1.1 here, before the server had a say).
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
        context.maximum_version = version
    return context


async def _handshake(port: int, context: ssl.SSLContext) -> str:
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                              server_hostname="localhost")
    version = writer.get_extra_info("ssl_object").version()
    writer.close()
    await writer.wait_closed()
    return str(version)


async def test_tls_1_1_is_refused_and_1_2_accepted(tls_settings: Settings,
                                                   certificate: tuple[Path, Path]) -> None:
    async with serving(tls_settings) as port:
        assert await _handshake(port, _client_context(ssl.TLSVersion.TLSv1_2,
                                                      certificate[0])) == "TLSv1.2"
        with pytest.raises((ssl.SSLError, ConnectionError)) as refused:
            await _handshake(port, _client_context(ssl.TLSVersion.TLSv1_1, certificate[0]))
        # The server ends the handshake (an alert or a reset): this client did offer TLS 1.1.
        assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value).upper(), refused.value


async def test_https_responses_carry_hsts_and_plain_http_gets_nothing(
        tls_settings: Settings, certificate: tuple[Path, Path]) -> None:
    verify = ssl.create_default_context(cafile=certificate[0])
    async with serving(tls_settings) as port, httpx.AsyncClient(verify=verify) as http:
        response = await http.get(f"https://127.0.0.1:{port}/health/live")
        assert response.status_code == 200
        assert response.headers["strict-transport-security"] == (
            f"max-age={365 * 24 * 3600}; includeSubDomains")
        with pytest.raises(httpx.HTTPError):
            await http.get(f"http://127.0.0.1:{port}/health/live")


def test_prod_refuses_to_start_plain_http(endpoints: Endpoints, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGO_")}
    env.update(ALGO_ENV="prod", ALGO_JWT_SECRET="x" * 40,
               ALGO_ENCRYPTION_KEYS=make_settings(None, tmp_path).encryption_keys
               .get_secret_value(),
               ALGO_NATS_URL=endpoints.nats_url, ALGO_DATABASE_URL=endpoints.database_url,
               ALGO_REDIS_URL=endpoints.redis_url, ALGO_WEB_PORT=str(pick_port(0)))
    done = subprocess.run([sys.executable, "-m", "web"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "refusing to serve plain HTTP outside ALGO_ENV=dev" in done.stderr


async def test_behind_a_trusted_proxy_only_https_requests_are_served(
        endpoints: Endpoints, tmp_path: Path) -> None:
    settings = make_settings(endpoints, tmp_path, env="prod", bcrypt_rounds=12,
                             web_port=pick_port(0), trusted_proxy="127.0.0.1")
    async with serving(settings) as port, httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}") as http:
        plain = await http.get("/openapi.json")
        assert plain.status_code == 403
        assert plain.json()["error_code"] == error_codes.SYS_HTTPS_REQUIRED.code
        assert "strict-transport-security" not in plain.headers
        forwarded = await http.get("/openapi.json", headers={"X-Forwarded-Proto": "https"})
        assert forwarded.status_code == 200
        assert "max-age=" in forwarded.headers["strict-transport-security"]
        # The load balancer's own health probe comes in plain HTTP.
        assert (await http.get("/health/live")).status_code == 200


def _scope(peer: str, **headers: str) -> dict[str, object]:
    return {"type": "http", "scheme": "http", "client": (peer, 5000), "path": "/",
            "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


@pytest.mark.parametrize(("peer", "forwarded_for", "client", "scheme"), [
    ("203.0.113.9", "1.2.3.4", "203.0.113.9", "http"),  # not our proxy: headers ignored
    ("10.0.0.5", "1.2.3.4", "1.2.3.4", "https"),
    ("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.7", "1.2.3.4", "https"),  # forged left part skipped
])
def test_forwarded_headers_count_only_from_the_proxy(peer: str, forwarded_for: str,
                                                    client: str, scheme: str) -> None:
    policy = TransportPolicy(proxies=(ipaddress.ip_network("10.0.0.0/24"),))
    scope = forwarded_scope(_scope(peer, x_forwarded_for=forwarded_for,
                                   x_forwarded_proto="https"), policy)
    assert scope["client"][0] == client
    assert scope["scheme"] == scheme


@pytest.mark.parametrize(("cookie", "secure", "expected"), [
    (b"a=1", True, b"a=1; HttpOnly; SameSite=Lax; Secure"),
    (b"a=1; Path=/", False, b"a=1; Path=/; HttpOnly; SameSite=Lax"),
    (b"a=1; SameSite=Strict; httponly; Secure", True, b"a=1; SameSite=Strict; httponly; Secure"),
])
def test_every_cookie_is_hardened(cookie: bytes, secure: bool, expected: bytes) -> None:
    assert harden_cookie(cookie, secure=secure) == expected




async def test_nats_tls_url_verifies_against_its_ca(tmp_path: Path,
                                                    certificate: tuple[Path, Path]) -> None:
    port = pick_port(0)
    config = tmp_path / "nats.conf"
    config.write_text(f'listen: 127.0.0.1:{port}\ntls {{\n  cert_file: "{certificate[0]}"\n'
                      f'  key_file: "{certificate[1]}"\n}}\n')
    server = spawn([nats_server_binary(), "-c", str(config)], tmp_path / "nats.log")
    try:
        await eventually(lambda: tcp_open("127.0.0.1", port), timeout=15, message="nats tls")
        nc = await connect_nats(f"tls://127.0.0.1:{port}?tls_ca={certificate[0]}", name="t")
        assert nc.connected_url is not None and nc.connected_url.scheme == "tls"
        await nc.close()
        with pytest.raises(ValueError, match="unknown NATS URL option"):
            await connect_nats(f"tls://127.0.0.1:{port}?ca={certificate[0]}", name="t")
    finally:
        terminate(server)


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql+asyncpg://u@db/algo", None),
    ("postgresql+asyncpg://u@db/algo?sslmode=disable", False),
    ("postgresql+asyncpg://u@db/algo?sslmode=require", "require"),
    ("postgresql+asyncpg://u@db/algo?sslmode=verify-full", "verify-full"),
    ("postgresql+asyncpg://u@db/algo?sslmode=verify-ca", "verify-ca"),
])
def test_libpq_sslmode_becomes_asyncpg_ssl(url: str, expected: object) -> None:
    clean, tls = split_tls(url)
    assert "sslmode" not in str(clean)
    if isinstance(tls, ssl.SSLContext):
        assert tls.verify_mode == ssl.CERT_REQUIRED
        assert tls.check_hostname == (expected == "verify-full")
        assert tls.minimum_version >= ssl.TLSVersion.TLSv1_2
    else:
        assert tls == expected


async def test_database_url_sslmode_reaches_the_driver(endpoints: Endpoints) -> None:
    # The embedded server listens on a unix socket only (no TLS): `disable` connects, and the
    # unknown-to-asyncpg libpq key no longer breaks the engine.
    engine = create_engine(endpoints.database_url + "&sslmode=disable", pool_size=1)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()
