"""The production store: PostgreSQL through asyncpg, a small pool, one transaction per group commit."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from .base import ON_MESSAGE_CONFLICT, Store, StoreUnavailable
from .model import MESSAGE_COLUMNS, CommitResult, Event, Message, event_row, merge_batch, message_from_row
from .schema import MIGRATIONS

# One statement for a whole batch of events; RETURNING names the ones that were new (a duplicate of a
# stored event, or of an earlier one in the same batch, is skipped by ON CONFLICT).
INSERT_EVENTS = """INSERT INTO events
  (dedupe_key, message_sid, account_sid, source, type, status, error_code, received_at, payload)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
                     $8::float8[], $9::text[])
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING dedupe_key"""
# All changed messages in one statement too (merge_batch leaves one row per message, so no row is hit twice).
UPSERT_MESSAGES = f"""INSERT INTO messages AS m ({MESSAGE_COLUMNS})
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
                     $8::int[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::int[])
{ON_MESSAGE_CONFLICT}"""
# Locked in sid order, so two receivers committing overlapping batches cannot deadlock.
LOCK_MESSAGES = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid = ANY($1::text[]) ORDER BY sid FOR UPDATE"
# Any other receiver migrating at the same moment waits for this one.
MIGRATION_LOCK = 0x7477696C696F  # "twilio"
DISCONNECTED = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


def numbered(query: str) -> str:
    """``?`` placeholders → PostgreSQL's ``$1, $2, ...`` (the shared queries have no ``?`` in literals)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", query)


class PostgresStore(Store):
    kind = "postgresql"

    # Group commits in flight at once: while one waits for PostgreSQL, the next batch is already on its way.
    parallel_commits = 3

    def __init__(self, url: str, password: str | None = None) -> None:
        self.url = url
        self._password = password
        self._pool: asyncpg.Pool | None = None

    def _ready(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("the PostgreSQL store is not connected")
        return self._pool

    async def start(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                password=self._password,
                min_size=1,
                # The commits, plus reads (the API, the page, the repair pass).
                max_size=self.parallel_commits + 3,
                timeout=10,
                command_timeout=30,
                # The receiver changes no session state, so a released connection needs no RESET round trip.
                reset=_no_reset,
                # asyncpg prepares every statement. A generic plan chosen while the tables were empty (a
                # fresh install) would seq-scan `messages` for every commit's lookup as it grows: plan each
                # execution with its real parameters and the table's current size instead.
                server_settings={"plan_cache_mode": "force_custom_plan"},
            )
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                await _migrate(conn)
        except DISCONNECTED as error:
            await self.close()
            raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}: {error}") from error

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.terminate()

    async def ping(self) -> None:
        await self.fetch("SELECT 1")

    async def fetch(self, query: str, *args: object) -> list[tuple[object, ...]]:
        try:
            async with self._ready().acquire() as conn:
                rows = await conn.fetch(numbered(query), *args)
        except DISCONNECTED as error:
            raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}") from error
        return [tuple(row.values()) for row in rows]

    async def execute_many(self, query: str, rows: Sequence[tuple[object, ...]]) -> None:
        try:
            async with self._ready().acquire() as conn, conn.transaction():
                await conn.executemany(numbered(query), rows)
        except DISCONNECTED as error:
            raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}") from error

    async def commit(self, events: Sequence[Event]) -> CommitResult:
        try:
            async with self._ready().acquire() as conn, conn.transaction():
                return await self._commit(conn, events)
        except DISCONNECTED as error:
            raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}") from error

    async def _commit(self, conn: Any, events: Sequence[Event]) -> CommitResult:
        result = CommitResult()
        columns: list[tuple[Any, ...]] = (
            list(zip(*(event_row(e) for e in events), strict=True)) if events else [()] * 9
        )
        stored = {row["dedupe_key"] for row in await conn.fetch(INSERT_EVENTS, *columns)}
        new: list[Event] = []
        for event in events:
            if event.dedupe_key in stored and event.dedupe_key not in result.stored:
                new.append(event)
                result.stored.add(event.dedupe_key)
        sids = sorted({e.message_sid for e in new if e.message_sid})
        current: dict[str, Message] = {}
        if sids:
            for row in await conn.fetch(LOCK_MESSAGES, sids):
                message = message_from_row(tuple(row.values()))
                current[message.sid] = message
        changed, result.advances = merge_batch(current, new)
        if changed:
            await conn.execute(UPSERT_MESSAGES, *zip(*(m.row() for m in changed.values()), strict=True))
        return result


async def _no_reset(conn: Any) -> None:
    return None


async def _migrate(conn: Any) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION)"
    )
    done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
    for version, statements in MIGRATIONS:
        if version in done:
            continue
        for statement in statements:
            await conn.execute(statement)
        await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", version, time.time())
