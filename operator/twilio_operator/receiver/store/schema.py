"""The one schema of both stores, as numbered migrations applied in order at start.

``{id}`` is the dialect's auto-increment primary key; everything else is SQL both SQLite and PostgreSQL
accept. Times are Unix seconds (double precision), so both stores compare and export them alike.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE messages (
                sid TEXT PRIMARY KEY,
                account_sid TEXT NOT NULL,
                messaging_service_sid TEXT,
                from_number TEXT,
                to_number TEXT,
                status TEXT NOT NULL,
                status_rank INTEGER NOT NULL,
                error_code INTEGER,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                sent_at DOUBLE PRECISION,
                final_at DOUBLE PRECISION,
                repaired INTEGER NOT NULL DEFAULT 0,
                repair_checked_at DOUBLE PRECISION
            )""",
            # The repair pass looks for non-terminal messages by age; the page and export by creation time.
            "CREATE INDEX messages_progress ON messages (status_rank, updated_at)",
            "CREATE INDEX messages_created ON messages (created_at)",
            "CREATE INDEX messages_final ON messages (final_at)",
            """CREATE TABLE events (
                id {id},
                dedupe_key TEXT NOT NULL UNIQUE,
                message_sid TEXT,
                account_sid TEXT,
                source TEXT NOT NULL,
                type TEXT,
                status TEXT,
                error_code INTEGER,
                received_at DOUBLE PRECISION NOT NULL,
                payload TEXT NOT NULL
            )""",
            "CREATE INDEX events_message ON events (message_sid, id)",
        ),
    ),
)

LATEST = MIGRATIONS[-1][0]
