"""Fixtures for the packaging tests that need a cluster: the sandbox and the operator as real processes.

The same pattern as tests/e2e/conftest.py (kept separate so `pytest tests/packaging` runs on its own). The
sandbox starts only for tests that ask for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import backends
from tests.support.backends import operator_identity
from tests.support.sandbox_fixtures import check_operator_log, kubectl, namespace  # noqa: F401 (fixtures)
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess

# Both backends: every test with a sandbox runs on the emulator and on the real API server.
kube_backend, sandbox = backends.kube_backend, backends.sandbox
pytest_generate_tests = backends.pytest_generate_tests


@pytest.fixture(scope="session")
def operator(sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    directory = tmp_path_factory.mktemp("operator")
    admin = Kubectl(sandbox.kubeconfig, directory / "kubectl-cache")
    process = OperatorProcess(sandbox, directory, operator_identity(sandbox, admin, directory / "identity"))
    process.start()
    yield process
    process.stop()
    check_operator_log(process)
