"""What the operator asked of the Kubernetes API, from the request log of the emulator or of the fault proxy
in front of the real API server."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from twilio_operator.sandbox.processes import SandboxProcess

OPERATOR_AGENTS = ("kopf", "twilio-operator")
CUSTOM_GROUP = "twilio.operator.dev"


def operator_requests(sandbox: SandboxProcess) -> list[dict[str, Any]]:
    url = f"{sandbox.kube_url.rstrip('/')}/__sandbox/requests?since=0"
    with urllib.request.urlopen(url, timeout=60, context=sandbox.kube_context()) as response:
        entries: list[dict[str, Any]] = json.loads(response.read())["requests"]
    return [e for e in entries if any(agent in (e.get("user_agent") or "") for agent in OPERATOR_AGENTS)]


def forbidden(requests: list[dict[str, Any]]) -> list[str]:
    """The requests the API server refused as unauthorized (403), as "METHOD path"."""
    return [f"{e['method']} {e['path']}" for e in requests if e.get("status") == 403]


def api_calls(requests: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(verb, api group, resource[/subresource]) for every request, as RBAC would see it."""
    return {call[:3] for call in scoped_api_calls(requests)}


def scoped_api_calls(requests: list[dict[str, Any]]) -> set[tuple[str, str, str, str | None]]:
    """(verb, api group, resource[/subresource], namespace or None for cluster scope) for every request."""
    calls = set()
    for entry in requests:
        path = entry["path"].strip("/").split("/")
        group = "" if path[0] == "api" else path[1] if len(path) > 1 else ""
        # The log names resources as plural.group; RBAC rules name the plural within its group.
        resource = (entry.get("resource") or "").split(".", 1)[0]
        if entry.get("subresource"):
            resource = f"{resource}/{entry['subresource']}"
        if entry.get("verb") and resource:
            calls.add((str(entry["verb"]), group, resource, entry.get("namespace") or None))
    return calls


def spec_writes(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Writes by the operator to a custom resource's main endpoint that would change its spec."""
    found = []
    for entry in requests:
        if entry["method"] not in ("PATCH", "PUT", "POST") or entry.get("subresource"):
            continue
        if f"/apis/{CUSTOM_GROUP}/" not in entry["path"]:
            continue
        body = entry.get("body")
        touches = (
            any(str(op.get("path", "")).startswith("/spec") for op in body if isinstance(op, dict))
            if isinstance(body, list)
            else isinstance(body, dict) and "spec" in body
        )
        if touches:
            found.append(entry)
    return found
