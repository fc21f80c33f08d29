"""What both stores do alike: the queries, written once with ``?`` placeholders, and the commit logic."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import astuple, dataclass

from ..statuses import TERMINAL_RANK
from .model import (
    ARCHIVE_DAY_COLUMNS,
    MESSAGE_COLUMNS,
    USAGE_ALERT_COLUMNS,
    ArchiveDay,
    CommitResult,
    Event,
    Message,
    UsageAlert,
    message_from_row,
)

SELECT_MESSAGES = f"SELECT {MESSAGE_COLUMNS} FROM messages"
# What an upsert of a message does when the message exists: the caller merged the row (model.merge_batch)
# under a lock, so it mostly overwrites; the guard on the rank keeps a concurrent writer's further status.
ON_MESSAGE_CONFLICT = """ON CONFLICT (sid) DO UPDATE SET
  messaging_service_sid = excluded.messaging_service_sid,
  from_number = excluded.from_number,
  to_number = excluded.to_number,
  created_at = excluded.created_at,
  sent_at = excluded.sent_at,
  status = CASE WHEN excluded.status_rank >= m.status_rank THEN excluded.status ELSE m.status END,
  error_code = CASE WHEN excluded.status_rank >= m.status_rank THEN excluded.error_code ELSE m.error_code END,
  updated_at = CASE WHEN excluded.status_rank >= m.status_rank THEN excluded.updated_at ELSE m.updated_at END,
  final_at = CASE WHEN excluded.status_rank >= m.status_rank THEN excluded.final_at ELSE m.final_at END,
  repaired = CASE WHEN excluded.status_rank >= m.status_rank THEN excluded.repaired ELSE m.repaired END,
  status_rank = CASE WHEN excluded.status_rank >= m.status_rank
    THEN excluded.status_rank ELSE m.status_rank END
"""
UPSERT_MESSAGE = (
    f"INSERT INTO messages AS m ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)\n"
    + ON_MESSAGE_CONFLICT
)
EVENTS_OF = (
    "SELECT source, type, status, error_code, received_at, payload FROM events WHERE message_sid = ? "
    "ORDER BY received_at, dedupe_key"
)
PENDING = (
    f"{SELECT_MESSAGES} WHERE status_rank < {TERMINAL_RANK} AND updated_at < ? "
    "AND (repair_checked_at IS NULL OR repair_checked_at < ?) ORDER BY updated_at LIMIT ?"
)
COUNT_PENDING = (
    f"SELECT COUNT(*) FROM messages WHERE status_rank < {TERMINAL_RANK} AND updated_at < ? "
    "AND (repair_checked_at IS NULL OR repair_checked_at < ?)"
)
MARK_CHECKED = "UPDATE messages SET repair_checked_at = ? WHERE sid = ?"
WINDOW_COUNTS = (
    "SELECT account_sid, messaging_service_sid, status, COUNT(*) FROM messages WHERE created_at >= ? "
    "GROUP BY account_sid, messaging_service_sid, status"
)
LATENCIES = (
    "SELECT account_sid, messaging_service_sid, final_at - sent_at FROM messages "
    "WHERE created_at >= ? AND status IN ('delivered', 'read') AND sent_at IS NOT NULL "
    "AND final_at IS NOT NULL ORDER BY created_at DESC LIMIT ?"
)
TOP_ERRORS = (
    "SELECT account_sid, messaging_service_sid, error_code, COUNT(*) FROM messages "
    "WHERE created_at >= ? AND error_code IS NOT NULL "
    "GROUP BY account_sid, messaging_service_sid, error_code"
)
RECENT_FAILURES = (
    f"{SELECT_MESSAGES} WHERE status IN ('failed', 'undelivered') AND final_at IS NOT NULL "
    "ORDER BY final_at DESC LIMIT ?"
)
PAGE = 1000
EXPORT = f"{SELECT_MESSAGES} WHERE created_at >= ? ORDER BY created_at, sid"
# RETURNING names the row only when it is new: a firing Twilio posts again is not counted twice.
INSERT_USAGE_ALERT = (
    f"INSERT INTO usage_alerts ({USAGE_ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (trigger_sid, date_fired) DO NOTHING RETURNING trigger_sid"
)
RECENT_USAGE_ALERTS = (
    f"SELECT {USAGE_ALERT_COLUMNS} FROM usage_alerts ORDER BY received_at DESC, trigger_sid LIMIT ?"
)
# A day fetched before its notification came still counts as notified once, when the notification comes.
ARCHIVE_NOTIFIED = f"""INSERT INTO archive_days ({ARCHIVE_DAY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (account_sid, resource_type, day) DO UPDATE SET
  notified_at = excluded.notified_at, size = excluded.size
WHERE archive_days.notified_at IS NULL
RETURNING day"""
ARCHIVE_FETCHED = f"""INSERT INTO archive_days ({ARCHIVE_DAY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (account_sid, resource_type, day) DO UPDATE SET
  fetched_at = excluded.fetched_at, messages = excluded.messages,
  size = COALESCE(archive_days.size, excluded.size)"""
ARCHIVE_DAYS = (
    f"SELECT {ARCHIVE_DAY_COLUMNS} FROM archive_days ORDER BY day DESC, account_sid, resource_type LIMIT ?"
)


@dataclass(frozen=True)
class StoredEvent:
    source: str
    type: str | None
    status: str | None
    error_code: int | None
    received_at: float
    payload: str


class StoreUnavailable(Exception):
    """The database could not be reached or refused the write; nothing was committed."""


class Store(abc.ABC):
    """An asynchronous store. ``commit`` is all or nothing: after it returns, every event is durable."""

    kind: str
    # How many group commits may run at once (SQLite has one writer).
    parallel_commits: int = 1

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and apply the migrations not yet applied."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""

    @abc.abstractmethod
    async def commit(self, events: Sequence[Event]) -> CommitResult:
        """Store the new events (duplicates of stored ones are skipped) and move their messages forward."""

    @abc.abstractmethod
    async def fetch(self, query: str, *args: object) -> list[tuple[object, ...]]: ...

    @abc.abstractmethod
    async def execute_many(self, query: str, rows: Sequence[tuple[object, ...]]) -> None: ...

    async def stream(self, query: str, *args: object) -> AsyncIterator[tuple[object, ...]]:
        """The rows of ``query`` in pages, so an export of millions of messages never holds them all."""
        offset = 0
        while True:
            rows = await self.fetch(f"{query} LIMIT {PAGE} OFFSET ?", *args, offset)
            for row in rows:
                yield row
            if len(rows) < PAGE:
                return
            offset += len(rows)

    # -- reads, the same on both ----------------------------------------------------------------------

    async def message(self, sid: str) -> tuple[Message, list[StoredEvent]] | None:
        rows = await self.fetch(f"{SELECT_MESSAGES} WHERE sid = ?", sid)
        if not rows:
            return None
        events = [StoredEvent(*row) for row in await self.fetch(EVENTS_OF, sid)]  # type: ignore[arg-type]
        return message_from_row(rows[0]), events

    async def pending_repairs(self, older_than: float, limit: int) -> list[Message]:
        return [message_from_row(row) for row in await self.fetch(PENDING, older_than, older_than, limit)]

    async def ranks(self, sids: Sequence[str]) -> dict[str, int]:
        """How far each of these messages has progressed, for those stored."""
        found: dict[str, int] = {}
        for start in range(0, len(sids), PAGE):
            chunk = list(sids[start : start + PAGE])
            marks = ", ".join("?" * len(chunk))
            for sid, status_rank in await self.fetch(
                f"SELECT sid, status_rank FROM messages WHERE sid IN ({marks})", *chunk
            ):
                found[str(sid)] = _int(status_rank)
        return found

    async def last_received(self) -> float | None:
        """When the newest stored event arrived (None for an empty store)."""
        rows = await self.fetch("SELECT MAX(received_at) FROM events")
        value = rows[0][0]
        return float(value) if isinstance(value, int | float) else None

    async def count_pending(self, older_than: float) -> int:
        rows = await self.fetch(COUNT_PENDING, older_than, older_than)
        return _int(rows[0][0])

    async def mark_checked(self, sids: Sequence[str], at: float) -> None:
        if sids:
            await self.execute_many(MARK_CHECKED, [(at, sid) for sid in sids])

    async def messages_since(self, since: float) -> AsyncIterator[Message]:
        async for row in self.stream(EXPORT, since):
            yield message_from_row(row)

    # -- usage alerts and message archives ---------------------------------------------------------------

    async def add_usage_alert(self, alert: UsageAlert) -> bool:
        """Store a trigger's firing; False when it is stored already (Twilio's retry, a replay)."""
        return bool(await self.fetch(INSERT_USAGE_ALERT, *astuple(alert)))

    async def usage_alerts(self, limit: int) -> list[UsageAlert]:
        """The most recently received firings, newest first."""
        return [UsageAlert(*row) for row in await self.fetch(RECENT_USAGE_ALERTS, limit)]  # type: ignore[arg-type]

    async def archive_notified(self, day: ArchiveDay) -> bool:
        """Record that Twilio said a day's archive is ready; False when it said so before."""
        return bool(await self.fetch(ARCHIVE_NOTIFIED, *astuple(day)))

    async def archive_fetched(self, day: ArchiveDay) -> None:
        """Record that a day's archive was read into the store (``fetched_at``, ``messages``)."""
        await self.execute_many(ARCHIVE_FETCHED, [astuple(day)])

    async def archive_days(self, limit: int = PAGE) -> list[ArchiveDay]:
        """The recorded days, newest first."""
        return [ArchiveDay(*row) for row in await self.fetch(ARCHIVE_DAYS, limit)]  # type: ignore[arg-type]

    async def counts(self) -> tuple[int, int]:
        """Messages and events stored (for tests and benchmarks)."""
        messages = await self.fetch("SELECT COUNT(*) FROM messages")
        events = await self.fetch("SELECT COUNT(*) FROM events")
        return _int(messages[0][0]), _int(events[0][0])


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected an integer from the database, got {type(value).__name__}")
    return value
