"""The operator's cluster credentials expire and are renewed under it, as bound service-account tokens are
(hourly, rewritten in the pod's token file): its own requests follow kopf's login instead of failing with the
token it started with.

This module has its own sandbox: it makes the API server demand bearer tokens, which the shared one's kubectl
users do not carry.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e import helpers
from tests.support.kube_side import operator_requests
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess, wait_for

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


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(tmp_path_factory.mktemp("rejected-sandbox"))
    sandbox.start()
    yield sandbox
    sandbox.stop()


REFUSED = "Twilio refused the operator's own credentials"


def test_rejected_parent_credentials_are_said_once_and_recovered_from_at_once(
    plain: SandboxProcess, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with socket.socket() as probe:  # a port of its own: the suite's operator holds the shared one
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]
    kubectl = Kubectl(plain.kubeconfig, tmp_path / "kubectl-cache")
    twilio = TwilioSide(plain.twilio_url, plain.env["TWILIO_ACCOUNT_SID"], plain.env["TWILIO_AUTH_TOKEN"])
    namespace = "refused"
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n")
    token = tmp_path / "token"
    token.write_text("not-the-token")
    operator = OperatorProcess(
        plain,
        tmp_path_factory.mktemp("operator"),
        {
            "TWILIO_AUTH_TOKEN_FILE": str(token),
            "TWILIO_OPERATOR_METRICS_PORT": str(metrics_port),
            "TWILIO_OPERATOR_METRICS_ADDRESS": "127.0.0.1",
        },
    )
    operator.start()
    names = ("one", "two", "three")
    try:
        for name in names:
            kubectl.apply(helpers.manifest("TwilioSubaccount", name), namespace)
        for name in names:
            cond = helpers.reason(
                kubectl, "twiliosubaccount", name, namespace, "Synced", "CredentialsRejected"
            )
            assert "operator's own credentials" in cond["message"]
            assert plain.env["TWILIO_AUTH_TOKEN"] not in cond["message"]
        warned = {
            e["involvedObject"]["name"] for e in helpers.events(kubectl, namespace) if e["type"] == "Warning"
        }
        assert warned == set(names)
        assert scrape(metrics_port, "twilio_operator_credentials_rejected") == 1
        # Each object backs off: three refusals each, and the next retry is 20 s away.
        wait_for(
            lambda: sum(1 for r in twilio.requests_since(0) if r["status"] == 401) >= 3 * len(names),
            60,
            what="three refusals per object",
        )
        said = [
            line for line in operator.all_logs().splitlines() if REFUSED in line and " DEBUG " not in line
        ]
        assert len(said) == 1 and " ERROR " in said[0], said
        token.write_text(plain.env["TWILIO_AUTH_TOKEN"])
        # The change of credentials brings them a pass at once, not at their next retry.
        for name in names:
            helpers.ready(kubectl, "twiliosubaccount", name, namespace, timeout=10)
        assert scrape(metrics_port, "twilio_operator_credentials_rejected") == 0
    finally:
        operator.stop()
    assert "Traceback" not in operator.all_logs()


def scrape(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])
