"""The real API server's audit log read as the emulator's request log (/__sandbox/requests) reads, so
assertions about what a client asked work on both. Metadata level has no bodies: `body` is always None."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

JsonObj = dict[str, Any]

# The audit log names the Kubernetes verb; the HTTP method follows from it.
METHODS = {
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
    "get": "GET",
    "list": "GET",
    "watch": "GET",
}


def entry(event: JsonObj) -> JsonObj:
    """One audit.k8s.io/v1 Event as a request-log entry."""
    uri = urlsplit(event.get("requestURI", ""))
    ref = event.get("objectRef") or {}
    group = ref.get("apiGroup") or ""
    resource = ref.get("resource")
    verb = event.get("verb", "")
    return {
        "time": event.get("requestReceivedTimestamp"),
        "method": METHODS.get(verb, verb.upper()),
        "path": uri.path,
        "query": dict(parse_qsl(uri.query, keep_blank_values=True)),
        "user_agent": event.get("userAgent", ""),
        "user": (event.get("user") or {}).get("username"),
        "status": (event.get("responseStatus") or {}).get("code"),
        "body": None,
        "verb": verb,
        "resource": f"{resource}.{group}" if resource and group else resource,
        "namespace": ref.get("namespace"),
        "name": ref.get("name"),
        "subresource": ref.get("subresource"),
    }


def requests(
    audit_log: Path, *, method: str | None = None, path_prefix: str = "", since: int = 0
) -> list[JsonObj]:
    """Every request in the log, oldest first; optionally only one method, paths under a prefix, and what
    was logged after byte offset `since` (the log's size at some earlier moment)."""
    found: list[JsonObj] = []
    if not audit_log.exists():
        return found
    with audit_log.open() as lines:
        lines.seek(since)
        for line in lines:
            if not line.strip():
                continue
            logged = entry(json.loads(line))
            if method is not None and logged["method"] != method:
                continue
            if logged["path"].startswith(path_prefix):
                found.append(logged)
    return found
