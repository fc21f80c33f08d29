"""Small helpers the end-to-end tests share."""

from __future__ import annotations

import base64
import json
from typing import Any

from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import wait_for

API_VERSION = "twilio.operator.dev/v1alpha1"


def manifest(kind: str, name: str, annotations: dict[str, str] | None = None, **spec: Any) -> str:
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return json.dumps({"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec})


def conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def ready(kubectl: Kubectl, kind: str, name: str, namespace: str, timeout: float = 30) -> dict[str, Any]:
    """Wait until Ready and Synced are True for the current generation; return the object."""

    def check() -> dict[str, Any] | None:
        obj = kubectl.get(kind, name, namespace)
        conds = conditions(obj)
        settled = (
            conds.get("Ready", {}).get("status") == "True" and conds.get("Synced", {}).get("status") == "True"
        )
        if obj and settled and obj["status"].get("observedGeneration") == obj["metadata"]["generation"]:
            return obj
        return None

    return wait_for(check, timeout, what=f"{kind} {namespace}/{name} Ready and Synced")


def reason(
    kubectl: Kubectl, kind: str, name: str, namespace: str, ctype: str, expected: str
) -> dict[str, Any]:
    """Wait until condition `ctype` has reason `expected`; return the condition."""

    def check() -> dict[str, Any] | None:
        cond = conditions(kubectl.get(kind, name, namespace)).get(ctype)
        return cond if cond and cond.get("reason") == expected else None

    return wait_for(check, 30, what=f"{kind} {namespace}/{name} {ctype} reason {expected}")


def secret_data(kubectl: Kubectl, name: str, namespace: str) -> dict[str, str] | None:
    secret = kubectl.get("secret", name, namespace)
    if secret is None:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def events(kubectl: Kubectl, namespace: str, name: str | None = None) -> list[dict[str, Any]]:
    """The Events in a namespace (about the object `name`, if given), oldest first."""
    listed = json.loads(kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
    found = [e for e in listed if name is None or e["involvedObject"]["name"] == name]
    return sorted(found, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
