"""Signed requests → stored events. Anything that does not fit raises ``Malformed`` (a 400, never a 500)."""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import re
import urllib.parse
from collections.abc import Sequence
from datetime import date
from typing import Any

from .store.model import ArchiveDay, Event, UsageAlert

ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-f]{32}$")
SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
STATUS = re.compile(r"^[a-z_]{1,32}$")
TRIGGER_SID = re.compile(r"^UT[0-9a-f]{32}$")
# Twilio's usage categories (sms, sms-outbound, totalprice, calls-inbound-tollfree, ...) and trigger fields.
WORD = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
RESOURCE_TYPE = re.compile(r"^[A-Za-z]{1,64}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MESSAGE_EVENT_PREFIX = "com.twilio.messaging.message."
INBOUND_EVENT = "com.twilio.messaging.inbound-message.received"
MAX_FIELD = 2048
MAX_EVENTS = 1000


class Malformed(ValueError):
    """The request cannot be a Twilio delivery; the message says why (without echoing values)."""


def parse_form(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return urllib.parse.parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise Malformed("the body is not UTF-8 form data") from error


def error_code(value: object) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        code = int(str(value))
    except ValueError as error:
        raise Malformed("ErrorCode is not a number") from error
    if not 0 < code < 10_000_000:
        raise Malformed("ErrorCode is out of range")
    return code


def _optional_sid(value: object, pattern: re.Pattern[str], name: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise Malformed(f"{name} is not a SID")
    return value


def status_event(params: Sequence[tuple[str, str]], body: bytes, received_at: float) -> Event:
    """A message status callback: its form fields as parsed, and the body they came in (kept as it is)."""
    fields = dict(params)
    if any(len(value) > MAX_FIELD for _, value in params):
        raise Malformed("a field is too long")
    account = _optional_sid(fields.get("AccountSid"), ACCOUNT_SID, "AccountSid")
    message = _optional_sid(fields.get("MessageSid") or fields.get("SmsSid"), MESSAGE_SID, "MessageSid")
    status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
    if account is None or message is None:
        raise Malformed("AccountSid and MessageSid are required")
    if not STATUS.match(status):
        raise Malformed("MessageStatus is missing or not a status")
    # Every signed parameter is kept, in the body as received; the key makes Twilio's duplicates one event.
    payload = body.decode("utf-8")
    canonical = "&".join(f"{k}={v}" for k, v in sorted(params))
    return Event(
        dedupe_key="cb:" + hashlib.sha256(canonical.encode()).hexdigest(),
        source="callback",
        account_sid=account,
        message_sid=message,
        status=status,
        error_code=error_code(fields.get("ErrorCode")),
        received_at=received_at,
        payload=payload,
        service_sid=_optional_sid(fields.get("MessagingServiceSid"), SERVICE_SID, "MessagingServiceSid"),
        from_number=fields.get("From") or None,
        to_number=fields.get("To") or None,
    )


def cloud_events(body: bytes) -> list[dict[str, Any]]:
    """The CloudEvents of an Event Streams delivery (a JSON array, or one object)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise Malformed("the body is not JSON") from error
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_EVENTS:
        raise Malformed("expected 1 to 1000 CloudEvents")
    for item in items:
        if not isinstance(item, dict):
            raise Malformed("a CloudEvent is not an object")
        if not isinstance(item.get("id"), str) or not item["id"] or len(item["id"]) > 256:
            raise Malformed("a CloudEvent has no id")
        if not isinstance(item.get("type"), str) or len(item["type"]) > 256:
            raise Malformed("a CloudEvent has no type")
        if "data" in item and not isinstance(item["data"], dict | None):
            raise Malformed("a CloudEvent's data is not an object")
    return items


def event_accounts(items: Sequence[dict[str, Any]]) -> list[str]:
    """The accounts the events name; one of their tokens must sign the delivery."""
    found = []
    for item in items:
        sid = (item.get("data") or {}).get("accountSid")
        if isinstance(sid, str) and ACCOUNT_SID.match(sid) and sid not in found:
            found.append(sid)
    return found


def stream_event(item: dict[str, Any], received_at: float) -> Event:
    """One CloudEvent. Messaging events move their message forward; others are kept as events only."""
    data: dict[str, Any] = item.get("data") or {}
    kind: str = item["type"]
    account = _optional_sid(data.get("accountSid"), ACCOUNT_SID, "accountSid")
    message = None
    status = None
    if kind.startswith(MESSAGE_EVENT_PREFIX) or kind == INBOUND_EVENT:
        message = _optional_sid(data.get("messageSid"), MESSAGE_SID, "messageSid")
        raw = data.get("messageStatus") or ("received" if kind == INBOUND_EVENT else kind.rsplit(".", 1)[1])
        status = str(raw).lower()
        if not STATUS.match(status):
            raise Malformed("messageStatus is not a status")
        if message is None or account is None:
            raise Malformed("a messaging event needs accountSid and messageSid")
    from_number = data.get("from")
    to_number = data.get("to")
    return Event(
        dedupe_key="ce:" + item["id"],
        source="event",
        account_sid=account,
        message_sid=message,
        status=status,
        error_code=error_code(data.get("errorCode")) if message else None,
        received_at=received_at,
        payload=json.dumps(item, separators=(",", ":")),
        service_sid=_optional_sid(data.get("messagingServiceSid"), SERVICE_SID, "messagingServiceSid"),
        from_number=from_number if isinstance(from_number, str) and from_number else None,
        to_number=to_number if isinstance(to_number, str) and to_number else None,
        type=kind,
    )


def _word(fields: dict[str, str], name: str, pattern: re.Pattern[str] = WORD, required: bool = True) -> str:
    value = fields.get(name, "")
    if (value or required) and not pattern.match(value):
        raise Malformed(f"{name} is missing or not a word")
    return value


def _number(fields: dict[str, str], name: str) -> float:
    try:
        value = float(fields.get(name, ""))
    except ValueError as error:
        raise Malformed(f"{name} is not a number") from error
    if not math.isfinite(value):
        raise Malformed(f"{name} is not a number")
    return value


def usage_alert(params: Sequence[tuple[str, str]], alert: str, received_at: float) -> UsageAlert:
    """A usage trigger's callback. ``alert`` is the callback URL's `alert` query parameter."""
    fields = dict(params)
    if any(len(value) > MAX_FIELD for _, value in params) or len(alert) > MAX_FIELD:
        raise Malformed("a field is too long")
    account = _optional_sid(fields.get("AccountSid"), ACCOUNT_SID, "AccountSid")
    trigger = _optional_sid(fields.get("UsageTriggerSid"), TRIGGER_SID, "UsageTriggerSid")
    if account is None or trigger is None:
        raise Malformed("AccountSid and UsageTriggerSid are required")
    try:
        fired = email.utils.parsedate_to_datetime(fields.get("DateFired", "")).timestamp()
    except (TypeError, ValueError) as error:
        raise Malformed("DateFired is not an RFC 2822 date") from error
    return UsageAlert(
        trigger_sid=trigger,
        date_fired=fired,
        account_sid=account,
        alert=alert,
        usage_category=_word(fields, "UsageCategory"),
        trigger_by=_word(fields, "TriggerBy"),
        trigger_value=_number(fields, "TriggerValue"),
        current_value=_number(fields, "CurrentValue"),
        recurring=_word(fields, "Recurring", required=False),
        received_at=received_at,
    )


def calendar_day(value: str) -> str:
    """A day as BulkExports names it (YYYY-MM-DD), checked to be one."""
    try:
        if DAY.match(value):
            date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise Malformed("not a day such as 2026-01-31")


def archive_notice(params: Sequence[tuple[str, str]], received_at: float) -> ArchiveDay:
    """A BulkExports webhook: the day's archive of one resource type is ready."""
    fields = dict(params)
    account = _optional_sid(fields.get("AccountSid"), ACCOUNT_SID, "AccountSid")
    if account is None:
        raise Malformed("AccountSid is required")
    day = calendar_day(fields.get("Day", ""))
    size = fields.get("Size", "")
    if size and not (size.isdigit() and len(size) < 19):
        raise Malformed("Size is not a number of bytes")
    return ArchiveDay(
        account_sid=account,
        resource_type=_word(fields, "ResourceType", RESOURCE_TYPE),
        day=day,
        size=int(size) if size else None,
        notified_at=received_at,
    )
