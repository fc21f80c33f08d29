"""The embedded store: SQLite in WAL mode, driven from one thread of its own.

SQLite allows one writer at a time, so one thread owns the connection and every call is queued to it; the
event loop never blocks on the disk. ``synchronous=FULL`` makes each commit durable before it returns (the
committer groups many callbacks into one commit, so that fsync is shared).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from .base import UPSERT_MESSAGE, Store, StoreUnavailable
from .model import (
    EVENT_COLUMNS,
    MESSAGE_COLUMNS,
    CommitResult,
    Event,
    Message,
    event_row,
    merge_batch,
    message_from_row,
)
from .schema import MIGRATIONS

T = TypeVar("T")
INSERT_EVENT = (
    f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (dedupe_key) DO NOTHING"
)
# SQLite's default limit of host parameters in one statement is 32766; stay far below it.
CHUNK = 500


def sqlite_path(url: str) -> str:
    """``sqlite:///var/lib/x.db`` → ``/var/lib/x.db``; ``sqlite:///:memory:`` → ``:memory:``."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parts.path)
    if path in ("/:memory:", ":memory:"):
        return ":memory:"
    if parts.netloc:
        raise ValueError(f"a SQLite URL has no host: {url!r} (use sqlite:////absolute/path or sqlite:///rel)")
    return path


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._db is None:
                raise StoreUnavailable("the SQLite store is not open")
            return fn(self._db)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite: {error}") from error

    async def start(self) -> None:
        def open_db() -> None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._db = db
            _migrate(db)

        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, open_db)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite {self.path}: {error}") from error

    async def close(self) -> None:
        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    async def fetch(self, query: str, *args: object) -> list[tuple[object, ...]]:
        return await self._run(lambda db: [tuple(row) for row in db.execute(query, args).fetchall()])

    async def execute_many(self, query: str, rows: Sequence[tuple[object, ...]]) -> None:
        def run(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.executemany(query, rows)

        await self._run(run)

    async def commit(self, events: Sequence[Event]) -> CommitResult:
        return await self._run(lambda db: _commit(db, events))


class _transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _commit(db: sqlite3.Connection, events: Sequence[Event]) -> CommitResult:
    result = CommitResult()
    with _transaction(db):
        new: list[Event] = []
        for event in events:
            if db.execute(INSERT_EVENT, event_row(event)).rowcount == 1:
                new.append(event)
                result.stored.add(event.dedupe_key)
        sids = sorted({e.message_sid for e in new if e.message_sid})
        current: dict[str, Message] = {}
        for start in range(0, len(sids), CHUNK):
            chunk = sids[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in db.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid IN ({marks})", chunk):
                message = message_from_row(tuple(row))
                current[message.sid] = message
        changed, result.advances = merge_batch(current, new)
        db.executemany(UPSERT_MESSAGE, [m.row() for m in changed.values()])
    return result


def _migrate(db: sqlite3.Connection) -> None:
    with _transaction(db):
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL)"
        )
        done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        for version, statements in MIGRATIONS:
            if version in done:
                continue
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
