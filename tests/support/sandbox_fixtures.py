"""Fixtures the suites that talk to a sandbox share, imported by their conftest.py; each conftest provides
its own `sandbox`."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess


@pytest.fixture
def kubectl(sandbox: SandboxProcess, tmp_path: Path) -> Kubectl:
    return Kubectl(sandbox.kubeconfig, tmp_path / "kubectl-cache")


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    base = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:5]}"
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    return name


def check_operator_log(process: OperatorProcess) -> None:
    """After a suite: the operator never crashed (retries it reported as TemporaryError aside)."""
    logs = process.all_logs()
    assert "Traceback" not in logs or "TemporaryError" in logs, "the operator crashed; see its log"
