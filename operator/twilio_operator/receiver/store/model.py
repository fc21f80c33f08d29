"""The records the store keeps and how a batch of new events moves a message forward."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..statuses import TERMINAL_RANK, rank


@dataclass(frozen=True)
class Event:
    """One received callback, Event Streams event or repair fetch, as stored (never its signature)."""

    # Identical deliveries (Twilio's duplicates, an exact replay, an Event Streams redelivery) share it.
    dedupe_key: str
    source: str  # callback | event | repair | archive
    account_sid: str | None
    message_sid: str | None
    status: str | None
    error_code: int | None
    received_at: float
    payload: str
    service_sid: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class Message:
    sid: str
    account_sid: str
    service_sid: str | None
    from_number: str | None
    to_number: str | None
    status: str
    status_rank: int
    error_code: int | None
    created_at: float
    updated_at: float
    sent_at: float | None
    final_at: float | None
    repaired: bool = False

    def row(self) -> tuple[Any, ...]:
        """The values of ``MESSAGE_COLUMNS``, in that order."""
        return (
            self.sid,
            self.account_sid,
            self.service_sid,
            self.from_number,
            self.to_number,
            self.status,
            self.status_rank,
            self.error_code,
            self.created_at,
            self.updated_at,
            self.sent_at,
            self.final_at,
            int(self.repaired),
        )


# Sources that are Twilio's own record of a message (a fetch, a list, a day's archive) rather than a
# callback: a message whose status came from one is marked `repaired`.
FETCHED_SOURCES = frozenset({"repair", "archive"})


@dataclass(frozen=True)
class UsageAlert:
    """One firing of a usage trigger, as its signed callback reported it."""

    trigger_sid: str
    date_fired: float
    account_sid: str
    alert: str  # the `alert` query parameter of the callback URL (the operator's alert name), or ""
    usage_category: str
    trigger_by: str  # count | usage | price
    trigger_value: float
    current_value: float
    recurring: str  # daily | monthly | yearly | alltime, or "" for a trigger that fires once
    received_at: float


USAGE_ALERT_COLUMNS = (
    "trigger_sid, date_fired, account_sid, alert, usage_category, trigger_by, trigger_value, current_value, "
    "recurring, received_at"
)


@dataclass(frozen=True)
class ArchiveDay:
    """A day of an account's BulkExports archive: when Twilio said it was ready, when it was read."""

    account_sid: str
    resource_type: str
    day: str  # YYYY-MM-DD
    size: int | None
    notified_at: float | None
    fetched_at: float | None = None
    messages: int | None = None  # messages the archive held, once read into the store


ARCHIVE_DAY_COLUMNS = "account_sid, resource_type, day, size, notified_at, fetched_at, messages"


MESSAGE_COLUMNS = (
    "sid, account_sid, messaging_service_sid, from_number, to_number, status, status_rank, error_code, "
    "created_at, updated_at, sent_at, final_at, repaired"
)
EVENT_COLUMNS = "dedupe_key, message_sid, account_sid, source, type, status, error_code, received_at, payload"


def event_row(event: Event) -> tuple[Any, ...]:
    return (
        event.dedupe_key,
        event.message_sid,
        event.account_sid,
        event.source,
        event.type,
        event.status,
        event.error_code,
        event.received_at,
        event.payload,
    )


def message_from_row(row: Mapping[str, Any] | tuple[Any, ...]) -> Message:
    """A Message from a row of ``MESSAGE_COLUMNS`` (in that order)."""
    values = tuple(row.values()) if isinstance(row, Mapping) else tuple(row)
    named: dict[str, Any] = dict(zip((f.name for f in fields(Message)), values, strict=False))
    named["repaired"] = bool(named["repaired"])
    return Message(**named)


@dataclass(frozen=True)
class Advance:
    """A message whose status moved forward in a commit (what the metrics count)."""

    message: Message
    previous_status: str | None


@dataclass
class CommitResult:
    stored: set[str] = field(default_factory=set)  # dedupe keys that were new
    advances: list[Advance] = field(default_factory=list)


def apply(current: Message | None, event: Event) -> Message | None:
    """The message after one new event: fields filled in, the furthest-progressed status kept."""
    if event.message_sid is None or event.status is None or event.account_sid is None:
        return current
    event_rank = rank(event.status)
    at = event.received_at
    sent_at = at if event.status == "sent" else None
    final_at = at if event_rank >= TERMINAL_RANK else None
    repaired = event.source in FETCHED_SOURCES
    if current is None:
        return Message(
            sid=event.message_sid,
            account_sid=event.account_sid,
            service_sid=event.service_sid,
            from_number=event.from_number,
            to_number=event.to_number,
            status=event.status,
            status_rank=event_rank,
            error_code=event.error_code,
            created_at=at,
            updated_at=at,
            sent_at=sent_at,
            final_at=final_at,
            repaired=repaired,
        )
    # One constructor call rather than dataclasses.replace: this runs for every event of every commit.
    advanced = event_rank > current.status_rank
    code = current.error_code
    if event.error_code is not None and (advanced or (code is None and event_rank == current.status_rank)):
        code = event.error_code
    # A `sent` that arrives after `delivered` still dates the sending, for the latency.
    sent = (
        current.sent_at
        if sent_at is None or (current.sent_at is not None and current.sent_at < sent_at)
        else sent_at
    )
    return Message(
        sid=current.sid,
        account_sid=current.account_sid,
        service_sid=current.service_sid or event.service_sid,
        from_number=current.from_number or event.from_number,
        to_number=current.to_number or event.to_number,
        status=event.status if advanced else current.status,
        status_rank=event_rank if advanced else current.status_rank,
        error_code=code,
        created_at=min(current.created_at, at),
        updated_at=max(current.updated_at, at) if advanced else current.updated_at,
        sent_at=sent,
        final_at=final_at if advanced and final_at is not None else current.final_at,
        repaired=repaired if advanced else current.repaired,
    )


def merge_batch(
    current: Mapping[str, Message], events: Iterable[Event]
) -> tuple[dict[str, Message], list[Advance]]:
    """The messages a batch of new events changes, and which of them moved forward."""
    changed: dict[str, Message] = {}
    for event in events:
        sid = event.message_sid
        if sid is None:
            continue
        before = changed.get(sid) or current.get(sid)
        after = apply(before, event)
        if after is not None and after != before:
            changed[sid] = after
    advances = []
    for sid, message in changed.items():
        old = current.get(sid)
        if old is None or message.status_rank > old.status_rank:
            advances.append(Advance(message, old.status if old else None))
    return changed, advances


def latency(message: Message) -> float | None:
    """Seconds from sent to delivered, when both are known."""
    if message.status not in ("delivered", "read") or message.sent_at is None or message.final_at is None:
        return None
    return max(0.0, message.final_at - message.sent_at)
