from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.receiver import fresh_database, postgres
from twilio_operator.receiver.store import Store, open_store
from twilio_operator.sandbox.postgres import PASSWORD, PostgresServer

__all__ = ["postgres"]


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each store, empty and migrated: SQLite in a temp dir, PostgreSQL a fresh database on a real server."""
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path}/receiver.db")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        opened = open_store(fresh_database(server), PASSWORD)
    await opened.start()
    yield opened
    await opened.close()
