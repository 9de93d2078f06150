"""The `algo` command. Sub-commands that belong to `web` or `pipeline` run them as
their own processes (`python -m web`, `python -m pipeline`), so `core` never imports them."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core import aio
from core.bootstrap import (
    create_account,
    create_streams,
    import_holidays,
    rebuild_runtime_state,
    seed_reference_data,
)
from core.db import migrate
from core.db.enums import Role
from core.error_codes import catalog_markdown
from core.logging import configure_logging
from core.settings import Settings

ERRORS_DOC = Path("docs/errors.md")
EVENTS_DOC = Path("docs/events.md")


def _require(value: str | None, name: str) -> str:
    if not value:
        sys.exit(f"{name} is not set (it is set for you under `algo up`)")
    return value


def _cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from core.up import up

    configure_logging("up", settings.log_level, json_lines=False)
    return up(settings)


def _cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    url = _require(settings.database_url, "ALGO_DATABASE_URL")
    migrate.upgrade(url, args.revision)
    count = aio.run(seed_reference_data(url))
    print(f"database at {args.revision}; {count} bundled instruments present")
    return 0


def _cmd_streams(settings: Settings, args: argparse.Namespace) -> int:
    report = aio.run(create_streams(settings, _require(settings.nats_url, "ALGO_NATS_URL")))
    for name, change in report.items():
        print(f"{name}: {change.value}")
    return 0


def _exec_module(module: str, argv: Sequence[str]) -> int:
    os.execv(sys.executable, [sys.executable, "-m", module, *argv])  # noqa: S606


def _cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    return _exec_module("web", [])


def _cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    argv = [f"--url={args.url}"] if args.url else []
    return _exec_module("console", argv + ([f"--email={args.email}"] if args.email else []))


def _cmd_pipeline(settings: Settings, args: argparse.Namespace) -> int:
    return _exec_module("pipeline", args.roles)


def _cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    url = _require(settings.database_url, "ALGO_DATABASE_URL")
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif args.prompt:
        password = getpass.getpass("password: ")
    try:
        account = aio.run(create_account(settings, url, email=args.email, role=Role(args.role),
                                         password=password))
    except ValueError as exc:
        sys.exit(str(exc))
    print(f"created {account.role.value} {account.email}")
    if password is None:
        print(f"password (shown once): {account.password}")
    return 0


def _cmd_runtime_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    count = aio.run(rebuild_runtime_state(_require(settings.database_url, "ALGO_DATABASE_URL"),
                                          _require(settings.redis_url, "ALGO_REDIS_URL")))
    print(f"runtime rebuilt: {count} running strategies")
    return 0


def _cmd_calendar_import(settings: Settings, args: argparse.Namespace) -> int:
    text = Path(args.file).read_text()
    try:
        count = aio.run(import_holidays(_require(settings.database_url, "ALGO_DATABASE_URL"),
                                        args.year, text, source=args.source or args.file))
    except (ValueError, KeyError) as exc:
        sys.exit(f"cannot import {args.file}: {exc}")
    print(f"{args.year}: {count} holidays imported; the year is now covered")
    return 0


def _cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from core.bootstrap import rotate_encryption_keys

    report = aio.run(rotate_encryption_keys(
        settings, _require(settings.database_url, "ALGO_DATABASE_URL"), args.batch_size))
    print(f"primary key {report.primary}: {report.scanned} connections scanned, "
          f"{report.rotated} re-encrypted")
    for key_id, count in sorted(report.remaining.items()):
        print(f"  {count} secret(s) still under key {key_id}")
    if report.unreadable:
        print(f"  {len(report.unreadable)} connection(s) no configured key opens: "
              f"{', '.join(report.unreadable)}", file=sys.stderr)
        return 1
    return 0


def _cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from core.backup.manifest import BackupError
    from core.backup.service import backup

    try:
        manifest = backup(settings, Path(args.dir))
    except BackupError as exc:
        sys.exit(str(exc))
    streams = ", ".join(f"{s.name} {s.state.get('messages', 0)} msgs" for s in manifest.streams)
    print(f"backup written to {args.dir}: PostgreSQL {manifest.postgres.bytes} bytes "
          f"(schema {manifest.schema_revision}); {streams}; key ids in use: "
          f"{', '.join(manifest.key_ids_in_use) or 'none'}")
    return 0


def _cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from core.backup.manifest import BackupError
    from core.backup.service import restore

    try:
        report = restore(settings, Path(args.dir), force=args.force)
    except BackupError as exc:
        sys.exit(str(exc))
    streams = ", ".join(f"{name} {count} msgs" for name, count in report.stream_messages.items())
    print(f"restored {args.dir} (taken {report.manifest.created_at}): {streams}; "
          f"runtime rebuilt: {report.running_strategies} running strategies")
    return 0


def _cmd_errors(settings: Settings, args: argparse.Namespace) -> int:
    text = catalog_markdown()
    if args.check:
        if not ERRORS_DOC.exists() or ERRORS_DOC.read_text() != text:
            sys.exit(f"{ERRORS_DOC} is out of date: run `algo errors`")
        return 0
    ERRORS_DOC.parent.mkdir(parents=True, exist_ok=True)
    ERRORS_DOC.write_text(text)
    print(f"wrote {ERRORS_DOC}")
    return 0


def _cmd_events_doc(settings: Settings, args: argparse.Namespace) -> int:
    from core.event_schemas import events_markdown
    text = events_markdown()
    if args.check:
        if not EVENTS_DOC.exists() or EVENTS_DOC.read_text() != text:
            sys.exit(f"{EVENTS_DOC} is out of date: run `algo events-doc`")
        return 0
    EVENTS_DOC.parent.mkdir(parents=True, exist_ok=True)
    EVENTS_DOC.write_text(text)
    print(f"wrote {EVENTS_DOC}")
    return 0


def _cmd_rollup(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import date

    from core.analytics.rollup import run_cli
    from core.clock import RealClock
    from core.errors import ValidationFailed

    day = date.fromisoformat(args.day) if args.day else None
    try:
        written = aio.run(run_cli(_require(settings.database_url, "ALGO_DATABASE_URL"),
                                  RealClock(), day, settings.analytics_rollup_lookback_days))
    except ValidationFailed as exc:
        sys.exit(f"cannot roll up: {exc.message}")
    for rolled, rows in sorted(written.items()):
        print(f"{rolled}: {rows} user rows")
    if not written:
        print("nothing to roll up")
    return 0


def _cmd_heartbeat_check(settings: Settings, args: argparse.Namespace) -> int:
    from redis import Redis

    client = Redis.from_url(_require(settings.redis_url, "ALGO_REDIS_URL"), decode_responses=True,
                            socket_timeout=2)
    try:
        for key in client.scan_iter(match=f"heartbeat:{args.role}:*"):
            raw = client.get(key)
            if raw and time.time() - float(json.loads(raw)["ts"]) < settings.heartbeat_ttl_s:
                return 0
    finally:
        client.close()
    print(f"no fresh heartbeat for {args.role}", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `algo`."""
    parser = argparse.ArgumentParser(prog="algo", description="Algo trading backend")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start everything (embedded servers when URLs are unset)"
                   ).set_defaults(func=_cmd_up)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=_cmd_migrate)
    sub.add_parser("streams", help="create or update the JetStream streams"
                   ).set_defaults(func=_cmd_streams)
    sub.add_parser("web", help="run the web API").set_defaults(func=_cmd_web)
    p = sub.add_parser("console", help="the admin console (terminal UI) over the web API")
    p.add_argument("--url", help="the web API's base URL (default ALGO_CONSOLE_API_URL)")
    p.add_argument("--email", help="the admin account (default ALGO_ADMIN_EMAIL)")
    p.set_defaults(func=_cmd_console)
    p = sub.add_parser("pipeline", help="run pipeline roles (feed trigger slwatch executor "
                                        "notifier, or all)")
    p.add_argument("roles", nargs="+")
    p.set_defaults(func=_cmd_pipeline)
    admin = sub.add_parser("admin", help="administration").add_subparsers(dest="admin_command",
                                                                          required=True)
    p = admin.add_parser("create-user", help="create a user with a role")
    p.add_argument("--email", required=True)
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.USER.value)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    group.add_argument("--prompt", action="store_true", help="prompt for the password")
    p.set_defaults(func=_cmd_create_user)
    p = sub.add_parser("runtime", help="runtime state in Redis").add_subparsers(
        dest="runtime_command", required=True).add_parser(
        "rebuild", help="rebuild Redis runtime state from PostgreSQL")
    p.set_defaults(func=_cmd_runtime_rebuild)
    p = sub.add_parser("calendar", help="trading calendar").add_subparsers(
        dest="calendar_command", required=True).add_parser(
        "import", help="import the exchange's holiday list of a year (CSV: date,name)")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--source", help="where the list comes from (circular number, URL)")
    p.add_argument("file")
    p.set_defaults(func=_cmd_calendar_import)
    p = sub.add_parser("keys", help="encryption keys of broker secrets").add_subparsers(
        dest="keys_command", required=True).add_parser(
        "rotate", help="re-encrypt every stored broker secret under the primary (first) key "
                       "of ALGO_ENCRYPTION_KEYS; safe while the system runs, idempotent")
    p.add_argument("--batch-size", type=int, default=200)
    p.set_defaults(func=_cmd_keys_rotate)
    p = sub.add_parser("backup", help="back up PostgreSQL, the COMMANDS/EVENTS/DLQ streams and "
                                      "the key ids in use into DIR (docs/operations.md)")
    p.add_argument("dir")
    p.set_defaults(func=_cmd_backup)
    p = sub.add_parser("restore", help="restore a backup from DIR onto a stopped, empty system "
                                       "and rebuild Redis runtime state")
    p.add_argument("dir")
    p.add_argument("--force", action="store_true", help="replace a non-empty target")
    p.set_defaults(func=_cmd_restore)
    p = sub.add_parser("errors", help="write the error-code catalog to docs/errors.md")
    p.add_argument("--check", action="store_true", help="fail if docs/errors.md is stale")
    p.set_defaults(func=_cmd_errors)
    p = sub.add_parser("events-doc", help="write the event schemas to docs/events.md")
    p.add_argument("--check", action="store_true", help="fail if docs/events.md is stale")
    p.set_defaults(func=_cmd_events_doc)
    p = sub.add_parser("rollup", help="roll finished days up into daily_user_stats (analytics)")
    p.add_argument("--day", help="YYYY-MM-DD: roll up this day (again); default: catch up")
    p.set_defaults(func=_cmd_rollup)
    p = sub.add_parser("heartbeat-check", help="exit 0 if ROLE has a fresh heartbeat")
    p.add_argument("role")
    p.set_defaults(func=_cmd_heartbeat_check)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `algo` console script."""
    args = build_parser().parse_args(argv)
    settings = Settings()
    if args.command != "up":
        configure_logging("cli", settings.log_level, json_lines=settings.log_json)
    sys.exit(args.func(settings, args))
