"""The one schema of both stores, as numbered migrations applied in order at start.

Every statement is SQL both SQLite and PostgreSQL accept. Times are Unix seconds (double precision), so
both stores compare and export them alike. The indexes are few on purpose: every one is written on every
callback, and on PostgreSQL that CPU is shared with the receiver.
"""

from __future__ import annotations

from ..statuses import TERMINAL_RANK

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
            # The repair pass looks for non-terminal messages by age, the page for recent failures: partial
            # indexes, so the bulk of messages (delivered) costs no entry in either. The page and export read
            # by creation time.
            # (The predicates are the queries' own, in store/base.py, so the planner uses the indexes.)
            f"CREATE INDEX messages_pending ON messages (updated_at) WHERE status_rank < {TERMINAL_RANK}",
            "CREATE INDEX messages_failures ON messages (final_at) WHERE status IN ('failed', 'undelivered')",
            "CREATE INDEX messages_created ON messages (created_at)",
            """CREATE TABLE events (
                dedupe_key TEXT PRIMARY KEY,
                message_sid TEXT,
                account_sid TEXT,
                source TEXT NOT NULL,
                type TEXT,
                status TEXT,
                error_code INTEGER,
                received_at DOUBLE PRECISION NOT NULL,
                payload TEXT NOT NULL
            )""",
            "CREATE INDEX events_message ON events (message_sid, received_at)",
        ),
    ),
    (
        2,
        (
            # A usage trigger's firings. Twilio posts each firing once and retries it once; the trigger and
            # the moment it fired name a firing, so a retry or a replay is the same row.
            """CREATE TABLE usage_alerts (
                trigger_sid TEXT NOT NULL,
                date_fired DOUBLE PRECISION NOT NULL,
                account_sid TEXT NOT NULL,
                alert TEXT NOT NULL,
                usage_category TEXT NOT NULL,
                trigger_by TEXT NOT NULL,
                trigger_value DOUBLE PRECISION NOT NULL,
                current_value DOUBLE PRECISION NOT NULL,
                recurring TEXT NOT NULL,
                received_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (trigger_sid, date_fired)
            )""",
            "CREATE INDEX usage_alerts_received ON usage_alerts (received_at)",
            # The days whose message archive (BulkExports) Twilio said was ready, and which were read into
            # the store. A day fetched without a notification has no notified_at.
            """CREATE TABLE archive_days (
                account_sid TEXT NOT NULL,
                resource_type TEXT NOT NULL,
                day TEXT NOT NULL,
                size BIGINT,
                notified_at DOUBLE PRECISION,
                fetched_at DOUBLE PRECISION,
                messages INTEGER,
                PRIMARY KEY (account_sid, resource_type, day)
            )""",
        ),
    ),
)

LATEST = MIGRATIONS[-1][0]
