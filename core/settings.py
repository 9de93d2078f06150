"""One typed settings object, read from `ALGO_*` environment variables (STYLE rule 5)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secrets. They let `make run` work with no configuration and are
# refused outside ALGO_ENV=dev, so a production deployment cannot start with them.
DEV_JWT_SECRET = "dev-only-jwt-secret-never-use-in-production-0000"  # noqa: S105
DEV_ENCRYPTION_KEYS = "dev:" + base64.b64encode(b"dev-only-key-never-in-production").decode()

Environment = Literal["dev", "test", "prod"]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """Raised when the configuration is unsafe or malformed."""


class Settings(BaseSettings):
    """Every configurable value of every process; built once and passed down."""

    model_config = SettingsConfigDict(env_prefix="ALGO_", extra="ignore", frozen=True)

    env: Environment = "dev"
    data_dir: Path = Path(".algo")

    nats_url: str | None = None
    database_url: str | None = None
    redis_url: str | None = None

    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=0, le=65535)
    web_workers: int = Field(default=1, ge=1, le=32)
    web_reuse_port: bool = False
    """Set by `algo web` on its worker processes: each binds the port with SO_REUSEPORT."""
    tls_cert: Path | None = None
    """PEM certificate chain: with `tls_key`, `algo web` serves HTTPS only (TLS 1.2+)."""
    tls_key: Path | None = None
    trusted_proxy: str = ""
    """Comma-separated addresses/networks of the TLS-terminating proxy (load balancer) in
    front of `algo web`: X-Forwarded-For/-Proto/-Host are honoured from these peers only."""
    hsts_max_age_s: int = Field(default=365 * 24 * 3600, ge=0)
    nats_port: int = Field(default=4222, ge=0, le=65535)
    nats_monitor_port: int = Field(default=8222, ge=0, le=65535)
    nats_monitor_url: str | None = None
    """The NATS server's HTTP monitoring (/varz, /jsz) for /admin/system/health; bind it to
    localhost (no authentication). `algo up` sets it to its embedded server's."""
    redis_port: int = Field(default=6379, ge=0, le=65535)

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_previous_secrets: SecretStr = SecretStr("")
    jwt_issuer: str = "algo"
    jwt_audience: str = "algo-api"
    access_token_ttl_s: int = Field(default=15 * 60, ge=60)
    refresh_token_ttl_s: int = Field(default=7 * 24 * 3600, ge=3600)
    password_reset_ttl_s: int = Field(default=30 * 60, ge=60)
    stream_ticket_ttl_s: int = Field(default=60, ge=5, le=300)
    encryption_keys: SecretStr = SecretStr(DEV_ENCRYPTION_KEYS)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)

    log_level: str = "INFO"
    log_json: bool = True
    cloudwatch_log_group: str | None = None
    """Also ship the JSON logs to this CloudWatch Logs group (needs the `cloudwatch` extra)."""
    cloudwatch_region: str = "ap-south-1"
    cloudwatch_endpoint_url: str | None = None
    """A VPC endpoint or a local AWS emulator; unset: the region's public endpoint."""
    cloudwatch_queue_size: int = Field(default=10_000, ge=100, le=1_000_000)
    """Log records waiting to ship; past it records are dropped (and counted), never waited on."""
    error_log_queue_size: int = Field(default=10_000, ge=1, le=1_000_000)
    error_log_batch_size: int = Field(default=200, ge=1, le=10_000)
    error_log_flush_s: float = Field(default=1.0, gt=0, le=60)

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    slow_query_ms: int = Field(default=100, ge=1)

    stream_replicas: int = Field(default=1, ge=1, le=5)
    ticks_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024)

    heartbeat_interval_s: float = Field(default=5.0, gt=0)
    heartbeat_ttl_s: float = Field(default=15.0, gt=0)
    health_timeout_s: float = Field(default=1.0, gt=0)
    ready_roles: str = ""
    """Comma-separated pipeline roles whose heartbeat /health/ready requires (`algo up`:
    every role it runs)."""
    shutdown_timeout_s: float = Field(default=10.0, gt=0)

    admin_email: str = "admin@algo.local"
    console_api_url: str = "http://127.0.0.1:8000"
    """The web API the admin console (`algo console`) talks to."""
    console_poll_s: float = Field(default=5.0, gt=0, le=300)
    """How often the console's dashboard reads health, metrics and the kill switch."""

    # Strategy limits (core/strategies/strategy_validator.py).
    max_quantity: int = Field(default=10_000, ge=1)
    max_stop_loss_pct: float = Field(default=20.0, gt=0, le=90)
    max_trailing_sl_pct: float = Field(default=20.0, gt=0, le=90)
    mailer: Literal["log"] = "log"
    push_sender: Literal["log"] = "log"
    """Push notifications (MVP: logged; a real provider plugs in behind PushSender)."""

    # Live events (web/live) and the notifier (pipeline/notifier).
    sse_heartbeat_s: float = Field(default=30.0, gt=0, le=300)
    """A comment line on every idle SSE stream this often; the session is rechecked too."""
    sse_queue_size: int = Field(default=1000, ge=1, le=100_000)
    """Events waiting for one SSE client; a client further behind is disconnected."""
    notifier_batch: int = Field(default=100, ge=1, le=1000)
    notifier_ack_wait_s: float = Field(default=30.0, ge=1)
    notifier_max_deliver: int = Field(default=10, ge=2, le=1000)

    # The paper broker (brokers/paper/) and trying the system outside market hours.
    paper_slippage_bps: int = Field(default=5, ge=0, le=500)
    paper_latency_ms: int = Field(default=0, ge=0, le=10_000)
    paper_fill_delay_ms: int = Field(default=0, ge=0, le=60_000)
    paper_always_open: bool = False
    """Dev only: paper strategies and the paper market treat every minute as in session."""

    # The playground (core/playground, pipeline/playground): estimated charges of a
    # simulated intraday equity trade, as fractions of the traded value (rates and their
    # sources in core/playground/charges.py), and the scratch Redis db of replays.
    charges_brokerage_rate: str = "0.0003"
    charges_brokerage_cap: str = "20"
    """Rupees per executed order at most (discount brokers: 0.03% or ₹20, the lower)."""
    charges_stt_sell_rate: str = "0.00025"
    charges_exchange_rate: str = "0.0000297"
    charges_sebi_rate: str = "0.000001"
    charges_gst_rate: str = "0.18"
    charges_stamp_buy_rate: str = "0.00003"
    playground_redis_db: int = Field(default=15, ge=0, le=1023)
    """Redis db a replay owns and empties (its prices, runtime copies, locks): never the
    db of the live system."""

    # Analytics (core/analytics): the answer cache and the nightly rollup (notifier role).
    analytics_cache_ttl_s: float = Field(default=300.0, ge=1, le=86_400)
    analytics_rollup_time: str = "00:30"
    """IST time of the nightly rollup of the finished days into daily_user_stats."""
    analytics_rollup_lookback_days: int = Field(default=3, ge=0, le=60)
    """Rolled-up days the nightly run rolls up again (orders that settled late)."""

    # The order pipeline (pipeline/trigger, pipeline/executor).
    trigger_grace_s: float = Field(default=60.0, ge=0, le=3600)
    executor_concurrency: int = Field(default=128, ge=1, le=1024)
    executor_max_deliver: int = Field(default=5, ge=2, le=100)
    executor_ack_wait_s: float = Field(default=30.0, ge=1)
    executor_fill_timeout_s: float = Field(default=30.0, gt=0)
    broker_rate: str = "10/1"
    """Orders per broker account as "orders/seconds" (token bucket in Redis)."""
    order_lock_ttl_s: float = Field(default=60.0, gt=0)

    # Real broker adapters (brokers/common, brokers/<broker>/).
    broker_connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    """A REST request that cannot connect in this time was never sent (NotSent)."""
    broker_read_timeout_s: float = Field(default=7.0, gt=0, le=120)
    """A sent request unanswered in this time is Ambiguous (an order may exist)."""
    kite_api_url: str = "https://api.kite.trade"
    kite_ws_url: str = "wss://ws.kite.trade"
    kite_login_url: str = "https://kite.zerodha.com/connect/login"
    broker_login_ttl_s: int = Field(default=600, ge=60, le=3600)
    """How long a broker login link (its OAuth `state`) stays usable."""
    broker_check_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """A session check at the broker (status, readiness probe) gives up after this."""
    token_check_time: str = "08:30"  # noqa: S105 (a time of day)
    """IST time of the daily token-expiry check and its notifications (before 09:15)."""
    trigger_readiness_refresh_s: float = Field(default=5.0, gt=0, le=300)
    """How often the trigger re-reads the broker connections of its strategies."""
    trigger_probe_lead_s: float = Field(default=60.0, ge=0, le=3600)
    """Probe a broker this long before a BUY on it (and again while a BUY is held)."""
    fyers_api_url: str = "https://api-t1.fyers.in"
    fyers_ws_url: str = "wss://socket.fyers.in/hsm/v1-5/prod"
    fyers_symbols_url: str = "https://public.fyers.in/sym_details"
    fyers_redirect_url: str = "http://127.0.0.1:8000/broker/callback/fyers"
    """Our `/broker/callback/fyers` as the user's browser reaches it: the login link sends
    it as `redirect_uri`, and each user's Fyers app must be registered with it."""
    dhan_api_url: str = "https://api.dhan.co/v2"
    dhan_auth_url: str = "https://auth.dhan.co"
    dhan_ws_url: str = "wss://api-feed.dhan.co"
    dhan_scrip_master_url: str = "https://images.dhan.co/api-data/api-scrip-master.csv"
    angel_api_url: str = "https://apiconnect.angelone.in"
    angel_ws_url: str = "wss://smartapisocket.angelone.in/smart-stream"
    angel_instruments_url: str = ("https://margincalculator.angelone.in/OpenAPI_File/files/"
                                  "OpenAPIScripMaster.json")
    angel_client_public_ip: str = "127.0.0.1"
    """Sent as X-ClientPublicIP: the static IP registered with the SmartAPI app."""

    # Market data (pipeline/feed, pipeline/slwatch).
    feed_sources: str = "synthetic"
    """Comma-separated tick sources: synthetic, replay, broker."""
    feed_broker_credential: str | None = None
    """The `broker` source: id (`brk_…`) of the stored broker connection whose session
    streams market data for every strategy (pipeline/feed/broker.py)."""
    feed_synthetic_rate: float = Field(default=50.0, gt=0, le=1_000_000)
    """Total synthetic ticks per second, spread over the subscribed symbols."""
    feed_synthetic_seed: int = 7
    feed_replay_path: Path | None = None
    feed_replay_speed: Literal["realtime", "fast"] = "realtime"
    feed_record_path: Path | None = None
    """Record every published tick to this JSONL file (`{day}` becomes the IST date): a
    day the replay source and the playground can play back."""
    feed_ltp_interval_ms: int = Field(default=100, ge=0, le=60_000)
    """At most one LTP write to Redis per symbol per this many milliseconds."""
    feed_stale_s: float = Field(default=5.0, gt=0)
    slwatch_partition: str = "0/1"
    """`i/N`: this replica watches the symbols whose hash falls in slot i of N."""

    # Rate limits as "requests/seconds" (GCRA in Redis); see core/ratelimit.py.
    ratelimit_ip: str = "600/60"
    ratelimit_user: str = "600/60"
    ratelimit_auth_ip: str = "30/60"
    ratelimit_login_ip: str = "20/60"
    ratelimit_login_account: str = "5/300"

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.env != "dev":
            if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
                raise SettingsError("ALGO_JWT_SECRET must be set outside ALGO_ENV=dev")
            if self.encryption_keys.get_secret_value() == DEV_ENCRYPTION_KEYS:
                raise SettingsError("ALGO_ENCRYPTION_KEYS must be set outside ALGO_ENV=dev")
            if len(self.jwt_secret.get_secret_value().encode()) < 32:
                raise SettingsError("ALGO_JWT_SECRET must be at least 32 bytes")
            if self.paper_always_open:
                raise SettingsError("ALGO_PAPER_ALWAYS_OPEN is allowed only in ALGO_ENV=dev")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingsError("ALGO_TLS_CERT and ALGO_TLS_KEY are set together or not at all")
        if self.bcrypt_rounds < 12 and self.env != "test":
            raise SettingsError("ALGO_BCRYPT_ROUNDS below 12 is allowed only in ALGO_ENV=test")
        parse_partition(self.slwatch_partition)
        if self.heartbeat_ttl_s <= self.heartbeat_interval_s:
            raise SettingsError("ALGO_HEARTBEAT_TTL_S must exceed ALGO_HEARTBEAT_INTERVAL_S")
        _ = self.encryption_key_map  # validates the format
        _ = self.trusted_proxy_networks
        _ = self.token_check_at
        _ = self.analytics_rollup_at
        for name in ("ratelimit_ip", "ratelimit_user", "ratelimit_auth_ip", "ratelimit_login_ip",
                     "ratelimit_login_account", "broker_rate"):
            parse_rate(getattr(self, name), f"ALGO_{name.upper()}")
        if self.jwt_secret.get_secret_value() in self.previous_jwt_secrets:
            raise SettingsError("ALGO_JWT_PREVIOUS_SECRETS must not contain the current secret")
        return self

    @cached_property
    def encryption_key_map(self) -> dict[str, bytes]:
        """Key id → 32-byte AES key; the first key listed encrypts, all decrypt."""
        return parse_encryption_keys(self.encryption_keys.get_secret_value())

    @property
    def analytics_rollup_at(self) -> time:
        """`analytics_rollup_time` as a time of day (IST)."""
        try:
            return time.fromisoformat(self.analytics_rollup_time)
        except ValueError as exc:
            raise SettingsError("ALGO_ANALYTICS_ROLLUP_TIME must look like 'HH:MM'") from exc

    @property
    def token_check_at(self) -> time:
        """`token_check_time` as a time of day (IST)."""
        try:
            return time.fromisoformat(self.token_check_time)
        except ValueError as exc:
            raise SettingsError("ALGO_TOKEN_CHECK_TIME must look like 'HH:MM'") from exc

    @property
    def previous_jwt_secrets(self) -> list[str]:
        """Retired signing secrets still accepted for verification (key rotation)."""
        raw = self.jwt_previous_secrets.get_secret_value()
        return [s.strip() for s in raw.split(",") if s.strip()]

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """`trusted_proxy` parsed; a bare address is a one-address network."""
        try:
            return tuple(ipaddress.ip_network(part.strip(), strict=False)
                         for part in self.trusted_proxy.split(",") if part.strip())
        except ValueError as exc:
            raise SettingsError(f"ALGO_TRUSTED_PROXY: {exc}") from exc

    @property
    def tls_enabled(self) -> bool:
        """True when the web process serves HTTPS itself."""
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def embedded(self) -> bool:
        """True when any server URL is unset, so `algo up` starts that server itself."""
        return None in (self.nats_url, self.database_url, self.redis_url)


def parse_encryption_keys(raw: str) -> dict[str, bytes]:
    """Parse `id:base64key[,id:base64key...]` into an ordered mapping."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id.isalnum() or len(key_id) > 16:
            raise SettingsError("ALGO_ENCRYPTION_KEYS entries look like 'keyid:base64key'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise SettingsError(f"encryption key {key_id!r} is not valid base64") from exc
        if len(key) != 32:
            raise SettingsError(f"encryption key {key_id!r} must be 32 bytes (AES-256)")
        if key_id in keys:
            raise SettingsError(f"encryption key id {key_id!r} is listed twice")
        keys[key_id] = key
    if not keys:
        raise SettingsError("ALGO_ENCRYPTION_KEYS is empty")
    return keys


def parse_rate(raw: str, name: str = "rate") -> tuple[int, float]:
    """Parse `"requests/seconds"`, e.g. `"5/300"`, into (limit, window seconds)."""
    count, sep, window = raw.partition("/")
    try:
        limit, seconds = int(count), float(window)
    except ValueError:
        limit, seconds = 0, 0.0
    if not sep or limit <= 0 or seconds <= 0:
        raise SettingsError(f"{name} must look like 'requests/seconds', e.g. '5/300'")
    return limit, seconds


def parse_partition(raw: str) -> tuple[int, int]:
    """Parse `i/N` (0 <= i < N) into (i, N)."""
    index, sep, count = raw.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise SettingsError("ALGO_SLWATCH_PARTITION must look like 'i/N' with 0 <= i < N")
    return i, n
