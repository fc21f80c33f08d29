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

from tests.e2e import helpers
from tests.support.backends import (
    RELEASE_NAMESPACE,
    chart_rbac,
    install_rbac,
    kubeconfig_with_token,
    service_account,
    start_sandbox,
)
from tests.support.kube_side import operator_requests
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess, wait_for

ADMIN = "admin-token"


class Tokens:
    """Bearer tokens the API server takes, and takes back. On the emulator they are registered through
    /__sandbox/tokens. On the real API server they are the chart's ServiceAccount's own tokens, each bound to
    a Secret: deleting the Secret revokes the token, as kube-apiserver does for any bound token."""

    def __init__(self, sandbox: SandboxProcess, directory: Path) -> None:
        self.sandbox = sandbox
        self.directory = directory
        self.issued: dict[str, str] = {}
        if sandbox.kube == "apiserver":
            self.admin = Kubectl(sandbox.kubeconfig, directory / "admin-cache")
            install_rbac(self.admin, chart_rbac())
        else:
            register(sandbox, [ADMIN])
            self.admin = Kubectl(
                kubeconfig_with(sandbox, directory / "admin.yaml", ADMIN), directory / "cache"
            )

    def issue(self, name: str) -> str:
        if self.sandbox.kube != "apiserver":
            register(self.sandbox, [name])
            self.issued[name] = name
            return name
        self.admin.apply(
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {RELEASE_NAMESPACE}\n"
        )
        account = service_account(chart_rbac())
        token = self.admin.run(
            "create",
            "token",
            account,
            "-n",
            RELEASE_NAMESPACE,
            "--bound-object-kind=Secret",
            f"--bound-object-name={name}",
            "--duration=1h",
        ).stdout.strip()
        self.issued[name] = token
        return token

    def revoke(self, name: str) -> None:
        if self.sandbox.kube != "apiserver":
            register(self.sandbox, [], revoke=[name])
        else:
            self.admin.run("delete", "secret", name, "-n", RELEASE_NAMESPACE)
            # Revocation is checked against the bound object when a token is presented: wait until it is.
            probe = Kubectl(
                kubeconfig_with(self.sandbox, self.directory / "probe.yaml", self.issued[name]),
                self.directory / "probe-cache",
            )
            wait_for(
                lambda: probe.run("auth", "whoami", check=False).returncode != 0,
                30,
                what=f"token {name} refused",
            )


def register(sandbox: SandboxProcess, accept: list[str], revoke: list[str] | None = None) -> None:
    body = json.dumps({"accept": accept, "revoke": revoke or []}).encode()
    request = urllib.request.Request(f"{sandbox.kube_url}/__sandbox/tokens", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10, context=sandbox.kube_context()):
        pass


def kubeconfig_with(sandbox: SandboxProcess, path: Path, token: str) -> Path:
    return kubeconfig_with_token(sandbox, path, token)


@pytest.fixture(scope="module")
def guarded(kube_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("credentials-sandbox"), kube_backend)
    yield sandbox
    sandbox.stop()


def test_the_operator_follows_renewed_credentials(
    guarded: SandboxProcess, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tokens = Tokens(guarded, tmp_path)
    kubectl = tokens.admin
    namespace = "renewed"
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n")
    operator_config = kubeconfig_with(guarded, tmp_path / "operator.yaml", tokens.issue("operator-1"))
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
        kubeconfig_with(guarded, operator_config, tokens.issue("operator-2"))
        tokens.revoke("operator-1")
        # A key made now needs the operator's own requests (its Secret, its journal): with the new token.
        kubectl.apply(helpers.manifest("ApiKey", "after", subaccountRef={"name": "sub"}), namespace)
        helpers.ready(kubectl, "apikey", "after", namespace, timeout=60)
        assert helpers.secret_data(kubectl, "after", namespace)
        # It was refused once with the old token, and logged in again.
        refused = [r for r in operator_requests(guarded) if r["status"] == 401]
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


@pytest.mark.emulator_only("Twilio's side only: its own sandbox, whatever the suite's Kubernetes backend")
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
