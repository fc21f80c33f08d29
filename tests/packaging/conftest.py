"""Fixtures for the packaging tests that need a cluster: the sandbox and the operator as real processes.

The same pattern as tests/e2e/conftest.py (kept separate so `pytest tests/packaging` runs on its own). The
sandbox starts only for tests that ask for it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from twilio_operator.sandbox.kubectl import Kubectl
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
    logs = process.all_logs()
    assert "Traceback" not in logs or "TemporaryError" in logs, "the operator crashed; see its log"


@pytest.fixture
def kubectl(sandbox: SandboxProcess, tmp_path: Path) -> Kubectl:
    return Kubectl(sandbox.kubeconfig, tmp_path / "kubectl-cache")


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    base = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:5]}"
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    return name
