"""Receiver test helpers: signed requests as Twilio makes them, and a real PostgreSQL for the suites."""

from __future__ import annotations

import json
import tempfile
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twilio_operator.receiver import signature
from twilio_operator.sandbox.postgres import PostgresServer, postgres_bin
from twilio_operator.sandbox.twilio.webhooks import with_body_hash


def signed_form(token: str, url: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a status callback Twilio would POST to ``url``."""
    body = urllib.parse.urlencode(params).encode()
    headers = {
        "X-Twilio-Signature": signature.compute(token, url, params.items()),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return body, headers


def signed_json(token: str, url: str, events: list[dict[str, Any]]) -> tuple[str, bytes, dict[str, str]]:
    """The URL (with bodySHA256), body and headers of an Event Streams delivery."""
    body = json.dumps(events).encode()
    full = with_body_hash(url, body)
    return (
        full,
        body,
        {"X-Twilio-Signature": signature.compute(token, full), "Content-Type": "application/json"},
    )


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (Debian's package; `.ci/run` installs it)."""
    if postgres_bin() is None:
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
    # Not under pytest's temp root: that is private to root, and the server runs as the postgres user.
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="receiver-postgres-")))
    server.start()
    yield server
    server.remove()


def fresh_database(server: PostgresServer) -> str:
    return server.create_database("t_" + uuid.uuid4().hex[:12])
