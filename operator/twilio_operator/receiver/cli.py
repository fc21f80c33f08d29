"""`twilio-operator receiver [flags]`, `... receiver export ...` and `... receiver archive fetch|list ...`
(argparse only at import)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

SETTINGS_FLAGS = {
    "listen": "host:port to serve on (TWILIO_RECEIVER_LISTEN, default 0.0.0.0:8080)",
    "database": "sqlite:///PATH or postgresql://USER@HOST/DB (TWILIO_RECEIVER_DATABASE, default "
    "sqlite:///var/lib/twilio-receiver/receiver.db); the password from "
    "TWILIO_RECEIVER_DATABASE_PASSWORD_FILE",
    "namespace": "namespace of the credentials Secrets (TWILIO_RECEIVER_NAMESPACE, default the pod's)",
    "public_url": "base URL Twilio calls, e.g. https://hooks.example.com (TWILIO_RECEIVER_PUBLIC_URL; "
    "default: from X-Forwarded-Proto/X-Forwarded-Host/Host)",
}


def add_parser(commands: Any) -> None:
    receiver = commands.add_parser(
        "receiver", help="receive Twilio status callbacks and Event Streams deliveries (see README)"
    )
    for name, text in SETTINGS_FLAGS.items():
        receiver.add_argument("--" + name.replace("_", "-"), dest=name, default=None, help=text)
    receiver.set_defaults(func=_serve)
    sub = receiver.add_subparsers(dest="receiver_command")
    export = sub.add_parser("export", help="write the stored messages to stdout")
    export.add_argument("--database", dest="export_database", default=None, help="database URL")
    export.add_argument("--since", default=None, help="only messages first seen at or after this ISO time")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.set_defaults(func=_export)
    archive = sub.add_parser("archive", help="Twilio's daily message archives (BulkExports) in the store")
    days = archive.add_subparsers(dest="archive_command", required=True)
    fetch = days.add_parser(
        "fetch", help="read a day's archive of each account into the store (final statuses of lost callbacks)"
    )
    fetch.add_argument(
        "--day", required=True, help="the day, YYYY-MM-DD (UTC); ready some hours after it ends"
    )
    fetch.add_argument(
        "--account",
        dest="accounts",
        action="append",
        default=[],
        metavar="AC...",
        help="an account SID (repeatable); default: every account with a credentials Secret",
    )
    fetch.add_argument("--database", dest="archive_database", default=None, help="database URL")
    fetch.add_argument(
        "--namespace", dest="archive_namespace", default=None, help="of the credentials Secrets"
    )
    fetch.set_defaults(func=_archive_fetch)
    listing = days.add_parser("list", help="the days Twilio reported ready, and which were fetched")
    listing.add_argument("--database", dest="archive_database", default=None, help="database URL")
    listing.set_defaults(func=_archive_list)


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from pydantic import ValidationError

    from .settings import ReceiverSettings, describe

    overrides = {name: getattr(args, name) for name in SETTINGS_FLAGS if getattr(args, name, None)}
    overrides.update({k: v for k, v in extra.items() if v})
    try:
        return ReceiverSettings(**overrides)
    except ValidationError as error:
        print(f"twilio-operator receiver: {describe(error)}", file=sys.stderr)
        return None


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run the receiver on uvloop where it is installed (Linux, macOS): its event loop and transports are
    written in C, and most of a callback's CPU time goes to them; else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def _serve(args: argparse.Namespace) -> int:
    from .server import configure_logging, serve
    from .settings import ReceiverConfigurationError

    settings = _settings(args)
    if settings is None:
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        run(serve(settings))
    except ReceiverConfigurationError as error:
        print(f"twilio-operator receiver: {error}", file=sys.stderr)
        return 2
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import export, parse_since
    from .settings import ReceiverConfigurationError
    from .store.base import StoreUnavailable

    settings = _settings(args, database=args.export_database or args.database)
    if settings is None:
        return 2
    try:
        since = parse_since(args.since)
        count = asyncio.run(
            export(settings.database, settings.database_password_value(), since, args.format, sys.stdout)
        )
    except ValueError as error:
        print(f"twilio-operator receiver export: {error}", file=sys.stderr)
        return 2
    except (StoreUnavailable, ReceiverConfigurationError) as error:
        print(f"twilio-operator receiver export: {error}", file=sys.stderr)
        return 1
    print(f"{count} messages", file=sys.stderr)
    return 0


def _archive_fetch(args: argparse.Namespace) -> int:
    from .archive_commands import fetch
    from .parse import ACCOUNT_SID, Malformed, calendar_day

    try:
        day = calendar_day(args.day)
    except Malformed as error:
        return _refuse("archive fetch", f"--day: {error}")
    for account in args.accounts:
        if not ACCOUNT_SID.match(account):
            return _refuse("archive fetch", f"--account {account!r} is not an account SID")
    settings = _settings(args, database=args.archive_database, namespace=args.archive_namespace)
    if settings is None:
        return 2
    return _run_archive("archive fetch", fetch(settings, day, list(dict.fromkeys(args.accounts))))


def _archive_list(args: argparse.Namespace) -> int:
    from .archive_commands import list_days

    settings = _settings(args, database=args.archive_database)
    if settings is None:
        return 2
    return _run_archive("archive list", list_days(settings))


def _run_archive(name: str, main: Coroutine[Any, Any, int]) -> int:
    """A configuration that cannot work exits 2; a database or Twilio that fails, 1; each said in a line."""
    from .archives import ArchiveError
    from .settings import ReceiverConfigurationError
    from .store.base import StoreUnavailable

    try:
        return asyncio.run(main)
    except ReceiverConfigurationError as error:
        return _refuse(name, str(error))
    except (ArchiveError, StoreUnavailable) as error:
        print(f"twilio-operator receiver {name}: {error}", file=sys.stderr)
        return 1


def _refuse(name: str, reason: str) -> int:
    print(f"twilio-operator receiver {name}: {reason}", file=sys.stderr)
    return 2
