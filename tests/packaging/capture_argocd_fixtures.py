"""Regenerate argocd/testdata/: real objects in every state the Argo CD health check distinguishes.

    .venv/bin/python -m tests.packaging.capture_argocd_fixtures

Starts the sandbox and the operator, drives objects into each state with kubectl (and the Twilio
emulator's fault injection), and writes what `kubectl get -o json` returns, minus metadata noise, so the Lua
tests run against the status shape the operator really writes. Run it again when conditions change.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess, wait_for

OUT = Path(__file__).resolve().parents[2] / "argocd" / "testdata"
NS = "health"
API = "twilio.operator.dev/v1alpha1"
PREFIX = "twilio.operator.dev/"
KINDS = {
    "TwilioSubaccount": "twiliosubaccount",
    "ApiKey": "apikey",
    "MessagingService": "messagingservice",
    "EventStream": "eventstream",
    "PhoneNumber": "phonenumber",
}


def manifest(
    kind: str, name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None, namespace: str = NS
) -> str:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    return json.dumps({"apiVersion": API, "kind": kind, "metadata": metadata, "spec": spec})


def trimmed(obj: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, spec and status as they are; metadata reduced to what a health check may read."""
    meta = obj["metadata"]
    fields = ("name", "namespace", "generation", "deletionTimestamp", "finalizers")
    keep = {k: meta[k] for k in fields if k in meta}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith(PREFIX)}
    if annotations:
        keep["annotations"] = annotations
    out = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": keep, "spec": obj.get("spec")}
    if "status" in obj:
        out["status"] = obj["status"]
    return out


class Capture:
    def __init__(self, kubectl: Kubectl) -> None:
        self.kubectl = kubectl

    def apply(
        self,
        kind: str,
        name: str,
        spec: dict[str, Any],
        annotations: dict[str, str] | None = None,
        namespace: str = NS,
    ) -> None:
        self.kubectl.apply(manifest(kind, name, spec, annotations, namespace))

    def wait(
        self, kind: str, name: str, until: Callable[[dict[str, Any]], bool], namespace: str = NS
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            obj = self.kubectl.get(KINDS[kind], name, namespace)
            return obj if obj is not None and until(obj) else None

        return wait_for(check, 60, interval=0.2, what=f"{kind} {name} in the expected state")

    def save(
        self,
        filename: str,
        kind: str,
        name: str,
        until: Callable[[dict[str, Any]], bool],
        namespace: str = NS,
    ) -> None:
        obj = self.wait(kind, name, until, namespace)
        (OUT / filename).write_text(json.dumps(trimmed(obj), indent=2, sort_keys=True) + "\n")
        print(f"wrote {filename}")


def reason(ctype: str, status: str, expected: str) -> Callable[[dict[str, Any]], bool]:
    def check(obj: dict[str, Any]) -> bool:
        conds = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
        cond = conds.get(ctype)
        return bool(cond and cond["status"] == status and cond["reason"] == expected)

    return check


def settled(obj: dict[str, Any]) -> bool:
    conds = {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}
    current = (obj.get("status") or {}).get("observedGeneration") == obj["metadata"]["generation"]
    return conds == {"Ready": "True", "Synced": "True"} and current


def stale(obj: dict[str, Any]) -> bool:
    return bool(obj["metadata"]["generation"] > obj["status"]["observedGeneration"])


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = SandboxProcess(Path(tmp) / "sandbox")
        sandbox.start()
        operator = OperatorProcess(
            sandbox,
            Path(tmp),
            {"TWILIO_OPERATOR_CREATE_GRACE_PERIOD": "2", "TWILIO_OPERATOR_ADOPTION_NAMESPACES": NS},
        )
        try:
            env = sandbox.env
            twilio = TwilioSide(sandbox.twilio_url, env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
            kubectl = Kubectl(sandbox.kubeconfig, Path(tmp) / "cache")
            kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NS}\n")
            scenarios(Capture(kubectl), operator, twilio)
        finally:
            operator.stop()
            sandbox.stop()
    return 0


def scenarios(capture: Capture, operator: OperatorProcess, twilio: TwilioSide) -> None:
    sub, key, service = "TwilioSubaccount", "ApiKey", "MessagingService"

    # Applied while no operator runs: no status at all; later a spec change it has not seen yet.
    capture.apply(sub, "fresh", {})
    capture.save("subaccount-no-status.json", sub, "fresh", lambda o: "status" not in o)
    operator.start()
    capture.save("subaccount-ready.json", sub, "fresh", settled)
    operator.stop()
    capture.apply(sub, "fresh", {"friendlyName": "renamed"})
    capture.save("subaccount-stale-generation.json", sub, "fresh", stale)
    operator.start()
    capture.wait(sub, "fresh", settled)

    # A subaccountRef naming nothing (yet), and one naming a subaccount that is not Ready yet (paused).
    capture.apply(key, "early", {"subaccountRef": {"name": "later"}})
    missing_sub = reason("Synced", "False", "SubaccountNotFound")
    capture.save("apikey-subaccount-not-found.json", key, "early", missing_sub)
    capture.apply(sub, "later", {}, {f"{PREFIX}paused": "true"})
    waiting = reason("Ready", "False", "WaitingForSubaccount")
    capture.save("apikey-waiting-for-subaccount.json", key, "early", waiting)
    capture.apply(key, "key", {"subaccountRef": {"name": "fresh"}, "secretName": "key-twilio"})
    capture.save("apikey-ready.json", key, "key", settled)

    capture.apply(sub, "paused", {}, {f"{PREFIX}paused": "true"})
    capture.save("subaccount-paused.json", sub, "paused", reason("Synced", "False", "ReconcilePaused"))

    # Terminal: refused by the operator's policy (no subaccountRef), and an adopted SID that does not exist.
    capture.apply(key, "parent-key", {})
    capture.save("apikey-forbidden.json", key, "parent-key", reason("Synced", "False", "Forbidden"))
    capture.apply(sub, "ghost", {}, {f"{PREFIX}external-name": "AC" + "0" * 32})
    not_found = reason("Synced", "False", "ExternalNotFound")
    capture.save("subaccount-external-not-found.json", sub, "ghost", not_found)

    # Refused by the operator's installer: adoption is allowed in this namespace only.
    capture.kubectl.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: elsewhere\n")
    capture.apply(sub, "taken", {}, {f"{PREFIX}external-name": "AC" + "1" * 32}, namespace="elsewhere")
    refused = reason("Synced", "False", "AdoptionNotAllowed")
    capture.save("subaccount-adoption-not-allowed.json", sub, "taken", refused, namespace="elsewhere")

    # Transient: Twilio answers 503 to every create for a while.
    twilio.fault(operation="CreateAccount", kind="status", status=503, times=1000)
    capture.apply(sub, "flaky", {})
    error = reason("Synced", "False", "ReconcileError")
    capture.save("subaccount-transient-error.json", sub, "flaky", error)
    twilio.clear_faults()

    # Deleting: the Suspend policy's call to Twilio keeps failing, so the finalizer stays.
    capture.apply(sub, "leaving", {"deletionPolicy": "Suspend"})
    capture.wait(sub, "leaving", settled)
    twilio.fault(operation="UpdateAccount", kind="status", status=503, times=1000)
    capture.kubectl.run("delete", "twiliosubaccount", "leaving", "-n", NS, "--wait=false")
    capture.save("subaccount-deleting.json", sub, "leaving", reason("Ready", "False", "Deleting"))
    twilio.clear_faults()

    # MessagingService: its Ingress does not exist yet, then does; another's path is not routed.
    hook = {"statusCallback": {"ingressRef": {"name": "hooks", "path": "/twilio/status"}}}
    capture.apply(service, "notify", {"subaccountRef": {"name": "fresh"}, "webhooks": hook})
    missing = reason("Synced", "False", "IngressNotFound")
    capture.save("messagingservice-ingress-not-found.json", service, "notify", missing)
    capture.kubectl.apply(json.dumps(INGRESS))
    capture.save("messagingservice-ready.json", service, "notify", settled)
    unrouted = {"statusCallback": {"ingressRef": {"name": "hooks", "path": "/elsewhere"}}}
    capture.apply(service, "unrouted", {"subaccountRef": {"name": "fresh"}, "webhooks": unrouted})
    not_routed = reason("Synced", "False", "PathNotRouted")
    capture.save("messagingservice-path-not-routed.json", service, "unrouted", not_routed)

    # EventStream: a webhook sink on the Ingress; a Kinesis sink waiting for the test id read from its stream.
    stream, number = "EventStream", "PhoneNumber"
    types = ["com.twilio.messaging.message.delivered"]
    webhook = {"webhook": {"ingressRef": {"name": "hooks", "path": "/twilio/events"}}}
    capture.apply(
        stream, "events", {"subaccountRef": {"name": "fresh"}, "destination": webhook, "types": types}
    )
    capture.save("eventstream-ready.json", stream, "events", settled)
    capture.kubectl.apply(json.dumps(KINESIS_SECRET))
    kinesis = {
        "kinesis": {
            "arn": "arn:aws:kinesis:us-east-1:111111111111:stream/twilio",
            "roleArn": "arn:aws:iam::111111111111:role/twilio",
            "externalIdSecretRef": {"name": "kinesis", "key": "externalId"},
        }
    }
    capture.apply(
        stream, "stream", {"subaccountRef": {"name": "fresh"}, "destination": kinesis, "types": types}
    )
    awaiting = reason("Synced", "False", "SinkAwaitingValidation")
    capture.save("eventstream-awaiting-validation.json", stream, "stream", awaiting)

    # PhoneNumber: one from the parent account, placed; one held by another namespace's subaccount, refused.
    parent_numbers = twilio.client().api.v2010.accounts(twilio.parent_sid).incoming_phone_numbers
    parent_numbers.create(phone_number="+14155550100")
    capture.apply(number, "line", {"subaccountRef": {"name": "fresh"}, "phoneNumber": "+14155550100"})
    capture.save("phonenumber-ready.json", number, "line", settled)
    capture.apply(sub, "other", {}, namespace="elsewhere")
    other = capture.wait(sub, "other", settled, namespace="elsewhere")["status"]["sid"]
    twilio.client().api.v2010.accounts(other).incoming_phone_numbers.create(phone_number="+14155550199")
    capture.apply(number, "taken", {"subaccountRef": {"name": "fresh"}, "phoneNumber": "+14155550199"})
    capture.save("phonenumber-in-use.json", number, "taken", reason("Synced", "False", "NumberInUse"))


KINESIS_SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "kinesis", "namespace": NS},
    "stringData": {"externalId": "an external id"},
}

INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "hooks", "namespace": NS},
    "spec": {
        "tls": [{"hosts": ["hooks.example.com"], "secretName": "tls"}],
        "rules": [
            {
                "host": "hooks.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/twilio",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "receiver", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    },
}


if __name__ == "__main__":
    sys.exit(main())
