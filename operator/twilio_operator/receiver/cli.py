"""`twilio-operator receiver [flags]` and `twilio-operator receiver export ...` (argparse only at import)."""

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
