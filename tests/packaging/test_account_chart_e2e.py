"""The account chart's development environment, rendered by Helm and applied with kubectl, becomes Ready."""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml

from tests.packaging.charts import ACCOUNT_CHART, load_values, render
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, wait_for


def settled(obj: dict[str, Any]) -> bool:
    conditions = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
    return bool(
        conditions.get("Ready", {}).get("status") == "True"
        and conditions.get("Synced", {}).get("status") == "True"
        and obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
    )


def test_dev_values_applied_with_kubectl_reach_ready(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess
) -> None:
    docs = render(ACCOUNT_CHART, load_values(ACCOUNT_CHART / "values-dev.yaml"), namespace=namespace)
    # The sandbox's API server serves no RBAC, storage or network kinds (and runs no pods): the receiver's
    # Role, claim and policy are checked by the packaging tests; everything it serves is applied here.
    served = {line.split()[-1] for line in kubectl.run("api-resources", "--no-headers").stdout.splitlines()}
    docs = [d for d in docs if d["kind"] in served]
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    expected = {
        (d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] in ("TwilioSubaccount", "ApiKey")
    }
    assert {kind for kind, _ in expected} == {"TwilioSubaccount", "ApiKey"}

    def ready() -> list[dict[str, Any]] | None:
        listed = kubectl.run("get", "twiliosubaccounts,apikeys", "-n", namespace, "-o", "json").stdout
        items = [o for o in json.loads(listed)["items"] if settled(o)]
        done = {(o["kind"], o["metadata"]["name"]) for o in items}
        return items if done >= expected else None

    items = wait_for(ready, 60, interval=0.5, what=f"the subaccount and API key in {namespace} Ready")
    key = next(o for o in items if o["kind"] == "ApiKey")
    subaccount = next(o for o in items if o["kind"] == "TwilioSubaccount")
    secret = kubectl.get("secret", key["spec"]["secretName"], namespace)
    assert secret is not None
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["TWILIO_ACCOUNT_SID"] == subaccount["status"]["sid"]
    assert data["TWILIO_API_KEY"] == key["status"]["sid"]

    # The MessagingService's status callback comes from the rendered Ingress.
    service = wait_for(
        lambda: (o := kubectl.get("messagingservice", "notifications", namespace)) and settled(o) and o,
        60,
        interval=0.5,
        what="the messaging service Ready",
    )
    assert (
        service["status"]["webhooks"]["statusCallback"] == "https://hooks.dev.shop.example.com/twilio/status"
    )
