"""The operator's cluster credentials expire and are renewed under it, as bound service-account tokens are
(hourly, rewritten in the pod's token file): its own requests follow kopf's login instead of failing with the
token it started with.

This module has its own sandbox: it makes the API server demand bearer tokens, which the shared one's kubectl
users do not carry.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e import helpers
from tests.support.kube_side import operator_requests
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess

ADMIN = "admin-token"


def tokens(sandbox: SandboxProcess, accept: list[str], revoke: list[str] | None = None) -> None:
    body = json.dumps({"accept": accept, "revoke": revoke or []}).encode()
    request = urllib.request.Request(f"{sandbox.kube_url}/__sandbox/tokens", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def kubeconfig_with(sandbox: SandboxProcess, path: Path, token: str) -> Path:
    config = yaml.safe_load(sandbox.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(tmp_path_factory.mktemp("credentials-sandbox"))
    sandbox.start()
    tokens(sandbox, [ADMIN, "operator-1"])
    yield sandbox
    sandbox.stop()


def test_the_operator_follows_renewed_credentials(
    guarded: SandboxProcess, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    kubectl = Kubectl(kubeconfig_with(guarded, tmp_path / "admin.yaml", ADMIN), tmp_path / "kubectl-cache")
    namespace = "renewed"
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n")
    operator_config = kubeconfig_with(guarded, tmp_path / "operator.yaml", "operator-1")
    operator = OperatorProcess(
        guarded, tmp_path_factory.mktemp("operator"), {"KUBECONFIG": str(operator_config)}
    )
    operator.start()
    try:
        kubectl.apply(helpers.manifest("TwilioSubaccount", "sub"), namespace)
        key = helpers.manifest("ApiKey", "before", subaccountRef={"name": "sub"})
        kubectl.apply(key, namespace)
        helpers.ready(kubectl, "apikey", "before", namespace)
        # The token is renewed in the file the operator logged in from, and the old one stops working.
        kubeconfig_with(guarded, operator_config, "operator-2")
        tokens(guarded, ["operator-2"], revoke=["operator-1"])
        # A key made now needs the operator's own requests (its Secret, its journal): with the new token.
        kubectl.apply(helpers.manifest("ApiKey", "after", subaccountRef={"name": "sub"}), namespace)
        helpers.ready(kubectl, "apikey", "after", namespace, timeout=60)
        assert helpers.secret_data(kubectl, "after", namespace)
        # It was refused once with the old token, and logged in again.
        refused = [r for r in operator_requests(guarded.kube_url) if r["status"] == 401]
        assert refused, "the old token was never refused: the test did not test a renewal"
    finally:
        operator.stop()
    assert "Traceback" not in operator.all_logs()
