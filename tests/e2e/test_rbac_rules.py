"""The chart grants the operator nothing it does not use: with any one grant of its ClusterRole taken away,
the operator fails on the real API server.

The suite already runs the operator as the chart's ServiceAccount, so a grant the chart lacks fails it (a 403,
an object never Ready). What the chart grants in excess can only be found by taking grants away: here every
(apiGroup, resource, verb) of the rendered ClusterRole is removed in turn, and an operator running with the
rest must be refused (a 403 in kube-apiserver's audit log for its ServiceAccount) or leave an object not
Ready, in a small scenario that does what the operator does for every kind: create a subaccount exporting
its credentials, a key, a service and an event stream whose webhooks follow an Ingress and a number moved
from the parent, then rotate the key. A control run
with nothing removed must pass the same scenario without a 403. The variants run side by side, each with
its own ServiceAccount and namespace (`run --namespace`), a few at a time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from chaos.control import TwilioSide

from tests.e2e.helpers import conditions, manifest
from tests.support.backends import RELEASE_NAMESPACE, chart_rbac, kubeconfig_with_token, start_sandbox
from twilio_operator.reconcile.registry import REGISTRY
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess

pytestmark = pytest.mark.apiserver_only("RBAC: the emulator authorizes nothing")

Grant = tuple[str, str, str]  # apiGroup, resource, verb
PARALLEL = 6
# A variant that fails does so within seconds (its first refused call); one that passes takes about ten.
LIMIT = 60.0
# With `run --namespace`, kopf checks the namespace exists: the listed-namespaces chart's extra rule, given to
# every variant and not itself under test.
NAMESPACES_RULE = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}
ROTATE = "twilio.operator.dev/rotate-requested-at"
# Grants whose call the scenario cannot provoke for that kind, and the kind-generic code that makes it for
# every kind: the same verb on another of our kinds must then be shown needed instead.
INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: hooks.example.com
    http:
      paths:
      - {path: /sms, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"""
GENERIC = {
    ("twilio.operator.dev", "twiliosubaccounts", "get"): (
        "managed._current re-reads an object whose body is older than the operator's last write to it, for "
        "every kind alike; a pass woken by its subaccount provokes it for keys and services, and nothing "
        "wakes a subaccount that way"
    ),
}


def cluster_role() -> dict[str, Any]:
    (role,) = [
        d for d in chart_rbac() if d["kind"] == "ClusterRole" and "aggregate" not in str(d["metadata"])
    ]
    return role


def grants(role: dict[str, Any]) -> list[Grant]:
    return [
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    ]


def rules_without(role: dict[str, Any], removed: Grant | None) -> list[dict[str, Any]]:
    rules = [
        {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
        for group, resource, verb in grants(role)
        if (group, resource, verb) != removed
    ]
    return [*rules, NAMESPACES_RULE]


class AuditRefusals:
    """kube-apiserver's audit log, followed: the first 403 each user got."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.first: dict[str, str] = {}
        self.lock = threading.Lock()

    def refused(self, user: str) -> str | None:
        with self.lock:
            if self.path.exists():
                with self.path.open() as log:
                    log.seek(self.offset)
                    for line in log:
                        if not line.endswith("\n"):
                            break
                        self.offset += len(line.encode())
                        event = json.loads(line)
                        if (event.get("responseStatus") or {}).get("code") == 403:
                            who = (event.get("user") or {}).get("username", "")
                            self.first.setdefault(who, f"{event['verb']} {event['requestURI']}")
            return self.first.get(user)


@dataclass
class Outcome:
    removed: Grant | None
    failed: str | None
    seconds: float
    log: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def cluster(kube_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """A control plane of its own: the variants' objects and refusals stay out of the shared one."""
    sandbox = start_sandbox(tmp_path_factory.mktemp("rbac-sandbox"), kube_backend)
    Kubectl(sandbox.kubeconfig, tmp_path_factory.mktemp("rbac-kubectl")).apply(
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {RELEASE_NAMESPACE}\n"
    )
    yield sandbox
    sandbox.stop()


def scenario(kubectl: Kubectl, namespace: str, number: str) -> None:
    # Webhooks that follow an Ingress: the operator lists and watches Ingresses.
    ingress = INGRESS
    hook = {"ingressRef": {"name": "web", "path": "/sms"}}
    sub = {"subaccountRef": {"name": "sub"}}
    documents = [
        ingress,
        manifest("TwilioSubaccount", "sub", credentialsSecretRef={"name": "sub-credentials"}),
        manifest("ApiKey", "key", **sub, rotation={"every": "720h"}),
        manifest("MessagingService", "svc", **sub, webhooks={"statusCallback": hook}),
        manifest(
            "EventStream",
            "events",
            **sub,
            destination={"webhook": hook},
            types=["com.twilio.messaging.message.delivered"],
        ),
        manifest("PhoneNumber", "line", **sub, phoneNumber=number),
    ]
    kubectl.run("apply", "-n", namespace, "-f", "-", input="\n---\n".join(documents))


def settled(kubectl: Kubectl, namespace: str, rotated: bool) -> bool:
    listed = json.loads(kubectl.run("get", "twilio", "-n", namespace, "-o", "json").stdout)["items"]
    ready = [
        o
        for o in listed
        if conditions(o).get("Ready", {}).get("status") == "True"
        and conditions(o).get("Synced", {}).get("status") == "True"
        and (o.get("status") or {}).get("observedGeneration") == o["metadata"]["generation"]
    ]
    if len(ready) < len(REGISTRY):
        return False
    if not rotated:
        return True
    key = next(o for o in ready if o["kind"] == "ApiKey")
    return bool(((key["status"].get("rotation") or {}).get("handledRotateRequest")) == "now")


def run_variant(
    index: int, removed: Grant | None, sandbox: SandboxProcess, audit: AuditRefusals, directory: Path
) -> Outcome:
    started = time.monotonic()
    name, namespace = f"minus-{index}", f"rbac-{index}"
    admin = Kubectl(sandbox.kubeconfig, directory / "admin-cache")
    role = cluster_role()
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": RELEASE_NAMESPACE},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": rules_without(role, removed),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": RELEASE_NAMESPACE}],
        },
    ]
    admin.apply("\n---\n".join(json.dumps(o) for o in objects))
    token = admin.run("create", "token", name, "-n", RELEASE_NAMESPACE, "--duration=1h").stdout.strip()
    config = kubeconfig_with_token(sandbox, directory / "operator.kubeconfig", token)
    user = f"system:serviceaccount:{RELEASE_NAMESPACE}:{name}"
    operator = OperatorProcess(
        sandbox,
        directory,
        {
            "KUBECONFIG": str(config),
            "TWILIO_OPERATOR_LOG_LEVEL": "INFO",
            "TWILIO_OPERATOR_CREATE_GRACE_PERIOD": "2",
        },
    )
    operator.start("--namespace", namespace)
    failed: str | None = None
    try:
        # A number of the parent's for the PhoneNumber to move into the subaccount.
        number = f"+1415555{3000 + index:04d}"
        twilio = TwilioSide(
            sandbox.twilio_url, sandbox.env["TWILIO_ACCOUNT_SID"], sandbox.env["TWILIO_AUTH_TOKEN"]
        )
        twilio.client().api.v2010.accounts(twilio.parent_sid).incoming_phone_numbers.create(
            phone_number=number
        )
        scenario(admin, namespace, number)
        rotated = False
        deadline = time.monotonic() + LIMIT
        while failed is None:
            if (refusal := audit.refused(user)) is not None:
                failed = f"refused: {refusal}"
            elif settled(admin, namespace, rotated):
                if rotated:
                    break
                admin.run("annotate", "apikey", "key", "-n", namespace, f"{ROTATE}=now")
                rotated = True
            elif not operator.alive():
                failed = "the operator exited"
            elif time.monotonic() > deadline:
                failed = f"not Ready within {LIMIT:.0f}s"
            else:
                time.sleep(0.5)
    finally:
        operator.stop()
    return Outcome(removed, failed, time.monotonic() - started)


def test_every_grant_of_the_cluster_role_is_needed(
    cluster: SandboxProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    audit = AuditRefusals(cluster.state_dir / "controlplane" / "audit.log")
    variants: list[Grant | None] = [None, *grants(cluster_role())]
    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(
            pool.map(
                lambda item: run_variant(
                    item[0], item[1], cluster, audit, tmp_path_factory.mktemp(f"variant-{item[0]}")
                ),
                enumerate(variants),
            )
        )
    control, *removals = outcomes
    for outcome in outcomes:
        print(
            f"{outcome.removed or 'nothing removed'}: {outcome.failed or 'passed'} ({outcome.seconds:.1f}s)"
        )
    assert control.failed is None, f"the scenario fails with the chart's whole ClusterRole: {control.failed}"
    refused = {o.removed for o in removals if o.failed is not None}
    unneeded = [o.removed for o in removals if o.failed is None and not shown_generic(o.removed, refused)]
    assert unneeded == [], f"the operator needs none of these grants the chart gives it: {unneeded}"


def shown_generic(grant: Grant | None, refused: set[Grant | None]) -> bool:
    """Whether `grant` is one of GENERIC's and its verb was needed on another of our kinds."""
    if grant not in GENERIC:
        return False
    group, resource, verb = grant
    return any(r is not None and r[0] == group and r[2] == verb and r[1] != resource for r in refused)
