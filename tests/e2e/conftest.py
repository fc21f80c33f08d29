"""End-to-end fixtures: the sandbox and the operator as real processes, kubectl as the user's hands."""

from __future__ import annotations

import socket
from collections.abc import Collection, Iterator
from typing import Any

import pytest

from tests.packaging.charts import OPERATOR_CHART, render
from tests.packaging.rbac import allowed, operator_grants
from tests.support import backends
from tests.support.backends import operator_identity
from tests.support.kube_side import api_calls, forbidden, operator_requests, scoped_api_calls, spec_writes
from tests.support.sandbox_fixtures import check_operator_log, kubectl, namespace  # noqa: F401 (fixtures)
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess

# Both backends: every test with a sandbox runs on the emulator and on the real API server.
kube_backend, sandbox = backends.kube_backend, backends.sandbox
pytest_generate_tests = backends.pytest_generate_tests

# Short enough that drift tests converge quickly, long enough that tests can observe a stable state.
DRIFT_INTERVAL = "3"


@pytest.fixture(scope="session", autouse=True)
def operator_never_writes_spec(sandbox: SandboxProcess, request: pytest.FixtureRequest) -> Iterator[None]:
    """Across the suite the operator changes status and annotations, never a spec (GitOps would fight)."""
    yield
    if not any("operator" in item.fixturenames for item in request.session.items):
        return  # only modules with operators of their own ran (test_peering checks its own)
    requests = operator_requests(sandbox)
    assert requests, "no operator requests were recorded"
    assert spec_writes(requests) == []
    # On the real API server the operator is the chart's ServiceAccount: a rule the chart lacks is a 403.
    assert forbidden(requests) == [], "the chart's RBAC refused calls the operator made"
    if sandbox.kube == "apiserver":
        # What the chart grants beyond what the operator needs is found by tests/e2e/test_rbac_rules.py,
        # which takes each rule away in turn; the request log derives nothing here.
        return
    modules = {
        item.module.__name__.rsplit(".", 1)[-1]
        for item in request.session.items
        if getattr(item, "module", None)
    }
    whole = not request.config.getoption("keyword") and modules >= E2E_MODULES
    # A partial run can't tell what the whole operator needs: it checks only that its calls are allowed.
    check_rbac_covers_exactly(requests, exact_groups=None if whole else ())


E2E_MODULES = {
    "test_subaccount",
    "test_apikey",
    "test_messagingservice",
    "test_examples",
    "test_eventstream",
    "test_phonenumber",
    "test_default_service",
}


# Granted although the suite never calls them: `update` on */finalizers is what clusters enforcing
# OwnerReferencesPermissionEnforcement demand to create owner-referenced Secrets (blockOwnerDeletion).
GRANTED_WITHOUT_CALLS = {
    ("update", "twilio.operator.dev", "twiliosubaccounts/finalizers"),
    ("update", "twilio.operator.dev", "apikeys/finalizers"),
}


def check_rbac_covers_exactly(
    requests: list[dict[str, Any]], exact_groups: Collection[str] | None, values: dict[str, Any] | None = None
) -> None:
    """The operator chart's RBAC, rendered with `values`, allows every request (in its namespace), and grants
    nothing in the API groups `exact_groups` (None: all of them) that no request used."""
    grants = operator_grants(render(OPERATOR_CHART, values or {}, namespace="twilio-system"))
    refused = sorted(
        (verb, group, resource, scope or "")
        for verb, group, resource, scope in scoped_api_calls(requests)
        if not allowed(grants, verb, group, resource, scope)
    )
    assert refused == [], f"the chart's RBAC refuses calls the operator makes: {refused}"
    granted = {(g.verb, g.group, g.resource) for g in grants}
    unused = sorted(
        grant
        for grant in granted - api_calls(requests) - GRANTED_WITHOUT_CALLS
        if exact_groups is None or grant[1] in exact_groups
    )
    assert unused == [], f"the chart grants what the operator never uses: {unused}"


@pytest.fixture(scope="session")
def twilio(sandbox: SandboxProcess) -> Iterator[TwilioSide]:
    side = TwilioSide(sandbox.twilio_url, sandbox.env["TWILIO_ACCOUNT_SID"], sandbox.env["TWILIO_AUTH_TOKEN"])
    yield side
    violations = side.violations()
    assert violations == [], f"requests Twilio's OpenAPI spec rejects: {violations}"


@pytest.fixture(scope="session")
def metrics_port() -> int:
    """A port that was free a moment ago; the operator keeps it across the suite's restarts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def operator(
    sandbox: SandboxProcess, tmp_path_factory: pytest.TempPathFactory, metrics_port: int
) -> Iterator[OperatorProcess]:
    directory = tmp_path_factory.mktemp("operator")
    admin = Kubectl(sandbox.kubeconfig, directory / "kubectl-cache")
    process = OperatorProcess(
        sandbox,
        directory,
        {
            **operator_identity(sandbox, admin, directory / "identity"),
            "TWILIO_OPERATOR_DRIFT_INTERVAL": DRIFT_INTERVAL,
            "TWILIO_OPERATOR_USAGE_INTERVAL": DRIFT_INTERVAL,
            "TWILIO_OPERATOR_CREATE_GRACE_PERIOD": "2",
            # The tenant-isolation suite checks adoption is a privilege; here every namespace has it.
            "TWILIO_OPERATOR_ADOPTION_NAMESPACES": "*",
            "TWILIO_OPERATOR_METRICS_PORT": str(metrics_port),
            "TWILIO_OPERATOR_METRICS_ADDRESS": "127.0.0.1",
        },
    )
    process.start()
    yield process
    process.stop()
    check_operator_log(process)
