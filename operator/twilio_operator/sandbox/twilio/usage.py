"""Usage the emulator accrues from the messages it sends, the triggers that watch it, and message archives.

Each message that reaches ``sent`` counts once in ``sms``/``sms-outbound`` and costs ``SMS_PRICE`` (Twilio's
US list price per segment; the emulator's messages are one segment). ``totalprice`` sums it all. Usage
triggers fire, once per recurring period, the moment the value they watch reaches their threshold: a signed
callback (``callbacks.Callbacks.post``) with the parameters Twilio documents. Bulk exports of messages keep
their configuration per account; a day is made ready by the test-control endpoint, which posts the export's
webhook as Twilio does when a day's archive is done.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .formats import rfc2822
from .messages import SentMessage

SMS_PRICE = 0.0079
PRICE_UNIT = "USD"
# Categories the emulator reports this month's usage for (the operator needs no others).
CATEGORIES = ("sms", "sms-outbound", "sms-inbound", "mms", "mms-outbound", "mms-inbound", "totalprice")
# Where days' files are (Twilio's storage bucket); FetchDay redirects there with a URL needing no credentials.
ARCHIVE_HOST = "com-twilio-bulkexports.s3.amazonaws.com"
RECURRING_PERIODS = {"daily": "%Y-%m-%d", "monthly": "%Y-%m", "yearly": "%Y", "alltime": "all"}


@dataclass
class UsageTrigger:
    sid: str
    account_sid: str
    callback_url: str
    callback_method: str
    friendly_name: str
    usage_category: str
    trigger_by: str  # count | usage | price
    trigger_value: float
    recurring: str  # "" for a trigger that fires once
    date_created: datetime
    date_updated: datetime
    date_fired: datetime | None = None
    current_value: float = 0.0
    # The recurring period it last fired in, so it fires once per period.
    fired_period: str | None = None
    # What became of each firing's callback (for tests, through /__sandbox/state).
    callbacks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ArchiveDay:
    day: str  # YYYY-MM-DD
    size: int
    create_date: str
    friendly_name: str
    content: bytes = field(repr=False, default=b"")  # the gzipped file, one JSON message per line
    # What became of the webhook's notification that the day is ready.
    notifications: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportConfiguration:
    enabled: bool = False
    webhook_url: str = ""
    webhook_method: str = "POST"
    days: dict[str, ArchiveDay] = field(default_factory=dict)


def this_month(messages: list[SentMessage], now: float | None = None) -> dict[str, tuple[float, float]]:
    """Count and price of this month's usage by category, from the account's messages."""
    moment = time.time() if now is None else now
    month = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m")
    sent = [
        m
        for m in messages
        if (at := m.sent_at(moment)) is not None
        and datetime.fromtimestamp(at, UTC).strftime("%Y-%m") == month
    ]
    count = float(len(sent))
    price = round(count * SMS_PRICE, 4)
    usage = {category: (0.0, 0.0) for category in CATEGORIES}
    usage["sms"] = usage["sms-outbound"] = (count, price)
    usage["totalprice"] = (price, price)
    return usage


def watched(trigger: UsageTrigger, usage: dict[str, tuple[float, float]]) -> float:
    """The value a trigger compares with its threshold: a count, the usage, or the price."""
    count, price = usage.get(trigger.usage_category, (0.0, 0.0))
    return price if trigger.trigger_by == "price" else count


def period(trigger: UsageTrigger, now: datetime) -> str:
    fmt = RECURRING_PERIODS.get(trigger.recurring, "all")
    return "all" if fmt == "all" else now.strftime(fmt)


def due(trigger: UsageTrigger, usage: dict[str, tuple[float, float]], now: datetime) -> bool:
    """Whether the trigger fires now (its value reached the threshold, and it has not fired this period)."""
    trigger.current_value = watched(trigger, usage)
    return trigger.current_value >= trigger.trigger_value and trigger.fired_period != period(trigger, now)


def callback_params(trigger: UsageTrigger, uri: str) -> dict[str, str]:
    """What Twilio posts when a trigger fires."""
    assert trigger.date_fired is not None
    return {
        "AccountSid": trigger.account_sid,
        "UsageTriggerSid": trigger.sid,
        "DateFired": rfc2822(trigger.date_fired),
        "Recurring": trigger.recurring,
        "UsageCategory": trigger.usage_category,
        "TriggerBy": trigger.trigger_by,
        "TriggerValue": _number(trigger.trigger_value),
        "CurrentValue": _number(trigger.current_value),
        "UsageRecordUri": uri,
        "IdempotencyToken": f"{trigger.sid}-{trigger.fired_period}",
    }


def _number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def fire(
    triggers: list[UsageTrigger], usage: dict[str, tuple[float, float]], now: datetime
) -> list[UsageTrigger]:
    """The triggers that fire now, marked fired (once per recurring period)."""
    fired = []
    for trigger in triggers:
        if due(trigger, usage, now):
            trigger.date_fired = now
            trigger.fired_period = period(trigger, now)
            fired.append(trigger)
    return fired


def archive(account_sid: str, messages: list[SentMessage], day: str, now: float | None = None) -> ArchiveDay:
    """The day's archive of an account's messages (those created that UTC day), as Twilio writes it."""
    moment = time.time() if now is None else now
    lines = []
    for m in messages:
        created = datetime.fromtimestamp(m.created, UTC)
        if m.account_sid != account_sid or created.strftime("%Y-%m-%d") != day:
            continue
        step = m.step_at(moment)
        sent = m.sent_at(moment)
        record = {
            "sid": m.sid,
            "account_sid": m.account_sid,
            "messaging_service_sid": m.service_sid,
            "from": m.sender,
            "to": m.to,
            "body": m.body,
            "status": step.status,
            "error_code": step.error_code,
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "price": f"-{SMS_PRICE}" if sent is not None else None,
            "price_unit": PRICE_UNIT,
            "date_created": rfc2822(created),
            "date_sent": rfc2822(datetime.fromtimestamp(sent, UTC)) if sent is not None else None,
            "date_updated": rfc2822(datetime.fromtimestamp(m.created + step.at, UTC)),
        }
        lines.append(json.dumps(record, separators=(",", ":")))
    content = gzip.compress(("\n".join(lines) + "\n").encode() if lines else b"", mtime=0)
    return ArchiveDay(
        day=day,
        size=len(content),
        create_date=datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d"),
        friendly_name=f"Export {day}",
        content=content,
    )


def archive_notification(account_sid: str, resource_type: str, day: ArchiveDay) -> dict[str, Any]:
    """The webhook's parameters when a day's archive is ready."""
    return {
        "AccountSid": account_sid,
        "ResourceType": resource_type,
        "Day": day.day,
        "Size": str(day.size),
        "FriendlyName": day.friendly_name,
    }
