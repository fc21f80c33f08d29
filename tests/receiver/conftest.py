from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.receiver import fresh_database, postgres
from tests.support.sandbox_fixtures import kubectl, namespace
from twilio_operator.receiver.store import Store, open_store
from twilio_operator.sandbox.postgres import PASSWORD, PostgresServer
from twilio_operator.sandbox.processes import SandboxProcess
from twilio_operator.sandbox.receiver import ReceiverProcess
from twilio_operator.sandbox.traffic import Traffic

__all__ = ["kubectl", "namespace", "postgres"]


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


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    process = SandboxProcess(tmp_path_factory.mktemp("sandbox"))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def traffic(sandbox: SandboxProcess) -> Traffic:
    return Traffic(sandbox.twilio_url, sandbox.env["TWILIO_ACCOUNT_SID"], sandbox.env["TWILIO_AUTH_TOKEN"])


@pytest.fixture
def receiver(sandbox: SandboxProcess, namespace: str, tmp_path: Path) -> Iterator[ReceiverProcess]:
    process = ReceiverProcess(
        sandbox,
        tmp_path / "logs",
        namespace,
        f"sqlite:///{tmp_path}/receiver.db",
        # Repair quickly: a message non-terminal for a second is fetched from the emulator.
        extra_env={"TWILIO_RECEIVER_REPAIR_AGE": "1", "TWILIO_RECEIVER_REPAIR_INTERVAL": "0.5"},
    )
    process.start()
    process.wait_ready()
    yield process
    process.stop()
