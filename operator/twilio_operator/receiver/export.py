"""`twilio-operator receiver export`: the stored messages as JSON lines or CSV, for reports and archives."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Any

from .store import open_store
from .store.model import Message
from .summary import iso

FIELDS = (
    "sid",
    "accountSid",
    "messagingServiceSid",
    "from",
    "to",
    "status",
    "errorCode",
    "createdAt",
    "updatedAt",
    "repaired",
)


def record(message: Message) -> dict[str, Any]:
    return {
        "sid": message.sid,
        "accountSid": message.account_sid,
        "messagingServiceSid": message.service_sid,
        "from": message.from_number,
        "to": message.to_number,
        "status": message.status,
        "errorCode": message.error_code,
        "createdAt": iso(message.created_at),
        "updatedAt": iso(message.updated_at),
        "repaired": message.repaired,
    }


def parse_since(value: str | None) -> float:
    if not value:
        return 0.0
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("--since needs a time zone, e.g. 2026-01-31T00:00:00Z")
    return moment.timestamp()


async def _messages(url: str, password: str | None, since: float) -> AsyncIterator[Message]:
    store = open_store(url, password)
    await store.start()
    try:
        async for message in store.messages_since(since):
            yield message
    finally:
        await store.close()


async def export(url: str, password: str | None, since: float, fmt: str, out: IO[str]) -> int:
    count = 0
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    async for message in _messages(url, password, since):
        row = record(message)
        if writer is not None:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        else:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
        count += 1
    return count
