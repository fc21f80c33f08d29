"""Resilience fixtures: one sandbox and one operator process for the session, killable by any test.

Every operator process a resilience test starts logs into `captured.log_dirs`, and every secret a test sees
goes into `captured.secrets`, so the last test of the suite can scan all captured output for secret text.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from chaos.control import MANAGED_BY, KubeControl, TwilioSide, secret_values

from tests.support import backends
from tests.support.backends import operator_identity
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess

# Both backends: every test with a sandbox runs on the emulator and on the real API server.
kube_backend, sandbox = backends.kube_backend, backends.sandbox
pytest_generate_tests = backends.pytest_generate_tests

# Fast enough that crash tests converge in seconds: hung calls time out after 3s, retries start at 0.2s.
ADOPTING_NAMESPACE = "adopting"
OPERATOR_ENV = {
    "TWILIO_OPERATOR_DRIFT_INTERVAL": "3",
    "TWILIO_OPERATOR_CREATE_GRACE_PERIOD": "2",
    "TWILIO_OPERATOR_REQUEST_TIMEOUT": "3",
    "TWILIO_OPERATOR_BACKOFF_BASE": "0.2",
    "TWILIO_OPERATOR_BACKOFF_MAX": "3",
    # Adoption is a privilege; only this namespace has it here (the tenant suites check it is refused).
    "TWILIO_OPERATOR_ADOPTION_NAMESPACES": ADOPTING_NAMESPACE,
    # Purchases are crash-tested here (tests/e2e shows that without the flag nothing is bought).
    "TWILIO_OPERATOR_ALLOW_PURCHASE": "true",
}


@dataclass
class Captured:
    """What the suite's operators wrote and the secrets the suite saw."""

    log_dirs: list[Path] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    namespaces: set[str] = field(default_factory=set)

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for d in self.log_dirs for p in sorted(d.glob("operator-*.log"))
        )


@pytest.fixture(scope="session")
def captured() -> Captured:
    return Captured()


@pytest.fixture(scope="session")
def twilio(sandbox: SandboxProcess) -> TwilioSide:
    return TwilioSide(sandbox.twilio_url, sandbox.env["TWILIO_ACCOUNT_SID"], sandbox.env["TWILIO_AUTH_TOKEN"])


@pytest.fixture(scope="session")
def kube(sandbox: SandboxProcess) -> KubeControl:
    return KubeControl(sandbox.kube_url, sandbox.kube_context())


@pytest.fixture(scope="session")
def session_operator(
    sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory, captured: Captured
) -> Iterator[OperatorProcess]:
    log_dir = tmp_path_factory.mktemp("operator")
    captured.log_dirs.append(log_dir)
    admin = Kubectl(sandbox.kubeconfig, log_dir / "kubectl-cache")
    process = OperatorProcess(
        sandbox, log_dir, {**operator_identity(sandbox, admin, log_dir / "identity"), **OPERATOR_ENV}
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def operator(
    session_operator: OperatorProcess, twilio: TwilioSide, kube: KubeControl
) -> Iterator[OperatorProcess]:
    """The session operator, running; faults a test left are cleared and a killed process restarted."""
    if not session_operator.alive():
        session_operator.start()
    yield session_operator
    twilio.clear_faults()
    kube.clear_faults()
    if not session_operator.alive():
        session_operator.start()


@pytest.fixture(scope="session")
def session_kubectl(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(sandbox.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))


@pytest.fixture
def kubectl(session_kubectl: Kubectl) -> Kubectl:
    return session_kubectl


def make_namespace(kubectl: Kubectl, base: str, captured: Captured) -> str:
    name = f"{re.sub(r'[^a-z0-9-]', '-', base.lower())[:40].strip('-')}-{uuid.uuid4().hex[:5]}"
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    captured.namespaces.add(name)
    return name


@pytest.fixture(autouse=True)
def collect_secrets(request: pytest.FixtureRequest, captured: Captured) -> Iterator[None]:
    """After each test that used the session cluster, remember the secret text its Secrets hold."""
    yield
    if "session_kubectl" in request.fixturenames:
        kubectl: Kubectl = request.getfixturevalue("session_kubectl")
        result = kubectl.run("get", "secrets", "-A", "-l", MANAGED_BY, "-o", "json", check=False)
        if result.returncode == 0:
            captured.secrets |= secret_values(json.loads(result.stdout)["items"])


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest, captured: Captured) -> str:
    return make_namespace(kubectl, request.node.name, captured)
