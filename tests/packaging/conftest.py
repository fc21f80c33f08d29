"""Fixtures for the packaging tests that need a cluster: the sandbox and the operator as real processes.

The same pattern as tests/e2e/conftest.py (kept separate so `pytest tests/packaging` runs on its own). The
sandbox starts only for tests that ask for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sandbox_fixtures import check_operator_log, kubectl, namespace  # noqa: F401 (fixtures)
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    process = SandboxProcess(tmp_path_factory.mktemp("sandbox"))
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def operator(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    process = OperatorProcess(sandbox, tmp_path_factory.mktemp("operator"))
    process.start()
    yield process
    process.stop()
    check_operator_log(process)
